/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-blk hostile requests, one test per case, for every backend: the
 * exact status the spec asks for (or a completion with nothing written
 * when there is no status byte), nothing written to the image, and a
 * device that keeps working afterwards.
 */
#include <sys/stat.h>

#include "blk_harness.h"

/* A chain of arbitrary segments: @nout readable ones filled from @out (in
 * order), then @nin writable ones. Returns the used length; *st (when not
 * NULL) receives the last writable byte. */
static uint32_t raw(struct fx *f, const uint32_t *lens, unsigned nout,
		    unsigned nin, const void *out, uint8_t *st)
{
	struct vdev_drv_mem *m = vdev_drv_get_mem(f->drv);
	size_t mark = vdev_drv_mem_mark(m);
	struct vdev_drv_seg segs[160];
	uint8_t *last = NULL;
	size_t done = 0;
	void *tok;
	uint32_t len;

	assert_true(nout + nin <= 160);
	for (unsigned i = 0; i < nout + nin; i++) {
		uint8_t *p = vdev_drv_mem_alloc(m, lens[i] ? lens[i] : 1, 16,
						&segs[i].gpa);

		assert_non_null(p);
		segs[i].len = lens[i];
		if (i < nout) {
			memcpy(p, (const uint8_t *)out + done, lens[i]);
			done += lens[i];
		} else {
			memset(p, 0xee, lens[i]);
			last = p + lens[i] - 1;
		}
	}
	assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(f->drv, 0), segs,
					   nout, nin, segs, 0),
			 0);
	assert_int_equal(vdev_drv_kick(f->drv, 0), 0);
	assert_int_equal(vdev_drv_wait(f->drv, 0, TMO, &tok, &len), 0);
	assert_ptr_equal(tok, segs);
	if (st)
		*st = last ? *last : 0xee;
	vdev_drv_mem_reset_to(m, mark);
	return len;
}

static struct vdev_blk_req_hdr hdr(uint32_t type, uint64_t sector)
{
	struct vdev_blk_req_hdr h = {
		.type = vdev_cpu_to_le32(type),
		.sector = vdev_cpu_to_le64(sector),
	};

	return h;
}

/* The device still serves a normal request, and nothing broke. */
static void still_works(struct fx *f)
{
	uint8_t buf[4096];

	assert_int_equal(io_do(f, 0, VDEV_BLK_T_IN, 0, buf, sizeof(buf), 1,
			       0),
			 VDEV_BLK_S_OK);
	assert_false(vdev_get_status(f->dev) &
		     VDEV_STATUS_DEVICE_NEEDS_RESET);
}

/* The first @len bytes of the image are still the pattern we put there. */
static void image_untouched(struct fx *f, const uint8_t *ref, size_t len)
{
	uint8_t buf[8192];

	assert_true(len <= sizeof(buf));
	if (is_file_backend(f->be)) {
		assert_int_equal(pread(f->imgfd, buf, len, 0), (ssize_t)len);
		assert_memory_equal(buf, ref, len);
	}
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_IN, 0, buf, len, 1, 0),
			 VDEV_BLK_S_OK);
	assert_memory_equal(buf, ref, len);
}

static void seed_image(struct fx *f, uint8_t *ref, size_t len)
{
	pattern(ref, len, 77);
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_OUT, 0, ref, len, 1, 0),
			 VDEV_BLK_S_OK);
}

static void test_no_status_byte(void **state)
{
	struct fx *f = *state;
	struct vdev_blk_req_hdr h = hdr(VDEV_BLK_T_IN, 0);
	uint8_t out[16 + 512];
	const uint32_t lens[] = { 16, 512 };

	assert_int_equal(fx_open(f), 0);
	memcpy(out, &h, 16);
	/* everything device-readable: nowhere to put a status */
	assert_int_equal(raw(f, lens, 2, 0, out, NULL), 0);
	still_works(f);
}

static void test_short_header(void **state)
{
	struct fx *f = *state;
	struct vdev_blk_req_hdr h = hdr(VDEV_BLK_T_IN, 0);
	const uint32_t lens[] = { 8, 512 + 1 };
	uint8_t st;

	assert_int_equal(fx_open(f), 0);
	assert_int_equal(raw(f, lens, 1, 1, &h, &st), 0);
	assert_int_equal(st, 0xee); /* not written */
	still_works(f);
}

