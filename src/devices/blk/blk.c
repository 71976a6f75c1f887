/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-blk device: options, feature and config space setup, cache mode
 * (CONFIG_WCE), lifecycle (start, reset, save/restore). Requests are in
 * blk_req.c; the image and its I/O are the image layer's (src/storage).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <virtio/blk.h>
#include <virtio/state.h>

#include "blk_internal.h"
#include "core/sized.h"

#define BLK_STATE_VERSION 1
#define BLK_TAG_WRITEBACK VDEV_STATE_TAG('B', 'L', 'K', 'W')
#define BLK_TAG_CAPACITY  VDEV_STATE_TAG('B', 'L', 'K', 'C')

#define BLK_DEFAULT_MEM_SIZE (64ull << 20)
#define BLK_MAX_QUEUES 256u

_Static_assert(offsetof(struct vdev_blk_config_space, writeback) ==
		       BLK_CFG_WRITEBACK_OFF,
	       "writeback offset");
_Static_assert(offsetof(struct vdev_blk_config_space, unused1) + 3 ==
		       BLK_CONFIG_SIZE,
	       "config size");

const char *vdev_blk_backend_name(enum vdev_blk_backend be)
{
	return vdev_image_backend_name((enum vdev_image_backend)be);
}

int vdev_blk_backend_parse(const char *name, enum vdev_blk_backend *be)
{
	enum vdev_image_backend ib;
	int ret = vdev_image_backend_parse(name, &ib);

	if (!ret)
		*be = (enum vdev_blk_backend)ib;
	return ret;
}

enum vdev_blk_backend vdev_blk_backend(const struct vdev *dev)
{
	const struct blk_dev *b = vdev_priv(dev);

	return (enum vdev_blk_backend)b->img->engine;
}

static struct vdev_blk_config_space *cfgspace(struct blk_dev *b)
{
	return vdev_config(b->dev);
}

/*
 * 5.2.6.2: writes are stable at completion when FLUSH was offered but not
 * negotiated, or CONFIG_WCE was negotiated and writeback is 0.
 */
static void update_cache_mode(struct blk_dev *b)
{
	bool wb = atomic_load(&b->writeback);
	bool wt = !b->neg_flush || (b->neg_wce && !wb);

	atomic_store(&b->writethrough, wt);
}

static int blk_features_ok(struct vdev *dev, uint64_t features)
{
	struct blk_dev *b = vdev_priv(dev);

	b->neg_flush = features & VDEV_BIT(VDEV_BLK_F_FLUSH);
	b->neg_wce = features & VDEV_BIT(VDEV_BLK_F_CONFIG_WCE);
	b->neg_discard = features & VDEV_BIT(VDEV_BLK_F_DISCARD);
	b->neg_write_zeroes = features & VDEV_BIT(VDEV_BLK_F_WRITE_ZEROES);
	/* 5.2.5.2: CONFIG_WCE without FLUSH starts in writethrough. */
	if (b->neg_wce && !b->neg_flush) {
		atomic_store(&b->writeback, false);
		cfgspace(b)->writeback = 0;
	}
	update_cache_mode(b);
	return 0;
}

static int blk_config_write(struct vdev *dev, uint32_t offset,
			    const void *data, uint32_t len)
{
	struct blk_dev *b = vdev_priv(dev);
	uint8_t v;

	/* Only writeback is writable, and only with CONFIG_WCE. */
	if (offset != BLK_CFG_WRITEBACK_OFF || len != 1 ||
	    !vdev_has_feature(dev, VDEV_BLK_F_CONFIG_WCE))
		return -EPERM;
	v = *(const uint8_t *)data;
	if (v > 1)
		return -EINVAL;
	atomic_store(&b->writeback, v == 1);
	update_cache_mode(b);
	return 0;
}

static int blk_start(struct vdev *dev)
{
	struct blk_dev *b = vdev_priv(dev);

	for (unsigned i = 0; i < b->nq; i++)
		stg_queue_start(b->queues[i].sq);
	return 0;
}

