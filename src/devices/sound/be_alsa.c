/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The ALSA backend: any PCM name ("default", "hw:0,0", a "file" or "null"
 * plugin of an asoundrc), opened non-blocking. The device's clock still
 * paces completions (alsa-lib's null and file PCMs take everything at
 * once); playback frames go to the PCM up to two periods (three when its
 * buffer holds four) before they are due, so a real sound card does not
 * underrun between two wakeups, and the PCM is waited for on its poll fd
 * (POLLOUT / POLLIN) when it is full or empty. An underrun or overrun of
 * the PCM is recovered from (snd_pcm_recover) and reported to the driver
 * as PCM_XRUN. After an underrun, silence (the lead less a period) goes
 * before the frames that came late: the PCM restarts with them, and
 * without it would hold a period where it held the lead, for the rest of
 * the stream, running dry at every period boundary where its clock moves
 * in whole periods (snd-aloop on a 100 Hz jiffies timer: an xrun every
 * period, from one late wakeup on).
 */
#include <alsa/asoundlib.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <virtio/iov.h>

#include "sound_int.h"

struct alsab {
	snd_pcm_t *pcm;
	uint8_t *bounce; /* one buffer's frames, contiguous */
	size_t bounce_len;
	uint8_t *silence; /* the lead less a period, silent (playback) */
	snd_pcm_uframes_t silence_frames;
};

static int alsa_format(unsigned f, snd_pcm_format_t *out)
{
	static const struct {
		unsigned v;
		snd_pcm_format_t a;
	} map[] = {
		{ VDEV_SND_FMT_MU_LAW, SND_PCM_FORMAT_MU_LAW },
		{ VDEV_SND_FMT_A_LAW, SND_PCM_FORMAT_A_LAW },
		{ VDEV_SND_FMT_S8, SND_PCM_FORMAT_S8 },
		{ VDEV_SND_FMT_U8, SND_PCM_FORMAT_U8 },
		{ VDEV_SND_FMT_S16, SND_PCM_FORMAT_S16_LE },
		{ VDEV_SND_FMT_U16, SND_PCM_FORMAT_U16_LE },
		{ VDEV_SND_FMT_S18_3, SND_PCM_FORMAT_S18_3LE },
		{ VDEV_SND_FMT_U18_3, SND_PCM_FORMAT_U18_3LE },
		{ VDEV_SND_FMT_S20_3, SND_PCM_FORMAT_S20_3LE },
		{ VDEV_SND_FMT_U20_3, SND_PCM_FORMAT_U20_3LE },
		{ VDEV_SND_FMT_S24_3, SND_PCM_FORMAT_S24_3LE },
		{ VDEV_SND_FMT_U24_3, SND_PCM_FORMAT_U24_3LE },
		{ VDEV_SND_FMT_S20, SND_PCM_FORMAT_S20_LE },
		{ VDEV_SND_FMT_U20, SND_PCM_FORMAT_U20_LE },
		{ VDEV_SND_FMT_S24, SND_PCM_FORMAT_S24_LE },
		{ VDEV_SND_FMT_U24, SND_PCM_FORMAT_U24_LE },
		{ VDEV_SND_FMT_S32, SND_PCM_FORMAT_S32_LE },
		{ VDEV_SND_FMT_U32, SND_PCM_FORMAT_U32_LE },
		{ VDEV_SND_FMT_FLOAT, SND_PCM_FORMAT_FLOAT_LE },
		{ VDEV_SND_FMT_FLOAT64, SND_PCM_FORMAT_FLOAT64_LE },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].v == f) {
			*out = map[i].a;
			return 0;
		}
	return -EINVAL;
}

