/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-vsock internals: the packet parser (pkt.c, fuzzed), the device and
 * its connection table (vsock.c), the host sockets (host.c) and the
 * registry of sibling devices (sibling.c).
 *
 * Locking: one mutex per device (struct vsock.mu) guards everything below
 * it; queue handlers and fd callbacks take it inside the core's queue lock.
 * With it held the device calls only vdev_watch_fd*, vdev_unwatch_fd and
 * vdev_queue_schedule, which take no queue lock. The sibling inbox has its
 * own leaf lock, so a device hands a connection to a sibling without
 * holding two device locks.
 */
#ifndef VDEV_VSOCK_INTERNAL_H
#define VDEV_VSOCK_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <virtio/vsock.h>

#define VSOCK_HDR_LEN 44u
/* Largest payload of one packet either way (Linux's
 * VIRTIO_VSOCK_MAX_PKT_BUF_SIZE). */
#define VSOCK_PKT_MAX (64u * 1024)
#define VSOCK_RXQ 0u
#define VSOCK_TXQ 1u
#define VSOCK_EVQ 2u

/* ---- pkt.c: the wire format, no state ---------------------------------- */

struct vsock_pkt {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
};

/*
 * Decodes the 44 bytes at @hdr and checks them against @payload (the bytes
 * the chain holds after the header): 0, or -EINVAL for an unknown op or
 * type (the caller answers RST), -EMSGSIZE for a length the chain does not
 * hold or over VSOCK_PKT_MAX, or a payload on an op that takes none (the
 * packet is dropped).
 */
int vsock_pkt_parse(const void *hdr, size_t payload, struct vsock_pkt *p);
void vsock_pkt_encode(const struct vsock_pkt *p, struct vdev_vsock_hdr *h);

/* What the peer still accepts: buf_alloc - (tx_cnt - fwd_cnt), counted
 * modulo 2^32 as the counters wrap; 0 when the peer's numbers say more is
 * in flight than it has room for. */
uint32_t vsock_credit(uint32_t buf_alloc, uint32_t tx_cnt, uint32_t fwd_cnt);

/* Local ports handed to host-initiated connections: [MIN, MAX], wrapping. */
#define VSOCK_PORT_MIN 1024u
#define VSOCK_PORT_MAX 0xfffffffeu /* 0xffffffff is VMADDR_PORT_ANY */
/*
 * The next port from *next that @in_use does not claim, trying at most
 * @tries ports; *next moves past it. false when all tried were in use.
 */
bool vsock_port_alloc(uint32_t *next, bool (*in_use)(void *, uint32_t),
		      void *arg, unsigned tries, uint32_t *port);

/* ---- the device -------------------------------------------------------- */

enum vsock_cstate {
	C_HANDSHAKE,   /* host client: reading "CONNECT <port>\n" */
	C_REQUESTED,   /* REQUEST owed or sent to the guest */
	C_SIB_WAIT,    /* guest REQUEST to a sibling: waiting for "OK" */
	C_ESTABLISHED,
};

/* Control packets owed to the guest. */
#define P_REQUEST  0x1u
#define P_RESPONSE 0x2u
#define P_SHUTDOWN 0x4u
#define P_CREDIT   0x8u

#define VSOCK_LINE_MAX 32u
#define VSOCK_MSGS_MAX 1024u /* unread SEQPACKET messages per connection */

struct conn {
	struct conn *hnext;          /* by key */
	struct conn *fnext;          /* by fd */
	struct conn *prev, *next;    /* every connection */
	struct conn *rprev, *rnext;  /* owing the guest something */
	bool ready;
	int fd;
	bool watched;
	uint32_t events;
	bool hup;                    /* the fd said POLLHUP/POLLERR */
	uint64_t peer_cid;           /* 2, or a sibling's CID */
	uint32_t local_port;         /* the host side's port */
	uint32_t guest_port;
	uint16_t type;
	enum vsock_cstate st;
	bool guest_knows;            /* the guest has heard of it */
	unsigned pend;               /* P_* */
	/* Host to guest: the guest's buffer and what we sent into it. */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	bool readable;               /* the host socket has bytes for us */
	bool host_eof;               /* read 0: SHUTDOWN SEND owed/sent */
	/* SEQPACKET host to guest: the message being handed out. */
	uint8_t *ibuf;
	uint32_t ioff, ilen;
	/* Guest to host: bytes received, bytes the host took, the last
	 * fwd_cnt the guest was told; what waits for the host socket. */
	uint32_t rx_cnt, fwd_cnt, fwd_sent;
	uint8_t *obuf;
	uint32_t ohead, olen, ocap;
	uint32_t *mlen;              /* SEQPACKET: complete messages */
	unsigned mhead, mcount;
	uint32_t mcur;               /* bytes of the open message */
	uint8_t guest_shut;          /* SHUTDOWN flags the guest sent */
	bool wr_shut;                /* shutdown(SHUT_WR) done */
	bool drained_credit;         /* a flush freed buffered bytes */
	/* Handshake line. */
	char line[VSOCK_LINE_MAX];
	unsigned line_len;
	uint64_t reserved;           /* bytes of vsock.mem_used it holds */
};

