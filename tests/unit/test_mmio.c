/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The virtio-mmio register file driven by a software MMIO driver (no VM):
 * every register, feature negotiation and its refusals, split and packed
 * queue setup, refused rings, bad widths and offsets, config space and
 * its generation, interrupt status/ack and the line, QueueReset, reset in
 * the middle of operation, kick fds and NOTIFICATION_DATA, and virtio-rng
 * end to end.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/le.h>
#include <virtio/mmio.h>
#include <virtio/rng.h>
#include <virtio/testing.h>
#include <virtio/loop.h>
#include <virtio/transport.h>

#include "core/crc32.h"

#define TDEV_QUEUES 2
#define TDEV_QMAX 64
#define TDEV_CONFIG 12
#define TDEV_F_FOO 3 /* a device-specific feature bit */

/* ---- a test device ----------------------------------------------------- */

struct tdev {
	bool hold;              /* keep the first request instead of pushing */
	struct vdev_req held;
	struct iovec held_iov[4];
	bool holding;
	unsigned handled;
	int config_writes;
};

static int tdev_config_write(struct vdev *dev, uint32_t off, const void *d,
			     uint32_t len)
{
	struct tdev *t = vdev_priv(dev);

	t->config_writes++;
	return off >= 8 ? -EPERM : 0; /* bytes 8..11 are read-only */
}

static void tdev_handle(struct vdev *dev, unsigned qidx, struct vdev_queue *q)
{
	struct tdev *t = vdev_priv(dev);
	struct iovec iov[4];
	struct vdev_req req = { .iov = iov, .iov_max = 4 };

	for (;;) {
		if (t->hold && !t->holding) {
			t->held.iov = t->held_iov;
			t->held.iov_max = 4;
			if (vdev_queue_pop(q, &t->held) < 0)
				break;
			t->holding = true;
			continue;
		}
		if (vdev_queue_pop(q, &req) < 0)
			break;
		for (unsigned i = 0; i < req.nin; i++)
			memset(req.in[i].iov_base, 0xa0 + (int)qidx,
			       req.in[i].iov_len);
		vdev_queue_push(q, &req, req.in_bytes);
		t->handled++;
	}
	vdev_queue_notify(q);
}

static const struct vdev_ops tdev_ops = {
	.config_write = tdev_config_write,
	.handle = tdev_handle,
};

/* ---- the fixture: device, register file, guest RAM ------------------- */

struct fx {
	struct tdev t;
	struct vdev *dev;
	struct vdev_mmio *m;
	struct vdev_drv_mem *ram;
	struct vdev_drv_ring *ring[TDEV_QUEUES];
	int level;      /* the interrupt line */
	unsigned raised;
	unsigned lowered;
};

static void fx_irq(void *opaque, bool level)
{
	struct fx *f = opaque;

	f->level = level;
	if (level)
		f->raised++;
	else
		f->lowered++;
}

static struct fx *fx_new(uint64_t hide, uint32_t vendor)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct vdev_info info = {
		.name = "mmiotest",
		.device_id = 42,
		.vendor_id = vendor,
		.features = VDEV_BIT(TDEV_F_FOO),
		.num_queues = TDEV_QUEUES,
		.max_queue_size = TDEV_QMAX,
		.config_size = TDEV_CONFIG,
	};
	struct vdev_mmio_config mc = {
		.set_irq = fx_irq,
		.hide_features = hide,
	};

	assert_non_null(f);
	f->dev = vdev_new(&info, &tdev_ops, &f->t);
	assert_non_null(f->dev);
	for (int i = 0; i < TDEV_CONFIG; i++)
		((uint8_t *)vdev_config(f->dev))[i] = (uint8_t)(0x10 + i);
	mc.opaque = f;
	f->m = vdev_mmio_new(f->dev, &mc);
	assert_non_null(f->m);
	f->ram = vdev_drv_mem_new(0x100000, 1 << 20, 1);
	assert_non_null(f->ram);
	assert_int_equal(vdev_set_mem(f->dev, vdev_drv_mem_map(f->ram)), 0);
	return f;
}

static void fx_free(struct fx *f)
{
	vdev_mmio_free(f->m);
	vdev_free(f->dev);
	for (int i = 0; i < TDEV_QUEUES; i++)
		vdev_drv_ring_free(f->ring[i]);
	vdev_drv_mem_free(f->ram);
	free(f);
}

/* Register data is in the guest's (little-endian) byte order. */
static uint32_t rd(struct fx *f, uint64_t off)
{
	vdev_le32 v = 0xdeadbeef;

	vdev_mmio_read(f->m, off, &v, 4);
	return vdev_le32_to_cpu(v);
}

static void wr(struct fx *f, uint64_t off, uint32_t v)
{
	vdev_le32 le = vdev_cpu_to_le32(v);

	assert_int_equal(vdev_mmio_write(f->m, off, &le, 4), 0);
}

static uint64_t rd_features(struct fx *f)
{
	uint64_t lo;

	wr(f, VDEV_MMIO_DEVICE_FEATURES_SEL, 0);
	lo = rd(f, VDEV_MMIO_DEVICE_FEATURES);
	wr(f, VDEV_MMIO_DEVICE_FEATURES_SEL, 1);
	return lo | (uint64_t)rd(f, VDEV_MMIO_DEVICE_FEATURES) << 32;
}

