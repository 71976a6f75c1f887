/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-sound (virtio 1.2 section 5.14): the device, its queues' glue,
 * reset and save/restore. Requests: sound_ctl.c; I/O and events:
 * sound_io.c; backends: be_*.c.
 *
 * One mutex (snd->lock) guards the streams, the event ring and the free
 * list; it is taken inside the core's queue locks, and nothing that takes
 * a queue lock is called with it held (vdev_queue_schedule takes none).
 * Each queue pushes only its own buffers: a RELEASE waiting for I/O is
 * answered by the control queue after the data queue returned the I/O.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>
#include <virtio/iov.h>
#include <virtio/state.h>

#include "core/bytes.h"
#include "sound_int.h"
#include "vdev_build_config.h"
#include "core/sized.h"

#define SND_STATE_VERSION 1u
#define SND_TAG VDEV_STATE_TAG('S', 'N', 'D', '0')
/* Control values: per stream vol[18], on[18]. */
#define SND_CTL_TAG VDEV_STATE_TAG('S', 'N', 'D', 'C')
#define CTL_REC (2u * VDEV_SOUND_MAX_CHANNELS)
#define SND_CTL_IOV 8
/* Longest request read: CTL_WRITE, a header and a value. */
#define SND_CTL_REQ_MAX (SND_CTL_HDR_LEN + SND_CTL_VALUE_LEN)

static const struct vdev_sound_stream default_streams[] = {
	{ .direction = VDEV_SND_D_OUTPUT },
	{ .direction = VDEV_SND_D_INPUT },
};

/* Answers RELEASEs whose I/O came back (control queue's thread). */
static bool finish_releases(struct snd_dev *snd, struct vdev_queue *q)
{
	bool pushed = false;

	for (unsigned i = 0; i < snd->nstreams; i++) {
		struct snd_stream *s = &snd->streams[i];
		uint8_t st[SND_HDR_LEN] = { SND_S_OK & 0xff, SND_S_OK >> 8 };

		if (!s->releasing || !s->release_ready)
			continue;
		vdev_iov_from_buf(s->release_req.in, s->release_req.nin, 0, st,
				  sizeof(st));
		vdev_queue_push(q, &s->release_req, SND_HDR_LEN);
		snd_release_done(s);
		pushed = true;
	}
	return pushed;
}

static void ctl_handle(struct snd_dev *snd, struct vdev_queue *q)
{
	struct iovec iov[SND_CTL_IOV];
	struct vdev_req req = { .iov = iov, .iov_max = SND_CTL_IOV };
	bool pushed = finish_releases(snd, q);

	for (;;) {
		uint8_t buf[SND_CTL_REQ_MAX], resp[SND_HDR_LEN];
		uint32_t len, n;
		bool deferred;
		int ret = vdev_queue_pop(q, &req);

		if (ret == -EMSGSIZE) {
			pushed = true;
			continue;
		}
		if (ret < 0)
			break;
		/* Read once into private memory; the rest is validated
		 * there. */
		len = (uint32_t)vdev_iov_to_buf(req.out, req.nout, 0, buf,
						sizeof(buf));
		n = snd_ctl_request(snd, &req, buf, len, resp,
				    req.in_bytes, &deferred);
		if (deferred)
			continue;
		if (n)
			vdev_iov_from_buf(req.in, req.nin, 0, resp, sizeof(resp));
		vdev_queue_push(q, &req, n);
		pushed = true;
	}
	if (pushed)
		vdev_queue_notify(q);
}

static void snd_handle(struct vdev *dev, unsigned qidx, struct vdev_queue *q)
{
	struct snd_dev *snd = vdev_priv(dev);

	pthread_mutex_lock(&snd->lock);
	switch (qidx) {
	case SND_Q_CTL:
		ctl_handle(snd, q);
		break;
	case SND_Q_EVT:
		snd_evt_handle(snd, q);
		break;
	default:
		snd_io_handle(snd, qidx, q);
		break;
	}
	pthread_mutex_unlock(&snd->lock);
}

/*
 * A queue stops (GET_VRING_BASE, migration, reset): what it holds goes
 * back now. Playback buffers are handed to the backend first (a sink that
 * would block loses them), so a stop costs timing, not audio.
 */
