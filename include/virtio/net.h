/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-net (virtio 1.2 section 5.1): rx/tx queue pairs (up to 16) and a
 * control queue, on a host backend:
 *  - tap: /dev/net/tun (a new or existing interface by name, or an open
 *    tap fd), with IFF_VNET_HDR so checksum and TSO offloads pass through
 *    (TUNSETOFFLOAD follows the guest's offloads), IFF_MULTI_QUEUE with
 *    one tap queue per queue pair;
 *  - stream: a UNIX stream socket framed as QEMU's `-netdev stream` (each
 *    frame preceded by its length, 4 bytes big-endian), connecting to a
 *    path, listening on one, or on a connected fd;
 *  - dgram: a UNIX datagram socket, one frame per datagram, as QEMU's
 *    `-netdev dgram` (bound to a local path, sending to a remote one, or
 *    a connected fd such as one end of a socketpair);
 *  - sink: drops what the guest sends, and fills every receive buffer
 *    with a generated frame of @source_len bytes (benchmarks).
 *
 * What a backend cannot honour is not offered: only tap with a vnet
 * header offers TSO and hands checksum work to the host kernel; with the
 * other backends the device completes partial checksums itself
 * (VIRTIO_NET_F_CSUM) and offers no segmentation offload.
 *
 * Every header the driver writes is validated (flags, gso_type against the
 * negotiated features, gso_size, hdr_len and csum_start/csum_offset
 * inside the frame, frame size against the MTU): a bad one drops that
 * frame and counts it; nothing else is lost. The control queue (RX mode,
 * MAC table, VLAN filter, ANNOUNCE, MQ pairs, GUEST_OFFLOADS) is served
 * when the transport gives it to the device (in-process, vfio-user,
 * User-Mode Linux); receive filtering by MAC table and VLAN applies once
 * the driver negotiated CTRL_RX / CTRL_VLAN. A vhost-user frontend that
 * keeps the control queue (QEMU) does not negotiate them: every frame
 * reaches the guest, as with QEMU's own vhost backends.
 *
 * Threads: pair i's receive side runs on the thread of queue 2i (the
 * backend fd is watched there), its transmit side on the thread of queue
 * 2i+1, control commands on the control queue's thread. The calls below
 * are safe from any thread.
 */
#ifndef VIRTIO_NET_H
#define VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>
#include <virtio/api.h>
#include <virtio/device.h>
#include <virtio/le.h>

VDEV_BEGIN_DECLS

/* Feature bits (5.1.3). */
#define VDEV_NET_F_CSUM                0
#define VDEV_NET_F_GUEST_CSUM          1
#define VDEV_NET_F_CTRL_GUEST_OFFLOADS 2
#define VDEV_NET_F_MTU                 3
#define VDEV_NET_F_MAC                 5
#define VDEV_NET_F_GUEST_TSO4          7
#define VDEV_NET_F_GUEST_TSO6          8
#define VDEV_NET_F_GUEST_ECN           9
#define VDEV_NET_F_GUEST_UFO           10
#define VDEV_NET_F_HOST_TSO4           11
#define VDEV_NET_F_HOST_TSO6           12
#define VDEV_NET_F_HOST_ECN            13
#define VDEV_NET_F_HOST_UFO            14
#define VDEV_NET_F_MRG_RXBUF           15
#define VDEV_NET_F_STATUS              16
#define VDEV_NET_F_CTRL_VQ             17
#define VDEV_NET_F_CTRL_RX             18
#define VDEV_NET_F_CTRL_VLAN           19
#define VDEV_NET_F_GUEST_ANNOUNCE      21
#define VDEV_NET_F_MQ                  22
#define VDEV_NET_F_CTRL_MAC_ADDR       23

/* Header flags and gso types (5.1.6). */
#define VDEV_NET_HDR_F_NEEDS_CSUM 1u
#define VDEV_NET_HDR_F_DATA_VALID 2u
#define VDEV_NET_HDR_GSO_NONE     0u
#define VDEV_NET_HDR_GSO_TCPV4    1u
#define VDEV_NET_HDR_GSO_UDP      3u
#define VDEV_NET_HDR_GSO_TCPV6    4u
#define VDEV_NET_HDR_GSO_ECN      0x80u

/* Status (config) bits. */
#define VDEV_NET_S_LINK_UP  1u
#define VDEV_NET_S_ANNOUNCE 2u

/* The header in front of every frame (12 bytes: VERSION_1). */
struct vdev_net_hdr {
	uint8_t flags;
	uint8_t gso_type;
	vdev_le16 hdr_len;
	vdev_le16 gso_size;
	vdev_le16 csum_start;
	vdev_le16 csum_offset;
	vdev_le16 num_buffers;
};

/* Config space (the fields up to mtu). */
struct vdev_net_config_space {
	uint8_t mac[6];
	vdev_le16 status;
	vdev_le16 max_virtqueue_pairs;
	vdev_le16 mtu;
};

/* Control queue (5.1.6.5): {u8 class; u8 cmd} + data, then u8 ack. */
#define VDEV_NET_OK  0u
#define VDEV_NET_ERR 1u
#define VDEV_NET_CTRL_RX               0
#define VDEV_NET_CTRL_RX_PROMISC       0
#define VDEV_NET_CTRL_RX_ALLMULTI      1
#define VDEV_NET_CTRL_MAC              1
#define VDEV_NET_CTRL_MAC_TABLE_SET    0
#define VDEV_NET_CTRL_MAC_ADDR_SET     1
#define VDEV_NET_CTRL_VLAN             2
#define VDEV_NET_CTRL_VLAN_ADD         0
#define VDEV_NET_CTRL_VLAN_DEL         1
#define VDEV_NET_CTRL_ANNOUNCE         3
#define VDEV_NET_CTRL_ANNOUNCE_ACK     0
#define VDEV_NET_CTRL_MQ               4
#define VDEV_NET_CTRL_MQ_VQ_PAIRS_SET  0
#define VDEV_NET_CTRL_GUEST_OFFLOADS   5
#define VDEV_NET_CTRL_GUEST_OFFLOADS_SET 0

