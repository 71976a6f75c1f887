/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Queue tests that hold for both ring layouts. A test program defines
 * LAYOUT (SPLIT or PACKED) and includes this file; VQ_RING_TESTS lists the
 * tests for cmocka.
 */
#ifndef VQ_RING_TESTS_H
#define VQ_RING_TESTS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vq_harness.h"

static void t_pop_push(void **state)
{
	struct h h;
	int tok;
	uint8_t *in;

	(void)state;
	h_setup(&h, 8, LAYOUT);
	assert_int_equal(vdev_queue_pop(h.q, &h.req), -EAGAIN);
	assert_false(vdev_queue_has_avail(h.q));
	h_add(&h, 1, 1, 100, &tok, 0);
	assert_true(vdev_queue_has_avail(h.q));
	h_pop(&h);
	assert_int_equal(h.req.nout, 1);
	assert_int_equal(h.req.nin, 1);
	assert_ptr_equal(h.req.out, h.iov);
	assert_ptr_equal(h.req.in, h.iov + 1);
	assert_int_equal(h.req.out_bytes, 100);
	assert_int_equal(h.req.in_bytes, 100);
	assert_int_equal(((uint8_t *)h.iov[0].iov_base)[99], 0x10);
	in = h.iov[1].iov_base;
	assert_int_equal(in[0], 0x11);
	memset(in, 0xab, 100);
	assert_int_equal(vdev_queue_inflight(h.q), 1);
	assert_int_equal(vdev_drv_ring_inflight(h.r), 1);
	assert_int_equal(vdev_queue_push(h.q, &h.req, 60), 0);
	assert_int_equal(vdev_queue_inflight(h.q), 0);
	assert_int_equal(vdev_queue_notify(h.q), 1);
	assert_int_equal(h.calls, 1);
	/* Nothing new: no second interrupt. */
	assert_int_equal(vdev_queue_notify(h.q), 0);
	h_used(&h, &tok, 60);
	assert_int_equal(vdev_drv_ring_inflight(h.r), 0);
	assert_int_equal(vdev_queue_pop(h.q, &h.req), -EAGAIN);
	h_teardown(&h);
}

/* Wrap both rings several times with chains of varying length. */
static void t_wrap(void **state)
{
	struct h h;
	static int toks[4];

	(void)state;
	h_setup(&h, 4, LAYOUT);
	for (unsigned round = 0; round < 200; round++) {
		unsigned n = 1 + round % 3;

		h_add(&h, n - 1, 1, 8, &toks[round % 4], 0);
		h_pop(&h);
		assert_int_equal(h.req.nout + h.req.nin, n);
		assert_int_equal(vdev_queue_push(h.q, &h.req, 8), 0);
		h_used(&h, &toks[round % 4], 8);
		vdev_queue_new_round(h.q);
	}
	h_teardown(&h);
}

static void t_batch(void **state)
{
	struct h h;
	struct vdev_req reqs[32], *rp[32];
	struct iovec iovs[32][4];
	uint32_t written[32];
	static int toks[32];

	(void)state;
	h_setup(&h, 64, LAYOUT);
	for (unsigned i = 0; i < 32; i++) {
		h_add(&h, 1, 1, 16, &toks[i], 0);
		h_init_req(&reqs[i], iovs[i], 4);
		rp[i] = &reqs[i];
		written[i] = i % 17;
	}
	assert_int_equal(vdev_queue_pop_batch(h.q, rp, 32), 32);
	assert_int_equal(vdev_queue_pop_batch(h.q, rp, 32), -EAGAIN);
	assert_int_equal(vdev_queue_push_batch(h.q, rp, written, 32), 0);
	assert_int_equal(vdev_queue_notify(h.q), 1);
	assert_int_equal(h.calls, 1);
	for (unsigned i = 0; i < 32; i++)
		h_used(&h, &toks[i], i % 17 > 16 ? 16 : i % 17);
	h_teardown(&h);
}

static void t_indirect(void **state)
{
	struct h h;
	int tok;

	(void)state;
	h_setup(&h, 4, LAYOUT | F_IND);
	/* Descriptors count across tables: 5 buffers > queue size 4. */
	h_add(&h, 2, 3, 32, &tok, VDEV_DRV_F_INDIRECT);
	assert_int_equal(vdev_queue_pop(h.q, &h.req), -EIO);
	h_teardown(&h);
	h_setup(&h, 8, LAYOUT | F_IND);
	h_add(&h, 2, 3, 32, &tok, VDEV_DRV_F_INDIRECT);
	h_pop(&h);
	assert_int_equal(h.req.nout, 2);
	assert_int_equal(h.req.nin, 3);
	assert_int_equal(h.req.out_bytes, 64);
	assert_int_equal(h.req.in_bytes, 96);
	assert_int_equal(((uint8_t *)h.iov[1].iov_base)[0], 0x11);
	assert_int_equal(((uint8_t *)h.iov[4].iov_base)[31], 0x14);
	assert_int_equal(vdev_queue_push(h.q, &h.req, 96), 0);
	h_used(&h, &tok, 96);
	/* Indirect chains use one ring entry each: more buffers than the
	 * ring has free entries. */
	for (unsigned i = 0; i < 8; i++)
		h_add(&h, 1, 3, 8, &tok, VDEV_DRV_F_INDIRECT);
	for (unsigned i = 0; i < 8; i++) {
		h_pop(&h);
		assert_int_equal(h.req.nout + h.req.nin, 4);
		assert_int_equal(vdev_queue_push(h.q, &h.req, 0), 0);
	}
	for (unsigned i = 0; i < 8; i++)
		h_used(&h, &tok, 0);
	h_teardown(&h);
}

/* Completions in any order; chains of different lengths. */
static void t_out_of_order(void **state)
{
	struct h h;
	struct vdev_req reqs[5], *rp[5];
	struct iovec iovs[5][4];
	static int toks[5];

	(void)state;
	h_setup(&h, 16, LAYOUT);
	for (unsigned round = 0; round < 20; round++) {
		for (unsigned i = 0; i < 5; i++) {
			h_add(&h, i % 2, 1 + (i + round) % 2, 8, &toks[i], 0);
			h_init_req(&reqs[i], iovs[i], 4);
			rp[i] = &reqs[i];
		}
		assert_int_equal(vdev_queue_pop_batch(h.q, rp, 5), 5);
		for (unsigned i = 0; i < 5; i++) {
			unsigned k = (i * 3 + round) % 5;

			assert_int_equal(vdev_queue_push(h.q, rp[k], k), 0);
			h_used(&h, &toks[k], k);
		}
		vdev_queue_new_round(h.q);
	}
	h_teardown(&h);
}

