/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control queue's commands (5.1.6.5) and the receive filter they
 * build. A command is parsed from a private copy of the chain's readable
 * bytes; a command that is malformed, unknown or not negotiated is
 * answered VIRTIO_NET_ERR and changes nothing.
 *
 * The filter follows QEMU's (hw/net/virtio-net.c), which guests are
 * tested against: promiscuous at reset, so a driver that never sends RX
 * commands receives everything; the VLAN filter applies to tagged frames
 * once the driver negotiated CTRL_VLAN; a MAC table longer than the
 * device keeps accepts every address of that kind.
 */
#include <string.h>
#include "core/bytes.h"
#include "net_internal.h"

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

void net_filter_reset(struct net_filter *f, const uint8_t mac[6])
{
	memset(f, 0, sizeof(*f));
	f->promisc = true;
	memcpy(f->mac, mac, 6);
}

static bool in_table(const uint8_t (*t)[6], unsigned n, const uint8_t *a)
{
	for (unsigned i = 0; i < n; i++)
		if (!memcmp(t[i], a, 6))
			return true;
	return false;
}

bool net_filter_pass(const struct net_filter *f, const uint8_t *frame,
		     size_t len)
{
	if (len < NET_ETH_HLEN)
		return false;
	if (f->promisc || !f->rx_on)
		goto vlan;
	if (frame[0] & 1) {
		if (!memcmp(frame, bcast, 6) || f->allmulti ||
		    f->multi_overflow ||
		    in_table((const uint8_t(*)[6])f->multi, f->n_multi, frame))
			goto vlan;
		return false;
	}
	if (!memcmp(frame, f->mac, 6) || f->uni_overflow ||
	    in_table((const uint8_t(*)[6])f->uni, f->n_uni, frame))
		goto vlan;
	return false;
vlan:
	/* 802.1Q: TPID 0x8100, then the TCI whose low 12 bits are the
	 * VLAN id. */
	if (f->vlan_on && len >= 18 && frame[12] == 0x81 && frame[13] == 0) {
		unsigned vid = ((unsigned)frame[14] << 8 | frame[15]) & 0xfff;

		if (!(f->vlans[vid >> 5] & (1u << (vid & 31))))
			return false;
	}
	return true;
}

/*
 * VIRTIO_NET_CTRL_MAC_TABLE_SET: {le32 entries; u8 macs[entries][6]} for
 * unicast, then the same for multicast, and nothing after.
 */
static uint8_t mac_table_set(struct net_filter *f, const uint8_t *d,
			     size_t len)
{
	struct net_filter nf = *f;
	uint8_t(*tabs[2])[6] = { nf.uni, nf.multi };
	unsigned *counts[2] = { &nf.n_uni, &nf.n_multi };
	bool *over[2] = { &nf.uni_overflow, &nf.multi_overflow };

	for (int t = 0; t < 2; t++) {
		uint32_t n;

		if (len < 4)
			return VDEV_NET_ERR;
		n = get_le32(d);
		d += 4;
		len -= 4;
		if (n > len / 6)
			return VDEV_NET_ERR;
		*over[t] = n > VDEV_NET_MAC_TABLE_MAX;
		*counts[t] = *over[t] ? 0 : n;
		if (!*over[t])
			memcpy(tabs[t], d, (size_t)n * 6);
		d += (size_t)n * 6;
		len -= (size_t)n * 6;
	}
	if (len)
		return VDEV_NET_ERR;
	*f = nf;
	return VDEV_NET_OK;
}

uint8_t net_ctrl_apply(struct net_filter *f, const uint8_t *cmd, size_t len,
		       uint64_t features, unsigned max_pairs,
		       struct net_ctrl_effect *eff)
{
	const uint8_t *d = cmd + 2;
	size_t dlen;

