/* SPDX-License-Identifier: BSD-3-Clause */
/* The vhost-user test frontend (see vhu_frontend.h). */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <virtio/spec.h>
#include <virtio/transport.h>

#include "vhu_frontend.h"

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

struct vhu_fe *vhu_fe_connect(const char *path, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vhu_fe *fe;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return NULL;
	strcpy(sa.sun_path, path);
	for (int waited = 0;; waited += 10) {
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return NULL;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		close(fd);
		if (waited >= timeout_ms)
			return NULL;
		sleep_ms(10);
	}
	fe = calloc(1, sizeof(*fe));
	if (!fe) {
		close(fd);
		return NULL;
	}
	fe->fd = fd;
	return fe;
}

void vhu_fe_close(struct vhu_fe *fe)
{
	if (!fe)
		return;
	close(fe->fd);
	free(fe);
}

int vhu_fe_send_raw(struct vhu_fe *fe, const void *buf, size_t len,
		    const int *fds, unsigned nfds)
{
	union {
		char b[CMSG_SPACE(16 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds > 16)
		return -EINVAL;
	if (nfds) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	return sendmsg(fe->fd, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -EIO;
}

int vhu_fe_send(struct vhu_fe *fe, uint32_t req, uint32_t flags,
		const void *payload, uint32_t size, const int *fds,
		unsigned nfds)
{
	uint8_t buf[12 + 512];
	uint32_t h[3] = {
		req,
		flags ? flags : VHU_FE_VERSION,
		size,
	};

	if (size > sizeof(buf) - 12)
		return -EINVAL;
	memcpy(buf, h, 12);
	if (size)
		memcpy(buf + 12, payload, size);
	return vhu_fe_send_raw(fe, buf, 12 + size, fds, nfds);
}

static int wait_readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n;

	do
		n = poll(&p, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	return n > 0 ? 0 : -ETIMEDOUT;
}

static int recv_all(int fd, void *buf, size_t len, int *fds, unsigned *nfds)
{
	union {
		char b[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.b, .msg_controllen = sizeof(ctl.b),
	};
	ssize_t n = recvmsg(fd, &mh, MSG_WAITALL | MSG_CMSG_CLOEXEC);

	if (n <= 0)
		return n == 0 ? -ECONNRESET : -errno;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		unsigned k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		if (c->cmsg_type != SCM_RIGHTS)
			continue;
		for (unsigned i = 0; i < k; i++) {
			int f;

			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(f));
			if (fds && *nfds < 8)
				fds[(*nfds)++] = f;
			else
				close(f);
		}
	}
	return (size_t)n == len ? 0 : -EPROTO;
}

int vhu_fe_recv(int fd, struct vhu_fe_msg *m, int timeout_ms)
{
	uint32_t h[3];
	int ret;

	memset(m, 0, sizeof(*m));
	ret = wait_readable(fd, timeout_ms);
	if (ret)
		return ret;
	ret = recv_all(fd, h, sizeof(h), m->fds, &m->nfds);
	if (ret)
		return ret;
	m->request = h[0];
	m->flags = h[1];
	m->size = h[2];
	if (m->size > sizeof(m->payload))
		return -EPROTO;
	if (m->size)
		return recv_all(fd, m->payload, m->size, m->fds, &m->nfds);
	return 0;
}

static int expect_reply(struct vhu_fe *fe, uint32_t req, struct vhu_fe_msg *r)
{
	int ret = vhu_fe_recv(fe->fd, r, 5000);

	if (ret)
		return ret;
	if (r->request != req || !(r->flags & VHU_FE_REPLY) ||
	    (r->flags & 3) != VHU_FE_VERSION)
		return -EPROTO;
	return 0;
}

int vhu_fe_get_u64(struct vhu_fe *fe, uint32_t req, uint64_t *v)
{
	struct vhu_fe_msg r;
	uint64_t val;
	int ret;

	ret = vhu_fe_send(fe, req, 0, NULL, 0, NULL, 0);
	if (!ret)
		ret = expect_reply(fe, req, &r);
	if (ret)
		return ret;
	if (r.size != 8)
		return -EPROTO;
	memcpy(&val, r.payload, 8);
	*v = val;
	return 0;
}

int vhu_fe_request(struct vhu_fe *fe, uint32_t req, const void *payload,
		   uint32_t size, const int *fds, unsigned nfds, bool ack)
{
	struct vhu_fe_msg r;
	uint64_t val;
	int ret;

	ret = vhu_fe_send(fe, req,
			  VHU_FE_VERSION | (ack ? VHU_FE_NEED_REPLY : 0),
			  payload, size, fds, nfds);
	if (ret || !ack)
		return ret;
	ret = expect_reply(fe, req, &r);
	if (ret)
		return ret;
	if (r.size != 8)
		return -EPROTO;
	memcpy(&val, r.payload, 8);
	return (int)val;
}

int vhu_fe_set_u64(struct vhu_fe *fe, uint32_t req, uint64_t v, int fd,
		   bool ack)
{
	uint64_t val = v;

	return vhu_fe_request(fe, req, &val, 8, fd >= 0 ? &fd : NULL,
			      fd >= 0 ? 1 : 0, ack);
}

int vhu_fe_set_state(struct vhu_fe *fe, uint32_t req, uint32_t idx,
		     uint32_t num, bool ack)
{
	uint32_t st[2] = { idx, num };

	return vhu_fe_request(fe, req, st, sizeof(st), NULL, 0, ack);
}

int vhu_fe_get_vring_base(struct vhu_fe *fe, uint32_t idx, uint32_t *num)
{
	uint32_t st[2] = { idx, 0 };
	struct vhu_fe_msg r;
	int ret;

	ret = vhu_fe_send(fe, VHU_FE_GET_VRING_BASE, 0, st, sizeof(st), NULL,
			  0);
	if (!ret)
		ret = expect_reply(fe, VHU_FE_GET_VRING_BASE, &r);
	if (ret)
		return ret;
	if (r.size != 8)
		return -EPROTO;
	memcpy(st, r.payload, 8);
	*num = st[1];
	return 0;
}

bool vhu_fe_peer_closed(struct vhu_fe *fe, int timeout_ms)
{
	char c;

	if (wait_readable(fe->fd, timeout_ms))
		return false;
	return recv(fe->fd, &c, 1, MSG_DONTWAIT) == 0;
}

unsigned vhu_fe_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	unsigned n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1; /* the directory's own fd */
}

/* ---- guest side ------------------------------------------------------- */

int vhu_fe_set_mem_table(struct vhu_fe *fe, struct vdev_drv_mem *m, bool ack)
{
	uint64_t base = vdev_drv_mem_base(m);
	uint64_t p[9] = { 0 };
	uint32_t *hdr = (uint32_t *)&p[0];
	int fd = vdev_drv_mem_fd(m);

	hdr[0] = 1;
	hdr[1] = 0;
	p[1] = base;
	p[2] = vdev_drv_mem_size(m);
	p[3] = (uint64_t)(uintptr_t)vdev_drv_mem_host(m, base);
	p[4] = 0;
	/* User-Mode Linux sends its whole two-slot table. */
	return vhu_fe_request(fe, VHU_FE_SET_MEM_TABLE, p,
			      fe->uml ? 72 : 40, &fd, 1, ack);
}

static uint64_t uva(struct vdev_drv_mem *m, uint64_t gpa)
{
	return (uint64_t)(uintptr_t)vdev_drv_mem_host(m, gpa);
}

int vhu_fe_setup(struct vhu_fe *fe, struct vhu_fe_guest *g, uint16_t qsize,
		 bool packed, uint64_t proto, bool inband)
{
	struct vdev_queue_config qc;
	uint64_t feat, pf = 0;
	uint64_t a[5];
	uint32_t *a32 = (uint32_t *)&a[0];
	int ret;

	g->kick_fd = g->call_fd = -1;
	g->ring = NULL;
	g->mem = vdev_drv_mem_new(0x100000, 4 << 20, 1);
	if (!g->mem)
		return -ENOMEM;
	ret = vhu_fe_send(fe, VHU_FE_SET_OWNER, 0, NULL, 0, NULL, 0);
	if (!ret)
		ret = vhu_fe_get_u64(fe, VHU_FE_GET_FEATURES, &feat);
	if (ret)
		return ret;
	if (fe->legacy)
		feat &= ~VDEV_BIT(VHU_FE_F_PROTOCOL_FEATURES);
	if (feat & VDEV_BIT(VHU_FE_F_PROTOCOL_FEATURES)) {
		ret = vhu_fe_get_u64(fe, VHU_FE_GET_PROTOCOL_FEATURES, &pf);
		if (!ret)
			ret = vhu_fe_set_u64(fe, VHU_FE_SET_PROTOCOL_FEATURES,
					     pf & proto, -1, false);
		if (ret)
			return ret;
		fe->protocol_features = pf & proto;
	}
	feat &= ~(VDEV_BIT(26) | VDEV_BIT(VDEV_F_EVENT_IDX));
	if (!packed)
		feat &= ~VDEV_BIT(VDEV_F_RING_PACKED);
	g->features = feat & ~VDEV_BIT(VHU_FE_F_PROTOCOL_FEATURES);
	ret = vhu_fe_set_u64(fe, VHU_FE_SET_FEATURES, feat, -1, false);
	if (ret)
		return ret;
	if (fe->protocol_features & VDEV_BIT(16)) {
		ret = vhu_fe_set_u64(fe, 39, 1 | 2 | 8, -1, false);
		if (ret)
			return ret;
	}
	g->ring = vdev_drv_ring_new(g->mem, qsize, g->features);
	if (!g->ring)
		return -ENOMEM;
	vdev_drv_ring_queue_config(g->ring, &qc);
	ret = vhu_fe_set_mem_table(fe, g->mem, false);
	if (!ret)
		ret = vhu_fe_set_state(fe, VHU_FE_SET_VRING_NUM, 0, qsize,
				       false);
	if (!ret)
		ret = vhu_fe_set_state(fe, VHU_FE_SET_VRING_BASE, 0,
				       packed && !fe->uml ? (fe->dpdk ? 0x8000u : 0x80008000u) : 0,
				       false);
	if (ret)
		return ret;
	a32[0] = 0;
	a32[1] = 0;
	a[1] = uva(g->mem, qc.desc_addr);
	a[2] = uva(g->mem, qc.device_addr);
	a[3] = uva(g->mem, qc.driver_addr);
	a[4] = 0;
	ret = vhu_fe_request(fe, VHU_FE_SET_VRING_ADDR, a, sizeof(a), NULL, 0,
			     false);
	if (ret)
		return ret;
	if (!inband) {
		g->kick_fd = eventfd(0, EFD_CLOEXEC);
		g->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	}
	if (!fe->uml)
		ret = vhu_fe_set_u64(fe, VHU_FE_SET_VRING_CALL,
				     g->call_fd < 0 ? VHU_FE_NOFD : 0,
				     g->call_fd, false);
	if (!ret && !fe->uml)
		ret = vhu_fe_set_u64(fe, VHU_FE_SET_VRING_KICK,
				     g->kick_fd < 0 ? VHU_FE_NOFD : 0,
				     g->kick_fd, false);
	if (!ret && (feat & VDEV_BIT(VHU_FE_F_PROTOCOL_FEATURES)))
		ret = vhu_fe_set_state(fe, VHU_FE_SET_VRING_ENABLE, 0, 1,
				       false);
	if (!ret && (fe->protocol_features & VDEV_BIT(16)))
		ret = vhu_fe_set_u64(fe, 39, 1 | 2 | 4 | 8, -1, false);
	/* A round trip so everything above has been handled. */
	if (!ret)
		ret = vhu_fe_get_u64(fe, VHU_FE_GET_FEATURES, &feat);
	return ret;
}

int vhu_fe_add_queue(struct vhu_fe *fe, struct vhu_fe_guest *g,
		     struct vhu_fe_queue *q, unsigned idx, uint16_t qsize)
{
	struct vdev_queue_config qc;
	uint64_t a[5];
	uint32_t *a32 = (uint32_t *)&a[0];
	uint64_t feat;
	int ret;

	q->idx = idx;
	q->kick_fd = q->call_fd = -1;
	q->ring = vdev_drv_ring_new(g->mem, qsize, g->features);
	if (!q->ring)
		return -ENOMEM;
	vdev_drv_ring_queue_config(q->ring, &qc);
	ret = vhu_fe_set_state(fe, VHU_FE_SET_VRING_NUM, idx, qsize, false);
	if (!ret)
		ret = vhu_fe_set_state(fe, VHU_FE_SET_VRING_BASE, idx, 0,
				       false);
	if (ret)
		return ret;
	a32[0] = idx;
	a32[1] = 0;
	a[1] = uva(g->mem, qc.desc_addr);
	a[2] = uva(g->mem, qc.device_addr);
	a[3] = uva(g->mem, qc.driver_addr);
	a[4] = 0;
	ret = vhu_fe_request(fe, VHU_FE_SET_VRING_ADDR, a, sizeof(a), NULL, 0,
			     false);
	if (ret)
		return ret;
	q->kick_fd = eventfd(0, EFD_CLOEXEC);
	q->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->kick_fd < 0 || q->call_fd < 0)
		return -errno;
	ret = vhu_fe_set_u64(fe, VHU_FE_SET_VRING_CALL, idx, q->call_fd,
			     false);
	if (!ret)
		ret = vhu_fe_set_u64(fe, VHU_FE_SET_VRING_KICK, idx, q->kick_fd,
				     false);
	if (!ret)
		ret = vhu_fe_set_state(fe, VHU_FE_SET_VRING_ENABLE, idx, 1,
				       false);
	/* A round trip so everything above has been handled. */
	if (!ret)
		ret = vhu_fe_get_u64(fe, VHU_FE_GET_FEATURES, &feat);
	return ret;
}

