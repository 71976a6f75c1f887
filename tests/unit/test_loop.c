/* SPDX-License-Identifier: BSD-3-Clause */
/* loop.h: the epoll loop, deletion during dispatch, stop from a signal. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/loop.h>

struct ctx {
	struct vdev_loop *loop;
	int fds[4];
	int calls[4];
	int del_fd; /* fd the callback deletes, -1 none */
};

static void poke(int fd)
{
	uint64_t one = 1;

	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
}

static void drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* not readable */
	}
}

static int idx_of(struct ctx *c, int fd)
{
	for (int i = 0; i < 4; i++)
		if (c->fds[i] == fd)
			return i;
	fail();
	return -1;
}

static void cb(void *arg, int fd, uint32_t events)
{
	struct ctx *c = arg;

	assert_true(events & EPOLLIN);
	drain(fd);
	c->calls[idx_of(c, fd)]++;
	if (c->del_fd >= 0) {
		assert_int_equal(vdev_loop_del(c->loop, c->del_fd), 0);
		c->del_fd = -1;
	}
}

static int setup(void **state)
{
	static struct ctx c;

	memset(&c, 0, sizeof(c));
	c.loop = vdev_loop_new();
	assert_non_null(c.loop);
	for (int i = 0; i < 4; i++) {
		c.fds[i] = eventfd(0, EFD_NONBLOCK);
		assert_true(c.fds[i] >= 0);
	}
	c.del_fd = -1;
	*state = &c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	vdev_loop_free(c->loop);
	for (int i = 0; i < 4; i++)
		close(c->fds[i]);
	return 0;
}

static void test_add_del(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(vdev_loop_add(c->loop, c->fds[0], EPOLLIN, cb, c), 0);
	assert_int_equal(vdev_loop_add(c->loop, c->fds[0], EPOLLIN, cb, c),
			 -EEXIST);
	assert_int_equal(vdev_loop_add(c->loop, -1, EPOLLIN, cb, c), -EINVAL);
	assert_int_equal(vdev_loop_add(c->loop, c->fds[1], EPOLLIN, NULL, c),
			 -EINVAL);
	assert_int_equal(vdev_loop_run_once(c->loop, 0), 0); /* timeout */
	poke(c->fds[0]);
	assert_int_equal(vdev_loop_run_once(c->loop, 1000), 1);
	assert_int_equal(c->calls[0], 1);
	assert_int_equal(vdev_loop_mod(c->loop, c->fds[0], EPOLLOUT), 0);
	assert_int_equal(vdev_loop_mod(c->loop, c->fds[1], EPOLLIN), -ENOENT);
	assert_int_equal(vdev_loop_del(c->loop, c->fds[0]), 0);
	assert_int_equal(vdev_loop_del(c->loop, c->fds[0]), -ENOENT);
	poke(c->fds[0]);
	assert_int_equal(vdev_loop_run_once(c->loop, 0), 0);
	assert_int_equal(c->calls[0], 1);
	/* Deleted fds can come back. */
	assert_int_equal(vdev_loop_add(c->loop, c->fds[0], EPOLLIN, cb, c), 0);
	assert_int_equal(vdev_loop_run_once(c->loop, 1000), 1);
	assert_int_equal(c->calls[0], 2);
	/* A bad fd is refused by epoll itself. */
	assert_int_equal(vdev_loop_add(c->loop, 1000, EPOLLIN, cb, c), -EBADF);
}

static void test_del_self(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(vdev_loop_add(c->loop, c->fds[0], EPOLLIN, cb, c), 0);
	c->del_fd = c->fds[0];
	poke(c->fds[0]);
	assert_int_equal(vdev_loop_run_once(c->loop, 1000), 1);
	assert_int_equal(c->calls[0], 1);
	poke(c->fds[0]);
	assert_int_equal(vdev_loop_run_once(c->loop, 0), 0);
	assert_int_equal(vdev_loop_del(c->loop, c->fds[0]), -ENOENT);
}

static void cb_del_partner(void *arg, int fd, uint32_t events)
{
	struct ctx *c = arg;
	int i = idx_of(c, fd);

	drain(fd);
	c->calls[i]++;
	/* fd 0 and fd 1 are partners: each deletes the other. */
	assert_int_equal(vdev_loop_del(c->loop, c->fds[1 - i]), 0);
}

static void test_del_other_in_batch(void **state)
{
	struct ctx *c = *state;
	struct epoll_event ev[2];

	assert_int_equal(vdev_loop_add(c->loop, c->fds[0], EPOLLIN,
				       cb_del_partner, c), 0);
	assert_int_equal(vdev_loop_add(c->loop, c->fds[1], EPOLLIN,
				       cb_del_partner, c), 0);
	poke(c->fds[0]);
	poke(c->fds[1]);
	/* Both are ready in the same batch (level-triggered peek)... */
	assert_int_equal(epoll_wait(vdev_loop_fd(c->loop), ev, 2, 1000), 2);
	/* ...but whichever runs first deletes the other before its turn. */
	assert_int_equal(vdev_loop_run_once(c->loop, 1000), 1);
	assert_int_equal(c->calls[0] + c->calls[1], 1);
	assert_int_equal(vdev_loop_run_once(c->loop, 0), 0);
}

