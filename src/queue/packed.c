/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Packed virtqueue (virtio 1.2, 2.8), device side.
 *
 * A descriptor is available when its AVAIL bit equals the driver wrap
 * counter the device expects and its USED bit does not (2.8.1); both equal
 * means "used", i.e. not (yet) made available again. The head's flags are
 * loaded with acquire: the driver writes them last. The buffer id is taken
 * from the last descriptor of a chain (2.8.6). The device writes one used
 * descriptor per buffer, flags last with release, and skips the slots the
 * chain occupied.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "queue/queue_internal.h"

#define F_AVAIL (1u << VDEV_PACKED_DESC_F_AVAIL)
#define F_USED (1u << VDEV_PACKED_DESC_F_USED)

static bool is_avail(uint16_t flags, bool wrap)
{
	return !!(flags & F_AVAIL) == wrap && !!(flags & F_USED) != wrap;
}

/* Position on a circle of 2 * size: slot plus which lap. */
uint16_t vq_packed_lin(const struct vdev_queue *q, uint16_t pos, bool wrap)
{
	return (uint16_t)(wrap ? pos : pos + q->size);
}

int vq_packed_map(struct vdev_queue *q)
{
	const struct vdev_queue_config *c = &q->cfg;
	/* The device writes descriptors back and its event area. */
	void *d = vq_mem_ptr_w(q->t, c->desc_addr, 16ull * c->size);
	void *drv = vq_mem_ptr(q->t, c->driver_addr, 4);
	void *dev = vq_mem_ptr_w(q->t, c->device_addr, 4);

	/* Aligned in host memory too (see vq_split_map). */
	if (!d || !drv || !dev || !VQ_ALIGNED(d, struct vdev_packed_desc) ||
	    !VQ_ALIGNED(drv, struct vdev_packed_event) ||
	    !VQ_ALIGNED(dev, struct vdev_packed_event))
		return -EFAULT;
	q->pdesc = d;
	q->drv_event = drv;
	q->dev_event = dev;
	return 0;
}

struct chain_end {
	uint16_t pos;
	bool wrap;
	uint16_t id;
	uint16_t ndesc;
};

/* An indirect table: entries in sequence, NEXT ignored (2.8.19). */
static int __attribute__((noinline))
walk_indirect(struct vdev_queue *q, struct vq_walk *w, uint64_t addr,
	      uint32_t len, uint16_t flags)
{
	const uint8_t *tab = vq_indirect_table(q, addr, len, flags, false);

	if (!tab)
		return -EIO;
	for (uint32_t k = 0; k < len / 16; k++) {
		struct vdev_packed_desc e;
		uint16_t ef;
		int ret;

		/* One copy; the table need not be aligned. */
		memcpy(&e, tab + 16ul * k, sizeof(e));
		ef = vdev_le16_to_cpu(e.flags);
		if (ef & VDEV_DESC_F_INDIRECT)
			return vq_fail(q, "indirect descriptor inside an "
					  "indirect table");
		ret = vq_walk_buf(q, w, vdev_le64_to_cpu(e.addr),
				  vdev_le32_to_cpu(e.len),
				  ef & VDEV_DESC_F_WRITE);
		if (ret)
			return ret;
	}
	return 0;
}

/* The one place a packed chain is walked and validated. -EAGAIN: the slot
 * at @pos holds no available descriptor. */
VQ_HOT int walk(struct vdev_queue *q, uint16_t pos, bool wrap,
		struct vdev_req *req, struct vq_walk *w, struct chain_end *end)
{
	uint16_t nd = 0, id = 0;

