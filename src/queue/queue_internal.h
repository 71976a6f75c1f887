/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Virtqueue internals shared by queue.c (common part), split.c and packed.c.
 * Tests include this header to see why a queue broke (q->why).
 */
#ifndef VQ_QUEUE_INTERNAL_H
#define VQ_QUEUE_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <virtio/queue.h>
#include <virtio/spec.h>

#include "queue/mem_internal.h"

/*
 * Memory snapshots a queue can hold at once: the current one plus older
 * ones that still have requests in flight. When all are busy, pop waits
 * (-EBUSY) for one to drain instead of allocating.
 */
#define VQ_SLOTS 4

/* The hot path is written as small helpers that must not cost a call. */
#define VQ_HOT static inline __attribute__((always_inline))

/* req->priv: valid bit, snapshot slot, queue epoch (changes on reset). */
#define VQ_PRIV_VALID 0x80000000u
#define VQ_PRIV_SLOT_SHIFT 28
#define VQ_PRIV_SLOT_MASK 0x7u
#define VQ_PRIV_EPOCH_MASK 0x0fffffffu

struct vq_slot {
	struct vdev_mem_table *t;
	unsigned inflight; /* requests translated with @t, not yet pushed */
};

/* Whether host pointer @p may be accessed as a @type. */
#define VQ_ALIGNED(p, type) \
	(((uintptr_t)(p) & (_Alignof(type) - 1)) == 0)

struct vdev_queue {
	/* Hot: read on every pop/push. */
	uint16_t size;
	uint16_t mask;        /* split: size - 1 */
	uint16_t last_avail;  /* split: free-running; packed: slot */
	uint16_t shadow_avail;/* split: last avail->idx read */
	uint16_t used_idx;    /* split: free-running; packed: slot */
	bool avail_wrap;
	bool used_wrap;
	bool packed;
	bool broken;
	bool ready;
	bool event_idx;
	bool indirect;
	bool kicks_enabled;
	/* "Kicks off" is in the ring already (vdev_queue_disable_kicks): not
	 * stored again each round into the line the driver polls. Cleared by
	 * every store that turns kicks on, so at worst a driver kicks once
	 * more than needed, never once less. */
	bool kicks_off_stored;
	unsigned budget_left;
	unsigned inflight;
	unsigned cur;         /* slot of the current snapshot */
	uint32_t epoch;
	uint64_t gen;         /* generation of slots[cur].t */
	const struct vdev_mem_table *t;
	const struct vq_region *hot; /* region of @t that served last */
	struct vdev_mem *mem;

	/* Ring parts translated with @t. */
	struct vdev_vring_desc *desc;
	struct vdev_vring_avail *avail;
	struct vdev_vring_used *used;
	struct vdev_packed_desc *pdesc;
	struct vdev_packed_event *drv_event;
	struct vdev_packed_event *dev_event;

	/* Notification. */
	unsigned pending;     /* used entries written since last notify */
	uint16_t signalled;   /* used_idx at the last notify (packed: lin) */
	bool signalled_valid;
	int call_fd;
	uint8_t call_kind;    /* enum vpeer_kind: how call_fd is written */
	void (*call_fn)(void *opaque, struct vdev_queue *q);
	void *call_opaque;

	/* Where the chains the device counted end (vdev_queue_avail_count
	 * saw the end of what is available, or a pop found the ring empty
	 * there): a device that waits for more than it has asks to be
	 * kicked for the buffer there, not for one it left in the ring.
	 * Invalid from the start of each round. */
	bool seen_valid;
	bool seen_wrap;       /* packed */
	uint16_t seen_pos;    /* split: avail index; packed: slot */

	/* Counters (vdev_queue_get_stats): written by the queue's thread
	 * under its lock, read from any thread; each word is stored whole
	 * (relaxed atomics), so a reader never sees a torn value. */
	uint64_t st_requests, st_read, st_written, st_errors, st_notifies;

	/* Cold. */
	unsigned budget;
	unsigned index;
	uint32_t notif_hint;
	struct vdev_queue_config cfg;
	const char *why;      /* first rule a chain broke */
	struct vq_slot slots[VQ_SLOTS];

