/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The double-fetch mode (tests/lib/flipper.h): a thread keeps writing
 * random bytes into what a peer shares while the device side walks and
 * parses it, and every value handed out must still be one that was
 * checked. Per scenario, for VDEV_DFETCH_MS milliseconds (default 1500):
 *  - split and packed rings (direct and indirect chains) and a dirty log:
 *    every iovec of every popped chain lies inside guest memory, and the
 *    iovecs add up to the byte counts the chain reports;
 *  - split and packed inflight regions, read by a queue that recovers
 *    from them: a sane count, heads in range, resubmitted chains as above;
 *  - a state blob restored while it changes;
 *  - virtio-blk and virtio-scsi requests whose headers and data change
 *    while the device parses them: each completes, within its buffer.
 * Under ASan (scripts/test.sh, gcc stage) a use of an unchecked second
 * read shows up as an out-of-bounds access even when it stays inside the
 * process's memory.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/blk.h>
#include <virtio/mem.h>
#include <virtio/queue.h>
#include <virtio/scsi.h>
#include <virtio/spec.h>
#include <virtio/state.h>
#include <virtio/testing.h>
#include <virtio/transport.h>

#include "flipper.h"
#include "vcore_tdev.h"

#define BASE 0x100000ull
#define RAM (1u << 20)
#define QS 64

static uint64_t rng_state = 0x1234567887654321ull;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t deadline(void)
{
	const char *e = getenv("VDEV_DFETCH_MS");

	return now_ms() + (e ? strtoull(e, NULL, 0) : 1500);
}

/* Every iovec inside the device's mapping of guest RAM, adding up to the
 * counts the chain reports; every byte touchable. */
static void check_req(struct vdev_mem *map, const struct vdev_req *req)
{
	struct vdev_mem_region r;
	uint64_t out = 0, in = 0;

	assert_int_equal(vdev_mem_region_get(map, 0, &r), 0);
	assert_true((unsigned)req->nout + req->nin <= req->iov_max);
	for (unsigned i = 0; i < (unsigned)req->nout + req->nin; i++) {
		const uint8_t *p = req->iov[i].iov_base;
		size_t len = req->iov[i].iov_len;
		const uint8_t *h = r.host;

		assert_true(len > 0);
		assert_true(p >= h && len <= r.size &&
			    (uint64_t)(p - h) <= r.size - len);
		(void)((volatile const uint8_t *)p)[0];
		(void)((volatile const uint8_t *)p)[len - 1];
		if (i < req->nout)
			out += len;
		else
			in += len;
	}
	assert_true(out == req->out_bytes);
	assert_true(in == req->in_bytes);
}

/* ---- rings ------------------------------------------------------------ */

struct ringctx {
	struct vdev_drv_mem *m;
	struct vdev_mem *map;
	struct vdev_drv_ring *r;
	struct vdev_queue_config cfg;
	uint64_t features;
	size_t mark0, mark1;
};

/* A fresh driver ring at the same addresses as every time before. */
static void ring_new(struct ringctx *c)
{
	vdev_drv_mem_reset_to(c->m, c->mark0);
	c->r = vdev_drv_ring_new(c->m, QS, c->features);
	assert_non_null(c->r);
	vdev_drv_ring_queue_config(c->r, &c->cfg);
	c->mark1 = vdev_drv_mem_mark(c->m);
}

/* Up to @n chains of random shape, some indirect. */
static unsigned add_chains(struct ringctx *c, unsigned n)
{
	unsigned added = 0;

	for (unsigned k = 0; k < n; k++) {
		struct vdev_drv_seg segs[6];
		unsigned nout = rnd(4), nin = rnd(4);
		unsigned flags = 0;

		if (!nout && !nin)
			nin = 1;
		for (unsigned i = 0; i < nout + nin; i++) {
			segs[i].len = 1 + rnd(512);
			if (!vdev_drv_mem_alloc(c->m, segs[i].len, 16,
						&segs[i].gpa))
				return added;
		}
		if ((c->features & VDEV_BIT(VDEV_F_INDIRECT_DESC)) && rnd(2))
			flags = VDEV_DRV_F_INDIRECT;
		if (vdev_drv_ring_add(c->r, segs, nout, nin, NULL, flags))
			break;
		added++;
	}
	return added;
}