static void t_emsgsize(void **state)
{
	struct h h;
	struct iovec iov[2];
	int a, b;

	(void)state;
	h_setup(&h, 8, LAYOUT);
	h_add(&h, 2, 2, 8, &a, 0);
	h_add(&h, 1, 1, 8, &b, 0);
	h_init_req(&h.req, iov, 2);
	assert_int_equal(vdev_queue_pop(h.q, &h.req), -EMSGSIZE);
	assert_false(vdev_queue_broken(h.q));
	assert_int_equal(vdev_queue_inflight(h.q), 0);
	h_used(&h, &a, 0);
	h_init_req(&h.req, iov, 2);
	assert_int_equal(vdev_queue_pop(h.q, &h.req), 0);
	assert_int_equal(vdev_queue_push(h.q, &h.req, 3), 0);
	h_used(&h, &b, 3);
	h_teardown(&h);
}

static void t_budget(void **state)
{
	struct h h;
	int tok;

	(void)state;
	h_setup(&h, 16, LAYOUT);
	vdev_queue_set_budget(h.q, 3);
	for (unsigned i = 0; i < 5; i++)
		h_add(&h, 1, 0, 4, &tok, 0);
	for (unsigned i = 0; i < 3; i++) {
		h_pop(&h);
		vdev_queue_push(h.q, &h.req, 0);
	}
	assert_true(vdev_queue_budget_spent(h.q));
	assert_int_equal(vdev_queue_pop(h.q, &h.req), -EBUSY);
	vdev_queue_new_round(h.q);
	assert_false(vdev_queue_budget_spent(h.q));
	h_pop(&h);
	vdev_queue_push(h.q, &h.req, 0);
	vdev_queue_set_budget(h.q, 0);
	h_pop(&h);
	vdev_queue_push(h.q, &h.req, 0);
	assert_false(vdev_queue_budget_spent(h.q));
	assert_int_equal(vdev_queue_pop(h.q, &h.req), -EAGAIN);
	h_teardown(&h);
}

static void t_default_budget(void **state)
{
	struct h h;
	int tok;
	unsigned n = 0;

	(void)state;
	h_setup(&h, 512, LAYOUT);
	for (unsigned i = 0; i < 300; i++)
		h_add(&h, 1, 0, 4, &tok, 0);
	while (vdev_queue_pop(h.q, &h.req) == 0) {
		n++;
		vdev_queue_push(h.q, &h.req, 0);
		h_init_req(&h.req, h.iov, H_NIOV);
	}
	assert_int_equal(n, 256);
	assert_int_equal(vdev_queue_pop(h.q, &h.req), -EBUSY);
	h_teardown(&h);
}

static void t_written_clamped(void **state)
{
	struct h h;
	int tok;

	(void)state;
	h_setup(&h, 8, LAYOUT);
	h_add(&h, 1, 2, 10, &tok, 0);
	h_pop(&h);
	assert_int_equal(vdev_queue_push(h.q, &h.req, 1000), 0);
	h_used(&h, &tok, 20);
	h_teardown(&h);
}

static void t_bad_push(void **state)
{
	struct h h;
	struct vdev_req other;
	int tok;

	(void)state;
	h_setup(&h, 8, LAYOUT);
	h_init_req(&other, h.iov, 4);
	assert_int_equal(vdev_queue_push(h.q, &other, 0), -EINVAL);
	h_add(&h, 1, 0, 10, &tok, 0);
	h_pop(&h);
	assert_int_equal(vdev_queue_push(h.q, &h.req, 0), 0);
	assert_int_equal(vdev_queue_push(h.q, &h.req, 0), -EINVAL);
	h_teardown(&h);
}

/* Interrupt suppression without EVENT_IDX: the driver's flag. */
static void t_irq_flags(void **state)
{
	struct h h;
	int tok;

	(void)state;
	h_setup(&h, 8, LAYOUT);
	vdev_drv_ring_want_interrupts(h.r, false);
	h_add(&h, 1, 0, 4, &tok, 0);
	h_pop(&h);
	vdev_queue_push(h.q, &h.req, 0);
	assert_int_equal(vdev_queue_notify(h.q), 0);
	assert_int_equal(h.calls, 0);
	vdev_drv_ring_want_interrupts(h.r, true);
	h_add(&h, 1, 0, 4, &tok, 0);
	h_pop(&h);
	vdev_queue_push(h.q, &h.req, 0);
	assert_int_equal(vdev_queue_notify(h.q), 1);
	assert_int_equal(h.calls, 1);
	h_teardown(&h);
}

/* With EVENT_IDX: one interrupt until the driver caught up. */
static void t_irq_event_idx(void **state)
{
	struct h h;
	int tok;

	(void)state;
	h_setup(&h, 8, LAYOUT | F_EVT);
	vdev_drv_ring_want_interrupts(h.r, true);
	for (unsigned i = 0; i < 3; i++)
		h_add(&h, 1, 0, 4, &tok, 0);
	h_pop(&h);
	vdev_queue_push(h.q, &h.req, 0);
	assert_int_equal(vdev_queue_notify(h.q), 1);
	/* The driver has not looked yet: no second interrupt. */
	h_pop(&h);
	vdev_queue_push(h.q, &h.req, 0);
	assert_int_equal(vdev_queue_notify(h.q), 0);
	h_used(&h, &tok, 0);
	h_used(&h, &tok, 0);
	/* Caught up: the next completion interrupts again. */
	h_pop(&h);
	vdev_queue_push(h.q, &h.req, 0);
	assert_int_equal(vdev_queue_notify(h.q), 1);
	h_used(&h, &tok, 0);
	/* Interrupts off. */
	vdev_drv_ring_want_interrupts(h.r, false);
	h_add(&h, 1, 0, 4, &tok, 0);
	h_pop(&h);
	vdev_queue_push(h.q, &h.req, 0);
	assert_int_equal(vdev_queue_notify(h.q), 0);
	assert_int_equal(h.calls, 2);
	h_teardown(&h);
}

