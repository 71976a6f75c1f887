/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The daemon API (include/virtio/daemon.h) without serving anything: a
 * daemon's option table parsed into its struct, every option kind and
 * every command-line mistake, inconsistent tables, and the documents made
 * from the tables (help, man page, Markdown, capabilities, descriptor).
 * Serving is tested with the real daemons (test_vhost_user_daemon, ...).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <virtio/caps.h>
#include <virtio/daemon.h>

struct opts {
	const char *name;
	bool flag;
	uint8_t small;
	uint16_t mid;
	uint64_t big;
	unsigned mode;
	unsigned calls;
	const char *last_call;
	unsigned operands;
	const char *operand[4];
};

static const char *const modes[] = { "fast", "safe", NULL };

static int on_tag(void *ctx, const char *arg)
{
	struct opts *o = ctx;

	if (!strcmp(arg, "bad")) {
		fprintf(stderr, "test: --tag: bad\n");
		return -EINVAL;
	}
	o->calls++;
	o->last_call = arg;
	return 0;
}

#define F(m) VDEV_DAEMON_FIELD(struct opts, m)

static const struct vdev_daemon_option options[] = {
	{ .name = "name", .short_name = 'n', .type = VDEV_DAEMON_STRING,
	  .arg = "NAME", .help = "A name.", .def = "none", F(name),
	  .flags = VDEV_DAEMON_CAPABILITY },
	{ .name = "flag", .short_name = 'f', .type = VDEV_DAEMON_FLAG,
	  .help = "A flag.", F(flag) },
	{ .name = "small", .type = VDEV_DAEMON_UINT, .arg = "N",
	  .help = "Fits in a byte.", F(small) },
	{ .name = "mid", .type = VDEV_DAEMON_UINT, .arg = "N", .min = 10,
	  .max = 1000, .help = "Ten to a thousand.", F(mid) },
	{ .name = "big", .type = VDEV_DAEMON_UINT, .arg = "N",
	  .help = "Anything.", F(big) },
	{ .name = "mode", .type = VDEV_DAEMON_CHOICE, .choices = modes,
	  .def = "fast", .help = "How | what.", F(mode),
	  .flags = VDEV_DAEMON_CAPABILITY },
	{ .name = "tag", .short_name = 't', .type = VDEV_DAEMON_CALL,
	  .arg = "TAG", .flags = VDEV_DAEMON_REPEAT, .parse = on_tag,
	  .help = "A tag, as many as you like." },
	{ 0 },
};

static int on_operand(void *ctx, const char *arg)
{
	struct opts *o = ctx;

	if (o->operands == 4)
		return -EINVAL;
	o->operand[o->operands++] = arg;
	return 0;
}

/* What check() saw; it refuses, so nothing is ever served. */
static struct opts seen;
static struct vdev_daemon_instance seen_in;
static unsigned checks;

static int check(void *ctx, const struct vdev_daemon_instance *in)
{
	seen = *(struct opts *)ctx;
	seen_in = *in;
	checks++;
	return -ECANCELED;
}

static struct vdev *create(void *ctx, const struct vdev_daemon_instance *in)
{
	(void)ctx;
	(void)in;
	errno = ENODEV;
	return NULL;
}

static const struct vdev_daemon daemon_def = {
	.name = "test-daemon",
	.type = "test",
	.summary = "a daemon for the test",
	.description = "First paragraph.\n\nSecond - with a hyphen.",
	.options = options,
	.operands = "FILE...",
	.operands_help = "Files.",
	.operand = on_operand,
	.num_queues_max = 4,
	.check = check,
	.create = create,
};

/* Runs the daemon on @args (NULL-terminated, argv[0] added); returns its
 * exit status and leaves what check() saw in `seen`. */
static int run(const struct vdev_daemon *d, const char *const *args)
{
	char *argv[32] = { (char *)"test-daemon" };
	struct opts o = { .name = "none" };
	int n = 1;

	while (args[n - 1]) {
		argv[n] = (char *)args[n - 1];
		n++;
	}
	argv[n] = NULL;
	checks = 0;
	memset(&seen, 0, sizeof(seen));
	memset(&seen_in, 0, sizeof(seen_in));
	return vdev_daemon_main(d, &o, n, argv);
}

#define RUN(...) run(&daemon_def, (const char *const[]){ __VA_ARGS__, NULL })

