/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Opening an image: a regular file or block device (checked for another
 * format's signature), an NBD export (nbd.c) or memory; its size, block
 * sizes, the alignment O_DIRECT needs, and what DISCARD and WRITE_ZEROES
 * can do with it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>

#include "storage/storage_internal.h"

static const char *const engine_names[] = {
	[STG_ENGINE_AUTO] = "auto", [STG_ENGINE_URING] = "uring",
	[STG_ENGINE_SYNC] = "sync", [STG_ENGINE_NULL] = "null",
	[STG_ENGINE_RAM] = "ram",   [STG_ENGINE_NBD] = "nbd",
};

_Static_assert((int)STG_ENGINE_NBD == (int)VDEV_IMAGE_BACKEND_NBD &&
		       (int)STG_ENGINE_RAM == (int)VDEV_IMAGE_BACKEND_RAM &&
		       (int)STG_ENGINE_SYNC == (int)VDEV_IMAGE_BACKEND_SYNC,
	       "engines and public backends share their numbers");

const char *stg_engine_name(enum stg_engine e)
{
	if ((unsigned)e >= sizeof(engine_names) / sizeof(engine_names[0]))
		return "unknown";
	return engine_names[e];
}

const char *vdev_image_backend_name(enum vdev_image_backend b)
{
	return stg_engine_name((enum stg_engine)b);
}

int vdev_image_backend_parse(const char *name, enum vdev_image_backend *b)
{
	for (unsigned i = 0;
	     name && i < sizeof(engine_names) / sizeof(engine_names[0]); i++) {
		if (strcmp(name, engine_names[i]) == 0) {
			*b = (enum vdev_image_backend)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* FNV-1a: a stable identity from the file's device and inode. */
uint64_t stg_fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	if (!h)
		h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/*
 * tmpfs and ramfs: the image is page cache and nothing else, so a transfer
 * is a memcpy that never waits for a device. Their buffered reads do not
 * support RWF_NOWAIT (Linux 6.18 tmpfs), so io_uring would hand every one
 * to a worker thread, paying two context switches for a copy.
 */
static bool on_memory_fs(int fd)
{
	struct statfs sfs;

	if (fstatfs(fd, &sfs) < 0)
		return false;
	return sfs.f_type == TMPFS_MAGIC || sfs.f_type == RAMFS_MAGIC;
}

/* "0" in one sysfs file; false when it says otherwise or is not there. */
static bool sysfs_zero(const char *path)
{
	char c = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (read(fd, &c, 1) != 1)
		c = 0;
	close(fd);
	return c == '0';
}

/*
 * Whether block device @dev (the disk itself, or a partition: its disk's
 * queue) is non-rotational. Anonymous devices (btrfs, overlayfs, NFS)
 * have no queue: not known.
 */
static bool blockdev_nonrot(dev_t dev)
{
	char path[96];

	if (!major(dev))
		return false;
	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/queue/rotational",
		 major(dev), minor(dev));
	if (sysfs_zero(path))
		return true;
	snprintf(path, sizeof(path),
		 "/sys/dev/block/%u:%u/../queue/rotational", major(dev),
		 minor(dev));
	return sysfs_zero(path);
}

static int open_fd(struct stg_image *img, const struct stg_open_opts *o)
{
	if (o->path) {
		int flags = (o->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;

		if (o->direct)
			flags |= O_DIRECT;
		img->fd = open(o->path, flags);
		if (img->fd < 0) {
			int e = errno;

			vdev_log(VDEV_LOG_ERROR, "%s: cannot open %s%s: %s",
				 o->who, o->path,
				 e == EACCES || e == EROFS
					 ? (o->read_only ? "" : " read-write")
					 : "",
				 strerror(e));
			return -e;
		}
		img->direct = o->direct;
	} else {
		int fl;

		if (o->fd < 0)
			return -EINVAL;
		fl = fcntl(o->fd, F_GETFL);
		if (fl < 0)
			return -errno;
		if (!o->read_only && (fl & O_ACCMODE) == O_RDONLY)
			return -EBADF;
		img->fd = fcntl(o->fd, F_DUPFD_CLOEXEC, 3);
		if (img->fd < 0)
			return -errno;
		img->direct = fl & O_DIRECT;
	}
	return 0;
}

/* A non-raw file is refused unless the caller forced raw. */
static int check_format(struct stg_image *img, const struct stg_open_opts *o)
{
	const char *fmt;

	if (o->format == VDEV_IMAGE_FORMAT_RAW)
		return 0;
	fmt = vdev_image_probe(img->fd);
	if (!fmt)
		return -errno;
	if (!strcmp(fmt, "raw"))
		return 0;
	vdev_log(VDEV_LOG_ERROR,
		 "%s: %s is a %s image, not a raw one: serve it through an "
		 "NBD server (qemu-nbd --format=%s, or nbdkit) and its NBD "
		 "URI, or force raw if these bytes really are the disk",
		 o->who, img->name, fmt, fmt);
	return -EMEDIUMTYPE;
}

/* Sizes, alignment and limits of a file or block device. */
static int probe_file(struct stg_image *img, const struct stg_open_opts *o)
{
	struct stat st;
	uint64_t size;
	uint32_t lbs_min = 512;

	if (fstat(img->fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		int ssz = 0;
		unsigned pbs = 0;

		if (ioctl(img->fd, BLKGETSIZE64, &size) < 0)
			return -errno;
		img->blockdev = true;
		if (ioctl(img->fd, BLKSSZGET, &ssz) == 0 && ssz > 512 &&
		    img->direct)
			lbs_min = (uint32_t)ssz;
		if (ioctl(img->fd, BLKPBSZGET, &pbs) == 0 && pbs >= 512 &&
		    pbs <= 65536 && !(pbs & (pbs - 1)))
			img->phys_block = pbs;
	} else {
		vdev_log(VDEV_LOG_ERROR,
			 "%s: %s is neither a regular file nor a block device",
			 o->who, img->name);
		return -EINVAL;
	}
	img->id = stg_fnv(0, &st.st_dev, sizeof(st.st_dev));
	img->id = stg_fnv(img->id, &st.st_ino, sizeof(st.st_ino));
	img->id = stg_fnv(img->id, &st.st_rdev, sizeof(st.st_rdev));
	img->in_memory = S_ISREG(st.st_mode) && !img->direct &&
			 on_memory_fs(img->fd);
	/* What a SCSI LUN reports as its medium (VPD page 0xb1): a guest
	 * treats a rotating disk differently (Linux feeds every completion
	 * to its entropy pool and keeps seek-saving heuristics). */
	img->nonrot = S_ISREG(st.st_mode)
			      ? on_memory_fs(img->fd) ||
					blockdev_nonrot(st.st_dev)
			      : blockdev_nonrot(st.st_rdev);
	img->mem_align = 1;
	img->len_align = 1;
	if (img->direct) {
		img->mem_align = 512;
		img->len_align = 512;
#ifdef STATX_DIOALIGN
		struct statx stx;

		if (statx(img->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) ==
			    0 &&
		    (stx.stx_mask & STATX_DIOALIGN)) {
			if (stx.stx_dio_mem_align)
				img->mem_align = stx.stx_dio_mem_align;
			if (stx.stx_dio_offset_align > lbs_min)
				lbs_min = stx.stx_dio_offset_align;
		}
#endif
		/* Linux wants every segment of an O_DIRECT transfer to be
		 * a multiple of the offset alignment, not only the total. */
		img->len_align = lbs_min;
	}
	if (o->block_size) {
		if (o->block_size < lbs_min) {
			vdev_log(VDEV_LOG_ERROR,
				 "%s: %s needs %u-byte blocks with O_DIRECT, "
				 "not %u",
				 o->who, img->name, lbs_min, o->block_size);
			return -EINVAL;
		}
		img->block_size = o->block_size;
	} else {
		/* A 4Kn host disk with O_DIRECT: the guest gets 4 KiB
		 * blocks unless told otherwise. */
		img->block_size = lbs_min > 512 ? lbs_min : 512;
	}
	if (img->phys_block < img->block_size)
		img->phys_block = img->block_size;
	img->size = size & ~(uint64_t)(img->block_size - 1);
	if (!img->size) {
		vdev_log(VDEV_LOG_ERROR, "%s: %s is smaller than one %u-byte "
			 "block", o->who, img->name, img->block_size);
		return -EINVAL;
	}
	img->can_flush = true;
	img->can_fua = true;
	img->can_discard = true;
	img->can_zero = true;
	img->zero_unmaps = true;
	return 0;
}

static int open_memory(struct stg_image *img, const struct stg_open_opts *o)
{
	img->block_size = o->block_size ? o->block_size : 512;
	img->phys_block = img->block_size;
	img->nonrot = true;
	img->size = o->mem_size & ~(uint64_t)(img->block_size - 1);
	img->mem_align = img->len_align = 1;
	if (!img->size)
		return -EINVAL;
	if (img->engine == STG_ENGINE_RAM) {
		void *p = mmap(NULL, img->size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			       -1, 0);

		if (p == MAP_FAILED)
			return -errno;
		img->ram = p;
		img->can_discard = true;
		img->zero_unmaps = true;
	}
	img->can_zero = true;
	img->can_flush = true;
	img->can_fua = true;
	return 0;
}

static enum stg_engine resolve(enum stg_engine e)
{
	if (e == STG_ENGINE_AUTO)
		return STG_WITH_URING ? STG_ENGINE_URING : STG_ENGINE_SYNC;
	return e;
}

struct stg_image *stg_image_open(const struct stg_open_opts *o)
{
	struct stg_image *img;
	const char *name;
	int ret;

	if (!o || (o->block_size && o->block_size != 512 &&
		   o->block_size != 4096)) {
		errno = EINVAL;
		return NULL;
	}
	img = calloc(1, sizeof(*img));
	if (!img)
		return NULL;
	img->fd = -1;
	img->ro = o->read_only;
	snprintf(img->who, sizeof(img->who), "%s", o->who ? o->who : "image");
	img->engine = resolve(o->engine);
	if (o->nbd_uri)
		img->engine = STG_ENGINE_NBD;
	name = o->nbd_uri ? o->nbd_uri : o->path ? o->path : "(fd)";
	img->name = strdup(name);
	if (!img->name) {
		ret = -ENOMEM;
		goto fail;
	}
	switch (img->engine) {
	case STG_ENGINE_URING:
		if (!STG_WITH_URING) {
			ret = -ENOTSUP;
			goto fail;
		}
		/* fall through */
	case STG_ENGINE_SYNC:
		ret = open_fd(img, o);
		if (!ret)
			ret = probe_file(img, o);
		if (!ret)
			ret = check_format(img, o);
		if (!ret)
			ret = stg_pool_start(img);
		break;
	case STG_ENGINE_NULL:
	case STG_ENGINE_RAM:
		ret = open_memory(img, o);
		break;
	case STG_ENGINE_NBD:
		ret = stg_nbd_open(img, o);
		break;
	default:
		ret = -EINVAL;
		break;
	}
	if (ret < 0)
		goto fail;
	return img;
fail:
	stg_image_close(img);
	errno = -ret;
	return NULL;
}

void stg_image_close(struct stg_image *img)
{
	if (!img)
		return;
	stg_pool_stop(img);
	stg_nbd_close(img);
	if (img->fd >= 0)
		close(img->fd);
	if (img->ram)
		munmap(img->ram, img->size);
	free(img->name);
	free(img);
}
