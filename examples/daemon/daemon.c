/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdevd_main: options, capabilities, one device and one thread per socket,
 * clean shutdown on SIGINT/SIGTERM (the adapters remove their sockets).
 * Signals are taken synchronously through a signalfd on the main thread,
 * so nothing runs in signal context.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include <virtio/caps.h>

#include "daemon.h"

#define MAX_SOCKETS 64

struct instance {
	const struct vdevd_transport *t;
	struct vdev *dev;
	void *h;
	char path[PATH_MAX];
	pthread_t thread;
	bool started;
	int ret;
	int done_fd;
};

struct common {
	const char *socket_path;
	unsigned long long socket_count;
	long long fd;
	const char *transport;
	bool connect;
	bool thread_per_queue;
	bool inband;
	unsigned long long poll_us;
	bool print_caps;
	bool help;
};

enum {
	OPT_FD = 0x100,
	OPT_TRANSPORT,
	OPT_CONNECT,
	OPT_THREAD_PER_QUEUE,
	OPT_INBAND,
	OPT_POLL_US,
	OPT_PRINT_CAPS,
	OPT_VERSION,
};

static const struct option common_options[] = {
	{ "socket-path", required_argument, NULL, 's' },
	{ "socket-count", required_argument, NULL, 'c' },
	{ "fd", required_argument, NULL, OPT_FD },
	{ "transport", required_argument, NULL, OPT_TRANSPORT },
	{ "connect", no_argument, NULL, OPT_CONNECT },
	{ "thread-per-queue", no_argument, NULL, OPT_THREAD_PER_QUEUE },
	{ "inband-notifications", no_argument, NULL, OPT_INBAND },
	{ "poll-us", required_argument, NULL, OPT_POLL_US },
	{ "print-capabilities", no_argument, NULL, OPT_PRINT_CAPS },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
};
#define N_COMMON (sizeof(common_options) / sizeof(common_options[0]))

int vdevd_parse_u64(const char *prog, const char *opt, const char *arg,
		    unsigned long long *out)
{
	char *end;

	errno = 0;
	if (!arg || !*arg || *arg == '-') {
		fprintf(stderr, "%s: %s: '%s' is not a number\n", prog, opt,
			arg ? arg : "");
		return -EINVAL;
	}
	*out = strtoull(arg, &end, 0);
	if (errno || *end) {
		fprintf(stderr, "%s: %s: '%s' is not a number\n", prog, opt,
			arg);
		return -EINVAL;
	}
	return 0;
}

int vdevd_parse_range(const char *prog, const char *opt, const char *arg,
		      unsigned long long lo, unsigned long long hi,
		      unsigned long long *out)
{
	int ret = vdevd_parse_u64(prog, opt, arg, out);

	if (!ret && (*out < lo || *out > hi)) {
		fprintf(stderr, "%s: %s must be %llu..%llu\n", prog, opt, lo,
			hi);
		ret = -EINVAL;
	}
	return ret;
}

static void usage(const struct vdevd_program *p, FILE *f)
{
	char tl[128];

	vdevd_transport_list(tl, sizeof(tl));
	fprintf(f,
		"Usage: %s [OPTIONS]%s%s\n%s\n\n"
		"Common options:\n"
		"  -s, --socket-path PATH   socket to listen on (with -c N: PATH0..PATHN-1)\n"
		"  -c, --socket-count N     serve N devices, one per socket (default 1)\n"
		"      --fd FD              serve an inherited socket (listening or connected)\n"
		"      --connect            connect to PATH instead of listening\n"
		"      --transport NAME     %s (default vhost-user)\n"
		"      --thread-per-queue   one worker thread per queue, not per device\n"
		"      --inband-notifications  vhost-user: offer kicks and calls as\n"
		"                           messages (UML time-travel; slower)\n"
		"      --poll-us N          vhost-user: busy-poll the rings for N us\n"
		"                           after the last request (default 0)\n"
		"      --print-capabilities print the backend capabilities as JSON and exit\n"
		"  -h, --help               this text\n"
		"      --version            library version\n",
		p->name, p->operands ? " " : "",
		p->operands ? p->operands : "", p->summary, tl);
	if (p->usage)
		fprintf(f, "\n%s options:\n%s", p->name, p->usage);
}

