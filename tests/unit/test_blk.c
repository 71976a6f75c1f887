/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-blk through the software driver, for every backend (uring, sync,
 * ram): data round trips (multi-segment, indirect, packed, status sharing a
 * descriptor), FLUSH, GET_ID, DISCARD and WRITE_ZEROES (checked in the
 * image file), read-only, the WCE toggle, MQ, O_DIRECT, 4 KiB blocks,
 * reset with I/O in flight, save/restore and the io_uring fallback.
 */
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <virtio/caps.h>

#include "blk_harness.h"

static void file_read(struct fx *f, void *buf, size_t len, uint64_t off)
{
	assert_int_equal(pread(f->imgfd, buf, len, (off_t)off), (ssize_t)len);
}

static void check_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			fail_msg("byte %zu is %#x, not 0", i, p[i]);
}

static void roundtrip(struct fx *f, unsigned q, uint64_t sector, size_t len,
		      unsigned wseg, unsigned rseg, unsigned flags,
		      unsigned seed)
{
	uint8_t *w = malloc(len), *r = calloc(1, len);

	assert_non_null(w);
	assert_non_null(r);
	pattern(w, len, seed);
	assert_int_equal(io_do(f, q, VDEV_BLK_T_OUT, sector, w, len, wseg,
			       flags),
			 VDEV_BLK_S_OK);
	assert_int_equal(io_do(f, q, VDEV_BLK_T_IN, sector, r, len, rseg,
			       flags),
			 VDEV_BLK_S_OK);
	assert_memory_equal(w, r, len);
	if (is_file_backend(f->be)) {
		memset(r, 0, len);
		file_read(f, r, len, sector * 512);
		assert_memory_equal(w, r, len);
	}
	free(w);
	free(r);
}

static void test_rw(void **state)
{
	struct fx *f = *state;

	assert_int_equal(fx_open(f), 0);
	assert_true(vdev_has_feature(f->dev, VDEV_BLK_F_FLUSH));
	roundtrip(f, 0, 0, 512, 1, 1, 0, 1);
	roundtrip(f, 0, 100, 65536, 1, 1, 0, 2);
	/* past BLK_INLINE_COPY_MAX: through the ring even on tmpfs */
	roundtrip(f, 0, 300, 65536 + 512, 1, 1, 0, 4);
	roundtrip(f, 0, 1000, 1u << 20, 4, 3, 0, 5);
	/* last sectors of the image */
	roundtrip(f, 0, IMG_SECTORS - 8, 4096, 1, 1, 0, 3);
}

/* Images on tmpfs are copied inline by the io_uring backend; any other
 * file goes through the ring. */
static void test_memory_fs(void **state)
{
	struct fx *f = *state;
	struct statfs sfs;
	bool tmpfs;

	assert_int_equal(fx_open(f), 0);
	assert_int_equal(fstatfs(f->imgfd, &sfs), 0);
	tmpfs = sfs.f_type == TMPFS_MAGIC;
	if (!tmpfs && strncmp(f->path, "/dev/shm/", 9) == 0)
		skip(); /* no tmpfs at /dev/shm here */
	assert_int_equal(fx_blk(f)->img->in_memory, tmpfs);
}

static void test_multi_segment(void **state)
{
	struct fx *f = *state;

	assert_int_equal(fx_open(f), 0);
	roundtrip(f, 0, 7, 16 * 4096, 16, 5, 0, 4);
	roundtrip(f, 0, 4000, 3 * 512, 3, 2, 0, 5);
}

static void test_indirect(void **state)
{
	struct fx *f = *state;

	assert_int_equal(fx_open(f), 0);
	assert_true(vdev_has_feature(f->dev, VDEV_F_INDIRECT_DESC));
	roundtrip(f, 0, 64, 32 * 4096, 32, 7, VDEV_DRV_F_INDIRECT, 6);
}

static void test_packed(void **state)
{
	struct fx *f = *state;

	f->dcfg.packed = true;
	assert_int_equal(fx_open(f), 0);
	assert_true(vdev_has_feature(f->dev, VDEV_F_RING_PACKED));
	roundtrip(f, 0, 9, 8 * 4096, 8, 3, 0, 7);
	roundtrip(f, 0, 900, 4 * 4096, 4, 4, VDEV_DRV_F_INDIRECT, 8);
}

