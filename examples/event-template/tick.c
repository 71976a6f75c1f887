/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The event template, step by step (tick.h says what the device does):
 *   1. private state: events waiting for buffers, behind a lock;
 *   2. delivering them: all-or-nothing batches into the buffers the driver
 *      keeps in the queue;
 *   3. the two sources: a timer watched on the queue's thread, and
 *      tick_inject() from any thread;
 *   4. config space, lifecycle, save/restore, the ops table.
 *
 * Threads (device.h has the full table): handle and the timer callback
 * run on the queue's thread with its lock held, so they may pop and push;
 * tick_inject() runs on any thread and may not touch the queue: it queues
 * the events under the model's own lock and asks for a round with
 * vdev_queue_schedule(), which is safe from anywhere.
 */
/* timerfd and CLOCK_MONOTONIC are Linux/POSIX, not C11. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include "tick.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <virtio/queue.h>
#include <virtio/state.h>

#define TICK_STATE_VERSION 1
#define TICK_TAG_PENDING VDEV_STATE_TAG('T', 'I', 'K', '0')
#define TICK_TAG_COUNT VDEV_STATE_TAG('T', 'I', 'K', '1')

/* 1. Private state. */
struct tick {
	int tfd;            /* the timer, watched on queue 0's thread */
	uint32_t ticks;     /* TICK events made (their value) */
	pthread_mutex_t lock; /* the pending events: tick_inject's threads
				 and the queue's thread */
	struct tick_event ev[TICK_PENDING_MAX];
	bool last[TICK_PENDING_MAX]; /* ends a batch */
	unsigned head, count; /* a ring of pending events */
	bool started;       /* between DRIVER_OK and reset (control thread) */
	uint32_t period_default; /* what a reset puts back in config space */
};

static void count_dropped(struct vdev *dev, unsigned n)
{
	struct tick_config *cfg = vdev_config(dev);

	vdev_config_lock(dev);
	cfg->dropped = vdev_cpu_to_le32(vdev_le32_to_cpu(cfg->dropped) + n);
	vdev_config_unlock(dev);
}

/* Queues a batch; the model's lock is held. false: no room. */
static bool enqueue(struct tick *t, const struct tick_event *ev, unsigned n)
{
	if (n > TICK_PENDING_MAX - t->count)
		return false;
	for (unsigned i = 0; i < n; i++) {
		unsigned at = (t->head + t->count) % TICK_PENDING_MAX;

		t->ev[at] = ev[i];
		t->last[at] = i + 1 == n;
		t->count++;
	}
	return true;
}

/* Events in the batch at the head of the ring; the lock is held. */
static unsigned head_batch(const struct tick *t)
{
	unsigned n = 0;

	while (n < t->count) {
		if (t->last[(t->head + n++) % TICK_PENDING_MAX])
			break;
	}
	return n;
}

/*
 * 2. Delivery, on the queue's thread with the queue's lock held (from
 * handle and from the timer callback). A batch goes out only when the
 * ring holds a buffer for each of its events (vdev_queue_avail_count);
 * otherwise everything waits for the driver's next kick. Should a pop
 * still fail half-way (the driver made a chain the queue layer returned
 * empty, -EMSGSIZE), the buffers taken so far go back to the ring in
 * reverse order (vdev_queue_unpop) and the batch waits: the driver sees
 * all of it or none of it. A buffer smaller than an event gets what fits.
 */
static void deliver(struct vdev *dev, struct vdev_queue *q)
{
	struct tick *t = vdev_priv(dev);
	bool pushed = false;

	pthread_mutex_lock(&t->lock);
	for (;;) {
		unsigned n = head_batch(t), got = 0;
		struct iovec iov[TICK_PENDING_MAX];
		struct vdev_req req[TICK_PENDING_MAX];

		if (!n || vdev_queue_avail_count(q, n) < (int)n)
			break;
		for (; got < n; got++) {
			req[got].iov = &iov[got];
			req[got].iov_max = 1;
			if (vdev_queue_pop(q, &req[got]) < 0)
				break;
		}
		if (got < n) {
			while (got-- > 0)
				if (vdev_queue_unpop(q, &req[got]) < 0)
					vdev_queue_push(q, &req[got], 0);
			break;
		}
		for (unsigned i = 0; i < n; i++) {
			unsigned at = (t->head + i) % TICK_PENDING_MAX;
			size_t len = req[i].nin ? req[i].in[0].iov_len : 0;

			if (len > sizeof(struct tick_event))
				len = sizeof(struct tick_event);
			if (len)
				memcpy(req[i].in[0].iov_base, &t->ev[at], len);
			vdev_queue_push(q, &req[i], (uint32_t)len);
		}
		t->head = (t->head + n) % TICK_PENDING_MAX;
		t->count -= n;
		pushed = true;
	}
	pthread_mutex_unlock(&t->lock);
	if (pushed)
		vdev_queue_notify(q);
}

