/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vfio-user server: the socket, message framing with SCM_RIGHTS fds, and
 * the connection lifecycle. Every received message goes through
 * vfu_validate() before any handler sees it; fds a handler did not take
 * are closed here, whatever happened.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <virtio/vfio-user.h>

#include "adapters/vfio-user/vfu_internal.h"
#include "peer/peer_io.h"
#include "peer/peer_listen.h"
#include "core/sized.h"

/* The longest one message may take to arrive, or its reply to leave, all
 * of it: a client that stops in the middle of a message, or trickles it
 * a byte at a time, is dropped then (issue #19, defect 8). Tests lower it. */
int vfu_msg_timeout_ms = 5000;

static void vfu_on_event(void *arg, int fd, uint32_t events);

int vfu_reply_alloc(struct vfu_reply *r, uint32_t len)
{
	r->body = calloc(1, len ? len : 1);
	if (!r->body)
		return -ENOMEM;
	r->len = len;
	return 0;
}

/* Replaces a stale socket, never a live one or another kind of file; the
 * path appears listening, with its group and mode (peer_listen.c). */
static int vfu_listen(const char *path,
		      const struct vdev_vfio_user_config *cfg)
{
	struct vpeer_sockperm perm = {
		.set_gid = cfg->set_socket_group,
		.set_mode = cfg->set_socket_mode,
		.gid = cfg->socket_gid,
		.mode = cfg->socket_mode,
	};
	int fd;

	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = vpeer_listen_unix(path, 1, &perm);
	if (fd < 0) {
		errno = -fd;
		return -1;
	}
	return fd;
}

static bool is_listening(int fd)
{
	int on = 0;
	socklen_t len = sizeof(on);

	return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 &&
	       on;
}

/* 0 when @fd is a stream socket, else the errno to fail with. */
static int stream_socket(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
		return errno;
	return type == SOCK_STREAM ? 0 : EINVAL;
}

static void vfu_watch(struct vdev_vfio_user *s, int fd)
{
	if (s->has_watcher && fd >= 0)
		s->w.add(s->w.opaque, fd, EPOLLIN, vfu_on_event, s);
}

static void vfu_unwatch(struct vdev_vfio_user *s, int fd)
{
	if (s->has_watcher && fd >= 0)
		s->w.del(s->w.opaque, fd);
}

static struct vdev_vfio_user *
vfio_user_new(struct vdev *dev, const struct vdev_vfio_user_config *cfg,
	      const struct vdev_watcher *w)
{
	struct vdev_vfio_user *s;
	const char *cap;
	int e = ENOMEM;

	if (!dev || !cfg || (!cfg->socket_path && cfg->conn_fd < 0) ||
	    cfg->max_data_xfer_size > (64u << 20)) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->dev = dev;
	s->listen_fd = -1;
	s->conn_fd = -1;
	s->intx_fd = -1;
	s->max_xfer = cfg->max_data_xfer_size ? cfg->max_data_xfer_size :
						VFU_XFER_DEFAULT;
	s->mem = vdev_mem_new();
	if (!s->mem)
		goto fail;
	s->pci = vdev_pci_new(dev, cfg->pci, &vfu_pci_ops, s);
	if (!s->pci) {
		e = errno;
		goto fail;
	}
	s->nvec = vdev_pci_msix_vectors(s->pci);
	s->msix_fds = malloc(s->nvec * sizeof(int));
	s->msix_kinds = calloc(s->nvec, sizeof(int));
	if (!s->msix_fds || !s->msix_kinds)
		goto fail;
	for (unsigned i = 0; i < s->nvec; i++)
		s->msix_fds[i] = -1;
	e = -vdev_set_mem(dev, s->mem);
	if (e)
		goto fail;
	if (cfg->socket_path) {
		s->path = strdup(cfg->socket_path);
		if (!s->path) {
			e = ENOMEM;
			goto fail;
		}
		s->listen_fd = vfu_listen(s->path, cfg);
		if (s->listen_fd < 0) {
			e = errno;
			goto fail;
		}
	} else if ((e = stream_socket(cfg->conn_fd)) != 0) {
		goto fail; /* a file or pipe would fail every read */
	} else if (is_listening(cfg->conn_fd)) {
		/* An inherited listening socket (a daemon's --fd). */
		s->listen_fd = cfg->conn_fd;
	} else {
		s->conn_fd = cfg->conn_fd;
	}
	cap = getenv("VDEV_VFIO_USER_CAPTURE");
	if (cap && *cap) {
		s->capture = fopen(cap, "ae");
		if (!s->capture)
			vdev_log(VDEV_LOG_WARN, "vfio-user: capture %s: %s",
				 cap, strerror(errno));
	}
	if (w) {
		s->w = *w;
		s->has_watcher = true;
		vdev_set_watcher(dev, w);
		vfu_watch(s, s->conn_fd >= 0 ? s->conn_fd : s->listen_fd);
	}
	return s;
fail:
	if (s->listen_fd >= 0 && s->path)
		close(s->listen_fd);
	free(s->path);
	free(s->msix_fds);
	free(s->msix_kinds);
	vdev_pci_free(s->pci);
	vdev_mem_free(s->mem);
	free(s);
	errno = e;
	return NULL;
}

