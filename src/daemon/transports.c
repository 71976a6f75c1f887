/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The transports a daemon serves its devices through (--transport). Each
 * is offered when libvdev's capability table lists it, so the choice
 * follows what the library was built with; one whose adapter is not
 * compiled in at all has no entry.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <virtio/caps.h>
#include <virtio/loop.h>
#include <virtio/vhost-user.h>
#if VDEV_DAEMON_VFIO_USER
#include <virtio/vfio-user.h>
#endif

#include "daemon_internal.h"

/* ---- vhost-user ---------------------------------------------------- */

static void *vu_open(struct vdev *dev, const struct vdd_endpoint *ep)
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
		.protocol_features_off =
			ep->no_config ? VDEV_BIT(VDEV_VHOST_USER_PROTOCOL_F_CONFIG)
				      : 0,
		.set_socket_group = ep->set_gid,
		.set_socket_mode = ep->set_mode,
		.socket_gid = ep->gid,
		.socket_mode = ep->mode,
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

static const struct vdd_transport vhost_user = {
	.open = vu_open,
	.run = vu_run,
	.stop = vu_stop,
	.close = vu_close,
};

/* ---- vfio-user: the server runs in a vdev_loop on the socket's thread */

#if VDEV_DAEMON_VFIO_USER
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

static void *vfud_open(struct vdev *dev, const struct vdd_endpoint *ep)
{
	struct vdev_vfio_user_config cfg = {
		.socket_path = ep->fd >= 0 ? NULL : ep->path,
		.conn_fd = ep->fd,
		.set_socket_group = ep->set_gid,
		.set_socket_mode = ep->set_mode,
		.socket_gid = ep->gid,
		.socket_mode = ep->mode,
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

static const struct vdd_transport vfio_user = {
	.open = vfud_open,
	.run = vfud_run,
	.stop = vfud_stop,
	.close = vfud_close,
};
#endif

/* ---- the table -------------------------------------------------------- */

static const struct {
	const char *name; /* also its name in the capability table */
	const struct vdd_transport *t;
} transports[] = {
	{ "vhost-user", &vhost_user },
#if VDEV_DAEMON_VFIO_USER
	{ "vfio-user", &vfio_user },
#endif
};

#define N_TRANSPORTS (sizeof(transports) / sizeof(transports[0]))

static const char *offered[N_TRANSPORTS + 1];
static pthread_once_t offered_once = PTHREAD_ONCE_INIT;

static void find_offered(void)
{
	unsigned n = 0;

	for (unsigned i = 0; i < N_TRANSPORTS; i++)
		if (vdev_has_capability(VDEV_CAP_TRANSPORT, transports[i].name))
			offered[n++] = transports[i].name;
	offered[n] = NULL;
}

const char *const *vdd_transport_choices(void)
{
	pthread_once(&offered_once, find_offered);
	return offered;
}

const struct vdd_transport *vdd_transport_find(const char *name)
{
	for (unsigned i = 0; i < N_TRANSPORTS; i++)
		if (!strcmp(transports[i].name, name) &&
		    vdev_has_capability(VDEV_CAP_TRANSPORT, name))
			return transports[i].t;
	return NULL;
}