static int setup(struct snd_stream *s, snd_pcm_t *pcm)
{
	snd_pcm_uframes_t period = s->period_bytes / s->frame_bytes;
	snd_pcm_uframes_t buffer = s->buffer_bytes / s->frame_bytes;
	snd_pcm_hw_params_t *hw;
	snd_pcm_sw_params_t *sw;
	snd_pcm_format_t fmt;
	int err;

	if (alsa_format(s->format, &fmt) < 0)
		return -EINVAL;
	if (buffer < 2 * period)
		buffer = 2 * period; /* room for the lead below */
	snd_pcm_hw_params_alloca(&hw);
	snd_pcm_sw_params_alloca(&sw);
	if ((err = snd_pcm_hw_params_any(pcm, hw)) < 0 ||
	    (err = snd_pcm_hw_params_set_access(
		     pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED)) < 0 ||
	    (err = snd_pcm_hw_params_set_format(pcm, hw, fmt)) < 0 ||
	    (err = snd_pcm_hw_params_set_channels(pcm, hw, s->channels)) < 0 ||
	    (err = snd_pcm_hw_params_set_rate(pcm, hw, s->rate_hz, 0)) < 0 ||
	    (err = snd_pcm_hw_params_set_period_size_near(pcm, hw, &period,
							  NULL)) < 0 ||
	    (err = snd_pcm_hw_params_set_buffer_size_near(pcm, hw,
							  &buffer)) < 0 ||
	    (err = snd_pcm_hw_params(pcm, hw)) < 0)
		return err;
	if ((err = snd_pcm_sw_params_current(pcm, sw)) < 0 ||
	    (err = snd_pcm_sw_params_set_avail_min(pcm, sw, 1)) < 0 ||
	    (err = snd_pcm_sw_params_set_start_threshold(pcm, sw, 1)) < 0 ||
	    (err = snd_pcm_sw_params(pcm, sw)) < 0)
		return err;
	/* What ALSA holds may reach two periods before they are due, three
	 * where its buffer has room for four: a PCM whose clock moves in
	 * whole periods (snd-aloop on jiffies) can start up to a period
	 * ahead of ours, and two periods then leave no margin at all. */
	s->lead_ns = s->info.direction == VDEV_SND_D_OUTPUT ?
			     (uint64_t)(buffer >= 4 * period ? 3 : 2) *
				     period * 1000000000ull / s->rate_hz :
			     0;
	if ((uint64_t)period * 2 > buffer)
		s->lead_ns /= 2;
	return 0;
}

static int alsa_open(struct snd_stream *s)
{
	bool out = s->info.direction == VDEV_SND_D_OUTPUT;
	struct alsab *a = calloc(1, sizeof(*a));
	struct pollfd pfd;
	int err;

	if (!a)
		return -ENOMEM;
	if (!s->resume)
		s->be_bytes = 0;
	a->bounce_len = s->buffer_bytes;
	a->bounce = malloc(a->bounce_len);
	if (!a->bounce) {
		free(a);
		return -ENOMEM;
	}
	err = snd_pcm_open(&a->pcm, s->snd->alsa_device,
			   out ? SND_PCM_STREAM_PLAYBACK :
				 SND_PCM_STREAM_CAPTURE,
			   SND_PCM_NONBLOCK);
	if (err < 0)
		goto fail;
	err = setup(s, a->pcm);
	if (err < 0)
		goto fail_pcm;
	if (out) {
		/* The lead less the period written after it, in frames. */
		uint64_t lead = (s->lead_ns * s->rate_hz + 500000000ull) /
				1000000000ull;
		uint64_t period = s->period_bytes / s->frame_bytes;
		snd_pcm_format_t fmt = SND_PCM_FORMAT_UNKNOWN;

		alsa_format(s->format, &fmt); /* setup() checked it */
		a->silence_frames = lead > period ? lead - period : 0;
		if (a->silence_frames) {
			a->silence = malloc(a->silence_frames * s->frame_bytes);
			if (!a->silence) {
				err = -ENOMEM;
				goto fail_pcm;
			}
			snd_pcm_format_set_silence(
				fmt, a->silence,
				(unsigned)(a->silence_frames * s->channels));
		}
	}
	err = snd_pcm_prepare(a->pcm);
	if (err < 0)
		goto fail_pcm;
	/* One poll fd (hw, plugins over hw, null, file): watched on the
	 * event loop. Several: the device's timer retries instead. */
	s->poll_fd = -1;
	if (snd_pcm_poll_descriptors_count(a->pcm) == 1 &&
	    snd_pcm_poll_descriptors(a->pcm, &pfd, 1) == 1)
		s->poll_fd = pfd.fd;
	s->poll_events = 0;
	s->be_priv = a;
	return 0;
fail_pcm:
	snd_pcm_close(a->pcm);
fail:
	vdev_log(VDEV_LOG_WARN, "sound: stream %u: ALSA %s: %s", s->id,
		 s->snd->alsa_device, snd_strerror(err));
	free(a->silence);
	free(a->bounce);
	free(a);
	return err < 0 ? err : -EIO;
}

