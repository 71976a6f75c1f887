/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared between the files of the virtio-pci function: pci.c (object and
 * config space), pci_regs.c (BAR0: common config, ISR, device config,
 * notifications) and pci_irq.c (interrupts, MSI-X table and PBA).
 */
#ifndef VDEV_TRANSPORT_PCI_INTERNAL_H
#define VDEV_TRANSPORT_PCI_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <virtio/pci.h>

/* Config-space layout (see pci.h). */
#define PCI_COMMAND     0x04u
#define PCI_CAP_MSIX    0x40u
#define PCI_CAP_COMMON  0x50u
#define PCI_CAP_NOTIFY  0x60u
#define PCI_CAP_ISR     0x74u
#define PCI_CAP_DEVICE  0x84u
#define PCI_CAP_PCICFG  0x94u
#define PCI_PCICFG_DATA (PCI_CAP_PCICFG + 16u)

/* BAR0 layout. */
#define PCI_COMMON_OFF  0x0000u
#define PCI_COMMON_LEN  0x3cu
#define PCI_ISR_OFF     0x1000u
#define PCI_DEVCFG_OFF  0x2000u
#define PCI_NOTIFY_MULT 4u

#define PCI_CMD_INTX_DISABLE 0x0400u
#define PCI_MSIX_CTL_ENABLE  0x8000u
#define PCI_MSIX_CTL_FMASK   0x4000u

#define PCI_ISR_QUEUE  1u
#define PCI_ISR_CONFIG 2u

struct pci_queue {
	uint16_t size;
	uint16_t vector;    /* under pci->lock */
	bool reset_done;    /* queue_reset reads 1 (RING_RESET) */
	uint64_t desc;
	uint64_t driver;
	uint64_t device;
};

struct pci_msix_entry {
	uint32_t addr_lo;
	uint32_t addr_hi;
	uint32_t data;
	uint32_t ctrl;
};

struct vdev_pci {
	struct vdev *dev;
	struct vdev_pci_ops ops;
	void *opaque;
	unsigned nq;

	uint8_t cfg[VDEV_PCI_CFG_SIZE];
	uint8_t wmask[VDEV_PCI_CFG_SIZE];
	uint32_t bar_size[VDEV_PCI_NUM_BARS];

	/* BAR0 */
	uint32_t devcfg_len;   /* device config space bytes */
	uint32_t notify_off;
	uint32_t notify_len;

	/* common configuration, control thread only */
	uint32_t dfselect;
	uint32_t gfselect;
	bool gf_high;          /* driver acked a bit above 63 */
	uint16_t queue_sel;
	struct pci_queue *q;

	/* interrupt state */
	pthread_mutex_t lock;
	uint16_t config_vector;
	uint8_t isr;
	bool intx;
	bool intx_disabled;
	bool msix_enable;
	bool msix_fmask;
	bool msix_ext;
	unsigned nvec;
	uint32_t pba_off;
	struct pci_msix_entry *table;
	uint64_t *pba;
	bool *ext_mask;
};

/* pci_regs.c */
int pci_bar0_read(struct vdev_pci *pci, uint64_t off, void *buf,
		  uint32_t len);
int pci_bar0_write(struct vdev_pci *pci, uint64_t off, const void *buf,
		   uint32_t len);
void pci_virtio_reset(struct vdev_pci *pci);

/* pci_irq.c */
void pci_irq_queue(void *opaque, unsigned qidx);
void pci_irq_config(void *opaque);
uint8_t pci_irq_isr_read(struct vdev_pci *pci);
void pci_irq_set_command(struct vdev_pci *pci, uint16_t cmd);
void pci_irq_set_msix_ctl(struct vdev_pci *pci, uint16_t ctl);
void pci_irq_reset(struct vdev_pci *pci);
int pci_bar2_read(struct vdev_pci *pci, uint64_t off, void *buf,
		  uint32_t len);
int pci_bar2_write(struct vdev_pci *pci, uint64_t off, const void *buf,
		   uint32_t len);

/* Little-endian helpers on byte buffers. */
static inline void pci_put(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t pci_get(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

#endif /* VDEV_TRANSPORT_PCI_INTERNAL_H */