/* The client went away: drop everything it gave us (spec "Client
 * Disconnection"), keep the device state. */
static void vfu_disconnect(struct vdev_vfio_user *s)
{
	if (s->conn_fd < 0)
		return;
	vfu_unwatch(s, s->conn_fd);
	close(s->conn_fd);
	s->conn_fd = -1;
	s->version_done = false;
	vdev_log(VDEV_LOG_INFO, "vfio-user %s: client disconnected",
		 vdev_get_info(s->dev)->name);
	vfu_dma_clear(s);
	vfu_irq_clear(s);
	if (s->capture) {
		fputs("# disconnect\n", s->capture);
		fflush(s->capture);
	}
	vfu_watch(s, s->listen_fd);
}

void vdev_vfio_user_free(struct vdev_vfio_user *s)
{
	if (!s)
		return;
	vfu_disconnect(s);
	vfu_unwatch(s, s->listen_fd);
	if (s->listen_fd >= 0) {
		close(s->listen_fd);
		if (s->path)
			unlink(s->path);
	}
	if (s->capture)
		fclose(s->capture);
	/* The watcher we gave the device dies with its loop. */
	if (s->has_watcher)
		vdev_set_watcher(s->dev, NULL);
	vdev_pci_free(s->pci);
	vdev_set_mem(s->dev, NULL);
	vdev_mem_free(s->mem);
	free(s->msix_fds);
	free(s->msix_kinds);
	free(s->path);
	free(s);
}

int vdev_vfio_user_fd(const struct vdev_vfio_user *s)
{
	return s->conn_fd >= 0 ? s->conn_fd : s->listen_fd;
}

bool vdev_vfio_user_connected(const struct vdev_vfio_user *s)
{
	return s->conn_fd >= 0;
}

struct vdev_pci *vdev_vfio_user_pci(const struct vdev_vfio_user *s)
{
	return s->pci;
}

static void vfu_accept(struct vdev_vfio_user *s)
{
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	/* One client at a time: stop listening while it is connected. */
	vfu_unwatch(s, s->listen_fd);
	s->conn_fd = fd;
	vfu_watch(s, fd);
	vdev_log(VDEV_LOG_INFO, "vfio-user %s: client connected",
		 vdev_get_info(s->dev)->name);
}

static void close_fds(struct vfu_msg *m)
{
	for (unsigned i = 0; i < m->nfds; i++) {
		if (m->fds[i] >= 0)
			close(m->fds[i]);
		m->fds[i] = -1;
	}
	m->nfds = 0;
}

/* Reads exactly @len bytes by @deadline; the fds come with the first
 * byte. The socket's own flags do not matter: every call is MSG_DONTWAIT
 * after a wait against the message's deadline. */
static int recv_full(struct vdev_vfio_user *s, void *buf, size_t len,
		     struct vfu_msg *m, uint64_t deadline)
{
	size_t got = 0;

	while (got < len) {
		char cbuf[CMSG_SPACE(VFU_MAX_FDS * sizeof(int))];
		struct iovec iov = { (char *)buf + got, len - got };
		struct msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = m ? cbuf : NULL,
			.msg_controllen = m ? sizeof(cbuf) : 0,
		};
		ssize_t n;

		/* Read first: a message is usually there whole when the loop
		 * calls us, and a poll per message costs a system call. */
		n = recvmsg(s->conn_fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN) {
			int w = vpeer_wait(s->conn_fd, POLLIN, deadline, -1);

			if (w < 0)
				return w;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n == 0 ? -ECONNRESET : -errno;
		for (struct cmsghdr *c = m ? CMSG_FIRSTHDR(&mh) : NULL; c;
		     c = CMSG_NXTHDR(&mh, c)) {
			int *fds = (int *)CMSG_DATA(c);
			size_t k;

			if (c->cmsg_level != SOL_SOCKET ||
			    c->cmsg_type != SCM_RIGHTS)
				continue;
			k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				if (m->nfds < VFU_MAX_FDS) {
					m->fds[m->nfds++] = fds[i];
				} else {
					close(fds[i]);
					m->fds_truncated = true;
				}
			}
		}
		if (m && (mh.msg_flags & MSG_CTRUNC))
			m->fds_truncated = true;
		got += (size_t)n;
	}
	return 0;
}

/* Discards @len bytes of an oversized body. */
static int drain(struct vdev_vfio_user *s, uint64_t len, uint64_t deadline)
{
	char buf[4096];

	while (len) {
		size_t n = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		int r = recv_full(s, buf, n, NULL, deadline);

		if (r)
			return r;
		len -= n;
	}
	return 0;
}