static void test_eventfd_kicks(void **state)
{
	struct fx *f = *state;

	f->dcfg.use_eventfds = true;
	assert_int_equal(fx_open(f), 0);
	roundtrip(f, 0, 33, 8192, 2, 2, 0, 9);
}

/* The status byte at the end of the last data descriptor (5.2.6: the
 * device must not rely on the framing). */
static void test_status_shares_descriptor(void **state)
{
	struct fx *f = *state;
	uint8_t w[4096];
	struct io io, *p = &io;

	assert_int_equal(fx_open(f), 0);
	pattern(w, sizeof(w), 10);
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_OUT, 50, w, sizeof(w), 2, 0),
			 VDEV_BLK_S_OK);
	io_add(f, 0, &io, VDEV_BLK_T_IN, 50, sizeof(w), 2, false, 0, true);
	assert_int_equal(vdev_drv_kick(f->drv, 0), 0);
	io_wait(f, 0, &p, 1);
	assert_int_equal(*io.st, VDEV_BLK_S_OK);
	assert_int_equal(io.written, sizeof(w) + 1);
	assert_memory_equal(io.data, w, sizeof(w));
}

static int no_watcher_logs;

static void log_fn(enum vdev_log_level lvl, const char *msg, void *opaque)
{
	if (strstr(msg, "no watcher"))
		no_watcher_logs++;
}

/* An embedder that gives the device no watcher: completions (io_uring,
 * the worker pool) are then waited for within each round instead of
 * coming from the eventfd. */
static void test_no_watcher(void **state)
{
	struct fx *f = *state;

	f->cfg.backend = f->be;
	f->cfg.path = f->path;
	f->dev = vdev_blk_new(&f->cfg);
	assert_non_null(f->dev);
	f->drv = vdev_drv_new(f->dev, &f->dcfg);
	assert_non_null(f->drv);
	assert_int_equal(vdev_set_watcher(f->dev, NULL), 0);
	no_watcher_logs = 0;
	vdev_set_log_fn(log_fn, NULL, VDEV_LOG_DEBUG);
	assert_int_equal(vdev_drv_init(f->drv), 0);
	roundtrip(f, 0, 20, 65536, 4, 4, 0, 24);
	vdev_set_log_fn(NULL, NULL, VDEV_LOG_WARN);
	assert_int_equal(fx_blk(f)->queues[0].inflight, 0);
	/* memory images have nothing to wait for */
	assert_int_equal(no_watcher_logs, is_file_backend(f->be));
}

static void test_flush(void **state)
{
	struct fx *f = *state;
	uint8_t w[8192];

	assert_int_equal(fx_open(f), 0);
	pattern(w, sizeof(w), 11);
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_OUT, 8, w, sizeof(w), 1, 0),
			 VDEV_BLK_S_OK);
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_FLUSH, 0, NULL, 0, 1, 0),
			 VDEV_BLK_S_OK);
	if (is_file_backend(f->be)) {
		uint8_t r[8192];

		file_read(f, r, sizeof(r), 8 * 512);
		assert_memory_equal(w, r, sizeof(r));
	}
}

static void test_get_id(void **state)
{
	struct fx *f = *state;
	uint8_t id[64];

	assert_int_equal(fx_open(f), 0);
	memset(id, 0xaa, sizeof(id));
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_GET_ID, 0, id, 20, 1, 0),
			 VDEV_BLK_S_OK);
	/* "vdev-serial" NUL-padded to 20 bytes */
	assert_memory_equal(id, "vdev-serial\0\0\0\0\0\0\0\0\0", 20);
	fx_close(f);

	/* 20 bytes or more: exactly 20, no terminator */
	f->cfg.serial = "0123456789abcdefghijKLMN";
	assert_int_equal(fx_open(f), 0);
	memset(id, 0xaa, sizeof(id));
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_GET_ID, 0, id, 24, 1, 0),
			 VDEV_BLK_S_OK);
	assert_memory_equal(id, "0123456789abcdefghij", 20);
	/* a shorter buffer gets what fits */
	memset(id, 0xaa, sizeof(id));
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_GET_ID, 0, id, 8, 1, 0),
			 VDEV_BLK_S_OK);
	assert_memory_equal(id, "01234567", 8);
}

