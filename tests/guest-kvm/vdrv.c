/* SPDX-License-Identifier: BSD-3-Clause */
/* The test guests' virtio-mmio driver (see vdrv.h). */
#include "vdrv.h"

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

#define D_NEXT 1u
#define D_WRITE 2u
#define P_AVAIL (1u << 7)
#define P_USED (1u << 15)

static volatile uint32_t isr_seen;
static unsigned irq_seen;

int vdrv_probe(uint32_t device_id)
{
	uint32_t v;

	if ((v = mmio_rd(R(MAGIC))) != 0x74726976)
		return fail(1, "MagicValue", v, 0x74726976);
	if ((v = mmio_rd(R(VERSION))) != 2)
		return fail(2, "Version", v, 2);
	if ((v = mmio_rd(R(DEVICE_ID))) != device_id)
		return fail(3, "DeviceID", v, device_id);
	return 0;
}

uint32_t vdrv_begin(void)
{
	mmio_wr(R(STATUS), 0);
	mmio_wr(R(STATUS), S_ACK);
	mmio_wr(R(STATUS), S_ACK | S_DRIVER);
	mmio_wr(R(DEV_FEAT_SEL), 1);
	return mmio_rd(R(DEV_FEAT));
}

int vdrv_features(uint32_t lo, uint32_t hi)
{
	mmio_wr(R(DRV_FEAT_SEL), 0);
	mmio_wr(R(DRV_FEAT), lo);
	mmio_wr(R(DRV_FEAT_SEL), 1);
	mmio_wr(R(DRV_FEAT), hi);
	mmio_wr(R(STATUS), S_ACK | S_DRIVER | S_FEATURES_OK);
	return mmio_rd(R(STATUS)) == (S_ACK | S_DRIVER | S_FEATURES_OK) ? 0 :
									 -1;
}

int vdrv_queue(struct vq *q, unsigned index, unsigned size, bool packed,
	       bool notify_data, uint32_t mem)
{
	uint32_t v;

	memset(q, 0, sizeof(*q));
	q->index = index;
	q->size = size;
	q->packed = packed;
	q->notify_data = notify_data;
	q->desc = mem;
	q->driver = mem + 0x1000;
	q->device = mem + 0x2000;
	memset((void *)mem, 0, 0x4000);
	mmio_wr(R(QUEUE_SEL), index);
	if ((v = mmio_rd(R(QUEUE_READY))) != 0)
		return fail(10, "QueueReady before setup", v, 0);
	if ((v = mmio_rd(R(QUEUE_NUM_MAX))) < size)
		return fail(11, "QueueNumMax", v, size);
	mmio_wr(R(QUEUE_NUM), size);
	mmio_wr(R(DESC_LO), q->desc);
	mmio_wr(R(DESC_HI), 0);
	mmio_wr(R(DRIVER_LO), q->driver);
	mmio_wr(R(DRIVER_HI), 0);
	mmio_wr(R(DEVICE_LO), q->device);
	mmio_wr(R(DEVICE_HI), 0);
	mmio_wr(R(QUEUE_READY), 1);
	if ((v = mmio_rd(R(QUEUE_READY))) != 1)
		return fail(13, "QueueReady", v, 1);
	return 0;
}

