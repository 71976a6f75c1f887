/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev-blk and vdev-scsi given an image in another format (issue 17):
 * they refuse it with a message that names the file and its format and
 * says how to serve it (qemu-nbd and --nbd, or --format raw); with
 * --format raw they serve it. And the NBD options' own errors: --nbd
 * with a file, an export nobody serves.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/caps.h>

#include "tdev.h"
#include "tspawn.h"

static char blk_path[512], scsi_path[512];
static char img[64], log_path[64], sock[64];

static int group_setup(void **state)
{
	const char *b = getenv("VDEV_BUILD_DIR");
	/* A qcow2 v3 header is enough: detection reads the signature. */
	static const uint8_t qcow2[8] = { 'Q', 'F', 'I', 0xfb, 0, 0, 0, 3 };
	int fd;

	if (b) {
		snprintf(blk_path, sizeof(blk_path),
			 "%s/daemons/blk/vdev-blk", b);
		snprintf(scsi_path, sizeof(scsi_path),
			 "%s/daemons/scsi/vdev-scsi", b);
	}
	snprintf(img, sizeof(img), "/tmp/vdev-fmt-%d.qcow2", (int)getpid());
	snprintf(log_path, sizeof(log_path), "/tmp/vdev-fmt-%d.log", (int)getpid());
	snprintf(sock, sizeof(sock), "/tmp/vdev-fmt-%d.sock", (int)getpid());
	fd = open(img, O_CREAT | O_TRUNC | O_RDWR, 0600);
	if (fd < 0 || pwrite(fd, qcow2, sizeof(qcow2), 0) != 8 ||
	    ftruncate(fd, 1 << 20) < 0)
		return -1;
	close(fd);
	return 0;
}

static int group_teardown(void **state)
{
	unlink(img);
	unlink(log_path);
	unlink(sock);
	return 0;
}

static int kill_leftovers(void **state)
{
	tspawn_kill_all();
	unlink(sock);
	return 0;
}

static void need(const char *path)
{
	if (!*path || access(path, X_OK) != 0) {
		print_message("SKIP: %s not built (VDEV_BUILD_DIR unset?)\n",
			      path);
		skip();
	}
}

/* Runs @argv to its end (within 10 s) with its output in log_path; returns
 * the exit status, the output in @out. */
static int run(const char *const *argv, char *out, size_t len)
{
	return trun(argv, log_path, out, len);
}

static void check_advice(const char *out, const char *prog)
{
	char want[256];

	snprintf(want, sizeof(want), "%s is a qcow2 image", img);
	if (!strstr(out, want))
		fail_msg("no '%s' in:\n%s", want, out);
	snprintf(want, sizeof(want), "qemu-nbd --format=qcow2 "
		 "--socket=/run/disk.sock %s", img);
	if (!strstr(out, want))
		fail_msg("no '%s' in:\n%s", want, out);
	snprintf(want, sizeof(want), "%s --nbd 'nbd+unix:///?socket=", prog);
	if (!strstr(out, want))
		fail_msg("no '%s' in:\n%s", want, out);
	if (!strstr(out, "--format raw"))
		fail_msg("no '--format raw' in:\n%s", out);
}

static void test_blk_refuses_qcow2(void **state)
{
	char out[4096], want[256];

	need(blk_path);
	assert_int_equal(run((const char *[]){ blk_path, "-s", sock, "-b",
					       img, NULL },
			     out, sizeof(out)),
			 1);
	check_advice(out, "vdev-blk");
	/* The option the path came from is named with it. */
	snprintf(want, sizeof(want), "--blk-file %s", img);
	assert_non_null(strstr(out, want));
}

static void test_scsi_refuses_qcow2(void **state)
{
	char out[4096];

	need(scsi_path);
	assert_int_equal(run((const char *[]){ scsi_path, "-s", sock, img,
					       NULL },
			     out, sizeof(out)),
			 1);
	check_advice(out, "vdev-scsi");
}

/* --format raw: served as it is (the daemon is up and listening). */
static void test_format_raw_serves(void **state)
{
	const char *progs[2] = { blk_path, scsi_path };

	for (int i = 0; i < 2; i++) {
		struct tspawn t;
		const char *argv[8];
		int n = 0;

		need(progs[i]);
		argv[n++] = progs[i];
		argv[n++] = "-s";
		argv[n++] = sock;
		if (i == 0)
			argv[n++] = "-b";
		argv[n++] = img;
		argv[n++] = "--format";
		argv[n++] = "raw";
		argv[n] = NULL;
		assert_int_equal(tspawn_start(&t, argv,
					      &(struct tspawn_opts){
						      .fd = -1,
						      .log = "/dev/null" }),
				 0);
		assert_int_equal(tspawn_wait_socket(&t, sock, 10000, NULL), 0);
		assert_int_equal(tspawn_stop(&t, SIGTERM, 5000), 0);
	}
}

static void test_bad_format_and_nbd(void **state)
{
	char out[4096];

	need(blk_path);
	assert_int_equal(run((const char *[]){ blk_path, "-s", sock, "-b",
					       img, "--format", "qcow2", NULL },
			     out, sizeof(out)),
			 1);
	assert_non_null(strstr(out, "--format: 'qcow2' is not raw or auto"));
	assert_non_null(strstr(out, "--nbd"));
	if (!vdev_has_capability(VDEV_CAP_BACKEND, "libnbd")) {
		assert_int_equal(run((const char *[]){ blk_path, "-s", sock,
						       "--nbd", "nbd://x",
						       NULL },
				     out, sizeof(out)),
				 1);
		assert_non_null(strstr(out, "no NBD support"));
		return;
	}
	/* an export and a file at once */
	assert_int_equal(run((const char *[]){ blk_path, "-s", sock, "-b",
					       img, "--nbd",
					       "nbd+unix:///?socket=/x", NULL },
			     out, sizeof(out)),
			 1);
	assert_non_null(strstr(out, "--nbd serves the export alone"));
	/* an export nobody serves: the message names it */
	assert_int_equal(run((const char *[]){ blk_path, "-s", sock, "--nbd",
					       "nbd+unix:///?socket=/nonexistent"
					       "/nbd.sock",
					       NULL },
			     out, sizeof(out)),
			 1);
	assert_non_null(strstr(out, "cannot connect to nbd+unix:///?socket="
				    "/nonexistent/nbd.sock"));
	need(scsi_path);
	assert_int_equal(run((const char *[]){ scsi_path, "-s", sock, "--nbd",
					       "nbd+unix:///?socket=/nonexistent"
					       "/nbd.sock",
					       NULL },
			     out, sizeof(out)),
			 1);
	assert_non_null(strstr(out, "scsi LUN 0: cannot connect to "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_blk_refuses_qcow2,
					  kill_leftovers),
		cmocka_unit_test_teardown(test_scsi_refuses_qcow2,
					  kill_leftovers),
		cmocka_unit_test_teardown(test_format_raw_serves,
					  kill_leftovers),
		cmocka_unit_test_teardown(test_bad_format_and_nbd,
					  kill_leftovers),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
