/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the device side of both ring layouts.
 *
 * Input: an 8-byte header, then the contents of guest RAM (rings, indirect
 * tables and buffers all come from the fuzzer):
 *   [0] bit 0 packed, 1 INDIRECT_DESC, 2 EVENT_IDX, 3 IN_ORDER,
 *       4 two adjacent regions instead of one, 5 start from a saved state,
 *       6 kick/interrupt suppression calls in between,
 *       7 the memory table is replaced (same RAM, new mappings) now and
 *         then while requests are in flight
 *   [1] queue size (split: 1 << (v % 9), packed: 1 + v % 256)
 *   [2] iovecs per request (1 + v % 16)
 *   [3..4] avail / used index for the saved state, [5] bits 0-1 wrap
 *       bits, bit 2 inflight tracking on a region whose initial contents
 *       are RAM bytes from offset 0x3000 (hostile, as a frontend's may
 *       be); at the end the queue "crashes" with its requests in flight
 *       and a new one recovers from the region and drains
 *   [6] how many requests to keep in flight before pushing
 *   [7] bytes each push claims to have written
 * The driver area (split avail ring, packed driver event) is at RAM offset
 * 0 and the descriptor ring at 0x240, so short inputs reach both; the
 * device area is at 0x2000. Every iovec handed out must lie inside guest
 * RAM.
 *
 * VDEV_FUZZ_FLIP=1: the double-fetch mode (tests/lib/flipper.h); a thread
 * keeps changing the RAM and the inflight region while the queue reads
 * them. The checks are the same: they are about memory safety only.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <virtio/mem.h>
#include <virtio/queue.h>
#include <virtio/spec.h>
#include <virtio/testing.h>

#include "flipper.h"

#define BASE 0x10000ull
#define RAM (64u << 10)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vdev_drv_mem *mems[2];

/* The inflight region: static, so the flipper can keep writing it. */
static uint8_t ifl_buf[32 + 32 * 256];

/* Publishes a new table with the same regions, mapped afresh. */
static void remap(struct vdev_mem *map)
{
	struct vdev_mem_region rs[2];
	unsigned n = vdev_mem_count(map);

	if (n > 2)
		abort();
	for (unsigned i = 0; i < n; i++) {
		vdev_mem_region_get(map, i, &rs[i]);
		rs[i].host = NULL;
	}
	if (vdev_mem_replace(map, rs, n))
		abort();
}

static void check_iov(struct vdev_mem *map, const struct vdev_req *req)
{
	for (unsigned i = 0; i < (unsigned)req->nout + req->nin; i++) {
		const uint8_t *p = req->iov[i].iov_base;
		bool ok = false;

		for (unsigned k = 0; k < vdev_mem_count(map); k++) {
			struct vdev_mem_region r;
			const uint8_t *h;

			vdev_mem_region_get(map, k, &r);
			h = r.host;
			if (p >= h && req->iov[i].iov_len <= r.size &&
			    (uint64_t)(p - h) <= r.size - req->iov[i].iov_len)
				ok = true;
		}
		if (!ok)
			abort();
		/* Touch every byte: ASan/SEGV on anything bogus. */
		if (req->iov[i].iov_len) {
			volatile const uint8_t *v = p;

			(void)v[0];
			(void)v[req->iov[i].iov_len - 1];
		}
	}
}

/* vhost-user.rst "Inflight I/O tracking": header + an entry per ring
 * entry, split 16 + 16 bytes, packed 32 + 32. */
static size_t ifl_len(uint16_t qs, bool packed)
{
	return packed ? 32 + 32ul * qs : 16 + 16ul * qs;
}

/* A new back-end on the same ring and region pops what it finds, then
 * everything new, completing each at once. */
