/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev-scsi: the virtio-scsi back-end daemon, with the command line of
 * rust-vmm's vhost-device-scsi (image files as arguments, LUN 0, 1, ... of
 * target 0; -r/--read-only; --solid-state), NBD exports as LUNs (--nbd),
 * backend, block size and serial choices, and the common options of
 * include/virtio/daemon.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <virtio/caps.h>
#include <virtio/daemon.h>
#include <virtio/image.h>
#include <virtio/scsi.h>

#define PROG "vdev-scsi"

struct scsi_opts {
	struct vdev_scsi_config cfg;
	const char *paths[VDEV_SCSI_MAX_LUNS];
	const char *uris[VDEV_SCSI_MAX_LUNS];
	const char *nbd[VDEV_SCSI_MAX_LUNS];   /* --nbd, in order */
	unsigned nnbd;
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

static int parse_nbd(void *ctx, const char *arg)
{
	struct scsi_opts *o = ctx;

	if (!vdev_has_capability(VDEV_CAP_BACKEND, "libnbd")) {
		fprintf(stderr, "%s: --nbd: this build of libvdev has no NBD "
			"support (libnbd)\n", PROG);
		return -ENOTSUP;
	}
	if (o->nnbd == VDEV_SCSI_MAX_LUNS) {
		fprintf(stderr, "%s: at most %u LUNs\n", PROG,
			VDEV_SCSI_MAX_LUNS);
		return -EINVAL;
	}
	o->nbd[o->nnbd++] = arg;
	return 0;
}

static int parse_format(void *ctx, const char *arg)
{
	struct scsi_opts *o = ctx;

	if (!strcmp(arg, "raw") || !strcmp(arg, "auto")) {
		o->cfg.format = arg[0] == 'r' ? VDEV_IMAGE_FORMAT_RAW
					      : VDEV_IMAGE_FORMAT_AUTO;
		return 0;
	}
	fprintf(stderr, "%s: --format: '%s' is not raw or auto; other "
		"formats are served through --nbd (qemu-nbd, nbdkit)\n", PROG,
		arg);
	return -EINVAL;
}

static int parse_backend(void *ctx, const char *arg)
{
	struct scsi_opts *o = ctx;
	enum vdev_image_backend b;

	if (vdev_image_backend_parse(arg, &b) < 0 ||
	    (b != VDEV_IMAGE_BACKEND_AUTO && b != VDEV_IMAGE_BACKEND_URING &&
	     b != VDEV_IMAGE_BACKEND_SYNC)) {
		fprintf(stderr, "%s: --backend: '%s' is not one of auto, uring, "
			"sync\n", PROG, arg);
		return -EINVAL;
	}
	o->cfg.backend = b;
	return 0;
}

static const struct vdev_daemon_option scsi_options[] = {
	{ .name = "nbd", .type = VDEV_DAEMON_CALL, .arg = "URI",
	  .flags = VDEV_DAEMON_REPEAT,
	  .help = "One more LUN, served from an NBD export: "
		  "nbd+unix:///NAME?socket=PATH or nbd://HOST[:PORT]/NAME. "
		  "Images in other formats (qcow2, vmdk, ...) are served "
		  "this way, through qemu-nbd or nbdkit. The exports follow "
		  "the IMAGE LUNs, in order.",
	  .parse = parse_nbd },
	{ .name = "format", .type = VDEV_DAEMON_CALL, .arg = "auto|raw",
	  .def = "auto",
	  .help = "auto refuses an image file that holds another format "
		  "(qcow2, vmdk, vdi, vhdx, ...); raw serves its bytes as "
		  "they are.",
	  .parse = parse_format },
	{ .name = "backend", .type = VDEV_DAEMON_CALL,
	  .arg = "auto|uring|sync", .def = "auto",
	  .help = "How the image files are served: io_uring, or "
		  "synchronous calls; auto takes io_uring when the kernel "
		  "allows it.",
	  .parse = parse_backend },
	{ .name = "read-only", .short_name = 'r', .type = VDEV_DAEMON_FLAG,
	  .help = "Every LUN write-protected.", F(cfg.read_only) },
	{ .name = "solid-state", .type = VDEV_DAEMON_FLAG,
	  .help = "Report a non-rotating medium for every LUN (without "
		  "it, for those on tmpfs or a non-rotational disk).",
	  F(cfg.solid_state) },
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

	/* The --nbd exports follow the files. */
	if (o->cfg.num_luns + o->nnbd > VDEV_SCSI_MAX_LUNS) {
		fprintf(stderr, "%s: at most %u LUNs\n", PROG,
			VDEV_SCSI_MAX_LUNS);
		return -EINVAL;
	}
	for (unsigned i = 0; i < o->cfg.num_luns; i++)
		if (vdev_daemon_check_image(PROG, "IMAGE", o->paths[i],
					    o->cfg.read_only,
					    o->cfg.format ==
						    VDEV_IMAGE_FORMAT_RAW) < 0)
			return -EINVAL;
	for (unsigned i = 0; i < o->nnbd; i++)
		o->uris[o->cfg.num_luns++] = o->nbd[i];
	if (!o->cfg.num_luns) {
		fprintf(stderr, "%s: at least one IMAGE or --nbd URI is "
			"needed\n", PROG);
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

/* Which IMAGE holds another format, and what to do about it. */
static void explain(const struct scsi_opts *o)
{
	for (unsigned i = 0; i < o->cfg.num_luns; i++) {
		const char *fmt;
		int fd;

		if (!o->paths[i])
			continue;
		fd = open(o->paths[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		fmt = vdev_image_probe(fd);
		close(fd);
		if (fmt && strcmp(fmt, "raw")) {
			vdev_daemon_explain_format(PROG, "IMAGE", o->paths[i]);
			return;
		}
	}
}

static struct vdev *scsi_create(void *ctx,
				 const struct vdev_daemon_instance *in)
{
	struct scsi_opts *o = ctx;
	struct vdev_scsi_config cfg = o->cfg;
	struct vdev *dev;

	cfg.paths = o->paths;
	cfg.nbd_uris = o->nnbd ? o->uris : NULL;
	cfg.queue_size = in->queue_size;
	cfg.num_queues = in->num_queues;
	dev = vdev_scsi_new(&cfg);
	if (!dev) {
		int err = errno;

		if (err == EMEDIUMTYPE)
			explain(o);
		else
			fprintf(stderr, "%s: cannot serve the LUNs: %s (see "
				"the lines above)\n", PROG, strerror(err));
		errno = err;
		return NULL;
	}
	fprintf(stderr, "%s: %u LUN%s, %s backend%s\n", PROG, cfg.num_luns,
		cfg.num_luns > 1 ? "s" : "",
		vdev_image_backend_name(vdev_scsi_backend(dev)),
		cfg.read_only ? ", read-only" : "");
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
		.operands_help = "Raw image files or block devices, one LUN "
				 "each.",
		.operand = scsi_operand,
		.num_queues_max = 64,
		.check = scsi_check,
		.create = scsi_create,
	};
	struct scsi_opts o = { .cfg = { 0 } };

	return vdev_daemon_main(&d, &o, argc, argv);
}
