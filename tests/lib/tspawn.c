/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test helper: child processes with bounded waits (see tspawn.h).
 *
 * Waits poll waitpid(WNOHANG) every few milliseconds rather than using a
 * pidfd or SIGCHLD: the tests' own sockets and cmocka's signal handlers
 * stay untouched, and a few ms of latency does not matter here.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <virtio/testing.h>

#include "tspawn.h"
#include "vhu_frontend.h"

#define POLL_MS 5
#define MAX_LIVE 64

/* Children started and not yet reaped, for tspawn_kill_all(). */
static pid_t live[MAX_LIVE];
static bool atexit_done;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int live_slot(pid_t pid)
{
	for (int i = 0; i < MAX_LIVE; i++)
		if (live[i] == pid)
			return i;
	return -1;
}

static void kill_all_atexit(void)
{
	tspawn_kill_all();
}

static int encode(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return TSPAWN_SIGNALED + WTERMSIG(st);
}

/* Reaps @t's child if it has exited (or, with @block, once it does);
 * true once it is reaped. */
static bool reap(struct tspawn *t, bool block)
{
	int st, slot;
	pid_t r;

	do
		r = waitpid(t->pid, &st, block ? 0 : WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return false;
	slot = live_slot(t->pid);
	if (slot >= 0)
		live[slot] = 0;
	/* r < 0 (ECHILD) only if someone else reaped it: no result. */
	t->result = r == t->pid ? encode(st) : -ECHILD;
	t->reaped = r == t->pid;
	t->pid = -1;
	return true;
}

static void describe(const struct tspawn *t, char *buf, size_t len)
{
	if (!t->reaped)
		snprintf(buf, len, "vanished");
	else if (t->result >= TSPAWN_SIGNALED)
		snprintf(buf, len, "was killed by signal %d (%s)",
			 t->result - TSPAWN_SIGNALED,
			 strsignal(t->result - TSPAWN_SIGNALED));
	else
		snprintf(buf, len, "exited with code %d", t->result);
}

static void close_out(struct tspawn *t)
{
	if (t->out >= 0)
		close(t->out);
	t->out = -1;
}

/* Starts tracking a new child; -EAGAIN if too many are alive. */
static int prepare(struct tspawn *t, const char *name)
{
	const char *base = strrchr(name, '/');

	memset(t, 0, sizeof(*t));
	t->out = -1;
	t->result = -ECHILD;
	snprintf(t->name, sizeof(t->name), "%s", base ? base + 1 : name);
	if (live_slot(0) < 0)
		return -EAGAIN;
	if (!atexit_done && atexit(kill_all_atexit) == 0)
		atexit_done = true;
	/* Buffered output would otherwise be written twice. */
	fflush(NULL);
	return 0;
}

static void track(struct tspawn *t, pid_t pid)
{
	t->pid = pid;
	live[live_slot(0)] = pid;
}

/* Moves a helper fd of the child off @avoid. */
static int move_off(int fd, int avoid)
{
	return fd >= 0 && fd == avoid ? fcntl(fd, F_DUPFD_CLOEXEC, avoid + 1)
				       : fd;
}

/* Sets close-on-exec on fds @lo..@hi; only async-signal-safe calls. */
static int cloexec_from_to(unsigned lo, unsigned hi)
{
	struct rlimit rl;

	/* The system call: not every C library wraps it (musl does not). */
	if (syscall(SYS_close_range, lo, hi, CLOSE_RANGE_CLOEXEC) == 0)
		return 0;
	if (errno != ENOSYS && errno != EINVAL)
		return -1;
	/* Before Linux 5.11: one fd at a time, up to the fd limit. */
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -1;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur <= hi)
		hi = rl.rlim_cur ? (unsigned)rl.rlim_cur - 1 : 0;
	if (hi > 1u << 20)
		hi = 1u << 20;
	for (unsigned fd = lo; fd <= hi && fd >= lo; fd++)
		if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0 && errno != EBADF)
			return -1;
	return 0;
}

