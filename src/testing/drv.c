/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The software driver's device layer (testing.h, `struct vdev_drv`): drives
 * a whole `struct vdev` through the transport interface, as a virtio-pci or
 * virtio-mmio driver would, with guest RAM and rings from the lower layers
 * (drvmem.c, ring.c).
 *
 * It is the device's transport (counts queue and config interrupts) and
 * its watcher for every queue (its own vdev_loop, run while it waits), so
 * model timers and scheduled rounds work in both kick modes:
 *  - synchronous: vdev_drv_kick() calls vdev_vq_kick();
 *  - eventfds: kick and call eventfds as a real transport has; the kick
 *    fd is served by the loop, call fds are counted by the loop.
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
#include <virtio/transport.h>

#define DRV_MEM_BASE 0x100000ull
#define DRV_MEM_DEFAULT (16u << 20)
#define DRV_QUEUE_DEFAULT 256u

struct drv_queue {
	struct vdev_drv *drv;
	unsigned idx;
	struct vdev_drv_ring *ring;
	int kick_fd;
	int call_fd;
	unsigned irqs;
};

struct vdev_drv {
	struct vdev *dev;
	struct vdev_drv_config cfg;
	struct vdev_drv_mem *mem;
	size_t mark0;
	struct vdev_loop *loop;
	struct vdev_transport_ops tops;
	uint64_t features;
	uintptr_t seq;
	unsigned nq;
	struct drv_queue *qs; /* separate: counters change on const reads */
	unsigned *cfg_irqs;
};

static void on_queue_interrupt(void *opaque, unsigned qidx)
{
	struct vdev_drv *drv = opaque;

	if (qidx < drv->nq)
		drv->qs[qidx].irqs++;
}

static void on_config_interrupt(void *opaque)
{
	struct vdev_drv *drv = opaque;

	(*drv->cfg_irqs)++;
}

static void drain_call(struct drv_queue *dq)
{
	uint64_t v;

	if (dq->call_fd >= 0 && read(dq->call_fd, &v, sizeof(v)) == sizeof(v))
		dq->irqs += (unsigned)v;
}

static void call_cb(void *arg, int fd, uint32_t events)
{
	drain_call(arg);
}

static void free_rings(struct vdev_drv *drv)
{
	for (unsigned i = 0; i < drv->nq; i++) {
		vdev_drv_ring_free(drv->qs[i].ring);
		drv->qs[i].ring = NULL;
	}
	vdev_drv_mem_reset_to(drv->mem, drv->mark0);
}

