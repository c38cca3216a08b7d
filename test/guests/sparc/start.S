/* Start code for the sparc32 (SPARCstation 20) bare-metal guests, shared by
 * the two ways of starting them:
 *   -kernel: OpenBIOS jumps to virtual 0x4000 (MMU on, low RAM mapped 1:1);
 *   -bios:   the CPU starts at PC 0 in the PROM, MMU off (boot mode: code is
 *            fetched from the PROM, data accesses go to RAM).
 * Both linker scripts put this file's trap table first, on a 4 KiB boundary,
 * so entry 0 of the table is the entry point in both cases.  We install our
 * own trap table and register-window state instead of relying on OpenBIOS's,
 * so the guest behaves the same with or without firmware. */

#define NWINDOWS    8           /* QEMU's SuperSPARC has 8 register windows */
#define PSR_S       0x080       /* supervisor */
#define PSR_ET      0x020       /* traps enabled */
#define PSR_PIL     0xf00       /* mask all interrupts */
#define ASI_BYPASS  0x2f        /* MMU bypass, physical address bits 35:32 = 0xf */
#define ESCC_A_DATA 0xf1100006  /* phys 0xff1100006 */
#define SYSCTRL     0xf1f00000  /* phys 0xff1f00000; writing 1 resets */

    .section .text.start, "ax"
    .align 4096
    .globl trap_table
trap_table:
    /* tt 0x00: reset, and the entry point for OpenBIOS */
    ba      start
     nop
    nop
    nop
    /* tt 0x01-0x04 */
    .rept 4
    ba      bad_trap
     rd     %tbr, %l3
    nop
    nop
    .endr
    /* tt 0x05: window overflow (a save found the next window invalid) */
    ba      window_overflow
     nop
    nop
    nop
    /* tt 0x06: window underflow (a restore found the next window invalid) */
    ba      window_underflow
     nop
    nop
    nop
    /* tt 0x07-0xff */
    .rept 256 - 7
    ba      bad_trap
     rd     %tbr, %l3
    nop
    nop
    .endr

    .globl start
start:
    /* Traps off while we set up: supervisor, all interrupts masked, CWP 0. */
    wr      %g0, PSR_S | PSR_PIL, %psr
    nop; nop; nop
    /* Window 1 is the invalid one: from CWP 0, saves can use windows 7..2. */
    wr      %g0, 1 << 1, %wim
    nop; nop; nop
    set     trap_table, %g1
    wr      %g1, %tbr
    nop; nop; nop

    set     stack_top - 96, %sp     /* 96: room for a register-window save area */
    mov     %g0, %fp

    /* Copy initialised data from its load address.  Only the -bios image
     * needs it (its load address is in the PROM, read through the MMU
     * bypass ASI); the -kernel script makes the length 0. */
    set     _copy_src, %g2
    set     _copy_dst, %g3
    set     _copy_end, %g4
1:  cmp     %g3, %g4
    bgeu    2f
     nop
    lda     [%g2] ASI_BYPASS, %g5
    st      %g5, [%g3]
    add     %g2, 4, %g2
    ba      1b
     add    %g3, 4, %g3
2:
    /* Zero .bss. */
    set     _bss_start, %g3
    set     _bss_end, %g4
1:  cmp     %g3, %g4
    bgeu    2f
     nop
    st      %g0, [%g3]
    ba      1b
     add    %g3, 4, %g3
2:
    wr      %g0, PSR_S | PSR_PIL | PSR_ET, %psr
    nop; nop; nop

    mov     0, %o0
    call    guest_main
     mov    0, %o1
    call    arch_exit
     nop

/* Standard window trap handlers.  They run in the trap window with %l1/%l2 =
 * PC/nPC of the trapping save/restore, and return to re-execute it. */
window_overflow:
    mov     %wim, %l3
    mov     %g1, %l7
    srl     %l3, 1, %g1             /* new WIM = WIM rotated right by one */
    sll     %l3, NWINDOWS - 1, %l4
    or      %l4, %g1, %g1
    save                            /* into the window to be saved */
    mov     %g1, %wim
    nop; nop; nop
    std     %l0, [%sp + 0]
    std     %l2, [%sp + 8]
    std     %l4, [%sp + 16]
    std     %l6, [%sp + 24]
    std     %i0, [%sp + 32]
    std     %i2, [%sp + 40]
    std     %i4, [%sp + 48]
    std     %i6, [%sp + 56]
    restore
    mov     %l7, %g1
    jmp     %l1
     rett   %l2

window_underflow:
    mov     %wim, %l3
    sll     %l3, 1, %l4             /* new WIM = WIM rotated left by one */
    srl     %l3, NWINDOWS - 1, %l5
    or      %l5, %l4, %l5
    mov     %l5, %wim
    nop; nop; nop
    restore                         /* into the window to be restored */
    restore
    ldd     [%sp + 0], %l0
    ldd     [%sp + 8], %l2
    ldd     [%sp + 16], %l4
    ldd     [%sp + 24], %l6
    ldd     [%sp + 32], %i0
    ldd     [%sp + 40], %i2
    ldd     [%sp + 48], %i4
    ldd     [%sp + 56], %i6
    save
    save
    jmp     %l1
     rett   %l2

/* Any other trap: print "!trap 0xNN" (NN = trap type, from %tbr in %l3) on
 * the serial port and reset.  Uses no stack, no windows and no data (in the
 * -bios image, data loads from code addresses would read RAM, not the PROM). */
.macro  put_imm c
    mov     \c, %l6
    stba    %l6, [%l4] ASI_BYPASS
.endm
bad_trap:
    set     ESCC_A_DATA, %l4
    put_imm '\n'
    put_imm '!'
    put_imm 't'
    put_imm 'r'
    put_imm 'a'
    put_imm 'p'
    put_imm ' '
    put_imm '0'
    put_imm 'x'
    srl     %l3, 8, %l6             /* high nibble of tt (bits 11:8 of %tbr) */
    call    bad_trap_nibble
     and    %l6, 15, %l6
    srl     %l3, 4, %l6             /* low nibble of tt */
    call    bad_trap_nibble
     and    %l6, 15, %l6
    put_imm '\n'
    set     SYSCTRL, %l4
    mov     1, %l6
    sta     %l6, [%l4] ASI_BYPASS
1:  ba      1b
     nop
bad_trap_nibble:                    /* %l6 = 0..15; return address in %o7 */
    cmp     %l6, 10
    bl      1f
     add    %l6, '0', %l6
    add     %l6, 'a' - '0' - 10, %l6
1:  retl
     stba   %l6, [%l4] ASI_BYPASS

    .section .note.GNU-stack, "", @progbits
