/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-queue control: setup, kick and call fds, watchers, rounds, stop,
 * RING_RESET.
 *
 * A round is one run of ops->handle with the queue's lock held. The core
 * (not each model) handles kick suppression: it disables kicks before
 * calling the handler and enables them again when the handler returns. If
 * buffers arrived in that window (vdev_queue_enable_kicks() says so) the
 * handler runs again, unless it made no progress on a ring that already
 * had buffers, which means the model chose to wait (rate limit, I/O in
 * flight); it then calls vdev_queue_schedule() when it can go on. A round
 * that spent its budget signals the queue's own schedule eventfd, so the
 * next round comes after the loop served the other fds.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <virtio/device.h>
#include <virtio/queue.h>
#include <virtio/transport.h>

#include "core/core_internal.h"
#include "peer/peer_io.h"

/* How long vdev_vq_stop waits for requests in flight before giving up. */
#define VCORE_STOP_TIMEOUT_MS 10000

static struct vcore_vq *get_vq(const struct vdev *dev, unsigned qidx)
{
	return qidx < dev->nvq ? &dev->vqs[qidx] : NULL;
}

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
	struct vcore_watch *w, *next;

	vcore_vq_unwatch_all(vq);
	for (w = vq->watches; w; w = next) {
		next = w->next;
		free(w);
	}
	vq->watches = NULL;
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
	struct vcore_vq *vq = get_vq(dev, qidx);

	if (vq)
		vcore_vq_schedule(vq);
}

/* ---- rounds ----------------------------------------------------------- */

static void check_broken(struct vcore_vq *vq)
{
	if (vdev_queue_broken(vq->q))
		vdev_set_needs_reset(vq->dev);
}

/*
 * Runs the handler under vq->lock until the ring is empty, the model waits
 * or the budget is spent. Returns true when the budget was spent (the
 * caller decides how the next round happens).
 */
static bool run_handler(struct vcore_vq *vq)
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
		dev->ops->handle(dev, vq->idx, vq->q);
		check_broken(vq);
		if (vdev_queue_broken(vq->q))
			return false;
		if (vdev_queue_budget_spent(vq->q))
			return true; /* kicks stay off until the next round */
		if (!vdev_queue_enable_kicks(vq->q)) {
			/* Really empty, or broken just now (the last look
			 * at the ring found its memory gone). */
			check_broken(vq);
			return false;
		}
		vdev_queue_get_state(vq->q, &after);
		if (had_avail && after.avail_idx == before.avail_idx &&
		    after.avail_wrap == before.avail_wrap)
			return false; /* the model waits; it will schedule */
	}
}

void vdev_vq_dispatch(struct vdev *dev, unsigned qidx)
{
	struct vcore_vq *vq = get_vq(dev, qidx);
	uint64_t v;
	bool spent;

	if (!vq)
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
	if (read(vq->sched_fd, &v, sizeof(v)) < 0) {
		/* not scheduled, a kick */
	}
	pthread_mutex_lock(&vq->lock);
	vdev_queue_new_round(vq->q);
	spent = run_handler(vq);
	pthread_cond_broadcast(&vq->idle);
	pthread_mutex_unlock(&vq->lock);
	if (spent)
		vcore_vq_schedule(vq);
}

bool vdev_vq_poll(struct vdev *dev, unsigned qidx)
{
	struct vcore_vq *vq = get_vq(dev, qidx);
	bool work, spent = false;

	if (!vq || pthread_mutex_trylock(&vq->lock))
		return false;
	work = can_run(vq) && vdev_queue_has_avail(vq->q);
	if (work) {
		vdev_queue_new_round(vq->q);
		spent = run_handler(vq);
		pthread_cond_broadcast(&vq->idle);
	}
	pthread_mutex_unlock(&vq->lock);
	if (spent)
		vcore_vq_schedule(vq);
	return work;
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
	struct vcore_vq *vq = get_vq(dev, qidx);
	bool spent;

	if (!vq)
		return -EINVAL;
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
		spent = run_handler(vq);
	} while (spent && !has_scheduler(vq));
	pthread_cond_broadcast(&vq->idle);
	pthread_mutex_unlock(&vq->lock);
	if (spent)
		vcore_vq_schedule(vq);
	return 0;
}

/* ---- setup ------------------------------------------------------------ */

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
	struct vcore_vq *vq = get_vq(dev, qidx);
	int r = 0;

	if (!vq)
		return -EINVAL;
	if (size == 0 || size > dev->info.max_queue_size)
		return -EINVAL;
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
	struct vcore_vq *vq = get_vq(dev, qidx);
	int r = 0;

	if (!vq)
		return -EINVAL;
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