static void kicks(uint64_t features)
{
	struct h h;
	int tok;

	h_setup(&h, 8, LAYOUT | features);
	h_add(&h, 1, 0, 4, &tok, 0);
	assert_true(vdev_drv_ring_needs_kick(h.r));
	vdev_queue_disable_kicks(h.q);
	h_add(&h, 1, 0, 4, &tok, 0);
	assert_false(vdev_drv_ring_needs_kick(h.r));
	/* Buffers arrived while kicks were off: drain again. */
	assert_true(vdev_queue_enable_kicks(h.q));
	h_pop(&h);
	vdev_queue_push(h.q, &h.req, 0);
	h_pop(&h);
	vdev_queue_push(h.q, &h.req, 0);
	assert_false(vdev_queue_enable_kicks(h.q));
	h_add(&h, 1, 0, 4, &tok, 0);
	assert_true(vdev_drv_ring_needs_kick(h.r));
	if (features & F_EVT) {
		/* The device has not caught up with the first: no kick. */
		h_add(&h, 1, 0, 4, &tok, 0);
		assert_false(vdev_drv_ring_needs_kick(h.r));
	}
	h_teardown(&h);
}

static void t_kicks(void **state)
{
	(void)state;
	kicks(0);
	kicks(F_EVT);
}

/*
 * A device that waits for more buffers than it has (it counted 2 and
 * needs 3) must get the kick for the next one, although it left the two
 * in the ring: with EVENT_IDX the wish points past what it counted, not
 * at the first buffer it has not popped (which the driver added long
 * ago and will never kick for again).
 */
static void wait_for_more(uint64_t features)
{
	struct h h;
	int tok[4];

	h_setup(&h, 8, LAYOUT | features);
	h_add(&h, 0, 1, 4, &tok[0], 0);
	h_add(&h, 0, 1, 4, &tok[1], 0);
	assert_true(vdev_drv_ring_needs_kick(h.r));
	vdev_queue_disable_kicks(h.q);
	assert_int_equal(vdev_queue_avail_count(h.q, 3), 2);
	assert_true(vdev_queue_enable_kicks(h.q)); /* two still there */
	assert_false(vq_new_since_seen(h.q));
	h_add(&h, 0, 1, 4, &tok[2], 0);
	assert_true(vdev_drv_ring_needs_kick(h.r));
	/* Also seen without the kick (the window before the wish). */
	assert_true(vq_new_since_seen(h.q));
	vdev_queue_disable_kicks(h.q);
	assert_false(vq_new_since_seen(h.q)); /* a new round counts anew */
	assert_int_equal(vdev_queue_avail_count(h.q, 3), 3);
	for (unsigned i = 0; i < 3; i++) {
		h_pop(&h);
		vdev_queue_push(h.q, &h.req, 0);
	}
	assert_false(vdev_queue_enable_kicks(h.q));
	h_add(&h, 0, 1, 4, &tok[3], 0);
	assert_true(vdev_drv_ring_needs_kick(h.r));
	h_teardown(&h);
}

static void t_wait_for_more(void **state)
{
	(void)state;
	wait_for_more(0);
	wait_for_more(F_EVT);
}

static void t_in_order(void **state)
{
	struct h h;
	struct vdev_req reqs[4], *rp[4];
	struct iovec iovs[4][4];
	static int toks[4];

	(void)state;
	h_setup(&h, 8, LAYOUT | F_INORDER | F_IND);
	for (unsigned round = 0; round < 5; round++) {
		for (unsigned i = 0; i < 4; i++) {
			h_add(&h, 1, 1, 8, &toks[i],
			      i == 2 ? VDEV_DRV_F_INDIRECT : 0);
			h_init_req(&reqs[i], iovs[i], 4);
			rp[i] = &reqs[i];
		}
		assert_int_equal(vdev_queue_pop_batch(h.q, rp, 4), 4);
		for (unsigned i = 0; i < 4; i++)
			assert_int_equal(vdev_queue_push(h.q, rp[i], i), 0);
		for (unsigned i = 0; i < 4; i++)
			h_used(&h, &toks[i], i);
	}
	h_teardown(&h);
}

static void t_state(void **state)
{
	struct h h;
	struct vdev_queue_state st;
	struct vdev_queue_config cfg;
	struct vdev_queue *q2;
	static int toks[8];

	(void)state;
	h_setup(&h, 4, LAYOUT);
	/* Move the ring past a wrap, leave one chain available. */
	for (unsigned i = 0; i < 5; i++) {
		h_add(&h, 1, 0, 4, &toks[i], 0);
		h_pop(&h);
		vdev_queue_push(h.q, &h.req, 1);
		h_used(&h, &toks[i], 0);
	}
	h_add(&h, 0, 1, 4, &toks[5], 0);
	assert_int_equal(vdev_queue_get_state(h.q, &st), 0);
	assert_int_equal(st.avail_idx, LAYOUT ? 1 : 5);
	assert_int_equal(st.used_idx, LAYOUT ? 1 : 5);
	if (LAYOUT) {
		assert_false(st.avail_wrap);
		assert_false(st.used_wrap);
	}
	/* A second device queue takes over where the first stopped. */
	q2 = vdev_queue_new(vdev_drv_mem_map(h.m), 0);
	vdev_drv_ring_queue_config(h.r, &cfg);
	assert_int_equal(vdev_queue_configure(q2, &cfg), 0);
	assert_int_equal(vdev_queue_set_state(q2, &st), 0);
	h_init_req(&h.req, h.iov, H_NIOV);
	assert_int_equal(vdev_queue_pop(q2, &h.req), 0);
	assert_int_equal(h.req.in_bytes, 4);
	assert_int_equal(vdev_queue_set_state(q2, &st), -EBUSY);
	assert_int_equal(vdev_queue_push(q2, &h.req, 4), 0);
	h_used(&h, &toks[5], 4);
	if (LAYOUT) {
		st.avail_idx = 4;
		assert_int_equal(vdev_queue_set_state(q2, &st), -EINVAL);
	}
	vdev_queue_free(q2);
	h_teardown(&h);
}

