/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A virtio-vsock guest driver for tests, on the software driver: rx buffers
 * of one 4 KiB descriptor (header and data together, as Linux 6.1 posts
 * them), tx packets as a header descriptor plus a data descriptor (as Linux
 * sends them), one event buffer. Host sockets are driven by the test on
 * the same thread; the device runs while the harness polls.
 */
#ifndef VSOCK_HARNESS_H
#define VSOCK_HARNESS_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <virtio/le.h>
#include <virtio/testing.h>
#include <virtio/transport.h>
#include <virtio/vsock.h>

#define G_RXN 64
#define G_RXLEN 4096
#define G_TXN 64
#define G_TXLEN (64 * 1024)

struct guest {
	struct vdev *dev;
	struct vdev_drv *drv;
	struct vdev_drv_mem *m;
	uint64_t cid;
	uint8_t *rx[G_RXN];
	uint64_t rxgpa[G_RXN];
	uint8_t *tx[G_TXN];
	uint64_t txgpa[G_TXN];
	bool txbusy[G_TXN];
	uint8_t *ev;
	uint64_t evgpa;
	unsigned events;   /* TRANSPORT_RESET events seen */
	bool hold_rx;      /* do not re-post rx buffers (tests of no room) */
};

/* A received packet. */
struct gpkt {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
	uint8_t data[G_RXLEN];
};

static inline int64_t g_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void g_post_rx(struct guest *g, unsigned i)
{
	struct vdev_drv_seg s = { g->rxgpa[i], G_RXLEN };

	if (vdev_drv_ring_add(vdev_drv_ring(g->drv, 0), &s, 0, 1,
			      (void *)(uintptr_t)(i + 1), 0) == 0)
		vdev_drv_kick(g->drv, 0);
}

static inline void g_post_ev(struct guest *g)
{
	struct vdev_drv_seg s = { g->evgpa, 4 };

	vdev_drv_ring_add(vdev_drv_ring(g->drv, 2), &s, 0, 1, (void *)1, 0);
	vdev_drv_kick(g->drv, 2);
}

/* Rings up and buffers posted on a driver made by the caller. */
static inline struct guest *g_attach(struct vdev_drv *drv, uint64_t cid,
				     uint16_t txq_size)
{
	struct guest *g = calloc(1, sizeof(*g));

	if (!g)
		abort();
	g->cid = cid;
	g->drv = drv;
	g->dev = vdev_drv_device(drv);
	if (vdev_drv_negotiate(g->drv, vdev_drv_device_features(g->drv)) < 0 ||
	    vdev_drv_setup_queue(g->drv, 0, 256) < 0 ||
	    vdev_drv_setup_queue(g->drv, 1, txq_size ? txq_size : 64) < 0 ||
	    vdev_drv_setup_queue(g->drv, 2, 8) < 0 ||
	    vdev_drv_driver_ok(g->drv) < 0)
		abort();
	g->m = vdev_drv_get_mem(g->drv);
	for (unsigned i = 0; i < G_RXN; i++) {
		g->rx[i] = vdev_drv_mem_alloc(g->m, G_RXLEN, 64, &g->rxgpa[i]);
		g_post_rx(g, i);
	}
	for (unsigned i = 0; i < G_TXN; i++)
		g->tx[i] = vdev_drv_mem_alloc(g->m, G_TXLEN + 64, 64,
					      &g->txgpa[i]);
	g->ev = vdev_drv_mem_alloc(g->m, 4, 4, &g->evgpa);
	g_post_ev(g);
	return g;
}

static inline struct guest *g_new(const struct vdev_vsock_config *cfg,
				  uint16_t txq_size)
{
	struct vdev_drv_config dc = {
		.mem_size = 32u << 20,
		.use_eventfds = true,
		.queue_size = 256,
	};
	struct vdev *dev = vdev_vsock_new(cfg);
	struct vdev_drv *drv;

	if (!dev)
		return NULL;
	drv = vdev_drv_new(dev, &dc);
	if (!drv)
		abort();
	return g_attach(drv, cfg->guest_cid, txq_size);
}

static inline void g_free(struct guest *g)
{
	vdev_drv_free(g->drv);
	vdev_free(g->dev);
	free(g);
}

static inline void g_reap(struct guest *g)
{
	void *tok;
	uint32_t len;

	while (vdev_drv_ring_get_used(vdev_drv_ring(g->drv, 1), &tok,
				      &len) == 0)
		if ((uintptr_t)tok <= G_TXN) /* else a test's own chain */
			g->txbusy[(uintptr_t)tok - 1] = false;
	while (vdev_drv_ring_get_used(vdev_drv_ring(g->drv, 2), &tok,
				      &len) == 0) {
		g->events++;
		g_post_ev(g);
	}
}

