/*
 * The world probe: a static glibc program that prints what a linux-user
 * QEMU gives every guest besides its program and arguments: the auxiliary
 * vector, entry by entry in its order, and what the CPU says of itself
 * (x86_64: every CPUID leaf and subleaf; aarch64: the ID registers that
 * linux-user lets EL0 read, as Linux does). The harness runs it under each
 * side's QEMU before a run across versions and compares the two outputs
 * (harness/qemu/world.ts).
 *
 * One line per fact, "auxv TYPE VALUE", "cpuid LEAF SUBLEAF EAX EBX ECX EDX",
 * "idreg NAME VALUE" (or "idreg NAME sigill" where the QEMU refuses the
 * read), and "end" last: output without it is not a probe's.
 * Addresses on the stack (AT_RANDOM, AT_EXECFN, the platform strings) and
 * the vDSO's place depend on the QEMU's layout, not on the world: for the
 * platform strings the probe prints what they point to, for the others
 * "present" (the random bytes and the program's path are the harness's to
 * make equal, docs/environment.md).
 */
#define _GNU_SOURCE
#include <elf.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <ucontext.h>

#ifndef AT_MINSIGSTKSZ
#define AT_MINSIGSTKSZ 51
#endif
#ifndef AT_RSEQ_FEATURE_SIZE
#define AT_RSEQ_FEATURE_SIZE 27
#endif
#ifndef AT_RSEQ_ALIGN
#define AT_RSEQ_ALIGN 28
#endif

static void print_auxv(char **envp)
{
    while (*envp) {
        envp++;
    }
    for (Elf64_auxv_t *av = (Elf64_auxv_t *)(envp + 1); av->a_type != AT_NULL;
         av++) {
        uint64_t v = av->a_un.a_val;

        switch (av->a_type) {
        case AT_PLATFORM:
        case AT_BASE_PLATFORM:
            printf("auxv %" PRIu64 " \"%s\"\n", (uint64_t)av->a_type,
                   (const char *)v);
            break;
        case AT_RANDOM:
        case AT_EXECFN:
        case AT_SYSINFO_EHDR:
            printf("auxv %" PRIu64 " present\n", (uint64_t)av->a_type);
            break;
        default:
            printf("auxv %" PRIu64 " 0x%" PRIx64 "\n", (uint64_t)av->a_type, v);
        }
    }
}

#if defined(__x86_64__)
static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid"
                     : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                     : "a"(leaf), "c"(sub));
}

/*
 * How many subleaves to ask of a leaf: the leaves that have them (cache
 * and topology levels, features, XSAVE components, trace and SGX) get 8,
 * leaf 0xd 64 (one a component), the others one.
 */
static uint32_t subleaves(uint32_t leaf)
{
    switch (leaf) {
    case 0xd:
        return 64;
    case 0x4: case 0x7: case 0xb: case 0xf: case 0x10: case 0x12: case 0x14:
    case 0x17: case 0x18: case 0x1d: case 0x1e: case 0x1f: case 0x20:
    case 0x23: case 0x24: case 0x8000001d: case 0x80000020:
        return 8;
    default:
        return 1;
    }
}

static void print_range(uint32_t base)
{
    uint32_t r[4];

    cpuid(base, 0, r);
    uint32_t max = r[0];
    if (max < base || max - base > 0xff) {
        printf("cpuid 0x%08x 0 0x%08x 0x%08x 0x%08x 0x%08x\n", base, r[0],
               r[1], r[2], r[3]);
        return;
    }
    for (uint32_t leaf = base; leaf <= max; leaf++) {
        for (uint32_t sub = 0; sub < subleaves(leaf); sub++) {
            cpuid(leaf, sub, r);
            printf("cpuid 0x%08x %u 0x%08x 0x%08x 0x%08x 0x%08x\n", leaf, sub,
                   r[0], r[1], r[2], r[3]);
        }
    }
}

static void print_cpu(void)
{
    print_range(0);
    print_range(0x80000000u);
}
#elif defined(__aarch64__)
static volatile int refused;

/* An ID register this QEMU does not let EL0 read: skip the mrs. */
static void on_sigill(int sig, siginfo_t *info, void *context)
{
    ucontext_t *uc = context;

    (void)sig;
    (void)info;
    refused = 1;
    uc->uc_mcontext.pc += 4;
}

#define IDREG(name, enc)                                                     \
    do {                                                                     \
        uint64_t v = 0;                                                      \
        refused = 0;                                                         \
        __asm__ volatile("mrs %0, " enc : "=r"(v));                          \
        if (refused) {                                                       \
            printf("idreg %s sigill\n", name);                               \
        } else {                                                             \
            printf("idreg %s 0x%016" PRIx64 "\n", name, v);                  \
        }                                                                    \
    } while (0)

static void print_cpu(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigill;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGILL, &sa, NULL);
    IDREG("midr_el1", "S3_0_C0_C0_0");
    IDREG("mpidr_el1", "S3_0_C0_C0_5");
    IDREG("revidr_el1", "S3_0_C0_C0_6");
    IDREG("id_aa64pfr0_el1", "S3_0_C0_C4_0");
    IDREG("id_aa64pfr1_el1", "S3_0_C0_C4_1");
    IDREG("id_aa64zfr0_el1", "S3_0_C0_C4_4");
    IDREG("id_aa64smfr0_el1", "S3_0_C0_C4_5");
    IDREG("id_aa64dfr0_el1", "S3_0_C0_C5_0");
    IDREG("id_aa64dfr1_el1", "S3_0_C0_C5_1");
    IDREG("id_aa64isar0_el1", "S3_0_C0_C6_0");
    IDREG("id_aa64isar1_el1", "S3_0_C0_C6_1");
    IDREG("id_aa64isar2_el1", "S3_0_C0_C6_2");
    IDREG("id_aa64mmfr0_el1", "S3_0_C0_C7_0");
    IDREG("id_aa64mmfr1_el1", "S3_0_C0_C7_1");
    IDREG("id_aa64mmfr2_el1", "S3_0_C0_C7_2");
    IDREG("ctr_el0", "S3_3_C0_C0_1");
    IDREG("dczid_el0", "S3_3_C0_C0_7");
}
#else
static void print_cpu(void)
{
}
#endif

int main(int argc, char **argv, char **envp)
{
    (void)argc;
    (void)argv;
    print_auxv(envp);
    print_cpu();
    printf("end\n");
    return 0;
}
