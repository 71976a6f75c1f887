/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The event template's unit test, also a template: the driver keeps the
 * event queue stocked with buffers, as virtio-input's driver does, and
 * takes what the device sends on its own (timer ticks, events injected
 * from another thread), in process and through the vhost-user adapter on
 * a socket.
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
#include <cmocka.h>
#include <unistd.h>
#include <virtio/testing.h>
#include <virtio/transport.h>
#include <virtio/vhost-user.h>

#include "tick.h"

/* How long an event may take to arrive: milliseconds, but a machine
 * under heavy load can keep the device's thread off the CPU for seconds.
 * Waits end when the event is there; one that never comes still fails,
 * only later. (Waits that expect nothing stay short.) */
#define WAIT_MS 30000

#define EV_KEY 1u
#define EV_OTHER 7u

struct fx {
	struct vdev *dev;
	struct vdev_drv *drv;
	struct vdev_vhost_user *vu;
	pthread_t thread;
	char path[64];
};

static void *serve(void *arg)
{
	vdev_vhost_user_run(arg);
	return NULL;
}

/* The device, with a driver in process or through vhost-user. */
static void up(struct fx *f, bool vhost_user, uint32_t period_ms)
{
	struct tick_params p = { .period_ms = period_ms };
	struct vdev_drv_config dc = { .use_eventfds = true,
				      .queue_size = 256 };

	memset(f, 0, sizeof(*f));
	f->dev = tick_new(&p);
	assert_non_null(f->dev);
	if (vhost_user) {
		struct vdev_vhost_user_config vc = {
			.mode = VDEV_VHOST_USER_LISTEN, .path = f->path,
		};

		snprintf(f->path, sizeof(f->path), "/tmp/tick-test-%d.sock",
			 (int)getpid());
		f->vu = vdev_vhost_user_new(f->dev, &vc);
		assert_non_null(f->vu);
		assert_int_equal(pthread_create(&f->thread, NULL, serve, f->vu),
				 0);
		f->drv = vdev_drv_connect_vhost_user(f->path, &dc);
	} else {
		f->drv = vdev_drv_new(f->dev, &dc);
	}
	assert_non_null(f->drv);
	assert_int_equal(vdev_drv_init(f->drv), 0);
}

static void down(struct fx *f)
{
	vdev_drv_free(f->drv);
	if (f->vu) {
		vdev_vhost_user_stop(f->vu);
		pthread_join(f->thread, NULL);
		vdev_vhost_user_free(f->vu);
	}
	vdev_free(f->dev);
}

/* Gives the device @n more event buffers. */
static void stock(struct fx *f, unsigned n)
{
	struct vdev_drv_mem *m = vdev_drv_get_mem(f->drv);

	for (unsigned i = 0; i < n; i++) {
		struct vdev_drv_seg s = { .len = sizeof(struct tick_event) };
		void *buf = vdev_drv_mem_alloc(m, s.len, 8, &s.gpa);

		assert_non_null(buf);
		assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(f->drv, 0), &s,
						   0, 1, buf, 0), 0);
	}
	assert_int_equal(vdev_drv_kick(f->drv, 0), 0);
}

/* The next event the device sent, within @ms; -ETIMEDOUT if none. */
static int next_event(struct fx *f, struct tick_event *ev, int ms)
{
	void *tok;
	uint32_t len;
	int r = vdev_drv_wait(f->drv, 0, ms, &tok, &len);

	if (r < 0)
		return r;
	assert_int_equal(len, sizeof(*ev));
	memcpy(ev, tok, sizeof(*ev));
	return 0;
}

static uint32_t dropped(struct fx *f)
{
	struct tick_config c;

	assert_int_equal(vdev_drv_config_read(f->drv, 0, &c, sizeof(c)), 0);
	return vdev_le32_to_cpu(c.dropped);
}

static struct tick_event ev(uint16_t type, uint16_t code, uint32_t value)
{
	struct tick_event e = {
		.type = vdev_cpu_to_le16(type),
		.code = vdev_cpu_to_le16(code),
		.value = vdev_cpu_to_le32(value),
	};

	return e;
}

/* The timer, started by a config write made the way QEMU makes it (the
 * whole config space, read-only field unchanged). */
static void test_timer(void **state)
{
	(void)state;
	for (int vu = 0; vu < 2; vu++) {
		struct tick_config c;
		struct tick_event e;
		struct fx f;

		up(&f, vu, 0);
		stock(&f, 16);
		assert_int_equal(next_event(&f, &e, 50), -ETIMEDOUT);
		assert_int_equal(vdev_drv_config_read(f.drv, 0, &c, sizeof(c)),
				 0);
		c.period_ms = vdev_cpu_to_le32(5);
		assert_int_equal(vdev_drv_config_write(f.drv, 0, &c, sizeof(c)),
				 0);
		for (uint32_t i = 1; i <= 4; i++) {
			assert_int_equal(next_event(&f, &e, WAIT_MS), 0);
			assert_int_equal(vdev_le16_to_cpu(e.type),
					 TICK_EV_TICK);
			assert_int_equal(vdev_le32_to_cpu(e.value), i);
			assert_int_equal(next_event(&f, &e, WAIT_MS), 0);
			assert_int_equal(vdev_le16_to_cpu(e.type), TICK_EV_SYN);
		}
		/* The read-only counter is not the driver's to write. */
		c.period_ms = 0;
		c.dropped = vdev_cpu_to_le32(9);
		assert_int_equal(vdev_drv_config_write(f.drv, 0, &c, sizeof(c)),
				 -EPERM);
		c.dropped = 0;
		assert_int_equal(vdev_drv_config_write(f.drv, 0, &c, 2),
				 -EPERM);
		down(&f);
	}
}