static void snd_drain(struct vdev *dev, unsigned qidx, struct vdev_queue *q)
{
	struct snd_dev *snd = vdev_priv(dev);
	bool pushed = false;

	pthread_mutex_lock(&snd->lock);
	if (qidx == SND_Q_CTL) {
		for (unsigned i = 0; i < snd->nstreams; i++)
			if (snd->streams[i].releasing)
				snd->streams[i].release_ready = true;
		pushed = finish_releases(snd, q);
	} else if (qidx != SND_Q_EVT) {
		for (unsigned i = 0; i < snd->nstreams; i++) {
			struct snd_stream *s = &snd->streams[i];

			if (s->qidx != qidx || !s->head)
				continue;
			for (struct snd_io *io = s->head;
			     io && s->be_open && s->info.direction ==
						  VDEV_SND_D_OUTPUT;
			     io = io->next) {
				long r = 1;

				while (io->done < io->len && r > 0) {
					r = snd_be_io(s, io);
					if (r > 0)
						io->done += (uint32_t)r;
				}
				if (r <= 0)
					break;
			}
			snd_io_flush(s, q, SND_S_OK);
			snd_timer_disarm(s);
			if (s->releasing) {
				s->release_ready = true;
				vdev_queue_schedule(dev, SND_Q_CTL);
			}
			pushed = true;
		}
	}
	pthread_mutex_unlock(&snd->lock);
	if (pushed)
		vdev_queue_notify(q);
}

static void stream_reset(struct snd_stream *s)
{
	struct snd_dev *snd = s->snd;
	struct vdev_queue *q = vdev_get_queue(snd->dev, s->qidx);

	snd_io_flush(s, q, SND_S_IO_ERR);
	snd_timer_disarm(s);
	snd_unwatch_poll(s);
	if (s->releasing)
		vdev_queue_push(vdev_get_queue(snd->dev, SND_Q_CTL),
				&s->release_req, 0);
	if (s->be_open)
		s->be->close(s);
	s->be_open = false;
	s->releasing = false;
	s->release_ready = false;
	s->state = SND_ST_INIT;
	s->have_params = false;
	s->period_acc = 0;
	snd_kctl_defaults(s);
}

static void snd_reset(struct vdev *dev)
{
	struct snd_dev *snd = vdev_priv(dev);

	pthread_mutex_lock(&snd->lock);
	for (unsigned i = 0; i < snd->nstreams; i++)
		stream_reset(&snd->streams[i]);
	snd->evq_count = 0;
	snd->evq_head = 0;
	for (unsigned i = 0; i < snd->nstreams; i++)
		snd->streams[i].period_evt_queued = false;
	pthread_mutex_unlock(&snd->lock);
}

/*
 * State: per stream 28 bytes {u8 state, u8 have_params, u8 channels, u8
 * format, u8 rate, u8 pad[3], le32 buffer_bytes, le32 period_bytes, le32
 * features, le64 bytes of the session the backend saw}, then per jack 12
 * bytes {u8 connected, u8 pad[3], le32 association, le32 sequence}.
 */
#define STREAM_REC 32u
#define JACK_REC 12u

static int snd_save(struct vdev *dev, struct vdev_state_writer *w)
{
	struct snd_dev *snd = vdev_priv(dev);
	uint8_t b[VDEV_SOUND_MAX_STREAMS * STREAM_REC +
		  VDEV_SOUND_MAX_JACKS * JACK_REC];
	uint8_t *p = b;

	memset(b, 0, sizeof(b));
	pthread_mutex_lock(&snd->lock);
	for (unsigned i = 0; i < snd->nstreams; i++, p += STREAM_REC) {
		const struct snd_stream *s = &snd->streams[i];

		p[0] = (uint8_t)s->state;
		p[1] = s->have_params;
		p[2] = s->channels;
		p[3] = s->format;
		p[4] = s->rate;
		put_le32(p + 8, s->buffer_bytes);
		put_le32(p + 12, s->period_bytes);
		put_le32(p + 16, s->features);
		put_le32(p + 20, (uint32_t)s->be_bytes);
		put_le32(p + 24, (uint32_t)(s->be_bytes >> 32));
	}
	for (unsigned i = 0; i < snd->njacks; i++, p += JACK_REC) {
		p[0] = snd->jacks[i].connected;
		put_le32(p + 4, snd->jacks[i].association);
		put_le32(p + 8, snd->jacks[i].sequence);
	}
	{
		uint8_t c[VDEV_SOUND_MAX_STREAMS * CTL_REC];
		int err;

		for (unsigned i = 0; i < snd->nstreams; i++) {
			memcpy(c + i * CTL_REC, snd->streams[i].vol,
			       VDEV_SOUND_MAX_CHANNELS);
			memcpy(c + i * CTL_REC + VDEV_SOUND_MAX_CHANNELS,
			       snd->streams[i].on, VDEV_SOUND_MAX_CHANNELS);
		}
		pthread_mutex_unlock(&snd->lock);
		err = vdev_state_put(w, SND_TAG, b, (uint32_t)(p - b));
		if (!err && snd->ctls)
			err = vdev_state_put(w, SND_CTL_TAG, c,
					     snd->nstreams * CTL_REC);
		return err;
	}
}