void vhu_fe_queue_fini(struct vhu_fe_queue *q)
{
	vdev_drv_ring_free(q->ring);
	q->ring = NULL;
	if (q->kick_fd >= 0)
		close(q->kick_fd);
	if (q->call_fd >= 0)
		close(q->call_fd);
	q->kick_fd = q->call_fd = -1;
}

void vhu_fe_guest_fini(struct vhu_fe_guest *g)
{
	vdev_drv_ring_free(g->ring);
	vdev_drv_mem_free(g->mem);
	if (g->kick_fd >= 0)
		close(g->kick_fd);
	if (g->call_fd >= 0)
		close(g->call_fd);
	memset(g, 0, sizeof(*g));
	g->kick_fd = g->call_fd = -1;
}

int vhu_fe_kick(struct vhu_fe *fe, struct vhu_fe_guest *g)
{
	uint64_t one = 1;

	if (g->kick_fd >= 0)
		return write(g->kick_fd, &one, 8) == 8 ? 0 : -errno;
	return vhu_fe_set_state(fe, VHU_FE_VRING_KICK, 0, 0, false);
}

/* ---- adapter on a thread --------------------------------------------- */

static void *server_main(void *arg)
{
	struct vhu_fe_server *s = arg;

	__atomic_store_n(&s->tid, (long)syscall(SYS_gettid), __ATOMIC_RELEASE);
	s->ret = vdev_vhost_user_run(s->vu);
	return NULL;
}