static void print_caps(const struct vdevd_program *p)
{
	printf("{\n  \"type\": \"%s\",\n  \"features\": [", p->type);
	for (unsigned i = 0; p->features && p->features[i]; i++)
		printf("%s\n    \"%s\"", i ? "," : "", p->features[i]);
	printf("%s]\n}\n", p->features && p->features[0] ? "\n  " : "");
}

/* Builds the getopt tables: common options first, then the program's. */
static int build_opts(const struct vdevd_program *p, struct option **lo,
		      char **so)
{
	size_t n = 0, len;

	while (p->options && p->options[n].name)
		n++;
	*lo = calloc(N_COMMON + n + 1, sizeof(**lo));
	len = strlen("s:c:h") + (p->shortopts ? strlen(p->shortopts) : 0) + 2;
	*so = calloc(1, len);
	if (!*lo || !*so)
		return -ENOMEM;
	memcpy(*lo, common_options, sizeof(common_options));
	if (n)
		memcpy(*lo + N_COMMON, p->options, n * sizeof(**lo));
	snprintf(*so, len, ":s:c:h%s", p->shortopts ? p->shortopts : "");
	return 0;
}

static int parse(const struct vdevd_program *p, void *ctx, struct common *c,
		 int argc, char **argv)
{
	struct option *lo;
	char *so;
	int opt, ret = 0;

	if (build_opts(p, &lo, &so)) {
		free(lo);
		free(so);
		return -ENOMEM;
	}
	opterr = 0;
	while (!ret && (opt = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		unsigned long long v;

		switch (opt) {
		case 's':
			c->socket_path = optarg;
			break;
		case 'c':
			ret = vdevd_parse_u64(p->name, "--socket-count", optarg,
					      &c->socket_count);
			break;
		case OPT_FD:
			ret = vdevd_parse_u64(p->name, "--fd", optarg, &v);
			if (!ret && v > INT_MAX) {
				fprintf(stderr, "%s: --fd: %llu is too large\n",
					p->name, v);
				ret = -EINVAL;
			}
			c->fd = (long long)v;
			break;
		case OPT_TRANSPORT:
			c->transport = optarg;
			break;
		case OPT_CONNECT:
			c->connect = true;
			break;
		case OPT_THREAD_PER_QUEUE:
			c->thread_per_queue = true;
			break;
		case OPT_INBAND:
			c->inband = true;
			break;
		case OPT_POLL_US:
			ret = vdevd_parse_range(p->name, "--poll-us", optarg,
						0, 1000000, &c->poll_us);
			break;
		case OPT_PRINT_CAPS:
			c->print_caps = true;
			break;
		case 'h':
			c->help = true;
			break;
		case OPT_VERSION:
			printf("%s (libvdev %s)\n", p->name, vdev_version());
			exit(0);
		case ':':
			fprintf(stderr, "%s: option '%s' needs an argument\n",
				p->name, argv[optind - 1]);
			ret = -EINVAL;
			break;
		case '?':
			fprintf(stderr, "%s: unknown option '%s'\n", p->name,
				argv[optind - 1]);
			ret = -EINVAL;
			break;
		default:
			ret = p->parse ? p->parse(ctx, opt, optarg) : -EINVAL;
			break;
		}
	}
	for (; !ret && p->operand && optind < argc; optind++)
		ret = p->operand(ctx, argv[optind]);
	if (!ret && optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", p->name,
			argv[optind]);
		ret = -EINVAL;
	}
	free(lo);
	free(so);
	return ret;
}

static int check_common(const struct vdevd_program *p, struct common *c)
{
	if (!vdevd_transport_find(c->transport)) {
		fprintf(stderr, "%s: unknown transport '%s'\n", p->name,
			c->transport);
		return -EINVAL;
	}
	if (!c->socket_path && c->fd < 0) {
		fprintf(stderr, "%s: one of --socket-path or --fd is needed\n",
			p->name);
		return -EINVAL;
	}
	if (c->socket_path && c->fd >= 0) {
		fprintf(stderr, "%s: --socket-path and --fd exclude each other\n",
			p->name);
		return -EINVAL;
	}
	if (c->socket_count < 1 || c->socket_count > MAX_SOCKETS) {
		fprintf(stderr, "%s: --socket-count must be 1..%u\n", p->name,
			MAX_SOCKETS);
		return -EINVAL;
	}
	if (c->fd >= 0 && (c->socket_count != 1 || c->connect)) {
		fprintf(stderr,
			"%s: --fd serves one socket (no --socket-count, no --connect)\n",
			p->name);
		return -EINVAL;
	}
	return 0;
}