static void recover(struct vdev_queue **qp, struct vdev_mem *map,
		    const struct vdev_queue_config *cfg, void *ifl,
		    size_t len)
{
	struct vdev_queue *q;
	int n;

	vdev_queue_free(*qp);
	q = *qp = vdev_queue_new(map, 0);
	if (!q || vdev_queue_configure(q, cfg))
		abort();
	n = vdev_queue_set_inflight(q, ifl, len);
	if (n > cfg->size || (n < 0 && n != -ENOMEM))
		abort();
	vdev_queue_set_budget(q, 0);
	for (unsigned k = 0; k < 2u * cfg->size + 2; k++) {
		struct vdev_req r;
		struct iovec iv[16];
		int ret;

		memset(&r, 0, sizeof(r));
		r.iov = iv;
		r.iov_max = 16;
		ret = vdev_queue_pop(q, &r);
		if (ret == -EMSGSIZE)
			continue;
		if (ret)
			break;
		check_iov(map, &r);
		if (vdev_queue_push(q, &r, 0))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	void *ifl = NULL;
	size_t ifl_size = 0;
	struct vdev_req reqs[8];
	struct iovec iov[8][16];
	struct vdev_queue_config cfg;
	struct vdev_drv_mem *m;
	struct vdev_mem *map;
	struct vdev_queue *q;
	uint8_t h[8] = { 0 };
	unsigned held = 0, keep, steps = 0;
	uint8_t *ram;
	bool packed;

	memcpy(h, data, size < 8 ? size : 8);
	data += size < 8 ? size : 8;
	size -= size < 8 ? size : 8;
	if (!mems[0]) {
		mems[0] = vdev_drv_mem_new(BASE, RAM, 1);
		mems[1] = vdev_drv_mem_new(BASE, RAM, 2);
		if (!mems[0] || !mems[1])
			abort();
		if (flipper_fuzz_mode())
			flipper_fuzz_start(
				(void *[]){ vdev_drv_mem_host(mems[0], BASE),
					    vdev_drv_mem_host(mems[1], BASE),
					    ifl_buf },
				(size_t[]){ RAM, RAM, sizeof(ifl_buf) }, 3);
	}
	m = mems[(h[0] >> 4) & 1];
	map = vdev_drv_mem_map(m);
	ram = vdev_drv_mem_host(m, BASE);
	memset(ram, 0, RAM);
	memcpy(ram, data, size < RAM ? size : RAM);

	packed = h[0] & 1;
	cfg.size = packed ? (uint16_t)(1 + h[1]) : (uint16_t)(1u << (h[1] % 9));
	cfg.desc_addr = BASE + 0x240;
	cfg.driver_addr = BASE;
	cfg.device_addr = BASE + 0x2000;
	cfg.features = VDEV_BIT(VDEV_F_VERSION_1);
	if (packed)
		cfg.features |= VDEV_BIT(VDEV_F_RING_PACKED);
	if (h[0] & 2)
		cfg.features |= VDEV_BIT(VDEV_F_INDIRECT_DESC);
	if (h[0] & 4)
		cfg.features |= VDEV_BIT(VDEV_F_EVENT_IDX);
	if (h[0] & 8)
		cfg.features |= VDEV_BIT(VDEV_F_IN_ORDER);

	q = vdev_queue_new(map, 0);
	if (!q || vdev_queue_configure(q, &cfg))
		abort();
	if (h[0] & 32) {
		struct vdev_queue_state st = {
			.avail_idx = (uint16_t)(h[3] | h[4] << 8),
			.used_idx = (uint16_t)(h[4] | h[3] << 8),
			.avail_wrap = h[5] & 1,
			.used_wrap = h[5] & 2,
		};

		if (packed) {
			st.avail_idx %= cfg.size;
			st.used_idx %= cfg.size;
		}
		if (vdev_queue_set_state(q, &st))
			abort();
	}
	if (h[5] & 4) {
		int n;

		ifl_size = ifl_len(cfg.size, packed);
		/* Exactly sized on the heap (ASan sees a read past it),
		 * except where the flipper must reach it. */
		ifl = flipper_fuzz_mode() ? ifl_buf : malloc(ifl_size);
		if (!ifl)
			abort();
		memcpy(ifl, ram + 0x3000, ifl_size);
		n = vdev_queue_set_inflight(q, ifl, ifl_size);
		if (n > cfg.size || (n < 0 && n != -ENOMEM))
			abort();
	}
	vdev_queue_set_budget(q, 64);
	keep = h[6] % 8;
	for (;;) {
		struct vdev_req *req = &reqs[held];
		int ret;

		if (++steps > 200)
			break;
		if ((h[0] & 128) && steps % 13 == 0)
			remap(map);
		if (h[0] & 64) {
			if (steps % 3 == 0)
				vdev_queue_disable_kicks(q);
			else if (steps % 3 == 1)
				vdev_queue_enable_kicks(q);
		}
		memset(req, 0, sizeof(*req));
		req->iov = iov[held];
		req->iov_max = (uint16_t)(1 + h[2] % 16);
		if (steps % 4 == 0) {
			unsigned max = 1 + h[3] % 16;
			int n = vdev_queue_avail_count(q, max);

			/* A count, or pop's errors: broken, or a memory
			 * map change waiting for older requests. */
			if (n > (int)max || (n < 0 && n != -EIO &&
					     n != -EBUSY && n != -EFAULT))
				abort();
		}
		ret = vdev_queue_pop(q, req);
		if (ret == -EMSGSIZE)
			continue;
		if (ret == -EBUSY) {
			vdev_queue_new_round(q);
			continue;
		}
		if (ret)
			break;
		if (req->out_bytes + (uint64_t)req->in_bytes > UINT32_MAX)
			abort();
		check_iov(map, req);
		if (steps % 5 == 0) {
			struct vdev_req again;
			struct iovec iv[16];

			memset(&again, 0, sizeof(again));
			again.iov = iv;
			again.iov_max = 16;
			if (vdev_queue_pop_id(q, req->id, &again) == 0) {
				check_iov(map, &again);
				vdev_queue_push(q, &again, 0);
			}
		}
		if (steps % 7 == 0) {
			/* Back into the ring, then out again next step. */
			ret = vdev_queue_unpop(q, req);
			if (ret == 0)
				continue;
			/* -EIO exactly when the queue is broken: a pop_id
			 * above may have re-walked a chain the driver
			 * (the flipper) made malformed since. The request
			 * is then pushed like any other. */
			if (ret != -EINVAL &&
			    !(ret == -EIO && vdev_queue_broken(q)))
				abort();
		}
		held++;
		if (held > keep) {
			/* Complete newest first: out of order on purpose. */
			while (held) {
				held--;
				if (vdev_queue_push(q, &reqs[held], h[7]))
					abort();
			}
			vdev_queue_notify(q);
		}
	}
	if (ifl) {
		/* Dies with @held requests in flight. */
		recover(&q, map, &cfg, ifl, ifl_size);
		held = 0;
	}
	while (held) {
		held--;
		vdev_queue_push(q, &reqs[held], 0);
	}
	vdev_queue_notify(q);
	if (vdev_queue_inflight(q))
		abort();
	vdev_queue_free(q);
	if (ifl != ifl_buf)
		free(ifl);
	return 0;
}