	/* Inflight tracking (vdev_queue_set_inflight). */
	struct vq_ifl_split *ifl;
	struct vq_ifl_packed *iflp;
	struct vq_ifl_ent *ient; /* packed: our own copy of the links */
	uint16_t *ibyid;       /* packed: buffer id -> head entry */
	uint16_t ifree;        /* packed: head of the free entry list */
	uint64_t ifl_counter;  /* stamp of the next pop */
	uint16_t *resub;       /* heads (packed: head entries) to pop again,
				  oldest first */
	unsigned nresub, resub_pos;
};

/* vhost-user.rst "Inflight I/O tracking", split layout (little endian). */
struct vq_ifl_desc {
	uint8_t inflight;
	uint8_t padding[5];
	vdev_le16 next;
	vdev_le64 counter;
};

struct vq_ifl_split {
	vdev_le64 features;
	vdev_le16 version;
	vdev_le16 desc_num;
	vdev_le16 last_batch_head;
	vdev_le16 used_idx;
	struct vq_ifl_desc desc[];
};

/* vhost-user.rst "Inflight I/O tracking", packed layout (little endian):
 * entries are taken from a free list, one per ring descriptor of a chain,
 * and hold a copy of it (the ring slot is overwritten by used descriptors
 * of other chains before this one completes). */
struct vq_ifl_pdesc {
	uint8_t inflight;     /* head entry: popped, not completed */
	uint8_t padding;
	vdev_le16 next;       /* free list / next entry of the chain */
	vdev_le16 last;       /* head entry: last entry of the chain */
	vdev_le16 num;        /* head entry: ring descriptors of the chain */
	vdev_le64 counter;    /* head entry: pop order */
	vdev_le16 id;
	vdev_le16 flags;
	vdev_le32 len;
	vdev_le64 addr;
};

struct vq_ifl_packed {
	vdev_le64 features;
	vdev_le16 version;
	vdev_le16 desc_num;
	vdev_le16 free_head;
	vdev_le16 old_free_head;
	vdev_le16 used_idx;
	vdev_le16 old_used_idx;
	uint8_t used_wrap_counter;
	uint8_t old_used_wrap_counter;
	/* Padding in vhost-user.rst. libvdev sets the first byte to
	 * VQ_IFL_LIVE once a queue ran on the region: from then on the
	 * region, not the frontend's ring base, knows the used position. */
	uint8_t live;
	uint8_t padding[6];
	struct vq_ifl_pdesc desc[];
};
#define VQ_IFL_LIVE 1u
#define VQ_IFL_NONE 0xffffu

/* Packed: what we wrote into the region, read back from here only (the
 * region may change under us). */
struct vq_ifl_ent {
	uint16_t next;
	uint16_t last;  /* head: last entry of the chain */
	uint16_t id;    /* head: buffer id */
	uint16_t num;   /* head: ring descriptors; 0 = not a chain in flight */
};

/* Chain walk state, one per pop. */
struct vq_walk {
	struct vdev_req *req;
	uint32_t count;   /* buffer descriptors so far, across tables */
	uint64_t total;   /* bytes so far */
	uint16_t niov;
	bool writing;     /* a device-writable descriptor was seen */
	bool overflow;    /* more iovecs than req->iov_max */
};

#define VQ_WHY_SHRANK "guest memory shrank under the device"

/* One writer (the queue's thread, under its lock); readers anywhere. */
static inline void vq_count(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n,
			 __ATOMIC_RELAXED);
}

static inline int vq_fail(struct vdev_queue *q, const char *why)
{
	/* A ring that looks malformed because the memory under it was cut
	 * while we read it (the SIGBUS handler left zeros there) broke for
	 * that reason, not for the zeros. */
	if (!q->broken && q->t && vq_mem_faulted(q->t))
		why = VQ_WHY_SHRANK;
	if (!q->broken) {
		q->why = why;
		vq_count(&q->st_errors, 1);
	}
	q->broken = true;
	return -EIO;
}