static void *instance_main(void *arg)
{
	struct instance *in = arg;
	uint64_t one = 1;

	in->ret = in->t->run(in->h);
	if (write(in->done_fd, &one, sizeof(one)) < 0)
		perror("eventfd");
	return NULL;
}

/* Waits for SIGINT/SIGTERM or for every instance to end. */
static void wait_end(int sfd, int done_fd, unsigned n)
{
	unsigned ended = 0;

	while (ended < n) {
		struct pollfd p[2] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = done_fd, .events = POLLIN },
		};
		uint64_t v;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (p[0].revents)
			return;
		if (p[1].revents && read(done_fd, &v, sizeof(v)) == sizeof(v))
			ended += (unsigned)v;
	}
}

int vdevd_main(const struct vdevd_program *p, void *ctx, int argc,
	       char **argv)
{
	struct common c = { .socket_count = 1, .fd = -1,
			    .transport = "vhost-user" };
	struct instance *in = NULL;
	int sfd = -1, done_fd = -1, status = 1;
	sigset_t mask;
	unsigned n = 0;

	if (parse(p, ctx, &c, argc, argv)) {
		fprintf(stderr, "Try '%s --help'.\n", p->name);
		return 1;
	}
	if (c.help) {
		usage(p, stdout);
		return 0;
	}
	if (c.print_caps) {
		print_caps(p);
		return 0;
	}
	if (check_common(p, &c) || (p->check && p->check(ctx))) {
		fprintf(stderr, "Try '%s --help'.\n", p->name);
		return 1;
	}

	/* Signals are read from a signalfd; workers inherit the mask. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	done_fd = eventfd(0, EFD_CLOEXEC);
	in = calloc(c.socket_count, sizeof(*in));
	if (sfd < 0 || done_fd < 0 || !in) {
		perror(p->name);
		goto out;
	}
	for (n = 0; n < c.socket_count; n++) {
		struct instance *i = &in[n];
		struct vdevd_endpoint ep = {
			.fd = (int)c.fd,
			.connect = c.connect,
			.thread_per_queue = c.thread_per_queue,
			.inband = c.inband,
			.poll_us = (unsigned)c.poll_us,
		};

		i->t = vdevd_transport_find(c.transport);
		i->done_fd = done_fd;
		if (c.socket_path) {
			int len = c.socket_count > 1 ?
				snprintf(i->path, sizeof(i->path), "%s%u",
					 c.socket_path, n) :
				snprintf(i->path, sizeof(i->path), "%s",
					 c.socket_path);

			if (len < 0 || (size_t)len >= sizeof(i->path)) {
				fprintf(stderr, "%s: socket path too long\n",
					p->name);
				goto out;
			}
			ep.path = i->path;
		}
		i->dev = p->create(ctx, n);
		if (!i->dev) {
			fprintf(stderr, "%s: device %u: %s\n", p->name, n,
				strerror(errno));
			goto out;
		}
		i->h = i->t->open(i->dev, &ep);
		if (!i->h) {
			fprintf(stderr, "%s: %s %s: %s\n", p->name,
				c.transport, ep.path ? ep.path : "fd",
				strerror(errno));
			vdev_free(i->dev);
			i->dev = NULL;
			goto out;
		}
		if (pthread_create(&i->thread, NULL, instance_main, i)) {
			fprintf(stderr, "%s: cannot start a thread\n", p->name);
			goto out;
		}
		i->started = true;
	}
	wait_end(sfd, done_fd, n);
	status = 0;
out:
	for (unsigned k = 0; in && k < c.socket_count; k++)
		if (in[k].h)
			in[k].t->stop(in[k].h);
	for (unsigned k = 0; in && k < c.socket_count; k++) {
		if (in[k].started) {
			pthread_join(in[k].thread, NULL);
			if (in[k].ret < 0) {
				fprintf(stderr, "%s: socket %u: %s\n", p->name,
					k, strerror(-in[k].ret));
				status = 1;
			}
		}
		if (in[k].h)
			in[k].t->close(in[k].h);
		vdev_free(in[k].dev);
	}
	free(in);
	if (sfd >= 0)
		close(sfd);
	if (done_fd >= 0)
		close(done_fd);
	return status;
}
