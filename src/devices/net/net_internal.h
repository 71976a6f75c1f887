/* SPDX-License-Identifier: BSD-3-Clause */
/* virtio-net internals shared by the model, its parsers and backends. */
#ifndef NET_INTERNAL_H
#define NET_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <virtio/net.h>

#define NET_HDR_LEN 12u
#define NET_ETH_HLEN 14u
/* Largest frame either way: a 64 KiB GSO frame plus Ethernet and VLAN
 * headers (what tap and QEMU's stream framing carry at most). */
#define NET_FRAME_MAX (65535u + NET_ETH_HLEN + 4u)
#define NET_IOV_MAX 260 /* a 64 KiB frame in 4 KiB pages, and the header */

/* ---- backends ---------------------------------------------------------- */

struct net_backend;

struct net_backend_ops {
	/*
	 * Sends one frame of @len bytes in @iov; with @b->vnet_hdr the first
	 * NET_HDR_LEN bytes are the (validated) header. 0: sent or taken;
	 * -EAGAIN: full, wait for POLLOUT on net_backend_fd(); another
	 * negative errno: dropped (counted by the caller).
	 */
	int (*send)(struct net_backend *b, unsigned pair,
		    const struct iovec *iov, unsigned cnt, size_t len);
	/*
	 * Receives one frame into @buf (with @b->vnet_hdr: header first).
	 * Its length; -EAGAIN: nothing now; another negative errno: the
	 * backend broke (it stops being watched until it recovers).
	 */
	ssize_t (*recv)(struct net_backend *b, unsigned pair, void *buf,
			size_t cap);
	/* The fd rx of @pair waits on (POLLIN), -1: none (sink). */
	int (*rx_fd)(struct net_backend *b, unsigned pair);
	/* The fd tx of @pair waits on for POLLOUT after -EAGAIN. */
	int (*tx_fd)(struct net_backend *b, unsigned pair);
	/*
	 * Sends what send() kept of a frame it took but sent in part (a
	 * stream). 0: nothing kept any more; -EAGAIN: some still kept, wait
	 * for POLLOUT on tx_fd; another negative errno: the backend broke
	 * (what it kept is lost with it). May be NULL: send() keeps nothing.
	 */
	int (*flush)(struct net_backend *b, unsigned pair);
	/* An fd with POLLIN work of the backend's own (a listening socket
	 * to accept from), watched on pair 0's rx thread; -1: none. */
	int (*aux_fd)(struct net_backend *b);
	/* POLLIN on aux_fd (pair 0's rx thread). 1: a new connection
	 * replaced the old one, whose rx and tx fds are in @old (-1: none):
	 * the device stops watching them and closes them. */
	int (*aux_event)(struct net_backend *b, int old[2]);
	/* Guest offloads (VDEV_NET_F_GUEST_* bits) to deliver. May be NULL. */
	int (*set_offload)(struct net_backend *b, uint64_t guest_features);
	/* Pair @pair in use or not (tap: attach/detach its queue). May be
	 * NULL. */
	int (*enable_pair)(struct net_backend *b, unsigned pair, bool on);
	void (*free)(struct net_backend *b);
};

struct net_backend {
	const struct net_backend_ops *ops;
	unsigned pairs;
	bool vnet_hdr;      /* frames carry a 12-byte virtio_net_hdr */
	uint64_t offloads;  /* VDEV_NET_F_* offload bits it can honour */
	/* A generating backend (sink) fills rx buffers itself. */
	uint32_t source_len;
};

struct net_backend *net_tap_new(const struct vdev_net_config *cfg,
				unsigned pairs);
struct net_backend *net_sock_new(const struct vdev_net_config *cfg);
struct net_backend *net_sink_new(const struct vdev_net_config *cfg,
				 unsigned pairs);
/* The sink's source: @frames more in all, 0 unlimited; -ENOTSUP: @b is
 * not the sink. */
int net_sink_set_limit(struct net_backend *b, uint64_t frames);
/* A generated frame of @len bytes to @mac, numbered @seq. */
void net_sink_frame(uint8_t *buf, size_t len, const uint8_t mac[6],
		    uint64_t seq);

