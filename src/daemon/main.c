/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev_daemon_main: the command line, then one device and one thread per
 * socket, until SIGINT/SIGTERM/SIGHUP or until every one-shot connection
 * ended (the transports remove their sockets). Signals are taken
 * synchronously through a signalfd on the calling thread, so nothing runs
 * in signal context.
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
#include <virtio/daemon.h>

#include "daemon_internal.h"

struct instance {
	const struct vdd_transport *t;
	struct vdev *dev;
	void *h;
	char path[PATH_MAX];
	pthread_t thread;
	bool started;
	int ret;
	int done_fd;
};

static int check_common(const struct vdev_daemon *d,
			const struct vdd_common *c, unsigned own)
{
	if (own) {
		if (c->socket_path || c->fd >= 0 || c->socket_count) {
			fprintf(stderr, "%s: the sockets are given by the "
				"daemon's own options: no --socket-path, "
				"--socket-count or --fd\n", d->name);
			return -EINVAL;
		}
		return 0;
	}
	if (!c->socket_path && c->fd < 0) {
		fprintf(stderr, "%s: one of --socket-path or --fd is needed\n",
			d->name);
		return -EINVAL;
	}
	if (c->socket_path && c->fd >= 0) {
		fprintf(stderr, "%s: --socket-path and --fd exclude each other\n",
			d->name);
		return -EINVAL;
	}
	if (c->thread_per_queue && c->thread_per_device) {
		fprintf(stderr, "%s: --thread-per-queue and --thread-per-device "
			"exclude each other\n", d->name);
		return -EINVAL;
	}
	if (c->fd >= 0 && (c->socket_count > 1 || c->connect)) {
		fprintf(stderr,
			"%s: --fd serves one socket (no --socket-count, no "
			"--connect)\n",
			d->name);
		return -EINVAL;
	}
	return 0;
}

/* The socket count the daemon's options decide (struct vdev_daemon). */
static int daemon_sockets(const struct vdev_daemon *d, void *ctx,
			  struct vdd_common *c)
{
	unsigned n = d->socket_count(ctx);

	if (!n)
		return 0;
	if (n > VDD_MAX_SOCKETS || (c->socket_count && c->socket_count != n)) {
		fprintf(stderr, "%s: %u sockets asked for, --socket-count "
			"says %u (at most %u)\n", d->name, n,
			(unsigned)c->socket_count, VDD_MAX_SOCKETS);
		return -EINVAL;
	}
	if (c->fd >= 0 && n != 1) {
		fprintf(stderr, "%s: --fd serves one socket, %u asked for\n",
			d->name, n);
		return -EINVAL;
	}
	/* Numbered even for one, as a given --socket-count is. */
	c->socket_count = n;
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

/* Waits for SIGINT/SIGTERM/SIGHUP or for every instance to end; SIGUSR1
 * logs the counters, a connection to the stats socket gets them. */
static void wait_end(const struct vdev_daemon *d, int sfd, int done_fd,
		     int stats_fd, const struct vdd_stats_dev *devs,
		     unsigned n)
{
	unsigned ended = 0;

	while (ended < n) {
		struct pollfd p[3] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = done_fd, .events = POLLIN },
			{ .fd = stats_fd, .events = POLLIN },
		};
		struct signalfd_siginfo si;
		uint64_t v;

		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (p[0].revents) {
			if (read(sfd, &si, sizeof(si)) == sizeof(si) &&
			    si.ssi_signo == SIGUSR1) {
				vdd_stats_log(d, devs, n);
				continue;
			}
			return;
		}
		if (p[1].revents && read(done_fd, &v, sizeof(v)) == sizeof(v))
			ended += (unsigned)v;
		if (p[2].revents)
			vdd_stats_answer(d, stats_fd, devs, n);
	}
}

/* Answers --help, --version and the --print options; -1 when none was
 * given. */
static int answer(const struct vdev_daemon *d, const struct vdd_common *c)
{
	int r;

	if (c->help)
		r = vdev_daemon_write_help(d, stdout);
	else if (c->version)
		r = printf("%s (libvdev %s)\n", d->name, vdev_version()) < 0 ?
			    -EIO : 0;
	else if (c->print_caps)
		r = vdev_daemon_write_capabilities(d, stdout);
	else if (c->print_doc == VDD_DOC_MAN)
		r = vdev_daemon_write_man(d, stdout);
	else if (c->print_doc == VDD_DOC_MARKDOWN)
		r = vdev_daemon_write_markdown(d, stdout);
	else if (c->descriptor_binary)
		r = vdev_daemon_write_qemu_json(d, c->descriptor_binary,
						stdout);
	else
		return -1;
	return r < 0 ? 1 : 0;
}

/*
 * Setup is over (devices made, sockets bound, images open): the daemon
 * drops root if asked, then enters the sandbox, before any serving thread
 * starts (threads the devices started already are moved in too).
 */
