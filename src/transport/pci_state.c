/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-pci function's own state for migration (vdev_pci_save,
 * vdev_pci_restore): what the driver set that lives in the function and
 * not in the device core. The blob, little-endian:
 *   "VDEVPCI\0", le32 version, le32 queues, le32 MSI-X vectors,
 *   config space (256 bytes), le32 device_feature_select,
 *   driver_feature_select, queue_select, config_msix_vector, ISR, flags,
 *   per queue: le16 size, le16 msix_vector, le32 flags, le64 desc,
 *   driver, device;
 *   per vector: le32 address low, high, data, control, le32 pending;
 *   le32 CRC-32 of all of that.
 * A restore takes back only what a driver could have written (the
 * config-space write mask, selectors, vectors in range); the function's
 * identity and capability layout stay its own.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/crc32.h"
#include "transport/pci_internal.h"

#define STATE_MAGIC "VDEVPCI"
#define STATE_VERSION 1u
#define STATE_HDR (8u + 3 * 4u + VDEV_PCI_CFG_SIZE + 6 * 4u)
#define STATE_Q 32u
#define STATE_V 20u

#define F_GF_HIGH 1u  /* driver acked a feature bit above 63 */
#define F_INTX 2u     /* INTx asserted */
#define QF_RESET_DONE 1u

static size_t state_len(const struct vdev_pci *pci)
{
	return STATE_HDR + (size_t)pci->nq * STATE_Q +
	       (size_t)pci->nvec * STATE_V + 4;
}

static bool pba_test(const struct vdev_pci *pci, unsigned v)
{
	return pci->pba[v / 64] & (UINT64_C(1) << (v % 64));
}

int vdev_pci_save(struct vdev_pci *pci, void **blob, size_t *len)
{
	size_t n = state_len(pci);
	uint8_t *b = calloc(1, n), *p;

	if (!b)
		return -ENOMEM;
	memcpy(b, STATE_MAGIC, 8);
	pci_put(b + 8, STATE_VERSION, 4);
	pci_put(b + 12, pci->nq, 4);
	pci_put(b + 16, pci->nvec, 4);
	memcpy(b + 20, pci->cfg, VDEV_PCI_CFG_SIZE);
	p = b + 20 + VDEV_PCI_CFG_SIZE;
	pci_put(p, pci->dfselect, 4);
	pci_put(p + 4, pci->gfselect, 4);
	pci_put(p + 8, pci->queue_sel, 4);
	pthread_mutex_lock(&pci->lock);
	pci_put(p + 12, pci->config_vector, 4);
	pci_put(p + 16, pci->isr, 4);
	pci_put(p + 20, (pci->gf_high ? F_GF_HIGH : 0) |
			(pci->intx ? F_INTX : 0), 4);
	p += 24;
	for (unsigned i = 0; i < pci->nq; i++, p += STATE_Q) {
		const struct pci_queue *q = &pci->q[i];

		pci_put(p, q->size, 2);
		pci_put(p + 2, q->vector, 2);
		pci_put(p + 4, q->reset_done ? QF_RESET_DONE : 0, 4);
		pci_put(p + 8, q->desc, 8);
		pci_put(p + 16, q->driver, 8);
		pci_put(p + 24, q->device, 8);
	}
	for (unsigned v = 0; v < pci->nvec; v++, p += STATE_V) {
		pci_put(p, pci->table[v].addr_lo, 4);
		pci_put(p + 4, pci->table[v].addr_hi, 4);
		pci_put(p + 8, pci->table[v].data, 4);
		pci_put(p + 12, pci->table[v].ctrl, 4);
		pci_put(p + 16, pba_test(pci, v), 4);
	}
	pthread_mutex_unlock(&pci->lock);
	pci_put(b + n - 4, vcore_crc32(b, n - 4), 4);
	*blob = b;
	*len = n;
	return 0;
}

static bool vector_ok(const struct vdev_pci *pci, uint64_t v)
{
	return v < pci->nvec || v == VDEV_PCI_NO_VECTOR;
}