static void alsa_close(struct snd_stream *s)
{
	struct alsab *a = s->be_priv;

	if (!a)
		return;
	snd_unwatch_poll(s);
	if (s->info.direction == VDEV_SND_D_OUTPUT)
		snd_pcm_drain(a->pcm); /* non-blocking: what is queued */
	snd_pcm_close(a->pcm);
	free(a->silence);
	free(a->bounce);
	free(a);
	s->be_priv = NULL;
	s->poll_fd = -1;
}

static int alsa_start(struct snd_stream *s)
{
	struct alsab *a = s->be_priv;
	snd_pcm_state_t st = snd_pcm_state(a->pcm);

	if (st != SND_PCM_STATE_PREPARED && st != SND_PCM_STATE_RUNNING) {
		int err = snd_pcm_prepare(a->pcm);

		if (err < 0)
			return err;
	}
	/* Playback starts with its first frames (start threshold 1). */
	if (s->info.direction == VDEV_SND_D_INPUT &&
	    snd_pcm_state(a->pcm) != SND_PCM_STATE_RUNNING)
		return snd_pcm_start(a->pcm);
	return 0;
}

static void alsa_stop(struct snd_stream *s)
{
	struct alsab *a = s->be_priv;

	snd_pcm_drop(a->pcm);
}

static void xrun(struct snd_stream *s, struct alsab *a, int err)
{
	if (s->features & (1u << SND_PCM_F_EVT_XRUNS))
		snd_event(s->snd, SND_EVT_PCM_XRUN, s->id);
	if (snd_pcm_recover(a->pcm, err, 1) < 0)
		return;
	if (s->info.direction == VDEV_SND_D_INPUT)
		snd_pcm_start(a->pcm);
	else if (a->silence)
		snd_pcm_writei(a->pcm, a->silence, a->silence_frames);
}

static long alsa_io(struct snd_stream *s, const struct iovec *iov,
		    unsigned n, size_t off, size_t len)
{
	struct alsab *a = s->be_priv;
	bool out = s->info.direction == VDEV_SND_D_OUTPUT;
	snd_pcm_sframes_t r;
	size_t frames;

	if (len > a->bounce_len)
		len = a->bounce_len;
	frames = len / s->frame_bytes;
	if (!frames)
		return -EIO; /* take() keeps buffers to whole frames */
	for (int tries = 0; tries < 2; tries++) {
		if (out) {
			vdev_iov_to_buf(iov, n, off, a->bounce,
					frames * s->frame_bytes);
			r = snd_pcm_writei(a->pcm, a->bounce, frames);
		} else {
			r = snd_pcm_readi(a->pcm, a->bounce, frames);
		}
		if (r == -EPIPE || r == -ESTRPIPE) {
			xrun(s, a, (int)r);
			continue;
		}
		break;
	}
	if (r == -EAGAIN || r == 0) {
		s->poll_events = out ? POLLOUT : POLLIN;
		return -EAGAIN;
	}
	if (r < 0)
		return (long)r;
	if (!out)
		vdev_iov_from_buf(iov, n, off, a->bounce,
				  (size_t)r * s->frame_bytes);
	s->be_bytes += (uint64_t)r * s->frame_bytes;
	return (long)((size_t)r * s->frame_bytes);
}

static uint32_t alsa_delay(struct snd_stream *s)
{
	struct alsab *a = s->be_priv;
	snd_pcm_sframes_t d;

	if (snd_pcm_delay(a->pcm, &d) < 0 || d <= 0)
		return 0;
	return (uint32_t)d * s->frame_bytes;
}

const struct snd_backend_ops snd_be_alsa = {
	.open = alsa_open,
	.close = alsa_close,
	.start = alsa_start,
	.stop = alsa_stop,
	.io = alsa_io,
	.delay = alsa_delay,
};
