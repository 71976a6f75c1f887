/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the virtio-blk request parser (blk_req.c) and the
 * backends behind it, driven through the software driver: each input is
 * one well-formed descriptor chain whose contents (header, segment table,
 * data) and shape come from the fuzzer.
 *
 * Input:
 *   [0] bit 0 read-only device, bit 1 sync backend on an image file
 *       instead of ram, bit 2 indirect chain, bit 3 4 KiB blocks
 *   [1] device-readable descriptors (1 + v % 4)
 *   [2] device-writable descriptors (v % 5)
 *   then one le16 length per descriptor (1 .. 65535; 0 counts as 1),
 *   then the device-readable bytes (missing bytes are zero).
 * Every request must complete (no lost chain), with a used length the
 * driver accepts, and the queue must never be marked broken.
 * VDEV_FUZZ_FLIP=1: a thread keeps changing the request's buffers (header,
 * segment table, data; not the rings, so the checks above still hold)
 * while the device parses them (the double-fetch mode,
 * tests/lib/flipper.h). Chains are direct then: an indirect table would
 * sit in the changing memory.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <virtio/blk.h>
#include <virtio/testing.h>

#include "flipper.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct target {
	struct vdev *dev;
	struct vdev_drv *drv;
};

/* [read-only][file][4k] */
static struct target targets[2][2][2];

static struct target *target_for(unsigned ro, unsigned file, unsigned big)
{
	struct target *t = &targets[ro][file][big];

	if (!t->dev) {
		struct vdev_blk_config cfg = {
			.fd = -1,
			.read_only = ro,
			.logical_block_size = big ? 4096 : 512,
			.backend = file ? VDEV_BLK_BACKEND_SYNC
					: VDEV_BLK_BACKEND_RAM,
			.size = 1u << 20,
			.serial = "fuzz",
		};
		struct vdev_drv_config dcfg = { .mem_size = 4u << 20,
						.queue_size = 64 };
		char path[] = "/tmp/vdev-fuzz-blk-XXXXXX";
		int fd = -1;

		if (file) {
			fd = mkstemp(path);
			if (fd < 0 || ftruncate(fd, 1u << 20) < 0)
				abort();
			unlink(path);
			cfg.fd = fd;
		}
		t->dev = vdev_blk_new(&cfg);
		if (fd >= 0)
			close(fd);
		if (!t->dev)
			abort();
		t->drv = vdev_drv_new(t->dev, &dcfg);
		if (!t->drv || vdev_drv_init(t->drv))
			abort();
	}
	return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vdev_drv_seg segs[8];
	struct target *t;
	struct vdev_drv_mem *m;
	unsigned nout, nin, n;
	size_t mark, off, need;
	uint32_t in_total = 0, used;
	void *tok;
	int ret;

	if (size < 3)
		return 0;
	if (flipper_fuzz_mode()) {
		/* Every target now, so the flipper knows where each one's
		 * requests go: right after its rings. */
		static void *hot[8];
		static size_t lens[8];

		for (unsigned i = 0; !lens[7] && i < 8; i++) {
			struct target *x = target_for(i & 1, !!(i & 2),
						      !!(i & 4));
			struct vdev_drv_mem *xm = vdev_drv_get_mem(x->drv);

			hot[i] = vdev_drv_mem_host(
				xm, vdev_drv_mem_base(xm) +
					    vdev_drv_mem_mark(xm));
			lens[i] = 64u << 10;
		}
		flipper_fuzz_start(hot, lens, 8);
	}
	t = target_for(data[0] & 1, !!(data[0] & 2), !!(data[0] & 8));
	nout = 1 + data[1] % 4;
	nin = data[2] % 5;
	n = nout + nin;
	if (size < 3 + 2 * (size_t)n)
		return 0;
	m = vdev_drv_get_mem(t->drv);
	mark = vdev_drv_mem_mark(m);
	off = 3 + 2 * (size_t)n;
	for (unsigned i = 0; i < n; i++) {
		uint32_t len = data[3 + 2 * i] | data[4 + 2 * i] << 8;
		uint8_t *p;

		if (!len)
			len = 1;
		p = vdev_drv_mem_alloc(m, len, 1, &segs[i].gpa);
		if (!p)
			abort();
		segs[i].len = len;
		if (i < nout && off < size) {
			need = size - off < len ? size - off : len;
			memcpy(p, data + off, need);
			off += need;
		}
		if (i >= nout)
			in_total += len;
	}
	if (vdev_drv_ring_add(vdev_drv_ring(t->drv, 0), segs, nout, nin, segs,
			      (data[0] & 4) && !flipper_fuzz_mode() ?
				      VDEV_DRV_F_INDIRECT : 0))
		abort();
	if (vdev_drv_kick(t->drv, 0))
		abort();
	ret = vdev_drv_wait(t->drv, 0, 2000, &tok, &used);
	if (ret || tok != segs || used > in_total)
		abort();
	if (vdev_queue_broken(vdev_get_queue(t->dev, 0)))
		abort();
	vdev_drv_mem_reset_to(m, mark);
	return 0;
}
