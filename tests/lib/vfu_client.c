/* SPDX-License-Identifier: BSD-3-Clause */
/* Test helper: vfio-user client and in-process server (vfu_client.h). */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "vfu_client.h"

static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = 5 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static int c_cfg_read(void *o, uint32_t off, void *b, uint32_t n)
{
	return vfu_client_region_read(o, VFU_PCI_CONFIG_REGION, off, b, n);
}

static int c_cfg_write(void *o, uint32_t off, const void *b, uint32_t n)
{
	return vfu_client_region_write(o, VFU_PCI_CONFIG_REGION, off, b, n);
}

static int c_bar_read(void *o, unsigned bar, uint64_t off, void *b,
		      uint32_t n)
{
	return vfu_client_region_read(o, bar, off, b, n);
}

static int c_bar_write(void *o, unsigned bar, uint64_t off, const void *b,
		       uint32_t n)
{
	return vfu_client_region_write(o, bar, off, b, n);
}

struct vfu_client *vfu_client_from_fd(int fd)
{
	struct vfu_client *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->fd = fd;
	c->next_id = 1;
	c->pci.io = (struct vpci_io){ c_cfg_read, c_cfg_write, c_bar_read,
				      c_bar_write, c };
	set_timeouts(fd);
	return c;
}

struct vfu_client *vfu_client_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vfu_client *c;

	if (strlen(path) >= sizeof(sa.sun_path))
		return NULL;
	strcpy(sa.sun_path, path);
	for (int tries = 0; tries < 200; tries++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return NULL;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			c = vfu_client_from_fd(fd);
			if (!c)
				close(fd);
			return c;
		}
		close(fd);
		usleep(10000);
	}
	return NULL;
}

void vfu_client_free(struct vfu_client *c)
{
	if (!c)
		return;
	close(c->fd);
	free(c);
}

int vfu_client_send_raw(struct vfu_client *c, const void *buf, size_t len,
			const int *fds, unsigned nfds)
{
	char cbuf[CMSG_SPACE(64 * sizeof(int))];
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	size_t done = 0;

	if (nfds > 64)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *cm;

		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	}
	while (done < len) {
		ssize_t n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += (size_t)n;
		iov.iov_base = (char *)buf + done;
		iov.iov_len = len - done;
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
	}
	return 0;
}

int vfu_client_send(struct vfu_client *c, uint16_t cmd, uint32_t flags,
		    const void *payload, uint32_t len, const int *fds,
		    unsigned nfds, uint16_t *id)
{
	struct vfu_hdr h = {
		.id = c->next_id++,
		.cmd = cmd,
		.size = VFU_HDR_SIZE + len,
		.flags = flags,
	};
	uint8_t *buf = malloc(sizeof(h) + len);
	int r;

	if (!buf)
		return -ENOMEM;
	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + sizeof(h), payload, len);
	r = vfu_client_send_raw(c, buf, sizeof(h) + len, fds, nfds);
	free(buf);
	if (id)
		*id = h.id;
	return r;
}

static int recv_full(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = recv(fd, (char *)buf + got, len - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		if (n == 0)
			return -ECONNRESET;
		got += (size_t)n;
	}
	return 0;
}

int vfu_client_recv(struct vfu_client *c, struct vfu_hdr *h, void *buf,
		    uint32_t cap, uint32_t *len)
{
	uint32_t n, keep;
	int r = recv_full(c->fd, h, sizeof(*h));

	if (r)
		return r;
	if (h->size < VFU_HDR_SIZE)
		return -EPROTO;
	n = h->size - VFU_HDR_SIZE;
	keep = n < cap ? n : cap;
	if (keep && (r = recv_full(c->fd, buf, keep)))
		return r;
	for (uint32_t left = n - keep; left;) {
		char junk[256];
		uint32_t k = left < sizeof(junk) ? left : sizeof(junk);

		if ((r = recv_full(c->fd, junk, k)))
			return r;
		left -= k;
	}
	if (len)
		*len = n;
	return 0;
}

int vfu_client_call(struct vfu_client *c, uint16_t cmd, const void *payload,
		    uint32_t len, const int *fds, unsigned nfds, void *reply,
		    uint32_t cap, uint32_t *rlen)
{
	struct vfu_hdr h;
	uint16_t id;
	int r;

	r = vfu_client_send(c, cmd, 0, payload, len, fds, nfds, &id);
	if (r)
		return r;
	r = vfu_client_recv(c, &h, reply, cap, rlen);
	if (r)
		return r;
	if (h.id != id || h.cmd != cmd ||
	    (h.flags & VFU_F_TYPE_MASK) != VFU_F_TYPE_REPLY)
		return -EPROTO;
	if (h.flags & VFU_F_ERROR)
		return h.error ? -(int)h.error : -EIO;
	return 0;
}

