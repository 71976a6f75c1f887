/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The daemon table at the sizes its program was compiled with (api.h,
 * docs/abi.md): struct vdev_daemon and each entry of its options array
 * are read up to the caller's sizes and copied into this library's
 * layout, the fields the program did not know left zero.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "../core/sized.h" /* shared with libvdev, not exported */
#include "daemon_internal.h"

/* More options than any daemon has: a table without its NULL name at the
 * end is refused rather than read on. */
#define MAX_OPTIONS 256

int vdd_daemon_in(const struct vdev_daemon *d, size_t dsize, size_t osize,
		  struct vdev_daemon *c, struct vdev_daemon_option **opts)
{
	const unsigned char *o;
	size_t n = 0;

	*opts = NULL;
	if (!VSIZED_IN(*c, d, dsize))
		return -EINVAL;
	if (!c->options)
		return 0;
	/* The entries are the caller's size apart; each starts with its
	 * name, NULL in the last. */
	if (osize < sizeof(const char *))
		return -EINVAL;
	o = (const unsigned char *)c->options;
	while (*(const char *const *)(const void *)(o + n * osize)) {
		if (++n >= MAX_OPTIONS)
			return -EINVAL;
	}
	*opts = vsized_array(o, n + 1, osize, sizeof(**opts));
	if (!*opts)
		return -errno;
	c->options = *opts;
	return 0;
}
