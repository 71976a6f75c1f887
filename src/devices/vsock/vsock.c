/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-vsock (virtio 1.2 section 5.10): the connection table, the guest's
 * packets (tx queue), what the device owes the guest (rx queue) and
 * TRANSPORT_RESET (event queue).
 *
 * Flow control is exact both ways. Guest to host: the guest is told
 * buf_alloc = buf_size and fwd_cnt = bytes the host socket took; a packet
 * past that credit resets the connection. What the host socket does not
 * take at once waits in the connection's buffer (POLLOUT watched only
 * while it is not empty). Host to guest: bytes are read from the host
 * socket straight into a guest rx buffer, never more than the guest's
 * buf_alloc - (tx_cnt - fwd_cnt); with no credit the socket is not read
 * (and not watched for POLLIN) until the guest's next header opens it.
 *
 * Memory: each connection reserves buf_size (twice for SEQPACKET, whose
 * host-to-guest message is staged) out of mem_max when it is made; a
 * connection that does not fit is refused with RST.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <virtio/iov.h>
#include <virtio/le.h>
#include <virtio/state.h>

#include "vsock_internal.h"
#include "core/sized.h"

#define VSOCK_STATE_VERSION 1u
#define VSOCK_TAG VDEV_STATE_TAG('V', 'S', 'K', '0')
#define VSOCK_IOV_MAX 64
#define VSOCK_RST_SLACK 4u

static unsigned hkey(uint64_t peer_cid, uint32_t local, uint32_t guest)
{
	uint64_t k = peer_cid * 0x9e3779b97f4a7c15ull ^ local * 0x85ebca6bu ^
		     guest;

	return (unsigned)((k ^ (k >> 29)) % VSOCK_HASH);
}

static struct conn *conn_find(struct vsock *v, uint64_t peer_cid,
			      uint32_t local, uint32_t guest)
{
	struct conn *c = v->hash[hkey(peer_cid, local, guest)];

	for (; c; c = c->hnext)
		if (c->peer_cid == peer_cid && c->local_port == local &&
		    c->guest_port == guest)
			return c;
	return NULL;
}

struct conn *vsock_conn_by_fd(struct vsock *v, int fd)
{
	struct conn *c = v->fhash[(unsigned)fd % VSOCK_HASH];

	for (; c; c = c->fnext)
		if (c->fd == fd)
			return c;
	return NULL;
}

static uint64_t conn_reserve(struct vsock *v, uint16_t type)
{
	if (type == VDEV_VSOCK_TYPE_SEQPACKET)
		return 2ull * v->buf_size +
		       VSOCK_MSGS_MAX * sizeof(uint32_t);
	return v->buf_size;
}

