/* SPDX-License-Identifier: BSD-3-Clause */
/* Bounded copies between iovecs and flat buffers (virtio/iov.h). */
#include <stdint.h>
#include <string.h>
#include <virtio/iov.h>

size_t vdev_iov_size(const struct iovec *iov, unsigned cnt)
{
	size_t total = 0;

	for (unsigned i = 0; i < cnt; i++) {
		if (iov[i].iov_len > SIZE_MAX - total)
			return SIZE_MAX;
		total += iov[i].iov_len;
	}
	return total;
}

/*
 * The one walk all three copies share: calls @fn on each piece of the
 * byte range [skip, skip + len) of the iovecs, with the piece's offset in
 * that range. Returns the bytes covered.
 */
static size_t walk(const struct iovec *iov, unsigned cnt, size_t skip,
		   size_t len,
		   void (*fn)(void *dst, size_t off, size_t n, void *arg),
		   void *arg)
{
	size_t done = 0;

	for (unsigned i = 0; i < cnt && done < len; i++) {
		size_t l = iov[i].iov_len, n;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		n = l - skip;
		if (n > len - done)
			n = len - done;
		fn((uint8_t *)iov[i].iov_base + skip, done, n, arg);
		done += n;
		skip = 0;
	}
	return done;
}

static void to_buf(void *piece, size_t off, size_t n, void *buf)
{
	memcpy((uint8_t *)buf + off, piece, n);
}

static void from_buf(void *piece, size_t off, size_t n, void *buf)
{
	memcpy(piece, (const uint8_t *)buf + off, n);
}

static void fill(void *piece, size_t off, size_t n, void *c)
{
	memset(piece, *(const int *)c, n);
}

size_t vdev_iov_to_buf(const struct iovec *iov, unsigned cnt, size_t skip,
		       void *buf, size_t len)
{
	return walk(iov, cnt, skip, len, to_buf, buf);
}

size_t vdev_iov_from_buf(const struct iovec *iov, unsigned cnt, size_t skip,
			 const void *buf, size_t len)
{
	return walk(iov, cnt, skip, len, from_buf, (void *)buf);
}

size_t vdev_iov_memset(const struct iovec *iov, unsigned cnt, size_t skip,
		       int c, size_t len)
{
	return walk(iov, cnt, skip, len, fill, &c);
}
