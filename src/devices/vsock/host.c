/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The host side: Firecracker's hybrid Unix sockets (a listener at
 * uds_path taking "CONNECT <port>\n", connections out to uds_path_<port>)
 * and the byte moving between host sockets and the guest. Every socket is
 * non-blocking and watched on the rx queue's thread; POLLOUT only while
 * bytes wait for the host, POLLIN only while the guest has credit.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <virtio/iov.h>

#include "vsock_internal.h"

static int uds_addr(struct sockaddr_un *sa, const char *path, const char *sfx)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s%s", path, sfx);
	return n < 0 || (size_t)n >= sizeof(sa->sun_path) ? -ENAMETOOLONG : 0;
}

int vsock_host_listen(struct vsock *v)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, r;

	r = uds_addr(&sa, v->uds_path, "");
	if (r < 0)
		return r;
	/* A socket file left by a dead daemon is replaced; a live one is
	 * somebody's. */
	if (lstat(sa.sun_path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(fd);
			return -EADDRINUSE;
		}
		if (fd >= 0)
			close(fd);
		unlink(sa.sun_path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, SOMAXCONN) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = vdev_watch_fd(v->dev, VSOCK_RXQ, fd, POLLIN, vsock_fd_event, v);
	if (r < 0) {
		close(fd);
		unlink(sa.sun_path);
		return r;
	}
	v->lfd = fd;
	return 0;
}

void vsock_host_close(struct vsock *v)
{
	struct sockaddr_un sa;

	if (v->lfd < 0)
		return;
	vdev_unwatch_fd(v->dev, VSOCK_RXQ, v->lfd);
	close(v->lfd);
	v->lfd = -1;
	if (uds_addr(&sa, v->uds_path, "") == 0)
		unlink(sa.sun_path);
}

int vsock_host_connect(struct vsock *v, uint32_t port, uint16_t type)
{
	struct sockaddr_un sa;
	char sfx[16];
	int fd;

	snprintf(sfx, sizeof(sfx), "_%u", port);
	if (uds_addr(&sa, v->uds_path, sfx) < 0)
		return -1;
	fd = socket(AF_UNIX,
		    (type == VDEV_VSOCK_TYPE_SEQPACKET ? SOCK_SEQPACKET :
							 SOCK_STREAM) |
			    SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -1;
	/* A Unix connect completes at once or fails (EAGAIN: the
	 * listener's backlog is full): never waits. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		vdev_log(VDEV_LOG_DEBUG, "vsock: connect %s: %s", sa.sun_path,
			 strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static bool host_port_in_use(void *arg, uint32_t port)
{
	struct vsock *v = arg;

	for (struct conn *c = v->all; c; c = c->next)
		if (c->peer_cid == VDEV_VSOCK_CID_HOST && c->local_port == port)
			return true;
	return false;
}

static void accept_all(struct vsock *v)
{
	for (int i = 0; i < 64; i++) {
		int fd = accept4(v->lfd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct conn *c;

		if (fd < 0)
			return;
		/* The port is known once the line is read; 0 until then
		 * keeps it out of the guest's way. */
		c = vsock_conn_new(v, fd, VDEV_VSOCK_CID_HOST, 0, 0,
				   VDEV_VSOCK_TYPE_STREAM, C_HANDSHAKE);
		if (!c) {
			vdev_log(VDEV_LOG_DEBUG,
				 "vsock: host connection refused: %s",
				 strerror(errno));
			close(fd);
			continue;
		}
		vsock_conn_watch(v, c);
	}
}

/* Parses "<word> <u32>" exactly. */
static bool parse_line(const char *s, const char *word, uint32_t *val)
{
	size_t wl = strlen(word);
	uint64_t n = 0;

	if (strncmp(s, word, wl) || s[wl] != ' ' || !s[wl + 1])
		return false;
	for (s += wl + 1; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
		n = n * 10 + (uint64_t)(*s - '0');
		if (n > UINT32_MAX)
			return false;
	}
	*val = (uint32_t)n;
	return true;
}

/*
 * Reads the first line of @c, byte-exact: the bytes after the newline
 * belong to the connection. 1 when the whole line is in c->line (without
 * its newline), 0 for more to come, -1 for EOF, error or a line too long.
 */