struct conn *vsock_conn_new(struct vsock *v, int fd, uint64_t peer_cid,
			    uint32_t local_port, uint32_t guest_port,
			    uint16_t type, enum vsock_cstate st)
{
	uint64_t res = conn_reserve(v, type);
	struct conn *c;
	unsigned h;

	if (v->nconns >= v->conn_max || v->mem_used + res > v->mem_max) {
		errno = ENOBUFS;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = fd;
	c->peer_cid = peer_cid;
	c->local_port = local_port;
	c->guest_port = guest_port;
	c->type = type;
	c->st = st;
	c->reserved = res;
	v->mem_used += res;
	v->nconns++;
	h = hkey(peer_cid, local_port, guest_port);
	c->hnext = v->hash[h];
	v->hash[h] = c;
	h = (unsigned)fd % VSOCK_HASH;
	c->fnext = v->fhash[h];
	v->fhash[h] = c;
	c->next = v->all;
	if (v->all)
		v->all->prev = c;
	v->all = c;
	if (vdev_watch_fd(v->dev, VSOCK_RXQ, fd, 0, vsock_fd_event, v) == 0)
		c->watched = true;
	return c;
}

void vsock_conn_rekey(struct vsock *v, struct conn *c, uint32_t local,
		      uint32_t guest)
{
	struct conn **pp;
	unsigned h;

	for (pp = &v->hash[hkey(c->peer_cid, c->local_port, c->guest_port)];
	     *pp; pp = &(*pp)->hnext)
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	c->local_port = local;
	c->guest_port = guest;
	h = hkey(c->peer_cid, local, guest);
	c->hnext = v->hash[h];
	v->hash[h] = c;
}

static void ready_remove(struct vsock *v, struct conn *c)
{
	if (!c->ready)
		return;
	if (c->rprev)
		c->rprev->rnext = c->rnext;
	else
		v->rhead = c->rnext;
	if (c->rnext)
		c->rnext->rprev = c->rprev;
	else
		v->rtail = c->rprev;
	c->rprev = c->rnext = NULL;
	c->ready = false;
}

void vsock_conn_ready(struct vsock *v, struct conn *c)
{
	if (c->ready)
		return;
	c->ready = true;
	c->rnext = NULL;
	c->rprev = v->rtail;
	if (v->rtail)
		v->rtail->rnext = c;
	else
		v->rhead = c;
	v->rtail = c;
	vdev_queue_schedule(v->dev, VSOCK_RXQ);
}

static uint32_t peer_credit(const struct conn *c)
{
	return vsock_credit(c->peer_buf_alloc, c->tx_cnt, c->peer_fwd_cnt);
}

/* The connection may read its host socket now. */
static bool wants_read(const struct conn *c)
{
	if (c->st == C_HANDSHAKE || c->st == C_SIB_WAIT)
		return true;
	if (c->st != C_ESTABLISHED || c->host_eof ||
	    (c->guest_shut & VDEV_VSOCK_SHUTDOWN_RCV))
		return false;
	return c->ilen > c->ioff ? false : peer_credit(c) > 0;
}

bool vsock_conn_has_work(struct vsock *v, struct conn *c)
{
	(void)v;
	if (c->pend)
		return true;
	if (c->st != C_ESTABLISHED || !peer_credit(c))
		return false;
	return (c->readable && wants_read(c)) || c->ilen > c->ioff;
}

void vsock_conn_watch(struct vsock *v, struct conn *c)
{
	uint32_t ev = 0;

	if (wants_read(c) && !c->readable)
		ev |= POLLIN;
	if (c->olen || c->mcount)
		ev |= POLLOUT;
	/* epoll reports HUP and ERR whatever we ask: an fd we want
	 * nothing from after a hang-up is taken out, or it would wake the
	 * loop forever. */
	if (c->hup && !ev) {
		if (c->watched && vdev_unwatch_fd(v->dev, VSOCK_RXQ, c->fd) == 0)
			c->watched = false;
		return;
	}
	if (!c->watched) {
		if (vdev_watch_fd(v->dev, VSOCK_RXQ, c->fd, ev, vsock_fd_event,
				  v) == 0) {
			c->watched = true;
			c->events = ev;
		}
		return;
	}
	if (ev != c->events && vdev_watch_fd_events(v->dev, VSOCK_RXQ, c->fd,
						    ev) == 0)
		c->events = ev;
}

void vsock_send_rst(struct vsock *v, uint64_t src_cid, uint32_t src_port,
		    uint32_t dst_port, uint16_t type)
{
	struct vsock_rst *r;

	if (v->rst_count == v->rst_max) {
		vdev_log(VDEV_LOG_DEBUG, "vsock: RST ring full, one dropped");
		return;
	}
	r = &v->rst[(v->rst_head + v->rst_count) % v->rst_max];
	r->src_cid = src_cid;
	r->src_port = src_port;
	r->dst_port = dst_port;
	r->type = type;
	v->rst_count++;
	vdev_queue_schedule(v->dev, VSOCK_RXQ);
}

void vsock_conn_kill(struct vsock *v, struct conn *c, bool rst)
{
	struct conn **pp;

	if (rst && c->guest_knows)
		vsock_send_rst(v, c->peer_cid, c->local_port, c->guest_port,
			       c->type);
	ready_remove(v, c);
	for (pp = &v->hash[hkey(c->peer_cid, c->local_port, c->guest_port)];
	     *pp; pp = &(*pp)->hnext)
		if (*pp == c) {
			*pp = c->hnext;
			break;
		}
	for (pp = &v->fhash[(unsigned)c->fd % VSOCK_HASH]; *pp;
	     pp = &(*pp)->fnext)
		if (*pp == c) {
			*pp = c->fnext;
			break;
		}
	if (c->prev)
		c->prev->next = c->next;
	else
		v->all = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->watched)
		vdev_unwatch_fd(v->dev, VSOCK_RXQ, c->fd);
	close(c->fd);
	v->mem_used -= c->reserved;
	v->nconns--;
	free(c->obuf);
	free(c->ibuf);
	free(c->mlen);
	free(c);
}

/* After the host socket took buffered bytes: credit for the guest, the
 * guest's SHUTDOWN carried out once nothing waits. */
void vsock_after_flush(struct vsock *v, struct conn *c)
{
	uint32_t unsent = c->fwd_cnt - c->fwd_sent;

	if (unsent && (unsent >= v->buf_size / 4 ||
		       (c->drained_credit && !c->olen && !c->mcount))) {
		c->pend |= P_CREDIT;
		vsock_conn_ready(v, c);
	}
	c->drained_credit = false;
	if (c->olen || c->mcount)
		return;
	if ((c->guest_shut & VDEV_VSOCK_SHUTDOWN_SEND) && !c->wr_shut) {
		shutdown(c->fd, SHUT_WR);
		c->wr_shut = true;
	}
	if (c->guest_shut == (VDEV_VSOCK_SHUTDOWN_RCV |
			      VDEV_VSOCK_SHUTDOWN_SEND))
		vsock_conn_kill(v, c, true);
}

