/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev-blk: the virtio-blk back-end daemon, with the options of QEMU's
 * vhost-user-blk and vhost-user.rst's block conventions (-b/--blk-file,
 * -r/--read-only), an NBD export instead of a file (--nbd), cache and
 * backend choices, and the common ones of include/virtio/daemon.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <virtio/blk.h>
#include <virtio/caps.h>
#include <virtio/daemon.h>

#define PROG "vdev-blk"

struct blk_opts {
	struct vdev_blk_config cfg;
};

#define F(member) VDEV_DAEMON_FIELD(struct blk_opts, member)

static int parse_serial(void *ctx, const char *arg)
{
	struct blk_opts *o = ctx;

	if (strlen(arg) > VDEV_BLK_ID_BYTES) {
		fprintf(stderr, "%s: --serial: at most %u bytes\n", PROG,
			VDEV_BLK_ID_BYTES);
		return -EINVAL;
	}
	o->cfg.serial = arg;
	return 0;
}

static int parse_backend(void *ctx, const char *arg)
{
	struct blk_opts *o = ctx;

	if (vdev_blk_backend_parse(arg, &o->cfg.backend) < 0) {
		fprintf(stderr, "%s: --backend: '%s' is not one of auto, uring, "
			"sync, null, ram\n", PROG, arg);
		return -EINVAL;
	}
	return 0;
}

