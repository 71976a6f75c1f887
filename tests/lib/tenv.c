/* SPDX-License-Identifier: BSD-3-Clause */
/* Test helper: platform probes (see tenv.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tenv.h"

/* Sends @n fds of @fds with one byte over @s. */
static int send_fds(int s, const int *fds, unsigned n)
{
	union {
		char buf[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} u;
	char b = 0;
	struct iovec io = { &b, 1 };
	struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1,
			    .msg_control = u.buf,
			    .msg_controllen = CMSG_SPACE(n * sizeof(int)) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);

	if (n > 8)
		return -EINVAL;
	memset(u.buf, 0, sizeof(u.buf));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(n * sizeof(int));
	memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	return sendmsg(s, &m, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

/* Receives one byte and up to @max fds (@max <= 8) into @fds; returns how
 * many came, or -errno. *@flags gets msg_flags. */
static int recv_fds(int s, int *fds, unsigned max, int *flags)
{
	union {
		char buf[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} u;
	char b;
	struct iovec io = { &b, 1 };
	struct msghdr m = { .msg_iov = &io, .msg_iovlen = 1,
			    .msg_control = u.buf,
			    .msg_controllen = CMSG_SPACE(max * sizeof(int)) };
	struct cmsghdr *c;
	int n = 0;

	if (recvmsg(s, &m, MSG_CMSG_CLOEXEC) != 1)
		return -errno;
	*flags = m.msg_flags;
	for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if ((unsigned)n < max)
				fds[n++] = fd;
			else
				close(fd);
		}
	}
	return n;
}

#define MAX_FD 1024

static void open_fds(bool open[MAX_FD])
{
	for (int fd = 0; fd < MAX_FD; fd++)
		open[fd] = fcntl(fd, F_GETFD) >= 0;
}

const char *tenv_scm_truncation_broken(void)
{
	static int state; /* 0 unknown, 1 fine, 2 broken */
	bool before[MAX_FD], after[MAX_FD], leaked = false;
	int sv[2], fds[8], got[2], flags = 0, n;

	if (state)
		return state == 1 ? NULL :
			"recvmsg() leaves the fds that did not fit its control "
			"buffer open and sets no MSG_CTRUNC (qemu-user); a "
			"test of more fds than a message allows cannot pass "
			"here";
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return "socketpair() failed";
	for (int i = 0; i < 8; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	n = send_fds(sv[0], fds, 8);
	for (int i = 0; i < 8; i++)
		close(fds[i]);
	open_fds(before);
	if (n == 0)
		n = recv_fds(sv[1], got, 2, &flags);
	for (int i = 0; i < n; i++)
		close(got[i]);
	/* Whatever is open now and was not before leaked: close it, so the
	 * probe leaves the fd table as it found it. */
	open_fds(after);
	for (int fd = 0; fd < MAX_FD; fd++) {
		if (after[fd] && !before[fd]) {
			leaked = true;
			close(fd);
		}
	}
	state = n == 2 && (flags & MSG_CTRUNC) && !leaked ? 1 : 2;
	close(sv[0]);
	close(sv[1]);
	return tenv_scm_truncation_broken();
}

int tenv_eventfd(int flags)
{
	int sv[2], efd, got = -1, rflags, n;

	efd = eventfd(0, flags);
	if (efd < 0)
		return -errno;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		n = -errno;
		close(efd);
		return n;
	}
	n = send_fds(sv[0], &efd, 1);
	if (n == 0)
		n = recv_fds(sv[1], &got, 1, &rflags);
	close(sv[0]);
	close(sv[1]);
	close(efd);
	if (n < 0)
		return n;
	if (n != 1)
		return -EPROTO;
	/* SCM_RIGHTS keeps the file's status flags; only close-on-exec is
	 * per fd, and MSG_CMSG_CLOEXEC set it. */
	if (!(flags & EFD_CLOEXEC) && fcntl(got, F_SETFD, 0) < 0) {
		n = -errno;
		close(got);
		return n;
	}
	return got;
}

const char *tenv_eventfd_counter_broken(void)
{
	static int state; /* 0 unknown, 1 fine, 2 broken */
	uint64_t one = 1, v = 0;
	int efd, sv[2], copy = -1;
	int flags, n;

	if (state)
		return state == 1 ? NULL :
			"an eventfd's counter is byte-swapped only on the fd "
			"qemu-user saw created, not on a copy received over a "
			"socket (qemu-s390x 7.2): a count written on the copy "
			"reads back as 1 << 56";
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				  sv) < 0) {
		if (efd >= 0)
			close(efd);
		return "cannot probe eventfds";
	}
	n = send_fds(sv[0], &efd, 1);
	if (n == 0)
		n = recv_fds(sv[1], &copy, 1, &flags);
	close(sv[0]);
	close(sv[1]);
	if (n == 1 && write(copy, &one, sizeof(one)) == sizeof(one) &&
	    read(efd, &v, sizeof(v)) == sizeof(v))
		state = v == 1 ? 1 : 2;
	else
		state = 2;
	if (copy >= 0)
		close(copy);
	close(efd);
	return tenv_eventfd_counter_broken();
}

