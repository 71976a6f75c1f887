/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The layout-independent part of a virtqueue: life cycle, memory snapshots,
 * budget, notification delivery, state.
 */
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "peer/peer_io.h"
#include "queue/queue_internal.h"

#define VQ_DEFAULT_BUDGET 256u

/* Epochs tell requests of different queues and resets apart. */
static atomic_uint vq_epochs = 1;

static uint32_t next_epoch(void)
{
	return atomic_fetch_add_explicit(&vq_epochs, 1, memory_order_relaxed) &
	       VQ_PRIV_EPOCH_MASK;
}

struct vdev_queue *vdev_queue_new(struct vdev_mem *mem, unsigned index)
{
	struct vdev_queue *q = calloc(1, sizeof(*q));

	if (!q) {
		errno = ENOMEM;
		return NULL;
	}
	q->mem = mem ? vdev_mem_ref(mem) : NULL;
	q->index = index;
	q->call_fd = -1;
	q->budget = VQ_DEFAULT_BUDGET;
	q->budget_left = VQ_DEFAULT_BUDGET;
	q->epoch = next_epoch();
	q->kicks_enabled = true;
	return q;
}

static void release_slots(struct vdev_queue *q, bool all)
{
	for (unsigned i = 0; i < VQ_SLOTS; i++) {
		if (!all && q->slots[i].inflight)
			continue;
		vdev_mem_release(q->slots[i].t);
		q->slots[i].t = NULL;
		q->slots[i].inflight = 0;
	}
	q->t = NULL;
	q->hot = NULL;
	q->gen = 0;
}

void vdev_queue_free(struct vdev_queue *q)
{
	if (!q)
		return;
	release_slots(q, true);
	vq_ifl_clear(q);
	vdev_mem_free(q->mem);
	free(q);
}

static bool any_slot_busy(const struct vdev_queue *q)
{
	for (unsigned i = 0; i < VQ_SLOTS; i++)
		if (q->slots[i].inflight)
			return true;
	return false;
}

int vdev_queue_set_mem(struct vdev_queue *q, struct vdev_mem *mem)
{
	if (q->inflight || any_slot_busy(q))
		return -EBUSY;
	release_slots(q, true);
	if (mem)
		vdev_mem_ref(mem);
	vdev_mem_free(q->mem);
	q->mem = mem;
	q->ready = false;
	return 0;
}

unsigned vdev_queue_index(const struct vdev_queue *q)
{
	return q->index;
}

uint16_t vdev_queue_size(const struct vdev_queue *q)
{
	return q->ready ? q->size : 0;
}

static void unmap_rings(struct vdev_queue *q)
{
	q->desc = NULL;
	q->avail = NULL;
	q->used = NULL;
	q->pdesc = NULL;
	q->drv_event = NULL;
	q->dev_event = NULL;
}

/* Ring pointers are valid (configured, still inside guest memory). */
static bool rings_mapped(const struct vdev_queue *q)
{
	return q->ready && (q->packed ? q->pdesc != NULL : q->used != NULL);
}

static int map_rings(struct vdev_queue *q)
{
	return q->packed ? vq_packed_map(q) : vq_split_map(q);
}

/*
 * Makes the current snapshot of the map the queue's current one. Cheap when
 * nothing changed (one relaxed load). -EBUSY: every slot holds a snapshot
 * with requests in flight.
 */
