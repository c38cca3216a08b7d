/* Start code for the aarch64 bare-metal guests (qemu-system-aarch64 -M virt
 * -kernel): QEMU enters the ELF entry point at EL1, MMU off. */
    .section .text.start, "ax"
    .globl _start
_start:
    adrp    x0, stack_top
    add     x0, x0, :lo12:stack_top
    mov     sp, x0
    adrp    x0, vectors
    add     x0, x0, :lo12:vectors
    msr     vbar_el1, x0
    isb
    /* zero .bss */
    adrp    x0, _bss_start
    add     x0, x0, :lo12:_bss_start
    adrp    x1, _bss_end
    add     x1, x1, :lo12:_bss_end
1:  cmp     x0, x1
    b.hs    2f
    str     xzr, [x0], #8
    b       1b
2:  mov     x0, #0
    mov     x1, #0
    bl      guest_main
    bl      arch_exit

/* Any exception: report it and power off instead of hanging. */
    .balign 2048
vectors:
    .rept   16
    mrs     x0, esr_el1
    mrs     x1, elr_el1
    b       arch_exception
    .balign 128
    .endr

    .section .note.GNU-stack, "", @progbits
