/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Queue setup and teardown: size, addresses, ring state, inflight region
 * and call fd collected by the transport and applied at enable; stop
 * (vhost-user GET_VRING_BASE), disable, RING_RESET; and what every one of
 * them does with requests still in flight (vcore_vq_drain_locked).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <virtio/device.h>
#include <virtio/queue.h>
#include <virtio/transport.h>

#include "core/core_internal.h"
#include "core/sized.h"
#include "queue/queue_internal.h"

/* How long a stop waits for completions that only the queue's own thread
 * can run (the model's watched fds), after ops->drain. */
#define VCORE_STOP_TIMEOUT_MS 10000

static void call_fn(void *opaque, struct vdev_queue *q)
{
	struct vcore_vq *vq = opaque;
	struct vdev *dev = vq->dev;

	if (dev->tops && dev->tops->queue_interrupt)
		dev->tops->queue_interrupt(dev->topaque, vq->idx);
}

int vcore_vq_init(struct vdev *dev, struct vcore_vq *vq, unsigned idx)
{
	vq->dev = dev;
	vq->idx = idx;
	vq->kick_fd = -1;
	vq->call_fd = -1;
	vq->size = dev->info.max_queue_size;
	vq->q = vdev_queue_new(NULL, idx);
	if (!vq->q)
		return -ENOMEM;
	vq->sched_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (vq->sched_fd < 0) {
		vdev_queue_free(vq->q);
		return -errno;
	}
	vdev_queue_set_call_fn(vq->q, call_fn, vq);
	pthread_mutex_init(&vq->lock, NULL);
	pthread_mutex_init(&vq->wlock, NULL);
	pthread_cond_init(&vq->idle, NULL);
	return 0;
}

void vcore_vq_fini(struct vcore_vq *vq)
{
	vcore_vq_unwatch_all(vq);
	vcore_vq_free_watches(vq);
	vdev_queue_free(vq->q);
	close(vq->sched_fd);
	pthread_cond_destroy(&vq->idle);
	pthread_mutex_destroy(&vq->wlock);
	pthread_mutex_destroy(&vq->lock);
}

void vcore_vq_reset_locked(struct vcore_vq *vq)
{
	vdev_queue_reset(vq->q);
	vq->enabled = false;
	vq->stopped = false;
	vq->has_pending = false;
	vq->ifl = NULL; /* the transport's region goes with the session */
	vq->ifl_len = 0;
	vq->size = vq->dev->info.max_queue_size;
	vq->desc = vq->driver = vq->device = 0;
}

uint16_t vdev_vq_max_size(const struct vdev *dev, unsigned qidx)
{
	return qidx < dev->nvq ? dev->info.max_queue_size : 0;
}

static bool setup_allowed(const struct vcore_vq *vq)
{
	return !vq->enabled || vq->stopped;
}

int vdev_vq_set_size(struct vdev *dev, unsigned qidx, uint16_t size)
{
	struct vcore_vq *vq = vcore_get_vq(dev, qidx);
	int r = 0;

	if (!vq)
		return -EINVAL;
	if (size == 0 || size > dev->info.max_queue_size)
		return -EINVAL;
	if (vcore_reentered(dev, "vdev_vq_set_size"))
		return -EDEADLK;
	pthread_mutex_lock(&vq->lock);
	if (setup_allowed(vq))
		vq->size = size;
	else
		r = -EBUSY;
	pthread_mutex_unlock(&vq->lock);
	return r;
}

int vdev_vq_set_addr(struct vdev *dev, unsigned qidx, uint64_t desc,
		     uint64_t driver, uint64_t device)
{
	struct vcore_vq *vq = vcore_get_vq(dev, qidx);
	int r = 0;

	if (!vq)
		return -EINVAL;
	if (vcore_reentered(dev, "vdev_vq_set_addr"))
		return -EDEADLK;
	pthread_mutex_lock(&vq->lock);
	if (setup_allowed(vq)) {
		vq->desc = desc;
		vq->driver = driver;
		vq->device = device;
	} else {
		r = -EBUSY;
	}
	pthread_mutex_unlock(&vq->lock);
	return r;
}

