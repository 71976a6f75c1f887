/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev-gpio as a process, through the vhost-user software driver: the
 * vhost-device-gpio options (-s, -c, -l with N and sM entries, one per
 * socket), the control sockets of the simulated chips (named as the
 * sockets are), names, values, an edge interrupt driven from the control
 * socket, and the command lines it refuses with their reasons.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/gpio.h>
#include <virtio/testing.h>

#include "tdaemon.h"
#include "tdev.h"
#include "tspawn.h"

static struct tdaemon dm;

static int group_setup(void **state)
{
	tdaemon_init(&dm, "gpio", "gpiod");
	return 0;
}

static int cleanup(void **state)
{
	tdaemon_cleanup(&dm);
	return 0;
}

static void need_bin(void)
{
	if (!tdaemon_built(&dm)) {
		print_message("SKIP: %s not built (VDEV_BUILD_DIR unset?)\n",
			      dm.bin);
		skip();
	}
}

static int req(struct vdev_drv *drv, uint16_t type, uint16_t gpio,
	       uint32_t value, uint8_t *out)
{
	int st = tgpio_req(drv, type, gpio, value, out);

	assert_true(st >= 0);
	return st;
}

static void start(struct tspawn *t, const char *const *argv)
{
	assert_int_equal(tdaemon_start(&dm, t, argv), 0);
}

static void test_serve(void **state)
{
	const char *const argv[] = { dm.bin, "-s", dm.sock, "-l", "s8",
				     "--control", dm.ctl, NULL };
	struct vdev_drv_config dc = { .queue_size = 256 };
	struct vdev_drv_mem *mem;
	struct vdev_drv_seg segs[2];
	struct vdev_drv *drv;
	struct tspawn t;
	char r[128], names[64];
	uint8_t v, *st;
	uint32_t len, w;
	vdev_le16 *line;
	void *tok;

	need_bin();
	start(&t, argv);
	assert_int_equal(tspawn_drv_connect(&t, dm.sock, 10000, &dc, &drv), 0);
	assert_int_equal(vdev_drv_init(drv), 0);
	assert_true(vdev_drv_features(drv) & VDEV_BIT(VDEV_GPIO_F_IRQ));
	assert_int_equal(vdev_drv_num_queues(drv), 2);
	/* Names of the daemon's simulated chip 0. */
	{
		struct vdev_gpio_request nr = {
			.type = vdev_cpu_to_le16(VDEV_GPIO_MSG_GET_LINE_NAMES),
		};

		assert_int_equal(vdev_drv_xfer(drv, 0, &nr, sizeof(nr), names,
					       1 + 8 * 7, &w, 5000), 0);
		assert_int_equal(w, 1 + 8 * 7);
		assert_int_equal(names[0], 0);
		assert_string_equal(names + 1, "sim0-0");
		assert_string_equal(names + 1 + 7 * 7, "sim0-7");
	}
	/* The control socket drives an input; the driver reads it. */
	tctl(dm.ctl, "set 5 1\n", r, sizeof(r), NULL);
	assert_string_equal(r, "ok\n");
	assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_DIRECTION, 5,
			     VDEV_GPIO_DIRECTION_IN, NULL), 0);
	assert_int_equal(req(drv, VDEV_GPIO_MSG_GET_VALUE, 5, 0, &v), 0);
	assert_int_equal(v, 1);
	/* The driver drives an output; the control socket reads it. */
	assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_VALUE, 3, 1, NULL), 0);
	assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_DIRECTION, 3,
			     VDEV_GPIO_DIRECTION_OUT, NULL), 0);
	tctl(dm.ctl, "get 3\n", r, sizeof(r), NULL);
	assert_string_equal(r, "ok out 1\n");
	/* An edge from the control socket interrupts the driver once. */
	assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_IRQ_TYPE, 5,
			     VDEV_GPIO_IRQ_TYPE_EDGE_FALLING, NULL), 0);
	mem = vdev_drv_get_mem(drv);
	line = vdev_drv_mem_alloc(mem, 2, 2, &segs[0].gpa);
	st = vdev_drv_mem_alloc(mem, 1, 1, &segs[1].gpa);
	*line = vdev_cpu_to_le16(5);
	*st = 0xee;
	segs[0].len = 2;
	segs[1].len = 1;
	assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(drv, 1), segs, 1, 1,
					   (void *)5, 0), 0);
	assert_int_equal(vdev_drv_kick(drv, 1), 0);
	assert_int_equal(vdev_drv_wait(drv, 1, 100, &tok, &len), -ETIMEDOUT);
	tctl(dm.ctl, "info 5\n", r, sizeof(r), NULL);
	assert_string_equal(r, "ok sim0-5 falling 0\n");
	tctl(dm.ctl, "pulse 5\n", r, sizeof(r), NULL);
	assert_string_equal(r, "ok\n");
	assert_int_equal(vdev_drv_wait(drv, 1, 5000, &tok, &len), 0);
	assert_ptr_equal(tok, (void *)5);
	assert_int_equal(*st, VDEV_GPIO_IRQ_STATUS_VALID);
	vdev_drv_free(drv);
	assert_int_equal(tspawn_stop(&t, SIGTERM, 10000), 0);
	/* The control socket went with the daemon. */
	assert_int_equal(access(dm.ctl, F_OK), -1);
}