static void t_reset(void **state)
{
	struct h h;
	struct vdev_queue_config cfg;
	int tok;

	(void)state;
	h_setup(&h, 8, LAYOUT);
	h_add(&h, 1, 1, 8, &tok, 0);
	h_pop(&h);
	vdev_queue_reset(h.q);
	assert_false(vdev_queue_ready(h.q));
	assert_int_equal(vdev_queue_inflight(h.q), 0);
	/* The iovecs stay readable. */
	assert_int_equal(((uint8_t *)h.iov[0].iov_base)[0], 0x10);
	assert_int_equal(vdev_queue_pop(h.q, &h.req), -EAGAIN);
	vdev_drv_ring_queue_config(h.r, &cfg);
	assert_int_equal(vdev_queue_configure(h.q, &cfg), 0);
	assert_int_equal(vdev_queue_push(h.q, &h.req, 8), -ESTALE);
	assert_int_equal(vdev_queue_push(h.q, &h.req, 8), -EINVAL);
	h_assert_no_used(&h);
	h_teardown(&h);
}

static void t_pop_id(void **state)
{
	struct h h;
	struct vdev_req again;
	struct iovec iov[8];
	int a, b;

	(void)state;
	h_setup(&h, 8, LAYOUT);
	h_add(&h, 1, 1, 8, &a, 0);
	h_add(&h, 2, 1, 8, &b, 0);
	h_pop(&h);
	h_pop(&h);
	h_init_req(&again, iov, 8);
	assert_int_equal(vdev_queue_pop_id(h.q, h.req.id, &again), 0);
	assert_int_equal(again.id, h.req.id);
	assert_int_equal(again.nout, 2);
	assert_ptr_equal(again.iov[1].iov_base, h.iov[1].iov_base);
	assert_int_equal(vdev_queue_inflight(h.q), 3);
	assert_int_equal(vdev_queue_push(h.q, &again, 8), 0);
	h_teardown(&h);
}

/* Counting what is available, bounded by @max, chains of any length. */
static void t_avail_count(void **state)
{
	struct h h;
	int tok[3];

	(void)state;
	h_setup(&h, 8, LAYOUT);
	assert_int_equal(vdev_queue_avail_count(h.q, 8), 0);
	for (int round = 0; round < 5; round++) {
		/* Three chains of 1, 2 and 3 descriptors: wraps a packed
		 * ring of 8 slots on the second round. */
		for (unsigned i = 0; i < 3; i++)
			h_add(&h, i, 1, 8, &tok[i], 0);
		assert_int_equal(vdev_queue_avail_count(h.q, 8), 3);
		assert_int_equal(vdev_queue_avail_count(h.q, 2), 2);
		assert_int_equal(vdev_queue_avail_count(h.q, 0), 0);
		for (unsigned i = 0; i < 3; i++) {
			h_pop(&h);
			assert_int_equal(vdev_queue_avail_count(h.q, 8),
					 2 - i);
			assert_int_equal(vdev_queue_push(h.q, &h.req, 0), 0);
			h_used(&h, &tok[i], 0);
		}
		vdev_queue_new_round(h.q);
	}
	/* A queue not configured has nothing. */
	vdev_queue_reset(h.q);
	assert_int_equal(vdev_queue_avail_count(h.q, 8), 0);
	h_teardown(&h);
}

/* Popped chains go back, last first, and come out again unchanged. */
static void t_unpop(void **state)
{
	struct h h;
	struct vdev_req r[3];
	struct iovec iov[3][4];
	void *first_base[3];
	int tok[3];

	(void)state;
	h_setup(&h, 8, LAYOUT);
	for (int round = 0; round < 4; round++) {
		for (unsigned i = 0; i < 3; i++)
			h_add(&h, i, 1, 8, &tok[i], 0);
		for (unsigned i = 0; i < 3; i++) {
			h_init_req(&r[i], iov[i], 4);
			assert_int_equal(vdev_queue_pop(h.q, &r[i]), 0);
			first_base[i] = r[i].iov[0].iov_base;
		}
		/* Out of order: refused, nothing changes. */
		assert_int_equal(vdev_queue_unpop(h.q, &r[1]), -EINVAL);
		assert_int_equal(vdev_queue_inflight(h.q), 3);
		assert_int_equal(vdev_queue_unpop(h.q, &r[2]), 0);
		assert_int_equal(vdev_queue_unpop(h.q, &r[1]), 0);
		assert_int_equal(vdev_queue_inflight(h.q), 1);
		assert_int_equal(vdev_queue_avail_count(h.q, 8), 2);
		/* Twice is once too many. */
		assert_int_equal(vdev_queue_unpop(h.q, &r[1]), -EINVAL);
		for (unsigned i = 1; i < 3; i++) {
			h_init_req(&r[i], iov[i], 4);
			assert_int_equal(vdev_queue_pop(h.q, &r[i]), 0);
			assert_ptr_equal(r[i].iov[0].iov_base, first_base[i]);
			assert_int_equal(r[i].nout + r[i].nin, i + 1);
		}
		assert_int_equal(vdev_queue_pop(h.q, &h.req), -EAGAIN);
		for (unsigned i = 0; i < 3; i++)
			assert_int_equal(vdev_queue_push(h.q, &r[i], i), 0);
		for (unsigned i = 0; i < 3; i++)
			h_used(&h, &tok[i], i);
		/* Pushed: not ours to give back any more. */
		assert_int_equal(vdev_queue_unpop(h.q, &r[2]), -EINVAL);
		vdev_queue_new_round(h.q);
	}
	h_teardown(&h);
}

/* An unpop gives the budget back; a reset releases instead. */
static void t_unpop_budget_reset(void **state)
{
	struct h h;
	struct vdev_req r[2];
	struct iovec iov[2][4];
	int tok[3];

	(void)state;
	h_setup(&h, 8, LAYOUT);
	vdev_queue_set_budget(h.q, 2);
	vdev_queue_new_round(h.q);
	for (unsigned i = 0; i < 3; i++)
		h_add(&h, 0, 1, 8, &tok[i], 0);
	for (unsigned i = 0; i < 2; i++) {
		h_init_req(&r[i], iov[i], 4);
		assert_int_equal(vdev_queue_pop(h.q, &r[i]), 0);
	}
	assert_int_equal(vdev_queue_pop(h.q, &h.req), -EBUSY);
	assert_int_equal(vdev_queue_unpop(h.q, &r[1]), 0);
	h_init_req(&r[1], iov[1], 4);
	assert_int_equal(vdev_queue_pop(h.q, &r[1]), 0);
	vdev_queue_reset(h.q);
	assert_int_equal(vdev_queue_unpop(h.q, &r[1]), -ESTALE);
	assert_int_equal(vdev_queue_push(h.q, &r[0], 0), -ESTALE);
	assert_int_equal(vdev_queue_inflight(h.q), 0);
	h_teardown(&h);
}

