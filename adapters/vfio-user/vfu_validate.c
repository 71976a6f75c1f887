/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The one place where a client's message is checked before a handler runs:
 * a table says, per command, the payload sizes it may have, how many fds it
 * may carry and which extra check applies; handlers can then trust every
 * size, index, range and fd count they are given.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "adapters/vfio-user/vfu_internal.h"

typedef int (*vfu_check_fn)(const struct vdev_vfio_user *s,
			    const struct vfu_msg *m);

struct vfu_cmd_desc {
	const char *name;
	uint32_t min_len;     /* payload bytes */
	uint32_t max_len;     /* UINT32_MAX: bounded by the receive limit */
	unsigned max_fds;
	vfu_check_fn check;   /* NULL: sizes are enough */
	vfu_handler_fn handler; /* NULL: known but not offered */
};

static int chk_version(const struct vdev_vfio_user *s, const struct vfu_msg *m)
{
	if (m->len > sizeof(struct vfu_version)) {
		uint32_t jlen = m->len - (uint32_t)sizeof(struct vfu_version);

		/* JSON must be NUL-terminated and of sane size. */
		if (jlen > VFU_JSON_MAX || m->body[m->len - 1] != '\0')
			return -EINVAL;
	}
	return 0;
}

static int chk_dma_map(const struct vdev_vfio_user *s, const struct vfu_msg *m)
{
	struct vfu_dma_map d;

	memcpy(&d, m->body, sizeof(d));
	if (d.argsz < sizeof(d) ||
	    d.flags & ~(VFU_DMA_F_READ | VFU_DMA_F_WRITE))
		return -EINVAL;
	if (d.size == 0 || d.addr + d.size < d.addr ||
	    d.offset + d.size < d.offset)
		return -EINVAL;
	/* offset means nothing without an fd; clients differ in what they
	 * put there, so it is ignored rather than checked. */
	return 0;
}

static int chk_dma_unmap(const struct vdev_vfio_user *s,
			 const struct vfu_msg *m)
{
	struct vfu_dma_unmap d;

	memcpy(&d, m->body, sizeof(d));
	if (d.argsz < sizeof(d))
		return -EINVAL;
	if (d.flags & VFU_DMA_UNMAP_F_DIRTY_BITMAP)
		return -ENOTSUP; /* no dirty logging offered */
	if (d.flags & ~VFU_DMA_UNMAP_F_ALL)
		return -EINVAL;
	if (d.flags & VFU_DMA_UNMAP_F_ALL)
		return d.addr || d.size ? -EINVAL : 0;
	if (d.size == 0 || d.addr + d.size < d.addr)
		return -EINVAL;
	return 0;
}

/* GET_INFO, GET_REGION_INFO, GET_IRQ_INFO: argsz first, then flags,
 * then an index for the latter two. */
static int chk_argsz(const struct vfu_msg *m)
{
	uint32_t argsz;

	memcpy(&argsz, m->body, sizeof(argsz));
	return argsz < m->len ? -EINVAL : 0;
}

static int chk_info(const struct vdev_vfio_user *s, const struct vfu_msg *m)
{
	return chk_argsz(m);
}

static int chk_region_info(const struct vdev_vfio_user *s,
			   const struct vfu_msg *m)
{
	struct vfu_region_info ri;

	memcpy(&ri, m->body, sizeof(ri));
	if (chk_argsz(m) || ri.index >= VFU_PCI_NUM_REGIONS)
		return -EINVAL;
	return 0;
}

static int chk_irq_info(const struct vdev_vfio_user *s,
			const struct vfu_msg *m)
{
	struct vfu_irq_info ii;

	memcpy(&ii, m->body, sizeof(ii));
	if (chk_argsz(m) || ii.index >= VFU_IRQ_NUM)
		return -EINVAL;
	return 0;
}

static int chk_set_irqs(const struct vdev_vfio_user *s,
			const struct vfu_msg *m)
{
	struct vfu_irq_set is;
	uint32_t data, action;

	memcpy(&is, m->body, VFU_IRQ_SET_SIZE);
	data = is.flags & VFU_IRQ_SET_DATA_MASK;
	action = is.flags & VFU_IRQ_SET_ACTION_MASK_ALL;
	/* Exactly one data kind and one action, nothing else. */
	if (is.flags & ~(VFU_IRQ_SET_DATA_MASK | VFU_IRQ_SET_ACTION_MASK_ALL) ||
	    !data || (data & (data - 1)) || !action ||
	    (action & (action - 1)))
		return -EINVAL;
	if (is.argsz != m->len || is.index >= VFU_IRQ_NUM)
		return -EINVAL;
	if (data == VFU_IRQ_SET_DATA_BOOL ? m->len != VFU_IRQ_SET_SIZE +
						     (uint64_t)is.count :
					    m->len != VFU_IRQ_SET_SIZE)
		return -EINVAL;
	if (data == VFU_IRQ_SET_DATA_EVENTFD) {
		if (m->nfds != 0 && m->nfds != is.count)
			return -EINVAL;
		if (action != VFU_IRQ_SET_ACTION_TRIGGER)
			return -ENOTSUP; /* no mask/unmask notifiers */
		/* Interrupt fds are eventfds. A pipe or socket whose
		 * reader the client closed would raise SIGPIPE in this
		 * process on the next interrupt. */
		for (unsigned i = 0; i < m->nfds; i++) {
			struct stat st;

			if (fstat(m->fds[i], &st) < 0 ||
			    S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))
				return -EINVAL;
		}
	} else if (m->nfds) {
		return -EINVAL;
	}
	/* count 0 with DATA_NONE and TRIGGER: disable the whole index. */
	if (data == VFU_IRQ_SET_DATA_NONE && is.count == 0)
		return is.start || action != VFU_IRQ_SET_ACTION_TRIGGER ?
			       -EINVAL : 0;
	if (is.count == 0 ||
	    (uint64_t)is.start + is.count > vfu_irq_count(s, is.index))
		return -EINVAL;
	return 0;
}