/* ---- tx: the guest's packets ------------------------------------------- */

static void guest_request(struct vsock *v, const struct vsock_pkt *p)
{
	struct conn *c;
	int fd;

	if (p->type == VDEV_VSOCK_TYPE_SEQPACKET &&
	    !vdev_has_feature(v->dev, VDEV_VSOCK_F_SEQPACKET))
		goto refuse;
	if (p->type == VDEV_VSOCK_TYPE_STREAM &&
	    vdev_has_feature(v->dev, VDEV_VSOCK_F_NO_IMPLIED_STREAM) &&
	    !vdev_has_feature(v->dev, VDEV_VSOCK_F_STREAM))
		goto refuse;
	if (p->dst_cid != VDEV_VSOCK_CID_HOST) {
		int sv[2];

		if (!vsock_sib_cid_taken(p->dst_cid))
			goto refuse;
		if (socketpair(AF_UNIX,
			       (p->type == VDEV_VSOCK_TYPE_SEQPACKET ?
					SOCK_SEQPACKET : SOCK_STREAM) |
				       SOCK_NONBLOCK | SOCK_CLOEXEC,
			       0, sv) < 0)
			goto refuse;
		c = vsock_conn_new(v, sv[0], p->dst_cid, p->dst_port,
				   p->src_port, p->type, C_SIB_WAIT);
		if (!c) {
			close(sv[0]);
			close(sv[1]);
			goto refuse;
		}
		c->guest_knows = true;
		c->peer_buf_alloc = p->buf_alloc;
		c->peer_fwd_cnt = p->fwd_cnt;
		if (vsock_sib_offer(v, p->dst_cid, sv[1], p->type, p->src_port,
				    p->dst_port) < 0) {
			close(sv[1]);
			vsock_conn_kill(v, c, true);
			return;
		}
		vsock_conn_watch(v, c);
		return;
	}
	if (!v->uds_path)
		goto refuse;
	fd = vsock_host_connect(v, p->dst_port, p->type);
	if (fd < 0)
		goto refuse;
	c = vsock_conn_new(v, fd, VDEV_VSOCK_CID_HOST, p->dst_port,
			   p->src_port, p->type, C_ESTABLISHED);
	if (!c) {
		close(fd);
		goto refuse;
	}
	c->guest_knows = true;
	c->peer_buf_alloc = p->buf_alloc;
	c->peer_fwd_cnt = p->fwd_cnt;
	c->pend |= P_RESPONSE;
	vsock_conn_ready(v, c);
	vsock_conn_watch(v, c);
	return;
refuse:
	vsock_send_rst(v, p->dst_cid, p->dst_port, p->src_port, p->type);
}

/* An RW packet: its payload is @len bytes of @iov after the header. */
static void guest_rw(struct vsock *v, struct conn *c, const struct vsock_pkt *p,
		     const struct iovec *iov, unsigned cnt)
{
	uint32_t room = v->buf_size - (c->rx_cnt - c->fwd_cnt);

	if (c->st != C_ESTABLISHED ||
	    (c->guest_shut & VDEV_VSOCK_SHUTDOWN_SEND)) {
		vsock_conn_kill(v, c, true);
		return;
	}
	if (p->len > room) {
		/* The guest ignored the credit it was given. */
		v->credit_violations++;
		vdev_log(VDEV_LOG_WARN,
			 "vsock: guest port %u sent %u bytes past its credit "
			 "(%u): connection reset",
			 c->guest_port, p->len, room);
		vsock_conn_kill(v, c, true);
		return;
	}
	c->rx_cnt += p->len;
	if (vsock_out_append(v, c, iov, cnt, VSOCK_HDR_LEN, NULL, p->len) < 0 ||
	    (c->type == VDEV_VSOCK_TYPE_SEQPACKET &&
	     (p->flags & VDEV_VSOCK_SEQ_EOM) && vsock_out_eom(v, c) < 0)) {
		vsock_conn_kill(v, c, true);
		return;
	}
	if (vsock_flush(v, c) < 0) {
		vsock_conn_kill(v, c, true);
		return;
	}
	vsock_after_flush(v, c);
}

