/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One virtqueue, split or packed, seen from the device side.
 *
 * A queue knows nothing about devices or transports: it reads the driver's
 * ring in guest memory (through a `struct vdev_mem`), hands out descriptor
 * chains as iovecs that point straight into guest memory, takes them back
 * with the number of bytes written, and signals the driver when the driver
 * asked for it.
 *
 * Hostile input: every descriptor chain is validated while it is walked
 * (virtio 1.2 2.7.5, 2.7.5.3, 2.8): index ranges, loops, chain length,
 * total length, indirect-table rules, readable-after-writable, address
 * ranges. The chain length counts buffer descriptors across an indirect
 * table too and may not exceed the queue size (this also catches loops).
 * Zero-length descriptors are legal: they produce no iovec and their
 * address is never used. A chain that breaks a rule marks the queue
 * broken: the call that met it returns -EIO, nothing is handed to the
 * device, and every later pop returns -EIO until vdev_queue_reset(); the
 * device core then sets DEVICE_NEEDS_RESET. Nothing outside guest memory is
 * ever touched.
 *
 * Hot path: pop, push and notify neither allocate nor make a system call,
 * except the one interrupt (eventfd write) that notify may send per batch.
 *
 * Threads: a queue is used by one thread at a time. The device core
 * serialises its control calls (configure, get/set state, reset) with the
 * worker that pops and pushes.
 */
#ifndef VIRTIO_QUEUE_H
#define VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <virtio/api.h>
#include <virtio/mem.h>

VDEV_BEGIN_DECLS

struct vdev_queue;

struct vdev_queue_config {
	uint16_t size;        /* split: power of two; both: 1..32768 */
	uint64_t desc_addr;   /* guest physical: descriptor table / ring */
	uint64_t driver_addr; /* split: avail ring; packed: driver event */
	uint64_t device_addr; /* split: used ring; packed: device event */
	/*
	 * Negotiated features. The queue looks at RING_PACKED, INDIRECT_DESC,
	 * EVENT_IDX, IN_ORDER and NOTIFICATION_DATA.
	 */
	uint64_t features;
};

/* Where the ring stands, for save/restore and vhost-user
 * GET/SET_VRING_BASE. */
struct vdev_queue_state {
	uint16_t avail_idx;   /* next avail entry the device will read */
	uint16_t used_idx;    /* next used entry the device will write */
	bool avail_wrap;      /* packed: driver ring wrap counter */
	bool used_wrap;       /* packed: device ring wrap counter */
};

/*
 * One popped descriptor chain (a request). The caller owns the storage: set
 * @iov and @iov_max before vdev_queue_pop(); pop fills in the rest. The
 * iovecs point into guest memory and stay valid until the request is pushed
 * back (see mem.h for why a memory-table change cannot invalidate them).
 */
struct vdev_req {
	struct iovec *iov;   /* caller's array of @iov_max entries */
	uint16_t iov_max;

	uint16_t nout;       /* device-readable iovecs: iov[0 .. nout) */
	uint16_t nin;        /* device-writable iovecs: after them */
	struct iovec *out;   /* == iov */
	struct iovec *in;    /* == iov + nout */
	uint32_t out_bytes;  /* total device-readable bytes */
	uint32_t in_bytes;   /* total device-writable bytes */

	uint16_t id;         /* split: head index; packed: buffer id */
	uint16_t ndesc;      /* ring entries the chain occupied (packed) */
	uint32_t priv;       /* the queue's own bookkeeping; do not touch */
};

/*
 * A queue of index @index (used in notifications and logs) reading guest
 * memory through @mem. The queue takes its own reference to @mem. @mem may
 * be NULL; set it with vdev_queue_set_mem() before configuring.
 */
VDEV_API struct vdev_queue *vdev_queue_new(struct vdev_mem *mem,
					   unsigned index);
VDEV_API void vdev_queue_free(struct vdev_queue *q);

/*
 * Switches to another memory map (the queue drops its reference to the old
 * one). A change of the region set inside the same map needs no call: the
 * queue notices the new generation and re-translates its ring addresses
 * before its next pop; a ring that is no longer inside guest memory marks
 * the queue broken. -EBUSY with requests in flight.
 */
