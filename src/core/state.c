/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Device state save/restore (state.h).
 *
 * Blob layout, all integers little-endian:
 *   header (32 bytes): "VDEVSTAT", le32 format version, le32 device id,
 *                      le32 model state version, le32 CRC-32 of the body,
 *                      le64 total length (header + body)
 *   body:              sections {le32 tag, le32 length, bytes}
 * Core sections (tags starting with '_'):
 *   "_FEA" le64 driver features
 *   "_STS" le32 status
 *   "_CFG" le32 generation, then config_size bytes
 *   "_NQ " le32 number of queues
 *   "_Q" + le16 index: queue setup and ring state (struct vcore_qsec)
 * A restore parses and checks every core section before it resets the
 * device and applies them, so a refused blob never half-applies: the
 * config space is put back as it was before the restore if anything
 * fails later (the model's load, its start).
 *
 * The config space is the model's. The saved bytes are not copied over
 * it: only the fields a driver may write (ops->config_write) differ from
 * what the model set, and the model takes those from vdev_state_config()
 * in its load, checks them and applies them. Everything else (a blk
 * capacity, a seg_max) stays what this instance of the model says, so a
 * blob never makes a device advertise what it does not enforce.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <virtio/device.h>
#include <virtio/le.h>
#include <virtio/state.h>
#include <virtio/transport.h>

#include "core/bytes.h"
#include "core/core_internal.h"
#include "core/crc32.h"

#define VCORE_STATE_FORMAT 1u
#define VCORE_HDR_SIZE 32u

#define TAG_FEA VDEV_STATE_TAG('_', 'F', 'E', 'A')
#define TAG_STS VDEV_STATE_TAG('_', 'S', 'T', 'S')
#define TAG_CFG VDEV_STATE_TAG('_', 'C', 'F', 'G')
#define TAG_NQ VDEV_STATE_TAG('_', 'N', 'Q', ' ')
#define TAG_Q(i) VDEV_STATE_TAG('_', 'Q', (i) & 0xff, ((i) >> 8) & 0xff)

static const char magic[8] = { 'V', 'D', 'E', 'V', 'S', 'T', 'A', 'T' };

struct vdev_state_writer {
	uint8_t *buf;
	size_t len, cap;
};

struct section {
	uint32_t tag;
	uint32_t len;
	const uint8_t *data;
};

struct vdev_state_reader {
	struct section *secs;
	unsigned n;
};

/* Queue section: fixed layout, 40 bytes. */
#define QSEC_LEN 40u
#define QSEC_F_ENABLED 1u
#define QSEC_F_AVAIL_WRAP 2u
#define QSEC_F_USED_WRAP 4u
#define QSEC_F_HAS_STATE 8u

/* ---- writer ----------------------------------------------------------- */

static bool writer_has_tag(const struct vdev_state_writer *w, uint32_t tag)
{
	size_t off = VCORE_HDR_SIZE;

	while (off + 8 <= w->len) {
		if (get_le32(w->buf + off) == tag)
			return true;
		off += 8 + (size_t)get_le32(w->buf + off + 4);
	}
	return false;
}

int vdev_state_put(struct vdev_state_writer *w, uint32_t tag, const void *data,
		   uint32_t len)
{
	size_t need;

	if (!w || (len && !data))
		return -EINVAL;
	if (writer_has_tag(w, tag))
		return -EINVAL;
	need = w->len + 8 + (size_t)len;
	if (need > UINT32_MAX)
		return -ENOMEM;
	if (need > w->cap) {
		size_t cap = w->cap ? w->cap : 256;
		uint8_t *nb;

		while (cap < need)
			cap *= 2;
		nb = realloc(w->buf, cap);
		if (!nb)
			return -ENOMEM;
		w->buf = nb;
		w->cap = cap;
	}
	put_le32(w->buf + w->len, tag);
	put_le32(w->buf + w->len + 4, len);
	if (len)
		memcpy(w->buf + w->len + 8, data, len);
	w->len = need;
	return 0;
}

int vdev_state_put_u64(struct vdev_state_writer *w, uint32_t tag, uint64_t v)
{
	uint8_t b[8];

	put_le64(b, v);
	return vdev_state_put(w, tag, b, sizeof(b));
}

/* ---- reader ----------------------------------------------------------- */

static int section_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct section *)a)->tag;
	uint32_t y = ((const struct section *)b)->tag;

	return x < y ? -1 : x > y;
}

const void *vdev_state_get(struct vdev_state_reader *r, uint32_t tag,
			   uint32_t *len)
{
	const struct section *s;
	struct section key = { .tag = tag };

	if (!r || !r->n)
		return NULL;
	/* Sections are sorted by tag (parse_sections). */
	s = bsearch(&key, r->secs, r->n, sizeof(*r->secs), section_cmp);
	if (!s)
		return NULL;
	if (len)
		*len = s->len;
	/* A zero-length section is present: never NULL. */
	return s->data;
}

