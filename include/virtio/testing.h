/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The software driver: a virtio driver in a library, so a device model can
 * be unit-tested with no VM and no transport.
 *
 * Three layers, each usable alone:
 *  - `struct vdev_drv_mem`: guest RAM (a memfd) and the `struct vdev_mem`
 *    that maps it, with a bump allocator for buffers;
 *  - `struct vdev_drv_ring`: the driver side of one split or packed ring in
 *    that RAM, including raw access and injection of malformed chains, to
 *    test a bare `struct vdev_queue`;
 *  - `struct vdev_drv`: drives a whole device: negotiation, queue setup,
 *    kicks, completions, config space; a `struct vdev` in this process
 *    through the transport interface, or a vhost-user back-end (a daemon)
 *    through its socket.
 *
 * Threads: a driver object is used by one thread. It is test code: it
 * checks what the device returns (a used id the driver never made
 * available is reported as -EPROTO) but trusts the caller.
 */
#ifndef VIRTIO_TESTING_H
#define VIRTIO_TESTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <virtio/api.h>
#include <virtio/device.h>
#include <virtio/mem.h>
#include <virtio/queue.h>
#include <virtio/spec.h>

VDEV_BEGIN_DECLS

/* ---- guest RAM ---------------------------------------------------------- */

struct vdev_drv_mem;

/*
 * @size bytes of guest RAM at guest address @base, backed by one memfd.
 * With @nregions > 1 the RAM is registered as that many adjacent regions of
 * equal size (to exercise ranges that cross regions).
 */
VDEV_API struct vdev_drv_mem *vdev_drv_mem_new(uint64_t base, size_t size,
					       unsigned nregions);
VDEV_API void vdev_drv_mem_free(struct vdev_drv_mem *m);
VDEV_API struct vdev_mem *vdev_drv_mem_map(struct vdev_drv_mem *m);
/* The memfd (owned by @m), for handing the RAM to another process. */
VDEV_API int vdev_drv_mem_fd(const struct vdev_drv_mem *m);
VDEV_API uint64_t vdev_drv_mem_base(const struct vdev_drv_mem *m);
VDEV_API size_t vdev_drv_mem_size(const struct vdev_drv_mem *m);
/* Host pointer for a guest address inside the RAM, or NULL. */
VDEV_API void *vdev_drv_mem_host(struct vdev_drv_mem *m, uint64_t gpa);
/* Allocates @len bytes aligned to @align (power of two); NULL when full.
 * *gpa receives the guest address. Memory is zeroed. */
VDEV_API void *vdev_drv_mem_alloc(struct vdev_drv_mem *m, size_t len,
				  size_t align, uint64_t *gpa);
/* Frees everything allocated since @mark (a value of vdev_drv_mem_mark). */
VDEV_API size_t vdev_drv_mem_mark(const struct vdev_drv_mem *m);
VDEV_API void vdev_drv_mem_reset_to(struct vdev_drv_mem *m, size_t mark);

/* ---- one ring, driver side ------------------------------------------- */

struct vdev_drv_ring;

/* A buffer segment in guest memory. */
struct vdev_drv_seg {
	uint64_t gpa;
	uint32_t len;
};

#define VDEV_DRV_F_INDIRECT 1u /* put the chain in an indirect table */

/*
 * A ring of @size entries allocated in @m, with the ring features of
 * @features (RING_PACKED selects the layout; INDIRECT_DESC, EVENT_IDX,
 * IN_ORDER are honoured).
 */
VDEV_API struct vdev_drv_ring *vdev_drv_ring_new(struct vdev_drv_mem *m,
						 uint16_t size,
						 uint64_t features);
VDEV_API void vdev_drv_ring_free(struct vdev_drv_ring *r);

/* What the device side needs: size, addresses, features. */
VDEV_API void vdev_drv_ring_queue_config(const struct vdev_drv_ring *r,
					 struct vdev_queue_config *cfg);

/*
 * Makes one chain available: @nout device-readable segments then @nin
 * device-writable ones. @token comes back from vdev_drv_ring_get_used.
 * -ENOSPC: not enough free descriptors.
 */
VDEV_API int vdev_drv_ring_add(struct vdev_drv_ring *r,
			       const struct vdev_drv_seg *segs, unsigned nout,
			       unsigned nin, void *token, unsigned flags);

/* Does the device want a notification for what was added (NO_NOTIFY,
 * avail_event, packed device event)? */
