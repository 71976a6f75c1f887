/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-scsi device: options, LUN images (through the image layer),
 * feature and config space setup (with the driver-writable sense_size and
 * cdb_size), the event queue, lifecycle (reset and free wait for the I/O
 * in flight; save/restore of pending unit attentions and events).
 * Requests are in scsi_req.c, the SCSI command set in scsi_cmd.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <virtio/iov.h>
#include <virtio/scsi.h>
#include <virtio/state.h>

#include "scsi_internal.h"
#include "core/sized.h"

#define SCSI_STATE_VERSION 1
#define SCSI_TAG_UA  VDEV_STATE_TAG('S', 'C', 'U', 'A')
#define SCSI_TAG_EVT VDEV_STATE_TAG('S', 'C', 'E', 'V')
#define SCSI_MAX_QUEUES 64u
#define SCSI_EVT_IOV 8u

_Static_assert(sizeof(struct vdev_scsi_config_space) == SCSI_CONFIG_SIZE,
	       "config size");
_Static_assert(offsetof(struct vdev_scsi_config_space, sense_size) ==
		       SCSI_CFG_SENSE_OFF,
	       "sense_size offset");
_Static_assert(offsetof(struct vdev_scsi_config_space, cdb_size) ==
		       SCSI_CFG_CDB_OFF,
	       "cdb_size offset");
_Static_assert(sizeof(struct vdev_scsi_cmd_req) ==
		       VDEV_SCSI_CMD_REQ_HDR + VDEV_SCSI_CDB_SIZE_DEFAULT,
	       "request header");
_Static_assert(sizeof(struct vdev_scsi_cmd_resp) ==
		       VDEV_SCSI_CMD_RESP_HDR + VDEV_SCSI_SENSE_SIZE_DEFAULT,
	       "response header");

static struct vdev_scsi_config_space *cfgspace(struct scsi_dev *s)
{
	return vdev_config(s->dev);
}

unsigned vdev_scsi_num_luns(const struct vdev *dev)
{
	const struct scsi_dev *s = vdev_priv(dev);

	return s->nluns;
}

/* ---- event queue --------------------------------------------------------- */

static void put_lun(uint8_t *lun, unsigned n)
{
	memset(lun, 0, 8);
	lun[0] = 1;
	lun[2] = (uint8_t)(0x40 | n >> 8);
	lun[3] = (uint8_t)n;
}

void scsi_event_handle(struct scsi_dev *s, struct vdev_queue *q)
{
	struct iovec iov[SCSI_EVT_IOV];
	struct vdev_req vr = { .iov = iov, .iov_max = SCSI_EVT_IOV };
	bool pushed = false;

	/* Buffers wait in the ring until there is something to say. */
	pthread_mutex_lock(&s->evt_lock);
	while (s->nevts) {
		struct vdev_scsi_event ev = { 0 };
		int ret = vdev_queue_pop(q, &vr);

		if (ret == -EMSGSIZE) {
			pushed = true;
			continue;
		}
		if (ret < 0)
			break;
		pushed = true;
		if (vr.in_bytes < sizeof(ev)) {
			vdev_queue_push(q, &vr, 0);
			continue;
		}
		ev.event = vdev_cpu_to_le32(
			s->evts[0].event |
			(s->evts_missed ? VDEV_SCSI_T_EVENTS_MISSED : 0));
		ev.reason = vdev_cpu_to_le32(s->evts[0].reason);
		put_lun(ev.lun, s->evts[0].lun);
		s->evts_missed = false;
		memmove(&s->evts[0], &s->evts[1],
			--s->nevts * sizeof(s->evts[0]));
		vdev_iov_from_buf(vr.in, vr.nin, 0, &ev, sizeof(ev));
		vdev_queue_push(q, &vr, sizeof(ev));
	}
	pthread_mutex_unlock(&s->evt_lock);
	if (pushed)
		vdev_queue_notify(q);
}