/* Waits until nothing is in flight; vq->lock held, vq->stopped set. */
static int wait_idle_locked(struct vcore_vq *vq)
{
	struct timespec deadline;

	if (!vdev_queue_inflight(vq->q))
		return 0;
	if (vq->has_worker && pthread_equal(vq->worker, pthread_self())) {
		/*
		 * We are the queue's own thread: nobody else will run the
		 * completions, so poll the model's fds ourselves.
		 */
		int left = VCORE_STOP_TIMEOUT_MS;

		while (vdev_queue_inflight(vq->q) && left > 0) {
			struct pollfd pfd[16];
			struct vcore_watch *w;
			vdev_event_fn fns[16];
			void *args[16];
			int n = 0;

			pthread_mutex_lock(&vq->wlock);
			for (w = vq->watches; w && n < 16; w = w->next) {
				pfd[n].fd = w->fd;
				pfd[n].events = POLLIN;
				pfd[n].revents = 0;
				fns[n] = w->fn;
				args[n] = w->arg;
				n++;
			}
			pthread_mutex_unlock(&vq->wlock);
			if (!n)
				break;
			if (poll(pfd, n, 100) < 0 && errno != EINTR)
				break;
			left -= 100;
			for (int i = 0; i < n; i++)
				if (pfd[i].revents)
					fns[i](args[i], pfd[i].fd,
					       pfd[i].revents);
			check_broken(vq);
		}
		return vdev_queue_inflight(vq->q) ? -ETIMEDOUT : 0;
	}
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
	struct vcore_vq *vq = get_vq(dev, qidx);
	int r = 0;

	if (!vq)
		return -EINVAL;
	pthread_mutex_lock(&vq->lock);
	if (!enable) {
		if (vq->enabled) {
			struct vdev_queue_state st;

			vq->stopped = true;
			r = wait_idle_locked(vq);
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
	const struct vcore_vq *vq = get_vq(dev, qidx);

	return vq && vq->enabled && !vq->stopped;
}

int vdev_vq_stop(struct vdev *dev, unsigned qidx, struct vdev_queue_state *st)
{
	struct vcore_vq *vq = get_vq(dev, qidx);
	int r;

	if (!vq)
		return -EINVAL;
	pthread_mutex_lock(&vq->lock);
	vq->stopped = true;
	r = wait_idle_locked(vq);
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
	struct vcore_vq *vq = get_vq(dev, qidx);
	int r = 0;

	if (!vq || !st)
		return -EINVAL;
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
	struct vcore_vq *vq = get_vq(dev, qidx);

	if (!vq)
		return -EINVAL;
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
	struct vcore_vq *vq = get_vq(dev, qidx);

	int r;

	if (!vq)
		return -EINVAL;
	pthread_mutex_lock(&vq->lock);
	/*
	 * Requests in flight finish before the ring goes away: after a reset
	 * the driver reuses its buffers at once, and a late completion (a
	 * status byte, read data) must not land in them. A model that cannot
	 * finish in time gets its requests released by the reset (their push
	 * returns -ESTALE) and the caller learns it from -ETIMEDOUT.
	 */
	vq->stopped = true;
	r = wait_idle_locked(vq);
	vcore_vq_reset_locked(vq);
	pthread_cond_broadcast(&vq->idle);
	pthread_mutex_unlock(&vq->lock);
	return r;
}

/* ---- fds and watchers ------------------------------------------------- */

static void kick_cb(void *arg, int fd, uint32_t events)
{
	struct vcore_vq *vq = arg;

	vdev_vq_dispatch(vq->dev, vq->idx);
}

static void watch_cb(void *arg, int fd, uint32_t events)
{
	struct vcore_watch *w = arg;
	struct vcore_vq *vq = w->vq;

	/* The model's fd callbacks are serialised with rounds and control
	 * calls like the handler itself. */
	pthread_mutex_lock(&vq->lock);
	vq->worker = pthread_self();
	vq->has_worker = true;
	w->fn(w->arg, fd, events);
	check_broken(vq);
	pthread_cond_broadcast(&vq->idle);
	pthread_mutex_unlock(&vq->lock);
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
		if (!w->registered &&
		    wt->add(wt->opaque, w->fd, POLLIN, watch_cb, w) == 0)
			w->registered = true;
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
	struct vcore_vq *vq = get_vq(dev, qidx);

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
	struct vcore_vq *vq = get_vq(dev, qidx);
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

int vdev_vq_set_call_fd(struct vdev *dev, unsigned qidx, int fd)
{
	struct vcore_vq *vq = get_vq(dev, qidx);

	if (!vq || fd < -1)
		return -EINVAL;
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

int vdev_watch_fd(struct vdev *dev, unsigned qidx, int fd, vdev_event_fn fn,
		  void *arg)
{
	struct vcore_vq *vq = get_vq(dev, qidx);
	struct vcore_watch *w;
	int r;

	if (!vq || fd < 0 || !fn)
		return -EINVAL;
	pthread_mutex_lock(&vq->wlock);
	if (!vq->has_watcher) {
		r = -ENODEV;
		goto out;
	}
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
	w->vq = vq;
	w->fd = fd;
	w->fn = fn;
	w->arg = arg;
	r = vq->watcher.add(vq->watcher.opaque, fd, POLLIN, watch_cb, w);
	if (r < 0) {
		free(w);
		goto out;
	}
	w->registered = true;
	w->next = vq->watches;
	vq->watches = w;
out:
	pthread_mutex_unlock(&vq->wlock);
	return r;
}

int vdev_unwatch_fd(struct vdev *dev, unsigned qidx, int fd)
{
	struct vcore_vq *vq = get_vq(dev, qidx);
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
