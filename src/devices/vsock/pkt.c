/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vsock packet header (virtio 1.2 5.10.6) and the arithmetic the
 * protocol does with it: credit and local port allocation. No state, so the
 * fuzzer drives it directly.
 */
#include <errno.h>
#include <string.h>
#include <virtio/le.h>

#include "vsock_internal.h"

_Static_assert(sizeof(struct vdev_vsock_hdr) == VSOCK_HDR_LEN,
	       "vsock header is 44 bytes");

int vsock_pkt_parse(const void *hdr, size_t payload, struct vsock_pkt *p)
{
	struct vdev_vsock_hdr h;

	memcpy(&h, hdr, sizeof(h));
	p->src_cid = vdev_le64_to_cpu(h.src_cid);
	p->dst_cid = vdev_le64_to_cpu(h.dst_cid);
	p->src_port = vdev_le32_to_cpu(h.src_port);
	p->dst_port = vdev_le32_to_cpu(h.dst_port);
	p->len = vdev_le32_to_cpu(h.len);
	p->type = vdev_le16_to_cpu(h.type);
	p->op = vdev_le16_to_cpu(h.op);
	p->flags = vdev_le32_to_cpu(h.flags);
	p->buf_alloc = vdev_le32_to_cpu(h.buf_alloc);
	p->fwd_cnt = vdev_le32_to_cpu(h.fwd_cnt);

	if (p->len > payload || p->len > VSOCK_PKT_MAX)
		return -EMSGSIZE;
	if (p->op != VDEV_VSOCK_OP_RW && p->len)
		return -EMSGSIZE;
	if (p->op < VDEV_VSOCK_OP_REQUEST || p->op > VDEV_VSOCK_OP_CREDIT_REQUEST)
		return -EINVAL;
	if (p->type != VDEV_VSOCK_TYPE_STREAM &&
	    p->type != VDEV_VSOCK_TYPE_SEQPACKET)
		return -EINVAL;
	return 0;
}

void vsock_pkt_encode(const struct vsock_pkt *p, struct vdev_vsock_hdr *h)
{
	h->src_cid = vdev_cpu_to_le64(p->src_cid);
	h->dst_cid = vdev_cpu_to_le64(p->dst_cid);
	h->src_port = vdev_cpu_to_le32(p->src_port);
	h->dst_port = vdev_cpu_to_le32(p->dst_port);
	h->len = vdev_cpu_to_le32(p->len);
	h->type = vdev_cpu_to_le16(p->type);
	h->op = vdev_cpu_to_le16(p->op);
	h->flags = vdev_cpu_to_le32(p->flags);
	h->buf_alloc = vdev_cpu_to_le32(p->buf_alloc);
	h->fwd_cnt = vdev_cpu_to_le32(p->fwd_cnt);
}

uint32_t vsock_credit(uint32_t buf_alloc, uint32_t tx_cnt, uint32_t fwd_cnt)
{
	uint32_t in_flight = tx_cnt - fwd_cnt; /* wraps with the counters */

	return in_flight > buf_alloc ? 0 : buf_alloc - in_flight;
}

bool vsock_port_alloc(uint32_t *next, bool (*in_use)(void *, uint32_t),
		      void *arg, unsigned tries, uint32_t *port)
{
	uint32_t p = *next;

	for (unsigned i = 0; i < tries; i++) {
		if (p < VSOCK_PORT_MIN || p > VSOCK_PORT_MAX)
			p = VSOCK_PORT_MIN;
		if (!in_use(arg, p)) {
			*port = p;
			*next = p == VSOCK_PORT_MAX ? VSOCK_PORT_MIN : p + 1;
			return true;
		}
		p = p == VSOCK_PORT_MAX ? VSOCK_PORT_MIN : p + 1;
	}
	*next = p;
	return false;
}
