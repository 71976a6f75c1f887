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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/rng.h>
#include <virtio/vhost-user.h>

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

static int child(const char *path)
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

/* Connects and waits up to @ms for the back-end to close the connection. */
static bool closed_by_peer(const char *path, int ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char b;
	bool closed = false;

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	for (int i = 0; i < 100; i++) {
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		usleep(10000);
	}
	if (poll(&p, 1, ms) == 1 && read(fd, &b, 1) == 0)
		closed = true;
	close(fd);
	return closed;
}

static void test_emfile_sheds_connections(void **state)
{
	char path[108];
	pid_t pid;
	int status;

	snprintf(path, sizeof(path), "/tmp/vdev-emfile-%d.sock", (int)getpid());
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(child(path));
	assert_true(closed_by_peer(path, 1000));
	assert_true(closed_by_peer(path, 1000));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	/* 0: loop stayed idle; 4: it spun; 2, 3: setup failed. */
	assert_int_equal(WEXITSTATUS(status), 0);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_emfile_sheds_connections),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
