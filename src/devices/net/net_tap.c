/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The tap backend: /dev/net/tun in IFF_TAP mode, one tap queue per queue
 * pair (IFF_MULTI_QUEUE), with IFF_VNET_HDR so a frame crosses with its
 * virtio_net_hdr: the host kernel completes checksums and segments TSO
 * frames the guest sends, and hands the guest partially checksummed and
 * GSO frames as far as TUNSETOFFLOAD (set from the guest's features)
 * allows. Without IFF_VNET_HDR (an existing tap opened without it) the
 * device does that work itself and offers no TSO.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "net_internal.h"

struct tap {
	struct net_backend b;
	int fd[VDEV_NET_PAIRS_MAX];
	int txfd[VDEV_NET_PAIRS_MAX]; /* a dup: POLLOUT waits on tx's thread */
	bool mq;
};

static int tap_send(struct net_backend *b, unsigned pair,
		    const struct iovec *iov, unsigned cnt, size_t len)
{
	struct tap *t = (struct tap *)b;
	ssize_t n = writev(t->fd[pair], iov, (int)cnt);

	if (n < 0)
		return errno == EAGAIN ? -EAGAIN : -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static ssize_t tap_recv(struct net_backend *b, unsigned pair, void *buf,
			size_t cap)
{
	struct tap *t = (struct tap *)b;
	ssize_t n = read(t->fd[pair], buf, cap);

	if (n < 0)
		return errno == EINTR ? -EAGAIN : -errno;
	return n;
}

static int tap_rx_fd(struct net_backend *b, unsigned pair)
{
	return ((struct tap *)b)->fd[pair];
}

static int tap_tx_fd(struct net_backend *b, unsigned pair)
{
	return ((struct tap *)b)->txfd[pair];
}

static unsigned tun_flags(uint64_t guest)
{
	unsigned f = 0;

	if (guest & VDEV_BIT(VDEV_NET_F_GUEST_CSUM)) {
		f |= TUN_F_CSUM;
		if (guest & VDEV_BIT(VDEV_NET_F_GUEST_TSO4))
			f |= TUN_F_TSO4;
		if (guest & VDEV_BIT(VDEV_NET_F_GUEST_TSO6))
			f |= TUN_F_TSO6;
		if ((f & (TUN_F_TSO4 | TUN_F_TSO6)) &&
		    (guest & VDEV_BIT(VDEV_NET_F_GUEST_ECN)))
			f |= TUN_F_TSO_ECN;
	}
	return f;
}

static int tap_set_offload(struct net_backend *b, uint64_t guest)
{
	struct tap *t = (struct tap *)b;

	if (!b->vnet_hdr)
		return 0; /* nothing is offered that would need it */
	for (unsigned i = 0; i < b->pairs; i++)
		if (ioctl(t->fd[i], TUNSETOFFLOAD, tun_flags(guest)) < 0)
			return -errno;
	return 0;
}

static int tap_enable_pair(struct net_backend *b, unsigned pair, bool on)
{
	struct tap *t = (struct tap *)b;
	struct ifreq ifr = { 0 };

	if (!t->mq)
		return 0;
	ifr.ifr_flags = on ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
	/* EINVAL: already in that state. */
	if (ioctl(t->fd[pair], TUNSETQUEUE, &ifr) < 0 && errno != EINVAL)
		return -errno;
	return 0;
}

static void tap_free(struct net_backend *b)
{
	struct tap *t = (struct tap *)b;

	for (unsigned i = 0; i < b->pairs; i++) {
		if (t->fd[i] >= 0)
			close(t->fd[i]);
		if (t->txfd[i] >= 0)
			close(t->txfd[i]);
	}
	free(t);
}

static const struct net_backend_ops tap_ops = {
	.send = tap_send,
	.recv = tap_recv,
	.rx_fd = tap_rx_fd,
	.tx_fd = tap_tx_fd,
	.set_offload = tap_set_offload,
	.enable_pair = tap_enable_pair,
	.free = tap_free,
};

static int tap_open(struct tap *t, unsigned i, const char *name)
{
	struct ifreq ifr = { 0 };
	unsigned features = 0;
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	t->fd[i] = fd;
	if (ioctl(fd, TUNGETFEATURES, &features) < 0)
		features = 0;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (features & IFF_VNET_HDR)
		ifr.ifr_flags |= IFF_VNET_HDR;
	if (t->mq)
		ifr.ifr_flags |= IFF_MULTI_QUEUE;
	if (name)
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return -errno;
	t->b.vnet_hdr = ifr.ifr_flags & IFF_VNET_HDR;
	return 0;
}

/* A tap fd handed to us: what it was opened with decides. */
static int tap_adopt(struct tap *t, int fd)
{
	struct ifreq ifr = { 0 };

	t->fd[0] = fd;
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return errno == EBADFD ? -EINVAL : -errno;
	if (!(ifr.ifr_flags & IFF_TAP) || !(ifr.ifr_flags & IFF_NO_PI))
		return -EINVAL;
	t->b.vnet_hdr = ifr.ifr_flags & IFF_VNET_HDR;
	return fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ?
		       -errno : 0;
}

struct net_backend *net_tap_new(const struct vdev_net_config *cfg,
				unsigned pairs)
{
	struct tap *t = calloc(1, sizeof(*t));
	char name[IFNAMSIZ] = "";
	int err = 0;

	if (!t) {
		if (cfg->use_fd)
			close(cfg->fd);
		return NULL;
	}
	for (unsigned i = 0; i < VDEV_NET_PAIRS_MAX; i++)
		t->fd[i] = t->txfd[i] = -1;
	t->b.ops = &tap_ops;
	t->b.pairs = pairs;
	t->mq = pairs > 1;
	if (cfg->use_fd) {
		err = pairs == 1 ? tap_adopt(t, cfg->fd) : -EINVAL;
		if (err == -EINVAL && pairs != 1)
			close(cfg->fd);
	} else {
		if (cfg->tap_name)
			snprintf(name, sizeof(name), "%s", cfg->tap_name);
		for (unsigned i = 0; i < pairs && !err; i++) {
			struct ifreq ifr = { 0 };

			err = tap_open(t, i, name[0] ? name : NULL);
			/* Every queue after the first joins the
			 * interface the first one made. */
			if (!err && !name[0] &&
			    ioctl(t->fd[i], TUNGETIFF, &ifr) == 0)
				snprintf(name, sizeof(name), "%s",
					 ifr.ifr_name);
		}
	}
	if (!err && t->b.vnet_hdr) {
		int sz = NET_HDR_LEN;

		if (ioctl(t->fd[0], TUNSETVNETHDRSZ, &sz) < 0)
			err = -errno;
		for (unsigned i = 1; i < pairs && !err; i++)
			if (ioctl(t->fd[i], TUNSETVNETHDRSZ, &sz) < 0)
				err = -errno;
#if VDEV_HOST_BIG_ENDIAN
		for (unsigned i = 0; i < pairs && !err; i++) {
			int le = 1;

			if (ioctl(t->fd[i], TUNSETVNETLE, &le) < 0)
				err = -errno;
		}
#endif
	}
	if (!err && t->b.vnet_hdr) {
		/* The host segments and checksums what the guest sends
		 * whatever TUNSETOFFLOAD says; what the guest may receive
		 * needs the kernel's consent. */
		t->b.offloads = VDEV_BIT(VDEV_NET_F_HOST_TSO4) |
				VDEV_BIT(VDEV_NET_F_HOST_TSO6) |
				VDEV_BIT(VDEV_NET_F_HOST_ECN);
		if (ioctl(t->fd[0], TUNSETOFFLOAD,
			  TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 |
				  TUN_F_TSO_ECN) == 0)
			t->b.offloads |= VDEV_BIT(VDEV_NET_F_GUEST_TSO4) |
					 VDEV_BIT(VDEV_NET_F_GUEST_TSO6) |
					 VDEV_BIT(VDEV_NET_F_GUEST_ECN);
		for (unsigned i = 0; i < pairs; i++)
			ioctl(t->fd[i], TUNSETOFFLOAD, 0);
	}
	for (unsigned i = 0; i < pairs && !err; i++) {
		t->txfd[i] = fcntl(t->fd[i], F_DUPFD_CLOEXEC, 3);
		if (t->txfd[i] < 0)
			err = -errno;
	}
	/* Only the first queue carries traffic until the driver enables
	 * more. */
	for (unsigned i = 1; i < pairs && !err; i++)
		tap_enable_pair(&t->b, i, false);
	if (err) {
		tap_free(&t->b);
		errno = -err;
		return NULL;
	}
	return &t->b;
}