/* Checks a saved stream against what this device offers: a blob from a
 * device with other streams is refused, not half applied. */
static int load_stream(struct snd_stream *s, const uint8_t *p)
{
	unsigned st = p[0];

	if (st > SND_ST_RELEASED || p[1] > 1)
		return -EBADMSG;
	if (!p[1])
		return st == SND_ST_INIT ? 0 : -EBADMSG;
	if (p[3] >= 64 || !(s->info.formats & (UINT64_C(1) << p[3])) ||
	    p[4] >= 64 || !(s->info.rates & (UINT64_C(1) << p[4])) ||
	    p[2] < s->info.channels_min || p[2] > s->info.channels_max)
		return -EBADMSG;
	s->channels = p[2];
	s->format = p[3];
	s->rate = p[4];
	s->frame_bytes = snd_format_bytes(s->format) * s->channels;
	s->rate_hz = snd_rate_hz(s->rate);
	s->buffer_bytes = get_le32(p + 8);
	s->period_bytes = get_le32(p + 12);
	s->features = get_le32(p + 16);
	if (!s->period_bytes || !s->buffer_bytes ||
	    s->period_bytes % s->frame_bytes ||
	    s->buffer_bytes % s->period_bytes ||
	    (s->features & ~SND_PCM_FEATURES) || st == SND_ST_INIT)
		return -EBADMSG;
	s->be_bytes = get_le32(p + 20) | (uint64_t)get_le32(p + 24) << 32;
	s->have_params = true;
	s->state = (enum snd_state)st;
	return 0;
}

static int snd_load(struct vdev *dev, struct vdev_state_reader *r,
		    uint32_t version)
{
	struct snd_dev *snd = vdev_priv(dev);
	const uint8_t *b, *c;
	uint32_t len, clen = 0;
	int err = 0;

	(void)version;
	b = vdev_state_get(r, SND_TAG, &len);
	if (!b)
		return 0; /* nothing saved: every stream starts fresh */
	if (len != snd->nstreams * STREAM_REC + snd->njacks * JACK_REC)
		return -EBADMSG;
	c = vdev_state_get(r, SND_CTL_TAG, &clen);
	if (c && clen != snd->nstreams * CTL_REC)
		return -EBADMSG;
	for (unsigned i = 0; c && i < clen; i++)
		if (c[i] > (i % CTL_REC < VDEV_SOUND_MAX_CHANNELS ? SND_VOL_MAX
								   : 1))
			return -EBADMSG;
	pthread_mutex_lock(&snd->lock);
	for (unsigned i = 0; i < snd->nstreams && !err; i++)
		err = load_stream(&snd->streams[i], b + i * STREAM_REC);
	for (unsigned i = 0; c && i < snd->nstreams; i++) {
		memcpy(snd->streams[i].vol, c + i * CTL_REC,
		       VDEV_SOUND_MAX_CHANNELS);
		memcpy(snd->streams[i].on, c + i * CTL_REC +
			       VDEV_SOUND_MAX_CHANNELS, VDEV_SOUND_MAX_CHANNELS);
	}
	b += snd->nstreams * STREAM_REC;
	for (unsigned i = 0; i < snd->njacks && !err; i++, b += JACK_REC) {
		snd->jacks[i].connected = b[0] != 0;
		snd->jacks[i].association = get_le32(b + 4);
		snd->jacks[i].sequence = get_le32(b + 8);
	}
	/* A session that was open goes on where it was; a running stream
	 * runs again, its clock starting now. */
	for (unsigned i = 0; i < snd->nstreams && !err; i++) {
		struct snd_stream *s = &snd->streams[i];

		if (s->state != SND_ST_PREPARED && s->state != SND_ST_RUNNING &&
		    s->state != SND_ST_STOPPED)
			continue;
		s->resume = true;
		if (s->be->open(s) < 0) {
			err = -EIO;
			break;
		}
		s->resume = false;
		s->be_open = true;
		if (s->state == SND_ST_RUNNING) {
			if (s->be->start && s->be->start(s) < 0) {
				err = -EIO;
				break;
			}
			s->epoch = snd_now(snd);
			s->epoch_bytes = 0;
		}
	}
	if (err)
		for (unsigned i = 0; i < snd->nstreams; i++)
			stream_reset(&snd->streams[i]);
	pthread_mutex_unlock(&snd->lock);
	return err;
}

