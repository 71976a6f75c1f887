/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for virtio-net's parsers: the transmit header rules,
 * the receive header fix-ups, the control commands and the filter.
 *
 * Input: [0] what to do, the rest its bytes:
 *   0: a transmitted chain (header + frame) through the software driver
 *      to a device on a datagram socketpair: the chain must complete, the
 *      queue never break, and a frame reaches the wire exactly when the
 *      header rules accept it (with its length);
 *   1: a control command through the driver's control queue: answered
 *      with one ack byte, OK or ERR;
 *   2: [1..8] le64 features, [9..20] a header, then a frame: the header
 *      rules and rx fix-ups called directly with any features (TSO
 *      included, which the socket backend does not offer), then the
 *      filter after a fuzzed control command.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <virtio/net.h>
#include <virtio/testing.h>
#include "devices/net/net_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vdev *dev;
static struct vdev_drv *drv;
static int peer = -1;

static void setup(void)
{
	struct vdev_net_config c = { .backend = VDEV_NET_DGRAM,
				     .use_fd = true,
				     .mtu = 1500 };
	struct vdev_drv_config dc = { .queue_size = 64 };
	int sv[2];

	if (dev)
		return;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	/* Room for the largest frame in flight on the wire. */
	int sz = 1 << 20;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	c.fd = sv[0];
	peer = sv[1];
	dev = vdev_net_new(&c);
	if (!dev)
		abort();
	drv = vdev_drv_new(dev, &dc);
	if (!drv || vdev_drv_init(drv) < 0)
		abort();
}

static void fuzz_tx(const uint8_t *d, size_t n)
{
	static uint8_t got[NET_FRAME_MAX + 16];
	struct vdev_net_hdr h = { 0 };
	enum net_hdr_verdict v;
	uint32_t w;
	ssize_t r;

	if (!n || n > NET_FRAME_MAX + NET_HDR_LEN)
		return;
	if (vdev_drv_xfer(drv, 1, d, n, NULL, 0, &w, 2000) != 0)
		abort(); /* a chain was lost */
	if (vdev_drv_status(drv) & VDEV_STATUS_DEVICE_NEEDS_RESET)
		abort();
	memcpy(&h, d, n < NET_HDR_LEN ? n : NET_HDR_LEN);
	v = n < NET_HDR_LEN ? NET_HDR_BADLEN :
			      net_hdr_check_tx(&h, vdev_drv_features(drv),
					       n - NET_HDR_LEN, 1500);
	r = recv(peer, got, sizeof(got), MSG_DONTWAIT);
	if ((v == NET_HDR_OK) != (r >= 0))
		abort(); /* a bad frame on the wire, or a good one lost */
	if (r >= 0 && (size_t)r != n - NET_HDR_LEN)
		abort();
}

static void fuzz_ctrl(const uint8_t *d, size_t n)
{
	uint8_t ack = 0xee;
	uint32_t w = 0;

	if (!n || n > 4096)
		return;
	if (vdev_drv_xfer(drv, 2, d, n, &ack, 1, &w, 2000) != 0)
		abort();
	if (w != 1 || (ack != VDEV_NET_OK && ack != VDEV_NET_ERR))
		abort();
}

static void fuzz_direct(const uint8_t *d, size_t n)
{
	static uint8_t frame[70000];
	struct vdev_net_hdr h;
	struct net_filter f;
	struct net_ctrl_effect eff;
	uint64_t features = 0;
	size_t len;

	if (n < 8 + NET_HDR_LEN)
		return;
	for (int i = 0; i < 8; i++)
		features |= (uint64_t)d[i] << (8 * i);
	memcpy(&h, d + 8, NET_HDR_LEN);
	d += 8 + NET_HDR_LEN;
	n -= 8 + NET_HDR_LEN;
	len = n < sizeof(frame) ? n : sizeof(frame);
	memcpy(frame, d, len);
	if (net_hdr_check_tx(&h, features, len, (uint16_t)features) ==
		    NET_HDR_OK &&
	    (h.flags & VDEV_NET_HDR_F_NEEDS_CSUM) &&
	    !net_csum_complete(frame, len, vdev_le16_to_cpu(h.csum_start),
			       vdev_le16_to_cpu(h.csum_offset)))
		abort(); /* accepted offsets must fit */
	if (net_hdr_fix_rx(&h, features, frame, len)) {
		if ((h.flags & VDEV_NET_HDR_F_NEEDS_CSUM) &&
		    (size_t)vdev_le16_to_cpu(h.csum_start) +
				    vdev_le16_to_cpu(h.csum_offset) + 2 >
			    len)
			abort();
	}
	net_filter_reset(&f, (const uint8_t *)"\x02\0\0\0\0\1");
	f.rx_on = features & 1;
	f.vlan_on = features & 2;
	net_ctrl_apply(&f, d, len, features, 16, &eff);
	if (f.n_uni > VDEV_NET_MAC_TABLE_MAX ||
	    f.n_multi > VDEV_NET_MAC_TABLE_MAX ||
	    (eff.pairs && eff.pairs > 16))
		abort();
	net_filter_pass(&f, frame, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	setup();
	switch (data[0] % 3) {
	case 0:
		fuzz_tx(data + 1, size - 1);
		break;
	case 1:
		fuzz_ctrl(data + 1, size - 1);
		break;
	default:
		fuzz_direct(data + 1, size - 1);
		break;
	}
	return 0;
}
