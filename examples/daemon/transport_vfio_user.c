/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vfio-user transport of the daemons (--transport vfio-user): the
 * device appears as a virtio-pci function to a vfio-user client such as
 * QEMU 10.1+ (-device vfio-user-pci). include/virtio/vfio-user.h. The
 * server runs on the daemon's thread for this socket, in a vdev_loop.
 */
#include <errno.h>
#include <stdlib.h>
#include <virtio/loop.h>
#include <virtio/vfio-user.h>

#include "daemon.h"

struct vfu_daemon {
	struct vdev_loop *loop;
	struct vdev_vfio_user *s;
};

static void vfud_close(void *h)
{
	struct vfu_daemon *d = h;

	if (!d)
		return;
	vdev_vfio_user_free(d->s);
	vdev_loop_free(d->loop);
	free(d);
}

static void *vfud_open(struct vdev *dev, const struct vdevd_endpoint *ep)
{
	struct vdev_vfio_user_config cfg = {
		.socket_path = ep->fd >= 0 ? NULL : ep->path,
		.conn_fd = ep->fd,
	};
	struct vdev_watcher w;
	struct vfu_daemon *d;
	int e;

	/* A vfio-user server listens; the client (the VMM) connects. */
	if (ep->connect) {
		errno = ENOTSUP;
		return NULL;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->loop = vdev_loop_new();
	if (!d->loop)
		goto fail;
	vdev_loop_watcher(d->loop, &w);
	d->s = vdev_vfio_user_new(dev, &cfg, &w);
	if (!d->s)
		goto fail;
	return d;
fail:
	e = errno;
	vfud_close(d);
	errno = e;
	return NULL;
}

static int vfud_run(void *h)
{
	struct vfu_daemon *d = h;

	for (;;) {
		int r = vdev_loop_run_once(d->loop, -1);

		if (r == -ECANCELED)
			return 0;
		if (r < 0 && r != -EINTR)
			return r;
		/* A one-shot (inherited, connected) socket has ended. */
		if (vdev_vfio_user_fd(d->s) < 0)
			return 0;
	}
}

static void vfud_stop(void *h)
{
	struct vfu_daemon *d = h;

	vdev_loop_stop(d->loop);
}

const struct vdevd_transport vdevd_transport_vfio_user = {
	.name = "vfio-user",
	.open = vfud_open,
	.run = vfud_run,
	.stop = vfud_stop,
	.close = vfud_close,
};
