/* SPDX-License-Identifier: BSD-3-Clause */
/* vdev-template: the template device as a daemon (include/virtio/daemon.h):
 * its one option, and every common option of libvdev-daemon. */
#include <virtio/daemon.h>

#include "template.h"

static const struct vdev_daemon_option options[] = {
	{ .name = "max-len", .type = VDEV_DAEMON_UINT, .arg = "BYTES",
	  .help = "Longest request the device serves.", .def = "4096",
	  .min = 1, .max = TPL_MAX_LEN,
	  VDEV_DAEMON_FIELD(struct tpl_params, max_len) },
	{ 0 },
};

static struct vdev *create(void *ctx, const struct vdev_daemon_instance *in)
{
	struct tpl_params p = *(const struct tpl_params *)ctx;

	p.queue_size = in->queue_size;
	return tpl_new(&p);
}

int main(int argc, char **argv)
{
	static const struct vdev_daemon d = {
		.name = "vdev-template",
		.type = "template",
		.summary = "the libvdev template device (an XOR echo)",
		.options = options,
		.create = create,
	};
	struct tpl_params p = { .max_len = 4096 };

	return vdev_daemon_main(&d, &p, argc, argv);
}
