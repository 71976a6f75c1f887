/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The software driver as a vhost-user frontend (testing.h,
 * vdev_drv_connect_vhost_user): the same driver, guest RAM and rings as
 * for a device in this process, but the device is a back-end behind a
 * UNIX socket (a daemon), reached the way QEMU reaches it:
 *  - connect: SET_OWNER, GET_FEATURES, GET/SET_PROTOCOL_FEATURES
 *    (REPLY_ACK, CONFIG, MQ, STATUS, RESET_DEVICE and BACKEND_REQ when
 *    offered), GET_QUEUE_NUM, SET_BACKEND_REQ_FD;
 *  - negotiate: SET_STATUS ACKNOWLEDGE|DRIVER, SET_FEATURES, SET_STATUS
 *    FEATURES_OK and GET_STATUS to see it stick (with STATUS), else
 *    SET_FEATURES acked;
 *  - each queue: SET_MEM_TABLE (once, the RAM's memfd), SET_VRING_NUM,
 *    _BASE, _ADDR (the driver's own addresses), _CALL and _KICK (eventfds),
 *    _ENABLE;
 *  - DRIVER_OK: SET_STATUS (with STATUS);
 *  - config space: GET_CONFIG / SET_CONFIG; config-change interrupts
 *    arrive as BACKEND_CONFIG_CHANGE_MSG on the back-end channel;
 *  - a new negotiation stops the rings (GET_VRING_BASE) and resets the
 *    device (RESET_DEVICE, or SET_STATUS 0).
 * Messages use the wire code of the vhost-user adapter (vhu_msg.c), each
 * with a deadline; a back-end that stalls or breaks the protocol costs the
 * call an error, never a hang.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <virtio/loop.h>
#include <virtio/testing.h>
#include <virtio/vhost-user.h>

#include "adapters/vhost-user/vhu_internal.h"
#include "peer/peer_io.h"
#include "testing/drv_internal.h"
#include "core/sized.h"

#define PF(f) VDEV_BIT(VDEV_VHOST_USER_PROTOCOL_F_##f)
/* What this frontend can use when the back-end offers it. */
#define WANTED (PF(REPLY_ACK) | PF(CONFIG) | PF(MQ) | PF(STATUS) | \
		PF(RESET_DEVICE) | PF(BACKEND_REQ))
#define CONNECT_TIMEOUT_MS 5000
#define MAX_QUEUES 1024

struct vulink {
	int sock;
	int backend;        /* our end of the back-end channel, or -1 */
	uint64_t offered;   /* GET_FEATURES, transport bits removed */
	bool proto_ok;      /* VHOST_USER_F_PROTOCOL_FEATURES offered */
	uint64_t proto;     /* protocol features in use */
	uint8_t status;     /* what we set (no STATUS: our own view) */
	bool mem_sent;
	bool *started;      /* per queue: SET_VRING_KICK sent */
};

static struct vulink *L(struct vdev_drv *drv)
{
	return drv->lp;
}

static bool has(const struct vulink *l, uint64_t pf)
{
	return (l->proto & pf) == pf;
}

/* ---- messages --------------------------------------------------------- */

static void msg_init(struct vhu_msg *m, uint32_t request, uint32_t size)
{
	memset(m, 0, sizeof(*m));
	m->request = request;
	m->flags = VHU_VERSION;
	m->size = size;
}

/* A message on the back-end channel: a config change is a config
 * interrupt; anything asking for a reply gets "not supported". */
static void backend_msg(struct vdev_drv *drv)
{
	struct vulink *l = L(drv);
	struct vhu_msg m, r;

	if (vhu_msg_recv(l->backend, &m) < 0) {
		/* Gone or garbage: no more back-end messages. */
		vdev_loop_del(drv->loop, l->backend);
		close(l->backend);
		l->backend = -1;
		return;
	}
	vhu_msg_close_fds(&m);
	if (m.request == VHU_BACKEND_CONFIG_CHANGE_MSG)
		vdrv_config_irq(drv);
	else if (m.request == VHU_BACKEND_VRING_CALL &&
		 m.size >= sizeof(m.p.state))
		vdrv_queue_irq(drv, m.p.state.index);
	if (m.flags & VHU_FLAG_NEED_REPLY) {
		msg_init(&r, m.request, sizeof(r.p.u64));
		r.flags = VHU_VERSION | VHU_FLAG_REPLY;
		r.p.u64 = m.request == VHU_BACKEND_CONFIG_CHANGE_MSG ? 0 :
								      ENOTSUP;
		vhu_msg_send(l->backend, &r, NULL, 0);
	}
}

static void backend_cb(void *arg, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	backend_msg(arg);
}

/* The reply to @request; back-end messages that come meanwhile are
 * served, so a back-end that asks for an ack while we wait gets it. */
static int recv_reply(struct vdev_drv *drv, uint32_t request,
		      struct vhu_msg *r)
{
	struct vulink *l = L(drv);
	uint64_t deadline = vpeer_deadline(vhu_stall_timeout_ms);
	int ret;

	for (;;) {
		int pr = vpeer_wait(l->sock, POLLIN, deadline, l->backend);

		if (pr == -ECANCELED) {
			backend_msg(drv);
			continue;
		}
		if (pr < 0)
			return pr;
		break;
	}
	ret = vhu_msg_recv(l->sock, r);
	if (ret < 0)
		return ret;
	vhu_msg_close_fds(r);
	if (r->request != request || !(r->flags & VHU_FLAG_REPLY) ||
	    (r->flags & VHU_VERSION_MASK) != VHU_VERSION)
		return -EPROTO;
	return 0;
}

/* A back-end that closed the connection: a send may see it first (EPIPE)
 * or the reply may (ECONNRESET), by timing alone; callers get one errno. */
static int fe_send(int sock, const struct vhu_msg *m, const int *fds,
		   unsigned nfds)
{
	int ret = vhu_msg_send(sock, m, fds, nfds);

	return ret == -EPIPE ? -ECONNRESET : ret;
}

/* A request without a reply of its own: acked when REPLY_ACK is in use
 * (the ack's value, a positive errno, comes back negated). */
static int request(struct vdev_drv *drv, struct vhu_msg *m, const int *fds,
		   unsigned nfds)
{
	struct vulink *l = L(drv);
	bool ack = has(l, PF(REPLY_ACK));
	struct vhu_msg r;
	int ret;

	if (ack)
		m->flags |= VHU_FLAG_NEED_REPLY;
	ret = fe_send(l->sock, m, fds, nfds);
	if (ret < 0 || !ack)
		return ret;
	ret = recv_reply(drv, m->request, &r);
	if (ret < 0)
		return ret;
	if (r.size != sizeof(r.p.u64))
		return -EPROTO;
	return r.p.u64 ? (r.p.u64 < 4096 ? -(int)r.p.u64 : -EIO) : 0;
}

/* A request with a reply (GET_*): @r receives it. */
static int query(struct vdev_drv *drv, struct vhu_msg *m, struct vhu_msg *r)
{
	int ret = fe_send(L(drv)->sock, m, NULL, 0);

	return ret < 0 ? ret : recv_reply(drv, m->request, r);
}

static int get_u64(struct vdev_drv *drv, uint32_t req, uint64_t *v)
{
	struct vhu_msg m, r;
	int ret;

	msg_init(&m, req, 0);
	ret = query(drv, &m, &r);
	if (ret < 0)
		return ret;
	if (r.size != sizeof(r.p.u64))
		return -EPROTO;
	*v = r.p.u64;
	return 0;
}

static int set_u64(struct vdev_drv *drv, uint32_t req, uint64_t v)
{
	struct vhu_msg m;

	msg_init(&m, req, sizeof(m.p.u64));
	m.p.u64 = v;
	return request(drv, &m, NULL, 0);
}

static int set_state(struct vdev_drv *drv, uint32_t req, unsigned qidx,
		     uint32_t num)
{
	struct vhu_msg m;

	msg_init(&m, req, sizeof(m.p.state));
	m.p.state.index = qidx;
	m.p.state.num = num;
	return request(drv, &m, NULL, 0);
}

/* ---- the link ----------------------------------------------------------- */

static uint64_t vu_device_features(struct vdev_drv *drv)
{
	return L(drv)->offered;
}

static int set_status(struct vdev_drv *drv, uint8_t s)
{
	struct vulink *l = L(drv);
	int ret = 0;

	if (has(l, PF(STATUS)))
		ret = set_u64(drv, VHU_SET_STATUS, s);
	if (!ret)
		l->status = s;
	return ret;
}

static uint8_t vu_status(struct vdev_drv *drv)
{
	struct vulink *l = L(drv);
	uint64_t s;

	if (has(l, PF(STATUS)) && get_u64(drv, VHU_GET_STATUS, &s) == 0)
		return (uint8_t)s;
	return l->status;
}

/* GET_VRING_BASE: the back-end stops the ring once nothing it popped is
 * in flight. A packed ring's answer carries both positions and wrap
 * counters (avail in bits 0..15, used in 16..31), as QEMU reads it. */
static int get_vring_base(struct vdev_drv *drv, unsigned qidx,
			  struct vdev_queue_state *st)
{
	struct vhu_msg m, r;
	uint32_t num;
	int ret;

	msg_init(&m, VHU_GET_VRING_BASE, sizeof(m.p.state));
	m.p.state.index = qidx;
	ret = query(drv, &m, &r);
	if (ret < 0)
		return ret;
	if (r.size != sizeof(r.p.state) || r.p.state.index != qidx)
		return -EPROTO;
	L(drv)->started[qidx] = false;
	num = r.p.state.num;
	memset(st, 0, sizeof(*st));
	if (drv->features & VDEV_BIT(VDEV_F_RING_PACKED)) {
		st->avail_idx = num & 0x7fff;
		st->avail_wrap = num & 0x8000;
		st->used_idx = (num >> 16) & 0x7fff;
		st->used_wrap = num & 0x80000000u;
	} else {
		st->avail_idx = (uint16_t)num;
		st->used_idx = (uint16_t)num;
	}
	return 0;
}

static int vu_stop_queue(struct vdev_drv *drv, unsigned qidx,
			 struct vdev_queue_state *st)
{
	if (!L(drv)->started[qidx])
		return -EINVAL;
	return get_vring_base(drv, qidx, st);
}

static int vu_reset(struct vdev_drv *drv)
{
	struct vulink *l = L(drv);
	int ret = 0;

	/* Started rings stop first: GET_VRING_BASE waits for what the
	 * back-end has in flight. */
	for (unsigned i = 0; i < drv->nq; i++) {
		struct vdev_queue_state st;

		if (!l->started[i])
			continue;
		ret = get_vring_base(drv, i, &st);
		if (ret < 0)
			return ret;
	}
	if (has(l, PF(RESET_DEVICE))) {
		struct vhu_msg m;

		msg_init(&m, VHU_RESET_DEVICE, 0);
		ret = request(drv, &m, NULL, 0);
	} else if (has(l, PF(STATUS))) {
		ret = set_u64(drv, VHU_SET_STATUS, 0);
	}
	l->status = 0;
	return ret;
}

static int vu_negotiate(struct vdev_drv *drv, uint64_t features)
{
	struct vulink *l = L(drv);
	uint64_t wire = features;
	int ret;

	if (features & ~l->offered)
		return -EINVAL;
	if (l->proto_ok)
		wire |= VDEV_BIT(VHU_F_PROTOCOL_FEATURES);
	ret = set_status(drv, VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER);
	if (!ret)
		ret = set_u64(drv, VHU_SET_FEATURES, wire);
	if (ret == -EINVAL || ret == -EPROTO)
		return -EPROTO; /* the back-end refused them */
	if (ret < 0)
		return ret;
	if (!has(l, PF(STATUS))) {
		l->status |= VDEV_STATUS_FEATURES_OK;
		return 0;
	}
	ret = set_status(drv, l->status | VDEV_STATUS_FEATURES_OK);
	if (ret < 0 && ret != -EINVAL)
		return ret;
	/* 3.1.1: read the status back to see whether the device agreed. */
	return vu_status(drv) & VDEV_STATUS_FEATURES_OK ? 0 : -EPROTO;
}

static uint64_t uva(struct vdev_drv *drv, uint64_t gpa)
{
	return (uint64_t)(uintptr_t)vdev_drv_mem_host(drv->mem, gpa);
}

static int send_mem_table(struct vdev_drv *drv)
{
	struct vdev_drv_mem *mem = drv->mem;
	unsigned n = vdrv_mem_nregions(mem);
	uint64_t base = vdev_drv_mem_base(mem);
	size_t size = vdev_drv_mem_size(mem), chunk = size / n;
	int fds[VHU_MAX_FDS];
	struct vhu_msg m;

	if (n > VHU_MAX_FDS)
		return -E2BIG;
	msg_init(&m, VHU_SET_MEM_TABLE,
		 offsetof(struct vhu_mem_table, regions) +
			 n * sizeof(struct vhu_mem_region));
	m.p.mem.nregions = n;
	for (unsigned i = 0; i < n; i++) {
		struct vhu_mem_region *r = &m.p.mem.regions[i];

		r->guest_addr = base + (uint64_t)i * chunk;
		r->size = i + 1 < n ? chunk : size - (size_t)i * chunk;
		r->user_addr = uva(drv, r->guest_addr);
		r->mmap_offset = (uint64_t)i * chunk;
		fds[i] = vdev_drv_mem_fd(mem);
	}
	return request(drv, &m, fds, n);
}

static int vu_setup_queue(struct vdev_drv *drv, unsigned qidx,
			  const struct vdev_queue_config *qc)
{
	struct vulink *l = L(drv);
	struct drv_queue *dq = &drv->qs[qidx];
	bool packed = drv->features & VDEV_BIT(VDEV_F_RING_PACKED);
	struct vhu_msg m;
	int ret = 0;

	if (!l->mem_sent) {
		ret = send_mem_table(drv);
		if (ret < 0)
			return ret;
		l->mem_sent = true;
	}
	ret = set_state(drv, VHU_SET_VRING_NUM, qidx, qc->size);
	/* A packed ring starts with both wrap counters set (bit 15 of
	 * each half), as QEMU sends it. */
	if (!ret)
		ret = set_state(drv, VHU_SET_VRING_BASE, qidx,
				packed ? 0x80008000u : 0);
	if (ret < 0)
		return ret;
	msg_init(&m, VHU_SET_VRING_ADDR, sizeof(m.p.addr));
	m.p.addr.index = qidx;
	m.p.addr.desc = uva(drv, qc->desc_addr);
	m.p.addr.avail = uva(drv, qc->driver_addr);
	m.p.addr.used = uva(drv, qc->device_addr);
	ret = request(drv, &m, NULL, 0);
	if (ret < 0)
		return ret;
	msg_init(&m, VHU_SET_VRING_CALL, sizeof(m.p.u64));
	m.p.u64 = qidx;
	ret = request(drv, &m, &dq->call_fd, 1);
	if (ret < 0)
		return ret;
	msg_init(&m, VHU_SET_VRING_KICK, sizeof(m.p.u64));
	m.p.u64 = qidx;
	ret = request(drv, &m, &dq->kick_fd, 1);
	if (ret < 0)
		return ret;
	l->started[qidx] = true;
	if (l->proto_ok)
		ret = set_state(drv, VHU_SET_VRING_ENABLE, qidx, 1);
	return ret;
}

static int vu_driver_ok(struct vdev_drv *drv)
{
	struct vulink *l = L(drv);
	int ret = set_status(drv, l->status | VDEV_STATUS_DRIVER_OK);

	if (ret < 0)
		return ret;
	return vu_status(drv) & VDEV_STATUS_DEVICE_NEEDS_RESET ? -EIO : 0;
}

static int vu_kick(struct vdev_drv *drv, unsigned qidx, uint32_t data)
{
	(void)drv;
	(void)qidx;
	(void)data;
	return -ENOTSUP; /* every queue has a kick eventfd */
}

static int vu_config_read(struct vdev_drv *drv, uint32_t offset, void *buf,
			  uint32_t len)
{
	uint8_t *out = buf;

	if (!has(L(drv), PF(CONFIG)))
		return -ENOTSUP;
	while (len) {
		uint32_t n = len < VHU_MAX_CONFIG_SIZE ? len :
							VHU_MAX_CONFIG_SIZE;
		struct vhu_msg m, r;
		int ret;

		msg_init(&m, VHU_GET_CONFIG, VHU_CONFIG_HDR_SIZE + n);
		m.p.config.offset = offset;
		m.p.config.size = n;
		ret = query(drv, &m, &r);
		if (ret < 0)
			return ret;
		/* A refused read comes back with no data. */
		if (r.size != VHU_CONFIG_HDR_SIZE + n || r.p.config.size != n)
			return -ERANGE;
		memcpy(out, r.p.config.data, n);
		out += n;
		offset += n;
		len -= n;
	}
	return 0;
}

static int vu_config_write(struct vdev_drv *drv, uint32_t offset,
			   const void *buf, uint32_t len)
{
	struct vhu_msg m;

	if (!has(L(drv), PF(CONFIG)))
		return -ENOTSUP;
	/* One message, as QEMU sends one guest write. */
	if (len > VHU_MAX_CONFIG_SIZE)
		return -EINVAL;
	msg_init(&m, VHU_SET_CONFIG, VHU_CONFIG_HDR_SIZE + len);
	m.p.config.offset = offset;
	m.p.config.size = len;
	memcpy(m.p.config.data, buf, len);
	return request(drv, &m, NULL, 0);
}

static void vu_fini(struct vdev_drv *drv)
{
	struct vulink *l = L(drv);

	if (!l)
		return;
	/* Closing the socket is a disconnect: the back-end stops the
	 * rings and resets its device. */
	if (l->backend >= 0) {
		vdev_loop_del(drv->loop, l->backend);
		close(l->backend);
	}
	if (l->sock >= 0)
		close(l->sock);
	free(l->started);
	free(l);
	drv->lp = NULL;
}

static const struct drv_link vu_link = {
	.device_features = vu_device_features,
	.reset = vu_reset,
	.negotiate = vu_negotiate,
	.setup_queue = vu_setup_queue,
	.driver_ok = vu_driver_ok,
	.kick = vu_kick,
	.config_read = vu_config_read,
	.config_write = vu_config_write,
	.stop_queue = vu_stop_queue,
	.status = vu_status,
	.fini = vu_fini,
};

/* ---- connecting --------------------------------------------------------- */

static int connect_path(const char *path, int timeout_ms)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deadline = vpeer_deadline(timeout_ms);

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), e;
		struct timespec ts = { 0, 10 * 1000000L };

		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		e = errno;
		close(fd);
		/* A daemon that is still starting has no socket yet, or
		 * does not listen yet. */
		if ((e != ENOENT && e != ECONNREFUSED) ||
		    vpeer_now_ns() >= deadline)
			return -e;
		nanosleep(&ts, NULL);
	}
}

