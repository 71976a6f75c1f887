/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a queue's thread watches: the queue's schedule eventfd, its kick
 * fd, and the fds the model asked for (vdev_watch_fd), registered with
 * the queue's watcher (whatever loop the embedder runs). The model's fds
 * are remembered whether or not a watcher exists yet, and move with the
 * queue when the watcher changes.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include <virtio/device.h>
#include <virtio/queue.h>
#include <virtio/transport.h>

#include "core/core_internal.h"
#include "peer/peer_io.h"
#include "queue/queue_internal.h"

/*
 * The kick fd or the schedule eventfd is readable: one round. Only the
 * schedule's own wakeup reads it; reading it on every kick cost a failed
 * read per kick. A schedule pending during a kick round keeps its own
 * round, as it does when the loop reports both fds at once.
 */
static void kick_cb(void *arg, int fd, uint32_t events)
{
	struct vcore_vq *vq = arg;
	uint64_t v;

	if (fd == vq->sched_fd && read(fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing pending, a spurious wakeup */
	}
	vdev_vq_dispatch(vq->dev, vq->idx);
}

/*
 * A model's fd is ready. The watch is looked up by fd rather than passed
 * as the argument: vdev_unwatch_fd on another thread may free it while
 * this callback waits for the queue's lock. An fd number unwatched,
 * closed and reused meanwhile gets one spurious callback, which models
 * tolerate (their fds are non-blocking).
 */
static void watch_cb(void *arg, int fd, uint32_t events)
{
	struct vcore_vq *vq = arg;
	struct vcore_watch *w;
	vdev_event_fn fn = NULL;
	void *fn_arg = NULL;
	bool again = false;

	/* The model's fd callbacks are serialised with rounds and control
	 * calls like the handler itself. */
	pthread_mutex_lock(&vq->lock);
	pthread_mutex_lock(&vq->wlock);
	for (w = vq->watches; w; w = w->next) {
		if (w->fd == fd) {
			fn = w->fn;
			fn_arg = w->arg;
			break;
		}
	}
	pthread_mutex_unlock(&vq->wlock);
	if (fn) {
		vq->worker = pthread_self();
		vq->has_worker = true;
		VCORE_OP(vq->dev, fn(fn_arg, fd, events));
		vcore_check_broken(vq);
		/* A callback pops with what the last round left of the
		 * budget and is no round itself: one that spent it (pop said
		 * -EBUSY, the model stopped with chains in the ring) gets a
		 * round, as a round that spent it does. Nothing else would
		 * come back for those chains: the driver already made them
		 * available, so with EVENT_IDX it does not kick for them. */
		again = vdev_queue_budget_spent(vq->q);
		/* Nor does a callback end like a round: a pop with kicks on
		 * stores avail_event, and its next pop may load avail->idx
		 * before that store is seen (store/load reordering), so a
		 * driver that added a buffer just then may not kick, while
		 * the pop found the ring empty. The fence and a second look
		 * close that window; what the model saw is what it counted
		 * or found empty (seen_pos). */
		if (!again && vq->q->kicks_enabled) {
			atomic_thread_fence(memory_order_seq_cst);
			again = vq_new_since_seen(vq->q);
		}
	}
	pthread_cond_broadcast(&vq->idle);
	pthread_mutex_unlock(&vq->lock);
	if (again)
		vcore_vq_schedule(vq);
}

/* wlock held. */
static int add_watch(struct vcore_vq *vq, struct vcore_watch *w)
{
	int r = vq->watcher.add(vq->watcher.opaque, w->fd, w->events,
				watch_cb, vq);

	w->registered = r == 0;
	if (r < 0)
		vdev_log(VDEV_LOG_WARN, "queue %u: cannot watch fd %d: %d",
			 vq->idx, w->fd, r);
	return r;
}

/* wlock held. Registers everything the queue wants watched. */
static void register_all(struct vcore_vq *vq)
{
	struct vdev_watcher *wt = &vq->watcher;
	struct vcore_watch *w;

	if (!vq->has_watcher)
		return;
	if (!vq->sched_registered &&
	    wt->add(wt->opaque, vq->sched_fd, POLLIN, kick_cb, vq) == 0)
		vq->sched_registered = true;
	if (vq->kick_fd >= 0 && !vq->kick_registered &&
	    wt->add(wt->opaque, vq->kick_fd, POLLIN, kick_cb, vq) == 0)
		vq->kick_registered = true;
	for (w = vq->watches; w; w = w->next)
		if (!w->registered)
			add_watch(vq, w);
}

/* wlock held. */
static void unregister_all(struct vcore_vq *vq)
{
	struct vdev_watcher *wt = &vq->watcher;
	struct vcore_watch *w;

	if (!vq->has_watcher)
		return;
	if (vq->sched_registered)
		wt->del(wt->opaque, vq->sched_fd);
	vq->sched_registered = false;
	if (vq->kick_registered)
		wt->del(wt->opaque, vq->kick_fd);
	vq->kick_registered = false;
	for (w = vq->watches; w; w = w->next) {
		if (w->registered)
			wt->del(wt->opaque, w->fd);
		w->registered = false;
	}
}

void vcore_vq_unwatch_all(struct vcore_vq *vq)
{
	pthread_mutex_lock(&vq->wlock);
	unregister_all(vq);
	vq->has_watcher = false;
	pthread_mutex_unlock(&vq->wlock);
}

int vdev_vq_set_watcher(struct vdev *dev, unsigned qidx,
			const struct vdev_watcher *w)
{
	struct vcore_vq *vq = vcore_get_vq(dev, qidx);

	if (!vq || (w && (!w->add || !w->del)))
		return -EINVAL;
	pthread_mutex_lock(&vq->wlock);
	unregister_all(vq);
	vq->has_watcher = w != NULL;
	if (w) {
		vq->watcher = *w;
		register_all(vq);
	}
	pthread_mutex_unlock(&vq->wlock);
	return 0;
}

int vdev_set_watcher(struct vdev *dev, const struct vdev_watcher *w)
{
	for (unsigned i = 0; i < dev->nvq; i++) {
		int r = vdev_vq_set_watcher(dev, i, w);

		if (r < 0)
			return r;
	}
	return 0;
}

int vdev_vq_set_kick_fd(struct vdev *dev, unsigned qidx, int fd)
{
	struct vcore_vq *vq = vcore_get_vq(dev, qidx);
	int r = 0, kind = VPEER_OTHER;

	if (!vq || fd < -1)
		return -EINVAL;
	if (fd >= 0) {
		kind = vpeer_kind(fd);
		if (kind < 0)
			return kind;
	}
	pthread_mutex_lock(&vq->wlock);
	if (vq->kick_registered)
		vq->watcher.del(vq->watcher.opaque, vq->kick_fd);
	vq->kick_registered = false;
	vq->kick_fd = fd;
	vq->kick_kind = kind;
	if (fd >= 0 && vq->has_watcher) {
		r = vq->watcher.add(vq->watcher.opaque, fd, POLLIN, kick_cb,
				    vq);
		vq->kick_registered = r == 0;
	}
	pthread_mutex_unlock(&vq->wlock);
	/* Buffers may have been kicked into the old fd meanwhile. */
	vcore_vq_schedule(vq);
	return r;
}

/* The events a model may ask for. */
#define WATCH_EVENTS (POLLIN | POLLPRI | POLLOUT)

int vdev_watch_fd(struct vdev *dev, unsigned qidx, int fd, uint32_t events,
		  vdev_event_fn fn, void *arg)
{
	struct vcore_vq *vq = vcore_get_vq(dev, qidx);
	struct vcore_watch *w;
	int r = 0;

	if (!vq || fd < 0 || !fn || (events & ~(uint32_t)WATCH_EVENTS))
		return -EINVAL;
	if (fcntl(fd, F_GETFD) < 0)
		return -EBADF;
	pthread_mutex_lock(&vq->wlock);
	for (w = vq->watches; w; w = w->next) {
		if (w->fd == fd) {
			r = -EEXIST;
			goto out;
		}
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		r = -ENOMEM;
		goto out;
	}
	w->fd = fd;
	w->events = events;
	w->fn = fn;
	w->arg = arg;
	/* Without a watcher yet, register_all() adds it when one comes. */
	if (vq->has_watcher) {
		r = add_watch(vq, w);
		if (r < 0) {
			free(w);
			goto out;
		}
	}
	w->next = vq->watches;
	vq->watches = w;
out:
	pthread_mutex_unlock(&vq->wlock);
	return r;
}

int vdev_watch_fd_events(struct vdev *dev, unsigned qidx, int fd,
			 uint32_t events)
{
	struct vcore_vq *vq = vcore_get_vq(dev, qidx);
	struct vcore_watch *w;
	int r = -ENOENT;

	if (!vq || (events & ~(uint32_t)WATCH_EVENTS))
		return -EINVAL;
	pthread_mutex_lock(&vq->wlock);
	for (w = vq->watches; w; w = w->next) {
		if (w->fd != fd)
			continue;
		r = 0;
		if (w->events == events)
			break;
		w->events = events;
		/* The watcher has add and del only: re-add. */
		if (w->registered && vq->has_watcher) {
			vq->watcher.del(vq->watcher.opaque, fd);
			w->registered = false;
			r = add_watch(vq, w);
		}
		break;
	}
	pthread_mutex_unlock(&vq->wlock);
	return r;
}

int vdev_unwatch_fd(struct vdev *dev, unsigned qidx, int fd)
{
	struct vcore_vq *vq = vcore_get_vq(dev, qidx);
	struct vcore_watch **pw, *w;
	int r = -ENOENT;

	if (!vq)
		return -EINVAL;
	pthread_mutex_lock(&vq->wlock);
	for (pw = &vq->watches; (w = *pw); pw = &w->next) {
		if (w->fd != fd)
			continue;
		if (w->registered && vq->has_watcher)
			vq->watcher.del(vq->watcher.opaque, fd);
		*pw = w->next;
		free(w);
		r = 0;
		break;
	}
	pthread_mutex_unlock(&vq->wlock);
	return r;
}

bool vdev_has_watcher(struct vdev *dev, unsigned qidx)
{
	struct vcore_vq *vq = vcore_get_vq(dev, qidx);
	bool r;

	if (!vq)
		return false;
	pthread_mutex_lock(&vq->wlock);
	r = vq->has_watcher;
	pthread_mutex_unlock(&vq->wlock);
	return r;
}

void vcore_vq_free_watches(struct vcore_vq *vq)
{
	struct vcore_watch *w, *next;

	pthread_mutex_lock(&vq->wlock);
	for (w = vq->watches; w; w = next) {
		next = w->next;
		free(w);
	}
	vq->watches = NULL;
	pthread_mutex_unlock(&vq->wlock);
}
