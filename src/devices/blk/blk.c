/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-blk device: options, image, feature and config space setup, cache
 * mode (CONFIG_WCE), lifecycle (start, reset, save/restore) and the choice
 * of backend. Requests are in blk_req.c, backends in blk_{sync,uring,mem}.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <virtio/blk.h>
#include <virtio/state.h>

#include "blk_internal.h"

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

#if !VDEV_WITH_URING_FOUND
bool blk_uring_test_fail_init;
#endif

static const char *const backend_names[] = {
	[VDEV_BLK_BACKEND_AUTO] = "auto", [VDEV_BLK_BACKEND_URING] = "uring",
	[VDEV_BLK_BACKEND_SYNC] = "sync", [VDEV_BLK_BACKEND_NULL] = "null",
	[VDEV_BLK_BACKEND_RAM] = "ram",
};

const char *vdev_blk_backend_name(enum vdev_blk_backend be)
{
	if ((unsigned)be >= sizeof(backend_names) / sizeof(backend_names[0]))
		return "unknown";
	return backend_names[be];
}

int vdev_blk_backend_parse(const char *name, enum vdev_blk_backend *be)
{
	for (unsigned i = 0;
	     name && i < sizeof(backend_names) / sizeof(backend_names[0]);
	     i++) {
		if (strcmp(name, backend_names[i]) == 0) {
			*be = (enum vdev_blk_backend)i;
			return 0;
		}
	}
	return -EINVAL;
}

enum vdev_blk_backend vdev_blk_backend(const struct vdev *dev)
{
	const struct blk_dev *b = vdev_priv(dev);

	return b->be->kind;
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
		if (b->be->start)
			b->be->start(&b->queues[i]);
	return 0;
}

static void drain_queues(struct blk_dev *b)
{
	for (unsigned i = 0; i < b->nq; i++) {
		struct blk_queue *bq = &b->queues[i];

		if (b->be->drain)
			b->be->drain(bq);
		bq->pushed = false;
		bq->starved = false;
	}
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
	/* The config space came back with the saved bytes; what describes
	 * this image is ours to say. */
	cs->writeback = (uint8_t)wb;
	cs->capacity = vdev_cpu_to_le64(b->capacity / VDEV_BLK_SECTOR_SIZE);
	cs->num_queues = vdev_cpu_to_le16((uint16_t)b->nq);
	return 0;
}

static void free_queues(struct blk_dev *b)
{
	for (unsigned i = 0; b->queues && i < b->nq; i++) {
		if (b->be && b->be->queue_fini)
			b->be->queue_fini(&b->queues[i]);
		blk_bounce_free(&b->queues[i]);
		free(b->queues[i].slots);
	}
	free(b->queues);
	b->queues = NULL;
}

static void free_blk(struct blk_dev *b)
{
	free_queues(b);
	if (b->fd >= 0)
		close(b->fd);
	if (b->ram)
		munmap(b->ram, b->capacity);
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
	.handle = blk_handle,
	.save = blk_save,
	.load = blk_load,
	.destroy = blk_destroy,
};

/*
 * tmpfs and ramfs: the image is page cache and nothing else, so a transfer
 * is a memcpy that never waits for a device. Their buffered reads do not
 * support RWF_NOWAIT (checked: Linux 6.18 tmpfs), so io_uring would hand
 * every one to a worker thread, paying two context switches for a copy.
 */
static bool on_memory_fs(int fd)
{
	struct statfs sfs;

	if (fstatfs(fd, &sfs) < 0)
		return false;
	return sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC;
}