/* The handshake before the driver exists: what the back-end offers and
 * how many queues it has. @drv is a stand-in with only the link set. */
static int hello(struct vdev_drv *drv, const struct vdev_drv_config *cfg,
		 unsigned *nq)
{
	struct vulink *l = L(drv);
	uint64_t f, pf = 0, n;
	struct vhu_msg m;
	int ret;

	msg_init(&m, VHU_SET_OWNER, 0);
	ret = fe_send(l->sock, &m, NULL, 0);
	if (!ret)
		ret = get_u64(drv, VHU_GET_FEATURES, &f);
	if (ret < 0)
		return ret;
	l->proto_ok = f & VDEV_BIT(VHU_F_PROTOCOL_FEATURES);
	l->offered = f & ~(VDEV_BIT(VHU_F_PROTOCOL_FEATURES) |
			   VDEV_BIT(VHU_F_LOG_ALL));
	if (l->proto_ok) {
		ret = get_u64(drv, VHU_GET_PROTOCOL_FEATURES, &pf);
		if (ret < 0)
			return ret;
		pf &= WANTED;
		/* Acked as soon as the back-end has REPLY_ACK. */
		l->proto = pf & PF(REPLY_ACK);
		ret = set_u64(drv, VHU_SET_PROTOCOL_FEATURES, pf);
		if (ret < 0)
			return ret;
		l->proto = pf;
	}
	*nq = cfg && cfg->num_queues ? cfg->num_queues : 1;
	if ((!cfg || !cfg->num_queues) && has(l, PF(MQ))) {
		ret = get_u64(drv, VHU_GET_QUEUE_NUM, &n);
		if (ret < 0)
			return ret;
		if (n == 0 || n > MAX_QUEUES)
			return -EPROTO;
		*nq = (unsigned)n;
	}
	return 0;
}