static void t_call_fd(void **state)
{
	struct h h;
	uint64_t v = 0;
	int fd = eventfd(0, EFD_NONBLOCK), tok;

	(void)state;
	assert_true(fd >= 0);
	h_setup(&h, 8, LAYOUT);
	vdev_queue_set_call_fn(h.q, NULL, NULL);
	vdev_queue_set_call_fd(h.q, fd);
	h_add(&h, 1, 0, 8, &tok, 0);
	h_pop(&h);
	vdev_queue_push(h.q, &h.req, 0);
	assert_int_equal(vdev_queue_notify(h.q), 1);
	assert_int_equal(read(fd, &v, 8), 8);
	assert_int_equal(v, 1);
	close(fd);
	h_teardown(&h);
}

static void t_configure_errors(void **state)
{
	struct h h;
	struct vdev_queue_config cfg, bad;
	int tok;

	(void)state;
	h_setup(&h, 8, LAYOUT);
	vdev_drv_ring_queue_config(h.r, &cfg);
	bad = cfg;
	bad.size = 0;
	assert_int_equal(vdev_queue_configure(h.q, &bad), -EINVAL);
	bad.size = 32769;
	assert_int_equal(vdev_queue_configure(h.q, &bad), -EINVAL);
	bad = cfg;
	bad.size = 6;
	assert_int_equal(vdev_queue_configure(h.q, &bad), LAYOUT ? 0 : -EINVAL);
	bad = cfg;
	bad.desc_addr += 8;
	assert_int_equal(vdev_queue_configure(h.q, &bad), -EINVAL);
	bad = cfg;
	bad.driver_addr += LAYOUT ? 2 : 1;
	assert_int_equal(vdev_queue_configure(h.q, &bad), -EINVAL);
	bad = cfg;
	bad.device_addr += 2;
	assert_int_equal(vdev_queue_configure(h.q, &bad), -EINVAL);
	bad = cfg;
	bad.desc_addr = H_BASE + H_RAM - 16;
	assert_int_equal(vdev_queue_configure(h.q, &bad), -EFAULT);
	bad = cfg;
	bad.device_addr = H_BASE + H_RAM;
	assert_int_equal(vdev_queue_configure(h.q, &bad), -EFAULT);
	assert_int_equal(vdev_queue_configure(h.q, &cfg), 0);
	h_add(&h, 1, 0, 8, &tok, 0);
	h_pop(&h);
	assert_int_equal(vdev_queue_configure(h.q, &cfg), -EBUSY);
	assert_int_equal(vdev_queue_set_mem(h.q, NULL), -EBUSY);
	vdev_queue_push(h.q, &h.req, 0);
	assert_int_equal(vdev_queue_configure(h.q, &cfg), 0);
	assert_true(vdev_queue_ready(h.q));
	assert_int_equal(vdev_queue_index(h.q), 0);
	vdev_queue_notification_data(h.q, 0x12345678);
	h_teardown(&h);
}

/* Zero-length buffers are legal; they produce no iovec. */
static void t_zero_len(void **state)
{
	struct h h;
	struct vdev_drv_seg segs[3];
	int tok;

	(void)state;
	h_setup(&h, 8, LAYOUT);
	segs[0] = (struct vdev_drv_seg){ h_buf(&h, 8, 1), 0 };
	segs[1] = (struct vdev_drv_seg){ h_buf(&h, 8, 2), 8 };
	segs[2] = (struct vdev_drv_seg){ H_BASE + H_RAM, 0 };
	assert_int_equal(vdev_drv_ring_add(h.r, segs, 2, 1, &tok, 0), 0);
	h_pop(&h);
	assert_int_equal(h.req.nout, 1);
	assert_int_equal(h.req.nin, 0);
	assert_int_equal(h.req.out_bytes, 8);
	assert_int_equal(h.req.in_bytes, 0);
	vdev_queue_push(h.q, &h.req, 5);
	h_used(&h, &tok, 0);
	h_teardown(&h);
}

/* A buffer that ends on the last byte of guest RAM; one that crosses the
 * boundary of two adjacent regions. */
static void t_edges(void **state)
{
	struct h h;
	struct vdev_drv_seg seg;
	int tok;

	(void)state;
	h_setup_mem(&h, 8, LAYOUT, H_RAM, 2);
	seg = (struct vdev_drv_seg){ H_BASE + H_RAM - 100, 100 };
	assert_int_equal(vdev_drv_ring_add(h.r, &seg, 1, 0, &tok, 0), 0);
	h_pop(&h);
	assert_int_equal(h.req.nout, 1);
	assert_int_equal(h.iov[0].iov_len, 100);
	vdev_queue_push(h.q, &h.req, 0);
	seg = (struct vdev_drv_seg){ H_BASE + H_RAM / 2 - 10, 30 };
	assert_int_equal(vdev_drv_ring_add(h.r, &seg, 0, 1, &tok, 0), 0);
	h_pop(&h);
	assert_int_equal(h.req.nin, 2);
	assert_int_equal(h.iov[0].iov_len, 10);
	assert_int_equal(h.iov[1].iov_len, 20);
	assert_int_equal(h.req.in_bytes, 30);
	memset(h.iov[0].iov_base, 0x5a, 10);
	memset(h.iov[1].iov_base, 0x5b, 20);
	assert_int_equal(*(uint8_t *)vdev_drv_mem_host(h.m, seg.gpa + 9), 0x5a);
	assert_int_equal(*(uint8_t *)vdev_drv_mem_host(h.m, seg.gpa + 10),
			 0x5b);
	vdev_queue_push(h.q, &h.req, 30);
	h_used(&h, &tok, 0);
	h_used(&h, &tok, 30);
	/* Alternate between the regions: each lookup must find the right
	 * one whatever served the one before. */
	for (unsigned i = 0; i < 6; i++) {
		uint64_t gpa = i % 3 ? H_BASE + H_RAM - 64 : H_BASE + 4096;

		seg = (struct vdev_drv_seg){ gpa, 64 };
		assert_int_equal(vdev_drv_ring_add(h.r, &seg, 1, 0, &tok, 0),
				 0);
		h_pop(&h);
		assert_int_equal(h.req.nout, 1);
		assert_ptr_equal(h.iov[0].iov_base,
				 vdev_mem_ptr(h.q->t, gpa, 64));
		vdev_queue_push(h.q, &h.req, 0);
		h_used(&h, &tok, 0);
	}
	h_teardown(&h);
}

