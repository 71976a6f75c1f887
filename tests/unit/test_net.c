/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-net through the software driver, on a datagram socketpair (the
 * test holds the other end: the wire) and on the sink/source backend, in
 * the four driver modes (split/packed x synchronous kicks/eventfds):
 * transmit with every malformed-header case dropped and counted and
 * nothing else lost, checksum completion, receive into one buffer and
 * into mergeable ones, every control command and the filtering it sets,
 * multiqueue pairs, state save and restore.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/net.h>
#include <virtio/state.h>
#include <virtio/testing.h>
#include <virtio/transport.h>
#include "twait.h"

struct mode {
	bool packed;
	bool eventfds;
};

static const struct mode modes[] = {
	{ false, false }, { false, true }, { true, false }, { true, true },
};

static const uint8_t MAC[6] = { 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };

struct t {
	struct vdev *dev;
	struct vdev_drv *drv;
	int peer; /* the wire: what the device sends, what it receives */
	unsigned ctrlq;
};

static void make_dev_q(struct t *t, const struct mode *m, uint64_t refuse,
		       struct vdev *dev, uint16_t qsize)
{
	struct vdev_drv_config dc = {
		.packed = m->packed,
		.use_eventfds = m->eventfds,
		.queue_size = qsize,
		.refuse = refuse,
	};

	assert_non_null(dev);
	t->dev = dev;
	t->drv = vdev_drv_new(dev, &dc);
	assert_non_null(t->drv);
	assert_int_equal(vdev_drv_init(t->drv), 0);
	t->ctrlq = vdev_num_queues(dev) - 1;
	if (!vdev_has_feature(dev, VDEV_NET_F_MQ))
		t->ctrlq = 2;
}

static void make_dev(struct t *t, const struct mode *m, uint64_t refuse,
		     struct vdev *dev)
{
	make_dev_q(t, m, refuse, dev, 64);
}

static void make(struct t *t, const struct mode *m, uint64_t refuse,
		 uint32_t no)
{
	int sv[2];
	struct vdev_net_config c = {
		.backend = VDEV_NET_DGRAM, .use_fd = true, .no = no,
	};

	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv),
			 0);
	memcpy(c.mac, MAC, 6);
	c.fd = sv[0];
	t->peer = sv[1];
	make_dev(t, m, refuse, vdev_net_new(&c));
}

static void destroy(struct t *t)
{
	vdev_drv_free(t->drv);
	vdev_free(t->dev);
	if (t->peer >= 0)
		close(t->peer);
}

static void frame(uint8_t *f, size_t len, const uint8_t *dst, uint8_t seed)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, "\x02\x99\x99\x99\x99\x99", 6);
	f[12] = 0x08;
	f[13] = 0x00;
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(i * 7 + seed);
}

/* Sends hdr + frame on tx; the chain must complete. */
static void tx(struct t *t, const struct vdev_net_hdr *h, const void *f,
	       size_t len)
{
	uint8_t buf[70000];
	uint32_t w;
	/* The tests write headers in host order; the ring has them
	 * little-endian (this ran wrong only on s390x). */
	struct vdev_net_hdr le = {
		.flags = h->flags,
		.gso_type = h->gso_type,
		.hdr_len = vdev_cpu_to_le16(h->hdr_len),
		.gso_size = vdev_cpu_to_le16(h->gso_size),
		.csum_start = vdev_cpu_to_le16(h->csum_start),
		.csum_offset = vdev_cpu_to_le16(h->csum_offset),
		.num_buffers = vdev_cpu_to_le16(h->num_buffers),
	};

	memcpy(buf, &le, sizeof(le));
	memcpy(buf + sizeof(*h), f, len);
	assert_int_equal(vdev_drv_xfer(t->drv, 1, buf, sizeof(*h) + len, NULL,
				       0, &w, 2000),
			 0);
}

/* What arrived on the wire: its length, or -1 after @ms without one. */
static ssize_t wire_recv(struct t *t, void *buf, size_t cap, int ms)
{
	for (int i = 0; i <= ms; i++) {
		ssize_t n = recv(t->peer, buf, cap, MSG_DONTWAIT);

		if (n >= 0)
			return n;
		usleep(1000);
	}
	return -1;
}

static struct vdev_net_stats stats(struct t *t, unsigned pair)
{
	struct vdev_net_stats s;

	assert_int_equal(vdev_net_get_stats(t->dev, pair, &s), 0);
	return s;
}

static void test_tx_basic(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct t t;
		struct vdev_net_hdr h = { 0 };
		uint8_t f[1514], got[2000];

		make(&t, &modes[k], 0, 0);
		for (unsigned len = 14; len <= 1514; len += 500) {
			frame(f, len, MAC, (uint8_t)len);
			tx(&t, &h, f, len);
			assert_int_equal(wire_recv(&t, got, sizeof(got), 1000),
					 len);
			assert_memory_equal(got, f, len);
		}
		assert_int_equal(stats(&t, 0).tx_packets, 4);
		destroy(&t);
	}
}

/* Every malformed header: dropped, counted, and the next frame goes. */
static void test_tx_bad_hdr(void **state)
{
	static const struct {
		const char *what;
		struct vdev_net_hdr h;
		size_t len;
		bool bad_len;
	} cases[] = {
		{ "csum_start past the end",
		  { .flags = 1, .csum_start = 99, .csum_offset = 0 }, 100,
		  false },
		{ "csum_offset past the end",
		  { .flags = 1, .csum_start = 34, .csum_offset = 66 }, 100,
		  false },
		{ "odd csum_offset",
		  { .flags = 1, .csum_start = 34, .csum_offset = 3 }, 100,
		  false },
		{ "TSO4 not negotiated",
		  { .flags = 1, .gso_type = VDEV_NET_HDR_GSO_TCPV4,
		    .gso_size = 1448, .hdr_len = 54, .csum_start = 34,
		    .csum_offset = 16 },
		  3000, false },
		{ "UDP gso", { .flags = 1, .gso_type = VDEV_NET_HDR_GSO_UDP,
			       .gso_size = 1000, .csum_start = 34,
			       .csum_offset = 6 },
		  3000, false },
		{ "unknown gso", { .gso_type = 2 }, 100, false },
		{ "ECN without gso", { .gso_type = VDEV_NET_HDR_GSO_ECN }, 100,
		  false },
		{ "runt frame", { 0 }, 13, true },
		{ "header only", { 0 }, 0, true },
	};

	for (unsigned k = 0; k < 4; k++) {
		struct t t;
		uint8_t f[3000], got[4000];
		struct vdev_net_hdr ok = { 0 };
		uint64_t bad_hdr = 0, bad_len = 0;

		make(&t, &modes[k], 0, 0);
		for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct vdev_net_stats s;

			frame(f, cases[i].len, MAC, (uint8_t)i);
			tx(&t, &cases[i].h, f, cases[i].len);
			cases[i].bad_len ? bad_len++ : bad_hdr++;
			s = stats(&t, 0);
			if (s.tx_bad_hdr != bad_hdr || s.tx_bad_len != bad_len)
				fail_msg("%s: counted %llu/%llu", cases[i].what,
					 (unsigned long long)s.tx_bad_hdr,
					 (unsigned long long)s.tx_bad_len);
			frame(f, 60, MAC, (uint8_t)(100 + i));
			tx(&t, &ok, f, 60);
			/* Only the good frame is on the wire. */
			assert_int_equal(wire_recv(&t, got, sizeof(got), 1000),
					 60);
			assert_memory_equal(got, f, 60);
		}
		assert_int_equal(wire_recv(&t, got, sizeof(got), 0), -1);
		destroy(&t);
	}

	/* A header shorter than 12 bytes. */
	{
		struct t t;
		uint8_t b[8] = { 0 };
		uint32_t w;

		make(&t, &modes[0], 0, 0);
		assert_int_equal(vdev_drv_xfer(t.drv, 1, b, sizeof(b), NULL, 0,
					       &w, 2000),
				 0);
		assert_int_equal(stats(&t, 0).tx_bad_len, 1);
		destroy(&t);
	}
	/* NEEDS_CSUM without CSUM negotiated. */
	{
		struct t t;
		struct vdev_net_hdr h = { .flags = 1, .csum_start = 34,
					  .csum_offset = 6 };
		uint8_t f[100], got[200];

		make(&t, &modes[0], VDEV_BIT(VDEV_NET_F_CSUM), 0);
		frame(f, 100, MAC, 1);
		tx(&t, &h, f, 100);
		assert_int_equal(stats(&t, 0).tx_bad_hdr, 1);
		assert_int_equal(wire_recv(&t, got, sizeof(got), 100), -1);
		destroy(&t);
	}
}

