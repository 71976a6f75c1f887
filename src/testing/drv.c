/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The software driver's device layer (testing.h, `struct vdev_drv`): drives
 * a device as a virtio-pci or virtio-mmio driver would, with guest RAM and
 * rings from the lower layers (drvmem.c, ring.c), through a link: the
 * transport interface of a `struct vdev` in this process (drv_local.c) or
 * vhost-user messages to a back-end (drv_vhost_user.c).
 *
 * The driver runs its own vdev_loop while it waits: call eventfds are
 * counted there, and for a local device the model's timers and scheduled
 * rounds are served there too.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <virtio/loop.h>
#include <virtio/testing.h>

#include "testing/drv_internal.h"

#define DRV_MEM_BASE 0x100000ull
#define DRV_MEM_DEFAULT (16u << 20)
#define DRV_QUEUE_DEFAULT 256u

static void drain_call(struct drv_queue *dq)
{
	uint64_t v;

	if (dq->call_fd >= 0 && read(dq->call_fd, &v, sizeof(v)) == sizeof(v))
		dq->irqs += (unsigned)v;
}

static void call_cb(void *arg, int fd, uint32_t events)
{
	(void)fd;
	(void)events;
	drain_call(arg);
}

void vdrv_queue_irq(struct vdev_drv *drv, unsigned qidx)
{
	if (qidx < drv->nq)
		drv->qs[qidx].irqs++;
}

void vdrv_config_irq(struct vdev_drv *drv)
{
	(*drv->cfg_irqs)++;
}

static void free_rings(struct vdev_drv *drv)
{
	for (unsigned i = 0; i < drv->nq; i++) {
		vdev_drv_ring_free(drv->qs[i].ring);
		drv->qs[i].ring = NULL;
	}
	vdev_drv_mem_reset_to(drv->mem, drv->mark0);
}

struct vdev_drv *vdrv_alloc(const struct vdev_drv_config *cfg, unsigned nq,
			    bool eventfds)
{
	struct vdev_drv *drv;
	int err = ENOMEM;
	size_t size;

	drv = calloc(1, sizeof(*drv));
	if (!drv)
		return NULL;
	if (cfg)
		drv->cfg = *cfg;
	drv->nq = nq;
	drv->qs = calloc(nq, sizeof(*drv->qs));
	drv->cfg_irqs = calloc(1, sizeof(*drv->cfg_irqs));
	if (!drv->qs || !drv->cfg_irqs)
		goto fail;
	for (unsigned i = 0; i < nq; i++) {
		drv->qs[i].drv = drv;
		drv->qs[i].idx = i;
		drv->qs[i].kick_fd = -1;
		drv->qs[i].call_fd = -1;
	}
	size = drv->cfg.mem_size ? drv->cfg.mem_size : DRV_MEM_DEFAULT;
	drv->mem = vdev_drv_mem_new(DRV_MEM_BASE, size,
				    drv->cfg.mem_regions ?
					    drv->cfg.mem_regions : 1);
	if (!drv->mem) {
		err = errno;
		goto fail;
	}
	drv->mark0 = vdev_drv_mem_mark(drv->mem);
	drv->loop = vdev_loop_new();
	if (!drv->loop) {
		err = errno;
		goto fail;
	}
	for (unsigned i = 0; eventfds && i < nq; i++) {
		struct drv_queue *dq = &drv->qs[i];

		dq->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		dq->call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (dq->kick_fd < 0 || dq->call_fd < 0) {
			err = errno;
			goto fail;
		}
		if (vdev_loop_add(drv->loop, dq->call_fd, EPOLLIN, call_cb,
				  dq) < 0)
			goto fail;
	}
	return drv;
fail:
	vdrv_free(drv);
	errno = err;
	return NULL;
}

void vdrv_free(struct vdev_drv *drv)
{
	if (!drv)
		return;
	if (drv->link && drv->link->fini)
		drv->link->fini(drv);
	for (unsigned i = 0; drv->qs && i < drv->nq; i++) {
		struct drv_queue *dq = &drv->qs[i];

		vdev_drv_ring_free(dq->ring);
		if (dq->call_fd >= 0 && drv->loop)
			vdev_loop_del(drv->loop, dq->call_fd);
		if (dq->kick_fd >= 0)
			close(dq->kick_fd);
		if (dq->call_fd >= 0)
			close(dq->call_fd);
	}
	vdev_loop_free(drv->loop);
	vdev_drv_mem_free(drv->mem);
	free(drv->qs);
	free(drv->cfg_irqs);
	free(drv);
}

