/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test guest: a virtio-blk driver on virtio-mmio. The runner gives the VMM
 * a 64 KiB image (--blk) and loads a copy of it at GUEST_DATA_ADDR. The
 * guest checks the capacity, reads sectors 0-3 and compares, writes
 * sector 0's bytes to sector 5, reads them back, flushes, and expects
 * IOERR for a read beyond the end; the runner then checks that sector 5
 * of the image file really changed. -DPACKED: packed ring.
 */
#include "vdrv.h"

#define BLK_ID 2u
#define F_FLUSH (1u << 9)
#define T_IN 0u
#define T_OUT 1u
#define T_FLUSH 4u
#define IMG_SECTORS 128u

#define RING (GUEST_HEAP_ADDR)
#define HDR (GUEST_HEAP_ADDR + 0x4000)
#define STATUS_BYTE (GUEST_HEAP_ADDR + 0x4100)
#define DATA (GUEST_HEAP_ADDR + 0x5000)

#ifdef PACKED
#define IS_PACKED true
#else
#define IS_PACKED false
#endif

struct req_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

static struct vq q;

/* One request, waited for. Returns the status byte, or -1 on a transport
 * failure (already reported). */
static int blk_req(uint32_t type, uint64_t sector, uint32_t data,
		   uint32_t len, bool write_data)
{
	volatile struct req_hdr *h = (struct req_hdr *)HDR;
	volatile uint8_t *st = (uint8_t *)STATUS_BYTE;
	struct seg s[3];
	unsigned n = 0, id, used_len;

	h->type = type;
	h->reserved = 0;
	h->sector = sector;
	*st = 0xee;
	s[n++] = (struct seg){ HDR, sizeof(struct req_hdr), false };
	if (len)
		s[n++] = (struct seg){ data, len, !write_data };
	s[n++] = (struct seg){ STATUS_BYTE, 1, true };
	vdrv_add(&q, s, n, 0);
	vdrv_kick(&q);
	/* Interrupt-driven: wait first, then read the used ring. */
	do {
		if (vdrv_wait())
			return -1;
	} while (!vdrv_get_used(&q, &id, &used_len));
	if (id != 0) {
		fail(40, "used id", id, 0);
		return -1;
	}
	return *st;
}

int guest_main(void)
{
	uint32_t hi, lo;
	uint64_t cap;
	int rc, st;

	puts_(IS_PACKED ? "guest: virtio-blk, packed ring\n" :
			  "guest: virtio-blk, split ring\n");
	vdrv_irq_init();
	rc = vdrv_probe(BLK_ID);
	if (rc)
		return rc;
	hi = vdrv_begin();
	mmio_wr(R(DEV_FEAT_SEL), 0);
	lo = mmio_rd(R(DEV_FEAT)) & F_FLUSH;
	if (vdrv_features(lo, F_VERSION_1 | (IS_PACKED ? F_RING_PACKED : 0)))
		return fail(8, "FEATURES_OK refused", mmio_rd(R(STATUS)),
			    S_ACK | S_DRIVER | S_FEATURES_OK);
	(void)hi;
	cap = vdrv_config32(0) | (uint64_t)vdrv_config32(4) << 32;
	if (cap != IMG_SECTORS)
		return fail(41, "capacity", (uint32_t)cap, IMG_SECTORS);
	rc = vdrv_queue(&q, 0, 16, IS_PACKED, false, RING);
	if (!rc)
		rc = vdrv_driver_ok();
	if (rc)
		return rc;

	st = blk_req(T_IN, 0, DATA, 2048, false);
	if (st != 0)
		return st < 0 ? 42 : fail(42, "read status", (uint32_t)st, 0);
	if (memcmp((void *)DATA, (void *)GUEST_DATA_ADDR, 2048))
		return fail(43, "sectors 0-3 differ from the image", 0, 0);

	/* Sector 0's bytes to sector 5 (the runner checks the file). */
	memcpy((void *)(DATA + 4096), (void *)GUEST_DATA_ADDR, 512);
	st = blk_req(T_OUT, 5, DATA + 4096, 512, true);
	if (st != 0)
		return st < 0 ? 44 : fail(44, "write status", (uint32_t)st, 0);
	memset((void *)DATA, 0, 512);
	st = blk_req(T_IN, 5, DATA, 512, false);
	if (st != 0)
		return st < 0 ? 45 : fail(45, "read-back status", (uint32_t)st,
					  0);
	if (memcmp((void *)DATA, (void *)GUEST_DATA_ADDR, 512))
		return fail(46, "sector 5 read back differs", 0, 0);
	if (lo & F_FLUSH) {
		st = blk_req(T_FLUSH, 0, 0, 0, false);
		if (st != 0)
			return st < 0 ? 47 :
					fail(47, "flush status", (uint32_t)st,
					     0);
	}
	/* Beyond the end: the device answers IOERR, the queue goes on. */
	st = blk_req(T_IN, IMG_SECTORS, DATA, 512, false);
	if (st != 1)
		return st < 0 ? 48 :
				fail(48, "read past the end", (uint32_t)st, 1);
	st = blk_req(T_IN, IMG_SECTORS - 1, DATA, 512, false);
	if (st != 0)
		return st < 0 ? 49 : fail(49, "last sector", (uint32_t)st, 0);
	if (memcmp((void *)DATA, (void *)(GUEST_DATA_ADDR + 127 * 512), 512))
		return fail(50, "last sector differs", 0, 0);

	puts_("guest: blk reads, writes and errors as expected; interrupts ");
	put_hex(vdrv_irqs());
	puts_("\n");
	mmio_wr(R(STATUS), 0);
	puts_("guest: PASS\n");
	return 0;
}
