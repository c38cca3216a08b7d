/* Start code for the riscv64 bare-metal guests (qemu-system-riscv64 -M virt
 * -bios none -kernel): QEMU starts hart 0 at 0x80000000 in M-mode. */
    .section .text.start, "ax"
    .globl _start
_start:
    .option push
    .option norelax
    la      gp, __global_pointer$
    .option pop
    la      sp, stack_top
    la      t0, trap_entry
    csrw    mtvec, t0
    /* zero .bss */
    la      t0, _bss_start
    la      t1, _bss_end
1:  bgeu    t0, t1, 2f
    sd      zero, 0(t0)
    addi    t0, t0, 8
    j       1b
2:  li      a0, 0
    li      a1, 0
    call    guest_main
    call    arch_exit

/* Any trap: report it and exit instead of hanging. */
    .balign 4
trap_entry:
    csrr    a0, mcause
    csrr    a1, mepc
    j       arch_exception

    .section .note.GNU-stack, "", @progbits
