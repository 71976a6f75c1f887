/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-sound control requests (5.14.6): the info queries, JACK_REMAP and
 * the PCM commands with the spec's state order (5.14.6.6.1):
 *
 *   SET_PARAMS -> SET_PARAMS, PREPARE
 *   PREPARE    -> SET_PARAMS, PREPARE, START, RELEASE
 *   START      -> STOP
 *   STOP       -> START, RELEASE
 *   RELEASE    -> SET_PARAMS, PREPARE
 *
 * Anything else gets BAD_MSG and changes nothing. Every request is
 * answered at once except RELEASE of a stream that still holds I/O
 * buffers: that one waits for the data queue's thread to return them
 * (the spec: the device completes all pending I/O before it answers).
 */
#include <errno.h>
#include <string.h>
#include <virtio/iov.h>
#include <virtio/le.h>

#include "core/bytes.h"
#include "sound_int.h"

#define SND_INFO_SIZE_MAX 4096u /* a driver's item size we accept */

unsigned snd_format_bytes(unsigned fmt)
{
	switch (fmt) {
	case VDEV_SND_FMT_MU_LAW: case VDEV_SND_FMT_A_LAW:
	case VDEV_SND_FMT_S8: case VDEV_SND_FMT_U8:
		return 1;
	case VDEV_SND_FMT_S16: case VDEV_SND_FMT_U16:
		return 2;
	case VDEV_SND_FMT_S18_3: case VDEV_SND_FMT_U18_3:
	case VDEV_SND_FMT_S20_3: case VDEV_SND_FMT_U20_3:
	case VDEV_SND_FMT_S24_3: case VDEV_SND_FMT_U24_3:
		return 3;
	case VDEV_SND_FMT_S20: case VDEV_SND_FMT_U20:
	case VDEV_SND_FMT_S24: case VDEV_SND_FMT_U24:
	case VDEV_SND_FMT_S32: case VDEV_SND_FMT_U32:
	case VDEV_SND_FMT_FLOAT:
		return 4;
	case VDEV_SND_FMT_FLOAT64:
		return 8;
	default:
		return 0;
	}
}

unsigned snd_rate_hz(unsigned rate)
{
	static const unsigned hz[] = { 5512, 8000, 11025, 16000, 22050,
				       32000, 44100, 48000, 64000, 88200,
				       96000, 176400, 192000, 384000 };

	return rate < sizeof(hz) / sizeof(hz[0]) ? hz[rate] : 0;
}

/* The channel map of @s: the usual positions for 1 to 8 channels, then
 * positions the guest may treat as unknown. */
static void chmap_of(const struct snd_stream *s, uint8_t *pos)
{
	static const uint8_t std[8] = { SND_CH_FL, SND_CH_FR, SND_CH_RL,
					SND_CH_RR, SND_CH_FC, SND_CH_LFE,
					SND_CH_SL, SND_CH_SR };
	unsigned n = s->info.channels_max;

	memset(pos, SND_CH_NONE, VDEV_SOUND_MAX_CHANNELS);
	if (n == 1) {
		pos[0] = SND_CH_MONO;
		return;
	}
	for (unsigned i = 0; i < n; i++)
		pos[i] = i < 8 ? std[i] : SND_CH_NA;
}

/* Fills one item of a query answer (@len bytes at @p, zero past the
 * spec's struct). */
static void info_item(struct snd_dev *snd, uint32_t code, uint32_t id,
		      uint8_t *p)
{
	struct snd_stream *s;

	switch (code) {
	case SND_R_JACK_INFO:
		put_le32(p, 0);                       /* hda_fn_nid */
		put_le32(p + 4, 0);                   /* features */
		/* defconf: port connectivity "jack", device "line out" */
		put_le32(p + 8, 0);
		put_le32(p + 12, 0);
		p[16] = snd->jacks[id].connected;
		break;
	case SND_R_PCM_INFO:
		s = &snd->streams[id];
		put_le32(p, 0);
		put_le32(p + 4, 1u << SND_PCM_F_EVT_XRUNS |
				     1u << SND_PCM_F_EVT_SHMEM_PERIODS);
		put_le64(p + 8, s->info.formats);
		put_le64(p + 16, s->info.rates);
		p[24] = s->info.direction;
		p[25] = s->info.channels_min;
		p[26] = s->info.channels_max;
		break;
	case SND_R_CHMAP_INFO:
		s = &snd->streams[id];
		put_le32(p, 0);
		p[4] = s->info.direction;
		p[5] = s->info.channels_max;
		chmap_of(s, p + 6);
		break;
	}
}