static int chk_access(const struct vdev_vfio_user *s, const struct vfu_msg *m,
		      bool write)
{
	struct vfu_region_access a;
	uint64_t size;

	memcpy(&a, m->body, sizeof(a));
	if (a.count == 0 || a.count > s->max_xfer)
		return -EINVAL;
	if (write && m->len != sizeof(a) + (uint64_t)a.count)
		return -EINVAL;
	size = vfu_region_size(s, a.region);
	if (a.offset >= size || a.count > size - a.offset)
		return -EINVAL;
	return 0;
}

static int chk_read(const struct vdev_vfio_user *s, const struct vfu_msg *m)
{
	return chk_access(s, m, false);
}

static int chk_write(const struct vdev_vfio_user *s, const struct vfu_msg *m)
{
	return chk_access(s, m, true);
}

#define VAR UINT32_MAX

static const struct vfu_cmd_desc cmds[VFU_CMD_MAX] = {
	[VFU_CMD_VERSION] = { "VERSION", 4, VAR, 0, chk_version,
			      vfu_h_version },
	[VFU_CMD_DMA_MAP] = { "DMA_MAP", 32, 32, 1, chk_dma_map,
			      vfu_h_dma_map },
	[VFU_CMD_DMA_UNMAP] = { "DMA_UNMAP", 24, 24, 0, chk_dma_unmap,
				vfu_h_dma_unmap },
	[VFU_CMD_DEVICE_GET_INFO] = { "DEVICE_GET_INFO", 16, 16, 0,
				      chk_info, vfu_h_device_info },
	[VFU_CMD_DEVICE_GET_REGION_INFO] = { "DEVICE_GET_REGION_INFO", 32,
					     32, 0, chk_region_info,
					     vfu_h_region_info },
	[VFU_CMD_DEVICE_GET_REGION_IO_FDS] = { "DEVICE_GET_REGION_IO_FDS",
					       16, 16, 0, NULL, NULL },
	[VFU_CMD_DEVICE_GET_IRQ_INFO] = { "DEVICE_GET_IRQ_INFO", 16, 16, 0,
					  chk_irq_info, vfu_h_irq_info },
	[VFU_CMD_DEVICE_SET_IRQS] = { "DEVICE_SET_IRQS", VFU_IRQ_SET_SIZE,
				      VAR, VFU_MAX_FDS, chk_set_irqs,
				      vfu_h_set_irqs },
	[VFU_CMD_REGION_READ] = { "REGION_READ", 16, 16, 0, chk_read,
				  vfu_h_region_read },
	[VFU_CMD_REGION_WRITE] = { "REGION_WRITE", 17, VAR, 0, chk_write,
				   vfu_h_region_write },
	[VFU_CMD_DMA_READ] = { "DMA_READ", 0, 0, 0, NULL, NULL },
	[VFU_CMD_DMA_WRITE] = { "DMA_WRITE", 0, 0, 0, NULL, NULL },
	[VFU_CMD_DEVICE_RESET] = { "DEVICE_RESET", 0, 0, 0, NULL,
				   vfu_h_reset },
	[VFU_CMD_REGION_WRITE_MULTI] = { "REGION_WRITE_MULTI", 0, VAR, 0,
					 NULL, NULL },
	[VFU_CMD_DEVICE_FEATURE] = { "DEVICE_FEATURE", 0, VAR, 0, NULL,
				     NULL },
	[VFU_CMD_MIG_DATA_READ] = { "MIG_DATA_READ", 0, VAR, 0, NULL, NULL },
	[VFU_CMD_MIG_DATA_WRITE] = { "MIG_DATA_WRITE", 0, VAR, 0, NULL,
				     NULL },
};

const char *vfu_cmd_name(unsigned cmd)
{
	return cmd < VFU_CMD_MAX && cmds[cmd].name ? cmds[cmd].name : "?";
}

int vfu_validate(struct vdev_vfio_user *s, const struct vfu_msg *m,
		 vfu_handler_fn *h)
{
	const struct vfu_cmd_desc *d;

	if (m->hdr.size < VFU_HDR_SIZE)
		return -EINVAL;
	if (m->oversized)
		return -E2BIG;
	if ((m->hdr.flags & VFU_F_TYPE_MASK) != VFU_F_TYPE_COMMAND ||
	    m->hdr.flags & ~(VFU_F_TYPE_MASK | VFU_F_NO_REPLY))
		return -EINVAL;
	if (m->hdr.cmd >= VFU_CMD_MAX || !cmds[m->hdr.cmd].name)
		return -ENOSYS;
	d = &cmds[m->hdr.cmd];
	/* Server-to-client commands never come this way. */
	if (m->hdr.cmd == VFU_CMD_DMA_READ || m->hdr.cmd == VFU_CMD_DMA_WRITE)
		return -EINVAL;
	if (m->fds_truncated || m->nfds > d->max_fds)
		return -EINVAL;
	if (m->len < d->min_len || m->len > d->max_len)
		return -EINVAL;
	if ((m->hdr.cmd == VFU_CMD_VERSION) == s->version_done)
		return -EINVAL; /* VERSION first, and only once */
	if (!d->handler)
		return -ENOTSUP;
	if (d->check) {
		int r = d->check(s, m);

		if (r)
			return r;
	}
	*h = d->handler;
	return 0;
}
