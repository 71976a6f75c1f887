/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-net data paths: transmit (validate, complete, hand to the
 * backend), receive (backend frame, filter, into one buffer or several
 * mergeable ones) and the control queue.
 *
 * A received frame is read into the pair's private buffer first: the
 * filter and the header fix-ups look at it there, never at guest memory,
 * and a frame that finds no room stays there (the backend fd is not read
 * meanwhile) until the driver adds buffers and kicks.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>
#include <virtio/iov.h>
#include "net_internal.h"

static unsigned rx_qidx(const struct net_pair *p)
{
	return 2 * p->idx;
}

void net_rx_watch(struct net_pair *p, uint32_t events)
{
	int fd = p->n->be->ops->rx_fd(p->n->be, p->idx);

	if (fd < 0 || p->rx_events == events)
		return;
	if (vdev_watch_fd_events(p->n->dev, rx_qidx(p), fd, events) == 0)
		p->rx_events = events;
}

static bool pair_active(const struct net_pair *p)
{
	return p->idx < __atomic_load_n(&p->n->curr_pairs, __ATOMIC_ACQUIRE);
}

static void refresh_filter(struct net_pair *p)
{
	struct net *n = p->n;
	uint32_t gen = __atomic_load_n(&n->filter_gen, __ATOMIC_ACQUIRE);

	if (gen == p->filt_gen)
		return;
	pthread_mutex_lock(&n->lock);
	p->filt = n->filter;
	p->filt_gen = n->filter_gen;
	pthread_mutex_unlock(&n->lock);
}

enum deliver { DELIVERED, DROPPED, NO_ROOM, BUSY, FULL };

/* Completes the chains filled so far, in one push. */
static void rx_flush(struct net_pair *p, struct vdev_queue *q)
{
	if (!p->rx_nreq)
		return;
	vdev_queue_push_batch(q, p->rx_batch, p->rx_written, p->rx_nreq);
	p->rx_nreq = p->rx_niov = p->rx_nframes = 0;
}

/* Writes @hdr then @frame as one stream over @r's device-writable
 * buffers, from *@done on; the bytes written into @r. */
static uint32_t fill(struct vdev_req *r, const struct vdev_net_hdr *hdr,
		     const uint8_t *frame, size_t total, size_t *done)
{
	size_t w = 0;

	/* The common case: the whole frame fits the first buffer. */
	if (!*done && r->nin && r->in[0].iov_len >= total) {
		memcpy(r->in[0].iov_base, hdr, NET_HDR_LEN);
		memcpy((uint8_t *)r->in[0].iov_base + NET_HDR_LEN, frame,
		       total - NET_HDR_LEN);
		*done = total;
		return (uint32_t)total;
	}
	while (w < r->in_bytes && *done < total) {
		size_t room = r->in_bytes - w, c;

		if (*done < NET_HDR_LEN)
			c = vdev_iov_from_buf(r->in, r->nin, w,
					      (const uint8_t *)hdr + *done,
					      NET_HDR_LEN - *done < room ?
						      NET_HDR_LEN - *done :
						      room);
		else
			c = vdev_iov_from_buf(r->in, r->nin, w,
					      frame + (*done - NET_HDR_LEN),
					      total - *done < room ?
						      total - *done : room);
		if (!c)
			break;
		w += c;
		*done += c;
	}
	return (uint32_t)w;
}

/* Puts @hdr + @frame into as many buffers as it takes (mergeable) or into
 * one, after the chains already filled (p->reqs from p->rx_nreq on); they
 * are pushed by rx_flush. FULL: the batch left too little room, flush
 * and try again. */
