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
	void *d = vq_mem_ptr(q->t, c->desc_addr, 16ull * c->size);
	void *drv = vq_mem_ptr(q->t, c->driver_addr, 4);
	void *dev = vq_mem_ptr(q->t, c->device_addr, 4);

	if (!d || !drv || !dev)
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
	vq_req_done(q, req);
	return -EMSGSIZE;
}

/* The device event structure is guest memory the device writes. */
static void log_dev_event(struct vdev_queue *q)
{
	if (__builtin_expect(q->t->log != NULL, 0))
		vdev_mem_log_write(q->t, q->cfg.device_addr, 4);
}

static void publish_avail_event(struct vdev_queue *q)
{
	vq_store16(&q->dev_event->off_wrap,
		   (uint16_t)(q->last_avail | (q->avail_wrap ? 0x8000u : 0)));
	log_dev_event(q);
}

int vq_packed_pop(struct vdev_queue *q, struct vdev_req *req)
{
	struct chain_end end;
	struct vq_walk w;
	int ret = walk(q, q->last_avail, q->avail_wrap, req, &w, &end);

	if (ret)
		return ret;
	q->last_avail = end.pos;
	q->avail_wrap = end.wrap;
	if (q->event_idx && q->kicks_enabled)
		publish_avail_event(q);
	return finish(q, req, &w, &end);
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
	return is_avail(vq_load_acquire16(&q->pdesc[q->last_avail].flags),
			q->avail_wrap);
}
