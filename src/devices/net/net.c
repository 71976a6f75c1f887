/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-net (virtio 1.2 section 5.1): features, config space, lifecycle,
 * state and the embedder's calls. The data paths are in net_data.c, the
 * header rules in net_hdr.c, the control commands in net_ctrl.c.
 *
 * Queues: rx0, tx0, rx1, tx1, ..., then the control queue (index
 * 2 * max_pairs, or 2 when the driver did not negotiate MQ, 5.1.2).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <virtio/state.h>
#include "net_internal.h"
#include "core/sized.h"

#define NET_STATE_VERSION 1u
#define NET_TAG VDEV_STATE_TAG('N', 'E', 'T', '0')

static struct net *net_of(struct vdev *dev)
{
	const struct vdev_info *info = dev ? vdev_get_info(dev) : NULL;

	if (!info || info->device_id != VDEV_ID_NET || !info->name ||
	    strcmp(info->name, "net"))
		return NULL;
	return vdev_priv(dev);
}

static bool has(uint64_t f, unsigned bit)
{
	return f & VDEV_BIT(bit);
}

static unsigned ctrl_qidx(struct net *n, uint64_t features)
{
	return has(features, VDEV_NET_F_MQ) ? 2 * n->max_pairs : 2;
}

void net_status_update(struct net *n, uint16_t set, uint16_t clear)
{
	struct vdev_net_config_space *c = vdev_config(n->dev);
	uint16_t old, now;

	vdev_config_lock(n->dev);
	old = vdev_le16_to_cpu(c->status);
	now = (uint16_t)((old & ~clear) | set);
	c->status = vdev_cpu_to_le16(now);
	vdev_config_unlock(n->dev);
	if (now != old)
		vdev_config_changed(n->dev);
}

void net_pairs_apply(struct net *n, unsigned pairs)
{
	unsigned old;

	pthread_mutex_lock(&n->pairs_lock);
	old = __atomic_exchange_n(&n->curr_pairs, pairs, __ATOMIC_ACQ_REL);

	for (unsigned i = 0; i < n->max_pairs; i++) {
		bool was = i < old, is = i < pairs;

		if (was == is)
			continue;
		if (n->be->ops->enable_pair)
			n->be->ops->enable_pair(n->be, i, is);
		/* Its rx thread starts or stops watching the backend. */
		vdev_queue_schedule(n->dev, 2 * i);
	}
	pthread_mutex_unlock(&n->pairs_lock);
}

/* What follows from the features: filters, pairs, offloads. */
static void apply_features(struct net *n, uint64_t f)
{
	bool ctrl = has(f, VDEV_NET_F_CTRL_VQ);

	pthread_mutex_lock(&n->lock);
	n->filter.rx_on = ctrl && has(f, VDEV_NET_F_CTRL_RX);
	n->filter.vlan_on = ctrl && has(f, VDEV_NET_F_CTRL_VLAN);
	__atomic_store_n(&n->filter_gen, n->filter_gen + 1, __ATOMIC_RELEASE);
	n->guest_offloads = f & NET_GUEST_OFFLOADS;
	pthread_mutex_unlock(&n->lock);
	if (n->be->ops->set_offload)
		n->be->ops->set_offload(n->be, n->guest_offloads);
	/* With the control queue the driver enables pairs (one until
	 * VQ_PAIRS_SET); without it (a vhost-user frontend that keeps the
	 * control queue and enables the rings of the pairs in use) a pair
	 * joins when its rx ring first runs: a tap queue of a pair whose
	 * rings never run would take flows nobody reads. */
	n->lazy_pairs = !ctrl;
	net_pairs_apply(n, 1);
}

static int net_features_ok(struct vdev *dev, uint64_t f)
{
	vdev_log(VDEV_LOG_INFO, "net: features 0x%llx%s%s%s%s",
		 (unsigned long long)f,
		 has(f, VDEV_NET_F_CTRL_VQ) ? " ctrl_vq" : "",
		 has(f, VDEV_NET_F_MRG_RXBUF) ? " mrg_rxbuf" : "",
		 has(f, VDEV_NET_F_HOST_TSO4) ? " host_tso4" : "",
		 has(f, VDEV_NET_F_MQ) ? " mq" : "");
	apply_features(vdev_priv(dev), f);
	return 0;
}