static void guest_packet(struct vsock *v, const struct vsock_pkt *p,
			 const struct iovec *iov, unsigned cnt)
{
	struct conn *c;

	c = conn_find(v, p->dst_cid, p->dst_port, p->src_port);
	if (!c) {
		if (p->op == VDEV_VSOCK_OP_REQUEST)
			guest_request(v, p);
		else if (p->op != VDEV_VSOCK_OP_RST)
			vsock_send_rst(v, p->dst_cid, p->dst_port, p->src_port,
				       p->type);
		return;
	}
	if (p->type != c->type) {
		if (p->op != VDEV_VSOCK_OP_RST)
			vsock_send_rst(v, p->dst_cid, p->dst_port, p->src_port,
				       p->type);
		return;
	}
	/* Every header carries the guest's buffer state. */
	c->peer_buf_alloc = p->buf_alloc;
	c->peer_fwd_cnt = p->fwd_cnt;
	c->guest_knows = true;
	switch (p->op) {
	case VDEV_VSOCK_OP_REQUEST:
		return; /* a repeat: the connection stands */
	case VDEV_VSOCK_OP_RESPONSE:
		if (c->st != C_REQUESTED || vsock_send_ok(c) < 0) {
			vsock_conn_kill(v, c, true);
			return;
		}
		c->st = C_ESTABLISHED;
		break;
	case VDEV_VSOCK_OP_RST:
		vsock_conn_kill(v, c, false);
		return;
	case VDEV_VSOCK_OP_SHUTDOWN:
		c->guest_shut |= (uint8_t)(p->flags &
					   (VDEV_VSOCK_SHUTDOWN_RCV |
					    VDEV_VSOCK_SHUTDOWN_SEND));
		vsock_after_flush(v, c);
		return; /* c may be gone */
	case VDEV_VSOCK_OP_RW:
		guest_rw(v, c, p, iov, cnt);
		return; /* c may be gone */
	case VDEV_VSOCK_OP_CREDIT_UPDATE:
		break;
	case VDEV_VSOCK_OP_CREDIT_REQUEST:
		c->pend |= P_CREDIT;
		break;
	}
	if (vsock_conn_has_work(v, c))
		vsock_conn_ready(v, c);
	vsock_conn_watch(v, c);
}

static void tx_handle(struct vsock *v, struct vdev_queue *q)
{
	struct iovec iov[VSOCK_IOV_MAX];
	struct vdev_req req = { .iov = iov, .iov_max = VSOCK_IOV_MAX };
	bool pushed = false;

	for (;;) {
		uint8_t hdr[VSOCK_HDR_LEN];
		struct vsock_pkt p;
		int r;

		/* A guest that sends faster than it takes RSTs waits. */
		if (v->rst_max - v->rst_count < VSOCK_RST_SLACK) {
			v->tx_blocked = true;
			break;
		}
		r = vdev_queue_pop(q, &req);
		if (r == -EMSGSIZE) {
			pushed = true;
			continue;
		}
		if (r < 0)
			break;
		if (vdev_iov_to_buf(req.out, req.nout, 0, hdr, sizeof(hdr)) !=
		    sizeof(hdr)) {
			vdev_log(VDEV_LOG_DEBUG, "vsock: short tx packet");
		} else {
			r = vsock_pkt_parse(hdr, req.out_bytes - VSOCK_HDR_LEN,
					    &p);
			if (r == -EINVAL && p.op != VDEV_VSOCK_OP_RST &&
			    p.src_cid == v->cid)
				vsock_send_rst(v, p.dst_cid, p.dst_port,
					       p.src_port,
					       VDEV_VSOCK_TYPE_STREAM);
			else if (r == 0 && p.src_cid == v->cid)
				guest_packet(v, &p, req.out, req.nout);
			/* else: malformed or spoofed: dropped */
		}
		vdev_queue_push(q, &req, 0);
		pushed = true;
	}
	if (pushed)
		vdev_queue_notify(q);
}

/* ---- rx: what the guest is owed ---------------------------------------- */

static void fill_hdr(struct vsock *v, struct conn *c, struct vsock_pkt *p,
		     uint16_t op)
{
	memset(p, 0, sizeof(*p));
	p->src_cid = c->peer_cid;
	p->dst_cid = v->cid;
	p->src_port = c->local_port;
	p->dst_port = c->guest_port;
	p->type = c->type;
	p->op = op;
	p->buf_alloc = v->buf_size;
	p->fwd_cnt = c->fwd_cnt;
	c->fwd_sent = c->fwd_cnt;
}

/*
 * One packet for @c into @req: 44 + payload bytes written, 0 when @c had
 * nothing after all, -1 when @c died (req untouched).
 */
