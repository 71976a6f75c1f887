/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test guest: a virtio-rng driver on virtio-mmio, as a guest kernel would
 * drive it. Built twice: split ring (rng-split) and, with -DPACKED, packed
 * ring (rng-packed). It probes the registers, negotiates (including a
 * refused FEATURES_OK), sets up queue 0, submits buffers in two rounds,
 * sleeps until the device's interrupt arrives through the PIC, acks it,
 * and compares the bytes with the copy of the VMM's --rng source file the
 * runner loaded at GUEST_DATA_ADDR. Then it resets the device and checks
 * that the registers went back to their reset values.
 */
#include "guest.h"

#define R(off) (GUEST_MMIO_BASE + (off))
#define MAGIC 0x000
#define VERSION 0x004
#define DEVICE_ID 0x008
#define DEV_FEAT 0x010
#define DEV_FEAT_SEL 0x014
#define DRV_FEAT 0x020
#define DRV_FEAT_SEL 0x024
#define QUEUE_SEL 0x030
#define QUEUE_NUM_MAX 0x034
#define QUEUE_NUM 0x038
#define QUEUE_READY 0x044
#define QUEUE_NOTIFY 0x050
#define INT_STATUS 0x060
#define INT_ACK 0x064
#define STATUS 0x070
#define DESC_LO 0x080
#define DESC_HI 0x084
#define DRIVER_LO 0x090
#define DRIVER_HI 0x094
#define DEVICE_LO 0x0a0
#define DEVICE_HI 0x0a4
#define SHM_SEL 0x0ac
#define SHM_LEN_LO 0x0b0
#define CONFIG_GEN 0x0fc

#define S_ACK 1u
#define S_DRIVER 2u
#define S_DRIVER_OK 4u
#define S_FEATURES_OK 8u

#define F_VERSION_1 (1u << 0)   /* bit 32: word 1, bit 0 */
#define F_RING_PACKED (1u << 2) /* bit 34 */
#define F_NOTIFICATION_DATA (1u << 6) /* bit 38 */

#define QSIZE 8u
#define BUF_LEN 64u

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct pdesc {
	uint64_t addr;
	uint32_t len;
	uint16_t id;
	uint16_t flags;
};

struct used_elem {
	uint32_t id;
	uint32_t len;
};

/* Ring memory: descriptors, driver area, device area, buffers. */
#define RING_DESC (GUEST_HEAP_ADDR)
#define RING_DRIVER (GUEST_HEAP_ADDR + 0x1000)
#define RING_DEVICE (GUEST_HEAP_ADDR + 0x2000)
#define BUFS (GUEST_HEAP_ADDR + 0x4000)

static unsigned next_slot;   /* next descriptor slot / avail entry */
static unsigned used_seen;   /* completions consumed */
static uint16_t avail_flags; /* packed: AVAIL/USED bits of this lap */

static void submit(unsigned id)
{
	uint32_t buf = BUFS + id * BUF_LEN;

#ifdef PACKED
	volatile struct pdesc *d = (struct pdesc *)RING_DESC + next_slot;

	d->addr = buf;
	d->len = BUF_LEN;
	d->id = (uint16_t)id;
	barrier();
	/* AVAIL = wrap counter, USED = !wrap counter, device-writable. */
	d->flags = (uint16_t)(avail_flags | 2u);
	if (++next_slot == QSIZE) {
		next_slot = 0;
		avail_flags ^= (uint16_t)((1u << 7) | (1u << 15));
	}
#else
	volatile struct desc *d = (struct desc *)RING_DESC + id;
	volatile uint16_t *avail = (uint16_t *)RING_DRIVER;

	d->addr = buf;
	d->len = BUF_LEN;
	d->flags = 2; /* WRITE */
	d->next = 0;
	avail[2 + next_slot % QSIZE] = (uint16_t)id;
	barrier();
	next_slot++;
	avail[1] = (uint16_t)next_slot;
#endif
}