int vhu_fe_server_start(struct vhu_fe_server *s, struct vdev *dev,
			const struct vdev_vhost_user_config *cfg)
{
	static unsigned seq;
	struct vdev_vhost_user_config c = { 0 };

	if (cfg)
		c = *cfg;
	memset(s, 0, sizeof(*s));
	s->dev = dev;
	snprintf(s->path, sizeof(s->path), "/tmp/vhu-test-%d-%u.sock",
		 (int)getpid(), __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED));
	c.mode = VDEV_VHOST_USER_LISTEN;
	c.path = s->path;
	s->vu = vdev_vhost_user_new(dev, &c);
	if (!s->vu)
		return -errno;
	if (pthread_create(&s->thread, NULL, server_main, s)) {
		vdev_vhost_user_free(s->vu);
		return -EAGAIN;
	}
	return 0;
}

void vhu_fe_server_stop(struct vhu_fe_server *s)
{
	if (!s->vu)
		return;
	vdev_vhost_user_stop(s->vu);
	pthread_join(s->thread, NULL);
	vdev_vhost_user_free(s->vu);
	s->vu = NULL;
}

bool vhu_fe_server_idle(struct vhu_fe_server *s, int timeout_ms)
{
	for (int waited = 0; waited <= timeout_ms; waited += 2) {
		if (!vdev_vhost_user_connected(s->vu))
			return true;
		sleep_ms(2);
	}
	return false;
}