static int fresh;

static void cb_fresh(void *arg, int fd, uint32_t events)
{
	drain(fd);
	fresh++;
}

static void cb_readd(void *arg, int fd, uint32_t events)
{
	struct ctx *c = arg;

	drain(fd);
	c->calls[2]++;
	assert_int_equal(vdev_loop_del(c->loop, c->fds[3]), 0);
	assert_int_equal(vdev_loop_add(c->loop, c->fds[3], EPOLLIN, cb_fresh,
				       c), 0);
}

static void test_del_and_readd_in_batch(void **state)
{
	struct ctx *c = *state;

	/* fd 2's callback replaces fd 3's entry; a stale event of the old
	 * entry in the same batch must not reach the old callback, and the
	 * new one sees fd 3 exactly once. */
	fresh = 0;
	assert_int_equal(vdev_loop_add(c->loop, c->fds[2], EPOLLIN, cb_readd,
				       c), 0);
	assert_int_equal(vdev_loop_add(c->loop, c->fds[3], EPOLLIN, cb, c), 0);
	poke(c->fds[2]);
	poke(c->fds[3]);
	assert_true(vdev_loop_run_once(c->loop, 1000) >= 1);
	vdev_loop_run_once(c->loop, 0);
	assert_int_equal(c->calls[2], 1);
	assert_int_equal(c->calls[3] + fresh, 1);
	assert_int_equal(vdev_loop_run_once(c->loop, 0), 0);
}

static struct vdev_loop *sig_loop;

static void on_alarm(int sig)
{
	vdev_loop_stop(sig_loop);
}

static void test_stop_from_signal(void **state)
{
	struct ctx *c = *state;
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { .it_value = { .tv_usec = 50000 } };

	sig_loop = c->loop;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	assert_int_equal(vdev_loop_run(c->loop), 0);
	signal(SIGALRM, SIG_DFL);
	/* The stop was consumed: the loop runs again. */
	assert_int_equal(vdev_loop_run_once(c->loop, 0), 0);
	/* A stop before run makes run return at once; run_once reports it. */
	vdev_loop_stop(c->loop);
	assert_int_equal(vdev_loop_run_once(c->loop, 0), -ECANCELED);
	assert_int_equal(vdev_loop_run(c->loop), 0);
}

static void on_alarm_noop(int sig)
{
}

static void test_eintr(void **state)
{
	struct ctx *c = *state;
	struct sigaction sa = { .sa_handler = on_alarm_noop };
	struct itimerval it = { .it_value = { .tv_usec = 20000 } };

	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, NULL), 0);
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	/* A signal that does not stop the loop interrupts one wait. */
	assert_int_equal(vdev_loop_run_once(c->loop, 5000), -EINTR);
	signal(SIGALRM, SIG_DFL);
}

static void *stopper(void *arg)
{
	usleep(20000);
	vdev_loop_stop(arg);
	return NULL;
}

static void test_stop_from_thread(void **state)
{
	struct ctx *c = *state;
	pthread_t t;

	assert_int_equal(pthread_create(&t, NULL, stopper, c->loop), 0);
	assert_int_equal(vdev_loop_run(c->loop), 0);
	pthread_join(t, NULL);
}

static void test_nesting(void **state)
{
	struct ctx *c = *state;
	struct pollfd p = { .fd = vdev_loop_fd(c->loop), .events = POLLIN };

	assert_true(p.fd >= 0);
	assert_int_equal(vdev_loop_add(c->loop, c->fds[2], EPOLLIN, cb, c), 0);
	assert_int_equal(poll(&p, 1, 0), 0);
	poke(c->fds[2]);
	assert_int_equal(poll(&p, 1, 1000), 1);
	assert_int_equal(vdev_loop_run_once(c->loop, 0), 1);
	assert_int_equal(c->calls[2], 1);
	assert_int_equal(poll(&p, 1, 0), 0);
}

static void test_watcher(void **state)
{
	struct ctx *c = *state;
	struct vdev_watcher w;

	vdev_loop_watcher(c->loop, &w);
	assert_ptr_equal(w.opaque, c->loop);
	assert_int_equal(w.add(w.opaque, c->fds[1], EPOLLIN, cb, c), 0);
	assert_int_equal(w.add(w.opaque, c->fds[1], EPOLLIN, cb, c), -EEXIST);
	poke(c->fds[1]);
	assert_int_equal(vdev_loop_run_once(c->loop, 1000), 1);
	assert_int_equal(c->calls[1], 1);
	assert_int_equal(w.del(w.opaque, c->fds[1]), 0);
	assert_int_equal(w.del(w.opaque, c->fds[1]), -ENOENT);
}

static void test_free_null(void **state)
{
	vdev_loop_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_add_del, setup, teardown),
		cmocka_unit_test_setup_teardown(test_del_self, setup, teardown),
		cmocka_unit_test_setup_teardown(test_del_other_in_batch, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_del_and_readd_in_batch,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_from_signal, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stop_from_thread, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_eintr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nesting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watcher, setup, teardown),
		cmocka_unit_test(test_free_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
