/* Linux process entry for the static, libc-free x86_64 guests.
 * At _start the kernel (here: qemu-x86_64) leaves argc at (%rsp) and the
 * argv pointers right above it. */
    .section .text.start, "ax"
    .globl _start
    .type _start, @function
_start:
    xor     %ebp, %ebp          /* outermost frame */
    mov     (%rsp), %edi        /* argc */
    lea     8(%rsp), %rsi       /* argv */
    and     $-16, %rsp          /* ABI: 16-byte aligned before the call */
    call    guest_main
    mov     %eax, %edi
    call    arch_exit
    hlt
    .size _start, . - _start
    .section .note.GNU-stack, "", @progbits
