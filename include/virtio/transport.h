/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The transport interface: what an adapter (vhost-user, vfio-user, KVM
 * virtio-mmio, the software driver) calls to drive a device, and the two
 * things the core calls back (queue interrupt, config-change interrupt).
 *
 * Threads: the vdev_* calls below are made from one control thread at a
 * time. vdev_vq_dispatch() for queue i runs on the thread that serves queue
 * i; the core locks queue i for one round, so control calls on queue i are
 * safe while it runs. Several queues may be served by several threads.
 */
#ifndef VIRTIO_TRANSPORT_H
#define VIRTIO_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <virtio/api.h>
#include <virtio/device.h>
#include <virtio/mem.h>
#include <virtio/queue.h>

VDEV_BEGIN_DECLS

struct vdev_transport_ops {
	/* Queue @qidx wants an interrupt and has no call fd. */
	void (*queue_interrupt)(void *opaque, unsigned qidx);
	/* Config space changed or DEVICE_NEEDS_RESET was set. */
	void (*config_interrupt)(void *opaque);
};

VDEV_API void vdev_set_transport(struct vdev *dev,
				 const struct vdev_transport_ops *ops,
				 void *opaque);

/*
 * Watcher: how the core and the model get fds watched, whatever event loop
 * the embedder runs. vdev_loop_watcher() (loop.h) makes one for the
 * library's own loop.
 */
struct vdev_watcher {
	int (*add)(void *opaque, int fd, uint32_t events, vdev_event_fn fn,
		   void *arg);
	int (*del)(void *opaque, int fd);
	void *opaque;
};

/* The watcher for queue @qidx's thread (its kick fd and the model's fds
 * for that queue). The watcher is copied; what it points to (a loop) must
 * stay valid until the watcher is replaced (NULL removes it) or the device
 * is freed, since both unregister the fds through it. */
VDEV_API int vdev_vq_set_watcher(struct vdev *dev, unsigned qidx,
				 const struct vdev_watcher *w);
/* The same watcher for every queue. */
VDEV_API int vdev_set_watcher(struct vdev *dev, const struct vdev_watcher *w);

/* Guest memory the device uses from now on (the device takes a
 * reference). Queues re-translate their rings against it. */
VDEV_API int vdev_set_mem(struct vdev *dev, struct vdev_mem *mem);
VDEV_API struct vdev_mem *vdev_get_mem(struct vdev *dev);

/* Features the device offers, and the ones the driver accepts. Writing
 * driver features is refused (-EBUSY) once FEATURES_OK is set. */
VDEV_API uint64_t vdev_device_features(const struct vdev *dev);
VDEV_API int vdev_set_driver_features(struct vdev *dev, uint64_t features);
VDEV_API uint64_t vdev_driver_features(const struct vdev *dev);

/*
 * Status register (2.1). Writing 0 resets the device. FEATURES_OK is
 * refused (the bit does not stick, -EINVAL returned) when the driver acked
 * a bit that was not offered, omitted VERSION_1, or the model refused.
 * Clearing a bit, or setting DRIVER_OK without FEATURES_OK, is refused with
 * -EINVAL and leaves the status unchanged. DRIVER_OK starts the queues.
 */
VDEV_API uint8_t vdev_get_status(const struct vdev *dev);
VDEV_API int vdev_set_status(struct vdev *dev, uint8_t status);

/* Resets the device (as writing 0 to the status). */
VDEV_API void vdev_reset(struct vdev *dev);

/* Config space. Out-of-range accesses (offset + len > config size) read
 * zeros / are ignored and return -ERANGE. */
VDEV_API uint32_t vdev_config_size(const struct vdev *dev);
VDEV_API int vdev_config_read(struct vdev *dev, uint32_t offset, void *buf,
			      uint32_t len);
VDEV_API int vdev_config_write(struct vdev *dev, uint32_t offset,
			       const void *buf, uint32_t len);
VDEV_API uint32_t vdev_config_generation(const struct vdev *dev);

/*
 * Per-queue calls (qidx < vdev_num_queues, else -EINVAL).
 *
 * Queue setup: the transport collects size and addresses (in guest
 * physical addresses), then enables the queue. The ring layout and ring
 * features come from the negotiated features. Enabling validates the ring
 * (vdev_queue_configure errors).
 */
VDEV_API uint16_t vdev_vq_max_size(const struct vdev *dev, unsigned qidx);
VDEV_API int vdev_vq_set_size(struct vdev *dev, unsigned qidx, uint16_t size);
VDEV_API int vdev_vq_set_addr(struct vdev *dev, unsigned qidx,
			      uint64_t desc, uint64_t driver, uint64_t device);
VDEV_API int vdev_vq_enable(struct vdev *dev, unsigned qidx, bool enable);
VDEV_API bool vdev_vq_enabled(const struct vdev *dev, unsigned qidx);

