/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-i2c with the simulated EEPROM and LM75 through the software
 * driver, in all four driver modes: writes land in the EEPROM's file,
 * repeated-start reads return its bytes (page and pointer wrap), the LM75
 * reports the temperature the host sets, absent addresses and injected
 * NACKs fail the message that hit them and the rest of the transaction,
 * quick commands, 10-bit addresses, every malformed chain answered with
 * the device going on, transactions cut by a stop, save/restore into a
 * fresh device, the control socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/i2c.h>
#include <virtio/state.h>
#include <virtio/testing.h>
#include <virtio/transport.h>

#include "tdev.h"

#define EE 0x50
#define TS 0x48
#define TEN (VDEV_I2C_ADDR_10BIT | 0x123)

struct mode {
	bool packed;
	bool eventfds;
};

static const struct mode modes[] = {
	{ false, false }, { false, true }, { true, false }, { true, true },
};

static char ee_path[64], ctl_path[64];
static uint8_t ee_init[256];

static int group_setup(void **state)
{
	snprintf(ee_path, sizeof(ee_path), "/tmp/vdev-i2c-ee-%d", (int)getpid());
	snprintf(ctl_path, sizeof(ctl_path), "/tmp/vdev-i2c-ctl-%d",
		 (int)getpid());
	for (int i = 0; i < 256; i++)
		ee_init[i] = (uint8_t)(i * 7 + 3);
	return 0;
}

static int group_teardown(void **state)
{
	unlink(ee_path);
	unlink(ctl_path);
	return 0;
}

static void ee_reset(void)
{
	int fd = open(ee_path, O_CREAT | O_TRUNC | O_WRONLY, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, ee_init, 256), 256);
	close(fd);
}

static uint8_t ee_byte(unsigned off)
{
	uint8_t b = 0;
	int fd = open(ee_path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, off), 1);
	close(fd);
	return b;
}

static const struct vdev_i2c_client clients[] = {
	{ VDEV_I2C_EEPROM, EE, NULL /* ee_path */ },
	{ VDEV_I2C_LM75, TS, NULL },
	{ VDEV_I2C_LM75, TEN, NULL },
};

static struct vdev *new_dev(const char *control)
{
	struct vdev_i2c_client c[3];
	struct vdev_i2c_config cfg = { .clients = c, .nclients = 3,
				       .control = control };

	memcpy(c, clients, sizeof(c));
	c[0].path = ee_path;
	return vdev_i2c_new(&cfg);
}

static struct vdev_drv *make(const struct mode *m, struct vdev **devp,
			     const char *control)
{
	struct vdev_drv_config dc = {
		.packed = m->packed,
		.use_eventfds = m->eventfds,
		/* room for the longest transaction, 2-3 descriptors each */
		.queue_size = 256,
	};
	struct vdev *dev;
	struct vdev_drv *drv;

	ee_reset();
	dev = new_dev(control);
	assert_non_null(dev);
	drv = vdev_drv_new(dev, &dc);
	assert_non_null(drv);
	assert_int_equal(vdev_drv_init(drv), 0);
	assert_true(vdev_drv_features(drv) &
		    VDEV_BIT(VDEV_I2C_F_ZERO_LENGTH_REQUEST));
	*devp = dev;
	return drv;
}

static void destroy(struct vdev_drv *drv, struct vdev *dev)
{
	vdev_drv_free(drv);
	vdev_free(dev);
}


#define M(w, f, l, ...) { .wire = (w), .flags = (f), .len = (l), .data = (__VA_ARGS__) }

static uint16_t wire7(uint8_t a)
{
	return (uint16_t)(a << 1);
}

static uint16_t wire10(uint16_t a)
{
	a &= 0x3ff;
	return (uint16_t)(0xf0 | (a >> 8) << 1 | (a & 0xff) << 8);
}

/* Sends @n messages as one transaction and waits for all of them. */
static void txn(struct vdev_drv *drv, struct ti2c_msg *m, unsigned n)
{
	assert_int_equal(ti2c_txn(drv, m, n), 0);
}

/* A write of @len bytes to 7-bit @a; the status. */
static int wr(struct vdev_drv *drv, uint8_t a, const uint8_t *b, uint16_t len)
{
	struct ti2c_msg m = M(wire7(a), 0, len, (uint8_t *)b);

	txn(drv, &m, 1);
	assert_int_equal(m.used, 1);
	return m.status;
}