VDEV_API int vdev_queue_set_mem(struct vdev_queue *q, struct vdev_mem *mem);

VDEV_API unsigned vdev_queue_index(const struct vdev_queue *q);
/* The ring's size as configured; 0 before vdev_queue_configure. A device
 * that delivers groups of buffers (virtio-input's event batches) knows
 * from it which group can never fit. */
VDEV_API uint16_t vdev_queue_size(const struct vdev_queue *q);

/*
 * Sets size, ring addresses and features and resets the ring state.
 * -EINVAL: size 0, over 32768, or not a power of two for a split ring;
 * a ring address misaligned (split: desc 16, avail 2, used 4; packed: 16,
 * 4, 4). -EFAULT: a ring part not inside one region of guest memory, or
 * not aligned in the host's mapping of it (a region whose host offset
 * is odd). -EBUSY: requests are in flight.
 */
VDEV_API int vdev_queue_configure(struct vdev_queue *q,
				  const struct vdev_queue_config *cfg);

/* True once configured (and not reset since). */
VDEV_API bool vdev_queue_ready(const struct vdev_queue *q);

/*
 * Where interrupts go. @fd: an eventfd, or any fd an 8-byte write signals
 * (User-Mode Linux passes a socketpair end); -1 for none. The queue does not
 * own @fd. @fn, when set, is called instead of writing to @fd (in-process
 * transports, inband vhost-user calls).
 *
 * @fd may come from a peer, with any flags: it is never written in a way
 * that blocks. Sockets get MSG_DONTWAIT and pipes RWF_NOWAIT per write; an
 * eventfd (which has no per-write flag) gets O_NONBLOCK set on its file
 * description here, which whoever shares that description sees too. A full
 * eventfd, pipe or socket means an interrupt is already pending: nothing
 * is lost and notify reports success.
 */
VDEV_API void vdev_queue_set_call_fd(struct vdev_queue *q, int fd);
VDEV_API void vdev_queue_set_call_fn(struct vdev_queue *q,
				     void (*fn)(void *opaque,
						struct vdev_queue *q),
				     void *opaque);

/*
 * Pops the next available chain into @req. 0: got one. -EAGAIN: ring empty.
 * -EBUSY: the per-round budget is spent (see vdev_queue_new_round); call
 * again in the next round. -EIO: the queue is broken (malformed chain now or
 * earlier). -EMSGSIZE: the chain needs more than req->iov_max iovecs; it was
 * completed back to the driver with 0 bytes written and the queue goes on.
 */
VDEV_API int vdev_queue_pop(struct vdev_queue *q, struct vdev_req *req);

/*
 * Pops up to @n chains into reqs[0..n). Returns how many were popped (>= 0)
 * or, when none was, the error pop would have returned.
 */
VDEV_API int vdev_queue_pop_batch(struct vdev_queue *q, struct vdev_req **reqs,
				  unsigned n);

/*
 * All-or-nothing batches (an event device that must deliver N events at
 * once or none, as virtio-input's SYN_REPORT groups): two ways, on split
 * and packed rings alike.
 *
 * vdev_queue_avail_count() counts the chains the driver has made
 * available and not popped yet (chains a restarted back-end will pop again
 * from an inflight region included), stopping at @max: a packed ring is
 * walked to count, so the cost is bounded by @max and by one lap of the
 * ring. Returns the count (0..@max; 0 on a queue not configured), -EIO
 * when the queue is (or, reading an impossible avail index, becomes)
 * broken, or, as pop, -EBUSY or -EFAULT while a change of the memory map
 * waits for requests of the old one (count again in a later round). Pops
 * after it see at least that many chains, unless one of them
 * is malformed (-EIO) or too long for the iovecs (-EMSGSIZE).
 *
 * vdev_queue_unpop() gives back the chain popped last, as if it had never
 * been popped (libvhost-user's vu_queue_unpop): the next pop returns it
 * again. Several chains go back in the reverse order of their pops. It
 * also undoes the chain's inflight tracking and gives back its share of
 * the round's budget. Returns 0; -EINVAL when @req is not the last chain
 * popped that is still out (the queue cannot put it back: push it
 * instead); -ESTALE when the ring was reset since (the request is
 * released, as by push); -EIO when the queue is broken (push it, which
 * releases it).
 */