/* Next completion: 1 with *id and *len, 0 when none. */
static int get_used(unsigned *id, unsigned *len)
{
#ifdef PACKED
	unsigned slot = used_seen % QSIZE;
	unsigned lap = (used_seen / QSIZE) & 1;
	volatile struct pdesc *d = (struct pdesc *)RING_DESC + slot;
	uint16_t f = d->flags;
	unsigned want = lap ? 0 : 1; /* used wrap counter starts at 1 */

	if (((f >> 7) & 1) != want || ((f >> 15) & 1) != want)
		return 0;
	barrier();
	*id = d->id;
	*len = d->len;
#else
	volatile uint16_t *used_idx = (uint16_t *)RING_DEVICE + 1;
	volatile struct used_elem *u =
		(struct used_elem *)(RING_DEVICE + 4);

	if (*used_idx == (uint16_t)used_seen)
		return 0;
	barrier();
	*id = u[used_seen % QSIZE].id;
	*len = u[used_seen % QSIZE].len;
#endif
	used_seen++;
	return 1;
}

static volatile uint32_t isr_seen;

/* The interrupt handler, as in a kernel driver: read what happened and
 * acknowledge it before the EOI, so a level line drops. */
static void rng_irq(unsigned irq)
{
	uint32_t isr;

	if (irq != GUEST_MMIO_GSI)
		return;
	isr = mmio_rd(R(INT_STATUS));
	mmio_wr(R(INT_ACK), isr);
	isr_seen |= isr;
}

/* Submits @n buffers, kicks, sleeps until the interrupt, checks what came
 * back against the expected stream at offset *pos. */
static int round_trip(unsigned n, unsigned *pos, unsigned *irqs)
{
	unsigned got = 0, id, len;

	for (unsigned i = 0; i < n; i++)
		submit(i);
#ifdef NOTIFY_DATA
#ifdef PACKED
	mmio_wr(R(QUEUE_NOTIFY), (uint32_t)next_slot << 16 |
				 (uint32_t)(avail_flags >> 7 & 1) << 31);
#else
	mmio_wr(R(QUEUE_NOTIFY), (uint32_t)next_slot << 16);
#endif
#else
	mmio_wr(R(QUEUE_NOTIFY), 0);
#endif
	while (got < n) {
		unsigned before = *irqs;

		*irqs = wait_irq(GUEST_MMIO_GSI, before, 1000000);
		if (*irqs == before)
			return fail(20, "no interrupt", got, n);
		if (!(isr_seen & 1))
			return fail(21, "InterruptStatus without VRING",
				    isr_seen, 1);
		isr_seen = 0;
		while (get_used(&id, &len)) {
			const uint8_t *want = (uint8_t *)GUEST_DATA_ADDR + *pos;

			if (len != BUF_LEN)
				return fail(22, "used length", len, BUF_LEN);
			if (id >= n)
				return fail(23, "used id", id, n);
			/* One device thread fills buffers in ring order. */
			if (memcmp((void *)(BUFS + id * BUF_LEN), want,
				   BUF_LEN))
				return fail(24, "bytes differ from the source",
					    *pos, 0);
			*pos += BUF_LEN;
			got++;
		}
	}
	return 0;
}