/* Write @reg, repeated start, read @len: the status of the read. */
static int rd_reg(struct vdev_drv *drv, uint16_t wire, uint8_t reg,
		  uint8_t *out, uint16_t len)
{
	struct ti2c_msg m[2] = {
		M(wire, 0, 1, &reg),
		M(wire, VDEV_I2C_FLAGS_M_RD, len, out),
	};

	txn(drv, m, 2);
	if (m[0].status)
		return m[0].status;
	assert_int_equal(m[1].used, len + 1u);
	return m[1].status;
}

static void test_eeprom(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev *dev;
		struct vdev_drv *drv = make(&modes[k], &dev, NULL);
		uint8_t b[16];

		/* i2cset -y 0 0x50 0x10 0xab */
		assert_int_equal(wr(drv, EE, (uint8_t[]){ 0x10, 0xab }, 2), 0);
		assert_int_equal(ee_byte(0x10), 0xab);
		/* i2ctransfer w1@0x50 0x00 r16 */
		assert_int_equal(rd_reg(drv, wire7(EE), 0, b, 16), 0);
		for (int i = 0; i < 16; i++)
			assert_int_equal(b[i], i == 0x10 ? 0xab : ee_init[i]);
		/* A page write wraps inside its 8-byte page. */
		assert_int_equal(wr(drv, EE, (uint8_t[]){ 0x06, 1, 2, 3, 4 }, 5),
				 0);
		assert_int_equal(ee_byte(6), 1);
		assert_int_equal(ee_byte(7), 2);
		assert_int_equal(ee_byte(0), 3);
		assert_int_equal(ee_byte(1), 4);
		assert_int_equal(ee_byte(8), ee_init[8]);
		/* Reads wrap at 256; a read without a write goes on from the
		 * pointer. */
		assert_int_equal(rd_reg(drv, wire7(EE), 0xfe, b, 3), 0);
		assert_int_equal(b[0], ee_init[0xfe]);
		assert_int_equal(b[1], ee_init[0xff]);
		assert_int_equal(b[2], 3);
		{
			struct ti2c_msg m = M(wire7(EE), VDEV_I2C_FLAGS_M_RD, 1, b);

			txn(drv, &m, 1);
			assert_int_equal(m.status, 0);
			assert_int_equal(b[0], 4);
		}
		/* The file is the EEPROM: a change there is read next. */
		{
			int fd = open(ee_path, O_WRONLY);
			uint8_t v = 0x5a;

			assert_int_equal(pwrite(fd, &v, 1, 0x80), 1);
			close(fd);
			assert_int_equal(rd_reg(drv, wire7(EE), 0x80, b, 1), 0);
			assert_int_equal(b[0], 0x5a);
		}
		destroy(drv, dev);
	}
}

static void test_lm75(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev *dev;
		struct vdev_drv *drv = make(&modes[k], &dev, NULL);
		uint8_t b[2];

		assert_int_equal(rd_reg(drv, wire7(TS), 0, b, 2), 0);
		assert_int_equal(b[0], 25);
		assert_int_equal(b[1], 0);
		assert_int_equal(vdev_i2c_sim_set_temp(dev, TS, 31500), 0);
		assert_int_equal(rd_reg(drv, wire7(TS), 0, b, 2), 0);
		assert_int_equal(b[0], 31);
		assert_int_equal(b[1], 0x80);
		assert_int_equal(vdev_i2c_sim_set_temp(dev, TS, -10000), 0);
		assert_int_equal(rd_reg(drv, wire7(TS), 0, b, 2), 0);
		assert_int_equal(b[0], 0xf6);
		assert_int_equal(b[1], 0);
		/* T_os defaults to 80, takes a write; config is one byte. */
		assert_int_equal(rd_reg(drv, wire7(TS), 3, b, 2), 0);
		assert_int_equal(b[0], 80);
		assert_int_equal(wr(drv, TS, (uint8_t[]){ 3, 90, 0x80 }, 3), 0);
		assert_int_equal(rd_reg(drv, wire7(TS), 3, b, 2), 0);
		assert_int_equal(b[0], 90);
		assert_int_equal(b[1], 0x80);
		assert_int_equal(wr(drv, TS, (uint8_t[]){ 1, 0x18 }, 2), 0);
		assert_int_equal(rd_reg(drv, wire7(TS), 1, b, 1), 0);
		assert_int_equal(b[0], 0x18);
		/* The temperature is read-only. */
		assert_int_equal(wr(drv, TS, (uint8_t[]){ 0, 1, 0 }, 3), 0);
		assert_int_equal(rd_reg(drv, wire7(TS), 0, b, 2), 0);
		assert_int_equal(b[0], 0xf6);
		/* The 10-bit sensor answers at its address only. */
		assert_int_equal(vdev_i2c_sim_set_temp(dev, TEN, 42000), 0);
		assert_int_equal(rd_reg(drv, wire10(0x123), 0, b, 2), 0);
		assert_int_equal(b[0], 42);
		assert_int_equal(rd_reg(drv, wire10(0x124), 0, b, 2),
				 VDEV_I2C_MSG_ERR);
		assert_int_equal(rd_reg(drv, wire10(0x023), 0, b, 2),
				 VDEV_I2C_MSG_ERR);
		assert_int_equal(vdev_i2c_sim_set_temp(dev, EE, 1), -EINVAL);
		destroy(drv, dev);
	}
}

