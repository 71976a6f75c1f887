/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Split virtqueue (virtio 1.2, 2.7), device side.
 *
 * Ordering: avail->idx is loaded with acquire before the ring entries and
 * descriptors it covers are read; used elements are written before used->idx
 * is stored with release; notify puts a full fence between the used->idx
 * store and the read of used_event / avail->flags (queue.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue_internal.h"

static vdev_le16 *used_event(struct vdev_queue *q)
{
	return &q->avail->ring[q->size];
}

static vdev_le16 *avail_event(struct vdev_queue *q)
{
	return (vdev_le16 *)&q->used->ring[q->size];
}

void vq_split_log_used(struct vdev_queue *q, uint64_t off, uint64_t len)
{
	vdev_mem_log_write(q->t, q->cfg.device_addr + off, len);
}

/* Where the driver's next kick should come from: the first avail entry the
 * device has not seen yet (what it counted may lie beyond last_avail). */
static uint16_t kick_from(const struct vdev_queue *q)
{
	if (q->seen_valid &&
	    (uint16_t)(q->seen_pos - q->last_avail) <= q->size)
		return q->seen_pos;
	return q->last_avail;
}

/* The device writes into the used ring here too: log it when migrating. */
static void set_avail_event(struct vdev_queue *q)
{
	vq_store16(avail_event(q), kick_from(q));
	if (__builtin_expect(q->t->log != NULL, 0))
		vq_split_log_used(q, 4 + 8ull * q->size, 2);
}

int vq_split_map(struct vdev_queue *q)
{
	const struct vdev_queue_config *c = &q->cfg;
	void *d = vq_mem_ptr(q->t, c->desc_addr, vdev_split_desc_size(c->size));
	void *a = vq_mem_ptr(q->t, c->driver_addr,
			     vdev_split_avail_size(c->size));
	/* The device writes the used ring: not in read-only memory. */
	void *u = vq_mem_ptr_w(q->t, c->device_addr,
			       vdev_split_used_size(c->size));

	if (!d || !a || !u)
		return -EFAULT;
	/* The guest addresses are aligned (vdev_queue_configure), but a
	 * region's host mapping need not be: a frontend picks the offsets.
	 * The rings are accessed as C structs, so they must be aligned
	 * here too. */
	if (!VQ_ALIGNED(d, struct vdev_vring_desc) ||
	    !VQ_ALIGNED(a, struct vdev_vring_avail) ||
	    !VQ_ALIGNED(u, struct vdev_vring_used))
		return -EFAULT;
	q->desc = d;
	q->avail = a;
	q->used = u;
	return 0;
}

/* The one place a split chain is walked and validated. */
VQ_HOT int walk(struct vdev_queue *q, uint16_t head, struct vdev_req *req,
		struct vq_walk *w)
{
	const uint8_t *tab = (const uint8_t *)q->desc;
	uint32_t n = q->size;
	bool in_table = false;
	uint16_t i = head, f0;
	struct vdev_vring_desc d;

	vq_walk_init(w, req);
	if (head >= q->size)
		return vq_fail(q, "head index out of range");
	/* One copy: the driver may change it under us, and an indirect
	 * table need not be aligned. */
	memcpy(&d, tab + 16ul * i, sizeof(d));
	f0 = vdev_le16_to_cpu(d.flags);
	/* Most chains of most devices are one buffer. */
	if (__builtin_expect(!(f0 & (VDEV_DESC_F_NEXT | VDEV_DESC_F_INDIRECT)),
			     1))
		return vq_walk_one(q, w, vdev_le64_to_cpu(d.addr),
				   vdev_le32_to_cpu(d.len),
				   f0 & VDEV_DESC_F_WRITE);
	for (;;) {
		uint64_t addr;
		uint32_t len;
		uint16_t flags, next;
		int ret;

		addr = vdev_le64_to_cpu(d.addr);
		len = vdev_le32_to_cpu(d.len);
		flags = vdev_le16_to_cpu(d.flags);
		next = vdev_le16_to_cpu(d.next);

		if (flags & VDEV_DESC_F_INDIRECT) {
			tab = vq_indirect_table(q, addr, len, flags, in_table);
			if (!tab)
				return -EIO;
			n = len / 16;
			i = 0;
			in_table = true;
			memcpy(&d, tab, sizeof(d));
			continue;
		}
		ret = vq_walk_buf(q, w, addr, len, flags & VDEV_DESC_F_WRITE);
		if (ret)
			return ret;
		if (!(flags & VDEV_DESC_F_NEXT))
			return 0;
		if (next >= n)
			return vq_fail(q, "next index out of range");
		i = next;
		memcpy(&d, tab + 16ul * i, sizeof(d));
	}
}


/* A chain with more buffers than the caller has iovecs goes straight back
 * with nothing written; the queue carries on. */
VQ_HOT int finish(struct vdev_queue *q, struct vdev_req *req,
		  const struct vq_walk *w)
{
	vq_req_start(q, req, w);
	if (__builtin_expect(!w->overflow, 1))
		return 0;
	vq_split_push(q, req, 0, true);
	q->inflight--;
	q->pending++;
	vq_count(&q->st_errors, 1);
	vq_req_done(q, req);
	return -EMSGSIZE;
}

/*
 * Inflight tracking (vdev_queue_set_inflight). The region outlives this
 * process, not the machine: a SIGKILL keeps every store already made, so
 * only the order of the stores matters (compiler and CPU fences). The
 * next back-end finds: a marked head = popped, not completed; used_idx of
 * the region behind the ring's = the last_batch_head completion was
 * published but not yet unmarked.
 */
static void ifl_mark(struct vdev_queue *q, uint16_t head)
{
	struct vq_ifl_desc *d = &q->ifl->desc[head];

	d->counter = vdev_cpu_to_le64(q->ifl_counter++);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&d->inflight, 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

void vq_split_push_tracked(struct vdev_queue *q, struct vdev_req *req,
			   uint32_t written)
{
	struct vq_ifl_split *h = q->ifl;
	uint16_t slot = q->used_idx & q->mask;
	struct vdev_vring_used_elem *e = &q->used->ring[slot];
	uint16_t id = (uint16_t)req->id;

	__atomic_store_n(&h->last_batch_head, vdev_cpu_to_le16(id),
			 __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	e->id = vdev_cpu_to_le32(req->id);
	e->len = vdev_cpu_to_le32(written);
	q->used_idx++;
	if (__builtin_expect(q->t->log != NULL, 0))
		vq_split_log_used(q, 4 + 8ull * slot, 8);
	vq_split_publish(q);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&h->desc[id].inflight, 0, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&h->used_idx, vdev_cpu_to_le16(q->used_idx),
			 __ATOMIC_RELAXED);
}

/* A chain the previous back-end took and never completed: walked again
 * from its head (validated like any other), the ring does not move. */
static int pop_resubmit(struct vdev_queue *q, struct vdev_req *req)
{
	uint16_t head = q->resub[q->resub_pos++];
	struct vq_walk w;
	int ret;

	if (q->resub_pos == q->nresub) {
		free(q->resub);
		q->resub = NULL;
		q->nresub = q->resub_pos = 0;
	}
	ret = walk(q, head, req, &w);
	if (ret)
		return ret;
	req->id = head;
	req->ndesc = (uint16_t)w.count;
	return finish(q, req, &w);
}

/*
 * A pop found nothing past avail index @a: remembered as what the device
 * saw (as vq_split_avail_count does), so a wait for more asks the driver
 * to kick from @a, also after chains popped before are given back
 * (unpop). Asking from last_avail after an unpop asks for an entry the
 * driver published already: under EVENT_IDX it never kicks for that.
 */
static int seen_empty(struct vdev_queue *q, uint16_t a)
{
	q->seen_valid = true;
	q->seen_pos = a;
	return -EAGAIN;
}

int vq_split_pop(struct vdev_queue *q, struct vdev_req *req)
{
	uint16_t idx = q->last_avail, head;
	struct vq_walk w;
	int ret;

	if (__builtin_expect(q->nresub != 0, 0))
		return pop_resubmit(q, req);
	if (idx == q->shadow_avail) {
		uint16_t a = vq_load_acquire16(&q->avail->idx);

		if ((uint16_t)(a - idx) > q->size)
			return vq_fail(q, "avail index moved past the queue size");
		q->shadow_avail = a;
		if (a == idx)
			return seen_empty(q, a);
	}
	head = vq_load16(&q->avail->ring[idx & q->mask]);
	ret = walk(q, head, req, &w);
	if (ret)
		return ret;
	if (__builtin_expect(q->ifl != NULL, 0))
		ifl_mark(q, head);
	q->last_avail = idx + 1;
	if (q->event_idx && q->kicks_enabled)
		set_avail_event(q);
	req->id = head;
	req->ndesc = (uint16_t)w.count;
	return finish(q, req, &w);
}

/*
 * vdev_queue_pop_batch on a split ring with nothing to resubmit. The same
 * pops as vq_split_pop one after the other, with the queue's state in
 * locals (stores into the caller's requests may alias it) and avail_event
 * written once, for where the batch stopped.
 */
int vq_split_pop_batch(struct vdev_queue *q, struct vdev_req **reqs,
		       unsigned n)
{
	uint16_t idx = q->last_avail, avail = q->shadow_avail;
	const vdev_le16 *ring = q->avail->ring;
	uint16_t mask = q->mask, size = q->size;
	unsigned got = 0, spent = 0, budget = q->budget, left = q->budget_left;
	int ret = 0;

	while (got < n) {
		struct vdev_req *req = reqs[got];
		struct vq_walk w;
		uint16_t head;

		if (budget && spent == left) {
			ret = -EBUSY;
			break;
		}
		if (idx == avail) {
			avail = vq_load_acquire16(&q->avail->idx);
			if ((uint16_t)(avail - idx) > size) {
				ret = vq_fail(q, "avail index moved past the "
						 "queue size");
				break;
			}
			q->shadow_avail = avail;
			if (avail == idx) {
				ret = seen_empty(q, avail);
				break;
			}
		}
		head = vq_load16(&ring[idx & mask]);
		ret = walk(q, head, req, &w);
		if (ret)
			break;
		if (__builtin_expect(q->ifl != NULL, 0))
			ifl_mark(q, head);
		idx++;
		spent++;
		req->id = head;
		req->ndesc = (uint16_t)w.count;
		/* A chain sent back for want of iovecs still cost work. */
		ret = finish(q, req, &w);
		if (__builtin_expect(ret == 0, 1))
			got++;
	}
	q->last_avail = idx;
	q->budget_left -= spent;
	if (spent && q->event_idx && q->kicks_enabled)
		set_avail_event(q);
	return got ? (int)got : ret;
}

int vq_split_pop_id(struct vdev_queue *q, uint16_t id, struct vdev_req *req)
{
	struct vq_walk w;
	int ret = walk(q, id, req, &w);

	if (ret)
		return ret;
	req->id = id;
	req->ndesc = (uint16_t)w.count;
	return finish(q, req, &w);
}

int vq_split_unpop(struct vdev_queue *q, struct vdev_req *req)
{
	uint16_t idx = (uint16_t)(q->last_avail - 1);

	/* Only the chain popped last from the ring goes back: the entry
	 * before last_avail must name it. (A driver that rewrote that entry
	 * meanwhile gets whatever chain it put there walked and validated
	 * again on the next pop.) */
	if (vq_load16(&q->avail->ring[idx & q->mask]) != req->id)
		return -EINVAL;
	if (__builtin_expect(q->ifl != NULL, 0) && req->id < q->size) {
		__atomic_thread_fence(__ATOMIC_RELEASE);
		__atomic_store_n(&q->ifl->desc[req->id].inflight, 0,
				 __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_RELEASE);
		q->ifl_counter--;
	}
	q->last_avail = idx;
	if (q->event_idx && q->kicks_enabled)
		set_avail_event(q);
	return 0;
}

int vq_split_avail_count(struct vdev_queue *q, unsigned max)
{
	uint16_t a = vq_load_acquire16(&q->avail->idx);
	unsigned n;

	if ((uint16_t)(a - q->last_avail) > q->size)
		return vq_fail(q, "avail index moved past the queue size");
	q->shadow_avail = a;
	n = (uint16_t)(a - q->last_avail) + (q->nresub - q->resub_pos);
	/* Saw the end of what is there only if it did not stop at max. */
	q->seen_valid = n < max;
	q->seen_pos = a;
	return (int)(n < max ? n : max);
}

bool vq_split_new_since_seen(struct vdev_queue *q)
{
	return q->seen_valid && kick_from(q) == q->seen_pos &&
	       vq_load_acquire16(&q->avail->idx) != q->seen_pos;
}

bool vq_split_need_notify(struct vdev_queue *q)
{
	uint16_t old = q->signalled, cur = q->used_idx;
	bool valid = q->signalled_valid;

	q->signalled = cur;
	q->signalled_valid = true;
	if (q->event_idx)
		return !valid || q->pending >= 0x10000u ||
		       vdev_need_event(vq_load16(used_event(q)), cur, old);
	return !(vq_load16(&q->avail->flags) & VDEV_AVAIL_F_NO_INTERRUPT);
}

void vq_split_kicks(struct vdev_queue *q, bool on)
{
	if (q->event_idx) {
		/* Off: avail_event simply stops moving. */
		if (on)
			set_avail_event(q);
		return;
	}
	vq_store16(&q->used->flags, on ? 0 : VDEV_USED_F_NO_NOTIFY);
	if (__builtin_expect(q->t->log != NULL, 0))
		vq_split_log_used(q, 0, 2);
}

bool vq_split_has_avail(struct vdev_queue *q)
{
	return q->nresub != 0 || q->shadow_avail != q->last_avail ||
	       vq_load_acquire16(&q->avail->idx) != q->last_avail;
}