/* A header split over two descriptors is fine (no framing assumed). */
static void test_split_header(void **state)
{
	struct fx *f = *state;
	struct vdev_blk_req_hdr h = hdr(VDEV_BLK_T_IN, 0);
	const uint32_t lens[] = { 5, 11, 512, 1 };
	uint8_t st;

	assert_int_equal(fx_open(f), 0);
	assert_int_equal(raw(f, lens, 2, 2, &h, &st), 513);
	assert_int_equal(st, VDEV_BLK_S_OK);
}

static void test_sector_past_end(void **state)
{
	struct fx *f = *state;
	uint8_t ref[4096], buf[4096];

	assert_int_equal(fx_open(f), 0);
	seed_image(f, ref, sizeof(ref));
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_IN, IMG_SECTORS, buf, 512, 1,
			       0),
			 VDEV_BLK_S_IOERR);
	/* starts inside, ends one sector past the end */
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_IN, IMG_SECTORS - 1, buf,
			       1024, 1, 0),
			 VDEV_BLK_S_IOERR);
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_OUT, IMG_SECTORS - 1, buf,
			       1024, 1, 0),
			 VDEV_BLK_S_IOERR);
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_OUT, UINT64_MAX / 512 - 1,
			       buf, 512, 1, 0),
			 VDEV_BLK_S_IOERR);
	if (is_file_backend(f->be)) {
		struct stat st;

		assert_int_equal(fstat(f->imgfd, &st), 0);
		assert_int_equal(st.st_size, IMG_SIZE); /* nothing appended */
	}
	/* the very last sector is fine */
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_IN, IMG_SECTORS - 1, buf, 512,
			       1, 0),
			 VDEV_BLK_S_OK);
	image_untouched(f, ref, sizeof(ref));
}

/* sector * 512 wraps 2^64 back to the start of the image. */
static void test_sector_overflow(void **state)
{
	struct fx *f = *state;
	uint8_t ref[4096], buf[4096];

	assert_int_equal(fx_open(f), 0);
	seed_image(f, ref, sizeof(ref));
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_OUT, UINT64_C(1) << 55, buf,
			       4096, 1, 0),
			 VDEV_BLK_S_IOERR);
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_OUT, UINT64_MAX, buf, 512, 1,
			       0),
			 VDEV_BLK_S_IOERR);
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_IN, UINT64_C(1) << 55, buf,
			       4096, 1, 0),
			 VDEV_BLK_S_IOERR);
	image_untouched(f, ref, sizeof(ref));
}

static void test_write_read_only(void **state)
{
	struct fx *f = *state;
	uint8_t ref[4096], buf[4096];

	pattern(ref, sizeof(ref), 3);
	assert_int_equal(pwrite(f->imgfd, ref, sizeof(ref), 0),
			 (ssize_t)sizeof(ref));
	f->cfg.read_only = true;
	assert_int_equal(fx_open(f), 0);
	if (!is_file_backend(f->be))
		memset(ref, 0, sizeof(ref));
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_OUT, 0, buf, sizeof(buf), 1,
			       0),
			 VDEV_BLK_S_IOERR);
	/* WRITE_ZEROES was not offered on a read-only device */
	{
		struct vdev_blk_discard_write_zeroes s = {
			.num_sectors = vdev_cpu_to_le32(8)
		};

		assert_int_equal(io_do(f, 0, VDEV_BLK_T_WRITE_ZEROES, 0, &s,
				       sizeof(s), 1, 0),
				 VDEV_BLK_S_UNSUPP);
	}
	image_untouched(f, ref, sizeof(ref));
}

static void test_len_not_sector_multiple(void **state)
{
	struct fx *f = *state;
	uint8_t ref[4096], buf[4096];

	assert_int_equal(fx_open(f), 0);
	seed_image(f, ref, sizeof(ref));
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_IN, 0, buf, 1000, 1, 0),
			 VDEV_BLK_S_IOERR);
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_OUT, 0, buf, 100, 1, 0),
			 VDEV_BLK_S_IOERR);
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_OUT, 0, buf, 513, 2, 0),
			 VDEV_BLK_S_IOERR);
	image_untouched(f, ref, sizeof(ref));
}

/* An empty transfer is not an error. */
static void test_zero_length(void **state)
{
	struct fx *f = *state;
	struct vdev_blk_req_hdr h = hdr(VDEV_BLK_T_IN, 5);
	const uint32_t lens[] = { 16, 1 };
	uint8_t st;

	assert_int_equal(fx_open(f), 0);
	assert_int_equal(raw(f, lens, 1, 1, &h, &st), 1);
	assert_int_equal(st, VDEV_BLK_S_OK);
}