static void test_absent_quick(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev *dev;
		struct vdev_drv *drv = make(&modes[k], &dev, NULL);
		uint8_t b[4] = { 0x20, 9 }, r[2];

		/* i2cget -y 0 0x51 0 fails */
		assert_int_equal(rd_reg(drv, wire7(0x51), 0, r, 1),
				 VDEV_I2C_MSG_ERR);
		/* quick commands (i2cdetect -q): only present clients ack */
		assert_int_equal(wr(drv, EE, NULL, 0), 0);
		assert_int_equal(wr(drv, TS, NULL, 0), 0);
		assert_int_equal(wr(drv, 0x51, NULL, 0), VDEV_I2C_MSG_ERR);
		{
			struct ti2c_msg m = M(wire7(EE), VDEV_I2C_FLAGS_M_RD, 0, r);

			txn(drv, &m, 1);
			assert_int_equal(m.status, 0);
		}
		/* A transaction: OK up to the absent client, ERR from it on,
		 * and what came before it was done. */
		{
			struct ti2c_msg m[3] = {
				M(wire7(EE), 0, 2, b),
				M(wire7(0x51), 0, 2, b),
				M(wire7(EE), 0, 2, (uint8_t[]){ 0x21, 7 }),
			};

			txn(drv, m, 3);
			assert_int_equal(m[0].status, 0);
			assert_int_equal(m[1].status, VDEV_I2C_MSG_ERR);
			assert_int_equal(m[2].status, VDEV_I2C_MSG_ERR);
			assert_int_equal(ee_byte(0x20), 9);
			assert_int_equal(ee_byte(0x21), ee_init[0x21]);
		}
		destroy(drv, dev);
	}
}

static void test_nack(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev *dev;
		struct vdev_drv *drv = make(&modes[k], &dev, NULL);
		uint8_t r[4];

		/* byte 0: the address is not acknowledged, once */
		assert_int_equal(vdev_i2c_sim_nack(dev, EE, 0), 0);
		assert_int_equal(wr(drv, EE, (uint8_t[]){ 0x30, 1 }, 2),
				 VDEV_I2C_MSG_ERR);
		assert_int_equal(ee_byte(0x30), ee_init[0x30]);
		assert_int_equal(wr(drv, EE, (uint8_t[]){ 0x30, 1 }, 2), 0);
		assert_int_equal(ee_byte(0x30), 1);
		/* byte 3 of [addr 0x31 5 6]: 0x31 and 5 went, 6 did not */
		assert_int_equal(vdev_i2c_sim_nack(dev, EE, 3), 0);
		assert_int_equal(wr(drv, EE, (uint8_t[]){ 0x31, 5, 6 }, 3),
				 VDEV_I2C_MSG_ERR);
		assert_int_equal(ee_byte(0x31), 5);
		assert_int_equal(ee_byte(0x32), ee_init[0x32]);
		/* in a transaction: the write (2 bytes on the wire) passes,
		 * the read's address (byte 2) is refused */
		assert_int_equal(vdev_i2c_sim_nack(dev, EE, 2), 0);
		{
			struct ti2c_msg m[2] = {
				M(wire7(EE), 0, 1, (uint8_t[]){ 0 }),
				M(wire7(EE), VDEV_I2C_FLAGS_M_RD, 4, r),
			};

			txn(drv, m, 2);
			assert_int_equal(m[0].status, 0);
			assert_int_equal(m[1].status, VDEV_I2C_MSG_ERR);
		}
		/* cleared before it fired: nothing happens */
		assert_int_equal(vdev_i2c_sim_nack(dev, TS, 0), 0);
		assert_int_equal(vdev_i2c_sim_nack(dev, TS, -1), 0);
		assert_int_equal(rd_reg(drv, wire7(TS), 0, r, 2), 0);
		assert_int_equal(vdev_i2c_sim_nack(dev, 0x51, 0), -EINVAL);
		destroy(drv, dev);
	}
}

