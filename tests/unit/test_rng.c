/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-rng through the software driver, in all four driver modes
 * (split/packed x synchronous kicks/eventfds): bytes come from the source
 * file in order and wrap at its end, the rate limit delays without
 * spinning, readable descriptors are ignored, reset mid-way, state.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/rng.h>
#include <virtio/state.h>
#include <virtio/testing.h>
#include <virtio/transport.h>

#include "core/bytes.h"
#include "core/crc32.h"
#include "twait.h"

#define SRC_LEN 1000

static char src_path[64];
static uint8_t src[SRC_LEN];

struct mode {
	bool packed;
	bool eventfds;
};

static const struct mode modes[] = {
	{ false, false }, { false, true }, { true, false }, { true, true },
};

static int group_setup(void **state)
{
	FILE *f;
	int fd;

	srand(1234);
	for (int i = 0; i < SRC_LEN; i++)
		src[i] = (uint8_t)rand();
	snprintf(src_path, sizeof(src_path), "/tmp/vdev-rng-src-XXXXXX");
	fd = mkstemp(src_path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_int_equal(fwrite(src, 1, SRC_LEN, f), SRC_LEN);
	fclose(f);
	return 0;
}

static int group_teardown(void **state)
{
	unlink(src_path);
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct vdev_drv *make(const struct mode *m, uint64_t max_bytes,
			     uint32_t period_ms, struct vdev **devp)
{
	struct vdev_rng_config rc = {
		.source = src_path,
		.max_bytes = max_bytes,
		.period_ms = period_ms,
	};
	struct vdev_drv_config dc = {
		.packed = m->packed,
		.use_eventfds = m->eventfds,
		.queue_size = 64,
	};
	struct vdev *dev = vdev_rng_new(&rc);
	struct vdev_drv *drv;

	assert_non_null(dev);
	drv = vdev_drv_new(dev, &dc);
	assert_non_null(drv);
	assert_int_equal(vdev_drv_init(drv), 0);
	assert_int_equal(!!(vdev_features(dev) &
			    VDEV_BIT(VDEV_F_RING_PACKED)), m->packed);
	*devp = dev;
	return drv;
}

static void destroy(struct vdev_drv *drv, struct vdev *dev)
{
	vdev_drv_free(drv);
	vdev_free(dev);
}

/* Expected bytes at source offset @pos, wrapping. */
static void expect_src(const uint8_t *got, size_t len, size_t pos)
{
	for (size_t i = 0; i < len; i++)
		if (got[i] != src[(pos + i) % SRC_LEN])
			fail_msg("byte %zu (source offset %zu) differs", i,
				 (pos + i) % SRC_LEN);
}

static void test_bytes(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev *dev;
		struct vdev_drv *drv = make(&modes[k], 0, 0, &dev);
		uint8_t buf[700];
		size_t pos = 0;
		uint32_t w;

		/* 3 x 100, then 700 crosses the end of the file. */
		for (int i = 0; i < 4; i++) {
			size_t n = i < 3 ? 100 : 700;

			memset(buf, 0, sizeof(buf));
			assert_int_equal(vdev_drv_xfer(drv, 0, NULL, 0, buf, n,
						       &w, TWAIT_MS), 0);
			assert_int_equal(w, n);
			expect_src(buf, n, pos);
			pos += n;
		}
		assert_true(vdev_drv_interrupts(drv, 0) >= 1);
		assert_int_equal(vdev_drv_config_interrupts(drv), 0);
		destroy(drv, dev);
	}
}

static void test_readable_ignored(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev *dev;
		struct vdev_drv *drv = make(&modes[k], 0, 0, &dev);
		struct vdev_drv_mem *mem = vdev_drv_get_mem(drv);
		struct vdev_drv_seg segs[3];
		uint8_t *o, *i1, *i2;
		void *tok;
		uint32_t len;

		o = vdev_drv_mem_alloc(mem, 32, 16, &segs[0].gpa);
		i1 = vdev_drv_mem_alloc(mem, 10, 16, &segs[1].gpa);
		i2 = vdev_drv_mem_alloc(mem, 20, 16, &segs[2].gpa);
		segs[0].len = 32;
		segs[1].len = 10;
		segs[2].len = 20;
		memset(o, 0x5a, 32);
		assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(drv, 0), segs,
						   1, 2, (void *)1, 0), 0);
		assert_int_equal(vdev_drv_kick(drv, 0), 0);
		assert_int_equal(vdev_drv_wait(drv, 0, 2000, &tok, &len), 0);
		assert_ptr_equal(tok, (void *)1);
		assert_int_equal(len, 30);
		expect_src(i1, 10, 0);
		expect_src(i2, 20, 10);
		for (int j = 0; j < 32; j++)
			assert_int_equal(o[j], 0x5a);
		destroy(drv, dev);
	}
}

