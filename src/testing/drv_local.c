/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The software driver on a `struct vdev` in this process, through the
 * transport interface (transport.h): the driver is the device's transport
 * (it counts queue and config interrupts) and its watcher for every queue
 * (its own vdev_loop, run while it waits), so model timers and scheduled
 * rounds work in both kick modes:
 *  - synchronous: vdev_drv_kick() calls vdev_vq_kick();
 *  - eventfds: kick and call eventfds as a real transport has; the kick
 *    fd is served by the loop, call fds are counted by the loop.
 */
#include <errno.h>
#include <stdlib.h>
#include <virtio/loop.h>
#include <virtio/testing.h>
#include <virtio/transport.h>

#include "testing/drv_internal.h"
#include "core/sized.h"

struct local {
	struct vdev_transport_ops tops;
};

static void on_queue_interrupt(void *opaque, unsigned qidx)
{
	vdrv_queue_irq(opaque, qidx);
}

static void on_config_interrupt(void *opaque)
{
	vdrv_config_irq(opaque);
}

static uint64_t local_device_features(struct vdev_drv *drv)
{
	return vdev_device_features(drv->dev);
}

static int local_reset(struct vdev_drv *drv)
{
	return vdev_set_status(drv->dev, 0);
}

static int add_status(struct vdev_drv *drv, uint8_t bits)
{
	return vdev_set_status(drv->dev, vdev_get_status(drv->dev) | bits);
}

static int local_negotiate(struct vdev_drv *drv, uint64_t features)
{
	int r = add_status(drv, VDEV_STATUS_ACKNOWLEDGE);

	if (!r)
		r = add_status(drv, VDEV_STATUS_DRIVER);
	if (!r)
		r = vdev_set_driver_features(drv->dev, features);
	if (r < 0)
		return r;
	add_status(drv, VDEV_STATUS_FEATURES_OK);
	/* 3.1.1: re-read the status to see whether the device agreed. */
	if (!(vdev_get_status(drv->dev) & VDEV_STATUS_FEATURES_OK))
		return -EPROTO;
	return 0;
}

static int local_setup_queue(struct vdev_drv *drv, unsigned qidx,
			     const struct vdev_queue_config *qc)
{
	struct drv_queue *dq = &drv->qs[qidx];
	bool packed = drv->features & VDEV_BIT(VDEV_F_RING_PACKED);
	/* A fresh ring, even on a queue stopped at some position. */
	const struct vdev_queue_state start = {
		.avail_wrap = packed,
		.used_wrap = packed,
	};
	int r = vdev_vq_set_size(drv->dev, qidx, qc->size);

	if (!r)
		r = vdev_vq_set_state(drv->dev, qidx, &start);
	if (!r)
		r = vdev_vq_set_addr(drv->dev, qidx, qc->desc_addr,
				     qc->driver_addr, qc->device_addr);
	if (!r)
		r = vdev_vq_set_kick_fd(drv->dev, qidx, dq->kick_fd);
	if (!r)
		r = vdev_vq_set_call_fd(drv->dev, qidx, dq->call_fd);
	if (!r)
		r = vdev_vq_enable(drv->dev, qidx, true);
	return r;
}

static int local_driver_ok(struct vdev_drv *drv)
{
	int r = add_status(drv, VDEV_STATUS_DRIVER_OK);

	if (r < 0)
		return r;
	return vdev_get_status(drv->dev) & VDEV_STATUS_DEVICE_NEEDS_RESET ?
		       -EIO : 0;
}

static int local_kick(struct vdev_drv *drv, unsigned qidx, uint32_t data)
{
	return vdev_vq_kick(drv->dev, qidx, data);
}

static int local_config_read(struct vdev_drv *drv, uint32_t offset, void *buf,
			     uint32_t len)
{
	return vdev_config_read(drv->dev, offset, buf, len);
}

static int local_config_write(struct vdev_drv *drv, uint32_t offset,
			      const void *buf, uint32_t len)
{
	return vdev_config_write(drv->dev, offset, buf, len);
}

static int local_stop_queue(struct vdev_drv *drv, unsigned qidx,
			    struct vdev_queue_state *st)
{
	return vdev_vq_stop(drv->dev, qidx, st);
}

static uint8_t local_status(struct vdev_drv *drv)
{
	return vdev_get_status(drv->dev);
}

/* Leaves the device as it was found: reset, no transport, no watcher of
 * ours, no pointer into our RAM. */
static void local_fini(struct vdev_drv *drv)
{
	if (drv->lp) {
		vdev_reset(drv->dev);
		vdev_set_watcher(drv->dev, NULL);
		vdev_set_transport(drv->dev, NULL, NULL);
		for (unsigned i = 0; i < drv->nq; i++) {
			vdev_vq_set_kick_fd(drv->dev, i, -1);
			vdev_vq_set_call_fd(drv->dev, i, -1);
		}
		if (vdev_get_mem(drv->dev) == vdev_drv_mem_map(drv->mem))
			vdev_set_mem(drv->dev, NULL);
	}
	free(drv->lp);
	drv->lp = NULL;
}

const struct drv_link vdrv_local_link = {
	.device_features = local_device_features,
	.reset = local_reset,
	.negotiate = local_negotiate,
	.setup_queue = local_setup_queue,
	.driver_ok = local_driver_ok,
	.kick = local_kick,
	.config_read = local_config_read,
	.config_write = local_config_write,
	.stop_queue = local_stop_queue,
	.status = local_status,
	.fini = local_fini,
};

static struct vdev_drv *drv_new(struct vdev *dev,
				const struct vdev_drv_config *cfg)
{
	struct vdev_watcher w;
	struct vdev_drv *drv;
	struct local *l;
	int err;

	if (!dev) {
		errno = EINVAL;
		return NULL;
	}
	drv = vdrv_alloc(cfg, vdev_num_queues(dev), cfg && cfg->use_eventfds);
	if (!drv)
		return NULL;
	drv->dev = dev;
	l = calloc(1, sizeof(*l));
	if (!l) {
		vdrv_free(drv);
		errno = ENOMEM;
		return NULL;
	}
	err = -vdev_set_mem(dev, vdev_drv_mem_map(drv->mem));
	if (err) {
		free(l);
		vdrv_free(drv);
		errno = err;
		return NULL;
	}
	drv->link = &vdrv_local_link;
	drv->lp = l;
	l->tops.queue_interrupt = on_queue_interrupt;
	l->tops.config_interrupt = on_config_interrupt;
	vdev_set_transport(dev, &l->tops, drv);
	vdev_loop_watcher(drv->loop, &w);
	vdev_set_watcher(dev, &w);
	return drv;
}

/* The caller's config at the size it was compiled with (api.h). */
struct vdev_drv *(vdev_drv_new)(struct vdev *dev,
				const struct vdev_drv_config *cfg, size_t size)
{
	struct vdev_drv_config c;

	if (cfg && !VSIZED_IN(c, cfg, size))
		return NULL;
	return drv_new(dev, cfg ? &c : NULL);
}
