/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The /dev/i2c-N backend against a real kernel adapter: i2c-stub (an
 * SMBus-only adapter, so the SMBus translation is what runs) answering
 * at 0x50, driven through the software driver. Byte and word data both
 * ways, a quick command, receive byte, an address the stub does not
 * answer, and a transfer SMBus cannot express. SKIPs (77) without
 * i2c-stub (module i2c-stub chip_addr=0x50, root): these hosts cannot
 * load modules, so tests/guest/tests/gpio-i2c-host.sh runs it inside a
 * UML guest booted with i2c_stub.chip_addr=0x50.
 *
 * i2c-stub cannot do plain I2C (I2C_RDWR). An adapter that can is the
 * guest's own virtio-i2c adapter: gpio-i2c-host.sh attaches vdev-i2c with
 * a simulated 24C02 at 0x52, and test_rdwr drives that through this
 * backend (a repeated-start write + 16-byte read, page write, an absent
 * address). It is skipped where no virtio-i2c adapter is present.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/i2c.h>
#include <virtio/testing.h>
#include <signal.h>

#include "tdev.h"
#include "tspawn.h"

static char adapter[300], virtio_adapter[300];

static const char *find_stub(void)
{
	DIR *d = opendir("/sys/class/i2c-adapter");
	struct dirent *e;

	if (!d)
		return "no I2C adapters (/sys/class/i2c-adapter)";
	while ((e = readdir(d))) {
		char p[300], name[64] = "";
		FILE *f;

		if (strncmp(e->d_name, "i2c-", 4))
			continue;
		snprintf(p, sizeof(p), "/sys/class/i2c-adapter/%s/name",
			 e->d_name);
		f = fopen(p, "r");
		if (!f)
			continue;
		if (fgets(name, sizeof(name), f) &&
		    !strncmp(name, "SMBus stub driver", 17))
			snprintf(adapter, sizeof(adapter), "/dev/%s",
				 e->d_name);
		else if (strstr(name, "virtio"))
			snprintf(virtio_adapter, sizeof(virtio_adapter),
				 "/dev/%s", e->d_name);
		fclose(f);
	}
	closedir(d);
	if (!adapter[0])
		return "no i2c-stub adapter (modprobe i2c-stub chip_addr=0x50 "
		       "as root; modules cannot be loaded here: "
		       "gpio-i2c-host.sh runs this in UML)";
	if (access(adapter, R_OK | W_OK) != 0)
		return "no access to the i2c-stub adapter's /dev node";
	return "";
}

struct msg {
	uint8_t addr;
	bool rd;
	uint16_t len;
	uint8_t *data;
};

/* One transaction; the status of each message in @st. */
static void txn(struct vdev_drv *drv, struct msg *m, unsigned n, uint8_t *st)
{
	struct ti2c_msg t[4];

	assert_true(n <= 4);
	for (unsigned i = 0; i < n; i++)
		t[i] = (struct ti2c_msg){
			.wire = (uint16_t)(m[i].addr << 1),
			.flags = m[i].rd ? VDEV_I2C_FLAGS_M_RD : 0,
			.data = m[i].data,
			.len = m[i].len,
		};
	assert_int_equal(ti2c_txn(drv, t, n), 0);
	for (unsigned i = 0; i < n; i++)
		st[i] = t[i].status;
}

static void test_stub(void **state)
{
	struct vdev_i2c_client c[2] = {
		{ VDEV_I2C_HOST, 0x50, adapter },
		{ VDEV_I2C_HOST, 0x51, adapter },
	};
	struct vdev_i2c_config cfg = { .clients = c, .nclients = 2 };
	struct vdev_drv_config dc = { .queue_size = 64 };
	struct vdev *dev = vdev_i2c_new(&cfg);
	struct vdev_drv *drv;
	uint8_t st[2], b[16];

	assert_non_null(dev);
	drv = vdev_drv_new(dev, &dc);
	assert_non_null(drv);
	assert_int_equal(vdev_drv_init(drv), 0);
	/* write byte data, read it back (write, repeated start, read) */
	txn(drv, (struct msg[]){ { 0x50, false, 2, (uint8_t[]){ 0x10, 0xab } } },
	    1, st);
	assert_int_equal(st[0], VDEV_I2C_MSG_OK);
	txn(drv, (struct msg[]){ { 0x50, false, 1, (uint8_t[]){ 0x10 } },
				 { 0x50, true, 1, b } }, 2, st);
	assert_int_equal(st[0], VDEV_I2C_MSG_OK);
	assert_int_equal(st[1], VDEV_I2C_MSG_OK);
	assert_int_equal(b[0], 0xab);
	/* word data both ways (little-endian on SMBus) */
	txn(drv, (struct msg[]){ { 0x50, false, 3,
				   (uint8_t[]){ 0x20, 0x34, 0x12 } } }, 1, st);
	assert_int_equal(st[0], VDEV_I2C_MSG_OK);
	txn(drv, (struct msg[]){ { 0x50, false, 1, (uint8_t[]){ 0x20 } },
				 { 0x50, true, 2, b } }, 2, st);
	assert_int_equal(st[1], VDEV_I2C_MSG_OK);
	assert_int_equal(b[0], 0x34);
	assert_int_equal(b[1], 0x12);
	/* quick command and receive byte */
	txn(drv, (struct msg[]){ { 0x50, false, 0, NULL } }, 1, st);
	assert_int_equal(st[0], VDEV_I2C_MSG_OK);
	txn(drv, (struct msg[]){ { 0x50, true, 1, b } }, 1, st);
	assert_int_equal(st[0], VDEV_I2C_MSG_OK);
	/* the stub does not answer 0x51 */
	txn(drv, (struct msg[]){ { 0x51, false, 0, NULL } }, 1, st);
	assert_int_equal(st[0], VDEV_I2C_MSG_ERR);
	txn(drv, (struct msg[]){ { 0x51, false, 1, (uint8_t[]){ 0 } },
				 { 0x51, true, 1, b } }, 2, st);
	assert_int_equal(st[0], VDEV_I2C_MSG_ERR);
	assert_int_equal(st[1], VDEV_I2C_MSG_ERR);
	/* 16 bytes in one read is no SMBus transaction: refused */
	txn(drv, (struct msg[]){ { 0x50, false, 1, (uint8_t[]){ 0 } },
				 { 0x50, true, 16, b } }, 2, st);
	assert_int_equal(st[0], VDEV_I2C_MSG_ERR);
	assert_int_equal(st[1], VDEV_I2C_MSG_ERR);
	/* and the adapter goes on */
	txn(drv, (struct msg[]){ { 0x50, false, 1, (uint8_t[]){ 0x10 } },
				 { 0x50, true, 1, b } }, 2, st);
	assert_int_equal(st[1], VDEV_I2C_MSG_OK);
	assert_int_equal(b[0], 0xab);
	vdev_drv_free(drv);
	vdev_free(dev);
}

