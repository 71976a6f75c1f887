/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The software driver's device layer (struct vdev_drv) and the links it
 * reaches a device through: a `struct vdev` in this process (drv_local.c)
 * or a vhost-user back-end over a socket (drv_vhost_user.c). drv.c holds
 * what both share: guest RAM, rings, kicks, waits, interrupt counts.
 */
#ifndef VDEV_DRV_INTERNAL_H
#define VDEV_DRV_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <virtio/loop.h>
#include <virtio/testing.h>

struct drv_queue {
	struct vdev_drv *drv;
	unsigned idx;
	struct vdev_drv_ring *ring;
	int kick_fd;   /* -1: kicks go through link->kick */
	int call_fd;   /* -1: interrupts come through drv_irq() */
	unsigned irqs;
};

/* How the driver reaches the device. */
struct drv_link {
	/* Features the device offers. */
	uint64_t (*device_features)(struct vdev_drv *drv);
	/* Resets the device (rings stop, status 0). */
	int (*reset)(struct vdev_drv *drv);
	/* ACKNOWLEDGE, DRIVER, @features, FEATURES_OK; -EPROTO when the
	 * device refuses FEATURES_OK. The device was reset before. */
	int (*negotiate)(struct vdev_drv *drv, uint64_t features);
	/* Queue @qidx on ring @qc, with the queue's kick and call fds. */
	int (*setup_queue)(struct vdev_drv *drv, unsigned qidx,
			   const struct vdev_queue_config *qc);
	/* DRIVER_OK; -EIO when the device then says DEVICE_NEEDS_RESET. */
	int (*driver_ok)(struct vdev_drv *drv);
	/* A kick for a queue without a kick fd. */
	int (*kick)(struct vdev_drv *drv, unsigned qidx, uint32_t data);
	int (*config_read)(struct vdev_drv *drv, uint32_t offset, void *buf,
			   uint32_t len);
	int (*config_write)(struct vdev_drv *drv, uint32_t offset,
			    const void *buf, uint32_t len);
	/* Stops queue @qidx and reports where its ring stands. */
	int (*stop_queue)(struct vdev_drv *drv, unsigned qidx,
			  struct vdev_queue_state *st);
	/* The device's status byte. */
	uint8_t (*status)(struct vdev_drv *drv);
	/* Takes back everything the link set up (before the RAM goes). */
	void (*fini)(struct vdev_drv *drv);
};

struct vdev_drv {
	const struct drv_link *link;
	void *lp;             /* the link's own state */
	struct vdev *dev;     /* local link only */
	struct vdev_drv_config cfg;
	struct vdev_drv_mem *mem;
	size_t mark0;
	struct vdev_loop *loop;
	uint64_t features;
	uintptr_t seq;
	unsigned nq;
	struct drv_queue *qs; /* separate: counters change on const reads */
	unsigned *cfg_irqs;
};

/* The common part of both constructors: queues (with eventfds when
 * @eventfds), guest RAM and the loop. NULL with errno set. */
struct vdev_drv *vdrv_alloc(const struct vdev_drv_config *cfg, unsigned nq,
			    bool eventfds);
/* Frees what vdrv_alloc made (and calls link->fini when set). */
void vdrv_free(struct vdev_drv *drv);

/* The link reports an interrupt without a call fd. */
void vdrv_queue_irq(struct vdev_drv *drv, unsigned qidx);
void vdrv_config_irq(struct vdev_drv *drv);

/* Regions the RAM is registered as (drvmem.c). */
unsigned vdrv_mem_nregions(const struct vdev_drv_mem *m);

extern const struct drv_link vdrv_local_link;

#endif /* VDEV_DRV_INTERNAL_H */
