/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Inflight tracking (vdev_queue_set_inflight, vhost-user
 * PROTOCOL_F_INFLIGHT_SHMFD): a back-end that dies with requests in flight
 * is replaced by a fresh queue on the same ring and region, which must pop
 * exactly the chains that were never completed, oldest first, and then
 * carry on with new ones. The "crash" is a queue freed without its pushes.
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "touchtrap.h"
#include "vq_harness.h"

#define QS 16
#define NREQ 5

struct crash {
	struct h h;
	struct vq_ifl_split *ifl;
	size_t len;
	struct vdev_req req[NREQ];
	struct iovec iov[NREQ][4];
	uint16_t head[NREQ];
};

static void crash_setup(struct crash *c)
{
	h_setup(&c->h, QS, SPLIT);
	c->len = sizeof(*c->ifl) + QS * sizeof(c->ifl->desc[0]);
	c->ifl = calloc(1, c->len);
	assert_non_null(c->ifl);
	c->ifl->desc_num = vdev_cpu_to_le16(QS);
	assert_int_equal(vdev_queue_set_inflight(c->h.q, c->ifl, c->len), 0);
}

static void crash_pop(struct crash *c, unsigned i)
{
	h_init_req(&c->req[i], c->iov[i], 4);
	assert_int_equal(vdev_queue_pop(c->h.q, &c->req[i]), 0);
	c->head[i] = (uint16_t)c->req[i].id;
}

/* The back-end dies: its queue goes, the ring and the region stay. A new
 * queue starts where the frontend says (the used index after a failed
 * GET_VRING_BASE), and recovers from the region. */
static void crash_restart(struct crash *c, uint16_t base, int redo)
{
	struct vdev_queue_config cfg;
	struct vdev_queue_state st = { .avail_idx = base, .used_idx = base };

	vdev_queue_free(c->h.q);
	c->h.q = vdev_queue_new(vdev_drv_mem_map(c->h.m), 0);
	assert_non_null(c->h.q);
	vdev_drv_ring_queue_config(c->h.r, &cfg);
	assert_int_equal(vdev_queue_configure(c->h.q, &cfg), 0);
	assert_int_equal(vdev_queue_set_state(c->h.q, &st), 0);
	vdev_queue_set_call_fn(c->h.q, h_call, &c->h);
	assert_int_equal(vdev_queue_set_inflight(c->h.q, c->ifl, c->len),
			 redo);
}

static void crash_teardown(struct crash *c)
{
	for (unsigned i = 0; i < QS; i++)
		assert_int_equal(c->ifl->desc[i].inflight, 0);
	free(c->ifl);
	h_teardown(&c->h);
}

/* Completed out of order before the crash: the others come back. */
static void test_resubmit_out_of_order(void **state)
{
	struct crash c;
	struct vdev_req r;
	struct iovec iov[4];

	(void)state;
	crash_setup(&c);
	for (uintptr_t i = 0; i < 4; i++)
		h_add(&c.h, 1, 1, 64, (void *)(i + 1), 0);
	for (unsigned i = 0; i < 4; i++)
		crash_pop(&c, i);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(c.ifl->desc[c.head[i]].inflight, 1);
	assert_int_equal(vdev_queue_push(c.h.q, &c.req[2], 7), 0);
	assert_int_equal(c.ifl->desc[c.head[2]].inflight, 0);
	assert_int_equal(vdev_le16_to_cpu(c.ifl->used_idx), 1);
	/* Published at once, without a batch end. */
	assert_int_equal(vdev_le16_to_cpu(vdev_drv_ring_split_used(c.h.r)->idx),
			 1);

	crash_restart(&c, 1, 3);
	/* One more arrives while the back-end was away. */
	h_add(&c.h, 1, 1, 64, (void *)5, 0);
	for (unsigned i = 0; i < 2; i++) {
		h_init_req(&r, iov, 4);
		assert_int_equal(vdev_queue_pop(c.h.q, &r), 0);
		assert_int_equal(r.id, c.head[i]);
		assert_int_equal(r.nout, 1);
		assert_int_equal(r.nin, 1);
		assert_int_equal(vdev_queue_push(c.h.q, &r, 1), 0);
	}
	h_init_req(&r, iov, 4);
	assert_int_equal(vdev_queue_pop(c.h.q, &r), 0);
	assert_int_equal(r.id, c.head[3]);
	assert_int_equal(vdev_queue_push(c.h.q, &r, 2), 0);
	/* Then the new one, once. */
	h_init_req(&r, iov, 4);
	assert_int_equal(vdev_queue_pop(c.h.q, &r), 0);
	assert_int_equal(vdev_queue_push(c.h.q, &r, 3), 0);
	h_init_req(&r, iov, 4);
	assert_int_equal(vdev_queue_pop(c.h.q, &r), -EAGAIN);

	h_used(&c.h, (void *)3, 7);
	h_used(&c.h, (void *)1, 1);
	h_used(&c.h, (void *)2, 1);
	h_used(&c.h, (void *)4, 2);
	h_used(&c.h, (void *)5, 3);
	crash_teardown(&c);
}