static int read_line(struct conn *c)
{
	char buf[VSOCK_LINE_MAX];
	ssize_t n;
	size_t take;
	char *nl;

	n = recv(c->fd, buf, sizeof(buf) - 1 - c->line_len,
		 MSG_PEEK | MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (n == 0)
		return -1;
	nl = memchr(buf, '\n', (size_t)n);
	take = nl ? (size_t)(nl - buf) + 1 : (size_t)n;
	if (c->type == VDEV_VSOCK_TYPE_SEQPACKET)
		take = (size_t)n; /* one message: the whole line */
	if (recv(c->fd, c->line + c->line_len, take, MSG_DONTWAIT) !=
	    (ssize_t)take)
		return -1;
	c->line_len += (unsigned)take;
	if (!nl)
		return c->line_len >= VSOCK_LINE_MAX - 1 ? -1 : 0;
	c->line[c->line_len - (c->type == VDEV_VSOCK_TYPE_SEQPACKET ?
				       (unsigned)(n - (nl - buf)) : 1)] = 0;
	return 1;
}

static void handshake(struct vsock *v, struct conn *c)
{
	uint32_t port, local;
	int r = read_line(c);

	if (r == 0)
		return;
	if (r < 0 || !parse_line(c->line, "CONNECT", &port) ||
	    !vsock_port_alloc(&v->next_port, host_port_in_use, v,
			      v->conn_max + 1, &local)) {
		vsock_conn_kill(v, c, false);
		return;
	}
	vsock_conn_rekey(v, c, local, port);
	c->st = C_REQUESTED;
	c->pend |= P_REQUEST;
	vsock_conn_ready(v, c);
}

static void sib_wait(struct vsock *v, struct conn *c)
{
	uint32_t port;
	int r = read_line(c);

	if (r == 0)
		return;
	if (r < 0 || !parse_line(c->line, "OK", &port)) {
		vsock_conn_kill(v, c, true);
		return;
	}
	c->st = C_ESTABLISHED;
	c->pend |= P_RESPONSE;
	vsock_conn_ready(v, c);
}

void vsock_fd_event(void *arg, int fd, uint32_t events)
{
	struct vsock *v = arg;
	struct conn *c;

	pthread_mutex_lock(&v->mu);
	if (fd == v->lfd) {
		accept_all(v);
		goto out;
	}
	c = vsock_conn_by_fd(v, fd);
	if (!c)
		goto out; /* an fd number reused meanwhile */
	if (events & (POLLHUP | POLLERR))
		c->hup = true;
	if (events & POLLOUT) {
		if (vsock_flush(v, c) < 0) {
			vsock_conn_kill(v, c, true);
			goto out;
		}
		vsock_after_flush(v, c);
		c = vsock_conn_by_fd(v, fd);
		if (!c)
			goto out;
	}
	if (events & (POLLIN | POLLHUP | POLLERR)) {
		if (c->st == C_HANDSHAKE) {
			handshake(v, c);
			goto out;
		}
		if (c->st == C_SIB_WAIT) {
			sib_wait(v, c);
			c = vsock_conn_by_fd(v, fd);
			if (!c)
				goto out;
		} else if (c->st == C_ESTABLISHED) {
			c->readable = true;
		}
		if (vsock_conn_has_work(v, c))
			vsock_conn_ready(v, c);
	}
	vsock_conn_watch(v, c);
out:
	vsock_rx_run(v);
	pthread_mutex_unlock(&v->mu);
}

/* ---- guest to host ------------------------------------------------------ */

static int obuf_room(struct vsock *v, struct conn *c, uint32_t len)
{
	/* The guest's credit bounds what waits here. */
	uint32_t cap = v->buf_size;

	if (c->olen + len > cap)
		return -ENOBUFS;
	if (!c->obuf) {
		c->obuf = malloc(cap);
		if (!c->obuf)
			return -ENOMEM;
		c->ocap = cap;
		c->ohead = 0;
	}
	if (c->ohead + c->olen + len > c->ocap) {
		memmove(c->obuf, c->obuf + c->ohead, c->olen);
		c->ohead = 0;
	}
	return 0;
}

int vsock_out_append(struct vsock *v, struct conn *c, const struct iovec *iov,
		     unsigned cnt, size_t skip, const void *buf, uint32_t len)
{
	uint8_t *dst;
	int r;

	if (!len)
		return 0;
	/* Stream with nothing waiting: straight from guest memory to the
	 * socket, the rest (if any) is buffered below. */
	if (iov && c->type == VDEV_VSOCK_TYPE_STREAM && !c->olen &&
	    c->st == C_ESTABLISHED) {
		struct iovec sub[64];
		unsigned n = 0;
		size_t off = skip, left = len;
		struct msghdr mh = { 0 };
		ssize_t w;

		for (unsigned i = 0; i < cnt && left && n < 64; i++) {
			if (off >= iov[i].iov_len) {
				off -= iov[i].iov_len;
				continue;
			}
			sub[n].iov_base = (uint8_t *)iov[i].iov_base + off;
			sub[n].iov_len = iov[i].iov_len - off;
			if (sub[n].iov_len > left)
				sub[n].iov_len = left;
			left -= sub[n].iov_len;
			off = 0;
			n++;
		}
		mh.msg_iov = sub;
		mh.msg_iovlen = n;
		w = sendmsg(c->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -EPIPE;
		if (w > 0) {
			c->fwd_cnt += (uint32_t)w;
			skip += (size_t)w;
			len -= (uint32_t)w;
			if (!len)
				return 0;
		}
	}
	r = obuf_room(v, c, len);
	if (r < 0)
		return r;
	dst = c->obuf + c->ohead + c->olen;
	if (iov) {
		if (vdev_iov_to_buf(iov, cnt, skip, dst, len) != len)
			return -EINVAL;
	} else {
		memcpy(dst, buf, len);
	}
	c->olen += len;
	if (c->type == VDEV_VSOCK_TYPE_SEQPACKET)
		c->mcur += len;
	return 0;
}

int vsock_out_eom(struct vsock *v, struct conn *c)
{
	(void)v;
	if (!c->mlen) {
		c->mlen = calloc(VSOCK_MSGS_MAX, sizeof(*c->mlen));
		if (!c->mlen)
			return -ENOMEM;
	}
	if (c->mcount == VSOCK_MSGS_MAX)
		return -ENOBUFS;
	c->mlen[(c->mhead + c->mcount) % VSOCK_MSGS_MAX] = c->mcur;
	c->mcount++;
	c->mcur = 0;
	return 0;
}

int vsock_flush(struct vsock *v, struct conn *c)
{
	(void)v;
	if (c->type == VDEV_VSOCK_TYPE_SEQPACKET) {
		while (c->mcount) {
			uint32_t m = c->mlen[c->mhead];
			ssize_t w = send(c->fd, c->obuf + c->ohead, m,
					 MSG_DONTWAIT | MSG_NOSIGNAL);

			if (w < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				return -EPIPE;
			}
			c->ohead += m;
			c->olen -= m;
			c->fwd_cnt += m;
			c->drained_credit = true;
			c->mhead = (c->mhead + 1) % VSOCK_MSGS_MAX;
			c->mcount--;
		}
	} else {
		while (c->olen) {
			ssize_t w = send(c->fd, c->obuf + c->ohead, c->olen,
					 MSG_DONTWAIT | MSG_NOSIGNAL);

			if (w < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				return -EPIPE;
			}
			c->ohead += (uint32_t)w;
			c->olen -= (uint32_t)w;
			c->fwd_cnt += (uint32_t)w;
			c->drained_credit = true;
		}
	}
	if (!c->olen) {
		c->ohead = 0;
		if (!c->mcur && c->obuf) {
			/* Idle connections hold no buffer. */
			free(c->obuf);
			c->obuf = NULL;
			c->ocap = 0;
		}
	}
	vsock_conn_watch(v, c);
	return 0;
}

/* ---- host to guest ------------------------------------------------------ */

unsigned vsock_sub_iov(const struct iovec *iov, unsigned cnt, size_t skip,
		       size_t len, struct iovec *out, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < cnt && len && n < max; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		out[n].iov_base = (uint8_t *)iov[i].iov_base + skip;
		out[n].iov_len = iov[i].iov_len - skip;
		if (out[n].iov_len > len)
			out[n].iov_len = len;
		len -= out[n].iov_len;
		skip = 0;
		n++;
	}
	return n;
}

static int host_eof(struct vsock *v, struct conn *c)
{
	(void)v;
	c->host_eof = true;
	c->readable = false;
	c->pend |= P_SHUTDOWN;
	return 0;
}

int vsock_host_read(struct vsock *v, struct conn *c, const struct iovec *iov,
		    unsigned cnt, uint32_t max, uint32_t *flags)
{
	struct iovec sub[64];
	struct msghdr mh = { 0 };
	ssize_t n;

	*flags = 0;
	if (!max)
		return 0;
	if (c->type == VDEV_VSOCK_TYPE_SEQPACKET) {
		uint32_t take;

		if (c->ilen == c->ioff) {
			/* The next message, whole: its size first. */
			n = recv(c->fd, NULL, 0,
				 MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR) {
					c->readable = false;
					return 0;
				}
				return -EPIPE;
			}
			if (n == 0)
				return host_eof(v, c); /* see vsock.h */
			if ((size_t)n > v->buf_size) {
				vdev_log(VDEV_LOG_WARN,
					 "vsock: host message of %zd bytes "
					 "over %u: connection reset",
					 n, v->buf_size);
				return -EPIPE;
			}
			if (!c->ibuf) {
				c->ibuf = malloc(v->buf_size);
				if (!c->ibuf)
					return -EPIPE;
			}
			n = recv(c->fd, c->ibuf, v->buf_size, MSG_DONTWAIT);
			if (n <= 0)
				return n == 0 ? host_eof(v, c) : -EPIPE;
			c->ioff = 0;
			c->ilen = (uint32_t)n;
		}
		take = c->ilen - c->ioff;
		if (take > max)
			take = max;
		vdev_iov_from_buf(iov, cnt, VSOCK_HDR_LEN, c->ibuf + c->ioff,
				  take);
		c->ioff += take;
		if (c->ioff == c->ilen) {
			*flags = VDEV_VSOCK_SEQ_EOM;
			c->ioff = c->ilen = 0;
		}
		return (int)take;
	}
	mh.msg_iov = sub;
	mh.msg_iovlen = vsock_sub_iov(iov, cnt, VSOCK_HDR_LEN, max, sub, 64);
	n = recvmsg(c->fd, &mh, MSG_DONTWAIT);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR) {
			c->readable = false;
			return 0;
		}
		return -EPIPE;
	}
	if (n == 0)
		return host_eof(v, c);
	return (int)n;
}

int vsock_send_ok(struct conn *c)
{
	char ok[VSOCK_LINE_MAX];
	int n = snprintf(ok, sizeof(ok), "OK %u\n", c->local_port);

	return send(c->fd, ok, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) == n ?
		       0 : -EPIPE;
}
