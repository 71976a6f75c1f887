/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Image file helpers shared by the sync and io_uring backends: vectored
 * transfers straight on the guest iovecs, flush, DISCARD / WRITE_ZEROES
 * through fallocate, and the O_DIRECT bounce path.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <virtio/iov.h>

#include "blk_internal.h"

/*
 * Moves what is left of @r, advancing it as bytes move. With RWF_NOWAIT in
 * @rwf it stops at the first "would block" (-EAGAIN) or "cannot do that
 * without blocking" (-EOPNOTSUPP), keeping the progress made.
 */
int blk_file_rw_flags(struct blk_dev *b, struct blk_req *r, int rwf)
{
	bool nowait = rwf & RWF_NOWAIT;
	bool sync_after = false;

	while (r->left) {
		int cnt = r->ndio > IOV_MAX ? IOV_MAX : r->ndio;
		ssize_t n;

		if (r->op == BLK_OP_READ)
			n = preadv2(b->fd, r->dio, cnt, (off_t)r->off, rwf);
		else
			n = pwritev2(b->fd, r->dio, cnt, (off_t)r->off,
				     rwf | (r->dsync ? RWF_DSYNC : 0));
		if (n < 0) {
			if (errno == EINTR || (errno == EAGAIN && !nowait))
				continue;
			if (errno == EOPNOTSUPP && r->dsync && !nowait) {
				/* Kernel without RWF_DSYNC: sync at the end. */
				r->dsync = false;
				sync_after = true;
				continue;
			}
			return -errno;
		}
		/* The image shrank under us: that is an I/O error. */
		if (n == 0)
			return -EIO;
		if ((size_t)n > r->left)
			n = (ssize_t)r->left;
		blk_iov_advance(&r->dio, &r->ndio, (size_t)n);
		r->off += (uint64_t)n;
		r->left -= (size_t)n;
	}
	if (sync_after)
		return blk_file_flush(b);
	return 0;
}

int blk_file_rw(struct blk_dev *b, struct blk_req *r)
{
	return blk_file_rw_flags(b, r, 0);
}