static uint16_t csum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Flag bits other than NEEDS_CSUM are ignored on transmit (5.1.6.2.2:
 * the device ignores bits it does not recognise; DATA_VALID and RSC_INFO
 * are the device's to set): the frame goes out as it is, not dropped. */
static void test_tx_flags_ignored(void **state)
{
	static const uint8_t flags[] = { VDEV_NET_HDR_F_DATA_VALID, 0x04,
					 0x80, 0xfe };
	struct t t;
	uint8_t f[100], got[200];

	make(&t, &modes[0], 0, 0);
	for (unsigned i = 0; i < sizeof(flags); i++) {
		struct vdev_net_hdr h = { .flags = flags[i] };

		frame(f, sizeof(f), MAC, (uint8_t)i);
		tx(&t, &h, f, sizeof(f));
		assert_int_equal(wire_recv(&t, got, sizeof(got), 1000),
				 sizeof(f));
		assert_memory_equal(got, f, sizeof(f));
	}
	assert_int_equal(stats(&t, 0).tx_packets, sizeof(flags));
	assert_int_equal(stats(&t, 0).tx_bad_hdr, 0);
	destroy(&t);
}

/* The backend takes only whole frames: the device completes a partial
 * UDP checksum, and the result verifies with the pseudo-header; unknown
 * flag bits beside NEEDS_CSUM change nothing. */
static void tx_csum_with(uint8_t extra_flags)
{
	struct t t;
	uint8_t f[14 + 20 + 8 + 37], got[200];
	struct vdev_net_hdr h = { .flags = VDEV_NET_HDR_F_NEEDS_CSUM,
				  .csum_start = 34, .csum_offset = 6 };
	size_t ulen = 8 + 37;
	uint32_t pseudo = 0;
	uint16_t ps;

	h.flags |= extra_flags;
	make(&t, &modes[1], 0, 0);
	frame(f, sizeof(f), MAC, 3);
	/* IPv4 10.0.0.1 -> 10.0.0.2, UDP */
	memcpy(f + 26, "\x0a\x00\x00\x01\x0a\x00\x00\x02", 8);
	f[23] = 17;
	f[38] = (uint8_t)(ulen >> 8);
	f[39] = (uint8_t)ulen;
	/* The driver leaves the pseudo-header sum in the field. */
	pseudo = csum16(f + 26, 8, 0) + 17 + (uint32_t)ulen;
	while (pseudo >> 16)
		pseudo = (pseudo & 0xffff) + (pseudo >> 16);
	ps = (uint16_t)pseudo;
	f[40] = (uint8_t)(ps >> 8);
	f[41] = (uint8_t)ps;
	tx(&t, &h, f, sizeof(f));
	assert_int_equal(wire_recv(&t, got, sizeof(got), 1000), sizeof(f));
	/* Verifies: pseudo-header + UDP header + data sums to 0xffff. */
	assert_int_equal(csum16(got + 34, ulen,
				csum16(got + 26, 8, 0) + 17 + (uint32_t)ulen),
			 0xffff);
	assert_memory_equal(got, f, 40);
	destroy(&t);
}

static void test_tx_csum(void **state)
{
	tx_csum_with(0);
	tx_csum_with(VDEV_NET_HDR_F_DATA_VALID | 0x80);
}

/* Posts @n receive buffers of @len bytes on queue @q. */
static void post_rx(struct t *t, unsigned q, unsigned n, uint32_t len)
{
	struct vdev_drv_mem *mem = vdev_drv_get_mem(t->drv);
	struct vdev_drv_ring *r = vdev_drv_ring(t->drv, q);

	for (unsigned i = 0; i < n; i++) {
		struct vdev_drv_seg seg = { .len = len };
		void *host = vdev_drv_mem_alloc(mem, len, 16, &seg.gpa);

		assert_non_null(host);
		assert_int_equal(vdev_drv_ring_add(r, &seg, 0, 1, host, 0), 0);
	}
	vdev_drv_kick(t->drv, q);
}

/* Waits for one receive completion on queue @q. */
static uint8_t *rx_wait(struct t *t, unsigned q, uint32_t *len, int ms)
{
	void *tok = NULL;
	int r = vdev_drv_wait(t->drv, q, ms, &tok, len);

	return r == 0 ? tok : NULL;
}

static void test_rx_single(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct t t;
		uint8_t f[1514], *b;
		struct vdev_net_hdr h;
		uint32_t len;

		make(&t, &modes[k], VDEV_BIT(VDEV_NET_F_MRG_RXBUF), 0);
		/* A frame before any buffer waits for one. */
		frame(f, 100, MAC, 9);
		assert_int_equal(send(t.peer, f, 100, 0), 100);
		assert_null(rx_wait(&t, 0, &len, 50));
		post_rx(&t, 0, 4, 12 + 1514);
		b = rx_wait(&t, 0, &len, 2000);
		assert_non_null(b);
		assert_int_equal(len, 12 + 100);
		memcpy(&h, b, 12);
		assert_int_equal(h.flags, 0);
		assert_int_equal(h.gso_type, 0);
		assert_int_equal(vdev_le16_to_cpu(h.num_buffers), 0);
		assert_memory_equal(b + 12, f, 100);
		/* Too large for a buffer: dropped, the buffer stays. */
		frame(f, 1514, MAC, 1);
		assert_int_equal(send(t.peer, f, 1514, 0), 1514);
		uint8_t big[3000];
		frame(big, 3000, MAC, 2);
		assert_int_equal(send(t.peer, big, 3000, 0), 3000);
		frame(f, 60, MAC, 3);
		assert_int_equal(send(t.peer, f, 60, 0), 60);
		b = rx_wait(&t, 0, &len, 2000);
		assert_non_null(b);
		assert_int_equal(len, 12 + 1514);
		b = rx_wait(&t, 0, &len, 2000);
		assert_non_null(b);
		assert_int_equal(len, 12 + 60);
		assert_memory_equal(b + 12, f, 60);
		assert_int_equal(stats(&t, 0).rx_no_buffer, 1);
		assert_int_equal(stats(&t, 0).rx_packets, 3);
		destroy(&t);
	}
}

