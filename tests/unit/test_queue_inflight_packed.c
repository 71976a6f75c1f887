/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Inflight tracking on packed rings (vdev_queue_set_inflight, packed layout
 * of vhost-user.rst): the counterparts of test_queue_inflight.c, plus what
 * only a packed ring has: the region, not the frontend's ring base, knows
 * where the ring stands after a crash (QEMU cannot read it back), a chain
 * is recovered from the region's copy of its descriptors (its ring slots
 * are overwritten by other chains' used descriptors), and a completion
 * that was half done is rolled forward or back by looking at the ring.
 * A "crash" is a queue freed without its pushes; the partial states of a
 * SIGKILL in the middle of a pop or push are made by undoing the stores
 * that come after the chosen instant.
 */
#include <stdlib.h>

#include "vq_harness.h"

#define QS 16
#define NREQ 8

struct crash {
	struct h h;
	struct vq_ifl_packed *ifl;
	size_t len;
	struct vdev_req req[NREQ];
	struct iovec iov[NREQ][4];
	uint16_t id[NREQ];
};

static size_t region_len(uint16_t qs)
{
	return sizeof(struct vq_ifl_packed) +
	       qs * sizeof(struct vq_ifl_pdesc);
}

/* As vhu_inflight.c hands a region out (GET_INFLIGHT_FD). */
static void region_init(struct vq_ifl_packed *p, uint16_t qs)
{
	memset(p, 0, region_len(qs));
	p->version = vdev_cpu_to_le16(1);
	p->desc_num = vdev_cpu_to_le16(qs);
	p->used_wrap_counter = 1;
	p->old_used_wrap_counter = 1;
	for (uint16_t j = 0; j < qs; j++)
		p->desc[j].next = vdev_cpu_to_le16(j + 1);
}

static void crash_setup_qs(struct crash *c, uint16_t qs)
{
	h_setup(&c->h, qs, PACKED);
	c->len = region_len(qs);
	c->ifl = malloc(c->len);
	assert_non_null(c->ifl);
	region_init(c->ifl, qs);
	assert_int_equal(vdev_queue_set_inflight(c->h.q, c->ifl, c->len), 0);
	assert_int_equal(c->ifl->live, VQ_IFL_LIVE);
}

static void crash_setup(struct crash *c)
{
	crash_setup_qs(c, QS);
}

static void crash_pop(struct crash *c, unsigned i)
{
	h_init_req(&c->req[i], c->iov[i], 4);
	assert_int_equal(vdev_queue_pop(c->h.q, &c->req[i]), 0);
	c->id[i] = c->req[i].id;
}

static unsigned marked(const struct crash *c)
{
	unsigned n = 0;

	for (unsigned i = 0; i < c->h.q->size; i++)
		n += c->ifl->desc[i].inflight != 0;
	return n;
}

/* The back-end dies: its queue goes, the ring and the region stay. The
 * new one gets the base QEMU 7.2 sends for a packed ring after a crash:
 * whatever it last knew, here the start of the ring. */
static void restart_at(struct crash *c, const struct vdev_queue_state *st,
		       int redo)
{
	struct vdev_queue_config cfg;

	vdev_queue_free(c->h.q);
	c->h.q = vdev_queue_new(vdev_drv_mem_map(c->h.m), 0);
	assert_non_null(c->h.q);
	vdev_drv_ring_queue_config(c->h.r, &cfg);
	assert_int_equal(vdev_queue_configure(c->h.q, &cfg), 0);
	assert_int_equal(vdev_queue_set_state(c->h.q, st), 0);
	vdev_queue_set_call_fn(c->h.q, h_call, &c->h);
	assert_int_equal(vdev_queue_set_inflight(c->h.q, c->ifl, c->len),
			 redo);
}

static void crash_restart(struct crash *c, int redo)
{
	struct vdev_queue_state st = { 0, 0, true, true };

	restart_at(c, &st, redo);
}

static void expect_pop(struct crash *c, uint16_t id, uint32_t written)
{
	struct vdev_req r;
	struct iovec iov[4];

	h_init_req(&r, iov, 4);
	assert_int_equal(vdev_queue_pop(c->h.q, &r), 0);
	assert_int_equal(r.id, id);
	assert_int_equal(r.nout, 1);
	assert_int_equal(r.nin, 1);
	assert_int_equal(r.ndesc, 2);
	assert_int_equal(vdev_queue_push(c->h.q, &r, written), 0);
}

