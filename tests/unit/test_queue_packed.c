/* SPDX-License-Identifier: BSD-3-Clause */
/* Packed virtqueue: the tests common to both layouts, on a packed ring. */
#define LAYOUT PACKED
#include "vq_ring_tests.h"

/* Packed rings may have any size: wrap a ring of 5 with chains that
 * straddle the end, completed out of order. */
static void t_odd_size(void **state)
{
	struct h h;
	struct vdev_req reqs[2], *rp[2];
	struct iovec iovs[2][4];
	static int toks[2];

	(void)state;
	h_setup(&h, 5, PACKED | F_IND);
	for (unsigned round = 0; round < 40; round++) {
		h_add(&h, 1, 1, 8, &toks[0], 0);
		h_add(&h, round % 2, 1, 8, &toks[1],
		      round % 3 ? 0 : VDEV_DRV_F_INDIRECT);
		for (unsigned i = 0; i < 2; i++) {
			h_init_req(&reqs[i], iovs[i], 4);
			rp[i] = &reqs[i];
		}
		assert_int_equal(vdev_queue_pop_batch(h.q, rp, 2), 2);
		assert_int_equal(vdev_queue_push(h.q, rp[1], 1), 0);
		assert_int_equal(vdev_queue_push(h.q, rp[0], 0), 0);
		h_used(&h, &toks[1], 1);
		h_used(&h, &toks[0], 0);
		vdev_queue_new_round(h.q);
	}
	assert_int_equal(vdev_queue_pop(h.q, &h.req), -EAGAIN);
	h_teardown(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		VQ_RING_TESTS,
		cmocka_unit_test(t_odd_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
