/* SPDX-License-Identifier: BSD-3-Clause */
/* vdev-tick: the event template as a daemon (include/virtio/daemon.h). */
#include <virtio/daemon.h>

#include "tick.h"

static const struct vdev_daemon_option options[] = {
	{ .name = "period", .short_name = 'p', .type = VDEV_DAEMON_UINT,
	  .arg = "MS", .def = "1000",
	  .help = "Period of the TICK events in milliseconds; 0: none.",
	  .max = 3600000, VDEV_DAEMON_FIELD(struct tick_params, period_ms) },
	{ 0 },
};

static struct vdev *create(void *ctx, const struct vdev_daemon_instance *in)
{
	struct tick_params p = *(const struct tick_params *)ctx;

	p.queue_size = in->queue_size;
	return tick_new(&p);
}

int main(int argc, char **argv)
{
	static const struct vdev_daemon d = {
		.name = "vdev-tick",
		.type = "tick",
		.summary = "the libvdev event template (timer and injected "
			   "events)",
		.options = options,
		.create = create,
	};
	struct tick_params p = { .period_ms = 1000 };

	return vdev_daemon_main(&d, &p, argc, argv);
}
