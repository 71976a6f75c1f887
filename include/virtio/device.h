/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The device core, as a device model sees it.
 *
 * A device model (rng, blk, ...) fills in a `struct vdev_info` (what the
 * device is) and a `struct vdev_ops` (what it does) and calls vdev_new().
 * The core runs the virtio device lifecycle for it: feature negotiation,
 * the status state machine, config space with its generation counter,
 * queues, reset, DEVICE_NEEDS_RESET and save/restore. Transports and
 * adapters drive the core through include/virtio/transport.h.
 *
 * Threads and locks. Two kinds of thread call into a model:
 *  - the control thread: the one that makes the transport calls of
 *    transport.h (an adapter's control thread, a vCPU thread in
 *    vdev_mmio_write, the software driver's caller);
 *  - queue i's thread: the one that serves queue i's watcher (an
 *    adapter's worker, the KVM device thread, the software driver's loop),
 *    or the caller of vdev_vq_kick()/vdev_vq_poll() for that queue.
 * They may be one thread (vfio-user serves everything on one). The core
 * has a lock per queue, held around every round and watched-fd callback
 * of that queue and around every control call that touches it, and a
 * config lock (vdev_config_lock) held around config-space access. Per op:
 *
 *  op                 thread               held when called
 *  -----------------  -------------------  -------------------------------
 *  features_ok        control              nothing
 *  config_write,      control (vCPU for    the config lock
 *  config_written,    MMIO/PCI)
 *  config_read
 *  start              control: DRIVER_OK,  nothing (rounds start after it
 *                     and vdev_restore of  returns)
 *                     a DRIVER_OK blob
 *  handle             queue i's thread     queue i's lock
 *  watched-fd         queue i's thread     queue i's lock
 *  callback
 *  drain              whoever stops or     queue i's lock (every queue
 *                     resets queue i       lock when the device resets)
 *  reset              control (status 0,   every queue lock, after drain
 *                     vdev_reset, a failed
 *                     or new vdev_restore,
 *                     a transport's reset)
 *  save, load         control (vdev_save,  nothing; every queue stopped,
 *                     vdev_restore)        nothing in flight
 *  destroy            vdev_free's caller   nothing; no callback runs any
 *                                          more (after drain and unwatch)
 *
 * What an op may call:
 *  - always: vdev_priv, vdev_get_info, vdev_features/vdev_has_feature,
 *    vdev_log, vdev_queue_schedule (any queue, from any thread, even a
 *    signal handler), vdev_watch_fd/_events/vdev_unwatch_fd,
 *    vdev_has_watcher, vdev_config_get/vdev_config_lock (recursive);
 *  - with queue i's lock held (handle, callbacks, drain, reset): pop,
 *    push, unpop, avail_count and notify on queue i's vdev_queue (reset:
 *    on every queue); vdev_set_needs_reset; vdev_config_changed when the
 *    config lock is not held;
 *  - never from an op or callback: the transport calls of transport.h
 *    (vdev_vq_*, vdev_set_status, vdev_reset, vdev_set_mem, vdev_save,
 *    vdev_restore, ...) and vdev_free. They take the queue locks: from a
 *    queue thread or from reset they deadlock (the lock is the caller's
 *    own, or taken in the other order by another thread). What a model
 *    wants from them it does directly: in reset it finishes or cancels its
 *    requests itself (the locks are its), a queue that must wait returns
 *    from handle and calls vdev_queue_schedule() later, and a device that
 *    is broken calls vdev_set_needs_reset() and lets the driver reset it.
 *
 * Signals: the threads the library starts (adapter workers, the KVM
 * device thread, state transfers, storage workers) block every
 * asynchronous signal, so process signals reach the application's own
 * threads; only the synchronous ones a fault raises (SIGBUS, SIGSEGV, ...)
 * stay open there. The library raises no SIGPIPE. Nothing is required of
 * the application, but: a SIGBUS handler installed after the library's
 * (which survives a peer that shrinks shared memory) must chain to the
 * previous handler, and a daemon built on libvdev-daemon leaves SIGINT,
 * SIGTERM and SIGHUP to it (daemon.h).
 */