static uint8_t dwz_n(struct fx *f, uint32_t type, unsigned n, uint64_t sector,
		     uint32_t nsect, uint32_t flags)
{
	struct vdev_blk_discard_write_zeroes s[40];

	assert_true(n <= 40);
	for (unsigned i = 0; i < n; i++) {
		s[i].sector = vdev_cpu_to_le64(sector + 8 * i);
		s[i].num_sectors = vdev_cpu_to_le32(nsect);
		s[i].flags = vdev_cpu_to_le32(flags);
	}
	return io_do(f, 0, type, 0, s, n * sizeof(s[0]), 1, 0);
}

static void test_dwz_too_many_segments(void **state)
{
	struct fx *f = *state;
	uint8_t ref[4096];

	assert_int_equal(fx_open(f), 0);
	seed_image(f, ref, sizeof(ref));
	assert_int_equal(dwz_n(f, VDEV_BLK_T_DISCARD, BLK_MAX_DWZ_SEG + 1, 0,
			       1, 0),
			 VDEV_BLK_S_IOERR);
	assert_int_equal(dwz_n(f, VDEV_BLK_T_WRITE_ZEROES,
			       BLK_MAX_DWZ_SEG + 1, 0, 1, 0),
			 VDEV_BLK_S_IOERR);
	image_untouched(f, ref, sizeof(ref));
	/* exactly the maximum is fine */
	assert_int_equal(dwz_n(f, VDEV_BLK_T_WRITE_ZEROES, BLK_MAX_DWZ_SEG,
			       64, 1, 0),
			 VDEV_BLK_S_OK);
}

static void test_dwz_too_many_sectors(void **state)
{
	struct fx *f = *state;
	uint8_t ref[4096];

	assert_int_equal(fx_open(f), 0);
	seed_image(f, ref, sizeof(ref));
	assert_int_equal(dwz_n(f, VDEV_BLK_T_DISCARD, 1, 0,
			       BLK_MAX_DWZ_SECTORS + 1, 0),
			 VDEV_BLK_S_IOERR);
	assert_int_equal(dwz_n(f, VDEV_BLK_T_WRITE_ZEROES, 1, 0, UINT32_MAX,
			       0),
			 VDEV_BLK_S_IOERR);
	/* inside the limit but past the end of the image */
	assert_int_equal(dwz_n(f, VDEV_BLK_T_WRITE_ZEROES, 1, 8,
			       IMG_SECTORS, 0),
			 VDEV_BLK_S_IOERR);
	/* start past the end, and a sector number that overflows */
	assert_int_equal(dwz_n(f, VDEV_BLK_T_DISCARD, 1, IMG_SECTORS, 1, 0),
			 VDEV_BLK_S_IOERR);
	assert_int_equal(dwz_n(f, VDEV_BLK_T_WRITE_ZEROES, 1,
			       UINT64_C(1) << 55, 8, 0),
			 VDEV_BLK_S_IOERR);
	image_untouched(f, ref, sizeof(ref));
}

static void test_dwz_reserved_flags(void **state)
{
	struct fx *f = *state;
	uint8_t ref[4096];

	assert_int_equal(fx_open(f), 0);
	seed_image(f, ref, sizeof(ref));
	assert_int_equal(dwz_n(f, VDEV_BLK_T_WRITE_ZEROES, 1, 0, 8, 2),
			 VDEV_BLK_S_UNSUPP);
	assert_int_equal(dwz_n(f, VDEV_BLK_T_WRITE_ZEROES, 1, 0, 8,
			       0x80000001u),
			 VDEV_BLK_S_UNSUPP);
	assert_int_equal(dwz_n(f, VDEV_BLK_T_DISCARD, 1, 0, 8, 4),
			 VDEV_BLK_S_UNSUPP);
	/* a bad flag in the last segment fails the whole request first */
	{
		struct vdev_blk_discard_write_zeroes s[2] = {
			{ 0, vdev_cpu_to_le32(8), 0 },
			{ vdev_cpu_to_le64(16), vdev_cpu_to_le32(8),
			  vdev_cpu_to_le32(8) },
		};

		assert_int_equal(io_do(f, 0, VDEV_BLK_T_WRITE_ZEROES, 0, s,
				       sizeof(s), 1, 0),
				 VDEV_BLK_S_UNSUPP);
	}
	image_untouched(f, ref, sizeof(ref));
}