	vq_walk_init(w, req);
	for (;;) {
		const struct vdev_packed_desc *d = &q->pdesc[pos];
		uint16_t flags = vq_load_acquire16(&d->flags);
		struct vdev_packed_desc c;
		uint64_t addr;
		uint32_t len;
		int ret;

		if (__builtin_expect(!is_avail(flags, wrap), 0)) {
			if (nd == 0)
				return -EAGAIN;
			return vq_fail(q, "chain continues into a descriptor "
					  "that is not available");
		}
		if (__builtin_expect(++nd > q->size, 0))
			return vq_fail(q, "chain longer than the queue");
		/* One copy of what the flags made visible. */
		memcpy(&c, d, 12);
		addr = vdev_le64_to_cpu(c.addr);
		len = vdev_le32_to_cpu(c.len);
		id = vdev_le16_to_cpu(VQ_READ(d->id));
		if (__builtin_expect(flags & VDEV_DESC_F_INDIRECT, 0)) {
			ret = walk_indirect(q, w, addr, len, flags);
		} else if (nd == 1 && !(flags & VDEV_DESC_F_NEXT)) {
			/* Most chains of most devices are one buffer. */
			ret = vq_walk_one(q, w, addr, len,
					  flags & VDEV_DESC_F_WRITE);
		} else {
			ret = vq_walk_buf(q, w, addr, len,
					  flags & VDEV_DESC_F_WRITE);
		}
		if (ret)
			return ret;
		if (++pos == q->size) {
			pos = 0;
			wrap = !wrap;
		}
		if (!(flags & VDEV_DESC_F_NEXT))
			break;
	}
	end->pos = pos;
	end->wrap = wrap;
	end->id = id;
	end->ndesc = nd;
	return 0;
}

VQ_HOT int finish(struct vdev_queue *q, struct vdev_req *req,
		  const struct vq_walk *w, const struct chain_end *end)
{
	req->id = end->id;
	req->ndesc = end->ndesc;
	vq_req_start(q, req, w);
	if (__builtin_expect(!w->overflow, 1))
		return 0;
	vq_packed_push(q, req, 0);
	q->inflight--;
	q->pending++;
	vq_count(&q->st_errors, 1);
	vq_req_done(q, req);
	return -EMSGSIZE;
}

/* The device event structure is guest memory the device writes. */
static void log_dev_event(struct vdev_queue *q)
{
	if (__builtin_expect(q->t->log != NULL, 0))
		vdev_mem_log_write(q->t, q->cfg.device_addr, 4);
}

/* Is what the device counted (seen_pos/seen_wrap) at or after
 * last_avail on the ring's circle of 2 * size? */
static bool seen_ahead(const struct vdev_queue *q)
{
	uint32_t mod = 2u * q->size;
	uint32_t d = (vq_packed_lin(q, q->seen_pos, q->seen_wrap) + mod -
		      vq_packed_lin(q, q->last_avail, q->avail_wrap)) % mod;

	return q->seen_valid && d <= q->size;
}

/* The first slot the device has not seen yet: where the driver's next
 * kick should come from. */
static void publish_avail_event(struct vdev_queue *q)
{
	bool seen = seen_ahead(q);
	uint16_t pos = seen ? q->seen_pos : q->last_avail;
	bool wrap = seen ? q->seen_wrap : q->avail_wrap;

	vq_store16(&q->dev_event->off_wrap,
		   (uint16_t)(pos | (wrap ? 0x8000u : 0)));
	log_dev_event(q);
}

static int pop_resubmit(struct vdev_queue *q, struct vdev_req *req);
static void ifl_mark(struct vdev_queue *q, uint16_t pos,
		     const struct chain_end *end);

/*
 * A pop found the slot at last_avail empty: remembered as what the device
 * saw (as vq_packed_avail_count does), so a wait for more asks the driver
 * to notify from there, also after chains popped before are given back
 * (unpop): asking from the first of those asks for descriptors the driver
 * made available already, and it never notifies for them.
 */
static int seen_empty(struct vdev_queue *q)
{
	q->seen_valid = true;
	q->seen_pos = q->last_avail;
	q->seen_wrap = q->avail_wrap;
	return -EAGAIN;
}

int vq_packed_pop(struct vdev_queue *q, struct vdev_req *req)
{
	struct chain_end end;
	struct vq_walk w;
	int ret;

	if (__builtin_expect(q->nresub != 0, 0))
		return pop_resubmit(q, req);
	ret = walk(q, q->last_avail, q->avail_wrap, req, &w, &end);
	if (ret)
		return ret == -EAGAIN ? seen_empty(q) : ret;
	if (__builtin_expect(q->iflp != NULL, 0))
		ifl_mark(q, q->last_avail, &end);
	q->last_avail = end.pos;
	q->avail_wrap = end.wrap;
	if (q->event_idx && q->kicks_enabled)
		publish_avail_event(q);
	return finish(q, req, &w, &end);
}

