/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The daemons' sandbox (include/virtio/daemon.h, docs/sandbox.md): a
 * seccomp allowlist, installed once setup is over, on every thread of the
 * process. The base list is what the library's own paths call while
 * serving; a daemon adds its host backend's calls by name
 * (struct vdev_daemon .syscalls). Anything else traps: the handler names
 * the call on stderr and the process dies of SIGSYS.
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <virtio/daemon.h>

#include "daemon_internal.h"

#if VDEV_HAVE_SECCOMP
#include <fcntl.h>
#include <linux/fs.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <termios.h>

#if defined(__SANITIZE_ADDRESS__)
#define VDD_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VDD_SANITIZED 1
#endif
#endif
#ifndef VDD_SANITIZED
#define VDD_SANITIZED 0
#endif

/* s390 passes clone's stack first and its flags second. */
#if defined(__s390__) || defined(__s390x__)
#define CLONE_FLAGS_ARG 1
#else
#define CLONE_FLAGS_ARG 0
#endif

/* Argument @arg with the bits of @mask equal to @v (libseccomp's own
 * macros leave fields to the compiler's zeroing, which clang warns of). */
static struct scmp_arg_cmp arg_masked(unsigned arg, uint64_t mask,
				      uint64_t v)
{
	return (struct scmp_arg_cmp){ .arg = arg, .op = SCMP_CMP_MASKED_EQ,
				      .datum_a = mask, .datum_b = v };
}

/*
 * What the library calls once a daemon serves. A name this architecture
 * lacks (open on aarch64, mmap2 on x86-64) is skipped. Grouped by the
 * path that needs it; a call that a group needs only with some arguments
 * is in the rules of add_base() instead.
 */
static const char *const base_calls[] = {
	/* memory: malloc, guest memory tables (SET_MEM_TABLE, DMA_MAP),
	 * the inflight memfd, the SIGBUS-proof remapping (peer_mem) */
	"brk", "mmap", "mmap2", "munmap", "mremap", "mprotect", "madvise",
	"memfd_create", "ftruncate", "ftruncate64",
	/* threads: one per socket, per connection, per queue; joins with a
	 * deadline; clone is in add_base() (threads only) */
	"futex", "futex_time64", "set_robust_list", "rseq", "exit",
	"exit_group", "gettid", "getpid", "sched_yield", "sched_getaffinity",
	/* signals: masks of library threads, the SIGBUS handler, the
	 * daemon's signalfd, the sandbox's own SIGSYS; tgkill is in
	 * add_base() (this process only) */
	"rt_sigprocmask", "rt_sigaction", "rt_sigreturn", "sigreturn",
	"sigaltstack", "signalfd4", "restart_syscall",
	/* time: deadlines, rate limits (rng), timers of the event loop */
	"clock_gettime", "clock_gettime64", "clock_getres",
	"clock_getres_time64", "gettimeofday", "nanosleep",
	"clock_nanosleep", "clock_nanosleep_time64", "timerfd_create",
	"timerfd_settime", "timerfd_settime64", "timerfd_gettime",
	"timerfd_gettime64",
	/* the event loop and the peer I/O helpers (src/peer) */
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait",
	"epoll_pwait2", "poll", "ppoll", "ppoll_time64", "eventfd2",
	"pipe2",
	/* fds: peers' fds, device state pipes, images */
	"read", "readv", "write", "writev", "pread64", "pwrite64", "preadv",
	"pwritev", "preadv2", "pwritev2", "lseek", "_llseek", "close",
	"dup", "dup3", "fcntl", "fcntl64", "fstat", "fstat64", "newfstatat",
	"fstatat64", "statx", "fstatfs", "fstatfs64",
	/* storage: flush, discard and write-zeroes fallbacks, io_uring */
	"fsync", "fdatasync", "fallocate", "io_uring_setup",
	"io_uring_enter", "io_uring_register",
	/* vhost-user and vfio-user sockets: accept, reconnect (--connect),
	 * messages with fds, libnbd's connection; socket() is in add_base()
	 * (AF_UNIX only) */
	"accept", "accept4", "connect", "bind", "listen", "shutdown",
	"sendmsg", "recvmsg", "sendto", "recvfrom", "getsockopt",
	"setsockopt", "getsockname", "getpeername",
	/* the socket file is removed on the way out */
	"unlink", "unlinkat",
	/* getrandom: the rng device's source and libc's own needs */
	"getrandom",
	/* credentials looked at by libraries (liburing, libnbd) */
	"getuid", "geteuid", "getgid", "getegid",
	NULL,
};