static int open_backend_channel(struct vdev_drv *drv)
{
	struct vulink *l = L(drv);
	struct vhu_msg m;
	int sp[2], ret;

	if (!has(l, PF(BACKEND_REQ)))
		return 0;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return -errno;
	msg_init(&m, VHU_SET_BACKEND_REQ_FD, 0);
	ret = request(drv, &m, &sp[1], 1);
	close(sp[1]);
	if (ret < 0) {
		close(sp[0]);
		return ret;
	}
	l->backend = sp[0];
	return vdev_loop_add(drv->loop, l->backend, EPOLLIN, backend_cb, drv);
}

/* The driver on connected socket @sock (which it owns from now on). */
static struct vdev_drv *attach(int sock, const struct vdev_drv_config *cfg)
{
	struct vdev_drv stand_in = { .link = &vu_link };
	struct vdev_drv *drv;
	struct vulink *l;
	unsigned nq = 1;
	int ret;

	l = calloc(1, sizeof(*l));
	if (!l) {
		close(sock);
		errno = ENOMEM;
		return NULL;
	}
	l->backend = -1;
	l->sock = sock;
	stand_in.lp = l;
	ret = hello(&stand_in, cfg, &nq);
	if (ret < 0) {
		vu_fini(&stand_in);
		errno = -ret;
		return NULL;
	}
	l->started = calloc(nq, sizeof(*l->started));
	drv = l->started ? vdrv_alloc(cfg, nq, true) : NULL;
	if (!drv) {
		ret = l->started ? errno : ENOMEM;
		vu_fini(&stand_in);
		errno = ret;
		return NULL;
	}
	drv->link = &vu_link;
	drv->lp = l;
	ret = open_backend_channel(drv);
	if (ret < 0) {
		vdrv_free(drv);
		errno = -ret;
		return NULL;
	}
	return drv;
}