/* vdev_queue_pop_batch on a packed ring with nothing to resubmit: the
 * pops of vq_packed_pop, with the device event written once, for where
 * the batch stopped. */
int vq_packed_pop_batch(struct vdev_queue *q, struct vdev_req **reqs,
			unsigned n)
{
	unsigned got = 0, spent = 0, budget = q->budget, left = q->budget_left;
	int ret = 0;

	while (got < n) {
		struct vdev_req *req = reqs[got];
		struct chain_end end;
		struct vq_walk w;

		if (budget && spent == left) {
			ret = -EBUSY;
			break;
		}
		ret = walk(q, q->last_avail, q->avail_wrap, req, &w, &end);
		if (ret) {
			if (ret == -EAGAIN)
				ret = seen_empty(q);
			break;
		}
		if (__builtin_expect(q->iflp != NULL, 0))
			ifl_mark(q, q->last_avail, &end);
		q->last_avail = end.pos;
		q->avail_wrap = end.wrap;
		spent++;
		/* A chain sent back for want of iovecs still cost work. */
		ret = finish(q, req, &w, &end);
		if (__builtin_expect(ret == 0, 1))
			got++;
	}
	q->budget_left -= spent;
	if (spent && q->event_idx && q->kicks_enabled)
		publish_avail_event(q);
	return got ? (int)got : ret;
}

int vq_packed_pop_id(struct vdev_queue *q, uint16_t id, struct vdev_req *req)
{
	uint16_t pos = q->used_idx;
	bool wrap = q->used_wrap;
	struct chain_end end;
	struct vq_walk w;

	/* Chains between the used position and the avail position are still
	 * intact in the ring: find the one with buffer id @id. */
	for (uint32_t seen = 0; seen < q->size; seen += end.ndesc) {
		int ret = walk(q, pos, wrap, req, &w, &end);

		if (ret)
			return ret;
		if (end.id == id)
			return finish(q, req, &w, &end);
		pos = end.pos;
		wrap = end.wrap;
	}
	return -EAGAIN;
}

/* Slot @pos moved back by @n (1..size) on the circle of 2 * size. */
static void step_back(const struct vdev_queue *q, uint16_t *pos, bool *wrap,
		      uint16_t n)
{
	if (*pos >= n) {
		*pos = (uint16_t)(*pos - n);
	} else {
		*pos = (uint16_t)(*pos + q->size - n);
		*wrap = !*wrap;
	}
}

static uint16_t ifl_find(const struct vdev_queue *q, uint16_t id);
static void ifl_unmark(struct vdev_queue *q, uint16_t head, uint16_t id);

int vq_packed_unpop(struct vdev_queue *q, struct vdev_req *req)
{
	uint16_t nd = req->ndesc, pos = q->last_avail, last = q->last_avail;
	bool wrap = q->avail_wrap, lwrap = q->avail_wrap;
	uint16_t head = VQ_IFL_NONE;

	if (nd == 0 || nd > q->size)
		return -EINVAL;
	/* Only the chain popped last goes back: the slot before last_avail
	 * holds its last descriptor, with its buffer id. */
	step_back(q, &last, &lwrap, 1);
	step_back(q, &pos, &wrap, nd);
	if (vdev_le16_to_cpu(VQ_READ(q->pdesc[last].id)) != req->id)
		return -EINVAL;
	if (__builtin_expect(q->iflp != NULL, 0)) {
		/* Its entries were the ones just before the free list. */
		head = ifl_find(q, req->id);
		if (head == VQ_IFL_NONE || q->ient[head].num != nd ||
		    q->ient[q->ient[head].last].next != q->ifree)
			return -EINVAL;
		ifl_unmark(q, head, req->id);
	}
	q->last_avail = pos;
	q->avail_wrap = wrap;
	if (q->event_idx && q->kicks_enabled)
		publish_avail_event(q);
	return 0;
}