static int update_mem(struct vdev_queue *q)
{
	struct vdev_mem_table *t;
	unsigned s;

	if (__builtin_expect(q->t && atomic_load_explicit(&q->mem->generation,
				memory_order_relaxed) == q->gen, 1))
		return 0;
	if (!q->mem)
		return -EFAULT;
	t = vdev_mem_acquire(q->mem);
	/* A peer shrank the memory under a mapping (SIGBUS survived, the
	 * mapping now reads zeros): nothing in it can be trusted. */
	if (__builtin_expect(vq_mem_faulted(t), 0)) {
		vdev_mem_release(t);
		return vq_fail(q, VQ_WHY_SHRANK);
	}
	s = q->cur;
	if (q->slots[s].t && q->slots[s].inflight) {
		for (s = 0; s < VQ_SLOTS; s++)
			if (!q->slots[s].inflight)
				break;
		if (s == VQ_SLOTS) {
			vdev_mem_release(t);
			return -EBUSY;
		}
	}
	vdev_mem_release(q->slots[s].t);
	q->slots[s].t = t;
	q->slots[s].inflight = 0;
	q->cur = s;
	q->t = t;
	q->hot = t->n ? &t->r[0] : NULL;
	q->gen = t->generation;
	if (q->ready && map_rings(q)) {
		/* The old pointers may point into what was just released. */
		unmap_rings(q);
		return vq_fail(q, "ring no longer inside guest memory");
	}
	return 0;
}

void vq_ifl_clear(struct vdev_queue *q)
{
	free(q->resub);
	q->resub = NULL;
	q->nresub = q->resub_pos = 0;
	q->ifl = NULL;
	free(q->ient);
	free(q->ibyid);
	q->ient = NULL;
	q->ibyid = NULL;
	q->iflp = NULL;
}

struct ifl_entry {
	uint64_t counter;
	uint16_t head;
};

static int ifl_cmp(const void *a, const void *b)
{
	const struct ifl_entry *x = a, *y = b;

	return x->counter < y->counter ? -1 : x->counter > y->counter;
}

/* vhost-user.rst's sizes, which frontends allocate by. */
_Static_assert(sizeof(struct vq_ifl_split) == 16 &&
		       sizeof(struct vq_ifl_desc) == 16,
	       "split inflight layout");
_Static_assert(offsetof(struct vq_ifl_packed, desc) == 32 &&
		       sizeof(struct vq_ifl_pdesc) == 32,
	       "packed inflight layout");

size_t vdev_queue_inflight_size(uint16_t queue_size, bool packed)
{
	if (packed)
		return sizeof(struct vq_ifl_packed) +
		       (size_t)queue_size * sizeof(struct vq_ifl_pdesc);
	return sizeof(struct vq_ifl_split) +
	       (size_t)queue_size * sizeof(struct vq_ifl_desc);
}

int vdev_queue_inflight_init(void *region, size_t len, uint16_t queue_size,
			     bool packed)
{
	if (!region || len < vdev_queue_inflight_size(queue_size, packed))
		return -EINVAL;
	memset(region, 0, vdev_queue_inflight_size(queue_size, packed));
	if (packed) {
		struct vq_ifl_packed *p = region;

		p->version = vdev_cpu_to_le16(1);
		p->desc_num = vdev_cpu_to_le16(queue_size);
		p->used_wrap_counter = 1;
		p->old_used_wrap_counter = 1;
		/* Every entry free, in order (vhost-user.rst). */
		for (uint16_t j = 0; j < queue_size; j++)
			p->desc[j].next = vdev_cpu_to_le16(j + 1);
	} else {
		struct vq_ifl_split *h = region;

		h->version = vdev_cpu_to_le16(1);
		h->desc_num = vdev_cpu_to_le16(queue_size);
	}
	return 0;
}

