/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Rounds: a round is one run of ops->handle with the queue's lock held,
 * started by a kick (the kick fd, vdev_vq_kick), by vdev_queue_schedule()
 * or by busy polling.
 *
 * The core (not each model) handles kick suppression: it disables kicks
 * before calling the handler and enables them again when the handler
 * returns. If buffers arrived in that window (vdev_queue_enable_kicks()
 * says so) the handler runs again, unless it made no progress on a ring
 * that already had buffers, which means the model chose to wait (rate
 * limit, I/O in flight); it then calls vdev_queue_schedule() when it can
 * go on. A round that spent its budget signals the queue's own schedule
 * eventfd, so the next round comes after the loop served the other fds.
 */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#include <virtio/device.h>
#include <virtio/queue.h>
#include <virtio/transport.h>

#include "core/core_internal.h"
#include "peer/peer_io.h"
#include "queue/queue_internal.h"

static bool can_run(const struct vcore_vq *vq)
{
	uint8_t s = vcore_status(vq->dev);

	return vq->enabled && !vq->stopped && vdev_queue_ready(vq->q) &&
	       (s & VDEV_STATUS_DRIVER_OK) &&
	       !(s & (VDEV_STATUS_FAILED | VDEV_STATUS_DEVICE_NEEDS_RESET));
}

void vcore_vq_schedule(struct vcore_vq *vq)
{
	uint64_t one = 1;

	/* An eventfd write is async-signal-safe and lock-free; EAGAIN means
	 * the counter is already huge, i.e. a round is pending anyway. */
	if (write(vq->sched_fd, &one, sizeof(one)) < 0) {
		/* nothing to do */
	}
}

void vdev_queue_schedule(struct vdev *dev, unsigned qidx)
{
	struct vcore_vq *vq = vcore_get_vq(dev, qidx);

	if (vq)
		vcore_vq_schedule(vq);
}

/*
 * Runs the handler under vq->lock until the ring is empty, the model waits
 * or the budget is spent. Returns true when the budget was spent (the
 * caller decides how the next round happens). @polling: the caller looks
 * at the ring again soon by itself (vdev_vq_hold_poll), so kicks stay off when
 * the round ends, as a polling DPDK back-end keeps them: a driver that
 * sees them on makes a system call per refill (an eventfd write) for a
 * wakeup nobody waits for. vdev_vq_arm turns them on before the poller
 * sleeps.
 */
static bool run_handler(struct vcore_vq *vq, bool polling)
{
	struct vdev *dev = vq->dev;
	struct vdev_queue_state before, after;
	bool had_avail;

	vq->worker = pthread_self();
	vq->has_worker = true;
	for (;;) {
		if (!can_run(vq))
			return false;
		vdev_queue_disable_kicks(vq->q);
		had_avail = vdev_queue_has_avail(vq->q);
		vdev_queue_get_state(vq->q, &before);
		VCORE_OP(dev, dev->ops->handle(dev, vq->idx, vq->q));
		vcore_check_broken(vq);
		if (vdev_queue_broken(vq->q))
			return false;
		if (vdev_queue_budget_spent(vq->q))
			return true; /* kicks stay off until the next round */
		if (polling) {
			/* Another pass only for what came in meanwhile and
			 * while the model makes progress; otherwise the
			 * poller comes back. */
			vdev_queue_get_state(vq->q, &after);
			if (!vdev_queue_has_avail(vq->q) ||
			    (had_avail && after.avail_idx == before.avail_idx &&
			     after.avail_wrap == before.avail_wrap))
				return false;
			continue;
		}
		if (!vdev_queue_enable_kicks(vq->q)) {
			/* Really empty, or broken just now (the last look
			 * at the ring found its memory gone). */
			vcore_check_broken(vq);
			return false;
		}
		vdev_queue_get_state(vq->q, &after);
		/* No progress on a ring that had buffers: the model waits (a
		 * rate limit, I/O in flight, a batch larger than the buffers
		 * it counted) and will schedule, or be kicked for more,
		 * unless more came in since it counted. */
		if (had_avail && after.avail_idx == before.avail_idx &&
		    after.avail_wrap == before.avail_wrap &&
		    !vq_new_since_seen(vq->q))
			return false;
	}
}