int vdev_state_get_u64(struct vdev_state_reader *r, uint32_t tag, uint64_t *v)
{
	uint32_t len;
	const uint8_t *p = vdev_state_get(r, tag, &len);

	if (!p)
		return -ENOENT;
	if (len != 8)
		return -EBADMSG;
	*v = get_le64(p);
	return 0;
}

const void *vdev_state_config(struct vdev_state_reader *r, uint32_t *len)
{
	uint32_t n;
	const uint8_t *p = vdev_state_get(r, TAG_CFG, &n);

	/* vdev_restore checked its length before any load sees it. */
	if (!p || n < 4)
		return NULL;
	if (len)
		*len = n - 4;
	return p + 4;
}

/* ---- save ------------------------------------------------------------- */

static int save_core(struct vdev *dev, struct vdev_state_writer *w)
{
	uint8_t b[8];
	uint8_t *cfg;
	int r;

	r = vdev_state_put_u64(w, TAG_FEA, dev->driver_features);
	if (r < 0)
		return r;
	put_le32(b, vcore_status(dev));
	r = vdev_state_put(w, TAG_STS, b, 4);
	if (r < 0)
		return r;
	cfg = malloc(4 + (size_t)dev->info.config_size);
	if (!cfg)
		return -ENOMEM;
	put_le32(cfg, vdev_config_generation(dev));
	vdev_config_get(dev, 0, cfg + 4, dev->info.config_size);
	r = vdev_state_put(w, TAG_CFG, cfg, 4 + dev->info.config_size);
	free(cfg);
	if (r < 0)
		return r;
	put_le32(b, dev->nvq);
	r = vdev_state_put(w, TAG_NQ, b, 4);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < dev->nvq; i++) {
		struct vcore_vq *vq = &dev->vqs[i];
		struct vdev_queue_state st = vq->pending;
		bool has_state = vq->has_pending;
		uint8_t q[QSEC_LEN] = { 0 };
		uint32_t flags = 0;

		if (vdev_queue_ready(vq->q) &&
		    vdev_queue_get_state(vq->q, &st) == 0)
			has_state = true;
		if (vq->enabled)
			flags |= QSEC_F_ENABLED;
		if (has_state) {
			flags |= QSEC_F_HAS_STATE;
			if (st.avail_wrap)
				flags |= QSEC_F_AVAIL_WRAP;
			if (st.used_wrap)
				flags |= QSEC_F_USED_WRAP;
		}
		put_le16(q + 0, vq->size);
		put_le16(q + 2, has_state ? st.avail_idx : 0);
		put_le16(q + 4, has_state ? st.used_idx : 0);
		put_le16(q + 6, 0);
		put_le32(q + 8, flags);
		put_le32(q + 12, 0);
		put_le64(q + 16, vq->desc);
		put_le64(q + 24, vq->driver);
		put_le64(q + 32, vq->device);
		r = vdev_state_put(w, TAG_Q(i), q, sizeof(q));
		if (r < 0)
			return r;
	}
	return 0;
}

int vdev_save(struct vdev *dev, void **blob, size_t *len)
{
	struct vdev_state_writer w = { 0 };
	uint8_t *h;
	int r = 0;

	if (!dev || !blob || !len)
		return -EINVAL;
	if (vcore_reentered(dev, "vdev_save"))
		return -EDEADLK;
	for (unsigned i = 0; i < dev->nvq; i++) {
		struct vcore_vq *vq = &dev->vqs[i];

		pthread_mutex_lock(&vq->lock);
		if ((vq->enabled && !vq->stopped) ||
		    vdev_queue_inflight(vq->q))
			r = -EBUSY;
		pthread_mutex_unlock(&vq->lock);
		if (r < 0)
			return r;
	}
	w.buf = calloc(1, 256);
	if (!w.buf)
		return -ENOMEM;
	w.cap = 256;
	w.len = VCORE_HDR_SIZE;
	r = save_core(dev, &w);
	if (!r && dev->ops->save)
		r = dev->ops->save(dev, &w);
	if (r < 0) {
		free(w.buf);
		return r;
	}
	h = w.buf;
	memcpy(h, magic, sizeof(magic));
	put_le32(h + 8, VCORE_STATE_FORMAT);
	put_le32(h + 12, dev->info.device_id);
	put_le32(h + 16, dev->info.state_version);
	put_le32(h + 20, vcore_crc32(h + VCORE_HDR_SIZE,
				    w.len - VCORE_HDR_SIZE));
	put_le64(h + 24, w.len);
	*blob = w.buf;
	*len = w.len;
	return 0;
}

