/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * O_DIRECT bounce buffers (--direct with guest buffers O_DIRECT cannot
 * use): what a guest costs the daemon in memory is bounded per queue,
 * whatever lengths it claims, and requests beyond the bound wait for a
 * buffer instead of allocating one; the data still comes out right.
 *
 * The memory bound is observed from outside: the process's peak resident
 * size (VmHWM, reset through /proc/self/clear_refs) across requests that
 * claim 512 MiB of bounce space in all, from 4 MiB of guest memory.
 */
#include <sys/stat.h>

#include "blk_harness.h"

#define BIG_IMG (64ull << 20)

/* kB of a /proc/self/status field. */
static long status_kb(const char *field)
{
	char line[256];
	size_t n = strlen(field);
	long v = -1;
	FILE *fp = fopen("/proc/self/status", "r");

	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp))
		if (!strncmp(line, field, n) && line[n] == ':')
			v = strtol(line + n + 1, NULL, 10);
	fclose(fp);
	return v;
}

/* Starts a new peak: VmHWM becomes the current RSS. */
static long peak_reset(void)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);

	if (fd < 0 || write(fd, "5", 1) != 1)
		skip(); /* kernel without peak reset (< 4.0) */
	close(fd);
	return status_kb("VmHWM");
}

static int setup_direct(void **state)
{
	struct fx *f;

	fx_setup(state);
	f = *state;
	assert_int_equal(ftruncate(f->imgfd, (off_t)BIG_IMG), 0);
	f->cfg.direct = true;
	f->dcfg.queue_size = 256;
	return 0;
}

/*
 * Eight READs in flight, each of 16 segments of size_max that all alias
 * one unaligned 4 MiB guest buffer: 512 MiB of bounced data. The peak
 * RSS may grow by the queue's bounce slots, not by what the guest claims.
 */
static void test_bounce_memory_bounded(void **state)
{
	struct fx *f = *state;
	struct vdev_drv_mem *m;
	struct vdev_drv_ring *ring;
	enum { NREQ = 8, NSEG = 16 };
	struct vdev_drv_seg segs[NSEG + 2];
	uint8_t *st[NREQ];
	uint64_t buf;
	long base, peak;

	assert_int_equal(fx_open(f), 0);
	assert_true(fx_blk(f)->img->direct);
	m = vdev_drv_get_mem(f->drv);
	ring = vdev_drv_ring(f->drv, 0);
	assert_non_null(vdev_drv_mem_alloc(m, BLK_SIZE_MAX + 4096, 4096,
					   &buf));
	base = peak_reset();
	for (unsigned i = 0; i < NREQ; i++) {
		struct vdev_blk_req_hdr *h =
			vdev_drv_mem_alloc(m, sizeof(*h), 16, &segs[0].gpa);

		assert_non_null(h);
		h->type = vdev_cpu_to_le32(VDEV_BLK_T_IN);
		h->sector = 0;
		segs[0].len = sizeof(*h);
		for (unsigned s = 1; s <= NSEG; s++) {
			segs[s].gpa = buf + 1; /* not sector-aligned */
			segs[s].len = BLK_SIZE_MAX;
		}
		st[i] = vdev_drv_mem_alloc(m, 1, 1, &segs[NSEG + 1].gpa);
		assert_non_null(st[i]);
		*st[i] = 0xee;
		segs[NSEG + 1].len = 1;
		assert_int_equal(vdev_drv_ring_add(ring, segs, 1, NSEG + 1,
						   st[i], 0),
				 0);
	}
	assert_int_equal(vdev_drv_kick(f->drv, 0), 0);
	for (unsigned i = 0; i < NREQ; i++) {
		void *tok;
		uint32_t len;

		assert_int_equal(vdev_drv_wait(f->drv, 0, 60000, &tok, &len),
				 0);
		assert_int_equal(*(uint8_t *)tok, VDEV_BLK_S_OK);
		assert_int_equal(len, (uint32_t)NSEG * BLK_SIZE_MAX + 1);
	}
	peak = status_kb("VmHWM");
	print_message("peak RSS grew by %ld kB for %u MiB of bounced reads\n",
		      peak - base, NREQ * NSEG * (BLK_SIZE_MAX >> 20));
	/* The slots (1 MiB) plus slack for the allocator and the test. */
	assert_true(peak - base < 32 * 1024);
}