static uint32_t query(struct snd_dev *snd, struct vdev_req *vr,
		      const uint8_t *req, uint32_t req_len, uint32_t code,
		      uint32_t *extra)
{
	uint32_t start, count, size, items, need;
	uint8_t item[SND_INFO_SIZE_MAX];

	if (req_len < SND_QUERY_LEN)
		return SND_S_BAD_MSG;
	start = get_le32(req + 4);
	count = get_le32(req + 8);
	size = get_le32(req + 12);
	switch (code) {
	case SND_R_JACK_INFO:
		items = snd->njacks;
		need = SND_JACK_INFO_LEN;
		break;
	case SND_R_PCM_INFO:
		items = snd->nstreams;
		need = SND_PCM_INFO_LEN;
		break;
	case SND_R_CTL_INFO:
		items = snd_kctl_count(snd);
		need = SND_CTL_INFO_LEN;
		break;
	default:
		items = snd->nstreams; /* one channel map per stream */
		need = SND_CHMAP_INFO_LEN;
		break;
	}
	if (size < need || size > SND_INFO_SIZE_MAX || start > items ||
	    count > items - start || count == 0)
		return SND_S_BAD_MSG;
	/* The answer must fit after the status header. */
	if ((uint64_t)count * size > vr->in_bytes - SND_HDR_LEN)
		return SND_S_BAD_MSG;
	for (uint32_t i = 0; i < count; i++) {
		memset(item, 0, size);
		if (code == SND_R_CTL_INFO)
			snd_kctl_info_item(snd, start + i, item);
		else
			info_item(snd, code, start + i, item);
		vdev_iov_from_buf(vr->in, vr->nin,
				  SND_HDR_LEN + (size_t)i * size, item, size);
	}
	*extra = count * size;
	return SND_S_OK;
}

static uint32_t jack_remap(struct snd_dev *snd, const uint8_t *req,
			   uint32_t req_len)
{
	uint32_t id;

	if (req_len < SND_JACK_REMAP_LEN)
		return SND_S_BAD_MSG;
	id = get_le32(req + 4);
	if (id >= snd->njacks)
		return SND_S_BAD_MSG;
	/* The jacks here have no HDA pin to re-task: the remap is kept (the
	 * driver reads it back from nowhere, but may send it). */
	snd->jacks[id].association = get_le32(req + 8);
	snd->jacks[id].sequence = get_le32(req + 12);
	return SND_S_OK;
}

static uint32_t set_params(struct snd_stream *s, const uint8_t *req,
			   uint32_t req_len)
{
	uint32_t buffer_bytes, period_bytes, features, fbytes;
	uint8_t channels, format, rate;

	if (req_len < SND_SET_PARAMS_LEN)
		return SND_S_BAD_MSG;
	if (s->state != SND_ST_INIT && s->state != SND_ST_PARAMS &&
	    s->state != SND_ST_PREPARED && s->state != SND_ST_RELEASED)
		return SND_S_BAD_MSG;
	buffer_bytes = get_le32(req + 8);
	period_bytes = get_le32(req + 12);
	features = get_le32(req + 16);
	channels = req[20];
	format = req[21];
	rate = req[22];
	if (features & ~SND_PCM_FEATURES)
		return SND_S_NOT_SUPP;
	if (buffer_bytes > SND_BUFFER_MAX)
		return SND_S_NOT_SUPP;
	if (format >= 64 || !(s->info.formats & (UINT64_C(1) << format)) ||
	    rate >= 64 || !(s->info.rates & (UINT64_C(1) << rate)) ||
	    channels < s->info.channels_min || channels > s->info.channels_max)
		return SND_S_NOT_SUPP;
	fbytes = snd_format_bytes(format) * channels;
	/* A period holds whole frames and the buffer whole periods. */
	if (!period_bytes || !buffer_bytes || period_bytes % fbytes ||
	    buffer_bytes % period_bytes)
		return SND_S_BAD_MSG;
	if (s->state == SND_ST_PREPARED && s->be_open) {
		/* New parameters: the session restarts at the next PREPARE. */
		s->be->close(s);
		s->be_open = false;
	}
	s->buffer_bytes = buffer_bytes;
	s->period_bytes = period_bytes;
	s->features = features;
	s->channels = channels;
	s->format = format;
	s->rate = rate;
	s->frame_bytes = fbytes;
	s->rate_hz = snd_rate_hz(rate);
	s->have_params = true;
	s->state = SND_ST_PARAMS;
	return SND_S_OK;
}

static uint32_t prepare(struct snd_stream *s)
{
	if (s->state != SND_ST_PARAMS && s->state != SND_ST_PREPARED &&
	    s->state != SND_ST_RELEASED)
		return SND_S_BAD_MSG;
	if (!s->have_params)
		return SND_S_BAD_MSG;
	if (!s->be_open) {
		if (s->be->open(s) < 0)
			return SND_S_IO_ERR;
		s->be_open = true;
	}
	s->period_acc = 0; /* the position starts again */
	s->state = SND_ST_PREPARED;
	return SND_S_OK;
}

