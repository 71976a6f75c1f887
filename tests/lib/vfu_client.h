/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test helper: a vfio-user client. It speaks the protocol (VERSION, DMA
 * maps from a memfd, region info/access, SET_IRQS with eventfds), exposes
 * the PCI function through struct vpci_drv, and can send raw, malformed
 * messages. vfu_testsrv_* runs a libvdev vfio-user server on a thread of
 * the test process.
 */
#ifndef VDEV_TEST_VFU_CLIENT_H
#define VDEV_TEST_VFU_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <virtio/vfio-user.h>

#include "adapters/vfio-user/vfu_proto.h"
#include "vpci_drv.h"

struct vfu_client {
	int fd;
	uint16_t next_id;
	uint64_t region_size[VFU_PCI_NUM_REGIONS];
	struct vpci_drv pci;
	uint32_t server_max_fds;
	uint32_t server_max_xfer;
};

/* Connects to @path (retrying for up to 2 s while the server starts). */
struct vfu_client *vfu_client_connect(const char *path);
/* Takes ownership of a connected socket. */
struct vfu_client *vfu_client_from_fd(int fd);
void vfu_client_free(struct vfu_client *c);

/* Sends bytes as they are (for malformed messages). */
int vfu_client_send_raw(struct vfu_client *c, const void *buf, size_t len,
			const int *fds, unsigned nfds);
/* Sends one command; *id gets its message id. */
int vfu_client_send(struct vfu_client *c, uint16_t cmd, uint32_t flags,
		    const void *payload, uint32_t len, const int *fds,
		    unsigned nfds, uint16_t *id);
/*
 * Receives one message: header into *h, up to @cap payload bytes into
 * @buf (the rest is discarded), *len = payload size. -ETIMEDOUT after
 * 5 s; -ECONNRESET on EOF.
 */
int vfu_client_recv(struct vfu_client *c, struct vfu_hdr *h, void *buf,
		    uint32_t cap, uint32_t *len);
/*
 * A command and its reply: 0, -(error) from an error reply, -EPROTO for a
 * reply that does not match (id, command, type), or a transport error.
 */
int vfu_client_call(struct vfu_client *c, uint16_t cmd, const void *payload,
		    uint32_t len, const int *fds, unsigned nfds, void *reply,
		    uint32_t cap, uint32_t *rlen);

int vfu_client_version(struct vfu_client *c);
/* DMA_MAP with explicit VFU_DMA_F_* protection flags. */
int vfu_client_dma_map_flags(struct vfu_client *c, int fd, uint64_t offset,
			     uint64_t addr, uint64_t size, uint32_t flags);
int vfu_client_dma_map(struct vfu_client *c, int fd, uint64_t offset,
		       uint64_t addr, uint64_t size);
int vfu_client_dma_unmap(struct vfu_client *c, uint64_t addr, uint64_t size);
int vfu_client_region_read(struct vfu_client *c, uint32_t region,
			   uint64_t off, void *buf, uint32_t len);
int vfu_client_region_write(struct vfu_client *c, uint32_t region,
			    uint64_t off, const void *buf, uint32_t len);
int vfu_client_set_irqs(struct vfu_client *c, uint32_t index, uint32_t flags,
			uint32_t start, uint32_t count, const int *fds,
			unsigned nfds);
/* DEVICE_GET_INFO, every region's info, then the virtio-pci probe. */
int vfu_client_probe(struct vfu_client *c);

/* A server thread for @dev listening on @path (or serving @fd when
 * @path is NULL). */
struct vfu_testsrv;
struct vfu_testsrv *vfu_testsrv_start(struct vdev *dev, const char *path,
				      int fd);
void vfu_testsrv_stop(struct vfu_testsrv *t);
struct vdev_vfio_user *vfu_testsrv_server(struct vfu_testsrv *t);
/* Waits (up to 2 s) until the server has no client connected. */
bool vfu_testsrv_wait_idle(struct vfu_testsrv *t);

/* Number of open fds of this process. */
int vfu_count_fds(void);
/* Waits (up to 2 s) for the fd count to drop to @n; returns the count. */
int vfu_wait_fd_count(int n);

#endif /* VDEV_TEST_VFU_CLIENT_H */
