/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * No read or write on a peer's fd may block (src/peer/peer_io.h). A peer
 * chooses the type and flags of every fd it passes: here it passes a
 * blocking eventfd saturated at 0xfffffffffffffffe, a full blocking pipe,
 * a full socket and a Unix socket with SO_RCVLOWAT raised (poll says
 * readable, an 8-byte read() blocks). Each call that uses such an fd runs
 * on a helper thread that must return within two seconds; if it does not,
 * the test unblocks it (so the program can go on) and fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/transport.h>

#include "peer/peer_io.h"
#include "vcore_tdev.h"
#include "vq_harness.h"

#define FULL_EVENTFD 0xfffffffffffffffeull

/* Runs @fn(@arg) on a thread; true when it returned within @ms. If not,
 * @unblock(@arg) releases it and false is returned. */
static bool finishes(void *(*fn)(void *), void *arg, int ms,
		     void (*unblock)(void *))
{
	struct timespec ts;
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, fn, arg), 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	if (pthread_timedjoin_np(t, NULL, &ts) == 0)
		return true;
	unblock(arg);
	pthread_join(t, NULL);
	return false;
}

static int saturated_eventfd(void)
{
	uint64_t v = FULL_EVENTFD;
	int fd = eventfd(0, EFD_CLOEXEC); /* blocking, as a peer may pass */

	assert_true(fd >= 0);
	assert_int_equal(write(fd, &v, sizeof(v)), sizeof(v));
	return fd;
}

/* A pipe whose write end is full and blocking; fds in p. */
static void full_pipe(int p[2])
{
	char buf[4096] = { 0 };

	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	while (write(p[1], buf, sizeof(buf)) > 0)
		;
	assert_int_equal(fcntl(p[1], F_SETFL, 0), 0);
	assert_int_equal(fcntl(p[0], F_SETFL, 0), 0);
}

/* ---- the helpers themselves --------------------------------------------- */

struct io {
	int fd, other, kind;
	ssize_t ret;
};

static void *do_read8(void *arg)
{
	struct io *io = arg;
	uint64_t v;

	io->ret = vpeer_read(io->fd, io->kind, &v, sizeof(v));
	return NULL;
}

static void *do_signal(void *arg)
{
	struct io *io = arg;

	io->ret = vpeer_signal(io->fd, io->kind);
	return NULL;
}

static void unblock_socket(void *arg)
{
	struct io *io = arg;

	assert_int_equal(send(io->other, "1234567", 7, 0), 7);
}

static void unblock_eventfd(void *arg)
{
	struct io *io = arg;
	uint64_t v;

	assert_int_equal(read(io->fd, &v, sizeof(v)), sizeof(v));
}

static void kick_eventfd(void *arg)
{
	struct io *io = arg;

	assert_int_equal(write(io->fd, &(uint64_t){ 1 }, 8), 8);
}

static void unblock_pipe(void *arg)
{
	struct io *io = arg;
	char buf[65536];

	assert_true(read(io->other, buf, sizeof(buf)) > 0);
}

/* POLLIN, one byte there, eight wanted with SO_RCVLOWAT 8. */
static void rcvlowat_socket(int sp[2])
{
	int low = 8;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sp),
			 0);
	assert_int_equal(setsockopt(sp[0], SOL_SOCKET, SO_RCVLOWAT, &low,
				    sizeof(low)),
			 0);
	assert_int_equal(send(sp[1], "k", 1, 0), 1);
}

static void test_read_rcvlowat_socket(void **state)
{
	struct io io;
	int sp[2];

	rcvlowat_socket(sp);
	io = (struct io){ .fd = sp[0], .other = sp[1] };
	io.kind = vpeer_kind(sp[0]);
	assert_int_equal(io.kind, VPEER_SOCKET);
	assert_true(finishes(do_read8, &io, 2000, unblock_socket));
	/* What is there is taken; nothing more now. */
	assert_int_equal(io.ret, 1);
	assert_int_equal(vpeer_read(sp[0], io.kind, &(uint64_t){ 0 }, 8),
			 -EAGAIN);
	close(sp[0]);
	close(sp[1]);
}

