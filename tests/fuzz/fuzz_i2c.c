/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the virtio-i2c parser and transaction logic
 * (i2c.c, i2c_sim.c): up to four chains made available at once (one
 * transaction or several, as their FAIL_NEXT bits say), contents and
 * shape from the fuzzer, driven through the software driver against a
 * simulated EEPROM at 0x50 (a temporary file) and LM75s at 0x48 and at
 * the 10-bit address 0x123.
 *
 * Input:
 *   [0] chains (1 + v % 4); bit 2: a NACK at byte ([0] >> 3) on 0x50
 *   per chain: [nout (1 + v % 2) | nin (v >> 4) % 3], then one byte
 *   length per descriptor (0 counts as 1)
 *   then the device-readable bytes of every chain in order.
 * Every chain completes (a transaction left open by the last chain is
 * failed by the reset that ends the input), with at most its writable
 * bytes; the queue never breaks.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <virtio/i2c.h>
#include <virtio/testing.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vdev *dev;
static struct vdev_drv *drv;

static void setup(void)
{
	static char path[] = "/tmp/vdev-fuzz-i2c-XXXXXX";
	struct vdev_i2c_client c[3] = {
		{ VDEV_I2C_EEPROM, 0x50, path },
		{ VDEV_I2C_LM75, 0x48, NULL },
		{ VDEV_I2C_LM75, VDEV_I2C_ADDR_10BIT | 0x123, NULL },
	};
	struct vdev_i2c_config cfg = { .clients = c, .nclients = 3 };
	struct vdev_drv_config dcfg = { .mem_size = 1u << 20,
					.queue_size = 64 };
	int fd = mkstemp(path);

	if (fd < 0)
		abort();
	close(fd);
	dev = vdev_i2c_new(&cfg);
	unlink(path);
	if (!dev)
		abort();
	drv = vdev_drv_new(dev, &dcfg);
	if (!drv || vdev_drv_init(drv))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vdev_drv_mem *m;
	unsigned nchains, pos = 1, done = 0;
	uint32_t in_total[4] = { 0 };
	size_t mark;
	struct {
		struct vdev_drv_seg segs[4];
		unsigned nout, nin;
	} ch[4];
	void *tok;
	uint32_t used;
	int r;

	if (size < 2)
		return 0;
	if (!dev)
		setup();
	nchains = 1 + data[0] % 4;
	for (unsigned c = 0; c < nchains; c++) {
		if (pos >= size)
			return 0;
		ch[c].nout = 1 + data[pos] % 2;
		ch[c].nin = (data[pos] >> 4) % 3;
		pos++;
		if (size - pos < ch[c].nout + ch[c].nin)
			return 0;
		for (unsigned i = 0; i < ch[c].nout + ch[c].nin; i++)
			ch[c].segs[i].len = data[pos++] ? data[pos - 1] : 1;
	}
	if (data[0] & 4)
		vdev_i2c_sim_nack(dev, 0x50, data[0] >> 3);
	m = vdev_drv_get_mem(drv);
	mark = vdev_drv_mem_mark(m);
	for (unsigned c = 0; c < nchains; c++) {
		for (unsigned i = 0; i < ch[c].nout + ch[c].nin; i++) {
			uint8_t *p = vdev_drv_mem_alloc(m, ch[c].segs[i].len, 1,
							&ch[c].segs[i].gpa);

			if (!p)
				abort();
			if (i < ch[c].nout && pos < size) {
				size_t k = size - pos < ch[c].segs[i].len ?
					   size - pos : ch[c].segs[i].len;

				memcpy(p, data + pos, k);
				pos += k;
			}
			if (i >= ch[c].nout)
				in_total[c] += ch[c].segs[i].len;
		}
		if (vdev_drv_ring_add(vdev_drv_ring(drv, 0), ch[c].segs,
				      ch[c].nout, ch[c].nin,
				      (void *)(uintptr_t)(c + 1), 0))
			abort();
	}
	if (vdev_drv_kick(drv, 0))
		abort();
	while ((r = vdev_drv_ring_get_used(vdev_drv_ring(drv, 0), &tok,
					   &used)) == 0) {
		unsigned c = (unsigned)(uintptr_t)tok - 1;

		if (c >= nchains || used > in_total[c])
			abort();
		done++;
	}
	if (r != -EAGAIN || vdev_queue_broken(vdev_get_queue(dev, 0)))
		abort();
	if (done < nchains) {
		/* an open transaction: a reset must fail it, not lose it */
		if (vdev_drv_stop_queue(drv, 0, NULL))
			abort();
		while (vdev_drv_ring_get_used(vdev_drv_ring(drv, 0), &tok,
					      &used) == 0)
			done++;
		if (done != nchains || vdev_drv_init(drv))
			abort();
	}
	vdev_drv_mem_reset_to(m, mark);
	return 0;
}
