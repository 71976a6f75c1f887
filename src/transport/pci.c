/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-pci function: the object, PCI config space and its capability
 * list. Config space is a byte array with a per-byte writable mask, so any
 * access width or alignment a client uses is handled the same way; the few
 * registers with side effects (command, MSI-X control, the PCI_CFG access
 * window) are looked at after the bytes were merged.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <virtio/transport.h>

#include "transport/pci_internal.h"
#include "core/sized.h"

#define PCI_VENDOR_ID     0x00
#define PCI_DEVICE_ID     0x02
#define PCI_STATUS        0x06
#define PCI_REVISION      0x08
#define PCI_CLASS_PROG    0x09
#define PCI_CACHE_LINE    0x0c
#define PCI_LATENCY       0x0d
#define PCI_BAR0          0x10
#define PCI_SUBSYS_VENDOR 0x2c
#define PCI_SUBSYS_ID     0x2e
#define PCI_CAP_PTR       0x34
#define PCI_INT_LINE      0x3c
#define PCI_INT_PIN       0x3d

#define PCI_STATUS_INTX     0x0008u
#define PCI_STATUS_CAP_LIST 0x0010u
/* I/O space (no I/O BAR, but harmless), memory, bus master, parity,
 * SERR, INTx disable. */
#define PCI_CMD_WMASK       0x0547u

#define PCI_CAP_ID_MSIX   0x11
#define PCI_CAP_ID_VENDOR 0x09

#define VIRTIO_CAP_COMMON 1
#define VIRTIO_CAP_NOTIFY 2
#define VIRTIO_CAP_ISR    3
#define VIRTIO_CAP_DEVICE 4
#define VIRTIO_CAP_PCI    5

static const struct vdev_transport_ops pci_transport_ops = {
	.queue_interrupt = pci_irq_queue,
	.config_interrupt = pci_irq_config,
};

static uint32_t pci_default_class(uint32_t device_id)
{
	switch (device_id) {
	case VDEV_ID_NET:
		return 0x020000;  /* network controller, ethernet */
	case VDEV_ID_SCSI:
		return 0x010000;  /* mass storage, SCSI */
	case VDEV_ID_BLOCK:
	case VDEV_ID_FS:
		return 0x018000;  /* mass storage, other */
	case VDEV_ID_CONSOLE:
	case VDEV_ID_VSOCK:
		return 0x078000;  /* communication, other */
	case VDEV_ID_GPU:
		return 0x038000;  /* display, other */
	case VDEV_ID_INPUT:
		return 0x098000;  /* input, other */
	case VDEV_ID_SOUND:
		return 0x040100;  /* multimedia audio */
	default:
		return 0xff0000;  /* unassigned class ("other") */
	}
}

static uint32_t pow2_roundup(uint64_t v)
{
	uint32_t p = 4096;

	while (p < v)
		p <<= 1;
	return p;
}

static uint32_t align4k(uint64_t v)
{
	return (uint32_t)((v + 4095) & ~4095ull);
}

static void wmask_set(struct vdev_pci *pci, unsigned off, uint64_t mask,
		      unsigned n)
{
	pci_put(pci->wmask + off, mask, n);
}

static void pci_add_vcap(struct vdev_pci *pci, unsigned at, unsigned next,
			 uint8_t len, uint8_t type, uint8_t bar, uint32_t off,
			 uint32_t length)
{
	uint8_t *c = pci->cfg + at;

	c[0] = PCI_CAP_ID_VENDOR;
	c[1] = (uint8_t)next;
	c[2] = len;
	c[3] = type;
	c[4] = bar;
	c[5] = 0; /* id */
	pci_put(c + 8, off, 4);
	pci_put(c + 12, length, 4);
}