static void test_values(void **state)
{
	(void)state;
	/* check() refusing gives status 1, after parsing everything. */
	assert_int_equal(RUN("-s", "/tmp/x", "-n", "abc", "-f", "--small",
			     "255", "--mid=0x10", "--big",
			     "18446744073709551615", "--mode", "safe", "-t",
			     "one", "--tag", "two", "img0", "img1",
			     "--socket-count", "3", "--queue-size", "256",
			     "--num-queues", "4"), 1);
	assert_int_equal(checks, 1);
	assert_string_equal(seen.name, "abc");
	assert_true(seen.flag);
	assert_int_equal(seen.small, 255);
	assert_int_equal(seen.mid, 16);
	assert_true(seen.big == UINT64_MAX);
	assert_int_equal(seen.mode, 1);
	assert_int_equal(seen.calls, 2);
	assert_string_equal(seen.last_call, "two");
	/* getopt permutes: operands may come before options */
	assert_int_equal(seen.operands, 2);
	assert_string_equal(seen.operand[0], "img0");
	assert_string_equal(seen.operand[1], "img1");
	assert_int_equal(seen_in.count, 3);
	assert_int_equal(seen_in.queue_size, 256);
	assert_int_equal(seen_in.num_queues, 4);

	/* Defaults. */
	assert_int_equal(RUN("--fd", "0"), 1);
	assert_int_equal(checks, 1);
	assert_string_equal(seen.name, "none");
	assert_false(seen.flag);
	assert_int_equal(seen_in.count, 1);
	assert_int_equal(seen_in.queue_size, 1024);
	assert_int_equal(seen_in.num_queues, 1);
	assert_int_equal(seen.operands, 0);
}

static void test_mistakes(void **state)
{
	const char *const cases[][8] = {
		{ "--bogus", NULL },
		{ "-x", NULL },
		{ "-s", NULL },                     /* needs an argument */
		{ "-s", "/a", "-s", "/b", NULL },   /* given twice */
		{ "-s", "/a", "-f", "-f", NULL },
		{ "-s", "/a", "--small", "256", NULL },
		{ "-s", "/a", "--small", "-1", NULL },
		{ "-s", "/a", "--small", " 1", NULL },
		{ "-s", "/a", "--small", "+1", NULL },
		{ "-s", "/a", "--small", "", NULL },
		{ "-s", "/a", "--small", "1k", NULL },
		{ "-s", "/a", "--big", "18446744073709551616", NULL },
		{ "-s", "/a", "--mid", "9", NULL },
		{ "-s", "/a", "--mid", "1001", NULL },
		{ "-s", "/a", "--mode", "slow", NULL },
		{ "-s", "/a", "--tag", "bad", NULL },
		{ "-s", "/a", "--flag=yes", NULL },
		{ "-s", "/a", "1", "2", "3", "4", "5", NULL }, /* operand
								   refused */
		{ "-s", "/a", "--num-queues", "5", NULL },
		{ "-s", "/a", "--num-queues", "0", NULL },
		{ "-s", "/a", "--queue-size", "63", NULL },
		{ "-s", "/a", "--queue-size", "32769", NULL },
		{ "-s", "/a", "--socket-count", "0", NULL },
		{ "-s", "/a", "--socket-count", "65", NULL },
		{ "-s", "/a", "--transport", "carrier-pigeon", NULL },
		{ "-s", "/a", "--fd", "3", NULL },   /* both */
		{ "--fd", "3", "-c", "2", NULL },
		{ "--fd", "3", "--connect", NULL },
		{ "--fd", "-1", NULL },
		{ "--print-doc", "pdf", NULL },
		{ NULL },                           /* no socket */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(run(&daemon_def, cases[i]), 1);
		if (checks)
			fail_msg("case %zu reached check()", i);
	}
}

static void test_required_and_operands(void **state)
{
	static const struct vdev_daemon_option req[] = {
		{ .name = "image", .type = VDEV_DAEMON_STRING, .arg = "F",
		  .flags = VDEV_DAEMON_REQUIRED, .help = "Needed.",
		  F(name) },
		{ 0 },
	};
	struct vdev_daemon d = daemon_def;

	(void)state;
	d.options = req;
	d.operand = NULL;
	assert_int_equal(run(&d, (const char *const[]){ "-s", "/a", NULL }),
			 1);
	assert_int_equal(checks, 0);
	assert_int_equal(run(&d, (const char *const[]){ "-s", "/a", "--image",
							"x", NULL }), 1);
	assert_int_equal(checks, 1);
	/* Without an operand function, an argument is an error. */
	assert_int_equal(run(&d, (const char *const[]){ "-s", "/a", "--image",
							"x", "y", NULL }), 1);
	assert_int_equal(checks, 0);
	/* --help and the --print options need no required option. */
	assert_int_equal(run(&d, (const char *const[]){ "--version", NULL }),
			 0);
}

