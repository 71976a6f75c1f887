/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The common options every daemon has (one table: a new option is one
 * entry here and a field in struct vdd_common), the check of a daemon's
 * own table, and the command line parser built from both.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <virtio/daemon.h>

#include "daemon_internal.h"

#define C(member) VDEV_DAEMON_FIELD(struct vdd_common, member)

static const char *const doc_formats[] = { "man", "markdown", NULL };
/* In the order of enum vdev_log_level and enum vdd_log_target. */
static const char *const log_levels[] = { "error", "warning", "info",
					  "debug", NULL };
static const char *const log_targets[] = { "stderr", "syslog", "journald",
					   NULL };

/* -v: called with the common values, once per -v. */
static int on_verbose(void *ctx, const char *arg)
{
	struct vdd_common *c = ctx;

	(void)arg;
	c->verbose++;
	return 0;
}

/*
 * The common options, in the order --help shows them. Entries whose value
 * depends on the daemon or the build (the --num-queues range, the
 * transports) are completed by vdd_collect().
 */
static const struct vdev_daemon_option common_options[] = {
	{ .name = "socket-path", .short_name = 's', .type = VDEV_DAEMON_STRING,
	  .arg = "PATH",
	  .help = "Listen on the UNIX socket PATH (with --connect: connect "
		  "to it). With --socket-count N the sockets are PATH0 to "
		  "PATH<N-1>. A socket another process still serves is "
		  "refused; a stale one is replaced.",
	  C(socket_path) },
	{ .name = "socket-count", .short_name = 'c', .type = VDEV_DAEMON_UINT,
	  .arg = "N", .def = "1",
	  .help = "Serve N devices, one per socket, each with its own "
		  "state. Given (even as 1), the sockets are numbered as "
		  "vhost-device's are: PATH0 to PATH<N-1>; not given, the "
		  "one socket is PATH.",
	  .min = 1, .max = VDD_MAX_SOCKETS, C(socket_count) },
	{ .name = "socket-group", .type = VDEV_DAEMON_STRING,
	  .arg = "GROUP",
	  .help = "Give the sockets the daemon creates to GROUP (a name or "
		  "a number), e.g. the group libvirt runs QEMU in, so that "
		  "the frontend may connect; with --socket-mode 0660.",
	  C(socket_group) },
	{ .name = "socket-mode", .type = VDEV_DAEMON_STRING, .arg = "MODE",
	  .def = "0777 minus the umask",
	  .help = "Permissions of the sockets the daemon creates, in octal "
		  "(0600, 0660, ...). A frontend needs write permission to "
		  "connect.",
	  C(socket_mode) },
	{ .name = "fd", .type = VDEV_DAEMON_UINT, .arg = "FD",
	  .help = "Serve the inherited socket FD instead of a path: a "
		  "listening socket (connections accepted one at a time) or "
		  "a connected one (served once; the daemon exits when it "
		  "closes).",
	  .min = 0, .max = INT_MAX, C(fd) },
	{ .name = "connect", .type = VDEV_DAEMON_FLAG,
	  .help = "Connect to --socket-path instead of listening on it "
		  "(vhost-user only); the daemon exits when the connection "
		  "ends.",
	  C(connect) },
	{ .name = "transport", .type = VDEV_DAEMON_CHOICE, .def = "vhost-user",
	  .help = "How the device is served: vhost-user (to QEMU, Cloud "
		  "Hypervisor, crosvm, User-Mode Linux) or vfio-user (a "
		  "virtio-pci function for a vfio-user client such as QEMU "
		  "10.1+). Only the transports this libvdev was built with "
		  "are accepted.",
	  C(transport) },
	{ .name = "queue-size", .type = VDEV_DAEMON_UINT, .arg = "N",
	  .def = "1024",
	  .help = "Largest virtqueue the device accepts; a frontend may use "
		  "any size up to it.",
	  .min = 64, .max = 32768, C(queue_size) },
	{ .name = "num-queues", .type = VDEV_DAEMON_UINT, .arg = "N",
	  .def = "1",
	  .help = "Request queues of each device.",
	  .min = 1, .max = 1, C(num_queues) },
	{ .name = "thread-per-queue", .type = VDEV_DAEMON_FLAG,
	  .help = "One worker thread per queue instead of one per device "
		  "(vhost-user); the default with --num-queues over 1.",
	  C(thread_per_queue) },
	{ .name = "thread-per-device", .type = VDEV_DAEMON_FLAG,
	  .help = "One worker thread for all the queues of a device "
		  "(vhost-user); the default with one request queue.",
	  C(thread_per_device) },
	{ .name = "poll-us", .type = VDEV_DAEMON_UINT, .arg = "US", .def = "0",
	  .help = "Busy-poll the rings for US microseconds after the last "
		  "request before sleeping (vhost-user). Saves a wakeup per "
		  "request, and the driver's kicks stay off while it polls "
		  "(as DPDK's PMD keeps them); costs a CPU while the guest "
		  "is busy.",
	  .min = 0, .max = 1000000, C(poll_us) },
	{ .name = "inband-notifications", .type = VDEV_DAEMON_FLAG,
	  .help = "Offer kicks and calls as vhost-user messages "
		  "(INBAND_NOTIFICATIONS), as User-Mode Linux's time-travel "
		  "mode needs; slower than eventfds otherwise.",
	  C(inband) },
	{ .name = "no-config-messages", .type = VDEV_DAEMON_FLAG,
	  .help = "Do not offer the config space over vhost-user "
		  "(PROTOCOL_F_CONFIG). For QEMU's vhost-user-scsi, which "
		  "builds the config itself: QEMU up to 8.1 warns on every "
		  "start when it is offered. User-Mode Linux and the software "
		  "driver read the config from the back-end: keep it for them.",
	  C(no_config_messages) },
	{ .name = "verbose", .short_name = 'v', .type = VDEV_DAEMON_CALL,
	  .flags = VDEV_DAEMON_REPEAT, .parse = on_verbose,
	  .help = "Log more: -v adds a line per connection, negotiation and "
		  "disconnection (info), -vv debugging detail." },
	{ .name = "log-level", .type = VDEV_DAEMON_CHOICE,
	  .choices = log_levels, .def = "warning",
	  .help = "Log messages of this level and more severe ones; "
		  "overrides -v.",
	  C(log_level) },
	{ .name = "log", .type = VDEV_DAEMON_CHOICE, .choices = log_targets,
	  .def = "stderr",
	  .help = "Where the log goes: stderr, syslog (facility daemon), or "
		  "journald (the systemd journal's socket, with priorities).",
	  C(log_target) },
	{ .name = "stats-socket", .type = VDEV_DAEMON_STRING, .arg = "PATH",
	  .help = "Serve the counters (per device and queue: requests, "
		  "bytes read and written, errors, interrupts) as JSON to "
		  "whoever connects to the UNIX socket PATH, which gets "
		  "--socket-group and --socket-mode as the device sockets "
		  "do. SIGUSR1 writes them to the log in any case.",
	  C(stats_socket) },
	{ .name = "user", .type = VDEV_DAEMON_STRING, .arg = "USER",
	  .help = "Once the sockets exist, serve as USER (a name or a "
		  "number), with USER's group unless --group says "
		  "otherwise. For a daemon started as root; the socket "
		  "files become USER's.",
	  C(user) },
	{ .name = "group", .type = VDEV_DAEMON_STRING, .arg = "GROUP",
	  .help = "Once the sockets exist, serve with GROUP (a name or a "
		  "number) as the only group. For a daemon started as "
		  "root.",
	  C(group) },
	{ .name = "no-sandbox", .type = VDEV_DAEMON_FLAG,
	  .help = "Serve without the seccomp sandbox. By default, once "
		  "setup is over, the daemon may make only the system calls "
		  "serving needs; any other kills it (a message names the "
		  "call).",
	  C(no_sandbox) },
	{ .name = "print-capabilities", .type = VDEV_DAEMON_FLAG,
	  .help = "Print the back-end capabilities as JSON (vhost-user.rst "
		  "\"Backend program conventions\") and exit.",
	  C(print_caps) },
	{ .name = "print-doc", .type = VDEV_DAEMON_CHOICE, .choices = doc_formats,
	  .help = "Print this program's documentation (a man page, or a "
		  "Markdown table of the options) and exit.",
	  C(print_doc) },
	{ .name = "print-qemu-descriptor", .type = VDEV_DAEMON_STRING,
	  .arg = "BINARY",
	  .help = "Print the JSON descriptor QEMU and libvirt look for in "
		  "<datadir>/qemu/vhost-user/, naming BINARY as the program, "
		  "and exit.",
	  C(descriptor_binary) },
	{ .name = "help", .short_name = 'h', .type = VDEV_DAEMON_FLAG,
	  .help = "Print this help and exit.", C(help) },
	{ .name = "version", .short_name = 'V', .type = VDEV_DAEMON_FLAG,
	  .help = "Print the program's and libvdev's version and exit.",
	  C(version) },
};