static void test_rx_mergeable(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct t t;
		static uint8_t f[65000], got[65000];
		struct vdev_net_hdr h;
		uint32_t len;
		uint8_t *b;
		size_t sizes[] = { 60, 1488, 1489, 9000, 65000 };

		make(&t, &modes[k], 0, 0);
		assert_true(vdev_has_feature(t.dev, VDEV_NET_F_MRG_RXBUF));
		for (unsigned s = 0; s < 5; s++) {
			size_t fl = sizes[s], off;
			unsigned nb, want = (unsigned)((12 + fl + 1499) / 1500);

			post_rx(&t, 0, want + 1, 1500);
			frame(f, fl, MAC, (uint8_t)s);
			assert_int_equal(send(t.peer, f, fl, 0), (ssize_t)fl);
			b = rx_wait(&t, 0, &len, 2000);
			assert_non_null(b);
			memcpy(&h, b, 12);
			nb = vdev_le16_to_cpu(h.num_buffers);
			assert_int_equal(nb, want);
			off = len - 12;
			memcpy(got, b + 12, off);
			for (unsigned i = 1; i < nb; i++) {
				b = rx_wait(&t, 0, &len, 2000);
				assert_non_null(b);
				memcpy(got + off, b, len);
				off += len;
			}
			assert_int_equal(off, fl);
			assert_memory_equal(got, f, fl);
			/* The spare buffer is used by the next frame. */
			frame(f, 60, MAC, 77);
			assert_int_equal(send(t.peer, f, 60, 0), 60);
			b = rx_wait(&t, 0, &len, 2000);
			assert_non_null(b);
			assert_int_equal(len, 72);
		}
		destroy(&t);
	}
}

/*
 * A frame larger than the buffers the driver has made available waits for
 * more, and the driver's next buffers must bring a notification under
 * EVENT_IDX too: the device asks for a kick from the driver's current
 * avail index, not from the first buffer it gave back. (It asked from the
 * first one, which the driver had passed already, so a driver that kicks
 * only when its avail index crosses avail_event never kicked again: the
 * stall of a 64 KiB GSO frame on a nearly empty ring under QEMU 7.2.)
 */
static void test_rx_wait_for_buffers(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct t t;
		static uint8_t f[9000], got[9000];
		struct vdev_net_hdr h;
		size_t off;
		uint32_t len;
		uint8_t *b;
		unsigned nb;

		make(&t, &modes[k], 0, 0);
		assert_true(vdev_has_feature(t.dev, VDEV_F_EVENT_IDX));
		post_rx(&t, 0, 2, 1500);
		/* Seen empty by the device first (kicks on, rx fd watched). */
		assert_null(rx_wait(&t, 0, &len, 50));
		frame(f, sizeof(f), MAC, 5);
		assert_int_equal(send(t.peer, f, sizeof(f), 0),
				 (ssize_t)sizeof(f));
		/* 7 buffers needed, 2 there: it waits, asking for a kick
		 * for the next buffer the driver adds (slot 2, first lap). */
		assert_null(rx_wait(&t, 0, &len, 100));
		{
			struct vdev_queue_ring_state r;

			assert_int_equal(vdev_vq_get_ring_state(t.dev, 0, &r,
								sizeof(r)),
					 0);
			assert_true(r.flags & VDEV_RING_STATE_MAPPED);
			assert_true(r.flags & VDEV_RING_STATE_EVENT_IDX);
			assert_true(r.flags & VDEV_RING_STATE_KICKS_ON);
			assert_int_equal(r.inflight, 0);
			if (modes[k].packed) {
				assert_int_equal(r.avail, 0x8000);
				assert_int_equal(r.driver_avail, 1);
				assert_int_equal(r.avail_event, 0x8002);
			} else {
				assert_int_equal(r.avail, 0);
				assert_int_equal(r.driver_avail, 2);
				assert_int_equal(r.avail_event, 2);
			}
		}
		/* The driver's kick decision, as Linux makes it. */
		post_rx(&t, 0, 8, 1500);
		b = rx_wait(&t, 0, &len, 2000);
		assert_non_null(b);
		memcpy(&h, b, 12);
		nb = vdev_le16_to_cpu(h.num_buffers);
		assert_int_equal(nb, 7);
		off = len - 12;
		memcpy(got, b + 12, off);
		for (unsigned i = 1; i < nb; i++) {
			b = rx_wait(&t, 0, &len, 2000);
			assert_non_null(b);
			memcpy(got + off, b, len);
			off += len;
		}
		assert_int_equal(off, sizeof(f));
		assert_memory_equal(got, f, sizeof(f));
		assert_int_equal(stats(&t, 0).rx_no_buffer, 0);
		destroy(&t);
	}
}

static uint8_t ctrl(struct t *t, uint8_t cls, uint8_t cmd, const void *d,
		    size_t dlen)
{
	uint8_t buf[2048], ack = 0xee;
	uint32_t w = 0;

	buf[0] = cls;
	buf[1] = cmd;
	if (dlen)
		memcpy(buf + 2, d, dlen);
	assert_int_equal(vdev_drv_xfer(t->drv, t->ctrlq, buf, 2 + dlen, &ack,
				       1, &w, 2000),
			 0);
	assert_int_equal(w, 1);
	return ack;
}

/* Sends @f to the device and says whether the guest received it. */
static bool reaches(struct t *t, const uint8_t *f, size_t len)
{
	uint32_t l;
	uint8_t *b;

	post_rx(t, 0, 1, 1600);
	assert_int_equal(send(t->peer, f, len, 0), (ssize_t)len);
	b = rx_wait(t, 0, &l, 200);
	if (!b)
		return false;
	assert_int_equal(l, 12 + len);
	assert_memory_equal(b + 12, f, len);
	return true;
}