static void test_transports(void **state)
{
	(void)state;
	assert_int_equal(RUN("-s", "/a", "--transport", "vhost-user"), 1);
	assert_int_equal(checks, 1);
	/* Offered exactly when the capability table lists it. */
	assert_int_equal(RUN("-s", "/a", "--transport", "vfio-user"), 1);
	assert_int_equal(checks, vdev_has_capability(VDEV_CAP_TRANSPORT,
						     "vfio-user") ? 1 : 0);
}

/* A daemon that names its own sockets (vdev-vsock's --vm): create() gets
 * one index per name, and the common socket options are refused. */
static unsigned nsock;
static unsigned created;
static struct vdev_daemon_instance created_in;

static int check_ok(void *ctx, const struct vdev_daemon_instance *in)
{
	(void)ctx;
	(void)in;
	return 0;
}

static unsigned own_sockets(void *ctx, const char **paths, unsigned max)
{
	(void)ctx;
	assert_true(max >= 2);
	paths[0] = "/nonexistent-dir/a.sock";
	paths[1] = "/nonexistent-dir/b.sock";
	return nsock;
}

static struct vdev *create_count(void *ctx,
				 const struct vdev_daemon_instance *in)
{
	(void)ctx;
	created++;
	created_in = *in;
	errno = ENODEV;
	return NULL;
}

static void test_own_sockets(void **state)
{
	struct vdev_daemon d = daemon_def;

	(void)state;
	d.check = check_ok;
	d.create = create_count;
	d.sockets = own_sockets;
	nsock = 2;
	created = 0;
	/* No --socket-path needed; the first device is made for the
	 * first name (and fails here, which ends the daemon). */
	assert_int_equal(run(&d, (const char *const[]){ NULL }), 1);
	assert_int_equal(created, 1);
	assert_int_equal(created_in.index, 0);
	assert_int_equal(created_in.count, 2);
	/* With names of its own, -s, -c and --fd are refused. */
	created = 0;
	assert_int_equal(run(&d, (const char *const[]){ "-s", "/a", NULL }),
			 1);
	assert_int_equal(run(&d, (const char *const[]){ "--fd", "0", NULL }),
			 1);
	assert_int_equal(created, 0);
	/* None named: the common options decide as before. */
	nsock = 0;
	assert_int_equal(run(&d, (const char *const[]){ NULL }), 1);
	assert_int_equal(created, 0);
	assert_int_equal(run(&d, (const char *const[]){ "-s", "/nonexistent-dir/c",
							NULL }),
			 1);
	assert_int_equal(created, 1);
	assert_int_equal(created_in.count, 1);
}

/* A table that cannot work is refused, whatever the command line. */
static void test_bad_tables(void **state)
{
	static const struct vdev_daemon_option clash_long[] = {
		{ .name = "socket-path", .type = VDEV_DAEMON_FLAG, .help = "x",
		  F(flag) },
		{ 0 },
	};
	static const struct vdev_daemon_option clash_short[] = {
		{ .name = "sock", .short_name = 's', .type = VDEV_DAEMON_FLAG,
		  .help = "x", F(flag) },
		{ 0 },
	};
	static const struct vdev_daemon_option twice[] = {
		{ .name = "a", .type = VDEV_DAEMON_FLAG, .help = "x", F(flag) },
		{ .name = "a", .type = VDEV_DAEMON_FLAG, .help = "x", F(flag) },
		{ 0 },
	};
	static const struct vdev_daemon_option wrong_size[] = {
		{ .name = "a", .type = VDEV_DAEMON_STRING, .arg = "A",
		  .help = "x", F(flag) },
		{ 0 },
	};
	static const struct vdev_daemon_option range[] = {
		{ .name = "a", .type = VDEV_DAEMON_UINT, .arg = "A",
		  .help = "x", .max = 256, F(small) },
		{ 0 },
	};
	static const struct vdev_daemon_option no_help[] = {
		{ .name = "a", .type = VDEV_DAEMON_FLAG, F(flag) },
		{ 0 },
	};
	static const struct vdev_daemon_option repeat[] = {
		{ .name = "a", .type = VDEV_DAEMON_STRING, .arg = "A",
		  .help = "x", .flags = VDEV_DAEMON_REPEAT, F(name) },
		{ 0 },
	};
	static const struct vdev_daemon_option no_parse[] = {
		{ .name = "a", .type = VDEV_DAEMON_CALL, .help = "x" },
		{ 0 },
	};
	static const struct vdev_daemon_option no_choices[] = {
		{ .name = "a", .type = VDEV_DAEMON_CHOICE, .help = "x",
		  F(mode) },
		{ 0 },
	};
	const struct vdev_daemon_option *bad[] = {
		clash_long, clash_short, twice, wrong_size, range, no_help,
		repeat, no_parse, no_choices,
	};
	char *buf;
	size_t len;
	FILE *f;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vdev_daemon d = daemon_def;

		d.options = bad[i];
		assert_int_equal(run(&d, (const char *const[]){ "-s", "/a",
								NULL }), 1);
		assert_int_equal(checks, 0);
		f = open_memstream(&buf, &len);
		assert_int_equal(vdev_daemon_write_help(&d, f), -EINVAL);
		assert_int_equal(vdev_daemon_write_man(&d, f), -EINVAL);
		fclose(f);
		free(buf);
	}
}

