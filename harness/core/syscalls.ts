/**
 * System calls by number, for verdicts: the names of x86_64's and of
 * asm-generic's (aarch64, riscv64, loongarch64) calls, from the Linux UAPI
 * headers, how many arguments each takes, and which of them read the
 * environment. plugin-src/env.c lists the environment-reading ones with
 * their numbers, plugin-src/syscall_args.h every call's argument count (unit
 * tests check that each agrees with this file).
 */

/** Names by number ("-": no call has the number). */
const X86_64 = `
read write open close stat fstat lstat poll lseek mmap mprotect munmap brk rt_sigaction
rt_sigprocmask rt_sigreturn ioctl pread64 pwrite64 readv writev access pipe select sched_yield
mremap msync mincore madvise shmget shmat shmctl dup dup2 pause nanosleep getitimer alarm
setitimer getpid sendfile socket connect accept sendto recvfrom sendmsg recvmsg shutdown bind
listen getsockname getpeername socketpair setsockopt getsockopt clone fork vfork execve exit
wait4 kill uname semget semop semctl shmdt msgget msgsnd msgrcv msgctl fcntl flock fsync
fdatasync truncate ftruncate getdents getcwd chdir fchdir rename mkdir rmdir creat link unlink
symlink readlink chmod fchmod chown fchown lchown umask gettimeofday getrlimit getrusage sysinfo
times ptrace getuid syslog getgid setuid setgid geteuid getegid setpgid getppid getpgrp setsid
setreuid setregid getgroups setgroups setresuid getresuid setresgid getresgid getpgid setfsuid
setfsgid getsid capget capset rt_sigpending rt_sigtimedwait rt_sigqueueinfo rt_sigsuspend
sigaltstack utime mknod uselib personality ustat statfs fstatfs sysfs getpriority setpriority
sched_setparam sched_getparam sched_setscheduler sched_getscheduler sched_get_priority_max
sched_get_priority_min sched_rr_get_interval mlock munlock mlockall munlockall vhangup
modify_ldt pivot_root _sysctl prctl arch_prctl adjtimex setrlimit chroot sync acct settimeofday
mount umount2 swapon swapoff reboot sethostname setdomainname iopl ioperm create_module
init_module delete_module get_kernel_syms query_module quotactl nfsservctl getpmsg putpmsg
afs_syscall tuxcall security gettid readahead setxattr lsetxattr fsetxattr getxattr lgetxattr
fgetxattr listxattr llistxattr flistxattr removexattr lremovexattr fremovexattr tkill time futex
sched_setaffinity sched_getaffinity set_thread_area io_setup io_destroy io_getevents io_submit
io_cancel get_thread_area lookup_dcookie epoll_create epoll_ctl_old epoll_wait_old
remap_file_pages getdents64 set_tid_address restart_syscall semtimedop fadvise64 timer_create
timer_settime timer_gettime timer_getoverrun timer_delete clock_settime clock_gettime
clock_getres clock_nanosleep exit_group epoll_wait epoll_ctl tgkill utimes vserver mbind
set_mempolicy get_mempolicy mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify
mq_getsetattr kexec_load waitid add_key request_key keyctl ioprio_set ioprio_get inotify_init
inotify_add_watch inotify_rm_watch migrate_pages openat mkdirat mknodat fchownat futimesat
newfstatat unlinkat renameat linkat symlinkat readlinkat fchmodat faccessat pselect6 ppoll
unshare set_robust_list get_robust_list splice tee sync_file_range vmsplice move_pages utimensat
epoll_pwait signalfd timerfd_create eventfd fallocate timerfd_settime timerfd_gettime accept4
signalfd4 eventfd2 epoll_create1 dup3 pipe2 inotify_init1 preadv pwritev rt_tgsigqueueinfo
perf_event_open recvmmsg fanotify_init fanotify_mark prlimit64 name_to_handle_at
open_by_handle_at clock_adjtime syncfs sendmmsg setns getcpu process_vm_readv process_vm_writev
kcmp finit_module sched_setattr sched_getattr renameat2 seccomp getrandom memfd_create
kexec_file_load bpf execveat userfaultfd membarrier mlock2 copy_file_range preadv2 pwritev2
pkey_mprotect pkey_alloc pkey_free statx io_pgetevents rseq - - - - - - - - - - - - - - - - - -
- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
- - - - - - - - - - - - - - - - - - - - - - - pidfd_send_signal io_uring_setup io_uring_enter
io_uring_register open_tree move_mount fsopen fsconfig fsmount fspick pidfd_open clone3
close_range openat2 pidfd_getfd faccessat2 process_madvise epoll_pwait2 mount_setattr
quotactl_fd landlock_create_ruleset landlock_add_rule landlock_restrict_self memfd_secret
process_mrelease futex_waitv set_mempolicy_home_node
`.trim().split(/\s+/);

