/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The adapter object: sockets (listen, connect, inherited fd), the control
 * loop, the queue workers, and the connection lifecycle. A connection that
 * ends leaves the device reset and kept; a listening adapter then accepts
 * the next frontend (QEMU's reconnect=1).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <virtio/transport.h>

#include "core/thread.h"
#include "peer/peer_io.h"
#include "peer/peer_listen.h"
#include "vhu_internal.h"
#include "core/sized.h"

#define P(f) VDEV_BIT(VDEV_VHOST_USER_PROTOCOL_F_##f)

uint64_t vdev_vhost_user_protocol_features(void)
{
	return P(MQ) | P(LOG_SHMFD) | P(REPLY_ACK) | P(BACKEND_REQ) |
	       P(CONFIG) | P(RESET_DEVICE) | P(INBAND_NOTIFICATIONS) |
	       P(CONFIGURE_MEM_SLOTS) | P(STATUS) | P(DEVICE_STATE) |
	       P(INFLIGHT_SHMFD);
}

/* What this device makes sense of. */
static uint64_t device_protocol_features(struct vdev *dev)
{
	uint64_t f = vdev_vhost_user_protocol_features();

	if (vdev_num_queues(dev) < 2)
		f &= ~P(MQ);
	if (vdev_config_size(dev) == 0)
		f &= ~P(CONFIG);
	return f;
}

static void conn_event(void *arg, int fd, uint32_t events);
static void listen_event(void *arg, int fd, uint32_t events);

/* Forgets everything the frontend set up; the device stays, reset. */
static void session_reset(struct vdev_vhost_user *vu)
{
	if (!vu->rings || !vu->mem)
		return; /* construction failed before there was a session */
	vhu_state_cancel(vu);
	vhu_rings_reset(vu);
	vdev_reset(vu->dev);
	vhu_log_unmap(vu);
	vhu_inflight_unmap(vu);
	vhu_backend_close(vu);
	vdev_mem_replace(vu->mem, NULL, 0);
	vhu_mem_dup_clear(vu);
	__atomic_store_n(&vu->proto_acked, 0, __ATOMIC_RELEASE);
	vu->proto_features_acked = false;
	vu->features_set = false;
	vu->log_all = false;
	vu->owner = false;
}

static void disconnect(struct vdev_vhost_user *vu)
{
	if (vu->conn_fd < 0)
		return;
	vdev_loop_del(vu->loop, vu->conn_fd);
	close(vu->conn_fd);
	vhu_capture_note(vu, "disconnect");
	vdev_log(VDEV_LOG_INFO, "vhost-user %s: frontend disconnected%s%s",
		 vdev_get_info(vu->dev)->name, vu->unlink_path ? " from " : "",
		 vu->unlink_path ? vu->unlink_path : "");
	session_reset(vu);
	/* Published last: a reader of vdev_vhost_user_connected() sees
	 * "not connected" only once the session is gone. */
	__atomic_store_n(&vu->conn_fd, -1, __ATOMIC_RELEASE);
	if (vu->listen_fd >= 0) {
		vdev_loop_add(vu->loop, vu->listen_fd, EPOLLIN, listen_event,
			      vu);
	} else {
		vu->closed = true;
		vdev_loop_stop(vu->loop);
	}
}

static int attach(struct vdev_vhost_user *vu, int fd)
{
	int ret;

	__atomic_store_n(&vu->conn_fd, fd, __ATOMIC_RELEASE);
	ret = vdev_loop_add(vu->loop, fd, EPOLLIN, conn_event, vu);
	if (ret) {
		close(fd);
		vu->conn_fd = -1;
		return ret;
	}
	__atomic_add_fetch(&vu->connections, 1, __ATOMIC_RELEASE);
	vhu_capture_note(vu, "connect %u", vu->connections);
	vdev_log(VDEV_LOG_INFO, "vhost-user %s: frontend connected%s%s "
		 "(connection %u)", vdev_get_info(vu->dev)->name,
		 vu->unlink_path ? " on " : "",
		 vu->unlink_path ? vu->unlink_path : "", vu->connections);
	return 0;
}

static void conn_event(void *arg, int fd, uint32_t events)
{
	struct vdev_vhost_user *vu = arg;
	struct vhu_msg m;
	int ret;

	ret = vhu_msg_recv(fd, &m);
	if (ret == 0)
		ret = vhu_dispatch(vu, &m);
	else if (ret != -ECONNRESET)
		vdev_log(VDEV_LOG_WARN,
			 "vhost-user: malformed message: %s; closing",
			 strerror(-ret));
	if (ret < 0)
		disconnect(vu);
}

/*
 * Out of fds, a pending connection keeps the listening socket readable and
 * returning would make the control loop spin. Spend the reserve fd to
 * accept the connection and close it at once (the frontend sees it closed
 * and may retry), then take the reserve again. Without a reserve the
 * adapter stops listening rather than spin.
 */
static void shed_connection(struct vdev_vhost_user *vu, int fd)
{
	int c;

	if (vu->reserve_fd < 0) {
		vdev_log(VDEV_LOG_ERROR, "vhost-user: out of file descriptors "
			 "and no reserve left: no longer listening");
		vdev_loop_del(vu->loop, fd);
		return;
	}
	close(vu->reserve_fd);
	c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (c >= 0)
		close(c);
	vu->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	vdev_log(VDEV_LOG_WARN, "vhost-user: out of file descriptors: "
		 "refused a frontend connection");
}

static void listen_event(void *arg, int fd, uint32_t events)
{
	struct vdev_vhost_user *vu = arg;
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);

	if (c < 0) {
		if (errno == EMFILE || errno == ENFILE)
			shed_connection(vu, fd);
		return;
	}
	/* One frontend at a time: the next waits in the backlog. */
	vdev_loop_del(vu->loop, fd);
	if (attach(vu, c) < 0)
		vdev_loop_add(vu->loop, fd, EPOLLIN, listen_event, vu);
}