/* One chain of raw segments; returns status (or -1 without one) and
 * *used. */
static int raw(struct vdev_drv *drv, const void *out, uint32_t olen,
	       uint32_t ilen, uint32_t *used)
{
	struct vdev_drv_mem *mem = vdev_drv_get_mem(drv);
	size_t mark = vdev_drv_mem_mark(mem);
	struct vdev_drv_seg segs[2];
	uint8_t *o = vdev_drv_mem_alloc(mem, olen ? olen : 1, 8, &segs[0].gpa);
	uint8_t *in = vdev_drv_mem_alloc(mem, ilen ? ilen : 1, 1, &segs[1].gpa);
	unsigned nout = olen ? 1 : 0, nin = ilen ? 1 : 0;
	void *tok;
	int st;

	memcpy(o, out, olen);
	memset(in, 0xee, ilen ? ilen : 1);
	segs[0].len = olen;
	segs[1].len = ilen;
	if (!nout)
		segs[0] = segs[1];
	assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(drv, 0), segs, nout,
					   nin, (void *)1, 0), 0);
	assert_int_equal(vdev_drv_kick(drv, 0), 0);
	assert_int_equal(vdev_drv_wait(drv, 0, 2000, &tok, used), 0);
	st = ilen ? in[ilen - 1] : -1;
	vdev_drv_mem_reset_to(mem, mark);
	return st;
}

static void test_malformed(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev *dev;
		struct vdev_drv *drv = make(&modes[k], &dev, NULL);
		uint8_t h[8 + VDEV_I2C_MSG_MAX + 1] = { EE << 1 };
		uint32_t used;

		/* short header */
		assert_int_equal(raw(drv, h, 6, 1, &used), VDEV_I2C_MSG_ERR);
		assert_int_equal(raw(drv, h, 0, 1, &used), VDEV_I2C_MSG_ERR);
		/* reserved flag bits */
		h[4] = 4;
		assert_int_equal(raw(drv, h, 8, 1, &used), VDEV_I2C_MSG_ERR);
		h[4] = 0x80;
		assert_int_equal(raw(drv, h, 8, 1, &used), VDEV_I2C_MSG_ERR);
		h[4] = 0;
		h[7] = 0x80;
		assert_int_equal(raw(drv, h, 8, 1, &used), VDEV_I2C_MSG_ERR);
		h[7] = 0;
		/* a read with data to write, a write with room to read */
		h[4] = VDEV_I2C_FLAGS_M_RD;
		assert_int_equal(raw(drv, h, 9, 2, &used), VDEV_I2C_MSG_ERR);
		h[4] = 0;
		assert_int_equal(raw(drv, h, 9, 2, &used), VDEV_I2C_MSG_ERR);
		/* too long, either way */
		assert_int_equal(raw(drv, h, 8 + VDEV_I2C_MSG_MAX + 1, 1, &used),
				 VDEV_I2C_MSG_ERR);
		h[4] = VDEV_I2C_FLAGS_M_RD;
		assert_int_equal(raw(drv, h, 8, VDEV_I2C_MSG_MAX + 2, &used),
				 VDEV_I2C_MSG_ERR);
		assert_int_equal(used, VDEV_I2C_MSG_MAX + 2);
		h[4] = 0;
		/* addresses that are neither 7- nor 10-bit */
		h[0] = EE << 1 | 1;
		assert_int_equal(raw(drv, h, 8, 1, &used), VDEV_I2C_MSG_ERR);
		h[0] = EE << 1;
		h[1] = 1;
		assert_int_equal(raw(drv, h, 8, 1, &used), VDEV_I2C_MSG_ERR);
		h[1] = 0;
		/* no status byte: returned with nothing written */
		assert_int_equal(raw(drv, h, 8, 0, &used), -1);
		assert_int_equal(used, 0);
		/* The device goes on. */
		assert_int_equal(wr(drv, EE, (uint8_t[]){ 0x40, 0x11 }, 2), 0);
		assert_int_equal(ee_byte(0x40), 0x11);
		assert_false(vdev_drv_status(drv) &
			     VDEV_STATUS_DEVICE_NEEDS_RESET);
		destroy(drv, dev);
	}
}