static void tick_handle(struct vdev *dev, unsigned qidx, struct vdev_queue *q)
{
	(void)qidx; /* one queue */
	deliver(dev, q);
}

/* 3a. The timer: its fd is watched on queue 0's thread (vdev_watch_fd in
 * tick_new), so this runs there, with the queue's lock held. */
static void timer_fired(void *arg, int fd, uint32_t events)
{
	struct vdev *dev = arg;
	struct tick *t = vdev_priv(dev);
	struct tick_event ev[2] = { 0 };
	uint64_t expirations;
	bool ok;

	(void)events;
	if (read(fd, &expirations, sizeof(expirations)) != sizeof(expirations))
		return; /* disarmed meanwhile */
	ev[0].type = vdev_cpu_to_le16(TICK_EV_TICK);
	ev[0].value = vdev_cpu_to_le32(++t->ticks);
	ev[1].type = vdev_cpu_to_le16(TICK_EV_SYN);
	pthread_mutex_lock(&t->lock);
	ok = enqueue(t, ev, 2);
	pthread_mutex_unlock(&t->lock);
	if (!ok)
		count_dropped(dev, 2);
	deliver(dev, vdev_get_queue(dev, 0));
}

/* 3b. From any thread: queue the batch, ask for a round. */
int tick_inject(struct vdev *dev, const struct tick_event *ev, unsigned n)
{
	struct tick *t = vdev_priv(dev);
	bool ok;

	if (!ev || n == 0 || n > TICK_PENDING_MAX)
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	ok = enqueue(t, ev, n);
	pthread_mutex_unlock(&t->lock);
	if (!ok) {
		count_dropped(dev, n);
		return -ENOSPC;
	}
	vdev_queue_schedule(dev, 0);
	return 0;
}

/* Arms the timer for @ms (0 disarms). timerfd_settime is safe from any
 * thread, so the control thread may change the period under a running
 * queue. */
static void arm(struct tick *t, uint32_t ms)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000L },
	};

	its.it_interval = its.it_value;
	timerfd_settime(t->tfd, 0, &its, NULL);
}

/*
 * 4. Config space: period_ms is writable, dropped is not. Frontends write
 * whole ranges (QEMU: the whole config space), so the read-only field may
 * be in the range as long as it is unchanged. The new period takes
 * effect after the copy (config_written), with the config lock held.
 */
static int tick_config_write(struct vdev *dev, uint32_t offset,
			     const void *data, uint32_t len)
{
	const uint8_t *cur = vdev_config(dev), *in = data;
	const uint32_t p = offsetof(struct tick_config, period_ms);
	const uint32_t end = offset + len;

	for (uint32_t i = offset; i < end; i++)
		if ((i < p || i >= p + 4) && in[i - offset] != cur[i])
			return -EPERM;
	if (offset < p + 4 && end > p && (offset > p || end < p + 4))
		return -EPERM; /* part of the period */
	return 0;
}

static void tick_config_written(struct vdev *dev, uint32_t offset,
				uint32_t len)
{
	const struct tick_config *cfg = vdev_config(dev);

	struct tick *t = vdev_priv(dev);

	(void)offset;
	(void)len;
	if (t->started)
		arm(t, vdev_le32_to_cpu(cfg->period_ms));
}

/* DRIVER_OK (or a restore of a running device): the timer starts. */
static int tick_start(struct vdev *dev)
{
	struct tick *t = vdev_priv(dev);
	vdev_le32 ms;

	vdev_config_get(dev, offsetof(struct tick_config, period_ms), &ms,
			sizeof(ms));
	t->started = true;
	arm(t, vdev_le32_to_cpu(ms));
	return 0;
}

/* Reset: every queue lock is held, no round runs. Stop the timer and
 * forget what the driver was never given. */
