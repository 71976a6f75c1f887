/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev-console: the virtio-console back-end daemon, with the options of
 * rust-vmm's vhost-device-console (-s/--socket-path, -c/--socket-count,
 * -b/--backend nested|network, -p/--tcp-port, -q/--max-queue-size) and
 * named ports of its own (--port, repeatable), room for hot-added ports
 * (--max-ports) and a control socket (--control: resize, add, remove).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <virtio/console.h>
#include <virtio/daemon.h>

#define PORTS_MAX 16

struct console_opts {
	unsigned backend; /* 0 nested, 1 network */
	uint16_t tcp_port;
	uint16_t max_queue;
	uint32_t max_ports;
	uint32_t buffer;
	const char *control;
	struct vdev_console_port ports[PORTS_MAX];
	char *specs[PORTS_MAX];
	unsigned nports;
	char control_path[4096];
};

#define F(member) VDEV_DAEMON_FIELD(struct console_opts, member)

static const char *const backends[] = { "nested", "network", NULL };

static int parse_port(void *ctx, const char *arg)
{
	struct console_opts *o = ctx;
	char *s;

	if (o->nports == PORTS_MAX) {
		fprintf(stderr, "vdev-console: at most %u --port\n", PORTS_MAX);
		return -EINVAL;
	}
	s = strdup(arg);
	if (!s)
		return -ENOMEM;
	o->specs[o->nports] = s;
	if (vdev_console_parse_port(s, &o->ports[o->nports]) < 0) {
		fprintf(stderr, "vdev-console: --port %s: expected name=NAME,"
			"console=on|off,drop=on|off,backend=pty|unix:PATH|"
			"file:PATH|tcp:PORT|stdio|none\n", arg);
		return -EINVAL;
	}
	o->nports++;
	return 0;
}

static const struct vdev_daemon_option console_options[] = {
	{ .name = "backend", .short_name = 'b', .type = VDEV_DAEMON_CHOICE,
	  .arg = "nested|network", .def = "nested", .choices = backends,
	  .help = "Without --port: port 0 is a console on the daemon's "
		  "stdio (nested, one socket only) or on a TCP server at "
		  "127.0.0.1:TCP-PORT + socket index (network).",
	  F(backend) },
	{ .name = "tcp-port", .short_name = 'p', .type = VDEV_DAEMON_UINT,
	  .arg = "PORT", .def = "12345",
	  .help = "First TCP port of the network backend.", .min = 1,
	  .max = 65535, F(tcp_port) },
	{ .name = "max-queue-size", .short_name = 'q',
	  .type = VDEV_DAEMON_UINT, .arg = "N", .def = "--queue-size",
	  .help = "Largest virtqueue accepted (64 .. 32768; "
		  "vhost-device-console's default, 128, is too small for "
		  "User-Mode Linux).",
	  .min = 64, .max = 32768, F(max_queue) },
	{ .name = "port", .type = VDEV_DAEMON_CALL,
	  .arg = "name=NAME,console=on|off,backend=pty|unix:PATH|file:PATH|"
		 "tcp:PORT|stdio|none[,drop=on]",
	  .help = "A port (repeatable, port 0 first): named ports appear "
		  "in the guest as /sys/class/virtio-ports/*/name; "
		  "console=on makes an hvc console.",
	  .flags = VDEV_DAEMON_REPEAT, .parse = parse_port },
	{ .name = "max-ports", .type = VDEV_DAEMON_UINT, .arg = "N",
	  .def = "the ports given",
	  .help = "Ports the device has room for (hot-add through "
		  "--control).", .min = 1, .max = VDEV_CONSOLE_PORTS_MAX,
	  F(max_ports) },
	{ .name = "buffer", .type = VDEV_DAEMON_UINT, .arg = "BYTES",
	  .def = "65536",
	  .help = "Guest output held per port while the host side is away; "
		  "beyond it the guest waits (or, drop=on, loses it).",
	  .min = 1, .max = 16u << 20, F(buffer) },
	{ .name = "control", .type = VDEV_DAEMON_STRING, .arg = "PATH",
	  .help = "A UNIX socket taking \"resize ID COLS ROWS\", \"remove "
		  "ID\" and \"add ID SPEC\" lines (several devices: PATH0, "
		  "PATH1, ...).",
	  F(control) },
	{ 0 },
};

static int console_check(void *ctx, const struct vdev_daemon_instance *in)
{
	struct console_opts *o = ctx;

	if (!o->nports && o->backend == 0 && in->count > 1) {
		fprintf(stderr, "vdev-console: the nested backend serves one "
			"socket (use --backend network or --port)\n");
		return -EINVAL;
	}
	if (o->max_ports && o->max_ports < o->nports) {
		fprintf(stderr, "vdev-console: --max-ports is below the %u "
			"ports given\n", o->nports);
		return -EINVAL;
	}
	return 0;
}

static struct vdev *console_create(void *ctx,
				   const struct vdev_daemon_instance *in)
{
	struct console_opts *o = ctx;
	struct vdev_console_port def = { .console = true, .in_fd = -1,
					 .out_fd = -1 };
	struct vdev_console_config cfg = {
		.ports = o->ports,
		.nports = o->nports,
		.max_ports = o->max_ports,
		.buffer = o->buffer,
		.control = o->control,
		.queue_size = o->max_queue ? o->max_queue : in->queue_size,
	};
	struct vdev *dev;

	if (!o->nports) {
		if (o->backend == 0) {
			def.backend = VDEV_CONSOLE_FDS;
			def.in_fd = 0;
			def.out_fd = 1;
		} else {
			def.backend = VDEV_CONSOLE_TCP;
			if ((unsigned)o->tcp_port + in->index > 65535) {
				errno = ERANGE;
				return NULL;
			}
			def.tcp_port = (uint16_t)(o->tcp_port + in->index);
		}
		cfg.ports = &def;
		cfg.nports = 1;
	}
	if (o->control && in->count > 1) {
		int n = snprintf(o->control_path, sizeof(o->control_path),
				 "%s%u", o->control, in->index);

		if (n < 0 || (size_t)n >= sizeof(o->control_path)) {
			errno = ENAMETOOLONG;
			return NULL;
		}
		cfg.control = o->control_path;
	}
	dev = vdev_console_new(&cfg);
	if (!dev) {
		fprintf(stderr, "vdev-console: device %u: %s\n", in->index,
			strerror(errno));
		return NULL;
	}
	for (unsigned i = 0; i < cfg.nports; i++)
		if (vdev_console_pty_path(dev, i))
			fprintf(stderr, "vdev-console: device %u port %u: %s\n",
				in->index, i, vdev_console_pty_path(dev, i));
	return dev;
}

/* System calls made while serving, beyond the library's (docs/sandbox.md):
 * a port added through the control socket opens its backend then (a pty:
 * /dev/ptmx and its ioctls; a file; a TCP listener), and a terminal's
 * settings are restored at exit. */
static const char *const console_syscalls[] = {
	"open", "openat", "ioctl", "socket", NULL,
};

int main(int argc, char **argv)
{
	static const struct vdev_daemon d = {
		.name = "vdev-console",
		.type = "console",
		.summary = "virtio-console device back-end (libvdev)",
		.options = console_options,
		.check = console_check,
		.create = console_create,
		.syscalls = console_syscalls,
	};
	struct console_opts o = { .tcp_port = 12345 };
	int r = vdev_daemon_main(&d, &o, argc, argv);

	for (unsigned i = 0; i < o.nports; i++)
		free(o.specs[i]);
	return r;
}
