/* SPDX-License-Identifier: BSD-3-Clause */
/* The software driver's device layer (struct vdev_drv). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <virtio/testing.h>
#include <virtio/transport.h>

#include "vcore_tdev.h"

static struct tdev T;

static void test_new_free(void **state)
{
	struct vdev_drv *drv;

	errno = 0;
	assert_null(vdev_drv_new(NULL, NULL));
	assert_int_equal(errno, EINVAL);
	assert_non_null(tdev_new(&T, 2, 256, 1));
	drv = vdev_drv_new(T.dev, NULL); /* all defaults */
	assert_non_null(drv);
	assert_ptr_equal(vdev_drv_device(drv), T.dev);
	assert_non_null(vdev_drv_get_mem(drv));
	assert_int_equal(vdev_drv_mem_size(vdev_drv_get_mem(drv)), 16u << 20);
	assert_ptr_equal(vdev_get_mem(T.dev),
			 vdev_drv_mem_map(vdev_drv_get_mem(drv)));
	assert_null(vdev_drv_ring(drv, 0));
	assert_null(vdev_drv_ring(drv, 2));
	assert_int_equal(vdev_drv_kick(drv, 0), -EINVAL);
	assert_int_equal(vdev_drv_wait(drv, 0, 0, NULL, NULL), -EINVAL);
	assert_int_equal(vdev_drv_setup_queue(drv, 2, 0), -EINVAL);
	assert_int_equal(vdev_drv_init(drv), 0);
	assert_non_null(vdev_drv_ring(drv, 0));
	assert_int_equal(vdev_get_status(T.dev),
			 VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER |
				 VDEV_STATUS_FEATURES_OK |
				 VDEV_STATUS_DRIVER_OK);
	/* Defaults: split ring, every other offered feature taken. */
	assert_false(vdev_has_feature(T.dev, VDEV_F_RING_PACKED));
	assert_true(vdev_has_feature(T.dev, VDEV_F_EVENT_IDX));
	assert_true(vdev_has_feature(T.dev, TDEV_F_X));
	vdev_drv_free(drv);
	/* The device is left reset and detached. */
	assert_int_equal(vdev_get_status(T.dev), 0);
	assert_null(vdev_get_mem(T.dev));
	vdev_drv_free(NULL);
	vdev_free(T.dev);
}

static void test_negotiation(void **state)
{
	struct vdev_drv_config dc = {
		.refuse = VDEV_BIT(VDEV_F_EVENT_IDX) | VDEV_BIT(TDEV_F_X),
		.packed = true,
	};
	struct vdev_drv *drv;
	uint64_t offered;

	assert_non_null(tdev_new(&T, 2, 256, 1));
	drv = vdev_drv_new(T.dev, &dc);
	assert_int_equal(vdev_drv_init(drv), 0);
	assert_true(vdev_has_feature(T.dev, VDEV_F_RING_PACKED));
	assert_false(vdev_has_feature(T.dev, VDEV_F_EVENT_IDX));
	assert_false(vdev_has_feature(T.dev, TDEV_F_X));
	/* A feature the device does not offer: FEATURES_OK does not
	 * stick and the driver sees it. */
	offered = vdev_device_features(T.dev);
	assert_int_equal(vdev_drv_negotiate(drv, offered | VDEV_BIT(20)),
			 -EPROTO);
	assert_false(vdev_get_status(T.dev) & VDEV_STATUS_FEATURES_OK);
	assert_int_equal(vdev_drv_negotiate(drv, offered &
					    ~VDEV_BIT(VDEV_F_VERSION_1)),
			 -EPROTO);
	/* DRIVER_OK without FEATURES_OK is refused. */
	assert_int_equal(vdev_drv_driver_ok(drv), -EINVAL);
	/* Steps: a queue size of our own choosing. */
	assert_int_equal(vdev_drv_negotiate(drv, offered), 0);
	assert_int_equal(vdev_drv_setup_queue(drv, 0, 16), 0);
	assert_int_equal(vdev_drv_setup_queue(drv, 1, 0), 0);
	assert_int_equal(vdev_drv_driver_ok(drv), 0);
	{
		struct vdev_queue_config qc;

		vdev_drv_ring_queue_config(vdev_drv_ring(drv, 0), &qc);
		assert_int_equal(qc.size, 16);
		vdev_drv_ring_queue_config(vdev_drv_ring(drv, 1), &qc);
		assert_int_equal(qc.size, 256);
	}
	vdev_drv_free(drv);
	vdev_free(T.dev);
}

static void test_default_sizes(void **state)
{
	for (int packed = 0; packed < 2; packed++) {
		struct vdev_drv_config dc = { .packed = packed };
		struct vdev_queue_config qc;
		struct vdev_drv *drv;

		/* A device maximum that is not a power of two. */
		assert_non_null(tdev_new(&T, 1, 100, 1));
		drv = vdev_drv_new(T.dev, &dc);
		assert_int_equal(vdev_drv_init(drv), 0);
		vdev_drv_ring_queue_config(vdev_drv_ring(drv, 0), &qc);
		assert_int_equal(qc.size, packed ? 100 : 64);
		vdev_drv_free(drv);
		vdev_free(T.dev);
	}
}

