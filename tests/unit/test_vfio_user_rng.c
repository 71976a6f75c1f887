/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-rng served over vfio-user to the test client (tests/lib/
 * vfu_client.c), with the server on a thread of this process: version
 * negotiation, DMA map of a memfd, PCI capability walk, split and packed
 * queues, MSI-X eventfd interrupts with masking, INTx fallback, device
 * reset, and no fd left behind once the client is gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/rng.h>
#include <virtio/testing.h>

#include "tenv.h"
#include "vfu_client.h"

#define GUEST_BASE 0x40000000ull
#define GUEST_SIZE (8u << 20)

struct fx {
	char path[108];
	struct vdev *dev;
	struct vfu_testsrv *srv;
	struct vfu_client *c;
	struct vdev_drv_mem *mem;
	int efd[2];
	int intx_fd;
	int base_fds;
};

static int setup(void **state)
{
	struct vdev_rng_config rc = { .queue_size = 256 };
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->path, sizeof(f->path), "/tmp/vdev-vfu-rng-%d.sock",
		 (int)getpid());
	f->dev = vdev_rng_new(&rc);
	assert_non_null(f->dev);
	f->srv = vfu_testsrv_start(f->dev, f->path, -1);
	assert_non_null(f->srv);
	f->base_fds = vfu_count_fds();
	f->c = vfu_client_connect(f->path);
	assert_non_null(f->c);
	assert_int_equal(vfu_client_version(f->c), 0);
	assert_int_equal(f->c->server_max_xfer, 1u << 20);
	/* QEMU 10.1+ drops a server announcing more than 16. */
	assert_int_equal(f->c->server_max_fds, 16);
	assert_int_equal(vfu_client_probe(f->c), 0);
	f->mem = vdev_drv_mem_new(GUEST_BASE, GUEST_SIZE, 1);
	assert_non_null(f->mem);
	assert_int_equal(vfu_client_dma_map(f->c, vdev_drv_mem_fd(f->mem), 0,
					    GUEST_BASE, GUEST_SIZE), 0);
	for (int i = 0; i < 2; i++) {
		f->efd[i] = tenv_eventfd(EFD_CLOEXEC | EFD_NONBLOCK);
		assert_true(f->efd[i] >= 0);
	}
	f->intx_fd = tenv_eventfd(EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(f->intx_fd >= 0);
	assert_int_equal(vfu_client_set_irqs(f->c, VFU_IRQ_MSIX,
					     VFU_IRQ_SET_DATA_EVENTFD |
						     VFU_IRQ_SET_ACTION_TRIGGER,
					     0, 2, f->efd, 2), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	vfu_client_free(f->c);
	vdev_drv_mem_free(f->mem);
	close(f->efd[0]);
	close(f->efd[1]);
	close(f->intx_fd);
	/* The server dropped the memory map, eventfds and connection. */
	assert_int_equal(vfu_wait_fd_count(f->base_fds), f->base_fds);
	vfu_testsrv_stop(f->srv);
	vdev_free(f->dev);
	free(f);
	return 0;
}

/* Waits up to @ms for an eventfd; returns its counter (0 on timeout). */
static uint64_t wait_efd(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v = 0;

	if (poll(&p, 1, ms) == 1 && read(fd, &v, sizeof(v)) != sizeof(v))
		v = 0;
	return v;
}

static void rng_request(struct fx *f, struct vdev_drv_ring *r, uint32_t len,
			int irq_fd, bool expect_irq)
{
	uint64_t gpa;
	uint8_t *buf = vdev_drv_mem_alloc(f->mem, len, 16, &gpa);
	struct vdev_drv_seg seg = { gpa, len };
	void *tok = NULL;
	uint32_t got = 0;
	unsigned nz = 0;

	assert_non_null(buf);
	assert_int_equal(vdev_drv_ring_add(r, &seg, 0, 1, buf, 0), 0);
	assert_int_equal(vpci_notify(&f->c->pci, 0, r), 0);
	if (irq_fd >= 0)
		assert_int_equal(wait_efd(irq_fd, expect_irq ? 2000 : 0) != 0,
				 expect_irq);
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
	struct vpci_drv *d = &f->c->pci;
	uint64_t want = ~VDEV_BIT(VDEV_F_RING_PACKED);
	struct vdev_drv_ring *r;

	if (packed)
		want |= VDEV_BIT(VDEV_F_RING_PACKED);
	assert_int_equal(vpci_negotiate(d, want), 0);
	assert_int_equal(!!(d->features & VDEV_BIT(VDEV_F_RING_PACKED)),
			 packed);
	r = vdev_drv_ring_new(f->mem, 128, d->features);
	assert_non_null(r);
	vpci_common_wr(d, VPCI_MSIX, 1, 2);
	assert_int_equal(vpci_setup_queue(d, 0, r, vector), 0);
	assert_int_equal(vpci_driver_ok(d), 0);
	return r;
}

static void rng_over_vfio_user(void **state, bool packed)
{
	struct fx *f = *state;
	struct vdev_drv_ring *r;
	struct timespec t0, t1;
	const int n = 2000;
	double s;

	/* As a guest would: MSI-X on, entries programmed and unmasked. */
	vpci_msix_enable(&f->c->pci, true);
	vpci_msix_vector_mask(&f->c->pci, 0, false);
	vpci_msix_vector_mask(&f->c->pci, 1, false);
	r = bring_up(f, packed, 0);
	for (int i = 0; i < 16; i++)
		rng_request(f, r, 16 + 16 * i, f->efd[0], true);

	size_t mark = vdev_drv_mem_mark(f->mem);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++) {
		rng_request(f, r, 4096, f->efd[0], true);
		vdev_drv_mem_reset_to(f->mem, mark);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("# vfio-user rng %s: %d x 4 KiB requests in %.3f s "
	       "(%.0f req/s, %.1f MiB/s; kick + MSI-X eventfd each)\n",
	       packed ? "packed" : "split", n, s, n / s,
	       n * 4096.0 / s / (1 << 20));
	vdev_drv_ring_free(r);
}

static void test_rng_split(void **state)
{
	rng_over_vfio_user(state, false);
}

static void test_rng_packed(void **state)
{
	rng_over_vfio_user(state, true);
}

static void test_msix_mask_via_set_irqs(void **state)
{
	struct fx *f = *state;
	struct vdev_drv_ring *r = bring_up(f, false, 1);
	uint8_t yes = 1;
	struct {
		struct vfu_irq_set s;
		uint8_t b[2];
	} __attribute__((packed)) m = {
		{ VFU_IRQ_SET_SIZE + 2,
		  VFU_IRQ_SET_DATA_BOOL | VFU_IRQ_SET_ACTION_MASK,
		  VFU_IRQ_MSIX, 0, 2 },
		{ 0, 1 },
	};

	(void)yes;
	rng_request(f, r, 64, f->efd[1], true);
	/* Mask vector 1 only (DATA_BOOL picks it). */
	assert_int_equal(vfu_client_call(f->c, VFU_CMD_DEVICE_SET_IRQS, &m,
					 sizeof(m), NULL, 0, NULL, 0, NULL),
			 0);
	rng_request(f, r, 64, f->efd[1], false);
	assert_int_equal(vfu_client_set_irqs(f->c, VFU_IRQ_MSIX,
					     VFU_IRQ_SET_DATA_NONE |
						     VFU_IRQ_SET_ACTION_UNMASK,
					     1, 1, NULL, 0), 0);
	/* The pending interrupt fires on unmask. */
	assert_int_equal(wait_efd(f->efd[1], 2000), 1);
	/* A client-side trigger. */
	assert_int_equal(vfu_client_set_irqs(f->c, VFU_IRQ_MSIX,
					     VFU_IRQ_SET_DATA_NONE |
						     VFU_IRQ_SET_ACTION_TRIGGER,
					     0, 1, NULL, 0), 0);
	assert_int_equal(wait_efd(f->efd[0], 2000), 1);
	vdev_drv_ring_free(r);
}

static void test_intx_fallback(void **state)
{
	struct fx *f = *state;
	struct vdev_drv_ring *r;
	int fd;

	/* Drop the MSI-X eventfds: MSI-X is off again. */
	assert_int_equal(vfu_client_set_irqs(f->c, VFU_IRQ_MSIX,
					     VFU_IRQ_SET_DATA_NONE |
						     VFU_IRQ_SET_ACTION_TRIGGER,
					     0, 0, NULL, 0), 0);
	fd = dup(f->intx_fd);
	assert_int_equal(vfu_client_set_irqs(f->c, VFU_IRQ_INTX,
					     VFU_IRQ_SET_DATA_EVENTFD |
						     VFU_IRQ_SET_ACTION_TRIGGER,
					     0, 1, &fd, 1), 0);
	close(fd);
	r = bring_up(f, false, VDEV_PCI_NO_VECTOR);
	rng_request(f, r, 32, f->intx_fd, true);
	assert_int_equal(wait_efd(f->efd[0], 0), 0);
	assert_int_equal(vpci_isr(&f->c->pci), 1);
	/* Automasked: nothing until the client unmasks. */
	rng_request(f, r, 32, f->intx_fd, false);
	assert_int_equal(vfu_client_set_irqs(f->c, VFU_IRQ_INTX,
					     VFU_IRQ_SET_DATA_NONE |
						     VFU_IRQ_SET_ACTION_UNMASK,
					     0, 1, NULL, 0), 0);
	assert_int_equal(wait_efd(f->intx_fd, 2000), 1); /* still asserted */
	assert_int_equal(vpci_isr(&f->c->pci), 1);
	vdev_drv_ring_free(r);
}

static void test_device_reset_and_unmap(void **state)
{
	struct fx *f = *state;
	struct vdev_drv_ring *r = bring_up(f, false, 0);
	uint32_t cmd = 0x6;

	vfu_client_region_write(f->c, VFU_PCI_CONFIG_REGION, 4, &cmd, 2);
	assert_int_equal(vfu_client_call(f->c, VFU_CMD_DEVICE_RESET, NULL, 0,
					 NULL, 0, NULL, 0, NULL), 0);
	assert_int_equal(vpci_common_rd(&f->c->pci, VPCI_STATUS, 1), 0);
	assert_int_equal(vpci_cfg_rd(&f->c->pci, 4, 2), 0);
	vdev_drv_ring_free(r);
	/* Unmap, then a queue whose ring is not mapped cannot enable. */
	assert_int_equal(vfu_client_dma_unmap(f->c, GUEST_BASE, GUEST_SIZE),
			 0);
	assert_int_equal(vpci_negotiate(&f->c->pci, ~0ull), 0);
	r = vdev_drv_ring_new(f->mem, 16, f->c->pci.features);
	assert_int_equal(vpci_setup_queue(&f->c->pci, 0, r, 0), -EIO);
	vdev_drv_ring_free(r);
	/* Map again; the device works after a reset. */
	assert_int_equal(vfu_client_dma_map(f->c, vdev_drv_mem_fd(f->mem), 0,
					    GUEST_BASE, GUEST_SIZE), 0);
	r = bring_up(f, true, 0);
	vfu_client_set_irqs(f->c, VFU_IRQ_MSIX,
			    VFU_IRQ_SET_DATA_NONE | VFU_IRQ_SET_ACTION_UNMASK,
			    0, 2, NULL, 0);
	rng_request(f, r, 128, f->efd[0], true);
	vdev_drv_ring_free(r);
}

static void test_reconnect(void **state)
{
	struct fx *f = *state;
	struct vdev_drv_ring *r = bring_up(f, false, 0);

	rng_request(f, r, 64, f->efd[0], true);
	vdev_drv_ring_free(r);
	/* A new client after the first one left. */
	vfu_client_free(f->c);
	f->c = vfu_client_connect(f->path);
	assert_non_null(f->c);
	assert_int_equal(vfu_client_version(f->c), 0);
	assert_int_equal(vfu_client_probe(f->c), 0);
	assert_int_equal(vfu_client_dma_map(f->c, vdev_drv_mem_fd(f->mem), 0,
					    GUEST_BASE, GUEST_SIZE), 0);
	assert_int_equal(vfu_client_set_irqs(f->c, VFU_IRQ_MSIX,
					     VFU_IRQ_SET_DATA_EVENTFD |
						     VFU_IRQ_SET_ACTION_TRIGGER,
					     0, 2, f->efd, 2), 0);
	r = bring_up(f, false, 0);
	rng_request(f, r, 64, f->efd[0], true);
	vdev_drv_ring_free(r);
}

/* Issue #19, defect 10: a window the client maps read-only (DMA_MAP
 * without the WRITE flag) is never written by the device. A request whose
 * device-writable buffer lies there breaks the queue (DEVICE_NEEDS_RESET)
 * and leaves the buffer untouched; a ring there cannot be enabled. With
 * the window's fd read-write (the flags alone say read-only) and with a
 * read-only fd, which must be accepted and mapped. */
#define RO_BASE 0x80000000ull
static void test_rdonly_dma_window(void **state)
{
	struct fx *f = *state;

	for (int ro_fd = 0; ro_fd < 2; ro_fd++) {
		struct vdev_drv_mem *ro = vdev_drv_mem_new(RO_BASE, 1u << 20,
							   1);
		struct vdev_drv_ring *r;
		struct vdev_drv_seg seg;
		char path[64];
		uint8_t *buf;
		void *tok;
		uint32_t got;
		int fd = vdev_drv_mem_fd(ro);

		assert_non_null(ro);
		if (ro_fd) {
			snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			assert_true(fd >= 0);
		}
		assert_int_equal(vfu_client_dma_map_flags(f->c, fd, 0, RO_BASE,
							  1u << 20,
							  VFU_DMA_F_READ), 0);
		if (ro_fd)
			close(fd);
		r = bring_up(f, false, 0);
		buf = vdev_drv_mem_alloc(ro, 64, 16, &seg.gpa);
		assert_non_null(buf);
		seg.len = 64;
		assert_int_equal(vdev_drv_ring_add(r, &seg, 0, 1, buf, 0), 0);
		assert_int_equal(vpci_notify(&f->c->pci, 0, r), 0);
		assert_true(vpci_common_rd(&f->c->pci, VPCI_STATUS, 1) &
			    VDEV_STATUS_DEVICE_NEEDS_RESET);
		assert_int_not_equal(vdev_drv_ring_get_used(r, &tok, &got), 0);
		for (int i = 0; i < 64; i++)
			assert_int_equal(buf[i], 0);
		vdev_drv_ring_free(r);
		/* A ring in the window does not enable. */
		vpci_common_wr(&f->c->pci, VPCI_STATUS, 0, 1);
		assert_int_equal(vpci_negotiate(&f->c->pci, ~0ull), 0);
		r = vdev_drv_ring_new(ro, 16, f->c->pci.features);
		assert_non_null(r);
		assert_int_equal(vpci_setup_queue(&f->c->pci, 0, r, 0), -EIO);
		vdev_drv_ring_free(r);
		vpci_common_wr(&f->c->pci, VPCI_STATUS, 0, 1);
		assert_int_equal(vfu_client_dma_unmap(f->c, RO_BASE, 1u << 20),
				 0);
		vdev_drv_mem_free(ro);
	}
	/* The read-write RAM still works after a reset. */
	vdev_drv_ring_free(bring_up(f, false, 0));
}

/* What each interrupt index offers. QEMU's vfio-pci warns "Could not
 * enable error recovery" when GET_IRQ_INFO of the error index succeeds
 * with a count other than 1; a conventional PCI function (no PCIe AER)
 * has no error interrupt, and the kernel's vfio-pci refuses the index
 * for one. */
static void test_irq_info(void **state)
{
	static const struct {
		uint32_t index;
		int err;
		uint32_t count;
	} want[] = {
		{ VFU_IRQ_INTX, 0, 1 }, { VFU_IRQ_MSI, 0, 0 },
		{ VFU_IRQ_MSIX, 0, 2 }, { VFU_IRQ_ERR, -EINVAL, 0 },
		{ VFU_IRQ_REQ, 0, 0 },
	};
	struct fx *f = *state;

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct vfu_irq_info ii = { sizeof(ii), 0, want[i].index, 0 };
		struct vfu_irq_info rep = { 0 };
		uint32_t rlen = 0;

		assert_int_equal(vfu_client_call(f->c,
						 VFU_CMD_DEVICE_GET_IRQ_INFO,
						 &ii, sizeof(ii), NULL, 0, &rep,
						 sizeof(rep), &rlen),
				 want[i].err);
		if (want[i].err)
			continue;
		assert_int_equal(rlen, sizeof(rep));
		assert_int_equal(rep.index, want[i].index);
		assert_int_equal(rep.count, want[i].count);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rng_split, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rng_packed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_msix_mask_via_set_irqs,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_intx_fallback, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_device_reset_and_unmap,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_irq_info, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rdonly_dma_window, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