static void expect_empty(struct crash *c)
{
	struct vdev_req r;
	struct iovec iov[4];

	h_init_req(&r, iov, 4);
	assert_int_equal(vdev_queue_pop(c->h.q, &r), -EAGAIN);
}

static void crash_teardown(struct crash *c)
{
	assert_int_equal(marked(c), 0);
	free(c->ifl);
	h_teardown(&c->h);
}

/* Completed out of order before the crash: the others come back, oldest
 * first, from the region's copies (the first chain's slot now holds the
 * used descriptor of the third), then the ring goes on. */
static void test_resubmit_out_of_order(void **state)
{
	struct crash c;

	(void)state;
	crash_setup(&c);
	for (uintptr_t i = 0; i < 4; i++)
		h_add(&c.h, 1, 1, 64, (void *)(i + 1), 0);
	for (unsigned i = 0; i < 4; i++)
		crash_pop(&c, i);
	assert_int_equal(marked(&c), 4);
	assert_int_equal(vdev_queue_push(c.h.q, &c.req[2], 7), 0);
	assert_int_equal(marked(&c), 3);
	assert_int_equal(vdev_le16_to_cpu(c.ifl->used_idx), 2);
	assert_int_equal(vdev_le16_to_cpu(c.ifl->old_used_idx), 2);
	/* The used descriptor went where the first chain's head was. */
	assert_int_equal(vdev_le16_to_cpu(
		vdev_drv_ring_packed_desc(c.h.r, 0)->id), c.id[2]);

	crash_restart(&c, 3);
	/* One more arrives while the back-end was away. */
	h_add(&c.h, 1, 1, 64, (void *)5, 0);
	expect_pop(&c, c.id[0], 1);
	expect_pop(&c, c.id[1], 1);
	expect_pop(&c, c.id[3], 2);
	/* Then the new one, once. */
	h_pop(&c.h);
	assert_int_equal(vdev_queue_push(c.h.q, &c.h.req, 3), 0);
	expect_empty(&c);

	h_used(&c.h, (void *)3, 7);
	h_used(&c.h, (void *)1, 1);
	h_used(&c.h, (void *)2, 1);
	h_used(&c.h, (void *)4, 2);
	h_used(&c.h, (void *)5, 3);
	crash_teardown(&c);
}

/* Entries are reused: a later pop may take lower entries than an older
 * one still in flight. Resubmission follows the pop order (counter), not
 * the entry order. */
static void test_resubmit_order_by_counter(void **state)
{
	struct crash c;

	(void)state;
	crash_setup(&c);
	for (uintptr_t i = 0; i < 4; i++)
		h_add(&c.h, 1, 1, 64, (void *)(i + 1), 0);
	crash_pop(&c, 0);
	crash_pop(&c, 1);
	assert_int_equal(vdev_queue_push(c.h.q, &c.req[0], 1), 0);
	crash_pop(&c, 2); /* takes the entries the first one freed */
	crash_pop(&c, 3);
	assert_int_equal(c.ifl->desc[0].inflight, 1);
	assert_int_equal(vdev_le64_to_cpu(c.ifl->desc[0].counter), 3);
	crash_restart(&c, 3);
	expect_pop(&c, c.id[1], 2);
	expect_pop(&c, c.id[2], 3);
	expect_pop(&c, c.id[3], 4);
	expect_empty(&c);
	for (uintptr_t i = 1; i <= 4; i++)
		h_used(&c.h, (void *)i, (uint32_t)i);
	crash_teardown(&c);
}

/* Died between publishing a completion and the old_ fields: the ring shows
 * the used descriptor, so the completion is rolled forward, not redone. */
static void test_published_not_unmarked(void **state)
{
	struct crash c;
	uint16_t ofh;

	(void)state;
	crash_setup(&c);
	h_add(&c.h, 1, 1, 64, (void *)1, 0);
	h_add(&c.h, 1, 1, 64, (void *)2, 0);
	crash_pop(&c, 0);
	crash_pop(&c, 1);
	ofh = c.ifl->old_free_head;
	assert_int_equal(vdev_queue_push(c.h.q, &c.req[0], 9), 0);
	/* Undo the stores that follow the publish. */
	c.ifl->desc[vdev_le16_to_cpu(c.ifl->free_head)].inflight = 1;
	c.ifl->old_free_head = ofh;
	c.ifl->old_used_idx = 0;
	c.ifl->old_used_wrap_counter = 1;

	crash_restart(&c, 1);
	expect_pop(&c, c.id[1], 4);
	expect_empty(&c);
	h_used(&c.h, (void *)1, 9);
	h_used(&c.h, (void *)2, 4);
	crash_teardown(&c);
}

