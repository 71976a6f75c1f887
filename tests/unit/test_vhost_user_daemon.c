/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vdev-rng daemon as a separate process, driven by the software
 * driver over vhost-user (vdev_drv_connect_vhost_user's fd variant):
 * several sockets (one device each), an inherited connected or listening
 * socket (--fd), --connect, SIGTERM shutdown removing the sockets, option
 * errors, --print-capabilities, the sandbox (on by default, --no-sandbox)
 * and --user/--group.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/daemon.h>
#include <virtio/spec.h>

#include "tspawn.h"
#include <virtio/testing.h>

#define SRC_LEN 4096

static char daemon_path[512];
static char src_path[64];

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 13 + 1);
}

static int group_setup(void **state)
{
	const char *b = getenv("VDEV_BUILD_DIR");
	uint8_t buf[SRC_LEN];
	FILE *f;

	if (!b)
		return 0;
	snprintf(daemon_path, sizeof(daemon_path),
		 "%s/daemons/rng/vdev-rng", b);
	snprintf(src_path, sizeof(src_path), "/tmp/vhu-daemon-src-%d",
		 (int)getpid());
	for (size_t i = 0; i < SRC_LEN; i++)
		buf[i] = pattern(i);
	f = fopen(src_path, "w");
	if (!f || fwrite(buf, 1, SRC_LEN, f) != SRC_LEN || fclose(f))
		return -1;
	return 0;
}

static int group_teardown(void **state)
{
	if (*src_path)
		unlink(src_path);
	return 0;
}

static void need_daemon(void)
{
	if (!*daemon_path || access(daemon_path, X_OK) != 0) {
		print_message("vdev-rng not built (VDEV_BUILD_DIR unset or "
			      "daemons off): skipped\n");
		skip();
	}
}

/* Starts the daemon with @args (NULL-terminated, argv[0] omitted) and
 * @o (NULL: defaults). */
static void spawn(struct tspawn *t, const char *const *args,
		  const struct tspawn_opts *o)
{
	const char *argv[16] = { daemon_path };
	int n = 1;

	while (args[n - 1] && n < 15) {
		argv[n] = args[n - 1];
		n++;
	}
	argv[n] = NULL;
	assert_int_equal(tspawn_start(t, argv, o), 0);
}

/* A failed assertion skips the test's own stop: end its daemon here. */
static int kill_leftovers(void **state)
{
	(void)state;
	tspawn_kill_all();
	return 0;
}

/* Brings the device up through @drv (which it frees) and reads 64
 * bytes, checking them against the source at @offset. */
static void read_bytes(struct vdev_drv *drv, size_t offset)
{
	uint8_t buf[64];
	uint32_t len = 0;

	assert_non_null(drv);
	assert_int_equal(vdev_drv_init(drv), 0);
	assert_int_equal(vdev_drv_xfer(drv, 0, NULL, 0, buf, sizeof(buf), &len,
				       5000), 0);
	assert_int_equal(len, 64);
	for (size_t i = 0; i < 64; i++)
		assert_int_equal(buf[i], pattern(offset + i));
	vdev_drv_free(drv);
}

static const struct vdev_drv_config dcfg = { .queue_size = 32 };

static void test_sockets_and_sigterm(void **state)
{
	char base[64], p0[80], p1[80];
	struct stat st;
	struct tspawn t;

	need_daemon();
	snprintf(base, sizeof(base), "/tmp/vhu-daemon-%d.sock", (int)getpid());
	snprintf(p0, sizeof(p0), "%s0", base);
	snprintf(p1, sizeof(p1), "%s1", base);
	spawn(&t, (const char *[]){ "-s", base, "-c", "2", "-f", src_path,
				    NULL }, NULL);
	for (int k = 0; k < 2; k++) {
		struct vdev_drv *drv = NULL;

		assert_int_equal(tspawn_drv_connect(&t, k ? p1 : p0, 5000,
						    &dcfg, &drv), 0);
		read_bytes(drv, 0); /* one device per socket: each at 0 */
	}
	/* The device outlives its frontend: reconnect, it goes on. */
	{
		struct vdev_drv *drv = NULL;

		assert_int_equal(tspawn_drv_connect(&t, p0, 5000, &dcfg, &drv),
				 0);
		read_bytes(drv, 64);
	}
	/* sends SIGTERM (fails if kill() does), requires exit code 0 */
	assert_int_equal(tspawn_stop(&t, SIGTERM, 5000), 0);
	assert_int_not_equal(stat(p0, &st), 0);
	assert_int_not_equal(stat(p1, &st), 0);
}