static enum deliver deliver(struct net_pair *p, struct vdev_queue *q,
			    uint64_t features, struct vdev_net_hdr *hdr,
			    const uint8_t *frame, size_t len)
{
	bool mrg = features & VDEV_BIT(VDEV_NET_F_MRG_RXBUF);
	size_t total = NET_HDR_LEN + len, have = 0, done = 0;
	unsigned first = p->rx_nreq, n = 0, pool = p->rx_niov;
	int ret = 0;

	while (have < total) {
		struct vdev_req *r = &p->reqs[first + n];
		unsigned room = NET_RX_IOV_POOL - pool;

		if (first + n == NET_RX_CHAINS_MAX || !room || (n && !mrg)) {
			ret = -E2BIG;
			break;
		}
		r->iov = p->rx_iov + pool;
		r->iov_max = (uint16_t)(room > 1024 ? 1024 : room);
		ret = vdev_queue_pop(q, r);
		if (ret == -EMSGSIZE)
			continue; /* completed empty by the queue */
		if (ret < 0)
			break;
		pool += r->nout + r->nin;
		have += r->in_bytes;
		n++;
	}
	if (ret < 0) {
		/* Give the buffers back untouched, newest first. */
		while (n)
			vdev_queue_unpop(q, &p->reqs[first + --n]);
		if (ret == -E2BIG && first)
			return FULL; /* room enough once the batch is out */
		if (ret == -E2BIG) {
			net_stat_add(p, ST_RX_NO_BUFFER, 1);
			return DROPPED;
		}
		return ret == -EBUSY ? BUSY : NO_ROOM;
	}
	hdr->num_buffers = vdev_cpu_to_le16(mrg ? (uint16_t)n : 0);
	for (unsigned i = 0; i < n; i++) {
		struct vdev_req *r = &p->reqs[first + i];

		p->rx_written[first + i] = fill(r, hdr, frame, total, &done);
		p->rx_batch[first + i] = r;
	}
	p->rx_nreq = first + n;
	p->rx_niov = pool;
	p->rx_nframes++;
	net_stat_add(p, ST_RX_PACKETS, 1);
	net_stat_add(p, ST_RX_BYTES, len);
	return DELIVERED;
}

/* True when it stopped for want of buffers (it then waits for a kick), on
 * a spent budget or after its NET_ROUND_FRAMES share: each needs a round
 * to go on, which the core provides when this runs inside one. */
bool net_rx_run(struct net_pair *p)
{
	struct net *n = p->n;
	struct net_backend *be = n->be;
	struct vdev_queue *q = vdev_get_queue(n->dev, rx_qidx(p));
	uint64_t features = vdev_features(n->dev);
	size_t hl = be->vnet_hdr ? NET_HDR_LEN : 0;
	bool need_round = false;
	unsigned frames = 0, delivered = 0;

	if (!pair_active(p)) {
		net_rx_watch(p, 0);
		return false;
	}
	refresh_filter(p);
	for (;;) {
		struct vdev_net_hdr hdr = { 0 };
		uint8_t *frame = p->rxbuf + hl;
		size_t len;
		enum deliver d;

		if (!p->rx_pending) {
			ssize_t got;

			if (frames >= NET_ROUND_FRAMES) {
				/* Let the other queues run, then come
				 * back: POLLIN is no promise of a next
				 * call, since a backend may hold whole
				 * frames it read already (a stream's
				 * buffer) with its fd empty, and one
				 * without an fd has nobody else to call
				 * us back. In a round that took buffers
				 * the core runs us again while the ring
				 * has more (and schedules once its budget
				 * is spent), so only a run outside one
				 * (rx_from_fd) or one that took none (runts,
				 * filtered frames: no progress the core
				 * can see) schedules: no eventfd write per
				 * 256 frames on the busy path. */
				if (!delivered)
					vdev_queue_schedule(n->dev,
							    rx_qidx(p));
				else
					need_round = true;
				break;
			}
			got = be->ops->recv(be, p->idx, p->rxbuf,
					    hl + NET_FRAME_MAX);
			if (got < 0) {
				/* -EAGAIN: wait for POLLIN; a broken backend
				 * is left alone (it says why itself). */
				net_rx_watch(p, got == -EAGAIN ? POLLIN : 0);
				break;
			}
			frames++;
			if ((size_t)got < hl + NET_ETH_HLEN) {
				net_stat_add(p, ST_RX_BAD, 1);
				continue;
			}
			p->rx_pending = got;
		}
		len = (size_t)p->rx_pending - hl;
		if (hl) {
			memcpy(&hdr, p->rxbuf, NET_HDR_LEN);
			if (!net_hdr_fix_rx(&hdr, features, frame, len)) {
				net_stat_add(p, ST_RX_BAD, 1);
				p->rx_pending = 0;
				continue;
			}
		}
		if (!net_filter_pass(&p->filt, frame, len)) {
			net_stat_add(p, ST_RX_FILTERED, 1);
			p->rx_pending = 0;
			continue;
		}
		d = deliver(p, q, features, &hdr, frame, len);
		if (d == FULL) {
			rx_flush(p, q);
			vdev_queue_notify(q);
			continue; /* the same frame, with the whole pool */
		}
		if (d == NO_ROOM || d == BUSY) {
			/* Keep the frame; stop reading until the driver
			 * gives buffers (its kick runs us again) or, on
			 * BUSY, the next round: in a round the core sees
			 * the spent budget and schedules one (or its
			 * poller comes back), without an eventfd write of
			 * ours; outside one, rx_from_fd schedules it. */
			net_rx_watch(p, 0);
			need_round = true;
			break;
		}
		p->rx_pending = 0;
		delivered += d == DELIVERED;
		if (d == DELIVERED && p->rx_nframes >= NET_RX_BATCH) {
			/* Signalled per batch, not once a round: a round
			 * reads up to NET_ROUND_FRAMES frames while the
			 * backend has more, and the driver (a TCP receiver)
			 * would sit idle meanwhile. The driver's event
			 * suppression keeps this from being an interrupt
			 * per batch while it is busy anyway. */
			rx_flush(p, q);
			vdev_queue_notify(q);
		}
	}
	if (p->rx_nreq) {
		rx_flush(p, q);
		vdev_queue_notify(q);
	}
	return need_round;
}