int vfu_client_version(struct vfu_client *c)
{
	static const char json[] =
		"{\"capabilities\":{\"max_msg_fds\":16,"
		"\"max_data_xfer_size\":1048576,\"pgsizes\":4096,"
		"\"migration\":{\"pgsize\":4096,\"max_bitmap_size\":"
		"1048576}}}";
	uint8_t buf[4 + sizeof(json)], rep[512];
	struct vfu_version v = { VFU_VERSION_MAJOR, VFU_VERSION_MINOR };
	uint32_t rlen = 0;
	int r;

	memcpy(buf, &v, sizeof(v));
	memcpy(buf + sizeof(v), json, sizeof(json));
	r = vfu_client_call(c, VFU_CMD_VERSION, buf, sizeof(buf), NULL, 0,
			    rep, sizeof(rep) - 1, &rlen);
	if (r)
		return r;
	if (rlen < sizeof(v) || rlen >= sizeof(rep))
		return -EPROTO;
	memcpy(&v, rep, sizeof(v));
	if (v.major != VFU_VERSION_MAJOR || v.minor > VFU_VERSION_MINOR)
		return -EPROTO;
	rep[rlen] = 0;
	/* Crude but enough for a test: the numbers follow the keys. */
	{
		const char *j = (const char *)rep + sizeof(v);
		const char *p = strstr(j, "\"max_msg_fds\":");
		const char *q = strstr(j, "\"max_data_xfer_size\":");

		if (!p || !q || strstr(j, "migration"))
			return -EPROTO;
		c->server_max_fds = (uint32_t)strtoul(p + 14, NULL, 10);
		c->server_max_xfer = (uint32_t)strtoul(q + 21, NULL, 10);
	}
	return 0;
}

int vfu_client_dma_map_flags(struct vfu_client *c, int fd, uint64_t offset,
			     uint64_t addr, uint64_t size, uint32_t flags)
{
	struct vfu_dma_map m = {
		.argsz = sizeof(m),
		.flags = flags,
		.offset = offset,
		.addr = addr,
		.size = size,
	};

	return vfu_client_call(c, VFU_CMD_DMA_MAP, &m, sizeof(m), &fd,
			       fd >= 0, NULL, 0, NULL);
}

int vfu_client_dma_map(struct vfu_client *c, int fd, uint64_t offset,
		       uint64_t addr, uint64_t size)
{
	return vfu_client_dma_map_flags(c, fd, offset, addr, size,
					VFU_DMA_F_READ | VFU_DMA_F_WRITE);
}

int vfu_client_dma_unmap(struct vfu_client *c, uint64_t addr, uint64_t size)
{
	struct vfu_dma_unmap u = { .argsz = sizeof(u), .addr = addr,
				   .size = size };
	struct vfu_dma_unmap rep;
	uint32_t rlen = 0;
	int r;

	r = vfu_client_call(c, VFU_CMD_DMA_UNMAP, &u, sizeof(u), NULL, 0,
			    &rep, sizeof(rep), &rlen);
	if (r)
		return r;
	return rlen == sizeof(rep) && rep.addr == addr && rep.size == size ?
		       0 : -EPROTO;
}

int vfu_client_region_read(struct vfu_client *c, uint32_t region,
			   uint64_t off, void *buf, uint32_t len)
{
	struct vfu_region_access a = { off, region, len };
	uint8_t *rep = malloc(sizeof(a) + len);
	uint32_t rlen = 0;
	int r;

	if (!rep)
		return -ENOMEM;
	r = vfu_client_call(c, VFU_CMD_REGION_READ, &a, sizeof(a), NULL, 0,
			    rep, (uint32_t)sizeof(a) + len, &rlen);
	if (!r && rlen != sizeof(a) + len)
		r = -EPROTO;
	if (!r)
		memcpy(buf, rep + sizeof(a), len);
	free(rep);
	return r;
}