static int vfu_recv(struct vdev_vfio_user *s, struct vfu_msg *m)
{
	/* The largest message any command may carry. */
	uint64_t max = VFU_HDR_SIZE + 16 + (uint64_t)s->max_xfer;
	/* One deadline for the whole message, taken when it starts. */
	uint64_t deadline = vpeer_deadline(vfu_msg_timeout_ms);
	int r;

	r = recv_full(s, &m->hdr, sizeof(m->hdr), m, deadline);
	if (r)
		return r;
	if (m->hdr.size <= VFU_HDR_SIZE)
		return 0; /* no body; a size below 16 fails validation */
	if (m->hdr.size > max) {
		m->oversized = true;
		return drain(s, m->hdr.size - VFU_HDR_SIZE, deadline);
	}
	m->len = m->hdr.size - VFU_HDR_SIZE;
	m->body = malloc(m->len);
	if (!m->body) {
		m->oversized = true;
		m->len = 0;
		return drain(s, m->hdr.size - VFU_HDR_SIZE, deadline);
	}
	return recv_full(s, m->body, m->len, NULL, deadline);
}

/* Sends a reply whole by one deadline: a client that stops reading, or
 * reads a byte at a time, is dropped then. */
static int send_all(int fd, const void *a, size_t alen, const void *b,
		    size_t blen)
{
	struct iovec iov[2] = { { (void *)a, alen }, { (void *)b, blen } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = blen ? 2 : 1 };
	uint64_t deadline = vpeer_deadline(vfu_msg_timeout_ms);

	while (mh.msg_iovlen) {
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			int w = vpeer_wait(fd, POLLOUT, deadline, -1);

			if (w < 0)
				return w;
			continue;
		}
		if (n < 0)
			return -errno;
		while (mh.msg_iovlen && (size_t)n >= mh.msg_iov->iov_len) {
			n -= (ssize_t)mh.msg_iov->iov_len;
			mh.msg_iov++;
			mh.msg_iovlen--;
		}
		if (mh.msg_iovlen) {
			mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + n;
			mh.msg_iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

static int vfu_send_reply(struct vdev_vfio_user *s, const struct vfu_msg *m,
			  int err, const struct vfu_reply *r)
{
	struct vfu_hdr h = {
		.id = m->hdr.id,
		.cmd = m->hdr.cmd,
		.size = VFU_HDR_SIZE,
		.flags = VFU_F_TYPE_REPLY,
	};
	uint32_t len = 0;

	if (err) {
		h.flags |= VFU_F_ERROR;
		h.error = (uint32_t)-err;
	} else if (r->body) {
		len = r->len;
		h.size += len;
	}
	if (s->capture) {
		vfu_capture_write(s->capture, '<', &h, err ? NULL : r->body,
				  len, 0);
		fflush(s->capture);
	}
	return send_all(s->conn_fd, &h, sizeof(h), r->body, len);
}

static int vfu_handle_one(struct vdev_vfio_user *s)
{
	struct vfu_msg m = { .body = NULL };
	struct vfu_reply rep = { NULL, 0 };
	vfu_handler_fn h = NULL;
	int r, err;

	r = vfu_recv(s, &m);
	if (r) {
		close_fds(&m);
		free(m.body);
		vfu_disconnect(s);
		return -ENOTCONN;
	}
	if (s->capture)
		vfu_capture_write(s->capture, '>', &m.hdr, m.body, m.len,
				  m.nfds);
	err = vfu_validate(s, &m, &h);
	if (!err)
		err = h(s, &m, &rep);
	if (err)
		vdev_log(VDEV_LOG_DEBUG, "vfio-user: %s (id %u): %s",
			 vfu_cmd_name(m.hdr.cmd), m.hdr.id, strerror(-err));
	close_fds(&m);
	r = 0;
	if (!(m.hdr.flags & VFU_F_NO_REPLY) || m.hdr.size < VFU_HDR_SIZE)
		r = vfu_send_reply(s, &m, err, &rep);
	free(rep.body);
	free(m.body);
	/* A client that cannot agree on a version is dropped (spec). */
	if (r || (m.hdr.cmd == VFU_CMD_VERSION && err == -ENOTSUP)) {
		vfu_disconnect(s);
		return -ENOTCONN;
	}
	return 0;
}

int vdev_vfio_user_dispatch(struct vdev_vfio_user *s)
{
	if (s->conn_fd >= 0)
		return vfu_handle_one(s);
	if (s->listen_fd >= 0) {
		vfu_accept(s);
		return 0;
	}
	return -ENOTCONN;
}

static void vfu_on_event(void *arg, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	vdev_vfio_user_dispatch(arg);
}

/* The caller's config, and the PCI identity it points to, at the sizes it
 * was compiled with (api.h). */
struct vdev_vfio_user *
(vdev_vfio_user_new)(struct vdev *dev,
		     const struct vdev_vfio_user_config *cfg,
		     const struct vdev_watcher *w, size_t size,
		     size_t pci_size)
{
	struct vdev_vfio_user_config c;
	struct vdev_pci_config pci;

	if (cfg && !VSIZED_IN(c, cfg, size))
		return NULL;
	if (cfg && c.pci) {
		c.pci = VSIZED_IN(pci, c.pci, pci_size);
		if (!c.pci)
			return NULL;
	}
	return vfio_user_new(dev, cfg ? &c : NULL, w);
}