int vdev_scsi_post_event(struct vdev *dev, uint32_t event, uint32_t reason,
			 unsigned lun)
{
	struct scsi_dev *s;

	if (!dev)
		return -EINVAL;
	s = vdev_priv(dev);
	if (lun >= s->nluns)
		return -EINVAL;
	switch (event) {
	case VDEV_SCSI_T_TRANSPORT_RESET:
		if (reason > VDEV_SCSI_EVT_RESET_REMOVED)
			return -EINVAL;
		if (!vdev_has_feature(dev, VDEV_SCSI_F_HOTPLUG))
			return -ENOTSUP;
		break;
	case VDEV_SCSI_T_PARAM_CHANGE:
		if (!vdev_has_feature(dev, VDEV_SCSI_F_CHANGE))
			return -ENOTSUP;
		break;
	default:
		return -EINVAL;
	}
	pthread_mutex_lock(&s->evt_lock);
	if (s->nevts == SCSI_EVENTS_MAX) {
		s->evts_missed = true;
	} else {
		s->evts[s->nevts].event = event;
		s->evts[s->nevts].reason = reason;
		s->evts[s->nevts].lun = (uint16_t)lun;
		s->nevts++;
	}
	pthread_mutex_unlock(&s->evt_lock);
	vdev_queue_schedule(dev, VDEV_SCSI_EVENT_QUEUE);
	return 0;
}

/* ---- lifecycle ------------------------------------------------------------ */

static int scsi_config_write(struct vdev *dev, uint32_t offset,
			     const void *data, uint32_t len)
{
	struct scsi_dev *s = vdev_priv(dev);
	vdev_le32 le;
	uint32_t v;

	/* 5.6.4: only sense_size and cdb_size are the driver's. */
	if ((offset != SCSI_CFG_SENSE_OFF && offset != SCSI_CFG_CDB_OFF) ||
	    len != sizeof(le))
		return -EPERM;
	memcpy(&le, data, sizeof(le));
	v = vdev_le32_to_cpu(le);
	if (offset == SCSI_CFG_SENSE_OFF) {
		if (v > VDEV_SCSI_SENSE_SIZE_MAX)
			return -EINVAL;
		atomic_store(&s->sense_size, v);
	} else {
		if (v > VDEV_SCSI_CDB_SIZE_MAX)
			return -EINVAL;
		atomic_store(&s->cdb_size, v);
	}
	return 0;
}

static void default_sizes(struct scsi_dev *s)
{
	struct vdev_scsi_config_space *cs = cfgspace(s);

	atomic_store(&s->sense_size, VDEV_SCSI_SENSE_SIZE_DEFAULT);
	atomic_store(&s->cdb_size, VDEV_SCSI_CDB_SIZE_DEFAULT);
	cs->sense_size = vdev_cpu_to_le32(VDEV_SCSI_SENSE_SIZE_DEFAULT);
	cs->cdb_size = vdev_cpu_to_le32(VDEV_SCSI_CDB_SIZE_DEFAULT);
}

/* Every queue lock is held: waits for what the image layer still has,
 * so no completion lands in a reset ring; the TMFs waiting for those
 * tasks end with them. */
static void drain(struct scsi_dev *s)
{
	for (unsigned i = 0; s->queues && i < s->nq; i++) {
		struct scsi_queue *q = &s->queues[i];

		if (q->sq)
			stg_drain(q->sq);
		q->pushed = false;
		q->starved = false;
		atomic_store(&q->abort_pending, false);
	}
	scsi_tmf_flush(s);
}

/* ops->drain of a request queue: its commands on the image layer end now,
 * on the thread that stops it (its lock is held). The control queue's
 * TMFs end with tasks of other queues, whose locks are not ours: the
 * core waits for them instead. */
static void scsi_drain(struct vdev *dev, unsigned qidx, struct vdev_queue *vq)
{
	struct scsi_dev *s = vdev_priv(dev);
	struct scsi_queue *q;

	(void)vq;
	if (!s->queues || qidx < VDEV_SCSI_REQ_QUEUE0 ||
	    qidx - VDEV_SCSI_REQ_QUEUE0 >= s->nq)
		return;
	q = &s->queues[qidx - VDEV_SCSI_REQ_QUEUE0];
	if (q->sq)
		stg_drain(q->sq);
	scsi_batch_done(q);
}

static void scsi_reset(struct vdev *dev)
{
	struct scsi_dev *s = vdev_priv(dev);

	drain(s);
	pthread_mutex_lock(&s->evt_lock);
	s->nevts = 0;
	s->evts_missed = false;
	pthread_mutex_unlock(&s->evt_lock);
	for (unsigned i = 0; i < s->nluns; i++)
		atomic_store(&s->luns[i].ua, SCSI_UA_NONE);
	default_sizes(s);
}