int vdev_queue_set_inflight(struct vdev_queue *q, void *region, size_t len)
{
	struct vq_ifl_split *h = region;
	struct ifl_entry *e;
	uint64_t next = 1;
	uint16_t used;
	unsigned n = 0;

	vq_ifl_clear(q);
	if (!region)
		return 0;
	if (!q->ready || q->inflight)
		return -EBUSY;
	if (q->packed) {
		int ret = vq_packed_set_inflight(q, region, len);

		if (ret < 0)
			return ret;
		q->pending = 0;
		q->signalled_valid = false;
		if (!q->broken)
			vdev_queue_enable_kicks(q);
		return ret;
	}
	if (len < sizeof(*h) + (size_t)q->size * sizeof(h->desc[0]))
		return -EINVAL;
	used = vq_load16(&q->used->idx);
	/* Published but not unmarked when the last back-end died. */
	if (vq_load16(&h->used_idx) != used) {
		uint16_t j = vq_load16(&h->last_batch_head);

		if (j < q->size)
			__atomic_store_n(&h->desc[j].inflight, 0,
					 __ATOMIC_RELAXED);
		vq_store16(&h->used_idx, used);
	}
	/*
	 * The frontend may change the region while we look (its memfd): one
	 * pass, each byte read once into private memory, so what was counted
	 * is what is used. Room for every head, whatever the region says.
	 */
	e = malloc((size_t)q->size * sizeof(*e));
	if (!e)
		return -ENOMEM;
	for (unsigned i = 0; i < q->size; i++) {
		uint8_t v = __atomic_load_n(&h->desc[i].inflight,
					    __ATOMIC_RELAXED);

		if (v > 1)
			/* not ours: forget it */
			__atomic_store_n(&h->desc[i].inflight, 0,
					 __ATOMIC_RELAXED);
		if (v != 1)
			continue;
		e[n].counter = vdev_le64_to_cpu(VQ_READ(h->desc[i].counter));
		e[n].head = (uint16_t)i;
		n++;
	}
	if (n) {
		q->resub = malloc(n * sizeof(*q->resub));
		if (!q->resub) {
			free(e);
			vq_ifl_clear(q);
			return -ENOMEM;
		}
		qsort(e, n, sizeof(*e), ifl_cmp);
		for (unsigned i = 0; i < n; i++)
			q->resub[i] = e[i].head;
		next = e[n - 1].counter + 1;
	}
	free(e);
	q->nresub = n;
	q->resub_pos = 0;
	/* Everything before the marked chains was completed. */
	q->used_idx = used;
	q->seen_valid = false;
	q->last_avail = q->shadow_avail = (uint16_t)(used + n);
	q->pending = 0;
	q->signalled_valid = false;
	q->ifl_counter = next;
	q->ifl = h;
	if (!q->broken)
		vdev_queue_enable_kicks(q);
	return (int)n;
}

static void ring_reset(struct vdev_queue *q)
{
	vq_ifl_clear(q);
	q->seen_valid = false;
	q->last_avail = 0;
	q->shadow_avail = 0;
	q->used_idx = 0;
	q->avail_wrap = true;
	q->used_wrap = true;
	q->pending = 0;
	q->signalled = 0;
	q->signalled_valid = false;
	q->inflight = 0;
	q->broken = false;
	q->why = NULL;
	q->kicks_enabled = true;
	q->kicks_off_stored = false;
	q->epoch = next_epoch();
}

int vdev_queue_configure(struct vdev_queue *q,
			 const struct vdev_queue_config *cfg)
{
	bool packed = cfg->features & VDEV_BIT(VDEV_F_RING_PACKED);
	struct vdev_queue_config old = q->cfg;
	bool was_packed = q->packed;
	int ret;

	if (q->inflight)
		return -EBUSY;
	if (cfg->size == 0 || cfg->size > VDEV_QUEUE_SIZE_MAX)
		return -EINVAL;
	if (!packed && (cfg->size & (cfg->size - 1)))
		return -EINVAL;
	if (cfg->desc_addr % 16 ||
	    cfg->driver_addr % (packed ? 4 : 2) || cfg->device_addr % 4)
		return -EINVAL;
	if (!q->mem)
		return -EFAULT;
	q->ready = false;
	ret = update_mem(q);
	if (ret)
		return ret;
	q->cfg = *cfg;
	q->packed = packed;
	q->size = cfg->size;
	q->mask = (uint16_t)(cfg->size - 1);
	q->event_idx = cfg->features & VDEV_BIT(VDEV_F_EVENT_IDX);
	q->indirect = cfg->features & VDEV_BIT(VDEV_F_INDIRECT_DESC);
	ret = map_rings(q);
	if (ret) {
		q->cfg = old;
		q->packed = was_packed;
		return ret;
	}
	ring_reset(q);
	q->budget_left = q->budget;
	q->ready = true;
	/* A ring reused from before (reconnect) may still say "no kicks". */
	vdev_queue_enable_kicks(q);
	return 0;
}

