/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * UNIX socket backends, framed as QEMU's netdevs so a guest of ours and a
 * QEMU guest (or passt) can share a wire without root:
 *  - stream: each frame preceded by its length, 4 bytes big-endian
 *    (QEMU's -netdev stream and socket); connecting to a path, listening
 *    on one (one peer at a time; a new one is taken once the old one is
 *    gone), or a connected fd;
 *  - dgram: one frame per datagram (-netdev dgram); bound to a path and
 *    sending to a remote path, or a connected fd (a socketpair end).
 *
 * The peer is hostile too: a length over NET_FRAME_MAX ends the
 * connection, and nothing on the socket may block (a peer that stops
 * reading makes tx wait for POLLOUT with one partial frame kept here,
 * which sock_flush finishes when no frame follows to push it out).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "net_internal.h"

#define SOCK_IN_MAX (4 + NET_FRAME_MAX)

struct sock {
	struct net_backend b;
	bool stream;
	int lfd;          /* listening socket, or -1 */
	char lpath[sizeof(((struct sockaddr_un *)0)->sun_path)];
	pthread_mutex_t lock; /* fd, txfd, out against tx and accept */
	int fd, txfd;     /* the connection (or bound dgram socket) */
	bool dead;        /* the peer went away or broke the framing */
	uint8_t *in;      /* stream: bytes read, not yet a whole frame */
	size_t in_len;
	uint8_t *out;     /* stream: the rest of a frame half sent */
	size_t out_len, out_off;
	struct sockaddr_un remote;
	socklen_t remote_len;
};

static int fill_addr(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(a->sun_path))
		return -ENAMETOOLONG;
	strcpy(a->sun_path, path);
	return 0;
}

/* Sends what is left of a half-sent frame: 0 when nothing is left. */
static int flush_out(struct sock *s)
{
	while (s->out_off < s->out_len) {
		ssize_t n = send(s->fd, s->out + s->out_off,
				 s->out_len - s->out_off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return -EAGAIN;
			s->dead = true;
			return -errno;
		}
		s->out_off += (size_t)n;
	}
	s->out_len = s->out_off = 0;
	return 0;
}

static int stream_send(struct sock *s, const struct iovec *iov,
		       unsigned cnt, size_t len)
{
	struct iovec v[NET_IOV_MAX + 2];
	uint8_t be32[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16),
			    (uint8_t)(len >> 8), (uint8_t)len };
	struct msghdr m = { .msg_iov = v, .msg_iovlen = cnt + 1 };
	size_t total = len + 4, sent;
	ssize_t n;
	int err;

	err = flush_out(s);
	if (err)
		return err;
	v[0].iov_base = be32;
	v[0].iov_len = 4;
	memcpy(v + 1, iov, cnt * sizeof(*iov));
	n = sendmsg(s->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return -EAGAIN;
		s->dead = true;
		return -errno;
	}
	sent = (size_t)n;
	if (sent == total)
		return 0;
	/* Keep the rest: a frame once started is finished before any
	 * other, or the stream loses its framing. */
	s->out_len = 0;
	s->out_off = 0;
	for (unsigned i = 0; i <= cnt; i++) {
		size_t l = v[i].iov_len;
		const uint8_t *p = v[i].iov_base;

		if (sent >= l) {
			sent -= l;
			continue;
		}
		memcpy(s->out + s->out_len, p + sent, l - sent);
		s->out_len += l - sent;
		sent = 0;
	}
	return 0;
}

