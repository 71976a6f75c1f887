/* SPDX-License-Identifier: BSD-3-Clause */
/* Driver-side ring internals shared by ring.c and fault.c. */
#ifndef DRV_RING_INTERNAL_H
#define DRV_RING_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <virtio/testing.h>

struct drv_head {
	void *token;
	uint32_t in_len;
	uint16_t ndesc;     /* split: table descriptors; packed: ring slots */
	bool busy;
	/* Indirect table kept per head/id and reused. */
	struct vdev_vring_desc *ind;
	uint64_t ind_gpa;
	uint32_t ind_cap;
};

struct vdev_drv_ring {
	struct vdev_drv_mem *m;
	uint16_t size;
	uint64_t features;
	bool packed;
	bool event_idx;
	bool in_order;
	bool indirect;
	bool want_irq;
	uint64_t desc_gpa, drv_gpa, dev_gpa;
	unsigned inflight;
	struct drv_head *heads;

	/* split */
	struct vdev_vring_desc *desc;
	struct vdev_vring_avail *avail;
	struct vdev_vring_used *used;
	uint16_t avail_idx;   /* free-running, what we published */
	uint16_t kicked;      /* avail_idx at the last needs_kick */
	uint16_t last_used;
	uint16_t *free;       /* stack of free descriptors */
	uint16_t nfree;
	uint16_t next_desc;   /* in order: next descriptor to hand out */
	uint16_t *fifo;       /* in order: heads in the order made available */
	uint32_t fifo_head, fifo_tail;
	bool batch;           /* in order: a used entry covers several */
	uint16_t batch_id;
	uint32_t batch_len;

	/* packed */
	struct vdev_packed_desc *pdesc;
	struct vdev_packed_event *drv_ev; /* written by us */
	struct vdev_packed_event *dev_ev; /* written by the device */
	uint16_t next_slot;
	bool avail_wrap;
	uint16_t used_pos;
	bool used_wrap;
	uint16_t kicked_lin;
	uint16_t *free_ids;
	uint16_t nfree_ids;
	uint16_t free_slots;
};

/* One descriptor of a (possibly malformed) chain built by fault.c. */
#define DRV_NEXT_AUTO (-1)   /* link to the following descriptor */
struct drv_fdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	int32_t next;        /* DRV_NEXT_AUTO, a literal index, or
			      * DRV_NEXT_REF(k): the k-th descriptor built */
};
#define DRV_NEXT_REF(k) (-2 - (k))
/* Longest raw chain fault.c builds. */
#define DRV_RAW_MAX 1024u

int drv_split_publish_raw(struct vdev_drv_ring *r, const struct drv_fdesc *d,
			  unsigned n);
int drv_packed_publish_raw(struct vdev_drv_ring *r, const struct drv_fdesc *d,
			   unsigned n, int bad_slot);

#endif /* DRV_RING_INTERNAL_H */