bool vdev_queue_ready(const struct vdev_queue *q)
{
	return q->ready;
}

void vdev_queue_set_call_fd(struct vdev_queue *q, int fd)
{
	int kind = fd >= 0 ? vpeer_prepare_write(fd) : VPEER_OTHER;

	/* A bad fd fails at signal time, as it always did. */
	q->call_kind = (uint8_t)(kind < 0 ? VPEER_OTHER : kind);
	q->call_fd = fd;
}

void vdev_queue_set_call_fn(struct vdev_queue *q,
			    void (*fn)(void *opaque, struct vdev_queue *q),
			    void *opaque)
{
	q->call_fn = fn;
	q->call_opaque = opaque;
}

void vq_slot_drain(struct vdev_queue *q, unsigned s)
{
	vdev_mem_release(q->slots[s].t);
	q->slots[s].t = NULL;
}

int vq_walk_map(struct vdev_queue *q, struct vq_walk *w, uint64_t addr,
		uint32_t len, bool write)
{
	struct vdev_req *req = w->req;
	int n = -ENOBUFS;

	if (!w->overflow)
		n = vq_mem_map(q->t, addr, len, req->iov + w->niov,
			       (unsigned)(req->iov_max - w->niov), write);
	if (n == -ENOBUFS) {
		/* Still validate the range; the chain goes back unused. */
		w->overflow = true;
		n = vq_mem_map(q->t, addr, len, NULL, UINT32_MAX, write);
		if (n > 0)
			n = 0;
	}
	if (n == -EOVERFLOW)
		return vq_fail(q, "buffer wraps 2^64");
	if (n == -EACCES)
		return vq_fail(q, "device-writable buffer in read-only memory");
	if (n < 0)
		return vq_fail(q, "buffer outside guest memory");
	/* Next time, try the region this buffer ended in first. */
	q->hot = vq_mem_find(q->t, addr + (len - 1));
	w->niov += (uint16_t)n;
	if (!write)
		req->nout += (uint16_t)n;
	return 0;
}

static int pop_prepare(struct vdev_queue *q)
{
	int ret;

	if (__builtin_expect(q->broken, 0))
		return -EIO;
	if (__builtin_expect(!q->ready, 0))
		return -EAGAIN;
	if (q->budget && q->budget_left == 0)
		return -EBUSY;
	ret = update_mem(q);
	if (ret)
		return ret;
	return 0;
}

static int pop_one(struct vdev_queue *q, struct vdev_req *req)
{
	int ret = q->packed ? vq_packed_pop(q, req) : vq_split_pop(q, req);

	/* A chain sent back for want of iovecs still costs work. */
	if (ret == 0 || ret == -EMSGSIZE)
		q->budget_left--;
	return ret;
}

int vdev_queue_pop(struct vdev_queue *q, struct vdev_req *req)
{
	int ret = pop_prepare(q);

	return ret ? ret : pop_one(q, req);
}

int vdev_queue_pop_batch(struct vdev_queue *q, struct vdev_req **reqs,
			 unsigned n)
{
	unsigned i = 0;
	int ret = pop_prepare(q);

	if (ret)
		return ret;
	if (q->nresub == 0)
		return q->packed ? vq_packed_pop_batch(q, reqs, n) :
				   vq_split_pop_batch(q, reqs, n);
	for (; i < n; i++) {
		if (q->budget && q->budget_left == 0) {
			ret = -EBUSY;
			break;
		}
		ret = pop_one(q, reqs[i]);
		if (ret == -EMSGSIZE) {
			/* Already completed; reuse the slot for the next. */
			i--;
			continue;
		}
		if (ret)
			break;
	}
	return i ? (int)i : ret;
}