static void test_ctrl_filter(void **state)
{
	static const uint8_t other[6] = { 0x02, 0, 0, 0, 0, 7 };
	static const uint8_t mcast[6] = { 0x01, 0, 0x5e, 0, 0, 1 };
	static const uint8_t bc[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct t t;
	uint8_t f[64], on = 1, off = 0, tab[4 + 6 + 4 + 6];
	bool promisc, allmulti;
	uint64_t filtered;

	make(&t, &modes[1], 0, 0);
	/* Promiscuous at reset, as QEMU's device. */
	assert_int_equal(vdev_net_get_rx_mode(t.dev, NULL, &promisc, NULL), 0);
	assert_true(promisc);
	frame(f, 64, other, 1);
	assert_true(reaches(&t, f, 64));
	assert_int_equal(ctrl(&t, VDEV_NET_CTRL_RX, VDEV_NET_CTRL_RX_PROMISC,
			      &off, 1),
			 VDEV_NET_OK);
	assert_false(reaches(&t, f, 64));
	frame(f, 64, MAC, 2);
	assert_true(reaches(&t, f, 64));
	frame(f, 64, bc, 3);
	assert_true(reaches(&t, f, 64));
	frame(f, 64, mcast, 4);
	assert_false(reaches(&t, f, 64));
	assert_int_equal(ctrl(&t, VDEV_NET_CTRL_RX, VDEV_NET_CTRL_RX_ALLMULTI,
			      &on, 1),
			 VDEV_NET_OK);
	assert_int_equal(vdev_net_get_rx_mode(t.dev, NULL, &promisc,
					      &allmulti),
			 0);
	assert_false(promisc);
	assert_true(allmulti);
	assert_true(reaches(&t, f, 64));
	assert_int_equal(ctrl(&t, VDEV_NET_CTRL_RX, VDEV_NET_CTRL_RX_ALLMULTI,
			      &off, 1),
			 VDEV_NET_OK);
	assert_false(reaches(&t, f, 64));
	/* MAC table: one unicast, one multicast entry. */
	memcpy(tab, "\x01\0\0\0", 4);
	memcpy(tab + 4, other, 6);
	memcpy(tab + 10, "\x01\0\0\0", 4);
	memcpy(tab + 14, mcast, 6);
	assert_int_equal(ctrl(&t, VDEV_NET_CTRL_MAC,
			      VDEV_NET_CTRL_MAC_TABLE_SET, tab, sizeof(tab)),
			 VDEV_NET_OK);
	assert_true(reaches(&t, f, 64));
	frame(f, 64, other, 5);
	assert_true(reaches(&t, f, 64));
	/* Malformed tables change nothing. */
	tab[0] = 2;
	assert_int_equal(ctrl(&t, VDEV_NET_CTRL_MAC,
			      VDEV_NET_CTRL_MAC_TABLE_SET, tab, sizeof(tab)),
			 VDEV_NET_ERR);
	assert_int_equal(ctrl(&t, VDEV_NET_CTRL_MAC,
			      VDEV_NET_CTRL_MAC_TABLE_SET, tab, 10),
			 VDEV_NET_ERR);
	assert_true(reaches(&t, f, 64));
	/* MAC_ADDR_SET: the config follows, and so does the filter. */
	assert_int_equal(ctrl(&t, VDEV_NET_CTRL_MAC,
			      VDEV_NET_CTRL_MAC_ADDR_SET, "\x02\x01\x02\x03\x04\x05",
			      6),
			 VDEV_NET_OK);
	{
		uint8_t m[6];

		assert_int_equal(vdev_net_get_mac(t.dev, m), 0);
		assert_memory_equal(m, "\x02\x01\x02\x03\x04\x05", 6);
		assert_int_equal(vdev_drv_config_read(t.drv, 0, m, 6), 0);
		assert_memory_equal(m, "\x02\x01\x02\x03\x04\x05", 6);
	}
	frame(f, 64, (const uint8_t *)"\x02\x01\x02\x03\x04\x05", 6);
	assert_true(reaches(&t, f, 64));
	frame(f, 64, MAC, 6);
	assert_false(reaches(&t, f, 64));
	assert_int_equal(ctrl(&t, VDEV_NET_CTRL_MAC,
			      VDEV_NET_CTRL_MAC_ADDR_SET, "\x03\x01\x02\x03\x04\x05",
			      6),
			 VDEV_NET_ERR); /* multicast */
	/* VLAN: a tagged frame passes only once its id is added. */
	frame(f, 64, bc, 7);
	f[12] = 0x81;
	f[13] = 0x00;
	f[14] = 0x00;
	f[15] = 5;
	assert_false(reaches(&t, f, 64));
	assert_int_equal(ctrl(&t, VDEV_NET_CTRL_VLAN, VDEV_NET_CTRL_VLAN_ADD,
			      "\x05\x00", 2),
			 VDEV_NET_OK);
	assert_true(reaches(&t, f, 64));
	assert_int_equal(ctrl(&t, VDEV_NET_CTRL_VLAN, VDEV_NET_CTRL_VLAN_DEL,
			      "\x05\x00", 2),
			 VDEV_NET_OK);
	assert_false(reaches(&t, f, 64));
	assert_int_equal(ctrl(&t, VDEV_NET_CTRL_VLAN, VDEV_NET_CTRL_VLAN_ADD,
			      "\x00\x10", 2),
			 VDEV_NET_ERR); /* 4096 */
	assert_int_equal(ctrl(&t, VDEV_NET_CTRL_VLAN, VDEV_NET_CTRL_VLAN_ADD,
			      "\x05", 1),
			 VDEV_NET_ERR);
	/* Malformed and unknown commands. */
	assert_int_equal(ctrl(&t, VDEV_NET_CTRL_RX, VDEV_NET_CTRL_RX_PROMISC,
			      "\x01\x01", 2),
			 VDEV_NET_ERR);
	assert_int_equal(ctrl(&t, VDEV_NET_CTRL_RX, 9, &on, 1), VDEV_NET_ERR);
	assert_int_equal(ctrl(&t, 42, 0, NULL, 0), VDEV_NET_ERR);
	/* One pair, no MQ, no GUEST_OFFLOADS on a socket backend. */
	assert_int_equal(ctrl(&t, VDEV_NET_CTRL_MQ,
			      VDEV_NET_CTRL_MQ_VQ_PAIRS_SET, "\x01\x00", 2),
			 VDEV_NET_ERR);
	assert_int_equal(ctrl(&t, VDEV_NET_CTRL_GUEST_OFFLOADS,
			      VDEV_NET_CTRL_GUEST_OFFLOADS_SET,
			      "\0\0\0\0\0\0\0\0", 8),
			 VDEV_NET_ERR);
	/* A command whose chain has no room for the ack is ignored. */
	{
		uint8_t cmd[3] = { VDEV_NET_CTRL_RX, VDEV_NET_CTRL_RX_PROMISC,
				   1 };
		uint32_t w = 9;

		assert_int_equal(vdev_drv_xfer(t.drv, t.ctrlq, cmd, 3, NULL, 0,
					       &w, 2000),
				 0);
		assert_int_equal(w, 0);
		assert_int_equal(vdev_net_get_rx_mode(t.dev, NULL, &promisc,
						      NULL),
				 0);
		assert_false(promisc);
	}
	filtered = stats(&t, 0).rx_filtered;
	assert_true(filtered >= 5);
	/* ANNOUNCE: the status bit, then the driver's ack clears it. */
	{
		uint8_t st[2];
		unsigned ci = vdev_drv_config_interrupts(t.drv);

		assert_int_equal(vdev_net_announce(t.dev), 0);
		assert_int_equal(vdev_drv_config_read(t.drv, 6, st, 2), 0);
		assert_int_equal(st[0], VDEV_NET_S_LINK_UP | VDEV_NET_S_ANNOUNCE);
		vdev_drv_poll(t.drv, 10);
		assert_true(vdev_drv_config_interrupts(t.drv) > ci);
		assert_int_equal(ctrl(&t, VDEV_NET_CTRL_ANNOUNCE,
				      VDEV_NET_CTRL_ANNOUNCE_ACK, NULL, 0),
				 VDEV_NET_OK);
		assert_int_equal(vdev_drv_config_read(t.drv, 6, st, 2), 0);
		assert_int_equal(st[0], VDEV_NET_S_LINK_UP);
		assert_int_equal(vdev_net_set_link(t.dev, false), 0);
		assert_int_equal(vdev_drv_config_read(t.drv, 6, st, 2), 0);
		assert_int_equal(st[0], 0);
	}
	destroy(&t);
}

/* Without the control queue (a vhost-user frontend that keeps it) nothing
 * is filtered. */
static void test_no_ctrl(void **state)
{
	struct t t;
	uint8_t f[64];

	make(&t, &modes[0], VDEV_BIT(VDEV_NET_F_CTRL_VQ) |
				    VDEV_BIT(VDEV_NET_F_CTRL_RX) |
				    VDEV_BIT(VDEV_NET_F_CTRL_VLAN) |
				    VDEV_BIT(VDEV_NET_F_CTRL_MAC_ADDR) |
				    VDEV_BIT(VDEV_NET_F_GUEST_ANNOUNCE),
	     0);
	frame(f, 64, (const uint8_t *)"\x02\x05\x05\x05\x05\x05", 7);
	f[12] = 0x81;
	f[13] = 0;
	assert_true(reaches(&t, f, 64));
	assert_int_equal(vdev_net_announce(t.dev), -ENOTSUP);
	destroy(&t);
}

static struct vdev *sink_dev(unsigned pairs, uint32_t source_len)
{
	struct vdev_net_config c = {
		.backend = VDEV_NET_SINK,
		.queue_pairs = (uint16_t)pairs,
		.source_len = source_len,
	};

	return vdev_net_new(&c);
}

static void test_mq(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct t t = { .peer = -1 };
		unsigned pairs;
		uint32_t len;
		uint8_t *b;

		make_dev(&t, &modes[k], 0, sink_dev(4, 60));
		assert_true(vdev_has_feature(t.dev, VDEV_NET_F_MQ));
		assert_int_equal(vdev_num_queues(t.dev), 9);
		assert_int_equal(t.ctrlq, 8);
		{
			uint8_t m[2];

			vdev_drv_config_read(t.drv, 8, m, 2);
			assert_int_equal(m[0], 4);
		}
		vdev_net_get_rx_mode(t.dev, &pairs, NULL, NULL);
		assert_int_equal(pairs, 1);
		/* Pair 2 is idle until enabled. */
		post_rx(&t, 4, 2, 1500);
		assert_null(rx_wait(&t, 4, &len, 50));
		assert_int_equal(ctrl(&t, VDEV_NET_CTRL_MQ,
				      VDEV_NET_CTRL_MQ_VQ_PAIRS_SET,
				      "\x03\x00", 2),
				 VDEV_NET_OK);
		vdev_net_get_rx_mode(t.dev, &pairs, NULL, NULL);
		assert_int_equal(pairs, 3);
		b = rx_wait(&t, 4, &len, 2000);
		assert_non_null(b);
		assert_int_equal(len, 72);
		assert_int_equal(b[12 + 12], 0x88);
		/* Every pair transmits on its own queue. */
		{
			uint8_t fr[12 + 60] = { 0 };
			uint32_t w;

			memset(fr + 12, 0xff, 6);
			assert_int_equal(vdev_drv_xfer(t.drv, 5, fr, sizeof(fr),
						       NULL, 0, &w, 2000),
					 0);
			assert_int_equal(stats(&t, 2).tx_packets, 1);
			assert_int_equal(stats(&t, 0).tx_packets, 0);
		}
		assert_int_equal(ctrl(&t, VDEV_NET_CTRL_MQ,
				      VDEV_NET_CTRL_MQ_VQ_PAIRS_SET,
				      "\x05\x00", 2),
				 VDEV_NET_ERR);
		assert_int_equal(ctrl(&t, VDEV_NET_CTRL_MQ,
				      VDEV_NET_CTRL_MQ_VQ_PAIRS_SET,
				      "\x00\x00", 2),
				 VDEV_NET_ERR);
		/* Pair 3 is still off. */
		post_rx(&t, 6, 2, 1500);
		assert_null(rx_wait(&t, 6, &len, 50));
		destroy(&t);
	}
}

