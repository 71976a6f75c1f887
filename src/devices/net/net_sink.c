/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The sink/source backend, for benchmarks and tests: whatever the guest
 * sends is dropped (after the device validated it), and every receive
 * buffer the guest offers gets a generated frame of source_len bytes
 * (broadcast, so any filter lets it through; ethertype 0x88b5, the IEEE
 * "local experimental" one; a sequence number, then a byte pattern).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "net_internal.h"

struct sink {
	struct net_backend b;
	uint64_t seq[VDEV_NET_PAIRS_MAX];
	/* Atomic, shared by the pairs' rx threads: frames still to make
	 * when limited (a fixed-length run), else UINT64_MAX. */
	uint64_t left;
};

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

void net_sink_frame(uint8_t *buf, size_t len, const uint8_t mac[6],
		    uint64_t seq)
{
	static const uint8_t src[6] = { 0x02, 0, 0, 0, 0, 0x01 };

	memcpy(buf, mac, 6);
	memcpy(buf + 6, src, 6);
	buf[12] = 0x88;
	buf[13] = 0xb5;
	for (size_t i = 14; i < len; i++)
		buf[i] = i < 22 ? (uint8_t)(seq >> (8 * (i - 14))) :
				  (uint8_t)i;
}

static int sink_send(struct net_backend *b, unsigned pair,
		     const struct iovec *iov, unsigned cnt, size_t len)
{
	(void)b;
	(void)pair;
	(void)iov;
	(void)cnt;
	(void)len;
	return 0;
}

/* One more frame allowed? Never drops below zero, whichever pair asks. */
static bool take_one(struct sink *s)
{
	uint64_t left = __atomic_load_n(&s->left, __ATOMIC_RELAXED);

	while (left != UINT64_MAX) {
		if (!left)
			return false;
		if (__atomic_compare_exchange_n(&s->left, &left, left - 1,
						true, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			return true;
	}
	return true;
}

static ssize_t sink_recv(struct net_backend *b, unsigned pair, void *buf,
			 size_t cap)
{
	struct sink *s = (struct sink *)b;
	uint8_t *p = buf;

	if (!b->source_len || cap < b->source_len)
		return -EAGAIN;
	if (!take_one(s))
		return -EAGAIN;
	/* The template is written once; only the sequence number moves. */
	if (s->seq[pair] == 0 || p[12] != 0x88)
		net_sink_frame(p, b->source_len, bcast, s->seq[pair]);
	else if (b->source_len >= 22) {
		/* Little-endian, as net_sink_frame writes it. */
		vdev_le64 le = vdev_cpu_to_le64(s->seq[pair]);

		memcpy(p + 14, &le, 8);
	} else {
		for (int i = 0; 14 + i < (int)b->source_len; i++)
			p[14 + i] = (uint8_t)(s->seq[pair] >> (8 * i));
	}
	s->seq[pair]++;
	return b->source_len;
}

static int sink_no_fd(struct net_backend *b, unsigned pair)
{
	(void)b;
	(void)pair;
	return -1;
}

static void sink_free(struct net_backend *b)
{
	free(b);
}

static const struct net_backend_ops sink_ops = {
	.send = sink_send,
	.recv = sink_recv,
	.rx_fd = sink_no_fd,
	.tx_fd = sink_no_fd,
	.free = sink_free,
};

int net_sink_set_limit(struct net_backend *b, uint64_t frames)
{
	if (b->ops != &sink_ops)
		return -ENOTSUP;
	__atomic_store_n(&((struct sink *)b)->left,
			 frames ? frames : UINT64_MAX, __ATOMIC_RELAXED);
	return 0;
}

struct net_backend *net_sink_new(const struct vdev_net_config *cfg,
				 unsigned pairs)
{
	struct sink *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->b.ops = &sink_ops;
	s->b.pairs = pairs;
	s->b.source_len = cfg->source_len;
	s->left = UINT64_MAX;
	return &s->b;
}
