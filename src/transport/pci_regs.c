/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-pci BAR0: the common configuration structure (4.1.4.3), the ISR
 * (4.1.4.5), device configuration (4.1.4.6) and the notification area
 * (4.1.4.4). Reads assemble the registers into a byte image and copy the
 * requested range, so any width reads consistent bytes; a write must hit
 * one register with its natural width (or a 32-bit half of a 64-bit one).
 */
#include <errno.h>
#include <string.h>
#include <virtio/transport.h>

#include "transport/pci_internal.h"

enum {
	CC_DFSELECT = 0x00,
	CC_DF = 0x04,
	CC_GFSELECT = 0x08,
	CC_GF = 0x0c,
	CC_MSIX = 0x10,
	CC_NUMQ = 0x12,
	CC_STATUS = 0x14,
	CC_GEN = 0x15,
	CC_QSEL = 0x16,
	CC_QSIZE = 0x18,
	CC_QMSIX = 0x1a,
	CC_QENABLE = 0x1c,
	CC_QNOFF = 0x1e,
	CC_QDESC = 0x20,
	CC_QDRIVER = 0x28,
	CC_QDEVICE = 0x30,
	CC_QNDATA = 0x38,
	CC_QRESET = 0x3a,
};

static void queue_defaults(struct vdev_pci *pci, unsigned i)
{
	struct pci_queue *q = &pci->q[i];

	q->size = vdev_vq_max_size(pci->dev, i);
	q->desc = q->driver = q->device = 0;
	q->reset_done = false;
	pthread_mutex_lock(&pci->lock);
	q->vector = VDEV_PCI_NO_VECTOR;
	pthread_mutex_unlock(&pci->lock);
}

/* The virtio part of a reset (device_status 0): the PCI side (BARs,
 * MSI-X table) is untouched. */
void pci_virtio_reset(struct vdev_pci *pci)
{
	vdev_reset(pci->dev);
	pci->dfselect = 0;
	pci->gfselect = 0;
	pci->gf_high = false;
	pci->queue_sel = 0;
	for (unsigned i = 0; i < pci->nq; i++)
		queue_defaults(pci, i);
	pthread_mutex_lock(&pci->lock);
	pci->config_vector = VDEV_PCI_NO_VECTOR;
	pthread_mutex_unlock(&pci->lock);
	(void)pci_irq_isr_read(pci); /* clears the ISR, drops INTx */
}

static void common_image(struct vdev_pci *pci, uint8_t *c)
{
	uint64_t df = vdev_device_features(pci->dev);
	uint64_t gf = vdev_driver_features(pci->dev);
	unsigned sel = pci->queue_sel;
	uint16_t cvec, qvec = 0;

	memset(c, 0, PCI_COMMON_LEN);
	pci_put(c + CC_DFSELECT, pci->dfselect, 4);
	if (pci->dfselect < 2)
		pci_put(c + CC_DF, df >> (32 * pci->dfselect), 4);
	pci_put(c + CC_GFSELECT, pci->gfselect, 4);
	if (pci->gfselect < 2)
		pci_put(c + CC_GF, gf >> (32 * pci->gfselect), 4);
	pthread_mutex_lock(&pci->lock);
	cvec = pci->config_vector;
	if (sel < pci->nq)
		qvec = pci->q[sel].vector;
	pthread_mutex_unlock(&pci->lock);
	pci_put(c + CC_MSIX, cvec, 2);
	pci_put(c + CC_NUMQ, pci->nq, 2);
	c[CC_STATUS] = vdev_get_status(pci->dev);
	c[CC_GEN] = (uint8_t)vdev_config_generation(pci->dev);
	pci_put(c + CC_QSEL, sel, 2);
	if (sel >= pci->nq)
		return; /* queue_size 0: no such queue (4.1.4.3.1) */
	pci_put(c + CC_QSIZE, pci->q[sel].size, 2);
	pci_put(c + CC_QMSIX, qvec, 2);
	pci_put(c + CC_QENABLE, vdev_vq_enabled(pci->dev, sel), 2);
	pci_put(c + CC_QNOFF, sel, 2);
	pci_put(c + CC_QDESC, pci->q[sel].desc, 8);
	pci_put(c + CC_QDRIVER, pci->q[sel].driver, 8);
	pci_put(c + CC_QDEVICE, pci->q[sel].device, 8);
	pci_put(c + CC_QNDATA, sel, 2);
	pci_put(c + CC_QRESET, pci->q[sel].reset_done, 2);
}

