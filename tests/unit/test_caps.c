/* SPDX-License-Identifier: BSD-3-Clause */
/* caps.h: the capability table of this build. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include <virtio/caps.h>

static void test_version(void **state)
{
	const char *v = vdev_version();

	assert_non_null(v);
	assert_int_equal(strspn(v, "0123456789."), strlen(v));
	assert_non_null(strchr(v, '.'));
}

static void test_list(void **state)
{
	size_t n = 0;
	const struct vdev_cap *caps = vdev_capabilities(&n);
	bool rng = false, testing = false, packed = false;

	assert_non_null(caps);
	assert_true(n > 0);
	for (size_t i = 0; i < n; i++) {
		assert_non_null(caps[i].name);
		if (caps[i].kind == VDEV_CAP_DEVICE &&
		    !strcmp(caps[i].name, "rng"))
			rng = true;
		if (caps[i].kind == VDEV_CAP_TRANSPORT &&
		    !strcmp(caps[i].name, "testing"))
			testing = true;
		if (caps[i].kind == VDEV_CAP_FEATURE &&
		    !strcmp(caps[i].name, "ring_packed"))
			packed = true;
	}
	assert_true(rng);
	assert_true(testing);
	assert_true(packed);
	/* The count pointer is optional. */
	assert_ptr_equal(vdev_capabilities(NULL), caps);
}

static void test_has(void **state)
{
	assert_true(vdev_has_capability(VDEV_CAP_DEVICE, "rng"));
	assert_false(vdev_has_capability(VDEV_CAP_BACKEND, "rng"));
	assert_false(vdev_has_capability(VDEV_CAP_DEVICE, "no-such-device"));
	assert_false(vdev_has_capability(VDEV_CAP_DEVICE, "rn"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_has),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