/* Without the control queue (QEMU over vhost-user) a pair joins when its
 * rx ring first runs, not before: a tap queue nobody reads would swallow
 * the flows the kernel steers to it. */
static void test_lazy_pairs(void **state)
{
	struct t t = { .peer = -1 };
	unsigned pairs;
	uint32_t len;

	make_dev(&t, &modes[1], VDEV_BIT(VDEV_NET_F_CTRL_VQ) |
					VDEV_BIT(VDEV_NET_F_CTRL_RX) |
					VDEV_BIT(VDEV_NET_F_CTRL_VLAN) |
					VDEV_BIT(VDEV_NET_F_CTRL_MAC_ADDR) |
					VDEV_BIT(VDEV_NET_F_GUEST_ANNOUNCE),
		 sink_dev(2, 60));
	vdev_net_get_rx_mode(t.dev, &pairs, NULL, NULL);
	assert_int_equal(pairs, 1);
	post_rx(&t, 2, 2, 1500);
	assert_non_null(rx_wait(&t, 2, &len, 2000));
	assert_int_equal(len, 72);
	vdev_net_get_rx_mode(t.dev, &pairs, NULL, NULL);
	assert_int_equal(pairs, 2);
	destroy(&t);
}

static void test_sink_source(void **state)
{
	struct t t = { .peer = -1 };
	uint32_t len;
	uint8_t *b;

	make_dev(&t, &modes[3], 0, sink_dev(1, 1500));
	/* 12 + 1500 bytes: two 1500-byte buffers per frame. */
	post_rx(&t, 0, 32, 1500);
	for (unsigned i = 0; i < 16; i++) {
		uint64_t seq = 0;

		b = rx_wait(&t, 0, &len, 2000);
		assert_non_null(b);
		assert_int_equal(len, 1500);
		assert_int_equal(
			vdev_le16_to_cpu(((struct vdev_net_hdr *)b)->num_buffers),
			2);
		assert_memory_equal(b + 12, "\xff\xff\xff\xff\xff\xff", 6);
		for (int j = 0; j < 8; j++)
			seq |= (uint64_t)b[12 + 14 + j] << (8 * j);
		assert_int_equal(seq, i);
		b = rx_wait(&t, 0, &len, 2000);
		assert_non_null(b);
		assert_int_equal(len, 12);
	}
	assert_int_equal(stats(&t, 0).rx_packets, 16);
	destroy(&t);
}