	memset(eff, 0, sizeof(*eff));
	if (len < 2)
		return VDEV_NET_ERR;
	dlen = len - 2;
	switch (cmd[0]) {
	case VDEV_NET_CTRL_RX:
		if (!(features & VDEV_BIT(VDEV_NET_F_CTRL_RX)) || dlen != 1)
			return VDEV_NET_ERR;
		if (cmd[1] == VDEV_NET_CTRL_RX_PROMISC)
			f->promisc = d[0] != 0;
		else if (cmd[1] == VDEV_NET_CTRL_RX_ALLMULTI)
			f->allmulti = d[0] != 0;
		else
			return VDEV_NET_ERR;
		return VDEV_NET_OK;
	case VDEV_NET_CTRL_MAC:
		if (cmd[1] == VDEV_NET_CTRL_MAC_TABLE_SET) {
			if (!(features & VDEV_BIT(VDEV_NET_F_CTRL_RX)))
				return VDEV_NET_ERR;
			return mac_table_set(f, d, dlen);
		}
		if (cmd[1] == VDEV_NET_CTRL_MAC_ADDR_SET) {
			if (!(features & VDEV_BIT(VDEV_NET_F_CTRL_MAC_ADDR)) ||
			    dlen != 6 || d[0] & 1)
				return VDEV_NET_ERR;
			memcpy(f->mac, d, 6);
			eff->mac_changed = true;
			return VDEV_NET_OK;
		}
		return VDEV_NET_ERR;
	case VDEV_NET_CTRL_VLAN: {
		unsigned vid;

		if (!(features & VDEV_BIT(VDEV_NET_F_CTRL_VLAN)) || dlen != 2)
			return VDEV_NET_ERR;
		vid = (unsigned)d[0] | (unsigned)d[1] << 8;
		if (vid >= 4096)
			return VDEV_NET_ERR;
		if (cmd[1] == VDEV_NET_CTRL_VLAN_ADD)
			f->vlans[vid >> 5] |= 1u << (vid & 31);
		else if (cmd[1] == VDEV_NET_CTRL_VLAN_DEL)
			f->vlans[vid >> 5] &= ~(1u << (vid & 31));
		else
			return VDEV_NET_ERR;
		return VDEV_NET_OK;
	}
	case VDEV_NET_CTRL_ANNOUNCE:
		if (!(features & VDEV_BIT(VDEV_NET_F_GUEST_ANNOUNCE)) ||
		    cmd[1] != VDEV_NET_CTRL_ANNOUNCE_ACK || dlen)
			return VDEV_NET_ERR;
		eff->announce_ack = true;
		return VDEV_NET_OK;
	case VDEV_NET_CTRL_MQ: {
		unsigned n;

		if (!(features & VDEV_BIT(VDEV_NET_F_MQ)) ||
		    cmd[1] != VDEV_NET_CTRL_MQ_VQ_PAIRS_SET || dlen != 2)
			return VDEV_NET_ERR;
		n = (unsigned)d[0] | (unsigned)d[1] << 8;
		if (n < 1 || n > max_pairs)
			return VDEV_NET_ERR;
		eff->pairs = n;
		return VDEV_NET_OK;
	}
	case VDEV_NET_CTRL_GUEST_OFFLOADS: {
		uint64_t v = 0;

		if (!(features & VDEV_BIT(VDEV_NET_F_CTRL_GUEST_OFFLOADS)) ||
		    cmd[1] != VDEV_NET_CTRL_GUEST_OFFLOADS_SET || dlen != 8)
			return VDEV_NET_ERR;
		for (int i = 0; i < 8; i++)
			v |= (uint64_t)d[i] << (8 * i);
		/* Only offloads that were negotiated may be turned on. */
		if (v & ~(features & NET_GUEST_OFFLOADS))
			return VDEV_NET_ERR;
		/* TSO without checksum offload is impossible (5.1.6.5.6.1
		 * lets the device refuse what it cannot do). */
		if ((v & (NET_GUEST_OFFLOADS &
			  ~VDEV_BIT(VDEV_NET_F_GUEST_CSUM))) &&
		    !(v & VDEV_BIT(VDEV_NET_F_GUEST_CSUM)))
			return VDEV_NET_ERR;
		eff->offloads_set = true;
		eff->offloads = v;
		return VDEV_NET_OK;
	}
	default:
		return VDEV_NET_ERR;
	}
}
