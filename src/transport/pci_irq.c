/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-pci interrupts: MSI-X (table, PBA, masking) with INTx and the ISR
 * as the fallback when MSI-X is off. Queue workers raise interrupts from
 * their own threads, so this state has a lock; the embedder's callbacks
 * are always called after it is dropped, so a callback may come back into
 * the function.
 */
#include <errno.h>
#include <string.h>

#include "transport/pci_internal.h"

#define MSIX_CTRL_MASKED 1u

static bool msix_on(const struct vdev_pci *pci)
{
	return pci->msix_enable || pci->msix_ext;
}

static bool vec_masked(const struct vdev_pci *pci, unsigned v)
{
	if (pci->msix_ext)
		return pci->ext_mask[v];
	return pci->msix_fmask || (pci->table[v].ctrl & MSIX_CTRL_MASKED);
}

static bool pba_test(const struct vdev_pci *pci, unsigned v)
{
	return pci->pba[v / 64] & (UINT64_C(1) << (v % 64));
}

static void pba_set(struct vdev_pci *pci, unsigned v, bool on)
{
	if (on)
		pci->pba[v / 64] |= UINT64_C(1) << (v % 64);
	else
		pci->pba[v / 64] &= ~(UINT64_C(1) << (v % 64));
}

struct irq_out {
	bool msix;
	uint16_t vector;
	uint64_t addr;
	uint32_t data;
	int intx; /* -1 unchanged, else the new level */
};

static void irq_emit(struct vdev_pci *pci, const struct irq_out *o)
{
	if (o->msix && pci->ops.msix)
		pci->ops.msix(pci->opaque, o->vector, o->addr, o->data);
	if (o->intx >= 0 && pci->ops.intx)
		pci->ops.intx(pci->opaque, o->intx);
}

/* Under the lock: what raising @vector (MSI-X on) or @isr_bit (off)
 * does. */
static void irq_raise_locked(struct vdev_pci *pci, uint16_t vector,
			     uint8_t isr_bit, struct irq_out *o)
{
	if (msix_on(pci)) {
		if (vector >= pci->nvec)
			return; /* NO_VECTOR: the driver wants none */
		if (vec_masked(pci, vector)) {
			pba_set(pci, vector, true);
			return;
		}
		o->msix = true;
		o->vector = vector;
		o->addr = (uint64_t)pci->table[vector].addr_hi << 32 |
			  pci->table[vector].addr_lo;
		o->data = pci->table[vector].data;
		return;
	}
	pci->isr |= isr_bit;
	if (!pci->intx && !pci->intx_disabled) {
		pci->intx = true;
		o->intx = 1;
	}
}

void pci_irq_queue(void *opaque, unsigned qidx)
{
	struct vdev_pci *pci = opaque;
	struct irq_out o = { .intx = -1 };

	if (qidx >= pci->nq)
		return;
	pthread_mutex_lock(&pci->lock);
	irq_raise_locked(pci, pci->q[qidx].vector, PCI_ISR_QUEUE, &o);
	pthread_mutex_unlock(&pci->lock);
	irq_emit(pci, &o);
}

void pci_irq_config(void *opaque)
{
	struct vdev_pci *pci = opaque;
	struct irq_out o = { .intx = -1 };

	pthread_mutex_lock(&pci->lock);
	irq_raise_locked(pci, pci->config_vector, PCI_ISR_CONFIG, &o);
	pthread_mutex_unlock(&pci->lock);
	irq_emit(pci, &o);
}

uint8_t pci_irq_isr_read(struct vdev_pci *pci)
{
	struct irq_out o = { .intx = -1 };
	uint8_t v;

	pthread_mutex_lock(&pci->lock);
	v = pci->isr;
	pci->isr = 0;
	if (pci->intx) {
		pci->intx = false;
		o.intx = 0;
	}
	pthread_mutex_unlock(&pci->lock);
	irq_emit(pci, &o);
	return v;
}

/* Delivers, one at a time, every pending vector that is now unmasked. */
static void irq_flush_pending(struct vdev_pci *pci)
{
	for (;;) {
		struct irq_out o = { .intx = -1 };
		unsigned v;

		pthread_mutex_lock(&pci->lock);
		for (v = 0; msix_on(pci) && v < pci->nvec; v++) {
			if (pba_test(pci, v) && !vec_masked(pci, v))
				break;
		}
		if (!msix_on(pci) || v == pci->nvec) {
			pthread_mutex_unlock(&pci->lock);
			return;
		}
		pba_set(pci, v, false);
		irq_raise_locked(pci, (uint16_t)v, 0, &o);
		pthread_mutex_unlock(&pci->lock);
		irq_emit(pci, &o);
	}
}

void pci_irq_set_command(struct vdev_pci *pci, uint16_t cmd)
{
	struct irq_out o = { .intx = -1 };
	bool dis = cmd & PCI_CMD_INTX_DISABLE;

	pthread_mutex_lock(&pci->lock);
	pci->intx_disabled = dis;
	if (dis && pci->intx) {
		pci->intx = false;
		o.intx = 0;
	} else if (!dis && !pci->intx && pci->isr && !msix_on(pci)) {
		pci->intx = true;
		o.intx = 1;
	}
	pthread_mutex_unlock(&pci->lock);
	irq_emit(pci, &o);
}