void vdev_drv_free(struct vdev_drv *drv)
{
	vdrv_free(drv);
}

struct vdev *vdev_drv_device(struct vdev_drv *drv)
{
	return drv->dev;
}

struct vdev_drv_mem *vdev_drv_get_mem(struct vdev_drv *drv)
{
	return drv->mem;
}

struct vdev_drv_ring *vdev_drv_ring(struct vdev_drv *drv, unsigned qidx)
{
	return qidx < drv->nq ? drv->qs[qidx].ring : NULL;
}

unsigned vdev_drv_num_queues(const struct vdev_drv *drv)
{
	return drv->nq;
}

uint64_t vdev_drv_device_features(struct vdev_drv *drv)
{
	return drv->link->device_features(drv);
}

uint64_t vdev_drv_features(const struct vdev_drv *drv)
{
	return drv->features;
}

uint8_t vdev_drv_status(struct vdev_drv *drv)
{
	return drv->link->status(drv);
}

int vdev_drv_negotiate(struct vdev_drv *drv, uint64_t features)
{
	int r;

	r = drv->link->reset(drv);
	free_rings(drv);
	drv->features = 0;
	if (r < 0)
		return r;
	r = drv->link->negotiate(drv, features);
	if (r < 0)
		return r;
	drv->features = features;
	return 0;
}

static uint16_t default_size(struct vdev_drv *drv, uint16_t max)
{
	uint16_t size = drv->cfg.queue_size ? drv->cfg.queue_size :
					      DRV_QUEUE_DEFAULT;

	if (max && size > max)
		size = max;
	/* A split ring needs a power of two. */
	if (!(drv->features & VDEV_BIT(VDEV_F_RING_PACKED)))
		while (size & (size - 1))
			size &= size - 1;
	return size;
}

/* What the local device says its queues take; a vhost-user back-end
 * cannot be asked (0). */
static uint16_t max_size(struct vdev_drv *drv, unsigned qidx)
{
	return drv->dev ? vdev_vq_max_size(drv->dev, qidx) : 0;
}

int vdev_drv_setup_queue(struct vdev_drv *drv, unsigned qidx, uint16_t size)
{
	struct vdev_queue_config qc;
	struct drv_queue *dq;

	if (qidx >= drv->nq)
		return -EINVAL;
	dq = &drv->qs[qidx];
	if (!size)
		size = default_size(drv, max_size(drv, qidx));
	vdev_drv_ring_free(dq->ring);
	dq->ring = vdev_drv_ring_new(drv->mem, size, drv->features);
	if (!dq->ring)
		return -errno;
	vdev_drv_ring_queue_config(dq->ring, &qc);
	return drv->link->setup_queue(drv, qidx, &qc);
}

int vdev_drv_stop_queue(struct vdev_drv *drv, unsigned qidx,
			struct vdev_queue_state *st)
{
	struct vdev_queue_state tmp;

	if (qidx >= drv->nq || !drv->qs[qidx].ring)
		return -EINVAL;
	return drv->link->stop_queue(drv, qidx, st ? st : &tmp);
}

int vdev_drv_driver_ok(struct vdev_drv *drv)
{
	return drv->link->driver_ok(drv);
}

int vdev_drv_init(struct vdev_drv *drv)
{
	uint64_t f = vdev_drv_device_features(drv) & ~drv->cfg.refuse;
	int r;

	if (!drv->cfg.packed)
		f &= ~VDEV_BIT(VDEV_F_RING_PACKED);
	r = vdev_drv_negotiate(drv, f);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < drv->nq; i++) {
		r = vdev_drv_setup_queue(drv, i, 0);
		if (r < 0)
			return r;
	}
	return vdev_drv_driver_ok(drv);
}