/* Power-on config space. */
static void pci_cfg_init(struct vdev_pci *pci,
			 const struct vdev_pci_config *cfg)
{
	const struct vdev_info *info = vdev_get_info(pci->dev);
	uint8_t *c = pci->cfg;
	uint32_t class_code = cfg->class_code ? cfg->class_code :
			      pci_default_class(info->device_id);
	unsigned after_isr = pci->devcfg_len ? PCI_CAP_DEVICE : PCI_CAP_PCICFG;

	memset(pci->cfg, 0, sizeof(pci->cfg));
	memset(pci->wmask, 0, sizeof(pci->wmask));
	pci_put(c + PCI_VENDOR_ID, VDEV_PCI_VENDOR_ID, 2);
	pci_put(c + PCI_DEVICE_ID, VDEV_PCI_DEVICE_ID_BASE + info->device_id,
		2);
	pci_put(c + PCI_STATUS, PCI_STATUS_CAP_LIST, 2);
	c[PCI_REVISION] = 1;
	pci_put(c + PCI_CLASS_PROG, class_code & 0xffffff, 3);
	pci_put(c + PCI_SUBSYS_VENDOR,
		cfg->subsys_vendor ? cfg->subsys_vendor : VDEV_PCI_VENDOR_ID,
		2);
	pci_put(c + PCI_SUBSYS_ID, cfg->subsys_id ? cfg->subsys_id : 0x1100,
		2);
	c[PCI_CAP_PTR] = PCI_CAP_MSIX;
	c[PCI_INT_PIN] = 1;
	wmask_set(pci, PCI_COMMAND, PCI_CMD_WMASK, 2);
	c[PCI_CACHE_LINE] = 0;
	pci->wmask[PCI_CACHE_LINE] = 0xff;
	pci->wmask[PCI_LATENCY] = 0xff;
	pci->wmask[PCI_INT_LINE] = 0xff;
	/* Memory BARs: 32-bit, non-prefetchable; the size mask makes a
	 * write of all-ones read back as the size. */
	for (unsigned b = 0; b < VDEV_PCI_NUM_BARS; b++) {
		if (pci->bar_size[b])
			wmask_set(pci, PCI_BAR0 + 4 * b,
				  ~(uint32_t)(pci->bar_size[b] - 1), 4);
	}

	/* MSI-X */
	c[PCI_CAP_MSIX] = PCI_CAP_ID_MSIX;
	c[PCI_CAP_MSIX + 1] = PCI_CAP_COMMON;
	pci_put(c + PCI_CAP_MSIX + 2, pci->nvec - 1, 2);
	wmask_set(pci, PCI_CAP_MSIX + 2,
		  PCI_MSIX_CTL_ENABLE | PCI_MSIX_CTL_FMASK, 2);
	pci_put(c + PCI_CAP_MSIX + 4, 0 | VDEV_PCI_BAR_MSIX, 4);
	pci_put(c + PCI_CAP_MSIX + 8, pci->pba_off | VDEV_PCI_BAR_MSIX, 4);

	pci_add_vcap(pci, PCI_CAP_COMMON, PCI_CAP_NOTIFY, 16,
		     VIRTIO_CAP_COMMON, VDEV_PCI_BAR_REGS, PCI_COMMON_OFF,
		     PCI_COMMON_LEN);
	pci_add_vcap(pci, PCI_CAP_NOTIFY, PCI_CAP_ISR, 20, VIRTIO_CAP_NOTIFY,
		     VDEV_PCI_BAR_REGS, pci->notify_off, pci->notify_len);
	pci_put(c + PCI_CAP_NOTIFY + 16, PCI_NOTIFY_MULT, 4);
	pci_add_vcap(pci, PCI_CAP_ISR, after_isr, 16, VIRTIO_CAP_ISR,
		     VDEV_PCI_BAR_REGS, PCI_ISR_OFF, 1);
	if (pci->devcfg_len)
		pci_add_vcap(pci, PCI_CAP_DEVICE, PCI_CAP_PCICFG, 16,
			     VIRTIO_CAP_DEVICE, VDEV_PCI_BAR_REGS,
			     PCI_DEVCFG_OFF, pci->devcfg_len);
	pci_add_vcap(pci, PCI_CAP_PCICFG, 0, 20, VIRTIO_CAP_PCI, 0, 0, 0);
	/* The access window: bar, offset, length and data are the driver's. */
	pci->wmask[PCI_CAP_PCICFG + 4] = 0xff;
	wmask_set(pci, PCI_CAP_PCICFG + 8, 0xffffffffu, 4);
	wmask_set(pci, PCI_CAP_PCICFG + 12, 0xffffffffu, 4);
	wmask_set(pci, PCI_PCICFG_DATA, 0xffffffffu, 4);
}

