/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev-i2c as a process, through the vhost-user software driver: the
 * vhost-device-i2c options (-s, -c, -l) with --sim and --control, a write
 * landing in the EEPROM's file, a repeated-start read of it, the LM75's
 * temperature set on the control socket, an absent address, and the
 * command lines it refuses with their reasons.
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
#include <virtio/i2c.h>
#include <virtio/testing.h>

#include "tdaemon.h"
#include "tdev.h"
#include "tspawn.h"

static struct tdaemon dm;
static char ee[64]; /* the EEPROM's file */

static int group_setup(void **state)
{
	tdaemon_init(&dm, "i2c", "i2cd");
	snprintf(ee, sizeof(ee), "/tmp/vdev-i2cd-%d.ee", (int)getpid());
	return 0;
}

static int cleanup(void **state)
{
	tdaemon_cleanup(&dm);
	unlink(ee);
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

static void start(struct tspawn *t, const char *const *argv)
{
	assert_int_equal(tdaemon_start(&dm, t, argv), 0);
}

/* Runs @argv to its end; its exit status, its output in @out. */
static int run(const char *const *argv, char *out, size_t len)
{
	return trun(argv, dm.log, out, len);
}


/* One message per chain, FAIL_NEXT between them; statuses in @st. */
static void txn(struct vdev_drv *drv, unsigned n, const uint16_t *addr,
		const uint32_t *flags, uint8_t **data, const uint16_t *len,
		uint8_t *st)
{
	struct ti2c_msg t[4];

	assert_true(n <= 4);
	for (unsigned i = 0; i < n; i++)
		t[i] = (struct ti2c_msg){
			.wire = (uint16_t)(addr[i] << 1),
			.flags = flags[i],
			.data = data[i],
			.len = len[i],
		};
	assert_int_equal(ti2c_txn(drv, t, n), 0);
	for (unsigned i = 0; i < n; i++)
		st[i] = t[i].status;
}

static void test_serve(void **state)
{
	char sim[128];
	const char *const argv[] = { dm.bin, "-s", dm.sock, "--sim", sim,
				     "--control", dm.ctl, NULL };
	struct vdev_drv_config dc = { .queue_size = 256 };
	struct vdev_drv *drv;
	struct tspawn t;
	uint8_t buf[16], st[2], fbuf[16];
	char r[128];
	FILE *f;

	need_bin();
	snprintf(sim, sizeof(sim), "eeprom@0x50=%s,lm75@72", ee);
	unlink(ee);
	start(&t, argv);
	assert_int_equal(tspawn_drv_connect(&t, dm.sock, 10000, &dc, &drv), 0);
	assert_int_equal(vdev_drv_init(drv), 0);
	assert_true(vdev_drv_features(drv) &
		    VDEV_BIT(VDEV_I2C_F_ZERO_LENGTH_REQUEST));
	/* i2cset -y 0 0x50 0x10 0xab lands in the file */
	{
		uint8_t w[2] = { 0x10, 0xab }, *d[1] = { w };

		txn(drv, 1, (uint16_t[]){ 0x50 }, (uint32_t[]){ 0 }, d,
		    (uint16_t[]){ 2 }, st);
		assert_int_equal(st[0], VDEV_I2C_MSG_OK);
	}
	f = fopen(ee, "rb");
	assert_non_null(f);
	assert_int_equal(fread(fbuf, 1, 16, f), 16);
	fclose(f);
	assert_int_equal(fbuf[0], 0xff); /* a new EEPROM is erased */
	/* i2ctransfer w1@0x50 0x00 r16 reads the file's bytes */
	{
		uint8_t w[1] = { 0 }, *d[2] = { w, buf };

		assert_int_equal(fseek(f = fopen(ee, "rb"), 0x0, SEEK_SET), 0);
		assert_int_equal(fread(fbuf, 1, 16, f), 16);
		fclose(f);
		txn(drv, 2, (uint16_t[]){ 0x50, 0x50 },
		    (uint32_t[]){ 0, VDEV_I2C_FLAGS_M_RD }, d,
		    (uint16_t[]){ 1, 16 }, st);
		assert_int_equal(st[0], VDEV_I2C_MSG_OK);
		assert_int_equal(st[1], VDEV_I2C_MSG_OK);
		assert_memory_equal(buf, fbuf, 16);
		f = fopen(ee, "rb");
		assert_int_equal(fseek(f, 0x10, SEEK_SET), 0);
		assert_int_equal(fgetc(f), 0xab);
		fclose(f);
	}
	/* The sensor reads what the control socket set. */
	tctl(dm.ctl, "temp 0x48 21500\n", r, sizeof(r), NULL);
	assert_string_equal(r, "ok\n");
	{
		uint8_t w[1] = { 0 }, *d[2] = { w, buf };

		txn(drv, 2, (uint16_t[]){ 0x48, 0x48 },
		    (uint32_t[]){ 0, VDEV_I2C_FLAGS_M_RD }, d,
		    (uint16_t[]){ 1, 2 }, st);
		assert_int_equal(st[1], VDEV_I2C_MSG_OK);
		assert_int_equal(buf[0], 21);
		assert_int_equal(buf[1], 0x80);
	}
	/* i2cget -y 0 0x51 0 fails */
	{
		uint8_t w[1] = { 0 }, *d[2] = { w, buf };

		txn(drv, 2, (uint16_t[]){ 0x51, 0x51 },
		    (uint32_t[]){ 0, VDEV_I2C_FLAGS_M_RD }, d,
		    (uint16_t[]){ 1, 1 }, st);
		assert_int_equal(st[0], VDEV_I2C_MSG_ERR);
		assert_int_equal(st[1], VDEV_I2C_MSG_ERR);
	}
	vdev_drv_free(drv);
	assert_int_equal(tspawn_stop(&t, SIGTERM, 10000), 0);
	assert_int_equal(access(dm.ctl, F_OK), -1);
}

static void test_refused(void **state)
{
	static const struct {
		const char *opt, *val, *opt2, *val2, *why;
	} cases[] = {
		{ "--sim", "eeprom@0x50", NULL, NULL, "not eeprom@ADDR=FILE" },
		{ "--sim", "lm75@0x80", NULL, NULL, "bad address" },
		{ "--sim", "lm75@0x400/10", NULL, NULL, "bad address" },
		{ "--sim", "lm75@", NULL, NULL, "bad address" },
		{ "--sim", "fram@0x50", NULL, NULL, "not eeprom@ADDR=FILE" },
		{ "--sim", "lm75@72,lm75@0x48", NULL, NULL, "given twice" },
		{ "-l", "99", NULL, NULL, "not BUS:ADDR" },
		{ "-l", "no such adapter:32", NULL, NULL, "no I2C adapter" },
		{ "-l", "3:x", NULL, NULL, "bad address" },
		{ "-l", "99:32", NULL, NULL, "/dev/i2c-99" },
		{ "-l", "99:32", "--control", "/tmp/x", "--control drives" },
		{ "--control", "/tmp/x", NULL, NULL, "no clients" },
	};
	char out[4096];

	need_bin();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *argv[10] = { dm.bin, "-s", dm.sock, cases[i].opt,
					 cases[i].val, cases[i].opt2,
					 cases[i].val2, NULL };

		assert_int_equal(run(argv, out, sizeof(out)), 1);
		if (!strstr(out, cases[i].why))
			fail_msg("case %zu: no \"%s\" in: %s", i, cases[i].why,
				 out);
	}
}

static void test_capabilities(void **state)
{
	const char *argv[] = { dm.bin, "--print-capabilities", NULL };
	char out[4096];

	need_bin();
	assert_int_equal(run(argv, out, sizeof(out)), 0);
	assert_non_null(strstr(out, "\"type\": \"i2c\""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_serve, cleanup),
		cmocka_unit_test_teardown(test_refused, cleanup),
		cmocka_unit_test_teardown(test_capabilities, cleanup),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