/* Died after the region's used_idx moved, before the used descriptor was
 * written: rolled back, the request is redone and completed once. */
static void test_moved_not_published(void **state)
{
	struct crash c;
	struct vdev_packed_desc slot0;
	uint8_t *before;

	(void)state;
	crash_setup(&c);
	h_add(&c.h, 1, 1, 64, (void *)1, 0);
	h_add(&c.h, 1, 1, 64, (void *)2, 0);
	crash_pop(&c, 0);
	crash_pop(&c, 1);
	before = malloc(c.len);
	assert_non_null(before);
	memcpy(before, c.ifl, c.len);
	slot0 = *vdev_drv_ring_packed_desc(c.h.r, 0);
	assert_int_equal(vdev_queue_push(c.h.q, &c.req[1], 9), 0);
	/* Keep the free-list splice and the used_idx move, undo the rest:
	 * the used descriptor, the unmark, the old_ fields. */
	*vdev_drv_ring_packed_desc(c.h.r, 0) = slot0;
	{
		struct vq_ifl_packed *b = (void *)before;

		b->free_head = c.ifl->free_head;
		b->used_idx = c.ifl->used_idx;
		b->used_wrap_counter = c.ifl->used_wrap_counter;
		for (unsigned i = 0; i < QS; i++)
			b->desc[i].next = c.ifl->desc[i].next;
		assert_int_not_equal(b->used_idx, b->old_used_idx);
	}
	memcpy(c.ifl, before, c.len);
	free(before);

	crash_restart(&c, 2);
	expect_pop(&c, c.id[0], 5);
	expect_pop(&c, c.id[1], 6);
	expect_empty(&c);
	h_used(&c.h, (void *)1, 5);
	h_used(&c.h, (void *)2, 6);
	h_assert_no_used(&c.h);
	crash_teardown(&c);
}

/* Died in the middle of a pop: entries filled and the head marked, but
 * old_free_head not moved. The chain is not in flight; the ring gives it
 * again, once. */
static void test_crash_inside_pop(void **state)
{
	struct crash c;
	vdev_le16 fh, ofh;

	(void)state;
	crash_setup(&c);
	h_add(&c.h, 1, 1, 64, (void *)1, 0);
	h_add(&c.h, 1, 1, 64, (void *)2, 0);
	crash_pop(&c, 0);
	fh = c.ifl->free_head;
	ofh = c.ifl->old_free_head;
	crash_pop(&c, 1);
	assert_int_equal(marked(&c), 2);
	c.ifl->free_head = fh;
	c.ifl->old_free_head = ofh;

	crash_restart(&c, 1);
	assert_int_equal(marked(&c), 1);
	expect_pop(&c, c.id[0], 1);
	expect_pop(&c, c.id[1], 2);
	expect_empty(&c);
	h_used(&c.h, (void *)1, 1);
	h_used(&c.h, (void *)2, 2);
	crash_teardown(&c);
}

/* Died after marking, before anything: the chain comes back once, also
 * when the back-end dies again while redoing it. */
static void test_crash_again_while_resubmitting(void **state)
{
	struct crash c;
	struct vdev_req r;
	struct iovec iov[4];

	(void)state;
	crash_setup(&c);
	h_add(&c.h, 1, 1, 64, (void *)1, 0);
	crash_pop(&c, 0);
	crash_restart(&c, 1);
	h_init_req(&r, iov, 4);
	assert_int_equal(vdev_queue_pop(c.h.q, &r), 0);
	assert_int_equal(r.id, c.id[0]);
	crash_restart(&c, 1);
	expect_pop(&c, c.id[0], 5);
	expect_empty(&c);
	h_used(&c.h, (void *)1, 5);
	h_assert_no_used(&c.h);
	crash_teardown(&c);
}

/* Many crashes with requests in flight while the ring goes round several
 * times: the position (slot and wrap counter) always comes from the
 * region, whatever stale base the frontend sends. */
