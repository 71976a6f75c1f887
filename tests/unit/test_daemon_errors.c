/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev-blk and vdev-scsi given bad paths and numbers (issue 17): each is
 * refused with exit status 1 and a message that names the file or the
 * option, what is wrong and, where there is one, the way out: a missing
 * image, /dev/null, a directory, an image the daemon's user may only read
 * (the -r/--read-only hint), one it may not read at all, and every number
 * option out of range. (The common options and vdev-rng's are in
 * unit/daemon_ops, other formats in unit/image_daemons.)
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "tdev.h"
#include "tspawn.h"

static char blk[512], scsi[512];
static char dir[64], sock[96], log_path[96], img[96], ro_img[96];

static int group_setup(void **state)
{
	const char *b = getenv("VDEV_BUILD_DIR");
	int fd;

	(void)state;
	if (b) {
		snprintf(blk, sizeof(blk), "%s/daemons/blk/vdev-blk", b);
		snprintf(scsi, sizeof(scsi), "%s/daemons/scsi/vdev-scsi", b);
	}
	snprintf(dir, sizeof(dir), "/tmp/vdev-errs-%d", (int)getpid());
	snprintf(sock, sizeof(sock), "%s/s", dir);
	snprintf(log_path, sizeof(log_path), "%s/log", dir);
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	snprintf(ro_img, sizeof(ro_img), "%s/ro.img", dir);
	/* The directory is everybody's: the read-only cases may run as
	 * nobody. */
	if (mkdir(dir, 0755) < 0 || chmod(dir, 0777) < 0)
		return -1;
	fd = open(img, O_CREAT | O_RDWR, 0666);
	if (fd < 0 || ftruncate(fd, 1 << 20) < 0)
		return -1;
	close(fd);
	fd = open(ro_img, O_CREAT | O_RDWR, 0444);
	if (fd < 0 || ftruncate(fd, 1 << 20) < 0)
		return -1;
	close(fd);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int cleanup(void **state)
{
	(void)state;
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

/* Runs @argv to its end (10 s at most): its exit status, its output in
 * @out. As root, @as_user runs it as nobody (through setpriv), so that
 * file permissions apply. */
static int run(const char *const *argv, bool as_user, char *out, size_t len)
{
	const char *av[40];
	int k = 0;

	if (as_user && geteuid() == 0) {
		av[k++] = "/usr/bin/setpriv";
		av[k++] = "--reuid=65534";
		av[k++] = "--regid=65534";
		av[k++] = "--clear-groups";
	}
	for (int i = 0; argv[i] && k < 39; i++)
		av[k++] = argv[i];
	av[k] = NULL;
	return trun(av, log_path, out, len);
}

struct bad {
	const char *args[10];
	const char *want[3];
	bool as_user;
};

#define IMG "@IMG@"
#define RO "@RO@"

static const struct bad blk_cases[] = {
	{ .args = { "-b", "/nonexistent/disk.img" },
	  .want = { "--blk-file /nonexistent/disk.img", "no such file" } },
	{ .args = { "-b", "/dev/null" },
	  .want = { "--blk-file /dev/null", "character device",
		    "block device" } },
	{ .args = { "-b", "/tmp" },
	  .want = { "--blk-file /tmp", "directory" } },
	{ .args = { "-b", RO },
	  .want = { "--blk-file", "cannot be opened for writing",
		    "-r/--read-only" }, .as_user = true },
	{ .args = { "-b", "/etc/shadow", "-r" },
	  .want = { "--blk-file /etc/shadow", "may not read it" },
	  .as_user = true },
	{ .args = { NULL },
	  .want = { "--blk-file IMAGE or --nbd URI is needed" } },
	{ .args = { "-b", IMG, "--num-queues", "257" },
	  .want = { "--num-queues", "1..256" } },
	{ .args = { "-b", IMG, "--logical-block-size", "1024" },
	  .want = { "--logical-block-size", "512 or 4096" } },
	{ .args = { "-b", IMG, "--logical-block-size", "4k" },
	  .want = { "--logical-block-size", "'4k' is not a number" } },
	{ .args = { "-b", IMG, "--serial", "123456789012345678901" },
	  .want = { "--serial", "at most 20 bytes" } },
	{ .args = { "-b", IMG, "--size", "4096" },
	  .want = { "--size", "null|ram" } },
	{ .args = { "--backend", "ram", "--size", "100" },
	  .want = { "--size", "512.." } },
	{ .args = { "-b", IMG, "--backend", "floppy" },
	  .want = { "--backend", "'floppy'", "auto, uring, sync, null, ram" } },
	{ .args = { "-b", IMG, "--format", "qcow2" },
	  .want = { "--format", "'qcow2'", "--nbd" } },
	{ .args = { "-b", IMG, "-c", "2" },
	  .want = { "one image serves one device" } },
};

static const struct bad scsi_cases[] = {
	{ .args = { "/nonexistent/disk.img" },
	  .want = { "IMAGE /nonexistent/disk.img", "no such file" } },
	{ .args = { IMG, "/dev/null" },
	  .want = { "IMAGE /dev/null", "character device" } },
	{ .args = { RO }, .want = { "IMAGE", "cannot be opened for writing",
		    "-r/--read-only" }, .as_user = true },
	{ .args = { NULL },
	  .want = { "at least one IMAGE or --nbd URI is needed" } },
	{ .args = { IMG, "--num-queues", "65" },
	  .want = { "--num-queues", "1..64" } },
	{ .args = { IMG, "--logical-block-size", "2048" },
	  .want = { "--logical-block-size", "512 or 4096" } },
	{ .args = { IMG, "--serial", "123456789012345678901234567890123" },
	  .want = { "--serial", "at most 32 bytes" } },
	{ .args = { IMG, "--backend", "ram" },
	  .want = { "--backend", "'ram'", "auto, uring, sync" } },
};

static void run_cases(const char *prog, const struct bad *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *argv[16] = { prog, "-s", sock };
		char out[4096];
		int k = 3;

		for (int a = 0; a < 10 && cases[i].args[a]; a++)
			argv[k++] = !strcmp(cases[i].args[a], IMG) ? img :
				    !strcmp(cases[i].args[a], RO) ? ro_img :
				    cases[i].args[a];
		argv[k] = NULL;
		if (run(argv, cases[i].as_user, out, sizeof(out)) != 1)
			fail_msg("%s case %zu: not refused:\n%s", prog, i, out);
		for (int w = 0; w < 3 && cases[i].want[w]; w++)
			if (!strstr(out, cases[i].want[w]))
				fail_msg("%s case %zu: no '%s' in:\n%s", prog,
					 i, cases[i].want[w], out);
		assert_int_equal(access(sock, F_OK), -1);
	}
}

static void test_blk(void **state)
{
	(void)state;
	need(blk);
	run_cases(blk, blk_cases, sizeof(blk_cases) / sizeof(blk_cases[0]));
}

static void test_scsi(void **state)
{
	(void)state;
	need(scsi);
	run_cases(scsi, scsi_cases, sizeof(scsi_cases) / sizeof(scsi_cases[0]));
}

/* The read-only hint is right: with -r the same image is served. */
static void test_read_only_served(void **state)
{
	const char *av[12];
	struct tspawn t;
	int k = 0;

	(void)state;
	need(blk);
	if (geteuid() == 0) {
		av[k++] = "/usr/bin/setpriv";
		av[k++] = "--reuid=65534";
		av[k++] = "--regid=65534";
		av[k++] = "--clear-groups";
	}
	av[k++] = blk;
	av[k++] = "-s";
	av[k++] = sock;
	av[k++] = "-b";
	av[k++] = ro_img;
	av[k++] = "-r";
	av[k] = NULL;
	assert_int_equal(tspawn_start(&t, av,
				      &(struct tspawn_opts){ .fd = -1,
							     .log = log_path }),
			 0);
	assert_int_equal(tspawn_wait_socket(&t, sock, 10000, NULL), 0);
	assert_int_equal(tspawn_stop(&t, SIGTERM, 10000), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_blk, cleanup),
		cmocka_unit_test_teardown(test_scsi, cleanup),
		cmocka_unit_test_teardown(test_read_only_served, cleanup),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