static int net_config_write(struct vdev *dev, uint32_t offset,
			    const void *data, uint32_t len)
{
	const uint8_t *cfg = vdev_config(dev);

	/* Nothing is driver-writable with VERSION_1 (the MAC changes
	 * through CTRL_MAC_ADDR); a whole-config write of the same bytes is
	 * fine. */
	return memcmp(cfg + offset, data, len) ? -EPERM : 0;
}

static int net_start(struct vdev *dev)
{
	struct net *n = vdev_priv(dev);

	if (n->announce_pending) {
		n->announce_pending = false;
		if (vdev_has_feature(dev, VDEV_NET_F_GUEST_ANNOUNCE))
			net_status_update(n, VDEV_NET_S_ANNOUNCE, 0);
	}
	return 0;
}

static void net_handle(struct vdev *dev, unsigned qidx, struct vdev_queue *q)
{
	struct net *n = vdev_priv(dev);
	uint64_t f = vdev_features(dev);

	if (has(f, VDEV_NET_F_CTRL_VQ) && qidx == ctrl_qidx(n, f)) {
		net_ctrl_run(n, q);
		return;
	}
	if (qidx >= 2 * n->max_pairs)
		return;
	if (n->lazy_pairs && !(qidx & 1) &&
	    qidx / 2 >= __atomic_load_n(&n->curr_pairs, __ATOMIC_ACQUIRE))
		net_pairs_apply(n, qidx / 2 + 1);
	if (qidx & 1)
		net_tx_run(&n->pair[qidx / 2]);
	else
		net_rx_run(&n->pair[qidx / 2]);
}

static void net_reset(struct vdev *dev)
{
	struct net *n = vdev_priv(dev);
	struct vdev_net_config_space *c = vdev_config(dev);

	pthread_mutex_lock(&n->lock);
	net_filter_reset(&n->filter, n->cfg_mac);
	__atomic_store_n(&n->filter_gen, n->filter_gen + 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&n->lock);
	for (unsigned i = 0; i < n->max_pairs; i++) {
		struct net_pair *p = &n->pair[i];

		p->rx_pending = 0;
		if (p->tx_waiting) {
			vdev_watch_fd_events(dev, 2 * i + 1,
					     n->be->ops->tx_fd(n->be, i), 0);
			p->tx_waiting = false;
		}
	}
	vdev_config_lock(dev);
	memcpy(c->mac, n->cfg_mac, 6);
	c->status = vdev_cpu_to_le16(
		__atomic_load_n(&n->link_up, __ATOMIC_RELAXED) ?
			VDEV_NET_S_LINK_UP : 0);
	vdev_config_unlock(dev);
	n->announce_pending = false;
}

/*
 * State, version 1: mac[6], u8 flags (1 link up, 2 promisc, 4 allmulti,
 * 8 uni overflow, 16 multi overflow), u8 n_uni, u8 n_multi, u8 pad,
 * le16 curr_pairs, le16 pad, le64 guest offloads, the tables (n_uni then
 * n_multi entries of 6 bytes) and the VLAN bitmap (512 bytes, le32
 * words).
 */
#define NET_STATE_FIXED (6 + 4 + 4 + 8)
#define NET_STATE_MAX                                                       \
	(NET_STATE_FIXED + 2 * VDEV_NET_MAC_TABLE_MAX * 6 + 512)

static int net_save(struct vdev *dev, struct vdev_state_writer *w)
{
	struct net *n = vdev_priv(dev);
	uint8_t b[NET_STATE_MAX], *p = b;
	struct net_filter f;
	uint64_t off;
	unsigned pairs = __atomic_load_n(&n->curr_pairs, __ATOMIC_ACQUIRE);

	pthread_mutex_lock(&n->lock);
	f = n->filter;
	off = n->guest_offloads;
	pthread_mutex_unlock(&n->lock);
	memcpy(p, f.mac, 6);
	p += 6;
	*p++ = (uint8_t)(__atomic_load_n(&n->link_up, __ATOMIC_RELAXED) |
			 f.promisc << 1 | f.allmulti << 2 |
			 f.uni_overflow << 3 | f.multi_overflow << 4);
	*p++ = (uint8_t)f.n_uni;
	*p++ = (uint8_t)f.n_multi;
	*p++ = 0;
	*p++ = (uint8_t)pairs;
	*p++ = (uint8_t)(pairs >> 8);
	*p++ = 0;
	*p++ = 0;
	for (int i = 0; i < 8; i++)
		*p++ = (uint8_t)(off >> (8 * i));
	memcpy(p, f.uni, f.n_uni * 6u);
	p += f.n_uni * 6u;
	memcpy(p, f.multi, f.n_multi * 6u);
	p += f.n_multi * 6u;
	for (int i = 0; i < 128; i++)
		for (int j = 0; j < 4; j++)
			*p++ = (uint8_t)(f.vlans[i] >> (8 * j));
	return vdev_state_put(w, NET_TAG, b, (uint32_t)(p - b));
}

