/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio_net_hdr rules (5.1.6.2), applied to a private copy of the
 * header: what a driver may ask of the device depends on what it
 * negotiated, and every offset must lie inside the frame, so that no
 * backend ever sees a frame whose header lies about it.
 */
#include <string.h>
#include "net_internal.h"

static bool has(uint64_t features, unsigned bit)
{
	return features & VDEV_BIT(bit);
}

enum net_hdr_verdict net_hdr_check_tx(const struct vdev_net_hdr *h,
				      uint64_t features, size_t len,
				      uint16_t mtu)
{
	unsigned gso = h->gso_type & ~VDEV_NET_HDR_GSO_ECN;
	bool ecn = h->gso_type & VDEV_NET_HDR_GSO_ECN;

	if (len < NET_ETH_HLEN || len > NET_FRAME_MAX)
		return NET_HDR_BADLEN;
	/* Only NEEDS_CSUM means something on transmit: the device ignores
	 * flag bits it does not recognise (5.1.6.2.2), and DATA_VALID and
	 * RSC_INFO, which the driver must not set (5.1.6.2.1), are cleared
	 * by the caller before a backend sees the header. */
	if (h->flags & VDEV_NET_HDR_F_NEEDS_CSUM) {
		size_t start = vdev_le16_to_cpu(h->csum_start);
		size_t off = vdev_le16_to_cpu(h->csum_offset);

		if (!has(features, VDEV_NET_F_CSUM))
			return NET_HDR_BAD;
		if (start + off + 2 > len || off & 1)
			return NET_HDR_BAD;
	}
	if (gso == VDEV_NET_HDR_GSO_NONE) {
		if (ecn)
			return NET_HDR_BAD;
		/* 4 bytes of VLAN tag on top of the Ethernet header. */
		if (mtu && has(features, VDEV_NET_F_MTU) &&
		    len > (size_t)mtu + NET_ETH_HLEN + 4)
			return NET_HDR_BADLEN;
		return NET_HDR_OK;
	}
	switch (gso) {
	case VDEV_NET_HDR_GSO_TCPV4:
		if (!has(features, VDEV_NET_F_HOST_TSO4))
			return NET_HDR_BAD;
		break;
	case VDEV_NET_HDR_GSO_TCPV6:
		if (!has(features, VDEV_NET_F_HOST_TSO6))
			return NET_HDR_BAD;
		break;
	case VDEV_NET_HDR_GSO_UDP:
		if (!has(features, VDEV_NET_F_HOST_UFO))
			return NET_HDR_BAD;
		break;
	default:
		return NET_HDR_BAD;
	}
	if (ecn && !has(features, VDEV_NET_F_HOST_ECN))
		return NET_HDR_BAD;
	/* Segmentation needs the checksum position and a segment size;
	 * the headers (hdr_len) must lie inside the frame. A driver must
	 * set NEEDS_CSUM and gso_size with any gso_type (5.1.6.2.1), and
	 * the device owes nothing to one that does not: such a frame is
	 * dropped, though Linux's tun would guess the checksum position. */
	if (!(h->flags & VDEV_NET_HDR_F_NEEDS_CSUM) || !h->gso_size ||
	    vdev_le16_to_cpu(h->hdr_len) > len)
		return NET_HDR_BAD;
	return NET_HDR_OK;
}

bool net_csum_complete(uint8_t *frame, size_t len, unsigned start,
		       unsigned offset)
{
	uint32_t sum = 0;
	size_t i;
	uint16_t c;

	if ((size_t)start + offset + 2 > len)
		return false;
	for (i = start; i + 1 < len; i += 2)
		sum += (uint32_t)frame[i] << 8 | frame[i + 1];
	if (i < len)
		sum += (uint32_t)frame[i] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	c = (uint16_t)~sum;
	/* 0 and 0xffff are the same in ones' complement; UDP reserves 0
	 * for "no checksum". */
	if (!c)
		c = 0xffff;
	frame[start + offset] = (uint8_t)(c >> 8);
	frame[start + offset + 1] = (uint8_t)c;
	return true;
}

bool net_hdr_fix_rx(struct vdev_net_hdr *h, uint64_t features,
		    uint8_t *frame, size_t len)
{
	unsigned gso = h->gso_type & ~VDEV_NET_HDR_GSO_ECN;

	if (len < NET_ETH_HLEN)
		return false;
	h->num_buffers = vdev_cpu_to_le16(0);
	if (gso != VDEV_NET_HDR_GSO_NONE) {
		unsigned need = gso == VDEV_NET_HDR_GSO_TCPV4 ?
					VDEV_NET_F_GUEST_TSO4 :
				gso == VDEV_NET_HDR_GSO_TCPV6 ?
					VDEV_NET_F_GUEST_TSO6 :
				gso == VDEV_NET_HDR_GSO_UDP ?
					VDEV_NET_F_GUEST_UFO : 64;

		if (need == 64 || !has(features, need))
			return false;
		if ((h->gso_type & VDEV_NET_HDR_GSO_ECN) &&
		    !has(features, VDEV_NET_F_GUEST_ECN))
			return false;
		if (!(h->flags & VDEV_NET_HDR_F_NEEDS_CSUM) || !h->gso_size)
			return false;
	}
	h->flags &= VDEV_NET_HDR_F_NEEDS_CSUM | VDEV_NET_HDR_F_DATA_VALID;
	if (h->flags & VDEV_NET_HDR_F_NEEDS_CSUM) {
		unsigned start = vdev_le16_to_cpu(h->csum_start);
		unsigned off = vdev_le16_to_cpu(h->csum_offset);

		if ((size_t)start + off + 2 > len)
			return false;
		if (!has(features, VDEV_NET_F_GUEST_CSUM)) {
			net_csum_complete(frame, len, start, off);
			h->flags = 0;
			h->csum_start = h->csum_offset = vdev_cpu_to_le16(0);
		}
	} else if (!has(features, VDEV_NET_F_GUEST_CSUM)) {
		h->flags = 0;
	}
	if (gso == VDEV_NET_HDR_GSO_NONE)
		h->gso_size = h->hdr_len = vdev_cpu_to_le16(0);
	return true;
}
