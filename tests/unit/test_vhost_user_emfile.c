/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A vhost-user back-end that has run out of file descriptors must neither
 * spin on its listening socket nor leave frontends hanging: each pending
 * connection is accepted with the reserve fd and closed at once, and the
 * control loop goes idle again.
 *
 * The back-end runs in a child process whose RLIMIT_NOFILE is lowered to
 * the fds it already has; the parent connects twice and expects each
 * connection to be closed. The child counts the callbacks its loop runs:
 * a spinning loop would run thousands.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/rng.h>
#include <virtio/vhost-user.h>

#include "tspawn.h"

/* Callbacks the child's loop may run in its window: two shed
 * connections plus slack; a spinning loop runs far more. */
#define MAX_CALLBACKS 50

static int highest_fd(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int max = 2;

	if (!d)
		return 1023;
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);

		if (fd > max)
			max = fd;
	}
	closedir(d);
	return max;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int child(void *path)
{
	struct vdev_rng_config rc = { 0 };
	struct vdev_vhost_user_config vc = {
		.mode = VDEV_VHOST_USER_LISTEN,
		.path = path,
	};
	struct vdev *dev = vdev_rng_new(&rc);
	struct vdev_vhost_user *vu = dev ? vdev_vhost_user_new(dev, &vc) : NULL;
	struct rlimit rl;
	int64_t end;
	long callbacks = 0;

	if (!vu)
		return 2;
	/* From here on no new fd can be opened. */
	rl.rlim_cur = rl.rlim_max = (rlim_t)highest_fd() + 1;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 3;
	while (open("/dev/null", O_RDONLY | O_CLOEXEC) >= 0)
		; /* take whatever numbers are still free below the limit */
	if (errno != EMFILE)
		return 3;
	end = now_ms() + 1500;
	while (now_ms() < end) {
		int n = vdev_vhost_user_dispatch(vu, 50);

		if (n > 0)
			callbacks += n;
	}
	vdev_vhost_user_free(vu);
	vdev_free(dev);
	return callbacks <= MAX_CALLBACKS ? 0 : 4;
}

/* Connects (the back-end @t listening at @path within 1 s) and waits up
 * to @ms for the back-end to close the connection. */
static bool closed_by_peer(struct tspawn *t, const char *path, int ms)
{
	struct pollfd p = { .fd = -1, .events = POLLIN };
	char b;
	bool closed = false;

	assert_int_equal(tspawn_wait_socket(t, path, 1000, &p.fd), 0);
	if (poll(&p, 1, ms) == 1 && read(p.fd, &b, 1) == 0)
		closed = true;
	close(p.fd);
	return closed;
}

/* A failed assertion skips the wait for the child: reap it here. */
static int kill_leftovers(void **state)
{
	(void)state;
	tspawn_kill_all();
	return 0;
}

static void test_emfile_sheds_connections(void **state)
{
	char path[108];
	struct tspawn t;

	snprintf(path, sizeof(path), "/tmp/vdev-emfile-%d.sock", (int)getpid());
	assert_int_equal(tspawn_fork(&t, child, path, "emfile back-end"), 0);
	assert_true(closed_by_peer(&t, path, 1000));
	assert_true(closed_by_peer(&t, path, 1000));
	/* 0: loop stayed idle; 4: it spun; 2, 3: setup failed; anything
	 * else (a signal, the timeout) is a failure too. */
	assert_int_equal(tspawn_wait(&t, TSPAWN_TIMEOUT_MS), 0);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_emfile_sheds_connections,
					  kill_leftovers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
