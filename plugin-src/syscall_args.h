/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * syscall_args.h - how many arguments each Linux system call takes, by
 * number, for the targets whose calls lockstep knows: x86_64, and
 * asm-generic (aarch64, riscv64). Written from the Linux system call ABI;
 * harness/core/syscalls.ts has the same counts by name (a unit test checks
 * that the two agree). Plain C, no other header: the test compiles it alone.
 *
 * X(number, name, arguments). A call the kernel does not implement takes
 * none; a number not listed has no count (all six registers are compared).
 */
#ifndef LOCKSTEP_SYSCALL_ARGS_H
#define LOCKSTEP_SYSCALL_ARGS_H

/* QEMU's target names, and the list of each (X(list, target)). */
#define LS_SYSCALL_TARGETS(X) \
    X(X86_64, "x86_64") \
    X(GENERIC, "aarch64") \
    X(GENERIC, "riscv64")

/* arch/x86/entry/syscalls/syscall_64.tbl's numbers. */
#define LS_SYSCALLS_X86_64(X) \
    X(0, read, 3) X(1, write, 3) X(2, open, 3) X(3, close, 1) X(4, stat, 2) \
    X(5, fstat, 2) X(6, lstat, 2) X(7, poll, 3) X(8, lseek, 3) X(9, mmap, 6) \
    X(10, mprotect, 3) X(11, munmap, 2) X(12, brk, 1) X(13, rt_sigaction, 4) \
    X(14, rt_sigprocmask, 4) X(15, rt_sigreturn, 0) X(16, ioctl, 3) \
    X(17, pread64, 4) X(18, pwrite64, 4) X(19, readv, 3) X(20, writev, 3) \
    X(21, access, 2) X(22, pipe, 1) X(23, select, 5) X(24, sched_yield, 0) \
    X(25, mremap, 5) X(26, msync, 3) X(27, mincore, 3) X(28, madvise, 3) \
    X(29, shmget, 3) X(30, shmat, 3) X(31, shmctl, 3) X(32, dup, 1) \
    X(33, dup2, 2) X(34, pause, 0) X(35, nanosleep, 2) X(36, getitimer, 2) \
    X(37, alarm, 1) X(38, setitimer, 3) X(39, getpid, 0) X(40, sendfile, 4) \
    X(41, socket, 3) X(42, connect, 3) X(43, accept, 3) X(44, sendto, 6) \
    X(45, recvfrom, 6) X(46, sendmsg, 3) X(47, recvmsg, 3) X(48, shutdown, 2) \
    X(49, bind, 3) X(50, listen, 2) X(51, getsockname, 3) \
    X(52, getpeername, 3) X(53, socketpair, 4) X(54, setsockopt, 5) \
    X(55, getsockopt, 5) X(56, clone, 5) X(57, fork, 0) X(58, vfork, 0) \
    X(59, execve, 3) X(60, exit, 1) X(61, wait4, 4) X(62, kill, 2) \
    X(63, uname, 1) X(64, semget, 3) X(65, semop, 3) X(66, semctl, 4) \
    X(67, shmdt, 1) X(68, msgget, 2) X(69, msgsnd, 4) X(70, msgrcv, 5) \
    X(71, msgctl, 3) X(72, fcntl, 3) X(73, flock, 2) X(74, fsync, 1) \
    X(75, fdatasync, 1) X(76, truncate, 2) X(77, ftruncate, 2) \
    X(78, getdents, 3) X(79, getcwd, 2) X(80, chdir, 1) X(81, fchdir, 1) \
    X(82, rename, 2) X(83, mkdir, 2) X(84, rmdir, 1) X(85, creat, 2) \
    X(86, link, 2) X(87, unlink, 1) X(88, symlink, 2) X(89, readlink, 3) \
    X(90, chmod, 3) X(91, fchmod, 3) X(92, chown, 3) X(93, fchown, 3) \
    X(94, lchown, 3) X(95, umask, 1) X(96, gettimeofday, 2) \
    X(97, getrlimit, 2) X(98, getrusage, 2) X(99, sysinfo, 1) \
    X(100, times, 1) X(101, ptrace, 4) X(102, getuid, 0) X(103, syslog, 3) \
    X(104, getgid, 0) X(105, setuid, 1) X(106, setgid, 1) X(107, geteuid, 0) \
    X(108, getegid, 0) X(109, setpgid, 2) X(110, getppid, 0) \
    X(111, getpgrp, 0) X(112, setsid, 0) X(113, setreuid, 2) \
    X(114, setregid, 2) X(115, getgroups, 2) X(116, setgroups, 2) \
    X(117, setresuid, 3) X(118, getresuid, 3) X(119, setresgid, 3) \
    X(120, getresgid, 3) X(121, getpgid, 1) X(122, setfsuid, 1) \
    X(123, setfsgid, 1) X(124, getsid, 1) X(125, capget, 2) X(126, capset, 2) \
    X(127, rt_sigpending, 2) X(128, rt_sigtimedwait, 4) \
    X(129, rt_sigqueueinfo, 3) X(130, rt_sigsuspend, 2) \
    X(131, sigaltstack, 2) X(132, utime, 2) X(133, mknod, 3) \
    X(134, uselib, 1) X(135, personality, 1) X(136, ustat, 2) \
    X(137, statfs, 2) X(138, fstatfs, 2) X(139, sysfs, 3) \
    X(140, getpriority, 2) X(141, setpriority, 3) X(142, sched_setparam, 2) \
    X(143, sched_getparam, 2) X(144, sched_setscheduler, 3) \
    X(145, sched_getscheduler, 1) X(146, sched_get_priority_max, 1) \
    X(147, sched_get_priority_min, 1) X(148, sched_rr_get_interval, 2) \
    X(149, mlock, 2) X(150, munlock, 2) X(151, mlockall, 1) \
    X(152, munlockall, 0) X(153, vhangup, 0) X(154, modify_ldt, 3) \
    X(155, pivot_root, 2) X(156, _sysctl, 1) X(157, prctl, 5) \
    X(158, arch_prctl, 2) X(159, adjtimex, 1) X(160, setrlimit, 2) \
    X(161, chroot, 1) X(162, sync, 0) X(163, acct, 1) X(164, settimeofday, 2) \
    X(165, mount, 5) X(166, umount2, 2) X(167, swapon, 2) X(168, swapoff, 1) \
    X(169, reboot, 4) X(170, sethostname, 2) X(171, setdomainname, 2) \
    X(172, iopl, 1) X(173, ioperm, 3) X(174, create_module, 0) \
    X(175, init_module, 3) X(176, delete_module, 2) \
    X(177, get_kernel_syms, 0) X(178, query_module, 0) X(179, quotactl, 4) \
    X(180, nfsservctl, 0) X(181, getpmsg, 0) X(182, putpmsg, 0) \
    X(183, afs_syscall, 0) X(184, tuxcall, 0) X(185, security, 0) \
    X(186, gettid, 0) X(187, readahead, 3) X(188, setxattr, 5) \
    X(189, lsetxattr, 5) X(190, fsetxattr, 5) X(191, getxattr, 4) \
    X(192, lgetxattr, 4) X(193, fgetxattr, 4) X(194, listxattr, 3) \
    X(195, llistxattr, 3) X(196, flistxattr, 3) X(197, removexattr, 2) \
    X(198, lremovexattr, 2) X(199, fremovexattr, 2) X(200, tkill, 2) \
    X(201, time, 1) X(202, futex, 6) X(203, sched_setaffinity, 3) \
    X(204, sched_getaffinity, 3) X(205, set_thread_area, 1) \
    X(206, io_setup, 2) X(207, io_destroy, 1) X(208, io_getevents, 5) \
    X(209, io_submit, 3) X(210, io_cancel, 3) X(211, get_thread_area, 1) \
    X(212, lookup_dcookie, 3) X(213, epoll_create, 1) \
    X(214, epoll_ctl_old, 0) X(215, epoll_wait_old, 0) \
    X(216, remap_file_pages, 5) X(217, getdents64, 3) \
    X(218, set_tid_address, 1) X(219, restart_syscall, 0) \
    X(220, semtimedop, 4) X(221, fadvise64, 4) X(222, timer_create, 3) \
    X(223, timer_settime, 4) X(224, timer_gettime, 2) \
    X(225, timer_getoverrun, 1) X(226, timer_delete, 1) \
    X(227, clock_settime, 2) X(228, clock_gettime, 2) X(229, clock_getres, 2) \
    X(230, clock_nanosleep, 4) X(231, exit_group, 1) X(232, epoll_wait, 4) \
    X(233, epoll_ctl, 4) X(234, tgkill, 3) X(235, utimes, 2) \
    X(236, vserver, 0) X(237, mbind, 6) X(238, set_mempolicy, 3) \
    X(239, get_mempolicy, 5) X(240, mq_open, 4) X(241, mq_unlink, 1) \
    X(242, mq_timedsend, 5) X(243, mq_timedreceive, 5) X(244, mq_notify, 2) \
    X(245, mq_getsetattr, 3) X(246, kexec_load, 4) X(247, waitid, 5) \
    X(248, add_key, 5) X(249, request_key, 4) X(250, keyctl, 5) \
    X(251, ioprio_set, 3) X(252, ioprio_get, 2) X(253, inotify_init, 0) \
    X(254, inotify_add_watch, 3) X(255, inotify_rm_watch, 2) \
    X(256, migrate_pages, 4) X(257, openat, 4) X(258, mkdirat, 3) \
    X(259, mknodat, 4) X(260, fchownat, 5) X(261, futimesat, 3) \
    X(262, newfstatat, 4) X(263, unlinkat, 3) X(264, renameat, 4) \
    X(265, linkat, 5) X(266, symlinkat, 3) X(267, readlinkat, 4) \
    X(268, fchmodat, 3) X(269, faccessat, 3) X(270, pselect6, 6) \
    X(271, ppoll, 5) X(272, unshare, 1) X(273, set_robust_list, 2) \
    X(274, get_robust_list, 3) X(275, splice, 6) X(276, tee, 4) \
    X(277, sync_file_range, 4) X(278, vmsplice, 4) X(279, move_pages, 6) \
    X(280, utimensat, 4) X(281, epoll_pwait, 6) X(282, signalfd, 3) \
    X(283, timerfd_create, 2) X(284, eventfd, 1) X(285, fallocate, 4) \
    X(286, timerfd_settime, 4) X(287, timerfd_gettime, 2) X(288, accept4, 4) \
    X(289, signalfd4, 4) X(290, eventfd2, 2) X(291, epoll_create1, 1) \
    X(292, dup3, 3) X(293, pipe2, 2) X(294, inotify_init1, 1) \
    X(295, preadv, 5) X(296, pwritev, 5) X(297, rt_tgsigqueueinfo, 4) \
    X(298, perf_event_open, 5) X(299, recvmmsg, 5) X(300, fanotify_init, 2) \
    X(301, fanotify_mark, 5) X(302, prlimit64, 4) \
    X(303, name_to_handle_at, 5) X(304, open_by_handle_at, 3) \
    X(305, clock_adjtime, 2) X(306, syncfs, 1) X(307, sendmmsg, 4) \
    X(308, setns, 2) X(309, getcpu, 3) X(310, process_vm_readv, 6) \
    X(311, process_vm_writev, 6) X(312, kcmp, 5) X(313, finit_module, 3) \
    X(314, sched_setattr, 3) X(315, sched_getattr, 4) X(316, renameat2, 5) \
    X(317, seccomp, 3) X(318, getrandom, 3) X(319, memfd_create, 2) \
    X(320, kexec_file_load, 5) X(321, bpf, 3) X(322, execveat, 5) \
    X(323, userfaultfd, 1) X(324, membarrier, 3) X(325, mlock2, 3) \
    X(326, copy_file_range, 6) X(327, preadv2, 6) X(328, pwritev2, 6) \
    X(329, pkey_mprotect, 4) X(330, pkey_alloc, 2) X(331, pkey_free, 1) \
    X(332, statx, 5) X(333, io_pgetevents, 6) X(334, rseq, 4) \
    X(424, pidfd_send_signal, 4) X(425, io_uring_setup, 2) \
    X(426, io_uring_enter, 6) X(427, io_uring_register, 4) \
    X(428, open_tree, 3) X(429, move_mount, 5) X(430, fsopen, 2) \
    X(431, fsconfig, 5) X(432, fsmount, 3) X(433, fspick, 3) \
    X(434, pidfd_open, 2) X(435, clone3, 2) X(436, close_range, 3) \
    X(437, openat2, 4) X(438, pidfd_getfd, 3) X(439, faccessat2, 4) \
    X(440, process_madvise, 5) X(441, epoll_pwait2, 6) \
    X(442, mount_setattr, 5) X(443, quotactl_fd, 4) \
    X(444, landlock_create_ruleset, 3) X(445, landlock_add_rule, 4) \
    X(446, landlock_restrict_self, 2) X(447, memfd_secret, 1) \
    X(448, process_mrelease, 2) X(449, futex_waitv, 5) \
    X(450, set_mempolicy_home_node, 4)