/* A malformed message inside a transaction fails it from there on. */
static void test_malformed_in_txn(void **state)
{
	struct vdev *dev;
	struct vdev_drv *drv = make(&modes[1], &dev, NULL);
	struct ti2c_msg m[3] = {
		M(wire7(EE), 0, 2, (uint8_t[]){ 0x50, 1 }),
		M(wire7(EE) | 1, 0, 2, (uint8_t[]){ 0x51, 2 }),
		M(wire7(EE), 0, 2, (uint8_t[]){ 0x52, 3 }),
	};

	txn(drv, m, 3);
	assert_int_equal(m[0].status, 0);
	assert_int_equal(m[1].status, VDEV_I2C_MSG_ERR);
	assert_int_equal(m[2].status, VDEV_I2C_MSG_ERR);
	assert_int_equal(ee_byte(0x50), 1);
	assert_int_equal(ee_byte(0x52), ee_init[0x52]);
	destroy(drv, dev);
}

static void test_long_txn(void **state)
{
	struct vdev *dev;
	struct vdev_drv *drv = make(&modes[1], &dev, NULL);
	struct ti2c_msg m[VDEV_I2C_TXN_MAX + 1];
	uint8_t b[2] = { 0x60, 0x77 };

	/* The longest transaction the device takes works... */
	for (unsigned i = 0; i < VDEV_I2C_TXN_MAX; i++)
		m[i] = (struct ti2c_msg)M(wire7(EE), 0, 2, b);
	txn(drv, m, VDEV_I2C_TXN_MAX);
	for (unsigned i = 0; i < VDEV_I2C_TXN_MAX; i++)
		assert_int_equal(m[i].status, 0);
	/* ...one more fails whole, and the device goes on. */
	b[1] = 0x78;
	for (unsigned i = 0; i <= VDEV_I2C_TXN_MAX; i++)
		m[i] = (struct ti2c_msg)M(wire7(EE), 0, 2, b);
	txn(drv, m, VDEV_I2C_TXN_MAX + 1);
	for (unsigned i = 0; i <= VDEV_I2C_TXN_MAX; i++)
		assert_int_equal(m[i].status, VDEV_I2C_MSG_ERR);
	assert_int_equal(ee_byte(0x60), 0x77);
	assert_int_equal(wr(drv, EE, (uint8_t[]){ 0x60, 0x79 }, 2), 0);
	assert_int_equal(ee_byte(0x60), 0x79);
	destroy(drv, dev);
}

/* A transaction whose end never came is failed by a stop, not lost. */
static void test_cut_txn(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev *dev;
		struct vdev_drv *drv = make(&modes[k], &dev, NULL);
		struct vdev_drv_mem *mem = vdev_drv_get_mem(drv);
		struct vdev_drv_seg segs[2];
		struct vdev_i2c_out_hdr *h;
		uint8_t *st;
		void *tok;
		uint32_t len;

		h = vdev_drv_mem_alloc(mem, 10, 8, &segs[0].gpa);
		st = vdev_drv_mem_alloc(mem, 1, 1, &segs[1].gpa);
		h->addr = vdev_cpu_to_le16(wire7(EE));
		h->flags = vdev_cpu_to_le32(VDEV_I2C_FLAGS_FAIL_NEXT);
		memcpy(h + 1, (uint8_t[]){ 0x70, 0x42 }, 2);
		segs[0].len = 10;
		segs[1].len = 1;
		*st = 0xee;
		assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(drv, 0), segs,
						   1, 1, (void *)1, 0), 0);
		assert_int_equal(vdev_drv_kick(drv, 0), 0);
		assert_int_equal(vdev_drv_wait(drv, 0, 100, &tok, &len),
				 -ETIMEDOUT);
		assert_int_equal(vdev_drv_stop_queue(drv, 0, NULL), 0);
		assert_int_equal(vdev_drv_ring_get_used(vdev_drv_ring(drv, 0),
							&tok, &len), 0);
		assert_int_equal(*st, VDEV_I2C_MSG_ERR);
		assert_int_equal(ee_byte(0x70), ee_init[0x70]);
		destroy(drv, dev);
	}
}