struct mask_probe {
	long tid;
	int ready, done;
};

/* A thread that blocks exactly SIGUSR2 until told to end. */
static void *mask_thread(void *arg)
{
	struct mask_probe *p = arg;
	sigset_t usr2;

	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	pthread_sigmask(SIG_SETMASK, &usr2, NULL);
	p->tid = (long)syscall(SYS_gettid);
	__atomic_store_n(&p->ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&p->done, __ATOMIC_ACQUIRE))
		usleep(1000);
	return NULL;
}

const char *tenv_proc_sigmask_broken(void)
{
	static int state; /* 0 unknown, 1 fine, 2 broken */
	struct mask_probe p = { 0 };
	unsigned long long m = 0;
	char path[64], line[128];
	pthread_t t;
	FILE *f;

	if (state)
		return state == 1 ? NULL :
			"/proc/self/task/*/status does not show the signal "
			"masks of this process's threads: under qemu-user it "
			"shows the host masks of qemu's threads (a thread in "
			"epoll_wait there blocks SIGBUS, whatever it asked)";
	state = 2;
	/* qemu-user passes the probe below for a sleeping thread but not
	 * for one waiting in epoll: under an emulator, do not trust it. */
	if (getenv("VDEV_TEST_EMULATOR"))
		return tenv_proc_sigmask_broken();
	if (pthread_create(&t, NULL, mask_thread, &p))
		return tenv_proc_sigmask_broken();
	while (!__atomic_load_n(&p.ready, __ATOMIC_ACQUIRE))
		usleep(1000);
	snprintf(path, sizeof(path), "/proc/self/task/%ld/status", p.tid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "SigBlk: %llx", &m) == 1)
			break;
	if (f)
		fclose(f);
	__atomic_store_n(&p.done, 1, __ATOMIC_RELEASE);
	pthread_join(t, NULL);
	/*
	 * pthread_join returns when the kernel clears the thread's tid, in
	 * the middle of its exit: until the exit ends the thread is still
	 * listed under /proc/self/task, with the all-blocked mask glibc
	 * gives an exiting thread. A caller that looks at every thread's
	 * mask next would take it for one of its own: wait until it is gone.
	 */
	while (access(path, F_OK) == 0)
		usleep(1000);
	/* SIGUSR2 blocked, as the thread asked; SIGSEGV not. */
	if ((m & (1ull << (SIGUSR2 - 1))) && !(m & (1ull << (SIGSEGV - 1))))
		state = 1;
	return tenv_proc_sigmask_broken();
}

/* The page the probe touches; its SIGBUS must point into it. */
static volatile uintptr_t bus_lo, bus_hi;

static void probe_bus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;

	_exit(a >= bus_lo && a < bus_hi ? 0 : 5);
}

/* In the child: exits 0 if the fault's address was right. */
static void __attribute__((noreturn)) sigbus_child(void)
{
	struct sigaction sa = { .sa_sigaction = probe_bus,
				.sa_flags = SA_SIGINFO };
	int fd = memfd_create("tenv", MFD_CLOEXEC);
	volatile uint8_t *p;

	if (fd < 0 || ftruncate(fd, 8192) < 0)
		_exit(3);
	p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED || ftruncate(fd, 0) < 0 ||
	    sigaction(SIGBUS, &sa, NULL) < 0)
		_exit(3);
	bus_lo = (uintptr_t)p + 4096;
	bus_hi = bus_lo + 4096;
	p[4096 + 5] = 1;
	_exit(4);
}

const char *tenv_sigbus_addr_broken(void)
{
	static int state; /* 0 unknown, 1 fine, 2 broken */
	static char why[200];
	int st = 0;
	pid_t pid;

	if (state)
		return state == 1 ? NULL : why;
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		sigbus_child();
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0) {
		state = 1;
		return NULL;
	}
	state = 2;
	snprintf(why, sizeof(why),
		 "a SIGBUS from a truncated shared mapping does not say which "
		 "address faulted (probe: %s %d; qemu-s390x 7.2 swaps the "
		 "halves of si_addr)",
		 pid < 0 ? "fork failed" : WIFEXITED(st) ? "exit" : "signal",
		 pid < 0 ? 0 : WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	return why;
}