static int snd_start(struct vdev *dev)
{
	struct snd_dev *snd = vdev_priv(dev);

	/* A restored running stream needs a round to arm its clock. */
	for (unsigned i = 0; i < snd->nstreams; i++)
		if (snd->streams[i].state == SND_ST_RUNNING)
			vdev_queue_schedule(dev, snd->streams[i].qidx);
	return 0;
}

static void snd_destroy(struct vdev *dev)
{
	struct snd_dev *snd = vdev_priv(dev);

#if VDEV_WITH_ALSA_FOUND
	snd_amix_close(snd);
#endif
	for (unsigned i = 0; i < snd->nstreams; i++) {
		struct snd_stream *s = &snd->streams[i];

		snd_unwatch_poll(s);
		if (s->be_open)
			s->be->close(s);
		vdev_unwatch_fd(dev, s->qidx, s->tfd);
		close(s->tfd);
	}
	while (snd->free_io) {
		struct snd_io *io = snd->free_io;

		snd->free_io = io->next;
		free(io);
	}
	pthread_mutex_destroy(&snd->lock);
	free(snd->out_path);
	free(snd->in_path);
	free(snd->alsa_device);
	free(snd);
}

static const struct vdev_ops snd_ops = {
	.start = snd_start,
	.reset = snd_reset,
	.drain = snd_drain,
	.handle = snd_handle,
	.save = snd_save,
	.load = snd_load,
	.destroy = snd_destroy,
};

int vdev_sound_set_jack(struct vdev *dev, unsigned jack, bool connected)
{
	struct snd_dev *snd;

	if (!dev || vdev_get_info(dev)->device_id != VDEV_ID_SOUND)
		return -EINVAL;
	snd = vdev_priv(dev);
	if (jack >= snd->njacks)
		return -EINVAL;
	pthread_mutex_lock(&snd->lock);
	if (snd->jacks[jack].connected != connected) {
		snd->jacks[jack].connected = connected;
		snd_event(snd, connected ? SND_EVT_JACK_CONNECTED :
					   SND_EVT_JACK_DISCONNECTED, jack);
	}
	pthread_mutex_unlock(&snd->lock);
	return 0;
}

int vdev_sound_set_volume(struct vdev *dev, unsigned stream, unsigned percent,
			  bool muted)
{
	struct snd_dev *snd;
	struct snd_stream *s;

	if (!dev || vdev_get_info(dev)->device_id != VDEV_ID_SOUND ||
	    percent > SND_VOL_MAX)
		return -EINVAL;
	snd = vdev_priv(dev);
	if (stream >= snd->nstreams)
		return -EINVAL;
	pthread_mutex_lock(&snd->lock);
	s = &snd->streams[stream];
	/* A control on the mixer: the element is set, software stays at
	 * 100 % and on. */
	if (!s->mixel[0])
		memset(s->vol, (int)percent, sizeof(s->vol));
	if (!s->mixel[1])
		memset(s->on, !muted, sizeof(s->on));
#if VDEV_WITH_ALSA_FOUND
	if (s->mixel[0] || s->mixel[1])
		snd_amix_set(snd, s, percent, muted);
#endif
	/* CTL_NOTIFY {le16 control_id, le16 mask (VALUE)} for both. */
	if (snd->ctls && vdev_has_feature(dev, SND_F_CTLS)) {
		snd_event(snd, SND_EVT_CTL_NOTIFY, 2 * stream | 1u << 16);
		snd_event(snd, SND_EVT_CTL_NOTIFY, (2 * stream + 1) | 1u << 16);
	}
	pthread_mutex_unlock(&snd->lock);
	return 0;
}