VDEV_API bool vdev_drv_ring_needs_kick(struct vdev_drv_ring *r);

/* The notification value for NOTIFICATION_DATA (2.9). */
VDEV_API uint32_t vdev_drv_ring_notification_data(const struct vdev_drv_ring *r);

/*
 * Takes one completion: 0 with *token and *len set; -EAGAIN: none;
 * -EPROTO: the device returned an id that is not in flight or a length
 * larger than the chain's writable part.
 */
VDEV_API int vdev_drv_ring_get_used(struct vdev_drv_ring *r, void **token,
				    uint32_t *len);

/* Asks for interrupts or not (NO_INTERRUPT flag, used_event, packed driver
 * event). */
VDEV_API void vdev_drv_ring_want_interrupts(struct vdev_drv_ring *r, bool on);

/* Chains made available and not yet completed. */
VDEV_API unsigned vdev_drv_ring_inflight(const struct vdev_drv_ring *r);

/* Raw access, for tests that build their own (possibly malformed) rings. */
VDEV_API struct vdev_vring_desc *
vdev_drv_ring_split_desc(struct vdev_drv_ring *r, uint16_t idx);
VDEV_API struct vdev_vring_avail *
vdev_drv_ring_split_avail(struct vdev_drv_ring *r);
VDEV_API struct vdev_vring_used *
vdev_drv_ring_split_used(struct vdev_drv_ring *r);
VDEV_API struct vdev_packed_desc *
vdev_drv_ring_packed_desc(struct vdev_drv_ring *r, uint16_t idx);
/* The packed ring's current avail wrap counter and next free slot. */
VDEV_API bool vdev_drv_ring_packed_wrap(const struct vdev_drv_ring *r);
VDEV_API uint16_t vdev_drv_ring_next_slot(const struct vdev_drv_ring *r);

/*
 * Every malformed-chain case of the hostile-input rules, and the ring
 * layouts it applies to (S split, P packed; "+ind" needs INDIRECT_DESC
 * negotiated, "-ind" needs it not negotiated). On any other layout
 * vdev_drv_ring_inject() returns -ENOTSUP.
 */
enum vdev_drv_fault {
	VDEV_DRV_FAULT_AVAIL_AHEAD,          /* S: avail idx > size ahead */
	VDEV_DRV_FAULT_HEAD_RANGE,           /* S: head index >= size */
	VDEV_DRV_FAULT_NEXT_RANGE,           /* S: next index >= size */
	VDEV_DRV_FAULT_CHAIN_TOO_LONG,       /* S+ind, P: more descriptors
						than the queue size */
	VDEV_DRV_FAULT_LOOP,                 /* S: next points back */
	VDEV_DRV_FAULT_TOTAL_LEN,            /* S, P: chain bytes > 2^32 - 1
						(RAM must allow it) */
	VDEV_DRV_FAULT_INDIRECT_NO_FEATURE,  /* S-ind, P-ind: INDIRECT
						without the feature */
	VDEV_DRV_FAULT_INDIRECT_WITH_NEXT,   /* S+ind, P+ind: INDIRECT|NEXT */
	VDEV_DRV_FAULT_INDIRECT_NESTED,      /* S+ind, P+ind: INDIRECT inside
						a table */
	VDEV_DRV_FAULT_INDIRECT_LEN_ZERO,    /* S+ind, P+ind: table length 0 */
	VDEV_DRV_FAULT_INDIRECT_LEN_ODD,     /* S+ind, P+ind: not a multiple
						of 16 */
	VDEV_DRV_FAULT_INDIRECT_TOO_BIG,     /* S+ind, P+ind: over 65535
						entries */
	VDEV_DRV_FAULT_INDIRECT_OUTSIDE,     /* S+ind, P+ind: table outside
						guest memory */
	VDEV_DRV_FAULT_READ_AFTER_WRITE,     /* S, P: readable after
						writable */
	VDEV_DRV_FAULT_ADDR_OUTSIDE,         /* S, P: buffer outside guest
						memory */
	VDEV_DRV_FAULT_ADDR_WRAP,            /* S, P: addr + len wraps 2^64 */
	VDEV_DRV_FAULT_PACKED_BAD_WRAP,      /* P: AVAIL/USED bits lie */
	VDEV_DRV_FAULT_COUNT
};

/* Human-readable name of a fault ("loop", "indirect-nested", ...). */
VDEV_API const char *vdev_drv_fault_name(enum vdev_drv_fault f);