/* The memory table changes with a request in flight: its iovecs stay
 * valid, the old snapshot goes when the request is pushed. */
static void t_mem_replace_inflight(void **state)
{
	struct h h;
	struct vdev_req r2;
	struct iovec iov2[4];
	struct vdev_mem_region reg = {
		.guest_addr = H_BASE, .size = H_RAM, .fd_offset = 0,
	};
	struct vdev_mem_table *old;
	void *page;
	int a, b;

	(void)state;
	h_setup(&h, 8, LAYOUT);
	reg.fd = vdev_drv_mem_fd(h.m);
	h_add(&h, 1, 1, 64, &a, 0);
	h_add(&h, 1, 1, 64, &b, 0);
	h_pop(&h);
	old = h.q->slots[h.q->cur].t;
	assert_int_equal(vdev_mem_replace(vdev_drv_mem_map(h.m), &reg, 1), 0);
	h_init_req(&r2, iov2, 4);
	assert_int_equal(vdev_queue_pop(h.q, &r2), 0);
	assert_ptr_not_equal(h.q->slots[h.q->cur].t, old);
	assert_ptr_not_equal(r2.iov[0].iov_base, h.iov[0].iov_base);
	/* Still mapped: the queue holds the old snapshot. */
	page = (void *)((uintptr_t)h.iov[1].iov_base & ~(uintptr_t)4095);
	assert_int_equal(msync(page, 4096, MS_ASYNC), 0);
	memset(h.iov[1].iov_base, 0x77, 64);
	assert_int_equal(*(uint8_t *)r2.iov[0].iov_base, 0x10);
	assert_int_equal(vdev_queue_push(h.q, &h.req, 64), 0);
	for (unsigned i = 0; i < VQ_SLOTS; i++)
		assert_ptr_not_equal(h.q->slots[i].t, old);
	/* The last user is gone: the old mapping is unmapped now. */
	assert_int_equal(msync(page, 4096, MS_ASYNC), -1);
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(vdev_queue_push(h.q, &r2, 0), 0);
	h_used(&h, &a, 64);
	h_used(&h, &b, 0);
	h_teardown(&h);
}

/* Snapshots all busy: pop waits instead of allocating. */
static void t_mem_slots_full(void **state)
{
	struct h h;
	struct vdev_req reqs[VQ_SLOTS + 1];
	struct iovec iovs[VQ_SLOTS + 1][4];
	struct vdev_mem_region reg = { .guest_addr = H_BASE, .size = H_RAM };
	struct vdev_mem *map;
	int tok;

	(void)state;
	h_setup(&h, 16, LAYOUT);
	map = vdev_drv_mem_map(h.m);
	reg.fd = vdev_drv_mem_fd(h.m);
	for (unsigned i = 0; i <= VQ_SLOTS; i++)
		h_add(&h, 1, 0, 8, &tok, 0);
	for (unsigned i = 0; i < VQ_SLOTS; i++) {
		h_init_req(&reqs[i], iovs[i], 4);
		assert_int_equal(vdev_queue_pop(h.q, &reqs[i]), 0);
		assert_int_equal(vdev_mem_replace(map, &reg, 1), 0);
	}
	h_init_req(&reqs[VQ_SLOTS], iovs[VQ_SLOTS], 4);
	assert_int_equal(vdev_queue_pop(h.q, &reqs[VQ_SLOTS]), -EBUSY);
	assert_int_equal(vdev_queue_push(h.q, &reqs[1], 0), 0);
	assert_int_equal(vdev_queue_pop(h.q, &reqs[VQ_SLOTS]), 0);
	for (unsigned i = 0; i <= VQ_SLOTS; i++)
		if (i != 1)
			assert_int_equal(vdev_queue_push(h.q, &reqs[i], 0), 0);
	assert_int_equal(vdev_queue_inflight(h.q), 0);
	h_teardown(&h);
}

/* The ring leaves guest memory: the queue breaks at the next pop. */
static void t_mem_ring_removed(void **state)
{
	struct h h;
	int tok;

	(void)state;
	struct vdev_req r2;
	struct iovec iov2[4];

	h_setup(&h, 8, LAYOUT);
	h_add(&h, 1, 0, 8, &tok, 0);
	h_add(&h, 1, 0, 8, &tok, 0);
	h_pop(&h);
	assert_int_equal(vdev_mem_replace(vdev_drv_mem_map(h.m), NULL, 0), 0);
	h_init_req(&r2, iov2, 4);
	assert_int_equal(vdev_queue_pop(h.q, &r2), -EIO);
	assert_true(vdev_queue_broken(h.q));
	assert_string_equal(h.q->why, "ring no longer inside guest memory");
	/* Nothing touches the unmapped ring; the request is released. */
	assert_int_equal(((uint8_t *)h.iov[0].iov_base)[0], 0x10);
	assert_int_equal(vdev_queue_push(h.q, &h.req, 0), 0);
	assert_int_equal(vdev_queue_inflight(h.q), 0);
	assert_int_equal(vdev_queue_notify(h.q), 0);
	vdev_queue_disable_kicks(h.q);
	assert_false(vdev_queue_enable_kicks(h.q));
	assert_false(vdev_queue_has_avail(h.q));
	h_teardown(&h);
}

/* A control thread replaces the memory table (fresh mappings each time)
 * while the worker pops, reads, writes and pushes with requests held in
 * flight across the changes. ASan and the data checks catch any use of a
 * released mapping. */
struct race {
	struct vdev_mem *map;
	struct vdev_mem_region reg;
	atomic_int stop;
	atomic_uint replaces;
};

static void *replacer(void *arg)
{
	struct race *rc = arg;

	while (!atomic_load(&rc->stop)) {
		assert_int_equal(vdev_mem_replace(rc->map, &rc->reg, 1), 0);
		atomic_fetch_add(&rc->replaces, 1);
	}
	return NULL;
}

