/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * io_uring backend: one ring per queue. A handler round queues one SQE per
 * request (readv/writev straight on the guest iovecs, fsync for FLUSH) and
 * hands the whole batch to the kernel with one io_uring_submit(). The ring
 * signals completions on an eventfd that is watched on the queue's own
 * thread (vdev_watch_fd), so completions are reaped, statuses written and
 * chains pushed by the thread that popped them, under the queue's lock.
 *
 * Requests the kernel completes at submission (page-cache hits on a file
 * system with RWF_NOWAIT support) are reaped right after io_uring_submit(),
 * so they are pushed and notified in the same round, without a trip through
 * the eventfd: at queue depth 1 that trip was a second wakeup per request.
 *
 * Buffered reads and writes (no O_DIRECT, no writethrough) are first tried
 * on the queue thread with RWF_NOWAIT: a page-cache hit is then done in
 * one system call, and only what would block goes through the ring.
 * Where the file system has no non-blocking buffered write (ext4 and
 * tmpfs on Linux 6.18), io_uring would punt every write to an io-wq
 * worker, and io-wq runs buffered writes to one inode one at a time
 * anyway: a context switch each, for no parallelism. There writes are
 * done synchronously. tmpfs and ramfs (b->in_memory) are page cache and
 * nothing else, and their reads have no RWF_NOWAIT either: everything is
 * a memcpy there, done synchronously.
 *
 * DISCARD and WRITE_ZEROES run synchronously (fallocate, blk_file.c): they
 * are rare, and their fallbacks (hole punch -> zero range -> writes) are a
 * chain of decisions that would not fit one SQE.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <liburing.h>

#include "blk_internal.h"

struct uq {
	struct io_uring ring;
	int efd;
	bool watched;     /* completions come through the eventfd */
	bool warned;
	unsigned queued;  /* SQEs prepared, not yet submitted */
	unsigned pending; /* submitted or queued, CQE not yet seen */
};

bool blk_uring_test_fail_init;
bool blk_uring_test_ring_only;

static int uring_queue_init(struct blk_queue *bq)
{
	struct uq *uq;
	int ret;

	if (blk_uring_test_fail_init)
		return -ENOSYS;
	uq = calloc(1, sizeof(*uq));
	if (!uq)
		return -ENOMEM;
	/* Requests in flight are bounded by BLK_MAX_INFLIGHT, and a short
	 * transfer is resubmitted only after its CQE was consumed, so the
	 * SQ never fills and the CQ (twice as large) never overflows. */
	ret = io_uring_queue_init(BLK_MAX_INFLIGHT, &uq->ring, 0);
	if (ret < 0) {
		free(uq);
		return ret;
	}
	uq->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (uq->efd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = io_uring_register_eventfd(&uq->ring, uq->efd);
	if (ret < 0) {
		close(uq->efd);
		goto fail;
	}
	bq->be = uq;
	return 0;
fail:
	io_uring_queue_exit(&uq->ring);
	free(uq);
	return ret;
}

static void uring_queue_fini(struct blk_queue *bq)
{
	struct uq *uq = bq->be;

	if (!uq)
		return;
	if (uq->watched)
		vdev_unwatch_fd(bq->b->dev, bq->idx, uq->efd);
	io_uring_queue_exit(&uq->ring);
	close(uq->efd);
	free(uq);
	bq->be = NULL;
}

static void prep(struct blk_queue *bq, struct blk_req *r)
{
	struct uq *uq = bq->be;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&uq->ring);
	int cnt = r->ndio > IOV_MAX ? IOV_MAX : r->ndio;

	if (!sqe) {
		/* Cannot happen (see uring_queue_init); do not lose the
		 * request if it does. */
		io_uring_submit(&uq->ring);
		uq->queued = 0;
		sqe = io_uring_get_sqe(&uq->ring);
		if (!sqe) {
			blk_req_done(bq, r, VDEV_BLK_S_IOERR);
			return;
		}
	}
	switch (r->op) {
	case BLK_OP_READ:
		io_uring_prep_readv(sqe, bq->b->fd, r->dio, (unsigned)cnt,
				    r->off);
		break;
	case BLK_OP_WRITE:
		io_uring_prep_writev2(sqe, bq->b->fd, r->dio, (unsigned)cnt,
				      r->off, r->dsync ? RWF_DSYNC : 0);
		break;
	case BLK_OP_FLUSH:
		io_uring_prep_fsync(sqe, bq->b->fd, IORING_FSYNC_DATASYNC);
		break;
	}
	io_uring_sqe_set_data(sqe, r);
	uq->queued++;
	uq->pending++;
}