static void test_fd_connected(void **state)
{
	int sp[2];
	struct tspawn t;

	need_daemon();
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sp), 0);
	spawn(&t, (const char *[]){ "--fd", "3", "-f", src_path, NULL },
	      &(const struct tspawn_opts){ .fd = sp[1], .fd_as = 3 });
	close(sp[1]);
	/* The driver owns sp[0]: freeing it ends the connection, and a
	 * served connection that ends ends the daemon. */
	read_bytes(vdev_drv_vhost_user_fd(sp[0], &dcfg), 0);
	assert_int_equal(tspawn_wait(&t, 5000), 0);
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 1) < 0)
		return -1;
	return fd;
}

static void test_fd_listening(void **state)
{
	char path[64];
	struct vdev_drv *drv = NULL;
	int lfd;
	struct tspawn t;

	need_daemon();
	snprintf(path, sizeof(path), "/tmp/vhu-daemon-l-%d.sock",
		 (int)getpid());
	lfd = listen_on(path);
	assert_true(lfd >= 0);
	spawn(&t, (const char *[]){ "--fd", "3", "-f", src_path, NULL },
	      &(const struct tspawn_opts){ .fd = lfd, .fd_as = 3 });
	close(lfd);
	assert_int_equal(tspawn_drv_connect(&t, path, 5000, &dcfg, &drv), 0);
	read_bytes(drv, 0);
	assert_int_equal(tspawn_stop(&t, SIGINT, 5000), 0);
	unlink(path);
}

static void test_connect(void **state)
{
	char path[64];
	int lfd, c = -1;
	struct tspawn t;

	need_daemon();
	snprintf(path, sizeof(path), "/tmp/vhu-daemon-c-%d.sock",
		 (int)getpid());
	lfd = listen_on(path);
	assert_true(lfd >= 0);
	spawn(&t, (const char *[]){ "-s", path, "--connect", "-f", src_path,
				    "--thread-per-queue", NULL }, NULL);
	assert_int_equal(tspawn_accept(&t, lfd, 5000, &c), 0);
	assert_true(c >= 0);
	read_bytes(vdev_drv_vhost_user_fd(c, &dcfg), 0);
	assert_int_equal(tspawn_wait(&t, 5000), 0);
	close(lfd);
	unlink(path);
}

/* The value of field @key ("Seccomp:") in /proc/@pid/status, or "". */
static void proc_status(pid_t pid, const char *key, char *out, size_t len)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	out[0] = '\0';
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key))) {
			const char *v = line + strlen(key);

			v += strspn(v, " \t");
			size_t n = strcspn(v, "\n");

			while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
				n--;
			snprintf(out, len, "%.*s", (int)n, v);
			break;
		}
	fclose(f);
}

/* Serves one request on @path, then says what the kernel knows of the
 * daemon: its seccomp mode, user and groups. */
static void serve_and_look(struct tspawn *t, const char *path,
			   char *seccomp, char *uid, char *gid, char *groups)
{
	struct vdev_drv *drv = NULL;

	assert_int_equal(tspawn_drv_connect(t, path, 5000, &dcfg, &drv), 0);
	/* Serving threads start after the sandbox: one request proves
	 * setup is over. */
	read_bytes(drv, 0);
	proc_status(t->pid, "Seccomp:", seccomp, 32);
	proc_status(t->pid, "Uid:", uid, 64);
	proc_status(t->pid, "Gid:", gid, 64);
	proc_status(t->pid, "Groups:", groups, 64);
}

static void test_sandbox_by_default(void **state)
{
	char path[64], sc[32], uid[64], gid[64], groups[64];
	struct tspawn t;

	need_daemon();
	snprintf(path, sizeof(path), "/tmp/vhu-daemon-sbx-%d.sock",
		 (int)getpid());
	spawn(&t, (const char *[]){ "-s", path, "-f", src_path, NULL }, NULL);
	serve_and_look(&t, path, sc, uid, gid, groups);
	/* 2: SECCOMP_MODE_FILTER, on every thread (TSYNC). */
	assert_string_equal(sc, vdev_daemon_sandbox_available() ? "2" : "0");
	assert_int_equal(tspawn_stop(&t, SIGTERM, 5000), 0);

	spawn(&t, (const char *[]){ "-s", path, "-f", src_path,
				    "--no-sandbox", NULL }, NULL);
	serve_and_look(&t, path, sc, uid, gid, groups);
	assert_string_equal(sc, "0");
	assert_int_equal(tspawn_stop(&t, SIGTERM, 5000), 0);
	if (!vdev_daemon_sandbox_available())
		print_message("built without libseccomp: the daemon serves "
			      "unsandboxed, as it said\n");
}