static void drain_queues(struct blk_dev *b)
{
	for (unsigned i = 0; b->queues && i < b->nq; i++) {
		struct blk_queue *bq = &b->queues[i];

		if (bq->sq)
			stg_drain(bq->sq);
		bq->pushed = false;
		bq->starved = false;
	}
}

/* ops->drain: what the image layer still has for this queue completes
 * now, on the thread that stops it (the queue's lock is held). */
static void blk_drain(struct vdev *dev, unsigned qidx, struct vdev_queue *q)
{
	struct blk_dev *b = vdev_priv(dev);
	struct blk_queue *bq;

	(void)q;
	if (!b->queues || qidx >= b->nq)
		return;
	bq = &b->queues[qidx];
	if (bq->sq)
		stg_drain(bq->sq);
	blk_queue_notify(bq);
}

static void blk_reset(struct vdev *dev)
{
	struct blk_dev *b = vdev_priv(dev);

	/* Every queue lock is held: wait for what the kernel still has,
	 * so no completion lands in a reset ring or freed memory. */
	drain_queues(b);
	b->neg_flush = b->neg_wce = false;
	b->neg_discard = b->neg_write_zeroes = false;
	atomic_store(&b->writeback, b->writeback_default);
	cfgspace(b)->writeback = b->writeback_default;
	update_cache_mode(b);
}

static int blk_save(struct vdev *dev, struct vdev_state_writer *w)
{
	struct blk_dev *b = vdev_priv(dev);
	int ret;

	for (unsigned i = 0; i < b->nq; i++)
		if (b->queues[i].inflight)
			return -EBUSY;
	ret = vdev_state_put_u64(w, BLK_TAG_WRITEBACK,
				 atomic_load(&b->writeback));
	if (!ret)
		ret = vdev_state_put_u64(w, BLK_TAG_CAPACITY, b->capacity);
	return ret;
}

static int blk_load(struct vdev *dev, struct vdev_state_reader *r,
		    uint32_t version)
{
	struct blk_dev *b = vdev_priv(dev);
	struct vdev_blk_config_space *cs = cfgspace(b);
	uint64_t wb, cap;
	int ret;

	ret = vdev_state_get_u64(r, BLK_TAG_WRITEBACK, &wb);
	if (ret < 0)
		return ret;
	if (wb > 1)
		return -EBADMSG;
	if (vdev_state_get_u64(r, BLK_TAG_CAPACITY, &cap) == 0 &&
	    cap != b->capacity)
		vdev_log(VDEV_LOG_WARN,
			 "blk: restored state is for a %llu-byte image, this "
			 "one has %llu bytes",
			 (unsigned long long)cap,
			 (unsigned long long)b->capacity);
	b->neg_flush = vdev_has_feature(dev, VDEV_BLK_F_FLUSH);
	b->neg_wce = vdev_has_feature(dev, VDEV_BLK_F_CONFIG_WCE);
	b->neg_discard = vdev_has_feature(dev, VDEV_BLK_F_DISCARD);
	b->neg_write_zeroes = vdev_has_feature(dev, VDEV_BLK_F_WRITE_ZEROES);
	atomic_store(&b->writeback, wb == 1);
	update_cache_mode(b);
	/* The only config field the driver writes; the rest describes this
	 * image and stays as it is. */
	cs->writeback = (uint8_t)wb;
	return 0;
}

static void free_queues(struct blk_dev *b)
{
	for (unsigned i = 0; b->queues && i < b->nq; i++) {
		stg_queue_free(b->queues[i].sq);
		free(b->queues[i].slots);
	}
	free(b->queues);
	b->queues = NULL;
}

static void free_blk(struct blk_dev *b)
{
	free_queues(b);
	stg_image_close(b->img);
	free(b);
}

static void blk_destroy(struct vdev *dev)
{
	struct blk_dev *b = vdev_priv(dev);

	drain_queues(b);
	free_blk(b);
}

static const struct vdev_ops blk_ops = {
	.features_ok = blk_features_ok,
	.config_write = blk_config_write,
	.start = blk_start,
	.reset = blk_reset,
	.drain = blk_drain,
	.handle = blk_handle,
	.save = blk_save,
	.load = blk_load,
	.destroy = blk_destroy,
};