static uint8_t dwz(struct fx *f, uint32_t type, uint64_t sector,
		   uint32_t nsect, uint32_t flags)
{
	struct vdev_blk_discard_write_zeroes s = {
		.sector = vdev_cpu_to_le64(sector),
		.num_sectors = vdev_cpu_to_le32(nsect),
		.flags = vdev_cpu_to_le32(flags),
	};

	return io_do(f, 0, type, 0, &s, sizeof(s), 1, 0);
}

/* Fills 1 MiB, zeroes [@sector, + @n), checks through the device and the
 * file that exactly that range reads back as zeroes. */
static void zero_range_check(struct fx *f, uint32_t type, uint32_t flags)
{
	const size_t len = 1u << 20;
	const uint64_t sector = 512, n = 512; /* 256 KiB at 256 KiB */
	uint8_t *w = malloc(len), *r = malloc(len);

	assert_non_null(w);
	assert_non_null(r);
	pattern(w, len, 12);
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_OUT, 0, w, len, 4, 0),
			 VDEV_BLK_S_OK);
	assert_int_equal(dwz(f, type, sector, n, flags), VDEV_BLK_S_OK);
	memset(w + sector * 512, 0, n * 512);
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_IN, 0, r, len, 4, 0),
			 VDEV_BLK_S_OK);
	assert_memory_equal(w, r, len);
	if (is_file_backend(f->be)) {
		file_read(f, r, len, 0);
		assert_memory_equal(w, r, len);
		check_zero(r + sector * 512, n * 512);
	}
	free(w);
	free(r);
}

static void test_discard(void **state)
{
	struct fx *f = *state;
	uint32_t v;

	assert_int_equal(fx_open(f), 0);
	assert_true(vdev_has_feature(f->dev, VDEV_BLK_F_DISCARD));
	assert_int_equal(vdev_drv_config_read(f->drv, offsetof(struct
			 vdev_blk_config_space, max_discard_seg), &v, 4), 0);
	assert_int_equal(vdev_le32_to_cpu(v), BLK_MAX_DWZ_SEG);
	/* ext4/tmpfs punch holes, so the range reads back as zeroes */
	zero_range_check(f, VDEV_BLK_T_DISCARD, 0);
}

static void test_write_zeroes(void **state)
{
	struct fx *f = *state;

	assert_int_equal(fx_open(f), 0);
	assert_true(vdev_has_feature(f->dev, VDEV_BLK_F_WRITE_ZEROES));
	zero_range_check(f, VDEV_BLK_T_WRITE_ZEROES, 0);
}

static void test_write_zeroes_unmap(void **state)
{
	struct fx *f = *state;

	assert_int_equal(fx_open(f), 0);
	zero_range_check(f, VDEV_BLK_T_WRITE_ZEROES,
			 VDEV_BLK_WRITE_ZEROES_FLAG_UNMAP);
	if (is_file_backend(f->be)) {
		struct stat st;

		/* the 256 KiB hole was really punched */
		assert_int_equal(fstat(f->imgfd, &st), 0);
		assert_true((uint64_t)st.st_blocks * 512 <= (768u << 10));
	}
}

/* Two segments in one request. */
static void test_discard_multi_segment(void **state)
{
	struct fx *f = *state;
	struct vdev_blk_discard_write_zeroes s[2] = {
		{ vdev_cpu_to_le64(0), vdev_cpu_to_le32(8), 0 },
		{ vdev_cpu_to_le64(64), vdev_cpu_to_le32(8), 0 },
	};
	uint8_t w[64 * 512], r[64 * 512 + 4096];

	assert_int_equal(fx_open(f), 0);
	pattern(w, sizeof(w), 13);
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_OUT, 0, w, sizeof(w), 1, 0),
			 VDEV_BLK_S_OK);
	pattern(r, sizeof(r), 13);
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_OUT, 64, r, 4096, 1, 0),
			 VDEV_BLK_S_OK);
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_WRITE_ZEROES, 0, s,
			       sizeof(s), 1, 0),
			 VDEV_BLK_S_OK);
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_IN, 0, r, sizeof(r), 1, 0),
			 VDEV_BLK_S_OK);
	check_zero(r, 4096);
	assert_memory_equal(r + 4096, w + 4096, sizeof(w) - 4096);
	check_zero(r + 64 * 512, 4096);
}