static int confine(const struct vdev_daemon *d, const struct vdd_common *c,
		   const struct instance *in, unsigned n)
{
	const char *paths[VDD_MAX_SOCKETS + 1];
	int r;

	for (unsigned k = 0; k < n; k++)
		paths[k] = in[k].path[0] && !c->connect ? in[k].path : NULL;
	paths[n] = c->stats_socket;
	if (vdd_privs_drop(d->name, c, paths, n + 1) < 0)
		return -1;
	if (c->no_sandbox)
		return 0;
	r = vdev_daemon_sandbox(d->name, d->syscalls);
	if (r == -ENOSYS) {
		fprintf(stderr, "%s: sandbox unavailable (built without "
			"libseccomp): serving without one\n", d->name);
		return 0;
	}
	if (r < 0) {
		fprintf(stderr, "%s: cannot enter the sandbox (--no-sandbox "
			"serves without it)\n", d->name);
		return -1;
	}
	return 0;
}

static int serve(const struct vdev_daemon *d, void *ctx,
		 const struct vdd_common *c, const struct vdd_transport *t,
		 const char *tname, const char *const *own, unsigned nown)
{
	/* -c not given: one socket, its path as given; given (even 1):
	 * numbered, as vhost-device's daemons do. A daemon that named its
	 * sockets (d->sockets) gets one device per name. */
	unsigned count = nown ? nown : c->socket_count ? c->socket_count : 1;
	struct instance *in = NULL;
	struct vdd_stats_dev *sd = NULL;
	int sfd = -1, done_fd = -1, stats_fd = -1, status = 1;
	struct vdd_sockperm perm;
	sigset_t mask;
	unsigned n = 0;

	if (vdd_sockperm_parse(d->name, c, &perm) < 0 ||
	    vdd_log_setup(d->name, c) < 0)
		return 1;

	/* Signals are read from a signalfd; threads inherit the mask. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	done_fd = eventfd(0, EFD_CLOEXEC);
	in = calloc(count, sizeof(*in));
	sd = calloc(count, sizeof(*sd));
	if (sfd < 0 || done_fd < 0 || !in || !sd) {
		perror(d->name);
		goto out;
	}
	if (c->stats_socket) {
		stats_fd = vdd_stats_listen(d->name, c->stats_socket,
					    &perm);
		if (stats_fd < 0)
			goto out;
	}
	for (n = 0; n < count; n++) {
		struct instance *i = &in[n];
		struct vdev_daemon_instance di = {
			.index = n,
			.count = count,
			.queue_size = c->queue_size,
			.num_queues = c->num_queues,
		};
		struct vdd_endpoint ep = {
			.fd = c->fd,
			.connect = c->connect,
			/* Several request queues on one worker serve fewer
			 * requests than one queue does (bench_blk_mq):
			 * they get a worker each unless told otherwise. */
			.thread_per_queue = c->thread_per_queue ||
					    (c->num_queues > 1 &&
					     !c->thread_per_device),
			.inband = c->inband,
			.poll_us = c->poll_us,
			.no_config = c->no_config_messages,
			.set_gid = perm.set_gid,
			.set_mode = perm.set_mode,
			.gid = perm.gid,
			.mode = perm.mode,
		};

		i->t = t;
		i->done_fd = done_fd;
		if (nown) {
			int len = snprintf(i->path, sizeof(i->path), "%s",
					   own[n]);

			if (len < 0 || (size_t)len > vdd_socket_path_max()) {
				fprintf(stderr, "%s: socket path %s is too "
					"long (at most %zu bytes)\n", d->name,
					own[n], vdd_socket_path_max());
				goto out;
			}
			ep.path = i->path;
		} else if (c->socket_path) {
			int len = c->socket_count ?
				snprintf(i->path, sizeof(i->path), "%s%u",
					 c->socket_path, n) :
				snprintf(i->path, sizeof(i->path), "%s",
					 c->socket_path);

			if (len < 0 || (size_t)len > vdd_socket_path_max()) {
				fprintf(stderr, "%s: --socket-path: %s%s is "
					"%d bytes long; a UNIX socket path "
					"holds at most %zu: choose a shorter "
					"one\n", d->name, c->socket_path,
					c->socket_count ? "N" : "", len,
					vdd_socket_path_max());
				goto out;
			}
			ep.path = i->path;
		}
		errno = 0;
		i->dev = d->create(ctx, &di);
		if (!i->dev) {
			fprintf(stderr, "%s: no device for %s: %s\n", d->name,
				ep.path ? ep.path : "the --fd socket",
				strerror(errno ? errno : EINVAL));
			goto out;
		}
		i->h = t->open(i->dev, &ep);
		if (!i->h) {
			vdd_explain_endpoint(d->name, tname, ep.path, c->fd,
					     errno, &perm);
			vdev_free(i->dev);
			i->dev = NULL;
			goto out;
		}
		sd[n].dev = i->dev;
		sd[n].path = ep.path;
	}
	if (confine(d, c, in, n) < 0)
		goto out;
	for (unsigned k = 0; k < n; k++) {
		if (pthread_create(&in[k].thread, NULL, instance_main, &in[k])) {
			fprintf(stderr, "%s: cannot start a thread\n", d->name);
			goto out;
		}
		in[k].started = true;
	}
	wait_end(d, sfd, done_fd, stats_fd, sd, n);
	status = 0;
