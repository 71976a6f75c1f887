/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared between the files of the vfio-user server: vfu_server.c (socket,
 * message I/O, connection lifecycle), vfu_validate.c (the command table and
 * the one place where messages are checked), vfu_handlers.c, vfu_irq.c,
 * vfu_version.c and vfu_capture.c.
 */
#ifndef VDEV_VFU_INTERNAL_H
#define VDEV_VFU_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <virtio/mem.h>
#include <virtio/pci.h>
#include <virtio/transport.h>
#include <virtio/vfio-user.h>

#include "adapters/vfio-user/vfu_proto.h"

/* Most fds one message may carry (announced as max_msg_fds). QEMU's
 * client refuses a server that announces more than 16 ("malformed
 * max_msg_fds"), and no message of ours needs more: a client splits a
 * larger SET_IRQS into several messages. */
#define VFU_MAX_FDS      16u
/* Default and largest max_data_xfer_size. */
#define VFU_XFER_DEFAULT (1u << 20)
/* Largest VERSION JSON accepted. */
#define VFU_JSON_MAX     4096u
/* DMA windows at once (fd-backed ones also count against the map). */
#define VFU_MAX_DMA      VDEV_MEM_MAX_REGIONS

struct vfu_msg {
	struct vfu_hdr hdr;
	uint8_t *body;      /* hdr.size - 16 bytes (NULL when none) */
	uint32_t len;
	int fds[VFU_MAX_FDS];
	unsigned nfds;
	bool fds_truncated; /* the sender passed more than VFU_MAX_FDS */
	bool oversized;     /* body was larger than allowed and dropped */
};

struct vfu_reply {
	uint8_t *body;
	uint32_t len;
};

struct vfu_dma {
	uint64_t addr;
	uint64_t size;
	bool mapped;        /* fd-backed: in the device's vdev_mem */
};

struct vdev_vfio_user {
	struct vdev *dev;
	struct vdev_pci *pci;
	struct vdev_mem *mem;
	struct vdev_watcher w;
	bool has_watcher;
	char *path;
	int listen_fd;
	int conn_fd;
	FILE *capture;

	uint32_t max_xfer;
	bool version_done;
	uint16_t minor;
	uint32_t client_max_fds;
	uint32_t client_max_xfer;

	struct vfu_dma *dma;
	unsigned ndma;

	int intx_fd;
	int intx_kind;      /* vpeer_kind of intx_fd */
	bool intx_masked;
	int *msix_fds;
	int *msix_kinds;
	unsigned nvec;
};

/* vfu_server.c: the deadline of one message, in either direction. */
extern int vfu_msg_timeout_ms;

typedef int (*vfu_handler_fn)(struct vdev_vfio_user *s, struct vfu_msg *m,
			      struct vfu_reply *r);

/* vfu_validate.c: checks @m; 0 or the errno (negative) to reply with.
 * *h receives the handler. */
int vfu_validate(struct vdev_vfio_user *s, const struct vfu_msg *m,
		 vfu_handler_fn *h);
uint64_t vfu_region_size(const struct vdev_vfio_user *s, uint32_t index);

/* vfu_handlers.c */
int vfu_h_dma_map(struct vdev_vfio_user *s, struct vfu_msg *m,
		  struct vfu_reply *r);
int vfu_h_dma_unmap(struct vdev_vfio_user *s, struct vfu_msg *m,
		    struct vfu_reply *r);
int vfu_h_device_info(struct vdev_vfio_user *s, struct vfu_msg *m,
		      struct vfu_reply *r);
int vfu_h_region_info(struct vdev_vfio_user *s, struct vfu_msg *m,
		      struct vfu_reply *r);
int vfu_h_region_read(struct vdev_vfio_user *s, struct vfu_msg *m,
		      struct vfu_reply *r);
int vfu_h_region_write(struct vdev_vfio_user *s, struct vfu_msg *m,
		       struct vfu_reply *r);
int vfu_h_reset(struct vdev_vfio_user *s, struct vfu_msg *m,
		struct vfu_reply *r);
void vfu_dma_clear(struct vdev_vfio_user *s);

/* vfu_irq.c */
int vfu_h_irq_info(struct vdev_vfio_user *s, struct vfu_msg *m,
		   struct vfu_reply *r);
int vfu_h_set_irqs(struct vdev_vfio_user *s, struct vfu_msg *m,
		   struct vfu_reply *r);
uint32_t vfu_irq_count(const struct vdev_vfio_user *s, uint32_t index);
void vfu_irq_clear(struct vdev_vfio_user *s);
extern const struct vdev_pci_ops vfu_pci_ops;

/* vfu_version.c */
int vfu_h_version(struct vdev_vfio_user *s, struct vfu_msg *m,
		  struct vfu_reply *r);

/* vfu_capture.c: one message as text ('>' received, '<' sent). */
void vfu_capture_write(FILE *f, char dir, const struct vfu_hdr *h,
		       const void *body, uint32_t len, unsigned nfds);

/* Allocates the reply body (zeroed); -ENOMEM. */
int vfu_reply_alloc(struct vfu_reply *r, uint32_t len);

#endif /* VDEV_VFU_INTERNAL_H */
