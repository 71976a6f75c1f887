/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A queue's I/O context: where a request goes (storage_internal.h), how it
 * comes back to the queue's thread, cancellation and draining.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>

#include "storage/storage_internal.h"

unsigned stg_inflight(const struct stg_queue *q)
{
	return q->inflight;
}

void stg_advance(struct stg_req *r, uint64_t n)
{
	stg_iov_advance(&r->cur, &r->ncur, n);
	r->coff += n;
	r->cleft -= n;
}

void stg_finish(struct stg_queue *q, struct stg_req *r, int res)
{
	stg_bounce_release(q, r);
	r->state = STG_S_DONE;
	q->inflight--;
	r->done(r, res);
}

void stg_xfer(struct stg_queue *q, struct stg_req *r)
{
	switch (r->img->engine) {
	case STG_ENGINE_NULL:
	case STG_ENGINE_RAM:
		stg_mem_xfer(q, r);
		return;
	case STG_ENGINE_NBD:
		stg_nbd_xfer(q, r);
		return;
	default:
		break;
	}
	if (r->img->engine == STG_ENGINE_URING && q->uring) {
		stg_uring_xfer(q, r);
		return;
	}
	stg_xfer_done(q, r, stg_file_xfer(r->img, r));
}

void stg_xfer_done(struct stg_queue *q, struct stg_req *r, int res)
{
	if (!res && r->bslot >= 0 && stg_bounce_next(q, r)) {
		if (!atomic_load_explicit(&r->cancel, memory_order_relaxed)) {
			stg_xfer(q, r);
			return;
		}
		res = -ECANCELED;
	}
	/* An NBD server without FUA: a flush makes the write durable. */
	if (!res && (r->flags & STG_FUA) && r->op != STG_READ &&
	    r->img->engine == STG_ENGINE_NBD && !r->img->can_fua &&
	    !r->fua_flush) {
		r->fua_flush = true;
		stg_nbd_op(q, r);
		return;
	}
	stg_finish(q, r, res);
}