static void test_read_only(void **state)
{
	struct fx *f = *state;
	uint8_t w[4096], r[4096];

	pattern(w, sizeof(w), 14);
	assert_int_equal(pwrite(f->imgfd, w, sizeof(w), 0), sizeof(w));
	f->cfg.read_only = true;
	assert_int_equal(fx_open(f), 0);
	assert_true(vdev_has_feature(f->dev, VDEV_BLK_F_RO));
	assert_false(vdev_device_features(f->dev) &
		     VDEV_BIT(VDEV_BLK_F_DISCARD));
	if (f->be == VDEV_BLK_BACKEND_RAM) {
		memset(w, 0, sizeof(w)); /* a fresh ram image is zeroes */
	}
	memset(r, 0x55, sizeof(r));
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_OUT, 0, r, sizeof(r), 1, 0),
			 VDEV_BLK_S_IOERR);
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_IN, 0, r, sizeof(r), 1, 0),
			 VDEV_BLK_S_OK);
	assert_memory_equal(r, w, sizeof(w));
	/* DISCARD was not offered, hence not negotiated: unsupported */
	assert_int_equal(dwz(f, VDEV_BLK_T_DISCARD, 0, 8, 0),
			 VDEV_BLK_S_UNSUPP);
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_FLUSH, 0, NULL, 0, 1, 0),
			 VDEV_BLK_S_OK);
}

static uint8_t cfg_wb(struct fx *f)
{
	uint8_t v = 0xff;

	assert_int_equal(vdev_drv_config_read(f->drv, BLK_CFG_WRITEBACK_OFF,
					      &v, 1),
			 0);
	return v;
}

static void test_wce(void **state)
{
	struct fx *f = *state;
	uint8_t v;

	assert_int_equal(fx_open(f), 0);
	assert_true(vdev_has_feature(f->dev, VDEV_BLK_F_CONFIG_WCE));
	assert_int_equal(cfg_wb(f), 1); /* writeback by default */
	assert_false(atomic_load(&fx_blk(f)->writethrough));
	v = 0;
	assert_int_equal(vdev_drv_config_write(f->drv, BLK_CFG_WRITEBACK_OFF,
					       &v, 1),
			 0);
	assert_int_equal(cfg_wb(f), 0);
	assert_true(atomic_load(&fx_blk(f)->writethrough));
	roundtrip(f, 0, 10, 8192, 2, 1, 0, 15); /* writes with RWF_DSYNC */
	/* not a valid mode, and not a writable field */
	v = 7;
	vdev_drv_config_write(f->drv, BLK_CFG_WRITEBACK_OFF, &v, 1);
	assert_int_equal(cfg_wb(f), 0);
	vdev_drv_config_write(f->drv, 0, &v, 1);
	v = 1;
	assert_int_equal(vdev_drv_config_write(f->drv, BLK_CFG_WRITEBACK_OFF,
					       &v, 1),
			 0);
	assert_int_equal(cfg_wb(f), 1);
	assert_false(atomic_load(&fx_blk(f)->writethrough));
	/* a reset brings the default back */
	v = 0;
	vdev_drv_config_write(f->drv, BLK_CFG_WRITEBACK_OFF, &v, 1);
	vdev_reset(f->dev);
	assert_int_equal(cfg_wb(f), 1);
	fx_close(f);

	/* writethrough default from the options */
	f->cfg.writethrough = true;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(cfg_wb(f), 0);
	assert_true(atomic_load(&fx_blk(f)->writethrough));
	fx_close(f);

	/* CONFIG_WCE without FLUSH: writeback starts at 0 (5.2.5.2) */
	f->cfg.writethrough = false;
	f->dcfg.refuse = VDEV_BIT(VDEV_BLK_F_FLUSH);
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(cfg_wb(f), 0);
	assert_true(atomic_load(&fx_blk(f)->writethrough));
	fx_close(f);

	/* no CONFIG_WCE and no FLUSH: writethrough; config not writable */
	f->dcfg.refuse = VDEV_BIT(VDEV_BLK_F_FLUSH) |
			 VDEV_BIT(VDEV_BLK_F_CONFIG_WCE);
	assert_int_equal(fx_open(f), 0);
	assert_true(atomic_load(&fx_blk(f)->writethrough));
	v = 1;
	vdev_drv_config_write(f->drv, BLK_CFG_WRITEBACK_OFF, &v, 1);
	assert_true(atomic_load(&fx_blk(f)->writethrough));
}

