/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A minimal virtio-mmio driver for the test guests: probing, feature
 * negotiation, one split or packed virtqueue with multi-segment chains,
 * kicks (with or without NOTIFICATION_DATA) and interrupt-driven
 * completion, as a guest kernel's driver does it.
 */
#ifndef VDRV_H
#define VDRV_H

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
#define CONFIG 0x100

#define S_ACK 1u
#define S_DRIVER 2u
#define S_DRIVER_OK 4u
#define S_FEATURES_OK 8u
#define S_NEEDS_RESET 64u

/* High feature word (bits 32..63). */
#define F_VERSION_1 (1u << 0)
#define F_RING_PACKED (1u << 2)
#define F_NOTIFICATION_DATA (1u << 6)

#define VQ_MAX 16u

struct vq {
	unsigned index;
	unsigned size;
	bool packed;
	bool notify_data;
	uint32_t desc, driver, device;
	unsigned next;      /* split: avail idx; packed: slots used so far */
	unsigned used;      /* split: used idx seen; packed: slots consumed */
	unsigned free_desc; /* split: next descriptor (bump, ring idle = 0) */
	unsigned inflight;
	uint8_t chain_len[VQ_MAX];
};

struct seg {
	uint32_t addr;
	uint32_t len;
	bool write;
};

/* Checks magic, version and device id; 0 or a failure code. */
int vdrv_probe(uint32_t device_id);
/* Reset, ACK, DRIVER; returns the device's high feature word. */
uint32_t vdrv_begin(void);
/* Writes the features and sets FEATURES_OK; 0 when it stuck. */
int vdrv_features(uint32_t lo, uint32_t hi);
/* Sets up queue @index at @mem (16 KiB, zeroed here). 0 or a code. */
int vdrv_queue(struct vq *q, unsigned index, unsigned size, bool packed,
	       bool notify_data, uint32_t mem);
int vdrv_driver_ok(void);
/* Makes one chain available with buffer id @id. */
void vdrv_add(struct vq *q, const struct seg *segs, unsigned n, unsigned id);
void vdrv_kick(struct vq *q);
/* One completion: 1 with *id, *len; 0 when none. */
int vdrv_get_used(struct vq *q, unsigned *id, unsigned *len);
/* Installs the interrupt handler (reads and acks InterruptStatus). */
void vdrv_irq_init(void);
/* Sleeps until an interrupt with the VRING bit came; 0 or a code. */
int vdrv_wait(void);
/* Interrupts that found no event pending. */
extern unsigned vdrv_spurious;
/* Interrupts received on the device's line. */
unsigned vdrv_irqs(void);
/* A 32-bit config field, read with the generation check. */
uint32_t vdrv_config32(unsigned off);

#endif
