/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-blk (virtio 1.2 section 5.2): a block device backed by a raw image
 * file or block device on the host (io_uring or synchronous preadv/pwritev),
 * an NBD export (any format qemu-nbd or nbdkit serves, see image.h), or
 * memory (null and ram backends, for benchmarks and tests).
 *
 * Requests: IN, OUT, FLUSH, GET_ID, DISCARD, WRITE_ZEROES; anything else is
 * answered with VIRTIO_BLK_S_UNSUPP. Data moves straight between the image
 * and the guest buffers (no copy).
 *
 * Threads: queue i's requests are submitted and completed on the thread
 * that serves queue i (the io_uring completion eventfd is watched there
 * with vdev_watch_fd), so several queues scale over several threads.
 */
#ifndef VIRTIO_BLK_H
#define VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include <virtio/api.h>
#include <virtio/device.h>
#include <virtio/image.h>

VDEV_BEGIN_DECLS

/* Feature bits (5.2.3). */
#define VDEV_BLK_F_SIZE_MAX     1
#define VDEV_BLK_F_SEG_MAX      2
#define VDEV_BLK_F_GEOMETRY     4
#define VDEV_BLK_F_RO           5
#define VDEV_BLK_F_BLK_SIZE     6
#define VDEV_BLK_F_FLUSH        9
#define VDEV_BLK_F_TOPOLOGY     10
#define VDEV_BLK_F_CONFIG_WCE   11
#define VDEV_BLK_F_MQ           12
#define VDEV_BLK_F_DISCARD      13
#define VDEV_BLK_F_WRITE_ZEROES 14
#define VDEV_BLK_F_LIFETIME     15
#define VDEV_BLK_F_SECURE_ERASE 16

/* Request types (5.2.6). */
#define VDEV_BLK_T_IN           0
#define VDEV_BLK_T_OUT          1
#define VDEV_BLK_T_FLUSH        4
#define VDEV_BLK_T_GET_ID       8
#define VDEV_BLK_T_GET_LIFETIME 10
#define VDEV_BLK_T_DISCARD      11
#define VDEV_BLK_T_WRITE_ZEROES 13
#define VDEV_BLK_T_SECURE_ERASE 14

/* Status byte values. */
#define VDEV_BLK_S_OK     0
#define VDEV_BLK_S_IOERR  1
#define VDEV_BLK_S_UNSUPP 2

#define VDEV_BLK_SECTOR_SIZE 512u
#define VDEV_BLK_ID_BYTES    20u

#define VDEV_BLK_WRITE_ZEROES_FLAG_UNMAP 1u

/* Request header, device-readable, first in every chain. */
struct vdev_blk_req_hdr {
	vdev_le32 type;
	vdev_le32 reserved; /* ioprio in legacy drivers; ignored */
	vdev_le64 sector;
};

/* One DISCARD / WRITE_ZEROES segment. */
struct vdev_blk_discard_write_zeroes {
	vdev_le64 sector;
	vdev_le32 num_sectors;
	vdev_le32 flags; /* bit 0: unmap; the rest reserved, must be 0 */
};

/* Config space, up to the fields this device implements (60 bytes). */
struct vdev_blk_config_space {
	vdev_le64 capacity;              /* 512-byte sectors */
	vdev_le32 size_max;
	vdev_le32 seg_max;
	vdev_le16 cylinders;
	uint8_t heads;
	uint8_t sectors;
	vdev_le32 blk_size;
	uint8_t physical_block_exp;
	uint8_t alignment_offset;
	vdev_le16 min_io_size;
	vdev_le32 opt_io_size;
	uint8_t writeback;               /* offset 32, driver-writable */
	uint8_t unused0;
	vdev_le16 num_queues;
	vdev_le32 max_discard_sectors;
	vdev_le32 max_discard_seg;
	vdev_le32 discard_sector_alignment;
	vdev_le32 max_write_zeroes_sectors;
	vdev_le32 max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
};