static void test_discard_unmap_flag(void **state)
{
	struct fx *f = *state;
	uint8_t ref[4096];

	assert_int_equal(fx_open(f), 0);
	seed_image(f, ref, sizeof(ref));
	assert_int_equal(dwz_n(f, VDEV_BLK_T_DISCARD, 1, 0, 8,
			       VDEV_BLK_WRITE_ZEROES_FLAG_UNMAP),
			 VDEV_BLK_S_UNSUPP);
	image_untouched(f, ref, sizeof(ref));
}

static void test_dwz_bad_table_size(void **state)
{
	struct fx *f = *state;
	uint8_t seg[20] = { 0 };

	assert_int_equal(fx_open(f), 0);
	seg[8] = 1;
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_DISCARD, 0, seg, sizeof(seg),
			       1, 0),
			 VDEV_BLK_S_IOERR);
	assert_int_equal(io_do(f, 0, VDEV_BLK_T_WRITE_ZEROES, 0, seg, 8, 1, 0),
			 VDEV_BLK_S_IOERR);
	/* no segment at all */
	{
		struct vdev_blk_req_hdr h = hdr(VDEV_BLK_T_DISCARD, 0);
		const uint32_t lens[] = { 16, 1 };
		uint8_t st;

		assert_int_equal(raw(f, lens, 1, 1, &h, &st), 1);
		assert_int_equal(st, VDEV_BLK_S_IOERR);
	}
	still_works(f);
}

/* DISCARD when the driver did not negotiate it. */
static void test_dwz_not_negotiated(void **state)
{
	struct fx *f = *state;

	f->dcfg.refuse = VDEV_BIT(VDEV_BLK_F_DISCARD) |
			 VDEV_BIT(VDEV_BLK_F_WRITE_ZEROES);
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(dwz_n(f, VDEV_BLK_T_DISCARD, 1, 0, 8, 0),
			 VDEV_BLK_S_UNSUPP);
	assert_int_equal(dwz_n(f, VDEV_BLK_T_WRITE_ZEROES, 1, 0, 8, 0),
			 VDEV_BLK_S_UNSUPP);
}

static void test_unknown_type(void **state)
{
	struct fx *f = *state;
	static const uint32_t types[] = {
		VDEV_BLK_T_GET_LIFETIME, VDEV_BLK_T_SECURE_ERASE, 2, 3, 5,
		16 /* ZONE_REPORT */, 0x80000000u, UINT32_MAX,
	};

	assert_int_equal(fx_open(f), 0);
	for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		uint8_t buf[512] = { 0 };

		assert_int_equal(io_do(f, 0, types[i], 0, buf, sizeof(buf), 1,
				       0),
				 VDEV_BLK_S_UNSUPP);
	}
	still_works(f);
}

/* More iovecs than a request slot holds: the queue gives the chain back
 * with nothing written and goes on. */
static void test_too_many_segments(void **state)
{
	struct fx *f = *state;
	struct vdev_blk_req_hdr h = hdr(VDEV_BLK_T_IN, 0);
	uint32_t lens[BLK_IOV_MAX + 2];
	unsigned n = BLK_IOV_MAX + 1;

	f->dcfg.queue_size = 256;
	assert_int_equal(fx_open(f), 0);
	lens[0] = 16;
	for (unsigned i = 1; i < n; i++)
		lens[i] = 512;
	lens[n] = 1;
	assert_int_equal(raw(f, lens, 1, n, &h, NULL), 0);
	still_works(f);
	/* within seg_max it works */
	n = BLK_SEG_MAX;
	lens[n + 1] = 1;
	for (unsigned i = 1; i <= n; i++)
		lens[i] = 512;
	{
		uint8_t st;

		assert_int_equal(raw(f, lens, 1, n + 1, &h, &st),
				 n * 512 + 1);
		assert_int_equal(st, VDEV_BLK_S_OK);
	}
}

/* One segment past size_max, or one segment more than seg_max: the limits
 * the config space advertises are enforced (IOERR), in both directions,
 * and nothing reaches the image. */
