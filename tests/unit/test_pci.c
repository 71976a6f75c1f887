/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-pci function (pci.h) driven directly through its register
 * interface: config space and capability list, BAR sizing, split and
 * packed queues with virtio-rng, MSI-X (table, masking, PBA), INTx
 * fallback, the PCI_CFG window, queue reset and hostile accesses.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <virtio/blk.h>
#include <virtio/pci.h>
#include <virtio/rng.h>
#include <virtio/testing.h>
#include <virtio/transport.h>

#include "core/crc32.h"
#include "vpci_drv.h"

struct fx {
	struct vdev *dev;
	struct vdev_drv_mem *mem;
	struct vdev_pci *pci;
	struct vpci_drv d;
	unsigned msix_count[8];
	uint64_t last_addr;
	uint32_t last_data;
	int intx_level;
	unsigned intx_edges;
};

static void on_msix(void *o, uint16_t v, uint64_t addr, uint32_t data)
{
	struct fx *f = o;

	if (v < 8)
		f->msix_count[v]++;
	f->last_addr = addr;
	f->last_data = data;
}

static void on_intx(void *o, bool level)
{
	struct fx *f = o;

	f->intx_level = level;
	f->intx_edges++;
}

static const struct vdev_pci_ops fx_ops = { .msix = on_msix,
					    .intx = on_intx };

static int io_cfg_read(void *o, uint32_t off, void *b, uint32_t n)
{
	return vdev_pci_cfg_read(o, off, b, n);
}

static int io_cfg_write(void *o, uint32_t off, const void *b, uint32_t n)
{
	return vdev_pci_cfg_write(o, off, b, n);
}

static int io_bar_read(void *o, unsigned bar, uint64_t off, void *b,
		       uint32_t n)
{
	return vdev_pci_bar_read(o, bar, off, b, n);
}

static int io_bar_write(void *o, unsigned bar, uint64_t off, const void *b,
			uint32_t n)
{
	return vdev_pci_bar_write(o, bar, off, b, n);
}