int guest_main(void)
{
	uint32_t v, features_hi;
	unsigned pos = 0, irqs = 0;
	int rc;

#ifdef PACKED
	puts_("guest: virtio-rng over virtio-mmio, packed ring\n");
#else
	puts_("guest: virtio-rng over virtio-mmio, split ring\n");
#endif
	irq_hook = rng_irq;
	pic_init(GUEST_MMIO_GSI);

	if ((v = mmio_rd(R(MAGIC))) != 0x74726976)
		return fail(1, "MagicValue", v, 0x74726976);
	if ((v = mmio_rd(R(VERSION))) != 2)
		return fail(2, "Version", v, 2);
	if ((v = mmio_rd(R(DEVICE_ID))) != 4)
		return fail(3, "DeviceID", v, 4);

	mmio_wr(R(STATUS), 0);
	if ((v = mmio_rd(R(STATUS))) != 0)
		return fail(4, "Status after reset", v, 0);
	mmio_wr(R(STATUS), S_ACK);
	mmio_wr(R(STATUS), S_ACK | S_DRIVER);

	mmio_wr(R(DEV_FEAT_SEL), 1);
	features_hi = mmio_rd(R(DEV_FEAT));
	if (!(features_hi & F_VERSION_1))
		return fail(5, "VERSION_1 not offered", features_hi,
			    F_VERSION_1);
#ifdef PACKED
	if (!(features_hi & F_RING_PACKED))
		return fail(6, "RING_PACKED not offered", features_hi,
			    F_RING_PACKED);
#endif
#ifdef NOTIFY_DATA
	if (!(features_hi & F_NOTIFICATION_DATA))
		return fail(15, "NOTIFICATION_DATA not offered", features_hi,
			    F_NOTIFICATION_DATA);
#else
	if (features_hi & F_NOTIFICATION_DATA)
		return fail(16, "NOTIFICATION_DATA offered on an ioeventfd",
			    features_hi, 0);
#endif
	/* A bit that is not offered: FEATURES_OK must not stick. */
	puts_("guest: acking a feature never offered; FEATURES_OK must be "
	      "refused (the VMM logs it)\n");
	mmio_wr(R(DRV_FEAT_SEL), 1);
	mmio_wr(R(DRV_FEAT), F_VERSION_1 | (1u << 31));
	mmio_wr(R(DRV_FEAT_SEL), 0);
	mmio_wr(R(DRV_FEAT), 0);
	mmio_wr(R(STATUS), S_ACK | S_DRIVER | S_FEATURES_OK);
	if ((v = mmio_rd(R(STATUS))) & S_FEATURES_OK)
		return fail(7, "FEATURES_OK accepted a bit never offered", v,
			    S_ACK | S_DRIVER);

	v = F_VERSION_1;
#ifdef PACKED
	v |= F_RING_PACKED;
#endif
#ifdef NOTIFY_DATA
	v |= F_NOTIFICATION_DATA;
#endif
	mmio_wr(R(DRV_FEAT_SEL), 1);
	mmio_wr(R(DRV_FEAT), v);
	mmio_wr(R(STATUS), S_ACK | S_DRIVER | S_FEATURES_OK);
	if ((v = mmio_rd(R(STATUS))) != (S_ACK | S_DRIVER | S_FEATURES_OK))
		return fail(8, "FEATURES_OK refused", v,
			    S_ACK | S_DRIVER | S_FEATURES_OK);

	/* No shared memory regions: length -1. */
	mmio_wr(R(SHM_SEL), 0);
	if ((v = mmio_rd(R(SHM_LEN_LO))) != 0xffffffffu)
		return fail(9, "SHMLenLow", v, 0xffffffffu);

	mmio_wr(R(QUEUE_SEL), 0);
	if ((v = mmio_rd(R(QUEUE_READY))) != 0)
		return fail(10, "QueueReady before setup", v, 0);
	if ((v = mmio_rd(R(QUEUE_NUM_MAX))) < QSIZE)
		return fail(11, "QueueNumMax", v, QSIZE);
	mmio_wr(R(QUEUE_SEL), 1);
	if ((v = mmio_rd(R(QUEUE_NUM_MAX))) != 0)
		return fail(12, "QueueNumMax of a missing queue", v, 0);
	mmio_wr(R(QUEUE_SEL), 0);

	memset((void *)RING_DESC, 0, 0x4000);
	avail_flags = 1u << 7;
	mmio_wr(R(QUEUE_NUM), QSIZE);
	mmio_wr(R(DESC_LO), RING_DESC);
	mmio_wr(R(DESC_HI), 0);
	mmio_wr(R(DRIVER_LO), RING_DRIVER);
	mmio_wr(R(DRIVER_HI), 0);
	mmio_wr(R(DEVICE_LO), RING_DEVICE);
	mmio_wr(R(DEVICE_HI), 0);
	mmio_wr(R(QUEUE_READY), 1);
	if ((v = mmio_rd(R(QUEUE_READY))) != 1)
		return fail(13, "QueueReady", v, 1);
	mmio_wr(R(STATUS), S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	if (!((v = mmio_rd(R(STATUS))) & S_DRIVER_OK))
		return fail(14, "DRIVER_OK", v, S_DRIVER_OK);
	v = mmio_rd(R(CONFIG_GEN));

	/* Two rounds: the second proves the line is re-armed after the
	 * first interrupt was acknowledged. */
	rc = round_trip(4, &pos, &irqs);
	if (rc)
		return rc;
	rc = round_trip(3, &pos, &irqs);
	if (rc)
		return rc;
	puts_("guest: rng bytes match, interrupts received: ");
	put_hex(irqs);
	puts_("\n");

	mmio_wr(R(STATUS), 0);
	if ((v = mmio_rd(R(STATUS))) != 0)
		return fail(30, "Status after reset", v, 0);
	if ((v = mmio_rd(R(QUEUE_READY))) != 0)
		return fail(31, "QueueReady after reset", v, 0);
	if ((v = mmio_rd(R(INT_STATUS))) != 0)
		return fail(32, "InterruptStatus after reset", v, 0);
	puts_("guest: PASS\n");
	return 0;
}