#define N_COMMON (sizeof(common_options) / sizeof(common_options[0]))

uint16_t vdd_num_queues_max(const struct vdev_daemon *d)
{
	return d->num_queues_max ? d->num_queues_max : 1;
}

static bool is_int_field(size_t size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

static uint64_t field_max(size_t size)
{
	return size >= 8 ? UINT64_MAX : (UINT64_C(1) << (size * 8)) - 1;
}

/* A daemon's own option that cannot work is a bug in the daemon: say
 * which, instead of misparsing. */
static int check_option(const char *prog, const struct vdev_daemon_option *o)
{
	const char *why = NULL;

	if (!o->name[0] || strchr(o->name, '=') || o->name[0] == '-')
		why = "a bad long name";
	else if (o->short_name && (o->short_name < 0x21 ||
				   o->short_name > 0x7e ||
				   strchr(":?-", o->short_name)))
		why = "a bad short name";
	else if (!o->help)
		why = "no help text";
	else if ((o->flags & VDEV_DAEMON_REPEAT) &&
		 o->type != VDEV_DAEMON_CALL)
		why = "VDEV_DAEMON_REPEAT without VDEV_DAEMON_CALL";
	switch (o->type) {
	case VDEV_DAEMON_FLAG:
		if (o->size != sizeof(bool) || o->arg)
			why = "a FLAG needs a bool field and no argument";
		break;
	case VDEV_DAEMON_STRING:
		if (o->size != sizeof(const char *) || !o->arg)
			why = "a STRING needs a const char * field and an "
			      "argument name";
		break;
	case VDEV_DAEMON_UINT:
		if (!is_int_field(o->size) || !o->arg)
			why = "a UINT needs an integer field and an argument "
			      "name";
		else if (o->min > o->max ||
			 (o->max && o->max > field_max(o->size)))
			why = "a UINT range that its field cannot hold";
		break;
	case VDEV_DAEMON_CHOICE:
		if (o->size != sizeof(unsigned) || !o->choices ||
		    !o->choices[0])
			why = "a CHOICE needs an unsigned field and choices";
		break;
	case VDEV_DAEMON_CALL:
		if (!o->parse)
			why = "a CALL needs a parse function";
		break;
	default:
		why = "an unknown type";
		break;
	}
	if (why) {
		fprintf(stderr, "%s: option --%s has %s\n", prog, o->name, why);
		return -EINVAL;
	}
	return 0;
}

/* The common entries as this daemon has them (one allocation, freed by
 * release()). */
struct common_copy {
	struct vdev_daemon_option o[N_COMMON];
	char nq_help[96];
};

int vdd_collect(const struct vdev_daemon *d, struct vdd_opt **out, size_t *n)
{
	struct vdev_daemon_option *copy;
	struct common_copy *cc;
	size_t own = 0, i, k;
	struct vdd_opt *v;

	if (!d || !d->name || !d->summary || !d->create) {
		fprintf(stderr, "%s: a daemon needs a name, a summary and "
			"create()\n", d && d->name ? d->name : "vdev-daemon");
		return -EINVAL;
	}
	while (d->options && d->options[own].name)
		own++;
	v = calloc(N_COMMON + own, sizeof(*v));
	cc = calloc(1, sizeof(*cc));
	if (!v || !cc) {
		free(v);
		free(cc);
		return -ENOMEM;
	}
	/* What depends on the build and on the daemon. */
	snprintf(cc->nq_help, sizeof(cc->nq_help),
		 "Request queues of each device, 1 to %u.",
		 vdd_num_queues_max(d));
	copy = cc->o;
	memcpy(copy, common_options, sizeof(common_options));
	for (i = 0; i < N_COMMON; i++) {
		if (!strcmp(copy[i].name, "transport"))
			copy[i].choices = vdd_transport_choices();
		if (!strcmp(copy[i].name, "num-queues")) {
			copy[i].max = vdd_num_queues_max(d);
			copy[i].help = cc->nq_help;
		}
		v[i].o = &copy[i];
		v[i].common = true;
	}
	for (i = 0; i < own; i++) {
		const struct vdev_daemon_option *o = &d->options[i];

		if (check_option(d->name, o) < 0)
			goto bad;
		for (k = 0; k < N_COMMON + i; k++) {
			if (!strcmp(v[k].o->name, o->name) ||
			    (o->short_name &&
			     v[k].o->short_name == o->short_name)) {
				fprintf(stderr, "%s: option --%s clashes with "
					"--%s\n", d->name, o->name,
					v[k].o->name);
				goto bad;
			}
		}
		v[N_COMMON + i].o = o;
	}
	*out = v;
	*n = N_COMMON + own;
	return 0;
bad:
	free(cc);
	free(v);
	return -EINVAL;
}

void vdd_release(struct vdd_opt *v)
{
	/* The first entry is the start of the struct common_copy. */
	if (v)
		free((void *)v[0].o);
	free(v);
}

const char *vdd_arg_name(const struct vdev_daemon_option *o, char *buf,
			 size_t len)
{
	size_t used = 0;

	if (o->type == VDEV_DAEMON_FLAG)
		return NULL;
	if (o->type != VDEV_DAEMON_CHOICE || o->arg)
		return o->arg;
	buf[0] = 0;
	for (unsigned i = 0; o->choices[i] && used < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%s", i ? "|" : "",
				 o->choices[i]);

		if (w < 0)
			break;
		used += (size_t)w;
	}
	return buf;
}

