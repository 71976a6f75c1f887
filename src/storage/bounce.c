/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Bounce buffers: guest buffers an engine cannot use as they are
 * (O_DIRECT wants aligned addresses and lengths, an NBD server may want
 * whole blocks), and WRITE SAME's repeated block. The data moves a chunk
 * at a time through one of the queue's STG_BOUNCE_SLOTS buffers; a request
 * that finds none free waits for one, oldest first. So what a guest costs
 * in bounce memory is bounded per queue, whatever lengths it claims
 * (issue 19, defect 7).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <virtio/iov.h>

#include "storage/storage_internal.h"

bool stg_needs_bounce(const struct stg_image *img, const struct stg_req *r)
{
	uintptr_t ma = img->mem_align - 1, la = img->len_align - 1;

	if (!ma && !la)
		return false;
	for (int i = 0; i < r->iovcnt; i++)
		if (((uintptr_t)r->iov[i].iov_base & ma) ||
		    (r->iov[i].iov_len & la))
			return true;
	return false;
}

/* The next chunk into r->cur (&r->biov). */
static void chunk(struct stg_queue *q, struct stg_req *r)
{
	uint64_t n = r->len - r->bdone;
	void *p = q->bslots[r->bslot];

	if (n > STG_BOUNCE_SLOT)
		n = STG_BOUNCE_SLOT;
	if (r->op == STG_WRITE)
		vdev_iov_to_buf(r->iov, (unsigned)r->iovcnt, r->bdone, p,
				(size_t)n);
	r->biov.iov_base = p;
	r->biov.iov_len = (size_t)n;
	r->cur = &r->biov;
	r->ncur = 1;
	r->coff = r->off + r->bdone;
	r->cleft = n;
}

/* WRITE_SAME: the slot holds the block over and over; it stays as is. */
static void fill_repeat(struct stg_queue *q, struct stg_req *r)
{
	uint8_t *p = q->bslots[r->bslot];
	size_t bs = r->iov[0].iov_len;

	for (size_t o = 0; o < STG_BOUNCE_SLOT; o += bs)
		memcpy(p + o, r->iov[0].iov_base, bs);
}

static void first_chunk(struct stg_queue *q, struct stg_req *r)
{
	r->bdone = 0;
	if (r->op == STG_WRITE_SAME)
		fill_repeat(q, r);
	chunk(q, r);
}

static int slot_get(struct stg_queue *q)
{
	for (unsigned i = 0; i < STG_BOUNCE_SLOTS; i++) {
		if (q->bbusy & (1u << i))
			continue;
		if (!q->bslots[i] &&
		    posix_memalign(&q->bslots[i], 4096, STG_BOUNCE_SLOT)) {
			q->bslots[i] = NULL;
			continue;
		}
		q->bbusy |= 1u << i;
		return (int)i;
	}
	return -1;
}

void stg_bounce_start(struct stg_queue *q, struct stg_req *r)
{
	int slot = slot_get(q);

	if (slot < 0) {
		if (!q->bbusy) {
			stg_finish(q, r, -ENOMEM); /* nothing will free one */
			return;
		}
		r->state = STG_S_BOUNCE_WAIT;
		r->next = NULL;
		if (q->bwait_tail)
			q->bwait_tail->next = r;
		else
			q->bwait = r;
		q->bwait_tail = r;
		return;
	}
	r->bslot = slot;
	first_chunk(q, r);
	stg_xfer(q, r);
}

bool stg_bounce_next(struct stg_queue *q, struct stg_req *r)
{
	uint64_t n = r->biov.iov_len;

	if (r->op == STG_READ)
		vdev_iov_from_buf(r->iov, (unsigned)r->iovcnt, r->bdone,
				  q->bslots[r->bslot], (size_t)n);
	r->bdone += n;
	if (r->bdone >= r->len)
		return false;
	chunk(q, r);
	return true;
}

void stg_bounce_release(struct stg_queue *q, struct stg_req *r)
{
	struct stg_req *w = q->bwait;

	if (r->bslot < 0)
		return;
	if (!w) {
		q->bbusy &= ~(1u << r->bslot);
		r->bslot = STG_BOUNCE_NONE;
		return;
	}
	/* The slot goes straight to the oldest waiter. */
	q->bwait = w->next;
	if (!q->bwait)
		q->bwait_tail = NULL;
	w->bslot = r->bslot;
	r->bslot = STG_BOUNCE_NONE;
	w->state = STG_S_NEW;
	first_chunk(q, w);
	stg_xfer(q, w);
}

bool stg_bounce_cancel(struct stg_queue *q, struct stg_req *r)
{
	struct stg_req **pp, *prev = NULL;

	for (pp = &q->bwait; *pp; prev = *pp, pp = &(*pp)->next) {
		if (*pp != r)
			continue;
		*pp = r->next;
		if (q->bwait_tail == r)
			q->bwait_tail = prev;
		r->state = STG_S_NEW;
		return true;
	}
	return false;
}

void stg_bounce_free(struct stg_queue *q)
{
	for (unsigned i = 0; i < STG_BOUNCE_SLOTS; i++) {
		free(q->bslots[i]);
		q->bslots[i] = NULL;
	}
	q->bbusy = 0;
}