int vdev_sound_set_mixer(struct vdev *dev, const char *ctl,
			 const char *playback, const char *capture)
{
	struct snd_dev *snd;
	int err = -EINVAL;

	if (!dev || vdev_get_info(dev)->device_id != VDEV_ID_SOUND)
		return -EINVAL;
	snd = vdev_priv(dev);
#if VDEV_WITH_ALSA_FOUND
	if (snd->nstreams && snd->streams[0].be == &snd_be_alsa &&
	    snd->ctls) {
		pthread_mutex_lock(&snd->lock);
		snd_amix_close(snd);
		err = snd_amix_open(snd, ctl, playback, capture);
		pthread_mutex_unlock(&snd->lock);
	}
#else
	(void)snd;
	(void)ctl;
	(void)playback;
	(void)capture;
#endif
	return err;
}

static int get_stats(struct vdev *dev, struct vdev_sound_stats *st)
{
	struct snd_dev *snd;

	if (!dev || !st || vdev_get_info(dev)->device_id != VDEV_ID_SOUND)
		return -EINVAL;
	snd = vdev_priv(dev);
	pthread_mutex_lock(&snd->lock);
	*st = snd->stats;
	pthread_mutex_unlock(&snd->lock);
	return 0;
}

static int check_stream(const struct vdev_sound_stream *in,
			struct vdev_sound_stream *out)
{
	*out = *in;
	if (!out->channels_min)
		out->channels_min = 1;
	if (!out->channels_max)
		out->channels_max = out->channels_min > 2 ? out->channels_min
							  : 2;
	if (!out->formats)
		out->formats = VDEV_SND_FORMATS_DEFAULT;
	if (!out->rates)
		out->rates = VDEV_SND_RATES_DEFAULT;
	if (out->direction > VDEV_SND_D_INPUT ||
	    out->channels_min > out->channels_max ||
	    out->channels_max > VDEV_SOUND_MAX_CHANNELS ||
	    (out->formats & ~VDEV_SND_FORMATS_DEFAULT) ||
	    (out->rates >> (VDEV_SND_RATE_384000 + 1)))
		return -EINVAL;
	return 0;
}

static char *dup_or_null(const char *s, bool *fail)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*fail = true;
	return d;
}

static struct vdev *sound_new_cfg(const struct vdev_sound_config *cfg)
{
	static const struct vdev_sound_config defaults;
	const struct vdev_sound_stream *streams;
	struct vdev_info info = {
		.name = "sound",
		.device_id = VDEV_ID_SOUND,
		.num_queues = 4,
		.config_size = cfg && cfg->controls ? 16 : 12,
		.features = cfg && cfg->controls ? 1ull << SND_F_CTLS : 0,
		.state_version = SND_STATE_VERSION,
	};
	const struct snd_backend_ops *be;
	bool fail = false;
	struct snd_dev *snd;
	unsigned n, out_file = 0, in_file = 0;
	uint8_t *c;
	int err;

