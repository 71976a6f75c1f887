/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev-rng: the virtio-rng back-end daemon, with the options of rust-vmm's
 * vhost-device-rng (-f/--filename, -m/--max-bytes, -p/--period) and the
 * common ones of include/virtio/daemon.h.
 */
#include <stdint.h>
#include <virtio/daemon.h>
#include <virtio/rng.h>

struct rng_opts {
	const char *filename;
	uint64_t max_bytes;
	uint32_t period_ms; /* 0: not given */
};

#define F(member) VDEV_DAEMON_FIELD(struct rng_opts, member)

static const struct vdev_daemon_option rng_options[] = {
	{ .name = "filename", .short_name = 'f', .type = VDEV_DAEMON_STRING,
	  .arg = "FILE", .def = "/dev/urandom",
	  .help = "Random source; a regular file is read in a loop.",
	  F(filename) },
	{ .name = "max-bytes", .short_name = 'm', .type = VDEV_DAEMON_UINT,
	  .arg = "N", .def = "no limit",
	  .help = "At most N bytes per period.", F(max_bytes) },
	{ .name = "period", .short_name = 'p', .type = VDEV_DAEMON_UINT,
	  .arg = "MS", .def = "1000",
	  .help = "Rate-limit period in milliseconds.",
	  .min = 1, .max = UINT32_MAX, F(period_ms) },
	{ 0 },
};

static struct vdev *rng_create(void *ctx, const struct vdev_daemon_instance *in)
{
	const struct rng_opts *o = ctx;
	struct vdev_rng_config cfg = {
		.source = o->filename,
		.max_bytes = o->max_bytes,
		/* A byte budget needs a period; rust-vmm's default is 1 s. */
		.period_ms = !o->max_bytes ? 0 : o->period_ms ? o->period_ms :
								 1000,
		.queue_size = in->queue_size,
	};

	return vdev_rng_new(&cfg);
}

int main(int argc, char **argv)
{
	static const struct vdev_daemon d = {
		.name = "vdev-rng",
		.type = "rng",
		.summary = "virtio-rng device back-end (libvdev)",
		.options = rng_options,
		.create = rng_create,
	};
	struct rng_opts o = { .filename = "/dev/urandom" };

	return vdev_daemon_main(&d, &o, argc, argv);
}
