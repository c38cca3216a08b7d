/* The forking guest (x86_64 linux-user, raw system calls): forks argv[1]
 * children (default 2) one after another; child N computes a checksum,
 * prints "child N: <checksum>" and exits with N; the parent waits for each
 * (wait4 on its pid) and prints "parent: child N exited N". With argv[2],
 * child 2 executes that program instead, with the argument 2 (given the
 * guest's own path, it forks two children of its own). Under QEMU
 * linux-user every fork is a fork of the whole QEMU: the tests check that a
 * lockstep run of it ends, right, with nothing left. The -variant build
 * differs in one byte of data only, which makes child 2 loop once more: the
 * same code at the same addresses, and a difference in control flow inside
 * process "1.2" alone. The -parent-variant build loops once more in the
 * parent's own work after its last child: a difference in process "1",
 * past every fork. */
#include "guest.h"
#include "syscall.h"

#define SYS_fork 57
#define SYS_wait4 61
#define SYS_execve 59
#define SYS_exit_group 231

static unsigned long parse_dec(const char *s)
{
    unsigned long n = 0;
    while (*s >= '0' && *s <= '9')
        n = n * 10 + (unsigned long)(*s++ - '0');
    return n;
}

static void put_dec(unsigned long v)
{
    char buf[24];
    int i = sizeof buf;
    do {
        buf[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    arch_write(buf + i, sizeof buf - (unsigned long)i);
}

/*
 * Extra rounds of each child's loop; volatile, so that the code reads it
 * and is the same in both builds.
 */
static const volatile unsigned long extra_rounds[4] = {
#ifdef VARIANT
    0, 0, 1, 0
#else
    0, 0, 0, 0
#endif
};

/* The parent's rounds after its last child; volatile, as above. */
static const volatile unsigned long parent_extra =
#ifdef PARENT_VARIANT
    1;
#else
    0;
#endif
static volatile uint32_t parent_sink;

/* Some work for child n, so that its stream is more than a few calls. */
static uint32_t checksum(unsigned long n)
{
    uint32_t h = 2166136261u;
    unsigned long rounds = 20000 + n + extra_rounds[n & 3];

    for (unsigned long i = 0; i < rounds; i++)
        h = (h ^ (uint32_t)i) * 16777619u;
    return h;
}

int guest_main(int argc, char **argv)
{
    unsigned long children = argc > 1 ? parse_dec(argv[1]) : 2;

    for (unsigned long n = 1; n <= children; n++) {
        long pid = syscall4(SYS_fork, 0, 0, 0, 0);
        int status = 0;

        if (pid < 0) {
            put_str("fork failed\n");
            return 1;
        }
        if (pid == 0 && argc > 2 && n == 2) {
            char *args[] = { argv[2], "2", 0 };
            char *env[] = { 0 };

            syscall4(SYS_execve, (long)argv[2], (long)args, (long)env, 0);
            put_str("execve failed\n");
            syscall4(SYS_exit_group, 127, 0, 0, 0);
        }
        if (pid == 0) {
            put_str("child ");
            put_dec(n);
            put_str(": ");
            put_hex32(checksum(n));
            put_str("\n");
            syscall4(SYS_exit_group, (long)n, 0, 0, 0);
        }
        if (syscall4(SYS_wait4, pid, (long)&status, 0, 0) != pid) {
            put_str("wait4 failed\n");
            return 1;
        }
        put_str("parent: child ");
        put_dec(n);
        put_str(" exited ");
        put_dec((unsigned long)((status >> 8) & 0xff));
        put_str("\n");
    }
    for (unsigned long i = 0; i < 5000 + parent_extra; i++)
        parent_sink = parent_sink * 31 + (uint32_t)i;
    return 0;
}