void pci_irq_set_msix_ctl(struct vdev_pci *pci, uint16_t ctl)
{
	struct irq_out o = { .intx = -1 };

	pthread_mutex_lock(&pci->lock);
	pci->msix_enable = ctl & PCI_MSIX_CTL_ENABLE;
	pci->msix_fmask = ctl & PCI_MSIX_CTL_FMASK;
	/* INTx is not used while MSI-X is enabled (PCI 6.8.2). */
	if (msix_on(pci) && pci->intx) {
		pci->intx = false;
		o.intx = 0;
	}
	pthread_mutex_unlock(&pci->lock);
	irq_emit(pci, &o);
	irq_flush_pending(pci);
}

void pci_irq_reset(struct vdev_pci *pci)
{
	struct irq_out o = { .intx = -1 };

	pthread_mutex_lock(&pci->lock);
	pci->isr = 0;
	if (pci->intx) {
		pci->intx = false;
		o.intx = 0;
	}
	pci->intx_disabled = false;
	pci->msix_enable = false;
	pci->msix_fmask = false;
	memset(pci->table, 0, pci->nvec * sizeof(*pci->table));
	for (unsigned v = 0; v < pci->nvec; v++) {
		pci->table[v].ctrl = MSIX_CTRL_MASKED;
		pci->ext_mask[v] = false;
	}
	memset(pci->pba, 0, (pci->nvec + 63) / 64 * sizeof(*pci->pba));
	pthread_mutex_unlock(&pci->lock);
	irq_emit(pci, &o);
}

void vdev_pci_msix_set_external(struct vdev_pci *pci, bool on)
{
	struct irq_out o = { .intx = -1 };

	pthread_mutex_lock(&pci->lock);
	pci->msix_ext = on;
	if (on && pci->intx) {
		pci->intx = false;
		o.intx = 0;
	}
	pthread_mutex_unlock(&pci->lock);
	irq_emit(pci, &o);
	irq_flush_pending(pci);
}

int vdev_pci_msix_mask(struct vdev_pci *pci, unsigned vector, bool masked)
{
	if (vector >= pci->nvec)
		return -EINVAL;
	pthread_mutex_lock(&pci->lock);
	pci->ext_mask[vector] = masked;
	pthread_mutex_unlock(&pci->lock);
	if (!masked)
		irq_flush_pending(pci);
	return 0;
}

bool vdev_pci_msix_enabled(const struct vdev_pci *pci)
{
	struct vdev_pci *p = (struct vdev_pci *)pci;
	bool on;

	pthread_mutex_lock(&p->lock);
	on = msix_on(p);
	pthread_mutex_unlock(&p->lock);
	return on;
}

bool vdev_pci_intx_level(const struct vdev_pci *pci)
{
	struct vdev_pci *p = (struct vdev_pci *)pci;
	bool on;

	pthread_mutex_lock(&p->lock);
	on = p->intx;
	pthread_mutex_unlock(&p->lock);
	return on;
}

/* BAR2: the MSI-X table at 0 and the PBA at pba_off. Only aligned dword
 * and qword accesses mean something (PCI 6.8.2); others read zeros and are
 * ignored. */
int pci_bar2_read(struct vdev_pci *pci, uint64_t off, void *buf, uint32_t len)
{
	uint8_t tmp[8];
	uint64_t v = 0;

	if ((len != 4 && len != 8) || off % len)
		return 0;
	pthread_mutex_lock(&pci->lock);
	if (off < (uint64_t)pci->nvec * 16) {
		const struct pci_msix_entry *e = &pci->table[off / 16];
		uint32_t w[4] = { e->addr_lo, e->addr_hi, e->data, e->ctrl };
		unsigned i = (unsigned)(off % 16) / 4;

		v = w[i];
		if (len == 8)
			v |= (uint64_t)w[i + 1] << 32;
	} else if (off >= pci->pba_off &&
		   off - pci->pba_off < (pci->nvec + 63) / 64 * 8) {
		uint64_t q = pci->pba[(off - pci->pba_off) / 8];

		v = len == 8 ? q : q >> (off % 8 * 8);
	}
	pthread_mutex_unlock(&pci->lock);
	/* A constant count: gcc's -O3 on aarch64 cannot tell that len is
	 * 4 or 8 here and warns of an overflow of tmp. */
	pci_put(tmp, v, 8);
	memcpy(buf, tmp, len);
	return 0;
}

static void table_write_dword(struct vdev_pci *pci, uint64_t off, uint32_t v)
{
	struct pci_msix_entry *e = &pci->table[off / 16];

	switch (off % 16) {
	case 0:
		e->addr_lo = v;
		break;
	case 4:
		e->addr_hi = v;
		break;
	case 8:
		e->data = v;
		break;
	default:
		e->ctrl = v & MSIX_CTRL_MASKED;
		break;
	}
}

int pci_bar2_write(struct vdev_pci *pci, uint64_t off, const void *buf,
		   uint32_t len)
{
	const uint8_t *p = buf;

	if ((len != 4 && len != 8) || off % len ||
	    off >= (uint64_t)pci->nvec * 16)
		return 0; /* PBA is read-only; holes ignore writes */
	pthread_mutex_lock(&pci->lock);
	table_write_dword(pci, off, (uint32_t)pci_get(p, 4));
	if (len == 8)
		table_write_dword(pci, off + 4, (uint32_t)pci_get(p + 4, 4));
	pthread_mutex_unlock(&pci->lock);
	irq_flush_pending(pci);
	return 0;
}
