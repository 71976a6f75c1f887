/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev-scsi: the virtio-scsi back-end daemon, with the command line of
 * rust-vmm's vhost-device-scsi (image files as arguments, LUN 0, 1, ... of
 * target 0; -r/--read-only; --solid-state), block size and serial choices,
 * and the common options of include/virtio/daemon.h.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <virtio/daemon.h>
#include <virtio/scsi.h>

#define PROG "vdev-scsi"

struct scsi_opts {
	struct vdev_scsi_config cfg;
	const char *paths[VDEV_SCSI_MAX_LUNS];
};

#define F(member) VDEV_DAEMON_FIELD(struct scsi_opts, member)

static int parse_serial(void *ctx, const char *arg)
{
	struct scsi_opts *o = ctx;

	if (strlen(arg) > 32) {
		fprintf(stderr, "%s: --serial: at most 32 bytes\n", PROG);
		return -EINVAL;
	}
	o->cfg.serial = arg;
	return 0;
}

static int parse_block_size(void *ctx, const char *arg)
{
	struct scsi_opts *o = ctx;
	uint64_t v;

	if (vdev_daemon_parse_uint(PROG, "--logical-block-size", arg, 512,
				   4096, &v) < 0)
		return -EINVAL;
	if (v != 512 && v != 4096) {
		fprintf(stderr, "%s: --logical-block-size must be 512 or "
			"4096\n", PROG);
		return -EINVAL;
	}
	o->cfg.logical_block_size = (uint32_t)v;
	return 0;
}

static const struct vdev_daemon_option scsi_options[] = {
	{ .name = "read-only", .short_name = 'r', .type = VDEV_DAEMON_FLAG,
	  .help = "Every LUN write-protected.", F(cfg.read_only) },
	{ .name = "solid-state", .type = VDEV_DAEMON_FLAG,
	  .help = "Report a non-rotating medium.", F(cfg.solid_state) },
	{ .name = "serial", .type = VDEV_DAEMON_CALL, .arg = "PREFIX",
	  .def = "vdev-scsi",
	  .help = "VPD serial number prefix, up to 32 bytes; the LUN number "
		  "is appended.",
	  .parse = parse_serial },
	{ .name = "hotplug", .type = VDEV_DAEMON_FLAG,
	  .help = "Offer VIRTIO_SCSI_F_HOTPLUG.", F(cfg.hotplug) },
	{ .name = "logical-block-size", .type = VDEV_DAEMON_CALL,
	  .arg = "512|4096", .def = "512",
	  .help = "Logical block size the guest sees.",
	  .parse = parse_block_size },
	{ 0 },
};

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

static int scsi_check(void *ctx, const struct vdev_daemon_instance *in)
{
	struct scsi_opts *o = ctx;

	if (!o->cfg.num_luns) {
		fprintf(stderr, "%s: at least one IMAGE is needed\n", PROG);
		return -EINVAL;
	}
	/* Two guests writing one image without coordination corrupt it. */
	if (in->count > 1) {
		fprintf(stderr, "%s: the images serve one device; use one "
			"daemon per set of images\n", PROG);
		return -EINVAL;
	}
	return 0;
}

static struct vdev *scsi_create(void *ctx, const struct vdev_daemon_instance *in)
{
	struct scsi_opts *o = ctx;
	struct vdev_scsi_config cfg = o->cfg;
	struct vdev *dev;

	cfg.paths = o->paths;
	cfg.queue_size = in->queue_size;
	cfg.num_queues = in->num_queues;
	dev = vdev_scsi_new(&cfg);
	if (!dev) {
		int err = errno;

		fprintf(stderr, "%s: cannot open the images: %s\n", PROG,
			strerror(err));
		errno = err;
		return NULL;
	}
	fprintf(stderr, "%s: %u LUN%s%s\n", PROG, cfg.num_luns,
		cfg.num_luns > 1 ? "s" : "", cfg.read_only ? ", read-only" : "");
	return dev;
}

int main(int argc, char **argv)
{
	static const struct vdev_daemon d = {
		.name = PROG,
		.type = "scsi",
		.summary = "virtio-scsi device back-end (libvdev)",
		.description = "Each IMAGE is a LUN of target 0, in order: the "
			       "first is LUN 0.",
		.options = scsi_options,
		.operands = "IMAGE...",
		.operands_help = "Image files or block devices, one LUN each.",
		.operand = scsi_operand,
		.num_queues_max = 64,
		.check = scsi_check,
		.create = scsi_create,
	};
	struct scsi_opts o = { .cfg = { 0 } };

	return vdev_daemon_main(&d, &o, argc, argv);
}