static inline void vq_walk_init(struct vq_walk *w, struct vdev_req *req)
{
	w->req = req;
	w->count = 0;
	w->total = 0;
	w->niov = 0;
	w->writing = false;
	w->overflow = false;
	req->nout = 0;
	req->nin = 0;
	req->out_bytes = 0;
	req->in_bytes = 0;
}

/* The slow part of vq_walk_buf: ranges over several regions, outside
 * guest memory, or more iovecs than the caller has. */
int vq_walk_map(struct vdev_queue *q, struct vq_walk *w, uint64_t addr,
		uint32_t len, bool write);

/*
 * The rules every buffer descriptor of every layout obeys, checked in one
 * place: chain length, order, total length, address range. Zero-length
 * buffers are accepted and produce no iovec (their address is not looked
 * at: nothing is ever read or written through them).
 */
VQ_HOT int vq_walk_buf(struct vdev_queue *q, struct vq_walk *w,
			      uint64_t addr, uint32_t len, bool write)
{
	struct vdev_req *req = w->req;
	const struct vq_region *r = q->hot;

	if (__builtin_expect(++w->count > q->size, 0))
		return vq_fail(q, "chain longer than the queue");
	if (__builtin_expect(!write && w->writing, 0))
		return vq_fail(q, "readable descriptor after a writable one");
	w->writing |= write;
	w->total += len;
	if (__builtin_expect(w->total > UINT32_MAX, 0))
		return vq_fail(q, "chain longer than 4 GiB");
	if (write)
		req->in_bytes += len;
	else
		req->out_bytes += len;
	if (len == 0)
		return 0;
	/* Fast path: inside the region that served the last buffer (guests
	 * keep their buffers in one or two regions), room for one more. */
	if (__builtin_expect(r != NULL && addr >= r->gpa &&
			     addr - r->gpa <= r->size - len &&
			     len <= r->size && w->niov < req->iov_max &&
			     !w->overflow, 1)) {
		req->iov[w->niov].iov_base = r->host + (addr - r->gpa);
		req->iov[w->niov].iov_len = len;
		w->niov++;
		req->nout += !write;
		return 0;
	}
	return vq_walk_map(q, w, addr, len, write);
}

/*
 * vq_walk_buf for a chain of one buffer, just after vq_walk_init: the
 * rules on chain length, order and total length cannot fail there.
 */
VQ_HOT int vq_walk_one(struct vdev_queue *q, struct vq_walk *w,
		       uint64_t addr, uint32_t len, bool write)
{
	struct vdev_req *req = w->req;
	const struct vq_region *r = q->hot;

	w->count = 1;
	w->total = len;
	w->writing = write;
	if (write)
		req->in_bytes = len;
	else
		req->out_bytes = len;
	if (len == 0)
		return 0;
	if (__builtin_expect(r != NULL && addr >= r->gpa &&
			     addr - r->gpa <= r->size - len &&
			     len <= r->size && req->iov_max != 0, 1)) {
		req->iov[0].iov_base = r->host + (addr - r->gpa);
		req->iov[0].iov_len = len;
		w->niov = 1;
		req->nout = !write;
		return 0;
	}
	return vq_walk_map(q, w, addr, len, write);
}

/* The checks of an indirect descriptor common to both layouts; returns the
 * table or NULL after marking the queue broken. */
static inline const void *vq_indirect_table(struct vdev_queue *q,
					    uint64_t addr, uint32_t len,
					    uint16_t flags, bool in_table)
{
	const void *tab;

	if (!q->indirect) {
		vq_fail(q, "indirect descriptor without INDIRECT_DESC");
		return NULL;
	}
	if (in_table) {
		vq_fail(q, "indirect descriptor inside an indirect table");
		return NULL;
	}
	if (flags & VDEV_DESC_F_NEXT) {
		vq_fail(q, "indirect descriptor with NEXT");
		return NULL;
	}
	if (len == 0 || len % 16) {
		vq_fail(q, "indirect table length not a multiple of 16");
		return NULL;
	}
	if (len / 16 > 65535) {
		vq_fail(q, "indirect table over 65535 entries");
		return NULL;
	}
	tab = vq_mem_ptr(q->t, addr, len);
	if (!tab)
		vq_fail(q, "indirect table outside guest memory");
	return tab;
}

