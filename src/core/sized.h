/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Structs a caller fills in, read at the size the caller compiled them
 * (api.h, docs/abi.md): the first @usize bytes are the caller's, the
 * fields beyond are zero (their default), and a caller built against a
 * newer libvdev whose struct is larger is refused (EINVAL) when it set
 * anything this library does not know. Static inline: libvdev and
 * libvdev-daemon both use it and neither exports it.
 */
#ifndef VDEV_CORE_SIZED_H
#define VDEV_CORE_SIZED_H

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* 0, or -EINVAL: @usize 0, or larger than @dsize with a byte beyond
 * @dsize that is not zero. */
static inline int vsized_copy(void *dst, size_t dsize, const void *src,
			      size_t usize)
{
	const unsigned char *tail = (const unsigned char *)src + dsize;

	if (!usize)
		return -EINVAL;
	for (size_t i = 0; usize > dsize && i < usize - dsize; i++)
		if (tail[i])
			return -EINVAL;
	memset(dst, 0, dsize);
	memcpy(dst, src, usize < dsize ? usize : dsize);
	return 0;
}

/*
 * The caller's struct @src of @usize bytes in this library's layout, in
 * @copy (a local of the library's type): &copy, or NULL when @src is
 * NULL (errno untouched) or refused (errno EINVAL).
 */
static inline void *vsized_in(void *copy, size_t dsize, const void *src,
			      size_t usize)
{
	if (!src)
		return NULL;
	if (vsized_copy(copy, dsize, src, usize)) {
		errno = EINVAL;
		return NULL;
	}
	return copy;
}
#define VSIZED_IN(copy, src, usize)                                         \
	vsized_in(&(copy), sizeof(copy), (src), (usize))

/* Hands @src (@ssize bytes, ours) to a caller's struct of @usize bytes:
 * what it has room for, and zeros in what it has beyond ours. */
static inline void vsized_out(void *dst, size_t usize, const void *src,
			      size_t ssize)
{
	memset(dst, 0, usize);
	memcpy(dst, src, usize < ssize ? usize : ssize);
}

/*
 * @n elements of @esize bytes each (the caller's array) in this library's
 * layout of @dsize bytes each: a calloc'd copy to free(), or NULL with
 * errno EINVAL (a refused element) or ENOMEM. @n 0 or @src NULL: NULL
 * with errno 0.
 */
static inline void *vsized_array(const void *src, size_t n, size_t esize,
				 size_t dsize)
{
	unsigned char *a;

	errno = 0;
	if (!src || !n)
		return NULL;
	a = calloc(n, dsize);
	if (!a) {
		errno = ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (vsized_copy(a + i * dsize, dsize,
				(const unsigned char *)src + i * esize, esize)) {
			free(a);
			errno = EINVAL;
			return NULL;
		}
	}
	return a;
}

#endif /* VDEV_CORE_SIZED_H */