struct vdev_drv *vdev_drv_new(struct vdev *dev,
			      const struct vdev_drv_config *cfg)
{
	struct vdev_watcher w;
	struct vdev_drv *drv;
	int err = ENOMEM;
	size_t size;

	if (!dev) {
		errno = EINVAL;
		return NULL;
	}
	drv = calloc(1, sizeof(*drv));
	if (!drv)
		return NULL;
	if (cfg)
		drv->cfg = *cfg;
	drv->dev = dev;
	drv->nq = vdev_num_queues(dev);
	drv->qs = calloc(drv->nq, sizeof(*drv->qs));
	drv->cfg_irqs = calloc(1, sizeof(*drv->cfg_irqs));
	if (!drv->qs || !drv->cfg_irqs)
		goto fail;
	for (unsigned i = 0; i < drv->nq; i++) {
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
	if (drv->cfg.use_eventfds) {
		for (unsigned i = 0; i < drv->nq; i++) {
			struct drv_queue *dq = &drv->qs[i];

			dq->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
			dq->call_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
			if (dq->kick_fd < 0 || dq->call_fd < 0) {
				err = errno;
				goto fail;
			}
			if (vdev_loop_add(drv->loop, dq->call_fd, EPOLLIN,
					  call_cb, dq) < 0)
				goto fail;
		}
	}
	err = -vdev_set_mem(dev, vdev_drv_mem_map(drv->mem));
	if (err)
		goto fail;
	drv->tops.queue_interrupt = on_queue_interrupt;
	drv->tops.config_interrupt = on_config_interrupt;
	vdev_set_transport(dev, &drv->tops, drv);
	vdev_loop_watcher(drv->loop, &w);
	vdev_set_watcher(dev, &w);
	return drv;
fail:
	vdev_drv_free(drv);
	errno = err;
	return NULL;
}

void vdev_drv_free(struct vdev_drv *drv)
{
	if (!drv)
		return;
	if (drv->loop && drv->mem) {
		/* Leave the device as we found it: reset, no transport, no
		 * watcher of ours, no pointer into our RAM. */
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

static int add_status(struct vdev_drv *drv, uint8_t bits)
{
	return vdev_set_status(drv->dev, vdev_get_status(drv->dev) | bits);
}

int vdev_drv_negotiate(struct vdev_drv *drv, uint64_t features)
{
	int r;

	vdev_set_status(drv->dev, 0);
	free_rings(drv);
	drv->features = 0;
	r = add_status(drv, VDEV_STATUS_ACKNOWLEDGE);
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
	drv->features = features;
	return 0;
}

static uint16_t default_size(struct vdev_drv *drv, unsigned qidx)
{
	uint16_t max = vdev_vq_max_size(drv->dev, qidx);
	uint16_t size = drv->cfg.queue_size ? drv->cfg.queue_size :
					      DRV_QUEUE_DEFAULT;

	if (size > max)
		size = max;
	/* A split ring needs a power of two. */
	if (!(drv->features & VDEV_BIT(VDEV_F_RING_PACKED)))
		while (size & (size - 1))
			size &= size - 1;
	return size;
}

int vdev_drv_setup_queue(struct vdev_drv *drv, unsigned qidx, uint16_t size)
{
	struct vdev_queue_config qc;
	struct drv_queue *dq;
	int r;

	if (qidx >= drv->nq)
		return -EINVAL;
	dq = &drv->qs[qidx];
	if (!size)
		size = default_size(drv, qidx);
	vdev_drv_ring_free(dq->ring);
	dq->ring = vdev_drv_ring_new(drv->mem, size, drv->features);
	if (!dq->ring)
		return -errno;
	vdev_drv_ring_queue_config(dq->ring, &qc);
	r = vdev_vq_set_size(drv->dev, qidx, qc.size);
	if (!r)
		r = vdev_vq_set_addr(drv->dev, qidx, qc.desc_addr,
				     qc.driver_addr, qc.device_addr);
	if (!r)
		r = vdev_vq_set_kick_fd(drv->dev, qidx, dq->kick_fd);
	if (!r)
		r = vdev_vq_set_call_fd(drv->dev, qidx, dq->call_fd);
	if (!r)
		r = vdev_vq_enable(drv->dev, qidx, true);
	return r;
}

int vdev_drv_driver_ok(struct vdev_drv *drv)
{
	int r = add_status(drv, VDEV_STATUS_DRIVER_OK);

	if (r < 0)
		return r;
	return vdev_get_status(drv->dev) & VDEV_STATUS_DEVICE_NEEDS_RESET ?
		       -EIO : 0;
}

int vdev_drv_init(struct vdev_drv *drv)
{
	uint64_t f = vdev_device_features(drv->dev) & ~drv->cfg.refuse;
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
	if (drv->cfg.use_eventfds)
		return write(dq->kick_fd, &one, sizeof(one)) == sizeof(one) ?
			       0 : -errno;
	if (drv->features & VDEV_BIT(VDEV_F_NOTIFICATION_DATA))
		data = vdev_drv_ring_notification_data(dq->ring);
	return vdev_vq_kick(drv->dev, qidx, data);
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
		if (timeout_ms >= 0 && left <= 0)
			return -ETIMEDOUT;
		r = vdev_loop_run_once(drv->loop, (int)left);
		if (r < 0 && r != -EINTR)
			return r;
	}
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
	return vdev_config_read(drv->dev, offset, buf, len);
}

int vdev_drv_config_write(struct vdev_drv *drv, uint32_t offset,
			  const void *buf, uint32_t len)
{
	return vdev_config_write(drv->dev, offset, buf, len);
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
