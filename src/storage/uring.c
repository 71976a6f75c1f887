/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The io_uring engine: one ring per queue. A handler round queues one SQE
 * per transfer (readv/writev straight on the guest's iovecs, fsync for
 * FLUSH) and hands the batch to the kernel with one io_uring_submit(). The
 * ring signals completions on the queue's eventfd, which is watched on the
 * queue's own thread, so completions run where the requests were made.
 *
 * Requests the kernel completes at submission (page-cache hits on a file
 * system with RWF_NOWAIT support) are reaped right after io_uring_submit(),
 * so they are pushed and notified in the same round, without a trip
 * through the eventfd: at queue depth 1 that trip was a second wakeup per
 * request.
 *
 * Buffered transfers (no O_DIRECT, no FUA) are first tried on the queue's
 * thread with RWF_NOWAIT: a page-cache hit is then done in one system
 * call, and only what would block goes through the ring. Where the file
 * system has no non-blocking buffered write (ext4 and tmpfs on Linux
 * 6.18), io_uring would punt every write to an io-wq worker, and io-wq
 * runs buffered writes to one inode one at a time anyway: a context
 * switch each, for no parallelism. There writes are done synchronously
 * (large ones go to the worker pool before they get here). tmpfs and
 * ramfs images are page cache and nothing else, and their reads have no
 * RWF_NOWAIT either: everything is a memcpy there, done synchronously.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "compat/uio.h"
#include "storage/storage_internal.h"

bool stg_uring_test_fail_init;
bool stg_uring_test_ring_only;

#if STG_WITH_URING
#include <liburing.h>

struct stg_uring {
	struct io_uring ring;
	unsigned queued;  /* SQEs prepared, not yet submitted */
};

int stg_uring_init(struct stg_queue *q)
{
	struct stg_uring *u;
	int ret;

	if (stg_uring_test_fail_init)
		return -ENOSYS;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	/* A request has one SQE in flight at a time, plus room for the
	 * cancellations; an SQ that fills anyway parks requests on
	 * q->sqwait. The CQ is twice as large and never overflows. */
	ret = io_uring_queue_init(q->depth + 16, &u->ring, 0);
	if (ret < 0) {
		free(u);
		return ret;
	}
	ret = io_uring_register_eventfd(&u->ring, q->efd);
	if (ret < 0) {
		io_uring_queue_exit(&u->ring);
		free(u);
		return ret;
	}
	q->uring = u;
	return 0;
}

void stg_uring_fini(struct stg_queue *q)
{
	if (!q->uring)
		return;
	io_uring_queue_exit(&q->uring->ring);
	free(q->uring);
	q->uring = NULL;
}

static void sqwait_add(struct stg_queue *q, struct stg_req *r)
{
	r->state = STG_S_SQ_WAIT;
	r->next = NULL;
	if (q->sqwait_tail)
		q->sqwait_tail->next = r;
	else
		q->sqwait = r;
	q->sqwait_tail = r;
}

static struct io_uring_sqe *get_sqe(struct stg_queue *q)
{
	struct stg_uring *u = q->uring;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe && u->queued) {
		/* The SQ is full of prepared entries: hand them over. */
		int ret = io_uring_submit(&u->ring);

		if (ret > 0)
			u->queued -= (unsigned)ret < u->queued
					     ? (unsigned)ret
					     : u->queued;
		sqe = io_uring_get_sqe(&u->ring);
	}
	return sqe;
}

/* One SQE for @r, or a place on q->sqwait. */
static void prep(struct stg_queue *q, struct stg_req *r)
{
	struct stg_image *img = r->img;
	struct io_uring_sqe *sqe = get_sqe(q);
	int cnt = r->ncur > IOV_MAX ? IOV_MAX : r->ncur;

	if (!sqe) {
		sqwait_add(q, r);
		return;
	}
	if (r->op == STG_FLUSH)
		io_uring_prep_fsync(sqe, img->fd, IORING_FSYNC_DATASYNC);
	else if (r->op == STG_READ)
		io_uring_prep_readv(sqe, img->fd, r->cur, (unsigned)cnt,
				    r->coff);
	else
		io_uring_prep_writev2(sqe, img->fd, r->cur, (unsigned)cnt,
				      r->coff,
				      (r->flags & STG_FUA) ? RWF_DSYNC : 0);
	io_uring_sqe_set_data(sqe, r);
	r->state = STG_S_ENGINE;
	q->uring->queued++;
}

/*
 * A buffered transfer done without waiting, if it can be. true: @r went
 * on (done inline, or by system calls); false: what is left of it goes
 * through the ring.
 */
static bool try_inline(struct stg_queue *q, struct stg_req *r)
{
	struct stg_image *img = r->img;
	bool rd = r->op == STG_READ;
	int ret;

	if (img->in_memory ||
	    (!rd && atomic_load_explicit(&img->wr_no_nowait,
					 memory_order_relaxed))) {
		stg_xfer_done(q, r, stg_file_xfer_flags(img, r, 0));
		return true;
	}
	if (rd && atomic_load_explicit(&img->rd_no_nowait,
				       memory_order_relaxed))
		return false;
	ret = stg_file_xfer_flags(img, r, RWF_NOWAIT);
	if (ret == -EOPNOTSUPP) {
		if (rd) {
			/* Reads that may block (a network file system): the
			 * ring's workers overlap them. */
			atomic_store(&img->rd_no_nowait, true);
			return false;
		}
		atomic_store(&img->wr_no_nowait, true);
		stg_xfer_done(q, r, stg_file_xfer_flags(img, r, 0));
		return true;
	}
	if (ret < 0)
		return false; /* EAGAIN; or the ring reports it */
	stg_xfer_done(q, r, 0);
	return true;
}