/*
 * What AddressSanitizer, LeakSanitizer and UBSan call in a sanitizer build
 * (CI runs the daemons under them): reports read /proc/self/maps, and
 * LeakSanitizer stops the world at exit with clone and ptrace. Never in a
 * release build.
 */
static const char *const sanitizer_calls[] = {
	"open", "openat", "readlink", "readlinkat", "access", "faccessat",
	"getdents", "getdents64", "ptrace", "wait4", "waitid", "prctl", "prlimit64",
	"getrlimit", "clone", "clone3", "kill", "tgkill", "uname",
	"sched_getparam", "sched_getscheduler", "mincore", "getppid",
	"process_vm_readv", "lstat", "stat",
	NULL,
};

/* What gcov calls at exit in a coverage build (VDEV_COVERAGE): it opens,
 * locks and rewrites the .gcda file of every object. */
#ifndef VDEV_COVERAGE
#define VDEV_COVERAGE 0
#endif
static const char *const coverage_calls[] = {
	"open", "openat", "mkdir", "mkdirat", "access", "faccessat",
	NULL,
};

/* The vhost-user capture (VDEV_VHOST_USER_CAPTURE, a debugging aid) names
 * each fd a message carries by its /proc/self/fd link. Only while it is on. */
static const char *const capture_calls[] = { "readlink", "readlinkat", NULL };

/* Names of the system calls, for the SIGSYS message: resolved while
 * installing (the handler must not allocate). */
#define NAMES 512
static const char *sys_names[NAMES];
static const char *trap_prog = "vdev-daemon";

static void put(const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = write(STDERR_FILENO, s, n);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	char num[16];
	int nr = si->si_syscall, k = (int)sizeof(num) - 1;
	unsigned v = nr < 0 ? 0 : (unsigned)nr;

	(void)sig;
	(void)uc;
	num[k] = '\0';
	do
		num[--k] = (char)('0' + v % 10);
	while ((v /= 10) && k > 0);
	put(trap_prog);
	put(": sandbox: system call ");
	put(nr >= 0 && nr < NAMES && sys_names[nr] ? sys_names[nr] : "?");
	put(" (");
	put(num + k);
	put(") is not allowed; the process is killed (--no-sandbox turns "
	    "the sandbox off; docs/sandbox.md says how a daemon adds a "
	    "call)\n");
	/* Dies of SIGSYS as soon as the handler returns: the signal stays
	 * blocked until then, so no more of the program runs. */
	sigaction(SIGSYS, &dfl, NULL);
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), SIGSYS);
}

static int allow(scmp_filter_ctx ctx, const char *prog, const char *name,
		 bool strict)
{
	int nr = seccomp_syscall_resolve_name(name);
	int r;

	if (nr == __NR_SCMP_ERROR) {
		if (!strict)
			return 0;
		fprintf(stderr, "%s: sandbox: no system call \"%s\"\n", prog,
			name);
		return -EINVAL;
	}
	if (nr < 0)
		return 0; /* not on this architecture */
	r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
	if (r < 0)
		fprintf(stderr, "%s: sandbox: %s: %s\n", prog, name,
			strerror(-r));
	return r;
}

