/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-vsock (virtio 1.2 section 5.10) with Firecracker's hybrid Unix
 * sockets as the host side, as vhost-device-vsock serves it:
 *  - host to guest: a host program connects to @uds_path, writes
 *    "CONNECT <port>\n" and reads "OK <host-port>\n" once the guest
 *    accepted; the bytes after that are the connection;
 *  - guest to host: a guest connecting to CID 2, port P reaches the Unix
 *    socket "<uds_path>_P" (SOCK_STREAM, or SOCK_SEQPACKET for a
 *    SEQPACKET connection);
 *  - sibling guests: devices of one process that share a group reach
 *    each other by CID (vhost-device-vsock's --groups).
 *
 * Memory: each connection may hold @buf_size bytes the host side has not
 * taken yet (the buf_alloc the guest is told); the device reserves that
 * much per connection out of @mem_max, so a connection is refused (RST)
 * rather than a promise broken when the total would be exceeded. A guest
 * that sends past its credit is reset. Host to guest data is read from the
 * host socket straight into the guest's buffers, only as far as the guest's
 * credit allows.
 *
 * Threads: every host socket is watched on the rx queue's thread through
 * the device's watcher (vdev_watch_fd); nothing blocks and no thread is
 * started.
 */
#ifndef VIRTIO_VSOCK_H
#define VIRTIO_VSOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <virtio/api.h>
#include <virtio/device.h>
#include <virtio/le.h>

VDEV_BEGIN_DECLS

/* Feature bits (5.10.3). */
#define VDEV_VSOCK_F_STREAM            0
#define VDEV_VSOCK_F_SEQPACKET         1
#define VDEV_VSOCK_F_NO_IMPLIED_STREAM 2

/* The well-known CIDs. */
#define VDEV_VSOCK_CID_HOST 2u

/* Packet header (5.10.6), 44 bytes, little-endian. */
struct vdev_vsock_hdr {
	vdev_le64 src_cid;
	vdev_le64 dst_cid;
	vdev_le32 src_port;
	vdev_le32 dst_port;
	vdev_le32 len;
	vdev_le16 type;
	vdev_le16 op;
	vdev_le32 flags;
	vdev_le32 buf_alloc;
	vdev_le32 fwd_cnt;
} __attribute__((packed));

#define VDEV_VSOCK_TYPE_STREAM    1
#define VDEV_VSOCK_TYPE_SEQPACKET 2

#define VDEV_VSOCK_OP_REQUEST        1
#define VDEV_VSOCK_OP_RESPONSE       2
#define VDEV_VSOCK_OP_RST            3
#define VDEV_VSOCK_OP_SHUTDOWN       4
#define VDEV_VSOCK_OP_RW             5
#define VDEV_VSOCK_OP_CREDIT_UPDATE  6
#define VDEV_VSOCK_OP_CREDIT_REQUEST 7

#define VDEV_VSOCK_SHUTDOWN_RCV  1u
#define VDEV_VSOCK_SHUTDOWN_SEND 2u
#define VDEV_VSOCK_SEQ_EOM       1u
#define VDEV_VSOCK_SEQ_EOR       2u

/* Event queue (5.10.6.5). */
#define VDEV_VSOCK_EVENT_TRANSPORT_RESET 0

struct vdev_vsock_config {
	/* The guest's CID, 3 .. 2^32 - 2 (config space is 64 bits, but
	 * the drivers take 32). */
	uint64_t guest_cid;
	/* Hybrid socket; NULL: no host side (siblings only, or a test). */
	const char *uds_path;
	/* Bytes a connection may hold on its way to the host (the
	 * buf_alloc the guest sees); 0 = 64 KiB (vhost-device-vsock's
	 * --tx-buffer-size). 4 KiB .. 64 MiB. */
	uint32_t buf_size;
	/* Total bytes all connections may hold; 0 = 64 MiB. */
	uint64_t mem_max;
	/* Connections at once; 0 = 1024. */
	uint32_t conn_max;
	/* Groups this guest belongs to, "a+b"; NULL = "default". Devices
	 * of this process that share a group see each other's CIDs. */
	const char *groups;
	/* Offer VIRTIO_VSOCK_F_SEQPACKET. */
	bool seqpacket;
	uint16_t queue_size; /* largest queue size offered; 0 = 1024 */
};

/*
 * A virtio-vsock device. EINVAL: bad CID or size, a CID another device of
 * this process has, a bad group name; EADDRINUSE: @uds_path is a live
 * socket; errno of socket()/bind()/listen() on @uds_path, which is
 * created (an old socket file left there is replaced) and removed by
 * vdev_free().
 */
VDEV_API struct vdev *vdev_vsock_new(const struct vdev_vsock_config *cfg,
				   size_t size);
#define vdev_vsock_new(...) \
	vdev_vsock_new(__VA_ARGS__, sizeof(struct vdev_vsock_config))

VDEV_END_DECLS

#endif /* VIRTIO_VSOCK_H */