int vq_packed_avail_count(struct vdev_queue *q, unsigned max)
{
	uint16_t pos = q->last_avail;
	bool wrap = q->avail_wrap;
	unsigned n = q->nresub - q->resub_pos;

	/* Whole chains only: the driver makes a chain's head available
	 * last, so one whose head is available is complete. At most one
	 * lap of the ring is looked at. */
	q->seen_valid = false;
	for (uint16_t seen = 0; seen < q->size && n < max; seen++) {
		uint16_t flags = vq_load_acquire16(&q->pdesc[pos].flags);

		if (!is_avail(flags, wrap)) {
			/* The end of what is there: remembered, so a wait
			 * for more asks for this slot (publish_avail_event).
			 * Only a chain boundary counts. */
			q->seen_valid = true;
			break;
		}
		if (!(flags & VDEV_DESC_F_NEXT))
			n++;
		if (++pos == q->size) {
			pos = 0;
			wrap = !wrap;
		}
	}
	q->seen_pos = pos;
	q->seen_wrap = wrap;
	return (int)(n < max ? n : max);
}

bool vq_packed_new_since_seen(struct vdev_queue *q)
{
	return seen_ahead(q) &&
	       is_avail(vq_load_acquire16(&q->pdesc[q->seen_pos].flags),
			q->seen_wrap);
}

bool vq_packed_need_notify(struct vdev_queue *q)
{
	uint32_t cur = vq_packed_lin(q, q->used_idx, q->used_wrap);
	uint32_t old = q->signalled, mod = 2u * q->size, ev;
	bool valid = q->signalled_valid;
	uint16_t flags, ow;

	q->signalled = (uint16_t)cur;
	q->signalled_valid = true;
	flags = vq_load16(&q->drv_event->flags);
	if (flags == VDEV_PACKED_EVENT_FLAG_DISABLE)
		return false;
	if (flags != VDEV_PACKED_EVENT_FLAG_DESC || !q->event_idx)
		return true;
	if (!valid || q->pending >= q->size)
		return true;
	ow = vq_load16(&q->drv_event->off_wrap);
	if ((ow & 0x7fffu) >= q->size)
		return true;
	ev = vq_packed_lin(q, ow & 0x7fffu, ow >> 15);
	/* Was the slot the driver waits for written in [old, cur)? */
	return (ev + mod - old) % mod < (cur + mod - old) % mod;
}

void vq_packed_kicks(struct vdev_queue *q, bool on)
{
	uint16_t flags = VDEV_PACKED_EVENT_FLAG_DISABLE;

	if (on && q->event_idx) {
		publish_avail_event(q);
		flags = VDEV_PACKED_EVENT_FLAG_DESC;
	} else if (on) {
		flags = VDEV_PACKED_EVENT_FLAG_ENABLE;
	}
	vq_store16(&q->dev_event->flags, flags);
	log_dev_event(q);
}

bool vq_packed_has_avail(struct vdev_queue *q)
{
	return q->nresub != 0 ||
	       is_avail(vq_load_acquire16(&q->pdesc[q->last_avail].flags),
			q->avail_wrap);
}

/*
 * Inflight tracking (vdev_queue_set_inflight), packed layout of
 * vhost-user.rst. As for split rings (split.c), a SIGKILL keeps every
 * store already made, so only their order matters. The "old_" fields are
 * the last consistent state: a pop fills entries of the free list, marks
 * the head, and only then moves old_free_head past the chain; a push links
 * the chain back into the free list and moves used_idx, publishes the used
 * descriptor, unmarks the head, and only then sets the old_ fields. The
 * next back-end rolls a half-done completion forward when the ring shows
 * it was published (the slot at old_used_idx no longer available), back
 * otherwise (set_inflight below).
 */
static void st16(vdev_le16 *p, uint16_t v)
{
	__atomic_store_n(p, vdev_cpu_to_le16(v), __ATOMIC_RELAXED);
}

