/* SPDX-License-Identifier: BSD-3-Clause */
/* Test helper: virtio-pci driver side (see vpci_drv.h). */
#include <errno.h>
#include <string.h>
#include <virtio/spec.h>

#include "vpci_drv.h"

static void put(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

uint64_t vpci_cfg_rd(struct vpci_drv *d, uint32_t off, unsigned len)
{
	uint8_t b[8] = { 0 };

	if (len > sizeof(b) || d->io.cfg_read(d->io.opaque, off, b, len))
		return UINT64_MAX;
	return get(b, len);
}

int vpci_cfg_wr(struct vpci_drv *d, uint32_t off, uint64_t v, unsigned len)
{
	uint8_t b[8];

	if (len > sizeof(b))
		return -EINVAL;
	put(b, v, len);
	return d->io.cfg_write(d->io.opaque, off, b, len);
}

uint64_t vpci_bar_rd(struct vpci_drv *d, unsigned bar, uint64_t off,
		     unsigned len)
{
	uint8_t b[8] = { 0 };

	if (len > sizeof(b) || d->io.bar_read(d->io.opaque, bar, off, b, len))
		return UINT64_MAX;
	return get(b, len);
}

int vpci_bar_wr(struct vpci_drv *d, unsigned bar, uint64_t off, uint64_t v,
		unsigned len)
{
	uint8_t b[8];

	if (len > sizeof(b))
		return -EINVAL;
	put(b, v, len);
	return d->io.bar_write(d->io.opaque, bar, off, b, len);
}

uint64_t vpci_common_rd(struct vpci_drv *d, uint32_t off, unsigned len)
{
	return vpci_bar_rd(d, d->common.bar, d->common.off + off, len);
}

int vpci_common_wr(struct vpci_drv *d, uint32_t off, uint64_t v, unsigned len)
{
	return vpci_bar_wr(d, d->common.bar, d->common.off + off, v, len);
}

static int loc_check(struct vpci_loc *l, const uint64_t bar_size[6])
{
	if (!l->found || l->bar > 5 ||
	    (uint64_t)l->off + l->len > bar_size[l->bar])
		return -EPROTO;
	return 0;
}

int vpci_probe(struct vpci_drv *d, const uint64_t bar_size[6])
{
	unsigned pos, guard = 0;

	if (vpci_cfg_rd(d, 0, 2) != 0x1af4 ||
	    vpci_cfg_rd(d, 2, 2) < 0x1040 || vpci_cfg_rd(d, 2, 2) > 0x107f)
		return -ENODEV;
	if (!(vpci_cfg_rd(d, 6, 2) & 0x10))
		return -EPROTO;
	pos = (unsigned)vpci_cfg_rd(d, 0x34, 1) & ~3u;
	while (pos && guard++ < 48) {
		unsigned id = (unsigned)vpci_cfg_rd(d, pos, 1);
		unsigned next = (unsigned)vpci_cfg_rd(d, pos + 1, 1);

		if (id == 0x11) {
			uint32_t t = (uint32_t)vpci_cfg_rd(d, pos + 4, 4);
			uint32_t p = (uint32_t)vpci_cfg_rd(d, pos + 8, 4);

			d->msix_cap = (uint8_t)pos;
			d->msix_size =
				(uint16_t)((vpci_cfg_rd(d, pos + 2, 2) &
					    0x7ff) + 1);
			d->msix_bar = t & 7;
			d->msix_table = t & ~7u;
			d->pba_bar = p & 7;
			d->pba_off = p & ~7u;
		} else if (id == 0x09) {
			unsigned type = (unsigned)vpci_cfg_rd(d, pos + 3, 1);
			struct vpci_loc *l = NULL;

			if (type == 1)
				l = &d->common;
			else if (type == 2)
				l = &d->notify;
			else if (type == 3)
				l = &d->isr;
			else if (type == 4)
				l = &d->device;
			else if (type == 5)
				l = &d->pcicfg;
			/* The first capability of a type wins (4.1.4). */
			if (l && !l->found) {
				l->found = true;
				l->cap = (uint8_t)pos;
				l->bar = (unsigned)vpci_cfg_rd(d, pos + 4, 1);
				l->off = (uint32_t)vpci_cfg_rd(d, pos + 8, 4);
				l->len = (uint32_t)vpci_cfg_rd(d, pos + 12,
								4);
				if (type == 2)
					d->notify_mult = (uint32_t)vpci_cfg_rd(
						d, pos + 16, 4);
			}
		}
		pos = next & ~3u;
	}
	if (loc_check(&d->common, bar_size) ||
	    loc_check(&d->notify, bar_size) ||
	    loc_check(&d->isr, bar_size) || !d->pcicfg.found || !d->msix_cap)
		return -EPROTO;
	if (d->device.found && loc_check(&d->device, bar_size))
		return -EPROTO;
	return 0;
}

int vpci_negotiate(struct vpci_drv *d, uint64_t want)
{
	uint64_t offered;
	uint8_t st;

	vpci_common_wr(d, VPCI_STATUS, 0, 1);
	if (vpci_common_rd(d, VPCI_STATUS, 1) != 0)
		return -EIO;
	vpci_common_wr(d, VPCI_STATUS, VDEV_STATUS_ACKNOWLEDGE, 1);
	vpci_common_wr(d, VPCI_STATUS,
		       VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER, 1);
	vpci_common_wr(d, VPCI_DFSELECT, 0, 4);
	offered = vpci_common_rd(d, VPCI_DF, 4);
	vpci_common_wr(d, VPCI_DFSELECT, 1, 4);
	offered |= vpci_common_rd(d, VPCI_DF, 4) << 32;
	d->features = offered & want;
	vpci_common_wr(d, VPCI_GFSELECT, 0, 4);
	vpci_common_wr(d, VPCI_GF, (uint32_t)d->features, 4);
	vpci_common_wr(d, VPCI_GFSELECT, 1, 4);
	vpci_common_wr(d, VPCI_GF, d->features >> 32, 4);
	st = VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER |
	     VDEV_STATUS_FEATURES_OK;
	vpci_common_wr(d, VPCI_STATUS, st, 1);
	if (!(vpci_common_rd(d, VPCI_STATUS, 1) & VDEV_STATUS_FEATURES_OK))
		return -EPROTO;
	return 0;
}

int vpci_setup_queue(struct vpci_drv *d, unsigned qidx,
		     struct vdev_drv_ring *r, uint16_t vector)
{
	struct vdev_queue_config qc;

	vdev_drv_ring_queue_config(r, &qc);
	vpci_common_wr(d, VPCI_QSEL, qidx, 2);
	if (vpci_common_rd(d, VPCI_QSIZE, 2) < qc.size)
		return -ENOSPC;
	vpci_common_wr(d, VPCI_QSIZE, qc.size, 2);
	vpci_common_wr(d, VPCI_QMSIX, vector, 2);
	/* Split the 64-bit addresses as Linux does on 32-bit hosts. */
	vpci_common_wr(d, VPCI_QDESC, (uint32_t)qc.desc_addr, 4);
	vpci_common_wr(d, VPCI_QDESC + 4, qc.desc_addr >> 32, 4);
	vpci_common_wr(d, VPCI_QDRIVER, qc.driver_addr, 8);
	vpci_common_wr(d, VPCI_QDEVICE, qc.device_addr, 8);
	vpci_common_wr(d, VPCI_QENABLE, 1, 2);
	return vpci_common_rd(d, VPCI_QENABLE, 2) == 1 ? 0 : -EIO;
}

int vpci_driver_ok(struct vpci_drv *d)
{
	uint8_t st = (uint8_t)vpci_common_rd(d, VPCI_STATUS, 1);

	vpci_common_wr(d, VPCI_STATUS, st | VDEV_STATUS_DRIVER_OK, 1);
	st = (uint8_t)vpci_common_rd(d, VPCI_STATUS, 1);
	return st & VDEV_STATUS_DRIVER_OK ? 0 : -EIO;
}

int vpci_notify(struct vpci_drv *d, unsigned qidx, struct vdev_drv_ring *r)
{
	uint16_t noff;
	uint64_t at;

	vpci_common_wr(d, VPCI_QSEL, qidx, 2);
	noff = (uint16_t)vpci_common_rd(d, VPCI_QNOFF, 2);
	at = d->notify.off + (uint64_t)noff * d->notify_mult;
	if (d->features & VDEV_BIT(VDEV_F_NOTIFICATION_DATA))
		return vpci_bar_wr(d, d->notify.bar, at,
				   vdev_drv_ring_notification_data(r), 4);
	return vpci_bar_wr(d, d->notify.bar, at, qidx, 2);
}

int vpci_msix_enable(struct vpci_drv *d, bool on)
{
	uint16_t ctl = (uint16_t)vpci_cfg_rd(d, d->msix_cap + 2, 2);

	ctl = on ? ctl | 0x8000 : ctl & ~0x8000;
	return vpci_cfg_wr(d, d->msix_cap + 2, ctl, 2);
}

int vpci_msix_vector_mask(struct vpci_drv *d, unsigned v, bool masked)
{
	uint64_t e = d->msix_table + 16ull * v;

	/* A message address and data, as a guest would program. */
	vpci_bar_wr(d, d->msix_bar, e, 0xfee00000u, 4);
	vpci_bar_wr(d, d->msix_bar, e + 4, 0, 4);
	vpci_bar_wr(d, d->msix_bar, e + 8, 0x4000 + v, 4);
	return vpci_bar_wr(d, d->msix_bar, e + 12, masked, 4);
}

bool vpci_msix_pending(struct vpci_drv *d, unsigned v)
{
	uint64_t q = vpci_bar_rd(d, d->pba_bar, d->pba_off + v / 64 * 8, 8);

	return q & (UINT64_C(1) << (v % 64));
}

uint8_t vpci_isr(struct vpci_drv *d)
{
	return (uint8_t)vpci_bar_rd(d, d->isr.bar, d->isr.off, 1);
}