int vdev_drv_kick(struct vdev_drv *drv, unsigned qidx)
{
	struct drv_queue *dq;
	uint64_t one = 1;
	uint32_t data = 0;

	if (qidx >= drv->nq || !drv->qs[qidx].ring)
		return -EINVAL;
	dq = &drv->qs[qidx];
	if (!vdev_drv_ring_needs_kick(dq->ring))
		return 0;
	if (dq->kick_fd >= 0)
		return write(dq->kick_fd, &one, sizeof(one)) == sizeof(one) ?
			       0 : -errno;
	if (drv->features & VDEV_BIT(VDEV_F_NOTIFICATION_DATA))
		data = vdev_drv_ring_notification_data(dq->ring);
	return drv->link->kick(drv, qidx, data);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int vdev_drv_wait(struct vdev_drv *drv, unsigned qidx, int timeout_ms,
		  void **token, uint32_t *len)
{
	int64_t deadline = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
	bool ran = false;
	void *tok;
	uint32_t l;

	if (qidx >= drv->nq || !drv->qs[qidx].ring)
		return -EINVAL;
	for (;;) {
		int64_t left;
		int r = vdev_drv_ring_get_used(drv->qs[qidx].ring, &tok, &l);

		if (r != -EAGAIN) {
			if (!r) {
				if (token)
					*token = tok;
				if (len)
					*len = l;
			}
			return r;
		}
		left = timeout_ms < 0 ? -1 : deadline - now_ms();
		/* Even a zero timeout runs the loop once: a kick still in its
		 * eventfd is handled, so polling with 0 makes progress. */
		if (timeout_ms >= 0 && left <= 0) {
			if (ran)
				return -ETIMEDOUT;
			left = 0;
		}
		r = vdev_loop_run_once(drv->loop, (int)left);
		ran = true;
		if (r < 0 && r != -EINTR)
			return r;
	}
}

int vdev_drv_poll(struct vdev_drv *drv, int timeout_ms)
{
	int r = vdev_loop_run_once(drv->loop, timeout_ms);

	return r == -EINTR ? 0 : r;
}

int vdev_drv_xfer(struct vdev_drv *drv, unsigned qidx, const void *out,
		  size_t out_len, void *in, size_t in_len, uint32_t *written,
		  int timeout_ms)
{
	struct vdev_drv_seg segs[2];
	size_t mark = vdev_drv_mem_mark(drv->mem);
	void *obuf = NULL, *ibuf = NULL, *tok, *mine;
	unsigned nout = 0, nin = 0;
	uint32_t len = 0;
	int r;

	if (qidx >= drv->nq || !drv->qs[qidx].ring ||
	    out_len > UINT32_MAX || in_len > UINT32_MAX ||
	    (!out_len && !in_len))
		return -EINVAL;
	if (out_len) {
		obuf = vdev_drv_mem_alloc(drv->mem, out_len, 16,
					  &segs[nout].gpa);
		if (!obuf)
			return -ENOMEM;
		memcpy(obuf, out, out_len);
		segs[nout++].len = (uint32_t)out_len;
	}
	if (in_len) {
		ibuf = vdev_drv_mem_alloc(drv->mem, in_len, 16,
					  &segs[nout + nin].gpa);
		if (!ibuf) {
			vdev_drv_mem_reset_to(drv->mem, mark);
			return -ENOMEM;
		}
		segs[nout + nin++].len = (uint32_t)in_len;
	}
	mine = (void *)++drv->seq;
	r = vdev_drv_ring_add(drv->qs[qidx].ring, segs, nout, nin, mine, 0);
	if (r < 0) {
		vdev_drv_mem_reset_to(drv->mem, mark);
		return r;
	}
	r = vdev_drv_kick(drv, qidx);
	if (!r)
		r = vdev_drv_wait(drv, qidx, timeout_ms, &tok, &len);
	if (r < 0)
		return r; /* the device may still own the buffers: keep them */
	if (tok != mine)
		return -EPROTO;
	if (in_len)
		memcpy(in, ibuf, len < in_len ? len : in_len);
	if (written)
		*written = len;
	vdev_drv_mem_reset_to(drv->mem, mark);
	return 0;
}

int vdev_drv_config_read(struct vdev_drv *drv, uint32_t offset, void *buf,
			 uint32_t len)
{
	return drv->link->config_read(drv, offset, buf, len);
}

int vdev_drv_config_write(struct vdev_drv *drv, uint32_t offset,
			  const void *buf, uint32_t len)
{
	return drv->link->config_write(drv, offset, buf, len);
}

unsigned vdev_drv_interrupts(const struct vdev_drv *drv, unsigned qidx)
{
	if (qidx >= drv->nq)
		return 0;
	drain_call(&drv->qs[qidx]);
	return drv->qs[qidx].irqs;
}

unsigned vdev_drv_config_interrupts(const struct vdev_drv *drv)
{
	return *drv->cfg_irqs;
}
