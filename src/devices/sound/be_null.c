/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The null backend: playback is discarded, capture is silence. The pacing
 * is the device's own clock (sound_io.c), so a guest sees a sound card
 * that runs at its rate.
 */
#include <stdint.h>
#include <virtio/iov.h>

#include "sound_int.h"

static int null_open(struct snd_stream *s)
{
	if (!s->resume)
		s->be_bytes = 0;
	s->poll_fd = -1;
	return 0;
}

static void null_close(struct snd_stream *s)
{
	(void)s;
}

static long null_io(struct snd_stream *s, const struct iovec *iov,
		    unsigned n, size_t off, size_t len)
{
	if (s->info.direction == VDEV_SND_D_INPUT)
		vdev_iov_memset(iov, n, off, 0, len);
	s->be_bytes += len;
	return (long)len;
}

const struct snd_backend_ops snd_be_null = {
	.open = null_open,
	.close = null_close,
	.io = null_io,
};