static void test_mq(void **state)
{
	struct fx *f = *state;
	uint16_t nq;

	f->cfg.num_queues = 4;
	assert_int_equal(fx_open(f), 0);
	assert_true(vdev_has_feature(f->dev, VDEV_BLK_F_MQ));
	assert_int_equal(vdev_num_queues(f->dev), 4);
	assert_int_equal(vdev_drv_config_read(f->drv, offsetof(struct
			 vdev_blk_config_space, num_queues), &nq, 2), 0);
	assert_int_equal(vdev_le16_to_cpu(nq), 4);
	for (unsigned q = 0; q < 4; q++)
		roundtrip(f, q, 100 * q, 8192, 2, 2, 0, 16 + q);
	fx_close(f);

	/* one queue: MQ is not offered */
	f->cfg.num_queues = 1;
	assert_int_equal(fx_open(f), 0);
	assert_false(vdev_device_features(f->dev) & VDEV_BIT(VDEV_BLK_F_MQ));
}

/* Many requests in flight at once, completed in any order. */
static void test_queue_depth(void **state)
{
	struct fx *f = *state;
	struct io io[32], *p[32];
	size_t mark;

	assert_int_equal(fx_open(f), 0);
	mark = vdev_drv_mem_mark(vdev_drv_get_mem(f->drv));
	for (unsigned i = 0; i < 32; i++) {
		p[i] = &io[i];
		io_add(f, 0, &io[i], VDEV_BLK_T_OUT, i * 8, 4096, 1, true, 0,
		       false);
		pattern(io[i].data, 4096, 100 + i);
	}
	assert_int_equal(vdev_drv_kick(f->drv, 0), 0);
	io_wait(f, 0, p, 32);
	for (unsigned i = 0; i < 32; i++)
		assert_int_equal(*io[i].st, VDEV_BLK_S_OK);
	vdev_drv_mem_reset_to(vdev_drv_get_mem(f->drv), mark);
	for (unsigned i = 0; i < 32; i++) {
		uint8_t w[4096];

		io_add(f, 0, &io[i], VDEV_BLK_T_IN, i * 8, 4096, 2, false, 0,
		       false);
		pattern(w, sizeof(w), 100 + i);
		(void)w;
	}
	assert_int_equal(vdev_drv_kick(f->drv, 0), 0);
	io_wait(f, 0, p, 32);
	for (unsigned i = 0; i < 32; i++) {
		uint8_t w[4096];

		pattern(w, sizeof(w), 100 + i);
		assert_int_equal(*io[i].st, VDEV_BLK_S_OK);
		assert_int_equal(io[i].written, 4097);
		assert_memory_equal(io[i].data, w, sizeof(w));
	}
}

/* Reset while the kernel still has requests: nothing completes into the
 * reset ring, nothing leaks, the device works afterwards. */