/* Queues one packet (header descriptor + data descriptor). -EAGAIN: the
 * tx ring is full after @timeout_ms. */
static inline int g_send_raw(struct guest *g, const struct vdev_vsock_hdr *h,
			     const void *data, uint32_t len, int timeout_ms)
{
	int64_t end = g_now_ms() + timeout_ms;
	unsigned i;

	for (;;) {
		g_reap(g);
		for (i = 0; i < G_TXN && g->txbusy[i]; i++)
			;
		if (i < G_TXN) {
			struct vdev_drv_seg s[2] = {
				{ g->txgpa[i], sizeof(*h) },
				{ g->txgpa[i] + 64, len },
			};

			memcpy(g->tx[i], h, sizeof(*h));
			if (len)
				memcpy(g->tx[i] + 64, data, len);
			if (vdev_drv_ring_add(vdev_drv_ring(g->drv, 1), s,
					      len ? 2 : 1, 0,
					      (void *)(uintptr_t)(i + 1),
					      0) == 0)
				break;
		}
		if (g_now_ms() > end)
			return -EAGAIN;
		vdev_drv_poll(g->drv, 10);
	}
	g->txbusy[i] = true;
	vdev_drv_kick(g->drv, 1);
	return 0;
}

/* g_send_raw with a header the test wrote in host order: the ring has it
 * little-endian (tests that skipped this ran wrong only on s390x). */
static inline int g_send_host(struct guest *g, const struct vdev_vsock_hdr *h,
			      const void *data, uint32_t len, int ms)
{
	struct vdev_vsock_hdr le = {
		.src_cid = vdev_cpu_to_le64(h->src_cid),
		.dst_cid = vdev_cpu_to_le64(h->dst_cid),
		.src_port = vdev_cpu_to_le32(h->src_port),
		.dst_port = vdev_cpu_to_le32(h->dst_port),
		.len = vdev_cpu_to_le32(h->len),
		.type = vdev_cpu_to_le16(h->type),
		.op = vdev_cpu_to_le16(h->op),
		.flags = vdev_cpu_to_le32(h->flags),
		.buf_alloc = vdev_cpu_to_le32(h->buf_alloc),
		.fwd_cnt = vdev_cpu_to_le32(h->fwd_cnt),
	};

	return g_send_raw(g, &le, data, len, ms);
}

static inline int g_send(struct guest *g, uint64_t dst_cid, uint32_t src_port,
			 uint32_t dst_port, uint16_t type, uint16_t op,
			 uint32_t flags, uint32_t buf_alloc, uint32_t fwd_cnt,
			 const void *data, uint32_t len)
{
	struct vdev_vsock_hdr h = {
		.src_cid = vdev_cpu_to_le64(g->cid),
		.dst_cid = vdev_cpu_to_le64(dst_cid),
		.src_port = vdev_cpu_to_le32(src_port),
		.dst_port = vdev_cpu_to_le32(dst_port),
		.len = vdev_cpu_to_le32(len),
		.type = vdev_cpu_to_le16(type),
		.op = vdev_cpu_to_le16(op),
		.flags = vdev_cpu_to_le32(flags),
		.buf_alloc = vdev_cpu_to_le32(buf_alloc),
		.fwd_cnt = vdev_cpu_to_le32(fwd_cnt),
	};

	return g_send_raw(g, &h, data, len, 5000);
}

/* Takes one received packet: 0, or -ETIMEDOUT. */
static inline int g_recv(struct guest *g, struct gpkt *p, int timeout_ms)
{
	struct vdev_vsock_hdr h;
	void *tok;
	uint32_t len;
	unsigned i;
	int r;

	r = vdev_drv_wait(g->drv, 0, timeout_ms, &tok, &len);
	g_reap(g);
	if (r < 0)
		return r;
	i = (unsigned)(uintptr_t)tok - 1;
	if (len < sizeof(h))
		abort();
	memcpy(&h, g->rx[i], sizeof(h));
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
	if (p->len != len - sizeof(h) || p->len > G_RXLEN - sizeof(h))
		abort();
	memcpy(p->data, g->rx[i] + sizeof(h), p->len);
	if (!g->hold_rx)
		g_post_rx(g, i);
	return 0;
}

/* Runs the device for @ms without taking packets. */
static inline void g_run(struct guest *g, int ms)
{
	int64_t end = g_now_ms() + ms;

	while (g_now_ms() < end)
		vdev_drv_poll(g->drv, 5);
	g_reap(g);
}

static inline int uds_listen(const char *path, int type)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path) >=
	    (int)sizeof(sa.sun_path))
		abort();
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 128) < 0)
		abort();
	return fd;
}

static inline int uds_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path) >=
	    (int)sizeof(sa.sun_path))
		abort();
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		abort();
	return fd;
}

#endif /* VSOCK_HARNESS_H */
