/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vfio-user interrupts: GET_IRQ_INFO, SET_IRQS, and delivery of the PCI
 * function's MSI-X vectors and INTx line to the client's eventfds.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "adapters/vfio-user/vfu_internal.h"
#include "peer/peer_io.h"

/* The client chose the fd and its flags: a blocking eventfd with a full
 * counter must not stop the thread that serves the whole socket (issue
 * #19, defect 6). vpeer_signal never blocks, and a full counter is an
 * interrupt already pending. */
static void signal_fd(int fd, int kind)
{
	int e;

	if (fd < 0)
		return;
	e = vpeer_signal(fd, kind);
	if (e)
		vdev_log(VDEV_LOG_DEBUG, "vfio-user: irq eventfd: %s",
			 strerror(-e));
}

static void vfu_msix(void *opaque, uint16_t vector, uint64_t addr,
		     uint32_t data)
{
	struct vdev_vfio_user *s = opaque;

	if (vector < s->nvec)
		signal_fd(s->msix_fds[vector], s->msix_kinds[vector]);
}

static void vfu_intx(void *opaque, bool level)
{
	struct vdev_vfio_user *s = opaque;

	/* VFIO INTx is automasked: one signal, then the client unmasks
	 * after it has handled (and the guest acked) the interrupt. */
	if (level && !s->intx_masked && s->intx_fd >= 0) {
		signal_fd(s->intx_fd, s->intx_kind);
		s->intx_masked = true;
	}
}

const struct vdev_pci_ops vfu_pci_ops = {
	.msix = vfu_msix,
	.intx = vfu_intx,
};

uint32_t vfu_irq_count(const struct vdev_vfio_user *s, uint32_t index)
{
	switch (index) {
	case VFU_IRQ_INTX:
		return 1;
	case VFU_IRQ_MSIX:
		return s->nvec;
	default:
		return 0;
	}
}

int vfu_h_irq_info(struct vdev_vfio_user *s, struct vfu_msg *m,
		   struct vfu_reply *r)
{
	struct vfu_irq_info ii;
	int e;

	memcpy(&ii, m->body, sizeof(ii));
	/* The error index is PCIe AER's: a conventional PCI function has
	 * none, and says so the way the kernel's vfio-pci does (EINVAL).
	 * A count of 0 makes QEMU warn "Could not enable error recovery";
	 * a count of 1 would have it stop the guest on a signal we would
	 * never send (virtio reports errors with DEVICE_NEEDS_RESET). */
	if (ii.index == VFU_IRQ_ERR)
		return -EINVAL;
	ii.argsz = sizeof(ii);
	ii.count = vfu_irq_count(s, ii.index);
	ii.flags = 0;
	if (ii.index == VFU_IRQ_INTX)
		ii.flags = VFU_IRQ_INFO_EVENTFD | VFU_IRQ_INFO_MASKABLE |
			   VFU_IRQ_INFO_AUTOMASKED;
	else if (ii.index == VFU_IRQ_MSIX)
		ii.flags = VFU_IRQ_INFO_EVENTFD | VFU_IRQ_INFO_MASKABLE |
			   VFU_IRQ_INFO_NORESIZE;
	e = vfu_reply_alloc(r, sizeof(ii));
	if (!e)
		memcpy(r->body, &ii, sizeof(ii));
	return e;
}

static void msix_update_external(struct vdev_vfio_user *s)
{
	bool any = false;

	for (unsigned i = 0; i < s->nvec && !any; i++)
		any = s->msix_fds[i] >= 0;
	vdev_pci_msix_set_external(s->pci, any);
}

void vfu_irq_clear(struct vdev_vfio_user *s)
{
	if (s->intx_fd >= 0)
		close(s->intx_fd);
	s->intx_fd = -1;
	s->intx_masked = false;
	for (unsigned i = 0; i < s->nvec; i++) {
		if (s->msix_fds[i] >= 0)
			close(s->msix_fds[i]);
		s->msix_fds[i] = -1;
	}
	vdev_pci_msix_set_external(s->pci, false);
}

static int *irq_fd_slot(struct vdev_vfio_user *s, uint32_t index,
			uint32_t i)
{
	return index == VFU_IRQ_INTX ? &s->intx_fd : &s->msix_fds[i];
}

static int *irq_kind_slot(struct vdev_vfio_user *s, uint32_t index,
			  uint32_t i)
{
	return index == VFU_IRQ_INTX ? &s->intx_kind : &s->msix_kinds[i];
}

static void irq_action(struct vdev_vfio_user *s, uint32_t index, uint32_t i,
		       uint32_t action)
{
	bool mask = action == VFU_IRQ_SET_ACTION_MASK;

	if (action == VFU_IRQ_SET_ACTION_TRIGGER) {
		signal_fd(*irq_fd_slot(s, index, i),
			  *irq_kind_slot(s, index, i));
	} else if (index == VFU_IRQ_INTX) {
		s->intx_masked = mask;
		/* Still asserted: the client gets it again. */
		if (!mask)
			vfu_intx(s, vdev_pci_intx_level(s->pci));
	} else {
		vdev_pci_msix_mask(s->pci, i, mask);
	}
}

int vfu_h_set_irqs(struct vdev_vfio_user *s, struct vfu_msg *m,
		   struct vfu_reply *r)
{
	struct vfu_irq_set is;
	uint32_t data, action;
	const uint8_t *bools = m->body + VFU_IRQ_SET_SIZE;
	int kinds[VFU_MAX_FDS];

	memcpy(&is, m->body, VFU_IRQ_SET_SIZE);
	data = is.flags & VFU_IRQ_SET_DATA_MASK;
	action = is.flags & VFU_IRQ_SET_ACTION_MASK_ALL;

	if (vfu_irq_count(s, is.index) == 0)
		return 0; /* disabling an index we do not have */
	if (data == VFU_IRQ_SET_DATA_NONE && is.count == 0) {
		is.count = vfu_irq_count(s, is.index);
		data = VFU_IRQ_SET_DATA_EVENTFD; /* with no fds: release */
	}
	/* Before anything changes: every fd must take a non-blocking
	 * signal (vfu_validate bounded m->nfds by VFU_MAX_FDS). */
	for (unsigned k = 0; k < m->nfds; k++) {
		kinds[k] = vpeer_prepare_write(m->fds[k]);
		if (kinds[k] < 0)
			return kinds[k];
	}
	for (uint32_t k = 0; k < is.count; k++) {
		uint32_t i = is.start + k;

		if (data == VFU_IRQ_SET_DATA_EVENTFD) {
			int *slot = irq_fd_slot(s, is.index, i);

			if (*slot >= 0)
				close(*slot);
			*slot = -1;
			if (m->nfds) {
				*slot = m->fds[k];
				*irq_kind_slot(s, is.index, i) = kinds[k];
				m->fds[k] = -1; /* taken */
			}
		} else if (data == VFU_IRQ_SET_DATA_NONE || bools[k]) {
			irq_action(s, is.index, i, action);
		}
	}
	if (is.index == VFU_IRQ_MSIX && data == VFU_IRQ_SET_DATA_EVENTFD)
		msix_update_external(s);
	if (is.index == VFU_IRQ_INTX && data == VFU_IRQ_SET_DATA_EVENTFD)
		s->intx_masked = false;
	return 0;
}
