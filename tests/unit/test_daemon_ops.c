/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The daemons as an operator meets them (issue 17), with vdev-rng as a
 * separate process: socket ownership for libvirt (--socket-group,
 * --socket-mode), a live socket never taken over while a stale one is
 * replaced, sockets numbered as vhost-device's once -c is given,
 * --print-capabilities answering whatever else is on the line, every
 * common and rng option with a bad value refused by a message that names
 * it, and the log: -v lines for connect, negotiation and disconnect, on
 * stderr and in the journal's native protocol.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
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
#include <virtio/caps.h>
#include <virtio/testing.h>
#include <virtio/vhost-user.h>

#include "tdaemon.h"
#include "tdev.h"
#include "tspawn.h"
#include "vfu_client.h"
#include "vhu_frontend.h"

static char rng[512];
static char dir[64], sock[96], log_path[96];

static int group_setup(void **state)
{
	const char *b = getenv("VDEV_BUILD_DIR");

	(void)state;
	if (b)
		snprintf(rng, sizeof(rng), "%s/daemons/rng/vdev-rng", b);
	snprintf(dir, sizeof(dir), "/tmp/vdev-ops-%d", (int)getpid());
	snprintf(sock, sizeof(sock), "%s/s", dir);
	snprintf(log_path, sizeof(log_path), "%s/log", dir);
	return mkdir(dir, 0700);
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
	char p[128];

	(void)state;
	tspawn_kill_all();
	unlink(sock);
	snprintf(p, sizeof(p), "%s/stats", dir);
	unlink(p);
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%d", sock, i);
		unlink(p);
	}
	return 0;
}

static void need_rng(void)
{
	if (!*rng || access(rng, X_OK) != 0) {
		print_message("SKIP: vdev-rng not built (VDEV_BUILD_DIR "
			      "unset?)\n");
		skip();
	}
}

/* argv[0] is the daemon; @args follow (NULL-terminated). */
static void make_argv(const char **argv, const char *const *args)
{
	int n = 1;

	argv[0] = rng;
	for (; args[n - 1] && n < 31; n++)
		argv[n] = args[n - 1];
	argv[n] = NULL;
}

static void read_log(char *out, size_t len)
{
	int fd = open(log_path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, out, len - 1);
	close(fd);
	out[n > 0 ? n : 0] = 0;
}

/* Runs the daemon to its end (10 s at most); its exit status, its
 * stdout and stderr in @out. */
static int run(const char *const *args, char *out, size_t len)
{
	const char *argv[32];

	make_argv(argv, args);
	return trun(argv, log_path, out, len);
}

static void start(struct tspawn *t, const char *const *args)
{
	const char *argv[32];

	make_argv(argv, args);
	unlink(log_path);
	assert_int_equal(tspawn_start(t, argv,
				      &(struct tspawn_opts){ .fd = -1,
							     .log = log_path }),
			 0);
}

static const struct vdev_drv_config dcfg = { .queue_size = 64 };

/* The device behind @path serves 16 random bytes. */
static void serves(struct tspawn *t, const char *path)
{
	struct vdev_drv *drv = NULL;
	uint8_t buf[16];
	uint32_t got = 0;

	assert_int_equal(tspawn_drv_connect(t, path, 10000, &dcfg, &drv), 0);
	assert_int_equal(vdev_drv_init(drv), 0);
	assert_int_equal(vdev_drv_xfer(drv, 0, NULL, 0, buf, sizeof(buf), &got,
				       5000), 0);
	assert_int_equal(got, sizeof(buf));
	vdev_drv_free(drv);
}

