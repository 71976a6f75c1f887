/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev-blk: a virtio-blk back-end daemon (vhost-user by default), with the
 * options of QEMU's vhost-user-blk and vhost-user.rst's block conventions
 * (-b/--blk-file, -r/--read-only), plus queue, cache and backend choices
 * and the common daemon options (examples/daemon).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <virtio/blk.h>
#include <virtio/spec.h>

#include "daemon.h"

#define PROG "vdev-blk"

enum {
	OPT_NUM_QUEUES = 0x200,
	OPT_QUEUE_SIZE,
	OPT_SERIAL,
	OPT_DIRECT,
	OPT_BACKEND,
	OPT_WRITETHROUGH,
	OPT_BLOCK_SIZE,
	OPT_SIZE,
};

struct blk_opts {
	struct vdev_blk_config cfg;
	bool size_set;
};

static const struct option blk_options[] = {
	{ "blk-file", required_argument, NULL, 'b' },
	{ "read-only", no_argument, NULL, 'r' },
	{ "num-queues", required_argument, NULL, OPT_NUM_QUEUES },
	{ "queue-size", required_argument, NULL, OPT_QUEUE_SIZE },
	{ "serial", required_argument, NULL, OPT_SERIAL },
	{ "direct", no_argument, NULL, OPT_DIRECT },
	{ "backend", required_argument, NULL, OPT_BACKEND },
	{ "writethrough", no_argument, NULL, OPT_WRITETHROUGH },
	{ "logical-block-size", required_argument, NULL, OPT_BLOCK_SIZE },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ 0 },
};

static int blk_parse(void *ctx, int opt, const char *arg)
{
	struct blk_opts *o = ctx;
	unsigned long long v;
	int ret;

	switch (opt) {
	case 'b':
		o->cfg.path = arg;
		return 0;
	case 'r':
		o->cfg.read_only = true;
		return 0;
	case OPT_NUM_QUEUES:
		ret = vdevd_parse_range(PROG, "--num-queues", arg, 1, 256, &v);
		o->cfg.num_queues = (uint16_t)v;
		return ret;
	case OPT_QUEUE_SIZE:
		ret = vdevd_parse_range(PROG, "--queue-size", arg, 1,
					VDEV_QUEUE_SIZE_MAX, &v);
		o->cfg.queue_size = (uint16_t)v;
		return ret;
	case OPT_SERIAL:
		if (strlen(arg) > VDEV_BLK_ID_BYTES) {
			fprintf(stderr, "%s: --serial: at most %u bytes\n",
				PROG, VDEV_BLK_ID_BYTES);
			return -EINVAL;
		}
		o->cfg.serial = arg;
		return 0;
	case OPT_DIRECT:
		o->cfg.direct = true;
		return 0;
	case OPT_BACKEND:
		if (vdev_blk_backend_parse(arg, &o->cfg.backend) < 0) {
			fprintf(stderr,
				"%s: --backend: '%s' is not one of auto, "
				"uring, sync, null, ram\n",
				PROG, arg);
			return -EINVAL;
		}
		return 0;
	case OPT_WRITETHROUGH:
		o->cfg.writethrough = true;
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
	case OPT_SIZE:
		o->size_set = true;
		ret = vdevd_parse_range(PROG, "--size", arg, 512, UINT64_MAX, &v);
		o->cfg.size = v;
		return ret;
	default:
		return -EINVAL;
	}
}

static bool memory_backend(const struct blk_opts *o)
{
	return o->cfg.backend == VDEV_BLK_BACKEND_NULL ||
	       o->cfg.backend == VDEV_BLK_BACKEND_RAM;
}

static int blk_check(void *ctx)
{
	struct blk_opts *o = ctx;

	if (memory_backend(o)) {
		if (o->cfg.path) {
			fprintf(stderr,
				"%s: --blk-file makes no sense with --backend "
				"%s\n",
				PROG, vdev_blk_backend_name(o->cfg.backend));
			return -EINVAL;
		}
		return 0;
	}
	if (!o->cfg.path) {
		fprintf(stderr, "%s: --blk-file IMAGE is needed\n", PROG);
		return -EINVAL;
	}
	if (o->size_set) {
		fprintf(stderr,
			"%s: --size is for --backend null|ram; an image "
			"has its own\n",
			PROG);
		return -EINVAL;
	}
	return 0;
}

static struct vdev *blk_create(void *ctx, unsigned index)
{
	struct blk_opts *o = ctx;
	struct vdev *dev;

	/* Two guests writing one image without coordination corrupt it. */
	if (index > 0 && !memory_backend(o)) {
		fprintf(stderr,
			"%s: one image serves one device; use one daemon per "
			"image\n",
			PROG);
		errno = EINVAL;
		return NULL;
	}
	dev = vdev_blk_new(&o->cfg);
	if (dev && index == 0)
		fprintf(stderr, "%s: %s backend%s\n", PROG,
			vdev_blk_backend_name(vdev_blk_backend(dev)),
			o->cfg.read_only ? ", read-only" : "");
	return dev;
}

int main(int argc, char **argv)
{
	static const char *const features[] = { "read-only", "blk-file", NULL };
	static const struct vdevd_program prog = {
		.name = PROG,
		.type = "block",
		.summary = "virtio-blk device back-end (libvdev)",
		.usage =
		"  -b, --blk-file IMAGE     image file or block device\n"
		"  -r, --read-only          refuse writes (VIRTIO_BLK_F_RO)\n"
		"      --num-queues N       request queues, 1..256 (default 1)\n"
		"      --queue-size N       largest queue size (default 256)\n"
		"      --serial ID          GET_ID string, up to 20 bytes\n"
		"      --direct             O_DIRECT: bypass the host page cache\n"
		"      --backend NAME       auto, uring, sync, null or ram\n"
		"                           (default auto: io_uring when the\n"
		"                           kernel allows it, else sync)\n"
		"      --writethrough       start in writethrough cache mode\n"
		"      --logical-block-size 512|4096 (default 512)\n"
		"      --size BYTES         capacity of a null or ram disk\n"
		"                           (default 64 MiB)\n",
		.features = features,
		.options = blk_options,
		.shortopts = "b:r",
		.parse = blk_parse,
		.check = blk_check,
		.create = blk_create,
	};
	struct blk_opts o = { .cfg = { .fd = -1 } };

	return vdevd_main(&prog, &o, argc, argv);
}