static int rx_conn(struct vsock *v, struct conn *c, struct vdev_req *req)
{
	struct vsock_pkt p;
	struct vdev_vsock_hdr h;

	if (c->pend & P_REQUEST) {
		c->pend &= ~P_REQUEST;
		fill_hdr(v, c, &p, VDEV_VSOCK_OP_REQUEST);
		c->guest_knows = true;
		goto out;
	}
	if (c->pend & P_RESPONSE) {
		c->pend &= ~P_RESPONSE;
		fill_hdr(v, c, &p, VDEV_VSOCK_OP_RESPONSE);
		goto out;
	}
	if (c->st == C_ESTABLISHED && peer_credit(c) &&
	    ((c->readable && wants_read(c)) || c->ilen > c->ioff)) {
		uint32_t room = req->in_bytes - VSOCK_HDR_LEN;
		uint32_t flags = 0;
		int n;

		if (room > VSOCK_PKT_MAX)
			room = VSOCK_PKT_MAX;
		if (room > peer_credit(c))
			room = peer_credit(c);
		n = vsock_host_read(v, c, req->in, req->nin, room, &flags);
		if (n < 0)
			return -1;
		if (n > 0 || (flags & VDEV_VSOCK_SEQ_EOM)) {
			fill_hdr(v, c, &p, VDEV_VSOCK_OP_RW);
			p.len = (uint32_t)n;
			p.flags = flags;
			c->tx_cnt += (uint32_t)n;
			c->pend &= ~P_CREDIT;
			goto out;
		}
	}
	if (c->pend & P_SHUTDOWN) {
		c->pend &= ~P_SHUTDOWN;
		fill_hdr(v, c, &p, VDEV_VSOCK_OP_SHUTDOWN);
		p.flags = VDEV_VSOCK_SHUTDOWN_SEND;
		goto out;
	}
	if (c->pend & P_CREDIT) {
		c->pend &= ~P_CREDIT;
		fill_hdr(v, c, &p, VDEV_VSOCK_OP_CREDIT_UPDATE);
		goto out;
	}
	return 0;
out:
	vsock_pkt_encode(&p, &h);
	vdev_iov_from_buf(req->in, req->nin, 0, &h, sizeof(h));
	return (int)(VSOCK_HDR_LEN + p.len);
}

/*
 * Stream data into several rx buffers with one recvmsg: @first (popped) and
 * up to RX_BATCH - 1 more, as far as the guest's credit goes. Returns the
 * buffers pushed (0: nothing was read, @first is untouched), -1 when the
 * connection died. Buffers not filled go back to the ring.
 */
#define RX_BATCH 16
#define RX_SEGS 8

static bool batchable(struct conn *c)
{
	return c->type == VDEV_VSOCK_TYPE_STREAM && c->st == C_ESTABLISHED &&
	       !(c->pend & (P_REQUEST | P_RESPONSE)) && c->readable &&
	       wants_read(c);
}

static int rx_batch(struct vsock *v, struct conn *c, struct vdev_queue *q,
		    struct vdev_req *first)
{
	struct iovec iovs[RX_BATCH - 1][RX_SEGS], sub[RX_BATCH * RX_SEGS];
	struct vdev_req reqs[RX_BATCH];
	uint32_t room[RX_BATCH], credit = peer_credit(c), total = 0;
	unsigned n = 0, nsub = 0, pushed = 0;
	struct msghdr mh = { 0 };
	ssize_t got;

	reqs[0] = *first;
	for (;;) {
		struct vdev_req *r = &reqs[n];
		uint32_t want = r->in_bytes - VSOCK_HDR_LEN;
		unsigned k, i;
		size_t have = 0;

		if (want > VSOCK_PKT_MAX)
			want = VSOCK_PKT_MAX;
		if (want > credit - total)
			want = credit - total;
		k = vsock_sub_iov(r->in, r->nin, VSOCK_HDR_LEN, want,
				  sub + nsub, RX_SEGS);
		for (i = 0; i < k; i++)
			have += sub[nsub + i].iov_len;
		if (!have && n) {
			vdev_queue_unpop(q, r);
			break;
		}
		room[n] = (uint32_t)have;
		nsub += k;
		total += room[n];
		n++;
		if (n == RX_BATCH || total == credit)
			break;
		reqs[n] = (struct vdev_req){ .iov = iovs[n - 1],
					     .iov_max = RX_SEGS };
		if (vdev_queue_pop(q, &reqs[n]) < 0)
			break;
		if (reqs[n].in_bytes <= VSOCK_HDR_LEN) {
			vdev_queue_unpop(q, &reqs[n]);
			break;
		}
	}
	mh.msg_iov = sub;
	mh.msg_iovlen = nsub;
	got = total ? recvmsg(c->fd, &mh, MSG_DONTWAIT) : 0;
	if (got < 0 && errno != EAGAIN && errno != EINTR)
		got = -2;
	else if (got < 0)
		c->readable = false;
	else if (got == 0 && total) {
		c->host_eof = true;
		c->readable = false;
		c->pend |= P_SHUTDOWN;
	}
	for (unsigned i = 0; i < n && got > 0; i++) {
		uint32_t len = (uint32_t)got < room[i] ? (uint32_t)got : room[i];
		struct vsock_pkt p;
		struct vdev_vsock_hdr h;

		if (!len)
			break;
		fill_hdr(v, c, &p, VDEV_VSOCK_OP_RW);
		p.len = len;
		c->tx_cnt += len;
		c->pend &= ~P_CREDIT;
		vsock_pkt_encode(&p, &h);
		vdev_iov_from_buf(reqs[i].in, reqs[i].nin, 0, &h, sizeof(h));
		vdev_queue_push(q, &reqs[i], VSOCK_HDR_LEN + len);
		got -= len;
		pushed++;
	}
	/* The extra buffers not filled go back, last popped first. */
	for (unsigned i = n; i-- > (pushed ? pushed : 1);)
		vdev_queue_unpop(q, &reqs[i]);
	if (got == -2)
		return -1;
	return (int)pushed;
}

