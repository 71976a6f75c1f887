/* SPDX-License-Identifier: BSD-3-Clause */
/* vdev_iov_*: bounded copies across piece boundaries, short chains, skip
 * past the end, zero-length pieces. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <virtio/iov.h>

static uint8_t a[3], b[1], c[5], d[2];

static const struct iovec iov[] = {
	{ a, sizeof(a) }, { b, 0 }, { c, sizeof(c) }, { d, sizeof(d) },
};

static void fill_src(void)
{
	for (unsigned i = 0; i < sizeof(a); i++)
		a[i] = (uint8_t)i;
	for (unsigned i = 0; i < sizeof(c); i++)
		c[i] = (uint8_t)(3 + i);
	for (unsigned i = 0; i < sizeof(d); i++)
		d[i] = (uint8_t)(8 + i);
}

static void test_size(void **state)
{
	const struct iovec big[] = { { NULL, SIZE_MAX }, { NULL, 2 } };

	assert_int_equal(vdev_iov_size(iov, 4), 10);
	assert_int_equal(vdev_iov_size(iov, 0), 0);
	assert_true(vdev_iov_size(big, 2) == SIZE_MAX);
}

static void test_to_buf(void **state)
{
	uint8_t out[16];

	fill_src();
	/* Across every boundary, the empty piece included. */
	memset(out, 0xee, sizeof(out));
	assert_int_equal(vdev_iov_to_buf(iov, 4, 0, out, 10), 10);
	for (unsigned i = 0; i < 10; i++)
		assert_int_equal(out[i], i);
	assert_int_equal(out[10], 0xee);
	/* A skip that lands inside a piece. */
	assert_int_equal(vdev_iov_to_buf(iov, 4, 4, out, 3), 3);
	assert_int_equal(out[0], 4);
	assert_int_equal(out[2], 6);
	/* Short chain: only what is there. */
	memset(out, 0xee, sizeof(out));
	assert_int_equal(vdev_iov_to_buf(iov, 4, 7, out, 16), 3);
	assert_int_equal(out[2], 9);
	assert_int_equal(out[3], 0xee);
	/* Skip past the end. */
	assert_int_equal(vdev_iov_to_buf(iov, 4, 10, out, 1), 0);
	assert_int_equal(vdev_iov_to_buf(iov, 4, SIZE_MAX, out, 1), 0);
}

static void test_from_buf_and_memset(void **state)
{
	const uint8_t in[4] = { 0xa0, 0xa1, 0xa2, 0xa3 };

	fill_src();
	assert_int_equal(vdev_iov_from_buf(iov, 4, 2, in, 4), 4);
	assert_int_equal(a[1], 1);
	assert_int_equal(a[2], 0xa0);
	assert_int_equal(c[0], 0xa1);
	assert_int_equal(c[2], 0xa3);
	assert_int_equal(c[3], 6);
	/* The last byte of the chain (a status byte) and nothing past it. */
	assert_int_equal(vdev_iov_from_buf(iov, 4, 9, in, 4), 1);
	assert_int_equal(d[1], 0xa0);
	assert_int_equal(vdev_iov_memset(iov, 4, 1, 0, 100), 9);
	assert_int_equal(a[0], 0);
	assert_int_equal(a[1], 0);
	assert_int_equal(d[1], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_to_buf),
		cmocka_unit_test(test_from_buf_and_memset),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