/*
 * Publishes one chain that breaks rule @f. -ENOTSUP: the fault does not
 * apply to this ring layout (e.g. AVAIL_AHEAD on a packed ring) or to its
 * features (INDIRECT_NO_FEATURE with INDIRECT_DESC; TOTAL_LEN when the RAM
 * is too small to reach 4 GiB within a queue-size chain). Addresses
 * "outside" guest memory are the bytes just past the end of the RAM. The
 * ring is meant for this one chain afterwards: free it, do not reuse it.
 */
VDEV_API int vdev_drv_ring_inject(struct vdev_drv_ring *r,
				  enum vdev_drv_fault f);

/* ---- a whole device --------------------------------------------------- */

struct vdev_drv;

struct vdev_drv_config {
	size_t mem_size;      /* guest RAM; 0 = 16 MiB */
	unsigned mem_regions; /* 0 = 1 */
	uint16_t queue_size;  /* 0 = min(256, device max) */
	bool packed;          /* ask for RING_PACKED */
	uint64_t refuse;      /* offered features the driver does not take */
	/*
	 * Kicks: true = through eventfds and the driver's own loop (as a
	 * real transport does), false = synchronous vdev_vq_kick calls.
	 * A vhost-user driver always uses eventfds.
	 */
	bool use_eventfds;
	/* vhost-user: the device's queues; 0 = what GET_QUEUE_NUM says
	 * when the back-end offers PROTOCOL_F_MQ, else 1. */
	unsigned num_queues;
	/* vhost-user: how long to retry connecting (a daemon that is
	 * still starting) in ms; 0 = 5000. */
	int timeout_ms;
};

/*
 * A driver for @dev, with its own guest RAM and event loop. It sets the
 * device's memory, transport callbacks and watcher; it does not own @dev.
 * vdev_drv_free() resets @dev and takes all of that back, so free the
 * driver before the device.
 */
VDEV_API struct vdev_drv *vdev_drv_new(struct vdev *dev,
				       const struct vdev_drv_config *cfg,
				       size_t size);
#define vdev_drv_new(...) \
	vdev_drv_new(__VA_ARGS__, sizeof(struct vdev_drv_config))

/*
 * The same driver for a device served by a vhost-user back-end (a daemon)
 * listening on the UNIX socket @path: a test runs the same device
 * in-process (vdev_drv_new) and against its daemon with one body of code.
 * The driver speaks vhost-user as QEMU does (SET_OWNER, features and the
 * protocol features REPLY_ACK, CONFIG, MQ, STATUS, RESET_DEVICE and
 * BACKEND_REQ when offered, SET_MEM_TABLE with its RAM's memfd, rings set
 * up queue by queue with kick and call eventfds, GET/SET_CONFIG, config
 * changes on the back-end channel), each message with a 5 s deadline. It
 * connects at once (retrying for cfg->timeout_ms while the socket does not
 * exist or refuses) and learns the features and the number of queues;
 * vdev_drv_init() then brings the device up. Differences from a local
 * device: vdev_drv_device() is NULL; a queue's default size is
 * cfg->queue_size or 256 (vhost-user cannot ask for the maximum); config
 * access needs PROTOCOL_F_CONFIG (-ENOTSUP) and takes at most 256 bytes
 * per write, as one SET_CONFIG; config interrupts are counted when the
 * driver's loop runs (vdev_drv_wait, vdev_drv_poll). vdev_drv_free()
 * disconnects, which resets the device in the daemon. NULL with errno:
 * ENOENT/ECONNREFUSED (nobody listening in time), ECONNRESET (the back-end
 * closed the connection), ETIMEDOUT or EPROTO (the back-end stalled or
 * broke the protocol), ENOMEM.
 */
VDEV_API struct vdev_drv *vdev_drv_connect_vhost_user(
	const char *path, const struct vdev_drv_config *cfg, size_t size);
#define vdev_drv_connect_vhost_user(...) \
	vdev_drv_connect_vhost_user(__VA_ARGS__, sizeof(struct vdev_drv_config))
/* The same on a connected stream socket @fd (a socketpair whose other end
 * a daemon got with --fd, or a connection a daemon made with --connect).
 * The driver owns @fd from the call on, also when it fails (ENOTSOCK:
 * not a stream socket). */
VDEV_API struct vdev_drv *vdev_drv_vhost_user_fd(
	int fd, const struct vdev_drv_config *cfg, size_t size);