const GENERIC = `
io_setup io_destroy io_submit io_cancel io_getevents setxattr lsetxattr fsetxattr getxattr
lgetxattr fgetxattr listxattr llistxattr flistxattr removexattr lremovexattr fremovexattr getcwd
lookup_dcookie eventfd2 epoll_create1 epoll_ctl epoll_pwait dup dup3 fcntl inotify_init1
inotify_add_watch inotify_rm_watch ioctl ioprio_set ioprio_get flock mknodat mkdirat unlinkat
symlinkat linkat renameat umount2 mount pivot_root nfsservctl statfs fstatfs truncate ftruncate
fallocate faccessat chdir fchdir chroot fchmod fchmodat fchownat fchown openat close vhangup
pipe2 quotactl getdents64 lseek read write readv writev pread64 pwrite64 preadv pwritev sendfile
pselect6 ppoll signalfd4 vmsplice splice tee readlinkat fstatat fstat sync fsync fdatasync
sync_file_range timerfd_create timerfd_settime timerfd_gettime utimensat acct capget capset
personality exit exit_group waitid set_tid_address unshare futex set_robust_list get_robust_list
nanosleep getitimer setitimer kexec_load init_module delete_module timer_create timer_gettime
timer_getoverrun timer_settime timer_delete clock_settime clock_gettime clock_getres
clock_nanosleep syslog ptrace sched_setparam sched_setscheduler sched_getscheduler
sched_getparam sched_setaffinity sched_getaffinity sched_yield sched_get_priority_max
sched_get_priority_min sched_rr_get_interval restart_syscall kill tkill tgkill sigaltstack
rt_sigsuspend rt_sigaction rt_sigprocmask rt_sigpending rt_sigtimedwait rt_sigqueueinfo
rt_sigreturn setpriority getpriority reboot setregid setgid setreuid setuid setresuid getresuid
setresgid getresgid setfsuid setfsgid times setpgid getpgid getsid setsid getgroups setgroups
uname sethostname setdomainname getrlimit setrlimit getrusage umask prctl getcpu gettimeofday
settimeofday adjtimex getpid getppid getuid geteuid getgid getegid gettid sysinfo mq_open
mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr msgget msgctl msgrcv msgsnd
semget semctl semtimedop semop shmget shmctl shmat shmdt socket socketpair bind listen accept
connect getsockname getpeername sendto recvfrom setsockopt getsockopt shutdown sendmsg recvmsg
readahead brk munmap mremap add_key request_key keyctl clone execve mmap fadvise64 swapon
swapoff mprotect msync mlock munlock mlockall munlockall mincore madvise remap_file_pages mbind
get_mempolicy set_mempolicy migrate_pages move_pages rt_tgsigqueueinfo perf_event_open accept4
recvmmsg arch_specific_syscall - - - - - - - - - - - - - - - wait4 prlimit64 fanotify_init
fanotify_mark name_to_handle_at open_by_handle_at clock_adjtime syncfs setns sendmmsg
process_vm_readv process_vm_writev kcmp finit_module sched_setattr sched_getattr renameat2
seccomp getrandom memfd_create bpf execveat userfaultfd membarrier mlock2 copy_file_range
preadv2 pwritev2 pkey_mprotect pkey_alloc pkey_free statx io_pgetevents rseq kexec_file_load - -
- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
- - - - - - - - - - clock_gettime64 clock_settime64 clock_adjtime64 clock_getres_time64
clock_nanosleep_time64 timer_gettime64 timer_settime64 timerfd_gettime64 timerfd_settime64
utimensat_time64 pselect6_time64 ppoll_time64 - io_pgetevents_time64 recvmmsg_time64
mq_timedsend_time64 mq_timedreceive_time64 semtimedop_time64 rt_sigtimedwait_time64 futex_time64
sched_rr_get_interval_time64 pidfd_send_signal io_uring_setup io_uring_enter io_uring_register
open_tree move_mount fsopen fsconfig fsmount fspick pidfd_open clone3 close_range openat2
pidfd_getfd faccessat2 process_madvise epoll_pwait2 mount_setattr quotactl_fd
landlock_create_ruleset landlock_add_rule landlock_restrict_self memfd_secret process_mrelease
futex_waitv set_mempolicy_home_node syscalls
`.trim().split(/\s+/);