static void test_reset_in_flight(void **state)
{
	struct fx *f = *state;
	struct io io[30];
	unsigned inflight;

	assert_int_equal(fx_open(f), 0);
	/* 30 chains of 4 descriptors fill most of the 128-entry ring */
	for (unsigned i = 0; i < 30; i++)
		io_add(f, 0, &io[i], i % 2 ? VDEV_BLK_T_IN : VDEV_BLK_T_OUT,
		       i * 128, 65536, 2, i % 2 == 0, 0, false);
	/* synchronous kick: the round submits, nobody reaps yet */
	assert_int_equal(vdev_drv_kick(f->drv, 0), 0);
	inflight = fx_blk(f)->queues[0].inflight;
	if (f->be == VDEV_BLK_BACKEND_URING)
		print_message("  %u requests in flight at reset\n", inflight);
	vdev_reset(f->dev);
	assert_int_equal(fx_blk(f)->queues[0].inflight, 0);
	assert_int_equal(vdev_queue_inflight(vdev_get_queue(f->dev, 0)), 0);
	fx_close(f);
	assert_int_equal(fx_open(f), 0);
	roundtrip(f, 0, 1, 4096, 1, 1, 0, 17);
}

/* A request whose data segment starts one byte into a page, so that
 * O_DIRECT cannot use it as is (the bounce path). */
static uint8_t unaligned_io(struct fx *f, uint32_t type, uint64_t sector,
			    uint8_t *buf, size_t len)
{
	struct vdev_drv_mem *m = vdev_drv_get_mem(f->drv);
	size_t mark = vdev_drv_mem_mark(m);
	struct vdev_drv_seg segs[3];
	struct vdev_blk_req_hdr *h;
	uint8_t *d, *st, ret;
	bool out = type == VDEV_BLK_T_OUT;
	void *tok;
	uint32_t l;

	h = vdev_drv_mem_alloc(m, 16, 16, &segs[0].gpa);
	h->type = vdev_cpu_to_le32(type);
	h->sector = vdev_cpu_to_le64(sector);
	segs[0].len = 16;
	d = vdev_drv_mem_alloc(m, len + 8, 4096, &segs[1].gpa);
	d += 1;
	segs[1].gpa += 1;
	segs[1].len = (uint32_t)len;
	st = vdev_drv_mem_alloc(m, 1, 1, &segs[2].gpa);
	segs[2].len = 1;
	if (out)
		memcpy(d, buf, len);
	assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(f->drv, 0), segs,
					   out ? 2 : 1, out ? 1 : 2, d, 0),
			 0);
	assert_int_equal(vdev_drv_kick(f->drv, 0), 0);
	assert_int_equal(vdev_drv_wait(f->drv, 0, TMO, &tok, &l), 0);
	assert_ptr_equal(tok, d);
	if (!out)
		memcpy(buf, d, len);
	ret = *st;
	vdev_drv_mem_reset_to(m, mark);
	return ret;
}

static void test_direct(void **state)
{
	struct fx *f = *state;
	uint8_t w[8192], r[8192];

	f->cfg.direct = true;
	assert_int_equal(fx_open(f), 0);
	assert_true(fx_blk(f)->img->direct);
	roundtrip(f, 0, 16, 65536, 4, 3, 0, 18);
	pattern(w, sizeof(w), 19);
	assert_int_equal(unaligned_io(f, VDEV_BLK_T_OUT, 40, w, sizeof(w)),
			 VDEV_BLK_S_OK);
	memset(r, 0, sizeof(r));
	assert_int_equal(unaligned_io(f, VDEV_BLK_T_IN, 40, r, sizeof(r)),
			 VDEV_BLK_S_OK);
	assert_memory_equal(w, r, sizeof(w));
	file_read(f, r, sizeof(r), 40 * 512);
	assert_memory_equal(w, r, sizeof(w));
}

static void test_block_4k(void **state)
{
	struct fx *f = *state;
	uint32_t bs;
	uint8_t buf[4096];

	f->cfg.logical_block_size = 4096;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(vdev_drv_config_read(f->drv, offsetof(struct
			 vdev_blk_config_space, blk_size), &bs, 4), 0);
	assert_int_equal(vdev_le32_to_cpu(bs), 4096);
	roundtrip(f, 0, 8, 8192, 2, 2, 0, 20);
	/* not aligned to the logical block size */
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_IN, 1, buf, 4096, 1, 0),
			 VDEV_BLK_S_IOERR);
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_IN, 8, buf, 512, 1, 0),
			 VDEV_BLK_S_IOERR);
}

