/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Software driver: chains that break one rule each (virtio 1.2 2.7.5,
 * 2.7.5.3, 2.8), for testing a device's validation. Addresses "outside
 * guest memory" are the first bytes past the end of the driver's RAM.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "testing/ring_internal.h"

static const char *const names[VDEV_DRV_FAULT_COUNT] = {
	[VDEV_DRV_FAULT_AVAIL_AHEAD] = "avail-ahead",
	[VDEV_DRV_FAULT_HEAD_RANGE] = "head-range",
	[VDEV_DRV_FAULT_NEXT_RANGE] = "next-range",
	[VDEV_DRV_FAULT_CHAIN_TOO_LONG] = "chain-too-long",
	[VDEV_DRV_FAULT_LOOP] = "loop",
	[VDEV_DRV_FAULT_TOTAL_LEN] = "total-len",
	[VDEV_DRV_FAULT_INDIRECT_NO_FEATURE] = "indirect-no-feature",
	[VDEV_DRV_FAULT_INDIRECT_WITH_NEXT] = "indirect-with-next",
	[VDEV_DRV_FAULT_INDIRECT_NESTED] = "indirect-nested",
	[VDEV_DRV_FAULT_INDIRECT_LEN_ZERO] = "indirect-len-zero",
	[VDEV_DRV_FAULT_INDIRECT_LEN_ODD] = "indirect-len-odd",
	[VDEV_DRV_FAULT_INDIRECT_TOO_BIG] = "indirect-too-big",
	[VDEV_DRV_FAULT_INDIRECT_OUTSIDE] = "indirect-outside",
	[VDEV_DRV_FAULT_READ_AFTER_WRITE] = "read-after-write",
	[VDEV_DRV_FAULT_ADDR_OUTSIDE] = "addr-outside",
	[VDEV_DRV_FAULT_ADDR_WRAP] = "addr-wrap",
	[VDEV_DRV_FAULT_PACKED_BAD_WRAP] = "packed-bad-wrap",
};

const char *vdev_drv_fault_name(enum vdev_drv_fault f)
{
	if ((unsigned)f >= VDEV_DRV_FAULT_COUNT)
		return "unknown";
	return names[f];
}

static int publish(struct vdev_drv_ring *r, const struct drv_fdesc *d,
		   unsigned n)
{
	return r->packed ? drv_packed_publish_raw(r, d, n, -1) :
			   drv_split_publish_raw(r, d, n);
}

/* A table of @n valid entries (each pointing at @buf), the last one
 * possibly modified by the caller. Entries use the layout of the ring. */
static void *table(struct vdev_drv_ring *r, unsigned n, uint64_t buf,
		   uint64_t *gpa)
{
	uint8_t *t = vdev_drv_mem_alloc(r->m, 16ul * n, 16, gpa);

	if (!t)
		return NULL;
	for (unsigned i = 0; i < n; i++) {
		if (r->packed) {
			struct vdev_packed_desc *d = (void *)(t + 16ul * i);

			d->addr = vdev_cpu_to_le64(buf);
			d->len = vdev_cpu_to_le32(16);
		} else {
			struct vdev_vring_desc *d = (void *)(t + 16ul * i);

			d->addr = vdev_cpu_to_le64(buf);
			d->len = vdev_cpu_to_le32(16);
			if (i + 1 < n) {
				d->flags = vdev_cpu_to_le16(VDEV_DESC_F_NEXT);
				d->next = vdev_cpu_to_le16((uint16_t)(i + 1));
			}
		}
	}
	return t;
}

static void set_flags(struct vdev_drv_ring *r, void *t, unsigned i,
		      uint16_t flags)
{
	uint8_t *p = (uint8_t *)t + 16ul * i;

	if (r->packed)
		((struct vdev_packed_desc *)(void *)p)->flags =
			vdev_cpu_to_le16(flags);
	else
		((struct vdev_vring_desc *)(void *)p)->flags =
			vdev_cpu_to_le16(flags);
}

/* Enough descriptors of @len bytes each at the start of RAM to pass 4 GiB
 * (a chain of at most the queue size, or -ENOTSUP: use more RAM). */