/* Guest memory is shared with a hostile driver: read each field once. */
#define VQ_READ(x) (*(const volatile __typeof__(x) *)&(x))

static inline uint16_t vq_load_acquire16(const vdev_le16 *p)
{
	return vdev_le16_to_cpu(__atomic_load_n(p, __ATOMIC_ACQUIRE));
}

static inline void vq_store_release16(vdev_le16 *p, uint16_t v)
{
	__atomic_store_n(p, vdev_cpu_to_le16(v), __ATOMIC_RELEASE);
}

static inline void vq_store16(vdev_le16 *p, uint16_t v)
{
	__atomic_store_n(p, vdev_cpu_to_le16(v), __ATOMIC_RELAXED);
}

static inline uint16_t vq_load16(const vdev_le16 *p)
{
	return vdev_le16_to_cpu(__atomic_load_n(p, __ATOMIC_RELAXED));
}

/* Drops a snapshot that no request and no ring uses any more. */
void vq_slot_drain(struct vdev_queue *q, unsigned s);

/* Completes a popped request: bookkeeping common to both layouts. */
VQ_HOT void vq_req_done(struct vdev_queue *q, struct vdev_req *req)
{
	unsigned s = (req->priv >> VQ_PRIV_SLOT_SHIFT) & VQ_PRIV_SLOT_MASK;

	req->priv = 0;
	if (--q->slots[s].inflight == 0 && s != q->cur)
		vq_slot_drain(q, s);
}
/* Marks the device-writable part of @req dirty (@written bytes). */
void vq_log_req(struct vdev_queue *q, const struct vdev_req *req,
		uint32_t written);
/* Records a popped request (slot, epoch, counters). */
VQ_HOT void vq_req_start(struct vdev_queue *q, struct vdev_req *req,
				const struct vq_walk *w)
{
	req->nin = (uint16_t)(w->niov - req->nout);
	req->out = req->iov;
	req->in = req->iov + req->nout;
	req->priv = VQ_PRIV_VALID | (q->cur << VQ_PRIV_SLOT_SHIFT) | q->epoch;
	q->slots[q->cur].inflight++;
	q->inflight++;
}

/*
 * The device counted what was available (vdev_queue_avail_count saw the
 * end of it) and waited for more, and the driver has made a buffer
 * available beyond that since: the round must go on, although the model
 * made no progress. False when the device did not count this round.
 */
bool vq_new_since_seen(struct vdev_queue *q);
/* The ring state of vdev_vq_get_ring_state (queue.h); the caller holds
 * the queue. */
void vq_ring_state(struct vdev_queue *q, struct vdev_queue_ring_state *st);

/* Drops inflight tracking and the resubmission list. */
void vq_ifl_clear(struct vdev_queue *q);

/* Layout-specific parts. */
int vq_split_map(struct vdev_queue *q);
int vq_split_pop(struct vdev_queue *q, struct vdev_req *req);
int vq_split_pop_batch(struct vdev_queue *q, struct vdev_req **reqs,
		       unsigned n);
int vq_split_pop_id(struct vdev_queue *q, uint16_t id, struct vdev_req *req);
void vq_split_log_used(struct vdev_queue *q, uint64_t off, uint64_t len);

/* Makes the used elements written so far visible to the driver. */
VQ_HOT void vq_split_publish(struct vdev_queue *q)
{
	vq_store_release16(&q->used->idx, q->used_idx);
	if (__builtin_expect(q->t->log != NULL, 0))
		vq_split_log_used(q, 2, 2);
}

void vq_split_push_tracked(struct vdev_queue *q, struct vdev_req *req,
			   uint32_t written);

