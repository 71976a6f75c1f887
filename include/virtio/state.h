/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Device state format (vdev_save / vdev_restore, vhost-user DEVICE_STATE,
 * vfio-user migration).
 *
 * A blob is self-describing: a fixed header (magic "VDEVSTAT", format
 * version, device id, model state version, total length, CRC-32 of the
 * body) followed by tagged sections. A section is {le32 tag, le32 length,
 * bytes}; the core writes its own sections (features, status, config,
 * queues) and a model adds its own through the writer below. Readers skip
 * sections they do not know, so a newer writer that only adds sections
 * stays readable by an older reader.
 */
#ifndef VIRTIO_STATE_H
#define VIRTIO_STATE_H

#include <stddef.h>
#include <stdint.h>
#include <virtio/api.h>

VDEV_BEGIN_DECLS

struct vdev_state_writer;
struct vdev_state_reader;

/* Four-character tag, e.g. VDEV_STATE_TAG('R','N','G','0'). Tags whose first
 * character is '_' belong to the core. */
#define VDEV_STATE_TAG(a, b, c, d)                                          \
	((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 |         \
	 (uint32_t)(d) << 24)

/* Appends a section. -EINVAL: tag used twice; -ENOMEM. */
VDEV_API int vdev_state_put(struct vdev_state_writer *w, uint32_t tag,
			    const void *data, uint32_t len);
VDEV_API int vdev_state_put_u64(struct vdev_state_writer *w, uint32_t tag,
				uint64_t v);

/* Finds a section: its bytes and length, or NULL when absent. The bytes
 * are the restore's private copy of the blob, valid until load returns. */
VDEV_API const void *vdev_state_get(struct vdev_state_reader *r, uint32_t tag,
				    uint32_t *len);
/* -ENOENT absent, -EBADMSG not 8 bytes. */
VDEV_API int vdev_state_get_u64(struct vdev_state_reader *r, uint32_t tag,
				uint64_t *v);

/*
 * The config space as it was saved (config_size bytes; *len set), for a
 * model's load. A restore does not copy it over the device's config
 * space, which stays what the model set: a model whose driver may write
 * config fields (ops->config_write) takes those fields from here,
 * validates them as config_write would, and stores them itself. NULL when
 * the blob has none.
 */
VDEV_API const void *vdev_state_config(struct vdev_state_reader *r,
				       uint32_t *len);

VDEV_END_DECLS

#endif /* VIRTIO_STATE_H */