int vdev_queue_pop_id(struct vdev_queue *q, uint16_t id, struct vdev_req *req)
{
	int ret;

	if (q->broken)
		return -EIO;
	if (!q->ready)
		return -EAGAIN;
	ret = update_mem(q);
	if (ret)
		return ret;
	return q->packed ? vq_packed_pop_id(q, id, req) :
			   vq_split_pop_id(q, id, req);
}

int vdev_queue_avail_count(struct vdev_queue *q, unsigned max)
{
	int ret;

	if (q->broken)
		return -EIO;
	if (!q->ready || !max)
		return 0;
	ret = update_mem(q);
	if (ret)
		return ret;
	return q->packed ? vq_packed_avail_count(q, max) :
			   vq_split_avail_count(q, max);
}

static inline int check_req(struct vdev_queue *q, struct vdev_req *req);

int vdev_queue_unpop(struct vdev_queue *q, struct vdev_req *req)
{
	int ret = check_req(q, req);

	if (ret)
		return ret;
	if (q->broken)
		return -EIO;
	ret = q->packed ? vq_packed_unpop(q, req) : vq_split_unpop(q, req);
	if (ret)
		return ret;
	q->inflight--;
	vq_req_done(q, req);
	/* The pop cost no work after all. */
	if (q->budget && q->budget_left < q->budget)
		q->budget_left++;
	return 0;
}

/* A request that belongs to a reset ring: drop what it held. */
static int stale_req(struct vdev_queue *q, struct vdev_req *req)
{
	unsigned s = (req->priv >> VQ_PRIV_SLOT_SHIFT) & VQ_PRIV_SLOT_MASK;

	if (!(req->priv & VQ_PRIV_VALID) || s >= VQ_SLOTS ||
	    !q->slots[s].inflight)
		return -EINVAL;
	vq_req_done(q, req);
	return -ESTALE;
}

/* 0: @req belongs to this queue's ring; -ESTALE: to a reset ring (its
 * snapshot reference is dropped); -EINVAL: not ours. */
static inline int check_req(struct vdev_queue *q, struct vdev_req *req)
{
	if (__builtin_expect(req->priv == (VQ_PRIV_VALID | q->epoch |
				(req->priv & (VQ_PRIV_SLOT_MASK <<
					      VQ_PRIV_SLOT_SHIFT))) &&
			     q->ready &&
			     q->slots[(req->priv >> VQ_PRIV_SLOT_SHIFT) &
				      VQ_PRIV_SLOT_MASK].inflight, 1))
		return 0;
	return stale_req(q, req);
}

void vq_log_req(struct vdev_queue *q, const struct vdev_req *req,
		uint32_t written)
{
	const struct vdev_mem_table *t =
		q->slots[(req->priv >> VQ_PRIV_SLOT_SHIFT) &
			 VQ_PRIV_SLOT_MASK].t;

	for (unsigned i = 0; i < req->nin && written; i++) {
		const uint8_t *p = req->in[i].iov_base;
		uint64_t n = req->in[i].iov_len;

		if (n > written)
			n = written;
		written -= (uint32_t)n;
		/* Host back to guest address; only done while migrating. */
		for (unsigned j = 0; j < t->n; j++) {
			const struct vq_region *r = &t->r[j];

			/* The request's table finds the address; the
			 * current one carries the log. */
			if (p >= r->host && (uint64_t)(p - r->host) < r->size) {
				vdev_mem_log_write(q->t, r->gpa +
						   (uint64_t)(p - r->host), n);
				break;
			}
		}
	}
}

/*
 * Before writing to the used ring: notice a new table (so a dirty log that
 * was just switched on sees this write).
 */
static inline void push_prepare(struct vdev_queue *q)
{
	if (__builtin_expect(atomic_load_explicit(&q->mem->generation,
			memory_order_relaxed) != q->gen, 0))
		update_mem(q);
}

