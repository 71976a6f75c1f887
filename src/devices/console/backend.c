/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The host side of a console port: a pty, a UNIX socket the device
 * listens on (one client at a time), a file, or two inherited fds. Each
 * gives an input fd, watched on the port's rx queue, and an output fd (a
 * dup, so each queue's thread watches its own), watched on the tx queue
 * only while output waits. c->lock is held in every function here.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "console_internal.h"

void con_port_init(struct con_port *p)
{
	memset(p, 0, sizeof(*p));
	p->lfd = p->in_fd = p->out_fd = p->keep_fd = -1;
}

static void closefd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void con_watch_in(struct vdev *dev, struct con_port *p, unsigned id, bool on)
{
	if (p->in_fd < 0 || p->in_on == on)
		return;
	if (!vdev_watch_fd_events(dev, con_rxq(id), p->in_fd,
				  on ? POLLIN : 0))
		p->in_on = on;
}

void con_watch_out(struct vdev *dev, struct con_port *p, unsigned id, bool on)
{
	if (p->out_fd < 0 || p->out_on == on || p->kind == VDEV_CONSOLE_FILE)
		return;
	if (!vdev_watch_fd_events(dev, con_txq(id), p->out_fd,
				  on ? POLLOUT : 0))
		p->out_on = on;
}

/*
 * A hang-up is reported even on an fd watched for nothing (epoll), so it
 * is handled here, or it would be reported again and again: the host
 * side is gone (what it sent and the guest had no buffer for is lost).
 */
static bool hung_up(struct con_port *p, uint32_t events)
{
	struct vdev *dev = p->c->dev;

	if (!(events & (POLLHUP | POLLERR)) || (events & (POLLIN | POLLOUT)))
		return false;
	pthread_mutex_lock(&p->c->lock);
	con_host_gone(dev, p->id);
	pthread_mutex_unlock(&p->c->lock);
	vdev_queue_schedule(dev, 2);
	return true;
}

static void in_ready(void *arg, int fd, uint32_t events)
{
	struct con_port *p = arg;
	struct vdev *dev = p->c->dev;

	(void)fd;
	if (!hung_up(p, events))
		con_rx(dev, p->id, vdev_get_queue(dev, con_rxq(p->id)));
}

static void out_ready(void *arg, int fd, uint32_t events)
{
	struct con_port *p = arg;
	struct vdev *dev = p->c->dev;

	(void)fd;
	if (!hung_up(p, events))
		con_tx(dev, p->id, vdev_get_queue(dev, con_txq(p->id)));
}

/* Watches the data fds; lock held. */
static int watch_data(struct vdev *dev, struct con_port *p, unsigned id)
{
	int r = 0;

	if (p->in_fd >= 0) {
		r = vdev_watch_fd(dev, con_rxq(id), p->in_fd, POLLIN, in_ready,
				  p);
		p->in_on = !r;
	}
	/* A regular file is always writable, and epoll refuses it. */
	if (!r && p->out_fd >= 0 && p->kind != VDEV_CONSOLE_FILE) {
		r = vdev_watch_fd(dev, con_txq(id), p->out_fd, 0, out_ready, p);
		p->out_on = false;
	}
	return r;
}

static void unwatch_data(struct vdev *dev, struct con_port *p, unsigned id)
{
	if (p->in_fd >= 0)
		vdev_unwatch_fd(dev, con_rxq(id), p->in_fd);
	if (p->out_fd >= 0 && p->kind != VDEV_CONSOLE_FILE)
		vdev_unwatch_fd(dev, con_txq(id), p->out_fd);
	closefd(&p->in_fd);
	closefd(&p->out_fd);
	p->in_on = p->out_on = false;
}