static int scsi_save(struct vdev *dev, struct vdev_state_writer *w)
{
	struct scsi_dev *s = vdev_priv(dev);
	uint8_t ua[VDEV_SCSI_MAX_LUNS];
	uint8_t ev[1 + SCSI_EVENTS_MAX * 10];
	size_t n = 1;
	int ret;

	for (unsigned i = 0; i < s->nq; i++)
		if (s->queues[i].inflight)
			return -EBUSY;
	for (unsigned i = 0; i < SCSI_TMF_SLOTS; i++)
		if (s->tmfs[i].busy)
			return -EBUSY;
	for (unsigned i = 0; i < s->nluns; i++)
		ua[i] = (uint8_t)atomic_load(&s->luns[i].ua);
	ret = vdev_state_put(w, SCSI_TAG_UA, ua, s->nluns);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&s->evt_lock);
	ev[0] = s->evts_missed;
	for (unsigned i = 0; i < s->nevts; i++, n += 10) {
		vdev_le32 e = vdev_cpu_to_le32(s->evts[i].event);
		vdev_le32 r = vdev_cpu_to_le32(s->evts[i].reason);
		vdev_le16 l = vdev_cpu_to_le16(s->evts[i].lun);

		memcpy(ev + n, &e, 4);
		memcpy(ev + n + 4, &r, 4);
		memcpy(ev + n + 8, &l, 2);
	}
	pthread_mutex_unlock(&s->evt_lock);
	return vdev_state_put(w, SCSI_TAG_EVT, ev, (uint32_t)n);
}

static int scsi_load(struct vdev *dev, struct vdev_state_reader *r,
		     uint32_t version)
{
	struct scsi_dev *s = vdev_priv(dev);
	struct vdev_scsi_config_space *cs = cfgspace(s);
	struct vdev_scsi_config_space saved;
	const void *cfg;
	struct scsi_evt evts[SCSI_EVENTS_MAX];
	const uint8_t *ua, *ev;
	uint32_t ualen, evlen, sense, cdb, cfglen;
	unsigned n;

	(void)version;
	cfg = vdev_state_config(r, &cfglen);
	if (!cfg || cfglen != sizeof(saved))
		return -EBADMSG;
	memcpy(&saved, cfg, sizeof(saved)); /* the blob is not aligned */
	ua = vdev_state_get(r, SCSI_TAG_UA, &ualen);
	ev = vdev_state_get(r, SCSI_TAG_EVT, &evlen);
	if (!ua || !ev)
		return -EBADMSG;
	if (ualen != s->nluns || !evlen || (evlen - 1) % 10 ||
	    (evlen - 1) / 10 > SCSI_EVENTS_MAX || ev[0] > 1)
		return -EBADMSG;
	for (unsigned i = 0; i < ualen; i++)
		if (ua[i] >= SCSI_UA_COUNT)
			return -EBADMSG;
	n = (evlen - 1) / 10;
	for (unsigned i = 0; i < n; i++) {
		vdev_le32 e, rs;
		vdev_le16 l;

		memcpy(&e, ev + 1 + 10 * i, 4);
		memcpy(&rs, ev + 1 + 10 * i + 4, 4);
		memcpy(&l, ev + 1 + 10 * i + 8, 2);
		evts[i].event = vdev_le32_to_cpu(e);
		evts[i].reason = vdev_le32_to_cpu(rs);
		evts[i].lun = vdev_le16_to_cpu(l);
		if ((evts[i].event != VDEV_SCSI_T_TRANSPORT_RESET &&
		     evts[i].event != VDEV_SCSI_T_PARAM_CHANGE) ||
		    evts[i].lun >= s->nluns)
			return -EBADMSG;
	}
	/* The sizes the driver chose (5.6.4: the only fields it writes);
	 * the rest of the config space describes this device and stays. */
	sense = vdev_le32_to_cpu(saved.sense_size);
	cdb = vdev_le32_to_cpu(saved.cdb_size);
	if (sense > VDEV_SCSI_SENSE_SIZE_MAX || cdb > VDEV_SCSI_CDB_SIZE_MAX)
		return -EBADMSG;
	atomic_store(&s->sense_size, sense);
	atomic_store(&s->cdb_size, cdb);
	cs->sense_size = saved.sense_size;
	cs->cdb_size = saved.cdb_size;
	for (unsigned i = 0; i < ualen; i++)
		atomic_store(&s->luns[i].ua, ua[i]);
	pthread_mutex_lock(&s->evt_lock);
	memcpy(s->evts, evts, n * sizeof(evts[0]));
	s->nevts = n;
	s->evts_missed = ev[0];
	pthread_mutex_unlock(&s->evt_lock);
	return 0;
}