/* Died between publishing a completion and unmarking it: the region's
 * used index lags the ring's, and that completion is not redone. */
static void test_published_not_unmarked(void **state)
{
	struct crash c;
	struct vdev_req r;
	struct iovec iov[4];

	(void)state;
	crash_setup(&c);
	h_add(&c.h, 1, 1, 64, (void *)1, 0);
	h_add(&c.h, 1, 1, 64, (void *)2, 0);
	crash_pop(&c, 0);
	crash_pop(&c, 1);
	assert_int_equal(vdev_queue_push(c.h.q, &c.req[0], 9), 0);
	/* Undo the two stores that follow the publish. */
	c.ifl->desc[c.head[0]].inflight = 1;
	c.ifl->used_idx = 0;
	c.ifl->last_batch_head = vdev_cpu_to_le16(c.head[0]);

	crash_restart(&c, 1, 1);
	h_init_req(&r, iov, 4);
	assert_int_equal(vdev_queue_pop(c.h.q, &r), 0);
	assert_int_equal(r.id, c.head[1]);
	assert_int_equal(vdev_queue_push(c.h.q, &r, 4), 0);
	h_init_req(&r, iov, 4);
	assert_int_equal(vdev_queue_pop(c.h.q, &r), -EAGAIN);
	h_used(&c.h, (void *)1, 9);
	h_used(&c.h, (void *)2, 4);
	crash_teardown(&c);
}

/* Died after marking, before anything: the chain comes back once. */
static void test_crash_again_while_resubmitting(void **state)
{
	struct crash c;
	struct vdev_req r;
	struct iovec iov[4];

	(void)state;
	crash_setup(&c);
	h_add(&c.h, 1, 1, 64, (void *)1, 0);
	crash_pop(&c, 0);
	crash_restart(&c, 0, 1);
	h_init_req(&r, iov, 4);
	assert_int_equal(vdev_queue_pop(c.h.q, &r), 0);
	assert_int_equal(r.id, c.head[0]);
	/* Dies again before completing the resubmitted request. */
	crash_restart(&c, 0, 1);
	h_init_req(&r, iov, 4);
	assert_int_equal(vdev_queue_pop(c.h.q, &r), 0);
	assert_int_equal(r.id, c.head[0]);
	assert_int_equal(vdev_queue_push(c.h.q, &r, 5), 0);
	h_init_req(&r, iov, 4);
	assert_int_equal(vdev_queue_pop(c.h.q, &r), -EAGAIN);
	h_used(&c.h, (void *)1, 5);
	crash_teardown(&c);
}

/* The region is frontend memory: too small, garbage flags; a packed
 * ring's region is bigger. */
