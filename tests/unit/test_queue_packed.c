/* SPDX-License-Identifier: BSD-3-Clause */
/* Packed virtqueue: the tests common to both layouts, on a packed ring. */
#define LAYOUT PACKED
#include "vq_ring_tests.h"

int main(void)
{
	const struct CMUnitTest tests[] = {
		VQ_RING_TESTS,
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
