/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * FLUSH durability of the sync backend: the driver may see VIRTIO_BLK_S_OK
 * for a FLUSH only after fdatasync() returned success. (Writethrough
 * writes use pwritev2(RWF_DSYNC): durable when the call returns.)
 *
 * How it is observed: this program defines fdatasync() itself. The test is
 * linked statically against libvdev, so the library's call binds to this
 * definition at link time (no LD_PRELOAD, no tracing); it looks at the
 * request's status byte in guest memory at the moment of the call, then
 * does the real system call (or fails on demand). The io_uring backend is
 * not covered here: its FSYNC goes to the kernel, which posts the
 * completion the status is written from only after the sync finished.
 */
#include <sys/syscall.h>

#include "blk_harness.h"

static volatile uint8_t *watch; /* status byte of the request in flight */
static uint8_t seen[8];         /* its value at each call */
static unsigned calls;
static int fail_with[8];        /* errno to fail the call with, 0: real */

int fdatasync(int fd)
{
	unsigned i = calls++;

	if (i < 8) {
		seen[i] = watch ? *watch : 0;
		if (fail_with[i]) {
			errno = fail_with[i];
			return -1;
		}
	}
	return (int)syscall(SYS_fdatasync, fd);
}

static void reset_watch(void)
{
	watch = NULL;
	calls = 0;
	memset(seen, 0, sizeof(seen));
	memset(fail_with, 0, sizeof(fail_with));
}

/* Submits one request, watching its status byte; returns the status. */
static uint8_t watched(struct fx *f, uint32_t type, void *buf, size_t len)
{
	struct io io, *p = &io;
	uint8_t st;
	bool out = type == VDEV_BLK_T_OUT;

	io_add(f, 0, &io, type, 0, len, 1, out, 0, false);
	if (out && len)
		memcpy(io.data, buf, len);
	watch = io.st;
	assert_int_equal(vdev_drv_kick(f->drv, 0), 0);
	io_wait(f, 0, &p, 1);
	st = *io.st;
	watch = NULL;
	vdev_drv_mem_reset_to(vdev_drv_get_mem(f->drv), io.mark);
	return st;
}

static void test_flush_after_sync(void **state)
{
	struct fx *f = *state;

	assert_int_equal(fx_open(f), 0);
	reset_watch();
	assert_int_equal(watched(f, VDEV_BLK_T_FLUSH, NULL, 0), VDEV_BLK_S_OK);
	assert_int_equal(calls, 1);
	assert_int_equal(seen[0], 0xee); /* not yet written during the sync */
}

static void test_flush_sync_fails(void **state)
{
	struct fx *f = *state;

	assert_int_equal(fx_open(f), 0);
	reset_watch();
	fail_with[0] = EIO;
	assert_int_equal(watched(f, VDEV_BLK_T_FLUSH, NULL, 0),
			 VDEV_BLK_S_IOERR);
	assert_int_equal(seen[0], 0xee);
	/* Interrupted: retried, and OK only after the retry returned. */
	reset_watch();
	fail_with[0] = EINTR;
	assert_int_equal(watched(f, VDEV_BLK_T_FLUSH, NULL, 0), VDEV_BLK_S_OK);
	assert_int_equal(calls, 2);
	assert_int_equal(seen[1], 0xee);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		BLK_TEST_ONE(test_flush_after_sync, be_sync),
		BLK_TEST_ONE(test_flush_sync_fails, be_sync),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