/* The backends of enum vdev_image_backend, under their blk names. */
enum vdev_blk_backend {
	/* liburing when this build has it and the kernel allows io_uring,
	 * else sync. */
	VDEV_BLK_BACKEND_AUTO = VDEV_IMAGE_BACKEND_AUTO,
	/* io_uring; falls back to sync (with a warning) when
	 * io_uring_queue_init fails (kernel without io_uring, disabled by
	 * sysctl or seccomp). Fails with ENOTSUP in a build without
	 * liburing. */
	VDEV_BLK_BACKEND_URING = VDEV_IMAGE_BACKEND_URING,
	/* preadv/pwritev on the queue thread */
	VDEV_BLK_BACKEND_SYNC = VDEV_IMAGE_BACKEND_SYNC,
	/* reads return zeros, writes discarded */
	VDEV_BLK_BACKEND_NULL = VDEV_IMAGE_BACKEND_NULL,
	/* an in-memory image, lost at free */
	VDEV_BLK_BACKEND_RAM = VDEV_IMAGE_BACKEND_RAM,
	/* an NBD export (@nbd_uri); ENOTSUP in a build without libnbd */
	VDEV_BLK_BACKEND_NBD = VDEV_IMAGE_BACKEND_NBD,
};

struct vdev_blk_config {
	/* Image file or block device (uring/sync). NULL: use @fd. */
	const char *path;
	/* Used when @path is NULL: an open image; the device dups it, the
	 * caller keeps its own. It must be open for reading (and writing
	 * unless @read_only). */
	int fd;
	bool read_only;      /* offers VIRTIO_BLK_F_RO; writes fail */
	bool direct;         /* O_DIRECT (path only; bypasses the page cache) */
	/* Writethrough cache after reset (writeback = 0 in config space).
	 * false = writeback, which the driver makes durable with FLUSH. */
	bool writethrough;
	/* GET_ID string, at most 20 bytes used; NULL = empty. */
	const char *serial;
	uint32_t logical_block_size; /* 512 or 4096; 0 = 512 */
	uint16_t num_queues;         /* 1..256; 0 = 1; >1 offers MQ */
	uint16_t queue_size;         /* largest queue size; 0 = 256 */
	enum vdev_blk_backend backend;
	/* null/ram: capacity in bytes (rounded down to the logical block
	 * size); 0 = 64 MiB. Ignored for file backends. */
	uint64_t size;
	/* AUTO: a file holding another format (qcow2, ...) is refused
	 * with EMEDIUMTYPE; RAW: served as raw whatever it holds. */
	enum vdev_image_format format;
	/* An NBD export to serve instead of @path/@fd ("nbd://host/name",
	 * "nbd+unix:///name?socket=PATH", see nbd_connect_uri(3)); the
	 * backend then is NBD (@backend must be AUTO or NBD). */
	const char *nbd_uri;
};

/*
 * A virtio-blk device. EINVAL: bad option (block size, queue count,
 * neither path nor fd for a file backend, size 0 after rounding);
 * ENOTSUP: BACKEND_URING in a build without liburing, NBD without libnbd;
 * EMEDIUMTYPE: the image holds another format (see image.h; logged with
 * the format's name); EROFS: a read-only NBD export without @read_only;
 * errno of open/fstat/connect.
 */
VDEV_API struct vdev *vdev_blk_new(const struct vdev_blk_config *cfg,
				   size_t size);
#define vdev_blk_new(...) \
	vdev_blk_new(__VA_ARGS__, sizeof(struct vdev_blk_config))

/* The backend @dev really uses (AUTO and URING resolve to URING or SYNC). */
VDEV_API enum vdev_blk_backend vdev_blk_backend(const struct vdev *dev);

/* "auto", "uring", "sync", "null", "ram", "nbd"; and back (-EINVAL
 * unknown). */
VDEV_API const char *vdev_blk_backend_name(enum vdev_blk_backend b);
VDEV_API int vdev_blk_backend_parse(const char *name,
				    enum vdev_blk_backend *b);

VDEV_END_DECLS

#endif /* VIRTIO_BLK_H */