VDEV_API int vdev_queue_avail_count(struct vdev_queue *q, unsigned max);
VDEV_API int vdev_queue_unpop(struct vdev_queue *q, struct vdev_req *req);

/*
 * Re-walks the chain with head (split) or buffer id (packed) @id that the
 * driver made available before (vhost-user inflight resubmission after a
 * reconnect). Same errors as pop, but does not advance the ring.
 */
VDEV_API int vdev_queue_pop_id(struct vdev_queue *q, uint16_t id,
			       struct vdev_req *req);

/*
 * Returns a popped chain to the driver with @written bytes written into its
 * device-writable part (clamped to in_bytes). Does not signal the driver:
 * call vdev_queue_notify() after a batch. -EINVAL: @req was not popped
 * from this queue.
 */
VDEV_API int vdev_queue_push(struct vdev_queue *q, struct vdev_req *req,
			     uint32_t written);
VDEV_API int vdev_queue_push_batch(struct vdev_queue *q,
				   struct vdev_req *const *reqs,
				   const uint32_t *written, unsigned n);

/*
 * Signals the driver if it wants an interrupt for what was pushed since the
 * last notify (NO_INTERRUPT flag, used_event with EVENT_IDX, packed event
 * suppression). Returns 1 when it signalled, 0 when suppressed or nothing
 * new, negative errno when the write failed.
 */
VDEV_API int vdev_queue_notify(struct vdev_queue *q);

/*
 * Kick suppression while the device is busy: disable before draining the
 * ring; enable when it looks empty. vdev_queue_enable_kicks() returns true
 * when buffers arrived meanwhile (drain again), false when the ring is
 * really empty.
 */
VDEV_API void vdev_queue_disable_kicks(struct vdev_queue *q);
VDEV_API bool vdev_queue_enable_kicks(struct vdev_queue *q);

/* True when the driver has made buffers available that were not popped. */
VDEV_API bool vdev_queue_has_avail(struct vdev_queue *q);

/*
 * Per-round work budget: at most @budget chains are popped between two
 * calls of vdev_queue_new_round() (0 = unlimited; default 256), so a driver
 * that keeps one ring full cannot starve other queues or the control path.
 */
VDEV_API void vdev_queue_set_budget(struct vdev_queue *q, unsigned budget);
VDEV_API void vdev_queue_new_round(struct vdev_queue *q);
VDEV_API bool vdev_queue_budget_spent(const struct vdev_queue *q);

/* Requests popped and not yet pushed. */
VDEV_API unsigned vdev_queue_inflight(const struct vdev_queue *q);

VDEV_API int vdev_queue_get_state(const struct vdev_queue *q,
				  struct vdev_queue_state *st);
/* -EBUSY with requests in flight; -EINVAL: index out of range for the
 * ring (packed: >= size). */
VDEV_API int vdev_queue_set_state(struct vdev_queue *q,
				  const struct vdev_queue_state *st);

/*
 * NOTIFICATION_DATA: the driver's notification carried where it expects
 * the device to look next. The queue uses it only as a hint and always
 * reads the ring itself, so a lying driver gains nothing.
 */
VDEV_API void vdev_queue_notification_data(struct vdev_queue *q,
					   uint32_t data);

/* True after a malformed chain; cleared by vdev_queue_reset(). */
VDEV_API bool vdev_queue_broken(const struct vdev_queue *q);

/*
 * What a queue has done since it was made (it survives resets and
 * reconnects): for logs, daemons' counters and monitoring. Fields are only
 * ever added at the end; vdev_queue_get_stats fills @size bytes of @st
 * (pass sizeof(*st)), so a program built against an older, smaller struct
 * keeps working.
 */
struct vdev_queue_stats {
	uint64_t requests;      /* chains completed (pushed back) */
	uint64_t read_bytes;    /* device-readable bytes of those chains */
	uint64_t written_bytes; /* bytes the device wrote into them */
	/* Chains refused: malformed (the queue broke) or needing more
	 * iovecs than the device has (-EMSGSIZE). */
	uint64_t errors;
	uint64_t notifies;      /* interrupts sent to the driver */
};

/* Callable from any thread, at any time (the values are read without
 * the queue's lock: each is exact, the set a moment's snapshot). 0, or
 * -EINVAL for a @size under 8 bytes. */