static bool all_zero(const struct iovec *v, uint32_t len)
{
	const uint8_t *p = v->iov_base;

	for (uint32_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static bool is_write(uint8_t op)
{
	return op != STG_READ && op != STG_FLUSH;
}

/* The iovecs hold at least @len bytes. */
static bool iov_holds(const struct iovec *iov, int cnt, uint64_t len)
{
	uint64_t have = 0;

	for (int i = 0; i < cnt && have < len; i++)
		have += iov[i].iov_len;
	return have >= len;
}

void stg_submit(struct stg_queue *q, struct stg_req *r)
{
	struct stg_image *img = r->img;

	r->q = q;
	r->state = STG_S_NEW;
	r->bslot = STG_BOUNCE_NONE;
	r->fua_flush = false;
	atomic_store_explicit(&r->cancel, false, memory_order_relaxed);
	atomic_store_explicit(&r->perr, 0, memory_order_relaxed);
	q->inflight++;
	/* The devices check all of this; a layer that trusted them blindly
	 * would turn one of their bugs into an overflow. */
	if (r->off > img->size || r->len > img->size - r->off ||
	    ((r->off | r->len) & (img->block_size - 1))) {
		stg_finish(q, r, -EINVAL);
		return;
	}
	if (img->ro && is_write(r->op)) {
		stg_finish(q, r, -EROFS);
		return;
	}
	if ((r->op == STG_READ || r->op == STG_WRITE) &&
	    !iov_holds(r->iov, r->iovcnt, r->len)) {
		stg_finish(q, r, -EINVAL);
		return;
	}
	switch (r->op) {
	case STG_READ:
	case STG_WRITE:
		if (!r->len) {
			stg_finish(q, r, 0);
			return;
		}
		r->cur = r->iov;
		r->ncur = r->iovcnt;
		r->coff = r->off;
		r->cleft = r->len;
		if (stg_needs_bounce(img, r))
			stg_bounce_start(q, r);
		else if (stg_pool_wanted(q, r))
			stg_pool_xfer(q, r);
		else
			stg_xfer(q, r);
		return;
	case STG_WRITE_SAME:
		if (r->iovcnt != 1 || r->iov[0].iov_len != img->block_size) {
			stg_finish(q, r, -EINVAL);
			return;
		}
		if (!r->len) {
			stg_finish(q, r, 0);
			return;
		}
		if (!all_zero(&r->iov[0], img->block_size)) {
			stg_bounce_start(q, r);
			return;
		}
		r->op = STG_WRITE_ZEROES;
		break;
	case STG_FLUSH:
		if (img->engine == STG_ENGINE_NULL ||
		    img->engine == STG_ENGINE_RAM ||
		    (img->in_memory && !stg_uring_test_ring_only)) {
			stg_finish(q, r, 0); /* nothing to flush */
			return;
		}
		if (img->engine == STG_ENGINE_NBD) {
			stg_nbd_op(q, r);
			return;
		}
		r->cleft = 0;
		if (img->engine == STG_ENGINE_URING && q->uring)
			stg_uring_xfer(q, r);
		else
			stg_finish(q, r, stg_file_flush(img));
		return;
	case STG_DISCARD:
	case STG_WRITE_ZEROES:
		break;
	default:
		stg_finish(q, r, -EINVAL);
		return;
	}
	/* DISCARD, WRITE_ZEROES */
	if (!r->len) {
		stg_finish(q, r, 0);
		return;
	}
	switch (img->engine) {
	case STG_ENGINE_NULL:
	case STG_ENGINE_RAM:
		stg_mem_submit(q, r);
		return;
	case STG_ENGINE_NBD:
		stg_nbd_op(q, r);
		return;
	default:
		/* fallocate and its fallbacks may take long (a large zero
		 * range written out): never on the queue's thread. */
		stg_pool_op(q, r);
		return;
	}
}

/* ---- completions from other threads ---------------------------------- */

void stg_post(struct stg_queue *q, struct stg_req *r)
{
	struct stg_req *head;
	uint64_t one = 1;

	/* Once @r is on the list the queue's thread may end it and free
	 * the queue before the eventfd write below: stg_queue_free waits
	 * for this count. */
	atomic_fetch_add_explicit(&q->posting, 1, memory_order_acquire);
	head = atomic_load_explicit(&q->posted, memory_order_relaxed);
	do
		r->next = head;
	while (!atomic_compare_exchange_weak_explicit(
		&q->posted, &head, r, memory_order_release,
		memory_order_relaxed));
	/* The first on an empty list wakes the queue; the queue reads the
	 * eventfd before it takes the list, so nothing is left behind. */
	if (!head && write(q->efd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is huge, a wakeup is pending */
	}
	atomic_fetch_sub_explicit(&q->posting, 1, memory_order_release);
}

void stg_remote_done(struct stg_queue *q, struct stg_req *r)
{
	int res = atomic_load_explicit(&r->perr, memory_order_relaxed);

	atomic_store_explicit(&r->perr, 0, memory_order_relaxed);
	r->state = STG_S_NEW;
	if (r->fua_flush || r->op == STG_FLUSH || r->op == STG_DISCARD ||
	    r->op == STG_WRITE_ZEROES)
		stg_finish(q, r, res);
	else
		stg_xfer_done(q, r, res);
}

void stg_deliver(struct stg_queue *q)
{
	struct stg_req *list, *rev = NULL;
	uint64_t v;

	if (read(q->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing signalled */
	}
	if (q->uring)
		stg_uring_reap(q);
	list = atomic_exchange_explicit(&q->posted, NULL,
					memory_order_acquire);
	while (list) {
		struct stg_req *n = list->next;

		list->next = rev;
		rev = list;
		list = n;
	}
	while (rev) {
		struct stg_req *n = rev->next;

		stg_remote_done(q, rev);
		rev = n;
	}
	if (q->uring)
		stg_uring_kick(q);
}

static void efd_event(void *arg, int fd, uint32_t events)
{
	struct stg_queue *q = arg;

	stg_deliver(q);
	if (q->batch_done)
		q->batch_done(q->arg);
}

/* ---- lifecycle --------------------------------------------------------- */


struct stg_queue *stg_queue_new(struct vdev *dev, unsigned qidx,
				unsigned depth, struct stg_image *const *images,
				unsigned nimages, void (*batch_done)(void *arg),
				void *arg)
{
	struct stg_queue *q = calloc(1, sizeof(*q));
	bool uring = false;
	int ret;

	if (!q)
		return NULL;
	q->inline_only = true;
	for (unsigned i = 0; i < nimages; i++) {
		if (images[i]->engine == STG_ENGINE_URING)
			uring = true;
		if (images[i]->engine != STG_ENGINE_NULL &&
		    images[i]->engine != STG_ENGINE_RAM)
			q->inline_only = false;
	}
	q->dev = dev;
	q->qidx = qidx;
	q->depth = depth ? depth : 256;
	q->batch_done = batch_done;
	q->arg = arg;
	atomic_init(&q->posted, NULL);
	q->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (q->efd < 0) {
		ret = -errno;
		free(q);
		errno = -ret;
		return NULL;
	}
	ret = uring ? stg_uring_init(q) : 0;
	for (unsigned i = 0; ret < 0 && i < nimages; i++) {
		if (images[i]->engine != STG_ENGINE_URING)
			continue;
		/* The queues are made before any I/O, on one thread: the
		 * images can still change engine. */
		vdev_log(VDEV_LOG_WARN,
			 "%s: io_uring unavailable (%s), using system calls",
			 images[i]->who, strerror(-ret));
		images[i]->engine = STG_ENGINE_SYNC;
	}
	return q;
}

void stg_queue_free(struct stg_queue *q)
{
	if (!q)
		return;
	stg_drain(q);
	/* A worker that posted the last request may still be writing the
	 * eventfd (a few instructions away). */
	while (atomic_load_explicit(&q->posting, memory_order_acquire))
		sched_yield();
	if (q->watched)
		vdev_unwatch_fd(q->dev, q->qidx, q->efd);
	stg_uring_fini(q);
	stg_bounce_free(q);
	close(q->efd);
	free(q);
}

void stg_queue_set_dev(struct stg_queue *q, struct vdev *dev)
{
	q->dev = dev;
}

void stg_queue_start(struct stg_queue *q)
{
	int ret;

	if (q->watched || !q->dev || q->inline_only)
		return;
	/* Remembered by the core and served by whatever watcher the queue
	 * has, now or later (stg_kick checks there is one). */
	ret = vdev_watch_fd(q->dev, q->qidx, q->efd, POLLIN, efd_event, q);
	q->watched = ret == 0 || ret == -EEXIST;
	if (!q->watched)
		vdev_log(VDEV_LOG_WARN, "queue %u: cannot watch its eventfd "
			 "(%d)", q->qidx, ret);
}

/* Runs completions until nothing is in flight. */
static void wait_all(struct stg_queue *q)
{
	while (q->inflight) {
		struct pollfd p = { .fd = q->efd, .events = POLLIN };

		if (q->uring)
			stg_uring_kick(q);
		if (!q->inflight)
			break;
		/* Every completion signals the eventfd; the timeout only
		 * guards against a lost wakeup. */
		if (poll(&p, 1, 100) < 0 && errno != EINTR)
			break;
		stg_deliver(q);
	}
}

void stg_kick(struct stg_queue *q)
{
	if (q->inline_only)
		return; /* nothing ever completes elsewhere */
	if (q->uring)
		stg_uring_kick(q);
	if (!q->watched)
		stg_queue_start(q);
	/* No thread watches the eventfd (an embedder that only kicks
	 * synchronously): complete within the round. */
	if (!q->watched || !vdev_has_watcher(q->dev, q->qidx)) {
		if (!q->warned) {
			q->warned = true;
			vdev_log(VDEV_LOG_INFO,
				 "queue %u: no watcher, completing requests "
				 "within each round", q->qidx);
		}
		wait_all(q);
	}
}

void stg_drain(struct stg_queue *q)
{
	wait_all(q);
	stg_deliver(q);
}

void stg_cancel(struct stg_queue *q, struct stg_req *r)
{
	atomic_store_explicit(&r->cancel, true, memory_order_relaxed);
	switch (r->state) {
	case STG_S_BOUNCE_WAIT:
		if (stg_bounce_cancel(q, r))
			stg_finish(q, r, -ECANCELED);
		break;
	case STG_S_SQ_WAIT:
	case STG_S_ENGINE:
		stg_uring_cancel(q, r);
		break;
	default:
		/* Workers skip parts not begun; NBD commands cannot be
		 * recalled: they are waited for. */
		break;
	}
}