static uint16_t vector_or_none(const struct vdev_pci *pci, uint64_t v)
{
	/* A vector the function cannot map reads back as NO_VECTOR
	 * (4.1.5.1.2). */
	return v < pci->nvec ? (uint16_t)v : VDEV_PCI_NO_VECTOR;
}

static void queue_enable(struct vdev_pci *pci, unsigned sel)
{
	struct pci_queue *q = &pci->q[sel];
	int r;

	r = vdev_vq_set_size(pci->dev, sel, q->size);
	if (!r)
		r = vdev_vq_set_addr(pci->dev, sel, q->desc, q->driver,
				     q->device);
	if (!r)
		r = vdev_vq_enable(pci->dev, sel, true);
	if (r) {
		vdev_log(VDEV_LOG_WARN,
			 "virtio-pci: queue %u: enable refused (%s); "
			 "device needs reset", sel, strerror(-r));
		vdev_set_needs_reset(pci->dev);
		return;
	}
	q->reset_done = false;
}

static void write_features(struct vdev_pci *pci, uint32_t v)
{
	uint64_t gf = vdev_driver_features(pci->dev);

	if (pci->gfselect >= 2) {
		/* Nothing up there is offered: acking it must fail
		 * FEATURES_OK. */
		if (v)
			pci->gf_high = true;
		return;
	}
	gf &= ~((uint64_t)UINT32_MAX << (32 * pci->gfselect));
	gf |= (uint64_t)v << (32 * pci->gfselect);
	(void)vdev_set_driver_features(pci->dev, gf);
}

static void write_status(struct vdev_pci *pci, uint8_t v)
{
	if (v == 0) {
		pci_virtio_reset(pci);
		return;
	}
	if (pci->gf_high)
		v &= (uint8_t)~VDEV_STATUS_FEATURES_OK;
	(void)vdev_set_status(pci->dev, v);
}

static void write_addr(uint64_t *reg, uint64_t off, uint64_t v, uint32_t len)
{
	if (len == 8)
		*reg = v;
	else if (off % 8 == 0)
		*reg = (*reg & ~(uint64_t)UINT32_MAX) | (uint32_t)v;
	else
		*reg = (*reg & UINT32_MAX) | v << 32;
}