static int parse_block_size(void *ctx, const char *arg)
{
	struct blk_opts *o = ctx;
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

static int parse_format(void *ctx, const char *arg)
{
	struct blk_opts *o = ctx;

	if (!strcmp(arg, "raw")) {
		o->cfg.format = VDEV_IMAGE_FORMAT_RAW;
		return 0;
	}
	if (!strcmp(arg, "auto")) {
		o->cfg.format = VDEV_IMAGE_FORMAT_AUTO;
		return 0;
	}
	fprintf(stderr, "%s: --format: '%s' is not raw or auto; other "
		"formats are served through --nbd (qemu-nbd, nbdkit)\n", PROG,
		arg);
	return -EINVAL;
}

static const struct vdev_daemon_option blk_options[] = {
	{ .name = "blk-file", .short_name = 'b', .type = VDEV_DAEMON_STRING,
	  .arg = "IMAGE", .flags = VDEV_DAEMON_CAPABILITY,
	  .help = "Raw image file or block device (uring and sync "
		  "backends).",
	  F(cfg.path) },
	{ .name = "nbd", .type = VDEV_DAEMON_STRING, .arg = "URI",
	  .help = "Serve an NBD export instead of a file: "
		  "nbd+unix:///NAME?socket=PATH or nbd://HOST[:PORT]/NAME. "
		  "Images in other formats (qcow2, vmdk, ...) are served "
		  "this way, through qemu-nbd or nbdkit.",
	  F(cfg.nbd_uri) },
	{ .name = "format", .type = VDEV_DAEMON_CALL, .arg = "auto|raw",
	  .def = "auto",
	  .help = "auto refuses a file that holds another format (qcow2, "
		  "vmdk, vdi, vhdx, ...); raw serves its bytes as they are.",
	  .parse = parse_format },
	{ .name = "read-only", .short_name = 'r', .type = VDEV_DAEMON_FLAG,
	  .flags = VDEV_DAEMON_CAPABILITY,
	  .help = "Refuse writes (VIRTIO_BLK_F_RO).", F(cfg.read_only) },
	{ .name = "serial", .type = VDEV_DAEMON_CALL, .arg = "ID",
	  .help = "GET_ID string, up to 20 bytes.", .parse = parse_serial },
	{ .name = "direct", .type = VDEV_DAEMON_FLAG,
	  .help = "O_DIRECT: bypass the host page cache.", F(cfg.direct) },
	{ .name = "backend", .type = VDEV_DAEMON_CALL,
	  .arg = "auto|uring|sync|null|ram", .def = "auto",
	  .help = "How the image is served: io_uring, synchronous calls on "
		  "the queue thread, a null disk or a RAM disk; auto takes "
		  "io_uring when the kernel allows it, else sync.",
	  .parse = parse_backend },
	{ .name = "writethrough", .type = VDEV_DAEMON_FLAG,
	  .help = "Start in writethrough cache mode.", F(cfg.writethrough) },
	{ .name = "logical-block-size", .type = VDEV_DAEMON_CALL,
	  .arg = "512|4096", .def = "512",
	  .help = "Logical block size the guest sees.",
	  .parse = parse_block_size },
	{ .name = "size", .type = VDEV_DAEMON_UINT, .arg = "BYTES",
	  .def = "64 MiB",
	  .help = "Capacity of a null or RAM disk.", .min = 512,
	  .max = UINT64_MAX, F(cfg.size) },
	{ 0 },
};

static bool memory_backend(const struct blk_opts *o)
{
	return o->cfg.backend == VDEV_BLK_BACKEND_NULL ||
	       o->cfg.backend == VDEV_BLK_BACKEND_RAM;
}

static int blk_check(void *ctx, const struct vdev_daemon_instance *in)
{
	struct blk_opts *o = ctx;

	if (o->cfg.nbd_uri) {
		if (!vdev_has_capability(VDEV_CAP_BACKEND, "libnbd")) {
			fprintf(stderr, "%s: --nbd: this build of libvdev has "
				"no NBD support (libnbd)\n", PROG);
			return -ENOTSUP;
		}
		if (o->cfg.path || memory_backend(o) || o->cfg.direct ||
		    o->cfg.size || o->cfg.format) {
			fprintf(stderr, "%s: --nbd serves the export alone: "
				"no --blk-file, --backend null|ram, --direct, "
				"--size or --format with it\n", PROG);
			return -EINVAL;
		}
		o->cfg.backend = VDEV_BLK_BACKEND_NBD;
	} else if (memory_backend(o)) {
		if (o->cfg.path) {
			fprintf(stderr, "%s: --blk-file makes no sense with "
				"--backend %s\n", PROG,
				vdev_blk_backend_name(o->cfg.backend));
			return -EINVAL;
		}
	} else if (!o->cfg.path) {
		fprintf(stderr, "%s: --blk-file IMAGE or --nbd URI is "
			"needed\n", PROG);
		return -EINVAL;
	} else if (vdev_daemon_check_image(PROG, "--blk-file", o->cfg.path,
					   o->cfg.read_only,
					   o->cfg.format ==
						   VDEV_IMAGE_FORMAT_RAW) < 0) {
		return -EINVAL;
	}
	if (o->cfg.size && !memory_backend(o)) {
		fprintf(stderr, "%s: --size is for --backend null|ram; an "
			"image has its own\n", PROG);
		return -EINVAL;
	}
	/* Two guests writing one image without coordination corrupt it. */
	if (in->count > 1 && !memory_backend(o)) {
		fprintf(stderr, "%s: one image serves one device; use one "
			"daemon per image\n", PROG);
		return -EINVAL;
	}
	return 0;
}

static struct vdev *blk_create(void *ctx, const struct vdev_daemon_instance *in)
{
	struct blk_opts *o = ctx;
	struct vdev_blk_config cfg = o->cfg;
	struct vdev *dev;

	cfg.queue_size = in->queue_size;
	cfg.num_queues = in->num_queues;
	dev = vdev_blk_new(&cfg);
	if (!dev && errno == EMEDIUMTYPE)
		vdev_daemon_explain_format(PROG, "--blk-file", cfg.path);
	if (dev && in->index == 0)
		fprintf(stderr, "%s: %s backend%s\n", PROG,
			vdev_blk_backend_name(vdev_blk_backend(dev)),
			cfg.read_only ? ", read-only" : "");
	return dev;
}

int main(int argc, char **argv)
{
	static const struct vdev_daemon d = {
		.name = PROG,
		.type = "block",
		.summary = "virtio-blk device back-end (libvdev)",
		.options = blk_options,
		.num_queues_max = 256,
		.check = blk_check,
		.create = blk_create,
	};
	struct blk_opts o = { .cfg = { .fd = -1 } };

	return vdev_daemon_main(&d, &o, argc, argv);
}
