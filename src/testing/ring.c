/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Software driver: the driver side of one split or packed ring, written the
 * way virtio 1.2 2.7.13 / 2.8.21 describe it (descriptors first, then the
 * index or the head's flags with release), so the device side sees exactly
 * what a real guest would produce.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "testing/ring_internal.h"

#define F_AVAIL (1u << VDEV_PACKED_DESC_F_AVAIL)
#define F_USED (1u << VDEV_PACKED_DESC_F_USED)

static uint16_t ld16(const vdev_le16 *p)
{
	return vdev_le16_to_cpu(__atomic_load_n(p, __ATOMIC_ACQUIRE));
}

static void st16(vdev_le16 *p, uint16_t v)
{
	__atomic_store_n(p, vdev_cpu_to_le16(v), __ATOMIC_RELEASE);
}

static uint16_t avail_flags(bool wrap)
{
	return wrap ? F_AVAIL : F_USED;
}

static int alloc_rings(struct vdev_drv_ring *r)
{
	uint16_t n = r->size;

	if (r->packed) {
		r->pdesc = vdev_drv_mem_alloc(r->m, 16ul * n, 16, &r->desc_gpa);
		r->drv_ev = vdev_drv_mem_alloc(r->m, 4, 4, &r->drv_gpa);
		r->dev_ev = vdev_drv_mem_alloc(r->m, 4, 4, &r->dev_gpa);
		return r->pdesc && r->drv_ev && r->dev_ev ? 0 : -ENOMEM;
	}
	r->desc = vdev_drv_mem_alloc(r->m, vdev_split_desc_size(n), 16,
				     &r->desc_gpa);
	r->avail = vdev_drv_mem_alloc(r->m, vdev_split_avail_size(n), 2,
				      &r->drv_gpa);
	r->used = vdev_drv_mem_alloc(r->m, vdev_split_used_size(n), 4,
				     &r->dev_gpa);
	return r->desc && r->avail && r->used ? 0 : -ENOMEM;
}

struct vdev_drv_ring *vdev_drv_ring_new(struct vdev_drv_mem *m, uint16_t size,
					uint64_t features)
{
	struct vdev_drv_ring *r;
	int err = ENOMEM;

	if (size == 0 || size > VDEV_QUEUE_SIZE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	if (!(features & VDEV_BIT(VDEV_F_RING_PACKED)) && (size & (size - 1))) {
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		goto fail;
	r->m = m;
	r->size = size;
	r->features = features;
	r->packed = features & VDEV_BIT(VDEV_F_RING_PACKED);
	r->event_idx = features & VDEV_BIT(VDEV_F_EVENT_IDX);
	r->in_order = features & VDEV_BIT(VDEV_F_IN_ORDER);
	r->indirect = features & VDEV_BIT(VDEV_F_INDIRECT_DESC);
	r->want_irq = true;
	r->heads = calloc(size, sizeof(*r->heads));
	r->free = calloc(size, sizeof(*r->free));
	r->free_ids = calloc(size, sizeof(*r->free_ids));
	r->fifo = calloc(size, sizeof(*r->fifo));
	if (!r->heads || !r->free || !r->free_ids || !r->fifo)
		goto fail;
	if (alloc_rings(r))
		goto fail;
	/* Lowest index on top of the stack: chains come out as 0, 1, ... */
	for (unsigned i = 0; i < size; i++) {
		r->free[i] = (uint16_t)(size - 1 - i);
		r->free_ids[i] = (uint16_t)(size - 1 - i);
	}
	r->nfree = size;
	r->nfree_ids = size;
	r->free_slots = size;
	r->avail_wrap = true;
	r->used_wrap = true;
	r->kicked_lin = 0;
	return r;
fail:
	vdev_drv_ring_free(r);
	errno = err;
	return NULL;
}

void vdev_drv_ring_free(struct vdev_drv_ring *r)
{
	if (!r)
		return;
	free(r->heads);
	free(r->free);
	free(r->free_ids);
	free(r->fifo);
	free(r);
}

void vdev_drv_ring_queue_config(const struct vdev_drv_ring *r,
				struct vdev_queue_config *cfg)
{
	cfg->size = r->size;
	cfg->desc_addr = r->desc_gpa;
	cfg->driver_addr = r->drv_gpa;
	cfg->device_addr = r->dev_gpa;
	cfg->features = r->features | VDEV_BIT(VDEV_F_VERSION_1);
}

/* An indirect table of at least @n entries for @h, reused across adds. */
static struct vdev_vring_desc *indirect_table(struct vdev_drv_ring *r,
					      struct drv_head *h, unsigned n)
{
	if (h->ind_cap < n) {
		unsigned cap = n < 16 ? 16 : n;

		h->ind = vdev_drv_mem_alloc(r->m, 16ul * cap, 16, &h->ind_gpa);
		if (!h->ind) {
			h->ind_cap = 0;
			return NULL;
		}
		h->ind_cap = cap;
	}
	return h->ind;
}

static uint16_t split_alloc(struct vdev_drv_ring *r)
{
	uint16_t i;

	r->nfree--;
	if (r->in_order) {
		i = r->next_desc;
		r->next_desc = (uint16_t)((r->next_desc + 1) & (r->size - 1));
		return i;
	}
	return r->free[r->nfree];
}

static void split_release(struct vdev_drv_ring *r, uint16_t head)
{
	uint16_t i = head, n = r->heads[head].ndesc;

	for (uint16_t k = 0; k < n; k++) {
		uint16_t flags = vdev_le16_to_cpu(r->desc[i].flags);

		if (!r->in_order)
			r->free[r->nfree] = i;
		r->nfree++;
		if (!(flags & VDEV_DESC_F_NEXT))
			break;
		i = vdev_le16_to_cpu(r->desc[i].next) & (r->size - 1);
	}
}

static void fill(struct vdev_vring_desc *d, const struct vdev_drv_seg *s,
		 uint16_t flags, uint16_t next)
{
	d->addr = vdev_cpu_to_le64(s->gpa);
	d->len = vdev_cpu_to_le32(s->len);
	d->flags = vdev_cpu_to_le16(flags);
	d->next = vdev_cpu_to_le16(next);
}

static void split_publish(struct vdev_drv_ring *r, uint16_t head)
{
	r->avail->ring[r->avail_idx & (r->size - 1)] = vdev_cpu_to_le16(head);
	r->avail_idx++;
	st16(&r->avail->idx, r->avail_idx);
}

static int split_add(struct vdev_drv_ring *r, const struct vdev_drv_seg *segs,
		     unsigned nout, unsigned nin, bool indirect,
		     struct drv_head *tmpl)
{
	unsigned n = nout + nin;
	uint16_t head, prev = 0;

	if (r->nfree < (indirect ? 1 : n))
		return -ENOSPC;
	if (indirect) {
		struct vdev_vring_desc *tab;
		struct drv_head *h;
		struct vdev_drv_seg ts;

		/* The table belongs to the head; peek which head comes. */
		head = r->in_order ? r->next_desc : r->free[r->nfree - 1];
		h = &r->heads[head];
		tab = indirect_table(r, h, n);
		if (!tab)
			return -ENOMEM;
		for (unsigned i = 0; i < n; i++)
			fill(&tab[i], &segs[i],
			     (uint16_t)((i >= nout ? VDEV_DESC_F_WRITE : 0) |
					(i + 1 < n ? VDEV_DESC_F_NEXT : 0)),
			     (uint16_t)(i + 1 < n ? i + 1 : 0));
		head = split_alloc(r);
		ts.gpa = h->ind_gpa;
		ts.len = 16u * n;
		fill(&r->desc[head], &ts, VDEV_DESC_F_INDIRECT, 0);
		tmpl->ndesc = 1;
	} else {
		head = 0;
		for (unsigned i = 0; i < n; i++) {
			uint16_t d = split_alloc(r);
			uint16_t fl = i >= nout ? VDEV_DESC_F_WRITE : 0;

			if (i == 0)
				head = d;
			else
				r->desc[prev].next = vdev_cpu_to_le16(d);
			fill(&r->desc[d], &segs[i], fl, 0);
			if (i + 1 < n)
				r->desc[d].flags =
					vdev_cpu_to_le16(fl | VDEV_DESC_F_NEXT);
			prev = d;
		}
		tmpl->ndesc = (uint16_t)n;
	}
	r->heads[head].token = tmpl->token;
	r->heads[head].in_len = tmpl->in_len;
	r->heads[head].ndesc = tmpl->ndesc;
	r->heads[head].busy = true;
	if (r->in_order)
		r->fifo[r->fifo_tail++ % r->size] = head;
	split_publish(r, head);
	return 0;
}

static void packed_write(struct vdev_packed_desc *d, uint64_t addr,
			 uint32_t len, uint16_t id, uint16_t flags)
{
	d->addr = vdev_cpu_to_le64(addr);
	d->len = vdev_cpu_to_le32(len);
	d->id = vdev_cpu_to_le16(id);
	d->flags = vdev_cpu_to_le16(flags);
}

static int packed_add(struct vdev_drv_ring *r,
		      const struct vdev_drv_seg *segs, unsigned nout,
		      unsigned nin, bool indirect, struct drv_head *tmpl)
{
	unsigned n = nout + nin, need = indirect ? 1 : n;
	uint16_t id, pos = r->next_slot, head_flags = 0;
	bool wrap = r->avail_wrap;
	struct drv_head *h;

	if (r->free_slots < need || r->nfree_ids == 0)
		return -ENOSPC;
	id = r->free_ids[r->nfree_ids - 1];
	h = &r->heads[id];
	if (indirect) {
		struct vdev_packed_desc *tab;

		tab = (struct vdev_packed_desc *)indirect_table(r, h, n);
		if (!tab)
			return -ENOMEM;
		for (unsigned i = 0; i < n; i++)
			packed_write(&tab[i], segs[i].gpa, segs[i].len, 0,
				     i >= nout ? VDEV_DESC_F_WRITE : 0);
		head_flags = (uint16_t)(VDEV_DESC_F_INDIRECT |
					avail_flags(wrap));
		packed_write(&r->pdesc[pos], h->ind_gpa, 16u * n, id, 0);
	} else {
		for (unsigned i = 0; i < n; i++) {
			uint16_t fl = (uint16_t)((i >= nout ?
						  VDEV_DESC_F_WRITE : 0) |
						 (i + 1 < n ?
						  VDEV_DESC_F_NEXT : 0) |
						 avail_flags(wrap));
			uint16_t slot = (uint16_t)((pos + i) % r->size);

			if (slot == 0 && i)
				wrap = !wrap, fl ^= F_AVAIL | F_USED;
			if (i == 0) {
				head_flags = fl;
				fl = 0; /* made available last */
			}
			packed_write(&r->pdesc[slot], segs[i].gpa, segs[i].len,
				     id, fl);
		}
	}
	r->nfree_ids--;
	r->free_slots = (uint16_t)(r->free_slots - need);
	h->token = tmpl->token;
	h->in_len = tmpl->in_len;
	h->ndesc = (uint16_t)need;
	h->busy = true;
	r->next_slot = (uint16_t)(r->next_slot + need);
	if (r->next_slot >= r->size) {
		r->next_slot = (uint16_t)(r->next_slot - r->size);
		r->avail_wrap = !r->avail_wrap;
	}
	st16(&r->pdesc[pos].flags, head_flags);
	return 0;
}

int vdev_drv_ring_add(struct vdev_drv_ring *r,
		      const struct vdev_drv_seg *segs, unsigned nout,
		      unsigned nin, void *token, unsigned flags)
{
	struct drv_head tmpl = { .token = token };
	bool indirect = flags & VDEV_DRV_F_INDIRECT;
	unsigned n = nout + nin;
	int ret;

	if (n == 0 || n > 65535 || (indirect && !r->indirect))
		return -EINVAL;
	if (!indirect && n > r->size)
		return -ENOSPC;
	for (unsigned i = nout; i < n; i++)
		tmpl.in_len += segs[i].len;
	ret = r->packed ? packed_add(r, segs, nout, nin, indirect, &tmpl) :
			  split_add(r, segs, nout, nin, indirect, &tmpl);
	if (!ret)
		r->inflight++;
	return ret;
}

static uint16_t lin(const struct vdev_drv_ring *r, uint16_t pos, bool wrap)
{
	return (uint16_t)(wrap ? pos : pos + r->size);
}

bool vdev_drv_ring_needs_kick(struct vdev_drv_ring *r)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (!r->packed) {
		uint16_t old = r->kicked, cur = r->avail_idx;
		vdev_le16 *ev = (vdev_le16 *)&r->used->ring[r->size];

		r->kicked = cur;
		if (old == cur)
			return false;
		if (r->event_idx)
			return vdev_need_event(ld16(ev), cur, old);
		return !(ld16(&r->used->flags) & VDEV_USED_F_NO_NOTIFY);
	} else {
		uint32_t old = r->kicked_lin, mod = 2u * r->size;
		uint32_t cur = lin(r, r->next_slot, r->avail_wrap), ev;
		uint16_t flags = ld16(&r->dev_ev->flags), ow;

		r->kicked_lin = (uint16_t)cur;
		if (old == cur || flags == VDEV_PACKED_EVENT_FLAG_DISABLE)
			return false;
		if (flags != VDEV_PACKED_EVENT_FLAG_DESC || !r->event_idx)
			return true;
		ow = ld16(&r->dev_ev->off_wrap);
		if ((ow & 0x7fffu) >= r->size)
			return true;
		ev = lin(r, ow & 0x7fffu, ow >> 15);
		return (ev + mod - old) % mod < (cur + mod - old) % mod;
	}
}

uint32_t vdev_drv_ring_notification_data(const struct vdev_drv_ring *r)
{
	/* The caller puts the queue index in the low 16 bits (2.9). */
	if (!r->packed)
		return (uint32_t)r->avail_idx << 16;
	return ((uint32_t)r->next_slot | (r->avail_wrap ? 0x8000u : 0)) << 16;
}

static void update_irq_event(struct vdev_drv_ring *r)
{
	if (!r->want_irq || !r->event_idx)
		return;
	if (r->packed)
		st16(&r->drv_ev->off_wrap,
		     (uint16_t)(r->used_pos | (r->used_wrap ? 0x8000u : 0)));
	else
		st16(&r->avail->ring[r->size], r->last_used);
}

static int split_get_used(struct vdev_drv_ring *r, void **token,
			  uint32_t *len)
{
	struct vdev_vring_used_elem *e;
	uint32_t id, l;
	struct drv_head *h;

	if (r->batch) {
		/* In order: earlier buffers completed by a later entry. */
		uint16_t front = r->fifo[r->fifo_head % r->size];

		h = &r->heads[front];
		l = front == r->batch_id ? r->batch_len : 0;
		if (front == r->batch_id)
			r->batch = false;
		id = front;
		goto done;
	}
	if (ld16(&r->used->idx) == r->last_used)
		return -EAGAIN;
	e = &r->used->ring[r->last_used & (r->size - 1)];
	id = vdev_le32_to_cpu(e->id);
	l = vdev_le32_to_cpu(e->len);
	r->last_used++;
	if (id >= r->size || !r->heads[id].busy)
		return -EPROTO;
	h = &r->heads[id];
	if (l > h->in_len)
		return -EPROTO;
	if (r->in_order && r->fifo[r->fifo_head % r->size] != id) {
		r->batch = true;
		r->batch_id = (uint16_t)id;
		r->batch_len = l;
		return split_get_used(r, token, len);
	}
done:
	if (r->in_order)
		r->fifo_head++;
	split_release(r, (uint16_t)id);
	h->busy = false;
	*token = h->token;
	*len = l;
	return 0;
}

static int packed_get_used(struct vdev_drv_ring *r, void **token,
			   uint32_t *len)
{
	struct vdev_packed_desc *d = &r->pdesc[r->used_pos];
	uint16_t flags = ld16(&d->flags), id;
	bool a = flags & F_AVAIL, u = flags & F_USED;
	struct drv_head *h;
	uint32_t l;

	if (a != r->used_wrap || u != r->used_wrap)
		return -EAGAIN;
	id = vdev_le16_to_cpu(d->id);
	l = vdev_le32_to_cpu(d->len);
	if (id >= r->size || !r->heads[id].busy)
		return -EPROTO;
	h = &r->heads[id];
	if (l > h->in_len)
		return -EPROTO;
	r->used_pos = (uint16_t)(r->used_pos + h->ndesc);
	if (r->used_pos >= r->size) {
		r->used_pos = (uint16_t)(r->used_pos - r->size);
		r->used_wrap = !r->used_wrap;
	}
	r->free_slots = (uint16_t)(r->free_slots + h->ndesc);
	r->free_ids[r->nfree_ids++] = id;
	h->busy = false;
	*token = h->token;
	*len = l;
	return 0;
}

int vdev_drv_ring_get_used(struct vdev_drv_ring *r, void **token,
			   uint32_t *len)
{
	int ret = r->packed ? packed_get_used(r, token, len) :
			      split_get_used(r, token, len);

	if (ret == 0) {
		r->inflight--;
		update_irq_event(r);
	}
	return ret;
}

void vdev_drv_ring_want_interrupts(struct vdev_drv_ring *r, bool on)
{
	r->want_irq = on;
	if (r->packed) {
		uint16_t flags = VDEV_PACKED_EVENT_FLAG_DISABLE;

		if (on)
			flags = r->event_idx ? VDEV_PACKED_EVENT_FLAG_DESC :
					       VDEV_PACKED_EVENT_FLAG_ENABLE;
		update_irq_event(r);
		st16(&r->drv_ev->flags, flags);
	} else {
		st16(&r->avail->flags, on ? 0 : VDEV_AVAIL_F_NO_INTERRUPT);
		if (r->event_idx)
			st16(&r->avail->ring[r->size],
			     on ? r->last_used : (uint16_t)(r->last_used - 1));
	}
	atomic_thread_fence(memory_order_seq_cst);
}

unsigned vdev_drv_ring_inflight(const struct vdev_drv_ring *r)
{
	return r->inflight;
}

struct vdev_vring_desc *vdev_drv_ring_split_desc(struct vdev_drv_ring *r,
						 uint16_t idx)
{
	return r->packed || idx >= r->size ? NULL : &r->desc[idx];
}

struct vdev_vring_avail *vdev_drv_ring_split_avail(struct vdev_drv_ring *r)
{
	return r->packed ? NULL : r->avail;
}

struct vdev_vring_used *vdev_drv_ring_split_used(struct vdev_drv_ring *r)
{
	return r->packed ? NULL : r->used;
}

struct vdev_packed_desc *vdev_drv_ring_packed_desc(struct vdev_drv_ring *r,
						   uint16_t idx)
{
	return !r->packed || idx >= r->size ? NULL : &r->pdesc[idx];
}

bool vdev_drv_ring_packed_wrap(const struct vdev_drv_ring *r)
{
	return r->avail_wrap;
}

uint16_t vdev_drv_ring_next_slot(const struct vdev_drv_ring *r)
{
	return r->packed ? r->next_slot : r->avail_idx;
}

/* Raw chains for fault.c: no free-list bookkeeping, the ring is meant to
 * be thrown away (or the queue reset) afterwards. */
int drv_split_publish_raw(struct vdev_drv_ring *r, const struct drv_fdesc *d,
			  unsigned n)
{
	uint16_t idx[DRV_RAW_MAX];

	if (n == 0 || n > DRV_RAW_MAX || n > r->nfree)
		return -ENOSPC;
	for (unsigned i = 0; i < n; i++)
		idx[i] = split_alloc(r);
	for (unsigned i = 0; i < n; i++) {
		struct vdev_vring_desc *x = &r->desc[idx[i]];
		int32_t nx = d[i].next;
		uint16_t next;

		if (nx == DRV_NEXT_AUTO)
			next = i + 1 < n ? idx[i + 1] : 0;
		else if (nx < 0)
			next = idx[-(nx + 2)];
		else
			next = (uint16_t)nx;
		x->addr = vdev_cpu_to_le64(d[i].addr);
		x->len = vdev_cpu_to_le32(d[i].len);
		x->flags = vdev_cpu_to_le16(d[i].flags);
		x->next = vdev_cpu_to_le16(next);
	}
	split_publish(r, idx[0]);
	return 0;
}

int drv_packed_publish_raw(struct vdev_drv_ring *r, const struct drv_fdesc *d,
			   unsigned n, int bad_slot)
{
	uint16_t pos = r->next_slot, head_flags = 0;
	bool wrap = r->avail_wrap;

	if (n == 0 || n > r->free_slots)
		return -ENOSPC;
	for (unsigned i = 0; i < n; i++) {
		uint16_t slot = (uint16_t)((pos + i) % r->size);
		uint16_t fl;

		if (slot == 0 && i)
			wrap = !wrap;
		fl = (uint16_t)(d[i].flags | avail_flags(wrap));
		/* A descriptor whose bits say "used", not "available". */
		if ((int)i == bad_slot)
			fl = (uint16_t)(d[i].flags |
					(wrap ? F_AVAIL | F_USED : 0));
		if (i == 0) {
			head_flags = fl;
			fl = 0;
		}
		packed_write(&r->pdesc[slot], d[i].addr, d[i].len, 0, fl);
	}
	r->free_slots = (uint16_t)(r->free_slots - n);
	r->next_slot = (uint16_t)(r->next_slot + n);
	if (r->next_slot >= r->size) {
		r->next_slot = (uint16_t)(r->next_slot - r->size);
		r->avail_wrap = !r->avail_wrap;
	}
	st16(&r->pdesc[pos].flags, head_flags);
	return 0;
}
