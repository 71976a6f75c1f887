/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vdev-blk daemon end to end: the test starts the real binary on a
 * temporary image, connects the software driver over vhost-user
 * (vdev_drv_vhost_user_fd, testing.h), reads
 * the config space, writes, reads back, flushes, asks for the serial, then
 * stops the daemon with SIGTERM and checks that it exits cleanly and
 * removes its socket. Once per file backend, and read-only.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/blk.h>
#include <virtio/spec.h>
#include <virtio/testing.h>

#include "vdev_build_config.h"
#include "tspawn.h"

#define IMG_SIZE (4u << 20)

struct efx {
	char img[64];
	char sock[108];
	char bin[512];
	int imgfd;
	struct tspawn d;
	struct vdev_drv *drv;
};

static int setup(void **state)
{
	static struct efx e;
	const char *bd = getenv("VDEV_BUILD_DIR");

	memset(&e, 0, sizeof(e));
	snprintf(e.bin, sizeof(e.bin), "%s/daemons/blk/vdev-blk",
		 bd ? bd : ".");
	snprintf(e.img, sizeof(e.img), "/tmp/vdev-blk-e2e-XXXXXX");
	e.imgfd = mkstemp(e.img);
	assert_true(e.imgfd >= 0);
	assert_int_equal(ftruncate(e.imgfd, IMG_SIZE), 0);
	snprintf(e.sock, sizeof(e.sock), "/tmp/vdev-blk-e2e-%d.sock",
		 (int)getpid());
	*state = &e;
	return 0;
}

static void stop_daemon(struct efx *e, bool expect_clean)
{
	int r;

	vdev_drv_free(e->drv);
	e->drv = NULL;
	if (e->d.pid <= 0)
		return;
	r = tspawn_stop(&e->d, SIGTERM, TSPAWN_TIMEOUT_MS);
	assert_true(r >= 0); /* it ended within the timeout */
	if (expect_clean) {
		assert_int_equal(r, 0);
		/* the daemon removed its socket */
		assert_int_equal(access(e->sock, F_OK), -1);
	}
}

static int teardown(void **state)
{
	struct efx *e = *state;

	stop_daemon(e, false);
	close(e->imgfd);
	unlink(e->img);
	unlink(e->sock);
	return 0;
}

static void start_daemon(struct efx *e, const char *backend, bool ro,
			 bool thread_per_queue)
{
	const char *argv[16];
	int n = 0;

	if (access(e->bin, X_OK) != 0) {
		print_message("no %s: daemons not built\n", e->bin);
		skip();
	}
	argv[n++] = e->bin;
	argv[n++] = "-s";
	argv[n++] = e->sock;
	argv[n++] = "-b";
	argv[n++] = e->img;
	argv[n++] = "--serial";
	argv[n++] = "e2e-serial";
	argv[n++] = "--num-queues";
	argv[n++] = "2";
	argv[n++] = "--backend";
	argv[n++] = backend;
	if (ro)
		argv[n++] = "--read-only";
	if (thread_per_queue)
		argv[n++] = "--thread-per-queue";
	argv[n] = NULL;
	unlink(e->sock);
	assert_int_equal(tspawn_start(&e->d, argv, NULL), 0);
	assert_int_equal(tspawn_drv_connect(&e->d, e->sock, 5000,
					    &(const struct vdev_drv_config){
						    .queue_size = 64 },
					    &e->drv), 0);
	assert_int_equal(vdev_drv_init(e->drv), 0);
}

static void get_config(struct efx *e, struct vdev_blk_config_space *cs)
{
	assert_int_equal(vdev_drv_config_read(e->drv, 0, cs, 60), 0);
}

/* One request on queue 0; returns the status byte. */
static uint8_t req(struct efx *e, uint32_t type, uint64_t sector, void *buf,
		   uint32_t len, bool out)
{
	struct vdev_drv_mem *m = vdev_drv_get_mem(e->drv);
	size_t mark = vdev_drv_mem_mark(m);
	struct vdev_drv_seg s[3];
	struct vdev_blk_req_hdr *h;
	uint8_t *d = NULL, *st, ret;
	unsigned n = 0;
	void *tok;
	uint32_t used;

	h = vdev_drv_mem_alloc(m, 16, 16, &s[n].gpa);
	assert_non_null(h);
	h->type = vdev_cpu_to_le32(type);
	h->sector = vdev_cpu_to_le64(sector);
	s[n++].len = 16;
	if (len) {
		d = vdev_drv_mem_alloc(m, len, 4096, &s[n].gpa);
		assert_non_null(d);
		if (out)
			memcpy(d, buf, len);
		s[n++].len = len;
	}
	st = vdev_drv_mem_alloc(m, 1, 1, &s[n].gpa);
	*st = 0xee;
	s[n++].len = 1;
	assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(e->drv, 0), s,
					   out ? n - 1 : 1, out ? 1 : n - 1, h,
					   0),
			 0);
	assert_int_equal(vdev_drv_kick(e->drv, 0), 0);
	assert_int_equal(vdev_drv_wait(e->drv, 0, 5000, &tok, &used), 0);
	assert_ptr_equal(tok, h);
	if (!out && len)
		memcpy(buf, d, len);
	ret = *st;
	vdev_drv_mem_reset_to(m, mark);
	return ret;
}

static void pattern(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 13 + (i >> 9));
}