static void test_no_writable(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev *dev;
		struct vdev_drv *drv = make(&modes[k], 0, 0, &dev);
		uint8_t out[16] = { 1 }, in[8];
		uint32_t w = 99;

		assert_int_equal(vdev_drv_xfer(drv, 0, out, sizeof(out), NULL,
					       0, &w, TWAIT_MS), 0);
		assert_int_equal(w, 0);
		/* The device goes on, from where it was in the source. */
		assert_int_equal(vdev_drv_xfer(drv, 0, NULL, 0, in, sizeof(in),
					       &w, TWAIT_MS), 0);
		assert_int_equal(w, sizeof(in));
		expect_src(in, sizeof(in), 0);
		destroy(drv, dev);
	}
}

static double cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 +
	       ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3;
}

static void test_rate_limit(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev *dev;
		struct vdev_drv *drv = make(&modes[k], 64, 50, &dev);
		struct vdev_drv_mem *mem = vdev_drv_get_mem(drv);
		struct vdev_drv_seg seg[4];
		uint8_t *buf[4];
		int64_t t0, t_first = 0, t_last = 0;
		double c0;
		size_t pos = 0;

		/* Four 64-byte buffers at once: one per period. */
		for (int i = 0; i < 4; i++) {
			buf[i] = vdev_drv_mem_alloc(mem, 64, 16, &seg[i].gpa);
			seg[i].len = 64;
		}
		t0 = now_ms();
		c0 = cpu_ms();
		for (int i = 0; i < 4; i++)
			assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(drv,
									 0),
							   &seg[i], 0, 1,
							   buf[i], 0), 0);
		assert_int_equal(vdev_drv_kick(drv, 0), 0);
		for (int i = 0; i < 4; i++) {
			void *tok;
			uint32_t len;

			assert_int_equal(vdev_drv_wait(drv, 0, 2000, &tok,
						       &len), 0);
			assert_ptr_equal(tok, buf[i]);
			assert_int_equal(len, 64);
			expect_src(buf[i], 64, pos);
			pos += 64;
			t_last = now_ms() - t0;
			if (i == 0)
				t_first = t_last;
		}
		/* Three more periods had to start after the first. */
		assert_true(t_last >= 145);
		assert_true(t_last - t_first >= 95);
		assert_true(t_last < 1000);
		/* Waiting is not spinning. */
		assert_true(cpu_ms() - c0 < t_last / 2.0);

		/* A 256-byte buffer gets what the period allows. */
		{
			uint8_t big[256];
			uint32_t w;
			size_t total = 0;

			t0 = now_ms();
			while (total < 256) {
				assert_int_equal(vdev_drv_xfer(drv, 0, NULL, 0,
							       big, 256, &w,
							       TWAIT_MS), 0);
				assert_true(w > 0 && w <= 64);
				expect_src(big, w, pos);
				pos += w;
				total += w;
			}
			assert_true(now_ms() - t0 >= 145);
		}
		destroy(drv, dev);
	}
}

static void test_reset_midway(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev *dev;
		struct vdev_drv *drv = make(&modes[k], 32, 100, &dev);
		struct vdev_drv_mem *mem = vdev_drv_get_mem(drv);
		struct vdev_drv_seg seg[2];
		uint8_t in[32];
		void *tok;
		uint32_t len, w;

		for (int i = 0; i < 2; i++) {
			assert_non_null(vdev_drv_mem_alloc(mem, 32, 16,
							   &seg[i].gpa));
			seg[i].len = 32;
			assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(drv,
									 0),
							   &seg[i], 0, 1,
							   (void *)(uintptr_t)
								   (i + 1),
							   0), 0);
		}
		assert_int_equal(vdev_drv_kick(drv, 0), 0);
		assert_int_equal(vdev_drv_wait(drv, 0, 1000, &tok, &len), 0);
		assert_int_equal(len, 32);
		/* The second waits for the next period: reset now. */
		assert_int_equal(vdev_drv_wait(drv, 0, 10, &tok, &len),
				 -ETIMEDOUT);
		assert_int_equal(vdev_drv_init(drv), 0);
		assert_int_equal(vdev_get_status(dev) &
					 VDEV_STATUS_DEVICE_NEEDS_RESET, 0);
		/* A fresh period after the reset: served at once. */
		assert_int_equal(vdev_drv_xfer(drv, 0, NULL, 0, in, 32, &w,
					       TWAIT_MS), 0);
		assert_int_equal(w, 32);
		/* The source is not rewound by a reset. */
		expect_src(in, 32, 32);
		/* The old timer firing later does no harm. */
		usleep(120000);
		assert_int_equal(vdev_drv_xfer(drv, 0, NULL, 0, in, 32, &w,
					       TWAIT_MS), 0);
		assert_int_equal(w, 32);
		expect_src(in, 32, 64);
		destroy(drv, dev);
	}
}