/* A round that fills more than one batch (32 frames) signals the driver
 * after each batch, on rx and on tx, not once at its end: a round runs
 * on while the backend or the ring has more (up to 256 frames on rx),
 * and a TCP peer in the guest sat idle meanwhile, waiting for the frames
 * (rx) or for its sent buffers back (tx, TCP's small-queue limit).
 * 64 frames, 64 buffers, one kick each way: at least two interrupts.
 * Without EVENT_IDX, which would rightly hold the second back (the driver
 * consumes nothing before the round ends). */
static void test_notify_per_batch(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct t t = { .peer = -1 };
		struct vdev_drv_mem *mem;
		struct vdev_drv_ring *r;
		unsigned irqs;
		uint32_t len;

		make_dev(&t, &modes[k], VDEV_BIT(VDEV_F_EVENT_IDX),
			 sink_dev(1, 60));
		irqs = vdev_drv_interrupts(t.drv, 0);
		post_rx(&t, 0, 64, 1500);
		for (unsigned i = 0; i < 64; i++)
			assert_non_null(rx_wait(&t, 0, &len, TWAIT_MS));
		assert_int_equal(stats(&t, 0).rx_packets, 64);
		assert_true(vdev_drv_interrupts(t.drv, 0) - irqs >= 2);

		mem = vdev_drv_get_mem(t.drv);
		r = vdev_drv_ring(t.drv, 1);
		irqs = vdev_drv_interrupts(t.drv, 1);
		for (unsigned i = 0; i < 64; i++) {
			struct vdev_drv_seg seg = { .len = 12 + 60 };
			uint8_t *b = vdev_drv_mem_alloc(mem, seg.len, 16,
							&seg.gpa);

			assert_non_null(b);
			memset(b, 0, 12);
			frame(b + 12, 60, MAC, (uint8_t)i);
			assert_int_equal(vdev_drv_ring_add(r, &seg, 1, 0, b, 0),
					 0);
		}
		vdev_drv_kick(t.drv, 1);
		for (unsigned i = 0; i < 64; i++) {
			void *tok;

			assert_int_equal(vdev_drv_wait(t.drv, 1, TWAIT_MS, &tok,
						       &len),
					 0);
		}
		assert_int_equal(stats(&t, 0).tx_packets, 64);
		assert_true(vdev_drv_interrupts(t.drv, 1) - irqs >= 2);
		destroy(&t);
	}
}

/* A limited source makes exactly that many frames, then waits with the
 * driver's buffers untouched; lifting the limit lets it go on. */
static void test_source_limit(void **state)
{
	struct t t = { .peer = -1 };
	uint32_t len;

	make_dev(&t, &modes[1], 0, sink_dev(1, 60));
	assert_int_equal(vdev_net_set_source_limit(t.dev, 5), 0);
	post_rx(&t, 0, 8, 1500);
	for (unsigned i = 0; i < 5; i++)
		assert_non_null(rx_wait(&t, 0, &len, 2000));
	assert_null(rx_wait(&t, 0, &len, 50));
	assert_int_equal(stats(&t, 0).rx_packets, 5);
	assert_int_equal(vdev_net_set_source_limit(t.dev, 0), 0);
	post_rx(&t, 0, 1, 1500); /* a kick runs rx again */
	assert_non_null(rx_wait(&t, 0, &len, 2000));
	destroy(&t);
	{
		struct t w = { .peer = -1 };

		make(&w, &modes[0], 0, 0);
		assert_int_equal(vdev_net_set_source_limit(w.dev, 5),
				 -ENOTSUP);
		destroy(&w);
	}
}

static void test_bad_config(void **state)
{
	struct vdev_net_config c = { .backend = VDEV_NET_SINK,
				     .queue_pairs = 17 };

	assert_null(vdev_net_new(&c));
	assert_int_equal(errno, EINVAL);
	c.queue_pairs = 1;
	c.source_len = 13;
	assert_null(vdev_net_new(&c));
	assert_int_equal(errno, EINVAL);
	c.source_len = 0;
	c.backend = VDEV_NET_DGRAM;
	c.queue_pairs = 2;
	c.use_fd = true;
	c.fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	assert_null(vdev_net_new(&c));
	assert_int_equal(errno, EINVAL);
	c.queue_pairs = 1;
	c.fd = socket(AF_UNIX, SOCK_STREAM, 0); /* not a datagram socket */
	assert_null(vdev_net_new(&c));
	assert_int_equal(errno, EINVAL);
	c.use_fd = false;
	c.backend = VDEV_NET_STREAM;
	c.path = "/nonexistent/vdev-net.sock";
	assert_null(vdev_net_new(&c));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(vdev_net_get_stats(NULL, 0, NULL), -EINVAL);
}

/* Filter, MAC, pairs and offloads survive a save/restore into a fresh
 * device, which then asks the driver to announce itself. */
static void test_state(void **state)
{
	static const uint8_t other[6] = { 0x02, 0, 0, 0, 0, 9 };
	struct t a, b;
	uint8_t f[64], off = 0, st[2];
	void *blob = NULL;
	size_t len = 0;
	int sv[2];
	struct vdev_net_config c = { .backend = VDEV_NET_DGRAM,
				     .use_fd = true };

	make(&a, &modes[0], 0, 0);
	assert_int_equal(ctrl(&a, VDEV_NET_CTRL_RX, VDEV_NET_CTRL_RX_PROMISC,
			      &off, 1),
			 VDEV_NET_OK);
	assert_int_equal(ctrl(&a, VDEV_NET_CTRL_MAC,
			      VDEV_NET_CTRL_MAC_ADDR_SET, other, 6),
			 VDEV_NET_OK);
	assert_int_equal(ctrl(&a, VDEV_NET_CTRL_VLAN, VDEV_NET_CTRL_VLAN_ADD,
			      "\x07\x00", 2),
			 VDEV_NET_OK);
	for (unsigned q = 0; q < 3; q++)
		assert_int_equal(vdev_drv_stop_queue(a.drv, q, NULL), 0);
	assert_int_equal(vdev_save(a.dev, &blob, &len), 0);

	/* A fresh device and driver: its rings land where a's were, and
	 * its rx ring, like a's, was never used. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv),
			 0);
	c.fd = sv[0];
	b.peer = sv[1];
	make_dev(&b, &modes[0], 0, vdev_net_new(&c));
	/* Its control ring as far on as a's (the blob's indices). */
	for (int i = 0; i < 3; i++)
		assert_int_equal(ctrl(&b, VDEV_NET_CTRL_RX,
				      VDEV_NET_CTRL_RX_ALLMULTI, &off, 1),
				 VDEV_NET_OK);
	for (unsigned q = 0; q < 3; q++)
		assert_int_equal(vdev_drv_stop_queue(b.drv, q, NULL), 0);
	vdev_reset(b.dev);
	assert_int_equal(vdev_restore(b.dev, blob, len), 0);
	free(blob);
	{
		uint8_t m[6];
		bool promisc = true;

		assert_int_equal(vdev_net_get_mac(b.dev, m), 0);
		assert_memory_equal(m, other, 6);
		vdev_net_get_rx_mode(b.dev, NULL, &promisc, NULL);
		assert_false(promisc);
	}
	assert_int_equal(vdev_drv_config_read(b.drv, 6, st, 2), 0);
	assert_true(st[0] & VDEV_NET_S_ANNOUNCE);
	/* The filter goes on as the driver set it. */
	frame(f, 64, other, 1);
	assert_true(reaches(&b, f, 64));
	frame(f, 64, MAC, 2);
	assert_false(reaches(&b, f, 64));
	frame(f, 64, other, 3);
	f[12] = 0x81;
	f[13] = 0;
	f[14] = 0;
	f[15] = 7;
	assert_true(reaches(&b, f, 64));
	f[15] = 8;
	assert_false(reaches(&b, f, 64));
	destroy(&a);
	destroy(&b);
}