static int fill_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (!path || !*path || strlen(path) >= sizeof(sa->sun_path))
		return -EINVAL;
	strcpy(sa->sun_path, path);
	return 0;
}

static int open_listen(struct vdev_vhost_user *vu,
		       const struct vdev_vhost_user_config *cfg)
{
	struct vpeer_sockperm perm = {
		.set_gid = cfg->set_socket_group,
		.set_mode = cfg->set_socket_mode,
		.gid = cfg->socket_gid,
		.mode = cfg->socket_mode,
	};
	struct sockaddr_un sa;
	int fd, ret;

	ret = fill_addr(&sa, cfg->path);
	if (ret)
		return ret;
	/* A stale socket from an earlier run is replaced; a live one (a
	 * daemon still serving it) and any other file are left alone. The
	 * path appears listening, with its group and mode. */
	fd = vpeer_listen_unix(cfg->path, 1, &perm);
	if (fd < 0)
		return fd;
	vu->unlink_path = strdup(cfg->path);
	vu->listen_fd = fd;
	return 0;
}

static int open_connect(struct vdev_vhost_user *vu, const char *path)
{
	struct sockaddr_un sa;
	int fd, ret;

	ret = fill_addr(&sa, path);
	if (ret)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	vu->one_shot = true;
	return attach(vu, fd);
}

