/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the virtio-mmio register file: a hostile driver
 * issuing any sequence of register and config accesses, with guest RAM
 * whose contents (rings, buffers) also come from the fuzzer.
 *
 * Input: [0..1] number of accesses N (little-endian), then N 8-byte
 * accesses:
 *   [0] bit 0 write, bits 1-2 size (1, 2, 4, 8), bit 3 offset from the
 *       table of defined registers instead of raw
 *   [1..2] offset (raw, or index into the register table)
 *   [3] nothing
 *   [4..7] value (little-endian)
 * and what follows is the start of guest RAM (64 KiB at guest address 0,
 * zero-padded), where the accesses may place rings and buffers.
 * The device has two queues; its handler pops, fills every writable
 * buffer, pushes, and checks that every iovec lies inside guest RAM.
 * VDEV_FUZZ_FLIP=1: a thread keeps changing guest RAM meanwhile (the
 * double-fetch mode, tests/lib/flipper.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <virtio/mmio.h>
#include <virtio/queue.h>
#include <virtio/spec.h>
#include <virtio/testing.h>
#include <virtio/transport.h>

#include "flipper.h"

#define BASE 0x0ull
#define RAM (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint16_t regs[] = {
	0x000, 0x004, 0x008, 0x00c, 0x010, 0x014, 0x020, 0x024, 0x030,
	0x034, 0x038, 0x044, 0x050, 0x060, 0x064, 0x070, 0x080, 0x084,
	0x090, 0x094, 0x0a0, 0x0a4, 0x0ac, 0x0b0, 0x0b4, 0x0b8, 0x0bc,
	0x0c0, 0x0fc, 0x100, 0x104, 0x108,
};

static struct vdev_drv_mem *ram;

/* Every iovec must lie inside one region of the device's memory map. */
static void check_iov(struct vdev *dev, const struct vdev_req *req)
{
	struct vdev_mem *map = vdev_get_mem(dev);

	for (unsigned i = 0; i < (unsigned)req->nout + req->nin; i++) {
		const uint8_t *p = req->iov[i].iov_base;
		size_t len = req->iov[i].iov_len;
		bool ok = false;

		for (unsigned k = 0; k < vdev_mem_count(map); k++) {
			struct vdev_mem_region r;
			const uint8_t *h;

			vdev_mem_region_get(map, k, &r);
			h = r.host;
			if (h && p >= h && len <= r.size &&
			    (uint64_t)(p - h) <= r.size - len)
				ok = true;
		}
		if (!ok)
			abort();
	}
}

static void fz_handle(struct vdev *dev, unsigned qidx, struct vdev_queue *q)
{
	struct iovec iov[8];
	struct vdev_req req = { .iov = iov, .iov_max = 8 };

	while (vdev_queue_pop(q, &req) == 0) {
		check_iov(dev, &req);
		for (unsigned i = 0; i < req.nin; i++)
			memset(req.in[i].iov_base, 0x5a, req.in[i].iov_len);
		vdev_queue_push(q, &req, req.in_bytes);
	}
	vdev_queue_notify(q);
}

static int fz_config_write(struct vdev *dev, uint32_t off, const void *d,
			   uint32_t len)
{
	return 0;
}

static const struct vdev_ops fz_ops = {
	.config_write = fz_config_write,
	.handle = fz_handle,
};

static void fz_irq(void *opaque, bool level)
{
	/* The line itself is not under test. */
}

static void quiet(enum vdev_log_level lvl, const char *msg, void *opaque)
{
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct vdev_info info = {
		.name = "fuzz",
		.device_id = 1,
		.features = VDEV_BIT(0) | VDEV_BIT(5),
		.num_queues = 2,
		.max_queue_size = 64,
		.config_size = 8,
	};
	struct vdev_mmio_config mc = {
		.set_irq = fz_irq,
		.hide_features = VDEV_BIT(VDEV_F_EVENT_IDX),
	};
	struct vdev *dev;
	struct vdev_mmio *m;
	const uint8_t *ops;
	size_t nops;

	if (size < 2)
		return 0;
	nops = (size_t)data[0] | (size_t)data[1] << 8;
	data += 2;
	size -= 2;
	if (nops > size / 8)
		nops = size / 8;
	ops = data;
	data += nops * 8;
	size -= nops * 8;

	if (!ram) {
		vdev_set_log_fn(quiet, NULL, VDEV_LOG_ERROR);
		ram = vdev_drv_mem_new(BASE, RAM, 1);
		if (!ram)
			abort();
		if (flipper_fuzz_mode())
			flipper_fuzz_start(
				(void *[]){ vdev_drv_mem_host(ram, BASE) },
				(size_t[]){ RAM }, 1);
	}
	memset(vdev_drv_mem_host(ram, BASE), 0, RAM);
	memcpy(vdev_drv_mem_host(ram, BASE), data, size < RAM ? size : RAM);

	dev = vdev_new(&info, &fz_ops, NULL);
	m = dev ? vdev_mmio_new(dev, &mc) : NULL;
	if (!m || vdev_set_mem(dev, vdev_drv_mem_map(ram)) < 0)
		abort();
	for (; nops; ops += 8, nops--) {
		unsigned sz = 1u << ((ops[0] >> 1) & 3);
		uint64_t off = (uint64_t)ops[1] | (uint64_t)ops[2] << 8;
		uint8_t val[8] = { ops[4], ops[5], ops[6], ops[7] };

		if (ops[0] & 8)
			off = regs[off % (sizeof(regs) / sizeof(regs[0]))];
		if (ops[0] & 1)
			vdev_mmio_write(m, off, val, sz);
		else
			vdev_mmio_read(m, off, val, sz);
	}
	vdev_mmio_free(m);
	vdev_free(dev);
	return 0;
}