static int net_load(struct vdev *dev, struct vdev_state_reader *rd,
		    uint32_t version)
{
	struct net *n = vdev_priv(dev);
	uint64_t feat = vdev_features(dev);
	const uint8_t *b;
	struct net_filter f;
	uint32_t len;
	unsigned nu, nm, pairs;
	uint64_t off = 0;

	(void)version;
	b = vdev_state_get(rd, NET_TAG, &len);
	if (!b)
		return 0;
	if (len < NET_STATE_FIXED)
		return -EBADMSG;
	nu = b[7];
	nm = b[8];
	if (nu > VDEV_NET_MAC_TABLE_MAX || nm > VDEV_NET_MAC_TABLE_MAX ||
	    len != NET_STATE_FIXED + (nu + nm) * 6 + 512)
		return -EBADMSG;
	pairs = (unsigned)b[10] | (unsigned)b[11] << 8;
	for (int i = 0; i < 8; i++)
		off |= (uint64_t)b[14 + i] << (8 * i);
	if (pairs < 1 || pairs > n->max_pairs ||
	    (off & ~(feat & NET_GUEST_OFFLOADS)) ||
	    (b[0] & 1))
		return -EBADMSG;
	net_filter_reset(&f, b);
	f.promisc = b[6] & 2;
	f.allmulti = b[6] & 4;
	f.uni_overflow = b[6] & 8;
	f.multi_overflow = b[6] & 16;
	f.n_uni = nu;
	f.n_multi = nm;
	b += NET_STATE_FIXED;
	memcpy(f.uni, b, nu * 6u);
	b += nu * 6u;
	memcpy(f.multi, b, nm * 6u);
	b += nm * 6u;
	for (int i = 0; i < 128; i++)
		f.vlans[i] = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 |
			     (uint32_t)b[4 * i + 2] << 16 |
			     (uint32_t)b[4 * i + 3] << 24;
	apply_features(n, feat);
	pthread_mutex_lock(&n->lock);
	f.rx_on = n->filter.rx_on;
	f.vlan_on = n->filter.vlan_on;
	n->filter = f;
	__atomic_store_n(&n->filter_gen, n->filter_gen + 1, __ATOMIC_RELEASE);
	n->guest_offloads = off;
	pthread_mutex_unlock(&n->lock);
	if (n->be->ops->set_offload)
		n->be->ops->set_offload(n->be, off);
	/* The link is the host's now, not the saved one's: keep ours. */
	{
		struct vdev_net_config_space *c = vdev_config(dev);

		vdev_config_lock(dev);
		memcpy(c->mac, f.mac, 6);
		vdev_config_unlock(dev);
	}
	if (has(feat, VDEV_NET_F_MQ) && has(feat, VDEV_NET_F_CTRL_VQ))
		net_pairs_apply(n, pairs);
	/* The guest moved: it tells the network where it is now. */
	n->announce_pending = true;
	return 0;
}

static void net_destroy(struct vdev *dev)
{
	struct net *n = vdev_priv(dev);

	for (unsigned i = 0; i < n->max_pairs; i++) {
		struct net_pair *p = &n->pair[i];
		int fd = n->be->ops->rx_fd(n->be, i);

		if (fd >= 0)
			vdev_unwatch_fd(dev, 2 * i, fd);
		fd = n->be->ops->tx_fd(n->be, i);
		if (fd >= 0)
			vdev_unwatch_fd(dev, 2 * i + 1, fd);
		free(p->rxbuf);
		free(p->txbuf);
		free(p->rx_iov);
	}
	if (n->be->ops->aux_fd && n->be->ops->aux_fd(n->be) >= 0)
		vdev_unwatch_fd(dev, 0, n->be->ops->aux_fd(n->be));
	n->be->ops->free(n->be);
	pthread_mutex_destroy(&n->lock);
	pthread_mutex_destroy(&n->pairs_lock);
	free(n->ctrl_buf);
	free(n);
}

