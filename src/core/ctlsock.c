/* SPDX-License-Identifier: BSD-3-Clause */
/* The control socket of simulated backends: see ctlsock.h. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/ctlsock.h"

struct vctl_conn {
	int fd;
	size_t len;
	char buf[VCTL_LINE_MAX];
};

struct vctl {
	int listen_fd;
	char *path;
	struct vdev *dev;
	unsigned qidx;
	vctl_cmd_fn fn;
	void *arg;
	struct vctl_conn conns[VCTL_CONNS];
};

static void say(int fd, const char *msg)
{
	if (send(fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
		/* the connection closes anyway */
	}
}

static void conn_close(struct vctl *c, struct vctl_conn *k)
{
	vdev_unwatch_fd(c->dev, c->qidx, k->fd);
	close(k->fd);
	k->fd = -1;
	k->len = 0;
}

/* Runs every complete line; false when the connection was closed. */
static bool run_lines(struct vctl *c, struct vctl_conn *k)
{
	char *nl;

	while ((nl = memchr(k->buf, '\n', k->len))) {
		char reply[VCTL_LINE_MAX];
		size_t used = (size_t)(nl - k->buf) + 1;
		size_t rl;

		*nl = 0;
		if (nl > k->buf && nl[-1] == '\r')
			nl[-1] = 0;
		reply[0] = 0;
		c->fn(c->arg, k->buf, reply, sizeof(reply) - 1);
		rl = strnlen(reply, sizeof(reply) - 1);
		reply[rl++] = '\n';
		if (send(k->fd, reply, rl, MSG_DONTWAIT | MSG_NOSIGNAL) !=
		    (ssize_t)rl) {
			conn_close(c, k); /* not reading its replies */
			return false;
		}
		memmove(k->buf, k->buf + used, k->len - used);
		k->len -= used;
	}
	return true;
}

static void serve_conn(struct vctl *c, struct vctl_conn *k)
{
	for (;;) {
		ssize_t n = recv(k->fd, k->buf + k->len,
				 sizeof(k->buf) - k->len, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			conn_close(c, k);
			return;
		}
		k->len += (size_t)n;
		if (!run_lines(c, k))
			return;
		if (k->len == sizeof(k->buf)) {
			say(k->fd, "err line too long\n");
			conn_close(c, k);
			return;
		}
	}
}

static void conn_ready(void *arg, int fd, uint32_t events)
{
	struct vctl *c = arg;

	for (unsigned i = 0; i < VCTL_CONNS; i++) {
		if (c->conns[i].fd == fd) {
			serve_conn(c, &c->conns[i]);
			return;
		}
	}
}

static void accept_ready(void *arg, int fd, uint32_t events)
{
	struct vctl *c = arg;

	for (;;) {
		int s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		unsigned i;

		if (s < 0)
			return; /* EAGAIN, or a connection that went away */
		for (i = 0; i < VCTL_CONNS && c->conns[i].fd >= 0; i++)
			;
		if (i == VCTL_CONNS) {
			say(s, "err too many connections\n");
			close(s);
			continue;
		}
		c->conns[i].fd = s;
		c->conns[i].len = 0;
		if (vdev_watch_fd(c->dev, c->qidx, s, POLLIN, conn_ready, c) <
		    0) {
			close(s);
			c->conns[i].fd = -1;
		}
	}
}

struct vctl *vctl_new(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vctl *c;
	struct stat st;
	int fd, err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			errno = EEXIST;
			return NULL;
		}
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return NULL;
		err = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		close(fd);
		if (err == 0) {
			errno = EADDRINUSE;
			return NULL;
		}
		unlink(path);
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	for (unsigned i = 0; i < VCTL_CONNS; i++)
		c->conns[i].fd = -1;
	c->path = strdup(path);
	c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
				       SOCK_CLOEXEC, 0);
	if (!c->path || c->listen_fd < 0)
		goto fail;
	if (bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		goto fail;
	if (listen(c->listen_fd, VCTL_CONNS) < 0) {
		err = errno;
		unlink(path);
		errno = err;
		goto fail;
	}
	return c;
fail:
	err = errno;
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	free(c->path);
	free(c);
	errno = err;
	return NULL;
}

int vctl_start(struct vctl *c, struct vdev *dev, unsigned qidx,
	       vctl_cmd_fn fn, void *arg)
{
	int ret;

	c->dev = dev;
	c->qidx = qidx;
	c->fn = fn;
	c->arg = arg;
	ret = vdev_watch_fd(dev, qidx, c->listen_fd, POLLIN, accept_ready, c);
	if (ret < 0)
		c->dev = NULL;
	return ret;
}

void vctl_free(struct vctl *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < VCTL_CONNS; i++) {
		if (c->conns[i].fd < 0)
			continue;
		vdev_unwatch_fd(c->dev, c->qidx, c->conns[i].fd);
		close(c->conns[i].fd);
	}
	if (c->dev)
		vdev_unwatch_fd(c->dev, c->qidx, c->listen_fd);
	close(c->listen_fd);
	unlink(c->path);
	free(c->path);
	free(c);
}
