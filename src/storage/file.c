/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Files and block devices through blocking system calls: vectored
 * transfers straight on the guest's buffers, flush, and DISCARD /
 * WRITE_ZEROES with the fallbacks each kind of image needs. The sync
 * engine calls these on the queue's thread, the worker pool on its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

#include "compat/uio.h"
#include "storage/storage_internal.h"

void stg_iov_advance(struct iovec **iov, int *cnt, uint64_t n)
{
	while (*cnt > 0 && n >= (*iov)->iov_len) {
		n -= (*iov)->iov_len;
		(*iov)++;
		(*cnt)--;
	}
	if (*cnt > 0 && n) {
		(*iov)->iov_base = (uint8_t *)(*iov)->iov_base + n;
		(*iov)->iov_len -= (size_t)n;
	}
}

/*
 * Moves io->left bytes, advancing @io as they move. With RWF_NOWAIT in
 * @rwf it stops at the first "would block" (-EAGAIN) or "cannot do that
 * without blocking" (-EOPNOTSUPP), keeping the progress made.
 */
int stg_file_rw(struct stg_image *img, bool write, bool fua, int rwf,
		struct stg_io *io)
{
	bool nowait = rwf & RWF_NOWAIT;
	bool dsync = write && fua;
	bool sync_after = false;

	while (io->left) {
		int cnt = io->cnt > IOV_MAX ? IOV_MAX : io->cnt;
		ssize_t n;

		if (write)
			n = pwritev2(img->fd, io->iov, cnt, (off_t)io->off,
				     rwf | (dsync ? RWF_DSYNC : 0));
		else
			n = preadv2(img->fd, io->iov, cnt, (off_t)io->off, rwf);
		if (n < 0) {
			if (errno == EINTR || (errno == EAGAIN && !nowait))
				continue;
			if (errno == EOPNOTSUPP && dsync && !nowait) {
				/* Kernel without RWF_DSYNC: sync at the end. */
				dsync = false;
				sync_after = true;
				continue;
			}
			return -errno;
		}
		/* The image shrank under us: that is an I/O error. */
		if (n == 0)
			return -EIO;
		if ((uint64_t)n > io->left)
			n = (ssize_t)io->left;
		stg_iov_advance(&io->iov, &io->cnt, (uint64_t)n);
		io->off += (uint64_t)n;
		io->left -= (uint64_t)n;
	}
	if (sync_after)
		return stg_file_flush(img);
	return 0;
}

int stg_file_xfer_flags(struct stg_image *img, struct stg_req *r, int rwf)
{
	struct stg_io io = {
		.iov = r->cur, .cnt = r->ncur, .off = r->coff,
		.left = r->cleft,
	};
	int ret = stg_file_rw(img, r->op != STG_READ, r->flags & STG_FUA, rwf,
			      &io);

	r->cur = io.iov;
	r->ncur = io.cnt;
	r->coff = io.off;
	r->cleft = io.left;
	return ret;
}

int stg_file_xfer(struct stg_image *img, struct stg_req *r)
{
	return stg_file_xfer_flags(img, r, 0);
}

int stg_file_flush(struct stg_image *img)
{
	while (fdatasync(img->fd) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

static bool unsupported(int err)
{
	return err == EOPNOTSUPP || err == ENOSYS || err == EINVAL ||
	       err == ENODEV || err == ENOTTY;
}

int stg_file_discard(struct stg_image *img, uint64_t off, uint64_t len)
{
	int ret;

	if (img->blockdev) {
		/* A hint: BLKDISCARD, never the zeroing fallocate does on
		 * a block device (that may write the range out). */
		uint64_t range[2] = { off, len };

		ret = ioctl(img->fd, BLKDISCARD, range);
	} else {
		ret = fallocate(img->fd,
				FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)off, (off_t)len);
	}
	if (ret == 0)
		return 0;
	/* Discard is a hint (the device MAY deallocate). */
	return unsupported(errno) ? 0 : -errno;
}

/* Plain zero writes, for images with no cheaper way. Aligned, so that it
 * also works with O_DIRECT. */
static const uint8_t zero_page[65536] __attribute__((aligned(4096)));

static int write_zeroes_slow(struct stg_image *img, uint64_t off,
			     uint64_t len)
{
	while (len) {
		size_t n = len > sizeof(zero_page) ? sizeof(zero_page)
						   : (size_t)len;
		ssize_t w = pwrite(img->fd, zero_page, n, (off_t)off);

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

int stg_file_write_zeroes(struct stg_image *img, uint64_t off, uint64_t len,
			  bool unmap)
{
	/* A punched hole reads back as zeroes, which is all the spec asks
	 * of WRITE_ZEROES with unmap; on a block device the same call
	 * zeroes with the device's own deallocation, or fails. */
	if (unmap && fallocate(img->fd, FALLOC_FL_PUNCH_HOLE |
					    FALLOC_FL_KEEP_SIZE,
			       (off_t)off, (off_t)len) == 0)
		return 0;
	if (fallocate(img->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) == 0)
		return 0;
	if (!unsupported(errno))
		return -errno;
	if (img->blockdev) {
		uint64_t range[2] = { off, len };

		if (ioctl(img->fd, BLKZEROOUT, range) == 0)
			return 0;
		if (!unsupported(errno))
			return -errno;
	}
	return write_zeroes_slow(img, off, len);
}