static int open_fd(struct vdev_vhost_user *vu, int fd)
{
	int listening = 0;
	socklen_t len = sizeof(listening);

	if (fd < 0)
		return -EINVAL;
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	if (listening) {
		vu->listen_fd = fd;
		return 0;
	}
	vu->one_shot = true;
	return attach(vu, fd);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Turns between two looks at the fds while polling, unless the last
 * look found something: a system call is not paid per turn, and an fd
 * (a backend's socket, a schedule) waits at most this many turns. */
#define POLL_FD_EVERY 16

/* Arms every queue of @w (vdev_vq_arm); true when one has buffers. */
static bool arm_all(struct vhu_worker *w)
{
	bool avail = false;

	for (unsigned i = 0; i < w->count; i++)
		avail |= vdev_vq_arm(w->dev, w->first + i);
	return avail;
}

/*
 * While the poll window is open the loop does not block: each turn looks
 * at the rings (their kicks stay off meanwhile, vdev_vq_hold_poll), and at its
 * fds every POLL_FD_EVERY turns or right after they had something. Work
 * of either kind reopens the window; once it has passed, the worker arms
 * the queues and sleeps in epoll until the next event.
 */
static void poll_loop(struct vhu_worker *w)
{
	uint64_t last = mono_ns();
	unsigned turns = 0;
	bool fd_work = true;

	for (;;) {
		bool polling = mono_ns() - last < w->poll_ns;
		bool ring_work = false;

		if (!polling && arm_all(w)) {
			polling = true;
			last = mono_ns();
		}
		if (!polling || fd_work || ++turns >= POLL_FD_EVERY) {
			int r = vdev_loop_run_once(w->loop, polling ? 0 : -1);

			if (r == -ECANCELED || (r < 0 && r != -EINTR))
				return;
			turns = 0;
			fd_work = r > 0;
		}
		for (unsigned i = 0; i < w->count; i++)
			ring_work |= vdev_vq_hold_poll(w->dev, w->first + i);
		if (fd_work || ring_work)
			last = mono_ns();
	}
}

static void *worker_main(void *arg)
{
	struct vhu_worker *w = arg;

	if (w->poll_ns)
		poll_loop(w);
	else
		vdev_loop_run(w->loop);
	return NULL;
}

static int start_workers(struct vdev_vhost_user *vu, bool per_queue,
			 unsigned poll_us)
{
	vu->nworkers = per_queue ? vu->nq : 1;
	vu->workers = calloc(vu->nworkers, sizeof(*vu->workers));
	if (!vu->workers)
		return -ENOMEM;
	for (unsigned i = 0; i < vu->nworkers; i++) {
		struct vhu_worker *w = &vu->workers[i];

		w->dev = vu->dev;
		w->first = per_queue ? i : 0;
		w->count = per_queue ? 1 : vu->nq;
		w->poll_ns = (uint64_t)poll_us * 1000u;
		w->loop = vdev_loop_new();
		if (!w->loop)
			return -ENOMEM;
		if (vcore_thread_create(&w->thread, worker_main, w))
			return -EAGAIN;
		w->thread_ok = true;
	}
	for (unsigned i = 0; i < vu->nq; i++) {
		struct vdev_watcher wt;
		int ret;

		vdev_loop_watcher(vu->workers[per_queue ? i : 0].loop, &wt);
		ret = vdev_vq_set_watcher(vu->dev, i, &wt);
		if (ret)
			return ret;
	}
	return 0;
}

static void stop_workers(struct vdev_vhost_user *vu)
{
	for (unsigned i = 0; i < vu->nq; i++)
		vdev_vq_set_watcher(vu->dev, i, NULL);
	for (unsigned i = 0; vu->workers && i < vu->nworkers; i++) {
		struct vhu_worker *w = &vu->workers[i];

		if (w->thread_ok) {
			vdev_loop_stop(w->loop);
			pthread_join(w->thread, NULL);
		}
		vdev_loop_free(w->loop);
	}
	free(vu->workers);
	vu->workers = NULL;
}

static struct vdev_vhost_user *
vhost_user_new(struct vdev *dev, const struct vdev_vhost_user_config *cfg)
{
	struct vdev_vhost_user *vu;
	int ret = -ENOMEM;

	if (!dev || !cfg) {
		errno = EINVAL;
		return NULL;
	}
	vu = calloc(1, sizeof(*vu));
	if (!vu)
		return NULL;
	vu->dev = dev;
	vu->listen_fd = vu->conn_fd = vu->backend_fd = vu->reserve_fd = -1;
	vu->nq = vdev_num_queues(dev);
	pthread_mutex_init(&vu->backend_lock, NULL);
	vhu_capture_open(vu);
	vu->proto_supported =
		device_protocol_features(dev) & ~cfg->protocol_features_off &
		(~VDEV_VHOST_USER_PROTOCOL_OPT_IN | cfg->protocol_features_on);
	vu->rings = calloc(vu->nq, sizeof(*vu->rings));
	vu->mem = vdev_mem_new();
	vu->loop = vdev_loop_new();
	if (!vu->rings || !vu->mem || !vu->loop)
		goto fail;
	vhu_rings_init(vu);
	ret = vdev_set_mem(dev, vu->mem);
	if (ret)
		goto fail;
	vdev_set_transport(dev, &vhu_transport_ops, vu);
	ret = start_workers(vu,
			    cfg->threads == VDEV_VHOST_USER_THREAD_PER_QUEUE,
			    cfg->poll_us);
	if (ret)
		goto fail;
	switch (cfg->mode) {
	case VDEV_VHOST_USER_LISTEN:
		ret = open_listen(vu, cfg);
		break;
	case VDEV_VHOST_USER_CONNECT:
		ret = open_connect(vu, cfg->path);
		break;
	case VDEV_VHOST_USER_FD:
		ret = open_fd(vu, cfg->fd);
		break;
	default:
		ret = -EINVAL;
		break;
	}
	if (!ret && vu->listen_fd >= 0) {
		vu->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (vu->reserve_fd < 0)
			ret = -errno;
	}
	if (!ret && vu->listen_fd >= 0)
		ret = vdev_loop_add(vu->loop, vu->listen_fd, EPOLLIN,
				    listen_event, vu);
	if (ret)
		goto fail;
	return vu;
fail:
	vdev_vhost_user_free(vu);
	errno = -ret;
	return NULL;
}

void vdev_vhost_user_free(struct vdev_vhost_user *vu)
{
	if (!vu)
		return;
	if (vu->conn_fd >= 0) {
		vdev_loop_del(vu->loop, vu->conn_fd);
		close(vu->conn_fd);
		vu->conn_fd = -1;
	}
	/* Rings stop while the workers still run, so requests in flight
	 * can complete. */
	session_reset(vu);
	stop_workers(vu);
	vdev_set_transport(vu->dev, NULL, NULL);
	if (vu->listen_fd >= 0)
		close(vu->listen_fd);
	if (vu->reserve_fd >= 0)
		close(vu->reserve_fd);
	if (vu->unlink_path) {
		unlink(vu->unlink_path);
		free(vu->unlink_path);
	}
	vdev_loop_free(vu->loop);
	vdev_mem_free(vu->mem);
	vhu_capture_close(vu);
	pthread_mutex_destroy(&vu->backend_lock);
	free(vu->rings);
	free(vu);
}

int vdev_vhost_user_run(struct vdev_vhost_user *vu)
{
	if (vu->closed)
		return 0;
	return vdev_loop_run(vu->loop);
}

void vdev_vhost_user_stop(struct vdev_vhost_user *vu)
{
	vdev_loop_stop(vu->loop);
}

int vdev_vhost_user_fd(const struct vdev_vhost_user *vu)
{
	return vdev_loop_fd(vu->loop);
}

int vdev_vhost_user_dispatch(struct vdev_vhost_user *vu, int timeout_ms)
{
	if (vu->closed)
		return -ENOTCONN;
	return vdev_loop_run_once(vu->loop, timeout_ms);
}

unsigned vdev_vhost_user_connections(const struct vdev_vhost_user *vu)
{
	return __atomic_load_n(&vu->connections, __ATOMIC_ACQUIRE);
}

bool vdev_vhost_user_connected(const struct vdev_vhost_user *vu)
{
	return __atomic_load_n(&vu->conn_fd, __ATOMIC_ACQUIRE) >= 0;
}

/* The caller's config at the size it was compiled with (api.h). */
struct vdev_vhost_user *
(vdev_vhost_user_new)(struct vdev *dev,
		      const struct vdev_vhost_user_config *cfg, size_t size)
{
	struct vdev_vhost_user_config c;

	if (cfg && !VSIZED_IN(c, cfg, size))
		return NULL;
	return vhost_user_new(dev, cfg ? &c : NULL);
}