static const struct vdev_ops net_ops = {
	.features_ok = net_features_ok,
	.config_write = net_config_write,
	.start = net_start,
	.reset = net_reset,
	.handle = net_handle,
	.save = net_save,
	.load = net_load,
	.destroy = net_destroy,
};

static void random_mac(uint8_t mac[6])
{
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, mac, 6) != 6) {
		/* No randomness: a fixed address, still locally
		 * administered. */
		static const uint8_t fixed[6] = { 0x52, 0x54, 0, 0x12, 0x34,
						  0x56 };
		memcpy(mac, fixed, 6);
	}
	if (fd >= 0)
		close(fd);
	mac[0] = (uint8_t)((mac[0] & 0xfe) | 0x02);
}

static uint64_t offered(const struct vdev_net_config *cfg,
			const struct net_backend *be, unsigned pairs)
{
	uint64_t f = VDEV_BIT(VDEV_NET_F_MAC) | VDEV_BIT(VDEV_NET_F_STATUS);
	uint64_t tso = VDEV_BIT(VDEV_NET_F_HOST_TSO4) |
		       VDEV_BIT(VDEV_NET_F_HOST_TSO6) |
		       VDEV_BIT(VDEV_NET_F_HOST_ECN) |
		       VDEV_BIT(VDEV_NET_F_GUEST_TSO4) |
		       VDEV_BIT(VDEV_NET_F_GUEST_TSO6) |
		       VDEV_BIT(VDEV_NET_F_GUEST_ECN);

	if (!(cfg->no & VDEV_NET_NO_MRG))
		f |= VDEV_BIT(VDEV_NET_F_MRG_RXBUF);
	if (cfg->mtu)
		f |= VDEV_BIT(VDEV_NET_F_MTU);
	if (!(cfg->no & VDEV_NET_NO_CSUM)) {
		/* The device completes checksums a backend cannot take. */
		f |= VDEV_BIT(VDEV_NET_F_CSUM) | VDEV_BIT(VDEV_NET_F_GUEST_CSUM);
		if (!(cfg->no & VDEV_NET_NO_TSO))
			f |= be->offloads & tso;
	}
	if (!(cfg->no & VDEV_NET_NO_CTRL)) {
		f |= VDEV_BIT(VDEV_NET_F_CTRL_VQ) |
		     VDEV_BIT(VDEV_NET_F_CTRL_RX) |
		     VDEV_BIT(VDEV_NET_F_CTRL_VLAN) |
		     VDEV_BIT(VDEV_NET_F_CTRL_MAC_ADDR) |
		     VDEV_BIT(VDEV_NET_F_GUEST_ANNOUNCE);
		if (pairs > 1)
			f |= VDEV_BIT(VDEV_NET_F_MQ);
		if (be->ops->set_offload && (f & NET_GUEST_OFFLOADS))
			f |= VDEV_BIT(VDEV_NET_F_CTRL_GUEST_OFFLOADS);
	}
	return f;
}

static int setup_pairs(struct net *n)
{
	struct net_backend *be = n->be;
	size_t hl = be->vnet_hdr ? NET_HDR_LEN : 0;

	n->ctrl_buf = malloc(NET_CTRL_MAX);
	if (!n->ctrl_buf)
		return -ENOMEM;
	for (unsigned i = 0; i < n->max_pairs; i++) {
		struct net_pair *p = &n->pair[i];
		int fd, err;

		p->n = n;
		p->idx = i;
		p->rxbuf = malloc(hl + NET_FRAME_MAX);
		p->txbuf = malloc(NET_FRAME_MAX);
		p->rx_iov = calloc(NET_RX_IOV_POOL, sizeof(*p->rx_iov));
		if (!p->rxbuf || !p->txbuf || !p->rx_iov)
			return -ENOMEM;
		p->filt_gen = ~0u;
		fd = be->ops->rx_fd(be, i);
		if (fd >= 0) {
			/* Not read until the driver gives buffers. */
			err = vdev_watch_fd(n->dev, 2 * i, fd, 0, net_rx_event,
					    p);
			if (err < 0)
				return err;
		}
		fd = be->ops->tx_fd(be, i);
		if (fd >= 0) {
			err = vdev_watch_fd(n->dev, 2 * i + 1, fd, 0,
					    net_tx_event, p);
			if (err < 0)
				return err;
		}
	}
	if (be->ops->aux_fd && be->ops->aux_fd(be) >= 0)
		return vdev_watch_fd(n->dev, 0, be->ops->aux_fd(be), POLLIN,
				     net_aux_event, n);
	return 0;
}