static void accept_ready(void *arg, int fd, uint32_t events)
{
	struct con_port *p = arg;
	struct con *c = p->c;
	struct vdev *dev = c->dev;
	int k = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	(void)events;
	if (k < 0)
		return;
	pthread_mutex_lock(&c->lock);
	if (!p->used || p->in_fd >= 0) {
		/* one host side at a time */
		pthread_mutex_unlock(&c->lock);
		close(k);
		return;
	}
	p->in_fd = k;
	p->out_fd = fcntl(k, F_DUPFD_CLOEXEC, 0);
	if (p->out_fd < 0 || watch_data(dev, p, p->id) < 0) {
		unwatch_data(dev, p, p->id);
		pthread_mutex_unlock(&c->lock);
		return;
	}
	p->host_open = true;
	vdev_log(VDEV_LOG_INFO, "console: port %u: host side connected", p->id);
	if (p->guest_ready)
		con_ctrl(c, p->id, VDEV_CONSOLE_PORT_OPEN, 1, NULL, 0);
	pthread_mutex_unlock(&c->lock);
	vdev_queue_schedule(dev, 2);
	vdev_queue_schedule(dev, con_txq(p->id)); /* what was held */
	vdev_queue_schedule(dev, con_rxq(p->id));
}

void con_host_gone(struct vdev *dev, unsigned id)
{
	struct con *c = vdev_priv(dev);
	struct con_port *p = &c->port[id];

	if (p->kind == VDEV_CONSOLE_UNIX || p->kind == VDEV_CONSOLE_TCP) {
		unwatch_data(dev, p, id);
		p->host_open = false;
		vdev_log(VDEV_LOG_INFO, "console: port %u: host side gone", id);
		if (p->guest_ready)
			con_ctrl(c, id, VDEV_CONSOLE_PORT_OPEN, 0, NULL, 0);
		return;
	}
	/* A pty or inherited fds: the host side is gone for good. A file
	 * has no input and keeps its output. */
	if (p->kind == VDEV_CONSOLE_FILE)
		return;
	unwatch_data(dev, p, id);
	p->host_open = false;
	if (p->guest_ready)
		con_ctrl(c, id, VDEV_CONSOLE_PORT_OPEN, 0, NULL, 0);
}

void con_input_ended(struct vdev *dev, unsigned id)
{
	struct con *c = vdev_priv(dev);
	struct con_port *p = &c->port[id];

	if (p->kind == VDEV_CONSOLE_UNIX || p->kind == VDEV_CONSOLE_TCP) {
		con_host_gone(dev, id);
		return;
	}
	if (p->in_fd >= 0) {
		vdev_unwatch_fd(dev, con_rxq(id), p->in_fd);
		closefd(&p->in_fd);
		p->in_on = false;
	}
}