static struct vdev_pci *pci_new(struct vdev *dev,
				const struct vdev_pci_config *cfg,
				const struct vdev_pci_ops *ops, void *opaque)
{
	static const struct vdev_pci_config defaults;
	struct vdev_pci *pci;
	unsigned nq;
	uint32_t dev_size, notify_area;

	if (!dev) {
		errno = EINVAL;
		return NULL;
	}
	if (!cfg)
		cfg = &defaults;
	nq = vdev_num_queues(dev);
	if (nq == 0 || nq > 1024 || cfg->msix_vectors > VDEV_PCI_MSIX_MAX) {
		errno = EINVAL;
		return NULL;
	}
	pci = calloc(1, sizeof(*pci));
	if (!pci)
		return NULL;
	pci->dev = dev;
	if (ops)
		pci->ops = *ops;
	pci->opaque = opaque;
	pci->nq = nq;
	pci->nvec = cfg->msix_vectors ? cfg->msix_vectors : nq + 1;
	if (pci->nvec > VDEV_PCI_MSIX_MAX)
		pci->nvec = VDEV_PCI_MSIX_MAX;

	pci->devcfg_len = vdev_config_size(dev);
	dev_size = align4k(pci->devcfg_len ? pci->devcfg_len : 1);
	pci->notify_off = PCI_DEVCFG_OFF + dev_size;
	pci->notify_len = nq * PCI_NOTIFY_MULT;
	notify_area = align4k(pci->notify_len);
	pci->bar_size[VDEV_PCI_BAR_REGS] =
		pow2_roundup((uint64_t)pci->notify_off + notify_area);
	pci->pba_off = align4k(pci->nvec * 16u);
	pci->bar_size[VDEV_PCI_BAR_MSIX] =
		pow2_roundup((uint64_t)pci->pba_off +
			     align4k((pci->nvec + 63) / 64 * 8));

	pci->q = calloc(nq, sizeof(*pci->q));
	pci->table = calloc(pci->nvec, sizeof(*pci->table));
	pci->pba = calloc((pci->nvec + 63) / 64, sizeof(*pci->pba));
	pci->ext_mask = calloc(pci->nvec, sizeof(*pci->ext_mask));
	if (!pci->q || !pci->table || !pci->pba || !pci->ext_mask ||
	    pthread_mutex_init(&pci->lock, NULL)) {
		free(pci->q);
		free(pci->table);
		free(pci->pba);
		free(pci->ext_mask);
		free(pci);
		errno = ENOMEM;
		return NULL;
	}
	pci_cfg_init(pci, cfg);
	pci_irq_reset(pci);
	pci_virtio_reset(pci);
	vdev_set_transport(dev, &pci_transport_ops, pci);
	return pci;
}

void vdev_pci_free(struct vdev_pci *pci)
{
	if (!pci)
		return;
	vdev_set_transport(pci->dev, NULL, NULL);
	pthread_mutex_destroy(&pci->lock);
	free(pci->q);
	free(pci->table);
	free(pci->pba);
	free(pci->ext_mask);
	free(pci);
}

struct vdev *vdev_pci_device(const struct vdev_pci *pci)
{
	return pci->dev;
}

uint64_t vdev_pci_bar_size(const struct vdev_pci *pci, unsigned bar)
{
	return bar < VDEV_PCI_NUM_BARS ? pci->bar_size[bar] : 0;
}

unsigned vdev_pci_msix_vectors(const struct vdev_pci *pci)
{
	return pci->nvec;
}

static bool cfg_range_ok(uint32_t off, uint32_t len)
{
	return len <= VDEV_PCI_CFG_SIZE && off <= VDEV_PCI_CFG_SIZE - len;
}

static bool overlaps(uint32_t off, uint32_t len, uint32_t reg, uint32_t n)
{
	return off < reg + n && reg < off + len;
}

/* The PCI_CFG capability's window: an access of cap.length bytes at
 * cap.offset of BAR cap.bar, or nothing when those are invalid. */
static bool pcicfg_target(struct vdev_pci *pci, unsigned *bar, uint32_t *off,
			  uint32_t *len)
{
	const uint8_t *c = pci->cfg + PCI_CAP_PCICFG;

	*bar = c[4];
	*off = (uint32_t)pci_get(c + 8, 4);
	*len = (uint32_t)pci_get(c + 12, 4);
	if (*len != 1 && *len != 2 && *len != 4)
		return false;
	if (*off % *len)
		return false;
	return *bar < VDEV_PCI_NUM_BARS && pci->bar_size[*bar] &&
	       (uint64_t)*off + *len <= pci->bar_size[*bar];
}

int vdev_pci_cfg_read(struct vdev_pci *pci, uint32_t offset, void *buf,
		      uint32_t len)
{
	unsigned bar;
	uint32_t off, n;
	uint16_t status;

	if (!cfg_range_ok(offset, len))
		return -ERANGE;
	/* A read that starts at pci_cfg_data reads through the window. */
	if (offset == PCI_PCICFG_DATA && pcicfg_target(pci, &bar, &off, &n)) {
		uint8_t v[4] = { 0 };

		vdev_pci_bar_read(pci, bar, off, v, n);
		memcpy(pci->cfg + PCI_PCICFG_DATA, v, 4);
	}
	status = PCI_STATUS_CAP_LIST;
	if (vdev_pci_intx_level(pci))
		status |= PCI_STATUS_INTX;
	pci_put(pci->cfg + PCI_STATUS, status, 2);
	memcpy(buf, pci->cfg + offset, len);
	return 0;
}