static int open_image(struct blk_dev *b, const struct vdev_blk_config *cfg)
{
	struct stg_open_opts o = {
		.path = cfg->path,
		.fd = cfg->fd,
		.nbd_uri = cfg->nbd_uri,
		.mem_size = cfg->size ? cfg->size : BLK_DEFAULT_MEM_SIZE,
		.engine = (enum stg_engine)cfg->backend,
		.format = cfg->format,
		.read_only = cfg->read_only,
		.direct = cfg->direct,
		.block_size = cfg->logical_block_size,
		.who = "blk",
	};

	if (cfg->nbd_uri && cfg->backend != VDEV_BLK_BACKEND_AUTO &&
	    cfg->backend != VDEV_BLK_BACKEND_NBD)
		return -EINVAL;
	if (cfg->backend == VDEV_BLK_BACKEND_NBD && !cfg->nbd_uri)
		return -EINVAL;
	b->img = stg_image_open(&o);
	if (!b->img)
		return -errno;
	b->lbs = b->img->block_size;
	b->capacity = b->img->size;
	return 0;
}

static int alloc_queues(struct blk_dev *b)
{
	unsigned nslots = b->queue_size < BLK_MAX_INFLIGHT ? b->queue_size
							   : BLK_MAX_INFLIGHT;

	b->queues = calloc(b->nq, sizeof(*b->queues));
	if (!b->queues)
		return -ENOMEM;
	for (unsigned i = 0; i < b->nq; i++) {
		struct blk_queue *bq = &b->queues[i];

		bq->b = b;
		bq->idx = i;
		bq->slots = calloc(nslots, sizeof(*bq->slots));
		if (!bq->slots)
			return -ENOMEM;
		bq->sq = stg_queue_new(NULL, i, nslots, &b->img, 1,
				       blk_batch_done, bq);
		if (!bq->sq)
			return -errno;
		for (unsigned j = nslots; j-- > 0;) {
			struct blk_req *r = &bq->slots[j];

			r->bq = bq;
			r->vr.iov = r->iov;
			r->vr.iov_max = BLK_IOV_MAX;
			r->next_free = bq->free;
			bq->free = r;
		}
	}
	return 0;
}

static void fill_config(struct blk_dev *b, uint64_t features)
{
	struct vdev_blk_config_space *cs = cfgspace(b);
	uint32_t lbs_sectors = b->lbs / VDEV_BLK_SECTOR_SIZE;

	cs->capacity = vdev_cpu_to_le64(b->capacity / VDEV_BLK_SECTOR_SIZE);
	cs->size_max = vdev_cpu_to_le32(BLK_SIZE_MAX);
	cs->seg_max = vdev_cpu_to_le32(BLK_SEG_MAX);
	cs->blk_size = vdev_cpu_to_le32(b->lbs);
	/* A 4Kn host disk behind 512-byte logical blocks: the guest then
	 * aligns its writes to the physical block. */
	cs->physical_block_exp =
		(uint8_t)(__builtin_ctz(b->img->phys_block) -
			  __builtin_ctz(b->lbs));
	cs->alignment_offset = 0;
	cs->min_io_size = vdev_cpu_to_le16(1);
	cs->opt_io_size = vdev_cpu_to_le32(0);
	cs->writeback = b->writeback_default;
	cs->num_queues = vdev_cpu_to_le16((uint16_t)b->nq);
	if (features & VDEV_BIT(VDEV_BLK_F_DISCARD)) {
		cs->max_discard_sectors = vdev_cpu_to_le32(BLK_MAX_DWZ_SECTORS);
		cs->max_discard_seg = vdev_cpu_to_le32(BLK_MAX_DWZ_SEG);
		cs->discard_sector_alignment = vdev_cpu_to_le32(lbs_sectors);
	}
	if (features & VDEV_BIT(VDEV_BLK_F_WRITE_ZEROES)) {
		cs->max_write_zeroes_sectors =
			vdev_cpu_to_le32(BLK_MAX_DWZ_SECTORS);
		cs->max_write_zeroes_seg = vdev_cpu_to_le32(BLK_MAX_DWZ_SEG);
		/* Files punch holes, ram drops pages. */
		cs->write_zeroes_may_unmap = b->img->zero_unmaps;
	}
}