/* ---- header validation (net_hdr.c) ------------------------------------- */

enum net_hdr_verdict {
	NET_HDR_OK,
	NET_HDR_BAD,  /* flags/gso/csum fields: tx_bad_hdr */
	NET_HDR_BADLEN, /* frame length: tx_bad_len */
};

/*
 * Checks a transmitted frame's header @h (a private copy) against the
 * negotiated @features and the frame length @len (bytes after the
 * header) and @mtu (0: none).
 */
enum net_hdr_verdict net_hdr_check_tx(const struct vdev_net_hdr *h,
				      uint64_t features, size_t len,
				      uint16_t mtu);
/* The same for a frame from a vnet-header backend going to the guest:
 * @h is fixed up where the guest lacks a feature (a partial checksum is
 * completed in @frame); false: drop it. */
bool net_hdr_fix_rx(struct vdev_net_hdr *h, uint64_t features,
		    uint8_t *frame, size_t len);
/* Completes a partial checksum (NEEDS_CSUM) in @frame. false: the
 * offsets do not fit. */
bool net_csum_complete(uint8_t *frame, size_t len, unsigned start,
		       unsigned offset);

/* ---- filter and control (net_ctrl.c) ----------------------------------- */

struct net_filter {
	bool promisc, allmulti;
	bool uni_overflow, multi_overflow;
	bool vlan_on;  /* CTRL_VLAN negotiated: the bitmap applies */
	bool rx_on;    /* CTRL_RX negotiated: the MAC filter applies */
	uint8_t mac[6];
	unsigned n_uni, n_multi;
	uint8_t uni[VDEV_NET_MAC_TABLE_MAX][6];
	uint8_t multi[VDEV_NET_MAC_TABLE_MAX][6];
	uint32_t vlans[4096 / 32];
};

void net_filter_reset(struct net_filter *f, const uint8_t mac[6]);
/* True when @frame (@len bytes, Ethernet) passes @f. */
bool net_filter_pass(const struct net_filter *f, const uint8_t *frame,
		     size_t len);

/* What a control command changes beyond the filter. */
struct net_ctrl_effect {
	bool mac_changed;
	bool announce_ack;
	unsigned pairs;           /* 0: unchanged */
	bool offloads_set;
	uint64_t offloads;
};

/*
 * Applies one command (@cmd, @len bytes: class, command, data) to @f.
 * @features: negotiated; @max_pairs: the device's. Returns the ack
 * (VDEV_NET_OK or VDEV_NET_ERR); *eff says what else changed.
 */
uint8_t net_ctrl_apply(struct net_filter *f, const uint8_t *cmd, size_t len,
		       uint64_t features, unsigned max_pairs,
		       struct net_ctrl_effect *eff);

/* Offload bits GUEST_OFFLOADS may set. */
#define NET_GUEST_OFFLOADS                                                  \
	(VDEV_BIT(VDEV_NET_F_GUEST_CSUM) | VDEV_BIT(VDEV_NET_F_GUEST_TSO4) | \
	 VDEV_BIT(VDEV_NET_F_GUEST_TSO6) | VDEV_BIT(VDEV_NET_F_GUEST_ECN) |  \
	 VDEV_BIT(VDEV_NET_F_GUEST_UFO))

#endif /* NET_INTERNAL_H */

/* ---- the device (net.c, net_data.c) ------------------------------------ */

#define NET_RX_CHAINS_MAX 256   /* buffers one received frame may fill */
#define NET_RX_IOV_POOL   4096
#define NET_ROUND_FRAMES  256   /* frames per rx round before yielding */
#define NET_RX_BATCH      32    /* frames filled before one push */
/* tx pops up to this many chains, then completes them with one push and
 * at most one notification; each pop has a whole frame's iovecs free. */
#define NET_TX_BATCH      32
#define NET_TX_IOV_POOL   (2 * NET_IOV_MAX)
#define NET_CTRL_MAX      (2 + 8 + 2 * 6 * 1024) /* longest command read */

