/* SPDX-License-Identifier: BSD-3-Clause */
/* Split virtqueue: the tests common to both layouts, on a split ring. */
#define LAYOUT SPLIT
#include "vq_ring_tests.h"

int main(void)
{
	const struct CMUnitTest tests[] = {
		VQ_RING_TESTS,
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
