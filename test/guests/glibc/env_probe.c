/*
 * The environment guest: a static glibc program that asks the environment
 * everything a program commonly asks it (its ids, every kind of clock,
 * random bytes from getrandom and /dev/urandom, system information, the
 * host name), stores the answers, prints them and a digest of them.
 *
 * Given a file name, it also reads that file whole and prints a digest of
 * it (a test reads the guest's own image, which differs between a base
 * and its variant).
 *
 * Under lockstep both sides must see the same answers (docs/environment.md)
 * and print the same lines. Built twice, for x86_64 and aarch64: normally
 * and with -DVARIANT, which changes one constant (DIGEST_MUL) inside
 * digest_step(), the function that folds the answers into the digest. That
 * function lives in .text_last, after all other code, so nothing else moves.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#ifdef VARIANT
#define DIGEST_MUL 0x85ebca6bu
#else
#define DIGEST_MUL 0x01000193u
#endif

/* Every answer, kept: the digest reads them back from memory. */
static struct {
    pid_t pid, ppid, tid;
    struct timespec realtime, monotonic, boottime, cputime, resolution;
    struct timeval tv;
    time_t now;
    clock_t ticks;
    struct tms tms;
    struct rusage usage;
    struct sysinfo info;
    struct utsname uts;
    unsigned char random[16];
    unsigned char urandom[16];
    ssize_t urandom_read;
    uint32_t file_digest;
    long file_bytes;
} env;

/* Each step's value, stored: a memory access (with its value) shows it. */
uint32_t digest_trace;

uint32_t digest_step(uint32_t h, uint32_t byte);

/* FNV-1a over a whole file, read in 4 KiB pieces. */
static void read_file(const char *name)
{
    unsigned char buf[4096];
    ssize_t n;
    int fd = open(name, O_RDONLY);

    env.file_digest = 0x811c9dc5u;
    env.file_bytes = fd < 0 ? -1 : 0;
    while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0) {
        for (ssize_t i = 0; i < n; i++) {
            env.file_digest = (env.file_digest ^ buf[i]) * 0x01000193u;
        }
        env.file_bytes += n;
    }
    if (fd >= 0) {
        close(fd);
    }
}

static void ask(const char *file)
{
    int fd;

    env.pid = getpid();
    env.ppid = getppid();
    env.tid = gettid();
    clock_gettime(CLOCK_REALTIME, &env.realtime);
    clock_gettime(CLOCK_MONOTONIC, &env.monotonic);
    clock_gettime(CLOCK_BOOTTIME, &env.boottime);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &env.cputime);
    clock_getres(CLOCK_MONOTONIC, &env.resolution);
    gettimeofday(&env.tv, NULL);
    env.now = time(NULL);
    env.ticks = times(&env.tms);
    getrusage(RUSAGE_SELF, &env.usage);
    sysinfo(&env.info);
    uname(&env.uts);
    getrandom(env.random, sizeof(env.random), 0);
    fd = open("/dev/urandom", O_RDONLY);
    env.urandom_read = fd < 0 ? -1 : read(fd, env.urandom, sizeof(env.urandom));
    if (fd >= 0) {
        close(fd);
    }
    if (file) {
        read_file(file);
    }
}

static uint32_t digest(void)
{
    const unsigned char *p = (const unsigned char *)&env;
    uint32_t h = 0x811c9dc5u;

    for (size_t i = 0; i < sizeof(env); i++) {
        h = digest_step(h, p[i]);
    }
    return h;
}

static void hex(const char *name, const unsigned char *b, size_t n)
{
    printf("%s ", name);
    for (size_t i = 0; i < n; i++) {
        printf("%02x", b[i]);
    }
    printf("\n");
}

int main(int argc, char **argv)
{
    ask(argc > 1 ? argv[1] : NULL);
    printf("pid %d ppid %d tid %d\n", (int)env.pid, (int)env.ppid,
           (int)env.tid);
    printf("realtime %lld.%09ld monotonic %lld.%09ld boottime %lld.%09ld\n",
           (long long)env.realtime.tv_sec, env.realtime.tv_nsec,
           (long long)env.monotonic.tv_sec, env.monotonic.tv_nsec,
           (long long)env.boottime.tv_sec, env.boottime.tv_nsec);
    printf("cputime %lld.%09ld resolution %ld ns\n",
           (long long)env.cputime.tv_sec, env.cputime.tv_nsec,
           env.resolution.tv_nsec);
    printf("gettimeofday %lld.%06ld time %lld\n", (long long)env.tv.tv_sec,
           (long)env.tv.tv_usec, (long long)env.now);
    printf("times %ld utime %ld rusage utime %lld.%06ld maxrss %ld\n",
           (long)env.ticks, (long)env.tms.tms_utime,
           (long long)env.usage.ru_utime.tv_sec,
           (long)env.usage.ru_utime.tv_usec, env.usage.ru_maxrss);
    printf("sysinfo uptime %ld procs %d totalram %lu freeram %lu\n",
           env.info.uptime, env.info.procs, env.info.totalram,
           env.info.freeram);
    printf("uname %s %s\n", env.uts.sysname, env.uts.nodename);
    hex("getrandom", env.random, sizeof(env.random));
    printf("urandom read %zd\n", env.urandom_read);
    hex("urandom", env.urandom, sizeof(env.urandom));
    if (argc > 1) {
        printf("file %s: %ld bytes, digest 0x%08x\n", argv[1], env.file_bytes,
               env.file_digest);
    }
    printf("digest 0x%08x\n", digest());
    return 0;
}

/*
 * The only function that differs in the variant: the same instructions,
 * another constant. Keep it last.
 */
__attribute__((noipa, section(".text_last")))
uint32_t digest_step(uint32_t h, uint32_t byte)
{
    digest_trace = (h ^ byte) * DIGEST_MUL;
    return digest_trace;
}