static void test_state(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev *dev, *dev2;
		struct vdev_drv *drv = make(&modes[k], &dev, NULL);
		uint8_t b[2];
		void *blob;
		size_t blen;

		assert_int_equal(vdev_i2c_sim_set_temp(dev, TS, 55000), 0);
		/* pointers: the LM75 at T_os, the EEPROM at 0x11 */
		assert_int_equal(wr(drv, TS, (uint8_t[]){ 3 }, 1), 0);
		assert_int_equal(rd_reg(drv, wire7(EE), 0x10, b, 1), 0);
		assert_int_equal(vdev_i2c_sim_nack(dev, TEN, 0), 0);
		assert_int_equal(vdev_drv_stop_queue(drv, 0, NULL), 0);
		assert_int_equal(vdev_save(dev, &blob, &blen), 0);

		/* Another bus refuses the blob. */
		{
			struct vdev_i2c_client c = { VDEV_I2C_LM75, TS, NULL };
			struct vdev_i2c_config cfg = { .clients = &c,
						       .nclients = 1 };

			dev2 = vdev_i2c_new(&cfg);
			assert_non_null(dev2);
			assert_int_equal(vdev_set_mem(dev2, vdev_get_mem(dev)),
					 0);
			assert_int_equal(vdev_restore(dev2, blob, blen),
					 -EBADMSG);
			vdev_free(dev2);
		}
		dev2 = new_dev(NULL);
		assert_non_null(dev2);
		assert_int_equal(vdev_set_mem(dev2, vdev_get_mem(dev)), 0);
		assert_int_equal(vdev_restore(dev2, blob, blen), 0);
		free(blob);
		/* The driver's ring, served by the restored device: reads
		 * go on from where the pointers were. */
		{
			struct vdev_drv_mem *mem = vdev_drv_get_mem(drv);
			struct vdev_drv_seg segs[2];
			struct vdev_i2c_out_hdr *h;
			uint8_t *in;
			void *tok;
			uint32_t len;

			h = vdev_drv_mem_alloc(mem, 8, 8, &segs[0].gpa);
			in = vdev_drv_mem_alloc(mem, 3, 1, &segs[1].gpa);
			h->addr = vdev_cpu_to_le16(wire7(TS));
			h->flags = vdev_cpu_to_le32(VDEV_I2C_FLAGS_M_RD);
			segs[0].len = 8;
			segs[1].len = 3;
			assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(drv, 0),
							   segs, 1, 1,
							   (void *)1, 0), 0);
			assert_int_equal(vdev_vq_kick(dev2, 0, 0), 0);
			assert_int_equal(vdev_drv_ring_get_used(
					 vdev_drv_ring(drv, 0), &tok, &len), 0);
			assert_int_equal(in[2], VDEV_I2C_MSG_OK);
			assert_int_equal(in[0], 80); /* T_os, not temp */
			h->addr = vdev_cpu_to_le16(wire7(EE));
			assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(drv, 0),
							   segs, 1, 1,
							   (void *)2, 0), 0);
			assert_int_equal(vdev_vq_kick(dev2, 0, 0), 0);
			assert_int_equal(vdev_drv_ring_get_used(
					 vdev_drv_ring(drv, 0), &tok, &len), 0);
			assert_int_equal(in[0], ee_init[0x11]);
			assert_int_equal(in[1], ee_init[0x12]);
			/* the pending NACK came along */
			h->addr = vdev_cpu_to_le16(wire10(0x123));
			assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(drv, 0),
							   segs, 1, 1,
							   (void *)3, 0), 0);
			assert_int_equal(vdev_vq_kick(dev2, 0, 0), 0);
			assert_int_equal(vdev_drv_ring_get_used(
					 vdev_drv_ring(drv, 0), &tok, &len), 0);
			assert_int_equal(in[2], VDEV_I2C_MSG_ERR);
		}
		assert_int_equal(vdev_i2c_sim_set_temp(dev2, TS, 0), 0);
		vdev_free(dev2);
		destroy(drv, dev);
	}
}