/*
 * A buffered transfer done without waiting, if it can be. true: @r is
 * answered (done inline, or by the synchronous path); false: what is left
 * of it goes through the ring.
 */
static bool try_inline(struct blk_queue *bq, struct blk_req *r)
{
	struct blk_dev *b = bq->b;
	bool rd = r->op == BLK_OP_READ;
	int ret;

	if (b->in_memory || (!rd && atomic_load_explicit(&b->wr_no_nowait,
							 memory_order_relaxed))) {
		blk_sync_ops.submit(bq, r);
		return true;
	}
	if (rd && atomic_load_explicit(&b->rd_no_nowait, memory_order_relaxed))
		return false;
	ret = blk_file_rw_flags(b, r, RWF_NOWAIT);
	if (ret == -EOPNOTSUPP) {
		if (rd) {
			/* Reads that may block (a network file system): the
			 * ring's workers overlap them. */
			atomic_store(&b->rd_no_nowait, true);
			return false;
		}
		atomic_store(&b->wr_no_nowait, true);
		blk_sync_ops.submit(bq, r);
		return true;
	}
	if (ret < 0)
		return false; /* EAGAIN; or the ring reports it */
	blk_req_done(bq, r, VDEV_BLK_S_OK);
	return true;
}

static void uring_submit(struct blk_queue *bq, struct blk_req *r)
{
	struct blk_dev *b = bq->b;
	int ret;

	if (r->op == BLK_OP_FLUSH && b->in_memory &&
	    !blk_uring_test_ring_only) {
		blk_req_done(bq, r, VDEV_BLK_S_OK); /* nothing to flush */
		return;
	}
	if (r->op != BLK_OP_FLUSH && !blk_uring_test_ring_only &&
	    (b->in_memory || (!b->direct && !r->dsync)) && try_inline(bq, r))
		return;
	ret = blk_bounce_prepare(bq, r);
	if (ret < 0) {
		blk_req_done(bq, r, VDEV_BLK_S_IOERR);
		return;
	}
	if (ret == 0)
		prep(bq, r);
	/* 1: waits for a bounce slot; resume() preps it */
}

static void complete(struct blk_queue *bq, struct blk_req *r, int res)
{
	if (res == -EAGAIN || res == -EINTR) {
		prep(bq, r);
		return;
	}
	if (res < 0) {
		vdev_log(VDEV_LOG_DEBUG, "blk: io_uring op %d at %llu: %d",
			 (int)r->op, (unsigned long long)r->off, res);
		blk_req_done(bq, r, VDEV_BLK_S_IOERR);
		return;
	}
	if (r->op == BLK_OP_FLUSH) {
		blk_req_done(bq, r, VDEV_BLK_S_OK);
		return;
	}
	/* Zero bytes moved with some left: the image shrank under us. */
	if (res == 0) {
		blk_req_done(bq, r, VDEV_BLK_S_IOERR);
		return;
	}
	if ((size_t)res > r->left)
		res = (int)r->left;
	blk_iov_advance(&r->dio, &r->ndio, (size_t)res);
	r->off += (uint64_t)res;
	r->left -= (size_t)res;
	if (r->left || (r->bslot >= 0 && blk_bounce_next(r)))
		prep(bq, r); /* the rest, or the next bounced chunk */
	else
		blk_req_done(bq, r, VDEV_BLK_S_OK);
}