VDEV_API int vdev_queue_get_stats(const struct vdev_queue *q,
				  struct vdev_queue_stats *st, size_t size);

/*
 * Where a ring stands and who waits for whom, for diagnosing a stalled
 * queue (the daemons print it on SIGUSR1): read by
 * vdev_vq_get_ring_state() (device.h) under the queue's lock. Split:
 * 16-bit free-running indexes. Packed: a slot with its wrap counter in
 * bit 15 (the event suppression encoding), and driver_avail is 1 when
 * the slot at @avail holds an available descriptor, else 0. The driver's
 * fields are what guest memory says at that moment.
 */
struct vdev_queue_ring_state {
	uint16_t avail;        /* the device's next chain to pop */
	uint16_t driver_avail; /* split: avail->idx */
	uint16_t used;         /* the device's used index */
	uint16_t signalled;    /* used index at the last interrupt decision */
	uint16_t used_event;   /* split: used_event; packed: driver off_wrap */
	uint16_t avail_event;  /* split: avail_event; packed: device off_wrap */
	uint16_t driver_flags; /* split: avail->flags; packed: driver flags */
	uint16_t device_flags; /* split: used->flags; packed: device flags */
	uint32_t inflight;     /* chains popped and not pushed yet */
	uint32_t flags;        /* VDEV_RING_STATE_* */
};
#define VDEV_RING_STATE_MAPPED    1u /* the ring is configured and mapped */
#define VDEV_RING_STATE_PACKED    2u
#define VDEV_RING_STATE_EVENT_IDX 4u
#define VDEV_RING_STATE_KICKS_ON  8u /* the device asks for kicks */
#define VDEV_RING_STATE_BROKEN    16u

/*
 * Inflight tracking in a region shared with a frontend that outlives the
 * back-end (vhost-user PROTOCOL_F_INFLIGHT_SHMFD; the split or packed
 * layout of vhost-user.rst "Inflight I/O tracking", after the ring's):
 * every pop marks the chain in flight there (packed: with a copy of its
 * descriptors) and every push clears it, so a restarted back-end knows
 * what its predecessor took and never completed. @region: this queue's
 * part (header + one entry per ring entry), @len its size; NULL stops
 * tracking.
 *
 * Call on a configured, stopped ring (after vdev_queue_set_state). It
 * recovers: the used position is read from the ring (split: used->idx) or
 * from the region (packed: a frontend cannot read a packed ring's position
 * back after a crash, so its base is stale; a completion the dead back-end
 * was in the middle of is finished or undone as the ring shows; a region
 * no queue ran on yet keeps the base set_state gave); the avail position
 * becomes used + the ring entries of the marked chains, and those are
 * popped again, oldest first, before any new one. With tracking on, every
 * push publishes at once (the region can describe one unpublished
 * completion only). Returns how many chains will be popped again (>= 0);
 * -EINVAL: region too small; -EBUSY: not configured or requests in flight.
 * The region is hostile memory: it is only a hint. Entries that do not
 * form a sound chain are dropped (and unmarked); each resubmitted chain is
 * walked and validated like a fresh one.
 */
VDEV_API int vdev_queue_set_inflight(struct vdev_queue *q, void *region,
				     size_t len);

/*
 * The inflight region's layout, for the transport that allocates and hands
 * it out: the bytes one queue's part takes for a ring of @queue_size
 * entries (header + entries, not padded), and the empty part as a
 * frontend expects it fresh (version 1, desc_num, packed: every entry on
 * the free list, wrap counters 1). -EINVAL: @len too small.
 */
VDEV_API size_t vdev_queue_inflight_size(uint16_t queue_size, bool packed);
VDEV_API int vdev_queue_inflight_init(void *region, size_t len,
				      uint16_t queue_size, bool packed);

/*
 * Back to unconfigured. Requests in flight stay valid memory-wise (the
 * snapshot they were translated with is kept) but belong to no ring any
 * more: a later push of one writes nothing and returns -ESTALE, which also
 * releases what it held.
 */
VDEV_API void vdev_queue_reset(struct vdev_queue *q);

VDEV_END_DECLS

#endif /* VIRTIO_QUEUE_H */