static void test_read_empty_blocking(void **state)
{
	int e = eventfd(0, EFD_CLOEXEC), p[2];
	struct io io = { .fd = e, .kind = VPEER_OTHER };

	assert_true(finishes(do_read8, &io, 2000, kick_eventfd));
	assert_int_equal(io.ret, -EAGAIN);
	close(e);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	io = (struct io){ .fd = p[0], .kind = vpeer_kind(p[0]) };
	assert_int_equal(io.kind, VPEER_FIFO);
	assert_int_equal(vpeer_read(p[0], io.kind, &(uint64_t){ 0 }, 8),
			 -EAGAIN);
	close(p[1]);
	/* The writer is gone: end of stream. */
	assert_int_equal(vpeer_read(p[0], io.kind, &(uint64_t){ 0 }, 8), 0);
	close(p[0]);
}

static void test_signal_saturated_eventfd(void **state)
{
	struct io io = { .fd = saturated_eventfd() };
	uint64_t v;

	io.kind = vpeer_prepare_write(io.fd);
	assert_int_equal(io.kind, VPEER_OTHER);
	assert_true(finishes(do_signal, &io, 2000, unblock_eventfd));
	/* Full means pending: success, and the counter is untouched. */
	assert_int_equal(io.ret, 0);
	assert_int_equal(read(io.fd, &v, sizeof(v)), sizeof(v));
	assert_true(v == FULL_EVENTFD);
	assert_int_equal(vpeer_signal(io.fd, io.kind), 0);
	assert_int_equal(read(io.fd, &v, sizeof(v)), sizeof(v));
	assert_true(v == 1);
	close(io.fd);
}