static void common_write(struct vdev_pci *pci, uint64_t off, uint64_t v,
			 uint32_t len)
{
	unsigned sel = pci->queue_sel;
	bool qok = sel < pci->nq;
	bool qlive = qok && vdev_vq_enabled(pci->dev, sel);

	switch (off) {
	case CC_DFSELECT:
		if (len == 4)
			pci->dfselect = (uint32_t)v;
		return;
	case CC_GFSELECT:
		if (len == 4)
			pci->gfselect = (uint32_t)v;
		return;
	case CC_GF:
		if (len == 4)
			write_features(pci, (uint32_t)v);
		return;
	case CC_MSIX:
		if (len == 2) {
			pthread_mutex_lock(&pci->lock);
			pci->config_vector = vector_or_none(pci, v);
			pthread_mutex_unlock(&pci->lock);
		}
		return;
	case CC_STATUS:
		if (len == 1)
			write_status(pci, (uint8_t)v);
		return;
	case CC_QSEL:
		if (len == 2)
			pci->queue_sel = (uint16_t)v;
		return;
	case CC_QSIZE:
		/* Validated against the ring rules when enabled. */
		if (len == 2 && qok && !qlive)
			pci->q[sel].size = (uint16_t)v;
		return;
	case CC_QMSIX:
		if (len == 2 && qok) {
			pthread_mutex_lock(&pci->lock);
			pci->q[sel].vector = vector_or_none(pci, v);
			pthread_mutex_unlock(&pci->lock);
		}
		return;
	case CC_QENABLE:
		/* Writing 0 is not allowed (4.1.4.3.2); queue_reset is the
		 * way to stop one queue. */
		if (len == 2 && v == 1 && qok && !qlive)
			queue_enable(pci, sel);
		return;
	case CC_QRESET:
		if (len == 2 && v == 1 && qok &&
		    vdev_has_feature(pci->dev, VDEV_F_RING_RESET)) {
			(void)vdev_vq_reset(pci->dev, sel);
			queue_defaults(pci, sel);
			pci->q[sel].reset_done = true;
		}
		return;
	default:
		break;
	}
	if (!qok || qlive || (len != 4 && len != 8) || off % len)
		return;
	if (off >= CC_QDESC && off < CC_QDESC + 8)
		write_addr(&pci->q[sel].desc, off, v, len);
	else if (off >= CC_QDRIVER && off < CC_QDRIVER + 8)
		write_addr(&pci->q[sel].driver, off, v, len);
	else if (off >= CC_QDEVICE && off < CC_QDEVICE + 8)
		write_addr(&pci->q[sel].device, off, v, len);
}

static void notify_write(struct vdev_pci *pci, uint64_t off, uint64_t v,
			 uint32_t len)
{
	unsigned qidx = (unsigned)(off / PCI_NOTIFY_MULT);
	uint32_t data = 0;

	if (off % PCI_NOTIFY_MULT || qidx >= pci->nq || (len != 2 && len != 4))
		return;
	if (!vdev_vq_enabled(pci->dev, qidx))
		return;
	/* With NOTIFICATION_DATA the driver writes 32 bits (2.9); the queue
	 * only takes them as a hint. */
	if (len == 4 && vdev_has_feature(pci->dev, VDEV_F_NOTIFICATION_DATA))
		data = (uint32_t)v;
	if (pci->ops.notify)
		pci->ops.notify(pci->opaque, qidx, data);
	else
		(void)vdev_vq_kick(pci->dev, qidx, data);
}

int pci_bar0_read(struct vdev_pci *pci, uint64_t off, void *buf, uint32_t len)
{
	uint8_t *out = buf;

	if (off < PCI_COMMON_LEN) {
		uint8_t img[PCI_COMMON_LEN];
		uint64_t n = PCI_COMMON_LEN - off < len ? PCI_COMMON_LEN - off :
							  len;

		common_image(pci, img);
		memcpy(out, img + off, n);
	} else if (off == PCI_ISR_OFF) {
		/* Reading the ISR acknowledges it (4.1.4.5). */
		out[0] = pci_irq_isr_read(pci);
	} else if (off >= PCI_DEVCFG_OFF && off < pci->notify_off) {
		(void)vdev_config_read(pci->dev,
				       (uint32_t)(off - PCI_DEVCFG_OFF), buf,
				       len);
	}
	return 0;
}

int pci_bar0_write(struct vdev_pci *pci, uint64_t off, const void *buf,
		   uint32_t len)
{
	uint64_t v = pci_get(buf, len);

	if (off < PCI_COMMON_LEN)
		common_write(pci, off, v, len);
	else if (off >= PCI_DEVCFG_OFF && off < pci->notify_off)
		(void)vdev_config_write(pci->dev,
					(uint32_t)(off - PCI_DEVCFG_OFF), buf,
					len);
	else if (off >= pci->notify_off)
		notify_write(pci, off - pci->notify_off, v, len);
	return 0;
}