static void test_config_layout(void **state)
{
	struct fx *f = *state;
	struct vdev_blk_config_space cs;

	assert_int_equal(fx_open(f), 0);
	assert_int_equal(vdev_config_size(f->dev), BLK_CONFIG_SIZE);
	memset(&cs, 0xff, sizeof(cs));
	assert_int_equal(vdev_drv_config_read(f->drv, 0, &cs,
					      BLK_CONFIG_SIZE),
			 0);
	assert_int_equal(vdev_le64_to_cpu(cs.capacity), IMG_SECTORS);
	assert_int_equal(vdev_le32_to_cpu(cs.seg_max), BLK_SEG_MAX);
	assert_int_equal(vdev_le32_to_cpu(cs.size_max), BLK_SIZE_MAX);
	assert_int_equal(vdev_le32_to_cpu(cs.blk_size), 512);
	assert_int_equal(cs.unused0, 0);
	assert_int_equal(cs.unused1[0] | cs.unused1[1] | cs.unused1[2], 0);
	assert_int_equal(vdev_le32_to_cpu(cs.max_write_zeroes_seg),
			 BLK_MAX_DWZ_SEG);
	assert_int_equal(cs.write_zeroes_may_unmap, 1);
	assert_true(vdev_has_capability(VDEV_CAP_DEVICE, "blk"));
}

static void test_save_restore(void **state)
{
	struct fx *f = *state;
	struct vdev_queue_state st;
	void *blob = NULL;
	size_t len = 0;
	uint8_t v = 0;

	assert_int_equal(fx_open(f), 0);
	roundtrip(f, 0, 3, 4096, 1, 1, 0, 21);
	assert_int_equal(vdev_drv_config_write(f->drv, BLK_CFG_WRITEBACK_OFF,
					       &v, 1),
			 0);
	assert_int_equal(vdev_vq_stop(f->dev, 0, &st), 0);
	assert_int_equal(vdev_save(f->dev, &blob, &len), 0);
	vdev_reset(f->dev);
	assert_int_equal(cfg_wb(f), 1);
	assert_int_equal(vdev_restore(f->dev, blob, len), 0);
	assert_int_equal(cfg_wb(f), 0);
	assert_true(atomic_load(&fx_blk(f)->writethrough));
	free(blob);
}

static void test_backend_names(void **state)
{
	enum vdev_blk_backend b;

	(void)state;
	assert_int_equal(vdev_blk_backend_parse("uring", &b), 0);
	assert_int_equal(b, VDEV_BLK_BACKEND_URING);
	assert_int_equal(vdev_blk_backend_parse("ram", &b), 0);
	assert_int_equal(b, VDEV_BLK_BACKEND_RAM);
	assert_int_equal(vdev_blk_backend_parse("bogus", &b), -EINVAL);
	assert_string_equal(vdev_blk_backend_name(VDEV_BLK_BACKEND_SYNC),
			    "sync");
}

static void test_bad_options(void **state)
{
	struct vdev_blk_config c = { .backend = VDEV_BLK_BACKEND_SYNC,
				     .fd = -1 };

	(void)state;
	assert_null(vdev_blk_new(NULL));
	assert_int_equal(errno, EINVAL);
	assert_null(vdev_blk_new(&c)); /* no path, no fd */
	assert_int_equal(errno, EINVAL);
	c.path = "/nonexistent/vdev-blk-image";
	assert_null(vdev_blk_new(&c));
	assert_int_equal(errno, ENOENT);
	c.backend = VDEV_BLK_BACKEND_RAM;
	c.logical_block_size = 1024;
	assert_null(vdev_blk_new(&c));
	assert_int_equal(errno, EINVAL);
	c.logical_block_size = 0;
	c.size = 100; /* less than a block */
	assert_null(vdev_blk_new(&c));
	assert_int_equal(errno, EINVAL);
	c.size = 0;
	c.backend = (enum vdev_blk_backend)42;
	assert_null(vdev_blk_new(&c));
	assert_int_equal(errno, EINVAL);
}