static int listen_on(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd, probe;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	memcpy(a.sun_path, path, strlen(path) + 1);
	/* A live socket is somebody's: refuse it; a stale one goes. */
	probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (probe >= 0) {
		int live = !connect(probe, (struct sockaddr *)&a, sizeof(a));

		close(probe);
		if (live)
			return -EADDRINUSE;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fd, 1) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

static int listen_tcp(uint16_t port)
{
	struct sockaddr_in a = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fd, 1) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

static int open_pty(struct con_port *p)
{
	struct termios t;
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);

	if (m < 0)
		return -errno;
	if (grantpt(m) < 0 || unlockpt(m) < 0 ||
	    ptsname_r(m, p->pty, sizeof(p->pty)))
		goto fail;
	/* Held open so the master never reads EIO while nobody has the
	 * pty; raw, because the data is bytes, not lines of text. */
	p->keep_fd = open(p->pty, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (p->keep_fd < 0 || tcgetattr(p->keep_fd, &t) < 0)
		goto fail;
	cfmakeraw(&t);
	if (tcsetattr(p->keep_fd, TCSANOW, &t) < 0)
		goto fail;
	p->in_fd = m;
	p->out_fd = fcntl(m, F_DUPFD_CLOEXEC, 0);
	if (p->out_fd < 0)
		goto fail;
	vdev_log(VDEV_LOG_INFO, "console: port %u is %s", p->id, p->pty);
	return 0;
fail: {
	int e = -errno;

	closefd(&p->keep_fd);
	p->in_fd = -1;
	close(m);
	return e ? e : -EIO;
}
}

static int dup_nb(int fd)
{
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	if (d >= 0)
		fcntl(d, F_SETFL, fcntl(d, F_GETFL) | O_NONBLOCK);
	return d;
}

int con_port_open(struct vdev *dev, unsigned id,
		  const struct vdev_console_port *port)
{
	struct con *c = vdev_priv(dev);
	struct con_port *p = &c->port[id];
	int r = 0;

	if (port->name && strlen(port->name) > VDEV_CONSOLE_NAME_MAX)
		return -EINVAL;
	p->c = c;
	p->id = id;
	p->console = port->console;
	p->drop = port->drop;
	p->kind = port->backend;
	p->name[0] = 0;
	p->pty[0] = 0;
	if (port->name)
		snprintf(p->name, sizeof(p->name), "%s", port->name);
	p->len = 0;
	switch (port->backend) {
	case VDEV_CONSOLE_NONE:
		break;
	case VDEV_CONSOLE_PTY:
		r = open_pty(p);
		p->host_open = !r;
		break;
	case VDEV_CONSOLE_UNIX:
		if (!port->path)
			return -EINVAL;
		p->path = strdup(port->path);
		if (!p->path)
			return -ENOMEM;
		p->lfd = listen_on(port->path);
		if (p->lfd < 0) {
			r = p->lfd;
			p->lfd = -1;
			free(p->path);
			p->path = NULL;
			return r;
		}
		r = vdev_watch_fd(dev, con_rxq(id), p->lfd, POLLIN,
				  accept_ready, p);
		break;
	case VDEV_CONSOLE_TCP:
		p->lfd = listen_tcp(port->tcp_port);
		if (p->lfd < 0) {
			r = p->lfd;
			p->lfd = -1;
			return r;
		}
		r = vdev_watch_fd(dev, con_rxq(id), p->lfd, POLLIN,
				  accept_ready, p);
		break;
	case VDEV_CONSOLE_FILE:
		if (!port->path)
			return -EINVAL;
		p->out_fd = open(port->path, O_WRONLY | O_APPEND | O_CREAT |
						     O_CLOEXEC | O_NONBLOCK,
				 0600);
		if (p->out_fd < 0)
			return -errno;
		p->host_open = true;
		break;
	case VDEV_CONSOLE_FDS:
		if (port->in_fd >= 0 && (p->in_fd = dup_nb(port->in_fd)) < 0)
			return -errno;
		if (port->out_fd >= 0 &&
		    (p->out_fd = dup_nb(port->out_fd)) < 0) {
			r = -errno;
			closefd(&p->in_fd);
			return r;
		}
		p->host_open = true;
		break;
	default:
		return -EINVAL;
	}
	if (!r)
		r = watch_data(dev, p, id);
	if (r) {
		p->used = true;
		con_port_close(dev, id);
		return r;
	}
	p->used = true;
	return 0;
}

void con_port_close(struct vdev *dev, unsigned id)
{
	struct con *c = vdev_priv(dev);
	struct con_port *p = &c->port[id];

	unwatch_data(dev, p, id);
	if (p->lfd >= 0) {
		vdev_unwatch_fd(dev, con_rxq(id), p->lfd);
		closefd(&p->lfd);
		if (p->path)
			unlink(p->path);
	}
	closefd(&p->keep_fd);
	free(p->path);
	p->path = NULL;
	free(p->buf);
	p->buf = NULL;
	p->len = p->alloc = 0;
	/* A tx request in progress stays: the tx queue's thread (or
	 * drain) gives it back. */
	p->used = p->added = p->guest_ready = p->guest_open = false;
	p->host_open = false;
	vdev_queue_schedule(dev, con_txq(id));
}

void con_emerg(struct con *c, uint8_t byte)
{
	struct con_port *p = &c->port[0];

	if (!p->used)
		return;
	/* Behind what is held already, else straight out. */
	if (!p->len && p->out_fd >= 0 && write(p->out_fd, &byte, 1) == 1)
		return;
	if (p->len < c->cap && p->len < p->alloc) {
		p->buf[p->len++] = byte;
	} else {
		uint8_t *b = realloc(p->buf, p->len + 1);

		if (!b)
			return;
		p->buf = b;
		p->alloc = p->len + 1;
		p->buf[p->len++] = byte;
	}
	vdev_queue_schedule(c->dev, con_txq(0));
}