/* libvirt's QEMU runs as its own user: the socket must be the group's. */
static void test_socket_group_and_mode(void **state)
{
	struct group *g = getgrgid(getgid());
	char gid[16];
	struct stat st;
	struct tspawn t;

	(void)state;
	need_rng();
	assert_non_null(g);
	start(&t, (const char *[]){ "-s", sock, "--socket-group", g->gr_name,
				    "--socket-mode", "0660", NULL });
	assert_int_equal(tspawn_wait_socket(&t, sock, 10000, NULL), 0);
	assert_int_equal(lstat(sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_gid, getgid());
	serves(&t, sock);
	assert_int_equal(tspawn_stop(&t, SIGTERM, 10000), 0);
	/* A number works as well; the mode is exactly what was asked. */
	snprintf(gid, sizeof(gid), "%u", (unsigned)getgid());
	start(&t, (const char *[]){ "-s", sock, "--socket-group", gid,
				    "--socket-mode", "600", NULL });
	assert_int_equal(tspawn_wait_socket(&t, sock, 10000, NULL), 0);
	assert_int_equal(lstat(sock, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(tspawn_stop(&t, SIGTERM, 10000), 0);
}

/* Spins until @path exists (10 s at most), then at once: its mode, and
 * whether a connect succeeds. */
static void catch_socket(const char *path, mode_t *mode, int *conn_err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd;

	assert_true((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s",
				     path) < sizeof(sa.sun_path));
	for (unsigned long i = 0;; i++) {
		if (lstat(path, &st) == 0)
			break;
		assert_int_equal(errno, ENOENT);
		/* 10 s of lstat calls, about; a yield now and then lets a
		 * loaded machine run the daemon. */
		assert_true(i < 20000000ul);
		if (!(i % 1024))
			sched_yield();
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	*conn_err = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ?
			    errno : 0;
	close(fd);
	*mode = st.st_mode;
}

/* The path appears only when it listens with its final group and mode:
 * a frontend polling for it (libvirt's QEMU with reconnect) must never
 * find it refusing connections, or open to others for a moment. */
static void socket_appears_ready(const char *transport, bool stats)
{
	char spath[128];

	/* Under qemu-user (cross builds) a daemon takes ~0.3 s to start:
	 * fewer rounds there; the native builds run all of them. */
	int rounds = getenv("VDEV_TEST_EMULATOR") ? 10 : 40;
	char m[16];
	int bad_mode = 0, refused = 0;
	mode_t mode;
	struct tspawn t;
	int err;

	for (int i = 0; i < rounds; i++) {
		/* A mode bind() never gives: the umask only clears bits. */
		snprintf(m, sizeof(m), "%o", i & 1 ? 0620u : 0660u);
		snprintf(spath, sizeof(spath), "%s/stats", dir);
		unlink(sock);
		unlink(spath);
		start(&t, (const char *[]){ "-s", sock, "--socket-mode", m,
					    "--transport", transport,
					    stats ? "--stats-socket" : NULL,
					    spath, NULL });
		catch_socket(stats ? spath : sock, &mode, &err);
		if (!S_ISSOCK(mode) || (mode & 07777) != strtoul(m, NULL, 8))
			bad_mode++;
		if (err)
			refused++;
		assert_int_equal(tspawn_stop(&t, SIGTERM, 10000), 0);
	}
	if (bad_mode || refused)
		fail_msg("%s%s: of %d sockets, %d appeared with another "
			 "mode and %d refused a connection at first sight",
			 transport, stats ? " --stats-socket" : "", rounds,
			 bad_mode, refused);
	/* Nothing of the making is left beside the socket. */
	char cmd[256], out[256] = "";
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | grep -v '^log$'", dir);
	f = popen(cmd, "r");
	assert_non_null(f);
	size_t n = fread(out, 1, sizeof(out) - 1, f);
	pclose(f);
	out[n] = 0;
	if (n)
		fail_msg("left in %s:\n%s", dir, out);
}

static void test_socket_appears_ready(void **state)
{
	char longp[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat st;
	struct tspawn t;
	size_t n;

	(void)state;
	need_rng();
	/* The longest path a socket can have: the socket is made in a
	 * directory whose path is longer still, so it is bound through
	 * /proc/self/fd, and still appears with its mode. */
	n = (size_t)snprintf(longp, sizeof(longp), "%s/", dir);
	memset(longp + n, 'x', sizeof(longp) - 1 - n);
	longp[sizeof(longp) - 1] = 0;
	start(&t, (const char *[]){ "-s", longp, "--socket-mode", "0620",
				    NULL });
	assert_int_equal(tspawn_wait_socket(&t, longp, 10000, NULL), 0);
	assert_int_equal(lstat(longp, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0620);
	serves(&t, longp);
	assert_int_equal(tspawn_stop(&t, SIGTERM, 10000), 0);
	assert_int_equal(lstat(longp, &st), -1);
	socket_appears_ready("vhost-user", false);
	if (vdev_has_capability(VDEV_CAP_TRANSPORT, "vfio-user"))
		socket_appears_ready("vfio-user", false);
	else
		print_message("vfio-user not built: its half skipped\n");
}

/* --stats-socket as well: an operator's monitor polling for it finds it
 * answering, with the sockets' --socket-mode (and group). */
static void test_stats_socket_appears_ready(void **state)
{
	(void)state;
	need_rng();
	socket_appears_ready("vhost-user", true);
}

/* A second daemon on a live socket is refused and the first keeps
 * serving; a socket whose daemon died is stale and replaced. */
static void test_live_socket_refused(void **state)
{
	char out[2048];
	struct tspawn a, c;

	(void)state;
	need_rng();
	start(&a, (const char *[]){ "-s", sock, NULL });
	assert_int_equal(tspawn_wait_socket(&a, sock, 10000, NULL), 0);
	assert_int_equal(run((const char *[]){ "-s", sock, NULL }, out,
			     sizeof(out)), 1);
	if (!strstr(out, "another process is serving this socket"))
		fail_msg("no refusal in:\n%s", out);
	if (!strstr(out, sock))
		fail_msg("the socket is not named in:\n%s", out);
	serves(&a, sock);
	/* SIGKILL leaves the socket file behind: stale. */
	assert_int_equal(tspawn_stop(&a, SIGKILL, 10000),
			 TSPAWN_SIGNALED + SIGKILL);
	assert_int_equal(access(sock, F_OK), 0);
	start(&c, (const char *[]){ "-s", sock, NULL });
	serves(&c, sock);
	assert_int_equal(tspawn_stop(&c, SIGTERM, 10000), 0);
	assert_int_equal(access(sock, F_OK), -1);
}

/* vhost-device numbers its sockets whenever -c is given, even -c 1. */
static void test_socket_numbering(void **state)
{
	char p0[128];
	struct tspawn t;

	(void)state;
	need_rng();
	snprintf(p0, sizeof(p0), "%s0", sock);
	start(&t, (const char *[]){ "-s", sock, "-c", "1", NULL });
	serves(&t, p0);
	assert_int_equal(access(sock, F_OK), -1);
	assert_int_equal(tspawn_stop(&t, SIGTERM, 10000), 0);
	start(&t, (const char *[]){ "-s", sock, NULL });
	serves(&t, sock);
	assert_int_equal(access(p0, F_OK), -1);
	assert_int_equal(tspawn_stop(&t, SIGTERM, 10000), 0);
}

/* libvirt probes with --print-capabilities; what else is on the line
 * does not matter, and rng has no "features" (the schema has none). */
static void test_print_capabilities(void **state)
{
	const char *argv[32];
	char out[512] = { 0 };
	struct tspawn t;

	(void)state;
	need_rng();
	make_argv(argv, (const char *[]){ "--print-capabilities", "--bogus",
					  "-s", NULL });
	assert_int_equal(tspawn_start(&t, argv,
				      &(struct tspawn_opts){
					      .fd = -1, .log = "/dev/null",
					      .pipe_stdout = true }),
			 0);
	assert_true(tspawn_read_stdout(&t, out, sizeof(out), 10000) > 0);
	assert_int_equal(tspawn_wait(&t, 10000), 0);
	assert_string_equal(out, "{\n  \"type\": \"rng\"\n}\n");
}

struct bad {
	const char *args[12];
	const char *want[3]; /* each must be in the message */
};

/* Every option with a path or a number, given a bad value. */
static const struct bad bad_values[] = {
	{ { "-s", "/tmp/no-such-dir-vdev/s", NULL },
	  { "/tmp/no-such-dir-vdev/s", "directory does not exist" } },
	{ { "-s", "/tmp/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    NULL },
	  { "--socket-path", "at most 107", "shorter" } },
	{ { "-s", "@LOG@", NULL },
	  { "exists and is not a socket", "--socket-path" } },
	{ { "-s", "@SOCK@", "--stats-socket", "/tmp", NULL },
	  { "--stats-socket /tmp exists and is not a socket" } },
	{ { "-s", "@SOCK@", "--stats-socket", "/tmp/no-such-dir-vdev/st",
	    NULL },
	  { "--stats-socket /tmp/no-such-dir-vdev/st", "No such file" } },
	{ { "--fd", "0", NULL }, { "--fd 0", "UNIX socket" } },
	{ { "--fd", "-1", NULL }, { "--fd", "'-1' is not a number" } },
	{ { "-s", "@SOCK@", "-c", "0", NULL }, { "--socket-count", "1..64" } },
	{ { "-s", "@SOCK@", "-c", "65", NULL }, { "--socket-count", "1..64" } },
	{ { "-s", "@SOCK@", "--queue-size", "63", NULL },
	  { "--queue-size", "64..32768" } },
	{ { "-s", "@SOCK@", "--queue-size", "1k", NULL },
	  { "--queue-size", "'1k' is not a number" } },
	{ { "-s", "@SOCK@", "--num-queues", "2", NULL },
	  { "--num-queues", "1..1" } },
	{ { "-s", "@SOCK@", "--poll-us", "1000001", NULL },
	  { "--poll-us", "0..1000000" } },
	{ { "-s", "@SOCK@", "--socket-mode", "0999", NULL },
	  { "--socket-mode", "'0999'", "octal" } },
	{ { "-s", "@SOCK@", "--socket-mode", "01777", NULL },
	  { "--socket-mode", "0777" } },
	{ { "-s", "@SOCK@", "--socket-group", "no-such-group-vdev", NULL },
	  { "--socket-group", "no group 'no-such-group-vdev'" } },
	{ { "--fd", "3", "--socket-mode", "0660", NULL },
	  { "--socket-mode", "--socket-path without --connect" } },
	{ { "-s", "@SOCK@", "--log", "carrier-pigeon", NULL },
	  { "--log", "stderr, syslog, journald" } },
	{ { "-s", "@SOCK@", "--log-level", "chatty", NULL },
	  { "--log-level", "error, warning, info, debug" } },
	{ { "-s", "@SOCK@", "-f", "/nonexistent/source", NULL },
	  { "--rng-source /nonexistent/source", "no such file" } },
	{ { "-s", "@SOCK@", "-f", "/tmp", NULL },
	  { "--rng-source /tmp", "directory" } },
	{ { "-s", "@SOCK@", "-p", "65537", NULL }, { "--period", "1..65536" } },
	{ { "-s", "@SOCK@", "-p", "0", NULL }, { "--period", "1..65536" } },
	{ { "-s", "@SOCK@", "-m", "0", NULL }, { "--max-bytes", "1.." } },
	{ { "-s", "@SOCK@", "-m", "-5", NULL },
	  { "--max-bytes", "'-5' is not a number" } },
	{ { "-s", "@SOCK@", "-c", "4", "-m", "3", NULL },
	  { "--max-bytes 3", "4 sockets", "at least 4" } },
};

static void test_bad_values(void **state)
{
	(void)state;
	need_rng();
	for (size_t i = 0; i < sizeof(bad_values) / sizeof(bad_values[0]);
	     i++) {
		const struct bad *b = &bad_values[i];
		const char *args[12];
		char out[4096];
		int n;

		for (n = 0; b->args[n]; n++)
			args[n] = !strcmp(b->args[n], "@SOCK@") ? sock :
				  !strcmp(b->args[n], "@LOG@") ? log_path :
								  b->args[n];
		args[n] = NULL;
		if (!strcmp(b->args[1], "@LOG@")) {
			int fd = open(log_path, O_CREAT | O_WRONLY, 0600);

			assert_true(fd >= 0);
			close(fd);
		}
		if (run(args, out, sizeof(out)) != 1)
			fail_msg("case %zu: not refused:\n%s", i, out);
		for (int k = 0; k < 3 && b->want[k]; k++)
			if (!strstr(out, b->want[k]))
				fail_msg("case %zu: no '%s' in:\n%s", i,
					 b->want[k], out);
		/* Nothing was left behind for the next case. */
		assert_int_equal(access(sock, F_OK), -1);
	}
}

/* Reads datagrams from @fd for up to @ms into @buf (appended, NUL
 * terminated) until every one of @want is in it. */
static bool journal_has(int fd, char *buf, size_t len, const char *const *want,
			int ms)
{
	size_t used = strlen(buf);

	for (int waited = 0; waited < ms; waited += 50) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		bool all = true;

		for (int i = 0; want[i]; i++)
			all = all && strstr(buf, want[i]);
		if (all)
			return true;
		if (poll(&p, 1, 50) == 1 && used + 1 < len) {
			ssize_t n = recv(fd, buf + used, len - used - 1, 0);

			if (n > 0)
				used += (size_t)n;
			buf[used] = 0;
		}
	}
	return false;
}

/* -v: a line per connect, negotiation and disconnect; --log journald
 * speaks the journal's native protocol, with priorities. */
static void test_verbose_and_journal(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static const char *const want[] = {
		"PRIORITY=6\nSYSLOG_IDENTIFIER=vdev-rng\n"
		"MESSAGE=vhost-user rng: frontend connected",
		"MESSAGE=vhost-user rng: negotiated features 0x",
		"MESSAGE=vhost-user rng: frontend disconnected", NULL,
	};
	char jpath[128], buf[8192] = { 0 }, out[4096];
	struct tspawn t;
	int j;

	(void)state;
	need_rng();
	/* stderr first */
	start(&t, (const char *[]){ "-s", sock, "-v", NULL });
	serves(&t, sock);
	/* The disconnect is logged when the daemon reads the EOF. */
	assert_true(tdaemon_log_has(log_path, "frontend disconnected", 10000));
	assert_int_equal(tspawn_stop(&t, SIGTERM, 10000), 0);
	read_log(out, sizeof(out));
	if (!strstr(out, "vdev-rng: info: vhost-user rng: frontend connected") ||
	    !strstr(out, "vdev-rng: info: vhost-user rng: negotiated features") ||
	    !strstr(out, "vdev-rng: info: vhost-user rng: frontend disconnected"))
		fail_msg("-v lines missing in:\n%s", out);
	/* The same three lines for a vfio-user client (where built). */
	if (vdev_has_capability(VDEV_CAP_TRANSPORT, "vfio-user")) {
		start(&t, (const char *[]){ "-s", sock, "-v", "--transport",
					    "vfio-user", NULL });
		assert_int_equal(tspawn_wait_socket(&t, sock, 10000, NULL), 0);
		{
			struct vfu_client *vc = vfu_client_connect(sock);

			assert_non_null(vc);
			assert_int_equal(vfu_client_version(vc), 0);
			vfu_client_free(vc);
		}
		if (!tdaemon_log_has(log_path,
				     "vfio-user rng: client disconnected",
				     10000))
			fail_msg("no vfio-user disconnect line");
		assert_int_equal(tspawn_stop(&t, SIGTERM, 10000), 0);
		read_log(out, sizeof(out));
		if (!strstr(out, "info: vfio-user rng: client connected") ||
		    !strstr(out, "info: vfio-user rng: negotiated protocol 0."))
			fail_msg("vfio-user -v lines missing in:\n%s", out);
	}
	/* Without -v: none of them. */
	start(&t, (const char *[]){ "-s", sock, NULL });
	serves(&t, sock);
	assert_int_equal(tspawn_stop(&t, SIGTERM, 10000), 0);
	read_log(out, sizeof(out));
	assert_null(strstr(out, "frontend connected"));

	snprintf(jpath, sizeof(jpath), "%s/journal", dir);
	j = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(j >= 0);
	strcpy(sa.sun_path, jpath);
	assert_int_equal(bind(j, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setenv("VDEV_JOURNAL_SOCKET", jpath, 1);
	start(&t, (const char *[]){ "-s", sock, "--log", "journald",
				    "--log-level", "info", NULL });
	unsetenv("VDEV_JOURNAL_SOCKET");
	serves(&t, sock);
	if (!journal_has(j, buf, sizeof(buf), want, 10000))
		fail_msg("journal lines missing in:\n%s", buf);
	assert_int_equal(tspawn_stop(&t, SIGTERM, 10000), 0);
	close(j);
	unlink(jpath);
	/* No journal: said, and refused. */
	setenv("VDEV_JOURNAL_SOCKET", jpath, 1);
	assert_int_equal(run((const char *[]){ "-s", sock, "--log", "journald",
					       NULL }, out, sizeof(out)), 1);
	unsetenv("VDEV_JOURNAL_SOCKET");
	if (!strstr(out, "--log journald: no journal socket"))
		fail_msg("no journal complaint in:\n%s", out);
}

/* Counters: as JSON on --stats-socket, in the log on SIGUSR1. */
static void test_stats(void **state)
{
	char spath[128], json[4096], p0[128], p1[128];
	struct tspawn t;

	(void)state;
	need_rng();
	snprintf(spath, sizeof(spath), "%s/stats", dir);
	snprintf(p0, sizeof(p0), "%s0", sock);
	snprintf(p1, sizeof(p1), "%s1", sock);
	start(&t, (const char *[]){ "-s", sock, "-c", "2", "--stats-socket",
				    spath, NULL });
	serves(&t, p1);
	serves(&t, p1);
	assert_int_equal(tdaemon_read_stats(spath, json, sizeof(json)), 0);
	if (!strstr(json, "{\"daemon\": \"vdev-rng\", \"devices\": [") ||
	    !strstr(json, "\"socket\": \"") ||
	    !strstr(json, "{\"index\": 0, \"requests\": 0, \"read_bytes\": 0, "
			  "\"written_bytes\": 0, \"errors\": 0") ||
	    !strstr(json, "{\"index\": 0, \"requests\": 2, \"read_bytes\": 0, "
			  "\"written_bytes\": 32, \"errors\": 0"))
		fail_msg("stats JSON:\n%s", json);
	assert_int_equal(kill(t.pid, SIGUSR1), 0);
	if (!tdaemon_log_has(log_path, "queue 0: 2 requests, 0 bytes read, "
			     "32 bytes written, 0 errors", 10000))
		fail_msg("no SIGUSR1 counters in the log");
	/* The daemon lives on after SIGUSR1, and removes the socket. */
	serves(&t, p0);
	assert_int_equal(tspawn_stop(&t, SIGTERM, 10000), 0);
	assert_int_equal(access(spath, F_OK), -1);
}

/* The unit's line starting with @key, its value in @out. */
static bool unit_line(const char *path, const char *key, char *out,
		      size_t len)
{
	char line[512];
	FILE *f = fopen(path, "r");
	bool found = false;

	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, strlen(key)))
			continue;
		line[strcspn(line, "\n")] = 0;
		snprintf(out, len, "%s", line + strlen(key));
		found = true;
	}
	fclose(f);
	return found;
}

/*
 * The example systemd units, run as systemd would: the socket unit's
 * settings, and the service's ExecStart under systemd-socket-activate
 * (a listening socket passed as fd 3, the daemon started on the first
 * connection), logging to a journal socket of the test's own.
 */
static void test_systemd_units(void **state)
{
	static const char *const tools[] = {
		"/usr/bin/systemd-socket-activate",
		"/lib/systemd/systemd-socket-activate", NULL,
	};
	static const char *const want[] = {
		"MESSAGE=vhost-user rng: frontend connected", NULL,
	};
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char svc[600], skt[600], exec[512], val[128], jpath[128], jenv[160];
	char buf[4096] = { 0 }, *tok, *save = NULL;
	const char *argv[32], *tool = NULL;
	const char *b = getenv("VDEV_BUILD_DIR");
	struct tspawn t;
	int n = 0, j;

	(void)state;
	need_rng();
	for (int i = 0; tools[i]; i++)
		if (access(tools[i], X_OK) == 0)
			tool = tools[i];
	if (!tool) {
		print_message("SKIP: no systemd-socket-activate (package "
			      "systemd) to run the units with\n");
		skip();
	}
	snprintf(svc, sizeof(svc), "%s/daemons/rng/vdev-rng@.service", b);
	snprintf(skt, sizeof(skt), "%s/daemons/rng/vdev-rng@.socket", b);
	assert_true(unit_line(skt, "ListenStream=", val, sizeof(val)));
	assert_string_equal(val, "/run/vdev/rng-%i.sock");
	assert_true(unit_line(skt, "SocketMode=", val, sizeof(val)));
	assert_string_equal(val, "0660");
	assert_true(unit_line(skt, "SocketGroup=", val, sizeof(val)));
	assert_string_equal(val, "kvm");
	assert_true(unit_line(svc, "Requires=", val, sizeof(val)));
	assert_string_equal(val, "vdev-rng@%i.socket");
	assert_true(unit_line(svc, "ExecStart=", exec, sizeof(exec)));

	snprintf(jpath, sizeof(jpath), "%s/journal", dir);
	snprintf(jenv, sizeof(jenv), "VDEV_JOURNAL_SOCKET=%s", jpath);
	unlink(jpath);
	j = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(j >= 0);
	strcpy(sa.sun_path, jpath);
	assert_int_equal(bind(j, (struct sockaddr *)&sa, sizeof(sa)), 0);

	argv[n++] = tool;
	argv[n++] = "-l";
	argv[n++] = sock;
	argv[n++] = "-E";
	argv[n++] = jenv;
	argv[n++] = "--";
	/* ExecStart as systemd runs it: the program where it was built,
	 * $VDEV_ARGS empty (no configuration file). */
	for (tok = strtok_r(exec, " ", &save); tok && n < 30;
	     tok = strtok_r(NULL, " ", &save)) {
		if (!strcmp(tok, "/@VDEV_LIBEXECDIR@/vdev-rng"))
			argv[n++] = rng;
		else if (strcmp(tok, "$VDEV_ARGS"))
			argv[n++] = tok;
	}
	argv[n] = NULL;
	assert_string_equal(argv[6], rng);
	unlink(log_path);
	assert_int_equal(tspawn_start(&t, argv,
				      &(struct tspawn_opts){ .fd = -1,
							     .log = log_path }),
			 0);
	serves(&t, sock);
	serves(&t, sock);
	if (!journal_has(j, buf, sizeof(buf), want, 10000))
		fail_msg("no journal line from the activated daemon:\n%s", buf);
	assert_int_equal(tspawn_stop(&t, SIGTERM, 10000), 0);
	close(j);
	unlink(jpath);
}

/* The protocol features the daemon @prog (with @args) offers. */
static uint64_t offered_protocol_features(const char *prog,
					  const char *const *args)
{
	const char *argv[16] = { prog, "-s", sock };
	struct vhu_fe *fe = NULL;
	struct tspawn t;
	uint64_t f = 0;
	int n = 3;

	for (int i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	assert_int_equal(tspawn_start(&t, argv,
				      &(struct tspawn_opts){ .fd = -1,
							     .log = log_path }),
			 0);
	assert_int_equal(tspawn_vhu_connect(&t, sock, 10000, &fe), 0);
	assert_int_equal(vhu_fe_get_u64(fe, VHU_FE_GET_PROTOCOL_FEATURES, &f),
			 0);
	vhu_fe_close(fe);
	assert_int_equal(tspawn_stop(&t, SIGTERM, 10000), 0);
	return f;
}

/*
 * QEMU's vhost-user-scsi builds its config space itself, and QEMU 7.2
 * warns on every start when the back-end offers PROTOCOL_F_CONFIG:
 * --no-config-messages stops offering it (not the default: UML reads
 * the config through the back-end). vdev-blk offers it.
 */
static void test_scsi_no_f_config(void **state)
{
	const char *b = getenv("VDEV_BUILD_DIR");
	char scsi[512], blk[512], img[128];
	uint64_t f;
	int fd;

	(void)state;
	snprintf(scsi, sizeof(scsi), "%s/daemons/scsi/vdev-scsi", b ? b : "");
	snprintf(blk, sizeof(blk), "%s/daemons/blk/vdev-blk", b ? b : "");
	if (!b || access(scsi, X_OK) || access(blk, X_OK)) {
		print_message("SKIP: vdev-scsi or vdev-blk not built\n");
		skip();
	}
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	fd = open(img, O_CREAT | O_RDWR, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	/* By default it is offered: UML's virtio_uml reads the config
	 * through the back-end. */
	f = offered_protocol_features(scsi, (const char *[]){ img, NULL });
	assert_true(f & VDEV_BIT(VDEV_VHOST_USER_PROTOCOL_F_CONFIG));
	f = offered_protocol_features(scsi, (const char *[]){
		"--no-config-messages", img, NULL });
	assert_int_equal(f & VDEV_BIT(VDEV_VHOST_USER_PROTOCOL_F_CONFIG), 0);
	/* The rest is there: the check above is not of an empty mask. */
	assert_true(f & VDEV_BIT(VDEV_VHOST_USER_PROTOCOL_F_REPLY_ACK));
	f = offered_protocol_features(blk, (const char *[]){ "-b", img, NULL });
	assert_true(f & VDEV_BIT(VDEV_VHOST_USER_PROTOCOL_F_CONFIG));

	/* And QEMU (Debian's 7.2, which warned) says nothing about it: a
	 * paused machine realizes the device, which negotiates. */
	/* Under qemu-user (cross builds) the daemon is too slow for QEMU's
	 * own start-up timing; the native builds run this part. */
	if (getenv("VDEV_TEST_EMULATOR"))
		print_message("the QEMU 7.2 half is not run under an "
			      "emulator (VDEV_TEST_EMULATOR)\n");
	else if (access("/usr/bin/qemu-system-x86_64", X_OK) == 0) {
		char chr[160], qlog[128], out[4096], cap[128];
		struct tspawn d, q;
		int qfd;
		ssize_t n;

		snprintf(chr, sizeof(chr), "socket,id=c,path=%s", sock);
		snprintf(qlog, sizeof(qlog), "%s/qemu.log", dir);
		/* The conversation, to see when QEMU is past the point where
		 * it warns (SET_OWNER follows the protocol features). */
		snprintf(cap, sizeof(cap), "%s/capture", dir);
		unlink(cap);
		setenv("VDEV_VHOST_USER_CAPTURE", cap, 1);
		unlink(log_path);
		assert_int_equal(tspawn_start(&d, (const char *[]){
			scsi, "-s", sock, "-v", "--no-config-messages", img,
			NULL },
			&(struct tspawn_opts){ .fd = -1, .log = log_path }), 0);
		unsetenv("VDEV_VHOST_USER_CAPTURE");
		assert_int_equal(tspawn_wait_socket(&d, sock, 10000, NULL), 0);
		assert_int_equal(tspawn_start(&q, (const char *[]){
			"/usr/bin/qemu-system-x86_64", "-M", "pc",
			"-nodefaults", "-display", "none", "-S", "-m", "128",
			"-object",
			"memory-backend-memfd,id=mem,size=128M,share=on",
			"-numa", "node,memdev=mem", "-chardev", chr, "-device",
			"vhost-user-scsi-pci,chardev=c", "-monitor", "none",
			NULL }, &(struct tspawn_opts){ .fd = -1, .log = qlog }),
			0);
		for (int w = 0; w < 1000; w++) {
			char c[8192] = { 0 };
			int cfd = open(cap, O_RDONLY);

			if (cfd >= 0) {
				n = read(cfd, c, sizeof(c) - 1);
				close(cfd);
				if (n > 0 && strstr(c, "SET_OWNER"))
					break;
			}
			if (w == 999)
				fail_msg("QEMU did not get to SET_OWNER:\n%s", c);
			usleep(20000);
		}
		tspawn_stop(&q, SIGTERM, 10000);
		assert_int_equal(tspawn_stop(&d, SIGTERM, 10000), 0);
		qfd = open(qlog, O_RDONLY);
		assert_true(qfd >= 0);
		n = read(qfd, out, sizeof(out) - 1);
		close(qfd);
		out[n > 0 ? n : 0] = 0;
		if (strstr(out, "F_CONFIG"))
			fail_msg("QEMU still warns:\n%s", out);
	} else {
		print_message("no /usr/bin/qemu-system-x86_64: QEMU's side "
			      "of it not checked\n");
	}
	unlink(img);
}

/*
 * Issue 11: every daemon accepts every queue size a frontend may pick
 * from 64 to 1024 (UML asks 256, QEMU 128 to 1024) with its default
 * --queue-size, split and packed.
 */
static void test_queue_sizes(void **state)
{
	const char *b = getenv("VDEV_BUILD_DIR");
	static const uint16_t sizes[] = { 64, 128, 256, 512, 1024 };
	char blk[512], scsi[512], img[128];
	struct {
		const char *prog;
		const char *args[4];
	} daemons[3];
	int fd;

	(void)state;
	need_rng();
	snprintf(blk, sizeof(blk), "%s/daemons/blk/vdev-blk", b);
	snprintf(scsi, sizeof(scsi), "%s/daemons/scsi/vdev-scsi", b);
	snprintf(img, sizeof(img), "%s/q.img", dir);
	fd = open(img, O_CREAT | O_RDWR, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	daemons[0].prog = rng;
	daemons[0].args[0] = NULL;
	daemons[1].prog = blk;
	daemons[1].args[0] = "-b";
	daemons[1].args[1] = img;
	daemons[1].args[2] = NULL;
	daemons[2].prog = scsi;
	daemons[2].args[0] = img;
	daemons[2].args[1] = NULL;
	for (int d = 0; d < 3; d++) {
		const char *argv[8] = { daemons[d].prog, "-s", sock };
		struct tspawn t;
		int n = 3;

		if (access(daemons[d].prog, X_OK))
			continue;
		for (int a = 0; daemons[d].args[a]; a++)
			argv[n++] = daemons[d].args[a];
		argv[n] = NULL;
		assert_int_equal(tspawn_start(&t, argv,
					      &(struct tspawn_opts){
						      .fd = -1,
						      .log = log_path }), 0);
		for (int packed = 0; packed < 2; packed++) {
			for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]);
			     i++) {
				struct vdev_drv_config c = {
					.queue_size = sizes[i],
					.packed = packed,
				};
				struct vdev_drv *drv = NULL;

				assert_int_equal(tspawn_drv_connect(&t, sock,
								    10000, &c,
								    &drv), 0);
				if (vdev_drv_init(drv) != 0)
					fail_msg("%s refused queue size %u%s",
						 daemons[d].prog, sizes[i],
						 packed ? " (packed)" : "");
				vdev_drv_free(drv);
			}
		}
		assert_int_equal(tspawn_stop(&t, SIGTERM, 10000), 0);
	}
	unlink(img);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_socket_group_and_mode, cleanup),
		cmocka_unit_test_teardown(test_socket_appears_ready, cleanup),
		cmocka_unit_test_teardown(test_stats_socket_appears_ready,
					  cleanup),
		cmocka_unit_test_teardown(test_live_socket_refused, cleanup),
		cmocka_unit_test_teardown(test_socket_numbering, cleanup),
		cmocka_unit_test_teardown(test_print_capabilities, cleanup),
		cmocka_unit_test_teardown(test_bad_values, cleanup),
		cmocka_unit_test_teardown(test_verbose_and_journal, cleanup),
		cmocka_unit_test_teardown(test_stats, cleanup),
		cmocka_unit_test_teardown(test_systemd_units, cleanup),
		cmocka_unit_test_teardown(test_scsi_no_f_config, cleanup),
		cmocka_unit_test_teardown(test_queue_sizes, cleanup),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