int vdev_daemon_parse_uint(const char *prog, const char *opt, const char *arg,
			   uint64_t lo, uint64_t hi, uint64_t *out)
{
	unsigned long long v;
	char *end;

	/* strtoull takes blanks, signs and an empty string: refuse them. */
	if (!arg || arg[0] < '0' || arg[0] > '9') {
		fprintf(stderr, "%s: %s: '%s' is not a number\n", prog, opt,
			arg ? arg : "");
		return -EINVAL;
	}
	errno = 0;
	v = strtoull(arg, &end, 0);
	if (errno || *end) {
		fprintf(stderr, "%s: %s: '%s' is not a number\n", prog, opt,
			arg);
		return -EINVAL;
	}
	if (v < lo || v > hi) {
		fprintf(stderr, "%s: %s must be %llu..%llu\n", prog, opt,
			(unsigned long long)lo, (unsigned long long)hi);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static void store_uint(void *field, size_t size, uint64_t v)
{
	switch (size) {
	case 1: {
		uint8_t x = (uint8_t)v;

		memcpy(field, &x, 1);
		break;
	}
	case 2: {
		uint16_t x = (uint16_t)v;

		memcpy(field, &x, 2);
		break;
	}
	case 4: {
		uint32_t x = (uint32_t)v;

		memcpy(field, &x, 4);
		break;
	}
	default:
		memcpy(field, &v, 8);
		break;
	}
}

static int apply(const char *prog, const struct vdev_daemon_option *o,
		 void *base, void *ctx, const char *arg)
{
	char name[80];
	void *field = (char *)base + o->offset;
	uint64_t v;

	snprintf(name, sizeof(name), "--%s", o->name);
	switch (o->type) {
	case VDEV_DAEMON_FLAG: {
		bool t = true;

		memcpy(field, &t, sizeof(t));
		return 0;
	}
	case VDEV_DAEMON_STRING:
		memcpy(field, &arg, sizeof(arg));
		return 0;
	case VDEV_DAEMON_UINT:
		if (vdev_daemon_parse_uint(prog, name, arg, o->min,
					   o->max ? o->max :
						    field_max(o->size),
					   &v) < 0)
			return -EINVAL;
		store_uint(field, o->size, v);
		return 0;
	case VDEV_DAEMON_CHOICE:
		for (unsigned i = 0; o->choices[i]; i++) {
			if (!strcmp(o->choices[i], arg)) {
				memcpy(field, &i, sizeof(i));
				return 0;
			}
		}
		fprintf(stderr, "%s: %s: '%s' is not one of", prog, name, arg);
		for (unsigned i = 0; o->choices[i]; i++)
			fprintf(stderr, "%s %s", i ? "," : "", o->choices[i]);
		fprintf(stderr, "\n");
		return -EINVAL;
	case VDEV_DAEMON_CALL:
		return o->parse(ctx, arg) < 0 ? -EINVAL : 0;
	}
	return -EINVAL;
}

/* getopt_long's tables for @v: long option i has val VAL_BASE + i. */
#define VAL_BASE 0x1000

static bool takes_arg(const struct vdev_daemon_option *o)
{
	return o->type != VDEV_DAEMON_FLAG &&
	       !(o->type == VDEV_DAEMON_CALL && !o->arg);
}

static int build_getopt(const struct vdd_opt *v, size_t n,
			struct option **lo, char **so)
{
	size_t k = 0;

	*lo = calloc(n + 1, sizeof(**lo));
	*so = calloc(2 + 2 * n + 1, 1);
	if (!*lo || !*so)
		return -ENOMEM;
	(*so)[k++] = ':'; /* a missing argument is ':', not '?' */
	for (size_t i = 0; i < n; i++) {
		(*lo)[i].name = v[i].o->name;
		(*lo)[i].has_arg = takes_arg(v[i].o) ? required_argument :
						       no_argument;
		(*lo)[i].val = VAL_BASE + (int)i;
		if (v[i].o->short_name) {
			(*so)[k++] = (char)v[i].o->short_name;
			if (takes_arg(v[i].o))
				(*so)[k++] = ':';
		}
	}
	return 0;
}

static int find_short(const struct vdd_opt *v, size_t n, int c)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].o->short_name == c)
			return (int)i;
	return -1;
}