/* The stream backend: QEMU's framing (4-byte big-endian length) both
 * ways, frames split across reads, a peer that stops reading (tx waits
 * for POLLOUT and loses nothing), and a peer that breaks the framing. */
static void test_stream(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct t t;
		int sv[2];
		struct vdev_net_config c = { .backend = VDEV_NET_STREAM,
					     .use_fd = true };
		struct vdev_net_hdr h = { 0 };
		uint8_t f[1500], got[1600], lenb[4], *b;
		uint32_t len;

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
					    0, sv),
				 0);
		c.fd = sv[0];
		t.peer = sv[1];
		memcpy(c.mac, MAC, 6);
		make_dev(&t, &modes[k], 0, vdev_net_new(&c));
		/* tx */
		frame(f, 100, MAC, 1);
		tx(&t, &h, f, 100);
		assert_int_equal(recv(t.peer, lenb, 4, MSG_WAITALL), 4);
		assert_memory_equal(lenb, "\0\0\0\x64", 4);
		assert_int_equal(recv(t.peer, got, 100, MSG_WAITALL), 100);
		assert_memory_equal(got, f, 100);
		/* rx, one byte at a time at first */
		post_rx(&t, 0, 8, 1600);
		frame(f, 300, MAC, 2);
		lenb[0] = lenb[1] = 0;
		lenb[2] = 1;
		lenb[3] = 300 - 256;
		for (int i = 0; i < 4; i++)
			assert_int_equal(send(t.peer, lenb + i, 1, 0), 1);
		assert_int_equal(send(t.peer, f, 10, 0), 10);
		assert_null(rx_wait(&t, 0, &len, 20));
		assert_int_equal(send(t.peer, f + 10, 290, 0), 290);
		b = rx_wait(&t, 0, &len, 2000);
		assert_non_null(b);
		assert_int_equal(len, 312);
		assert_memory_equal(b + 12, f, 300);
		/* A peer that does not read: frames wait, none is lost or
		 * cut. */
		{
			int small = 4096;

			setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small,
				   sizeof(small));
		}
		{
			struct vdev_drv_mem *mem = vdev_drv_get_mem(t.drv);
			size_t have = 0, want = 40 * 1404;
			static uint8_t all[40 * 1404];
			void *tok;

			for (unsigned i = 0; i < 40; i++) {
				struct vdev_drv_seg seg = { .len = 12 + 1400 };
				uint8_t *buf = vdev_drv_mem_alloc(mem, seg.len,
								  16, &seg.gpa);

				assert_non_null(buf);
				memcpy(buf, &h, 12);
				frame(buf + 12, 1400, MAC, (uint8_t)i);
				assert_int_equal(vdev_drv_ring_add(
							 vdev_drv_ring(t.drv, 1),
							 &seg, 1, 0, buf, 0),
						 0);
			}
			vdev_drv_kick(t.drv, 1);
			/* Read slowly: the socket fills, tx waits. */
			for (int spin = 0; have < want && spin < 5000; spin++) {
				ssize_t n = recv(t.peer, all + have,
						 want - have < 3000 ?
							 want - have : 3000,
						 MSG_DONTWAIT);

				if (n > 0)
					have += (size_t)n;
				vdev_drv_poll(t.drv, 1);
			}
			assert_int_equal(have, want);
			for (unsigned i = 0; i < 40; i++) {
				assert_int_equal(all[i * 1404 + 2] << 8 |
							 all[i * 1404 + 3],
						 1400);
				frame(f, 1400, MAC, (uint8_t)i);
				assert_memory_equal(all + i * 1404 + 4, f,
						    1400);
				assert_int_equal(vdev_drv_wait(t.drv, 1, 2000,
							       &tok, &len),
						 0);
			}
		}
		/* A length over any frame ends the connection: nothing more
		 * is read, and tx counts its frames as backend drops. */
		assert_int_equal(send(t.peer, "\x00\x10\x00\x00", 4, 0), 4);
		frame(f, 60, MAC, 3);
		assert_int_equal(send(t.peer, "\0\0\0\x3c", 4, 0), 4);
		assert_int_equal(send(t.peer, f, 60, 0), 60);
		assert_null(rx_wait(&t, 0, &len, 100));
		tx(&t, &h, f, 60);
		assert_int_equal(stats(&t, 0).tx_backend, 1);
		destroy(&t);
	}
}

/* A stream device on a socketpair whose device end sends into a small
 * buffer: the test holds the other end. */
static void make_stream(struct t *t, const struct mode *m, uint64_t refuse,
			int sndbuf, uint16_t qsize)
{
	int sv[2];
	struct vdev_net_config c = { .backend = VDEV_NET_STREAM,
				     .use_fd = true };

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv),
			 0);
	if (sndbuf)
		assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF,
					    &sndbuf, sizeof(sndbuf)),
				 0);
	c.fd = sv[0];
	t->peer = sv[1];
	memcpy(c.mac, MAC, 6);
	make_dev_q(t, m, refuse, vdev_net_new(&c), qsize);
}

/*
 * A guest that keeps its tx ring full, as Linux does under a bulk TCP
 * send, into a wire that is read slowly: the socket fills again and again,
 * so the frames after the first round go out from the POLLOUT callback,
 * not from kicks (with EVENT_IDX the driver kicks only when the device has
 * caught up, which it never does here). Every frame must arrive, in
 * order: more than one round's budget of them (256) included. A callback
 * that ran the budget out used to leave the rest in the ring for good:
 * nothing scheduled another round and no kick came (two UML guests on the
 * stream backend stalled that way under host load).
 */