/*
 * rx run from the backend's fd, outside a round: kicks stay enabled, and
 * a pop that found too few buffers left avail_event written without the
 * fence and second look at the ring that make the driver's next kick
 * certain. A round does both (vq_round.c run_handler), so a wait for
 * buffers begun here goes through one, as does a frame held back by a
 * budget spent in the last round.
 */
static void rx_from_fd(struct net_pair *p)
{
	if (net_rx_run(p))
		vdev_queue_schedule(p->n->dev, rx_qidx(p));
}

void net_rx_event(void *arg, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	rx_from_fd(arg);
}

/* ---- transmit ---------------------------------------------------------- */

static int tx_one(struct net_pair *p, struct vdev_req *r, uint64_t features)
{
	struct net *n = p->n;
	struct net_backend *be = n->be;
	struct vdev_net_hdr h;
	size_t len;
	unsigned cnt = 0;
	enum net_hdr_verdict v;

	if (r->out_bytes < NET_HDR_LEN) {
		net_stat_add(p, ST_TX_BAD_LEN, 1);
		return -EINVAL;
	}
	/* Read once, into a private copy, whatever the layout. */
	if (r->out[0].iov_len >= NET_HDR_LEN)
		memcpy(&h, r->out[0].iov_base, NET_HDR_LEN);
	else
		vdev_iov_to_buf(r->out, r->nout, 0, &h, NET_HDR_LEN);
	len = r->out_bytes - NET_HDR_LEN;
	v = net_hdr_check_tx(&h, features, len, n->mtu);
	if (v != NET_HDR_OK) {
		net_stat_add(p, v == NET_HDR_BADLEN ? ST_TX_BAD_LEN :
						  ST_TX_BAD_HDR, 1);
		return -EINVAL;
	}
	h.num_buffers = vdev_cpu_to_le16(0);
	h.flags &= VDEV_NET_HDR_F_NEEDS_CSUM; /* net_hdr_check_tx() */
	if (be->vnet_hdr) {
		p->tx_send[cnt].iov_base = &h;
		p->tx_send[cnt++].iov_len = NET_HDR_LEN;
	}
	if ((h.flags & VDEV_NET_HDR_F_NEEDS_CSUM) && !be->vnet_hdr) {
		/* The backend takes only whole frames: complete the
		 * checksum in a private copy (the guest's buffer is
		 * read-only to us, and read once). */
		vdev_iov_to_buf(r->out, r->nout, NET_HDR_LEN, p->txbuf, len);
		net_csum_complete(p->txbuf, len,
				  vdev_le16_to_cpu(h.csum_start),
				  vdev_le16_to_cpu(h.csum_offset));
		p->tx_send[cnt].iov_base = p->txbuf;
		p->tx_send[cnt++].iov_len = len;
	} else {
		size_t skip = NET_HDR_LEN;

		for (unsigned i = 0; i < r->nout; i++) {
			size_t l = r->out[i].iov_len;

			if (skip >= l) {
				skip -= l;
				continue;
			}
			p->tx_send[cnt].iov_base =
				(uint8_t *)r->out[i].iov_base + skip;
			p->tx_send[cnt++].iov_len = l - skip;
			skip = 0;
		}
	}
	return be->ops->send(be, p->idx, p->tx_send, cnt,
			     len + (be->vnet_hdr ? NET_HDR_LEN : 0));
}