static void ctl_cmd(struct vdev_drv *drv, const char *cmd, char *r,
		    size_t len)
{
	tctl(ctl_path, cmd, r, len, drv);
}

static void test_control(void **state)
{
	struct vdev *dev;
	struct vdev_drv *drv;
	char r[160];
	uint8_t b[2];

	unlink(ctl_path);
	drv = make(&modes[0], &dev, ctl_path);
	ctl_cmd(drv, "temp 0x48 -5500\n", r, sizeof(r));
	assert_string_equal(r, "ok\n");
	assert_int_equal(rd_reg(drv, wire7(TS), 0, b, 2), 0);
	assert_int_equal(b[0], 0xfa);
	assert_int_equal(b[1], 0x80);
	ctl_cmd(drv, "nack 80 0\n", r, sizeof(r));
	assert_string_equal(r, "ok\n");
	assert_int_equal(wr(drv, EE, NULL, 0), VDEV_I2C_MSG_ERR);
	assert_int_equal(wr(drv, EE, NULL, 0), 0);
	ctl_cmd(drv, "nack 0x50 1\n", r, sizeof(r));
	ctl_cmd(drv, "nack 0x50 off\n", r, sizeof(r));
	assert_string_equal(r, "ok\n");
	assert_int_equal(wr(drv, EE, (uint8_t[]){ 0 }, 1), 0);
	ctl_cmd(drv, "temp 0x50 1000\n", r, sizeof(r));
	assert_true(!strncmp(r, "err ", 4));
	ctl_cmd(drv, "temp 0x51 1000\n", r, sizeof(r));
	assert_true(!strncmp(r, "err ", 4));
	ctl_cmd(drv, "temp 0x48 lots\n", r, sizeof(r));
	assert_true(!strncmp(r, "err ", 4));
	ctl_cmd(drv, "nack 0x48 -1\n", r, sizeof(r));
	assert_true(!strncmp(r, "err ", 4));
	ctl_cmd(drv, "frob\n", r, sizeof(r));
	assert_true(!strncmp(r, "err ", 4));
	destroy(drv, dev);
	assert_int_equal(access(ctl_path, F_OK), -1);
}

static void test_new_errors(void **state)
{
	struct vdev_i2c_client c[2] = {
		{ VDEV_I2C_LM75, TS, NULL }, { VDEV_I2C_LM75, TS, NULL },
	};
	struct vdev_i2c_config cfg = { .clients = c, .nclients = 2 };

	errno = 0;
	assert_null(vdev_i2c_new(NULL));
	assert_int_equal(errno, EINVAL);
	assert_null(vdev_i2c_new(&cfg)); /* the same address twice */
	assert_int_equal(errno, EINVAL);
	c[1].addr = 0x80;                /* not 7-bit */
	assert_null(vdev_i2c_new(&cfg));
	assert_int_equal(errno, EINVAL);
	c[1].addr = VDEV_I2C_ADDR_10BIT | 0x400;
	assert_null(vdev_i2c_new(&cfg));
	c[1] = (struct vdev_i2c_client){ VDEV_I2C_HOST, 0x50,
					 "/nonexistent/i2c-9" };
	assert_null(vdev_i2c_new(&cfg));
	assert_int_equal(errno, ENOENT);
	c[1] = (struct vdev_i2c_client){ VDEV_I2C_EEPROM, 0x50, NULL };
	assert_null(vdev_i2c_new(&cfg));
	c[1].path = "/nonexistent/dir/ee";
	assert_null(vdev_i2c_new(&cfg));
	assert_int_equal(errno, ENOENT);
	c[1].path = "/tmp"; /* not a file */
	assert_null(vdev_i2c_new(&cfg));
	cfg.nclients = 0;
	assert_null(vdev_i2c_new(&cfg));
	cfg.nclients = VDEV_I2C_MAX_CLIENTS + 1;
	assert_null(vdev_i2c_new(&cfg));
	assert_int_equal(vdev_i2c_sim_nack(NULL, 0x50, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eeprom),
		cmocka_unit_test(test_lm75),
		cmocka_unit_test(test_absent_quick),
		cmocka_unit_test(test_nack),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_malformed_in_txn),
		cmocka_unit_test(test_long_txn),
		cmocka_unit_test(test_cut_txn),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_control),
		cmocka_unit_test(test_new_errors),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
