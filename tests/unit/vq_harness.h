/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared set-up for the queue tests: guest RAM, a driver ring and a device
 * queue on top of it. Header-only so that every test program stays one file.
 */
#ifndef VQ_HARNESS_H
#define VQ_HARNESS_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <virtio/mem.h>
#include <virtio/queue.h>
#include <virtio/spec.h>
#include <virtio/testing.h>

#include "queue/queue_internal.h"

#define H_BASE 0x100000ull
#define H_RAM (4ull << 20)
#define H_NIOV 64

#define SPLIT 0ull
#define PACKED VDEV_BIT(VDEV_F_RING_PACKED)
#define F_IND VDEV_BIT(VDEV_F_INDIRECT_DESC)
#define F_EVT VDEV_BIT(VDEV_F_EVENT_IDX)
#define F_INORDER VDEV_BIT(VDEV_F_IN_ORDER)

struct h {
	struct vdev_drv_mem *m;
	struct vdev_drv_ring *r;
	struct vdev_queue *q;
	struct vdev_req req;
	struct iovec iov[H_NIOV];
	uint64_t features;
	unsigned calls;
};

static inline void h_call(void *opaque, struct vdev_queue *q)
{
	struct h *h = opaque;

	(void)q;
	h->calls++;
}

static inline void h_init_req(struct vdev_req *req, struct iovec *iov,
			      uint16_t n)
{
	memset(req, 0, sizeof(*req));
	req->iov = iov;
	req->iov_max = n;
}

static inline void h_setup_mem(struct h *h, uint16_t size, uint64_t features,
			       size_t ram, unsigned nregions)
{
	struct vdev_queue_config cfg;

	memset(h, 0, sizeof(*h));
	h->features = features;
	h->m = vdev_drv_mem_new(H_BASE, ram, nregions);
	assert_non_null(h->m);
	h->r = vdev_drv_ring_new(h->m, size, features);
	assert_non_null(h->r);
	h->q = vdev_queue_new(vdev_drv_mem_map(h->m), 0);
	assert_non_null(h->q);
	vdev_drv_ring_queue_config(h->r, &cfg);
	assert_int_equal(vdev_queue_size(h->q), 0);
	assert_int_equal(vdev_queue_configure(h->q, &cfg), 0);
	assert_int_equal(vdev_queue_size(h->q), size);
	vdev_queue_set_call_fn(h->q, h_call, h);
	h_init_req(&h->req, h->iov, H_NIOV);
}

static inline void h_setup(struct h *h, uint16_t size, uint64_t features)
{
	h_setup_mem(h, size, features, H_RAM, 1);
}

static inline void h_teardown(struct h *h)
{
	vdev_queue_free(h->q);
	vdev_drv_ring_free(h->r);
	vdev_drv_mem_free(h->m);
}

/* A buffer of @len bytes in guest RAM; returns its guest address. */
static inline uint64_t h_buf(struct h *h, size_t len, uint8_t fill)
{
	uint64_t gpa;
	void *p = vdev_drv_mem_alloc(h->m, len ? len : 1, 16, &gpa);

	assert_non_null(p);
	memset(p, fill, len);
	return gpa;
}

/* Adds a chain of @nout readable and @nin writable segments of @len bytes. */
static inline void h_add(struct h *h, unsigned nout, unsigned nin,
			 uint32_t len, void *token, unsigned flags)
{
	struct vdev_drv_seg segs[64];

	assert_true(nout + nin <= 64);
	for (unsigned i = 0; i < nout + nin; i++) {
		segs[i].gpa = h_buf(h, len, (uint8_t)(0x10 + i));
		segs[i].len = len;
	}
	assert_int_equal(vdev_drv_ring_add(h->r, segs, nout, nin, token,
					   flags), 0);
}

/* Nothing was completed to the driver: no used entry visible. */
static inline void h_assert_no_used(struct h *h)
{
	void *tok;
	uint32_t len;

	assert_int_equal(vdev_drv_ring_get_used(h->r, &tok, &len), -EAGAIN);
	if (!(h->features & PACKED))
		assert_int_equal(vdev_drv_ring_split_used(h->r)->idx, 0);
}

/* Pops one chain, expecting success. */
static inline void h_pop(struct h *h)
{
	h_init_req(&h->req, h->iov, H_NIOV);
	assert_int_equal(vdev_queue_pop(h->q, &h->req), 0);
}

/* Takes one completion, expecting @token and @len. */
static inline void h_used(struct h *h, void *token, uint32_t len)
{
	void *tok = NULL;
	uint32_t l = ~0u;

	assert_int_equal(vdev_drv_ring_get_used(h->r, &tok, &l), 0);
	assert_ptr_equal(tok, token);
	assert_int_equal(l, len);
}

#endif /* VQ_HARNESS_H */