static uint32_t start(struct snd_stream *s)
{
	if (s->state != SND_ST_PREPARED && s->state != SND_ST_STOPPED)
		return SND_S_BAD_MSG;
	if (s->be->start && s->be->start(s) < 0)
		return SND_S_IO_ERR;
	s->state = SND_ST_RUNNING;
	s->epoch = snd_now(s->snd);
	s->epoch_bytes = 0;
	s->starved = false;
	snd_io_kick(s);
	return SND_S_OK;
}

static uint32_t stop(struct snd_stream *s)
{
	if (s->state != SND_ST_RUNNING)
		return SND_S_BAD_MSG;
	if (s->be->stop)
		s->be->stop(s);
	s->state = SND_ST_STOPPED;
	snd_io_kick(s);
	return SND_S_OK;
}

void snd_release_done(struct snd_stream *s)
{
	if (s->be_open) {
		s->be->close(s);
		s->be_open = false;
	}
	s->releasing = false;
	s->release_ready = false;
	s->state = SND_ST_RELEASED;
}

static uint32_t release(struct snd_stream *s, struct vdev_req *vr,
			bool *deferred)
{
	if (s->state != SND_ST_PREPARED && s->state != SND_ST_STOPPED)
		return SND_S_BAD_MSG;
	if (s->releasing)
		return SND_S_BAD_MSG; /* one at a time */
	if (!s->pending) {
		snd_release_done(s);
		return SND_S_OK;
	}
	/* The data queue's thread returns the buffers, then schedules the
	 * control queue, which answers (sound.c). */
	s->releasing = true;
	s->release_ready = false;
	s->release_req = *vr;
	memcpy(s->release_iov, vr->iov, sizeof(struct iovec) * (vr->nout +
								vr->nin));
	s->release_req.iov = s->release_iov;
	s->release_req.out = s->release_iov;
	s->release_req.in = s->release_iov + vr->nout;
	*deferred = true;
	snd_io_kick(s);
	return SND_S_OK;
}

uint32_t snd_ctl_request(struct snd_dev *snd, struct vdev_req *vr,
			 const uint8_t *req, uint32_t req_len, uint8_t *resp,
			 uint32_t resp_len, bool *deferred)
{
	uint32_t code = 0, status, sid, extra = 0;
	struct snd_stream *s;

	*deferred = false;
	if (resp_len < SND_HDR_LEN)
		return 0; /* nowhere to say anything */
	if (req_len < SND_HDR_LEN) {
		status = SND_S_BAD_MSG;
		goto out;
	}
	code = get_le32(req);
	switch (code) {
	case SND_R_JACK_INFO:
	case SND_R_PCM_INFO:
	case SND_R_CHMAP_INFO:
		status = query(snd, vr, req, req_len, code, &extra);
		goto out;
	case SND_R_CTL_INFO:
		status = snd->ctls && vdev_has_feature(snd->dev, SND_F_CTLS) ?
				 query(snd, vr, req, req_len, code, &extra) :
				 SND_S_NOT_SUPP;
		goto out;
	case SND_R_CTL_ENUM_ITEMS:
	case SND_R_CTL_READ:
	case SND_R_CTL_WRITE:
	case SND_R_CTL_TLV_READ:
	case SND_R_CTL_TLV_WRITE:
	case SND_R_CTL_TLV_COMMAND:
		status = snd->ctls && vdev_has_feature(snd->dev, SND_F_CTLS) ?
				 snd_kctl_request(snd, vr, code, req, req_len,
						  &extra) :
				 SND_S_NOT_SUPP;
		goto out;
	case SND_R_JACK_REMAP:
		status = jack_remap(snd, req, req_len);
		goto out;
	case SND_R_PCM_SET_PARAMS:
	case SND_R_PCM_PREPARE:
	case SND_R_PCM_RELEASE:
	case SND_R_PCM_START:
	case SND_R_PCM_STOP:
		break;
	default:
		status = SND_S_NOT_SUPP;
		goto out;
	}
	if (req_len < SND_PCM_HDR_LEN) {
		status = SND_S_BAD_MSG;
		goto out;
	}
	sid = get_le32(req + 4);
	if (sid >= snd->nstreams) {
		status = SND_S_BAD_MSG;
		goto out;
	}
	s = &snd->streams[sid];
	if (s->releasing) {
		/* Nothing may overtake a RELEASE still in progress. */
		status = SND_S_BAD_MSG;
		goto out;
	}
	switch (code) {
	case SND_R_PCM_SET_PARAMS:
		status = set_params(s, req, req_len);
		break;
	case SND_R_PCM_PREPARE:
		status = prepare(s);
		break;
	case SND_R_PCM_START:
		status = start(s);
		break;
	case SND_R_PCM_STOP:
		status = stop(s);
		break;
	default:
		status = release(s, vr, deferred);
		if (*deferred)
			return 0;
		break;
	}
out:
	put_le32(resp, status);
	/* What a handler wrote after the status counts only when it
	 * succeeded. */
	return SND_HDR_LEN + (status == SND_S_OK ? extra : 0);
}