/* Everything a restore will take, checked before anything changes. */
static int check(const struct vdev_pci *pci, const uint8_t *b, size_t len)
{
	const uint8_t *p = b + 20 + VDEV_PCI_CFG_SIZE;

	if (len < STATE_HDR + 4 || memcmp(b, STATE_MAGIC, 8) ||
	    vcore_crc32(b, len - 4) != pci_get(b + len - 4, 4))
		return -EBADMSG;
	if (pci_get(b + 8, 4) != STATE_VERSION ||
	    pci_get(b + 12, 4) != pci->nq || pci_get(b + 16, 4) != pci->nvec)
		return -EPROTO;
	if (len != state_len(pci) || !vector_ok(pci, pci_get(p + 12, 4)) ||
	    (pci_get(p + 16, 4) & ~(uint64_t)(PCI_ISR_QUEUE | PCI_ISR_CONFIG)) ||
	    (pci_get(p + 20, 4) & ~(uint64_t)(F_GF_HIGH | F_INTX)))
		return -EBADMSG;
	p += 24;
	for (unsigned i = 0; i < pci->nq; i++, p += STATE_Q)
		if (pci_get(p, 2) > VDEV_QUEUE_SIZE_MAX ||
		    !vector_ok(pci, pci_get(p + 2, 2)) ||
		    (pci_get(p + 4, 4) & ~(uint64_t)QF_RESET_DONE))
			return -EBADMSG;
	for (unsigned v = 0; v < pci->nvec; v++, p += STATE_V)
		if (pci_get(p + 12, 4) > 1 || pci_get(p + 16, 4) > 1)
			return -EBADMSG;
	return 0;
}

int vdev_pci_restore(struct vdev_pci *pci, const void *blob, size_t len)
{
	uint8_t *b, *p;
	uint16_t cmd, msix;
	uint32_t flags;
	int r;

	if (!blob)
		return -EBADMSG;
	/* One private copy: the blob may be where someone can change it. */
	b = malloc(len ? len : 1);
	if (!b)
		return -ENOMEM;
	memcpy(b, blob, len);
	r = check(pci, b, len);
	if (r < 0) {
		free(b);
		return r;
	}
	for (unsigned i = 0; i < VDEV_PCI_CFG_SIZE; i++)
		pci->cfg[i] = (uint8_t)((pci->cfg[i] & ~pci->wmask[i]) |
					(b[20 + i] & pci->wmask[i]));
	p = b + 20 + VDEV_PCI_CFG_SIZE;
	pci->dfselect = (uint32_t)pci_get(p, 4);
	pci->gfselect = (uint32_t)pci_get(p + 4, 4);
	pci->queue_sel = (uint16_t)pci_get(p + 8, 4);
	flags = (uint32_t)pci_get(p + 20, 4);
	pci->gf_high = flags & F_GF_HIGH;
	pthread_mutex_lock(&pci->lock);
	pci->config_vector = (uint16_t)pci_get(p + 12, 4);
	pci->isr |= (uint8_t)pci_get(p + 16, 4);
	for (unsigned i = 0; i < pci->nq; i++) {
		const uint8_t *q = p + 24 + (size_t)i * STATE_Q;

		pci->q[i].size = (uint16_t)pci_get(q, 2);
		pci->q[i].vector = (uint16_t)pci_get(q + 2, 2);
		pci->q[i].reset_done = pci_get(q + 4, 4) & QF_RESET_DONE;
		pci->q[i].desc = pci_get(q + 8, 8);
		pci->q[i].driver = pci_get(q + 16, 8);
		pci->q[i].device = pci_get(q + 24, 8);
	}
	for (unsigned v = 0; v < pci->nvec; v++) {
		const uint8_t *e = p + 24 + (size_t)pci->nq * STATE_Q +
				   (size_t)v * STATE_V;

		pci->table[v].addr_lo = (uint32_t)pci_get(e, 4);
		pci->table[v].addr_hi = (uint32_t)pci_get(e + 4, 4);
		pci->table[v].data = (uint32_t)pci_get(e + 8, 4);
		pci->table[v].ctrl = (uint32_t)pci_get(e + 12, 4);
		if (pci_get(e + 16, 4))
			pci->pba[v / 64] |= UINT64_C(1) << (v % 64);
	}
	/* The line as it was: set_command below asserts it again when
	 * the ISR has bits and INTx is on. */
	pci->intx = false;
	pthread_mutex_unlock(&pci->lock);
	free(b);
	/* Command and MSI-X control decide how what is pending is
	 * delivered now: an unmasked pending vector fires, a pending ISR
	 * with INTx enabled asserts the line. */
	cmd = (uint16_t)pci_get(pci->cfg + PCI_COMMAND, 2);
	msix = (uint16_t)pci_get(pci->cfg + PCI_CAP_MSIX + 2, 2);
	pci_irq_set_msix_ctl(pci, msix);
	pci_irq_set_command(pci, cmd);
	return 0;
}