static int open_image(struct blk_dev *b, const struct vdev_blk_config *cfg)
{
	struct stat st;
	uint64_t size;

	if (cfg->path) {
		int flags = (cfg->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;

		if (cfg->direct)
			flags |= O_DIRECT;
		b->fd = open(cfg->path, flags);
		if (b->fd < 0)
			return -errno;
		b->direct = cfg->direct;
	} else {
		int fl;

		if (cfg->fd < 0)
			return -EINVAL;
		fl = fcntl(cfg->fd, F_GETFL);
		if (fl < 0)
			return -errno;
		if (!cfg->read_only && (fl & O_ACCMODE) == O_RDONLY)
			return -EBADF;
		b->fd = fcntl(cfg->fd, F_DUPFD_CLOEXEC, 3);
		if (b->fd < 0)
			return -errno;
		b->direct = fl & O_DIRECT;
	}
	if (fstat(b->fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(b->fd, BLKGETSIZE64, &size) < 0)
			return -errno;
	} else {
		return -EINVAL;
	}
	b->in_memory = S_ISREG(st.st_mode) && !b->direct && on_memory_fs(b->fd);
	b->dio_align = 512;
#ifdef STATX_DIOALIGN
	if (b->direct) {
		struct statx stx;

		if (statx(b->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) ==
			    0 &&
		    (stx.stx_mask & STATX_DIOALIGN)) {
			if (stx.stx_dio_mem_align)
				b->dio_align = stx.stx_dio_mem_align;
			/* A 4Kn host disk: O_DIRECT needs 4 KiB offsets, so
			 * the guest gets 4 KiB blocks unless told otherwise. */
			if (!cfg->logical_block_size &&
			    stx.stx_dio_offset_align == 4096)
				b->lbs = 4096;
		}
	}
#endif
	b->capacity = size & ~(uint64_t)(b->lbs - 1);
	return 0;
}

static int setup_memory(struct blk_dev *b, const struct vdev_blk_config *cfg)
{
	uint64_t size = cfg->size ? cfg->size : BLK_DEFAULT_MEM_SIZE;

	b->capacity = size & ~(uint64_t)(b->lbs - 1);
	if (!b->capacity)
		return -EINVAL;
	if (cfg->backend == VDEV_BLK_BACKEND_RAM) {
		void *p = mmap(NULL, b->capacity, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			       -1, 0);

		if (p == MAP_FAILED)
			return -errno;
		b->ram = p;
	}
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

/* Per-queue backend setup; io_uring that cannot start falls back to sync
 * for every queue (one backend per device keeps the model simple). */
static int init_backend(struct blk_dev *b)
{
	int ret = 0;

	for (unsigned i = 0; i < b->nq && b->be->queue_init; i++) {
		ret = b->be->queue_init(&b->queues[i]);
		if (ret < 0) {
			for (unsigned j = 0; j < i; j++)
				b->be->queue_fini(&b->queues[j]);
			break;
		}
	}
	if (ret < 0 && b->be->kind == VDEV_BLK_BACKEND_URING) {
		vdev_log(VDEV_LOG_WARN,
			 "blk: io_uring unavailable (%s), using the sync "
			 "backend",
			 strerror(-ret));
		b->be = &blk_sync_ops;
		ret = 0;
	}
	return ret;
}

static const struct blk_backend_ops *
pick_backend(enum vdev_blk_backend kind)
{
	switch (kind) {
	case VDEV_BLK_BACKEND_AUTO:
	case VDEV_BLK_BACKEND_URING:
#if VDEV_WITH_URING_FOUND
		return &blk_uring_ops;
#else
		return kind == VDEV_BLK_BACKEND_AUTO ? &blk_sync_ops : NULL;
#endif
	case VDEV_BLK_BACKEND_SYNC:
		return &blk_sync_ops;
	case VDEV_BLK_BACKEND_NULL:
		return &blk_null_ops;
	case VDEV_BLK_BACKEND_RAM:
		return &blk_ram_ops;
	}
	return NULL;
}

static void fill_config(struct blk_dev *b, uint64_t features)
{
	struct vdev_blk_config_space *cs = cfgspace(b);
	uint32_t lbs_sectors = b->lbs / VDEV_BLK_SECTOR_SIZE;

	cs->capacity = vdev_cpu_to_le64(b->capacity / VDEV_BLK_SECTOR_SIZE);
	cs->size_max = vdev_cpu_to_le32(BLK_SIZE_MAX);
	cs->seg_max = vdev_cpu_to_le32(BLK_SEG_MAX);
	cs->blk_size = vdev_cpu_to_le32(b->lbs);
	cs->physical_block_exp = 0;
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
		cs->write_zeroes_may_unmap =
			b->be->kind != VDEV_BLK_BACKEND_NULL;
	}
}

struct vdev *vdev_blk_new(const struct vdev_blk_config *cfg)
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
	b->fd = -1;
	b->lbs = cfg->logical_block_size ? cfg->logical_block_size : 512;
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

	b->be = pick_backend(cfg->backend);
	if (!b->be) {
		ret = (unsigned)cfg->backend <= VDEV_BLK_BACKEND_RAM ? -ENOTSUP
								   : -EINVAL;
		goto fail;
	}
	if (b->be == &blk_null_ops || b->be == &blk_ram_ops)
		ret = setup_memory(b, cfg);
	else
		ret = open_image(b, cfg);
	if (ret < 0)
		goto fail;
	ret = alloc_queues(b);
	if (!ret)
		ret = init_backend(b);
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
	/* io_uring completes out of order; the others complete each request
	 * inside the round that popped it, in order. */
	if (b->be->kind == VDEV_BLK_BACKEND_URING)
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
	for (unsigned i = 0; i < b->nq; i++)
		b->queues[i].vq = vdev_get_queue(b->dev, i);
	fill_config(b, features);
	return b->dev;
fail:
	free_blk(b);
	errno = -ret;
	return NULL;
}