/* ---- restore ---------------------------------------------------------- */

struct qrestore {
	uint16_t size;
	uint64_t desc, driver, device;
	bool enabled;
	bool has_state;
	struct vdev_queue_state st;
};

/* Splits the body into sections; -EBADMSG on any overrun. */
static int parse_sections(const uint8_t *p, size_t len,
			  struct vdev_state_reader *r)
{
	size_t off = 0, n = 0;

	while (off < len) {
		uint32_t slen;

		if (len - off < 8)
			return -EBADMSG;
		slen = get_le32(p + off + 4);
		if (slen > len - off - 8)
			return -EBADMSG;
		off += 8 + (size_t)slen;
		n++;
	}
	r->secs = calloc(n ? n : 1, sizeof(*r->secs));
	if (!r->secs)
		return -ENOMEM;
	off = 0;
	for (size_t i = 0; i < n; i++) {
		struct section *s = &r->secs[i];

		s->tag = get_le32(p + off);
		s->len = get_le32(p + off + 4);
		s->data = p + off + 8;
		off += 8 + (size_t)s->len;
	}
	/* Sorted, so that duplicates are neighbours and lookups are
	 * logarithmic: a blob is the peer's and may hold millions of
	 * sections. */
	qsort(r->secs, n, sizeof(*r->secs), section_cmp);
	for (size_t i = 1; i < n; i++)
		if (r->secs[i].tag == r->secs[i - 1].tag)
			return -EBADMSG; /* ambiguous */
	r->n = n;
	return 0;
}

static int check_core(struct vdev *dev, struct vdev_state_reader *r,
		      uint64_t *features, uint8_t *status, uint32_t *gen,
		      const uint8_t **cfg, struct qrestore *qs)
{
	const uint8_t *p;
	uint32_t len, st;
	int ret;

	ret = vdev_state_get_u64(r, TAG_FEA, features);
	if (ret < 0)
		return -EBADMSG;
	p = vdev_state_get(r, TAG_STS, &len);
	if (!p || len != 4)
		return -EBADMSG;
	st = get_le32(p);
	if (st > 0xff || (st & ~(VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER |
				 VDEV_STATUS_FEATURES_OK |
				 VDEV_STATUS_DRIVER_OK |
				 VDEV_STATUS_DEVICE_NEEDS_RESET |
				 VDEV_STATUS_FAILED)))
		return -EBADMSG;
	*status = st;
	/* Features this device cannot honour: another build or model. */
	if ((st & VDEV_STATUS_FEATURES_OK) &&
	    ((*features & ~dev->offered) ||
	     !(*features & VDEV_BIT(VDEV_F_VERSION_1))))
		return -EPROTO;
	if ((st & VDEV_STATUS_DRIVER_OK) && !(st & VDEV_STATUS_FEATURES_OK))
		return -EBADMSG;
	p = vdev_state_get(r, TAG_CFG, &len);
	if (!p || len != 4 + dev->info.config_size)
		return -EBADMSG;
	*gen = get_le32(p);
	*cfg = p + 4;
	p = vdev_state_get(r, TAG_NQ, &len);
	if (!p || len != 4)
		return -EBADMSG;
	if (get_le32(p) != dev->nvq)
		return -EPROTO;
	for (unsigned i = 0; i < dev->nvq; i++) {
		struct qrestore *q = &qs[i];
		uint32_t flags;

		p = vdev_state_get(r, TAG_Q(i), &len);
		if (!p || len != QSEC_LEN)
			return -EBADMSG;
		q->size = get_le16(p);
		flags = get_le32(p + 8);
		if (q->size == 0 || q->size > dev->info.max_queue_size ||
		    (flags & ~0xfu))
			return -EBADMSG;
		q->enabled = flags & QSEC_F_ENABLED;
		q->has_state = flags & QSEC_F_HAS_STATE;
		q->st.avail_idx = get_le16(p + 2);
		q->st.used_idx = get_le16(p + 4);
		q->st.avail_wrap = flags & QSEC_F_AVAIL_WRAP;
		q->st.used_wrap = flags & QSEC_F_USED_WRAP;
		q->desc = get_le64(p + 16);
		q->driver = get_le64(p + 24);
		q->device = get_le64(p + 32);
		if (q->enabled && !(st & VDEV_STATUS_FEATURES_OK))
			return -EBADMSG;
	}
	return 0;
}