int vcore_vq_configure_locked(struct vcore_vq *vq)
{
	struct vdev_queue_config cfg = {
		.size = vq->size,
		.desc_addr = vq->desc,
		.driver_addr = vq->driver,
		.device_addr = vq->device,
		.features = vdev_features(vq->dev),
	};
	int r;

	r = vdev_queue_configure(vq->q, &cfg);
	if (r < 0)
		return r;
	if (vq->has_pending) {
		r = vdev_queue_set_state(vq->q, &vq->pending);
		if (r < 0) {
			vdev_queue_reset(vq->q);
			return r;
		}
		vq->has_pending = false;
	}
	if (vq->ifl) {
		r = vdev_queue_set_inflight(vq->q, vq->ifl, vq->ifl_len);
		if (r < 0) {
			vdev_queue_reset(vq->q);
			return r;
		}
		/* Worth seeing: a back-end before this one died mid-work. */
		if (r > 0)
			vdev_log(VDEV_LOG_WARN,
				 "queue %u: redoing %d requests a previous "
				 "back-end left in flight", vq->idx, r);
	}
	return 0;
}

int vcore_vq_drain_locked(struct vcore_vq *vq)
{
	struct vdev *dev = vq->dev;
	struct timespec deadline;

	if (!vdev_queue_inflight(vq->q))
		return 0;
	if (dev->ops->drain) {
		VCORE_OP(dev, dev->ops->drain(dev, vq->idx, vq->q));
		vcore_check_broken(vq);
		if (!vdev_queue_inflight(vq->q))
			return 0;
	}
	/*
	 * What is left completes through the model's callbacks on the
	 * queue's own thread (they take this lock, which the wait below
	 * releases). If that thread is us, nobody else will run them.
	 */
	if (vq->has_worker && pthread_equal(vq->worker, pthread_self()))
		return -ETIMEDOUT;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += VCORE_STOP_TIMEOUT_MS / 1000;
	while (vdev_queue_inflight(vq->q)) {
		if (pthread_cond_timedwait(&vq->idle, &vq->lock, &deadline) ==
		    ETIMEDOUT)
			return vdev_queue_inflight(vq->q) ? -ETIMEDOUT : 0;
	}
	return 0;
}

int vdev_vq_enable(struct vdev *dev, unsigned qidx, bool enable)
{
	struct vcore_vq *vq = vcore_get_vq(dev, qidx);
	int r = 0;

	if (!vq)
		return -EINVAL;
	if (vcore_reentered(dev, "vdev_vq_enable"))
		return -EDEADLK;
	pthread_mutex_lock(&vq->lock);
	if (!enable) {
		if (vq->enabled) {
			struct vdev_queue_state st;

			vq->stopped = true;
			r = vcore_vq_drain_locked(vq);
			if (vdev_queue_ready(vq->q) &&
			    vdev_queue_get_state(vq->q, &st) == 0) {
				vq->pending = st;
				vq->has_pending = true;
			}
			vq->enabled = false;
			vq->stopped = false;
		}
		goto out;
	}
	if (vq->enabled && !vq->stopped && vdev_queue_ready(vq->q))
		goto out;
	/* The ring layout comes from the negotiated features. */
	if (!(vcore_status(dev) & VDEV_STATUS_FEATURES_OK)) {
		r = -EINVAL;
		goto out;
	}
	if (vdev_queue_inflight(vq->q)) {
		r = -EBUSY;
		goto out;
	}
	r = vcore_vq_configure_locked(vq);
	if (r < 0)
		goto out;
	vq->enabled = true;
	vq->stopped = false;
out:
	pthread_mutex_unlock(&vq->lock);
	if (!r && enable)
		vcore_vq_schedule(vq);
	return r;
}

bool vdev_vq_enabled(const struct vdev *dev, unsigned qidx)
{
	const struct vcore_vq *vq = vcore_get_vq(dev, qidx);

	return vq && vq->enabled && !vq->stopped;
}