static void test_wraps_across_crashes(void **state)
{
	struct crash c;
	uintptr_t tok = 1;

	(void)state;
	crash_setup_qs(&c, 8);
	for (unsigned round = 0; round < 13; round++) {
		uintptr_t t0 = tok;

		for (unsigned i = 0; i < 3; i++)
			h_add(&c.h, 1, 1, 32, (void *)tok++, 0);
		for (unsigned i = 0; i < 3; i++)
			crash_pop(&c, i);
		assert_int_equal(vdev_queue_push(c.h.q, &c.req[1], 11), 0);
		crash_restart(&c, 2);
		expect_pop(&c, c.id[0], 12);
		expect_pop(&c, c.id[2], 13);
		expect_empty(&c);
		h_used(&c.h, (void *)(t0 + 1), 11);
		h_used(&c.h, (void *)t0, 12);
		h_used(&c.h, (void *)(t0 + 2), 13);
	}
	assert_int_equal(marked(&c), 0);
	crash_teardown(&c);
}

/* A region no queue ran on (a fresh GET_INFLIGHT_FD, e.g. after
 * migration): the frontend's base is the truth. */
static void test_fresh_region_takes_base(void **state)
{
	struct crash c;
	struct vdev_queue_state st;

	(void)state;
	h_setup(&c.h, 8, PACKED);
	for (uintptr_t i = 1; i <= 5; i++) {
		h_add(&c.h, 1, 1, 32, (void *)i, 0);
		h_pop(&c.h);
		assert_int_equal(vdev_queue_push(c.h.q, &c.h.req, 1), 0);
		h_used(&c.h, (void *)i, 1);
	}
	assert_int_equal(vdev_queue_get_state(c.h.q, &st), 0);
	assert_int_equal(st.avail_idx, 2);
	assert_false(st.avail_wrap);
	c.len = region_len(8);
	c.ifl = malloc(c.len);
	assert_non_null(c.ifl);
	region_init(c.ifl, 8);
	restart_at(&c, &st, 0);
	h_add(&c.h, 1, 1, 32, (void *)6, 0);
	crash_pop(&c, 0);
	assert_int_equal(c.req[0].ndesc, 2);
	assert_int_equal(vdev_queue_push(c.h.q, &c.req[0], 2), 0);
	h_used(&c.h, (void *)6, 2);
	assert_int_equal(vdev_le16_to_cpu(c.ifl->old_used_idx), 4);
	assert_int_equal(c.ifl->old_used_wrap_counter, 0);
	crash_teardown(&c);
}

/* The region is frontend memory: too small, garbage in the header and in
 * the entries. Bad chains are dropped, good ones kept, nothing breaks. */