static void t_mem_replace_race(void **state)
{
	struct h h;
	struct race rc;
	struct vdev_req reqs[3];
	struct iovec iovs[3][4];
	static int toks[3];
	struct vdev_drv_seg segs[3][2];
	pthread_t th;
	unsigned done = 0;

	(void)state;
	h_setup(&h, 16, LAYOUT);
	memset(&rc, 0, sizeof(rc));
	rc.map = vdev_drv_mem_map(h.m);
	rc.reg = (struct vdev_mem_region){ .guest_addr = H_BASE,
					   .size = H_RAM,
					   .fd = vdev_drv_mem_fd(h.m) };
	assert_int_equal(pthread_create(&th, NULL, replacer, &rc), 0);
	for (unsigned k = 0; k < 3; k++) {
		segs[k][0] = (struct vdev_drv_seg){ h_buf(&h, 8, 0x10), 8 };
		segs[k][1] = (struct vdev_drv_seg){ h_buf(&h, 8, 0), 8 };
	}
	/* Run until both sides did plenty, whoever is faster. */
	for (unsigned it = 0; it < 3000 || atomic_load(&rc.replaces) < 300;
	     it++) {
		unsigned k = it % 3;
		int ret;

		if (it >= 3) {
			/* The request popped 3 iterations ago. */
			uint8_t *in = reqs[k].in[0].iov_base;

			assert_int_equal(((uint8_t *)reqs[k].out[0].iov_base)[7],
					 0x10);
			memset(in, 0x42, 8);
			assert_int_equal(vdev_queue_push(h.q, &reqs[k], 8), 0);
			h_used(&h, &toks[k], 8);
			done++;
		}
		assert_int_equal(vdev_drv_ring_add(h.r, segs[k], 1, 1, &toks[k],
						   0), 0);
		h_init_req(&reqs[k], iovs[k], 4);
		do
			ret = vdev_queue_pop(h.q, &reqs[k]);
		while (ret == -EBUSY && (vdev_queue_new_round(h.q), 1));
		assert_int_equal(ret, 0);
	}
	atomic_store(&rc.stop, 1);
	pthread_join(th, NULL);
	for (unsigned k = 0; k < 3; k++)
		assert_int_equal(vdev_queue_push(h.q, &reqs[k], 0), 0);
	assert_int_equal(vdev_queue_inflight(h.q), 0);
	assert_true(done > 0 && rc.replaces > 0);
	h_teardown(&h);
}

static void t_dirty_log(void **state)
{
	struct h h;
	uint8_t log[(H_BASE + H_RAM) / 4096 / 8];
	uint64_t gpa;
	struct vdev_queue_config cfg;
	int tok;

	(void)state;
	memset(log, 0, sizeof(log));
	h_setup(&h, 8, LAYOUT);
	vdev_drv_ring_queue_config(h.r, &cfg);
	assert_int_equal(vdev_mem_set_dirty_log(vdev_drv_mem_map(h.m), log,
						sizeof(log)), 0);
	/* Writable buffer on its own pages, far from the ring. */
	assert_non_null(vdev_drv_mem_alloc(h.m, 3 * 4096, 4096, &gpa));
	h_add(&h, 1, 0, 8, &tok, 0);
	{
		struct vdev_drv_seg segs[2] = { { gpa, 4096 },
						{ gpa + 4096, 8192 } };

		assert_int_equal(vdev_drv_ring_add(h.r, segs, 0, 2, &tok, 0),
				 0);
	}
	h_pop(&h);
	vdev_queue_push(h.q, &h.req, 0);
	h_pop(&h);
	/* Only what was written is dirty. */
	vdev_queue_push(h.q, &h.req, 4097);
#define BIT(g) ((log[(g) / 4096 / 8] >> ((g) / 4096 % 8)) & 1)
	assert_int_equal(BIT(gpa), 1);
	assert_int_equal(BIT(gpa + 4096), 1);
	assert_int_equal(BIT(gpa + 8192), 0);
	assert_int_equal(BIT(LAYOUT ? cfg.desc_addr : cfg.device_addr), 1);
#undef BIT
	assert_int_equal(vdev_mem_set_dirty_log(vdev_drv_mem_map(h.m), NULL,
						0), 0);
	h_teardown(&h);
}

/*
 * A batch meets what single pops meet: chains of one buffer and of
 * several, a zero-length one, one with more buffers than its request has
 * iovecs (completed on the spot, its place in the batch reused), the
 * budget running out half-way; and push_batch meets a request that is not
 * in flight among good ones.
 */
