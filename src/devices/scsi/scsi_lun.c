/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-scsi logical units: image files and block devices on the host,
 * read and written synchronously on the thread of the queue that carries
 * the command. Callers have checked every range against the LUN's size.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "compat/uio.h"
#include "scsi_internal.h"

int scsi_lun_open(struct scsi_lun *l, const char *path, bool ro,
		  uint32_t lbs)
{
	struct stat st;
	uint64_t size;

	l->fd = open(path, (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (l->fd < 0)
		return -errno;
	l->ro = ro;
	if (fstat(l->fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(l->fd, BLKGETSIZE64, &size) < 0)
			return -errno;
		l->blockdev = true;
	} else {
		return -EINVAL;
	}
	l->nblocks = size / lbs;
	if (!l->nblocks)
		return -EINVAL;
	return 0;
}

void scsi_lun_close(struct scsi_lun *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}

int scsi_lun_rw(struct scsi_lun *l, bool write, uint64_t off,
		struct iovec *iov, int cnt, size_t len, bool fua)
{
	bool sync_after = false;

	while (len) {
		int n = cnt < IOV_MAX ? cnt : IOV_MAX;
		ssize_t r;

		if (write)
			r = pwritev2(l->fd, iov, n, (off_t)off,
				     fua ? RWF_DSYNC : 0);
		else
			r = preadv(l->fd, iov, n, (off_t)off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EOPNOTSUPP && fua) {
				/* No RWF_DSYNC (Linux < 4.7, qemu-user):
				 * sync at the end instead. */
				fua = false;
				sync_after = true;
				continue;
			}
			return -errno;
		}
		/* The image shrank under us: report it, do not spin. */
		if (r == 0)
			return -EIO;
		if ((size_t)r > len)
			r = (ssize_t)len;
		len -= (size_t)r;
		off += (uint64_t)r;
		while (cnt > 0 && (size_t)r >= iov->iov_len) {
			r -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0 && r) {
			iov->iov_base = (uint8_t *)iov->iov_base + r;
			iov->iov_len -= (size_t)r;
		}
	}
	return sync_after ? scsi_lun_flush(l) : 0;
}

int scsi_lun_flush(struct scsi_lun *l)
{
	return fdatasync(l->fd) < 0 ? -errno : 0;
}

int scsi_lun_discard(struct scsi_lun *l, uint64_t off, uint64_t len)
{
	int ret;

	if (l->blockdev) {
		uint64_t range[2] = { off, len };

		ret = ioctl(l->fd, BLKDISCARD, range);
	} else {
		ret = fallocate(l->fd,
				FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				(off_t)off, (off_t)len);
	}
	if (ret < 0 && (errno == EOPNOTSUPP || errno == ENOTTY))
		return -EOPNOTSUPP;
	return ret < 0 ? -errno : 0;
}

int scsi_lun_write_repeat(struct scsi_lun *l, uint64_t off, uint64_t len,
			  const uint8_t *buf, size_t buflen)
{
	while (len) {
		size_t n = len < buflen ? (size_t)len : buflen;
		ssize_t r = pwrite(l->fd, buf, n, (off_t)off);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EIO;
		/* @buf repeats the block, so a short write resumes at any
		 * block boundary; keep whole blocks by retrying the rest. */
		len -= (uint64_t)r;
		off += (uint64_t)r;
		if ((size_t)r != n) {
			struct iovec v = { (void *)(buf + r), n - (size_t)r };
			int ret = scsi_lun_rw(l, true, off, &v, 1, v.iov_len,
					      false);

			if (ret < 0)
				return ret;
			len -= n - (size_t)r;
			off += n - (size_t)r;
		}
	}
	return 0;
}

int scsi_lun_write_zeroes(struct scsi_lun *l, uint64_t off, uint64_t len)
{
	int ret;

	if (l->blockdev) {
		uint64_t range[2] = { off, len };

		ret = ioctl(l->fd, BLKZEROOUT, range);
	} else {
		ret = fallocate(l->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
				(off_t)off, (off_t)len);
	}
	if (ret == 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != ENOTTY && errno != EINVAL)
		return -errno;
	{
		static const uint8_t zero[4096];

		return scsi_lun_write_repeat(l, off, len, zero, sizeof(zero));
	}
}