static struct vdev *net_new_cfg(const struct vdev_net_config *cfg)
{
	struct vdev_info info = {
		.name = "net",
		.device_id = VDEV_ID_NET,
		.config_size = sizeof(struct vdev_net_config_space),
		.state_version = NET_STATE_VERSION,
	};
	unsigned pairs = cfg && cfg->queue_pairs ? cfg->queue_pairs : 1;
	struct vdev_net_config_space *c;
	struct net_backend *be = NULL;
	struct net *n;
	int err;

	if (!cfg || pairs > VDEV_NET_PAIRS_MAX ||
	    (cfg->backend == VDEV_NET_SINK && cfg->source_len &&
	     (cfg->source_len < NET_ETH_HLEN ||
	      cfg->source_len > NET_FRAME_MAX))) {
		if (cfg && cfg->use_fd)
			close(cfg->fd);
		errno = EINVAL;
		return NULL;
	}
	switch (cfg->backend) {
	case VDEV_NET_SINK:
		be = net_sink_new(cfg, pairs);
		break;
	case VDEV_NET_TAP:
		be = net_tap_new(cfg, pairs);
		break;
	case VDEV_NET_STREAM:
	case VDEV_NET_DGRAM:
		if (pairs != 1) {
			if (cfg->use_fd)
				close(cfg->fd);
			errno = EINVAL;
			return NULL;
		}
		be = net_sock_new(cfg);
		break;
	default:
		if (cfg->use_fd)
			close(cfg->fd);
		errno = EINVAL;
		return NULL;
	}
	if (!be)
		return NULL;
	n = calloc(1, sizeof(*n));
	if (!n) {
		be->ops->free(be);
		errno = ENOMEM;
		return NULL;
	}
	n->be = be;
	n->max_pairs = pairs;
	n->mtu = cfg->mtu;
	n->link_up = !cfg->link_down;
	pthread_mutex_init(&n->lock, NULL);
	pthread_mutex_init(&n->pairs_lock, NULL);
	memcpy(n->cfg_mac, cfg->mac, 6);
	if (!memcmp(n->cfg_mac, "\0\0\0\0\0\0", 6))
		random_mac(n->cfg_mac);
	net_filter_reset(&n->filter, n->cfg_mac);
	info.features = offered(cfg, be, pairs);
	info.num_queues = 2 * pairs +
			  (info.features & VDEV_BIT(VDEV_NET_F_CTRL_VQ) ? 1 : 0);
	info.max_queue_size = cfg->queue_size ? cfg->queue_size : 1024;
	n->dev = vdev_new(&info, &net_ops, n);
	if (!n->dev) {
		err = errno;
		be->ops->free(be);
		pthread_mutex_destroy(&n->lock);
		pthread_mutex_destroy(&n->pairs_lock);
		free(n);
		errno = err;
		return NULL;
	}
	c = vdev_config(n->dev);
	memcpy(c->mac, n->cfg_mac, 6);
	c->status = vdev_cpu_to_le16(n->link_up ? VDEV_NET_S_LINK_UP : 0);
	c->max_virtqueue_pairs = vdev_cpu_to_le16((uint16_t)pairs);
	c->mtu = vdev_cpu_to_le16(cfg->mtu);
	err = setup_pairs(n);
	if (err < 0) {
		vdev_free(n->dev); /* destroy frees the rest */
		errno = -err;
		return NULL;
	}
	return n->dev;
}

static int get_stats(struct vdev *dev, unsigned pair,
		     struct vdev_net_stats *st)
{
	struct net *n = net_of(dev);
	uint64_t *out = (uint64_t *)st;

