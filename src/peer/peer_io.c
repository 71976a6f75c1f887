/* SPDX-License-Identifier: BSD-3-Clause */
/* Non-blocking I/O on fds a peer chose; see peer_io.h for the rules. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "compat/pthread.h"
#include "compat/uio.h"
#include "peer/peer_io.h"

int vpeer_kind(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISSOCK(st.st_mode))
		return VPEER_SOCKET;
	if (S_ISFIFO(st.st_mode))
		return VPEER_FIFO;
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		return VPEER_FILE;
	return VPEER_OTHER;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	if (!(fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

int vpeer_prepare_write(int fd)
{
	int kind = vpeer_kind(fd), r;

	if (kind == VPEER_OTHER) {
		r = set_nonblock(fd);
		if (r < 0)
			return r;
	}
	return kind;
}

/* RWF_NOWAIT refused: the kernel or the fd type has no per-call flag. */
static bool nowait_refused(int e)
{
	return e == EOPNOTSUPP || e == EINVAL || e == ENOSYS;
}

ssize_t vpeer_read(int fd, int kind, void *buf, size_t len)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	ssize_t n;

	for (;;) {
		switch (kind) {
		case VPEER_SOCKET:
			n = recv(fd, buf, len, MSG_DONTWAIT);
			break;
		case VPEER_FILE:
			n = read(fd, buf, len);
			break;
		default:
			n = preadv2(fd, &iov, 1, -1, RWF_NOWAIT);
			if (n < 0 && nowait_refused(errno)) {
				if (set_nonblock(fd) < 0)
					return -EBADF;
				n = read(fd, buf, len);
			}
			break;
		}
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

/*
 * A write to a pipe whose reader is gone raises SIGPIPE on the calling
 * thread; hold it back and consume it, so that a library user need not
 * ignore SIGPIPE process-wide.
 */
static ssize_t fifo_write(int fd, const void *buf, size_t len)
{
	static const struct timespec zero;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	sigset_t pipe_sig, old;
	ssize_t n;
	int e;

	sigemptyset(&pipe_sig);
	sigaddset(&pipe_sig, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_sig, &old);
	n = pwritev2(fd, &iov, 1, -1, RWF_NOWAIT);
	if (n < 0 && nowait_refused(errno)) {
		if (set_nonblock(fd) < 0) {
			n = -1;
			errno = EBADF;
		} else {
			n = write(fd, buf, len);
		}
	}
	e = errno;
	if (n < 0 && e == EPIPE && !sigismember(&old, SIGPIPE))
		while (sigtimedwait(&pipe_sig, NULL, &zero) < 0 &&
		       errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = e;
	return n;
}

ssize_t vpeer_write(int fd, int kind, const void *buf, size_t len)
{
	ssize_t n;

	for (;;) {
		switch (kind) {
		case VPEER_SOCKET:
			n = send(fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
			break;
		case VPEER_FIFO:
			n = fifo_write(fd, buf, len);
			break;
		default:
			/* Files; eventfds made O_NONBLOCK by
			 * vpeer_prepare_write. */
			n = write(fd, buf, len);
			break;
		}
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

int vpeer_signal(int fd, int kind)
{
	static const uint64_t one = 1;
	ssize_t n = vpeer_write(fd, kind, &one, sizeof(one));

	/* Full: the peer has not consumed the last one yet. A short write
	 * to a pipe or socket leaves bytes the reader counts all the same. */
	if (n >= 0 || n == -EAGAIN)
		return 0;
	return (int)n;
}

bool vpeer_drain(int fd, int kind)
{
	uint64_t v;

	return vpeer_read(fd, kind, &v, sizeof(v)) > 0;
}

uint64_t vpeer_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t vpeer_deadline(int ms)
{
	if (ms < 0)
		return UINT64_MAX;
	return vpeer_now_ns() + (uint64_t)ms * 1000000ull;
}

int vpeer_wait(int fd, short events, uint64_t deadline, int cancel_fd)
{
	struct pollfd p[2] = {
		{ .fd = fd, .events = events },
		{ .fd = cancel_fd, .events = POLLIN },
	};

	for (;;) {
		uint64_t now = vpeer_now_ns();
		int ms = -1, r;

		if (deadline != UINT64_MAX) {
			if (now >= deadline)
				return -ETIMEDOUT;
			/* Round up: never wake just before the deadline. */
			uint64_t left = (deadline - now + 999999) / 1000000;

			ms = left > INT_MAX ? INT_MAX : (int)left;
		}
		p[0].revents = p[1].revents = 0;
		r = poll(p, cancel_fd >= 0 ? 2 : 1, ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (cancel_fd >= 0 && p[1].revents)
			return -ECANCELED;
		if (r > 0)
			return p[0].revents;
	}
}

int vpeer_join(pthread_t thread, uint64_t deadline)
{
	struct timespec ts;
	int r;

	if (deadline == UINT64_MAX)
		return -pthread_join(thread, NULL);
	ts.tv_sec = (time_t)(deadline / 1000000000ull);
	ts.tv_nsec = (long)(deadline % 1000000000ull);
	r = pthread_clockjoin_np(thread, NULL, CLOCK_MONOTONIC, &ts);
	return r == ETIMEDOUT ? -ETIMEDOUT : -r;
}
