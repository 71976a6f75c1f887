/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The template device's unit test, also a template: every device test
 * drives the model through the software driver (testing.h) the way a guest
 * would, in each ring layout and kick mode, and through vhost-user: the
 * same test body talks to the device behind the vhost-user adapter on a
 * socket (vdev_drv_connect_vhost_user), as a frontend talks to its daemon.
 * (Against the daemon itself, start vdev-template and connect the driver
 * to its socket the same way.)
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <unistd.h>
#include <virtio/testing.h>
#include <virtio/transport.h>
#include <virtio/vhost-user.h>

#include "template.h"

struct mode {
	bool packed;
	bool eventfds;
	bool vhost_user; /* the device behind the vhost-user adapter */
};

static const struct mode modes[] = {
	{ false, false, false }, { false, true, false },
	{ true, false, false },  { true, true, false },
	{ false, true, true },   { true, true, true },
};
#define N_MODES (sizeof(modes) / sizeof(modes[0]))

/* How long a request may take: the answer comes in microseconds, but a
 * machine under heavy load can keep the serving thread off the CPU for
 * seconds. Waits end as soon as the answer is there; a device that never
 * answers still fails, only later. (The project's own tests take this
 * from tests/lib/twait.h; a template stands alone.) */
#define WAIT_MS 30000

/* The vhost-user adapter serving the device on a thread, as a daemon
 * would in its own process. */
static struct {
	struct vdev_vhost_user *vu;
	pthread_t thread;
	char path[64];
} srv;

static void *serve(void *arg)
{
	vdev_vhost_user_run(arg);
	return NULL;
}

static struct vdev_drv *up(const struct mode *m, uint64_t refuse,
			   struct vdev **devp)
{
	struct tpl_params p = { .max_len = 64 };
	struct vdev_drv_config dc = {
		.packed = m->packed,
		.use_eventfds = m->eventfds,
		.refuse = refuse,
	};
	struct vdev *dev = tpl_new(&p);
	struct vdev_drv *drv;

	assert_non_null(dev);
	if (m->vhost_user) {
		struct vdev_vhost_user_config vc = {
			.mode = VDEV_VHOST_USER_LISTEN, .path = srv.path,
		};

		snprintf(srv.path, sizeof(srv.path), "/tmp/tpl-test-%d.sock",
			 (int)getpid());
		srv.vu = vdev_vhost_user_new(dev, &vc);
		assert_non_null(srv.vu);
		assert_int_equal(pthread_create(&srv.thread, NULL, serve,
						srv.vu), 0);
		drv = vdev_drv_connect_vhost_user(srv.path, &dc);
	} else {
		drv = vdev_drv_new(dev, &dc);
	}
	assert_non_null(drv);
	assert_int_equal(vdev_drv_init(drv), 0);
	*devp = dev;
	return drv;
}

static void down(struct vdev_drv *drv, struct vdev *dev)
{
	vdev_drv_free(drv);
	if (srv.vu) {
		vdev_vhost_user_stop(srv.vu);
		pthread_join(srv.thread, NULL);
		vdev_vhost_user_free(srv.vu);
		srv.vu = NULL;
	}
	vdev_free(dev);
}

static void test_echo_and_xor(void **state)
{
	(void)state;
	for (unsigned k = 0; k < N_MODES; k++) {
		struct vdev *dev;
		struct vdev_drv *drv = up(&modes[k], 0, &dev);
		uint32_t key = vdev_cpu_to_le32(0x20), w;
		char in[16];

		assert_true(vdev_has_feature(dev, TPL_F_XOR));
		/* Key 0 (the default): plain echo. */
		assert_int_equal(vdev_drv_xfer(drv, 0, "Hello", 5, in,
					       sizeof(in), &w, WAIT_MS), 0);
		assert_int_equal(w, 5);
		assert_memory_equal(in, "Hello", 5);
		/* 0x20 flips ASCII case. */
		assert_int_equal(vdev_drv_config_write(drv, 4, &key, 4), 0);
		assert_int_equal(vdev_drv_xfer(drv, 0, "Hello", 5, in,
					       sizeof(in), &w, WAIT_MS), 0);
		assert_memory_equal(in, "hELLO", 5);
		/* Short writable part: only what fits. */
		assert_int_equal(vdev_drv_xfer(drv, 0, "abcdef", 6, in, 3, &w,
					       WAIT_MS), 0);
		assert_int_equal(w, 3);
		assert_memory_equal(in, "ABC", 3);
		assert_int_equal(tpl_served(dev), 3);
		down(drv, dev);
	}
}

static void test_without_feature(void **state)
{
	struct vdev *dev;
	struct vdev_drv *drv = up(&modes[0], VDEV_BIT(TPL_F_XOR), &dev);
	uint32_t key = vdev_cpu_to_le32(0x20), w;
	char in[8];

	(void)state;
	assert_false(vdev_has_feature(dev, TPL_F_XOR));
	assert_int_equal(vdev_drv_config_write(drv, 4, &key, 4), 0);
	assert_int_equal(vdev_drv_xfer(drv, 0, "Hello", 5, in, sizeof(in), &w,
				       WAIT_MS), 0);
	assert_memory_equal(in, "Hello", 5);
	down(drv, dev);
}