static void free_scsi(struct scsi_dev *s)
{
	for (unsigned i = 0; s->queues && i < s->nq; i++) {
		struct scsi_queue *q = &s->queues[i];

		stg_queue_free(q->sq);
		for (unsigned j = 0; q->slots && j < q->nslots; j++)
			free(q->slots[j].ext);
		free(q->slots);
		pthread_mutex_destroy(&q->lock);
	}
	for (unsigned i = 0; s->luns && i < s->nluns; i++)
		stg_image_close(s->luns[i].img);
	free(s->luns);
	free(s->imgs);
	free(s->queues);
	pthread_mutex_destroy(&s->evt_lock);
	pthread_mutex_destroy(&s->tmf_lock);
	free(s);
}

static void scsi_destroy(struct vdev *dev)
{
	struct scsi_dev *s = vdev_priv(dev);

	drain(s);
	free_scsi(s);
}

static int scsi_start(struct vdev *dev)
{
	struct scsi_dev *s = vdev_priv(dev);

	for (unsigned i = 0; i < s->nq; i++)
		stg_queue_start(s->queues[i].sq);
	return 0;
}

static const struct vdev_ops scsi_ops = {
	.config_write = scsi_config_write,
	.start = scsi_start,
	.reset = scsi_reset,
	.drain = scsi_drain,
	.handle = scsi_handle,
	.save = scsi_save,
	.load = scsi_load,
	.destroy = scsi_destroy,
};

/* ---- creation ------------------------------------------------------------ */

enum vdev_image_backend vdev_scsi_backend(const struct vdev *dev)
{
	const struct scsi_dev *s = vdev_priv(dev);

	return (enum vdev_image_backend)s->luns[0].img->engine;
}

static int alloc_queues(struct scsi_dev *s)
{
	unsigned nslots = s->queue_size < SCSI_MAX_INFLIGHT
				  ? s->queue_size
				  : SCSI_MAX_INFLIGHT;

	for (unsigned i = 0; i < s->nq; i++) {
		struct scsi_queue *q = &s->queues[i];

		q->s = s;
		q->vq_idx = VDEV_SCSI_REQ_QUEUE0 + i;
		pthread_mutex_init(&q->lock, NULL);
		q->slots = calloc(nslots, sizeof(*q->slots));
		if (!q->slots)
			return -ENOMEM;
		q->nslots = nslots;
		for (unsigned j = nslots; j-- > 0;) {
			struct scsi_task *t = &q->slots[j];

			t->q = q;
			t->vr.iov = t->iov;
			t->vr.iov_max = SCSI_IOV_MAX;
			t->next_free = q->free;
			q->free = t;
		}
		q->sq = stg_queue_new(NULL, q->vq_idx, nslots, s->imgs,
				      s->nluns, scsi_batch_done, q);
		if (!q->sq)
			return -errno;
	}
	return 0;
}

static int open_lun(struct scsi_dev *s, unsigned i,
		    const struct vdev_scsi_config *cfg)
{
	struct scsi_lun *l = &s->luns[i];
	const char *prefix = cfg->serial ? cfg->serial : "vdev-scsi";
	const char *uri = cfg->nbd_uris ? cfg->nbd_uris[i] : NULL;
	char who[32];
	struct stg_open_opts o = {
		.path = uri ? NULL : cfg->paths[i],
		.fd = -1,
		.nbd_uri = uri,
		.engine = (enum stg_engine)cfg->backend,
		.format = cfg->format,
		.read_only = cfg->read_only,
		.block_size = s->lbs,
		.who = who,
	};
	uint64_t h;

	if (!o.path && !o.nbd_uri)
		return -EINVAL;
	snprintf(who, sizeof(who), "scsi LUN %u", i);
	l->img = stg_image_open(&o);
	if (!l->img)
		return -errno;
	l->ro = cfg->read_only;
	/* Told so, or the image's medium is (memory, an SSD). */
	l->nonrot = s->solid_state || l->img->nonrot;
	l->nblocks = l->img->size / s->lbs;
	s->imgs[i] = l->img;
	snprintf(l->serial, sizeof(l->serial), "%.32s-%u", prefix, i);
	/* NAA 3 (locally assigned): the same image keeps its identifier
	 * across restarts, two images never share one. */
	h = l->img->id;
	h = (h & 0x0fffffffffffffffull) | 0x3000000000000000ull;
	for (unsigned k = 0; k < 8; k++)
		l->naa[k] = (uint8_t)(h >> (56 - 8 * k));
	return 0;
}