/* Pops up to NET_TX_BATCH chains into p->txr; their count (chains the
 * queue completed itself for too many iovecs are counted as runts). *more:
 * the ring may have more. */
static unsigned tx_pop(struct net_pair *p, struct vdev_queue *q, bool *more,
		       bool *pushed)
{
	unsigned n = 0, used = 0;

	*more = false;
	while (n < NET_TX_BATCH) {
		struct vdev_req *r = &p->txr[n];
		int ret;

		if (NET_TX_IOV_POOL - used < NET_IOV_MAX) {
			*more = true;
			break;
		}
		r->iov = p->tx_iov + used;
		r->iov_max = NET_IOV_MAX;
		ret = vdev_queue_pop(q, r);
		if (ret == -EMSGSIZE) {
			net_stat_add(p, ST_TX_BAD_LEN, 1);
			*pushed = true;
			continue;
		}
		if (ret < 0)
			return n;
		used += r->nout + r->nin;
		p->txp[n++] = r;
	}
	*more = true;
	return n;
}

/* The backend is full: tx waits for POLLOUT on its fd. False: there is
 * no fd to wait on. */
static bool tx_wait(struct net_pair *p)
{
	struct net *n = p->n;
	int fd = n->be->ops->tx_fd(n->be, p->idx);

	if (fd < 0 ||
	    vdev_watch_fd_events(n->dev, 2 * p->idx + 1, fd, POLLOUT) != 0)
		return false;
	p->tx_waiting = true;
	return true;
}

void net_tx_run(struct net_pair *p)
{
	struct net *n = p->n;
	struct vdev_queue *q = vdev_get_queue(n->dev, 2 * p->idx + 1);
	uint64_t features = vdev_features(n->dev);
	bool pushed = false, more = true;

	if (p->tx_waiting)
		return;
	while (more) {
		unsigned cnt = tx_pop(p, q, &more, &pushed), done = 0;
		uint64_t pkts = 0, bytes = 0, fails = 0;

		for (; done < cnt; done++) {
			struct vdev_req *r = p->txp[done];
			int ret = tx_one(p, r, features);

			if (ret == -EAGAIN) {
				if (tx_wait(p)) {
					/* The rest goes back, newest
					 * first, for when it can be sent. */
					for (unsigned i = cnt; i > done; i--)
						vdev_queue_unpop(q,
								 p->txp[i - 1]);
					more = false;
					break;
				}
				/* Nothing to wait on: drop it rather than
				 * spin. */
				fails++;
			} else if (ret == 0) {
				pkts++;
				bytes += r->out_bytes - NET_HDR_LEN;
			} else if (ret != -EINVAL) {
				fails++;
			}
		}
		if (pkts) {
			net_stat_add(p, ST_TX_PACKETS, pkts);
			net_stat_add(p, ST_TX_BYTES, bytes);
		}
		if (fails)
			net_stat_add(p, ST_TX_BACKEND, fails);
		if (done) {
			/* Per batch too (as rx): the guest frees sent
			 * buffers on this, and TCP's small-queue limit holds
			 * its sender back until it does. */
			vdev_queue_push_batch(q, p->txp, NULL, done);
			vdev_queue_notify(q);
		}
		if (!cnt)
			break;
	}
	/* A frame the backend sent in part waits for no next frame to push
	 * its rest out: the peer would wait for that rest for good. */
	if (!p->tx_waiting && n->be->ops->flush &&
	    n->be->ops->flush(n->be, p->idx) == -EAGAIN)
		tx_wait(p);
	if (pushed)
		vdev_queue_notify(q);
}

void net_tx_event(void *arg, int fd, uint32_t events)
{
	struct net_pair *p = arg;

	(void)events;
	vdev_watch_fd_events(p->n->dev, 2 * p->idx + 1, fd, 0);
	p->tx_waiting = false;
	net_tx_run(p);
}