static void test_xfer_and_interrupts(void **state)
{
	for (int k = 0; k < 4; k++) {
		struct vdev_drv_config dc = {
			.packed = k & 1,
			.use_eventfds = k & 2,
			.mem_regions = 4,
			.mem_size = 1 << 20,
		};
		struct vdev_drv *drv;
		uint8_t out[3000], in[3000];
		uint32_t w;

		for (size_t i = 0; i < sizeof(out); i++)
			out[i] = (uint8_t)(i * 13);
		assert_non_null(tdev_new(&T, 2, 256, 1));
		drv = vdev_drv_new(T.dev, &dc);
		assert_int_equal(vdev_drv_init(drv), 0);
		for (int i = 0; i < 100; i++) {
			memset(in, 0, sizeof(in));
			assert_int_equal(vdev_drv_xfer(drv, i & 1, out,
						       sizeof(out), in,
						       sizeof(in), &w, 1000),
					 0);
			assert_int_equal(w, sizeof(out));
			assert_memory_equal(in, out, sizeof(out));
		}
		assert_true(vdev_drv_interrupts(drv, 0) >= 1);
		assert_true(vdev_drv_interrupts(drv, 1) >= 1);
		assert_int_equal(vdev_drv_interrupts(drv, 2), 0);
		assert_int_equal(vdev_drv_xfer(drv, 0, NULL, 0, NULL, 0, &w,
					       10), -EINVAL);
		assert_int_equal(vdev_drv_xfer(drv, 5, out, 1, in, 1, &w, 10),
				 -EINVAL);
		/* Nothing pending: a wait times out. */
		assert_int_equal(vdev_drv_wait(drv, 0, 10, NULL, NULL),
				 -ETIMEDOUT);
		/* Larger than guest RAM. */
		{
			static uint8_t big[2 << 20];

			assert_int_equal(vdev_drv_xfer(drv, 0, big,
						       sizeof(big), NULL, 0,
						       &w, 10), -ENOMEM);
		}
		vdev_drv_free(drv);
		vdev_free(T.dev);
	}
}

/* With eventfd kicks the device sees a request only when the driver's
 * loop runs: a wait with a zero timeout must run it, not give up first. */
static void test_wait_zero_polls(void **state)
{
	struct vdev_drv_config dc = { .use_eventfds = true };
	struct vdev_drv *drv;
	struct vdev_drv_seg seg[2];
	uint8_t *out, *in;
	void *tok = NULL;
	uint32_t len = 0;

	assert_non_null(tdev_new(&T, 1, 256, 1));
	drv = vdev_drv_new(T.dev, &dc);
	assert_int_equal(vdev_drv_init(drv), 0);
	out = vdev_drv_mem_alloc(vdev_drv_get_mem(drv), 16, 16, &seg[0].gpa);
	in = vdev_drv_mem_alloc(vdev_drv_get_mem(drv), 16, 16, &seg[1].gpa);
	assert_non_null(out);
	assert_non_null(in);
	memset(out, 0x5a, 16);
	seg[0].len = seg[1].len = 16;
	assert_int_equal(vdev_drv_wait(drv, 0, 0, NULL, NULL), -ETIMEDOUT);
	assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(drv, 0), seg, 1, 1,
					   out, 0), 0);
	assert_int_equal(vdev_drv_kick(drv, 0), 0);
	assert_int_equal(vdev_drv_wait(drv, 0, 0, &tok, &len), 0);
	assert_ptr_equal(tok, out);
	assert_int_equal(len, 16);
	assert_memory_equal(in, out, 16);
	vdev_drv_free(drv);
	vdev_free(T.dev);
}

static void test_config(void **state)
{
	struct vdev_drv *drv;
	uint32_t v = 0xabcd, r = 0;

	assert_non_null(tdev_new(&T, 1, 256, 1));
	drv = vdev_drv_new(T.dev, NULL);
	assert_int_equal(vdev_drv_init(drv), 0);
	assert_int_equal(vdev_drv_config_write(drv, 4, &v, 4), 0);
	assert_int_equal(vdev_drv_config_read(drv, 4, &r, 4), 0);
	assert_int_equal(r, 0xabcd);
	assert_int_equal(vdev_drv_config_write(drv, 0, &v, 4), -EPERM);
	assert_int_equal(vdev_drv_config_read(drv, 6, &r, 4), -ERANGE);
	assert_int_equal(vdev_drv_config_interrupts(drv), 0);
	vdev_config_changed(T.dev);
	assert_int_equal(vdev_drv_config_interrupts(drv), 1);
	vdev_drv_free(drv);
	vdev_free(T.dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_free),
		cmocka_unit_test(test_negotiation),
		cmocka_unit_test(test_default_sizes),
		cmocka_unit_test(test_xfer_and_interrupts),
		cmocka_unit_test(test_wait_zero_polls),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