/* An image given as an fd (what a daemon does with --fd or SCM_RIGHTS). */
static void test_fd_image(void **state)
{
	struct fx *f = *state;
	struct vdev *dev;
	struct vdev_blk_config c = { .backend = VDEV_BLK_BACKEND_SYNC };
	int rofd = open(f->path, O_RDONLY | O_CLOEXEC);

	assert_true(rofd >= 0);
	c.fd = rofd;
	assert_null(vdev_blk_new(&c)); /* read-write on an O_RDONLY fd */
	assert_int_equal(errno, EBADF);
	c.read_only = true;
	dev = vdev_blk_new(&c);
	assert_non_null(dev);
	close(rofd); /* the device has its own */
	vdev_free(dev);
	c.fd = f->imgfd;
	c.read_only = false;
	f->dev = vdev_blk_new(&c);
	assert_non_null(f->dev);
	f->drv = vdev_drv_new(f->dev, &f->dcfg);
	assert_non_null(f->drv);
	assert_int_equal(vdev_drv_init(f->drv), 0);
	f->be = VDEV_BLK_BACKEND_SYNC;
	roundtrip(f, 0, 5, 4096, 1, 1, 0, 22);
}

static void test_uring_fallback(void **state)
{
	struct fx *f = *state;

#if VDEV_WITH_URING_FOUND
	f->be = VDEV_BLK_BACKEND_URING;
	stg_uring_test_fail_init = true;
	assert_int_equal(fx_open(f), 0);
	stg_uring_test_fail_init = false;
	assert_int_equal(vdev_blk_backend(f->dev), VDEV_BLK_BACKEND_SYNC);
	/* the sync backend too hands large transfers and DISCARD to its
	 * workers, which complete out of order: no IN_ORDER */
	assert_false(vdev_device_features(f->dev) &
		     VDEV_BIT(VDEV_F_IN_ORDER));
	roundtrip(f, 0, 2, 8192, 2, 2, 0, 23);
	fx_close(f);
	f->be = VDEV_BLK_BACKEND_AUTO;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(vdev_blk_backend(f->dev), VDEV_BLK_BACKEND_URING);
	assert_false(vdev_device_features(f->dev) &
		     VDEV_BIT(VDEV_F_IN_ORDER));
#else
	f->be = VDEV_BLK_BACKEND_URING;
	f->cfg.backend = f->be;
	f->cfg.path = f->path;
	assert_null(vdev_blk_new(&f->cfg));
	assert_int_equal(errno, ENOTSUP);
	f->be = VDEV_BLK_BACKEND_AUTO;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(vdev_blk_backend(f->dev), VDEV_BLK_BACKEND_SYNC);
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BLK_TEST(test_rw),
		BLK_TEST_ONE(test_memory_fs, be_sync),
#if VDEV_WITH_URING_FOUND
		BLK_TEST_ONE(test_memory_fs, be_uring_shm),
#endif
		BLK_TEST(test_multi_segment),
		BLK_TEST(test_indirect),
		BLK_TEST(test_packed),
		BLK_TEST(test_eventfd_kicks),
		BLK_TEST(test_status_shares_descriptor),
		BLK_TEST(test_no_watcher),
		BLK_TEST(test_flush),
		BLK_TEST(test_get_id),
		BLK_TEST(test_discard),
		BLK_TEST(test_write_zeroes),
		BLK_TEST(test_write_zeroes_unmap),
		BLK_TEST(test_discard_multi_segment),
		BLK_TEST(test_read_only),
		BLK_TEST(test_wce),
		BLK_TEST(test_mq),
		BLK_TEST(test_queue_depth),
		BLK_TEST(test_reset_in_flight),
		BLK_TEST(test_block_4k),
		BLK_TEST(test_config_layout),
		BLK_TEST(test_save_restore),
		BLK_TEST_ONE(test_direct, be_sync),
#if VDEV_WITH_URING_FOUND
		BLK_TEST_ONE(test_direct, be_uring),
#endif
		BLK_TEST_ONE(test_fd_image, be_sync),
		BLK_TEST_ONE(test_uring_fallback, be_sync),
		cmocka_unit_test(test_backend_names),
		cmocka_unit_test(test_bad_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