int vdd_parse(const struct vdev_daemon *d, void *ctx, struct vdd_common *c,
	      int argc, char **argv)
{
	struct option *lo = NULL;
	struct vdd_opt *v = NULL;
	unsigned *seen = NULL;
	char *so = NULL;
	size_t n;
	int opt, ret;

	ret = vdd_collect(d, &v, &n);
	if (ret < 0)
		return ret;
	seen = calloc(n, sizeof(*seen));
	if (!seen || build_getopt(v, n, &lo, &so) < 0) {
		ret = -ENOMEM;
		goto out;
	}
	opterr = 0;
	optind = 0; /* GNU: start over, even after an earlier parse */
	while (!ret && (opt = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		int i = opt >= VAL_BASE ? opt - VAL_BASE : find_short(v, n, opt);

		if (opt == ':') {
			fprintf(stderr, "%s: option '%s' needs an argument\n",
				d->name, argv[optind - 1]);
			ret = -EINVAL;
		} else if (i < 0 || (size_t)i >= n) {
			fprintf(stderr, "%s: unknown option '%s'\n", d->name,
				argv[optind - 1]);
			ret = -EINVAL;
		} else if (seen[i]++ && !(v[i].o->flags & VDEV_DAEMON_REPEAT)) {
			fprintf(stderr, "%s: --%s given twice\n", d->name,
				v[i].o->name);
			ret = -EINVAL;
		} else {
			/* A common option's value (and its parse call) goes
			 * to the common values, a daemon's to its ctx. */
			void *to = v[i].common ? (void *)c : ctx;

			ret = apply(d->name, v[i].o, to, to, optarg);
		}
	}
	for (; !ret && d->operand && optind < argc; optind++)
		ret = d->operand(ctx, argv[optind]) < 0 ? -EINVAL : 0;
	if (!ret && optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", d->name,
			argv[optind]);
		ret = -EINVAL;
	}
	/* Required options matter only when the daemon is to serve. */
	for (size_t i = 0; !ret && i < n; i++) {
		if ((v[i].o->flags & VDEV_DAEMON_REQUIRED) && !seen[i] &&
		    !c->help && !c->version && !c->print_caps &&
		    c->print_doc == VDD_DOC_NONE && !c->descriptor_binary) {
			fprintf(stderr, "%s: --%s is needed\n", d->name,
				v[i].o->name);
			ret = -EINVAL;
		}
	}
out:
	free(lo);
	free(so);
	free(seen);
	vdd_release(v);
	return ret;
}
