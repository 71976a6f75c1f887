/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vfio-user command handlers for DMA windows, device and region info,
 * region access and reset. They run after vfu_validate(), so sizes,
 * indexes, ranges and fd counts are already known to be right.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "adapters/vfio-user/vfu_internal.h"

uint64_t vfu_region_size(const struct vdev_vfio_user *s, uint32_t index)
{
	if (index == VFU_PCI_CONFIG_REGION)
		return VDEV_PCI_CFG_SIZE;
	if (index < VDEV_PCI_NUM_BARS)
		return vdev_pci_bar_size(s->pci, index);
	return 0;
}

static bool dma_overlaps(const struct vfu_dma *d, uint64_t addr,
			 uint64_t size)
{
	return addr < d->addr + d->size && d->addr < addr + size;
}

int vfu_h_dma_map(struct vdev_vfio_user *s, struct vfu_msg *m,
		  struct vfu_reply *r)
{
	struct vfu_dma_map d;
	struct vfu_dma *tab;
	bool mapped;
	int e;

	memcpy(&d, m->body, sizeof(d));
	/* A window the device may not even read can hold neither rings nor
	 * buffers: it is tracked like an fd-less one. */
	mapped = m->nfds != 0 && (d.flags & VFU_DMA_F_READ);
	for (unsigned i = 0; i < s->ndma; i++) {
		if (dma_overlaps(&s->dma[i], d.addr, d.size))
			return -EEXIST;
	}
	if (s->ndma >= VFU_MAX_DMA)
		return -ENOSPC;
	tab = realloc(s->dma, (s->ndma + 1) * sizeof(*tab));
	if (!tab)
		return -ENOMEM;
	s->dma = tab;
	if (mapped) {
		struct stat st;
		/* A read-only window (issue #19, defect 10) is mapped
		 * PROT_READ, and the queues refuse device-writable buffers
		 * and used rings in it (DEVICE_NEEDS_RESET). */
		struct vdev_mem_region reg = {
			.guest_addr = d.addr,
			.size = d.size,
			.host = NULL,
			.fd = m->fds[0],
			.fd_offset = d.offset,
			.flags = d.flags & VFU_DMA_F_WRITE ? 0 :
							     VDEV_MEM_F_RDONLY,
		};

		/* mmap does not check a file's size and touching a page
		 * past its end would raise SIGBUS: refuse that up front. */
		if (fstat(m->fds[0], &st))
			return -errno;
		if (S_ISREG(st.st_mode) &&
		    d.offset + d.size > (uint64_t)st.st_size)
			return -EINVAL;
		/* The map mmaps the fd itself; ours is closed after the
		 * handler like every other received fd. */
		e = vdev_mem_add(s->mem, &reg);
		if (e)
			return e;
	}
	tab[s->ndma++] = (struct vfu_dma){ d.addr, d.size, mapped };
	return 0;
}

static void dma_drop(struct vdev_vfio_user *s, unsigned i)
{
	if (s->dma[i].mapped)
		vdev_mem_remove(s->mem, s->dma[i].addr, s->dma[i].size);
	s->dma[i] = s->dma[--s->ndma];
}

void vfu_dma_clear(struct vdev_vfio_user *s)
{
	while (s->ndma)
		dma_drop(s, s->ndma - 1);
	free(s->dma);
	s->dma = NULL;
}

int vfu_h_dma_unmap(struct vdev_vfio_user *s, struct vfu_msg *m,
		    struct vfu_reply *r)
{
	struct vfu_dma_unmap d;
	unsigned i;
	int e;

	memcpy(&d, m->body, sizeof(d));
	if (d.flags & VFU_DMA_UNMAP_F_ALL) {
		vfu_dma_clear(s);
	} else {
		/* Address and size must match one map exactly. */
		for (i = 0; i < s->ndma; i++) {
			if (s->dma[i].addr == d.addr &&
			    s->dma[i].size == d.size)
				break;
		}
		if (i == s->ndma)
			return -ENOENT;
		dma_drop(s, i);
	}
	/* The reply carries the request's entry back. */
	e = vfu_reply_alloc(r, sizeof(d));
	if (e)
		return e;
	d.argsz = sizeof(d);
	memcpy(r->body, &d, sizeof(d));
	return 0;
}

int vfu_h_device_info(struct vdev_vfio_user *s, struct vfu_msg *m,
		      struct vfu_reply *r)
{
	struct vfu_device_info di = {
		.argsz = sizeof(di),
		.flags = VFU_DEV_F_RESET | VFU_DEV_F_PCI,
		.num_regions = VFU_PCI_NUM_REGIONS,
		.num_irqs = VFU_IRQ_NUM,
	};
	int e = vfu_reply_alloc(r, sizeof(di));

	if (!e)
		memcpy(r->body, &di, sizeof(di));
	return e;
}

int vfu_h_region_info(struct vdev_vfio_user *s, struct vfu_msg *m,
		      struct vfu_reply *r)
{
	struct vfu_region_info ri;
	int e;

	memcpy(&ri, m->body, sizeof(ri));
	ri.argsz = sizeof(ri);
	ri.cap_offset = 0;
	ri.size = vfu_region_size(s, ri.index);
	ri.flags = ri.size ? VFU_REGION_F_READ | VFU_REGION_F_WRITE : 0;
	/* Nothing is mmappable: offset only names the region. */
	ri.offset = (uint64_t)ri.index << 40;
	e = vfu_reply_alloc(r, sizeof(ri));
	if (!e)
		memcpy(r->body, &ri, sizeof(ri));
	return e;
}

int vfu_h_region_read(struct vdev_vfio_user *s, struct vfu_msg *m,
		      struct vfu_reply *r)
{
	struct vfu_region_access a;
	void *data;
	int e;

	memcpy(&a, m->body, sizeof(a));
	e = vfu_reply_alloc(r, sizeof(a) + a.count);
	if (e)
		return e;
	data = r->body + sizeof(a);
	if (a.region == VFU_PCI_CONFIG_REGION)
		e = vdev_pci_cfg_read(s->pci, (uint32_t)a.offset, data,
				      a.count);
	else
		e = vdev_pci_bar_read(s->pci, a.region, a.offset, data,
				      a.count);
	if (e)
		return e;
	memcpy(r->body, &a, sizeof(a));
	return 0;
}

int vfu_h_region_write(struct vdev_vfio_user *s, struct vfu_msg *m,
		       struct vfu_reply *r)
{
	struct vfu_region_access a;
	const void *data = m->body + sizeof(a);
	int e;

	memcpy(&a, m->body, sizeof(a));
	if (a.region == VFU_PCI_CONFIG_REGION)
		e = vdev_pci_cfg_write(s->pci, (uint32_t)a.offset, data,
				       a.count);
	else
		e = vdev_pci_bar_write(s->pci, a.region, a.offset, data,
				       a.count);
	if (e)
		return e;
	e = vfu_reply_alloc(r, sizeof(a));
	if (!e)
		memcpy(r->body, &a, sizeof(a));
	return e;
}

int vfu_h_reset(struct vdev_vfio_user *s, struct vfu_msg *m,
		struct vfu_reply *r)
{
	vdev_pci_reset(s->pci);
	return 0;
}