int blk_file_flush(struct blk_dev *b)
{
	while (fdatasync(b->fd) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

static bool unsupported(int err)
{
	return err == EOPNOTSUPP || err == ENOSYS || err == EINVAL ||
	       err == ENODEV;
}

int blk_file_discard(struct blk_dev *b, uint64_t off, uint64_t len)
{
	if (fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) == 0)
		return 0;
	/* Discard is a hint (the device MAY deallocate). */
	return unsupported(errno) ? 0 : -errno;
}

/* Plain zero writes, for filesystems with neither hole punching nor
 * zero ranges. Aligned so that it also works with O_DIRECT. */
static const uint8_t zero_page[65536] __attribute__((aligned(4096)));

static int write_zeroes_slow(struct blk_dev *b, uint64_t off, uint64_t len)
{
	while (len) {
		size_t n = len > sizeof(zero_page) ? sizeof(zero_page) : len;
		ssize_t w = pwrite(b->fd, zero_page, n, (off_t)off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (w == 0)
			return -EIO;
		off += (uint64_t)w;
		len -= (uint64_t)w;
	}
	return 0;
}

int blk_file_write_zeroes(struct blk_dev *b, uint64_t off, uint64_t len,
			  bool unmap)
{
	/* A punched hole reads back as zeroes, which is all the spec asks
	 * of WRITE_ZEROES with unmap. */
	if (unmap && fallocate(b->fd, FALLOC_FL_PUNCH_HOLE |
				      FALLOC_FL_KEEP_SIZE,
			       (off_t)off, (off_t)len) == 0)
		return 0;
	if (fallocate(b->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) == 0)
		return 0;
	if (!unsupported(errno))
		return -errno;
	return write_zeroes_slow(b, off, len);
}

/* The next chunk of a bounced transfer into r->dio. */
static void bounce_chunk(struct blk_queue *bq, struct blk_req *r)
{
	size_t n = r->btotal - r->bdone;
	void *p = bq->bslots[r->bslot];

	if (n > BLK_BOUNCE_SLOT)
		n = BLK_BOUNCE_SLOT;
	if (r->op == BLK_OP_WRITE)
		vdev_iov_to_buf(r->gio, (unsigned)r->ngio, r->bdone, p, n);
	r->biov.iov_base = p;
	r->biov.iov_len = n;
	r->dio = &r->biov;
	r->ndio = 1;
	r->off = r->boff + r->bdone;
	r->left = n;
}

/* A free slot for @r (allocated on first use), or -1. */
static int bounce_get(struct blk_queue *bq)
{
	for (unsigned i = 0; i < BLK_BOUNCE_SLOTS; i++) {
		if (bq->bbusy & (1u << i))
			continue;
		if (!bq->bslots[i] &&
		    posix_memalign(&bq->bslots[i], 4096, BLK_BOUNCE_SLOT)) {
			bq->bslots[i] = NULL;
			continue;
		}
		bq->bbusy |= 1u << i;
		return (int)i;
	}
	return -1;
}

int blk_bounce_prepare(struct blk_queue *bq, struct blk_req *r)
{
	struct blk_dev *b = bq->b;
	uintptr_t mask = b->dio_align - 1;
	int slot;

	r->bslot = BLK_BOUNCE_NONE;
	if (!b->direct || r->op == BLK_OP_FLUSH)
		return 0;
	for (int i = 0; i < r->ndio; i++)
		if (((uintptr_t)r->dio[i].iov_base | r->dio[i].iov_len) & mask)
			goto bounce;
	return 0;
bounce:
	/* Off the fast path: only drivers that hand out unaligned buffers
	 * pay for the copy, and what they cost in memory is bounded by the
	 * queue's slots whatever length they claim. */
	r->gio = r->dio;
	r->ngio = r->ndio;
	r->boff = r->off;
	r->btotal = r->left;
	r->bdone = 0;
	slot = bounce_get(bq);
	if (slot < 0) {
		if (!bq->bbusy)
			return -ENOMEM; /* nothing will free one */
		r->bslot = BLK_BOUNCE_WAIT;
		r->bnext = NULL;
		if (bq->bwait_tail)
			bq->bwait_tail->bnext = r;
		else
			bq->bwait = r;
		bq->bwait_tail = r;
		return 1;
	}
	r->bslot = slot;
	bounce_chunk(bq, r);
	return 0;
}

bool blk_bounce_next(struct blk_req *r)
{
	struct blk_queue *bq = r->bq;
	size_t n = r->biov.iov_len;

	if (r->op == BLK_OP_READ)
		vdev_iov_from_buf(r->gio, (unsigned)r->ngio, r->bdone,
				  bq->bslots[r->bslot], n);
	r->bdone += n;
	if (r->bdone == r->btotal)
		return false;
	bounce_chunk(bq, r);
	return true;
}

void blk_bounce_release(struct blk_queue *bq, struct blk_req *r)
{
	struct blk_req *w = bq->bwait;

	if (r->bslot < 0)
		return;
	if (!w) {
		bq->bbusy &= ~(1u << r->bslot);
	} else {
		/* The slot goes straight to the oldest waiter. */
		bq->bwait = w->bnext;
		if (!bq->bwait)
			bq->bwait_tail = NULL;
		w->bslot = r->bslot;
		bounce_chunk(bq, w);
	}
	r->bslot = BLK_BOUNCE_NONE;
	if (w) {
		if (bq->b->be->resume)
			bq->b->be->resume(bq, w);
		else
			blk_req_done(bq, w, VDEV_BLK_S_IOERR);
	}
}

void blk_bounce_free(struct blk_queue *bq)
{
	for (unsigned i = 0; i < BLK_BOUNCE_SLOTS; i++) {
		free(bq->bslots[i]);
		bq->bslots[i] = NULL;
	}
	bq->bbusy = 0;
}
