/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The file backend: playback into a file, capture from one, paced by the
 * device's clock like the null backend, so tests compare bytes exactly.
 * A name ending in ".wav" (any case) is a WAV file: the output gets a
 * header for the stream's parameters (its sizes filled in when the session
 * ends), the input's header is read to find its "data" chunk. Other names
 * are raw frames. Capture past the end of the input reads silence.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <virtio/iov.h>

#include "core/bytes.h"
#include "sound_int.h"

#define WAV_HDR 44u
#define WAV_SCAN_MAX 64u /* chunks looked at before "data" */

struct fileb {
	int fd;
	bool wav;
	bool regular;
	uint64_t data_off;  /* where the frames start */
	uint64_t data_len;  /* input: bytes of frames in the file */
};

static bool is_wav(const char *path)
{
	size_t n = strlen(path);

	return n >= 4 && !strcasecmp(path + n - 4, ".wav");
}

/* The WAV header of a stream with @data bytes of frames. */
static void wav_header(const struct snd_stream *s, uint64_t data,
		       uint8_t *h)
{
	unsigned bps = snd_format_bytes(s->format);
	unsigned tag = 1; /* PCM */
	uint32_t d = data > UINT32_MAX - 36 ? UINT32_MAX - 36 : (uint32_t)data;

	if (s->format == VDEV_SND_FMT_FLOAT || s->format == VDEV_SND_FMT_FLOAT64)
		tag = 3;
	else if (s->format == VDEV_SND_FMT_A_LAW)
		tag = 6;
	else if (s->format == VDEV_SND_FMT_MU_LAW)
		tag = 7;
	memcpy(h, "RIFF", 4);
	put_le32(h + 4, 36 + d);
	memcpy(h + 8, "WAVEfmt ", 8);
	put_le32(h + 16, 16);
	h[20] = (uint8_t)tag;
	h[21] = 0;
	h[22] = s->channels;
	h[23] = 0;
	put_le32(h + 24, s->rate_hz);
	put_le32(h + 28, s->rate_hz * s->frame_bytes);
	h[32] = (uint8_t)s->frame_bytes;
	h[33] = (uint8_t)(s->frame_bytes >> 8);
	h[34] = (uint8_t)(bps * 8);
	h[35] = 0;
	memcpy(h + 36, "data", 4);
	put_le32(h + 40, d);
}

/* Finds the "data" chunk of a WAV input. -EINVAL: not a WAV file. */
static int wav_find_data(struct fileb *f)
{
	uint8_t h[12];
	uint64_t off = 12;

	if (pread(f->fd, h, 12, 0) != 12 || memcmp(h, "RIFF", 4) ||
	    memcmp(h + 8, "WAVE", 4))
		return -EINVAL;
	for (unsigned i = 0; i < WAV_SCAN_MAX; i++) {
		uint32_t len;

		if (pread(f->fd, h, 8, (off_t)off) != 8)
			return -EINVAL;
		len = get_le32(h + 4);
		if (!memcmp(h, "data", 4)) {
			f->data_off = off + 8;
			f->data_len = len;
			return 0;
		}
		off += 8 + (uint64_t)len + (len & 1);
	}
	return -EINVAL;
}

static int file_open(struct snd_stream *s)
{
	bool out = s->info.direction == VDEV_SND_D_OUTPUT;
	const char *path = out ? s->snd->out_path : s->snd->in_path;
	struct fileb *f = calloc(1, sizeof(*f));
	struct stat st;
	int flags = O_CLOEXEC | O_NONBLOCK;
	int err;

	if (!f)
		return -ENOMEM;
	if (!s->resume)
		s->be_bytes = 0;
	f->wav = is_wav(path);
	if (out)
		flags |= O_WRONLY | O_CREAT | (s->resume ? 0 : O_TRUNC);
	else
		flags |= O_RDONLY;
	f->fd = open(path, flags, 0644);
	if (f->fd < 0 || fstat(f->fd, &st) < 0)
		goto fail;
	f->regular = S_ISREG(st.st_mode);
	if (out) {
		if (f->wav && f->regular) {
			uint8_t h[WAV_HDR];

			wav_header(s, s->be_bytes, h);
			if (pwrite(f->fd, h, sizeof(h), 0) != sizeof(h))
				goto fail;
			f->data_off = WAV_HDR;
		}
	} else if (f->wav && f->regular) {
		if (wav_find_data(f) < 0) {
			errno = EINVAL;
			goto fail;
		}
	} else {
		f->data_len = f->regular ? (uint64_t)st.st_size : UINT64_MAX;
	}
	s->be_priv = f;
	s->poll_fd = f->regular ? -1 : f->fd;
	s->poll_events = 0;
	return 0;
fail:
	err = errno;
	vdev_log(VDEV_LOG_WARN, "sound: stream %u: %s: %s", s->id, path,
		 strerror(err));
	if (f->fd >= 0)
		close(f->fd);
	free(f);
	return -err;
}

static void file_close(struct snd_stream *s)
{
	struct fileb *f = s->be_priv;

	if (!f)
		return;
	snd_unwatch_poll(s);
	if (f->wav && f->regular && s->info.direction == VDEV_SND_D_OUTPUT) {
		uint8_t h[WAV_HDR];

		wav_header(s, s->be_bytes, h);
		if (pwrite(f->fd, h, sizeof(h), 0) != sizeof(h))
			vdev_log(VDEV_LOG_WARN, "sound: WAV header: %s",
				 strerror(errno));
	}
	close(f->fd);
	free(f);
	s->be_priv = NULL;
	s->poll_fd = -1;
}

static long file_io(struct snd_stream *s, const struct iovec *iov,
		    unsigned n, size_t off, size_t len)
{
	struct fileb *f = s->be_priv;
	bool out = s->info.direction == VDEV_SND_D_OUTPUT;
	size_t done = 0;

	/* Walk to @off, then one system call per iovec piece. */
	for (unsigned i = 0; i < n && done < len; i++) {
		size_t l = iov[i].iov_len;
		uint8_t *b = iov[i].iov_base;
		ssize_t r;

		if (off >= l) {
			off -= l;
			continue;
		}
		b += off;
		l -= off;
		off = 0;
		if (l > len - done)
			l = len - done;
		do {
			if (out) {
				r = f->regular ? pwrite(f->fd, b, l,
							(off_t)(f->data_off +
								s->be_bytes))
					       : write(f->fd, b, l);
			} else if (f->regular) {
				uint64_t pos = s->be_bytes;
				size_t have = pos >= f->data_len ? 0 :
					      f->data_len - pos < l ?
						      (size_t)(f->data_len - pos) : l;

				r = have ? pread(f->fd, b, have,
						 (off_t)(f->data_off + pos)) : 0;
				if (r >= 0 && (size_t)r < l) {
					/* Past the end (or a file that shrank):
					 * silence. */
					memset(b + r, 0, l - (size_t)r);
					r = (ssize_t)l;
				}
			} else {
				r = read(f->fd, b, l);
				if (r == 0) {
					memset(b, 0, l);
					r = (ssize_t)l;
				}
			}
		} while (r < 0 && errno == EINTR);
		if (r < 0) {
			if (errno == EAGAIN && !done) {
				s->poll_events = out ? POLLOUT : POLLIN;
				return -EAGAIN;
			}
			if (done)
				break;
			return -errno;
		}
		done += (size_t)r;
		s->be_bytes += (uint64_t)r;
		if ((size_t)r < l)
			break;
	}
	return (long)done;
}

const struct snd_backend_ops snd_be_file = {
	.open = file_open,
	.close = file_close,
	.io = file_io,
};