static void tick_reset(struct vdev *dev)
{
	struct tick *t = vdev_priv(dev);
	struct tick_config *cfg = vdev_config(dev);

	t->started = false;
	arm(t, 0);
	pthread_mutex_lock(&t->lock);
	t->head = t->count = 0;
	pthread_mutex_unlock(&t->lock);
	t->ticks = 0;
	/* Fields the driver may write go back to their defaults too. */
	vdev_config_lock(dev);
	cfg->period_ms = vdev_cpu_to_le32(t->period_default);
	cfg->dropped = 0;
	vdev_config_unlock(dev);
}

/* Save/restore: the events the driver has not been given yet, and the
 * tick count. The core saves config space (period, dropped) itself. */
static int tick_save(struct vdev *dev, struct vdev_state_writer *w)
{
	struct tick *t = vdev_priv(dev);
	uint8_t buf[TICK_PENDING_MAX * 9];
	unsigned n = 0;
	int r;

	pthread_mutex_lock(&t->lock);
	for (unsigned i = 0; i < t->count; i++, n += 9) {
		unsigned at = (t->head + i) % TICK_PENDING_MAX;

		memcpy(buf + n, &t->ev[at], 8);
		buf[n + 8] = t->last[at];
	}
	pthread_mutex_unlock(&t->lock);
	r = vdev_state_put(w, TICK_TAG_PENDING, buf, n);
	if (!r)
		r = vdev_state_put_u64(w, TICK_TAG_COUNT, t->ticks);
	return r;
}

static int tick_load(struct vdev *dev, struct vdev_state_reader *r,
		     uint32_t version)
{
	struct tick *t = vdev_priv(dev);
	const uint8_t *p;
	uint32_t len;
	uint64_t ticks;

	(void)version; /* one version so far */
	p = vdev_state_get(r, TICK_TAG_PENDING, &len);
	/* A blob can come from anywhere: check it before using it. */
	if (!p || len % 9 || len / 9 > TICK_PENDING_MAX ||
	    vdev_state_get_u64(r, TICK_TAG_COUNT, &ticks) < 0 ||
	    ticks > UINT32_MAX)
		return -EBADMSG;
	for (uint32_t i = 0; i < len; i += 9)
		if (p[i + 8] > 1 || (i + 9 == len && !p[i + 8]))
			return -EBADMSG; /* the last batch must end */
	pthread_mutex_lock(&t->lock);
	t->head = 0;
	t->count = len / 9;
	for (unsigned i = 0; i < t->count; i++) {
		memcpy(&t->ev[i], p + 9 * i, 8);
		t->last[i] = p[9 * i + 8];
	}
	pthread_mutex_unlock(&t->lock);
	t->ticks = (uint32_t)ticks;
	return 0;
}

static void tick_destroy(struct vdev *dev)
{
	struct tick *t = vdev_priv(dev);

	vdev_unwatch_fd(dev, 0, t->tfd);
	close(t->tfd);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static const struct vdev_ops tick_ops = {
	.config_write = tick_config_write,
	.config_written = tick_config_written,
	.start = tick_start,
	.reset = tick_reset,
	.handle = tick_handle,
	.save = tick_save,
	.load = tick_load,
	.destroy = tick_destroy,
};

struct vdev *tick_new(const struct tick_params *p)
{
	const struct vdev_info info = {
		.name = "tick",
		.device_id = TICK_DEVICE_ID,
		.num_queues = 1,
		.max_queue_size = p && p->queue_size ? p->queue_size : 1024,
		.config_size = sizeof(struct tick_config),
		.state_version = TICK_STATE_VERSION,
	};
	struct tick_config *cfg;
	struct vdev *dev;
	struct tick *t;
	int r;

	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	t->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->tfd < 0) {
		free(t);
		return NULL;
	}
	dev = vdev_new(&info, &tick_ops, t);
	if (!dev) {
		close(t->tfd);
		free(t);
		return NULL;
	}
	t->period_default = p ? p->period_ms : 0;
	cfg = vdev_config(dev);
	cfg->period_ms = vdev_cpu_to_le32(t->period_default);
	/* Watched from now on, by whatever thread will serve queue 0. */
	r = vdev_watch_fd(dev, 0, t->tfd, POLLIN, timer_fired, dev);
	if (r < 0) {
		vdev_free(dev);
		errno = -r;
		return NULL;
	}
	return dev;
}