static void test_rdwr(void **state)
{
	struct vdev_i2c_client c[2] = {
		{ VDEV_I2C_HOST, 0x52, virtio_adapter },
		{ VDEV_I2C_HOST, 0x53, virtio_adapter },
	};
	struct vdev_i2c_config cfg = { .clients = c, .nclients = 2 };
	struct vdev_drv_config dc = { .queue_size = 64 };
	struct vdev *dev;
	struct vdev_drv *drv;
	uint8_t st[2], b[16];

	if (!virtio_adapter[0]) {
		print_message("no virtio-i2c adapter with a 24C02 at 0x52 "
			      "(gpio-i2c-host.sh attaches one)\n");
		skip();
	}
	dev = vdev_i2c_new(&cfg);
	assert_non_null(dev);
	drv = vdev_drv_new(dev, &dc);
	assert_non_null(drv);
	assert_int_equal(vdev_drv_init(drv), 0);
	/* a page write of 4 bytes, then 16 bytes back in one repeated-start
	 * transfer: I2C_RDWR, which no SMBus call can do */
	txn(drv, (struct msg[]){ { 0x52, false, 5,
				   (uint8_t[]){ 0x20, 1, 2, 3, 4 } } }, 1, st);
	assert_int_equal(st[0], VDEV_I2C_MSG_OK);
	txn(drv, (struct msg[]){ { 0x52, false, 1, (uint8_t[]){ 0x1e } },
				 { 0x52, true, 16, b } }, 2, st);
	assert_int_equal(st[0], VDEV_I2C_MSG_OK);
	assert_int_equal(st[1], VDEV_I2C_MSG_OK);
	assert_int_equal(b[2], 1);
	assert_int_equal(b[5], 4);
	/* absent: the whole transfer fails */
	txn(drv, (struct msg[]){ { 0x53, false, 1, (uint8_t[]){ 0 } },
				 { 0x53, true, 1, b } }, 2, st);
	assert_int_equal(st[0], VDEV_I2C_MSG_ERR);
	assert_int_equal(st[1], VDEV_I2C_MSG_ERR);
	vdev_drv_free(drv);
	vdev_free(dev);
}

/* vdev-i2c serving the stub's 0x50, in its seccomp sandbox. */
static void test_daemon(void **state)
{
	const char *b = getenv("VDEV_BUILD_DIR");
	char bin[512], sock[64], list[320];
	const char *argv[] = { bin, "-s", sock, "-l", list, NULL };
	struct vdev_drv_config dc = { .queue_size = 256 };
	struct vdev_drv *drv;
	struct tspawn t;
	uint8_t st[2], r[1];

	snprintf(bin, sizeof(bin), "%s/daemons/i2c/vdev-i2c", b ? b : "");
	if (!b || access(bin, X_OK) != 0) {
		print_message("no vdev-i2c (VDEV_BUILD_DIR)\n");
		skip();
	}
	snprintf(sock, sizeof(sock), "/tmp/vdev-i2c-host-%d.sock",
		 (int)getpid());
	/* vhost-device-i2c's format: bus number, decimal addresses */
	assert_true(snprintf(list, sizeof(list), "%s:80:81",
			     adapter + strlen("/dev/i2c-")) < (int)sizeof(list));
	assert_int_equal(tspawn_start(&t, argv, NULL), 0);
	assert_int_equal(tspawn_drv_connect(&t, sock, 10000, &dc, &drv), 0);
	assert_int_equal(vdev_drv_init(drv), 0);
	txn(drv, (struct msg[]){ { 0x50, false, 2, (uint8_t[]){ 0x30, 0x5a } } },
	    1, st);
	assert_int_equal(st[0], VDEV_I2C_MSG_OK);
	txn(drv, (struct msg[]){ { 0x50, false, 1, (uint8_t[]){ 0x30 } },
				 { 0x50, true, 1, r } }, 2, st);
	assert_int_equal(st[1], VDEV_I2C_MSG_OK);
	assert_int_equal(r[0], 0x5a);
	txn(drv, (struct msg[]){ { 0x51, false, 0, NULL } }, 1, st);
	assert_int_equal(st[0], VDEV_I2C_MSG_ERR);
	vdev_drv_free(drv);
	assert_int_equal(tspawn_stop(&t, SIGTERM, 10000), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stub),
		cmocka_unit_test(test_daemon),
		cmocka_unit_test(test_rdwr),
	};
	const char *why = find_stub();

	if (*why) {
		printf("SKIP: %s\n", why);
		return 77;
	}
	printf("i2c-stub adapter %s\n", adapter);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