/* @fn: the call itself, so it takes the sizes the macro would pass. */
static char *doc(int (*fn)(const struct vdev_daemon *, FILE *, size_t,
			   size_t))
{
	char *buf;
	size_t len;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(fn(&daemon_def, f, VDEV_DAEMON_SIZES), 0);
	fclose(f);
	return buf;
}

static void test_documents(void **state)
{
	char *help = doc(vdev_daemon_write_help);
	char *man = doc(vdev_daemon_write_man);
	char *md = doc(vdev_daemon_write_markdown);
	char *caps = doc(vdev_daemon_write_capabilities);
	char *json, *line;
	size_t len;
	FILE *f;

	(void)state;
	/* help: the daemon's options, then the common ones, wrapped */
	assert_non_null(strstr(help, "Usage: test-daemon [OPTIONS] FILE..."));
	assert_non_null(strstr(help, "  -n, --name NAME"));
	assert_non_null(strstr(help, "(default: none)"));
	assert_non_null(strstr(help, "--mode fast|safe"));
	assert_non_null(strstr(help, "May be repeated."));
	assert_non_null(strstr(help, "1 to 4."));
	assert_non_null(strstr(help, "  -s, --socket-path PATH"));
	assert_non_null(strstr(help, "--queue-size N"));
	assert_non_null(strstr(help, "--print-capabilities"));
	assert_true(strstr(help, "--name") < strstr(help, "Common options"));
	for (line = help; *line;) {
		size_t l = strcspn(line, "\n");

		assert_true(l <= 79);
		line += l + (line[l] ? 1 : 0);
	}
	/* man: escaped hyphens, sections, no line starting with a dot that
	 * is not a request */
	assert_non_null(strstr(man, ".TH TEST\\-DAEMON 1"));
	assert_non_null(strstr(man, "\\fB\\-\\-name\\fR \\fINAME\\fR"));
	assert_non_null(strstr(man, ".SH COMMON OPTIONS"));
	assert_non_null(strstr(man, "Second \\- with a hyphen."));
	assert_non_null(strstr(man, ".SH EXIT STATUS"));
	/* Markdown: one row per option, pipes escaped */
	assert_non_null(strstr(md, "| `-n`, `--name` | `NAME` | `none` | A name. |"));
	assert_non_null(strstr(md, "How \\| what."));
	assert_non_null(strstr(md, "| `-c`, `--socket-count` | `N` | `1` |"));
	/* capabilities: type and the flagged options */
	assert_string_equal(caps, "{\n  \"type\": \"test\",\n  \"features\": "
				  "[\n    \"name\",\n    \"mode\"\n  ]\n}\n");
	/* the descriptor needs an absolute path */
	f = open_memstream(&json, &len);
	assert_int_equal(vdev_daemon_write_qemu_json(&daemon_def, "rel", f),
			 -EINVAL);
	assert_int_equal(vdev_daemon_write_qemu_json(&daemon_def,
						     "/usr/libexec/t\"d", f),
			 0);
	fclose(f);
	assert_string_equal(json, "{\n  \"description\": \"a daemon for the "
				  "test\",\n  \"type\": \"test\",\n  "
				  "\"binary\": \"/usr/libexec/t\\\"d\"\n}\n");
	free(help);
	free(man);
	free(md);
	free(caps);
	free(json);
}

static void test_parse_uint(void **state)
{
	uint64_t v = 7;

	(void)state;
	assert_int_equal(vdev_daemon_parse_uint("t", "--x", "0x20", 0, 100,
						&v), 0);
	assert_int_equal(v, 32);
	assert_int_equal(vdev_daemon_parse_uint("t", "--x", "010", 0, 100, &v),
			 0);
	assert_int_equal(v, 8);
	assert_int_equal(vdev_daemon_parse_uint("t", "--x", "101", 0, 100, &v),
			 -EINVAL);
	assert_int_equal(vdev_daemon_parse_uint("t", "--x", NULL, 0, 100, &v),
			 -EINVAL);
	assert_int_equal(v, 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_mistakes),
		cmocka_unit_test(test_required_and_operands),
		cmocka_unit_test(test_transports),
		cmocka_unit_test(test_own_sockets),
		cmocka_unit_test(test_bad_tables),
		cmocka_unit_test(test_documents),
		cmocka_unit_test(test_parse_uint),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