/**
 * The arguments each call takes, by count (index 0: none): the Linux system
 * call ABI, the same on x86_64 and asm-generic. A call the kernel does not
 * implement (afs_syscall, tuxcall, ...) reads none. A number not named here
 * (unassigned, arch_specific_syscall) has no count: all six argument
 * registers are compared. plugin-src/syscall_args.h has the same counts by
 * number (a unit test checks that the two agree).
 */
const ARGUMENTS: readonly string[] = [
  `
afs_syscall create_module epoll_ctl_old epoll_wait_old fork get_kernel_syms getegid geteuid
getgid getpgrp getpid getpmsg getppid gettid getuid inotify_init munlockall nfsservctl pause
putpmsg query_module restart_syscall rt_sigreturn sched_yield security setsid sync tuxcall vfork
vhangup vserver
`,
  `
_sysctl acct adjtimex alarm brk chdir chroot close dup epoll_create epoll_create1 eventfd exit
exit_group fchdir fdatasync fsync get_thread_area getpgid getsid inotify_init1 io_destroy iopl
memfd_secret mlockall mq_unlink personality pipe pkey_free rmdir sched_get_priority_max
sched_get_priority_min sched_getscheduler set_thread_area set_tid_address setfsgid setfsuid
setgid setuid shmdt swapoff syncfs sysinfo time timer_delete timer_getoverrun times umask uname
unlink unshare uselib userfaultfd
`,
  `
access arch_prctl capget capset clock_adjtime clock_adjtime64 clock_getres clock_getres_time64
clock_gettime clock_gettime64 clock_settime clock_settime64 clone3 creat delete_module dup2
eventfd2 fanotify_init flock fremovexattr fsopen fstat fstatfs ftruncate getcwd getgroups
getitimer getpriority getrlimit getrusage gettimeofday inotify_rm_watch io_setup io_uring_setup
ioprio_get kill landlock_restrict_self link listen lremovexattr lstat memfd_create mkdir mlock
mq_notify msgget munlock munmap nanosleep pidfd_open pipe2 pivot_root pkey_alloc
process_mrelease removexattr rename rt_sigpending rt_sigsuspend sched_getparam
sched_rr_get_interval sched_rr_get_interval_time64 sched_setparam set_robust_list setdomainname
setgroups sethostname setns setpgid setregid setreuid setrlimit settimeofday shutdown
sigaltstack stat statfs swapon symlink timer_gettime timer_gettime64 timerfd_create
timerfd_gettime timerfd_gettime64 tkill truncate umount2 ustat utime utimes
`,
  `
accept bind bpf chmod chown close_range connect dup3 execve faccessat fchmod fchmodat fchown
fcntl finit_module flistxattr fsmount fspick futimesat get_robust_list getcpu getdents
getdents64 getpeername getrandom getresgid getresuid getsockname init_module inotify_add_watch
io_cancel io_submit ioctl ioperm ioprio_set landlock_create_ruleset lchown listxattr llistxattr
lookup_dcookie lseek madvise membarrier mincore mkdirat mknod mlock2 modify_ldt mprotect
mq_getsetattr msgctl msync open open_by_handle_at open_tree pidfd_getfd poll read readahead
readlink readv recvmsg rt_sigqueueinfo sched_getaffinity sched_setaffinity sched_setattr
sched_setscheduler seccomp semget semop sendmsg set_mempolicy setitimer setpriority setresgid
setresuid shmat shmctl shmget signalfd socket symlinkat sysfs syslog tgkill timer_create
unlinkat write writev
`,
  `
accept4 clock_nanosleep clock_nanosleep_time64 epoll_ctl epoll_wait faccessat2 fadvise64
fallocate fgetxattr fstatat getxattr io_uring_register kexec_load landlock_add_rule lgetxattr
migrate_pages mknodat mq_open msgsnd newfstatat openat openat2 pidfd_send_signal pkey_mprotect
pread64 prlimit64 ptrace pwrite64 quotactl quotactl_fd readlinkat reboot renameat request_key
rseq rt_sigaction rt_sigprocmask rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo
sched_getattr semctl semtimedop semtimedop_time64 sendfile sendmmsg set_mempolicy_home_node
signalfd4 socketpair sync_file_range tee timer_settime timer_settime64 timerfd_settime
timerfd_settime64 utimensat utimensat_time64 vmsplice wait4
`,
  `
add_key clone execveat fanotify_mark fchownat fsconfig fsetxattr futex_waitv get_mempolicy
getsockopt io_getevents kcmp kexec_file_load keyctl linkat lsetxattr mount mount_setattr
move_mount mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mremap msgrcv
name_to_handle_at perf_event_open ppoll ppoll_time64 prctl preadv process_madvise pwritev
recvmmsg recvmmsg_time64 remap_file_pages renameat2 select setsockopt setxattr statx waitid
`,
  `
copy_file_range epoll_pwait epoll_pwait2 futex futex_time64 io_pgetevents io_pgetevents_time64
io_uring_enter mbind mmap move_pages preadv2 process_vm_readv process_vm_writev pselect6
pselect6_time64 pwritev2 recvfrom sendto splice
`,
];