/*
 * Kick fd (eventfd; -1 = none, the transport calls vdev_vq_kick) and call
 * fd (-1 = none, queue_interrupt callback). The core does not own them.
 * Either may come from a peer with any flags: the kick fd is only ever
 * read without blocking (a socket or pipe works too), and the call fd is
 * written without blocking (vdev_queue_set_call_fd: an eventfd gets
 * O_NONBLOCK, a full one means an interrupt is pending). -EBADF: @fd is
 * not open.
 */
VDEV_API int vdev_vq_set_kick_fd(struct vdev *dev, unsigned qidx, int fd);
VDEV_API int vdev_vq_set_call_fd(struct vdev *dev, unsigned qidx, int fd);

/*
 * Synchronous kick (in-process transports, vhost-user inband kicks): runs
 * one round of the queue's handler on the calling thread, so at most the
 * queue's budget of chains (vdev_queue_set_budget); what is left is served
 * by a round on the queue's own thread (its watcher), as after a kick
 * through the kick fd. A queue without a watcher has no such thread: the
 * call then runs rounds until the ring is empty or the device waits.
 * @data is the NOTIFICATION_DATA value, or 0.
 */
VDEV_API int vdev_vq_kick(struct vdev *dev, unsigned qidx, uint32_t data);

/* The kick fd became readable: consume it and run one round. This is what
 * the watcher calls; an embedder with its own loop may call it directly. */
VDEV_API void vdev_vq_dispatch(struct vdev *dev, unsigned qidx);

/*
 * Busy polling: if the driver made buffers available, runs a round without
 * waiting for a kick, on the thread that serves the queue (as
 * vdev_vq_dispatch). Returns true when it found work. Cheap when there is
 * none (a lock try and a read of the ring), so a worker can call it in a
 * loop for a while after its last work instead of sleeping. Returns false
 * at once if the control thread holds the queue.
 */
VDEV_API bool vdev_vq_poll(struct vdev *dev, unsigned qidx);

/*
 * vdev_vq_poll for a caller that polls for good while busy (as DPDK's
 * PMDs do): its rounds leave the driver's kicks off, since the caller
 * comes back by itself and a kick nobody waits for costs the driver a
 * system call per refill, and a spent budget schedules nothing. Before
 * the caller sleeps it must arm each such queue with vdev_vq_arm: kicks
 * on, then one more look; true when buffers are there (poll again rather
 * than sleep: their kick may never come).
 */
VDEV_API bool vdev_vq_hold_poll(struct vdev *dev, unsigned qidx);
VDEV_API bool vdev_vq_arm(struct vdev *dev, unsigned qidx);

/*
 * Stops the queue (vhost-user GET_VRING_BASE): no more rounds, waits until
 * requests in flight have completed, then reports the ring state. Safe
 * against a running worker. Restart with vdev_vq_enable(..., true).
 */
VDEV_API int vdev_vq_stop(struct vdev *dev, unsigned qidx,
			  struct vdev_queue_state *st);
/* Ring state before the queue is enabled (SET_VRING_BASE). */
VDEV_API int vdev_vq_set_state(struct vdev *dev, unsigned qidx,
			       const struct vdev_queue_state *st);
/*
 * Inflight tracking region of the queue (vdev_queue_set_inflight), applied
 * with the ring state when the queue is next enabled (a failure makes that
 * enable fail); NULL stops tracking (at once on a queue not running). The
 * caller keeps the region mapped until it sets NULL or resets the device.
 */
VDEV_API int vdev_vq_set_inflight(struct vdev *dev, unsigned qidx,
				  void *region, size_t len);
/*
 * RING_RESET of one queue (virtio 1.2 2.6.1): waits, like vdev_vq_stop,
 * until its requests in flight have completed, then returns the queue to
 * its initial state. -ETIMEDOUT: some did not complete in time; the queue
 * is reset anyway and their late pushes change nothing (-ESTALE).
 */
VDEV_API int vdev_vq_reset(struct vdev *dev, unsigned qidx);

/*
 * Whole-device state (migration, vhost-user DEVICE_STATE): a versioned,
 * self-describing blob (state.h). Save needs every queue stopped (-EBUSY
 * otherwise); *blob is malloc'd, the caller frees it. Restore refuses a
 * blob of another device type, an unknown format version or a model state
 * version newer than the model's (-EPROTO), a truncated or corrupt one
 * (-EBADMSG), and leaves the device reset then.
 */
VDEV_API int vdev_save(struct vdev *dev, void **blob, size_t *len);
/*
 * What a restore does to the model, in order: ops->reset (the device is
 * reset first), ops->load (queues configured, status below DRIVER_OK),
 * and, when the blob had DRIVER_OK (and neither FAILED nor
 * DEVICE_NEEDS_RESET), ops->start again: the model starts as after a
 * driver's DRIVER_OK (timers armed, fds watched), then every queue gets a
 * round. A model must therefore accept start after load as it accepts it
 * after negotiation.
 */
VDEV_API int vdev_restore(struct vdev *dev, const void *blob, size_t len);

VDEV_END_DECLS

#endif /* VIRTIO_TRANSPORT_H */
