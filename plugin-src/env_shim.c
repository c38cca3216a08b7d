/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * env_shim.c - the same world on both sides of a linux-user run. Not a
 * plugin: a small library preloaded into QEMU (LD_PRELOAD; QEMU's -U
 * LD_PRELOAD keeps it from the guest) that answers, with fixed values, the
 * host calls QEMU makes while it emulates a guest system call that reads
 * the environment: ids, clocks, randomness, system information, the host
 * name. Every QEMU version reaches the host through the same libc entry
 * points here (read from 7.2's and 10.2's linux-user/syscall.c), so the
 * answers are the same on both sides whatever their plugin API.
 *
 * Only the guest's calls are answered: the lockstep plugin's system-call
 * callbacks say when one is in progress on this thread
 * (lockstep_env_enter/leave, found with dlsym). QEMU's own calls, its other
 * threads and the plugin's own clock readings get the host's answers.
 *
 *   getpid, getppid, gettid (libc or syscall(SYS_gettid), which QEMU also
 *   uses for set_tid_address's result): FAKE_PID, FAKE_PPID
 *   clock_gettime, gettimeofday, time, times, getrusage, sysinfo,
 *   clock_getres: a clock that starts at 2020-01-01 (realtime) or at
 *   BOOT_SECONDS (monotonic, boot) and advances STEP_NS at every guest read
 *   getrandom (libc or syscall): a fixed pseudo-random stream
 *   uname (libc or syscall): the host's, with nodename "lockstep"
 *   getcpu (syscall): cpu 0, node 0
 *
 * And two calls of QEMU's own. kill of itself: QEMU 7.2 ends a guest
 * killed by a signal that way without telling plugins, so the plugin
 * registers a hook (lockstep_env_on_death) that runs first (see
 * plugin-src/death.c). And realpath of the guest's path. The harness
 * gives both sides the same path, /proc/self/fd/3/NAME, each reaching its
 * own copy (docs/how-it-works.md); QEMU 10.x resolves it at start-up (8.x
 * on for AT_EXECFN, 7.2 when the guest reads /proc/self/exe), which would
 * show the guest each side's own directory. A /proc/self/fd/ path is kept
 * as given. And access of the run's root (LOCKSTEP_DEVICE_ROOT), QEMU's -L
 * prefix, which holds the guest's fixed /dev/urandom and /dev/random: the
 * root itself and its dev/ must not stand for the guest's / and /dev.
 *
 * Keep it free of glib and of the plugin's headers: it is loaded into every
 * process of the side's command line (setarch too), long before QEMU.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/*
 * Ids no process can have (Linux's PID_MAX_LIMIT is 4,194,304): a signal
 * QEMU sends to one on the guest's behalf fails with ESRCH instead of
 * reaching another process (see docs/environment.md).
 */
#define FAKE_PID 4200000
#define FAKE_PPID 4199999

#define EPOCH_SECONDS 1577836800ll      /* 2020-01-01T00:00:00Z */
#define BOOT_SECONDS 1000ll             /* uptime when the guest starts */
#define STEP_NS 1000000ll               /* a guest clock read: 1 ms later */
#define NSEC_PER_SEC 1000000000ll
#define RANDOM_SEED 0x6c6f636b73746570ull
#define NODENAME "lockstep"
#define FAKE_TOTALRAM (1ull << 30)
#define FAKE_FREERAM (1ull << 29)
#define FAKE_MAXRSS_KB 16384

/* Set while a guest system call is in progress on this thread. */
static __thread int guest_call __attribute__((tls_model("initial-exec")));

/* The guest's clock and random stream: touched by the vCPU thread only. */
static struct {
    int64_t elapsed_ns;
    uint64_t random_state;
} world = { .random_state = RANDOM_SEED };

/* libc's own entry points, for everything that is not the guest's. */
static struct {
    long (*syscall)(long, ...);
    int (*clock_gettime)(clockid_t, struct timespec *);
    int (*clock_getres)(clockid_t, struct timespec *);
    int (*gettimeofday)(struct timeval *, void *);
    time_t (*time)(time_t *);
    clock_t (*times)(struct tms *);
    int (*getrusage)(int, struct rusage *);
    int (*sysinfo)(struct sysinfo *);
    int (*uname)(struct utsname *);
    ssize_t (*getrandom)(void *, size_t, unsigned int);
    pid_t (*getpid)(void);
    pid_t (*getppid)(void);
    pid_t (*gettid)(void);
    int (*kill)(pid_t, int);
    char *(*realpath)(const char *, char *);
    char *(*__realpath_chk)(const char *, char *, size_t);
    int (*access)(const char *, int);
} real;

/* The run's root, QEMU's -L prefix (see access()); NULL: none. */
static const char *device_root;

/*
 * dlsym(RTLD_NEXT) for each, before QEMU's main runs, or at the first call
 * if another library's constructor calls one first.
 */
__attribute__((constructor)) static void env_shim_init(void)
{
    static int done;

    if (done) {
        return;
    }
    done = 1;
#define FIND(name) (real.name = (__typeof__(real.name))dlsym(RTLD_NEXT, #name))
    FIND(syscall);
    FIND(clock_gettime);
    FIND(clock_getres);
    FIND(gettimeofday);
    FIND(time);
    FIND(times);
    FIND(getrusage);
    FIND(sysinfo);
    FIND(uname);
    FIND(getrandom);
    FIND(getpid);
    FIND(getppid);
    FIND(gettid);
    FIND(kill);
    FIND(realpath);
    FIND(__realpath_chk);
    FIND(access);
#undef FIND
    device_root = getenv("LOCKSTEP_DEVICE_ROOT");
    if (device_root && !*device_root) {
        device_root = NULL;
    }
}

/* libc's own `name`. */
#define REAL(name) (real.name ? real.name : (env_shim_init(), real.name))

/* The plugin: a guest system call starts, or ended, on this thread. */
EXPORT void lockstep_env_enter(void)
{
    guest_call = 1;
}

EXPORT void lockstep_env_leave(void)
{
    guest_call = 0;
}

/* One guest reading of any clock: time moves on by STEP_NS. */
static int64_t tick(void)
{
    world.elapsed_ns += STEP_NS;
    return world.elapsed_ns;
}

static struct timespec ns_to_timespec(int64_t ns)
{
    return (struct timespec){ .tv_sec = ns / NSEC_PER_SEC,
                              .tv_nsec = ns % NSEC_PER_SEC };
}

/* What a clock reads at `elapsed` nanoseconds of guest time. */
static int64_t clock_value(clockid_t clk, int64_t elapsed)
{
    switch (clk) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_REALTIME_ALARM:
    case CLOCK_TAI:
        return EPOCH_SECONDS * NSEC_PER_SEC + elapsed;
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
    case CLOCK_BOOTTIME_ALARM:
        return BOOT_SECONDS * NSEC_PER_SEC + elapsed;
    default:
        return elapsed;     /* CPU-time clocks */
    }
}

/* splitmix64: a fixed stream, the same on both sides. */
static uint64_t next_random(void)
{
    uint64_t z = (world.random_state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static ssize_t fill_random(void *buf, size_t len)
{
    unsigned char *p = buf;

    for (size_t i = 0; i < len; i += 8) {
        uint64_t r = next_random();
        memcpy(p + i, &r, len - i < 8 ? len - i : 8);
    }
    return (ssize_t)len;
}

static void fix_utsname(struct utsname *u)
{
    strncpy(u->nodename, NODENAME, sizeof(u->nodename));
#ifdef _UTSNAME_DOMAIN_LENGTH
    strncpy(u->domainname, "(none)", sizeof(u->domainname));
#endif
}

EXPORT pid_t getpid(void)
{
    return guest_call ? FAKE_PID : REAL(getpid)();
}

EXPORT pid_t getppid(void)
{
    return guest_call ? FAKE_PPID : REAL(getppid)();
}

EXPORT pid_t gettid(void)
{
    return guest_call ? FAKE_PID : REAL(gettid)();
}

EXPORT int clock_gettime(clockid_t clk, struct timespec *ts)
{
    int ret = REAL(clock_gettime)(clk, ts);

    if (guest_call && ret == 0) {
        *ts = ns_to_timespec(clock_value(clk, tick()));
    }
    return ret;
}

EXPORT int clock_getres(clockid_t clk, struct timespec *res)
{
    int ret = REAL(clock_getres)(clk, res);

    if (guest_call && ret == 0 && res) {
        *res = ns_to_timespec(1);
    }
    return ret;
}

EXPORT int gettimeofday(struct timeval *tv, void *tz)
{
    int ret = REAL(gettimeofday)(tv, tz);

    if (guest_call && ret == 0) {
        int64_t ns = clock_value(CLOCK_REALTIME, tick());
        tv->tv_sec = ns / NSEC_PER_SEC;
        tv->tv_usec = ns % NSEC_PER_SEC / 1000;
        if (tz) {
            memset(tz, 0, sizeof(struct timezone));
        }
    }
    return ret;
}

EXPORT time_t time(time_t *t)
{
    time_t now;

    if (!guest_call) {
        return REAL(time)(t);
    }
    now = clock_value(CLOCK_REALTIME, tick()) / NSEC_PER_SEC;
    if (t) {
        *t = now;
    }
    return now;
}

EXPORT clock_t times(struct tms *buf)
{
    clock_t ret = REAL(times)(buf);
    int64_t ns, tck = sysconf(_SC_CLK_TCK);

    if (!guest_call || ret == (clock_t)-1) {
        return ret;
    }
    ns = tick();
    if (buf) {
        memset(buf, 0, sizeof(*buf));
        buf->tms_utime = ns * tck / NSEC_PER_SEC;
    }
    return clock_value(CLOCK_MONOTONIC, ns) * tck / NSEC_PER_SEC;
}

EXPORT int getrusage(int who, struct rusage *ru)
{
    int ret = REAL(getrusage)(who, ru);

    if (guest_call && ret == 0) {
        int64_t ns = tick();
        memset(ru, 0, sizeof(*ru));
        ru->ru_utime.tv_sec = ns / NSEC_PER_SEC;
        ru->ru_utime.tv_usec = ns % NSEC_PER_SEC / 1000;
        ru->ru_maxrss = FAKE_MAXRSS_KB;
    }
    return ret;
}

EXPORT int sysinfo(struct sysinfo *info)
{
    int ret = REAL(sysinfo)(info);

    if (guest_call && ret == 0) {
        int64_t ns = clock_value(CLOCK_BOOTTIME, tick());
        memset(info, 0, sizeof(*info));
        info->uptime = ns / NSEC_PER_SEC;
        info->totalram = FAKE_TOTALRAM;
        info->freeram = FAKE_FREERAM;
        info->procs = 1;
        info->mem_unit = 1;
    }
    return ret;
}

EXPORT int uname(struct utsname *u)
{
    int ret = REAL(uname)(u);

    if (guest_call && ret == 0) {
        fix_utsname(u);
    }
    return ret;
}

EXPORT ssize_t getrandom(void *buf, size_t len, unsigned int flags)
{
    return guest_call ? fill_random(buf, len) : REAL(getrandom)(buf, len, flags);
}

/* The plugin's hook for QEMU killing itself (death.c); NULL: none. */
static void (*death_hook)(int sig);

EXPORT void lockstep_env_on_death(void (*hook)(int sig))
{
    death_hook = hook;
}

/*
 * A guest's own kill reaches the host through QEMU's raw system calls,
 * never here: a kill of this process outside a guest call is QEMU's.
 */
EXPORT int kill(pid_t pid, int sig)
{
    if (death_hook && !guest_call && sig > 0 && pid == REAL(getpid)()) {
        death_hook(sig);
    }
    return REAL(kill)(pid, sig);
}

/* Keeps a /proc/self/fd/ path as given, once libc resolved it. */
static char *keep_fd_path(const char *path, char *resolved, size_t len)
{
    static const char fd_dir[] = "/proc/self/fd/";

    if (resolved && strncmp(path, fd_dir, sizeof(fd_dir) - 1) == 0 &&
        strlen(path) < len) {
        strcpy(resolved, path);
    }
    return resolved;
}

EXPORT char *realpath(const char *path, char *resolved)
{
    return keep_fd_path(path, REAL(realpath)(path, resolved), PATH_MAX);
}

/* What _FORTIFY_SOURCE makes of realpath() with a buffer (QEMU's case). */
EXPORT char *__realpath_chk(const char *path, char *resolved, size_t len)
{
    return keep_fd_path(path, REAL(__realpath_chk)(path, resolved, len), len);
}

/* Whether path is dir itself or its dev/, trailing slashes aside. */
static int root_or_dev(const char *path, const char *dir)
{
    size_t n = strlen(dir);

    if (strncmp(path, dir, n) != 0) {
        return 0;
    }
    path += strspn(path + n, "/") + n;
    if (strncmp(path, "dev", 3) == 0 && (path[3] == '/' || !path[3])) {
        path += 3 + strspn(path + 3, "/");
    }
    return !*path;
}

/*
 * QEMU looks every absolute path a guest names up under its -L prefix
 * first (util/path.c: access() of PREFIX/PATH, then the path itself when
 * that fails): only what the root holds besides itself and dev/ is found
 * there, so the guest's / and /dev stay the host's.
 */
EXPORT int access(const char *path, int mode)
{
    if (device_root && path && root_or_dev(path, device_root)) {
        errno = ENOENT;
        return -1;
    }
    return REAL(access)(path, mode);
}

/*
 * QEMU reaches gettid (also for set_tid_address's result), getrandom,
 * uname and getcpu through syscall(). The arguments are read as six longs,
 * as libc's own syscall() does.
 */
EXPORT long syscall(long number, ...)
{
    va_list ap;
    long a[6];
    long ret;

    va_start(ap, number);
    for (int i = 0; i < 6; i++) {
        a[i] = va_arg(ap, long);
    }
    va_end(ap);
    if (guest_call) {
        switch (number) {
        case SYS_gettid:
            return FAKE_PID;
        case SYS_getrandom:
            return fill_random((void *)a[0], (size_t)a[1]);
        case SYS_getcpu:
            if (a[0]) {
                *(unsigned *)a[0] = 0;
            }
            if (a[1]) {
                *(unsigned *)a[1] = 0;
            }
            return 0;
        }
    }
    ret = REAL(syscall)(number, a[0], a[1], a[2], a[3], a[4], a[5]);
    if (guest_call && number == SYS_uname && ret == 0) {
        fix_utsname((struct utsname *)a[0]);
    }
    return ret;
}