static void test_config(void **state)
{
	/* In process, and through vhost-user as QEMU writes it. */
	static const unsigned which[] = { 0, 4 };

	(void)state;
	for (unsigned k = 0; k < 2; k++) {
		struct vdev *dev;
		struct vdev_drv *drv = up(&modes[which[k]], 0, &dev);
		struct tpl_config cfg;
		uint32_t v = 7;

		assert_int_equal(vdev_drv_config_read(drv, 0, &cfg, sizeof(cfg)), 0);
		assert_int_equal(vdev_le32_to_cpu(cfg.max_len), 64);
		assert_int_equal(vdev_le32_to_cpu(cfg.key), 0);
		/* max_len is read-only, key only as a whole, nothing beyond. */
		assert_int_equal(vdev_drv_config_write(drv, 0, &v, 4), -EPERM);
		assert_int_equal(vdev_drv_config_write(drv, 4, &v, 2), -EPERM);
		assert_int_equal(vdev_drv_config_write(drv, 8, &v, 4), -ERANGE);
		assert_int_equal(vdev_drv_config_read(drv, 0, &cfg, sizeof(cfg)), 0);
		assert_int_equal(vdev_le32_to_cpu(cfg.max_len), 64);
		/* The whole config space at once, as QEMU's vhost-user frontends
		 * write it: the read-only field unchanged, the key new. */
		cfg.key = vdev_cpu_to_le32(0x21);
		assert_int_equal(vdev_drv_config_write(drv, 0, &cfg, sizeof(cfg)), 0);
		assert_int_equal(vdev_drv_config_read(drv, 4, &v, 4), 0);
		assert_int_equal(vdev_le32_to_cpu(v), 0x21);
		/* ... and a read-only field changed: all of it refused. */
		cfg.max_len = vdev_cpu_to_le32(65);
		cfg.key = vdev_cpu_to_le32(0x22);
		assert_int_equal(vdev_drv_config_write(drv, 0, &cfg, sizeof(cfg)),
				 -EPERM);
		assert_int_equal(vdev_drv_config_read(drv, 0, &cfg, sizeof(cfg)), 0);
		assert_int_equal(vdev_le32_to_cpu(cfg.max_len), 64);
		assert_int_equal(vdev_le32_to_cpu(cfg.key), 0x21);
		/* A reset puts the key back to its default. */
		assert_int_equal(vdev_drv_config_write(drv, 4, &v, 4), 0);
		assert_int_equal(vdev_drv_init(drv), 0);
		assert_int_equal(vdev_drv_config_read(drv, 4, &v, 4), 0);
		assert_int_equal(v, 0);
		down(drv, dev);
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Runs the driver's loop until it has seen a config interrupt, for
 * WAIT_MS at most. */
static void wait_config_interrupt(struct vdev_drv *drv)
{
	uint64_t end = now_ms() + WAIT_MS;

	while (!vdev_drv_config_interrupts(drv) && now_ms() < end)
		vdev_drv_poll(drv, 20);
}

static void test_hostile_requests(void **state)
{
	(void)state;
	for (unsigned k = 0; k < N_MODES; k++) {
		struct vdev *dev;
		struct vdev_drv *drv = up(&modes[k], 0, &dev);
		char big[65], in[65];
		uint32_t w = 1;

		memset(big, 'x', sizeof(big));
		/* Over max_len: answered with nothing written. */
		assert_int_equal(vdev_drv_xfer(drv, 0, big, sizeof(big), in,
					       sizeof(in), &w, WAIT_MS), 0);
		assert_int_equal(w, 0);
		/* No writable part at all: nothing written either. */
		assert_int_equal(vdev_drv_xfer(drv, 0, "ab", 2, NULL, 0, &w,
					       WAIT_MS), 0);
		assert_int_equal(w, 0);
		/* A malformed chain: DEVICE_NEEDS_RESET, then a reset
		 * brings the device back. */
		struct vdev_drv_ring *ring = vdev_drv_ring(drv, 0);

		assert_int_equal(vdev_drv_ring_inject(ring,
					VDEV_DRV_FAULT_ADDR_OUTSIDE), 0);
		assert_int_equal(vdev_drv_kick(drv, 0), 0);
		wait_config_interrupt(drv);
		assert_true(vdev_drv_status(drv) &
			    VDEV_STATUS_DEVICE_NEEDS_RESET);
		assert_int_equal(vdev_drv_config_interrupts(drv), 1);
		assert_int_equal(vdev_drv_init(drv), 0);
		assert_int_equal(vdev_drv_xfer(drv, 0, "ok", 2, in, 2, &w,
					       WAIT_MS), 0);
		assert_int_equal(w, 2);
		down(drv, dev);
	}
}

static void test_save_restore(void **state)
{
	struct vdev *dev;
	struct vdev_drv *drv = up(&modes[3], 0, &dev);
	uint32_t key = vdev_cpu_to_le32(1), w;
	char in[4];
	void *blob;
	size_t len;

	(void)state;
	assert_int_equal(vdev_drv_config_write(drv, 4, &key, 4), 0);
	assert_int_equal(vdev_drv_xfer(drv, 0, "ab", 2, in, 2, &w, WAIT_MS), 0);
	assert_int_equal(vdev_vq_stop(dev, 0, NULL), 0);
	assert_int_equal(vdev_save(dev, &blob, &len), 0);
	vdev_reset(dev);
	assert_int_equal(tpl_served(dev), 0);
	assert_int_equal(vdev_restore(dev, blob, len), 0);
	free(blob);
	assert_int_equal(tpl_served(dev), 1);
	/* Key and rings came back: the driver goes on. */
	assert_int_equal(vdev_drv_xfer(drv, 0, "ab", 2, in, 2, &w, WAIT_MS), 0);
	assert_memory_equal(in, "`c", 2);
	down(drv, dev);
}

static void test_new_invalid(void **state)
{
	struct tpl_params p = { .max_len = 1u << 21 };

	(void)state;
	errno = 0;
	assert_null(tpl_new(&p));
	assert_int_equal(errno, EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo_and_xor),
		cmocka_unit_test(test_without_feature),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_hostile_requests),
		cmocka_unit_test(test_save_restore),
		cmocka_unit_test(test_new_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