static void tx_full_ring(const struct mode *m, uint64_t refuse)
{
	enum { N = 1000, FL = 1400, WIRE = 4 + FL };
	static uint8_t got[WIRE];
	struct t t;
	struct vdev_drv_mem *mem;
	struct vdev_drv_ring *r;
	struct vdev_net_hdr h = { 0 };
	unsigned added = 0, done = 0, arrived = 0;
	size_t have = 0;
	uint8_t f[FL];
	int idle = 0;

	make_stream(&t, m, refuse, 4096, 64);
	mem = vdev_drv_get_mem(t.drv);
	r = vdev_drv_ring(t.drv, 1);
	if (!(refuse & VDEV_BIT(VDEV_F_EVENT_IDX)))
		assert_true(vdev_has_feature(t.dev, VDEV_F_EVENT_IDX));
	while (arrived < N && idle < 3000) {
		bool moved = false;
		void *tok;
		uint32_t len;
		ssize_t n;

		/* Refill what completed, kick when the device asks. */
		while (added < N && vdev_drv_ring_inflight(r) < 64) {
			struct vdev_drv_seg seg = { .len = 12 + FL };
			uint8_t *buf = vdev_drv_mem_alloc(mem, seg.len, 16,
							  &seg.gpa);

			assert_non_null(buf);
			memcpy(buf, &h, 12);
			frame(buf + 12, FL, MAC, (uint8_t)added);
			if (vdev_drv_ring_add(r, &seg, 1, 0, buf, 0) < 0)
				break;
			added++;
		}
		assert_int_equal(vdev_drv_kick(t.drv, 1), 0);
		assert_true(vdev_drv_poll(t.drv, 0) >= 0);
		while (vdev_drv_ring_get_used(r, &tok, &len) == 0) {
			done++;
			moved = true;
		}
		/* The wire, slowly: a bit more than a frame at a time. */
		n = recv(t.peer, got + have, WIRE - have < 2000 ? WIRE - have :
								 2000,
			 MSG_DONTWAIT);
		if (n > 0) {
			have += (size_t)n;
			moved = true;
		}
		if (have == WIRE) {
			assert_int_equal(got[2] << 8 | got[3], FL);
			frame(f, FL, MAC, (uint8_t)arrived);
			assert_memory_equal(got + 4, f, FL);
			arrived++;
			have = 0;
		}
		if (moved) {
			idle = 0;
		} else {
			idle++;
			usleep(1000);
		}
	}
	assert_int_equal(arrived, N);
	assert_int_equal(stats(&t, 0).tx_packets, N);
	/* Every chain came back. */
	while (done < N) {
		void *tok;
		uint32_t len;

		assert_int_equal(vdev_drv_wait(t.drv, 1, 2000, &tok, &len), 0);
		done++;
	}
	destroy(&t);
}

static void test_stream_tx_full_ring(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		tx_full_ring(&modes[k], 0);
		tx_full_ring(&modes[k], VDEV_BIT(VDEV_F_EVENT_IDX));
	}
}

/*
 * A frame larger than the socket takes at once (a 60000-byte one into a
 * 4 KiB send buffer) is sent in part and completed to the guest; its rest
 * must follow when the socket drains, although no frame comes after it to
 * push it out.
 */
static void test_stream_tx_rest(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		enum { FL = 60000, WIRE = 4 + FL };
		static uint8_t f[FL], got[WIRE];
		struct vdev_net_hdr h = { 0 };
		size_t have = 0;
		struct t t;

		make_stream(&t, &modes[k], 0, 4096, 64);
		frame(f, FL, MAC, 5);
		tx(&t, &h, f, FL);
		for (int idle = 0; have < WIRE && idle < 2000;) {
			ssize_t n = recv(t.peer, got + have, WIRE - have,
					 MSG_DONTWAIT);

			assert_true(vdev_drv_poll(t.drv, 0) >= 0);
			if (n > 0) {
				have += (size_t)n;
				idle = 0;
			} else {
				idle++;
				usleep(1000);
			}
		}
		assert_int_equal(have, WIRE);
		assert_int_equal(got[1] << 16 | got[2] << 8 | got[3], FL);
		assert_memory_equal(got + 4, f, FL);
		destroy(&t);
	}
}

/*
 * A stream read takes many frames at once into the backend's buffer. A
 * receive callback stops after NET_ROUND_FRAMES (256) frames, runts that
 * filled no buffer included; the frames still in that buffer must arrive
 * although the socket has nothing more to wake the device with.
 */
static void test_stream_rx_buffered(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		enum { RUNTS = 120, GOOD = 200, FL = 60 };
		static uint8_t wire[(RUNTS + GOOD) * (4 + FL)];
		size_t off = 0;
		uint8_t f[FL];
		struct t t;

		make_stream(&t, &modes[k], 0, 0, 256);
		post_rx(&t, 0, GOOD, 1600);
		for (unsigned i = 0; i < RUNTS; i++) {
			memcpy(wire + off, "\0\0\0\x0a", 4);
			memset(wire + off + 4, 0xee, 10);
			off += 4 + 10;
		}
		for (unsigned i = 0; i < GOOD; i++) {
			memcpy(wire + off, "\0\0\0\x3c", 4);
			frame(wire + off + 4, FL, MAC, (uint8_t)i);
			off += 4 + FL;
		}
		/* The rounds the setup scheduled run first: the frames come
		 * in through the POLLIN callback, as on a live wire. */
		for (int i = 0; i < 5; i++)
			assert_true(vdev_drv_poll(t.drv, 0) >= 0);
		/* In one piece: one read takes it all. */
		assert_int_equal(send(t.peer, wire, off, 0), (ssize_t)off);
		for (unsigned i = 0; i < GOOD; i++) {
			uint32_t len;
			uint8_t *b = rx_wait(&t, 0, &len, 2000);

			assert_non_null(b);
			assert_int_equal(len, 12 + FL);
			frame(f, FL, MAC, (uint8_t)i);
			assert_memory_equal(b + 12, f, FL);
		}
		assert_int_equal(stats(&t, 0).rx_bad, RUNTS);
		destroy(&t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tx_basic),
		cmocka_unit_test(test_tx_bad_hdr),
		cmocka_unit_test(test_tx_flags_ignored),
		cmocka_unit_test(test_tx_csum),
		cmocka_unit_test(test_rx_single),
		cmocka_unit_test(test_rx_mergeable),
		cmocka_unit_test(test_rx_wait_for_buffers),
		cmocka_unit_test(test_ctrl_filter),
		cmocka_unit_test(test_no_ctrl),
		cmocka_unit_test(test_mq),
		cmocka_unit_test(test_lazy_pairs),
		cmocka_unit_test(test_sink_source),
		cmocka_unit_test(test_source_limit),
		cmocka_unit_test(test_notify_per_batch),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_stream_tx_full_ring),
		cmocka_unit_test(test_stream_tx_rest),
		cmocka_unit_test(test_stream_rx_buffered),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