out:
	for (unsigned k = 0; in && k < count; k++)
		if (in[k].h)
			in[k].t->stop(in[k].h);
	for (unsigned k = 0; in && k < count; k++) {
		if (in[k].started) {
			pthread_join(in[k].thread, NULL);
			if (in[k].ret < 0) {
				fprintf(stderr, "%s: socket %u: %s\n", d->name,
					k, strerror(-in[k].ret));
				status = 1;
			}
		}
		if (in[k].h)
			in[k].t->close(in[k].h);
		vdev_free(in[k].dev);
	}
	free(in);
	free(sd);
	if (stats_fd >= 0) {
		close(stats_fd);
		unlink(c->stats_socket);
	}
	if (sfd >= 0)
		close(sfd);
	if (done_fd >= 0)
		close(done_fd);
	return status;
}

static int daemon_main(const struct vdev_daemon *d, void *ctx, int argc,
		       char **argv)
{
	struct vdd_common c = {
		.fd = -1,
		.queue_size = VDD_DEFAULT_QUEUE_SIZE,
		.num_queues = 1,
		.print_doc = VDD_DOC_NONE,
		.log_level = VDD_UNSET,
	};
	const struct vdd_transport *t;
	const char *own[VDD_MAX_SOCKETS];
	const char *tname;
	unsigned nown = 0;
	int r;

	if (!d || !d->name) {
		fprintf(stderr, "vdev_daemon_main: no daemon\n");
		return 1;
	}
	if (vdd_parse(d, ctx, &c, argc, argv) < 0) {
		/* A frontend or libvirt probing with --print-capabilities
		 * gets its answer whatever else is on the line
		 * (vhost-user.rst: the option must be understood). */
		for (int i = 1; i < argc; i++)
			if (argv[i] && !strcmp(argv[i], "--print-capabilities"))
				return vdev_daemon_write_capabilities(
					       d, stdout) < 0 ? 1 : 0;
		fprintf(stderr, "Try '%s --help'.\n", d->name);
		return 1;
	}
	r = answer(d, &c);
	if (r >= 0)
		return r;
	vdd_stats_set_ctx(ctx);
	tname = vdd_transport_choices()[c.transport];
	t = tname ? vdd_transport_find(tname) : NULL;
	if (!t) {
		fprintf(stderr, "%s: no transport in this build\n", d->name);
		return 1;
	}
	/* A daemon that names its own sockets (d->sockets) knows them once
	 * its options are checked; the common ones are checked after. */
	if ((!d->sockets && check_common(d, &c, 0) < 0) ||
	    (d->check && d->check(ctx, &(const struct vdev_daemon_instance){
			.count = c.socket_count ? c.socket_count : 1,
			.queue_size = c.queue_size,
			.num_queues = c.num_queues,
		}) < 0)) {
		fprintf(stderr, "Try '%s --help'.\n", d->name);
		return 1;
	}
	if (d->sockets) {
		nown = d->sockets(ctx, own, VDD_MAX_SOCKETS);
		if (nown > VDD_MAX_SOCKETS || check_common(d, &c, nown) < 0) {
			fprintf(stderr, "Try '%s --help'.\n", d->name);
			return 1;
		}
	}
	if (d->socket_count && daemon_sockets(d, ctx, &c) < 0) {
		fprintf(stderr, "Try '%s --help'.\n", d->name);
		return 1;
	}
	if (vdd_privs_resolve(d->name, &c) < 0)
		return 1;
	return serve(d, ctx, &c, t, tname, own, nown);
}

/* The table at the sizes the program was compiled with (sized.c). */
int (vdev_daemon_main)(const struct vdev_daemon *d, void *ctx, int argc,
		      char **argv, size_t dsize, size_t osize)
{
	struct vdev_daemon c;
	struct vdev_daemon_option *o;
	int r;

	if (!d)
		return daemon_main(NULL, ctx, argc, argv);
	r = vdd_daemon_in(d, dsize, osize, &c, &o);
	if (r < 0) {
		fprintf(stderr, "vdev_daemon_main: the daemon table: %s (a "
			"program built against a newer libvdev-daemon that "
			"asks for what this one does not know?)\n",
			strerror(-r));
		return 1;
	}
	r = daemon_main(&c, ctx, argc, argv);
	free(o);
	return r;
}