int vdev_vq_stop(struct vdev *dev, unsigned qidx, struct vdev_queue_state *st)
{
	struct vcore_vq *vq = vcore_get_vq(dev, qidx);
	int r;

	if (!vq)
		return -EINVAL;
	if (vcore_reentered(dev, "vdev_vq_stop"))
		return -EDEADLK;
	pthread_mutex_lock(&vq->lock);
	vq->stopped = true;
	r = vcore_vq_drain_locked(vq);
	if (vdev_queue_ready(vq->q)) {
		struct vdev_queue_state cur;

		if (vdev_queue_get_state(vq->q, &cur) == 0) {
			/* A restart continues from here. */
			vq->pending = cur;
			vq->has_pending = true;
			if (st)
				*st = cur;
		}
	} else if (st) {
		*st = vq->has_pending ? vq->pending :
					(struct vdev_queue_state){ 0 };
	}
	pthread_mutex_unlock(&vq->lock);
	return r;
}

int vdev_vq_set_state(struct vdev *dev, unsigned qidx,
		      const struct vdev_queue_state *st)
{
	struct vcore_vq *vq = vcore_get_vq(dev, qidx);
	int r = 0;

	if (!vq || !st)
		return -EINVAL;
	if (vcore_reentered(dev, "vdev_vq_set_state"))
		return -EDEADLK;
	pthread_mutex_lock(&vq->lock);
	if (setup_allowed(vq)) {
		vq->pending = *st;
		vq->has_pending = true;
	} else {
		r = -EBUSY;
	}
	pthread_mutex_unlock(&vq->lock);
	return r;
}

int vdev_vq_set_inflight(struct vdev *dev, unsigned qidx, void *region,
			 size_t len)
{
	struct vcore_vq *vq = vcore_get_vq(dev, qidx);

	if (!vq)
		return -EINVAL;
	if (vcore_reentered(dev, "vdev_vq_set_inflight"))
		return -EDEADLK;
	pthread_mutex_lock(&vq->lock);
	vq->ifl = region;
	vq->ifl_len = region ? len : 0;
	/* No worker touches a queue that is not running. */
	if (!region && (!vq->enabled || vq->stopped))
		vdev_queue_set_inflight(vq->q, NULL, 0);
	pthread_mutex_unlock(&vq->lock);
	return 0;
}

int vdev_vq_reset(struct vdev *dev, unsigned qidx)
{
	struct vcore_vq *vq = vcore_get_vq(dev, qidx);

	int r;

	if (!vq)
		return -EINVAL;
	if (vcore_reentered(dev, "vdev_vq_reset"))
		return -EDEADLK;
	pthread_mutex_lock(&vq->lock);
	/*
	 * Requests in flight finish before the ring goes away: after a reset
	 * the driver reuses its buffers at once, and a late completion (a
	 * status byte, read data) must not land in them. A model that cannot
	 * finish in time gets its requests released by the reset (their push
	 * returns -ESTALE) and the caller learns it from -ETIMEDOUT.
	 */
	vq->stopped = true;
	r = vcore_vq_drain_locked(vq);
	vcore_vq_reset_locked(vq);
	pthread_cond_broadcast(&vq->idle);
	pthread_mutex_unlock(&vq->lock);
	return r;
}

int vdev_vq_set_call_fd(struct vdev *dev, unsigned qidx, int fd)
{
	struct vcore_vq *vq = vcore_get_vq(dev, qidx);

	if (!vq || fd < -1)
		return -EINVAL;
	if (vcore_reentered(dev, "vdev_vq_set_call_fd"))
		return -EDEADLK;
	pthread_mutex_lock(&vq->lock);
	vq->call_fd = fd;
	if (fd >= 0) {
		vdev_queue_set_call_fn(vq->q, NULL, NULL);
		vdev_queue_set_call_fd(vq->q, fd);
	} else {
		vdev_queue_set_call_fd(vq->q, -1);
		vdev_queue_set_call_fn(vq->q, call_fn, vq);
	}
	pthread_mutex_unlock(&vq->lock);
	return 0;
}

/* Into the caller's struct at the size it was compiled with. */
int vdev_vq_get_ring_state(struct vdev *dev, unsigned qidx,
			   struct vdev_queue_ring_state *st, size_t size)
{
	struct vcore_vq *vq = dev ? vcore_get_vq(dev, qidx) : NULL;
	struct vdev_queue_ring_state s;

	if (!vq || !st || size < sizeof(uint32_t))
		return -EINVAL;
	pthread_mutex_lock(&vq->lock);
	vq_ring_state(vq->q, &s);
	pthread_mutex_unlock(&vq->lock);
	vsized_out(st, size, &s, sizeof(s));
	return 0;
}