/* Pops everything it can, checks it, pushes it back. */
static unsigned drain(struct vdev_queue *q, struct vdev_mem *map)
{
	struct iovec iov[8];
	unsigned got = 0;

	for (unsigned k = 0; k < 2 * QS; k++) {
		struct vdev_req req = { .iov = iov, .iov_max = 8 };
		int ret = vdev_queue_pop(q, &req);

		if (ret == -EMSGSIZE)
			continue;
		if (ret)
			break;
		check_req(map, &req);
		assert_int_equal(vdev_queue_push(q, &req, rnd(1024)), 0);
		got++;
	}
	vdev_queue_notify(q);
	return got;
}

static void flip_ring_start(struct ringctx *c, struct flipper **f,
			    void *extra, size_t extra_len)
{
	void *regs[5];
	size_t lens[5];
	unsigned n = 0;
	bool packed = c->features & VDEV_BIT(VDEV_F_RING_PACKED);

	regs[n] = vdev_drv_mem_host(c->m, c->cfg.desc_addr);
	lens[n++] = 16u * QS;
	regs[n] = vdev_drv_mem_host(c->m, c->cfg.driver_addr);
	lens[n++] = packed ? 4 : 6 + 2u * QS;
	regs[n] = vdev_drv_mem_host(c->m, c->cfg.device_addr);
	lens[n++] = packed ? 4 : 6 + 8u * QS;
	/* Indirect tables and the first buffers come right after. */
	regs[n] = vdev_drv_mem_host(c->m, BASE + c->mark1);
	lens[n++] = 8192;
	if (extra) {
		regs[n] = extra;
		lens[n++] = extra_len;
	}
	*f = flipper_start(regs, lens, n, rng_state);
	assert_non_null(*f);
}

static void ctx_init(struct ringctx *c, uint64_t features)
{
	memset(c, 0, sizeof(*c));
	c->features = features;
	c->m = vdev_drv_mem_new(BASE, RAM, 1);
	assert_non_null(c->m);
	c->map = vdev_drv_mem_map(c->m);
	c->mark0 = vdev_drv_mem_mark(c->m);
	ring_new(c);
}

static void rings(uint64_t features)
{
	struct ringctx c;
	struct vdev_queue *q;
	struct flipper *f;
	uint64_t end = deadline(), popped = 0, writes;
	static uint8_t log[RAM / 4096 / 8 + BASE / 4096 / 8 + 8];

	ctx_init(&c, features | VDEV_BIT(VDEV_F_VERSION_1));
	q = vdev_queue_new(c.map, 0);
	assert_non_null(q);
	/* Dirty logging on: the log is shared with the peer too. */
	assert_int_equal(vdev_mem_set_dirty_log(c.map, log, sizeof(log)), 0);
	flip_ring_start(&c, &f, log, sizeof(log));
	while (now_ms() < end) {
		vdev_drv_ring_free(c.r);
		ring_new(&c);
		vdev_queue_reset(q);
		assert_int_equal(vdev_queue_configure(q, &c.cfg), 0);
		vdev_queue_set_budget(q, 0);
		add_chains(&c, 1 + rnd(QS));
		popped += drain(q, c.map);
	}
	writes = flipper_stop(f);
	print_message("%llu chains popped, %llu bytes flipped\n",
		      (unsigned long long)popped, (unsigned long long)writes);
	vdev_mem_set_dirty_log(c.map, NULL, 0);
	vdev_queue_free(q);
	vdev_drv_ring_free(c.r);
	vdev_drv_mem_free(c.m);
}

static void test_split(void **state)
{
	rings(VDEV_BIT(VDEV_F_INDIRECT_DESC) | VDEV_BIT(VDEV_F_EVENT_IDX));
}

static void test_packed(void **state)
{
	rings(VDEV_BIT(VDEV_F_RING_PACKED) | VDEV_BIT(VDEV_F_INDIRECT_DESC) |
	      VDEV_BIT(VDEV_F_EVENT_IDX));
}

/* ---- inflight regions --------------------------------------------------- */