struct net_stats_raw {
	uint64_t v[10]; /* in the order of struct vdev_net_stats */
};
enum {
	ST_RX_PACKETS, ST_RX_BYTES, ST_RX_FILTERED, ST_RX_NO_BUFFER,
	ST_RX_BAD, ST_TX_PACKETS, ST_TX_BYTES, ST_TX_BAD_HDR, ST_TX_BAD_LEN,
	ST_TX_BACKEND,
};

struct net;

struct net_pair {
	struct net *n;
	unsigned idx;
	/* rx side: only queue 2i's thread (and reset) touches these */
	uint8_t *rxbuf;          /* vnet header (when the backend has one)
				    then the frame */
	ssize_t rx_pending;      /* bytes in rxbuf not delivered yet; 0 none */
	uint32_t rx_events;      /* what rx_fd is watched for now */
	struct net_filter filt;  /* private copy of n->filter */
	uint32_t filt_gen;
	struct vdev_req reqs[NET_RX_CHAINS_MAX];
	struct iovec *rx_iov;    /* NET_RX_IOV_POOL entries */
	/* Chains filled and not pushed yet: reqs[0..rx_nreq), using
	 * rx_iov[0..rx_niov); pushed together (net_data.c rx_flush). */
	unsigned rx_nreq, rx_niov, rx_nframes;
	struct vdev_req *rx_batch[NET_RX_CHAINS_MAX];
	uint32_t rx_written[NET_RX_CHAINS_MAX];
	/* tx side: only queue 2i+1's thread */
	uint8_t *txbuf;
	bool tx_waiting;         /* backend full: waiting for POLLOUT */
	struct vdev_req txr[NET_TX_BATCH];   /* popped, pushed together */
	struct vdev_req *txp[NET_TX_BATCH];
	struct iovec tx_iov[NET_TX_IOV_POOL];
	struct iovec tx_send[NET_IOV_MAX + 1];
	struct net_stats_raw st;
};

struct net {
	struct vdev *dev;
	struct net_backend *be;
	unsigned max_pairs;
	uint16_t mtu;
	uint8_t cfg_mac[6];      /* the configured MAC (reset restores it) */
	pthread_mutex_t lock;    /* filter, filter_gen, curr_pairs */
	struct net_filter filter;
	uint32_t filter_gen;     /* atomic: bumped on every filter change */
	unsigned curr_pairs;     /* atomic: pairs carrying traffic */
	pthread_mutex_t pairs_lock; /* serialises net_pairs_apply */
	/* No control queue (a vhost-user frontend keeps it): a pair starts
	 * carrying traffic when its rx ring first runs. */
	bool lazy_pairs;
	uint64_t guest_offloads;
	bool link_up;            /* atomic */
	bool announce_pending;   /* restored: announce at start */
	uint8_t *ctrl_buf;
	struct net_pair pair[VDEV_NET_PAIRS_MAX];
};

static inline void net_stat_add(struct net_pair *p, unsigned i, uint64_t v)
{
	/* One writer per counter (the queue's thread): a plain add made
	 * visible to readers on other threads without a locked RMW. */
	__atomic_store_n(&p->st.v[i], p->st.v[i] + v, __ATOMIC_RELAXED);
}

/* net_data.c */
bool net_rx_run(struct net_pair *p);
void net_tx_run(struct net_pair *p);
void net_ctrl_run(struct net *n, struct vdev_queue *q);
void net_rx_event(void *arg, int fd, uint32_t events);
void net_tx_event(void *arg, int fd, uint32_t events);
void net_aux_event(void *arg, int fd, uint32_t events);
/* Watches pair @p's rx fd for @events (0: pauses it). */
void net_rx_watch(struct net_pair *p, uint32_t events);
/* net.c: sets the status bits @set and clears @clear, with a config
 * interrupt when they changed. */
void net_status_update(struct net *n, uint16_t set, uint16_t clear);
void net_pairs_apply(struct net *n, unsigned pairs);