static void test_user_group(void **state)
{
	char path[64], sc[32], uid[64], gid[64], groups[64];
	struct stat st;
	struct tspawn t;

	need_daemon();
	if (geteuid() != 0) {
		print_message("SKIP: --user/--group need root\n");
		skip();
	}
	snprintf(path, sizeof(path), "/tmp/vhu-daemon-usr-%d.sock",
		 (int)getpid());
	spawn(&t, (const char *[]){ "-s", path, "-f", src_path, "--user",
				    "65534", "--group", "65533", NULL },
	      NULL);
	serve_and_look(&t, path, sc, uid, gid, groups);
	/* real, effective, saved and filesystem ids alike */
	assert_string_equal(uid, "65534\t65534\t65534\t65534");
	assert_string_equal(gid, "65533\t65533\t65533\t65533");
	assert_string_equal(groups, "65533");
	assert_string_equal(sc, vdev_daemon_sandbox_available() ? "2" : "0");
	/* The socket is the user's, so the daemon removes it from the
	 * sticky /tmp at exit. */
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 65534);
	assert_int_equal(tspawn_stop(&t, SIGTERM, 5000), 0);
	assert_int_not_equal(stat(path, &st), 0);

	/* A user without a passwd entry needs --group; a name must exist. */
	spawn(&t, (const char *[]){ "-s", path, "-f", src_path, "--user",
				    "65530", NULL }, NULL);
	assert_int_equal(tspawn_wait(&t, 5000), 1);
	spawn(&t, (const char *[]){ "-s", path, "-f", src_path, "--user",
				    "no-such-user-here", NULL }, NULL);
	assert_int_equal(tspawn_wait(&t, 5000), 1);
	spawn(&t, (const char *[]){ "-s", path, "-f", src_path, "--group",
				    "no-such-group-here", NULL }, NULL);
	assert_int_equal(tspawn_wait(&t, 5000), 1);
	assert_int_not_equal(stat(path, &st), 0);
}

static void test_bad_options(void **state)
{
	const char *const cases[][6] = {
		{ "--bogus", NULL },
		{ "-s", "/tmp/x", "-c", "zero", NULL },
		{ "-s", "/tmp/x", "-c", "0", NULL },
		{ NULL },
		{ "-s", "/tmp/x", "--fd", "3", NULL },
		{ "-s", "/tmp/x", "--transport", "carrier-pigeon", NULL },
		{ "-s", "/tmp/x", "-m", "10", "-p", NULL },
		{ "-s", "/tmp/x", "-f", "/nonexistent/source", NULL },
		{ "-s", "/tmp/x", "extra", NULL },
		{ "-s", "/tmp/x", "--thread-per-queue", "--thread-per-device",
		  NULL },
	};

	need_daemon();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tspawn t;

		spawn(&t, cases[i], NULL);
		assert_int_equal(tspawn_wait(&t, 5000), 1);
	}
}

static void test_print_capabilities(void **state)
{
	char out[512] = { 0 };
	struct tspawn t;

	need_daemon();
	spawn(&t, (const char *[]){ "--print-capabilities", NULL },
	      &(const struct tspawn_opts){ .fd = -1, .pipe_stdout = true });
	assert_true(tspawn_read_stdout(&t, out, sizeof(out), 5000) > 0);
	assert_int_equal(tspawn_wait(&t, 5000), 0);
	assert_non_null(strstr(out, "\"type\": \"rng\""));
	/* vhost-user.rst defines no features for rng: none listed. */
	assert_null(strstr(out, "\"features\""));
	assert_int_equal(out[0], '{');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_print_capabilities,
					  kill_leftovers),
		cmocka_unit_test_teardown(test_bad_options, kill_leftovers),
		cmocka_unit_test_teardown(test_sockets_and_sigterm,
					  kill_leftovers),
		cmocka_unit_test_teardown(test_fd_connected, kill_leftovers),
		cmocka_unit_test_teardown(test_fd_listening, kill_leftovers),
		cmocka_unit_test_teardown(test_connect, kill_leftovers),
		cmocka_unit_test_teardown(test_sandbox_by_default,
					  kill_leftovers),
		cmocka_unit_test_teardown(test_user_group, kill_leftovers),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