static void run_rw(struct efx *e, const char *backend)
{
	struct vdev_blk_config_space cs;
	uint8_t w[8192], r[8192], id[20];

	start_daemon(e, backend, false, false);
	get_config(e, &cs);
	assert_int_equal(vdev_le64_to_cpu(cs.capacity), IMG_SIZE / 512);
	assert_int_equal(vdev_le16_to_cpu(cs.num_queues), 2);
	assert_true(vdev_drv_features(e->drv) & VDEV_BIT(VDEV_BLK_F_FLUSH));
	assert_false(vdev_drv_features(e->drv) & VDEV_BIT(VDEV_BLK_F_RO));

	pattern(w, sizeof(w), 1);
	assert_int_equal(req(e, VDEV_BLK_T_OUT, 16, w, sizeof(w), true),
			 VDEV_BLK_S_OK);
	assert_int_equal(req(e, VDEV_BLK_T_FLUSH, 0, NULL, 0, false),
			 VDEV_BLK_S_OK);
	memset(r, 0, sizeof(r));
	assert_int_equal(req(e, VDEV_BLK_T_IN, 16, r, sizeof(r), false),
			 VDEV_BLK_S_OK);
	assert_memory_equal(w, r, sizeof(w));
	assert_int_equal(pread(e->imgfd, r, sizeof(r), 16 * 512),
			 (ssize_t)sizeof(r));
	assert_memory_equal(w, r, sizeof(w));
	assert_int_equal(req(e, VDEV_BLK_T_GET_ID, 0, id, sizeof(id), false),
			 VDEV_BLK_S_OK);
	assert_memory_equal(id, "e2e-serial\0\0\0\0\0\0\0\0\0\0", 20);
	/* hostile input over the wire too: past the end */
	assert_int_equal(req(e, VDEV_BLK_T_IN, IMG_SIZE / 512, r, 512, false),
			 VDEV_BLK_S_IOERR);
	stop_daemon(e, true);
}

static void test_rw_sync(void **state)
{
	run_rw(*state, "sync");
}

static void test_rw_uring(void **state)
{
#if VDEV_WITH_URING_FOUND
	run_rw(*state, "uring");
#else
	(void)state;
	print_message("SKIP: built without liburing (VDEV_WITH_URING)\n");
	skip();
#endif
}

static void test_read_only(void **state)
{
	struct efx *e = *state;
	uint8_t w[4096], r[4096];

	pattern(w, sizeof(w), 2);
	assert_int_equal(pwrite(e->imgfd, w, sizeof(w), 0), (ssize_t)sizeof(w));
	start_daemon(e, "auto", true, false);
	assert_true(vdev_drv_features(e->drv) & VDEV_BIT(VDEV_BLK_F_RO));
	memset(r, 0x11, sizeof(r));
	assert_int_equal(req(e, VDEV_BLK_T_OUT, 0, r, sizeof(r), true),
			 VDEV_BLK_S_IOERR);
	assert_int_equal(req(e, VDEV_BLK_T_IN, 0, r, sizeof(r), false),
			 VDEV_BLK_S_OK);
	assert_memory_equal(w, r, sizeof(w));
	stop_daemon(e, true);
}

/*
 * GET_VRING_BASE while 20 writes (60 of 64 descriptors) may be in flight
 * in io_uring: the back-end stops the queue only once everything it popped
 * has completed, so the base it reports equals the number of completions
 * and every status is written.
 */
static void run_stop_in_flight(struct efx *e, bool thread_per_queue)
{
	struct vdev_drv_mem *m;
	struct vdev_drv_seg s[3];
	uint8_t *st[20];
	struct vdev_queue_state qs;
	uint32_t base;
	void *tok;
	uint32_t used;
	unsigned got = 0;

	start_daemon(e, "auto", false, thread_per_queue);
	m = vdev_drv_get_mem(e->drv);
	for (unsigned i = 0; i < 20; i++) {
		struct vdev_blk_req_hdr *h =
			vdev_drv_mem_alloc(m, 16, 16, &s[0].gpa);
		uint8_t *d = vdev_drv_mem_alloc(m, 65536, 4096, &s[1].gpa);

		assert_non_null(h);
		assert_non_null(d);
		h->type = vdev_cpu_to_le32(VDEV_BLK_T_OUT);
		h->sector = vdev_cpu_to_le64(i * 128);
		s[0].len = 16;
		s[1].len = 65536;
		pattern(d, 65536, i);
		st[i] = vdev_drv_mem_alloc(m, 1, 1, &s[2].gpa);
		*st[i] = 0xee;
		s[2].len = 1;
		assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(e->drv, 0), s,
						   2, 1, st[i], 0), 0);
	}
	assert_int_equal(vdev_drv_kick(e->drv, 0), 0);
	assert_int_equal(vdev_drv_stop_queue(e->drv, 0, &qs), 0);
	base = qs.avail_idx;
	assert_true(base <= 20);
	while (vdev_drv_ring_get_used(vdev_drv_ring(e->drv, 0),
				      &tok, &used) == 0) {
		assert_int_equal(*(uint8_t *)tok, VDEV_BLK_S_OK);
		got++;
	}
	assert_int_equal(got, base);
	print_message("  %u of 20 writes completed before the stop\n", base);
	stop_daemon(e, true);
}

static void test_stop_in_flight(void **state)
{
	run_stop_in_flight(*state, false);
}

static void test_stop_in_flight_thread_per_queue(void **state)
{
	run_stop_in_flight(*state, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_rw_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rw_uring, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_stop_in_flight, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_stop_in_flight_thread_per_queue, setup, teardown),
	};

	const char *bd = getenv("VDEV_BUILD_DIR");
	char bin[512];

	/* Without the daemon nothing here can run: ctest counts exit code
	 * 77 as skipped, not passed. */
	snprintf(bin, sizeof(bin), "%s/daemons/blk/vdev-blk",
		 bd ? bd : ".");
	if (access(bin, X_OK) != 0) {
		fprintf(stderr, "SKIP: %s not built\n", bin);
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
