/* SPDX-License-Identifier: BSD-3-Clause */
/* The vhost-user transport of the daemons: include/virtio/vhost-user.h. */
#include <errno.h>
#include <virtio/vhost-user.h>

#include "daemon.h"

static void *vu_open(struct vdev *dev, const struct vdevd_endpoint *ep)
{
	struct vdev_vhost_user_config cfg = {
		.mode = ep->fd >= 0 ? VDEV_VHOST_USER_FD :
		       ep->connect ? VDEV_VHOST_USER_CONNECT :
				     VDEV_VHOST_USER_LISTEN,
		.path = ep->path,
		.fd = ep->fd,
		.threads = ep->thread_per_queue ?
				   VDEV_VHOST_USER_THREAD_PER_QUEUE :
				   VDEV_VHOST_USER_THREAD_PER_DEVICE,
		.protocol_features_on =
			ep->inband ? VDEV_BIT(
				VDEV_VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS)
				   : 0,
		.poll_us = ep->poll_us,
	};

	return vdev_vhost_user_new(dev, &cfg);
}

static int vu_run(void *h)
{
	return vdev_vhost_user_run(h);
}

static void vu_stop(void *h)
{
	vdev_vhost_user_stop(h);
}

static void vu_close(void *h)
{
	vdev_vhost_user_free(h);
}

const struct vdevd_transport vdevd_transport_vhost_user = {
	.name = "vhost-user",
	.open = vu_open,
	.run = vu_run,
	.stop = vu_stop,
	.close = vu_close,
};