static void test_hostile_region(void **state)
{
	struct crash c;
	struct vdev_req r;
	struct iovec iov[4];
	struct h hp;
	uint8_t buf[4096] = { 0 };
	size_t plen;

	(void)state;
	crash_setup(&c);
	assert_int_equal(vdev_queue_set_inflight(c.h.q, c.ifl, c.len - 1),
			 -EINVAL);
	/* A flag that is not 0 or 1, a head that was never made available,
	 * a last_batch_head out of range. */
	c.ifl->desc[3].inflight = 0x55;
	c.ifl->desc[4].inflight = 1;
	c.ifl->used_idx = vdev_cpu_to_le16(0x1234);
	c.ifl->last_batch_head = vdev_cpu_to_le16(0xffff);
	crash_restart(&c, 0, 1);
	/* Head 4 points at a zeroed descriptor: a zero-length chain is
	 * legal, so it is popped and completed; nothing worse happens. */
	h_init_req(&r, iov, 4);
	assert_int_equal(vdev_queue_pop(c.h.q, &r), 0);
	assert_int_equal(r.id, 4);
	assert_int_equal(vdev_queue_push(c.h.q, &r, 0), 0);
	assert_int_equal(c.ifl->desc[3].inflight, 0);
	crash_teardown(&c);

	/* A packed ring takes the packed layout (test_queue_inflight_packed
	 * has the rest), which needs more room than the split one. */
	h_setup(&hp, QS, PACKED);
	plen = sizeof(struct vq_ifl_packed) + QS * sizeof(struct vq_ifl_pdesc);
	assert_int_equal(vdev_queue_set_inflight(hp.q, buf, plen - 1),
			 -EINVAL);
	assert_int_equal(vdev_queue_set_inflight(hp.q, buf, sizeof(buf)), 0);
	h_teardown(&hp);
}

/* The layout a transport allocates and hands out (vhost-user.rst sizes). */
/*
 * The frontend changes its region while the back-end reads it (it is the
 * frontend's memfd): here every entry becomes marked the moment the scan
 * reaches the last one, on a page of its own. Read once, that is one
 * chain to redo; read twice (count, then collect), the second pass
 * collected 255 heads into room for one: a heap overflow under ASan, and
 * the wrong count without it.
 */
static void flip_all_marked(void *arg)
{
	struct vq_ifl_split *ifl = arg;

	for (unsigned i = 0; i < 255; i++) {
		ifl->desc[i].inflight = 1;
		ifl->desc[i].counter = vdev_cpu_to_le64(100 + i);
	}
}

static void test_region_changes_while_read(void **state)
{
	size_t pg = 4096, len = sizeof(struct vq_ifl_split) + 256 * 16;
	struct vq_ifl_split *ifl;
	struct h h;
	uint8_t *map;

	(void)state;
	h_setup(&h, 256, SPLIT);
	map = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(map != MAP_FAILED);
	ifl = (struct vq_ifl_split *)map;
	assert_int_equal(vdev_queue_inflight_init(ifl, len, 256, false), 0);
	/* desc[255] is the first byte of the second page. */
	assert_ptr_equal(&ifl->desc[255], map + pg);
	ifl->desc[3].inflight = 1;
	ifl->desc[3].counter = vdev_cpu_to_le64(7);
	assert_int_equal(touchtrap_arm(map + pg, pg, flip_all_marked, ifl),
			 0);
	assert_int_equal(vdev_queue_set_inflight(h.q, ifl, len), 1);
	assert_int_equal(touchtrap_disarm(), 1);
	/* The one chain read is the one resubmitted. */
	assert_int_equal(h.q->nresub, 1);
	assert_int_equal(h.q->resub[0], 3);
	vdev_queue_set_inflight(h.q, NULL, 0);
	munmap(map, 2 * pg);
	h_teardown(&h);
}