	if (!cfg)
		cfg = &defaults;
	n = cfg->num_streams ? cfg->num_streams : 2;
	streams = cfg->num_streams ? cfg->streams : default_streams;
	if (n > VDEV_SOUND_MAX_STREAMS || !streams ||
	    cfg->num_jacks > VDEV_SOUND_MAX_JACKS) {
		errno = EINVAL;
		return NULL;
	}
	switch (cfg->backend) {
	case VDEV_SOUND_BACKEND_NULL:
		be = &snd_be_null;
		break;
	case VDEV_SOUND_BACKEND_FILE:
		if (!cfg->out_path && !cfg->in_path) {
			errno = EINVAL;
			return NULL;
		}
		be = &snd_be_file;
		break;
	case VDEV_SOUND_BACKEND_ALSA:
#if VDEV_WITH_ALSA_FOUND
		be = &snd_be_alsa;
		break;
#else
		errno = ENOTSUP;
		return NULL;
#endif
	default:
		errno = EINVAL;
		return NULL;
	}
	info.max_queue_size = cfg->queue_size ? cfg->queue_size : 1024;
	snd = calloc(1, sizeof(*snd));
	if (!snd)
		return NULL;
	snd->cfg = *cfg;
	snd->out_path = dup_or_null(cfg->out_path, &fail);
	snd->in_path = dup_or_null(cfg->in_path, &fail);
	snd->alsa_device = dup_or_null(cfg->alsa_device ? cfg->alsa_device :
							  "default", &fail);
	snd->cfg.out_path = snd->out_path;
	snd->cfg.in_path = snd->in_path;
	snd->cfg.alsa_device = snd->alsa_device;
	snd->cfg.streams = NULL;
	snd->nstreams = n;
	snd->njacks = cfg->num_jacks;
	snd->ctls = cfg->controls;
	pthread_mutex_init(&snd->lock, NULL);
	for (unsigned i = 0; i < snd->njacks; i++)
		snd->jacks[i].connected = true;
	for (unsigned i = 0; i < n; i++) {
		struct snd_stream *s = &snd->streams[i];

		s->tfd = -1;
		s->poll_fd = -1;
	}
	for (unsigned i = 0; i < n; i++) {
		struct snd_stream *s = &snd->streams[i];

		s->snd = snd;
		s->id = i;
		s->tail = &s->head;
		snd_kctl_defaults(s);
		if (check_stream(&streams[i], &s->info) < 0) {
			errno = EINVAL;
			goto fail;
		}
		s->qidx = s->info.direction == VDEV_SND_D_OUTPUT ? SND_Q_TX
								 : SND_Q_RX;
		s->be = be;
		/* Files serve the first stream of each direction only. */
		if (be == &snd_be_file) {
			unsigned *k = s->info.direction == VDEV_SND_D_OUTPUT ?
					      &out_file : &in_file;
			const char *p = s->info.direction == VDEV_SND_D_OUTPUT ?
						snd->out_path : snd->in_path;

			if ((*k)++ || !p)
				s->be = &snd_be_null;
		}
		s->tfd = timerfd_create(CLOCK_MONOTONIC,
					TFD_NONBLOCK | TFD_CLOEXEC);
		if (s->tfd < 0)
			goto fail;
	}
	if (fail) {
		errno = ENOMEM;
		goto fail;
	}
	snd->dev = vdev_new(&info, &snd_ops, snd);
	if (!snd->dev)
		goto fail;
	c = vdev_config(snd->dev);
	put_le32(c, snd->njacks);
	put_le32(c + 4, snd->nstreams);
	put_le32(c + 8, snd->nstreams); /* one channel map per stream */
	if (snd->ctls)
		put_le32(c + 12, snd_kctl_count(snd));
	for (unsigned i = 0; i < n; i++) {
		err = vdev_watch_fd(snd->dev, snd->streams[i].qidx,
				    snd->streams[i].tfd, POLLIN, snd_io_timer,
				    &snd->streams[i]);
		if (err < 0) {
			struct vdev *dev = snd->dev;

			vdev_free(dev); /* destroy frees everything */
			errno = -err;
			return NULL;
		}
	}
#if VDEV_WITH_ALSA_FOUND
	if (be == &snd_be_alsa && snd->ctls) {
		err = snd_amix_open(snd, NULL, NULL, NULL);
		if (err < 0) {
			vdev_free(snd->dev);
			errno = -err;
			return NULL;
		}
	}
#endif
	return snd->dev;
fail:
	err = errno;
	for (unsigned i = 0; i < n; i++)
		if (snd->streams[i].tfd >= 0)
			close(snd->streams[i].tfd);
	pthread_mutex_destroy(&snd->lock);
	free(snd->out_path);
	free(snd->in_path);
	free(snd->alsa_device);
	free(snd);
	errno = err;
	return NULL;
}

/* The caller's config at the size it was compiled with (api.h). */
struct vdev *(vdev_sound_new)(const struct vdev_sound_config *cfg,
				 size_t size, size_t stream_size)
{
	struct vdev_sound_config c;
	struct vdev_sound_stream *streams = NULL;
	struct vdev *dev;
	int e;

	if (cfg && !VSIZED_IN(c, cfg, size))
		return NULL;
	/* More than the most is refused by the device, unread. */
	if (cfg && c.streams && c.num_streams &&
	    c.num_streams <= VDEV_SOUND_MAX_STREAMS) {
		streams = vsized_array(c.streams, c.num_streams, stream_size,
				sizeof(*streams));
		if (!streams)
			return NULL;
		c.streams = streams;
	}
	dev = sound_new_cfg(cfg ? &c : NULL);
	e = errno;
	free(streams);
	errno = e;
	return dev;
}

/* Into the caller's struct at the size it was compiled with (api.h). */
int (vdev_sound_get_stats)(struct vdev *dev, struct vdev_sound_stats *st,
			  size_t size)
{
	struct vdev_sound_stats s;
	int r;

	if (!st || !size)
		return -EINVAL;
	r = get_stats(dev, &s);
	if (!r)
		vsized_out(st, size, &s, sizeof(s));
	return r;
}
