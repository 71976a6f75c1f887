/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reading and writing vhost-user messages. Every fd that arrives is
 * received close-on-exec and counted; on any error all of them are closed,
 * so a malformed message never leaks one.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer/peer_io.h"
#include "vhu_internal.h"

/* Room for more fds than any request may carry, so "too many" is seen and
 * counted instead of silently truncated. */
#define VHU_RECV_FDS (2 * VHU_MAX_FDS)

/* Longest time one message may take to arrive or to leave, all of it. */
int vhu_stall_timeout_ms = 5000;

static void take_fds(struct msghdr *mh, int *fds, unsigned *nfds,
		     bool *overflow);

static void close_all(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/*
 * Reads exactly @len bytes (fewer only at end of stream); fds go to @fds.
 * Returns bytes read, or negative errno (-ETIMEDOUT: the peer stalled past
 * @deadline). *nfds is increased for every fd, even those beyond @max
 * (they are closed at once, *overflow set).
 */
static ssize_t recv_part(int sock, void *buf, size_t len, int *fds,
			 unsigned *nfds, bool *overflow, uint64_t deadline)
{
	union {
		char buf[CMSG_SPACE(VHU_RECV_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	size_t got = 0;
	ssize_t n;

	/* A frontend that stops in the middle of a message, or trickles it
	 * a byte at a time, must not hold the control thread (and a
	 * daemon's shutdown): the whole message arrives by the deadline or
	 * the connection is dropped. */
	while (got < len) {
		int pr = vpeer_wait(sock, POLLIN, deadline, -1);

		if (pr < 0)
			return pr;
		iov.iov_base = (uint8_t *)buf + got;
		iov.iov_len = len - got;
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && (errno == EINTR || errno == EAGAIN ||
			      errno == EWOULDBLOCK))
			continue;
		if (n < 0)
			return -errno;
		take_fds(&mh, fds, nfds, overflow);
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Moves the SCM_RIGHTS fds of @mh to @fds; see recv_part. */
static void take_fds(struct msghdr *mh, int *fds, unsigned *nfds,
		     bool *overflow)
{
	if (mh->msg_flags & MSG_CTRUNC)
		*overflow = true;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c;
	     c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		unsigned cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int got[VHU_RECV_FDS];

		if (cnt > VHU_RECV_FDS)
			cnt = VHU_RECV_FDS;
		memcpy(got, CMSG_DATA(c), cnt * sizeof(int));
		for (unsigned i = 0; i < cnt; i++) {
			if (*nfds < VHU_MAX_FDS) {
				fds[(*nfds)++] = got[i];
			} else {
				close(got[i]);
				*overflow = true;
			}
		}
	}
}

int vhu_msg_recv(int sock, struct vhu_msg *m)
{
	uint64_t deadline = vpeer_deadline(vhu_stall_timeout_ms);
	struct vhu_hdr hdr;
	bool overflow = false;
	ssize_t n;

	memset(m, 0, offsetof(struct vhu_msg, p));
	m->nfds = 0;
	n = recv_part(sock, &hdr, sizeof(hdr), m->fds, &m->nfds, &overflow,
		      deadline);
	if (n == 0) {
		vhu_msg_close_fds(m);
		return -ECONNRESET;
	}
	if (n < 0 || (size_t)n != sizeof(hdr)) {
		vhu_msg_close_fds(m);
		return n < 0 ? (int)n : -EPROTO;
	}
	m->request = hdr.request;
	m->flags = hdr.flags;
	m->size = hdr.size;
	if (m->size > VHU_MAX_PAYLOAD) {
		/* The stream cannot be resynchronised: give up on it. */
		vhu_msg_close_fds(m);
		return -EPROTO;
	}
	if (m->size) {
		n = recv_part(sock, m->p.bytes, m->size, m->fds, &m->nfds,
			      &overflow, deadline);
		if (n < 0 || (size_t)n != m->size) {
			vhu_msg_close_fds(m);
			return n < 0 ? (int)n : -EMSGSIZE;
		}
	}
	if (m->size < sizeof(m->p))
		memset(m->p.bytes + m->size, 0, sizeof(m->p) - m->size);
	if (overflow) {
		/* More fds than any request carries: count them as such. */
		m->nfds = VHU_MAX_FDS + 1;
	}
	return 0;
}

/*
 * After a send failed with errno: 0 to retry (EINTR, or room appeared
 * before @deadline), else the error. A peer that stops reading, or reads
 * a byte at a time, must not hold the sender (the control thread, or a
 * queue worker on the back-end channel) past the message's deadline.
 */
static int send_wait(int sock, uint64_t deadline)
{
	int pr;

	if (errno == EINTR)
		return 0;
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		return -errno;
	pr = vpeer_wait(sock, POLLOUT, deadline, -1);
	return pr < 0 ? pr : 0;
}

int vhu_msg_send(int sock, const struct vhu_msg *m, const int *fds,
		 unsigned nfds)
{
	union {
		char buf[CMSG_SPACE(VHU_MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct vhu_hdr hdr = {
		.request = m->request,
		.flags = m->flags,
		.size = m->size,
	};
	struct iovec iov[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)m->p.bytes, .iov_len = m->size },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	size_t total = sizeof(hdr) + m->size;
	uint64_t deadline = vpeer_deadline(vhu_stall_timeout_ms);
	ssize_t n;
	int ret;

	if (nfds > VHU_MAX_FDS || m->size > VHU_MAX_PAYLOAD)
		return -EINVAL;
	if (nfds) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	for (;;) {
		n = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0)
			break;
		ret = send_wait(sock, deadline);
		if (ret)
			return ret;
	}
	/* A stream socket may take part of it; send the rest without fds. */
	size_t done = (size_t)n;

	while (done < total) {
		const uint8_t *src;
		size_t left;

		if (done < sizeof(hdr)) {
			src = (const uint8_t *)&hdr + done;
			left = sizeof(hdr) - done;
		} else {
			src = m->p.bytes + (done - sizeof(hdr));
			left = total - done;
		}
		n = send(sock, src, left, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			ret = send_wait(sock, deadline);
			if (ret)
				return ret;
			continue;
		}
		if (n == 0)
			return -EPIPE;
		done += (size_t)n;
	}
	return 0;
}

void vhu_msg_close_fds(struct vhu_msg *m)
{
	close_all(m->fds, m->nfds > VHU_MAX_FDS ? VHU_MAX_FDS : m->nfds);
	m->nfds = 0;
}

int vhu_msg_take_fd(struct vhu_msg *m, unsigned i)
{
	int fd;

	if (i >= m->nfds || i >= VHU_MAX_FDS)
		return -1;
	fd = m->fds[i];
	m->fds[i] = -1;
	return fd;
}