static void wr_features(struct fx *f, uint64_t features)
{
	wr(f, VDEV_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VDEV_MMIO_DRIVER_FEATURES, (uint32_t)features);
	wr(f, VDEV_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VDEV_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
}

/* Reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK; returns Status. */
static uint32_t negotiate(struct fx *f, uint64_t features)
{
	wr(f, VDEV_MMIO_STATUS, 0);
	wr(f, VDEV_MMIO_STATUS, VDEV_STATUS_ACKNOWLEDGE);
	wr(f, VDEV_MMIO_STATUS, VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER);
	wr_features(f, features);
	wr(f, VDEV_MMIO_STATUS, VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER |
					VDEV_STATUS_FEATURES_OK);
	return rd(f, VDEV_MMIO_STATUS);
}

static void set_queue_regs(struct fx *f, unsigned qidx, uint32_t num,
			   uint64_t desc, uint64_t driver, uint64_t device)
{
	wr(f, VDEV_MMIO_QUEUE_SEL, qidx);
	wr(f, VDEV_MMIO_QUEUE_NUM, num);
	wr(f, VDEV_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	wr(f, VDEV_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	wr(f, VDEV_MMIO_QUEUE_DRIVER_LOW, (uint32_t)driver);
	wr(f, VDEV_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(driver >> 32));
	wr(f, VDEV_MMIO_QUEUE_DEVICE_LOW, (uint32_t)device);
	wr(f, VDEV_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(device >> 32));
}

/* A ring in guest RAM, announced through the registers, QueueReady = 1. */
static void setup_queue(struct fx *f, unsigned qidx, uint16_t size,
			uint64_t features)
{
	struct vdev_queue_config qc;

	vdev_drv_ring_free(f->ring[qidx]);
	f->ring[qidx] = vdev_drv_ring_new(f->ram, size, features);
	assert_non_null(f->ring[qidx]);
	vdev_drv_ring_queue_config(f->ring[qidx], &qc);
	set_queue_regs(f, qidx, size, qc.desc_addr, qc.driver_addr,
		       qc.device_addr);
	assert_int_equal(rd(f, VDEV_MMIO_QUEUE_READY), 0);
	wr(f, VDEV_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(f, VDEV_MMIO_QUEUE_READY), 1);
}

static void driver_ok(struct fx *f)
{
	wr(f, VDEV_MMIO_STATUS, VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER |
					VDEV_STATUS_FEATURES_OK |
					VDEV_STATUS_DRIVER_OK);
	assert_true(rd(f, VDEV_MMIO_STATUS) & VDEV_STATUS_DRIVER_OK);
}

/* Adds one writable buffer of @len bytes to queue @qidx. */
static uint8_t *add_buf(struct fx *f, unsigned qidx, uint32_t len)
{
	struct vdev_drv_seg seg;
	uint8_t *p = vdev_drv_mem_alloc(f->ram, len, 16, &seg.gpa);

	assert_non_null(p);
	seg.len = len;
	assert_int_equal(vdev_drv_ring_add(f->ring[qidx], &seg, 0, 1, p, 0),
			 0);
	return p;
}

static const uint64_t V1 = VDEV_BIT(VDEV_F_VERSION_1);
static const uint64_t PACKED = VDEV_BIT(VDEV_F_RING_PACKED);
static const uint8_t OK_STATUS = VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER |
				 VDEV_STATUS_FEATURES_OK;

/* Recomputes the CRC at the end of a register-file state blob. */
static void put_le32_crc(uint8_t *b, size_t len)
{
	uint32_t c = vcore_crc32(b, len - 4);

	for (int i = 0; i < 4; i++)
		b[len - 4 + i] = (uint8_t)(c >> (8 * i));
}

/* ---- tests ------------------------------------------------------------ */

static void test_identity(void **state)
{
	struct fx *f = fx_new(0, 0);

	assert_int_equal(rd(f, VDEV_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd(f, VDEV_MMIO_VERSION), 2);
	assert_int_equal(rd(f, VDEV_MMIO_DEVICE_ID), 42);
	assert_int_not_equal(rd(f, VDEV_MMIO_VENDOR_ID), 0);
	assert_ptr_equal(vdev_mmio_device(f->m), f->dev);
	fx_free(f);

	f = fx_new(0, 0x1af4);
	assert_int_equal(rd(f, VDEV_MMIO_VENDOR_ID), 0x1af4);
	fx_free(f);
}

static void test_new_rejects(void **state)
{
	struct vdev_mmio_config mc = { .set_irq = NULL };
	struct fx *f = fx_new(0, 0);

	errno = 0;
	assert_null(vdev_mmio_new(f->dev, &mc));
	assert_int_equal(errno, EINVAL);
	assert_null(vdev_mmio_new(NULL, &mc));
	assert_null(vdev_mmio_new(f->dev, NULL));
	vdev_mmio_free(NULL);
	fx_free(f);
}

static void test_device_features(void **state)
{
	struct fx *f = fx_new(VDEV_BIT(VDEV_F_EVENT_IDX), 0);
	uint64_t feat = rd_features(f);

	assert_true(feat & V1);
	assert_true(feat & VDEV_BIT(TDEV_F_FOO));
	assert_true(feat & PACKED);
	assert_false(feat & VDEV_BIT(VDEV_F_EVENT_IDX)); /* hidden */
	assert_int_equal(feat, vdev_device_features(f->dev) &
				       ~VDEV_BIT(VDEV_F_EVENT_IDX));
	/* Words above 63 are zero. */
	wr(f, VDEV_MMIO_DEVICE_FEATURES_SEL, 2);
	assert_int_equal(rd(f, VDEV_MMIO_DEVICE_FEATURES), 0);
	wr(f, VDEV_MMIO_DEVICE_FEATURES_SEL, 0xffffffff);
	assert_int_equal(rd(f, VDEV_MMIO_DEVICE_FEATURES), 0);
	fx_free(f);
}

static void test_negotiation(void **state)
{
	struct fx *f = fx_new(VDEV_BIT(VDEV_F_EVENT_IDX), 0);

	/* Accepted: the driver's set is what the core sees. */
	assert_int_equal(negotiate(f, V1 | VDEV_BIT(TDEV_F_FOO)), OK_STATUS);
	assert_int_equal(vdev_features(f->dev), V1 | VDEV_BIT(TDEV_F_FOO));

	/* DriverFeatures after FEATURES_OK is ignored. */
	wr(f, VDEV_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VDEV_MMIO_DRIVER_FEATURES, 0);
	assert_int_equal(vdev_features(f->dev), V1 | VDEV_BIT(TDEV_F_FOO));

	/* A bit never offered: FEATURES_OK does not stick. */
	assert_int_equal(negotiate(f, V1 | VDEV_BIT(60)),
			 VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER);
	/* A bit offered by the device but hidden by the VMM. */
	assert_int_equal(negotiate(f, V1 | VDEV_BIT(VDEV_F_EVENT_IDX)),
			 VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER);
	/* No VERSION_1. */
	assert_int_equal(negotiate(f, VDEV_BIT(TDEV_F_FOO)),
			 VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER);
	/* A bit above 63. */
	wr(f, VDEV_MMIO_STATUS, 0);
	wr(f, VDEV_MMIO_STATUS, VDEV_STATUS_ACKNOWLEDGE);
	wr(f, VDEV_MMIO_STATUS, VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER);
	wr_features(f, V1);
	wr(f, VDEV_MMIO_DRIVER_FEATURES_SEL, 2);
	wr(f, VDEV_MMIO_DRIVER_FEATURES, 1);
	wr(f, VDEV_MMIO_STATUS, OK_STATUS);
	assert_int_equal(rd(f, VDEV_MMIO_STATUS),
			 VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER);
	/* A reset forgets it. */
	assert_int_equal(negotiate(f, V1), OK_STATUS);

	/* Writing features word by word, high word first, works too. */
	wr(f, VDEV_MMIO_STATUS, 0);
	wr(f, VDEV_MMIO_STATUS, VDEV_STATUS_ACKNOWLEDGE);
	wr(f, VDEV_MMIO_STATUS, VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER);
	wr(f, VDEV_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(f, VDEV_MMIO_DRIVER_FEATURES, 1); /* VERSION_1 */
	wr(f, VDEV_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(f, VDEV_MMIO_DRIVER_FEATURES, 1u << TDEV_F_FOO);
	wr(f, VDEV_MMIO_STATUS, OK_STATUS);
	assert_int_equal(rd(f, VDEV_MMIO_STATUS), OK_STATUS);
	assert_int_equal(vdev_features(f->dev), V1 | VDEV_BIT(TDEV_F_FOO));
	fx_free(f);
}

static void test_status_rules(void **state)
{
	struct fx *f = fx_new(0, 0);

	wr(f, VDEV_MMIO_STATUS, 0);
	/* DRIVER_OK before FEATURES_OK is refused. */
	wr(f, VDEV_MMIO_STATUS, VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER |
					VDEV_STATUS_DRIVER_OK);
	assert_false(rd(f, VDEV_MMIO_STATUS) & VDEV_STATUS_DRIVER_OK);
	/* Bits above the status byte are not status bits. */
	wr(f, VDEV_MMIO_STATUS, 0);
	wr(f, VDEV_MMIO_STATUS, 0x100 | VDEV_STATUS_ACKNOWLEDGE);
	assert_int_equal(rd(f, VDEV_MMIO_STATUS), VDEV_STATUS_ACKNOWLEDGE);
	fx_free(f);
}

static void test_bad_accesses(void **state)
{
	struct fx *f = fx_new(0, 0);
	uint64_t v8 = ~0ull;
	uint16_t v2 = 0xffff;
	uint8_t v1 = 0xff, b[3];
	uint32_t v = 0x12345678;
	static const uint64_t undefined[] = { 0x018, 0x01c, 0x028, 0x02c,
					      0x03c, 0x040, 0x048, 0x054,
					      0x068, 0x074, 0x0a8, 0x0c4,
					      0x0f8 };

	/* Control registers are 32-bit only: narrower and wider reads give
	 * zeros, writes are ignored. */
	assert_int_equal(vdev_mmio_read(f->m, VDEV_MMIO_MAGIC_VALUE, &v1, 1),
			 -EINVAL);
	assert_int_equal(v1, 0);
	assert_int_equal(vdev_mmio_read(f->m, VDEV_MMIO_MAGIC_VALUE, &v2, 2),
			 -EINVAL);
	assert_int_equal(v2, 0);
	assert_int_equal(vdev_mmio_read(f->m, VDEV_MMIO_MAGIC_VALUE, &v8, 8),
			 -EINVAL);
	assert_int_equal(v8, 0);
	/* Unaligned. */
	assert_int_equal(vdev_mmio_read(f->m, 1, &v, 4), -EINVAL);
	assert_int_equal(v, 0);
	v1 = VDEV_STATUS_ACKNOWLEDGE;
	assert_int_equal(vdev_mmio_write(f->m, VDEV_MMIO_STATUS, &v1, 1),
			 -EINVAL);
	assert_int_equal(rd(f, VDEV_MMIO_STATUS), 0);
	v2 = 1;
	assert_int_equal(vdev_mmio_write(f->m, VDEV_MMIO_QUEUE_SEL, &v2, 2),
			 -EINVAL);
	/* Sizes that no bus produces. */
	assert_int_equal(vdev_mmio_read(f->m, 0, b, 3), -EINVAL);
	assert_int_equal(vdev_mmio_write(f->m, 0, b, 3), -EINVAL);
	/* Outside the window. */
	assert_int_equal(vdev_mmio_read(f->m, VDEV_MMIO_WINDOW, &v, 4),
			 -ERANGE);
	assert_int_equal(v, 0);
	assert_int_equal(vdev_mmio_read(f->m, VDEV_MMIO_WINDOW - 2, &v, 4),
			 -ERANGE);
	assert_int_equal(vdev_mmio_write(f->m, ~0ull - 1, &v, 4), -ERANGE);
	/* Undefined offsets, legacy registers included. */
	for (size_t i = 0; i < sizeof(undefined) / sizeof(undefined[0]); i++) {
		v = 0x5a5a5a5a;
		assert_int_equal(vdev_mmio_read(f->m, undefined[i], &v, 4),
				 -EINVAL);
		assert_int_equal(v, 0);
		assert_int_equal(vdev_mmio_write(f->m, undefined[i], &v, 4),
				 -EINVAL);
	}
	/* Write-only registers read as zero. */
	wr(f, VDEV_MMIO_QUEUE_SEL, 1);
	assert_int_equal(vdev_mmio_read(f->m, VDEV_MMIO_QUEUE_SEL, &v, 4),
			 -EINVAL);
	assert_int_equal(v, 0);
	assert_int_equal(rd(f, VDEV_MMIO_QUEUE_NOTIFY), 0);
	assert_int_equal(rd(f, VDEV_MMIO_INTERRUPT_ACK), 0);
	assert_int_equal(rd(f, VDEV_MMIO_QUEUE_DESC_LOW), 0);
	/* Read-only registers ignore writes. */
	v = 0;
	assert_int_equal(vdev_mmio_write(f->m, VDEV_MMIO_MAGIC_VALUE, &v, 4),
			 -EINVAL);
	assert_int_equal(rd(f, VDEV_MMIO_MAGIC_VALUE), 0x74726976);
	v = 3;
	assert_int_equal(
		vdev_mmio_write(f->m, VDEV_MMIO_INTERRUPT_STATUS, &v, 4),
		-EINVAL);
	assert_int_equal(rd(f, VDEV_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(f->raised, 0);
	fx_free(f);
}

static void test_shm(void **state)
{
	struct fx *f = fx_new(0, 0);

	for (uint32_t sel = 0; sel < 3; sel++) {
		wr(f, VDEV_MMIO_SHM_SEL, sel);
		assert_int_equal(rd(f, VDEV_MMIO_SHM_LEN_LOW), 0xffffffff);
		assert_int_equal(rd(f, VDEV_MMIO_SHM_LEN_HIGH), 0xffffffff);
		assert_int_equal(rd(f, VDEV_MMIO_SHM_BASE_LOW), 0xffffffff);
		assert_int_equal(rd(f, VDEV_MMIO_SHM_BASE_HIGH), 0xffffffff);
	}
	fx_free(f);
}

static void test_config_space(void **state)
{
	struct fx *f = fx_new(0, 0);
	uint8_t b;
	uint16_t h;
	uint32_t w, gen;
	uint64_t q;

	assert_int_equal(vdev_mmio_read(f->m, VDEV_MMIO_CONFIG + 1, &b, 1), 0);
	assert_int_equal(b, 0x11);
	assert_int_equal(vdev_mmio_read(f->m, VDEV_MMIO_CONFIG + 2, &h, 2), 0);
	assert_int_equal(vdev_le16_to_cpu(h), 0x1312);
	assert_int_equal(vdev_mmio_read(f->m, VDEV_MMIO_CONFIG + 4, &w, 4), 0);
	assert_int_equal(vdev_le32_to_cpu(w), 0x17161514);
	assert_int_equal(vdev_mmio_read(f->m, VDEV_MMIO_CONFIG, &q, 8), 0);
	assert_int_equal(vdev_le64_to_cpu(q), 0x1716151413121110ull);
	/* Byte alignment is allowed in config space. */
	assert_int_equal(vdev_mmio_read(f->m, VDEV_MMIO_CONFIG + 3, &w, 4), 0);
	assert_int_equal(vdev_le32_to_cpu(w), 0x16151413);
	/* Beyond the config size: zeros. */
	w = 0xffffffff;
	assert_int_equal(vdev_mmio_read(f->m, VDEV_MMIO_CONFIG + 10, &w, 4),
			 -ERANGE);
	assert_int_equal(w, 0);
	assert_int_equal(vdev_mmio_read(f->m, 0xffc, &w, 4), -ERANGE);

	/* Writes go through the model's config_write. */
	h = vdev_cpu_to_le16(0xbeef);
	assert_int_equal(vdev_mmio_write(f->m, VDEV_MMIO_CONFIG + 4, &h, 2), 0);
	assert_int_equal(f->t.config_writes, 1);
	assert_int_equal(((uint8_t *)vdev_config(f->dev))[4], 0xef);
	assert_int_equal(vdev_mmio_read(f->m, VDEV_MMIO_CONFIG + 4, &h, 2), 0);
	assert_int_equal(vdev_le16_to_cpu(h), 0xbeef);
	/* The model refuses bytes 8..11: unchanged. */
	b = 0;
	vdev_mmio_write(f->m, VDEV_MMIO_CONFIG + 8, &b, 1);
	assert_int_equal(vdev_mmio_read(f->m, VDEV_MMIO_CONFIG + 8, &b, 1), 0);
	assert_int_equal(b, 0x18);
	/* Out of range writes never reach the model. */
	assert_int_not_equal(
		vdev_mmio_write(f->m, VDEV_MMIO_CONFIG + 12, &b, 1), 0);
	assert_int_equal(f->t.config_writes, 2);

	/* A change bumps the generation; after DRIVER_OK it also raises a
	 * config interrupt. */
	gen = rd(f, VDEV_MMIO_CONFIG_GENERATION);
	vdev_config_changed(f->dev);
	assert_int_not_equal(rd(f, VDEV_MMIO_CONFIG_GENERATION), gen);
	gen = rd(f, VDEV_MMIO_CONFIG_GENERATION);
	assert_int_equal(rd(f, VDEV_MMIO_CONFIG_GENERATION), gen);

	assert_int_equal(negotiate(f, V1), OK_STATUS);
	setup_queue(f, 0, 8, V1);
	driver_ok(f);
	f->raised = 0;
	vdev_config_changed(f->dev);
	assert_int_equal(rd(f, VDEV_MMIO_INTERRUPT_STATUS),
			 VDEV_MMIO_INT_CONFIG);
	assert_int_equal(f->raised, 1);
	assert_int_equal(f->level, 1);
	wr(f, VDEV_MMIO_INTERRUPT_ACK, VDEV_MMIO_INT_CONFIG);
	assert_int_equal(rd(f, VDEV_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(f->level, 0);
	fx_free(f);
}

/* Full bring-up and one transfer on each queue, split or packed. */
static void transfer(bool packed)
{
	struct fx *f = fx_new(0, 0);
	uint64_t feat = V1 | (packed ? PACKED : 0);
	uint8_t *buf[2];
	void *token;
	uint32_t len;

	assert_int_equal(negotiate(f, feat), OK_STATUS);
	wr(f, VDEV_MMIO_QUEUE_SEL, 0);
	assert_int_equal(rd(f, VDEV_MMIO_QUEUE_NUM_MAX), TDEV_QMAX);
	wr(f, VDEV_MMIO_QUEUE_SEL, TDEV_QUEUES);
	assert_int_equal(rd(f, VDEV_MMIO_QUEUE_NUM_MAX), 0);
	assert_int_equal(rd(f, VDEV_MMIO_QUEUE_READY), 0);
	setup_queue(f, 0, 16, feat);
	setup_queue(f, 1, packed ? 10 : 32, feat);
	driver_ok(f);

	for (unsigned q = 0; q < 2; q++) {
		f->raised = 0;
		buf[q] = add_buf(f, q, 100);
		wr(f, VDEV_MMIO_QUEUE_NOTIFY, q);
		assert_int_equal(vdev_drv_ring_get_used(f->ring[q], &token,
							&len),
				 0);
		assert_ptr_equal(token, buf[q]);
		assert_int_equal(len, 100);
		for (int i = 0; i < 100; i++)
			assert_int_equal(buf[q][i], 0xa0 + q);
		/* Used buffer interrupt: status bit 0, line up, once. */
		assert_int_equal(rd(f, VDEV_MMIO_INTERRUPT_STATUS),
				 VDEV_MMIO_INT_VRING);
		assert_int_equal(vdev_mmio_interrupt_status(f->m),
				 VDEV_MMIO_INT_VRING);
		assert_int_equal(f->raised, 1);
		assert_int_equal(f->level, 1);
		/* Acking an event that did not happen changes nothing. */
		wr(f, VDEV_MMIO_INTERRUPT_ACK, VDEV_MMIO_INT_CONFIG);
		assert_int_equal(f->level, 1);
		wr(f, VDEV_MMIO_INTERRUPT_ACK, VDEV_MMIO_INT_VRING | 0xf0);
		assert_int_equal(rd(f, VDEV_MMIO_INTERRUPT_STATUS), 0);
		assert_int_equal(f->level, 0);
	}
	assert_int_equal(f->t.handled, 2);
	assert_true(vdev_mmio_irq_count(f->m) >= 2);

	/* Queue registers are frozen while the queue is ready. */
	wr(f, VDEV_MMIO_QUEUE_SEL, 0);
	wr(f, VDEV_MMIO_QUEUE_NUM, 4);
	wr(f, VDEV_MMIO_QUEUE_DESC_LOW, 0x1234);
	buf[0] = add_buf(f, 0, 10);
	wr(f, VDEV_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(vdev_drv_ring_get_used(f->ring[0], &token, &len), 0);
	assert_int_equal(len, 10);

	/* A notify of a queue that does not exist is ignored. */
	wr(f, VDEV_MMIO_QUEUE_NOTIFY, 7);
	wr(f, VDEV_MMIO_QUEUE_NOTIFY, 0x10000);

	/* QueueReady = 0 stops the queue: no more processing. */
	wr(f, VDEV_MMIO_QUEUE_READY, 0);
	assert_int_equal(rd(f, VDEV_MMIO_QUEUE_READY), 0);
	buf[0] = add_buf(f, 0, 10);
	wr(f, VDEV_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(vdev_drv_ring_get_used(f->ring[0], &token, &len),
			 -EAGAIN);
	fx_free(f);
}

static void test_transfer_split(void **state)
{
	transfer(false);
}

static void test_transfer_packed(void **state)
{
	transfer(true);
}

static void expect_refused(struct fx *f, unsigned qidx, uint32_t num,
			   uint64_t desc, uint64_t driver, uint64_t device)
{
	assert_int_equal(negotiate(f, V1), OK_STATUS);
	set_queue_regs(f, qidx, num, desc, driver, device);
	wr(f, VDEV_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(f, VDEV_MMIO_QUEUE_READY), 0);
	assert_true(rd(f, VDEV_MMIO_STATUS) &
		    VDEV_STATUS_DEVICE_NEEDS_RESET);
}

static void test_queue_refused(void **state)
{
	struct fx *f = fx_new(0, 0);
	const uint64_t r = 0x100000; /* start of guest RAM */

	expect_refused(f, 0, 0, r, r + 0x1000, r + 0x2000);
	expect_refused(f, 0, TDEV_QMAX + 1, r, r + 0x1000, r + 0x2000);
	expect_refused(f, 0, 12, r, r + 0x1000, r + 0x2000); /* split: 2^n */
	expect_refused(f, 0, 8, r + 8, r + 0x1000, r + 0x2000);
	expect_refused(f, 0, 8, r, r + 0x1001, r + 0x2000);
	expect_refused(f, 1, 8, r, r + 0x1000, r + 0x2002);
	expect_refused(f, 1, 8, 0x1000, r + 0x1000, r + 0x2000);
	expect_refused(f, 1, 8, r, r + 0x1000, (1ull << 40));
	expect_refused(f, 1, 8, r + (1 << 20) - 64, r + 0x1000, r + 0x2000);
	/* After DRIVER_OK the driver hears about it. */
	assert_int_equal(negotiate(f, V1), OK_STATUS);
	setup_queue(f, 0, 8, V1);
	driver_ok(f);
	f->raised = 0;
	set_queue_regs(f, 1, 0, 0, 0, 0);
	wr(f, VDEV_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(f, VDEV_MMIO_QUEUE_READY), 0);
	assert_true(rd(f, VDEV_MMIO_STATUS) &
		    VDEV_STATUS_DEVICE_NEEDS_RESET);
	assert_int_equal(rd(f, VDEV_MMIO_INTERRUPT_STATUS),
			 VDEV_MMIO_INT_CONFIG);
	assert_int_equal(f->raised, 1);

	/* Queue setup before FEATURES_OK is refused too. */
	wr(f, VDEV_MMIO_STATUS, 0);
	set_queue_regs(f, 0, 8, r, r + 0x1000, r + 0x2000);
	wr(f, VDEV_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(f, VDEV_MMIO_QUEUE_READY), 0);

	/* A missing queue ignores everything. */
	assert_int_equal(negotiate(f, V1), OK_STATUS);
	set_queue_regs(f, 5, 8, r, r + 0x1000, r + 0x2000);
	wr(f, VDEV_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(f, VDEV_MMIO_QUEUE_READY), 0);
	assert_int_equal(rd(f, VDEV_MMIO_STATUS), OK_STATUS);
	fx_free(f);
}

static void test_reset_midway(void **state)
{
	struct fx *f = fx_new(0, 0);
	void *token;
	uint32_t len;

	assert_int_equal(negotiate(f, V1), OK_STATUS);
	setup_queue(f, 0, 8, V1);
	setup_queue(f, 1, 8, V1);
	driver_ok(f);
	/* One request held by the device, one completed and not acked. */
	f->t.hold = true;
	add_buf(f, 0, 32);
	add_buf(f, 0, 32);
	wr(f, VDEV_MMIO_QUEUE_NOTIFY, 0);
	assert_true(f->t.holding);
	assert_int_equal(rd(f, VDEV_MMIO_INTERRUPT_STATUS),
			 VDEV_MMIO_INT_VRING);
	wr(f, VDEV_MMIO_DEVICE_FEATURES_SEL, 1);
	wr(f, VDEV_MMIO_QUEUE_SEL, 1);

	wr(f, VDEV_MMIO_STATUS, 0);
	assert_int_equal(rd(f, VDEV_MMIO_STATUS), 0);
	assert_int_equal(rd(f, VDEV_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(f->level, 0);
	for (unsigned q = 0; q < TDEV_QUEUES; q++) {
		wr(f, VDEV_MMIO_QUEUE_SEL, q);
		assert_int_equal(rd(f, VDEV_MMIO_QUEUE_READY), 0);
	}
	assert_int_equal(vdev_features(f->dev), 0);
	/* The held request belongs to no ring any more. */
	assert_int_equal(vdev_queue_push(vdev_get_queue(f->dev, 0),
					 &f->t.held, 32),
			 -ESTALE);
	f->t.hold = false;
	f->t.holding = false;

	/* The device works again after a fresh bring-up. */
	assert_int_equal(negotiate(f, V1 | PACKED), OK_STATUS);
	setup_queue(f, 0, 8, V1 | PACKED);
	driver_ok(f);
	add_buf(f, 0, 5);
	wr(f, VDEV_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(vdev_drv_ring_get_used(f->ring[0], &token, &len), 0);
	assert_int_equal(len, 5);
	fx_free(f);
}

static void test_queue_reset(void **state)
{
	struct fx *f = fx_new(0, 0);
	uint64_t feat = V1 | VDEV_BIT(VDEV_F_RING_RESET);
	void *token;
	uint32_t len;

	/* Without RING_RESET the register is ignored. */
	assert_int_equal(negotiate(f, V1), OK_STATUS);
	setup_queue(f, 0, 8, V1);
	wr(f, VDEV_MMIO_QUEUE_RESET, 1);
	assert_int_equal(rd(f, VDEV_MMIO_QUEUE_READY), 1);

	assert_int_equal(negotiate(f, feat), OK_STATUS);
	setup_queue(f, 0, 8, feat);
	setup_queue(f, 1, 8, feat);
	driver_ok(f);
	wr(f, VDEV_MMIO_QUEUE_SEL, 0);
	assert_int_equal(rd(f, VDEV_MMIO_QUEUE_RESET), 0);
	wr(f, VDEV_MMIO_QUEUE_RESET, 1);
	assert_int_equal(rd(f, VDEV_MMIO_QUEUE_RESET), 0);
	assert_int_equal(rd(f, VDEV_MMIO_QUEUE_READY), 0);
	/* The other queue and the device are untouched. */
	wr(f, VDEV_MMIO_QUEUE_SEL, 1);
	assert_int_equal(rd(f, VDEV_MMIO_QUEUE_READY), 1);
	assert_true(rd(f, VDEV_MMIO_STATUS) & VDEV_STATUS_DRIVER_OK);
	/* Re-enabled with a new ring of another size. */
	setup_queue(f, 0, 4, feat);
	add_buf(f, 0, 7);
	wr(f, VDEV_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(vdev_drv_ring_get_used(f->ring[0], &token, &len), 0);
	assert_int_equal(len, 7);
	fx_free(f);
}

static void test_kick_fd(void **state)
{
	struct fx *f = fx_new(0, 0);
	int efd = eventfd(0, EFD_NONBLOCK);
	uint64_t n;

	assert_true(efd >= 0);
	assert_int_equal(vdev_mmio_set_kick_fd(f->m, TDEV_QUEUES, efd),
			 -EINVAL);
	assert_int_equal(vdev_mmio_set_kick_fd(f->m, 1, efd), 0);
	assert_int_equal(negotiate(f, V1), OK_STATUS);
	setup_queue(f, 1, 8, V1);
	driver_ok(f);
	add_buf(f, 1, 8);
	/* The notify goes to the fd, not to the handler. */
	wr(f, VDEV_MMIO_QUEUE_NOTIFY, 1);
	assert_int_equal(f->t.handled, 0);
	assert_int_equal(read(efd, &n, sizeof(n)), sizeof(n));
	assert_int_equal(n, 1);
	/* What the thread watching the fd does. */
	vdev_vq_dispatch(f->dev, 1);
	assert_int_equal(f->t.handled, 1);
	assert_int_equal(vdev_mmio_set_kick_fd(f->m, 1, -1), 0);
	fx_free(f);
	close(efd);
}

static void test_notification_data(void **state)
{
	struct fx *f = fx_new(0, 0);
	uint64_t feat = V1 | VDEV_BIT(VDEV_F_NOTIFICATION_DATA);

	assert_int_equal(negotiate(f, feat), OK_STATUS);
	setup_queue(f, 0, 8, feat);
	setup_queue(f, 1, 8, feat);
	driver_ok(f);
	add_buf(f, 1, 8);
	wr(f, VDEV_MMIO_QUEUE_NOTIFY,
	   vdev_drv_ring_notification_data(f->ring[1]) | 1u);
	assert_int_equal(f->t.handled, 1);
	/* Without the feature a value with data bits is no queue index. */
	assert_int_equal(negotiate(f, V1), OK_STATUS);
	setup_queue(f, 0, 8, V1);
	setup_queue(f, 1, 8, V1);
	driver_ok(f);
	add_buf(f, 1, 8);
	wr(f, VDEV_MMIO_QUEUE_NOTIFY, 1u << 16 | 1u);
	assert_int_equal(f->t.handled, 1);
	fx_free(f);
}

/* The line stays up while any event is pending. */
static void test_interrupt_line(void **state)
{
	struct fx *f = fx_new(0, 0);

	assert_int_equal(negotiate(f, V1), OK_STATUS);
	setup_queue(f, 0, 8, V1);
	driver_ok(f);
	add_buf(f, 0, 8);
	wr(f, VDEV_MMIO_QUEUE_NOTIFY, 0);
	vdev_config_changed(f->dev);
	assert_int_equal(rd(f, VDEV_MMIO_INTERRUPT_STATUS),
			 VDEV_MMIO_INT_VRING | VDEV_MMIO_INT_CONFIG);
	wr(f, VDEV_MMIO_INTERRUPT_ACK, VDEV_MMIO_INT_VRING);
	assert_int_equal(f->level, 1);
	assert_int_equal(f->lowered, 0);
	wr(f, VDEV_MMIO_INTERRUPT_ACK, VDEV_MMIO_INT_CONFIG);
	assert_int_equal(f->level, 0);
	assert_int_equal(f->lowered, 1);
	/* Acking with nothing pending does not touch the line. */
	wr(f, VDEV_MMIO_INTERRUPT_ACK, 3);
	assert_int_equal(f->lowered, 1);
	fx_free(f);
}

static void test_rng_end_to_end(void **state)
{
	char path[] = "/tmp/vdev-mmio-rng-XXXXXX";
	uint8_t src[256];
	int fd = mkstemp(path);
	struct fx *f = calloc(1, sizeof(*f));
	struct vdev_rng_config rc = { .source = path };
	struct vdev_mmio_config mc = { .set_irq = fx_irq, .opaque = f };
	uint8_t *buf[3];
	void *token;
	uint32_t len;

	assert_true(fd >= 0);
	for (int i = 0; i < 256; i++)
		src[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(write(fd, src, sizeof(src)), sizeof(src));
	close(fd);
	f->dev = vdev_rng_new(&rc);
	assert_non_null(f->dev);
	f->m = vdev_mmio_new(f->dev, &mc);
	assert_non_null(f->m);
	f->ram = vdev_drv_mem_new(0x100000, 1 << 20, 2);
	assert_int_equal(vdev_set_mem(f->dev, vdev_drv_mem_map(f->ram)), 0);
	assert_int_equal(rd(f, VDEV_MMIO_DEVICE_ID), VDEV_ID_RNG);

	assert_int_equal(negotiate(f, V1 | PACKED), OK_STATUS);
	setup_queue(f, 0, 8, V1 | PACKED);
	driver_ok(f);
	for (int i = 0; i < 3; i++)
		buf[i] = add_buf(f, 0, 64);
	wr(f, VDEV_MMIO_QUEUE_NOTIFY, 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(vdev_drv_ring_get_used(f->ring[0], &token,
							&len),
				 0);
		assert_ptr_equal(token, buf[i]);
		assert_int_equal(len, 64);
		assert_memory_equal(buf[i], src + 64 * i, 64);
	}
	assert_int_equal(rd(f, VDEV_MMIO_INTERRUPT_STATUS),
			 VDEV_MMIO_INT_VRING);
	unlink(path);
	fx_free(f);
}

/*
 * Live migration of a device on the register file with an interrupt
 * pending and a queue half set up: the device's state (vdev_save) and
 * the register file's (vdev_mmio_save) move to a new device and register
 * file on the same guest RAM; the line comes back asserted, the driver
 * reads InterruptStatus, acks it, finishes the queue it was setting up
 * and goes on with the running one.
 */
static void test_migrate_pending_interrupt(void **state)
{
	struct fx *f = fx_new(0, 0), *g = fx_new(0, 0);
	struct vdev_queue_config qc1;
	void *db, *mb, *token;
	size_t dl, ml;
	uint32_t len;
	uint8_t *p;

	(void)state;
	assert_int_equal(negotiate(f, V1), OK_STATUS);
	setup_queue(f, 0, 8, V1);
	driver_ok(f);
	p = add_buf(f, 0, 8);
	wr(f, VDEV_MMIO_QUEUE_NOTIFY, 0);
	assert_int_equal(f->level, 1);
	assert_int_equal(rd(f, VDEV_MMIO_INTERRUPT_STATUS), VDEV_MMIO_INT_VRING);
	/* Queue 1 half set up, selectors left where the driver put them. */
	f->ring[1] = vdev_drv_ring_new(f->ram, 8, V1);
	vdev_drv_ring_queue_config(f->ring[1], &qc1);
	set_queue_regs(f, 1, 8, qc1.desc_addr, qc1.driver_addr,
		       qc1.device_addr);
	wr(f, VDEV_MMIO_DEVICE_FEATURES_SEL, 1);

	/* Source: vCPUs stopped, queues stopped, both states out. */
	assert_int_equal(vdev_vq_stop(f->dev, 0, NULL), 0);
	assert_int_equal(vdev_save(f->dev, &db, &dl), 0);
	assert_int_equal(vdev_mmio_save(f->m, &mb, &ml), 0);

	/* Destination: the same guest RAM, the device first. */
	assert_int_equal(vdev_set_mem(g->dev, vdev_drv_mem_map(f->ram)), 0);
	assert_int_equal(vdev_restore(g->dev, db, dl), 0);
	assert_int_equal(g->level, 0);
	assert_int_equal(rd(g, VDEV_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(vdev_mmio_restore(g->m, mb, ml), 0);
	free(db);
	free(mb);
	assert_int_equal(g->level, 1);
	assert_int_equal(rd(g, VDEV_MMIO_INTERRUPT_STATUS),
			 VDEV_MMIO_INT_VRING);
	/* The selectors came along: DeviceFeatures shows the high word,
	 * QueueReady the half-set-up queue 1. */
	assert_int_equal(rd(g, VDEV_MMIO_DEVICE_FEATURES),
			 (uint32_t)(vdev_device_features(g->dev) >> 32));
	assert_int_equal(rd(g, VDEV_MMIO_QUEUE_READY), 0);
	assert_int_equal(vdev_drv_ring_get_used(f->ring[0], &token, &len), 0);
	assert_ptr_equal(token, p);
	wr(g, VDEV_MMIO_INTERRUPT_ACK, VDEV_MMIO_INT_VRING);
	assert_int_equal(g->level, 0);
	/* Queue 1 becomes ready with the addresses written before. */
	wr(g, VDEV_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(g, VDEV_MMIO_QUEUE_READY), 1);
	/* Both queues serve on the new device. */
	for (unsigned q = 0; q < 2; q++) {
		p = add_buf(f, q, 8);
		wr(g, VDEV_MMIO_QUEUE_NOTIFY, q);
		assert_int_equal(vdev_drv_ring_get_used(f->ring[q], &token,
							&len), 0);
		assert_ptr_equal(token, p);
		assert_int_equal(p[0], 0xa0 + q);
	}
	assert_int_equal(g->level, 1);
	vdev_set_mem(g->dev, NULL);
	fx_free(g);
	fx_free(f);
}

/* A register-file state that is not one is refused, and nothing
 * changes. */
static void test_mmio_restore_refused(void **state)
{
	struct fx *f = fx_new(0, 0);
	uint8_t *b;
	void *blob;
	size_t len;

	(void)state;
	wr(f, VDEV_MMIO_QUEUE_SEL, 1);
	assert_int_equal(vdev_mmio_save(f->m, &blob, &len), 0);
	b = blob;
	assert_int_equal(vdev_mmio_restore(f->m, b, 10), -EBADMSG);
	assert_int_equal(vdev_mmio_restore(f->m, NULL, len), -EBADMSG);
	b[0] ^= 1; /* magic */
	assert_int_equal(vdev_mmio_restore(f->m, b, len), -EBADMSG);
	b[0] ^= 1;
	b[16] = 4; /* InterruptStatus: a bit that does not exist */
	assert_int_equal(vdev_mmio_restore(f->m, b, len), -EBADMSG);
	put_le32_crc(b, len);
	assert_int_equal(vdev_mmio_restore(f->m, b, len), -EBADMSG);
	b[16] = 0;
	b[12] = 3; /* queues */
	put_le32_crc(b, len);
	assert_int_equal(vdev_mmio_restore(f->m, b, len), -EPROTO);
	b[12] = 2;
	b[8] = 2; /* version */
	put_le32_crc(b, len);
	assert_int_equal(vdev_mmio_restore(f->m, b, len), -EPROTO);
	b[8] = 1;
	put_le32_crc(b, len);
	assert_int_equal(vdev_mmio_restore(f->m, b, len - 4), -EBADMSG);
	assert_int_equal(f->level, 0);
	assert_int_equal(vdev_mmio_restore(f->m, b, len), 0);
	free(blob);
	fx_free(f);
}

static void *loop_main(void *arg)
{
	vdev_loop_run(arg);
	return NULL;
}

/*
 * A VMM without KVM gives the register file guest memory and a watcher
 * run by a thread of its own: a device with a timer (rng's rate limit)
 * then serves what its budget left waiting when the timer fires, with
 * no kick.
 */
static void test_mem_and_watcher(void **state)
{
	struct vdev_rng_config rc = { .max_bytes = 16, .period_ms = 30 };
	struct fx *f = calloc(1, sizeof(*f));
	struct vdev_loop *loop = vdev_loop_new();
	struct vdev_mmio_config mc = { .set_irq = fx_irq, .opaque = f };
	struct vdev_watcher w;
	pthread_t t;
	void *token;
	uint32_t len;
	uint8_t *b[2];
	int r = -EAGAIN;

	(void)state;
	assert_non_null(f);
	assert_non_null(loop);
	f->ram = vdev_drv_mem_new(0x100000, 1 << 20, 1);
	f->dev = vdev_rng_new(&rc);
	assert_non_null(f->dev);
	vdev_loop_watcher(loop, &w);
	mc.mem = vdev_drv_mem_map(f->ram);
	mc.watcher = &w;
	f->m = vdev_mmio_new(f->dev, &mc);
	assert_non_null(f->m);
	assert_true(vdev_has_watcher(f->dev, 0));
	assert_int_equal(pthread_create(&t, NULL, loop_main, loop), 0);
	assert_int_equal(negotiate(f, V1), OK_STATUS);
	setup_queue(f, 0, 8, V1);
	driver_ok(f);
	b[0] = add_buf(f, 0, 16);
	b[1] = add_buf(f, 0, 16);
	wr(f, VDEV_MMIO_QUEUE_NOTIFY, 0);
	/* The first within the budget at once; the second when the period
	 * ends, on the loop's thread. */
	assert_int_equal(vdev_drv_ring_get_used(f->ring[0], &token, &len), 0);
	assert_ptr_equal(token, b[0]);
	for (int i = 0; i < 200 && r == -EAGAIN; i++) {
		r = vdev_drv_ring_get_used(f->ring[0], &token, &len);
		if (r == -EAGAIN)
			usleep(10000);
	}
	assert_int_equal(r, 0);
	assert_ptr_equal(token, b[1]);
	assert_int_equal(len, 16);
	vdev_loop_stop(loop);
	pthread_join(t, NULL);
	vdev_mmio_free(f->m);
	assert_false(vdev_has_watcher(f->dev, 0));
	f->m = NULL;
	vdev_free(f->dev);
	vdev_drv_ring_free(f->ring[0]);
	vdev_drv_mem_free(f->ram);
	vdev_loop_free(loop);
	free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_new_rejects),
		cmocka_unit_test(test_device_features),
		cmocka_unit_test(test_negotiation),
		cmocka_unit_test(test_status_rules),
		cmocka_unit_test(test_bad_accesses),
		cmocka_unit_test(test_shm),
		cmocka_unit_test(test_config_space),
		cmocka_unit_test(test_transfer_split),
		cmocka_unit_test(test_transfer_packed),
		cmocka_unit_test(test_queue_refused),
		cmocka_unit_test(test_reset_midway),
		cmocka_unit_test(test_queue_reset),
		cmocka_unit_test(test_kick_fd),
		cmocka_unit_test(test_notification_data),
		cmocka_unit_test(test_interrupt_line),
		cmocka_unit_test(test_rng_end_to_end),
		cmocka_unit_test(test_migrate_pending_interrupt),
		cmocka_unit_test(test_mmio_restore_refused),
		cmocka_unit_test(test_mem_and_watcher),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
