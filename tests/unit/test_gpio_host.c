/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The libgpiod backend against a real kernel GPIO chip: a gpio-sim chip
 * made through configfs (root, GPIO_SIM and CONFIGFS_FS), driven through
 * the software driver. Lines' names, an output the simulator sees, an
 * input the simulator pulls, an edge interrupt, a level interrupt once
 * per unmask while held, NONE giving the buffer back, and a reset
 * releasing the lines. SKIPs (77) without gpio-sim, libgpiod or root:
 * Debian 12's kernel has no gpio-sim and these hosts cannot load modules,
 * so tests/guest/tests/gpio-i2c-host.sh runs it inside a UML guest whose
 * kernel has it built in.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/caps.h>
#include <virtio/gpio.h>
#include <virtio/testing.h>
#include <signal.h>

#include "tdev.h"
#include "tspawn.h"

#define CFS "/sys/kernel/config"
#define SIM CFS "/gpio-sim/vdevtest"

static char chip[32], lines_dir[256];

static int put(const char *path, const char *v)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, v, strlen(v));
	close(fd);
	return n == (ssize_t)strlen(v) ? 0 : -EIO;
}

static int get(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -EIO;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* A chip of 8 lines, lines 0-3 named; "" with the reason in @why. */
static const char *make_chip(void)
{
	char p[256], dev[64];

	if (!vdev_has_capability(VDEV_CAP_BACKEND, "libgpiod"))
		return "this build has no libgpiod backend";
	if (geteuid() != 0)
		return "gpio-sim needs root (configfs)";
	/* A kernel with CONFIGFS shows the mount point; mount it when
	 * nobody has (a test guest's init does not). */
	if (access(CFS, F_OK) == 0 && access(CFS "/gpio-sim", F_OK) != 0)
		mount("none", CFS, "configfs", 0, NULL);
	if (access(CFS "/gpio-sim", F_OK) != 0)
		return "no gpio-sim in this kernel (GPIO_SIM, CONFIGFS_FS; "
		       "Debian 12's kernel has none and modules cannot be "
		       "loaded here: gpio-i2c-host.sh runs this in UML)";
	if (mkdir(SIM, 0755) < 0 || mkdir(SIM "/bank0", 0755) < 0)
		return "gpio-sim: mkdir failed";
	put(SIM "/bank0/num_lines", "8");
	put(SIM "/bank0/label", "vdev-test");
	for (int i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), SIM "/bank0/line%d", i);
		mkdir(p, 0755);
		snprintf(p, sizeof(p), SIM "/bank0/line%d/name", i);
		snprintf(dev, sizeof(dev), "hl%d", i);
		put(p, dev);
	}
	if (put(SIM "/live", "1") < 0)
		return "gpio-sim: the chip did not go live";
	get(SIM "/bank0/chip_name", chip, sizeof(chip));
	get(SIM "/dev_name", dev, sizeof(dev));
	snprintf(lines_dir, sizeof(lines_dir), "/sys/devices/platform/%s/%s",
		 dev, chip);
	return "";
}

static void drop_chip(void)
{
	char p[256];

	put(SIM "/live", "0");
	for (int i = 0; i < 4; i++) {
		snprintf(p, sizeof(p), SIM "/bank0/line%d", i);
		rmdir(p);
	}
	rmdir(SIM "/bank0");
	rmdir(SIM);
}

static void pull(int line, const char *how)
{
	char p[300];

	snprintf(p, sizeof(p), "%s/sim_gpio%d/pull", lines_dir, line);
	assert_int_equal(put(p, how), 0);
}

static int sim_value(int line)
{
	char p[300], v[8];

	snprintf(p, sizeof(p), "%s/sim_gpio%d/value", lines_dir, line);
	assert_int_equal(get(p, v, sizeof(v)), 0);
	return atoi(v);
}

static int req(struct vdev_drv *drv, uint16_t type, uint16_t gpio,
	       uint32_t value, uint8_t *out)
{
	int st = tgpio_req(drv, type, gpio, value, out);

	assert_true(st >= 0);
	return st;
}

static void unmask(struct vdev_drv *drv, uint16_t line, uint8_t **st)
{
	assert_int_equal(tgpio_unmask(drv, line, st, 1), 0);
}

static int event(struct vdev_drv *drv, int ms)
{
	int line = tgpio_event(drv, ms);

	assert_true(line >= -1);
	return line;
}