static void rx_handle(struct vsock *v, struct vdev_queue *q)
{
	struct iovec iov[VSOCK_IOV_MAX];
	struct vdev_req req = { .iov = iov, .iov_max = VSOCK_IOV_MAX };
	bool pushed = false;

	vsock_sib_take(v);
	while (v->rst_count || v->rhead) {
		int r = vdev_queue_pop(q, &req);
		bool batched = false;

		if (r == -EMSGSIZE) {
			pushed = true;
			continue;
		}
		if (r < 0)
			break;
		if (req.in_bytes < VSOCK_HDR_LEN) {
			/* No room for a header: the driver's mistake. */
			vdev_queue_push(q, &req, 0);
			pushed = true;
			continue;
		}
		if (v->rst_count) {
			struct vsock_rst *rs = &v->rst[v->rst_head];
			struct vsock_pkt p = {
				.src_cid = rs->src_cid,
				.dst_cid = v->cid,
				.src_port = rs->src_port,
				.dst_port = rs->dst_port,
				.type = rs->type,
				.op = VDEV_VSOCK_OP_RST,
			};
			struct vdev_vsock_hdr h;

			vsock_pkt_encode(&p, &h);
			vdev_iov_from_buf(req.in, req.nin, 0, &h, sizeof(h));
			v->rst_head = (v->rst_head + 1) % v->rst_max;
			v->rst_count--;
			vdev_queue_push(q, &req, VSOCK_HDR_LEN);
			pushed = true;
			continue;
		}
		for (unsigned tries = v->nconns + 1; v->rhead && tries--;) {
			struct conn *c = v->rhead;

			ready_remove(v, c);
			r = 0;
			if (batchable(c) && peer_credit(c)) {
				r = rx_batch(v, c, q, &req);
				if (r > 0) {
					pushed = batched = true;
					if (vsock_conn_has_work(v, c))
						vsock_conn_ready(v, c);
					vsock_conn_watch(v, c);
					break;
				}
			}
			if (r == 0)
				r = rx_conn(v, c, &req);
			if (r < 0) {
				vsock_conn_kill(v, c, true);
				continue;
			}
			if (vsock_conn_has_work(v, c))
				vsock_conn_ready(v, c); /* to the tail */
			vsock_conn_watch(v, c);
			if (r > 0)
				break;
		}
		if (batched) {
			/* rx_batch pushed req (and more) itself */
		} else if (r > 0) {
			vdev_queue_push(q, &req, (uint32_t)r);
			pushed = true;
		} else {
			/* Nobody had anything this buffer could carry (a
			 * buffer with no room for data): wait for the next
			 * kick rather than spin. */
			if (vdev_queue_unpop(q, &req) < 0) {
				vdev_queue_push(q, &req, 0);
				pushed = true;
			}
			break;
		}
	}
	if (v->tx_blocked && v->rst_max - v->rst_count >= VSOCK_RST_SLACK) {
		v->tx_blocked = false;
		vdev_queue_schedule(v->dev, VSOCK_TXQ);
	}
	if (pushed)
		vdev_queue_notify(q);
}

void vsock_rx_run(struct vsock *v)
{
	struct vdev_queue *q = vdev_get_queue(v->dev, VSOCK_RXQ);

	if (v->started && q && vdev_queue_ready(q))
		rx_handle(v, q);
}

static void ev_handle(struct vsock *v, struct vdev_queue *q)
{
	struct iovec iov[4];
	struct vdev_req req = { .iov = iov, .iov_max = 4 };
	vdev_le32 id = vdev_cpu_to_le32(VDEV_VSOCK_EVENT_TRANSPORT_RESET);
	int r;

	if (!v->event_reset)
		return;
	r = vdev_queue_pop(q, &req);
	if (r < 0)
		return;
	v->event_reset = false;
	vdev_queue_push(q, &req,
			(uint32_t)vdev_iov_from_buf(req.in, req.nin, 0, &id,
						    sizeof(id)));
	vdev_queue_notify(q);
}

