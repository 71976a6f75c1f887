/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test helper: the driver side of a modern virtio-pci function, written
 * against an access interface (config space and BAR reads/writes), so the
 * same code drives the function directly (test_pci) and through a
 * vfio-user connection (vfu_client). It finds everything through the
 * capability list, as a real driver does, instead of assuming the layout.
 */
#ifndef VDEV_TEST_VPCI_DRV_H
#define VDEV_TEST_VPCI_DRV_H

#include <stdbool.h>
#include <stdint.h>
#include <virtio/testing.h>

struct vpci_io {
	int (*cfg_read)(void *o, uint32_t off, void *buf, uint32_t len);
	int (*cfg_write)(void *o, uint32_t off, const void *buf, uint32_t len);
	int (*bar_read)(void *o, unsigned bar, uint64_t off, void *buf,
			uint32_t len);
	int (*bar_write)(void *o, unsigned bar, uint64_t off, const void *buf,
			 uint32_t len);
	void *opaque;
};

struct vpci_loc {
	bool found;
	unsigned bar;
	uint32_t off;
	uint32_t len;
	uint8_t cap; /* config-space offset of the capability */
};

struct vpci_drv {
	struct vpci_io io;
	struct vpci_loc common, notify, isr, device, pcicfg;
	uint32_t notify_mult;
	uint8_t msix_cap;
	uint16_t msix_size;
	unsigned msix_bar;
	uint32_t msix_table;
	unsigned pba_bar;
	uint32_t pba_off;
	uint64_t features; /* negotiated */
};

/* Common configuration offsets (virtio 1.2 4.1.4.3). */
enum {
	VPCI_DFSELECT = 0x00, VPCI_DF = 0x04, VPCI_GFSELECT = 0x08,
	VPCI_GF = 0x0c, VPCI_MSIX = 0x10, VPCI_NUMQ = 0x12,
	VPCI_STATUS = 0x14, VPCI_GEN = 0x15, VPCI_QSEL = 0x16,
	VPCI_QSIZE = 0x18, VPCI_QMSIX = 0x1a, VPCI_QENABLE = 0x1c,
	VPCI_QNOFF = 0x1e, VPCI_QDESC = 0x20, VPCI_QDRIVER = 0x28,
	VPCI_QDEVICE = 0x30, VPCI_QNDATA = 0x38, VPCI_QRESET = 0x3a,
};

uint64_t vpci_cfg_rd(struct vpci_drv *d, uint32_t off, unsigned len);
int vpci_cfg_wr(struct vpci_drv *d, uint32_t off, uint64_t v, unsigned len);
uint64_t vpci_bar_rd(struct vpci_drv *d, unsigned bar, uint64_t off,
		     unsigned len);
int vpci_bar_wr(struct vpci_drv *d, unsigned bar, uint64_t off, uint64_t v,
		unsigned len);
uint64_t vpci_common_rd(struct vpci_drv *d, uint32_t off, unsigned len);
int vpci_common_wr(struct vpci_drv *d, uint32_t off, uint64_t v,
		   unsigned len);

/* Walks the capability list. -ENODEV: not a virtio-pci function;
 * -EPROTO: a required capability is missing or points outside its BAR. */
int vpci_probe(struct vpci_drv *d, const uint64_t bar_size[6]);

/* Reset, ACKNOWLEDGE, DRIVER, features (offered & @want), FEATURES_OK
 * (checked). -EPROTO when FEATURES_OK did not stick. */
int vpci_negotiate(struct vpci_drv *d, uint64_t want);

/* Programs queue @qidx from @r with MSI-X @vector and enables it;
 * -EIO when queue_enable did not read back 1. */
int vpci_setup_queue(struct vpci_drv *d, unsigned qidx,
		     struct vdev_drv_ring *r, uint16_t vector);
int vpci_driver_ok(struct vpci_drv *d);

/* Notifies @qidx (16-bit queue index, or the 32-bit NOTIFICATION_DATA
 * value when negotiated). */
int vpci_notify(struct vpci_drv *d, unsigned qidx, struct vdev_drv_ring *r);

/* MSI-X: enable in config space and program/unmask table entries. */
int vpci_msix_enable(struct vpci_drv *d, bool on);
int vpci_msix_vector_mask(struct vpci_drv *d, unsigned v, bool masked);
bool vpci_msix_pending(struct vpci_drv *d, unsigned v);

uint8_t vpci_isr(struct vpci_drv *d);

#endif /* VDEV_TEST_VPCI_DRV_H */