/* include/uapi/asm-generic/unistd.h's numbers (64-bit). */
#define LS_SYSCALLS_GENERIC(X) \
    X(0, io_setup, 2) X(1, io_destroy, 1) X(2, io_submit, 3) \
    X(3, io_cancel, 3) X(4, io_getevents, 5) X(5, setxattr, 5) \
    X(6, lsetxattr, 5) X(7, fsetxattr, 5) X(8, getxattr, 4) \
    X(9, lgetxattr, 4) X(10, fgetxattr, 4) X(11, listxattr, 3) \
    X(12, llistxattr, 3) X(13, flistxattr, 3) X(14, removexattr, 2) \
    X(15, lremovexattr, 2) X(16, fremovexattr, 2) X(17, getcwd, 2) \
    X(18, lookup_dcookie, 3) X(19, eventfd2, 2) X(20, epoll_create1, 1) \
    X(21, epoll_ctl, 4) X(22, epoll_pwait, 6) X(23, dup, 1) X(24, dup3, 3) \
    X(25, fcntl, 3) X(26, inotify_init1, 1) X(27, inotify_add_watch, 3) \
    X(28, inotify_rm_watch, 2) X(29, ioctl, 3) X(30, ioprio_set, 3) \
    X(31, ioprio_get, 2) X(32, flock, 2) X(33, mknodat, 4) X(34, mkdirat, 3) \
    X(35, unlinkat, 3) X(36, symlinkat, 3) X(37, linkat, 5) \
    X(38, renameat, 4) X(39, umount2, 2) X(40, mount, 5) X(41, pivot_root, 2) \
    X(42, nfsservctl, 0) X(43, statfs, 2) X(44, fstatfs, 2) \
    X(45, truncate, 2) X(46, ftruncate, 2) X(47, fallocate, 4) \
    X(48, faccessat, 3) X(49, chdir, 1) X(50, fchdir, 1) X(51, chroot, 1) \
    X(52, fchmod, 3) X(53, fchmodat, 3) X(54, fchownat, 5) X(55, fchown, 3) \
    X(56, openat, 4) X(57, close, 1) X(58, vhangup, 0) X(59, pipe2, 2) \
    X(60, quotactl, 4) X(61, getdents64, 3) X(62, lseek, 3) X(63, read, 3) \
    X(64, write, 3) X(65, readv, 3) X(66, writev, 3) X(67, pread64, 4) \
    X(68, pwrite64, 4) X(69, preadv, 5) X(70, pwritev, 5) X(71, sendfile, 4) \
    X(72, pselect6, 6) X(73, ppoll, 5) X(74, signalfd4, 4) X(75, vmsplice, 4) \
    X(76, splice, 6) X(77, tee, 4) X(78, readlinkat, 4) X(79, fstatat, 4) \
    X(80, fstat, 2) X(81, sync, 0) X(82, fsync, 1) X(83, fdatasync, 1) \
    X(84, sync_file_range, 4) X(85, timerfd_create, 2) \
    X(86, timerfd_settime, 4) X(87, timerfd_gettime, 2) X(88, utimensat, 4) \
    X(89, acct, 1) X(90, capget, 2) X(91, capset, 2) X(92, personality, 1) \
    X(93, exit, 1) X(94, exit_group, 1) X(95, waitid, 5) \
    X(96, set_tid_address, 1) X(97, unshare, 1) X(98, futex, 6) \
    X(99, set_robust_list, 2) X(100, get_robust_list, 3) X(101, nanosleep, 2) \
    X(102, getitimer, 2) X(103, setitimer, 3) X(104, kexec_load, 4) \
    X(105, init_module, 3) X(106, delete_module, 2) X(107, timer_create, 3) \
    X(108, timer_gettime, 2) X(109, timer_getoverrun, 1) \
    X(110, timer_settime, 4) X(111, timer_delete, 1) X(112, clock_settime, 2) \
    X(113, clock_gettime, 2) X(114, clock_getres, 2) \
    X(115, clock_nanosleep, 4) X(116, syslog, 3) X(117, ptrace, 4) \
    X(118, sched_setparam, 2) X(119, sched_setscheduler, 3) \
    X(120, sched_getscheduler, 1) X(121, sched_getparam, 2) \
    X(122, sched_setaffinity, 3) X(123, sched_getaffinity, 3) \
    X(124, sched_yield, 0) X(125, sched_get_priority_max, 1) \
    X(126, sched_get_priority_min, 1) X(127, sched_rr_get_interval, 2) \
    X(128, restart_syscall, 0) X(129, kill, 2) X(130, tkill, 2) \
    X(131, tgkill, 3) X(132, sigaltstack, 2) X(133, rt_sigsuspend, 2) \
    X(134, rt_sigaction, 4) X(135, rt_sigprocmask, 4) \
    X(136, rt_sigpending, 2) X(137, rt_sigtimedwait, 4) \
    X(138, rt_sigqueueinfo, 3) X(139, rt_sigreturn, 0) X(140, setpriority, 3) \
    X(141, getpriority, 2) X(142, reboot, 4) X(143, setregid, 2) \
    X(144, setgid, 1) X(145, setreuid, 2) X(146, setuid, 1) \
    X(147, setresuid, 3) X(148, getresuid, 3) X(149, setresgid, 3) \
    X(150, getresgid, 3) X(151, setfsuid, 1) X(152, setfsgid, 1) \
    X(153, times, 1) X(154, setpgid, 2) X(155, getpgid, 1) X(156, getsid, 1) \
    X(157, setsid, 0) X(158, getgroups, 2) X(159, setgroups, 2) \
    X(160, uname, 1) X(161, sethostname, 2) X(162, setdomainname, 2) \
    X(163, getrlimit, 2) X(164, setrlimit, 2) X(165, getrusage, 2) \
    X(166, umask, 1) X(167, prctl, 5) X(168, getcpu, 3) \
    X(169, gettimeofday, 2) X(170, settimeofday, 2) X(171, adjtimex, 1) \
    X(172, getpid, 0) X(173, getppid, 0) X(174, getuid, 0) X(175, geteuid, 0) \
    X(176, getgid, 0) X(177, getegid, 0) X(178, gettid, 0) X(179, sysinfo, 1) \
    X(180, mq_open, 4) X(181, mq_unlink, 1) X(182, mq_timedsend, 5) \
    X(183, mq_timedreceive, 5) X(184, mq_notify, 2) X(185, mq_getsetattr, 3) \
    X(186, msgget, 2) X(187, msgctl, 3) X(188, msgrcv, 5) X(189, msgsnd, 4) \
    X(190, semget, 3) X(191, semctl, 4) X(192, semtimedop, 4) \
    X(193, semop, 3) X(194, shmget, 3) X(195, shmctl, 3) X(196, shmat, 3) \
    X(197, shmdt, 1) X(198, socket, 3) X(199, socketpair, 4) X(200, bind, 3) \
    X(201, listen, 2) X(202, accept, 3) X(203, connect, 3) \
    X(204, getsockname, 3) X(205, getpeername, 3) X(206, sendto, 6) \
    X(207, recvfrom, 6) X(208, setsockopt, 5) X(209, getsockopt, 5) \
    X(210, shutdown, 2) X(211, sendmsg, 3) X(212, recvmsg, 3) \
    X(213, readahead, 3) X(214, brk, 1) X(215, munmap, 2) X(216, mremap, 5) \
    X(217, add_key, 5) X(218, request_key, 4) X(219, keyctl, 5) \
    X(220, clone, 5) X(221, execve, 3) X(222, mmap, 6) X(223, fadvise64, 4) \
    X(224, swapon, 2) X(225, swapoff, 1) X(226, mprotect, 3) X(227, msync, 3) \
    X(228, mlock, 2) X(229, munlock, 2) X(230, mlockall, 1) \
    X(231, munlockall, 0) X(232, mincore, 3) X(233, madvise, 3) \
    X(234, remap_file_pages, 5) X(235, mbind, 6) X(236, get_mempolicy, 5) \
    X(237, set_mempolicy, 3) X(238, migrate_pages, 4) X(239, move_pages, 6) \
    X(240, rt_tgsigqueueinfo, 4) X(241, perf_event_open, 5) \
    X(242, accept4, 4) X(243, recvmmsg, 5) X(260, wait4, 4) \
    X(261, prlimit64, 4) X(262, fanotify_init, 2) X(263, fanotify_mark, 5) \
    X(264, name_to_handle_at, 5) X(265, open_by_handle_at, 3) \
    X(266, clock_adjtime, 2) X(267, syncfs, 1) X(268, setns, 2) \
    X(269, sendmmsg, 4) X(270, process_vm_readv, 6) \
    X(271, process_vm_writev, 6) X(272, kcmp, 5) X(273, finit_module, 3) \
    X(274, sched_setattr, 3) X(275, sched_getattr, 4) X(276, renameat2, 5) \
    X(277, seccomp, 3) X(278, getrandom, 3) X(279, memfd_create, 2) \
    X(280, bpf, 3) X(281, execveat, 5) X(282, userfaultfd, 1) \
    X(283, membarrier, 3) X(284, mlock2, 3) X(285, copy_file_range, 6) \
    X(286, preadv2, 6) X(287, pwritev2, 6) X(288, pkey_mprotect, 4) \
    X(289, pkey_alloc, 2) X(290, pkey_free, 1) X(291, statx, 5) \
    X(292, io_pgetevents, 6) X(293, rseq, 4) X(294, kexec_file_load, 5) \
    X(403, clock_gettime64, 2) X(404, clock_settime64, 2) \
    X(405, clock_adjtime64, 2) X(406, clock_getres_time64, 2) \
    X(407, clock_nanosleep_time64, 4) X(408, timer_gettime64, 2) \
    X(409, timer_settime64, 4) X(410, timerfd_gettime64, 2) \
    X(411, timerfd_settime64, 4) X(412, utimensat_time64, 4) \
    X(413, pselect6_time64, 6) X(414, ppoll_time64, 5) \
    X(416, io_pgetevents_time64, 6) X(417, recvmmsg_time64, 5) \
    X(418, mq_timedsend_time64, 5) X(419, mq_timedreceive_time64, 5) \
    X(420, semtimedop_time64, 4) X(421, rt_sigtimedwait_time64, 4) \
    X(422, futex_time64, 6) X(423, sched_rr_get_interval_time64, 2) \
    X(424, pidfd_send_signal, 4) X(425, io_uring_setup, 2) \
    X(426, io_uring_enter, 6) X(427, io_uring_register, 4) \
    X(428, open_tree, 3) X(429, move_mount, 5) X(430, fsopen, 2) \
    X(431, fsconfig, 5) X(432, fsmount, 3) X(433, fspick, 3) \
    X(434, pidfd_open, 2) X(435, clone3, 2) X(436, close_range, 3) \
    X(437, openat2, 4) X(438, pidfd_getfd, 3) X(439, faccessat2, 4) \
    X(440, process_madvise, 5) X(441, epoll_pwait2, 6) \
    X(442, mount_setattr, 5) X(443, quotactl_fd, 4) \
    X(444, landlock_create_ruleset, 3) X(445, landlock_add_rule, 4) \
    X(446, landlock_restrict_self, 2) X(447, memfd_secret, 1) \
    X(448, process_mrelease, 2) X(449, futex_waitv, 5) \
    X(450, set_mempolicy_home_node, 4)

#endif /* LOCKSTEP_SYSCALL_ARGS_H */
