/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the virtio-vsock packet header parser (pkt.c) and the
 * connection state machine behind it, driven through the software driver.
 *
 * Input: records of
 *   [0]      bit 0: src_cid forced to the guest's CID (else as given),
 *            bit 1: dst_cid forced to 2 (the host), bit 2: ports forced
 *            into 1..4 (so packets meet live connections), bit 3: len
 *            forced to the payload's size
 *   [1..44]  the header
 *   [45]     payload bytes (0..255), then that many bytes
 * Each header first goes through vsock_pkt_parse alone (an accepted one
 * must re-encode to itself and satisfy its own checks), then every record
 * goes to the device as a tx packet (header and payload descriptors, as
 * Linux sends them). The device's rx packets are taken after each input;
 * it must not crash, leak, write a short packet or break its queues. Host
 * listeners at <uds>_1 (stream) and _2 (seqpacket) accept and read, and
 * host clients CONNECT to guest ports now and then. State persists across
 * inputs (connections stay until reset), as a guest's would.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/vsock_harness.h"
#include "devices/vsock/vsock_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CID 3

static struct guest *g;
static int lfd[2] = { -1, -1 };
static char uds[96];
static unsigned iter;

static void setup(void)
{
	char dir[] = "/tmp/vdev-fuzz-vsock-XXXXXX", path[128];
	struct vdev_vsock_config c = {
		.guest_cid = CID,
		.uds_path = uds,
		.buf_size = 4096,
		.conn_max = 16,
		.seqpacket = true,
	};

	if (!mkdtemp(dir))
		abort();
	snprintf(uds, sizeof(uds), "%s/v", dir);
	snprintf(path, sizeof(path), "%s_1", uds);
	lfd[0] = uds_listen(path, SOCK_STREAM);
	snprintf(path, sizeof(path), "%s_2", uds);
	lfd[1] = uds_listen(path, SOCK_SEQPACKET);
	g = g_new(&c, 64);
	if (!g)
		abort();
}

/* Accepts what the device connected and reads a little of each (the
 * host side of live connections), closing some. */
static void host_side(void)
{
	static int fds[32];
	static unsigned nfds;
	char buf[512];

	for (int k = 0; k < 2; k++) {
		int fd;

		while ((fd = accept4(lfd[k], NULL, NULL, SOCK_NONBLOCK)) >= 0) {
			if (nfds == 32) {
				close(fds[0]);
				memmove(fds, fds + 1, sizeof(fds[0]) * 31);
				nfds--;
			}
			fds[nfds++] = fd;
		}
	}
	for (unsigned i = 0; i < nfds; i++) {
		if (read(fds[i], buf, sizeof(buf)) < 0 && errno != EAGAIN) {
			close(fds[i]);
			fds[i--] = fds[--nfds];
			continue;
		}
		if ((iter + i) % 7 == 0 && send(fds[i], "data", 4, MSG_NOSIGNAL) < 0) {
			/* full or gone: either is fine */
		}
	}
	if (iter % 16 == 0) {
		int fd = uds_connect(uds);
		char cmd[32];
		int n = snprintf(cmd, sizeof(cmd), "CONNECT %u\n", 1 + iter % 4);

		if (send(fd, cmd, (size_t)n, MSG_NOSIGNAL) != n) {
			/* the device closed it: fine */
		}
		if (nfds == 32) {
			close(fds[0]);
			memmove(fds, fds + 1, sizeof(fds[0]) * 31);
			nfds--;
		}
		fds[nfds++] = fd;
	}
}

static void check_parse(const uint8_t *hdr, size_t payload)
{
	struct vsock_pkt p, q;
	struct vdev_vsock_hdr h;

	if (vsock_pkt_parse(hdr, payload, &p) != 0)
		return;
	if (p.len > payload || p.len > VSOCK_PKT_MAX ||
	    (p.op != VDEV_VSOCK_OP_RW && p.len) ||
	    p.op < VDEV_VSOCK_OP_REQUEST ||
	    p.op > VDEV_VSOCK_OP_CREDIT_REQUEST ||
	    (p.type != VDEV_VSOCK_TYPE_STREAM &&
	     p.type != VDEV_VSOCK_TYPE_SEQPACKET))
		abort();
	vsock_pkt_encode(&p, &h);
	if (memcmp(&h, hdr, sizeof(h)) || vsock_pkt_parse(&h, payload, &q) ||
	    p.src_cid != q.src_cid || p.dst_cid != q.dst_cid ||
	    p.src_port != q.src_port || p.dst_port != q.dst_port ||
	    p.len != q.len || p.type != q.type || p.op != q.op ||
	    p.flags != q.flags || p.buf_alloc != q.buf_alloc ||
	    p.fwd_cnt != q.fwd_cnt)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gpkt p;
	size_t off = 0;

	if (!g)
		setup();
	iter++;
	while (off + 46 <= size) {
		uint8_t fl = data[off];
		struct vdev_vsock_hdr h;
		uint32_t plen = data[off + 45];
		const uint8_t *pl = data + off + 46;

		memcpy(&h, data + off + 1, sizeof(h));
		if (plen > size - off - 46)
			plen = (uint32_t)(size - off - 46);
		check_parse(data + off + 1, plen);
		if (fl & 1)
			h.src_cid = vdev_cpu_to_le64(CID);
		if (fl & 2)
			h.dst_cid = vdev_cpu_to_le64(2);
		if (fl & 4) {
			h.src_port = vdev_cpu_to_le32(
				1 + vdev_le32_to_cpu(h.src_port) % 4);
			h.dst_port = vdev_cpu_to_le32(
				1 + vdev_le32_to_cpu(h.dst_port) % 4);
		}
		if (fl & 8)
			h.len = vdev_cpu_to_le32(plen);
		if (g_send_raw(g, &h, pl, plen, 1000) < 0)
			abort(); /* the device stopped taking tx packets */
		off += 46 + plen;
		vdev_drv_poll(g->drv, 0);
		while (g_recv(g, &p, 0) == 0)
			;
	}
	host_side();
	for (int i = 0; i < 3; i++) {
		vdev_drv_poll(g->drv, 0);
		while (g_recv(g, &p, 0) == 0)
			;
	}
	if (vdev_drv_status(g->drv) & VDEV_STATUS_DEVICE_NEEDS_RESET)
		abort();
	return 0;
}
