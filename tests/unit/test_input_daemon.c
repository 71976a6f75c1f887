/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev-input as a program, driven by the software driver over vhost-user:
 * a scripted device's config, its replay, events from the control socket
 * and an LED back to it; and the command lines it refuses.
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
#include <cmocka.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <virtio/input.h>
#include <virtio/testing.h>

#include "tdev.h"
#include "tspawn.h"

static char bin[512], script[64], sock[64], ctl[64], log_path[64];

static int group_setup(void **state)
{
	const char *b = getenv("VDEV_BUILD_DIR");
	FILE *f;

	(void)state;
	if (b)
		snprintf(bin, sizeof(bin), "%s/daemons/input/vdev-input", b);
	snprintf(script, sizeof(script), "/tmp/vdev-in-%d.evemu", (int)getpid());
	snprintf(sock, sizeof(sock), "/tmp/vdev-in-%d.sock", (int)getpid());
	snprintf(ctl, sizeof(ctl), "/tmp/vdev-in-%d.ctl", (int)getpid());
	snprintf(log_path, sizeof(log_path), "/tmp/vdev-in-%d.log",
		 (int)getpid());
	f = fopen(script, "w");
	if (!f)
		return -1;
	fputs("N: vdev keyboard\n"
	      "I: 0003 1234 5678 0001\n"
	      "K: 01 1e 30\n"
	      "K: 11 00 01\n"
	      "E: 0.000000 0001 0030 0001\n"
	      "E: 0.000000 0000 0000 0000\n",
	      f);
	return fclose(f) ? -1 : 0;
}

static int group_teardown(void **state)
{
	(void)state;
	unlink(script);
	unlink(log_path);
	return 0;
}

static int kill_leftovers(void **state)
{
	(void)state;
	tspawn_kill_all();
	unlink(sock);
	return 0;
}

static void need(void)
{
	if (!*bin || access(bin, X_OK) != 0) {
		print_message("SKIP: %s not built (VDEV_BUILD_DIR unset?)\n",
			      bin);
		skip();
	}
}

static void stock(struct vdev_drv *drv, unsigned n)
{
	struct vdev_drv_mem *m = vdev_drv_get_mem(drv);

	for (unsigned i = 0; i < n; i++) {
		struct vdev_drv_seg s = { .len = 8 };
		void *buf = vdev_drv_mem_alloc(m, s.len, 8, &s.gpa);

		assert_non_null(buf);
		assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(drv, 0), &s,
						   0, 1, buf, 0), 0);
	}
	assert_int_equal(vdev_drv_kick(drv, 0), 0);
}

static void expect(struct vdev_drv *drv, uint16_t type, uint16_t code,
		   int32_t value)
{
	struct vdev_input_event e;
	uint32_t len;
	void *tok;

	assert_int_equal(vdev_drv_wait(drv, 0, 5000, &tok, &len), 0);
	assert_int_equal(len, 8);
	memcpy(&e, tok, 8);
	assert_int_equal(vdev_le16_to_cpu(e.type), type);
	assert_int_equal(vdev_le16_to_cpu(e.code), code);
	assert_int_equal((int32_t)vdev_le32_to_cpu(e.value), value);
}