static void test_numbered(void **state)
{
	const char *const argv[] = { dm.bin, "-s", dm.sock, "-c", "2", "-l",
				     "s4:s2", "--control", dm.ctl, NULL };
	struct vdev_drv_config dc = { .queue_size = 64 };
	struct vdev_drv *drv;
	struct tspawn t;
	char p[80], r[128];
	uint16_t n;

	need_bin();
	start(&t, argv);
	snprintf(p, sizeof(p), "%s1", dm.sock);
	assert_int_equal(tspawn_drv_connect(&t, p, 10000, &dc, &drv), 0);
	assert_int_equal(vdev_drv_init(drv), 0);
	assert_int_equal(vdev_drv_config_read(drv, 0, &n, 2), 0);
	assert_int_equal(vdev_le16_to_cpu(n), 2);
	snprintf(p, sizeof(p), "%s1", dm.ctl);
	tctl(p, "info 1\n", r, sizeof(r), NULL);
	assert_string_equal(r, "ok sim1-1 none 1\n");
	snprintf(p, sizeof(p), "%s0", dm.ctl);
	tctl(p, "info 3\n", r, sizeof(r), NULL);
	assert_string_equal(r, "ok sim0-3 none 1\n");
	vdev_drv_free(drv);
	assert_int_equal(tspawn_stop(&t, SIGTERM, 10000), 0);
}

/* Runs @argv to its end; its exit status, its output in @out. */
static int run(const char *const *argv, char *out, size_t len)
{
	return trun(argv, dm.log, out, len);
}

static void test_refused(void **state)
{
	static const struct {
		const char *c, *l, *control, *why;
	} cases[] = {
		{ "2", "s4", NULL, "1 entries for 2 sockets" },
		{ NULL, "s4:s4", NULL, "2 entries for 1 sockets" },
		{ NULL, "s0", NULL, "device-list" },
		{ NULL, "s1025", NULL, "device-list" },
		{ NULL, "x", NULL, "device-list" },
		{ NULL, "", NULL, "empty" },
		{ NULL, "s4:", NULL, "empty" },
		{ NULL, "99", "/tmp/x", "--control drives simulated chips" },
		{ NULL, "9999", NULL, "/dev/gpiochip9999" },
	};
	char out[4096];

	need_bin();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[12] = { dm.bin, "-s", dm.sock, "-l",
					 cases[i].l };
		int n = 5;

		if (cases[i].c) {
			argv[n++] = "-c";
			argv[n++] = cases[i].c;
		}
		if (cases[i].control) {
			argv[n++] = "--control";
			argv[n++] = cases[i].control;
		}
		argv[n] = NULL;
		assert_int_equal(run(argv, out, sizeof(out)), 1);
		if (!strstr(out, cases[i].why))
			fail_msg("case %zu: no \"%s\" in: %s", i, cases[i].why,
				 out);
	}
	/* -l is required. */
	{
		const char *argv[] = { dm.bin, "-s", dm.sock, NULL };

		assert_int_equal(run(argv, out, sizeof(out)), 1);
		assert_non_null(strstr(out, "device-list"));
	}
}

static void test_capabilities(void **state)
{
	const char *argv[] = { dm.bin, "--print-capabilities", NULL };
	char out[4096];

	need_bin();
	assert_int_equal(run(argv, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\"type\": \"gpio\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_serve, cleanup),
		cmocka_unit_test_teardown(test_numbered, cleanup),
		cmocka_unit_test_teardown(test_refused, cleanup),
		cmocka_unit_test_teardown(test_capabilities, cleanup),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
