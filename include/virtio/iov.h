/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Copying between a request's iovecs (guest memory) and a flat buffer.
 *
 * Device models parse headers and write status bytes that may sit anywhere
 * in a chain: split across descriptors, or sharing one with data. These
 * helpers never read or write past the iovecs and report how much they
 * moved, so a short chain shows up as a short count rather than an
 * out-of-bounds access. Guest memory may change under the device while it
 * copies (a hostile driver): copy a header once, then validate the copy.
 */
#ifndef VIRTIO_IOV_H
#define VIRTIO_IOV_H

#include <stddef.h>
#include <sys/uio.h>
#include <virtio/api.h>

VDEV_BEGIN_DECLS

/* Total bytes of @cnt iovecs (saturates at SIZE_MAX). */
VDEV_API size_t vdev_iov_size(const struct iovec *iov, unsigned cnt);

/*
 * Copies up to @len bytes starting @skip bytes into @iov to @buf. Returns
 * the number of bytes copied (less than @len when the iovecs end first).
 */
VDEV_API size_t vdev_iov_to_buf(const struct iovec *iov, unsigned cnt,
				size_t skip, void *buf, size_t len);

/* Copies up to @len bytes of @buf into @iov starting @skip bytes in.
 * Returns the number of bytes copied. */
VDEV_API size_t vdev_iov_from_buf(const struct iovec *iov, unsigned cnt,
				  size_t skip, const void *buf, size_t len);

/* Fills @len bytes of @iov with @c starting @skip bytes in. Returns the
 * number of bytes written. */
VDEV_API size_t vdev_iov_memset(const struct iovec *iov, unsigned cnt,
				size_t skip, int c, size_t len);

VDEV_END_DECLS

#endif /* VIRTIO_IOV_H */
