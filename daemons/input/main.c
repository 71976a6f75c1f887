/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev-input: the virtio-input back-end daemon, with the options of
 * rust-vmm's vhost-device-input (-s/--socket-path, suffixed 0..n-1, and
 * -e/--event-list: one socket per evdev device) and a scripted source of
 * its own (--script, an evemu description whose events replay), plus
 * --control (a socket to inject events and hear the guest's LEDs) and
 * --grab. include/virtio/input.h describes the device and the formats.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <virtio/daemon.h>
#include <virtio/input.h>

#define EVDEV_MAX 64

struct input_opts {
	char *list;   /* --event-list, a copy split in place */
	const char *evdev[EVDEV_MAX];
	unsigned nevdev;
	const char *script;
	const char *control;
	bool grab;
	uint32_t backlog;
	char control_path[4096];
};

#define F(member) VDEV_DAEMON_FIELD(struct input_opts, member)

static int parse_list(void *ctx, const char *arg)
{
	struct input_opts *o = ctx;
	char *save = NULL, *tok;

	free(o->list);
	o->list = strdup(arg);
	o->nevdev = 0;
	if (!o->list)
		return -ENOMEM;
	for (tok = strtok_r(o->list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		if (o->nevdev == EVDEV_MAX) {
			fprintf(stderr, "vdev-input: --event-list: at most %u "
				"devices\n", EVDEV_MAX);
			return -EINVAL;
		}
		o->evdev[o->nevdev++] = tok;
	}
	if (!o->nevdev) {
		fprintf(stderr, "vdev-input: --event-list is empty\n");
		return -EINVAL;
	}
	return 0;
}

static const struct vdev_daemon_option input_options[] = {
	{ .name = "event-list", .short_name = 'e', .type = VDEV_DAEMON_CALL,
	  .arg = "LIST",
	  .help = "Input event devices to pass through, comma separated "
		  "(/dev/input/event14,/dev/input/event15): one socket "
		  "each, PATH0, PATH1, ...",
	  .parse = parse_list },
	{ .name = "script", .type = VDEV_DAEMON_STRING, .arg = "FILE",
	  .help = "A scripted device instead: its description in the evemu "
		  "format (N:, I:, P:, B:, A: lines, what evemu-describe "
		  "prints); its E: events replay when the driver starts.",
	  F(script) },
	{ .name = "control", .type = VDEV_DAEMON_STRING, .arg = "PATH",
	  .help = "Listen on a UNIX socket for event lines (\"E: 0.0 TYPE "
		  "CODE VALUE\"), P: (replay) and S: (statistics); clients "
		  "hear the guest's LED and sound events. Several devices: "
		  "PATH0, PATH1, ...",
	  F(control) },
	{ .name = "grab", .type = VDEV_DAEMON_FLAG,
	  .help = "Grab the event devices (EVIOCGRAB): nothing else on the "
		  "host sees their events.",
	  F(grab) },
	{ .name = "backlog", .type = VDEV_DAEMON_UINT, .arg = "EVENTS",
	  .def = "256",
	  .help = "Events kept while the guest takes none; a batch beyond "
		  "it is dropped whole.",
	  .min = 16, .max = 65536, F(backlog) },
	{ 0 },
};

static int input_check(void *ctx, const struct vdev_daemon_instance *common)
{
	struct input_opts *o = ctx;

	(void)common;
	if (!o->nevdev == !o->script) {
		fprintf(stderr, "vdev-input: one of --event-list or --script "
			"is needed\n");
		return -EINVAL;
	}
	if (o->grab && !o->nevdev) {
		fprintf(stderr, "vdev-input: --grab is for --event-list\n");
		return -EINVAL;
	}
	return 0;
}

static unsigned input_sockets(void *ctx)
{
	const struct input_opts *o = ctx;

	return o->nevdev;
}

static struct vdev *input_create(void *ctx,
				 const struct vdev_daemon_instance *in)
{
	struct input_opts *o = ctx;
	struct vdev_input_config cfg = {
		.script = o->script,
		.evdev = o->nevdev ? o->evdev[in->index] : NULL,
		.grab = o->grab,
		.control = o->control,
		.backlog = o->backlog,
		.queue_size = in->queue_size,
	};
	struct vdev *dev;

	if (o->control && in->count > 1) {
		int n = snprintf(o->control_path, sizeof(o->control_path),
				 "%s%u", o->control, in->index);

		if (n < 0 || (size_t)n >= sizeof(o->control_path)) {
			errno = ENAMETOOLONG;
			return NULL;
		}
		cfg.control = o->control_path;
	}
	dev = vdev_input_new(&cfg);
	if (!dev)
		fprintf(stderr, "vdev-input: %s: %s\n",
			cfg.evdev ? cfg.evdev : cfg.script, strerror(errno));
	return dev;
}

/* System calls made while serving, beyond the library's (docs/sandbox.md):
 * an event device grabbed with --grab is let go (EVIOCGRAB 0) when the
 * device is freed, after the sandbox is on. */
static const char *const input_syscalls[] = { "ioctl", NULL };

int main(int argc, char **argv)
{
	static const struct vdev_daemon d = {
		.name = "vdev-input",
		.type = "input",
		.summary = "virtio-input device back-end (libvdev)",
		.options = input_options,
		.check = input_check,
		.create = input_create,
		.syscalls = input_syscalls,
		.socket_count = input_sockets,
	};
	struct input_opts o = { .backlog = 256 };
	int r = vdev_daemon_main(&d, &o, argc, argv);

	free(o.list);
	return r;
}