int vfu_client_region_write(struct vfu_client *c, uint32_t region,
			    uint64_t off, const void *buf, uint32_t len)
{
	struct vfu_region_access a = { off, region, len };
	uint8_t *msg = malloc(sizeof(a) + len);
	struct vfu_region_access rep;
	uint32_t rlen = 0;
	int r;

	if (!msg)
		return -ENOMEM;
	memcpy(msg, &a, sizeof(a));
	memcpy(msg + sizeof(a), buf, len);
	r = vfu_client_call(c, VFU_CMD_REGION_WRITE, msg,
			    (uint32_t)sizeof(a) + len, NULL, 0, &rep,
			    sizeof(rep), &rlen);
	free(msg);
	if (!r && (rlen != sizeof(rep) || rep.count != len))
		r = -EPROTO;
	return r;
}

int vfu_client_set_irqs(struct vfu_client *c, uint32_t index, uint32_t flags,
			uint32_t start, uint32_t count, const int *fds,
			unsigned nfds)
{
	struct vfu_irq_set s = { VFU_IRQ_SET_SIZE, flags, index, start,
				 count };

	return vfu_client_call(c, VFU_CMD_DEVICE_SET_IRQS, &s,
			       VFU_IRQ_SET_SIZE, fds, nfds, NULL, 0, NULL);
}

int vfu_client_probe(struct vfu_client *c)
{
	struct vfu_device_info di = { .argsz = sizeof(di) };
	uint32_t rlen = 0;
	int r;

	r = vfu_client_call(c, VFU_CMD_DEVICE_GET_INFO, &di, sizeof(di), NULL,
			    0, &di, sizeof(di), &rlen);
	if (r)
		return r;
	if (!(di.flags & VFU_DEV_F_PCI) || di.num_regions < VFU_PCI_NUM_REGIONS)
		return -EPROTO;
	for (uint32_t i = 0; i < VFU_PCI_NUM_REGIONS; i++) {
		struct vfu_region_info ri = { .argsz = sizeof(ri), .index = i };

		r = vfu_client_call(c, VFU_CMD_DEVICE_GET_REGION_INFO, &ri,
				    sizeof(ri), NULL, 0, &ri, sizeof(ri),
				    &rlen);
		if (r)
			return r;
		if (ri.index != i || (ri.flags & VFU_REGION_F_MMAP))
			return -EPROTO;
		c->region_size[i] = ri.size;
	}
	return vpci_probe(&c->pci, c->region_size);
}

/* ---- in-process server ------------------------------------------------ */

struct vfu_testsrv {
	struct vdev_vfio_user *s;
	pthread_t thread;
	int stop_fd;
	atomic_bool connected;
};

static void *srv_main(void *arg)
{
	struct vfu_testsrv *t = arg;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = t->stop_fd, .events = POLLIN },
			{ .fd = vdev_vfio_user_fd(t->s), .events = POLLIN },
		};

		atomic_store(&t->connected, vdev_vfio_user_connected(t->s));
		if (poll(p, p[1].fd >= 0 ? 2 : 1, -1) < 0)
			continue;
		if (p[0].revents)
			break;
		if (p[1].revents)
			vdev_vfio_user_dispatch(t->s);
	}
	return NULL;
}

struct vfu_testsrv *vfu_testsrv_start(struct vdev *dev, const char *path,
				      int fd)
{
	struct vdev_vfio_user_config cfg = { .socket_path = path,
					     .conn_fd = fd };
	struct vfu_testsrv *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->s = vdev_vfio_user_new(dev, &cfg, NULL);
	t->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (!t->s || t->stop_fd < 0 ||
	    pthread_create(&t->thread, NULL, srv_main, t)) {
		vdev_vfio_user_free(t->s);
		if (t->stop_fd >= 0)
			close(t->stop_fd);
		free(t);
		return NULL;
	}
	return t;
}

void vfu_testsrv_stop(struct vfu_testsrv *t)
{
	uint64_t one = 1;

	if (!t)
		return;
	if (write(t->stop_fd, &one, sizeof(one)) < 0)
		abort();
	pthread_join(t->thread, NULL);
	vdev_vfio_user_free(t->s);
	close(t->stop_fd);
	free(t);
}

struct vdev_vfio_user *vfu_testsrv_server(struct vfu_testsrv *t)
{
	return t->s;
}

bool vfu_testsrv_wait_idle(struct vfu_testsrv *t)
{
	for (int i = 0; i < 200; i++) {
		if (!atomic_load(&t->connected))
			return true;
		usleep(10000);
	}
	return false;
}

int vfu_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own fd */
}

int vfu_wait_fd_count(int n)
{
	int now = vfu_count_fds();

	for (int i = 0; i < 200 && now > n; i++) {
		usleep(10000);
		now = vfu_count_fds();
	}
	return now;
}