/* Writes one completion. A broken queue (its ring may have left guest
 * memory) gets nothing written; the request is released all the same. */
static inline void push_one(struct vdev_queue *q, struct vdev_req *req,
			    uint32_t written)
{
	if (written > req->in_bytes)
		written = req->in_bytes;
	if (__builtin_expect(!q->broken, 1)) {
		if (__builtin_expect(q->t->log != NULL, 0))
			vq_log_req(q, req, written);
		if (q->packed)
			vq_packed_push(q, req, written);
		else
			vq_split_push(q, req, written, false);
		q->pending++;
		vq_count(&q->st_requests, 1);
		vq_count(&q->st_read, req->out_bytes);
		vq_count(&q->st_written, written);
	}
	q->inflight--;
	vq_req_done(q, req);
}

int vdev_queue_push(struct vdev_queue *q, struct vdev_req *req,
		    uint32_t written)
{
	return vdev_queue_push_batch(q, &req, &written, 1);
}

/*
 * vdev_queue_push_batch's common case: no inflight region, no dirty log,
 * every request current. The ring and the queue's state are kept in
 * locals: the compiler cannot tell the used ring's stores from the queue.
 * Returns how many requests it pushed from the start of @reqs.
 */
static unsigned push_fast(struct vdev_queue *q, struct vdev_req *const *reqs,
			  const uint32_t *written, unsigned n)
{
	struct vdev_vring_used_elem *ring = q->packed ? NULL : q->used->ring;
	struct vdev_packed_desc *pring = q->pdesc;
	const uint32_t mine = VQ_PRIV_VALID | q->epoch;
	const uint32_t slot_bits = VQ_PRIV_SLOT_MASK << VQ_PRIV_SLOT_SHIFT;
	uint16_t u = q->used_idx, mask = q->mask, size = q->size;
	bool wrap = q->used_wrap;
	uint64_t rd = 0, wr = 0;
	unsigned i;

	for (i = 0; i < n; i++) {
		struct vdev_req *req = reqs[i];
		uint32_t len = written ? written[i] : 0;
		unsigned s = (req->priv >> VQ_PRIV_SLOT_SHIFT) &
			     VQ_PRIV_SLOT_MASK;

		if (__builtin_expect((req->priv & ~slot_bits) != mine ||
				     !q->slots[s].inflight, 0))
			break;
		if (len > req->in_bytes)
			len = req->in_bytes;
		if (ring) {
			ring[u & mask].id = vdev_cpu_to_le32(req->id);
			ring[u & mask].len = vdev_cpu_to_le32(len);
			u++;
		} else {
			vq_packed_write_used(pring, size, &u, &wrap, req, len);
		}
		rd += req->out_bytes;
		wr += len;
		vq_req_done(q, req);
	}
	q->used_idx = u;
	q->used_wrap = wrap;
	q->pending += i;
	q->inflight -= i;
	/* The counters once per batch, not per request. */
	vq_count(&q->st_requests, i);
	vq_count(&q->st_read, rd);
	vq_count(&q->st_written, wr);
	return i;
}

int vdev_queue_push_batch(struct vdev_queue *q, struct vdev_req *const *reqs,
			  const uint32_t *written, unsigned n)
{
	unsigned done = 0, i = 0;
	int ret = 0;

	if (q->ready)
		push_prepare(q);
	if (__builtin_expect(q->ready && !q->broken && !q->ifl && !q->iflp &&
			     !q->t->log, 1)) {
		i = done = push_fast(q, reqs, written, n);
		written = written ? written + i : NULL;
		reqs += i;
		n -= i;
	}
	for (i = 0; i < n; i++) {
		int r = check_req(q, reqs[i]);

		if (__builtin_expect(r != 0, 0)) {
			ret = ret ? ret : r;
			continue;
		}
		push_one(q, reqs[i], written ? written[i] : 0);
		done++;
	}
	if (done && !q->packed && !q->broken)
		vq_split_publish(q);
	return ret;
}