#ifndef VIRTIO_DEVICE_H
#define VIRTIO_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <virtio/api.h>
#include <virtio/queue.h>
#include <virtio/spec.h>

VDEV_BEGIN_DECLS

struct vdev;
struct vdev_state_writer;
struct vdev_state_reader;

/* Called with an fd the device watches (a timer, an io_uring eventfd). */
typedef void (*vdev_event_fn)(void *arg, int fd, uint32_t events);

struct vdev_info {
	const char *name;         /* "rng", "blk": logs and capabilities */
	uint32_t device_id;       /* VDEV_ID_* */
	uint32_t vendor_id;       /* 0 = the core's default */
	/*
	 * Features offered. The core always adds VERSION_1, and adds the
	 * ring features of VDEV_RING_FEATURES unless @ring_features_mask
	 * removes them.
	 */
	uint64_t features;
	uint64_t ring_features_mask;
	unsigned num_queues;      /* 1 .. 1024 */
	uint16_t max_queue_size;  /* 0 = VDEV_QUEUE_SIZE_MAX */
	uint32_t config_size;     /* bytes of device config space, may be 0 */
	uint32_t state_version;   /* version of what ops->save writes */
};

/* ops->config_write: the model applied the write; copy nothing. */
#define VDEV_CONFIG_HANDLED 1

struct vdev_ops {
	/*
	 * Extra checks at FEATURES_OK, after the core's own (only offered
	 * bits, VERSION_1 present). Negative errno refuses FEATURES_OK.
	 */
	int (*features_ok)(struct vdev *dev, uint64_t features);

	/*
	 * The driver writes @len bytes at @offset of config space (range
	 * already checked against config_size). Frontends write whole
	 * ranges: QEMU's vhost-user frontends forward one guest write as a
	 * SET_CONFIG of the entire config space, with the bytes the guest
	 * did not touch as QEMU last read them; virtio-mmio/pci drivers
	 * write one field. Return:
	 *  - 0: accepted; the core copies the bytes into the config buffer,
	 *    then calls ops->config_written;
	 *  - VDEV_CONFIG_HANDLED: the model applied the write itself (it
	 *    changed the buffer as it sees fit, e.g. a select/subsel pair
	 *    and the answer it selects); the core copies nothing, so a
	 *    frontend's stale copy of the other fields cannot overwrite it;
	 *  - a negative errno: refused, nothing changes (vhost-user answers
	 *    the SET_CONFIG with an error).
	 * A model that accepts whole-config writes compares the read-only
	 * bytes in the range with its own and refuses only a change. NULL:
	 * config space is read-only and writes are refused (-EPERM).
	 */
	int (*config_write)(struct vdev *dev, uint32_t offset, const void *data,
			    uint32_t len);

	/* After the core copied an accepted write into the buffer: the
	 * range that was written, for a model that reacts to it. May be
	 * NULL. */
	void (*config_written)(struct vdev *dev, uint32_t offset,
			       uint32_t len);

	/* Before a config read, to refresh volatile fields. May be NULL. */
	void (*config_read)(struct vdev *dev, uint32_t offset, uint32_t len);

	/* DRIVER_OK was set: the device may start. Negative errno sets
	 * DEVICE_NEEDS_RESET. May be NULL. */
	int (*start)(struct vdev *dev);

	/*
	 * The device is being reset (driver wrote 0, or the transport reset
	 * it). Return the model to its initial state. ops->drain has run
	 * for every queue with requests in flight just before; what is
	 * still in flight now may be pushed here (the queue locks are held
	 * by this thread) or later: queues are reset by the core after this
	 * returns, and a request pushed after that is released without
	 * touching the ring (vdev_queue_push returns -ESTALE). May be NULL.
	 */
	void (*reset)(struct vdev *dev);

