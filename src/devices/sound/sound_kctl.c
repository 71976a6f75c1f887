/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-sound control elements (VIRTIO_SND_F_CTLS, virtio 1.3 section
 * 5.14.6.10): per stream a volume (INTEGER, one member per channel, 0 to
 * 100 percent, linear, with a dB TLV) and a switch (BOOLEAN per channel,
 * 1 = sound), named as ALSA names them ("PCM Playback Volume", "Capture
 * Switch", the index telling streams of a direction apart). They act in
 * software on the frames: 100 % and on pass the frames unchanged
 * (bit-exact), a switch off gives the format's silence.
 * Companded formats (mu-law, A-law) are expanded, scaled and compressed
 * again (sound_g711.c). With the ALSA backend, a control that has a mixer
 * element acts on the element instead (be_alsa_mix.c) and is described
 * as the element is.
 */
#include <string.h>
#include <virtio/iov.h>

#include "core/bytes.h"
#include "sound_int.h"
#include "vdev_build_config.h"

enum { ROLE_VOLUME = 1, ROLE_MUTE = 2 };
enum { TYPE_BOOLEAN = 0, TYPE_INTEGER = 1 };
enum { ACC_READ = 0, ACC_WRITE = 1, ACC_TLV_READ = 4 };
#define TLV_DB_LINEAR 2u           /* SNDRV_CTL_TLVT_DB_LINEAR */
#define TLV_DB_GAIN_MUTE (-9999999) /* SNDRV_CTL_TLVD_DB_GAIN_MUTE */
#define TLV_LEN 16u

unsigned snd_kctl_count(const struct snd_dev *snd)
{
	return snd->ctls ? 2 * snd->nstreams : 0;
}

void snd_kctl_defaults(struct snd_stream *s)
{
	memset(s->vol, SND_VOL_MAX, sizeof(s->vol));
	memset(s->on, 1, sizeof(s->on));
}

/* Control @id: the stream and whether it is the volume (else switch). */
static struct snd_stream *ctl_stream(const struct snd_dev *snd, uint32_t id,
				     bool *volume)
{
	*volume = !(id & 1);
	return (struct snd_stream *)&snd->streams[id / 2];
}

void snd_kctl_info_item(const struct snd_dev *snd, uint32_t id, uint8_t *p)
{
	bool vol;
	const struct snd_stream *s = ctl_stream(snd, id, &vol);
	bool out = s->info.direction == VDEV_SND_D_OUTPUT;
	uint32_t index = 0;

	for (unsigned i = 0; i < s->id; i++)
		index += snd->streams[i].info.direction == s->info.direction;
	put_le32(p, 0);                                  /* hda_fn_nid */
	put_le32(p + 4, vol ? ROLE_VOLUME : ROLE_MUTE);
	put_le32(p + 8, vol ? TYPE_INTEGER : TYPE_BOOLEAN);
	put_le32(p + 12, 1u << ACC_READ | 1u << ACC_WRITE |
			      (vol ? 1u << ACC_TLV_READ : 0));
	put_le32(p + 16, s->info.channels_max);          /* count */
	put_le32(p + 20, index);
	strcpy((char *)p + 24, out ? (vol ? "PCM Playback Volume" :
					    "PCM Playback Switch") :
				     (vol ? "Capture Volume" : "Capture Switch"));
	if (vol) {
		put_le32(p + 72, 0);           /* min */
		put_le32(p + 76, SND_VOL_MAX); /* max */
		put_le32(p + 80, 1);           /* step */
	}
#if VDEV_WITH_ALSA_FOUND
	if (s->mixel[!vol])
		snd_amix_info(s->mixel[!vol], p);
#endif
}

static uint32_t ctl_read(struct snd_stream *s, bool vol, struct vdev_req *vr,
			 uint32_t *extra)
{
	uint8_t v[SND_CTL_VALUE_LEN] = { 0 };
	uint32_t room = vr->in_bytes - SND_HDR_LEN;

	if (room < 4u * s->info.channels_max)
		return SND_S_BAD_MSG;
	for (unsigned c = 0; c < s->info.channels_max; c++)
		put_le32(v + 4 * c, vol ? s->vol[c] : s->on[c]);
	*extra = room < sizeof(v) ? room : sizeof(v);
	vdev_iov_from_buf(vr->in, vr->nin, SND_HDR_LEN, v, *extra);
	return SND_S_OK;
}

static uint32_t ctl_write(struct snd_stream *s, bool vol, const uint8_t *req,
			  uint32_t req_len)
{
	unsigned n = s->info.channels_max;
	uint32_t v[VDEV_SOUND_MAX_CHANNELS];

	if (req_len < SND_CTL_HDR_LEN + 4 * n)
		return SND_S_BAD_MSG;
	for (unsigned c = 0; c < n; c++) {
		v[c] = get_le32(req + SND_CTL_HDR_LEN + 4 * c);
		if (v[c] > (vol ? SND_VOL_MAX : 1))
			return SND_S_BAD_MSG;
	}
	for (unsigned c = 0; c < n; c++) {
		if (vol)
			s->vol[c] = (uint8_t)v[c];
		else
			s->on[c] = (uint8_t)v[c];
	}
	return SND_S_OK;
}

static uint32_t tlv_read(struct vdev_req *vr, uint32_t *extra)
{
	uint8_t t[TLV_LEN];

	if (vr->in_bytes - SND_HDR_LEN < TLV_LEN)
		return SND_S_BAD_MSG;
	put_le32(t, TLV_DB_LINEAR);
	put_le32(t + 4, 8);
	put_le32(t + 8, (uint32_t)TLV_DB_GAIN_MUTE);
	put_le32(t + 12, 0);
	vdev_iov_from_buf(vr->in, vr->nin, SND_HDR_LEN, t, sizeof(t));
	*extra = TLV_LEN;
	return SND_S_OK;
}

uint32_t snd_kctl_request(struct snd_dev *snd, struct vdev_req *vr,
			  uint32_t code, const uint8_t *req, uint32_t req_len,
			  uint32_t *extra)
{
	struct snd_stream *s;
	uint32_t id;
	bool vol;

	if (req_len < SND_CTL_HDR_LEN)
		return SND_S_BAD_MSG;
	id = get_le32(req + 4);
	if (id >= snd_kctl_count(snd))
		return SND_S_BAD_MSG;
	s = ctl_stream(snd, id, &vol);
#if VDEV_WITH_ALSA_FOUND
	if (s->mixel[!vol])
		return snd_amix_request(snd, s->mixel[!vol], vr, code, req,
					req_len, extra);
#endif
	switch (code) {
	case SND_R_CTL_ENUM_ITEMS:
		return SND_S_BAD_MSG; /* no enumerated element here */
	case SND_R_CTL_READ:
		return ctl_read(s, vol, vr, extra);
	case SND_R_CTL_WRITE:
		return ctl_write(s, vol, req, req_len);
	case SND_R_CTL_TLV_READ:
		return vol ? tlv_read(vr, extra) : SND_S_BAD_MSG;
	default: /* TLV_WRITE, TLV_COMMAND: the TLV is read-only */
		return SND_S_NOT_SUPP;
	}
}

bool snd_gain_identity(const struct snd_stream *s)
{
	for (unsigned c = 0; c < s->channels; c++)
		if (s->vol[c] != SND_VOL_MAX || !s->on[c])
			return false;
	return true;
}

/* Bytes, significant bits and signedness of a linear integer format. */
static bool int_format(unsigned f, unsigned *bytes, unsigned *bits,
		       bool *is_signed)
{
	static const struct {
		uint8_t f, bytes, bits, s;
	} t[] = {
		{ VDEV_SND_FMT_S8, 1, 8, 1 },     { VDEV_SND_FMT_U8, 1, 8, 0 },
		{ VDEV_SND_FMT_S16, 2, 16, 1 },   { VDEV_SND_FMT_U16, 2, 16, 0 },
		{ VDEV_SND_FMT_S18_3, 3, 18, 1 }, { VDEV_SND_FMT_U18_3, 3, 18, 0 },
		{ VDEV_SND_FMT_S20_3, 3, 20, 1 }, { VDEV_SND_FMT_U20_3, 3, 20, 0 },
		{ VDEV_SND_FMT_S24_3, 3, 24, 1 }, { VDEV_SND_FMT_U24_3, 3, 24, 0 },
		{ VDEV_SND_FMT_S20, 4, 20, 1 },   { VDEV_SND_FMT_U20, 4, 20, 0 },
		{ VDEV_SND_FMT_S24, 4, 24, 1 },   { VDEV_SND_FMT_U24, 4, 24, 0 },
		{ VDEV_SND_FMT_S32, 4, 32, 1 },   { VDEV_SND_FMT_U32, 4, 32, 0 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].f == f) {
			*bytes = t[i].bytes;
			*bits = t[i].bits;
			*is_signed = t[i].s;
			return true;
		}
	return false;
}

static void scale_int(uint8_t *p, unsigned bytes, unsigned bits,
		      bool is_signed, unsigned pct)
{
	uint64_t raw = 0, mask = (bits == 64 ? ~0ull : (1ull << bits) - 1);
	int64_t v;

	for (unsigned i = 0; i < bytes; i++)
		raw |= (uint64_t)p[i] << (8 * i);
	raw &= mask;
	if (is_signed)
		v = (raw & (1ull << (bits - 1))) ? (int64_t)(raw | ~mask)
						  : (int64_t)raw;
	else
		v = (int64_t)raw - (int64_t)(1ull << (bits - 1));
	v = v * (int64_t)pct / (int64_t)SND_VOL_MAX;
	if (!is_signed)
		v += (int64_t)(1ull << (bits - 1));
	raw = (uint64_t)v & mask;
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(raw >> (8 * i));
}

void snd_gain_apply(const struct snd_stream *s, uint8_t *buf, size_t len)
{
	unsigned bytes = snd_format_bytes(s->format), bits = 0;
	bool is_signed = false, is_int = int_format(s->format, &bytes, &bits,
						    &is_signed);

	for (size_t off = 0; off + s->frame_bytes <= len;
	     off += s->frame_bytes) {
		for (unsigned c = 0; c < s->channels; c++) {
			uint8_t *p = buf + off + (size_t)c * bytes;
			unsigned pct = s->on[c] ? s->vol[c] : 0;

			if (pct == SND_VOL_MAX)
				continue;
			if (is_int) {
				scale_int(p, bytes, bits, is_signed, pct);
			} else if (s->format == VDEV_SND_FMT_FLOAT) {
				/* little-endian on the wire, whatever the
				 * host */
				uint32_t u = get_le32(p);
				float f;

				memcpy(&f, &u, 4);
				f = f * (float)pct / (float)SND_VOL_MAX;
				memcpy(&u, &f, 4);
				put_le32(p, u);
			} else if (s->format == VDEV_SND_FMT_FLOAT64) {
				uint64_t u = get_le32(p) |
					     (uint64_t)get_le32(p + 4) << 32;
				double d;

				memcpy(&d, &u, 8);
				d = d * pct / SND_VOL_MAX;
				memcpy(&u, &d, 8);
				put_le32(p, (uint32_t)u);
				put_le32(p + 4, (uint32_t)(u >> 32));
			} else {
				/* mu-law, A-law: expanded, scaled, compressed
				 * (0 %: their silence, 0xff / 0xd5) */
				*p = snd_g711_scale(s->format, *p, pct);
			}
		}
	}
}