int vdrv_driver_ok(void)
{
	uint32_t v;

	mmio_wr(R(STATUS), S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	if ((v = mmio_rd(R(STATUS))) != (S_ACK | S_DRIVER | S_FEATURES_OK |
					 S_DRIVER_OK))
		return fail(14, "DRIVER_OK", v, S_DRIVER_OK);
	return 0;
}

void vdrv_add(struct vq *q, const struct seg *segs, unsigned n, unsigned id)
{
	if (q->packed) {
		volatile struct pdesc *d = (struct pdesc *)q->desc;
		unsigned first = q->next % q->size;
		uint16_t first_flags = 0;

		for (unsigned i = 0; i < n; i++) {
			unsigned slot = (q->next + i) % q->size;
			/* The wrap counter flips at each lap of the ring. */
			bool wrap = !(((q->next + i) / q->size) & 1);
			uint16_t f = (uint16_t)(wrap ? P_AVAIL : P_USED);

			if (segs[i].write)
				f |= D_WRITE;
			if (i + 1 < n)
				f |= D_NEXT;
			d[slot].addr = segs[i].addr;
			d[slot].len = segs[i].len;
			d[slot].id = (uint16_t)id;
			if (i == 0) {
				first_flags = f;
				continue;
			}
			barrier();
			d[slot].flags = f;
		}
		/* The head last: the device sees the whole chain at once. */
		barrier();
		d[first].flags = first_flags;
		q->next += n;
	} else {
		volatile struct desc *d = (struct desc *)q->desc;
		volatile uint16_t *avail = (uint16_t *)q->driver;
		unsigned head = q->free_desc;

		for (unsigned i = 0; i < n; i++) {
			unsigned k = q->free_desc++;

			d[k].addr = segs[i].addr;
			d[k].len = segs[i].len;
			d[k].flags = (uint16_t)((segs[i].write ? D_WRITE : 0) |
						(i + 1 < n ? D_NEXT : 0));
			d[k].next = (uint16_t)(k + 1);
		}
		avail[2 + q->next % q->size] = (uint16_t)head;
		barrier();
		q->next++;
		avail[1] = (uint16_t)q->next;
		id = head;
	}
	q->chain_len[id] = (uint8_t)n;
	q->inflight++;
}

void vdrv_kick(struct vq *q)
{
	uint32_t v = q->index;

	if (q->notify_data) {
		if (q->packed)
			v |= ((q->next % q->size) |
			      ((((q->next / q->size) & 1) ? 0u : 1u) << 15))
			     << 16;
		else
			v |= (uint32_t)(q->next & 0xffff) << 16;
	}
	mmio_wr(R(QUEUE_NOTIFY), v);
}

int vdrv_get_used(struct vq *q, unsigned *id, unsigned *len)
{
	if (q->packed) {
		volatile struct pdesc *d = (struct pdesc *)q->desc;
		unsigned slot = q->used % q->size;
		unsigned want = ((q->used / q->size) & 1) ? 0 : 1;
		uint16_t f = d[slot].flags;

		if (!!(f & P_AVAIL) != want || !!(f & P_USED) != want)
			return 0;
		barrier();
		*id = d[slot].id;
		*len = d[slot].len;
		if (*id >= VQ_MAX || !q->chain_len[*id])
			return 0; /* the caller sees the bad id in tests */
		q->used += q->chain_len[*id];
	} else {
		volatile uint16_t *used_idx = (uint16_t *)q->device + 1;
		volatile struct used_elem *u =
			(struct used_elem *)(q->device + 4);

		if (*used_idx == (uint16_t)q->used)
			return 0;
		barrier();
		*id = u[q->used % q->size].id;
		*len = u[q->used % q->size].len;
		q->used++;
	}
	if (*id < VQ_MAX)
		q->chain_len[*id] = 0;
	if (--q->inflight == 0)
		q->free_desc = 0;
	return 1;
}

/* As in a kernel driver: read what happened and acknowledge it before the
 * EOI, so that a level-triggered line drops. */
static void vdrv_irq(unsigned irq)
{
	uint32_t isr;

	if (irq != GUEST_MMIO_GSI)
		return;
	isr = mmio_rd(R(INT_STATUS));
	mmio_wr(R(INT_ACK), isr);
	isr_seen |= isr;
}

void vdrv_irq_init(void)
{
	irq_hook = vdrv_irq;
	pic_init(GUEST_MMIO_GSI);
}

unsigned vdrv_spurious;

int vdrv_wait(void)
{
	/* A level line may deliver one interrupt more than there were
	 * events (re-asserted at an EOI while an event was pending, which the
	 * handler then consumed): those find InterruptStatus 0 and are
	 * counted, as a kernel counts spurious interrupts. */
	for (;;) {
		unsigned now = wait_irq(GUEST_MMIO_GSI, irq_seen, 1000000);

		if (now == irq_seen)
			return fail(20, "no interrupt", now, irq_seen + 1);
		irq_seen = now;
		if (isr_seen & 1) {
			isr_seen = 0;
			return 0;
		}
		vdrv_spurious++;
	}
}

unsigned vdrv_irqs(void)
{
	return irq_count[GUEST_MMIO_GSI];
}

uint32_t vdrv_config32(unsigned off)
{
	uint32_t gen, v;

	do {
		gen = mmio_rd(R(CONFIG_GEN));
		v = mmio_rd(R(CONFIG + off));
	} while (mmio_rd(R(CONFIG_GEN)) != gen);
	return v;
}