static void test_hostile_region(void **state)
{
	struct crash c;
	struct vq_ifl_pdesc *d;
	uint16_t head, free1, free2, free3, free4;

	(void)state;
	crash_setup(&c);
	assert_int_equal(vdev_queue_set_inflight(c.h.q, c.ifl, c.len - 1),
			 -EINVAL);
	assert_int_equal(vdev_queue_set_inflight(c.h.q, c.ifl, c.len), 0);
	h_add(&c.h, 1, 1, 64, (void *)1, 0);
	crash_pop(&c, 0);
	d = c.ifl->desc;
	for (head = 0; head < QS && d[head].inflight != 1; head++)
		;
	assert_true(head < QS);
	free1 = vdev_le16_to_cpu(c.ifl->free_head);
	free2 = vdev_le16_to_cpu(d[free1].next);
	free3 = vdev_le16_to_cpu(d[free2].next);
	free4 = vdev_le16_to_cpu(d[free3].next);
	assert_true(free4 < QS);
	/* Take the free entries off the free list, so that only their own
	 * contents decide. */
	c.ifl->free_head = c.ifl->old_free_head = vdev_cpu_to_le16(QS);
	/* Huge num; older than the good chain. */
	d[free1].inflight = 1;
	d[free1].num = vdev_cpu_to_le16(0xffff);
	d[free1].counter = 0;
	/* A loop: next points at itself, two entries. */
	d[free2].inflight = 1;
	d[free2].num = vdev_cpu_to_le16(2);
	d[free2].flags = vdev_cpu_to_le16(VDEV_DESC_F_NEXT);
	d[free2].next = vdev_cpu_to_le16(free2);
	d[free2].counter = vdev_cpu_to_le64(~0ull);
	/* Next out of range. */
	d[free3].inflight = 1;
	d[free3].num = vdev_cpu_to_le16(2);
	d[free3].flags = vdev_cpu_to_le16(VDEV_DESC_F_NEXT);
	d[free3].next = vdev_cpu_to_le16(0x7fff);
	d[free3].counter = vdev_cpu_to_le64(7);
	/* A one-entry chain whose descriptor says NEXT; and a garbage flag. */
	d[free4].inflight = 1;
	d[free4].num = vdev_cpu_to_le16(1);
	d[free4].last = vdev_cpu_to_le16(free4);
	d[free4].flags = vdev_cpu_to_le16(VDEV_DESC_F_NEXT);
	d[free4].counter = vdev_cpu_to_le64(8);
	d[vdev_le16_to_cpu(d[free4].next)].inflight = 0x55;
	/* A used position out of range: the header is not believed, the
	 * frontend's base is. */
	c.ifl->old_used_idx = vdev_cpu_to_le16(0x1234);

	crash_restart(&c, 1);
	assert_int_equal(marked(&c), 1);
	assert_int_equal(d[head].inflight, 1);
	expect_pop(&c, c.id[0], 3);
	expect_empty(&c);
	h_used(&c.h, (void *)1, 3);

	/* A chain that shares an entry with an older one is dropped; one
	 * whose last is not where its entries end too. */
	h_add(&c.h, 1, 1, 64, (void *)2, 0);
	crash_pop(&c, 1);
	for (head = 0; head < QS && d[head].inflight != 1; head++)
		;
	assert_true(head < QS);
	free1 = vdev_le16_to_cpu(c.ifl->free_head);
	free2 = vdev_le16_to_cpu(d[free1].next);
	c.ifl->free_head = c.ifl->old_free_head = vdev_cpu_to_le16(QS);
	d[free1] = d[head];
	d[free1].counter = vdev_cpu_to_le64(vdev_le64_to_cpu(d[head].counter)
					    + 1);
	d[free2] = d[head];
	d[free2].last = vdev_cpu_to_le16(free1);
	d[free2].next = vdev_cpu_to_le16(0x7fff);
	d[free2].flags = vdev_cpu_to_le16(0);
	d[free2].num = vdev_cpu_to_le16(1);
	crash_restart(&c, 1);
	assert_int_equal(marked(&c), 1);
	expect_pop(&c, c.id[1], 4);
	expect_empty(&c);
	h_used(&c.h, (void *)2, 4);
	crash_teardown(&c);
}

/* A sound chain in the region whose descriptor content breaks a rule (an
 * address outside guest memory) is validated when popped, like a fresh
 * one: the queue breaks, nothing is touched. One with a buffer id above
 * the queue size is popped and completed. */
static void test_hostile_content(void **state)
{
	struct crash c;
	struct vq_ifl_pdesc *d;
	struct vdev_req r;
	struct iovec iov[4];
	uint16_t e, nd;

	(void)state;
	crash_setup(&c);
	h_add(&c.h, 1, 1, 64, (void *)1, 0);
	crash_pop(&c, 0);
	d = c.ifl->desc;
	for (e = 0; e < QS && d[e].inflight != 1; e++)
		;
	assert_true(e < QS);
	nd = vdev_le16_to_cpu(d[e].next);
	d[nd].id = vdev_cpu_to_le16(1000);
	crash_restart(&c, 1);
	h_init_req(&r, iov, 4);
	assert_int_equal(vdev_queue_pop(c.h.q, &r), 0);
	assert_int_equal(r.id, 1000);
	assert_int_equal(vdev_queue_push(c.h.q, &r, 0), 0);
	assert_int_equal(marked(&c), 0);

	h_add(&c.h, 1, 1, 64, (void *)2, 0);
	crash_pop(&c, 1);
	for (e = 0; e < QS && d[e].inflight != 1; e++)
		;
	assert_true(e < QS);
	d[e].addr = vdev_cpu_to_le64(~0ull - 8);
	crash_restart(&c, 1);
	h_init_req(&r, iov, 4);
	assert_int_equal(vdev_queue_pop(c.h.q, &r), -EIO);
	assert_true(vdev_queue_broken(c.h.q));
	d[e].inflight = 0;
	crash_teardown(&c);
}

/* Random garbage in the whole region, many times: set_inflight and the
 * pops that follow never crash (ASan) and never redo more than fits. */