static void st8(uint8_t *p, uint8_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static void release(void)
{
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static uint16_t ld16(const vdev_le16 *p)
{
	return vdev_le16_to_cpu(__atomic_load_n(p, __ATOMIC_RELAXED));
}

/* Records a chain just walked at slot @pos before the device sees it. */
static void ifl_mark(struct vdev_queue *q, uint16_t pos,
		     const struct chain_end *end)
{
	struct vq_ifl_packed *h = q->iflp;
	uint16_t head = q->ifree, e = head, last = head;
	struct vq_ifl_pdesc *hd;

	for (uint16_t k = 0; k < end->ndesc; k++) {
		struct vq_ifl_pdesc *s;
		struct vdev_packed_desc c;

		/* The free list always has an entry per ring slot not in
		 * flight; never trust that blindly. */
		if (e >= q->size)
			return;
		s = &h->desc[e];
		memcpy(&c, &q->pdesc[pos], sizeof(c));
		s->addr = c.addr;
		s->len = c.len;
		s->id = c.id;
		s->flags = c.flags;
		last = e;
		e = q->ient[e].next;
		if (++pos == q->size)
			pos = 0;
	}
	hd = &h->desc[head];
	hd->num = vdev_cpu_to_le16(end->ndesc);
	hd->last = vdev_cpu_to_le16(last);
	hd->counter = vdev_cpu_to_le64(q->ifl_counter++);
	release();
	st8(&hd->inflight, 1);
	release();
	st16(&h->free_head, e);
	release();
	st16(&h->old_free_head, e);
	release();
	q->ifree = e;
	q->ient[head].num = end->ndesc;
	q->ient[head].last = last;
	q->ient[head].id = end->id;
	if (end->id < q->size)
		q->ibyid[end->id] = head;
}

/* The head entry of the chain in flight with buffer id @id. */
static uint16_t ifl_find(const struct vdev_queue *q, uint16_t id)
{
	if (id < q->size) {
		uint16_t e = q->ibyid[id];

		if (e < q->size && q->ient[e].num && q->ient[e].id == id)
			return e;
	}
	/* An id at or above the queue size, or one the driver reused while
	 * it was still in flight. */
	for (uint16_t e = 0; e < q->size; e++)
		if (q->ient[e].num && q->ient[e].id == id)
			return e;
	return VQ_IFL_NONE;
}

/* Undoes ifl_mark for the chain whose entries start at @head, which are
 * the last ones taken from the free list. A crash in between leaves
 * either order consistent: the restart rebuilds the free list from what
 * no marked chain owns. */
static void ifl_unmark(struct vdev_queue *q, uint16_t head, uint16_t id)
{
	struct vq_ifl_packed *h = q->iflp;

	release();
	st8(&h->desc[head].inflight, 0);
	release();
	st16(&h->free_head, head);
	release();
	st16(&h->old_free_head, head);
	release();
	q->ifree = head;
	q->ient[head].num = 0;
	if (id < q->size && q->ibyid[id] == head)
		q->ibyid[id] = VQ_IFL_NONE;
	q->ifl_counter--;
}

void vq_packed_push_tracked(struct vdev_queue *q, struct vdev_req *req,
			    uint32_t written)
{
	struct vq_ifl_packed *h = q->iflp;
	uint16_t e = ifl_find(q, req->id), last, np;
	uint32_t nd = req->ndesc;
	bool nw = q->used_wrap;

	if (e == VQ_IFL_NONE) {
		vq_packed_push_raw(q, req, written);
		return;
	}
	last = q->ient[e].last;
	q->ient[last].next = q->ifree;
	st16(&h->desc[last].next, q->ifree);
	st16(&h->free_head, e);
	q->ifree = e;
	/* Where vq_packed_push_raw will leave the used position. */
	if (nd == 0 || nd > q->size)
		nd = 1;
	nd += q->used_idx;
	if (nd >= q->size) {
		nd -= q->size;
		nw = !nw;
	}
	np = (uint16_t)nd;
	release();
	st16(&h->used_idx, np);
	st8(&h->used_wrap_counter, nw);
	release();
	vq_packed_push_raw(q, req, written);
	release();
	st8(&h->desc[e].inflight, 0);
	release();
	st16(&h->old_free_head, e);
	st16(&h->old_used_idx, np);
	st8(&h->old_used_wrap_counter, nw);
	q->ient[e].num = 0;
	if (req->id < q->size && q->ibyid[req->id] == e)
		q->ibyid[req->id] = VQ_IFL_NONE;
}

/* A chain the previous back-end took and never completed, walked again
 * from the region's copy of its descriptors (validated like any other).
 * The ring does not move. */
static int pop_resubmit(struct vdev_queue *q, struct vdev_req *req)
{
	uint16_t head = q->resub[q->resub_pos++], e = head;
	const struct vq_ifl_ent *he = &q->ient[head];
	struct chain_end end;
	struct vq_walk w;

	if (q->resub_pos == q->nresub) {
		free(q->resub);
		q->resub = NULL;
		q->nresub = q->resub_pos = 0;
	}
	vq_walk_init(&w, req);
	for (uint16_t k = 0; k < he->num; k++) {
		const struct vq_ifl_pdesc *s = &q->iflp->desc[e];
		uint64_t addr = vdev_le64_to_cpu(VQ_READ(s->addr));
		uint32_t len = vdev_le32_to_cpu(VQ_READ(s->len));
		uint16_t flags = vdev_le16_to_cpu(VQ_READ(s->flags));
		int ret;

		if (flags & VDEV_DESC_F_INDIRECT)
			ret = walk_indirect(q, &w, addr, len, flags);
		else
			ret = vq_walk_buf(q, &w, addr, len,
					  flags & VDEV_DESC_F_WRITE);
		if (ret)
			return ret;
		e = q->ient[e].next;
	}
	end.id = he->id;
	end.ndesc = he->num;
	return finish(q, req, &w, &end);
}

struct ifl_head {
	uint64_t counter;
	uint16_t e;
};

static int ifl_cmp(const void *a, const void *b)
{
	const struct ifl_head *x = a, *y = b;

	return x->counter < y->counter ? -1 : x->counter > y->counter;
}

/*
 * Takes the chain with head entry @e0 if its entries are sound: @num of
 * them, linked by next, none out of range or owned by an older chain, NEXT
 * on all but the last, the last one where the head says. Content (address,
 * length, indirect rules) is checked when it is popped. Returns its size,
 * 0 when it is dropped.
 */
static uint16_t ifl_take(struct vdev_queue *q, uint16_t *owner, uint16_t e0,
			 uint16_t room)
{
	struct vq_ifl_packed *h = q->iflp;
	uint16_t num = ld16(&h->desc[e0].num), e = e0, k, last = e0;
	bool bad = false;

	if (num == 0 || num > room)
		return 0;
	for (k = 0; k < num && !bad; k++) {
		uint16_t f;

		if (e >= q->size || owner[e] != VQ_IFL_NONE) {
			bad = true;
			break;
		}
		owner[e] = e0;
		last = e;
		f = ld16(&h->desc[e].flags);
		bad = !(f & VDEV_DESC_F_NEXT) != (k == num - 1);
		q->ient[e].next = ld16(&h->desc[e].next);
		e = q->ient[e].next;
	}
	if (bad || last != ld16(&h->desc[e0].last)) {
		for (e = 0; e < q->size; e++)
			if (owner[e] == e0)
				owner[e] = VQ_IFL_NONE;
		return 0;
	}
	q->ient[e0].num = num;
	q->ient[e0].last = last;
	q->ient[e0].id = ld16(&h->desc[last].id);
	if (q->ient[e0].id < q->size)
		q->ibyid[q->ient[e0].id] = e0;
	return num;
}

static bool slot_avail(const struct vdev_queue *q, uint16_t pos, bool wrap)
{
	return is_avail(vq_load_acquire16(&q->pdesc[pos].flags), wrap);
}

int vq_packed_set_inflight(struct vdev_queue *q, void *region, size_t len)
{
	struct vq_ifl_packed *h = region;
	uint16_t n = q->size, fh, ou, u, *owner;
	bool live, ow, w;
	struct ifl_head *heads;
	unsigned nh = 0, total = 0, first = n, prev = VQ_IFL_NONE;
	uint32_t pos;

	if (len < sizeof(*h) + (size_t)n * sizeof(h->desc[0]))
		return -EINVAL;
	q->ient = calloc(n, sizeof(*q->ient));
	q->ibyid = malloc(n * sizeof(*q->ibyid));
	q->resub = malloc(n * sizeof(*q->resub));
	owner = malloc(n * sizeof(*owner));
	heads = malloc(n * sizeof(*heads));
	if (!q->ient || !q->ibyid || !q->resub || !owner || !heads) {
		free(owner);
		free(heads);
		vq_ifl_clear(q);
		return -ENOMEM;
	}
	memset(q->ibyid, 0xff, n * sizeof(*q->ibyid));
	memset(owner, 0xff, n * sizeof(*owner));
	q->iflp = h;

	/* 1. Which completion state holds: the last consistent one, or the
	 * one a push was half-way into (published if the ring says so). */
	live = __atomic_load_n(&h->live, __ATOMIC_RELAXED) == VQ_IFL_LIVE;
	fh = ld16(&h->old_free_head);
	ou = ld16(&h->old_used_idx);
	ow = __atomic_load_n(&h->old_used_wrap_counter, __ATOMIC_RELAXED) & 1;
	u = ld16(&h->used_idx);
	w = __atomic_load_n(&h->used_wrap_counter, __ATOMIC_RELAXED) & 1;
	if (live && (ou >= n || u >= n))
		live = false; /* not ours: the frontend's base decides */
	if (live && (u != ou || w != ow) && !slot_avail(q, ou, ow)) {
		fh = ld16(&h->free_head);
		ou = u;
		ow = w;
	}

	/* 2. Nothing on the free list is in flight: this also forgets a pop
	 * that had not moved old_free_head yet, and a completion that was
	 * published but not unmarked. Bounded: the list may loop. */
	for (uint16_t k = 0, e = fh; k < n && e < n; k++) {
		if (owner[e] == 0)
			break;
		owner[e] = 0;
		st8(&h->desc[e].inflight, 0);
		e = ld16(&h->desc[e].next);
	}
	memset(owner, 0xff, n * sizeof(*owner));

	/* 3. The marked heads, oldest first, while they fit in the ring. */
	for (uint16_t e = 0; e < n; e++) {
		uint8_t v = __atomic_load_n(&h->desc[e].inflight,
					    __ATOMIC_RELAXED);

		if (v == 1) {
			heads[nh].counter =
				vdev_le64_to_cpu(h->desc[e].counter);
			heads[nh++].e = e;
		} else if (v) {
			st8(&h->desc[e].inflight, 0); /* not ours */
		}
	}
	qsort(heads, nh, sizeof(*heads), ifl_cmp);
	q->nresub = 0;
	q->ifl_counter = 1;
	for (unsigned i = 0; i < nh; i++) {
		uint16_t e = heads[i].e, got = 0;

		if (owner[e] == VQ_IFL_NONE)
			got = ifl_take(q, owner, e, (uint16_t)(n - total));
		if (!got) {
			st8(&h->desc[e].inflight, 0);
			continue;
		}
		total += got;
		q->resub[q->nresub++] = e;
		q->ifl_counter = heads[i].counter + 1;
	}
	free(heads);
	if (!q->nresub) {
		free(q->resub);
		q->resub = NULL;
	}
	q->resub_pos = 0;

	/* 4. Every entry no chain owns is free, linked in index order. The
	 * kept chains' entries are not written. */
	for (uint16_t e = 0; e < n; e++) {
		if (owner[e] != VQ_IFL_NONE)
			continue;
		if (prev == VQ_IFL_NONE) {
			first = e;
		} else {
			q->ient[prev].next = e;
			st16(&h->desc[prev].next, e);
		}
		prev = e;
	}
	if (prev != VQ_IFL_NONE) {
		q->ient[prev].next = n;
		st16(&h->desc[prev].next, n);
	}
	free(owner);

	/* 5. The ring: used where the region says (a frontend's base after
	 * a crash is stale: QEMU cannot read a packed ring's position), or
	 * where set_state put it for a region no queue ran on yet; the
	 * chains in flight lie right after it. */
	if (live) {
		q->used_idx = ou;
		q->used_wrap = ow;
	}
	pos = q->used_idx + total;
	q->avail_wrap = q->used_wrap;
	if (pos >= n) {
		pos -= n;
		q->avail_wrap = !q->avail_wrap;
	}
	q->last_avail = (uint16_t)pos;
	q->ifree = (uint16_t)first;
	release();
	st16(&h->free_head, q->ifree);
	st16(&h->used_idx, q->used_idx);
	st8(&h->used_wrap_counter, q->used_wrap);
	release();
	st16(&h->old_free_head, q->ifree);
	st16(&h->old_used_idx, q->used_idx);
	st8(&h->old_used_wrap_counter, q->used_wrap);
	st8(&h->live, VQ_IFL_LIVE);
	release();
	return (int)q->nresub;
}