struct injector {
	struct vdev *dev;
	unsigned batches, refused;
};

static void *inject_main(void *arg)
{
	struct injector *in = arg;

	for (unsigned i = 0; i < in->batches; i++) {
		struct tick_event b[2] = { ev(EV_KEY, 30, i),
					   ev(TICK_EV_SYN, 0, 0) };
		int r;

		while ((r = tick_inject(in->dev, b, 2)) == -ENOSPC) {
			in->refused++;
			usleep(200);
		}
		if (r)
			abort();
	}
	return NULL;
}

/* Another thread injects while the driver keeps the queue stocked:
 * every batch arrives whole and in order; refusals are counted. */
static void test_inject_from_thread(void **state)
{
	(void)state;
	for (int vu = 0; vu < 2; vu++) {
		struct injector in = { .batches = 300 };
		struct tick_event e;
		pthread_t t;
		struct fx f;

		up(&f, vu, 0);
		in.dev = f.dev;
		stock(&f, 32);
		assert_int_equal(pthread_create(&t, NULL, inject_main, &in),
				 0);
		for (unsigned i = 0; i < in.batches; i++) {
			assert_int_equal(next_event(&f, &e, WAIT_MS), 0);
			assert_int_equal(vdev_le16_to_cpu(e.type), EV_KEY);
			assert_int_equal(vdev_le32_to_cpu(e.value), i);
			assert_int_equal(next_event(&f, &e, WAIT_MS), 0);
			assert_int_equal(vdev_le16_to_cpu(e.type), TICK_EV_SYN);
			stock(&f, 2); /* the driver gives its buffers back */
		}
		pthread_join(t, NULL);
		assert_int_equal(dropped(&f), 2 * in.refused);
		down(&f);
	}
}

/* A batch waits until the driver has a buffer for each of its events:
 * never half of it. */
static void test_batch_all_or_nothing(void **state)
{
	(void)state;
	for (int vu = 0; vu < 2; vu++) {
		const struct tick_event b[3] = { ev(EV_KEY, 1, 1),
						 ev(EV_KEY, 2, 1),
						 ev(TICK_EV_SYN, 0, 0) };
		struct tick_event e;
		struct fx f;

		up(&f, vu, 0);
		stock(&f, 2);
		assert_int_equal(tick_inject(f.dev, b, 3), 0);
		assert_int_equal(next_event(&f, &e, 100), -ETIMEDOUT);
		stock(&f, 1);
		for (unsigned i = 0; i < 3; i++) {
			assert_int_equal(next_event(&f, &e, WAIT_MS), 0);
			assert_memory_equal(&e, &b[i], sizeof(e));
		}
		assert_int_equal(tick_inject(f.dev, b, 0), -EINVAL);
		assert_int_equal(tick_inject(f.dev, b, TICK_PENDING_MAX + 1),
				 -EINVAL);
		down(&f);
	}
}

/* No buffers: events wait up to the limit, then whole batches are
 * refused and counted; the waiting ones arrive once buffers come. */
static void test_overflow(void **state)
{
	struct tick_event e;
	struct fx f;
	unsigned ok = 0;

	(void)state;
	up(&f, false, 0);
	for (unsigned i = 0; i < 40; i++) {
		const struct tick_event b[2] = { ev(EV_OTHER, 0, i),
						 ev(TICK_EV_SYN, 0, 0) };

		ok += tick_inject(f.dev, b, 2) == 0;
	}
	assert_int_equal(ok, TICK_PENDING_MAX / 2);
	assert_int_equal(dropped(&f), 2 * (40 - ok));
	stock(&f, 2 * ok);
	for (unsigned i = 0; i < ok; i++) {
		assert_int_equal(next_event(&f, &e, WAIT_MS), 0);
		assert_int_equal(vdev_le32_to_cpu(e.value), i);
		assert_int_equal(next_event(&f, &e, WAIT_MS), 0);
	}
	/* A reset forgets the counter (and what was waiting). */
	assert_int_equal(vdev_drv_init(f.drv), 0);
	assert_int_equal(dropped(&f), 0);
	down(&f);
}

/* Events not yet given to the driver survive save and restore. */
static void test_save_restore(void **state)
{
	const struct tick_event b[2] = { ev(EV_KEY, 5, 1),
					 ev(TICK_EV_SYN, 0, 0) };
	struct tick_event e;
	struct fx f;
	void *blob;
	size_t len;

	(void)state;
	up(&f, false, 0);
	assert_int_equal(tick_inject(f.dev, b, 2), 0);
	assert_int_equal(tick_inject(f.dev, b, 2), 0);
	assert_int_equal(vdev_vq_stop(f.dev, 0, NULL), 0);
	assert_int_equal(vdev_save(f.dev, &blob, &len), 0);
	vdev_reset(f.dev);
	assert_int_equal(vdev_restore(f.dev, blob, len), 0);
	free(blob);
	stock(&f, 4);
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(next_event(&f, &e, WAIT_MS), 0);
		assert_memory_equal(&e, &b[i % 2], sizeof(e));
	}
	down(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_timer),
		cmocka_unit_test(test_inject_from_thread),
		cmocka_unit_test(test_batch_all_or_nothing),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_save_restore),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
