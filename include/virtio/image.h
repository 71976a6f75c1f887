/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Disk images as virtio-blk and virtio-scsi serve them.
 *
 * Both devices serve raw images: a regular file or a block device whose
 * bytes are the disk, or an NBD export (through libnbd, when this build
 * has it: vdev_has_capability(VDEV_CAP_BACKEND, "libnbd")). Formats with
 * their own structure (qcow2, vmdk, vdi, vhdx, ...) are served through an
 * NBD server that understands them, such as qemu-nbd or nbdkit:
 *
 *   qemu-nbd --format=qcow2 --socket=/run/disk.sock disk.qcow2
 *   vdev-blk --nbd 'nbd+unix:///?socket=/run/disk.sock' ...
 *
 * A file is checked before it is served: one that starts with another
 * format's signature is refused (EMEDIUMTYPE) unless the caller says the
 * format is raw, because serving a qcow2 file as raw hands the guest the
 * qcow2 metadata, and a guest writes it over.
 */
#ifndef VIRTIO_IMAGE_H
#define VIRTIO_IMAGE_H

#include <virtio/api.h>

VDEV_BEGIN_DECLS

enum vdev_image_format {
	/* Raw, after checking the file starts with no other format's
	 * signature. */
	VDEV_IMAGE_FORMAT_AUTO = 0,
	/* Raw, whatever it starts with (a guest may write anything into
	 * the first sectors of its raw disk). */
	VDEV_IMAGE_FORMAT_RAW,
};

/* How the devices reach an image. */
enum vdev_image_backend {
	/* io_uring when this build has liburing and the kernel allows it,
	 * else sync. */
	VDEV_IMAGE_BACKEND_AUTO = 0,
	/* io_uring; falls back to sync (with a warning) when the kernel
	 * refuses it; ENOTSUP in a build without liburing. */
	VDEV_IMAGE_BACKEND_URING,
	VDEV_IMAGE_BACKEND_SYNC,  /* system calls on the queue's thread */
	VDEV_IMAGE_BACKEND_NULL,  /* reads return zeroes, writes dropped */
	VDEV_IMAGE_BACKEND_RAM,   /* an in-memory image, lost at free */
	VDEV_IMAGE_BACKEND_NBD,   /* an NBD export (libnbd) */
};

/*
 * The format whose signature the image open at @fd starts with: "raw"
 * when there is none, else "qcow2", "qcow", "qed", "vmdk", "vdi",
 * "vhdx", "vpc", "luks", "parallels", "bochs" or "cloop". NULL + errno
 * when the first bytes cannot be read. Reads with pread (O_DIRECT fds
 * too); the file offset does not move.
 */
VDEV_API const char *vdev_image_probe(int fd);

/* "auto", "uring", "sync", "null", "ram", "nbd"; and back (-EINVAL for an
 * unknown name). */
VDEV_API const char *vdev_image_backend_name(enum vdev_image_backend b);
VDEV_API int vdev_image_backend_parse(const char *name,
				      enum vdev_image_backend *b);

VDEV_END_DECLS

#endif /* VIRTIO_IMAGE_H */