void net_aux_event(void *arg, int fd, uint32_t events)
{
	struct net *n = arg;
	struct net_pair *p = &n->pair[0];
	int old[2] = { -1, -1 }, nfd;

	(void)fd;
	(void)events;
	if (n->be->ops->aux_event(n->be, old) != 1)
		return;
	if (old[0] >= 0) {
		vdev_unwatch_fd(n->dev, 0, old[0]);
		close(old[0]);
	}
	if (old[1] >= 0) {
		vdev_unwatch_fd(n->dev, 1, old[1]);
		close(old[1]);
	}
	/* A new peer: its fds are watched from now on. tx is woken once
	 * (a fresh socket is writable), which also ends a wait for
	 * POLLOUT on the old one. */
	nfd = n->be->ops->tx_fd(n->be, 0);
	if (nfd >= 0)
		vdev_watch_fd(n->dev, 1, nfd, POLLOUT, net_tx_event, p);
	p->rx_events = 0;
	nfd = n->be->ops->rx_fd(n->be, 0);
	if (nfd >= 0 && vdev_watch_fd(n->dev, 0, nfd, 0, net_rx_event, p) == 0)
		rx_from_fd(p);
}

/* ---- control queue ----------------------------------------------------- */

static uint8_t ctrl_one(struct net *n, const uint8_t *cmd, size_t len,
			uint64_t features)
{
	struct net_ctrl_effect eff;
	struct net_filter f;
	uint8_t ack;

	pthread_mutex_lock(&n->lock);
	f = n->filter;
	ack = net_ctrl_apply(&f, cmd, len, features, n->max_pairs, &eff);
	if (ack == VDEV_NET_OK && eff.offloads_set &&
	    n->be->ops->set_offload &&
	    n->be->ops->set_offload(n->be, eff.offloads) < 0)
		ack = VDEV_NET_ERR;
	if (ack == VDEV_NET_OK) {
		n->filter = f;
		__atomic_store_n(&n->filter_gen, n->filter_gen + 1,
				 __ATOMIC_RELEASE);
		if (eff.offloads_set)
			n->guest_offloads = eff.offloads;
	}
	pthread_mutex_unlock(&n->lock);
	if (ack != VDEV_NET_OK) {
		vdev_log(VDEV_LOG_DEBUG, "net: control %u.%u refused", cmd[0],
			 len > 1 ? cmd[1] : 0);
		return ack;
	}
	if (cmd[0] == VDEV_NET_CTRL_RX)
		vdev_log(VDEV_LOG_INFO, "net: rx mode promisc %s allmulti %s",
			 f.promisc ? "on" : "off", f.allmulti ? "on" : "off");
	if (eff.mac_changed) {
		uint8_t *cfg = vdev_config(n->dev);

		vdev_config_lock(n->dev);
		memcpy(cfg, f.mac, 6);
		vdev_config_unlock(n->dev);
	}
	if (eff.announce_ack)
		net_status_update(n, 0, VDEV_NET_S_ANNOUNCE);
	if (eff.pairs)
		net_pairs_apply(n, eff.pairs);
	return ack;
}

void net_ctrl_run(struct net *n, struct vdev_queue *q)
{
	uint64_t features = vdev_features(n->dev);
	struct iovec iov[64];
	bool pushed = false;

	for (;;) {
		struct vdev_req r = { .iov = iov, .iov_max = 64 };
		int ret = vdev_queue_pop(q, &r);
		uint8_t ack = VDEV_NET_ERR;

		if (ret == -EMSGSIZE) {
			pushed = true;
			continue;
		}
		if (ret < 0)
			break;
		pushed = true;
		if (!r.in_bytes) {
			/* Nowhere to put the ack: the command is ignored. */
			vdev_queue_push(q, &r, 0);
			continue;
		}
		if (r.out_bytes >= 2 && r.out_bytes <= NET_CTRL_MAX) {
			size_t len = vdev_iov_to_buf(r.out, r.nout, 0,
						     n->ctrl_buf, r.out_bytes);

			ack = ctrl_one(n, n->ctrl_buf, len, features);
		}
		vdev_iov_from_buf(r.in, r.nin, 0, &ack, 1);
		vdev_queue_push(q, &r, 1);
	}
	if (pushed)
		vdev_queue_notify(q);
}