static void test_region_layout(void **state)
{
	uint8_t buf[32 + 4 * 32];
	const vdev_le16 *h16 = (const void *)buf;

	(void)state;
	assert_int_equal(vdev_queue_inflight_size(4, false), 16 + 4 * 16);
	assert_int_equal(vdev_queue_inflight_size(4, true), 32 + 4 * 32);
	assert_int_equal(vdev_queue_inflight_init(NULL, sizeof(buf), 4, true),
			 -EINVAL);
	assert_int_equal(vdev_queue_inflight_init(buf, 32 + 3 * 32, 4, true),
			 -EINVAL);
	assert_int_equal(vdev_queue_inflight_init(buf, 16 + 3 * 16, 4, false),
			 -EINVAL);

	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(vdev_queue_inflight_init(buf, sizeof(buf), 4, false),
			 0);
	assert_int_equal(vdev_le16_to_cpu(h16[4]), 1);  /* version */
	assert_int_equal(vdev_le16_to_cpu(h16[5]), 4);  /* desc_num */
	assert_int_equal(vdev_le16_to_cpu(h16[6]), 0);  /* last_batch_head */
	assert_int_equal(vdev_le16_to_cpu(h16[7]), 0);  /* used_idx */
	for (unsigned j = 0; j < 4; j++)
		assert_int_equal(buf[16 + 16 * j], 0);  /* not in flight */
	assert_int_equal(buf[16 + 4 * 16], 0xff);      /* nothing past it */

	memset(buf, 0xff, sizeof(buf));
	assert_int_equal(vdev_queue_inflight_init(buf, sizeof(buf), 4, true),
			 0);
	assert_int_equal(vdev_le16_to_cpu(h16[4]), 1);  /* version */
	assert_int_equal(vdev_le16_to_cpu(h16[5]), 4);  /* desc_num */
	assert_int_equal(vdev_le16_to_cpu(h16[6]), 0);  /* free_head */
	assert_int_equal(buf[20], 1);                   /* used_wrap_counter */
	assert_int_equal(buf[21], 1);                   /* old_used_wrap */
	for (unsigned j = 0; j < 4; j++) {
		const uint8_t *d = buf + 32 + 32 * j;

		assert_int_equal(d[0], 0);              /* not in flight */
		assert_int_equal(d[2] | d[3] << 8, j + 1); /* next free */
	}
}

/* An unpopped chain is not in flight any more: the region says so, a
 * crash then does not redo it, and it is popped again from the ring. */
static void test_unpop(void **state)
{
	struct crash c;

	(void)state;
	crash_setup(&c);
	for (uintptr_t i = 0; i < 3; i++)
		h_add(&c.h, 1, 1, 64, (void *)(i + 1), 0);
	for (unsigned i = 0; i < 3; i++)
		crash_pop(&c, i);
	assert_int_equal(vdev_queue_unpop(c.h.q, &c.req[2]), 0);
	assert_int_equal(vdev_queue_unpop(c.h.q, &c.req[1]), 0);
	assert_int_equal(c.ifl->desc[c.head[0]].inflight, 1);
	assert_int_equal(c.ifl->desc[c.head[1]].inflight, 0);
	assert_int_equal(c.ifl->desc[c.head[2]].inflight, 0);
	crash_pop(&c, 1);
	assert_int_equal(c.ifl->desc[c.head[1]].inflight, 1);

	/* Two in flight at the crash; the third was never taken. */
	crash_restart(&c, 0, 2);
	for (unsigned i = 0; i < 3; i++) {
		struct vdev_req r;
		struct iovec iov[4];

		h_init_req(&r, iov, 4);
		assert_int_equal(vdev_queue_pop(c.h.q, &r), 0);
		assert_int_equal(r.id, c.head[i]);
		assert_int_equal(vdev_queue_push(c.h.q, &r, (uint32_t)i), 0);
	}
	for (uintptr_t i = 0; i < 3; i++)
		h_used(&c.h, (void *)(i + 1), (uint32_t)i);
	crash_teardown(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_region_layout),
		cmocka_unit_test(test_resubmit_out_of_order),
		cmocka_unit_test(test_published_not_unmarked),
		cmocka_unit_test(test_crash_again_while_resubmitting),
		cmocka_unit_test(test_hostile_region),
		cmocka_unit_test(test_region_changes_while_read),
		cmocka_unit_test(test_unpop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
