/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test guest: a virtio-rng driver on virtio-mmio. It probes the registers,
 * negotiates (including a refused FEATURES_OK), sets up queue 0, submits
 * buffers in two rounds, sleeps until the device's interrupt arrives
 * through the PIC, and compares the bytes with the copy of the VMM's --rng
 * source file the runner loaded at GUEST_DATA_ADDR. Then it resets the
 * device and checks the registers went back to their reset values.
 *
 * Variants: -DPACKED packed ring; -DNOTIFY_DATA negotiates
 * VIRTIO_F_NOTIFICATION_DATA (vdev-vmm --notification-data), otherwise
 * the test checks the VMM hid it; -DDEV_INDEX=n drives the n-th device;
 * -DROUNDS=n runs n rounds instead of 2 (the source wraps at 64 KiB, the
 * size of the runner's file).
 */
#include "vdrv.h"

#define QSIZE 8u
#define BUF_LEN 64u
#define RING (GUEST_HEAP_ADDR)
#define BUFS (GUEST_HEAP_ADDR + 0x4000)
#define SRC_LEN 65536u
#ifndef ROUNDS
#define ROUNDS 2
#endif

#ifdef PACKED
#define IS_PACKED true
#else
#define IS_PACKED false
#endif
#ifdef NOTIFY_DATA
#define IS_NDATA true
#else
#define IS_NDATA false
#endif

static struct vq q;

/* One completion, checked against the source stream at *pos. */
static int check_one(unsigned n, unsigned id, unsigned len, unsigned *pos)
{
	const uint8_t *b = (uint8_t *)(BUFS + id * BUF_LEN);
	const uint8_t *want = (uint8_t *)GUEST_DATA_ADDR;

	if (len != BUF_LEN)
		return fail(22, "used length", len, BUF_LEN);
	if (id >= n)
		return fail(23, "used id", id, n);
	/* One device thread fills buffers in ring order. */
	for (unsigned i = 0; i < BUF_LEN; i++)
		if (b[i] != want[(*pos + i) % SRC_LEN])
			return fail(24, "bytes differ from the source",
				    *pos + i, 0);
	*pos += BUF_LEN;
	return 0;
}

/* @n buffers, one kick, then interrupt-driven completion as in a kernel
 * driver: the used ring is read only after an interrupt, so every round
 * needs at least one. */
static int round_trip(unsigned n, unsigned *pos)
{
	unsigned got = 0, id, len;
	int rc;

	for (unsigned i = 0; i < n; i++) {
		struct seg s = { BUFS + i * BUF_LEN, BUF_LEN, true };

		vdrv_add(&q, &s, 1, i);
	}
	vdrv_kick(&q);
	while (got < n) {
		rc = vdrv_wait();
		if (rc)
			return rc;
		while (got < n && vdrv_get_used(&q, &id, &len)) {
			rc = check_one(n, id, len, pos);
			if (rc)
				return rc;
			got++;
		}
	}
	return 0;
}

int guest_main(void)
{
	uint32_t v, hi, want;
	unsigned pos = 0;
	int rc;

	puts_(IS_PACKED ? "guest: virtio-rng, packed ring\n" :
			  "guest: virtio-rng, split ring\n");
	vdrv_irq_init();
	rc = vdrv_probe(4);
	if (rc)
		return rc;
	hi = vdrv_begin();
	if (!(hi & F_VERSION_1))
		return fail(5, "VERSION_1 not offered", hi, F_VERSION_1);
	if (IS_PACKED && !(hi & F_RING_PACKED))
		return fail(6, "RING_PACKED not offered", hi, F_RING_PACKED);
	if (IS_NDATA && !(hi & F_NOTIFICATION_DATA))
		return fail(15, "NOTIFICATION_DATA not offered", hi,
			    F_NOTIFICATION_DATA);
	if (!IS_NDATA && (hi & F_NOTIFICATION_DATA))
		return fail(16, "NOTIFICATION_DATA offered on an ioeventfd",
			    hi, 0);

	puts_("guest: acking a feature never offered; FEATURES_OK must be "
	      "refused (the VMM logs it)\n");
	if (vdrv_features(0, F_VERSION_1 | (1u << 31)) == 0)
		return fail(7, "FEATURES_OK accepted a bit never offered",
			    mmio_rd(R(STATUS)), S_ACK | S_DRIVER);
	want = F_VERSION_1 | (IS_PACKED ? F_RING_PACKED : 0) |
	       (IS_NDATA ? F_NOTIFICATION_DATA : 0);
	if (vdrv_features(0, want))
		return fail(8, "FEATURES_OK refused", mmio_rd(R(STATUS)),
			    S_ACK | S_DRIVER | S_FEATURES_OK);

	/* No shared memory regions: length -1. */
	mmio_wr(R(SHM_SEL), 0);
	if ((v = mmio_rd(R(SHM_LEN_LO))) != 0xffffffffu)
		return fail(9, "SHMLenLow", v, 0xffffffffu);
	mmio_wr(R(QUEUE_SEL), 1);
	if ((v = mmio_rd(R(QUEUE_NUM_MAX))) != 0)
		return fail(12, "QueueNumMax of a missing queue", v, 0);

	rc = vdrv_queue(&q, 0, QSIZE, IS_PACKED, IS_NDATA, RING);
	if (!rc)
		rc = vdrv_driver_ok();
	/* Two rounds: the second proves the line is re-armed after the
	 * first interrupt was acknowledged; 2 x 6 buffers also wrap the
	 * 8-entry ring. */
	for (unsigned r = 0; r < ROUNDS && !rc; r++)
		rc = round_trip(6, &pos);
	if (rc)
		return rc;
	if (vdrv_irqs() < ROUNDS)
		return fail(25, "fewer interrupts than rounds", vdrv_irqs(),
			    ROUNDS);
	puts_("guest: rng bytes match; interrupts ");
	put_hex(vdrv_irqs());
	puts_(", spurious ");
	put_hex(vdrv_spurious);
	puts_("\n");

	mmio_wr(R(STATUS), 0);
	if ((v = mmio_rd(R(STATUS))) != 0)
		return fail(30, "Status after reset", v, 0);
	mmio_wr(R(QUEUE_SEL), 0);
	if ((v = mmio_rd(R(QUEUE_READY))) != 0)
		return fail(31, "QueueReady after reset", v, 0);
	if ((v = mmio_rd(R(INT_STATUS))) != 0)
		return fail(32, "InterruptStatus after reset", v, 0);
	puts_("guest: PASS\n");
	return 0;
}