#define vdev_drv_vhost_user_fd(...) \
	vdev_drv_vhost_user_fd(__VA_ARGS__, sizeof(struct vdev_drv_config))

VDEV_API void vdev_drv_free(struct vdev_drv *drv);

/*
 * The usual bring-up: reset, ACKNOWLEDGE, DRIVER, features (offered minus
 * @refuse, RING_PACKED only when asked), FEATURES_OK (checked), every queue
 * set up, DRIVER_OK. -EPROTO when the device refused FEATURES_OK.
 */
VDEV_API int vdev_drv_init(struct vdev_drv *drv);

/* The same in steps, for tests of the lifecycle itself. */
VDEV_API int vdev_drv_negotiate(struct vdev_drv *drv, uint64_t features);
VDEV_API int vdev_drv_setup_queue(struct vdev_drv *drv, unsigned qidx,
				  uint16_t size);
VDEV_API int vdev_drv_driver_ok(struct vdev_drv *drv);
/* Stops queue @qidx (vdev_vq_stop; vhost-user GET_VRING_BASE, which the
 * back-end answers once nothing it popped is in flight) and reports
 * where its ring stands in @st (may be NULL). A new vdev_drv_init() or
 * vdev_drv_setup_queue() starts it again. */
VDEV_API int vdev_drv_stop_queue(struct vdev_drv *drv, unsigned qidx,
				 struct vdev_queue_state *st);

/* The local device (NULL for a vhost-user driver). */
VDEV_API struct vdev *vdev_drv_device(struct vdev_drv *drv);
/* Queues of the device, features it offers, features negotiated, and
 * its status byte (for vhost-user without PROTOCOL_F_STATUS: what the
 * driver set). */
VDEV_API unsigned vdev_drv_num_queues(const struct vdev_drv *drv);
VDEV_API uint64_t vdev_drv_device_features(struct vdev_drv *drv);
VDEV_API uint64_t vdev_drv_features(const struct vdev_drv *drv);
VDEV_API uint8_t vdev_drv_status(struct vdev_drv *drv);
VDEV_API struct vdev_drv_mem *vdev_drv_get_mem(struct vdev_drv *drv);
VDEV_API struct vdev_drv_ring *vdev_drv_ring(struct vdev_drv *drv,
					     unsigned qidx);

/* Notifies the device about queue @qidx if the ring says it wants it. */
VDEV_API int vdev_drv_kick(struct vdev_drv *drv, unsigned qidx);

/*
 * Waits up to @timeout_ms for a completion on @qidx, running the driver's
 * loop (device timers, eventfd kicks) meanwhile; the loop runs at least
 * once, so a @timeout_ms of 0 polls: it handles what is already pending
 * without sleeping. -1 waits for ever. 0 with *token, *len set;
 * -ETIMEDOUT; -EPROTO as vdev_drv_ring_get_used.
 */
VDEV_API int vdev_drv_wait(struct vdev_drv *drv, unsigned qidx,
			   int timeout_ms, void **token, uint32_t *len);

/* Runs the driver's loop once for up to @timeout_ms (device timers,
 * interrupts, back-end messages): the number of events served, 0 on
 * timeout. */
VDEV_API int vdev_drv_poll(struct vdev_drv *drv, int timeout_ms);

/*
 * One request in one call: copies @out (device-readable) into guest
 * memory, adds a writable buffer of @in_len bytes, kicks, waits, copies
 * what the device wrote into @in. *written receives the used length.
 */
VDEV_API int vdev_drv_xfer(struct vdev_drv *drv, unsigned qidx,
			   const void *out, size_t out_len, void *in,
			   size_t in_len, uint32_t *written, int timeout_ms);

/* Config space through the transport interface. */
VDEV_API int vdev_drv_config_read(struct vdev_drv *drv, uint32_t offset,
				  void *buf, uint32_t len);
VDEV_API int vdev_drv_config_write(struct vdev_drv *drv, uint32_t offset,
				   const void *buf, uint32_t len);

/* Interrupts the device raised so far: per queue, and config changes. */
VDEV_API unsigned vdev_drv_interrupts(const struct vdev_drv *drv,
				      unsigned qidx);
VDEV_API unsigned vdev_drv_config_interrupts(const struct vdev_drv *drv);

VDEV_END_DECLS

#endif /* VIRTIO_TESTING_H */
