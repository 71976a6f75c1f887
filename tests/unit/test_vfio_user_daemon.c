/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev-rng --transport vfio-user, as a separate process: the test client
 * connects, reads random bytes through a split queue with an MSI-X
 * eventfd, a second client is served after the first leaves, and SIGTERM
 * ends the daemon cleanly (exit 0, socket file removed). A rate-limited
 * daemon exercises the device's timer through the adapter's watcher.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/testing.h>

#include "tspawn.h"
#include "vfu_client.h"

#define GUEST_BASE 0x100000000ull
#define GUEST_SIZE (2u << 20)

static char bin[1024];

static void spawn_with(struct tspawn *t, const char *opt, const char *val,
		       const char *const *extra, const struct tspawn_opts *o)
{
	const char *argv[16] = { bin, "--transport", "vfio-user", opt, val };
	int n = 5;

	while (extra && *extra && n < 15)
		argv[n++] = *extra++;
	argv[n] = NULL;
	assert_int_equal(tspawn_start(t, argv, o), 0);
}

static void spawn(struct tspawn *t, const char *path,
		  const char *const *extra)
{
	spawn_with(t, "--socket-path", path, extra, NULL);
}

static int stop(struct tspawn *t)
{
	return tspawn_stop(t, SIGTERM, TSPAWN_TIMEOUT_MS);
}

/* A failed assertion skips the test's stop(): end its daemon here. */
static int kill_leftovers(void **state)
{
	(void)state;
	tspawn_kill_all();
	return 0;
}

/* One session with daemon @t: n requests of len bytes; returns the
 * seconds it took. */
static double session(struct tspawn *t, const char *path, int n,
		      uint32_t len)
{
	struct vfu_client *c = NULL;
	struct vdev_drv_mem *mem = vdev_drv_mem_new(GUEST_BASE, GUEST_SIZE, 1);
	int efd[2] = { eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC) };
	struct vdev_drv_ring *r;
	struct timespec t0, t1;
	int fd;

	assert_int_equal(tspawn_wait_socket(t, path, 5000, &fd), 0);
	c = vfu_client_from_fd(fd);
	if (!c)
		close(fd);
	assert_non_null(c);
	assert_non_null(mem);
	assert_int_equal(vfu_client_version(c), 0);
	assert_int_equal(vfu_client_probe(c), 0);
	assert_int_equal(vfu_client_dma_map(c, vdev_drv_mem_fd(mem), 0,
					    GUEST_BASE, GUEST_SIZE), 0);
	assert_int_equal(vfu_client_set_irqs(c, VFU_IRQ_MSIX,
					     VFU_IRQ_SET_DATA_EVENTFD |
						     VFU_IRQ_SET_ACTION_TRIGGER,
					     0, 2, efd, 2), 0);
	assert_int_equal(vpci_negotiate(&c->pci,
					~VDEV_BIT(VDEV_F_RING_PACKED)), 0);
	r = vdev_drv_ring_new(mem, 64, c->pci.features);
	assert_non_null(r);
	assert_int_equal(vpci_setup_queue(&c->pci, 0, r, 0), 0);
	assert_int_equal(vpci_driver_ok(&c->pci), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++) {
		size_t mark = vdev_drv_mem_mark(mem);
		uint64_t gpa, v;
		uint8_t *buf = vdev_drv_mem_alloc(mem, len, 16, &gpa);
		struct vdev_drv_seg seg = { gpa, len };
		struct pollfd p = { .fd = efd[0], .events = POLLIN };
		void *tok;
		uint32_t got;
		unsigned nz = 0;

		assert_non_null(buf);
		assert_int_equal(vdev_drv_ring_add(r, &seg, 0, 1, buf, 0), 0);
		assert_int_equal(vpci_notify(&c->pci, 0, r), 0);
		/* Completion may come later (rate limit): the interrupt
		 * says when. */
		assert_int_equal(poll(&p, 1, 5000), 1);
		assert_int_equal(read(efd[0], &v, sizeof(v)), sizeof(v));
		assert_int_equal(vdev_drv_ring_get_used(r, &tok, &got), 0);
		assert_int_equal(got, len);
		for (uint32_t k = 0; k < len; k++)
			nz += buf[k] != 0;
		assert_true(nz > len / 2);
		vdev_drv_mem_reset_to(mem, mark);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	vdev_drv_ring_free(r);
	vdev_drv_mem_free(mem);
	close(efd[0]);
	close(efd[1]);
	vfu_client_free(c);
	return (double)(t1.tv_sec - t0.tv_sec) +
	       (t1.tv_nsec - t0.tv_nsec) / 1e9;
}

static void test_daemon(void **state)
{
	char path[108];
	struct stat st;
	struct tspawn t;
	double s;

	snprintf(path, sizeof(path), "/tmp/vdev-vfu-daemon-%d.sock",
		 (int)getpid());
	spawn(&t, path, NULL);
	s = session(&t, path, 1000, 4096);
	printf("# vdev-rng over vfio-user (separate process): 1000 x 4 KiB "
	       "in %.3f s (%.0f req/s)\n", s, 1000 / s);
	session(&t, path, 10, 64); /* the next client */
	assert_int_equal(stop(&t), 0);
	assert_int_equal(stat(path, &st), -1);
}

static void test_daemon_rate_limited(void **state)
{
	const char *const extra[] = { "--max-bytes", "1024", "--period",
				      "100", NULL };
	char path[108];
	struct tspawn t;
	double s;

	snprintf(path, sizeof(path), "/tmp/vdev-vfu-daemon-rl-%d.sock",
		 (int)getpid());
	spawn(&t, path, extra);
	/* 8 KiB at 1 KiB per 100 ms: the timer must release the rest. */
	s = session(&t, path, 8, 1024);
	assert_true(s >= 0.5);
	assert_int_equal(stop(&t), 0);
}

/* --fd with an inherited listening socket. */
static void test_daemon_inherited_fd(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char num[16];
	struct tspawn t;
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path),
		 "/tmp/vdev-vfu-daemon-fd-%d.sock", (int)getpid());
	unlink(sa.sun_path);
	/* Close-on-exec like any fd of the test: tspawn passes it on. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	/* The daemon gets it under the same, arbitrary number. */
	snprintf(num, sizeof(num), "%d", fd);
	spawn_with(&t, "--fd", num, NULL,
		   &(const struct tspawn_opts){ .fd = fd, .fd_as = fd });
	close(fd);
	session(&t, sa.sun_path, 10, 256);
	session(&t, sa.sun_path, 10, 256);
	assert_int_equal(stop(&t), 0);
	unlink(sa.sun_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_daemon, kill_leftovers),
		cmocka_unit_test_teardown(test_daemon_rate_limited,
					  kill_leftovers),
		cmocka_unit_test_teardown(test_daemon_inherited_fd,
					  kill_leftovers),
	};
	const char *b = getenv("VDEV_BUILD_DIR");

	snprintf(bin, sizeof(bin), "%s/daemons/rng/vdev-rng",
		 b ? b : ".");
	if (access(bin, X_OK)) {
		/* ctest reports exit code 77 as skipped, not passed. */
		printf("SKIP: %s not built\n", bin);
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