	/*
	 * Requests popped from queue @qidx are still in flight and the core
	 * is about to stop the queue (vdev_vq_stop, vdev_vq_enable false:
	 * vhost-user GET_VRING_BASE and disable), reset it (RING_RESET,
	 * device reset) or free the device. Finish them (push with what was
	 * done) or cancel them (push with the device's error status, or 0
	 * bytes) before returning: the core then reports the ring state, and
	 * a frontend that reads it trusts that nothing popped is pending.
	 * Called on whichever thread stops the queue (the control thread, or
	 * the queue's own thread when the transport runs both on one), with
	 * the queue's lock held, so no round or callback of that queue runs
	 * meanwhile and the model may push, reap its backend (io_uring) and
	 * wait a bounded time. NULL, or requests left in flight: the core
	 * waits up to 10 s for the model's callbacks on the queue's own
	 * thread to complete them, and returns -ETIMEDOUT at once when the
	 * caller is that thread (nobody else could run them).
	 */
	void (*drain)(struct vdev *dev, unsigned qidx, struct vdev_queue *q);

	/*
	 * Queue @qidx was kicked (or has work after the last round): pop,
	 * process, push, vdev_queue_notify(). Return when the queue is empty,
	 * when vdev_queue_pop() says -EBUSY (the core schedules another
	 * round), or when the device must wait (rate limit, I/O in flight).
	 * The core suppresses kicks around the call (disable_kicks before,
	 * enable_kicks after) and calls again when buffers arrived
	 * meanwhile, so a model never touches kick suppression itself. A
	 * model that returns with buffers left in the ring and popped
	 * nothing is taken to be waiting: it is called again on the next
	 * kick or vdev_queue_schedule(), never in a loop.
	 */
	void (*handle)(struct vdev *dev, unsigned qidx, struct vdev_queue *q);

	/*
	 * Save/restore of the model's own state (the core saves features,
	 * status, config and queue state itself). Called with every queue
	 * stopped and nothing in flight. May be NULL when the model has no
	 * state of its own. The config space is not restored for the model:
	 * load finds the saved bytes with vdev_state_config() and takes the
	 * fields a driver may write from there (state.h).
	 */
	int (*save)(struct vdev *dev, struct vdev_state_writer *w);
	int (*load)(struct vdev *dev, struct vdev_state_reader *r,
		    uint32_t version);

	/* Frees the model's private data. May be NULL. */
	void (*destroy)(struct vdev *dev);
};

/*
 * A device. @info and @ops are copied, each at the size the caller
 * compiled it with (api.h: callers write vdev_new(&info, &ops, priv)).
 * @priv is the model's private data (vdev_priv()). EINVAL: bad info (no
 * queues, too many, config too large), no ops->handle, or an info or ops
 * from a newer libvdev that sets what this one does not know.
 */
VDEV_API struct vdev *vdev_new(const struct vdev_info *info,
			       const struct vdev_ops *ops, void *priv,
			       size_t info_size, size_t ops_size);
#define vdev_new(...)                                                       \
	vdev_new(__VA_ARGS__, sizeof(struct vdev_info), sizeof(struct vdev_ops))

/* Stops every queue, calls ops->destroy, frees. Accepts NULL. */
VDEV_API void vdev_free(struct vdev *dev);

VDEV_API void *vdev_priv(const struct vdev *dev);
VDEV_API const struct vdev_info *vdev_get_info(const struct vdev *dev);

/*
 * The config space buffer (config_size bytes, little-endian fields) that
 * the model fills in before the driver looks and updates later.
 *
 * Config space and threads: the control thread copies driver writes in
 * (ops->config_write) and reads out (ops->config_read) while queue threads
 * may read fields the driver set. Every access of the buffer outside the
 * config ops takes the config lock: vdev_config_get() copies a range out
 * under it; vdev_config_lock()/unlock() bracket longer reads or the
 * model's own updates (then vdev_config_changed(), after unlocking). The
 * config ops run with the lock held (it is recursive, so helpers may take
 * it again). With the lock held, call no vdev_vq_* control call, no
 * vdev_set_mem, no vdev_reset and nothing that raises an interrupt: the
 * queue threads take it inside their queue locks.
 */
VDEV_API void *vdev_config(struct vdev *dev);
VDEV_API void vdev_config_lock(struct vdev *dev);
VDEV_API void vdev_config_unlock(struct vdev *dev);
/* Copies @len bytes at @offset of the buffer into @buf under the config
 * lock. -ERANGE: outside config space. Safe from any thread. */
