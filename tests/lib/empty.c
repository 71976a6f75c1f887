/* SPDX-License-Identifier: BSD-3-Clause */
/* Keeps the test helper library non-empty before any helper exists. */
int vdev_testlib_present(void);
int vdev_testlib_present(void)
{
	return 1;
}
