/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internals of the device core shared by device.c (lifecycle), the queue
 * files vq_round.c (rounds), vq_setup.c (setup, stop, reset, drain) and
 * vq_watch.c (watched fds), and state.c (save/restore).
 *
 * Locking:
 *  - vq->lock is held around every round (ops->handle), around the model's
 *    watched-fd callbacks for that queue and around every control call that
 *    touches the queue, so the queue itself is only ever used by one thread
 *    at a time.
 *  - vq->wlock protects the watcher and the list of watched fds; it is a
 *    separate lock because vdev_watch_fd() may be called from inside
 *    ops->handle (vq->lock held).
 *  - dev->status is read by workers without a lock (atomic byte).
 */
#ifndef VDEV_CORE_INTERNAL_H
#define VDEV_CORE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <virtio/device.h>
#include <virtio/transport.h>

struct vcore_vq;

/* One fd watched for the model (vdev_watch_fd), kept until
 * vdev_unwatch_fd or vdev_free so that it can be registered when a
 * watcher comes and moved when the watcher changes. */
struct vcore_watch {
	struct vcore_watch *next;
	int fd;
	uint32_t events;
	vdev_event_fn fn;
	void *arg;
	bool registered; /* currently added to vq->watcher */
};

struct vcore_vq {
	struct vdev *dev;
	unsigned idx;
	struct vdev_queue *q;

	pthread_mutex_t lock;
	pthread_cond_t idle;     /* broadcast after each round/callback */
	pthread_t worker;        /* thread that ran the last round */
	bool has_worker;

	/* Collected by vdev_vq_set_size/set_addr, applied at enable. */
	uint16_t size;
	uint64_t desc, driver, device;
	struct vdev_queue_state pending; /* SET_VRING_BASE / after stop */
	bool has_pending;
	void *ifl;               /* inflight region, applied at enable */
	size_t ifl_len;

	bool enabled;
	bool stopped;
	/* Under lock: a poller serves the queue (vdev_vq_hold_poll ran
	 * since the last vdev_vq_arm), so its rounds leave kicks off and
	 * need no schedule to go on. */
	bool polled;
	int kick_fd;
	int kick_kind;      /* enum vpeer_kind: how to read it */
	int call_fd;
	int sched_fd; /* internal eventfd: vdev_queue_schedule, budget */

	pthread_mutex_t wlock;
	struct vdev_watcher watcher;
	bool has_watcher;
	bool kick_registered;
	bool sched_registered;
	struct vcore_watch *watches;
};

struct vdev {
	struct vdev_info info;
	const struct vdev_ops *ops; /* &ops_copy */
	struct vdev_ops ops_copy;
	void *priv;

	uint64_t offered;
	uint64_t driver_features;
	uint8_t status; /* accessed with __atomic builtins */
	uint32_t generation;

	uint8_t *config;
	/* Recursive: held around the config ops and every copy in or out
	 * of @config (vdev_config_lock), so queue threads read whole fields
	 * while the control thread writes. */
	pthread_mutex_t config_lock;

	const struct vdev_transport_ops *tops;
	void *topaque;

	struct vdev_mem *mem;
	pthread_mutex_t mem_lock;

	unsigned nvq;
	struct vcore_vq *vqs;
};

static inline uint8_t vcore_status(const struct vdev *dev)
{
	return __atomic_load_n(&dev->status, __ATOMIC_ACQUIRE);
}

static inline void vcore_set_status(struct vdev *dev, uint8_t s)
{
	__atomic_store_n(&dev->status, s, __ATOMIC_RELEASE);
}

/*
 * The device whose op or callback runs on this thread with a core lock
 * held (handle, watched-fd callbacks, drain, reset, the config ops), or
 * NULL. A transport call on that device from there would wait for a lock
 * its own caller holds, or take locks in the other order: the calls check
 * this and refuse with -EDEADLK instead of hanging (device.h).
 */
extern _Thread_local const struct vdev *vcore_op_dev;

/* Brackets a call into the model. */
#define VCORE_OP(dev, call)                                                 \
	do {                                                                \
		const struct vdev *vcore_prev_op_ = vcore_op_dev;           \
		vcore_op_dev = (dev);                                       \
		call;                                                       \
		vcore_op_dev = vcore_prev_op_;                              \
	} while (0)

/* True (and logged) when @what was called on @dev from inside one of its
 * ops or callbacks. */
bool vcore_reentered(const struct vdev *dev, const char *what);

static inline struct vcore_vq *vcore_get_vq(const struct vdev *dev,
					    unsigned qidx)
{
	return qidx < dev->nvq ? &dev->vqs[qidx] : NULL;
}

/* A malformed chain broke the queue: the device needs a reset. */
static inline void vcore_check_broken(struct vcore_vq *vq)
{
	if (vdev_queue_broken(vq->q))
		vdev_set_needs_reset(vq->dev);
}

/* vq_setup.c */
int vcore_vq_init(struct vdev *dev, struct vcore_vq *vq, unsigned idx);
void vcore_vq_fini(struct vcore_vq *vq);
/* Back to the initial state (device reset); vq->lock must be held. */
void vcore_vq_reset_locked(struct vcore_vq *vq);
/* Configure the queue from the collected setup; vq->lock held. */
int vcore_vq_configure_locked(struct vcore_vq *vq);
/*
 * Requests still in flight on a queue being stopped or reset (vq->lock
 * held, no new round can start): ops->drain finishes or cancels them on
 * this thread; what it leaves is waited for while the queue's own thread
 * runs the model's callbacks, unless this is that thread. 0, or
 * -ETIMEDOUT with requests still in flight.
 */
int vcore_vq_drain_locked(struct vcore_vq *vq);

/* vq_round.c: ask for a round on the queue's own thread. */
void vcore_vq_schedule(struct vcore_vq *vq);

/* vq_watch.c: removes every registration from the queue's watcher; frees
 * the remembered fds. */
void vcore_vq_unwatch_all(struct vcore_vq *vq);
void vcore_vq_free_watches(struct vcore_vq *vq);

#endif /* VDEV_CORE_INTERNAL_H */