static int apply(struct vdev *dev, struct vdev_state_reader *r,
		 uint32_t model_version, uint64_t features, uint8_t status,
		 uint32_t gen, const struct qrestore *qs)
{
	int ret;

	vdev_reset(dev);
	dev->driver_features = features;
	__atomic_store_n(&dev->generation, gen, __ATOMIC_RELEASE);
	/* Queues are configured under FEATURES_OK, then DRIVER_OK (if it
	 * was set) starts the device with the model state loaded. */
	vcore_set_status(dev, status & ~VDEV_STATUS_DRIVER_OK);
	for (unsigned i = 0; i < dev->nvq; i++) {
		struct vcore_vq *vq = &dev->vqs[i];

		pthread_mutex_lock(&vq->lock);
		vq->size = qs[i].size;
		vq->desc = qs[i].desc;
		vq->driver = qs[i].driver;
		vq->device = qs[i].device;
		vq->pending = qs[i].st;
		vq->has_pending = qs[i].has_state;
		ret = 0;
		if (qs[i].enabled) {
			ret = vcore_vq_configure_locked(vq);
			vq->enabled = ret == 0;
		}
		pthread_mutex_unlock(&vq->lock);
		if (ret < 0)
			return ret;
	}
	if (dev->ops->load) {
		ret = dev->ops->load(dev, r, model_version);
		if (ret < 0)
			return ret;
	}
	if (status & VDEV_STATUS_DRIVER_OK) {
		vcore_set_status(dev, status);
		if (dev->ops->start && !(status & (VDEV_STATUS_FAILED |
				       VDEV_STATUS_DEVICE_NEEDS_RESET))) {
			ret = dev->ops->start(dev);
			if (ret < 0)
				return ret;
		}
		for (unsigned i = 0; i < dev->nvq; i++)
			vcore_vq_schedule(&dev->vqs[i]);
	}
	return 0;
}

int vdev_restore(struct vdev *dev, const void *blob, size_t len)
{
	const uint8_t *h;
	uint8_t *copy = NULL;
	struct vdev_state_reader r = { 0 };
	struct qrestore *qs = NULL;
	uint64_t features, total;
	uint32_t gen, model_version;
	const uint8_t *cfg;
	uint8_t status, *own_cfg = NULL;
	uint32_t own_gen = 0;
	int ret;

	if (!dev || (!blob && len))
		return -EINVAL;
	if (vcore_reentered(dev, "vdev_restore"))
		return -EDEADLK;
	/* What the config space was, to put back if the restore fails. */
	own_gen = vdev_config_generation(dev);
	own_cfg = malloc(dev->info.config_size ? dev->info.config_size : 1);
	if (!own_cfg) {
		ret = -ENOMEM;
		goto fail;
	}
	vdev_config_get(dev, 0, own_cfg, dev->info.config_size);
	/*
	 * Read once: the checksum, the parse and the model's load all read
	 * the blob, and it may live where a peer can change it (a shared
	 * migration buffer). Everything below reads the private copy.
	 */
	copy = malloc(len ? len : 1);
	if (!copy) {
		ret = -ENOMEM;
		goto fail;
	}
	if (len)
		memcpy(copy, blob, len);
	h = copy;
	if (len < VCORE_HDR_SIZE) {
		ret = -EBADMSG;
		goto fail;
	}
	if (memcmp(h, magic, sizeof(magic)) != 0 ||
	    get_le32(h + 8) != VCORE_STATE_FORMAT ||
	    get_le32(h + 12) != dev->info.device_id ||
	    get_le32(h + 16) > dev->info.state_version) {
		ret = -EPROTO;
		goto fail;
	}
	model_version = get_le32(h + 16);
	total = get_le64(h + 24);
	if (total != len ||
	    vcore_crc32(h + VCORE_HDR_SIZE, len - VCORE_HDR_SIZE) !=
		    get_le32(h + 20)) {
		ret = -EBADMSG;
		goto fail;
	}
	ret = parse_sections(h + VCORE_HDR_SIZE, len - VCORE_HDR_SIZE, &r);
	if (ret < 0)
		goto fail;
	qs = calloc(dev->nvq, sizeof(*qs));
	if (!qs) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = check_core(dev, &r, &features, &status, &gen, &cfg, qs);
	if (ret < 0)
		goto fail;
	(void)cfg; /* checked (size); the model reads it in its load */
	ret = apply(dev, &r, model_version, features, status, gen, qs);
	if (ret < 0)
		goto fail;
	free(own_cfg);
	free(copy);
	free(qs);
	free(r.secs);
	return 0;
fail:
	vdev_log(VDEV_LOG_WARN, "%s: state restore refused: %s",
		 dev->info.name ? dev->info.name : "device", strerror(-ret));
	vdev_reset(dev);
	if (own_cfg) {
		vdev_config_lock(dev);
		memcpy(dev->config, own_cfg, dev->info.config_size);
		vdev_config_unlock(dev);
		__atomic_store_n(&dev->generation, own_gen,
				 __ATOMIC_RELEASE);
	}
	free(own_cfg);
	free(copy);
	free(qs);
	free(r.secs);
	return ret;
}