static int total_len(struct vdev_drv_ring *r, uint64_t base, uint64_t ram)
{
	uint32_t len = ram > UINT32_MAX ? UINT32_MAX : (uint32_t)ram;
	uint64_t n = (UINT64_C(1) << 32) / len + 1;
	struct drv_fdesc *d;
	int ret;

	if (n > r->size || n > DRV_RAW_MAX)
		return -ENOTSUP;
	d = calloc(n, sizeof(*d));
	if (!d)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++)
		d[i] = (struct drv_fdesc){ base, len,
			(uint16_t)(i + 1 < n ? VDEV_DESC_F_NEXT : 0),
			DRV_NEXT_AUTO };
	ret = publish(r, d, (unsigned)n);
	free(d);
	return ret;
}

int vdev_drv_ring_inject(struct vdev_drv_ring *r, enum vdev_drv_fault f)
{
	uint64_t base = vdev_drv_mem_base(r->m), ram = vdev_drv_mem_size(r->m);
	uint64_t past = base + ram, buf, tgpa, t2gpa;
	const uint16_t N = VDEV_DESC_F_NEXT, W = VDEV_DESC_F_WRITE,
		       I = VDEV_DESC_F_INDIRECT;
	bool need_ind = false;
	void *t;

	switch (f) {
	case VDEV_DRV_FAULT_AVAIL_AHEAD:
	case VDEV_DRV_FAULT_HEAD_RANGE:
	case VDEV_DRV_FAULT_NEXT_RANGE:
	case VDEV_DRV_FAULT_LOOP:
		if (r->packed)
			return -ENOTSUP;
		break;
	case VDEV_DRV_FAULT_PACKED_BAD_WRAP:
		if (!r->packed)
			return -ENOTSUP;
		break;
	case VDEV_DRV_FAULT_INDIRECT_NO_FEATURE:
		if (r->indirect)
			return -ENOTSUP;
		break;
	case VDEV_DRV_FAULT_CHAIN_TOO_LONG:
		need_ind = !r->packed;
		break;
	case VDEV_DRV_FAULT_INDIRECT_WITH_NEXT:
	case VDEV_DRV_FAULT_INDIRECT_NESTED:
	case VDEV_DRV_FAULT_INDIRECT_LEN_ZERO:
	case VDEV_DRV_FAULT_INDIRECT_LEN_ODD:
	case VDEV_DRV_FAULT_INDIRECT_TOO_BIG:
	case VDEV_DRV_FAULT_INDIRECT_OUTSIDE:
		need_ind = true;
		break;
	default:
		break;
	}
	if (need_ind && !r->indirect)
		return -ENOTSUP;
	if ((unsigned)f >= VDEV_DRV_FAULT_COUNT)
		return -EINVAL;
	if (!vdev_drv_mem_alloc(r->m, 64, 16, &buf))
		return -ENOMEM;

	switch (f) {
	case VDEV_DRV_FAULT_AVAIL_AHEAD:
		r->avail_idx = (uint16_t)(r->avail_idx + r->size + 1);
		__atomic_store_n(&r->avail->idx,
				 vdev_cpu_to_le16(r->avail_idx),
				 __ATOMIC_RELEASE);
		return 0;
	case VDEV_DRV_FAULT_HEAD_RANGE:
		r->avail->ring[r->avail_idx & (r->size - 1)] =
			vdev_cpu_to_le16(r->size);
		r->avail_idx++;
		__atomic_store_n(&r->avail->idx,
				 vdev_cpu_to_le16(r->avail_idx),
				 __ATOMIC_RELEASE);
		return 0;
	case VDEV_DRV_FAULT_NEXT_RANGE:
		return publish(r, (struct drv_fdesc[]){
			{ buf, 16, N, r->size } }, 1);
	case VDEV_DRV_FAULT_LOOP:
		return publish(r, (struct drv_fdesc[]){
			{ buf, 16, N, DRV_NEXT_AUTO },
			{ buf, 16, N, DRV_NEXT_REF(0) } }, 2);
	case VDEV_DRV_FAULT_CHAIN_TOO_LONG:
		if (r->indirect) {
			t = table(r, (unsigned)r->size + 1, buf, &tgpa);
			if (!t)
				return -ENOMEM;
			return publish(r, (struct drv_fdesc[]){
				{ tgpa, 16u * (r->size + 1u), I, 0 } }, 1);
		} else {
			/* Packed: every slot says NEXT, so the chain runs
			 * into its own head again. */
			unsigned n = r->size;
			struct drv_fdesc *d = calloc(n, sizeof(*d));
			int ret;

			if (!d)
				return -ENOMEM;
			for (unsigned i = 0; i < n; i++)
				d[i] = (struct drv_fdesc){ buf, 16, N, 0 };
			ret = publish(r, d, n);
			free(d);
			return ret;
		}
	case VDEV_DRV_FAULT_TOTAL_LEN:
		return total_len(r, base, ram);
	case VDEV_DRV_FAULT_INDIRECT_NO_FEATURE:
		/* Build the table by hand: r->indirect is false here. */
		r->indirect = true;
		t = table(r, 1, buf, &tgpa);
		r->indirect = false;
		if (!t)
			return -ENOMEM;
		return publish(r, (struct drv_fdesc[]){
			{ tgpa, 16, I, 0 } }, 1);
	case VDEV_DRV_FAULT_INDIRECT_WITH_NEXT:
		t = table(r, 1, buf, &tgpa);
		if (!t)
			return -ENOMEM;
		return publish(r, (struct drv_fdesc[]){
			{ tgpa, 16, I | N, DRV_NEXT_AUTO },
			{ buf, 16, 0, 0 } }, 2);
	case VDEV_DRV_FAULT_INDIRECT_NESTED:
		if (!table(r, 1, buf, &t2gpa))
			return -ENOMEM;
		t = table(r, 2, buf, &tgpa);
		if (!t)
			return -ENOMEM;
		/* Entry 1 points at another table. */
		if (r->packed) {
			struct vdev_packed_desc *d = (void *)((uint8_t *)t + 16);

			d->addr = vdev_cpu_to_le64(t2gpa);
		} else {
			struct vdev_vring_desc *d = (void *)((uint8_t *)t + 16);

			d->addr = vdev_cpu_to_le64(t2gpa);
		}
		set_flags(r, t, 1, I);
		return publish(r, (struct drv_fdesc[]){
			{ tgpa, 32, I, 0 } }, 1);
	case VDEV_DRV_FAULT_INDIRECT_LEN_ZERO:
		t = table(r, 1, buf, &tgpa);
		return t ? publish(r, (struct drv_fdesc[]){
				{ tgpa, 0, I, 0 } }, 1) : -ENOMEM;
	case VDEV_DRV_FAULT_INDIRECT_LEN_ODD:
		t = table(r, 2, buf, &tgpa);
		return t ? publish(r, (struct drv_fdesc[]){
				{ tgpa, 24, I, 0 } }, 1) : -ENOMEM;
	case VDEV_DRV_FAULT_INDIRECT_TOO_BIG:
		t = table(r, 1, buf, &tgpa);
		return t ? publish(r, (struct drv_fdesc[]){
				{ tgpa, 16u * 65536u, I, 0 } }, 1) : -ENOMEM;
	case VDEV_DRV_FAULT_INDIRECT_OUTSIDE:
		return publish(r, (struct drv_fdesc[]){
			{ past, 16, I, 0 } }, 1);
	case VDEV_DRV_FAULT_READ_AFTER_WRITE:
		return publish(r, (struct drv_fdesc[]){
			{ buf, 16, W | N, DRV_NEXT_AUTO },
			{ buf + 16, 16, 0, 0 } }, 2);
	case VDEV_DRV_FAULT_ADDR_OUTSIDE:
		return publish(r, (struct drv_fdesc[]){
			{ past, 16, 0, 0 } }, 1);
	case VDEV_DRV_FAULT_ADDR_WRAP:
		return publish(r, (struct drv_fdesc[]){
			{ UINT64_MAX - 7, 16, 0, 0 } }, 1);
	case VDEV_DRV_FAULT_PACKED_BAD_WRAP:
		return drv_packed_publish_raw(r, (struct drv_fdesc[]){
			{ buf, 16, N, 0 }, { buf + 16, 16, 0, 0 } }, 2, 1);
	default:
		return -EINVAL;
	}
}