static void test_signal_full_pipe_and_socket(void **state)
{
	struct io io;
	int p[2], sp[2];
	char buf[4096] = { 0 };

	full_pipe(p);
	io = (struct io){ .fd = p[1], .other = p[0] };
	io.kind = vpeer_prepare_write(p[1]);
	assert_int_equal(io.kind, VPEER_FIFO);
	assert_true(finishes(do_signal, &io, 2000, unblock_pipe));
	assert_int_equal(io.ret, 0);
	/* The reader gone: an error, and no SIGPIPE (default action). */
	signal(SIGPIPE, SIG_DFL);
	close(p[0]);
	assert_int_equal(vpeer_signal(p[1], io.kind), -EPIPE);
	close(p[1]);

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sp),
			 0);
	while (send(sp[1], buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
	io = (struct io){ .fd = sp[1], .other = sp[0] };
	io.kind = vpeer_prepare_write(sp[1]);
	assert_int_equal(io.kind, VPEER_SOCKET);
	assert_true(finishes(do_signal, &io, 2000, unblock_pipe));
	assert_int_equal(io.ret, 0);
	close(sp[0]);
	assert_int_equal(vpeer_signal(sp[1], io.kind), -EPIPE);
	close(sp[1]);
}

static void test_wait_deadline(void **state)
{
	uint64_t t0 = vpeer_now_ns();
	int p[2], e = eventfd(0, EFD_CLOEXEC);

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(vpeer_wait(p[0], POLLIN, vpeer_deadline(100), -1),
			 -ETIMEDOUT);
	assert_true(vpeer_now_ns() - t0 >= 100000000ull);
	/* A deadline already past does not wait at all. */
	assert_int_equal(vpeer_wait(p[0], POLLIN, t0, -1), -ETIMEDOUT);
	assert_int_equal(write(e, &(uint64_t){ 1 }, 8), 8);
	assert_int_equal(vpeer_wait(p[0], POLLIN, vpeer_deadline(-1), e),
			 -ECANCELED);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_true(vpeer_wait(p[0], POLLIN, vpeer_deadline(100), -1) &
		    POLLIN);
	close(p[0]);
	close(p[1]);
	close(e);
}

/* ---- the queue's call fd (defect: notify blocked under the lock) ------- */

struct notify_arg {
	struct h *h;
	int fd, other;
	int ret;
};

static void *do_notify(void *arg)
{
	struct notify_arg *a = arg;

	a->ret = vdev_queue_notify(a->h->q);
	return NULL;
}

static void unblock_notify_eventfd(void *arg)
{
	struct notify_arg *a = arg;
	uint64_t v;

	assert_int_equal(read(a->fd, &v, sizeof(v)), sizeof(v));
}

static void unblock_notify_pipe(void *arg)
{
	struct notify_arg *a = arg;
	char buf[65536];

	assert_true(read(a->other, buf, sizeof(buf)) > 0);
}

/* One chain popped and pushed; the next notify wants to signal. */
static void one_completion(struct h *h)
{
	int tok;

	h_add(h, 0, 1, 8, &tok, 0);
	h_pop(h);
	assert_int_equal(vdev_queue_push(h->q, &h->req, 8), 0);
}

static void test_notify_saturated_eventfd(void **state)
{
	struct h h;
	struct notify_arg a = { .h = &h };
	uint64_t v;

	h_setup(&h, 64, SPLIT);
	vdev_queue_set_call_fn(h.q, NULL, NULL);
	vdev_drv_ring_want_interrupts(h.r, true);
	a.fd = saturated_eventfd();
	vdev_queue_set_call_fd(h.q, a.fd);
	one_completion(&h);
	assert_true(finishes(do_notify, &a, 2000, unblock_notify_eventfd));
	assert_int_equal(a.ret, 1);
	/* The interrupt the driver had not taken yet is still pending. */
	assert_int_equal(read(a.fd, &v, sizeof(v)), sizeof(v));
	assert_true(v == FULL_EVENTFD);
	one_completion(&h);
	assert_int_equal(vdev_queue_notify(h.q), 1);
	assert_int_equal(read(a.fd, &v, sizeof(v)), sizeof(v));
	assert_true(v == 1);
	close(a.fd);
	h_teardown(&h);
}

static void test_notify_full_pipe(void **state)
{
	struct h h;
	struct notify_arg a = { .h = &h };
	int p[2];

	h_setup(&h, 64, SPLIT);
	vdev_queue_set_call_fn(h.q, NULL, NULL);
	vdev_drv_ring_want_interrupts(h.r, true);
	full_pipe(p);
	a.fd = p[1];
	a.other = p[0];
	vdev_queue_set_call_fd(h.q, p[1]);
	one_completion(&h);
	assert_true(finishes(do_notify, &a, 2000, unblock_notify_pipe));
	assert_int_equal(a.ret, 1);
	close(p[0]);
	close(p[1]);
	h_teardown(&h);
}

/* ---- the core's kick fd (defect: read after poll under wlock) ---------- */

struct kick_arg {
	struct tdev t;
	int sp[2];
};

static void *do_dispatch(void *arg)
{
	struct kick_arg *k = arg;

	vdev_vq_dispatch(k->t.dev, 0);
	return NULL;
}

static void unblock_kick(void *arg)
{
	struct kick_arg *k = arg;

	assert_int_equal(send(k->sp[1], "1234567", 7, 0), 7);
}

static void test_kick_socket_rcvlowat(void **state)
{
	static struct kick_arg k;
	struct vdev_drv_config dc = { .use_eventfds = true, .queue_size = 64 };
	struct vdev_drv *drv;

	memset(&k, 0, sizeof(k));
	assert_non_null(tdev_new(&k.t, 1, 256, 1));
	drv = vdev_drv_new(k.t.dev, &dc);
	assert_non_null(drv);
	assert_int_equal(vdev_drv_init(drv), 0);
	rcvlowat_socket(k.sp);
	assert_int_equal(vdev_vq_set_kick_fd(k.t.dev, 0, k.sp[0]), 0);
	assert_true(finishes(do_dispatch, &k, 2000, unblock_kick));
	/* The control path still gets the queue. */
	assert_int_equal(vdev_vq_stop(k.t.dev, 0, NULL), 0);
	assert_int_equal(vdev_vq_set_kick_fd(k.t.dev, 0, -1), 0);
	assert_int_equal(vdev_vq_set_kick_fd(k.t.dev, 0, 1000000), -EBADF);
	close(k.sp[0]);
	close(k.sp[1]);
	vdev_drv_free(drv);
	vdev_free(k.t.dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_rcvlowat_socket),
		cmocka_unit_test(test_read_empty_blocking),
		cmocka_unit_test(test_signal_saturated_eventfd),
		cmocka_unit_test(test_signal_full_pipe_and_socket),
		cmocka_unit_test(test_wait_deadline),
		cmocka_unit_test(test_notify_saturated_eventfd),
		cmocka_unit_test(test_notify_full_pipe),
		cmocka_unit_test(test_kick_socket_rcvlowat),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