static void vsock_handle(struct vdev *dev, unsigned qidx, struct vdev_queue *q)
{
	struct vsock *v = vdev_priv(dev);

	pthread_mutex_lock(&v->mu);
	if (qidx == VSOCK_RXQ)
		rx_handle(v, q);
	else if (qidx == VSOCK_TXQ)
		tx_handle(v, q);
	else
		ev_handle(v, q);
	pthread_mutex_unlock(&v->mu);
}

static void close_all(struct vsock *v)
{
	struct vsock_offer *o;

	while (v->all)
		vsock_conn_kill(v, v->all, false);
	v->rst_count = 0;
	v->rst_head = 0;
	v->tx_blocked = false;
	pthread_mutex_lock(&v->inbox_mu);
	o = v->inbox;
	v->inbox = NULL;
	pthread_mutex_unlock(&v->inbox_mu);
	while (o) {
		struct vsock_offer *n = o->next;

		close(o->fd);
		free(o);
		o = n;
	}
}

static int vsock_start(struct vdev *dev)
{
	struct vsock *v = vdev_priv(dev);

	pthread_mutex_lock(&v->mu);
	v->started = true;
	pthread_mutex_unlock(&v->mu);
	vdev_queue_schedule(dev, VSOCK_RXQ);
	vdev_queue_schedule(dev, VSOCK_EVQ);
	return 0;
}

static void vsock_reset(struct vdev *dev)
{
	struct vsock *v = vdev_priv(dev);

	pthread_mutex_lock(&v->mu);
	close_all(v);
	v->started = false;
	v->event_reset = false;
	pthread_mutex_unlock(&v->mu);
}

/*
 * State: le64 CID, le32 next local port, le32 connections, then per
 * connection le64 peer CID, le32 local port, le32 guest port, le16 type,
 * le16 state. The host sockets do not travel: after a restore the device
 * sends TRANSPORT_RESET (5.10.6.6) and the guest drops these connections;
 * the table keeps the port allocator clear of ports the guest may still
 * hold while it does.
 */
#define VSOCK_REC 20u

static void put_le(uint8_t *b, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *b, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static int vsock_save(struct vdev *dev, struct vdev_state_writer *w)
{
	struct vsock *v = vdev_priv(dev);
	uint8_t *b;
	size_t len;
	uint32_t n = 0;
	int r;

	pthread_mutex_lock(&v->mu);
	len = 16 + (size_t)v->nconns * VSOCK_REC;
	b = malloc(len);
	if (!b) {
		pthread_mutex_unlock(&v->mu);
		return -ENOMEM;
	}
	put_le(b, v->cid, 8);
	put_le(b + 8, v->next_port, 4);
	for (struct conn *c = v->all; c; c = c->next, n++) {
		uint8_t *e = b + 16 + (size_t)n * VSOCK_REC;

		put_le(e, c->peer_cid, 8);
		put_le(e + 8, c->local_port, 4);
		put_le(e + 12, c->guest_port, 4);
		put_le(e + 16, c->type, 2);
		put_le(e + 18, c->st, 2);
	}
	put_le(b + 12, n, 4);
	pthread_mutex_unlock(&v->mu);
	r = vdev_state_put(w, VSOCK_TAG, b, (uint32_t)len);
	free(b);
	return r;
}

static int vsock_load(struct vdev *dev, struct vdev_state_reader *rd,
		      uint32_t version)
{
	struct vsock *v = vdev_priv(dev);
	const uint8_t *b;
	uint32_t len, n, next;

	(void)version;
	b = vdev_state_get(rd, VSOCK_TAG, &len);
	if (!b)
		return -EBADMSG;
	if (len < 16)
		return -EBADMSG;
	n = (uint32_t)get_le(b + 12, 4);
	if ((len - 16) / VSOCK_REC != n || (len - 16) % VSOCK_REC)
		return -EBADMSG;
	next = (uint32_t)get_le(b + 8, 4);
	pthread_mutex_lock(&v->mu);
	close_all(v);
	/* Past every host port the guest may still hold. */
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = b + 16 + (size_t)i * VSOCK_REC;
		uint32_t lp = (uint32_t)get_le(e + 8, 4);

		if (get_le(e, 8) == VDEV_VSOCK_CID_HOST && lp >= next &&
		    lp < VSOCK_PORT_MAX)
			next = lp + 1;
	}
	v->next_port = next;
	/* The CID is this device's own (a migration target may have
	 * another); TRANSPORT_RESET makes the guest read it again. */
	v->event_reset = true;
	pthread_mutex_unlock(&v->mu);
	return 0;
}

