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

int blk_bounce_prepare(struct blk_dev *b, struct blk_req *r)
{
	uintptr_t mask = b->dio_align - 1;
	size_t len = r->left;
	void *p;

	if (!b->direct || r->op == BLK_OP_FLUSH)
		return 0;
	for (int i = 0; i < r->ndio; i++)
		if (((uintptr_t)r->dio[i].iov_base | r->dio[i].iov_len) & mask)
			goto bounce;
	return 0;
bounce:
	/* Off the fast path: only drivers that hand out unaligned buffers
	 * pay for the allocation and the copy. */
	if (posix_memalign(&p, 4096, len))
		return -ENOMEM;
	if (r->op == BLK_OP_WRITE)
		vdev_iov_to_buf(r->dio, (unsigned)r->ndio, 0, p, len);
	r->bounce = p;
	r->bounce_len = len;
	r->gio = r->dio;
	r->ngio = r->ndio;
	r->biov.iov_base = p;
	r->biov.iov_len = len;
	r->dio = &r->biov;
	r->ndio = 1;
	return 0;
}

void blk_bounce_finish(struct blk_req *r, bool ok)
{
	if (ok && r->op == BLK_OP_READ)
		vdev_iov_from_buf(r->gio, (unsigned)r->ngio, 0, r->bounce,
				  r->bounce_len);
	free(r->bounce);
	r->bounce = NULL;
}