const ARGUMENT_COUNT: ReadonlyMap<string, number> = new Map(
  ARGUMENTS.flatMap((names, count) => names.trim().split(/\s+/).map((n) => [n, count] as const)),
);

/** The number tables of the presets whose linux-user QEMUs lockstep knows. */
const TABLES: Readonly<Record<string, readonly string[]>> = {
  x86_64: X86_64,
  aarch64: GENERIC,
  riscv64: GENERIC,
};

/**
 * The calls whose answer comes from the host: ids, clocks, randomness,
 * system information. The environment shim (plugin-src/env_shim.c)
 * answers them with fixed values in linux-user; from plugin API 4 the
 * plugin reads what they wrote.
 */
export const ENVIRONMENT_CALLS: readonly string[] = [
  "getpid",
  "getppid",
  "gettid",
  "set_tid_address",
  "clock_gettime",
  "clock_getres",
  "gettimeofday",
  "time",
  "times",
  "getrusage",
  "sysinfo",
  "uname",
  "getrandom",
  "getcpu",
];

/** The name of system call `number` of `arch`, if known. */
export function syscallName(arch: string, number: number): string | undefined {
  const name = TABLES[arch]?.[number];
  return name && name !== "-" ? name : undefined;
}

/** The number of system call `name` of `arch`, if it has one. */
export function syscallNumber(arch: string, name: string): number | undefined {
  const i = TABLES[arch]?.indexOf(name) ?? -1;
  return i >= 0 ? i : undefined;
}

/**
 * How many arguments system call `number` of `arch` takes: undefined when
 * lockstep knows no count for it (an arch without a table, an unassigned
 * number), and then all six argument registers are compared.
 */
export function syscallArgs(arch: string, number: number): number | undefined {
  const name = syscallName(arch, number);
  return name === undefined ? undefined : ARGUMENT_COUNT.get(name);
}