/* Entries of each MAC table (unicast, multicast) the device filters by;
 * a longer table makes it accept every address of that kind. */
#define VDEV_NET_MAC_TABLE_MAX 64
#define VDEV_NET_PAIRS_MAX     16

enum vdev_net_backend {
	VDEV_NET_SINK,   /* drop tx, generate rx frames */
	VDEV_NET_TAP,    /* @tap_name (new or existing) or @fd */
	VDEV_NET_STREAM, /* @path (connect, or listen with @listen) or @fd */
	VDEV_NET_DGRAM,  /* @path bound, @remote sent to; or a connected @fd */
};

/* Offloads the user forbids (VDEV_NET_NO_*), whatever the backend can. */
#define VDEV_NET_NO_CSUM     1u /* no CSUM, GUEST_CSUM (and so no TSO) */
#define VDEV_NET_NO_TSO      2u /* no HOST/GUEST TSO4/TSO6/ECN */
#define VDEV_NET_NO_MRG      4u /* no MRG_RXBUF */
#define VDEV_NET_NO_CTRL     8u /* no control queue (and nothing needing it) */

struct vdev_net_config {
	enum vdev_net_backend backend;
	const char *tap_name; /* TAP: interface name; NULL with fd < 0: the
				 kernel picks "tapN" */
	const char *path;     /* STREAM/DGRAM: socket path */
	const char *remote;   /* DGRAM: where frames are sent */
	bool listen;          /* STREAM: listen on @path, one peer at a time */
	bool use_fd;          /* TAP/STREAM/DGRAM: use @fd instead */
	int fd;               /* an open fd; the device owns it from the
				 call on, also when it fails */
	uint8_t mac[6];       /* all zero: a random locally administered one */
	uint16_t mtu;         /* 0: MTU not offered */
	uint16_t queue_pairs; /* 0 = 1; at most VDEV_NET_PAIRS_MAX */
	uint16_t queue_size;  /* largest queue size; 0 = 1024 */
	uint32_t no;          /* VDEV_NET_NO_* */
	uint32_t source_len;  /* SINK: bytes of each generated frame (14 ..
				 65535), 0: generates nothing */
	bool link_down;       /* start with the link down */
};

/*
 * A virtio-net device. EINVAL: a bad config (pairs, source_len, a backend
 * without what it needs, more than one pair on stream/dgram); the errno of
 * opening the backend (EPERM/EACCES for a tap without CAP_NET_ADMIN,
 * ENOENT for a stream path nobody listens on).
 */
VDEV_API struct vdev *vdev_net_new(const struct vdev_net_config *cfg,
				   size_t size);
#define vdev_net_new(...) \
	vdev_net_new(__VA_ARGS__, sizeof(struct vdev_net_config))

/* Counters of one queue pair; drops by reason. */
struct vdev_net_stats {
	uint64_t rx_packets, rx_bytes;
	uint64_t rx_filtered;   /* refused by MAC/VLAN filter */
	uint64_t rx_no_buffer;  /* frame larger than the buffers offered */
	uint64_t rx_bad;        /* a malformed frame from the backend */
	uint64_t tx_packets, tx_bytes;
	uint64_t tx_bad_hdr;    /* flags, gso or csum fields invalid */
	uint64_t tx_bad_len;    /* runt, too long, over the MTU */
	uint64_t tx_backend;    /* the backend failed or had no peer */
};

/* Adds pair @pair's counters into @st (zeroed first). -EINVAL: not a net
 * device or no such pair. */
VDEV_API int vdev_net_get_stats(struct vdev *dev, unsigned pair,
				struct vdev_net_stats *st, size_t size);
#define vdev_net_get_stats(...) \
	vdev_net_get_stats(__VA_ARGS__, sizeof(struct vdev_net_stats))
/* The device's MAC as the driver last set it. */
VDEV_API int vdev_net_get_mac(struct vdev *dev, uint8_t mac[6]);
/* Sets the link state (STATUS); a config interrupt tells the driver. */
VDEV_API int vdev_net_set_link(struct vdev *dev, bool up);
/* Asks the driver to announce itself (GUEST_ANNOUNCE): -ENOTSUP when not
 * negotiated. */
VDEV_API int vdev_net_announce(struct vdev *dev);
/* Queue pairs the driver enabled (MQ VQ_PAIRS_SET), and whether RX mode
 * promiscuous / allmulti is on: what an embedder or test wants to see of
 * the control queue. */
VDEV_API int vdev_net_get_rx_mode(struct vdev *dev, unsigned *pairs,
				  bool *promisc, bool *allmulti);

/* SINK: from this call on the source generates @frames more frames in all
 * (every pair together), then none, so a run of known length can be
 * checked frame for frame against the driver's count; 0 lifts the limit.
 * From any thread. -ENOTSUP: not the sink backend. */
VDEV_API int vdev_net_set_source_limit(struct vdev *dev, uint64_t frames);

/* Prints every pair's counters to @fd, one line per pair (SIGUSR1 in the
 * daemon). */
VDEV_API void vdev_net_print_stats(struct vdev *dev, int fd);

VDEV_END_DECLS

#endif /* VIRTIO_NET_H */