static int ctl_connect(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", ctl);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

static void test_script_daemon(void **state)
{
	const char *const argv[] = { bin, "-s", sock, "--script", script,
				     "--control", ctl, "--queue-size", "256",
				     NULL };
	struct vdev_drv_config dc = { .queue_size = 64 };
	struct vdev_input_config_space c;
	struct vdev_input_event led = {
		.type = vdev_cpu_to_le16(0x11),
		.code = vdev_cpu_to_le16(1),
		.value = vdev_cpu_to_le32(1),
	};
	const char *inject = "E: 0.000000 0001 001e 0001\n"
			     "E: 0.000000 0000 0000 0000\n";
	struct vdev_drv *drv;
	struct tspawn t;
	char line[64] = "";
	size_t n = 0;
	uint32_t w;
	int fd;

	(void)state;
	need();
	assert_int_equal(tspawn_start(&t, argv,
				      &(struct tspawn_opts){ .fd = -1 }), 0);
	assert_int_equal(tspawn_drv_connect(&t, sock, 10000, &dc, &drv), 0);
	assert_int_equal(vdev_drv_num_queues(drv), 2);
	assert_int_equal(vdev_drv_init(drv), 0);
	/* select then subsel, one SET_CONFIG each, as QEMU forwards them */
	c.select = VDEV_INPUT_CFG_ID_NAME;
	assert_int_equal(vdev_drv_config_write(drv, 0, &c.select, 1), 0);
	assert_int_equal(vdev_drv_config_read(drv, 0, &c, sizeof(c)), 0);
	assert_int_equal(c.size, strlen("vdev keyboard"));
	assert_memory_equal(c.u.string, "vdev keyboard", c.size);
	c.select = VDEV_INPUT_CFG_ID_DEVIDS;
	assert_int_equal(vdev_drv_config_write(drv, 0, &c, sizeof(c)), 0);
	assert_int_equal(vdev_drv_config_read(drv, 0, &c, sizeof(c)), 0);
	assert_int_equal(c.size, 8);
	assert_int_equal(vdev_le16_to_cpu(c.u.ids.product), 0x5678);
	stock(drv, 16);
	expect(drv, 1, 0x30, 1); /* the replay */
	expect(drv, 0, 0, 0);
	fd = ctl_connect();
	assert_int_equal(write(fd, inject, strlen(inject)),
			 (ssize_t)strlen(inject));
	expect(drv, 1, 0x1e, 1);
	expect(drv, 0, 0, 0);
	assert_int_equal(vdev_drv_xfer(drv, 1, &led, sizeof(led), NULL, 0, &w,
				       5000), 0);
	while (n < sizeof(line) - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		assert_int_equal(poll(&p, 1, 5000), 1);
		assert_int_equal(read(fd, line + n, 1), 1);
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = 0;
	assert_string_equal(line, "E: 0.000000 0011 0001 1");
	close(fd);
	vdev_drv_free(drv);
	assert_int_equal(tspawn_stop(&t, SIGTERM, 5000), 0);
	assert_int_equal(access(ctl, F_OK), -1);
}

static int run(const char *const *argv, char *out, size_t len)
{
	return trun(argv, log_path, out, len);
}

static void refused(const char *const *argv, const char *why)
{
	char out[4096];

	assert_int_equal(run(argv, out, sizeof(out)), 1);
	if (!strstr(out, why))
		fail_msg("no '%s' in:\n%s", why, out);
}

static void test_bad_command_lines(void **state)
{
	char why[128];

	(void)state;
	need();
	refused((const char *[]){ bin, "-s", sock, NULL },
		"one of --event-list or --script");
	refused((const char *[]){ bin, "-s", sock, "--script", script, "-e",
				  "/dev/null", NULL },
		"one of --event-list or --script");
	refused((const char *[]){ bin, "-s", sock, "--script", script,
				  "--grab", NULL },
		"--grab is for --event-list");
	/* The C library's words for ENOTTY (musl's differ from glibc's);
	 * qemu-user answers an evdev ioctl it cannot translate ENOSYS. */
	snprintf(why, sizeof(why), "/dev/null: %s",
		 strerror(getenv("VDEV_TEST_EMULATOR") ? ENOSYS : ENOTTY));
	refused((const char *[]){ bin, "-s", sock, "-e", "/dev/null", NULL },
		why);
	refused((const char *[]){ bin, "-s", sock, "-e", ",", NULL },
		"--event-list is empty");
	refused((const char *[]){ bin, "-s", sock, "-e", "/dev/null,/dev/null",
				  "-c", "3", NULL },
		"2 sockets asked for, --socket-count says 3");
	refused((const char *[]){ bin, "-s", sock, "--script",
				  "/nonexistent", NULL },
		"No such file");
	assert_int_equal(access(sock, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_script_daemon, kill_leftovers),
		cmocka_unit_test_teardown(test_bad_command_lines,
					  kill_leftovers),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