static struct vdev *blk_new_cfg(const struct vdev_blk_config *cfg)
{
	struct vdev_info info = { 0 };
	struct blk_dev *b;
	uint64_t features;
	size_t slen;
	int ret;

	if (!cfg) {
		errno = EINVAL;
		return NULL;
	}
	if ((cfg->logical_block_size && cfg->logical_block_size != 512 &&
	     cfg->logical_block_size != 4096) ||
	    cfg->num_queues > BLK_MAX_QUEUES ||
	    cfg->queue_size > VDEV_QUEUE_SIZE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->nq = cfg->num_queues ? cfg->num_queues : 1;
	b->queue_size = cfg->queue_size ? cfg->queue_size : 256;
	b->ro = cfg->read_only;
	b->writeback_default = !cfg->writethrough;
	atomic_store(&b->writeback, b->writeback_default);
	atomic_store(&b->writethrough, true);
	if (cfg->serial) {
		slen = strlen(cfg->serial);
		memcpy(b->serial, cfg->serial,
		       slen > sizeof(b->serial) ? sizeof(b->serial) : slen);
	}

	if ((unsigned)cfg->backend > VDEV_BLK_BACKEND_NBD) {
		ret = -EINVAL;
		goto fail;
	}
	ret = open_image(b, cfg);
	if (!ret)
		ret = alloc_queues(b);
	if (ret < 0)
		goto fail;

	features = VDEV_BIT(VDEV_BLK_F_SIZE_MAX) | VDEV_BIT(VDEV_BLK_F_SEG_MAX) |
		   VDEV_BIT(VDEV_BLK_F_BLK_SIZE) | VDEV_BIT(VDEV_BLK_F_TOPOLOGY) |
		   VDEV_BIT(VDEV_BLK_F_FLUSH) | VDEV_BIT(VDEV_BLK_F_CONFIG_WCE);
	if (b->ro)
		features |= VDEV_BIT(VDEV_BLK_F_RO);
	else
		features |= VDEV_BIT(VDEV_BLK_F_DISCARD) |
			    VDEV_BIT(VDEV_BLK_F_WRITE_ZEROES);
	if (b->nq > 1)
		features |= VDEV_BIT(VDEV_BLK_F_MQ);

	info.name = "blk";
	info.device_id = VDEV_ID_BLOCK;
	info.features = features;
	/* Only memory images complete each request inside the round that
	 * popped it, in order; files (io_uring, the worker pool for large
	 * transfers and DISCARD) and NBD do not. */
	if (b->img->engine != STG_ENGINE_NULL &&
	    b->img->engine != STG_ENGINE_RAM)
		info.ring_features_mask = VDEV_BIT(VDEV_F_IN_ORDER);
	info.num_queues = b->nq;
	info.max_queue_size = b->queue_size;
	info.config_size = BLK_CONFIG_SIZE;
	info.state_version = BLK_STATE_VERSION;

	b->dev = vdev_new(&info, &blk_ops, b);
	if (!b->dev) {
		ret = -errno;
		goto fail;
	}
	for (unsigned i = 0; i < b->nq; i++) {
		b->queues[i].vq = vdev_get_queue(b->dev, i);
		stg_queue_set_dev(b->queues[i].sq, b->dev);
	}
	fill_config(b, features);
	return b->dev;
fail:
	free_blk(b);
	errno = -ret;
	return NULL;
}

/* The caller's config at the size it was compiled with (api.h). */
struct vdev *(vdev_blk_new)(const struct vdev_blk_config *cfg, size_t size)
{
	struct vdev_blk_config c;
	struct vdev *dev;
	int e;

	if (cfg && !VSIZED_IN(c, cfg, size))
		return NULL;
	dev = blk_new_cfg(cfg ? &c : NULL);
	e = errno;
	errno = e;
	return dev;
}