static int signal_driver(struct vdev_queue *q)
{
	if (q->call_fn) {
		q->call_fn(q->call_opaque, q);
		return 1;
	}
	if (q->call_fd < 0)
		return 1;
	/* Never blocks, whatever the peer made of the fd; a full one is an
	 * interrupt already pending. */
	int r = vpeer_signal(q->call_fd, q->call_kind);

	return r < 0 ? r : 1;
}

int vdev_queue_notify(struct vdev_queue *q)
{
	bool need;

	if (!rings_mapped(q) || q->pending == 0)
		return 0;
	/* Order the used-ring writes before reading the driver's wishes. */
	atomic_thread_fence(memory_order_seq_cst);
	need = q->packed ? vq_packed_need_notify(q) : vq_split_need_notify(q);
	q->pending = 0;
	if (!need)
		return 0;
	vq_count(&q->st_notifies, 1);
	return signal_driver(q);
}

int vdev_queue_get_stats(const struct vdev_queue *q,
			 struct vdev_queue_stats *st, size_t size)
{
	struct vdev_queue_stats s = {
		.requests = __atomic_load_n(&q->st_requests, __ATOMIC_RELAXED),
		.read_bytes = __atomic_load_n(&q->st_read, __ATOMIC_RELAXED),
		.written_bytes = __atomic_load_n(&q->st_written,
						 __ATOMIC_RELAXED),
		.errors = __atomic_load_n(&q->st_errors, __ATOMIC_RELAXED),
		.notifies = __atomic_load_n(&q->st_notifies, __ATOMIC_RELAXED),
	};

	/* An older caller's smaller struct gets its fields; a newer one's
	 * larger struct gets zeros past ours. */
	if (!st || size < sizeof(uint64_t))
		return -EINVAL;
	memset(st, 0, size);
	memcpy(st, &s, size < sizeof(s) ? size : sizeof(s));
	return 0;
}

void vq_ring_state(struct vdev_queue *q, struct vdev_queue_ring_state *st)
{
	memset(st, 0, sizeof(*st));
	st->inflight = q->inflight;
	st->signalled = q->signalled;
	st->flags = (q->packed ? VDEV_RING_STATE_PACKED : 0) |
		    (q->event_idx ? VDEV_RING_STATE_EVENT_IDX : 0) |
		    (q->kicks_enabled ? VDEV_RING_STATE_KICKS_ON : 0) |
		    (q->broken ? VDEV_RING_STATE_BROKEN : 0);
	if (!rings_mapped(q))
		return;
	st->flags |= VDEV_RING_STATE_MAPPED;
	if (q->packed) {
		uint16_t f = vq_load_acquire16(&q->pdesc[q->last_avail].flags);
		bool a = f & (1u << VDEV_PACKED_DESC_F_AVAIL),
		     u = f & (1u << VDEV_PACKED_DESC_F_USED);

		st->avail = (uint16_t)(q->last_avail |
				       (q->avail_wrap ? 0x8000u : 0));
		st->used = (uint16_t)(q->used_idx |
				      (q->used_wrap ? 0x8000u : 0));
		st->driver_avail = a == q->avail_wrap && u != q->avail_wrap;
		st->used_event = vq_load16(&q->drv_event->off_wrap);
		st->driver_flags = vq_load16(&q->drv_event->flags);
		st->avail_event = vq_load16(&q->dev_event->off_wrap);
		st->device_flags = vq_load16(&q->dev_event->flags);
		return;
	}
	st->avail = q->last_avail;
	st->used = q->used_idx;
	st->driver_avail = vq_load_acquire16(&q->avail->idx);
	st->driver_flags = vq_load16(&q->avail->flags);
	st->device_flags = vq_load16(&q->used->flags);
	st->used_event = vq_load16(&q->avail->ring[q->size]);
	st->avail_event = vq_load16((const vdev_le16 *)&q->used->ring[q->size]);
}