VQ_HOT void vq_split_push(struct vdev_queue *q, struct vdev_req *req,
				 uint32_t written, bool publish)
{
	uint16_t slot = q->used_idx & q->mask;
	struct vdev_vring_used_elem *e = &q->used->ring[slot];

	if (__builtin_expect(q->ifl != NULL, 0)) {
		vq_split_push_tracked(q, req, written);
		return;
	}

	e->id = vdev_cpu_to_le32(req->id);
	e->len = vdev_cpu_to_le32(written);
	q->used_idx++;
	if (__builtin_expect(q->t->log != NULL, 0))
		vq_split_log_used(q, 4 + 8ull * slot, 8);
	if (publish)
		vq_split_publish(q);
}
int vq_split_unpop(struct vdev_queue *q, struct vdev_req *req);
bool vq_split_new_since_seen(struct vdev_queue *q);
int vq_split_avail_count(struct vdev_queue *q, unsigned max);
bool vq_split_need_notify(struct vdev_queue *q);
void vq_split_kicks(struct vdev_queue *q, bool on);
bool vq_split_has_avail(struct vdev_queue *q);

int vq_packed_map(struct vdev_queue *q);
int vq_packed_pop(struct vdev_queue *q, struct vdev_req *req);
int vq_packed_pop_batch(struct vdev_queue *q, struct vdev_req **reqs,
			unsigned n);
int vq_packed_pop_id(struct vdev_queue *q, uint16_t id, struct vdev_req *req);
#define VQ_F_AVAIL (1u << VDEV_PACKED_DESC_F_AVAIL)
#define VQ_F_USED (1u << VDEV_PACKED_DESC_F_USED)

/* One used descriptor per buffer, flags last, at *pos of @ring; *pos and
 * *wrap move past the slots the chain occupied. */
VQ_HOT void vq_packed_write_used(struct vdev_packed_desc *ring, uint16_t size,
				 uint16_t *pos, bool *wrap,
				 const struct vdev_req *req, uint32_t written)
{
	struct vdev_packed_desc *d = &ring[*pos];
	uint16_t flags = *wrap ? (VQ_F_AVAIL | VQ_F_USED) : 0;
	uint32_t nd = req->ndesc;

	if (req->in_bytes)
		flags |= VDEV_DESC_F_WRITE;
	d->id = vdev_cpu_to_le16(req->id);
	d->len = vdev_cpu_to_le32(written);
	vq_store_release16(&d->flags, flags);
	if (nd == 0 || nd > size)
		nd = 1;
	nd += *pos;
	if (nd >= size) {
		nd -= size;
		*wrap = !*wrap;
	}
	*pos = (uint16_t)nd;
}

VQ_HOT void vq_packed_push_raw(struct vdev_queue *q,
				      struct vdev_req *req, uint32_t written)
{
	uint16_t i = q->used_idx;

	vq_packed_write_used(q->pdesc, q->size, &q->used_idx, &q->used_wrap,
			     req, written);
	if (__builtin_expect(q->t->log != NULL, 0))
		vdev_mem_log_write(q->t, q->cfg.desc_addr + 16ull * i, 16);
}

void vq_packed_push_tracked(struct vdev_queue *q, struct vdev_req *req,
			    uint32_t written);

VQ_HOT void vq_packed_push(struct vdev_queue *q,
				  struct vdev_req *req, uint32_t written)
{
	if (__builtin_expect(q->iflp != NULL, 0))
		vq_packed_push_tracked(q, req, written);
	else
		vq_packed_push_raw(q, req, written);
}

int vq_packed_unpop(struct vdev_queue *q, struct vdev_req *req);
bool vq_packed_new_since_seen(struct vdev_queue *q);
int vq_packed_avail_count(struct vdev_queue *q, unsigned max);
bool vq_packed_need_notify(struct vdev_queue *q);
void vq_packed_kicks(struct vdev_queue *q, bool on);
bool vq_packed_has_avail(struct vdev_queue *q);
uint16_t vq_packed_lin(const struct vdev_queue *q, uint16_t pos, bool wrap);
/* vdev_queue_set_inflight for a packed ring: the queue is configured and
 * idle, tracking is off. */
int vq_packed_set_inflight(struct vdev_queue *q, void *region, size_t len);

#endif /* VQ_QUEUE_INTERNAL_H */