VDEV_API int vdev_config_get(struct vdev *dev, uint32_t offset, void *buf,
			     uint32_t len);

/* The model changed config space: bump the generation and raise a
 * config-change interrupt (when DRIVER_OK). Not with the config lock
 * held. */
VDEV_API void vdev_config_changed(struct vdev *dev);

/* Negotiated features (valid from FEATURES_OK on). */
VDEV_API uint64_t vdev_features(const struct vdev *dev);
VDEV_API bool vdev_has_feature(const struct vdev *dev, unsigned bit);

/* The device hit an error it cannot recover from (2.1.2): sets
 * DEVICE_NEEDS_RESET and raises a config-change interrupt. */
VDEV_API void vdev_set_needs_reset(struct vdev *dev);

VDEV_API unsigned vdev_num_queues(const struct vdev *dev);
VDEV_API struct vdev_queue *vdev_get_queue(struct vdev *dev, unsigned qidx);
/* Queue @qidx's ring state (queue.h), read under its lock (waits for a
 * round that runs). 0; -EINVAL for a bad queue or a @size under 4. */
VDEV_API int vdev_vq_get_ring_state(struct vdev *dev, unsigned qidx,
				    struct vdev_queue_ring_state *st,
				    size_t size);

/*
 * Asks the core to run ops->handle for @qidx again soon, from the queue's
 * own thread (a rate-limit timer fired, I/O completed on another thread).
 * Safe from any thread.
 */
VDEV_API void vdev_queue_schedule(struct vdev *dev, unsigned qidx);

/*
 * Watches @fd for @events (POLLIN, POLLPRI, POLLOUT, or 0 for none for
 * now) on the thread that serves queue @qidx, so @fn may pop and push on
 * that queue: it runs with the queue's lock held, like ops->handle, and
 * gets the events that were ready. It pops with what the last round left
 * of the queue's budget; when it leaves the budget spent (pop said
 * -EBUSY) the core schedules a round, as after ops->handle. Works whatever
 * loop the embedder uses (vdev_vq_set_watcher in transport.h). The fd is
 * remembered until vdev_unwatch_fd or vdev_free, whether or not the queue
 * has a watcher yet: it is registered when one is set, and moves when the
 * watcher changes. The core does not own @fd; unwatch it before closing
 * it.
 * -EINVAL: bad queue, fd, events or @fn; -EBADF: @fd is not open;
 * -EEXIST: @fd is already watched for this queue; or the watcher's error
 * when it refused the fd. Safe from any thread, ops and callbacks
 * included.
 */
VDEV_API int vdev_watch_fd(struct vdev *dev, unsigned qidx, int fd,
			   uint32_t events, vdev_event_fn fn, void *arg);
/* Changes the events @fd is watched for (a sound stream asks for POLLOUT
 * only while it has something to write). -ENOENT: not watched. */
VDEV_API int vdev_watch_fd_events(struct vdev *dev, unsigned qidx, int fd,
				  uint32_t events);
/* True when queue @qidx has a watcher now: a thread will run the
 * callbacks of the fds watched for it. Without one (an embedder that
 * only kicks synchronously) a model completes asynchronous work within
 * its rounds. */
VDEV_API bool vdev_has_watcher(struct vdev *dev, unsigned qidx);
/* Stops watching @fd. A callback already waiting for the queue's lock on
 * the queue's thread is not run. -ENOENT: not watched. */
VDEV_API int vdev_unwatch_fd(struct vdev *dev, unsigned qidx, int fd);

/* Logging: models and adapters report through this so an embedder can
 * route messages. Default: warnings and errors to stderr. */
enum vdev_log_level {
	VDEV_LOG_ERROR,
	VDEV_LOG_WARN,
	VDEV_LOG_INFO,
	VDEV_LOG_DEBUG,
};
VDEV_API void vdev_set_log_fn(void (*fn)(enum vdev_log_level lvl,
					 const char *msg, void *opaque),
			      void *opaque, enum vdev_log_level max_level);
VDEV_API void vdev_log(enum vdev_log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

VDEV_END_DECLS

#endif /* VIRTIO_DEVICE_H */
