/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The back-end request channel (SET_BACKEND_REQ_FD) and the two callbacks
 * the core makes: a queue interrupt without a call fd becomes an in-band
 * BACKEND_VRING_CALL, a config change becomes BACKEND_CONFIG_CHANGE_MSG
 * (and, when the device needs a reset, a signal on every ring's err fd).
 * Workers and the control thread share the channel under backend_lock.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <virtio/transport.h>

#include "peer/peer_io.h"
#include "vhu_internal.h"

/* How long a back-end message may wait for room in the channel. */
#define VHU_BACKEND_SEND_TIMEOUT_S 2

int vhu_set_backend_req_fd(struct vdev_vhost_user *vu, struct vhu_msg *m,
			   struct vhu_msg *r)
{
	struct timeval tv = { .tv_sec = VHU_BACKEND_SEND_TIMEOUT_S };
	int fd = vhu_msg_take_fd(m, 0);

	/* Sends happen under backend_lock, from queue workers and the
	 * control thread: a frontend that never reads the channel must not
	 * block them forever. A send that times out closes the channel. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0) {
		int e = errno;

		close(fd);
		return -e; /* not a socket */
	}
	pthread_mutex_lock(&vu->backend_lock);
	if (vu->backend_fd >= 0)
		close(vu->backend_fd);
	vu->backend_fd = fd;
	pthread_mutex_unlock(&vu->backend_lock);
	return 0;
}

void vhu_backend_close(struct vdev_vhost_user *vu)
{
	pthread_mutex_lock(&vu->backend_lock);
	if (vu->backend_fd >= 0)
		close(vu->backend_fd);
	vu->backend_fd = -1;
	pthread_mutex_unlock(&vu->backend_lock);
}

/* backend_lock held. */
static void backend_send(struct vdev_vhost_user *vu, struct vhu_msg *m)
{
	if (vu->backend_fd < 0)
		return;
	m->flags = VHU_VERSION;
	m->nfds = 0;
	vhu_capture_msg(vu, "backend", m, true);
	if (vhu_msg_send(vu->backend_fd, m, NULL, 0) < 0) {
		vdev_log(VDEV_LOG_WARN,
			 "vhost-user: back-end channel failed; closing it");
		close(vu->backend_fd);
		vu->backend_fd = -1;
	}
}

static void queue_interrupt(void *opaque, unsigned qidx)
{
	struct vdev_vhost_user *vu = opaque;
	struct vhu_msg m;

	if (!vhu_proto(vu, VDEV_VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS))
		return;
	memset(&m, 0, offsetof(struct vhu_msg, p) + sizeof(m.p.state));
	m.request = VHU_BACKEND_VRING_CALL;
	m.size = sizeof(m.p.state);
	m.p.state.index = qidx;
	pthread_mutex_lock(&vu->backend_lock);
	backend_send(vu, &m);
	pthread_mutex_unlock(&vu->backend_lock);
}

static void config_interrupt(void *opaque)
{
	struct vdev_vhost_user *vu = opaque;
	bool broken = vdev_get_status(vu->dev) &
		      VDEV_STATUS_DEVICE_NEEDS_RESET;
	struct vhu_msg m;
	int ret;

	pthread_mutex_lock(&vu->backend_lock);
	for (unsigned i = 0; broken && i < vu->nq; i++) {
		if (vu->rings[i].err_fd < 0)
			continue;
		ret = vpeer_signal(vu->rings[i].err_fd, vu->rings[i].err_kind);
		if (ret < 0)
			vdev_log(VDEV_LOG_WARN,
				 "vhost-user: err fd of queue %u: %s", i,
				 strerror(-ret));
	}
	if (vhu_proto(vu, VDEV_VHOST_USER_PROTOCOL_F_CONFIG)) {
		memset(&m, 0, offsetof(struct vhu_msg, p));
		m.request = VHU_BACKEND_CONFIG_CHANGE_MSG;
		m.size = 0;
		backend_send(vu, &m);
	}
	pthread_mutex_unlock(&vu->backend_lock);
}

const struct vdev_transport_ops vhu_transport_ops = {
	.queue_interrupt = queue_interrupt,
	.config_interrupt = config_interrupt,
};