static void test_chip(void **state)
{
	char path[64];
	struct vdev_gpio_config cfg = { .chip = path };
	struct vdev_drv_config dc = { .use_eventfds = true, .queue_size = 64 };
	struct vdev_gpio_config_space cs;
	struct vdev *dev;
	struct vdev_drv *drv;
	char names[128];
	uint8_t v, *st;
	uint32_t w;

	snprintf(path, sizeof(path), "/dev/%s", chip);
	dev = vdev_gpio_new(&cfg);
	assert_non_null(dev);
	drv = vdev_drv_new(dev, &dc);
	assert_non_null(drv);
	assert_int_equal(vdev_drv_init(drv), 0);
	assert_int_equal(vdev_drv_config_read(drv, 0, &cs, sizeof(cs)), 0);
	assert_int_equal(vdev_le16_to_cpu(cs.ngpio), 8);
	/* the kernel's names: hl0..hl3 then four unnamed lines */
	assert_int_equal(vdev_le32_to_cpu(cs.gpio_names_size), 4 * 4 + 4);
	{
		struct vdev_gpio_request r = {
			.type = vdev_cpu_to_le16(VDEV_GPIO_MSG_GET_LINE_NAMES),
		};

		assert_int_equal(vdev_drv_xfer(drv, 0, &r, sizeof(r), names,
					       1 + 20, &w, 2000), 0);
		assert_int_equal(names[0], 0);
		assert_string_equal(names + 1, "hl0");
		assert_string_equal(names + 1 + 12, "hl3");
	}
	/* An output the simulator sees (value set before direction). */
	assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_VALUE, 5, 1, NULL), 0);
	assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_DIRECTION, 5,
			     VDEV_GPIO_DIRECTION_OUT, NULL), 0);
	assert_int_equal(sim_value(5), 1);
	assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_VALUE, 5, 0, NULL), 0);
	assert_int_equal(sim_value(5), 0);
	/* An input the simulator pulls. */
	assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_DIRECTION, 3,
			     VDEV_GPIO_DIRECTION_IN, NULL), 0);
	pull(3, "pull-up");
	assert_int_equal(req(drv, VDEV_GPIO_MSG_GET_VALUE, 3, 0, &v), 0);
	assert_int_equal(v, 1);
	pull(3, "pull-down");
	assert_int_equal(req(drv, VDEV_GPIO_MSG_GET_VALUE, 3, 0, &v), 0);
	assert_int_equal(v, 0);
	/* Edges from the kernel chip's line fd. */
	assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_IRQ_TYPE, 3,
			     VDEV_GPIO_IRQ_TYPE_EDGE_RISING, NULL), 0);
	unmask(drv, 3, &st);
	assert_int_equal(event(drv, 100), -1);
	pull(3, "pull-up");
	assert_int_equal(event(drv, 3000), 3);
	assert_int_equal(*st, VDEV_GPIO_IRQ_STATUS_VALID);
	pull(3, "pull-down");
	unmask(drv, 3, &st);
	assert_int_equal(event(drv, 200), -1); /* falling: not for rising */
	/* Levels, followed through both edges. */
	assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_IRQ_TYPE, 3,
			     VDEV_GPIO_IRQ_TYPE_NONE, NULL), 0);
	assert_int_equal(event(drv, 3000), 3);
	assert_int_equal(*st, VDEV_GPIO_IRQ_STATUS_INVALID);
	assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_IRQ_TYPE, 3,
			     VDEV_GPIO_IRQ_TYPE_LEVEL_HIGH, NULL), 0);
	unmask(drv, 3, &st);
	assert_int_equal(event(drv, 100), -1);
	pull(3, "pull-up");
	assert_int_equal(event(drv, 3000), 3);
	unmask(drv, 3, &st);
	assert_int_equal(event(drv, 3000), 3); /* held: again at unmask */
	pull(3, "pull-down");
	unmask(drv, 3, &st);
	assert_int_equal(event(drv, 200), -1);
	/* A reset releases every line: the simulator may drive 5 again. */
	vdev_drv_free(drv);
	{
		char p[300], c[64];

		snprintf(p, sizeof(p), "%s/sim_gpio5/value", lines_dir);
		pull(5, "pull-up");
		assert_int_equal(get(p, c, sizeof(c)), 0);
		assert_string_equal(c, "1");
	}
	vdev_free(dev);
}

/* vdev-gpio serving the chip, in its seccomp sandbox (the libgpiod
 * calls it makes while serving must be on its list). */
static void test_daemon(void **state)
{
	const char *b = getenv("VDEV_BUILD_DIR");
	char bin[512], sock[64], num[32];
	const char *argv[] = { bin, "-s", sock, "-l", num, NULL };
	struct vdev_drv_config dc = { .queue_size = 256 };
	struct vdev_drv *drv;
	struct tspawn t;
	uint8_t v, *st;

	snprintf(bin, sizeof(bin), "%s/daemons/gpio/vdev-gpio", b ? b : "");
	if (!b || access(bin, X_OK) != 0) {
		print_message("no vdev-gpio (VDEV_BUILD_DIR)\n");
		skip();
	}
	snprintf(sock, sizeof(sock), "/tmp/vdev-gpio-host-%d.sock",
		 (int)getpid());
	snprintf(num, sizeof(num), "%s", chip + strlen("gpiochip"));
	pull(3, "pull-down");
	assert_int_equal(tspawn_start(&t, argv, NULL), 0);
	assert_int_equal(tspawn_drv_connect(&t, sock, 10000, &dc, &drv), 0);
	assert_int_equal(vdev_drv_init(drv), 0);
	assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_VALUE, 6, 1, NULL), 0);
	assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_DIRECTION, 6,
			     VDEV_GPIO_DIRECTION_OUT, NULL), 0);
	assert_int_equal(sim_value(6), 1);
	assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_DIRECTION, 3,
			     VDEV_GPIO_DIRECTION_IN, NULL), 0);
	assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_IRQ_TYPE, 3,
			     VDEV_GPIO_IRQ_TYPE_EDGE_BOTH, NULL), 0);
	unmask(drv, 3, &st);
	pull(3, "pull-up");
	assert_int_equal(event(drv, 3000), 3);
	assert_int_equal(*st, VDEV_GPIO_IRQ_STATUS_VALID);
	assert_int_equal(req(drv, VDEV_GPIO_MSG_GET_VALUE, 3, 0, &v), 0);
	assert_int_equal(v, 1);
	vdev_drv_free(drv);
	/* a clean exit, not SIGSYS */
	assert_int_equal(tspawn_stop(&t, SIGTERM, 10000), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chip),
		cmocka_unit_test(test_daemon),
	};
	const char *why = make_chip();
	int ret;

	if (*why) {
		printf("SKIP: %s\n", why);
		return 77;
	}
	printf("gpio-sim chip %s, lines in %s\n", chip, lines_dir);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	drop_chip();
	return ret;
}