static void inflight(uint64_t features)
{
	bool packed = features & VDEV_BIT(VDEV_F_RING_PACKED);
	size_t len = vdev_queue_inflight_size(QS, packed);
	uint8_t *ifl = calloc(1, len);
	struct ringctx c;
	struct flipper *f;
	uint64_t end = deadline(), recovered = 0;

	assert_non_null(ifl);
	ctx_init(&c, features | VDEV_BIT(VDEV_F_VERSION_1));
	flip_ring_start(&c, &f, ifl, len);
	while (now_ms() < end) {
		struct vdev_queue *q = vdev_queue_new(c.map, 0);
		struct iovec iov[4][8];
		struct vdev_req reqs[4];
		int n;

		assert_non_null(q);
		vdev_drv_ring_free(c.r);
		ring_new(&c);
		assert_int_equal(vdev_queue_configure(q, &c.cfg), 0);
		vdev_queue_inflight_init(ifl, len, QS, packed);
		n = vdev_queue_set_inflight(q, ifl, len);
		assert_true(n >= 0 || n == -ENOMEM);
		add_chains(&c, 1 + rnd(QS));
		/* Pop a few and die with them in flight. */
		for (unsigned k = 0; k < 4; k++) {
			reqs[k] = (struct vdev_req){ .iov = iov[k],
						     .iov_max = 8 };
			if (vdev_queue_pop(q, &reqs[k]))
				break;
			check_req(c.map, &reqs[k]);
		}
		vdev_queue_free(q);
		/* A new back-end recovers from the region as it now is. */
		q = vdev_queue_new(c.map, 0);
		assert_non_null(q);
		assert_int_equal(vdev_queue_configure(q, &c.cfg), 0);
		n = vdev_queue_set_inflight(q, ifl, len);
		assert_true(n == -ENOMEM || (n >= 0 && n <= QS) ||
			    n == -EINVAL);
		vdev_queue_set_budget(q, 0);
		recovered += drain(q, c.map);
		vdev_queue_free(q);
	}
	print_message("%llu chains popped after recovery, %llu bytes "
		      "flipped\n", (unsigned long long)recovered,
		      (unsigned long long)flipper_stop(f));
	vdev_drv_ring_free(c.r);
	vdev_drv_mem_free(c.m);
	free(ifl);
}

static void test_inflight_split(void **state)
{
	inflight(VDEV_BIT(VDEV_F_INDIRECT_DESC));
}

static void test_inflight_packed(void **state)
{
	inflight(VDEV_BIT(VDEV_F_RING_PACKED) | VDEV_BIT(VDEV_F_INDIRECT_DESC));
}

/* ---- a state blob --------------------------------------------------------- */

static void test_state_blob(void **state)
{
	static struct tdev t;
	struct vdev *dev = tdev_new(&t, 2, 256, 1);
	struct flipper *f;
	uint64_t end = deadline(), ok = 0, refused = 0;
	void *blob;
	uint8_t *shared;
	size_t len;

	assert_non_null(dev);
	assert_int_equal(vdev_save(dev, &blob, &len), 0);
	shared = malloc(len);
	assert_non_null(shared);
	memcpy(shared, blob, len);
	/* Only the sections, not the header: most blobs get to the parse. */
	f = flipper_start((void *[]){ shared + 32 },
			  (size_t[]){ len - 32 }, 1, rng_state);
	assert_non_null(f);
	while (now_ms() < end) {
		int r = vdev_restore(dev, shared, len);

		assert_true(r == 0 || r == -EBADMSG || r == -EPROTO ||
			    r == -EINVAL || r == -ENOMEM);
		if (r == 0)
			ok++;
		else
			refused++;
		memcpy(shared, blob, len);
	}
	flipper_stop(f);
	print_message("%llu restored, %llu refused\n",
		      (unsigned long long)ok, (unsigned long long)refused);
	free(shared);
	free(blob);
	vdev_free(dev);
}

/* ---- request parsers: blk and scsi ------------------------------------- */

/* Requests through the software driver; the buffers they are copied
 * into change while the device parses them. */
static void requests(struct vdev *dev, unsigned qidx,
		     void (*make)(uint8_t *out, size_t *out_len,
				  size_t *in_len))
{
	struct vdev_drv_config dc = { .mem_size = 4u << 20,
				      .queue_size = 64 };
	struct vdev_drv *drv = vdev_drv_new(dev, &dc);
	struct vdev_drv_mem *m;
	struct flipper *f;
	uint64_t end = deadline(), n = 0, gpa;
	size_t mark;
	uint8_t *hot;

	assert_non_null(drv);
	assert_int_equal(vdev_drv_init(drv), 0);
	m = vdev_drv_get_mem(drv);
	mark = vdev_drv_mem_mark(m);
	/* Where the next request's buffers go (the driver frees them after
	 * each request): its header, and its first pages. */
	hot = vdev_drv_mem_alloc(m, 1, 16, &gpa);
	assert_non_null(hot);
	vdev_drv_mem_reset_to(m, mark);
	f = flipper_start((void *[]){ hot, hot }, (size_t[]){ 64, 16384 }, 2,
			  rng_state);
	assert_non_null(f);
	while (now_ms() < end) {
		uint8_t out[4096 + 64], in[4096 + 256];
		size_t out_len, in_len;
		uint32_t written = 0;

		make(out, &out_len, &in_len);
		assert_int_equal(vdev_drv_xfer(drv, qidx, out, out_len, in,
					       in_len, &written, 5000),
				 0);
		assert_true(written <= in_len);
		n++;
	}
	print_message("%llu requests, %llu bytes flipped\n",
		      (unsigned long long)n,
		      (unsigned long long)flipper_stop(f));
	/* The queue never broke: the rings themselves were left alone. */
	assert_false(vdev_get_status(dev) & VDEV_STATUS_DEVICE_NEEDS_RESET);
	vdev_drv_free(drv);
}