	if (!n || pair >= n->max_pairs || !st)
		return -EINVAL;
	_Static_assert(sizeof(*st) == sizeof(struct net_stats_raw),
		       "stats layout");
	for (unsigned i = 0; i < 10; i++)
		out[i] = __atomic_load_n(&n->pair[pair].st.v[i],
					 __ATOMIC_RELAXED);
	return 0;
}

int vdev_net_get_mac(struct vdev *dev, uint8_t mac[6])
{
	struct net *n = net_of(dev);

	if (!n)
		return -EINVAL;
	return vdev_config_get(dev, 0, mac, 6);
}

int vdev_net_set_link(struct vdev *dev, bool up)
{
	struct net *n = net_of(dev);

	if (!n)
		return -EINVAL;
	__atomic_store_n(&n->link_up, up, __ATOMIC_RELAXED);
	if (up)
		net_status_update(n, VDEV_NET_S_LINK_UP, 0);
	else
		net_status_update(n, 0, VDEV_NET_S_LINK_UP);
	return 0;
}

int vdev_net_set_source_limit(struct vdev *dev, uint64_t frames)
{
	struct net *n = net_of(dev);

	int ret;

	if (!n)
		return -EINVAL;
	ret = net_sink_set_limit(n->be, frames);
	/* A source that ran dry waits for nobody: wake its pairs. */
	for (unsigned i = 0; ret == 0 && i < n->max_pairs; i++)
		vdev_queue_schedule(dev, 2 * i);
	return ret;
}

int vdev_net_announce(struct vdev *dev)
{
	struct net *n = net_of(dev);

	if (!n)
		return -EINVAL;
	if (!vdev_has_feature(dev, VDEV_NET_F_GUEST_ANNOUNCE) ||
	    !vdev_has_feature(dev, VDEV_NET_F_CTRL_VQ))
		return -ENOTSUP;
	net_status_update(n, VDEV_NET_S_ANNOUNCE, 0);
	return 0;
}

int vdev_net_get_rx_mode(struct vdev *dev, unsigned *pairs, bool *promisc,
			 bool *allmulti)
{
	struct net *n = net_of(dev);

	if (!n)
		return -EINVAL;
	pthread_mutex_lock(&n->lock);
	if (pairs)
		*pairs = __atomic_load_n(&n->curr_pairs, __ATOMIC_ACQUIRE);
	if (promisc)
		*promisc = n->filter.promisc;
	if (allmulti)
		*allmulti = n->filter.allmulti;
	pthread_mutex_unlock(&n->lock);
	return 0;
}

void vdev_net_print_stats(struct vdev *dev, int fd)
{
	struct net *n = net_of(dev);

	if (!n)
		return;
	for (unsigned i = 0; i < n->max_pairs; i++) {
		struct vdev_net_stats s;

		get_stats(dev, i, &s);
		dprintf(fd,
			"pair %u: rx %llu pkts %llu bytes, drop filtered %llu "
			"no-buffer %llu bad %llu; tx %llu pkts %llu bytes, "
			"drop bad-hdr %llu bad-len %llu backend %llu\n",
			i, (unsigned long long)s.rx_packets,
			(unsigned long long)s.rx_bytes,
			(unsigned long long)s.rx_filtered,
			(unsigned long long)s.rx_no_buffer,
			(unsigned long long)s.rx_bad,
			(unsigned long long)s.tx_packets,
			(unsigned long long)s.tx_bytes,
			(unsigned long long)s.tx_bad_hdr,
			(unsigned long long)s.tx_bad_len,
			(unsigned long long)s.tx_backend);
	}
}

/* The caller's config at the size it was compiled with (api.h). */
struct vdev *(vdev_net_new)(const struct vdev_net_config *cfg, size_t size)
{
	struct vdev_net_config c;
	struct vdev *dev;
	int e;

	if (cfg && !VSIZED_IN(c, cfg, size))
		return NULL;
	dev = net_new_cfg(cfg ? &c : NULL);
	e = errno;
	errno = e;
	return dev;
}

/* Into the caller's struct at the size it was compiled with (api.h). */
int (vdev_net_get_stats)(struct vdev *dev, unsigned pair,
			struct vdev_net_stats *st, size_t size)
{
	struct vdev_net_stats s;
	int r;

	if (!st || !size)
		return -EINVAL;
	r = get_stats(dev, pair, &s);
	if (!r)
		vsized_out(st, size, &s, sizeof(s));
	return r;
}