/*
 * More bounced requests in flight than there are slots, each longer than
 * a slot and split over segments: every byte goes to the right place in
 * the image and back.
 */
static void test_bounce_waiters(void **state)
{
	struct fx *f = *state;
	struct vdev_drv_mem *m;
	struct vdev_drv_ring *ring;
	enum { NREQ = 2 * STG_BOUNCE_SLOTS + 1, NSEG = 3 };
	const size_t seglen = STG_BOUNCE_SLOT / 2 + 512;
	const size_t len = NSEG * seglen;
	uint8_t *data[NREQ], *img = malloc(len);

	assert_non_null(img);
	assert_int_equal(fx_open(f), 0);
	m = vdev_drv_get_mem(f->drv);
	ring = vdev_drv_ring(f->drv, 0);
	for (int pass = 0; pass < 2; pass++) {
		bool wr = pass == 0;
		size_t mark = vdev_drv_mem_mark(m);

		for (unsigned i = 0; i < NREQ; i++) {
			struct vdev_drv_seg segs[NSEG + 2];
			struct vdev_blk_req_hdr *h = vdev_drv_mem_alloc(
				m, sizeof(*h), 16, &segs[0].gpa);
			uint64_t gpa;

			assert_non_null(h);
			h->type = vdev_cpu_to_le32(wr ? VDEV_BLK_T_OUT
						      : VDEV_BLK_T_IN);
			h->sector = vdev_cpu_to_le64(i * len / 512);
			segs[0].len = sizeof(*h);
			data[i] = vdev_drv_mem_alloc(m, len + 4096, 4096, &gpa);
			assert_non_null(data[i]);
			data[i] += 3;
			for (unsigned s = 0; s < NSEG; s++) {
				segs[1 + s].gpa = gpa + 3 + s * seglen;
				segs[1 + s].len = (uint32_t)seglen;
			}
			if (wr)
				pattern(data[i], len, 40 + i);
			assert_non_null(vdev_drv_mem_alloc(m, 1, 1,
							   &segs[NSEG + 1].gpa));
			segs[NSEG + 1].len = 1;
			assert_int_equal(vdev_drv_ring_add(ring, segs,
							   wr ? NSEG + 1 : 1,
							   wr ? 1 : NSEG + 1,
							   data[i], 0),
					 0);
		}
		assert_int_equal(vdev_drv_kick(f->drv, 0), 0);
		for (unsigned i = 0; i < NREQ; i++) {
			void *tok;
			uint32_t l;

			assert_int_equal(vdev_drv_wait(f->drv, 0, TMO, &tok,
						       &l),
					 0);
			assert_int_equal(l, wr ? 1 : len + 1);
		}
		for (unsigned i = 0; !wr && i < NREQ; i++) {
			pattern(img, len, 40 + i);
			assert_memory_equal(data[i], img, len);
		}
		if (wr) {
			for (unsigned i = 0; i < NREQ; i++) {
				uint8_t *got = malloc(len);

				assert_non_null(got);
				assert_int_equal(pread(f->imgfd, got, len,
						       (off_t)(i * len)),
						 (ssize_t)len);
				pattern(img, len, 40 + i);
				assert_memory_equal(got, img, len);
				free(got);
			}
		}
		vdev_drv_mem_reset_to(m, mark);
	}
	/* every slot came back: nothing is left waiting */
	assert_int_equal(fx_blk(f)->queues[0].sq->bbusy, 0);
	assert_null(fx_blk(f)->queues[0].sq->bwait);
	free(img);
}

#define BOUNCE_TEST(fn, be)                                                 \
	{ .name = #fn "/" #be, .test_func = fn, .setup_func = setup_direct, \
	  .teardown_func = fx_teardown, .initial_state = (void *)&(be) }

int main(void)
{
	const struct CMUnitTest tests[] = {
#if VDEV_WITH_URING_FOUND
		BOUNCE_TEST(test_bounce_memory_bounded, be_uring),
		BOUNCE_TEST(test_bounce_waiters, be_uring),
#endif
		BOUNCE_TEST(test_bounce_memory_bounded, be_sync),
		BOUNCE_TEST(test_bounce_waiters, be_sync),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