static void make_blk(uint8_t *out, size_t *out_len, size_t *in_len)
{
	static const uint32_t types[] = {
		VDEV_BLK_T_IN, VDEV_BLK_T_OUT, VDEV_BLK_T_FLUSH,
		VDEV_BLK_T_GET_ID, VDEV_BLK_T_DISCARD,
		VDEV_BLK_T_WRITE_ZEROES,
	};
	struct vdev_blk_req_hdr h = {
		.type = vdev_cpu_to_le32(types[rnd(6)]),
		.sector = vdev_cpu_to_le64(rnd(2048)),
	};
	size_t data = 512u * (1 + rnd(8));

	memcpy(out, &h, sizeof(h));
	memset(out + sizeof(h), 0xa5, data);
	if (h.type == vdev_cpu_to_le32(VDEV_BLK_T_DISCARD) ||
	    h.type == vdev_cpu_to_le32(VDEV_BLK_T_WRITE_ZEROES)) {
		struct vdev_blk_discard_write_zeroes d = {
			.sector = vdev_cpu_to_le64(rnd(2048)),
			.num_sectors = vdev_cpu_to_le32(1 + rnd(64)),
		};

		memcpy(out + sizeof(h), &d, sizeof(d));
		data = sizeof(d);
	}
	*out_len = sizeof(h) + data;
	*in_len = 1 + data;
}

static void test_blk(void **state)
{
	struct vdev_blk_config c = { .backend = VDEV_BLK_BACKEND_RAM,
				     .size = 1u << 20, .serial = "dfetch" };
	struct vdev *dev = vdev_blk_new(&c);

	assert_non_null(dev);
	requests(dev, 0, make_blk);
	vdev_free(dev);
}

static void make_scsi(uint8_t *out, size_t *out_len, size_t *in_len)
{
	static const uint8_t ops[] = { 0x00, 0x12, 0x25, 0x28, 0x2a, 0x9e,
				       0xa0, 0x03, 0x1a, 0x35, 0x88, 0x8a };
	struct vdev_scsi_cmd_req r;

	memset(&r, 0, sizeof(r));
	r.lun[0] = 1;
	r.lun[3] = (uint8_t)rnd(2);
	r.id = vdev_cpu_to_le64(rnd(1000));
	r.cdb[0] = ops[rnd(sizeof(ops))];
	for (unsigned i = 1; i < sizeof(r.cdb); i++)
		r.cdb[i] = (uint8_t)rnd(i == 4 || i == 8 || i == 13 ? 16 : 4);
	memcpy(out, &r, sizeof(r));
	*out_len = sizeof(r) + 512u * rnd(3);
	memset(out + sizeof(r), 0x5a, *out_len - sizeof(r));
	*in_len = sizeof(struct vdev_scsi_cmd_resp) + 512u * rnd(8);
}

static void test_scsi(void **state)
{
	char path[] = "/tmp/vdev-dfetch-XXXXXX";
	int fd = mkstemp(path);
	const char *paths[] = { path };
	struct vdev_scsi_config c = { .paths = paths, .num_luns = 1 };
	struct vdev *dev;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1u << 20), 0);
	close(fd);
	dev = vdev_scsi_new(&c);
	unlink(path);
	assert_non_null(dev);
	requests(dev, 2, make_scsi);
	vdev_free(dev);
}

static void quiet(enum vdev_log_level lvl, const char *msg, void *opaque)
{
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_packed),
		cmocka_unit_test(test_inflight_split),
		cmocka_unit_test(test_inflight_packed),
		cmocka_unit_test(test_state_blob),
		cmocka_unit_test(test_blk),
		cmocka_unit_test(test_scsi),
	};

	/* Refused blobs and broken rings are the point: no warnings. */
	vdev_set_log_fn(quiet, NULL, VDEV_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