static unsigned reap(struct blk_queue *bq)
{
	struct uq *uq = bq->be;
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&uq->ring, head, cqe) {
		struct blk_req *r = io_uring_cqe_get_data(cqe);

		n++;
		uq->pending--;
		complete(bq, r, cqe->res);
	}
	io_uring_cq_advance(&uq->ring, n);
	return n;
}

static void submit_queued(struct blk_queue *bq)
{
	struct uq *uq = bq->be;
	int ret;

	if (!uq->queued)
		return;
	ret = io_uring_submit(&uq->ring);
	if (ret >= 0) {
		uq->queued = (unsigned)ret >= uq->queued
				     ? 0
				     : uq->queued - (unsigned)ret;
		return;
	}
	/* -EBUSY / -EAGAIN: the kernel is short of resources; the SQEs stay
	 * in the ring and go with the next submit. */
	if (ret != -EBUSY && ret != -EAGAIN && ret != -EINTR)
		vdev_log(VDEV_LOG_ERROR, "blk: io_uring_submit: %d", ret);
}

/* Without a watched eventfd nobody would reap: wait here instead. */
static void wait_all(struct blk_queue *bq)
{
	struct uq *uq = bq->be;

	while (uq->pending) {
		struct io_uring_cqe *cqe;
		int ret;

		submit_queued(bq);
		ret = io_uring_wait_cqe(&uq->ring, &cqe);
		if (ret == -EINTR || ret == -EAGAIN)
			continue;
		if (ret < 0) {
			vdev_log(VDEV_LOG_ERROR, "blk: io_uring_wait_cqe: %d",
				 ret);
			return;
		}
		reap(bq);
	}
	submit_queued(bq);
}

static void drain_eventfd(struct uq *uq)
{
	uint64_t v;

	if (read(uq->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing signalled */
	}
}

static void uring_event(void *arg, int fd, uint32_t events)
{
	struct blk_queue *bq = arg;
	struct uq *uq = bq->be;

	drain_eventfd(uq);
	reap(bq);
	submit_queued(bq);
	blk_queue_notify(bq);
	if (bq->starved) {
		bq->starved = false;
		vdev_queue_schedule(bq->b->dev, bq->idx);
	}
}

static void uring_start(struct blk_queue *bq)
{
	struct uq *uq = bq->be;
	int ret;

	if (uq->watched)
		return;
	ret = vdev_watch_fd(bq->b->dev, bq->idx, uq->efd, uring_event, bq);
	uq->watched = ret == 0 || ret == -EEXIST;
	if (!uq->watched && !uq->warned) {
		uq->warned = true;
		vdev_log(VDEV_LOG_INFO,
			 "blk: queue %u: no watcher (%d), completing "
			 "io_uring requests within each round",
			 bq->idx, ret);
	}
}

static void uring_flush_batch(struct blk_queue *bq)
{
	struct uq *uq = bq->be;

	submit_queued(bq);
	/* Completed during the submit: push them with this round. Their
	 * eventfd signal then finds an empty ring, on this same thread. */
	if (uq->pending && reap(bq)) {
		submit_queued(bq); /* short transfers, resubmitted */
		if (bq->starved && bq->free) {
			bq->starved = false;
			vdev_queue_schedule(bq->b->dev, bq->idx);
		}
	}
	if (!uq->watched) {
		/* A watcher may have appeared since DRIVER_OK. */
		uring_start(bq);
		if (!uq->watched) {
			wait_all(bq);
			drain_eventfd(uq);
		}
	}
}

static void uring_drain(struct blk_queue *bq)
{
	if (bq->be) {
		wait_all(bq);
		drain_eventfd(bq->be);
	}
}

const struct blk_backend_ops blk_uring_ops = {
	.kind = VDEV_BLK_BACKEND_URING,
	.queue_init = uring_queue_init,
	.queue_fini = uring_queue_fini,
	.start = uring_start,
	.submit = uring_submit,
	.flush_batch = uring_flush_batch,
	.drain = uring_drain,
	.resume = prep,
	.discard = blk_file_discard,
	.write_zeroes = blk_file_write_zeroes,
};