static void default_signals(void)
{
	sigset_t none;

	/* Ignored signals stay ignored across exec; the test's
	 * SIG_IGN for SIGPIPE must not hide a daemon's bug. */
	for (int s = 1; s < NSIG; s++) {
		struct sigaction sa;

		if (sigaction(s, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			signal(s, SIG_DFL);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* In the child: sets fds and signals up and execs; on failure reports
 * errno on @errw and exits. */
static void __attribute__((noreturn))
child_exec(const char *const argv[], const struct tspawn_opts *o, int logfd,
	   int outw, int errw)
{
	int as = o->fd_as >= 3 ? o->fd_as : -1;
	int e;

	logfd = move_off(logfd, as);
	outw = move_off(outw, as);
	errw = move_off(errw, as);
	if (errw < 0 || (logfd < 0 && o->log) || (outw < 0 && o->pipe_stdout))
		goto fail;
	if (as >= 0) {
		/* dup2() onto itself would leave close-on-exec set. */
		if (o->fd == as ? fcntl(as, F_SETFD, 0) < 0
				: dup2(o->fd, as) < 0)
			goto fail;
	}
	if (logfd >= 0 && (dup2(logfd, 1) < 0 || dup2(logfd, 2) < 0))
		goto fail;
	if (outw >= 0 && dup2(outw, 1) < 0)
		goto fail;
	/* Whatever else the test has open must not reach the daemon. */
	if (as >= 0) {
		if ((as > 3 && cloexec_from_to(3, (unsigned)as - 1) < 0) ||
		    cloexec_from_to((unsigned)as + 1, ~0u) < 0)
			goto fail;
	} else if (cloexec_from_to(3, ~0u) < 0) {
		goto fail;
	}
	default_signals();
	execv(argv[0], (char *const *)argv);
fail:
	e = errno;
	if (errw >= 0 && write(errw, &e, sizeof(e)) < 0)
		_exit(126);
	_exit(127);
}

/* An ELF executable for this process's machine: a program of the build
 * (qemu-user shows the emulated program as /proc/self/exe). */
static bool target_elf(const char *path)
{
	static int self = -1;
	unsigned char h[20];
	int fd;
	bool target = false;

	if (self < 0) {
		fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && read(fd, h, sizeof(h)) == (ssize_t)sizeof(h))
			self = h[5] == 2 ? h[18] << 8 | h[19] : h[19] << 8 | h[18];
		if (fd >= 0)
			close(fd);
		if (self < 0)
			return false;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (read(fd, h, sizeof(h)) == (ssize_t)sizeof(h) &&
	    !memcmp(h, "\x7f" "ELF", 4))
		target = (h[5] == 2 ? h[18] << 8 | h[19] :
				      h[19] << 8 | h[18]) == self;
	close(fd);
	return target;
}

/*
 * A cross build runs its programs through an emulator (qemu-user), named
 * by VDEV_TEST_EMULATOR as words separated by spaces (CMake sets it from
 * CMAKE_CROSSCOMPILING_EMULATOR): without binfmt_misc the kernel cannot
 * exec a foreign binary, so the daemons a test starts go through it too.
 * A host wrapper (setpriv, systemd-socket-activate) stays in front: the
 * emulator goes right before the first program of the build in @argv,
 * the one the wrapper would exec. Fills @out with @argv and the emulator's words;
 * returns @out, or NULL if it does not fit.
 */
static const char *const *with_emulator(const char *const argv[],
					const char *out[], size_t max,
					char *words, size_t words_len)
{
	const char *emu = getenv("VDEV_TEST_EMULATOR");
	size_t n = 0, i = 0;
	char *save = NULL, *w;
	size_t at = 0;

	if (!emu || !*emu)
		return argv;
	if (snprintf(words, words_len, "%s", emu) >= (int)words_len)
		return NULL;
	for (size_t j = 0; argv[j]; j++) {
		if (target_elf(argv[j])) {
			at = j;
			break;
		}
	}
	for (; i < at; i++) {
		if (n + 1 >= max)
			return NULL;
		out[n++] = argv[i];
	}
	for (w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (n + 1 >= max)
			return NULL;
		out[n++] = w;
	}
	do {
		if (n >= max)
			return NULL;
		out[n++] = argv[i];
	} while (argv[i++]);
	return out;
}

int tspawn_start(struct tspawn *t, const char *const argv[],
		 const struct tspawn_opts *o)
{
	static const struct tspawn_opts none = { .fd = -1 };
	int logfd = -1, outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int ret, e = 0;
	const char *full[64];
	const char *const *args;
	char words[1024];
	ssize_t n;
	pid_t pid;

	if (!argv || !argv[0])
		return -EINVAL;
	if (!o)
		o = &none;
	/* Built before fork(): the child only execs. */
	args = with_emulator(argv, full, 64, words, sizeof(words));
	if (!args)
		return -E2BIG;
	ret = prepare(t, argv[0]);
	if (ret < 0)
		return ret;
	if (o->log) {
		logfd = open(o->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			     0644);
		if (logfd < 0)
			return -errno;
	}
	if ((o->pipe_stdout && pipe2(outp, O_CLOEXEC) < 0) ||
	    pipe2(errp, O_CLOEXEC) < 0) {
		ret = -errno;
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		goto out;
	}
	if (pid == 0)
		child_exec(args, o, logfd, outp[1], errp[1]);
	track(t, pid);
	close(errp[1]);
	errp[1] = -1;
	/* EOF: exec succeeded (the pipe was close-on-exec). */
	do
		n = read(errp[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(e)) {
		reap(t, true);
		fprintf(stderr, "tspawn: cannot run %s: %s\n", argv[0],
			strerror(e));
		ret = -e;
		goto out;
	}
	t->out = outp[0];
	outp[0] = -1;
out:
	for (int i = 0; i < 2; i++) {
		if (outp[i] >= 0)
			close(outp[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	if (logfd >= 0)
		close(logfd);
	return ret;
}

int tspawn_fork(struct tspawn *t, int (*fn)(void *), void *arg,
		const char *name)
{
	int ret = prepare(t, name);
	pid_t pid;

	if (ret < 0)
		return ret;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(fn(arg));
	track(t, pid);
	return 0;
}

/* Checks whether the child ended while we waited for @what. */
static bool died(struct tspawn *t, const char *what)
{
	char how[96];

	if (t->pid <= 0 || !reap(t, false))
		return false;
	describe(t, how, sizeof(how));
	fprintf(stderr, "tspawn: %s %s before %s\n", t->name, how, what);
	return true;
}

int tspawn_wait_socket(struct tspawn *t, const char *path, int timeout_ms,
		       int *fdp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int64_t end = now_ms() + timeout_ms;
	char what[160];
	int err;

	if (t->pid <= 0)
		return -ECHILD;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path));
	snprintf(what, sizeof(what), "%s accepted a connection", path);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			if (fdp)
				*fdp = fd;
			else
				close(fd);
			return 0;
		}
		err = errno;
		close(fd);
		if (died(t, what))
			return -ECHILD;
		if (now_ms() >= end)
			break;
		sleep_ms(POLL_MS);
	}
	fprintf(stderr, "tspawn: %s did not accept on %s within %d ms (%s)\n",
		t->name, path, timeout_ms, strerror(err));
	return -ETIMEDOUT;
}

int tspawn_vhu_connect(struct tspawn *t, const char *path, int timeout_ms,
		       struct vhu_fe **fep)
{
	/* What vhu_fe_connect() returns: vhu_fe_close() frees it. */
	struct vhu_fe *fe = calloc(1, sizeof(*fe));
	int ret;

	if (!fe)
		return -ENOMEM;
	ret = tspawn_wait_socket(t, path, timeout_ms, &fe->fd);
	if (ret < 0) {
		free(fe);
		return ret;
	}
	*fep = fe;
	return 0;
}

int tspawn_drv_connect(struct tspawn *t, const char *path, int timeout_ms,
		       const struct vdev_drv_config *cfg, struct vdev_drv **drvp)
{
	int fd, ret = tspawn_wait_socket(t, path, timeout_ms, &fd);

	if (ret < 0)
		return ret;
	*drvp = vdev_drv_vhost_user_fd(fd, cfg);
	if (!*drvp) {
		ret = -errno;
		fprintf(stderr, "tspawn: %s on %s: no vhost-user driver (%s)\n",
			t->name, path, strerror(errno));
	}
	return ret;
}

int tspawn_accept(struct tspawn *t, int lfd, int timeout_ms, int *fdp)
{
	int64_t end = now_ms() + timeout_ms;

	if (t->pid <= 0)
		return -ECHILD;
	for (;;) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };

		if (poll(&p, 1, POLL_MS) == 1) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (fd >= 0) {
				*fdp = fd;
				return 0;
			}
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				return -errno;
		}
		if (died(t, "it connected"))
			return -ECHILD;
		if (now_ms() >= end)
			break;
	}
	fprintf(stderr, "tspawn: %s did not connect within %d ms\n", t->name,
		timeout_ms);
	return -ETIMEDOUT;
}

ssize_t tspawn_read_stdout(struct tspawn *t, char *buf, size_t len,
			   int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;
	size_t kept = 0;

	if (t->out < 0 || len == 0)
		return -EBADF;
	for (;;) {
		struct pollfd p = { .fd = t->out, .events = POLLIN };
		int64_t left = end - now_ms();
		char tmp[4096];
		ssize_t n;

		if (left <= 0) {
			fprintf(stderr, "tspawn: %s kept stdout open for %d "
				"ms\n", t->name, timeout_ms);
			buf[kept] = '\0';
			return -ETIMEDOUT;
		}
		if (poll(&p, 1, (int)left) < 1)
			continue;
		n = read(t->out, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		/* Drain past @len so the child never blocks on a full pipe. */
		if ((size_t)n > len - 1 - kept)
			n = (ssize_t)(len - 1 - kept);
		memcpy(buf + kept, tmp, (size_t)n);
		kept += (size_t)n;
	}
	close_out(t);
	buf[kept] = '\0';
	return (ssize_t)kept;
}

int tspawn_stop(struct tspawn *t, int sig, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;
	int ret = 0;

	if (t->pid == 0)
		return -ECHILD; /* never started */
	close_out(t);
	if (t->pid < 0)
		return t->reaped ? t->result : -ECHILD;
	if (live_slot(t->pid) < 0) {
		/* tspawn_kill_all() got it: the pid may be reused. */
		t->pid = -1;
		return -ECHILD;
	}
	if (sig && kill(t->pid, sig) < 0) {
		ret = -errno;
		end = 0;
	}
	while (!reap(t, false)) {
		if (now_ms() >= end) {
			if (!ret) {
				fprintf(stderr, "tspawn: %s (pid %d) still "
					"running %d ms after signal %d: "
					"SIGKILL\n", t->name, (int)t->pid,
					timeout_ms, sig);
				ret = -ETIMEDOUT;
			}
			kill(t->pid, SIGKILL);
			reap(t, true);
			break;
		}
		sleep_ms(POLL_MS);
	}
	return ret ? ret : t->result;
}

int tspawn_wait(struct tspawn *t, int timeout_ms)
{
	return tspawn_stop(t, 0, timeout_ms);
}

int tspawn_result(const struct tspawn *t)
{
	return t->reaped ? t->result : -ECHILD;
}

int tspawn_kill_all(void)
{
	int n = 0;

	for (int i = 0; i < MAX_LIVE; i++) {
		pid_t pid = live[i];
		int st;

		if (!pid)
			continue;
		fprintf(stderr, "tspawn: killing leftover child %d\n",
			(int)pid);
		kill(pid, SIGKILL);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		live[i] = 0;
		n++;
	}
	return n;
}