void stg_uring_xfer(struct stg_queue *q, struct stg_req *r)
{
	struct stg_image *img = r->img;

	if (r->op != STG_FLUSH && !stg_uring_test_ring_only &&
	    (img->in_memory || (!img->direct && !(r->flags & STG_FUA))) &&
	    try_inline(q, r))
		return;
	prep(q, r);
}

static void complete(struct stg_queue *q, struct stg_req *r, int res)
{
	bool cancel = atomic_load_explicit(&r->cancel, memory_order_relaxed);

	r->state = STG_S_NEW;
	if (res == -EAGAIN || res == -EINTR) {
		if (cancel)
			stg_finish(q, r, -ECANCELED);
		else
			prep(q, r);
		return;
	}
	if (res < 0) {
		vdev_log(VDEV_LOG_DEBUG, "%s: io_uring op %d at %llu: %d",
			 r->img->who, (int)r->op, (unsigned long long)r->coff,
			 res);
		stg_xfer_done(q, r, res);
		return;
	}
	if (r->op == STG_FLUSH) {
		stg_finish(q, r, 0);
		return;
	}
	/* Zero bytes moved with some left: the image shrank under us. */
	if (res == 0) {
		stg_xfer_done(q, r, -EIO);
		return;
	}
	if ((uint64_t)res > r->cleft)
		res = (int)r->cleft;
	stg_advance(r, (uint64_t)res);
	if (!r->cleft)
		stg_xfer_done(q, r, 0);
	else if (cancel)
		stg_finish(q, r, -ECANCELED);
	else
		prep(q, r); /* short transfer: go on with the rest */
}

unsigned stg_uring_reap(struct stg_queue *q)
{
	struct stg_uring *u = q->uring;
	unsigned total = 0;

	for (;;) {
		struct io_uring_cqe *cqes[64];
		struct stg_req *rs[64];
		int res[64];
		unsigned n = io_uring_peek_batch_cqe(&u->ring, cqes, 64);

		if (!n)
			break;
		/* Copied out and consumed before any completion runs: a
		 * done() may submit more and must not see these again. */
		for (unsigned i = 0; i < n; i++) {
			rs[i] = io_uring_cqe_get_data(cqes[i]);
			res[i] = cqes[i]->res;
		}
		io_uring_cq_advance(&u->ring, n);
		for (unsigned i = 0; i < n; i++)
			if (rs[i]) /* NULL: a cancellation's own result */
				complete(q, rs[i], res[i]);
		total += n;
	}
	return total;
}

static void submit(struct stg_queue *q)
{
	struct stg_uring *u = q->uring;
	int ret;

	if (!u->queued)
		return;
	ret = io_uring_submit(&u->ring);
	if (ret >= 0) {
		u->queued = (unsigned)ret >= u->queued ? 0
						       : u->queued - (unsigned)ret;
		return;
	}
	/* -EBUSY / -EAGAIN: the kernel is short of resources; the SQEs stay
	 * in the ring and go with the next submit. */
	if (ret != -EBUSY && ret != -EAGAIN && ret != -EINTR)
		vdev_log(VDEV_LOG_ERROR, "queue %u: io_uring_submit: %d",
			 q->qidx, ret);
}

void stg_uring_kick(struct stg_queue *q)
{
	for (int round = 0; round < 4; round++) {
		struct stg_req *w = q->sqwait;

		submit(q);
		/* Parked for want of an SQE: there is room now. */
		q->sqwait = q->sqwait_tail = NULL;
		while (w) {
			struct stg_req *n = w->next;

			prep(q, w);
			w = n;
		}
		/* Completed during the submit: they go with this round.
		 * Their eventfd signal then finds an empty ring, on this
		 * same thread. */
		if (!stg_uring_reap(q) && !q->uring->queued)
			break;
	}
	submit(q);
}

bool stg_uring_cancel(struct stg_queue *q, struct stg_req *r)
{
	struct io_uring_sqe *sqe;

	if (r->state == STG_S_SQ_WAIT) {
		struct stg_req **pp, *prev = NULL;

		for (pp = &q->sqwait; *pp; prev = *pp, pp = &(*pp)->next) {
			if (*pp != r)
				continue;
			*pp = r->next;
			if (q->sqwait_tail == r)
				q->sqwait_tail = prev;
			stg_finish(q, r, -ECANCELED);
			return true;
		}
		return false;
	}
	if (!q->uring || r->state != STG_S_ENGINE)
		return false;
	/* The kernel may still finish it: its CQE then comes as usual and
	 * complete() ends it without going on. */
	sqe = get_sqe(q);
	if (!sqe)
		return false;
	io_uring_prep_cancel64(sqe, (uint64_t)(uintptr_t)r, 0);
	io_uring_sqe_set_data(sqe, NULL);
	q->uring->queued++;
	return true;
}

#else /* !STG_WITH_URING */

int stg_uring_init(struct stg_queue *q)
{
	return -ENOTSUP;
}

void stg_uring_fini(struct stg_queue *q)
{
}

void stg_uring_xfer(struct stg_queue *q, struct stg_req *r)
{
	stg_finish(q, r, -ENOTSUP);
}

void stg_uring_kick(struct stg_queue *q)
{
}

unsigned stg_uring_reap(struct stg_queue *q)
{
	return 0;
}

bool stg_uring_cancel(struct stg_queue *q, struct stg_req *r)
{
	return false;
}

#endif