static void fill_config(struct scsi_dev *s)
{
	struct vdev_scsi_config_space *cs = cfgspace(s);

	cs->num_queues = vdev_cpu_to_le32(s->nq);
	cs->seg_max = vdev_cpu_to_le32(SCSI_SEG_MAX);
	cs->max_sectors = vdev_cpu_to_le32(SCSI_MAX_XFER_BYTES / 512);
	cs->cmd_per_lun = vdev_cpu_to_le32(s->queue_size);
	cs->event_info_size = vdev_cpu_to_le32(sizeof(struct vdev_scsi_event));
	cs->max_channel = vdev_cpu_to_le16(0);
	cs->max_target = vdev_cpu_to_le16(0);
	cs->max_lun = vdev_cpu_to_le32(s->nluns - 1);
	default_sizes(s);
}

static struct vdev *scsi_new_cfg(const struct vdev_scsi_config *cfg)
{
	struct vdev_info info = { 0 };
	struct scsi_dev *s;
	int ret;

	if (!cfg || (!cfg->paths && !cfg->nbd_uris) || !cfg->num_luns ||
	    cfg->num_luns > VDEV_SCSI_MAX_LUNS ||
	    (cfg->logical_block_size && cfg->logical_block_size != 512 &&
	     cfg->logical_block_size != 4096) ||
	    cfg->num_queues > SCSI_MAX_QUEUES ||
	    cfg->queue_size > VDEV_QUEUE_SIZE_MAX ||
	    cfg->backend == VDEV_IMAGE_BACKEND_NULL ||
	    cfg->backend == VDEV_IMAGE_BACKEND_RAM ||
	    (unsigned)cfg->backend > VDEV_IMAGE_BACKEND_NBD) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	pthread_mutex_init(&s->evt_lock, NULL);
	pthread_mutex_init(&s->tmf_lock, NULL);
	s->lbs = cfg->logical_block_size ? cfg->logical_block_size : 512;
	s->nq = cfg->num_queues ? cfg->num_queues : 1;
	s->queue_size = cfg->queue_size ? cfg->queue_size : 256;
	s->solid_state = cfg->solid_state;
	s->nluns = cfg->num_luns;
	s->luns = calloc(s->nluns, sizeof(*s->luns));
	s->imgs = calloc(s->nluns, sizeof(*s->imgs));
	s->queues = calloc(s->nq, sizeof(*s->queues));
	if (!s->luns || !s->imgs || !s->queues) {
		ret = -ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < s->nluns; i++) {
		ret = open_lun(s, i, cfg);
		if (ret < 0)
			goto fail;
	}
	for (unsigned i = 0; i < SCSI_TMF_SLOTS; i++) {
		s->tmfs[i].vr.iov = s->tmfs[i].iov;
		s->tmfs[i].vr.iov_max = SCSI_IOV_MAX;
	}
	ret = alloc_queues(s);
	if (ret < 0)
		goto fail;

	info.name = "scsi";
	info.device_id = VDEV_ID_SCSI;
	info.features = VDEV_BIT(VDEV_SCSI_F_CHANGE);
	if (cfg->hotplug)
		info.features |= VDEV_BIT(VDEV_SCSI_F_HOTPLUG);
	info.num_queues = VDEV_SCSI_REQ_QUEUE0 + s->nq;
	/* Commands complete in any order (the image layer). */
	info.ring_features_mask = VDEV_BIT(VDEV_F_IN_ORDER);
	info.max_queue_size = s->queue_size;
	info.config_size = SCSI_CONFIG_SIZE;
	info.state_version = SCSI_STATE_VERSION;
	s->dev = vdev_new(&info, &scsi_ops, s);
	if (!s->dev) {
		ret = -errno;
		goto fail;
	}
	for (unsigned i = 0; i < s->nq; i++)
		stg_queue_set_dev(s->queues[i].sq, s->dev);
	fill_config(s);
	return s->dev;
fail:
	free_scsi(s);
	errno = -ret;
	return NULL;
}

/* The caller's config at the size it was compiled with (api.h). */
struct vdev *(vdev_scsi_new)(const struct vdev_scsi_config *cfg, size_t size)
{
	struct vdev_scsi_config c;
	struct vdev *dev;
	int e;

	if (cfg && !VSIZED_IN(c, cfg, size))
		return NULL;
	dev = scsi_new_cfg(cfg ? &c : NULL);
	e = errno;
	errno = e;
	return dev;
}