static void test_state(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev *dev;
		struct vdev_drv *drv = make(&modes[k], 64, 10000, &dev);
		struct vdev_queue_state st;
		uint8_t in[64];
		void *blob;
		size_t len;
		uint32_t w;

		assert_int_equal(vdev_drv_xfer(drv, 0, NULL, 0, in, 40, &w,
					       TWAIT_MS), 0);
		assert_int_equal(w, 40);
		/* Running queue: refused. */
		assert_int_equal(vdev_save(dev, &blob, &len), -EBUSY);
		assert_int_equal(vdev_vq_stop(dev, 0, &st), 0);
		assert_int_equal(st.used_idx, 1);
		assert_int_equal(vdev_save(dev, &blob, &len), 0);
		vdev_reset(dev);
		assert_int_equal(vdev_restore(dev, blob, len), 0);
		free(blob);
		assert_true(vdev_get_status(dev) & VDEV_STATUS_DRIVER_OK);
		assert_true(vdev_vq_enabled(dev, 0));
		/* 24 bytes left in this (10 s) period, source at 40. */
		assert_int_equal(vdev_drv_xfer(drv, 0, NULL, 0, in, 64, &w,
					       TWAIT_MS), 0);
		assert_int_equal(w, 24);
		expect_src(in, 24, 40);
		destroy(drv, dev);
	}
}

/*
 * A migration stream is the peer's: a source position past what pread
 * takes (negative as off_t) must not stop the device for good.
 */
static void test_state_hostile_pos(void **state)
{
	struct vdev *dev;
	struct vdev_drv *drv = make(&modes[0], 0, 0, &dev);
	uint32_t tag = VDEV_STATE_TAG('R', 'N', 'G', '0');
	struct vdev_queue_state st;
	uint8_t in[64], *b;
	size_t len, off = 32;
	void *blob;
	uint32_t w;

	assert_int_equal(vdev_drv_xfer(drv, 0, NULL, 0, in, 10, &w,
				       TWAIT_MS), 0);
	assert_int_equal(vdev_vq_stop(dev, 0, &st), 0);
	assert_int_equal(vdev_save(dev, &blob, &len), 0);
	b = blob;
	while (off + 8 <= len && get_le32(b + off) != tag)
		off += 8 + get_le32(b + off + 4);
	assert_true(off + 8 + 24 <= len);
	/* le64 position at byte 16 of the section: 2^63. */
	memset(b + off + 8 + 16, 0, 8);
	b[off + 8 + 23] = 0x80;
	put_le32(b + 20, vcore_crc32(b + 32, len - 32));
	vdev_reset(dev);
	assert_int_equal(vdev_restore(dev, blob, len), 0);
	free(blob);
	assert_int_equal(vdev_drv_xfer(drv, 0, NULL, 0, in, 64, &w,
				       TWAIT_MS), 0);
	assert_int_equal(w, 64);
	destroy(drv, dev);
}

static void test_new_errors(void **state)
{
	struct vdev_rng_config rc = { .max_bytes = 10 };
	char empty[] = "/tmp/vdev-rng-empty-XXXXXX";
	int fd;

	errno = 0;
	assert_null(vdev_rng_new(&rc));
	assert_int_equal(errno, EINVAL);
	rc.max_bytes = 0;
	rc.source = "/nonexistent/source";
	assert_null(vdev_rng_new(&rc));
	assert_int_equal(errno, ENOENT);
	fd = mkstemp(empty);
	assert_true(fd >= 0);
	close(fd);
	rc.source = empty;
	assert_null(vdev_rng_new(&rc));
	assert_int_equal(errno, EINVAL);
	unlink(empty);
}

static void test_urandom(void **state)
{
	struct vdev *dev = vdev_rng_new(NULL);
	struct vdev_drv *drv;
	struct vdev_drv_config dc = { .use_eventfds = true, .packed = true };
	uint8_t a[64] = { 0 }, b[64] = { 0 };
	uint32_t w;

	assert_non_null(dev);
	assert_int_equal(vdev_get_info(dev)->device_id, VDEV_ID_RNG);
	assert_int_equal(vdev_vq_max_size(dev, 0), 1024);
	drv = vdev_drv_new(dev, &dc);
	assert_int_equal(vdev_drv_init(drv), 0);
	assert_int_equal(vdev_drv_xfer(drv, 0, NULL, 0, a, 64, &w,
				       TWAIT_MS), 0);
	assert_int_equal(w, 64);
	assert_int_equal(vdev_drv_xfer(drv, 0, NULL, 0, b, 64, &w,
				       TWAIT_MS), 0);
	assert_memory_not_equal(a, b, 64);
	destroy(drv, dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes),
		cmocka_unit_test(test_readable_ignored),
		cmocka_unit_test(test_no_writable),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_reset_midway),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_state_hostile_pos),
		cmocka_unit_test(test_new_errors),
		cmocka_unit_test(test_urandom),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