int vdev_pci_cfg_write(struct vdev_pci *pci, uint32_t offset,
		       const void *buf, uint32_t len)
{
	const uint8_t *v = buf;
	unsigned bar;
	uint32_t off, n;

	if (!cfg_range_ok(offset, len))
		return -ERANGE;
	for (uint32_t i = 0; i < len; i++) {
		uint8_t m = pci->wmask[offset + i];
		uint8_t *c = &pci->cfg[offset + i];

		*c = (uint8_t)((*c & ~m) | (v[i] & m));
	}
	if (overlaps(offset, len, PCI_COMMAND, 2))
		pci_irq_set_command(pci,
				    (uint16_t)pci_get(pci->cfg + PCI_COMMAND,
						      2));
	if (overlaps(offset, len, PCI_CAP_MSIX + 2, 2))
		pci_irq_set_msix_ctl(pci,
				     (uint16_t)pci_get(pci->cfg +
						       PCI_CAP_MSIX + 2, 2));
	if (offset == PCI_PCICFG_DATA && pcicfg_target(pci, &bar, &off, &n))
		vdev_pci_bar_write(pci, bar, off, pci->cfg + PCI_PCICFG_DATA,
				   n);
	return 0;
}

static int bar_access_ok(const struct vdev_pci *pci, unsigned bar,
			 uint64_t off, uint32_t len)
{
	if (bar >= VDEV_PCI_NUM_BARS || !pci->bar_size[bar])
		return -EINVAL;
	if (len != 1 && len != 2 && len != 4 && len != 8)
		return -EINVAL;
	if (off >= pci->bar_size[bar] || len > pci->bar_size[bar] - off)
		return -ERANGE;
	return 0;
}

int vdev_pci_bar_read(struct vdev_pci *pci, unsigned bar, uint64_t offset,
		      void *buf, uint32_t len)
{
	int r = bar_access_ok(pci, bar, offset, len);

	if (r)
		return r;
	memset(buf, 0, len);
	if (bar == VDEV_PCI_BAR_REGS)
		return pci_bar0_read(pci, offset, buf, len);
	return pci_bar2_read(pci, offset, buf, len);
}

int vdev_pci_bar_write(struct vdev_pci *pci, unsigned bar, uint64_t offset,
		       const void *buf, uint32_t len)
{
	int r = bar_access_ok(pci, bar, offset, len);

	if (r)
		return r;
	if (bar == VDEV_PCI_BAR_REGS)
		return pci_bar0_write(pci, offset, buf, len);
	return pci_bar2_write(pci, offset, buf, len);
}

void vdev_pci_reset(struct vdev_pci *pci)
{
	pci_virtio_reset(pci);
	pci_put(pci->cfg + PCI_COMMAND, 0, 2);
	for (unsigned b = 0; b < VDEV_PCI_NUM_BARS; b++)
		pci_put(pci->cfg + PCI_BAR0 + 4 * b, 0, 4);
	pci->cfg[PCI_CACHE_LINE] = 0;
	pci->cfg[PCI_LATENCY] = 0;
	pci->cfg[PCI_INT_LINE] = 0;
	pci_put(pci->cfg + PCI_CAP_MSIX + 2, pci->nvec - 1, 2);
	memset(pci->cfg + PCI_CAP_PCICFG + 4, 0, 1);
	memset(pci->cfg + PCI_CAP_PCICFG + 8, 0, 12);
	pci_irq_reset(pci);
}

/* The caller's config and ops at the sizes it was compiled with (api.h). */
struct vdev_pci *(vdev_pci_new)(struct vdev *dev,
				const struct vdev_pci_config *cfg,
				const struct vdev_pci_ops *ops, void *opaque,
				size_t cfg_size, size_t ops_size)
{
	struct vdev_pci_config c;
	struct vdev_pci_ops o;

	if (cfg && !VSIZED_IN(c, cfg, cfg_size))
		return NULL;
	if (ops && !VSIZED_IN(o, ops, ops_size))
		return NULL;
	return pci_new(dev, cfg ? &c : NULL, ops ? &o : NULL, opaque);
}