static void test_garbage_region(void **state)
{
	struct crash c;
	unsigned seed = 12345;

	(void)state;
	crash_setup(&c);
	for (uintptr_t i = 0; i < 3; i++)
		h_add(&c.h, 1, 1, 64, (void *)(i + 1), 0);
	for (unsigned i = 0; i < 3; i++)
		crash_pop(&c, i);
	for (unsigned round = 0; round < 200; round++) {
		struct vdev_queue_config cfg;
		struct vdev_queue_state st = { 0, 0, true, true };
		uint8_t *p = (uint8_t *)c.ifl;
		int n;

		for (size_t k = 0; k < c.len; k++) {
			seed = seed * 1103515245u + 12345u;
			/* Mostly small values, so chains sometimes look
			 * sound. */
			p[k] = (uint8_t)((seed >> 16) & (round & 1 ? 0xff :
							 0x0f));
			if (k % 32 == 0 && k >= sizeof(*c.ifl))
				p[k] &= 1; /* inflight */
		}
		vdev_queue_free(c.h.q);
		c.h.q = vdev_queue_new(vdev_drv_mem_map(c.h.m), 0);
		assert_non_null(c.h.q);
		vdev_drv_ring_queue_config(c.h.r, &cfg);
		assert_int_equal(vdev_queue_configure(c.h.q, &cfg), 0);
		assert_int_equal(vdev_queue_set_state(c.h.q, &st), 0);
		n = vdev_queue_set_inflight(c.h.q, c.ifl, c.len);
		assert_true(n >= 0 && n <= QS);
		for (int k = 0; k <= n + 2; k++) {
			struct vdev_req r;
			struct iovec iov[4];
			int ret;

			h_init_req(&r, iov, 4);
			ret = vdev_queue_pop(c.h.q, &r);
			if (ret == -EMSGSIZE)
				continue;
			if (ret)
				break;
			vdev_queue_push(c.h.q, &r, 0);
		}
	}
	memset(c.ifl->desc, 0, QS * sizeof(c.ifl->desc[0]));
	crash_teardown(&c);
}

/* An unpopped chain gives its entries back to the free list and is not
 * redone after a crash; chains taken after it was popped again are. */
static void test_unpop(void **state)
{
	struct crash c;
	uint16_t free_head;

	(void)state;
	crash_setup(&c);
	for (uintptr_t i = 0; i < 3; i++)
		h_add(&c.h, 1, 1, 64, (void *)(i + 1), 0);
	free_head = vdev_le16_to_cpu(c.ifl->free_head);
	for (unsigned i = 0; i < 3; i++)
		crash_pop(&c, i);
	assert_int_equal(marked(&c), 3);
	assert_int_equal(vdev_queue_unpop(c.h.q, &c.req[1]), -EINVAL);
	assert_int_equal(vdev_queue_unpop(c.h.q, &c.req[2]), 0);
	assert_int_equal(vdev_queue_unpop(c.h.q, &c.req[1]), 0);
	assert_int_equal(vdev_queue_unpop(c.h.q, &c.req[0]), 0);
	assert_int_equal(marked(&c), 0);
	assert_int_equal(vdev_le16_to_cpu(c.ifl->free_head), free_head);
	assert_int_equal(vdev_le16_to_cpu(c.ifl->old_free_head), free_head);
	crash_pop(&c, 0);
	crash_pop(&c, 1);
	assert_int_equal(marked(&c), 2);

	crash_restart(&c, 2);
	expect_pop(&c, c.id[0], 1);
	expect_pop(&c, c.id[1], 2);
	h_pop(&c.h);
	assert_int_equal(c.h.req.id, c.id[2]);
	assert_int_equal(vdev_queue_push(c.h.q, &c.h.req, 3), 0);
	expect_empty(&c);
	for (uintptr_t i = 0; i < 3; i++)
		h_used(&c.h, (void *)(i + 1), (uint32_t)(i + 1));
	crash_teardown(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resubmit_out_of_order),
		cmocka_unit_test(test_resubmit_order_by_counter),
		cmocka_unit_test(test_published_not_unmarked),
		cmocka_unit_test(test_moved_not_published),
		cmocka_unit_test(test_crash_inside_pop),
		cmocka_unit_test(test_crash_again_while_resubmitting),
		cmocka_unit_test(test_wraps_across_crashes),
		cmocka_unit_test(test_fresh_region_takes_base),
		cmocka_unit_test(test_hostile_region),
		cmocka_unit_test(test_hostile_content),
		cmocka_unit_test(test_garbage_region),
		cmocka_unit_test(test_unpop),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