void vdev_vq_dispatch(struct vdev *dev, unsigned qidx)
{
	struct vcore_vq *vq = vcore_get_vq(dev, qidx);
	bool spent;

	if (!vq || vcore_reentered(dev, "vdev_vq_dispatch"))
		return;
	/*
	 * The control thread may switch the kick fd (and then close the old
	 * one) while this worker runs: read it under wlock so a round never
	 * consumes from a closed, possibly reused, fd number.
	 */
	pthread_mutex_lock(&vq->wlock);
	if (vq->kick_fd >= 0)
		vpeer_drain(vq->kick_fd, vq->kick_kind);
	pthread_mutex_unlock(&vq->wlock);
	pthread_mutex_lock(&vq->lock);
	vdev_queue_new_round(vq->q);
	spent = run_handler(vq, vq->polled) && !vq->polled;
	pthread_cond_broadcast(&vq->idle);
	pthread_mutex_unlock(&vq->lock);
	if (spent)
		vcore_vq_schedule(vq);
}

/* @hold: vdev_vq_hold_poll (kicks stay off, no schedule: the caller
 * comes back and arms the queue before it sleeps). */
static bool poll_round(struct vdev *dev, unsigned qidx, bool hold)
{
	struct vcore_vq *vq = vcore_get_vq(dev, qidx);
	bool work, spent = false;

	if (!vq || pthread_mutex_trylock(&vq->lock))
		return false;
	vq->polled = hold;
	work = can_run(vq) && vdev_queue_has_avail(vq->q);
	if (work) {
		vdev_queue_new_round(vq->q);
		spent = run_handler(vq, hold) && !hold;
		pthread_cond_broadcast(&vq->idle);
	}
	pthread_mutex_unlock(&vq->lock);
	if (spent)
		vcore_vq_schedule(vq);
	return work;
}

bool vdev_vq_poll(struct vdev *dev, unsigned qidx)
{
	return poll_round(dev, qidx, false);
}

bool vdev_vq_hold_poll(struct vdev *dev, unsigned qidx)
{
	return poll_round(dev, qidx, true);
}

bool vdev_vq_arm(struct vdev *dev, unsigned qidx)
{
	struct vcore_vq *vq = vcore_get_vq(dev, qidx);
	bool avail;

	if (!vq)
		return false;
	pthread_mutex_lock(&vq->lock);
	vq->polled = false;
	/* A queue that cannot run is armed by whoever starts it again. */
	avail = can_run(vq) && vdev_queue_enable_kicks(vq->q);
	pthread_mutex_unlock(&vq->lock);
	return avail;
}

/* Rounds scheduled through sched_fd will run: a watcher serves it. */
static bool has_scheduler(struct vcore_vq *vq)
{
	bool r;

	pthread_mutex_lock(&vq->wlock);
	r = vq->sched_registered;
	pthread_mutex_unlock(&vq->wlock);
	return r;
}

int vdev_vq_kick(struct vdev *dev, unsigned qidx, uint32_t data)
{
	struct vcore_vq *vq = vcore_get_vq(dev, qidx);
	bool spent;

	if (!vq)
		return -EINVAL;
	if (vcore_reentered(dev, "vdev_vq_kick"))
		return -EDEADLK;
	pthread_mutex_lock(&vq->lock);
	if (vdev_has_feature(dev, VDEV_F_NOTIFICATION_DATA))
		vdev_queue_notification_data(vq->q, data);
	/*
	 * One round, like a kick through the fd: the caller is a vCPU or a
	 * transport's only thread, and a driver that keeps the ring full
	 * must not hold it (and the register lock it may hold) for more
	 * than the budget. The rest runs on the queue's own thread. Without
	 * a watcher nobody would run it, so the ring is drained here.
	 */
	do {
		vdev_queue_new_round(vq->q);
		spent = run_handler(vq, false);
	} while (spent && !has_scheduler(vq));
	pthread_cond_broadcast(&vq->idle);
	pthread_mutex_unlock(&vq->lock);
	if (spent)
		vcore_vq_schedule(vq);
	return 0;
}
