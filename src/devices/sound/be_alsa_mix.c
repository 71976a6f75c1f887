/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * CTLS controls on the ALSA mixer. With the ALSA backend, the volume and
 * the switch of the first stream of each direction act on elements of the
 * card's control device (snd_ctl: the elements amixer lists), found by a
 * simple mixer name as amixer shows it: "Master" (else "PCM") for
 * playback, "Capture" for capture, or the names the embedder gives. The
 * driver sees the element as it is: its type, member count, range, step,
 * access and, when the element has one, its TLV (the dB scale), word for
 * word. The driver's writes go to the element (range-checked first); the
 * element's changes from the host (amixer, another program) reach the
 * driver as CTL_NOTIFY: the control device's fd is watched on the control
 * queue's thread, and a value event is passed on only when the values
 * differ from the last ones known (the device's own writes come back as
 * events too). Controls without an element stay in software
 * (sound_kctl.c); so do the other streams (they share the PCM, and so the
 * card).
 *
 * The control device is opened once, when the device is made (before a
 * daemon's sandbox); serving needs read and ioctl on its fd only.
 */
#include <alsa/asoundlib.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <virtio/iov.h>

#include "core/bytes.h"
#include "sound_int.h"

enum { ACC_READ, ACC_WRITE, ACC_VOLATILE, ACC_INACTIVE, ACC_TLV_READ };
enum { TYPE_BOOLEAN = 0, TYPE_INTEGER = 1 };
enum { EVT_VALUE = 1, EVT_INFO = 2, EVT_TLV = 4 }; /* CTL_NOTIFY mask */
#define MIX_VALUES 128u /* virtio_snd_ctl_value holds 128 le32 */
#define MIX_TLV_MAX 4096u

struct snd_mixel {
	snd_ctl_elem_id_t *id;
	unsigned numid;
	bool integer;            /* else boolean */
	unsigned count;
	long min, max, step;
	uint32_t access;         /* virtio bits */
	long val[MIX_VALUES];    /* last values known */
	uint32_t ctl_id;         /* the virtio control it backs */
};

struct snd_amix {
	snd_ctl_t *ctl;
	int fd;
	bool watched;
	struct snd_mixel el[4];  /* [direction * 2 + switch] */
	unsigned nel;
};

/* The control device of PCM @pcm: "hw:X" for "hw:X,..." and
 * "plughw:X,...", else the PCM's own name ("default" has a ctl too). */
static char *ctl_name_of(const char *pcm)
{
	const char *p = pcm, *comma;
	char *n;

	if (!strncmp(p, "plughw:", 7))
		p += 4;
	if (strncmp(p, "hw:", 3))
		return strdup(pcm);
	comma = strchr(p, ',');
	if (!comma)
		return strdup(p);
	n = strndup(p, (size_t)(comma - p));
	return n;
}

static int read_values(struct snd_amix *m, struct snd_mixel *e, long *out)
{
	snd_ctl_elem_value_t *v;
	int err;

	snd_ctl_elem_value_alloca(&v);
	snd_ctl_elem_value_set_id(v, e->id);
	err = snd_ctl_elem_read(m->ctl, v);
	if (err < 0)
		return err;
	for (unsigned i = 0; i < e->count; i++)
		out[i] = e->integer ? snd_ctl_elem_value_get_integer(v, i) :
				      snd_ctl_elem_value_get_boolean(v, i);
	return 0;
}

/* A plugin's info may leave the numid 0 (alsa-lib's ctl_ext does), and
 * the TLV of an element is asked for by numid: the element list has it. */
static void resolve_numid(struct snd_amix *m, struct snd_mixel *e)
{
	snd_ctl_elem_list_t *l;
	unsigned n;

	snd_ctl_elem_list_alloca(&l);
	if (snd_ctl_elem_list(m->ctl, l) < 0)
		return;
	n = snd_ctl_elem_list_get_count(l);
	if (!n || n > 65536 || snd_ctl_elem_list_alloc_space(l, n) < 0)
		return;
	if (snd_ctl_elem_list(m->ctl, l) == 0)
		for (unsigned i = 0; i < snd_ctl_elem_list_get_used(l); i++)
			if (snd_ctl_elem_list_get_interface(l, i) ==
				    SND_CTL_ELEM_IFACE_MIXER &&
			    !snd_ctl_elem_list_get_index(l, i) &&
			    !strcmp(snd_ctl_elem_list_get_name(l, i),
				    snd_ctl_elem_id_get_name(e->id))) {
				e->numid = snd_ctl_elem_list_get_numid(l, i);
				snd_ctl_elem_id_set_numid(e->id, e->numid);
				break;
			}
	snd_ctl_elem_list_free_space(l);
}

/* Element @name (mixer interface, index 0) if it is of the kind wanted. */
static bool find(struct snd_amix *m, const char *name, bool integer,
		 struct snd_mixel *e)
{
	snd_ctl_elem_info_t *info;
	snd_ctl_elem_type_t t;

	snd_ctl_elem_info_alloca(&info);
	if (snd_ctl_elem_id_malloc(&e->id) < 0)
		return false;
	snd_ctl_elem_id_set_interface(e->id, SND_CTL_ELEM_IFACE_MIXER);
	snd_ctl_elem_id_set_name(e->id, name);
	snd_ctl_elem_info_set_id(info, e->id);
	if (snd_ctl_elem_info(m->ctl, info) < 0)
		goto no;
	t = snd_ctl_elem_info_get_type(info);
	e->count = snd_ctl_elem_info_get_count(info);
	if (t != (integer ? SND_CTL_ELEM_TYPE_INTEGER :
			    SND_CTL_ELEM_TYPE_BOOLEAN) ||
	    !e->count || e->count > MIX_VALUES ||
	    !snd_ctl_elem_info_is_readable(info))
		goto no;
	snd_ctl_elem_info_get_id(info, e->id);
	e->numid = snd_ctl_elem_info_get_numid(info);
	if (!e->numid)
		resolve_numid(m, e);
	e->integer = integer;
	e->min = integer ? snd_ctl_elem_info_get_min(info) : 0;
	e->max = integer ? snd_ctl_elem_info_get_max(info) : 1;
	e->step = integer ? snd_ctl_elem_info_get_step(info) : 0;
	/* a range the wire (le32) cannot carry stays in software */
	if (e->min < INT32_MIN || e->max > INT32_MAX || e->min > e->max)
		goto no;
	e->access = 1u << ACC_READ |
		    (snd_ctl_elem_info_is_writable(info) ? 1u << ACC_WRITE : 0) |
		    (snd_ctl_elem_info_is_volatile(info) ? 1u << ACC_VOLATILE :
							   0) |
		    (snd_ctl_elem_info_is_inactive(info) ? 1u << ACC_INACTIVE :
							   0) |
		    (snd_ctl_elem_info_is_tlv_readable(info) ?
			     1u << ACC_TLV_READ : 0);
	if (read_values(m, e, e->val) < 0)
		goto no;
	return true;
no:
	snd_ctl_elem_id_free(e->id);
	e->id = NULL;
	return false;
}

/* The volume (@sw false) or switch element of simple name @base. */
static bool find_simple(struct snd_amix *m, const char *base, bool out,
			bool sw, struct snd_mixel *e)
{
	char name[44]; /* an element name's room (SNDRV_CTL_ELEM_ID_NAME_MAXLEN) */
	const char *dir = out ? "Playback" : "Capture";
	const char *what = sw ? "Switch" : "Volume";

	if ((size_t)snprintf(name, sizeof(name), "%s %s %s", base, dir,
			     what) < sizeof(name) &&
	    find(m, name, !sw, e))
		return true;
	if ((size_t)snprintf(name, sizeof(name), "%s %s", base, what) <
		    sizeof(name) &&
	    find(m, name, !sw, e))
		return true;
	/* a softvol control may have no suffix */
	return !sw && find(m, base, true, e);
}

static void amix_poll(void *arg, int fd, uint32_t events);

static void free_amix(struct snd_amix *m)
{
	for (unsigned i = 0; i < 4; i++)
		if (m->el[i].id)
			snd_ctl_elem_id_free(m->el[i].id);
	if (m->ctl)
		snd_ctl_close(m->ctl);
	free(m);
}

int snd_amix_open(struct snd_dev *snd, const char *ctl_name,
		  const char *playback, const char *capture)
{
	static const char *const play_default[] = { "Master", "PCM", NULL };
	static const char *const cap_default[] = { "Capture", NULL };
	struct snd_amix *m = calloc(1, sizeof(*m));
	char *name = ctl_name ? strdup(ctl_name) :
				ctl_name_of(snd->alsa_device);
	struct pollfd pfd;
	int err;

	if (!m || !name) {
		free(m);
		free(name);
		return -ENOMEM;
	}
	err = snd_ctl_open(&m->ctl, name, SND_CTL_NONBLOCK);
	if (err < 0) {
		vdev_log(VDEV_LOG_INFO, "sound: no ALSA mixer %s (%s): volume "
			 "and switches in software", name, snd_strerror(err));
		free(name);
		free_amix(m);
		return 0;
	}
	for (unsigned d = 0; d < 2; d++) {
		const char *given = d ? capture : playback;
		const char *const *names = d ? cap_default : play_default;
		const char *one[2] = { given, NULL };
		struct snd_stream *s = NULL;

		if (given && !strcmp(given, "none"))
			continue;
		for (unsigned i = 0; i < snd->nstreams && !s; i++)
			if (snd->streams[i].info.direction == d)
				s = &snd->streams[i];
		if (!s)
			continue;
		if (given)
			names = one;
		for (; *names; names++) {
			bool v = find_simple(m, *names, !d, false,
					     &m->el[2 * d]);
			bool w = find_simple(m, *names, !d, true,
					     &m->el[2 * d + 1]);

			if (!v && !w)
				continue;
			if (v) {
				m->el[2 * d].ctl_id = 2 * s->id;
				s->mixel[0] = &m->el[2 * d];
			}
			if (w) {
				m->el[2 * d + 1].ctl_id = 2 * s->id + 1;
				s->mixel[1] = &m->el[2 * d + 1];
			}
			m->nel += v + w;
			vdev_log(VDEV_LOG_INFO, "sound: stream %u: volume %s, "
				 "switch %s on ALSA mixer %s", s->id,
				 v ? *names : "(software)",
				 w ? *names : "(software)", name);
			break;
		}
		if (!*names)
			vdev_log(VDEV_LOG_INFO, "sound: ALSA mixer %s has no %s"
				 " element%s: stream %u in software", name,
				 given ? given : d ? "Capture" : "Master or PCM",
				 given ? "" : "s", s->id);
	}
	free(name);
	if (!m->nel) {
		free_amix(m);
		return 0;
	}
	/* Host-side changes: the fd of the control device, on the control
	 * queue's thread. Several fds (a plugin): not watched. */
	m->fd = -1;
	if (snd_ctl_subscribe_events(m->ctl, 1) == 0 &&
	    snd_ctl_poll_descriptors_count(m->ctl) == 1 &&
	    snd_ctl_poll_descriptors(m->ctl, &pfd, 1) == 1) {
		m->fd = pfd.fd;
		if (vdev_watch_fd(snd->dev, SND_Q_CTL, m->fd, POLLIN,
				  amix_poll, snd) == 0)
			m->watched = true;
	}
	if (!m->watched)
		vdev_log(VDEV_LOG_WARN, "sound: ALSA mixer changes on the host "
			 "are not watched: the driver is not told of them");
	snd->amix = m;
	return 0;
}

void snd_amix_close(struct snd_dev *snd)
{
	struct snd_amix *m = snd->amix;

	if (!m)
		return;
	if (m->watched)
		vdev_unwatch_fd(snd->dev, SND_Q_CTL, m->fd);
	for (unsigned i = 0; i < snd->nstreams; i++)
		snd->streams[i].mixel[0] = snd->streams[i].mixel[1] = NULL;
	free_amix(m);
	snd->amix = NULL;
}

void snd_amix_info(const struct snd_mixel *e, uint8_t *p)
{
	put_le32(p + 8, e->integer ? TYPE_INTEGER : TYPE_BOOLEAN);
	put_le32(p + 12, e->access);
	put_le32(p + 16, e->count);
	if (e->integer) {
		put_le32(p + 72, (uint32_t)(int32_t)e->min);
		put_le32(p + 76, (uint32_t)(int32_t)e->max);
		put_le32(p + 80, (uint32_t)(int32_t)e->step);
	}
}

static uint32_t mix_read(struct snd_amix *m, struct snd_mixel *e,
			 struct vdev_req *vr, uint32_t *extra)
{
	uint8_t v[SND_CTL_VALUE_LEN] = { 0 };
	uint32_t room = vr->in_bytes - SND_HDR_LEN;
	long val[MIX_VALUES];

	if (room < 4 * e->count)
		return SND_S_BAD_MSG;
	if (read_values(m, e, val) < 0)
		return SND_S_IO_ERR;
	for (unsigned i = 0; i < e->count; i++)
		put_le32(v + 4 * i, (uint32_t)(int32_t)val[i]);
	*extra = room < sizeof(v) ? room : sizeof(v);
	vdev_iov_from_buf(vr->in, vr->nin, SND_HDR_LEN, v, *extra);
	return SND_S_OK;
}

static int write_values(struct snd_amix *m, struct snd_mixel *e,
			const long *val)
{
	snd_ctl_elem_value_t *v;
	int err;

	snd_ctl_elem_value_alloca(&v);
	snd_ctl_elem_value_set_id(v, e->id);
	for (unsigned i = 0; i < e->count; i++) {
		if (e->integer)
			snd_ctl_elem_value_set_integer(v, i, val[i]);
		else
			snd_ctl_elem_value_set_boolean(v, i, val[i]);
	}
	err = snd_ctl_elem_write(m->ctl, v);
	if (err >= 0)
		memcpy(e->val, val, e->count * sizeof(val[0]));
	return err;
}

static uint32_t mix_write(struct snd_amix *m, struct snd_mixel *e,
			  const uint8_t *req, uint32_t req_len)
{
	long val[MIX_VALUES];

	if (!(e->access & 1u << ACC_WRITE))
		return SND_S_NOT_SUPP;
	if (req_len < SND_CTL_HDR_LEN + 4 * e->count)
		return SND_S_BAD_MSG;
	for (unsigned i = 0; i < e->count; i++) {
		val[i] = (int32_t)get_le32(req + SND_CTL_HDR_LEN + 4 * i);
		if (val[i] < e->min || val[i] > e->max ||
		    (e->step > 1 && (val[i] - e->min) % e->step))
			return SND_S_BAD_MSG;
	}
	return write_values(m, e, val) < 0 ? SND_S_IO_ERR : SND_S_OK;
}

/* The element's TLV, le32 word by word (alsa-lib gives host order). */
static uint32_t mix_tlv_read(struct snd_amix *m, struct snd_mixel *e,
			     struct vdev_req *vr, uint32_t *extra)
{
	unsigned int tlv[MIX_TLV_MAX / 4];
	uint8_t out[MIX_TLV_MAX];
	uint32_t len;

	if (!(e->access & 1u << ACC_TLV_READ))
		return SND_S_BAD_MSG;
	if (snd_ctl_elem_tlv_read(m->ctl, e->id, tlv, sizeof(tlv)) < 0)
		return SND_S_IO_ERR;
	if (tlv[1] > sizeof(tlv) - 8)
		return SND_S_IO_ERR;
	len = 8 + ((tlv[1] + 3) & ~3u);
	if (vr->in_bytes - SND_HDR_LEN < len)
		return SND_S_BAD_MSG;
	for (uint32_t i = 0; i < len / 4; i++)
		put_le32(out + 4 * i, tlv[i]);
	vdev_iov_from_buf(vr->in, vr->nin, SND_HDR_LEN, out, len);
	*extra = len;
	return SND_S_OK;
}

uint32_t snd_amix_request(struct snd_dev *snd, struct snd_mixel *e,
			  struct vdev_req *vr, uint32_t code,
			  const uint8_t *req, uint32_t req_len,
			  uint32_t *extra)
{
	struct snd_amix *m = snd->amix;

	switch (code) {
	case SND_R_CTL_ENUM_ITEMS:
		return SND_S_BAD_MSG;
	case SND_R_CTL_READ:
		return mix_read(m, e, vr, extra);
	case SND_R_CTL_WRITE:
		return mix_write(m, e, req, req_len);
	case SND_R_CTL_TLV_READ:
		return mix_tlv_read(m, e, vr, extra);
	default:
		return SND_S_NOT_SUPP;
	}
}

/* vdev_sound_set_volume on mapped elements: @pct of the range, rounded
 * to the step; the switch on unless @muted. Lock held. */
void snd_amix_set(struct snd_dev *snd, struct snd_stream *s, unsigned pct,
		  bool muted)
{
	struct snd_amix *m = snd->amix;
	long val[MIX_VALUES];

	for (unsigned k = 0; k < 2; k++) {
		struct snd_mixel *e = s->mixel[k];
		long v;

		if (!e)
			continue;
		if (k == 0) {
			v = e->min + (long)(((long long)(e->max - e->min) *
					     pct + SND_VOL_MAX / 2) /
					    SND_VOL_MAX);
			if (e->step > 1)
				v -= (v - e->min) % e->step;
		} else {
			v = !muted;
		}
		for (unsigned i = 0; i < e->count; i++)
			val[i] = v;
		if (write_values(m, e, val) < 0)
			vdev_log(VDEV_LOG_WARN, "sound: stream %u: the ALSA "
				 "mixer refused the %s", s->id,
				 k ? "switch" : "volume");
	}
}

/* Events of the control device: a value that changed, new info or TLV of
 * an element the driver sees becomes a CTL_NOTIFY. */
static void amix_poll(void *arg, int fd, uint32_t events)
{
	struct snd_dev *snd = arg;
	struct snd_amix *m;
	snd_ctl_event_t *ev;
	int r = 0;

	(void)fd;
	(void)events;
	snd_ctl_event_alloca(&ev);
	pthread_mutex_lock(&snd->lock);
	m = snd->amix;
	while (m && (r = snd_ctl_read(m->ctl, ev)) > 0) {
		unsigned mask, numid, vmask = 0;
		struct snd_mixel *e = NULL;

		if (snd_ctl_event_get_type(ev) != SND_CTL_EVENT_ELEM)
			continue;
		mask = snd_ctl_event_elem_get_mask(ev);
		numid = snd_ctl_event_elem_get_numid(ev);
		/* by numid (a card's events carry it); by name and index
		 * when either side has none (a plugin's may not) */
		for (unsigned i = 0; i < 4 && !e; i++) {
			struct snd_mixel *c = &m->el[i];

			if (!c->id)
				continue;
			if (numid && c->numid ? numid == c->numid :
			    !strcmp(snd_ctl_event_elem_get_name(ev),
				    snd_ctl_elem_id_get_name(c->id)) &&
				    snd_ctl_event_elem_get_index(ev) ==
					    snd_ctl_elem_id_get_index(c->id))
				e = c;
		}
		if (!e)
			continue;
		if (mask == SND_CTL_EVENT_MASK_REMOVE) {
			vmask = EVT_INFO; /* reads now fail: IO_ERR */
		} else {
			if (mask & SND_CTL_EVENT_MASK_VALUE) {
				long val[MIX_VALUES];

				if (read_values(m, e, val) == 0 &&
				    memcmp(val, e->val,
					   e->count * sizeof(val[0]))) {
					memcpy(e->val, val,
					       e->count * sizeof(val[0]));
					vmask |= EVT_VALUE;
				}
			}
			if (mask & SND_CTL_EVENT_MASK_INFO)
				vmask |= EVT_INFO;
			if (mask & SND_CTL_EVENT_MASK_TLV)
				vmask |= EVT_TLV;
		}
		if (vmask && vdev_has_feature(snd->dev, SND_F_CTLS))
			snd_event(snd, SND_EVT_CTL_NOTIFY,
				  e->ctl_id | vmask << 16);
	}
	/* A card that went away (a USB one unplugged) keeps its fd readable
	 * with an error: stop watching rather than spin. The controls stay,
	 * their requests get IO_ERR. */
	if (m && r < 0 && r != -EAGAIN && m->watched) {
		vdev_unwatch_fd(snd->dev, SND_Q_CTL, m->fd);
		m->watched = false;
		vdev_log(VDEV_LOG_WARN, "sound: ALSA mixer events: %s; no "
			 "longer watched", snd_strerror(r));
	}
	pthread_mutex_unlock(&snd->lock);
}
