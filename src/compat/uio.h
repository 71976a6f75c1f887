/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * preadv2/pwritev2 and the RWF_* flags where the C library lacks them
 * (musl 1.2.3, Debian 12's, has neither): the system calls themselves,
 * with glibc's fallbacks, so callers see the same errors with either
 * library: without the system call (Linux < 4.6) a transfer without flags
 * is a plain preadv/pwritev, and one with flags fails with EOPNOTSUPP.
 */
#ifndef VDEV_COMPAT_UIO_H
#define VDEV_COMPAT_UIO_H

#include <errno.h>
#include <sys/uio.h>

#include "vdev_build_config.h"

#if !VDEV_HAVE_PREADV2
#include <linux/fs.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The kernel takes the offset as two longs, low half first; a 64-bit
 * kernel ignores the high one. */
#define VDEV_COMPAT_POS(off)                                                  \
	(long)(off), (long)((unsigned long long)(off) >> 32)

static inline ssize_t preadv2(int fd, const struct iovec *iov, int cnt,
			      off_t off, int flags)
{
	long r = syscall(SYS_preadv2, fd, iov, cnt, VDEV_COMPAT_POS(off),
			 flags);

	if (r < 0 && errno == ENOSYS) {
		if (!flags)
			return preadv(fd, iov, cnt, off);
		errno = EOPNOTSUPP;
	}
	return r;
}

static inline ssize_t pwritev2(int fd, const struct iovec *iov, int cnt,
			       off_t off, int flags)
{
	long r = syscall(SYS_pwritev2, fd, iov, cnt, VDEV_COMPAT_POS(off),
			 flags);

	if (r < 0 && errno == ENOSYS) {
		if (!flags)
			return pwritev(fd, iov, cnt, off);
		errno = EOPNOTSUPP;
	}
	return r;
}
#endif

#endif /* VDEV_COMPAT_UIO_H */
