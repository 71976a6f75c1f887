/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev_queue_get_stats: a queue's counters of requests, bytes read and
 * written, refused chains and interrupts, through the software driver on
 * split and packed rings; they survive a reset; a caller's struct may be
 * smaller (an older program) or larger (a newer one) than the library's.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <virtio/libvdev.h>
#include <virtio/rng.h>
#include <virtio/testing.h>

static void stats(struct vdev *dev, struct vdev_queue_stats *st)
{
	assert_int_equal(vdev_queue_get_stats(vdev_get_queue(dev, 0), st,
					      sizeof(*st)), 0);
}

static void run_layout(bool packed)
{
	struct vdev_rng_config rc = { .queue_size = 128 };
	struct vdev_drv_config dc = { .queue_size = 128, .packed = packed,
				      .use_eventfds = true };
	struct vdev *dev = vdev_rng_new(&rc);
	struct vdev_queue_stats st;
	struct vdev_drv *drv;
	uint8_t out[8] = { 1 }, in[32];
	uint32_t got;

	assert_non_null(dev);
	drv = vdev_drv_new(dev, &dc);
	assert_non_null(drv);
	assert_int_equal(vdev_drv_init(drv), 0);
	stats(dev, &st);
	assert_int_equal(st.requests, 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(vdev_drv_xfer(drv, 0, out, sizeof(out), in,
					       sizeof(in), &got, 5000), 0);
		assert_int_equal(got, sizeof(in));
	}
	stats(dev, &st);
	assert_int_equal(st.requests, 3);
	assert_int_equal(st.read_bytes, 3 * sizeof(out));
	assert_int_equal(st.written_bytes, 3 * sizeof(in));
	assert_int_equal(st.errors, 0);
	assert_true(st.notifies >= 1 && st.notifies <= 3);
	/* A chain with more buffers than the device takes iovecs for (rng:
	 * 64) goes back with nothing written: an error, and the queue goes
	 * on. */
	{
		struct vdev_drv_mem *m = vdev_drv_get_mem(drv);
		struct vdev_drv_seg segs[100];
		uint64_t gpa;
		void *tok;

		assert_non_null(vdev_drv_mem_alloc(m, 100, 1, &gpa));
		for (int i = 0; i < 100; i++)
			segs[i] = (struct vdev_drv_seg){ gpa + (uint64_t)i, 1 };
		assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(drv, 0), segs,
						   0, 100, segs, 0), 0);
		vdev_drv_kick(drv, 0);
		assert_int_equal(vdev_drv_wait(drv, 0, 5000, &tok, &got), 0);
		assert_int_equal(got, 0);
		stats(dev, &st);
		assert_int_equal(st.errors, 1);
		assert_int_equal(st.requests, 3);
		assert_int_equal(vdev_drv_xfer(drv, 0, NULL, 0, in, sizeof(in),
					       &got, 5000), 0);
		stats(dev, &st);
		assert_int_equal(st.requests, 4);
	}
	/* A malformed chain is an error, once: the queue is broken. */
	assert_int_equal(vdev_drv_ring_inject(vdev_drv_ring(drv, 0),
					      packed ?
						      VDEV_DRV_FAULT_CHAIN_TOO_LONG :
						      VDEV_DRV_FAULT_HEAD_RANGE),
			 0);
	vdev_drv_kick(drv, 0);
	vdev_drv_poll(drv, 100);
	stats(dev, &st);
	assert_int_equal(st.errors, 2);
	assert_int_equal(st.requests, 4);
	/* A reset (the driver going away) keeps the counts. */
	vdev_drv_free(drv);
	stats(dev, &st);
	assert_int_equal(st.requests, 4);
	assert_int_equal(st.errors, 2);
	vdev_free(dev);
}

static void test_split(void **state)
{
	(void)state;
	run_layout(false);
}

static void test_packed(void **state)
{
	(void)state;
	run_layout(true);
}

static void test_sizes(void **state)
{
	struct vdev *dev = vdev_rng_new(NULL);
	struct vdev_queue *q;
	uint64_t old[1], big[8];

	(void)state;
	assert_non_null(dev);
	q = vdev_get_queue(dev, 0);
	assert_non_null(q);
	/* An older, smaller struct: its fields only. */
	old[0] = 99;
	assert_int_equal(vdev_queue_get_stats(q, (void *)old, sizeof(old)), 0);
	assert_int_equal(old[0], 0);
	/* A newer, larger one: zeros past ours. */
	memset(big, 0xff, sizeof(big));
	assert_int_equal(vdev_queue_get_stats(q, (void *)big, sizeof(big)), 0);
	for (int i = 0; i < 8; i++)
		assert_int_equal(big[i], 0);
	assert_int_equal(vdev_queue_get_stats(q, (void *)big, 4), -EINVAL);
	assert_int_equal(vdev_queue_get_stats(q, NULL, sizeof(big)), -EINVAL);
	vdev_free(dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_packed),
		cmocka_unit_test(test_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