struct vsock_rst {
	uint64_t src_cid;
	uint32_t src_port, dst_port;
	uint16_t type;
};

struct vsock_offer {
	struct vsock_offer *next;
	int fd;
	uint16_t type;
	uint64_t src_cid;
	uint32_t src_port, dst_port;
};

#define VSOCK_HASH 256u

struct vsock {
	struct vdev *dev;
	pthread_mutex_t mu;
	uint64_t cid;
	uint32_t buf_size;
	uint64_t mem_max, mem_used;
	uint32_t conn_max, nconns;
	bool seqpacket;
	char *uds_path;
	int lfd;                     /* hybrid listener, -1 without */
	bool started;
	struct conn *hash[VSOCK_HASH];
	struct conn *fhash[VSOCK_HASH];
	struct conn *all;
	struct conn *rhead, *rtail;
	struct vsock_rst *rst;       /* RSTs for no connection, a ring */
	unsigned rst_head, rst_count, rst_max;
	uint32_t next_port;
	bool event_reset;            /* TRANSPORT_RESET owed */
	bool tx_blocked;             /* tx waits for room in the RST ring */
	/* Sibling registry (sibling.c). */
	char *groups;                /* "+a+b+": names with separators */
	struct vsock *sib_next;
	pthread_mutex_t inbox_mu;
	struct vsock_offer *inbox;
	/* Counters for tests and logs. */
	uint64_t credit_violations;
};

/* vsock.c */
struct conn *vsock_conn_new(struct vsock *v, int fd, uint64_t peer_cid,
			    uint32_t local_port, uint32_t guest_port,
			    uint16_t type, enum vsock_cstate st);
void vsock_conn_kill(struct vsock *v, struct conn *c, bool rst);
struct conn *vsock_conn_by_fd(struct vsock *v, int fd);
void vsock_conn_ready(struct vsock *v, struct conn *c);
void vsock_conn_watch(struct vsock *v, struct conn *c);
bool vsock_conn_has_work(struct vsock *v, struct conn *c);
void vsock_send_rst(struct vsock *v, uint64_t src_cid, uint32_t src_port,
		    uint32_t dst_port, uint16_t type);
void vsock_after_flush(struct vsock *v, struct conn *c);
void vsock_conn_rekey(struct vsock *v, struct conn *c, uint32_t local,
		      uint32_t guest);
/* Serves the rx queue now (after socket events, on its thread). */
void vsock_rx_run(struct vsock *v);

/* host.c */
int vsock_host_listen(struct vsock *v);
void vsock_host_close(struct vsock *v);
/* Guest REQUEST to the host: a connected socket to <uds>_<port>, or -1. */
int vsock_host_connect(struct vsock *v, uint32_t port, uint16_t type);
void vsock_fd_event(void *arg, int fd, uint32_t events);
/* Tells the host side the guest accepted: "OK <local port>\n", sent at
 * once (nothing is queued before it). -EPIPE when it cannot be. */
int vsock_send_ok(struct conn *c);
/* Writes what waits in obuf: 0, or -EPIPE when the host side is gone. */
int vsock_flush(struct vsock *v, struct conn *c);
/* Adds @len bytes for the host socket; with @iov non-NULL they come from
 * the guest (after @skip bytes of it), else from @buf. */
int vsock_out_append(struct vsock *v, struct conn *c, const struct iovec *iov,
		     unsigned cnt, size_t skip, const void *buf, uint32_t len);
int vsock_out_eom(struct vsock *v, struct conn *c);
/* Fills a guest rx buffer with host data for @c; bytes of payload
 * written after the header at @skip, 0 when nothing was ready, -EPIPE when
 * the connection died. *flags gets EOM for the end of a message. */
/* The iovecs of @len bytes of @iov after @skip, at most @max; how many. */
unsigned vsock_sub_iov(const struct iovec *iov, unsigned cnt, size_t skip,
		       size_t len, struct iovec *out, unsigned max);
int vsock_host_read(struct vsock *v, struct conn *c, const struct iovec *iov,
		    unsigned cnt, uint32_t max, uint32_t *flags);

/* sibling.c */
int vsock_sib_register(struct vsock *v, const char *groups);
void vsock_sib_unregister(struct vsock *v);
bool vsock_sib_cid_taken(uint64_t cid);
/* Offers @fd (one end of a socketpair) to the sibling @cid that shares a
 * group with @v. -ENOENT: no such sibling. */
int vsock_sib_offer(struct vsock *v, uint64_t cid, int fd, uint16_t type,
		    uint32_t src_port, uint32_t dst_port);
/* Takes the offers made to @v (inbox), mu held. */
void vsock_sib_take(struct vsock *v);

#endif /* VDEV_VSOCK_INTERNAL_H */