struct vdev_drv *(vdev_drv_connect_vhost_user)(
	const char *path, const struct vdev_drv_config *ucfg, size_t size)
{
	struct vdev_drv_config c;
	const struct vdev_drv_config *cfg = VSIZED_IN(c, ucfg, size);
	int sock;

	if (!path || (ucfg && !cfg)) {
		errno = EINVAL;
		return NULL;
	}
	sock = connect_path(path, cfg && cfg->timeout_ms ? cfg->timeout_ms :
							   CONNECT_TIMEOUT_MS);
	if (sock < 0) {
		errno = -sock;
		return NULL;
	}
	return attach(sock, cfg);
}

struct vdev_drv *(vdev_drv_vhost_user_fd)(
	int fd, const struct vdev_drv_config *ucfg, size_t size)
{
	struct vdev_drv_config c;
	const struct vdev_drv_config *cfg = VSIZED_IN(c, ucfg, size);
	int type = 0;
	socklen_t len = sizeof(type);

	if (ucfg && !cfg) {
		if (fd >= 0)
			close(fd); /* ours from the call on, as documented */
		errno = EINVAL;
		return NULL;
	}

	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    type != SOCK_STREAM) {
		if (fd >= 0)
			close(fd);
		errno = fd < 0 ? EBADF : ENOTSOCK;
		return NULL;
	}
	return attach(fd, cfg);
}
