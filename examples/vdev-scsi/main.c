/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev-scsi: a virtio-scsi back-end daemon (vhost-user by default) with the
 * command line of rust-vmm's vhost-device-scsi: image files as arguments
 * (LUN 0, 1, ... of target 0), -r/--read-only, --solid-state, plus queue,
 * block size and serial choices and the common daemon options
 * (examples/daemon).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <virtio/scsi.h>
#include <virtio/spec.h>

#include "daemon.h"

#define PROG "vdev-scsi"

enum {
	OPT_NUM_QUEUES = 0x200,
	OPT_QUEUE_SIZE,
	OPT_SERIAL,
	OPT_SOLID_STATE,
	OPT_HOTPLUG,
	OPT_BLOCK_SIZE,
};

struct scsi_opts {
	struct vdev_scsi_config cfg;
	const char *paths[VDEV_SCSI_MAX_LUNS];
};

static const struct option scsi_options[] = {
	{ "read-only", no_argument, NULL, 'r' },
	{ "solid-state", no_argument, NULL, OPT_SOLID_STATE },
	{ "num-queues", required_argument, NULL, OPT_NUM_QUEUES },
	{ "queue-size", required_argument, NULL, OPT_QUEUE_SIZE },
	{ "serial", required_argument, NULL, OPT_SERIAL },
	{ "hotplug", no_argument, NULL, OPT_HOTPLUG },
	{ "logical-block-size", required_argument, NULL, OPT_BLOCK_SIZE },
	{ 0 },
};

static int scsi_parse(void *ctx, int opt, const char *arg)
{
	struct scsi_opts *o = ctx;
	unsigned long long v;
	int ret;

	switch (opt) {
	case 'r':
		o->cfg.read_only = true;
		return 0;
	case OPT_SOLID_STATE:
		o->cfg.solid_state = true;
		return 0;
	case OPT_HOTPLUG:
		o->cfg.hotplug = true;
		return 0;
	case OPT_NUM_QUEUES:
		ret = vdevd_parse_range(PROG, "--num-queues", arg, 1, 64, &v);
		o->cfg.num_queues = (uint16_t)v;
		return ret;
	case OPT_QUEUE_SIZE:
		ret = vdevd_parse_range(PROG, "--queue-size", arg, 1,
					VDEV_QUEUE_SIZE_MAX, &v);
		o->cfg.queue_size = (uint16_t)v;
		return ret;
	case OPT_SERIAL:
		if (strlen(arg) > 32) {
			fprintf(stderr, "%s: --serial: at most 32 bytes\n",
				PROG);
			return -EINVAL;
		}
		o->cfg.serial = arg;
		return 0;
	case OPT_BLOCK_SIZE:
		ret = vdevd_parse_u64(PROG, "--logical-block-size", arg, &v);
		if (!ret && v != 512 && v != 4096) {
			fprintf(stderr,
				"%s: --logical-block-size must be 512 or "
				"4096\n",
				PROG);
			ret = -EINVAL;
		}
		o->cfg.logical_block_size = (uint32_t)v;
		return ret;
	default:
		return -EINVAL;
	}
}

static int scsi_operand(void *ctx, const char *arg)
{
	struct scsi_opts *o = ctx;

	if (o->cfg.num_luns == VDEV_SCSI_MAX_LUNS) {
		fprintf(stderr, "%s: at most %u images\n", PROG,
			VDEV_SCSI_MAX_LUNS);
		return -EINVAL;
	}
	o->paths[o->cfg.num_luns++] = arg;
	return 0;
}

static int scsi_check(void *ctx)
{
	struct scsi_opts *o = ctx;

	if (!o->cfg.num_luns) {
		fprintf(stderr, "%s: at least one IMAGE is needed\n", PROG);
		return -EINVAL;
	}
	return 0;
}

static struct vdev *scsi_create(void *ctx, unsigned index)
{
	struct scsi_opts *o = ctx;
	struct vdev *dev;

	/* Two guests writing one image without coordination corrupt it. */
	if (index > 0) {
		fprintf(stderr,
			"%s: the images serve one device; use one daemon per "
			"set of images\n",
			PROG);
		errno = EINVAL;
		return NULL;
	}
	o->cfg.paths = o->paths;
	dev = vdev_scsi_new(&o->cfg);
	if (!dev) {
		int err = errno;

		fprintf(stderr, "%s: cannot open the images: %s\n", PROG,
			strerror(err));
		errno = err;
		return NULL;
	}
	fprintf(stderr, "%s: %u LUN%s%s\n", PROG, o->cfg.num_luns,
		o->cfg.num_luns > 1 ? "s" : "",
		o->cfg.read_only ? ", read-only" : "");
	return dev;
}

int main(int argc, char **argv)
{
	static const struct vdevd_program prog = {
		.name = PROG,
		.type = "scsi",
		.summary = "virtio-scsi device back-end (libvdev): IMAGE i is "
			   "LUN i of target 0",
		.usage =
		"  -r, --read-only          every LUN write-protected\n"
		"      --solid-state        report a non-rotating medium\n"
		"      --num-queues N       request queues, 1..64 (default 1)\n"
		"      --queue-size N       largest queue size (default 256)\n"
		"      --serial PREFIX      VPD serial number prefix, up to 32\n"
		"                           bytes (default vdev-scsi; the LUN\n"
		"                           number is appended)\n"
		"      --hotplug            offer VIRTIO_SCSI_F_HOTPLUG\n"
		"      --logical-block-size 512|4096 (default 512)\n",
		.options = scsi_options,
		.shortopts = "r",
		.parse = scsi_parse,
		.check = scsi_check,
		.create = scsi_create,
		.operand = scsi_operand,
		.operands = "IMAGE...",
	};
	struct scsi_opts o = { .cfg = { 0 } };

	return vdevd_main(&prog, &o, argc, argv);
}