static void test_over_size_max(void **state)
{
	struct fx *f = *state;
	struct vdev_blk_req_hdr h = hdr(VDEV_BLK_T_IN, 0);
	const uint32_t rl[] = { 16, BLK_SIZE_MAX + 512, 1 };
	const uint32_t wl[] = { 16, 512, BLK_SIZE_MAX + 512, 1 };
	uint8_t ref[4096], st;
	uint8_t *out;

	assert_int_equal(fx_open(f), 0);
	seed_image(f, ref, sizeof(ref));
	assert_int_equal(raw(f, rl, 1, 2, &h, &st), BLK_SIZE_MAX + 512 + 1);
	assert_int_equal(st, VDEV_BLK_S_IOERR);
	out = calloc(1, 16 + 512 + BLK_SIZE_MAX + 512);
	assert_non_null(out);
	h = hdr(VDEV_BLK_T_OUT, 0);
	memcpy(out, &h, 16);
	assert_int_equal(raw(f, wl, 3, 1, out, &st), 1);
	assert_int_equal(st, VDEV_BLK_S_IOERR);
	free(out);
	image_untouched(f, ref, sizeof(ref));
	/* exactly size_max is fine */
	{
		const uint32_t ok[] = { 16, BLK_SIZE_MAX, 1 };

		h = hdr(VDEV_BLK_T_IN, 0);
		assert_int_equal(raw(f, ok, 1, 2, &h, &st), BLK_SIZE_MAX + 1);
		assert_int_equal(st, VDEV_BLK_S_OK);
	}
	still_works(f);
}

static void test_over_seg_max(void **state)
{
	struct fx *f = *state;
	struct vdev_blk_req_hdr h = hdr(VDEV_BLK_T_OUT, 0);
	uint32_t lens[BLK_SEG_MAX + 3];
	unsigned n = BLK_SEG_MAX + 1;
	uint8_t ref[4096], st;
	uint8_t *out = calloc(1, 16 + 512 * (size_t)n);

	assert_non_null(out);
	f->dcfg.queue_size = 256;
	assert_int_equal(fx_open(f), 0);
	seed_image(f, ref, sizeof(ref));
	memcpy(out, &h, 16);
	lens[0] = 16;
	for (unsigned i = 1; i <= n; i++)
		lens[i] = 512;
	lens[n + 1] = 1;
	assert_int_equal(raw(f, lens, n + 1, 1, out, &st), 1);
	assert_int_equal(st, VDEV_BLK_S_IOERR);
	h = hdr(VDEV_BLK_T_IN, 0);
	assert_int_equal(raw(f, lens, 1, n + 1, &h, &st), n * 512 + 1);
	assert_int_equal(st, VDEV_BLK_S_IOERR);
	free(out);
	image_untouched(f, ref, sizeof(ref));
	still_works(f);
}

/* OUT with extra writable bytes: the status is still the last one. */
static void test_out_extra_writable(void **state)
{
	struct fx *f = *state;
	uint8_t out[16 + 512];
	struct vdev_blk_req_hdr h = hdr(VDEV_BLK_T_OUT, 2);
	const uint32_t lens[] = { 16 + 512, 64 };
	uint8_t st;

	assert_int_equal(fx_open(f), 0);
	memcpy(out, &h, 16);
	pattern(out + 16, 512, 5);
	assert_int_equal(raw(f, lens, 1, 1, out, &st), 64);
	assert_int_equal(st, VDEV_BLK_S_OK);
	{
		uint8_t buf[512];

		assert_int_equal(io_do(f, 0, VDEV_BLK_T_IN, 2, buf, 512, 1, 0),
				 VDEV_BLK_S_OK);
		assert_memory_equal(buf, out + 16, 512);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BLK_TEST(test_no_status_byte),
		BLK_TEST(test_short_header),
		BLK_TEST(test_split_header),
		BLK_TEST(test_sector_past_end),
		BLK_TEST(test_sector_overflow),
		BLK_TEST(test_write_read_only),
		BLK_TEST(test_len_not_sector_multiple),
		BLK_TEST(test_zero_length),
		BLK_TEST(test_dwz_too_many_segments),
		BLK_TEST(test_dwz_too_many_sectors),
		BLK_TEST(test_dwz_reserved_flags),
		BLK_TEST(test_discard_unmap_flag),
		BLK_TEST(test_dwz_bad_table_size),
		BLK_TEST(test_dwz_not_negotiated),
		BLK_TEST(test_unknown_type),
		BLK_TEST(test_too_many_segments),
		BLK_TEST(test_over_size_max),
		BLK_TEST(test_over_seg_max),
		BLK_TEST(test_out_extra_writable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