static void vsock_destroy(struct vdev *dev)
{
	struct vsock *v = vdev_priv(dev);

	vsock_sib_unregister(v);
	pthread_mutex_lock(&v->mu);
	close_all(v);
	pthread_mutex_unlock(&v->mu);
	vsock_host_close(v);
	pthread_mutex_destroy(&v->mu);
	pthread_mutex_destroy(&v->inbox_mu);
	free(v->rst);
	free(v->uds_path);
	free(v->groups);
	free(v);
}

static int vsock_features_ok(struct vdev *dev, uint64_t features)
{
	(void)dev;
	/* 5.10.3.1: with NO_IMPLIED_STREAM, at least one type. */
	if ((features & VDEV_BIT(VDEV_VSOCK_F_NO_IMPLIED_STREAM)) &&
	    !(features & (VDEV_BIT(VDEV_VSOCK_F_STREAM) |
			  VDEV_BIT(VDEV_VSOCK_F_SEQPACKET))))
		return -EINVAL;
	return 0;
}

static const struct vdev_ops vsock_ops = {
	.features_ok = vsock_features_ok,
	.start = vsock_start,
	.reset = vsock_reset,
	.handle = vsock_handle,
	.save = vsock_save,
	.load = vsock_load,
	.destroy = vsock_destroy,
};

static struct vdev *vsock_new_cfg(const struct vdev_vsock_config *cfg)
{
	struct vdev_info info = {
		.name = "vsock",
		.device_id = VDEV_ID_VSOCK,
		.features = VDEV_BIT(VDEV_VSOCK_F_STREAM) |
			    VDEV_BIT(VDEV_VSOCK_F_NO_IMPLIED_STREAM),
		.num_queues = 3,
		.config_size = 8,
		.state_version = VSOCK_STATE_VERSION,
	};
	struct vsock *v;
	struct vdev *dev;
	vdev_le64 cid;
	int err;

	if (!cfg || cfg->guest_cid < 3 || cfg->guest_cid > 0xfffffffeu ||
	    (cfg->buf_size && (cfg->buf_size < 4096 ||
			       cfg->buf_size > (64u << 20)))) {
		errno = EINVAL;
		return NULL;
	}
	info.max_queue_size = cfg->queue_size ? cfg->queue_size : 1024;
	if (cfg->seqpacket)
		info.features |= VDEV_BIT(VDEV_VSOCK_F_SEQPACKET);
	v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	pthread_mutex_init(&v->mu, NULL);
	pthread_mutex_init(&v->inbox_mu, NULL);
	v->lfd = -1;
	v->cid = cfg->guest_cid;
	v->buf_size = cfg->buf_size ? cfg->buf_size : 64u * 1024;
	v->mem_max = cfg->mem_max ? cfg->mem_max : 64ull << 20;
	v->conn_max = cfg->conn_max ? cfg->conn_max : 1024;
	v->seqpacket = cfg->seqpacket;
	v->next_port = VSOCK_PORT_MIN;
	v->rst_max = v->conn_max + 64;
	v->rst = calloc(v->rst_max, sizeof(*v->rst));
	if (!v->rst || (cfg->uds_path && !(v->uds_path = strdup(cfg->uds_path))))
		goto fail_errno;
	err = vsock_sib_register(v, cfg->groups);
	if (err < 0) {
		errno = -err;
		goto fail_errno;
	}
	dev = vdev_new(&info, &vsock_ops, v);
	if (!dev) {
		err = errno;
		vsock_sib_unregister(v);
		errno = err;
		goto fail_errno;
	}
	v->dev = dev;
	cid = vdev_cpu_to_le64(v->cid);
	vdev_config_lock(dev);
	memcpy(vdev_config(dev), &cid, sizeof(cid));
	vdev_config_unlock(dev);
	if (v->uds_path) {
		err = vsock_host_listen(v);
		if (err < 0) {
			vdev_free(dev);
			errno = -err;
			return NULL;
		}
	}
	return dev;
fail_errno:
	err = errno;
	free(v->rst);
	free(v->uds_path);
	free(v->groups);
	pthread_mutex_destroy(&v->mu);
	pthread_mutex_destroy(&v->inbox_mu);
	free(v);
	errno = err;
	return NULL;
}

/* The caller's config at the size it was compiled with (api.h). */
struct vdev *(vdev_vsock_new)(const struct vdev_vsock_config *cfg, size_t size)
{
	struct vdev_vsock_config c;
	struct vdev *dev;
	int e;

	if (cfg && !VSIZED_IN(c, cfg, size))
		return NULL;
	dev = vsock_new_cfg(cfg ? &c : NULL);
	e = errno;
	errno = e;
	return dev;
}