static int sock_send(struct net_backend *b, unsigned pair,
		     const struct iovec *iov, unsigned cnt, size_t len)
{
	struct sock *s = (struct sock *)b;
	int ret;

	(void)pair;
	pthread_mutex_lock(&s->lock);
	if (s->fd < 0 || s->dead) {
		ret = -ENOTCONN;
	} else if (s->stream) {
		ret = stream_send(s, iov, cnt, len);
	} else {
		struct msghdr m = {
			.msg_iov = (struct iovec *)iov,
			.msg_iovlen = cnt,
			.msg_name = s->remote_len ? &s->remote : NULL,
			.msg_namelen = s->remote_len,
		};

		ret = sendmsg(s->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 ?
			      (errno == EAGAIN ? -EAGAIN : -errno) :
			      0;
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

static int sock_flush(struct net_backend *b, unsigned pair)
{
	struct sock *s = (struct sock *)b;
	int ret = 0;

	(void)pair;
	pthread_mutex_lock(&s->lock);
	if (s->fd >= 0 && !s->dead && s->stream)
		ret = flush_out(s);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

static ssize_t stream_recv(struct sock *s, uint8_t *buf, size_t cap)
{
	for (;;) {
		ssize_t n;

		if (s->in_len >= 4) {
			size_t flen = (size_t)s->in[0] << 24 |
				      (size_t)s->in[1] << 16 |
				      (size_t)s->in[2] << 8 | s->in[3];

			if (flen > NET_FRAME_MAX || flen > cap) {
				s->dead = true;
				return -EPROTO;
			}
			if (s->in_len >= 4 + flen) {
				memcpy(buf, s->in + 4, flen);
				memmove(s->in, s->in + 4 + flen,
					s->in_len - 4 - flen);
				s->in_len -= 4 + flen;
				return (ssize_t)flen;
			}
		}
		n = recv(s->fd, s->in + s->in_len, SOCK_IN_MAX - s->in_len,
			 MSG_DONTWAIT);
		if (n == 0) {
			s->dead = true;
			return -EPIPE;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return -EAGAIN;
			s->dead = true;
			return -errno;
		}
		s->in_len += (size_t)n;
	}
}

static ssize_t sock_recv(struct net_backend *b, unsigned pair, void *buf,
			 size_t cap)
{
	struct sock *s = (struct sock *)b;
	ssize_t n;

	(void)pair;
	/* fd changes only on this thread (accept runs here too). */
	if (s->fd < 0 || s->dead)
		return -ENOTCONN;
	if (s->stream)
		return stream_recv(s, buf, cap);
	n = recv(s->fd, buf, cap, MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? -EAGAIN : -errno;
	/* Longer than any frame: counted as a bad one (0 bytes). */
	return (size_t)n > cap ? 0 : n;
}

static int sock_rx_fd(struct net_backend *b, unsigned pair)
{
	(void)pair;
	return ((struct sock *)b)->fd;
}

static int sock_tx_fd(struct net_backend *b, unsigned pair)
{
	(void)pair;
	return ((struct sock *)b)->txfd;
}

static int sock_aux_fd(struct net_backend *b)
{
	return ((struct sock *)b)->lfd;
}

static int sock_aux_event(struct net_backend *b, int old[2])
{
	struct sock *s = (struct sock *)b;
	int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	int txfd;

	if (fd < 0)
		return 0;
	if (s->fd >= 0 && !s->dead) {
		close(fd); /* one peer at a time */
		return 0;
	}
	txfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (txfd < 0) {
		close(fd);
		return 0;
	}
	pthread_mutex_lock(&s->lock);
	old[0] = s->fd;
	old[1] = s->txfd;
	s->fd = fd;
	s->txfd = txfd;
	s->dead = false;
	s->in_len = s->out_len = s->out_off = 0;
	pthread_mutex_unlock(&s->lock);
	return 1;
}

static void sock_free(struct net_backend *b)
{
	struct sock *s = (struct sock *)b;

	if (s->fd >= 0)
		close(s->fd);
	if (s->txfd >= 0)
		close(s->txfd);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->lpath[0])
		unlink(s->lpath); /* bound here: ours */
	pthread_mutex_destroy(&s->lock);
	free(s->in);
	free(s->out);
	free(s);
}

static const struct net_backend_ops sock_ops = {
	.send = sock_send,
	.recv = sock_recv,
	.rx_fd = sock_rx_fd,
	.tx_fd = sock_tx_fd,
	.flush = sock_flush,
	.aux_fd = sock_aux_fd,
	.aux_event = sock_aux_event,
	.free = sock_free,
};

static int sock_open(struct sock *s, const struct vdev_net_config *cfg)
{
	struct sockaddr_un a;
	struct stat st;
	int type = s->stream ? SOCK_STREAM : SOCK_DGRAM, err, t;
	socklen_t tl = sizeof(t);

	if (cfg->use_fd) {
		s->fd = cfg->fd;
		if (getsockopt(s->fd, SOL_SOCKET, SO_TYPE, &t, &tl) < 0)
			return -errno;
		if (s->stream ? t != SOCK_STREAM :
				t != SOCK_DGRAM && t != SOCK_SEQPACKET)
			return -EINVAL;
		return fcntl(s->fd, F_SETFL,
			     fcntl(s->fd, F_GETFL) | O_NONBLOCK) < 0 ? -errno :
								      0;
	}
	if (!cfg->path)
		return -EINVAL;
	err = fill_addr(&a, cfg->path);
	if (err)
		return err;
	if (!s->stream && cfg->remote) {
		err = fill_addr(&s->remote, cfg->remote);
		if (err)
			return err;
		s->remote_len = sizeof(s->remote);
	}
	t = socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (t < 0)
		return -errno;
	if (s->stream && !cfg->listen) {
		s->fd = t;
		/* A UNIX connect completes or fails at once. */
		return connect(t, (struct sockaddr *)&a, sizeof(a)) < 0 ?
			       -errno : 0;
	}
	/* A stale socket file of an earlier run is replaced; anything
	 * else at the path is not ours to remove. */
	if (lstat(cfg->path, &st) == 0 && S_ISSOCK(st.st_mode))
		unlink(cfg->path);
	if (bind(t, (struct sockaddr *)&a, sizeof(a)) < 0) {
		err = -errno;
		close(t);
		return err;
	}
	snprintf(s->lpath, sizeof(s->lpath), "%s", cfg->path);
	if (!s->stream) {
		s->fd = t;
		return 0;
	}
	s->lfd = t;
	if (listen(t, 1) < 0)
		return -errno;
	return 0;
}

struct net_backend *net_sock_new(const struct vdev_net_config *cfg)
{
	struct sock *s = calloc(1, sizeof(*s));
	int err;

	if (!s) {
		if (cfg->use_fd)
			close(cfg->fd);
		return NULL;
	}
	s->b.ops = &sock_ops;
	s->b.pairs = 1;
	s->stream = cfg->backend == VDEV_NET_STREAM;
	s->fd = s->txfd = s->lfd = -1;
	pthread_mutex_init(&s->lock, NULL);
	err = sock_open(s, cfg);
	if (!err && s->stream) {
		s->in = malloc(SOCK_IN_MAX);
		s->out = malloc(4 + NET_FRAME_MAX);
		if (!s->in || !s->out)
			err = -ENOMEM;
	}
	if (!err && s->fd >= 0) {
		s->txfd = fcntl(s->fd, F_DUPFD_CLOEXEC, 3);
		if (s->txfd < 0)
			err = -errno;
	}
	if (err) {
		sock_free(&s->b);
		errno = -err;
		return NULL;
	}
	return &s->b;
}