static int setup(void **state)
{
	struct vdev_rng_config rc = { .queue_size = 256 };
	struct fx *f = calloc(1, sizeof(*f));
	uint64_t sizes[6];

	assert_non_null(f);
	f->dev = vdev_rng_new(&rc);
	assert_non_null(f->dev);
	f->mem = vdev_drv_mem_new(0x100000, 4 << 20, 1);
	assert_non_null(f->mem);
	assert_int_equal(vdev_set_mem(f->dev, vdev_drv_mem_map(f->mem)), 0);
	f->pci = vdev_pci_new(f->dev, NULL, &fx_ops, f);
	assert_non_null(f->pci);
	f->d.io = (struct vpci_io){ io_cfg_read, io_cfg_write, io_bar_read,
				    io_bar_write, f->pci };
	for (unsigned b = 0; b < 6; b++)
		sizes[b] = vdev_pci_bar_size(f->pci, b);
	assert_int_equal(vpci_probe(&f->d, sizes), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	vdev_pci_free(f->pci);
	vdev_free(f->dev);
	vdev_drv_mem_free(f->mem);
	free(f);
	return 0;
}

static void test_config_header(void **state)
{
	struct fx *f = *state;
	struct vpci_drv *d = &f->d;

	assert_int_equal(vpci_cfg_rd(d, 0, 2), 0x1af4);
	assert_int_equal(vpci_cfg_rd(d, 2, 2), 0x1040 + VDEV_ID_RNG);
	assert_int_equal(vpci_cfg_rd(d, 8, 1), 1);           /* revision */
	assert_int_equal(vpci_cfg_rd(d, 9, 3), 0xff0000);    /* class */
	assert_int_equal(vpci_cfg_rd(d, 0x2c, 2), 0x1af4);
	assert_true(vpci_cfg_rd(d, 0x2e, 2) >= 0x40);
	assert_int_equal(vpci_cfg_rd(d, 0x3d, 1), 1);        /* INTA */
	assert_int_equal(vpci_cfg_rd(d, 0x0e, 1), 0);        /* type 0 */
	/* Capabilities found by the walk, in BARs that exist. */
	assert_true(d->common.found && d->notify.found && d->isr.found);
	assert_false(d->device.found); /* rng has no config space */
	assert_int_equal(d->notify_mult, 4);
	assert_int_equal(d->msix_size, 2); /* one queue + config */
	assert_true(d->common.len >= 0x3c);
	assert_int_equal(vdev_pci_msix_vectors(f->pci), 2);
	/* Whole-space reads in odd sizes work and agree. */
	uint8_t all[256], one[3];
	assert_int_equal(vdev_pci_cfg_read(f->pci, 0, all, 256), 0);
	assert_int_equal(vdev_pci_cfg_read(f->pci, 0x51, one, 3), 0);
	assert_memory_equal(all + 0x51, one, 3);
	assert_int_equal(vdev_pci_cfg_read(f->pci, 250, all, 7), -ERANGE);
	assert_int_equal(vdev_pci_cfg_write(f->pci, 0xffffffff, one, 2),
			 -ERANGE);
}

static void test_bar_sizing_and_command(void **state)
{
	struct fx *f = *state;
	struct vpci_drv *d = &f->d;
	uint64_t s0 = vdev_pci_bar_size(f->pci, 0);
	uint64_t s2 = vdev_pci_bar_size(f->pci, 2);

	assert_true(s0 >= 0x4000 && (s0 & (s0 - 1)) == 0);
	assert_true(s2 >= 0x1000 && (s2 & (s2 - 1)) == 0);
	assert_int_equal(vdev_pci_bar_size(f->pci, 1), 0);
	for (unsigned b = 0; b < 6; b++) {
		uint64_t sz = vdev_pci_bar_size(f->pci, b);

		vpci_cfg_wr(d, 0x10 + 4 * b, 0xffffffff, 4);
		assert_int_equal(vpci_cfg_rd(d, 0x10 + 4 * b, 4),
				 sz ? (uint32_t)~(sz - 1) : 0);
	}
	vpci_cfg_wr(d, 0x10, 0xfebf1234, 4);
	assert_int_equal(vpci_cfg_rd(d, 0x10, 4), 0xfebf1234 & ~(s0 - 1));
	/* Read-only identity. */
	vpci_cfg_wr(d, 0, 0xdeadbeef, 4);
	assert_int_equal(vpci_cfg_rd(d, 0, 2), 0x1af4);
	vpci_cfg_wr(d, 4, 0xffff, 2);
	assert_int_equal(vpci_cfg_rd(d, 4, 2), 0x0547);
	assert_int_equal(vpci_cfg_rd(d, 6, 2) & 0x10, 0x10);
	/* Function-level reset clears it all. */
	vdev_pci_reset(f->pci);
	assert_int_equal(vpci_cfg_rd(d, 4, 2), 0);
	assert_int_equal(vpci_cfg_rd(d, 0x10, 4), 0);
}

static void rng_request(struct fx *f, unsigned qidx, struct vdev_drv_ring *r,
			uint32_t len)
{
	uint64_t gpa;
	uint8_t *buf = vdev_drv_mem_alloc(f->mem, len, 16, &gpa);
	struct vdev_drv_seg seg = { gpa, len };
	void *tok = NULL;
	uint32_t got = 0;
	unsigned nz = 0;

	assert_non_null(buf);
	assert_int_equal(vdev_drv_ring_add(r, &seg, 0, 1, buf, 0), 0);
	assert_int_equal(vpci_notify(&f->d, qidx, r), 0);
	assert_int_equal(vdev_drv_ring_get_used(r, &tok, &got), 0);
	assert_ptr_equal(tok, buf);
	assert_int_equal(got, len);
	for (uint32_t i = 0; i < len; i++)
		nz += buf[i] != 0;
	assert_true(nz > len / 2);
}

static struct vdev_drv_ring *bring_up(struct fx *f, bool packed,
				      uint16_t vector)
{
	uint64_t want = ~VDEV_BIT(VDEV_F_RING_PACKED);
	struct vdev_drv_ring *r;

	if (packed)
		want |= VDEV_BIT(VDEV_F_RING_PACKED);
	assert_int_equal(vpci_negotiate(&f->d, want), 0);
	assert_int_equal(!!(f->d.features & VDEV_BIT(VDEV_F_RING_PACKED)),
			 packed);
	r = vdev_drv_ring_new(f->mem, 64, f->d.features);
	assert_non_null(r);
	vpci_common_wr(&f->d, VPCI_MSIX, 1, 2);
	assert_int_equal(vpci_common_rd(&f->d, VPCI_MSIX, 2), 1);
	assert_int_equal(vpci_setup_queue(&f->d, 0, r, vector), 0);
	assert_int_equal(vpci_driver_ok(&f->d), 0);
	return r;
}

static void rng_msix(void **state, bool packed)
{
	struct fx *f = *state;
	struct vdev_drv_ring *r;

	vpci_msix_enable(&f->d, true);
	vpci_msix_vector_mask(&f->d, 0, false);
	vpci_msix_vector_mask(&f->d, 1, false);
	r = bring_up(f, packed, 0);
	for (int i = 0; i < 8; i++)
		rng_request(f, 0, r, 64 + 8 * i);
	assert_int_equal(f->msix_count[0], 8);
	assert_int_equal(f->last_addr, 0xfee00000u);
	assert_int_equal(f->last_data, 0x4000);
	assert_int_equal(f->intx_edges, 0);
	vdev_drv_ring_free(r);
}

static void test_rng_split_msix(void **state)
{
	rng_msix(state, false);
}

static void test_rng_packed_msix(void **state)
{
	rng_msix(state, true);
}

static void test_msix_masking(void **state)
{
	struct fx *f = *state;
	struct vdev_drv_ring *r;

	vpci_msix_enable(&f->d, true);
	vpci_msix_vector_mask(&f->d, 0, true);
	r = bring_up(f, false, 0);
	rng_request(f, 0, r, 32);
	assert_int_equal(f->msix_count[0], 0);
	assert_true(vpci_msix_pending(&f->d, 0));
	vpci_msix_vector_mask(&f->d, 0, false);
	assert_int_equal(f->msix_count[0], 1);
	assert_false(vpci_msix_pending(&f->d, 0));
	/* Function mask holds everything back too. */
	vpci_cfg_wr(&f->d, f->d.msix_cap + 2, 0xc000, 2);
	rng_request(f, 0, r, 32);
	assert_int_equal(f->msix_count[0], 1);
	assert_true(vpci_msix_pending(&f->d, 0));
	vpci_cfg_wr(&f->d, f->d.msix_cap + 2, 0x8000, 2);
	assert_int_equal(f->msix_count[0], 2);
	/* NO_VECTOR: no interrupt at all, nothing pending. */
	vpci_common_wr(&f->d, VPCI_QSEL, 0, 2);
	vpci_common_wr(&f->d, VPCI_QMSIX, VDEV_PCI_NO_VECTOR, 2);
	rng_request(f, 0, r, 32);
	assert_int_equal(f->msix_count[0], 2);
	assert_false(vpci_msix_pending(&f->d, 0));
	/* A vector the function does not have reads back NO_VECTOR. */
	vpci_common_wr(&f->d, VPCI_QMSIX, 7, 2);
	assert_int_equal(vpci_common_rd(&f->d, VPCI_QMSIX, 2), 0xffff);
	vpci_common_wr(&f->d, VPCI_MSIX, 99, 2);
	assert_int_equal(vpci_common_rd(&f->d, VPCI_MSIX, 2), 0xffff);
	/* External (VFIO-style) masking overrides the table. */
	vdev_pci_msix_set_external(f->pci, true);
	vpci_common_wr(&f->d, VPCI_QMSIX, 1, 2);
	assert_int_equal(vdev_pci_msix_mask(f->pci, 1, true), 0);
	rng_request(f, 0, r, 16);
	assert_int_equal(f->msix_count[1], 0);
	assert_int_equal(vdev_pci_msix_mask(f->pci, 1, false), 0);
	assert_int_equal(f->msix_count[1], 1);
	assert_int_equal(vdev_pci_msix_mask(f->pci, 2, false), -EINVAL);
	vdev_drv_ring_free(r);
}

static void test_intx_fallback(void **state)
{
	struct fx *f = *state;
	struct vdev_drv_ring *r;

	r = bring_up(f, false, VDEV_PCI_NO_VECTOR);
	rng_request(f, 0, r, 48);
	assert_int_equal(f->intx_level, 1);
	assert_true(vpci_cfg_rd(&f->d, 6, 2) & 0x08); /* interrupt status */
	assert_int_equal(vpci_isr(&f->d), 1);
	assert_int_equal(f->intx_level, 0);
	assert_int_equal(vpci_isr(&f->d), 0); /* read-to-clear */
	/* INTx disabled in the command register: ISR only. */
	vpci_cfg_wr(&f->d, 4, 0x0400, 2);
	rng_request(f, 0, r, 48);
	assert_int_equal(f->intx_level, 0);
	vpci_cfg_wr(&f->d, 4, 0x0000, 2);
	assert_int_equal(f->intx_level, 1); /* still pending: asserted */
	assert_int_equal(vpci_isr(&f->d), 1);
	assert_int_equal(f->intx_level, 0);
	vdev_drv_ring_free(r);
}

static void test_pcicfg_window(void **state)
{
	struct fx *f = *state;
	struct vpci_drv *d = &f->d;
	uint8_t cap = d->pcicfg.cap;
	uint32_t df;

	vpci_common_wr(d, VPCI_DFSELECT, 1, 4);
	df = (uint32_t)vpci_common_rd(d, VPCI_DF, 4);
	vpci_cfg_wr(d, cap + 4, d->common.bar, 1);
	vpci_cfg_wr(d, cap + 8, d->common.off + VPCI_DF, 4);
	vpci_cfg_wr(d, cap + 12, 4, 4);
	assert_int_equal(vpci_cfg_rd(d, cap + 16, 4), df);
	assert_true(df & 1); /* VERSION_1 is bit 32 */
	/* Write through the window: queue_select. */
	vpci_cfg_wr(d, cap + 8, d->common.off + VPCI_QSEL, 4);
	vpci_cfg_wr(d, cap + 12, 2, 4);
	vpci_cfg_wr(d, cap + 16, 0x55, 4);
	assert_int_equal(vpci_common_rd(d, VPCI_QSEL, 2), 0x55);
	/* A bad window (length 3, misaligned, bad BAR) does nothing. */
	vpci_cfg_wr(d, cap + 12, 3, 4);
	vpci_cfg_wr(d, cap + 16, 0, 4);
	assert_int_equal(vpci_common_rd(d, VPCI_QSEL, 2), 0x55);
	vpci_cfg_wr(d, cap + 4, 5, 1);
	vpci_cfg_wr(d, cap + 12, 4, 4);
	assert_int_equal(vpci_cfg_rd(d, cap + 16, 4), 0);
}

static void test_hostile_common(void **state)
{
	struct fx *f = *state;
	struct vpci_drv *d = &f->d;
	struct vdev_drv_ring *r;
	uint8_t b[8];

	/* Queue select out of range: size 0, writes ignored. */
	vpci_common_wr(d, VPCI_QSEL, 5, 2);
	assert_int_equal(vpci_common_rd(d, VPCI_QSIZE, 2), 0);
	vpci_common_wr(d, VPCI_QSIZE, 16, 2);
	vpci_common_wr(d, VPCI_QENABLE, 1, 2);
	assert_int_equal(vpci_common_rd(d, VPCI_QENABLE, 2), 0);
	assert_int_equal(vpci_common_rd(d, VPCI_NUMQ, 2), 1);
	/* Bad widths and offsets. */
	assert_int_equal(vdev_pci_bar_read(f->pci, 0, 0, b, 3), -EINVAL);
	assert_int_equal(vdev_pci_bar_write(f->pci, 0, 0, b, 0), -EINVAL);
	assert_int_equal(vdev_pci_bar_read(f->pci, 1, 0, b, 4), -EINVAL);
	assert_int_equal(vdev_pci_bar_read(f->pci, 9, 0, b, 4), -EINVAL);
	assert_int_equal(vdev_pci_bar_read(f->pci, 0,
					   vdev_pci_bar_size(f->pci, 0) - 2,
					   b, 4), -ERANGE);
	assert_int_equal(vdev_pci_bar_write(f->pci, 0, UINT64_MAX - 1, b, 4),
			 -ERANGE);
	/* queue_select written with the wrong width: ignored. */
	vpci_common_wr(d, VPCI_QSEL, 0, 4);
	assert_int_equal(vpci_common_rd(d, VPCI_QSEL, 2), 5);
	vpci_common_wr(d, VPCI_QSEL, 0, 2);
	/* Unaligned 8-byte write of an address: ignored. */
	vpci_common_wr(d, VPCI_QDESC + 2, 0x1234, 8);
	assert_int_equal(vpci_common_rd(d, VPCI_QDESC, 8), 0);

	/* Feature bits above 63: FEATURES_OK refused. */
	vpci_common_wr(d, VPCI_STATUS, 0, 1);
	vpci_common_wr(d, VPCI_STATUS, 3, 1);
	vpci_common_wr(d, VPCI_GFSELECT, 1, 4);
	vpci_common_wr(d, VPCI_GF, 1, 4); /* VERSION_1 */
	vpci_common_wr(d, VPCI_GFSELECT, 2, 4);
	vpci_common_wr(d, VPCI_GF, 1, 4);
	assert_int_equal(vpci_common_rd(d, VPCI_GF, 4), 0);
	vpci_common_wr(d, VPCI_STATUS, 0xb, 1);
	assert_int_equal(vpci_common_rd(d, VPCI_STATUS, 1) & 8, 0);

	/* Enabling a queue with an invalid ring: refused, needs reset. */
	assert_int_equal(vpci_negotiate(d, ~VDEV_BIT(VDEV_F_RING_PACKED)), 0);
	r = vdev_drv_ring_new(f->mem, 16, d->features);
	assert_non_null(r);
	vpci_common_wr(d, VPCI_QSEL, 0, 2);
	{
		struct vdev_queue_config qc;

		vdev_drv_ring_queue_config(r, &qc);
		vpci_common_wr(d, VPCI_QDESC, qc.desc_addr, 8);
		vpci_common_wr(d, VPCI_QDRIVER, qc.driver_addr, 8);
		vpci_common_wr(d, VPCI_QDEVICE, qc.device_addr, 8);
	}
	vdev_drv_ring_free(r);
	vpci_common_wr(d, VPCI_QSIZE, 12, 2); /* split: not a power of 2 */
	vpci_common_wr(d, VPCI_QENABLE, 1, 2);
	assert_int_equal(vpci_common_rd(d, VPCI_QENABLE, 2), 0);
	assert_true(vpci_common_rd(d, VPCI_STATUS, 1) &
		    VDEV_STATUS_DEVICE_NEEDS_RESET);
	/* Ring outside guest memory. */
	assert_int_equal(vpci_negotiate(d, ~0ull), 0);
	assert_int_equal(vpci_common_rd(d, VPCI_STATUS, 1) & 64, 0);
	vpci_common_wr(d, VPCI_QSIZE, 16, 2);
	vpci_common_wr(d, VPCI_QDESC, 0x7000000000ull, 8);
	vpci_common_wr(d, VPCI_QENABLE, 1, 2);
	assert_int_equal(vpci_common_rd(d, VPCI_QENABLE, 2), 0);
	/* A kick of a queue that is not enabled, and of a bogus slot. */
	vpci_bar_wr(d, d->notify.bar, d->notify.off, 0, 2);
	vpci_bar_wr(d, d->notify.bar, d->notify.off + 1, 0, 2);
	vpci_bar_wr(d, d->notify.bar, d->notify.off + 400, 0, 4);
	/* Reset brings back a device that works. */
	r = bring_up(f, false, VDEV_PCI_NO_VECTOR);
	rng_request(f, 0, r, 16);
	vdev_drv_ring_free(r);
}

static void test_queue_reset(void **state)
{
	struct fx *f = *state;
	struct vpci_drv *d = &f->d;
	struct vdev_drv_ring *r = bring_up(f, false, VDEV_PCI_NO_VECTOR);
	struct vdev_drv_ring *r2;

	assert_true(d->features & VDEV_BIT(VDEV_F_RING_RESET));
	rng_request(f, 0, r, 16);
	vpci_common_wr(d, VPCI_QSEL, 0, 2);
	vpci_common_wr(d, VPCI_QRESET, 1, 2);
	assert_int_equal(vpci_common_rd(d, VPCI_QRESET, 2), 1);
	assert_int_equal(vpci_common_rd(d, VPCI_QENABLE, 2), 0);
	assert_int_equal(vpci_common_rd(d, VPCI_QDESC, 8), 0);
	assert_int_equal(vpci_common_rd(d, VPCI_QSIZE, 2), 256);
	/* Re-enable with a fresh ring. */
	r2 = vdev_drv_ring_new(f->mem, 32, d->features);
	assert_non_null(r2);
	assert_int_equal(vpci_setup_queue(d, 0, r2, VDEV_PCI_NO_VECTOR), 0);
	assert_int_equal(vpci_common_rd(d, VPCI_QRESET, 2), 0);
	rng_request(f, 0, r2, 16);
	vdev_drv_ring_free(r);
	vdev_drv_ring_free(r2);
}

static void test_status_reset_clears(void **state)
{
	struct fx *f = *state;
	struct vpci_drv *d = &f->d;
	struct vdev_drv_ring *r = bring_up(f, false, 0);

	vpci_common_wr(d, VPCI_STATUS, 0, 1);
	assert_int_equal(vpci_common_rd(d, VPCI_STATUS, 1), 0);
	assert_int_equal(vpci_common_rd(d, VPCI_QENABLE, 2), 0);
	assert_int_equal(vpci_common_rd(d, VPCI_QMSIX, 2), 0xffff);
	assert_int_equal(vpci_common_rd(d, VPCI_MSIX, 2), 0xffff);
	assert_int_equal(vpci_common_rd(d, VPCI_GF, 4), 0);
	vdev_drv_ring_free(r);
}

static void test_new_errors(void **state)
{
	struct fx *f = *state;
	struct vdev_pci_config c = { .msix_vectors = 4096 };

	errno = 0;
	assert_null(vdev_pci_new(NULL, NULL, NULL, NULL));
	assert_int_equal(errno, EINVAL);
	assert_null(vdev_pci_new(f->dev, &c, NULL, NULL));
	assert_int_equal(errno, EINVAL);
	vdev_pci_free(NULL);
	/* The old function got replaced as transport; restore it. */
	vdev_set_transport(f->dev, NULL, NULL);
	vdev_pci_free(f->pci);
	c = (struct vdev_pci_config){ .class_code = 0x123456,
				      .subsys_id = 0x4242,
				      .msix_vectors = 1 };
	f->pci = vdev_pci_new(f->dev, &c, NULL, NULL);
	assert_non_null(f->pci);
	f->d.io.opaque = f->pci;
	assert_int_equal(vpci_cfg_rd(&f->d, 9, 3), 0x123456);
	assert_int_equal(vpci_cfg_rd(&f->d, 0x2e, 2), 0x4242);
	assert_int_equal(vdev_pci_msix_vectors(f->pci), 1);
}

static void test_config_interrupt(void **state)
{
	struct fx *f = *state;
	struct vdev_drv_ring *r;

	/* MSI-X: the config vector. */
	vpci_msix_enable(&f->d, true);
	vpci_msix_vector_mask(&f->d, 1, false);
	r = bring_up(f, false, 0);
	vdev_config_changed(f->dev);
	assert_int_equal(f->msix_count[1], 1);
	vdev_drv_ring_free(r);
	/* INTx: ISR bit 1. */
	vpci_msix_enable(&f->d, false);
	r = bring_up(f, false, VDEV_PCI_NO_VECTOR);
	vdev_config_changed(f->dev);
	assert_int_equal(f->intx_level, 1);
	assert_int_equal(vpci_isr(&f->d), 2);
	assert_int_equal(f->intx_level, 0);
	vdev_drv_ring_free(r);
}

/* A device with config space and several queues: virtio-blk (RAM). */
static void test_blk_device_config(void **state)
{
	struct vdev_blk_config bc = { .backend = VDEV_BLK_BACKEND_RAM,
				      .size = 1 << 20, .num_queues = 3,
				      .fd = -1 };
	struct vdev *dev = vdev_blk_new(&bc);
	struct vdev_pci *pci;
	struct vpci_drv d = { .io = { io_cfg_read, io_cfg_write, io_bar_read,
				      io_bar_write, NULL } };
	uint64_t sizes[6];

	assert_non_null(dev);
	pci = vdev_pci_new(dev, NULL, NULL, NULL);
	assert_non_null(pci);
	d.io.opaque = pci;
	for (unsigned b = 0; b < 6; b++)
		sizes[b] = vdev_pci_bar_size(pci, b);
	assert_int_equal(vpci_probe(&d, sizes), 0);
	assert_int_equal(vpci_cfg_rd(&d, 2, 2), 0x1042);
	assert_int_equal(vpci_cfg_rd(&d, 9, 3), 0x018000);
	assert_true(d.device.found);
	assert_int_equal(d.device.len, vdev_config_size(dev));
	assert_int_equal(d.msix_size, 4);
	assert_int_equal(vpci_common_rd(&d, VPCI_NUMQ, 2), 3);
	/* capacity in 512-byte sectors, through BAR0 and the window. */
	assert_int_equal(vpci_bar_rd(&d, d.device.bar, d.device.off, 8),
			 (1 << 20) / 512);
	vpci_cfg_wr(&d, d.pcicfg.cap + 4, d.device.bar, 1);
	vpci_cfg_wr(&d, d.pcicfg.cap + 8, d.device.off, 4);
	vpci_cfg_wr(&d, d.pcicfg.cap + 12, 4, 4);
	assert_int_equal(vpci_cfg_rd(&d, d.pcicfg.cap + 16, 4),
			 (1 << 20) / 512);
	/* Each queue has its own notify slot. */
	for (unsigned q = 0; q < 3; q++) {
		vpci_common_wr(&d, VPCI_QSEL, q, 2);
		assert_int_equal(vpci_common_rd(&d, VPCI_QNOFF, 2), q);
		assert_true(vpci_common_rd(&d, VPCI_QSIZE, 2) > 0);
	}
	vpci_common_wr(&d, VPCI_QSEL, 3, 2);
	assert_int_equal(vpci_common_rd(&d, VPCI_QSIZE, 2), 0);
	assert_true((uint64_t)d.notify.off + 3 * d.notify_mult <=
		    d.notify.off + d.notify.len);
	/* Reading past the end of device config reads zeros. */
	assert_int_equal(vpci_bar_rd(&d, d.device.bar,
				     d.device.off + d.device.len, 4), 0);
	vdev_pci_free(pci);
	vdev_free(dev);
}

/* A second function for the same RAM, as a migration target. */
static struct fx *target(struct fx *src)
{
	struct vdev_rng_config rc = { .queue_size = 256 };
	struct fx *g = calloc(1, sizeof(*g));
	uint64_t sizes[6];

	assert_non_null(g);
	g->dev = vdev_rng_new(&rc);
	assert_non_null(g->dev);
	g->mem = src->mem; /* shared: not freed through @g */
	assert_int_equal(vdev_set_mem(g->dev, vdev_drv_mem_map(g->mem)), 0);
	g->pci = vdev_pci_new(g->dev, NULL, &fx_ops, g);
	assert_non_null(g->pci);
	g->d.io = (struct vpci_io){ io_cfg_read, io_cfg_write, io_bar_read,
				    io_bar_write, g->pci };
	for (unsigned b = 0; b < 6; b++)
		sizes[b] = vdev_pci_bar_size(g->pci, b);
	assert_int_equal(vpci_probe(&g->d, sizes), 0);
	g->d.features = src->d.features;
	return g;
}

static void target_free(struct fx *g)
{
	vdev_pci_free(g->pci);
	vdev_free(g->dev);
	free(g);
}

/* Stops the device, moves device and function state to @g. */
static void migrate(struct fx *f, struct fx *g)
{
	void *db, *pb;
	size_t dl, pl;

	assert_int_equal(vdev_vq_stop(f->dev, 0, NULL), 0);
	assert_int_equal(vdev_save(f->dev, &db, &dl), 0);
	assert_int_equal(vdev_pci_save(f->pci, &pb, &pl), 0);
	assert_int_equal(vdev_restore(g->dev, db, dl), 0);
	assert_int_equal(vdev_pci_restore(g->pci, pb, pl), 0);
	free(db);
	free(pb);
}

/* INTx pending at migration: the line comes back asserted, the ISR
 * reads it, and the queue goes on. */
static void test_migrate_intx_pending(void **state)
{
	struct fx *f = *state, *g;
	struct vdev_drv_ring *r = bring_up(f, false, VDEV_PCI_NO_VECTOR);

	rng_request(f, 0, r, 48);
	assert_int_equal(f->intx_level, 1);
	g = target(f);
	migrate(f, g);
	assert_int_equal(g->intx_level, 1);
	assert_int_equal(vpci_isr(&g->d), 1);
	assert_int_equal(g->intx_level, 0);
	assert_int_equal(vpci_common_rd(&g->d, VPCI_STATUS, 1) & 4, 4);
	rng_request(g, 0, r, 48);
	assert_int_equal(g->intx_level, 1);
	vdev_drv_ring_free(r);
	target_free(g);
}

/* MSI-X with the vector masked at migration: still pending on the target,
 * delivered with the same address and data once unmasked. */
static void test_migrate_msix_pending(void **state)
{
	struct fx *f = *state, *g;
	struct vdev_drv_ring *r;

	vpci_msix_enable(&f->d, true);
	vpci_msix_vector_mask(&f->d, 0, true);
	r = bring_up(f, true, 0);
	rng_request(f, 0, r, 32);
	assert_true(vpci_msix_pending(&f->d, 0));
	g = target(f);
	migrate(f, g);
	assert_int_equal(g->msix_count[0], 0);
	assert_true(vpci_msix_pending(&g->d, 0));
	vpci_msix_vector_mask(&g->d, 0, false);
	assert_int_equal(g->msix_count[0], 1);
	assert_int_equal(g->last_addr, 0xfee00000u);
	assert_int_equal(g->last_data, 0x4000);
	rng_request(g, 0, r, 32);
	assert_int_equal(g->msix_count[0], 2);
	vdev_drv_ring_free(r);
	target_free(g);
}

static void fix_crc(uint8_t *b, size_t len)
{
	uint32_t c = vcore_crc32(b, len - 4);

	for (int i = 0; i < 4; i++)
		b[len - 4 + i] = (uint8_t)(c >> (8 * i));
}

/* A function state that is not one is refused, and nothing changes. */
static void test_pci_restore_refused(void **state)
{
	struct fx *f = *state;
	uint8_t *b;
	void *blob;
	size_t len, q0;

	assert_int_equal(vdev_pci_save(f->pci, &blob, &len), 0);
	b = blob;
	q0 = 8 + 12 + VDEV_PCI_CFG_SIZE + 24;
	assert_int_equal(vdev_pci_restore(f->pci, b, 8), -EBADMSG);
	assert_int_equal(vdev_pci_restore(f->pci, NULL, len), -EBADMSG);
	b[len - 1] ^= 1;
	assert_int_equal(vdev_pci_restore(f->pci, b, len), -EBADMSG);
	b[len - 1] ^= 1;
	b[12] = 2; /* queues */
	fix_crc(b, len);
	assert_int_equal(vdev_pci_restore(f->pci, b, len), -EPROTO);
	b[12] = 1;
	b[q0 + 2] = 0x77; /* queue vector out of range */
	fix_crc(b, len);
	assert_int_equal(vdev_pci_restore(f->pci, b, len), -EBADMSG);
	b[q0 + 2] = 0xff;
	b[q0 + 1] = 0xff; /* queue size 65535 */
	fix_crc(b, len);
	assert_int_equal(vdev_pci_restore(f->pci, b, len), -EBADMSG);
	b[q0 + 1] = 1;
	fix_crc(b, len);
	assert_int_equal(vdev_pci_restore(f->pci, b, len), 0);
	/* The identity stays the function's own whatever the blob says. */
	b[20] = 0x34;
	fix_crc(b, len);
	assert_int_equal(vdev_pci_restore(f->pci, b, len), 0);
	assert_int_equal(vpci_cfg_rd(&f->d, 0, 2), VDEV_PCI_VENDOR_ID);
	free(blob);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config_header, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bar_sizing_and_command,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_rng_split_msix, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rng_packed_msix, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_msix_masking, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_intx_fallback, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_pcicfg_window, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_hostile_common, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_queue_reset, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_status_reset_clears,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_new_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_config_interrupt, setup,
						teardown),
		cmocka_unit_test(test_blk_device_config),
		cmocka_unit_test_setup_teardown(test_migrate_intx_pending,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrate_msix_pending,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_pci_restore_refused,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