static void t_batch_mixed(void **state)
{
	struct h h;
	struct vdev_req reqs[8], bogus, *rp[8];
	struct iovec iovs[8][2];
	static int toks[8];
	uint32_t w[6] = { 5, 9, 0, 7, 3, 40 };

	(void)state;
	h_setup(&h, 16, LAYOUT | F_EVT);
	h_add(&h, 1, 0, 16, &toks[0], 0);
	h_add(&h, 0, 1, 16, &toks[1], 0);
	h_add(&h, 2, 2, 8, &toks[2], 0); /* 4 buffers, 2 iovecs */
	h_add(&h, 1, 1, 8, &toks[3], 0);
	h_add(&h, 0, 1, 0, &toks[4], 0);
	h_add(&h, 0, 1, 32, &toks[5], 0);
	vdev_drv_ring_needs_kick(h.r); /* the driver kicked for those */
	for (unsigned i = 0; i < 8; i++) {
		h_init_req(&reqs[i], iovs[i], 2);
		rp[i] = &reqs[i];
	}
	vdev_queue_set_budget(h.q, 4);
	assert_int_equal(vdev_queue_pop_batch(h.q, rp, 8), 3);
	assert_true(vdev_queue_budget_spent(h.q));
	assert_int_equal(vdev_queue_pop_batch(h.q, rp + 3, 5), -EBUSY);
	h_used(&h, &toks[2], 0); /* sent back at once, nothing written */
	assert_int_equal(reqs[0].nout, 1);
	assert_int_equal(reqs[0].nin, 0);
	assert_int_equal(reqs[0].out_bytes, 16);
	assert_int_equal(reqs[0].in_bytes, 0);
	assert_int_equal(((uint8_t *)reqs[0].out[0].iov_base)[15], 0x10);
	assert_int_equal(reqs[1].nout, 0);
	assert_int_equal(reqs[1].nin, 1);
	assert_ptr_equal(reqs[1].in, iovs[1]);
	assert_int_equal(reqs[1].in[0].iov_len, 16);
	assert_int_equal(reqs[1].in_bytes, 16);
	assert_int_equal(reqs[2].nout, 1);
	assert_int_equal(reqs[2].nin, 1);
	assert_int_equal(reqs[2].out_bytes + reqs[2].in_bytes, 16);
	vdev_queue_new_round(h.q);
	assert_int_equal(vdev_queue_pop_batch(h.q, rp + 3, 5), 2);
	assert_int_equal(reqs[3].nout + reqs[3].nin, 0);
	assert_int_equal(reqs[3].in_bytes, 0);
	assert_int_equal(reqs[4].nin, 1);
	assert_int_equal(reqs[4].in_bytes, 32);
	assert_int_equal(vdev_queue_pop_batch(h.q, rp, 1), -EAGAIN);
	assert_int_equal(vdev_queue_inflight(h.q), 5);
	/* With EVENT_IDX the device asked for a kick for the next chain. */
	h_add(&h, 1, 0, 4, &toks[6], 0);
	assert_true(vdev_drv_ring_needs_kick(h.r));

	h_init_req(&bogus, iovs[7], 2);
	{
		struct vdev_req *pb[6] = { rp[0], rp[1], &bogus,
					   rp[2], rp[3], rp[4] };

		assert_int_equal(vdev_queue_push_batch(h.q, pb, w, 6), -EINVAL);
	}
	assert_int_equal(vdev_queue_inflight(h.q), 0);
	assert_true(vdev_queue_notify(h.q) >= 0);
	h_used(&h, &toks[0], 0);  /* nothing writable */
	h_used(&h, &toks[1], 9);
	h_used(&h, &toks[3], 7);  /* w[2] was the bogus one's */
	h_used(&h, &toks[4], 0);  /* zero-length */
	h_used(&h, &toks[5], 32); /* clamped */
	/* Pushed once is pushed: again is refused, nothing is written. */
	assert_int_equal(vdev_queue_push_batch(h.q, rp, w, 2), -EINVAL);
	{
		void *tok;
		uint32_t len;

		assert_int_equal(vdev_drv_ring_get_used(h.r, &tok, &len),
				 -EAGAIN);
	}
	h_teardown(&h);
}

/*
 * The same wait without counting (virtio-net's rx: a frame needs more
 * mergeable buffers than there are): the device pops what is there, the
 * next pop finds the ring empty, it gives the chains back and waits. Its
 * wish must point at the driver's next buffer, not at the first chain it
 * gave back (the driver published that one already and under EVENT_IDX
 * never kicks for it again), whether kicks were off during the pops (a
 * round, which then enables them) or on (an fd callback outside one).
 */
static void wait_after_unpop(uint64_t features, bool in_round)
{
	struct h h;
	struct vdev_req r[2];
	struct iovec iov[2][4];
	int tok[3];

	h_setup(&h, 8, LAYOUT | features);
	if (!in_round)
		assert_false(vdev_queue_enable_kicks(h.q));
	for (unsigned i = 0; i < 2; i++)
		h_add(&h, 0, 1, 4, &tok[i], 0);
	vdev_drv_ring_needs_kick(h.r);
	if (in_round)
		vdev_queue_disable_kicks(h.q);
	for (unsigned i = 0; i < 2; i++) {
		h_init_req(&r[i], iov[i], 4);
		assert_int_equal(vdev_queue_pop(h.q, &r[i]), 0);
	}
	assert_int_equal(vdev_queue_pop(h.q, &h.req), -EAGAIN);
	assert_int_equal(vdev_queue_unpop(h.q, &r[1]), 0);
	assert_int_equal(vdev_queue_unpop(h.q, &r[0]), 0);
	if (in_round) {
		assert_true(vdev_queue_enable_kicks(h.q)); /* two there */
		assert_false(vq_new_since_seen(h.q));
	}
	h_add(&h, 0, 1, 4, &tok[2], 0);
	assert_true(vdev_drv_ring_needs_kick(h.r));
	for (unsigned i = 0; i < 3; i++) {
		h_pop(&h);
		vdev_queue_push(h.q, &h.req, 0);
	}
	h_teardown(&h);
}

static void t_wait_after_unpop(void **state)
{
	(void)state;
	for (int in_round = 0; in_round < 2; in_round++) {
		wait_after_unpop(0, in_round);
		wait_after_unpop(F_EVT, in_round);
	}
}

#define VQ_RING_TESTS                                                      \
	cmocka_unit_test(t_pop_push), cmocka_unit_test(t_wrap),            \
	cmocka_unit_test(t_batch), cmocka_unit_test(t_batch_mixed),        \
	cmocka_unit_test(t_indirect),                                      \
	cmocka_unit_test(t_out_of_order),                                  \
	cmocka_unit_test(t_emsgsize), cmocka_unit_test(t_budget),          \
	cmocka_unit_test(t_default_budget),                                \
	cmocka_unit_test(t_written_clamped), cmocka_unit_test(t_bad_push), \
	cmocka_unit_test(t_irq_flags), cmocka_unit_test(t_irq_event_idx),  \
	cmocka_unit_test(t_kicks), cmocka_unit_test(t_in_order),           \
	cmocka_unit_test(t_state), cmocka_unit_test(t_reset),              \
	cmocka_unit_test(t_pop_id), cmocka_unit_test(t_call_fd),           \
	cmocka_unit_test(t_avail_count), cmocka_unit_test(t_unpop),        \
	cmocka_unit_test(t_unpop_budget_reset),                            \
	cmocka_unit_test(t_wait_for_more),                                 \
	cmocka_unit_test(t_wait_after_unpop),                              \
	cmocka_unit_test(t_configure_errors),                              \
	cmocka_unit_test(t_zero_len), cmocka_unit_test(t_edges),           \
	cmocka_unit_test(t_mem_replace_inflight),                          \
	cmocka_unit_test(t_mem_slots_full),                                \
	cmocka_unit_test(t_mem_ring_removed), cmocka_unit_test(t_dirty_log), \
	cmocka_unit_test(t_mem_replace_race)

#endif /* VQ_RING_TESTS_H */