/* The calls the library needs only with some arguments. */
static int add_base(scmp_filter_ctx ctx)
{
	/* ioctl: the block-device requests of src/storage, and the tty
	 * check of stdio. A daemon that lists "ioctl" gets all of them. */
	static const unsigned long ioctls[] = {
		BLKDISCARD, BLKZEROOUT, BLKGETSIZE64, BLKSSZGET, BLKPBSZGET,
		TCGETS,
	};
	int r = 0;

	for (size_t i = 0; !r && i < sizeof(ioctls) / sizeof(ioctls[0]); i++)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				     arg_masked(1, 0xffffffffu, ioctls[i]));
	/* socket: UNIX sockets only (vhost-user reconnect); a daemon with a
	 * network backend lists "socket". */
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				     arg_masked(0, 0xffffffffu, AF_UNIX));
	/* Signals only to threads of this process (pthread_kill). */
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1,
				     arg_masked(0, 0xffffffffu,
						(uint32_t)getpid()));
	if (VDD_SANITIZED || r)
		return r;
	/* Threads, never processes: clone must share the address space
	 * and thread group. clone3's flags are behind a pointer seccomp
	 * cannot read, so it fails with ENOSYS and libc falls back to
	 * clone (glibc 2.34+ does; musl uses clone). */
	r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
			     arg_masked(CLONE_FLAGS_ARG,
					CLONE_THREAD | CLONE_VM,
					CLONE_THREAD | CLONE_VM));
	if (!r && seccomp_syscall_resolve_name("clone3") >= 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
				     SCMP_SYS(clone3), 0);
	return r;
}

static bool listed(const char *const *list, const char *name)
{
	for (size_t i = 0; list && list[i]; i++)
		if (!strcmp(list[i], name))
			return true;
	return false;
}

/*
 * Files are opened during setup, not while serving: open and openat fail
 * with EACCES instead of killing, because glibc's malloc opens
 * /proc/sys/vm/overcommit_memory the first time a thread's arena shrinks
 * (a buffer freed on a serving thread) and copes when it cannot. A
 * daemon, sanitizer or coverage build that allows them keeps them.
 */
static int refuse_open(scmp_filter_ctx ctx, const char *const *extra)
{
	static const char *const calls[] = { "open", "openat", "openat2" };

	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		int nr = seccomp_syscall_resolve_name(calls[i]), r;

		if (nr < 0 || listed(extra, calls[i]) ||
		    (VDD_SANITIZED && listed(sanitizer_calls, calls[i])) ||
		    (VDEV_COVERAGE && listed(coverage_calls, calls[i])))
			continue;
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), nr, 0);
		if (r < 0)
			return r;
	}
	return 0;
}

static int add_list(scmp_filter_ctx ctx, const char *prog,
		    const char *const *list, bool strict)
{
	for (size_t i = 0; list && list[i]; i++) {
		int r = allow(ctx, prog, list[i], strict);

		if (r < 0)
			return r;
	}
	return 0;
}

bool vdev_daemon_sandbox_available(void)
{
	return true;
}

int vdev_daemon_sandbox(const char *prog, const char *const *extra)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys,
				.sa_flags = SA_SIGINFO };
	scmp_filter_ctx ctx;
	int r;

	if (!prog)
		prog = "vdev-daemon";
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return -ENOMEM;
	/* Every thread, those the devices started during setup too
	 * (the storage pool); no_new_privs is libseccomp's default. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!r)
		r = add_list(ctx, prog, base_calls, false);
	if (!r && VDD_SANITIZED)
		r = add_list(ctx, prog, sanitizer_calls, false);
	if (!r && VDEV_COVERAGE)
		r = add_list(ctx, prog, coverage_calls, false);
	if (!r && getenv("VDEV_VHOST_USER_CAPTURE"))
		r = add_list(ctx, prog, capture_calls, false);
	if (!r)
		r = add_base(ctx);
	if (!r)
		r = add_list(ctx, prog, extra, true);
	if (!r)
		r = refuse_open(ctx, extra);
	if (r) {
		seccomp_release(ctx);
		return r;
	}
	for (int nr = 0; nr < NAMES; nr++)
		if (!sys_names[nr])
			sys_names[nr] = seccomp_syscall_resolve_num_arch(
				SCMP_ARCH_NATIVE, nr);
	trap_prog = prog;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		r = -errno;
	} else {
		r = seccomp_load(ctx);
		/* TSYNC names a thread it could not move (> 0). */
		if (r > 0)
			r = -EAGAIN;
	}
	seccomp_release(ctx);
	if (r)
		fprintf(stderr, "%s: sandbox: cannot load the filter: %s\n",
			prog, strerror(-r));
	return r;
}

#else /* !VDEV_HAVE_SECCOMP */

bool vdev_daemon_sandbox_available(void)
{
	return false;
}

int vdev_daemon_sandbox(const char *prog, const char *const *extra)
{
	(void)prog;
	(void)extra;
	return -ENOSYS;
}

#endif