void vdev_queue_disable_kicks(struct vdev_queue *q)
{
	q->kicks_enabled = false;
	q->seen_valid = false; /* a new round: nothing counted yet */
	if (q->kicks_off_stored || !rings_mapped(q))
		return;
	if (q->packed)
		vq_packed_kicks(q, false);
	else
		vq_split_kicks(q, false);
	q->kicks_off_stored = true;
}

bool vdev_queue_enable_kicks(struct vdev_queue *q)
{
	q->kicks_enabled = true;
	q->kicks_off_stored = false;
	if (!rings_mapped(q) || q->broken)
		return false;
	if (q->packed)
		vq_packed_kicks(q, true);
	else
		vq_split_kicks(q, true);
	/* Publish the wish before looking at the ring again. */
	atomic_thread_fence(memory_order_seq_cst);
	return vdev_queue_has_avail(q);
}

bool vq_new_since_seen(struct vdev_queue *q)
{
	if (!q->seen_valid || !q->ready || q->broken || update_mem(q))
		return false;
	return q->packed ? vq_packed_new_since_seen(q) :
			   vq_split_new_since_seen(q);
}

bool vdev_queue_has_avail(struct vdev_queue *q)
{
	if (!q->ready || q->broken || update_mem(q))
		return false;
	return q->packed ? vq_packed_has_avail(q) : vq_split_has_avail(q);
}

void vdev_queue_set_budget(struct vdev_queue *q, unsigned budget)
{
	q->budget = budget;
	q->budget_left = budget;
}

void vdev_queue_new_round(struct vdev_queue *q)
{
	q->budget_left = q->budget;
}

bool vdev_queue_budget_spent(const struct vdev_queue *q)
{
	return q->budget && q->budget_left == 0;
}

unsigned vdev_queue_inflight(const struct vdev_queue *q)
{
	return q->inflight;
}

int vdev_queue_get_state(const struct vdev_queue *q,
			 struct vdev_queue_state *st)
{
	st->avail_idx = q->last_avail;
	st->used_idx = q->used_idx;
	st->avail_wrap = q->packed ? q->avail_wrap : false;
	st->used_wrap = q->packed ? q->used_wrap : false;
	return 0;
}

int vdev_queue_set_state(struct vdev_queue *q,
			 const struct vdev_queue_state *st)
{
	if (q->inflight)
		return -EBUSY;
	if (q->packed && q->size &&
	    (st->avail_idx >= q->size || st->used_idx >= q->size))
		return -EINVAL;
	q->seen_valid = false;
	q->last_avail = st->avail_idx;
	q->shadow_avail = st->avail_idx;
	q->used_idx = st->used_idx;
	q->avail_wrap = q->packed ? st->avail_wrap : true;
	q->used_wrap = q->packed ? st->used_wrap : true;
	q->pending = 0;
	q->signalled_valid = false;
	if (q->ready && !q->broken)
		vdev_queue_enable_kicks(q);
	return 0;
}

void vdev_queue_notification_data(struct vdev_queue *q, uint32_t data)
{
	/* Only remembered: the ring itself is the truth. */
	q->notif_hint = data;
}

bool vdev_queue_broken(const struct vdev_queue *q)
{
	return q->broken;
}

void vdev_queue_reset(struct vdev_queue *q)
{
	q->ready = false;
	ring_reset(q);
	unmap_rings(q);
	q->budget_left = q->budget;
	/* Keep snapshots with stale requests; drop the idle ones. */
	for (unsigned i = 0; i < VQ_SLOTS; i++) {
		if (q->slots[i].t && !q->slots[i].inflight) {
			vdev_mem_release(q->slots[i].t);
			q->slots[i].t = NULL;
		}
	}
	q->t = NULL;
	q->hot = NULL;
	q->gen = 0;
}
