/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev-rng: the virtio-rng back-end daemon, a drop-in for rust-vmm's
 * vhost-device-rng: its options (-f/--rng-source, -m/--max-bytes,
 * -p/--period, -c/--socket-count with numbered sockets), its defaults (a
 * 65536 ms period, no byte limit) and its split of --max-bytes between
 * the sockets; and the common options of include/virtio/daemon.h.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <virtio/daemon.h>
#include <virtio/rng.h>

#define PROG "vdev-rng"
/* vhost-device-rng's (and QEMU's virtio-rng's) longest period. */
#define PERIOD_MAX_MS 65536

struct rng_opts {
	const char *source;
	uint64_t max_bytes; /* 0: no limit */
	uint32_t period_ms;
};

#define F(member) VDEV_DAEMON_FIELD(struct rng_opts, member)

static const struct vdev_daemon_option rng_options[] = {
	{ .name = "rng-source", .short_name = 'f', .type = VDEV_DAEMON_STRING,
	  .arg = "FILE", .def = "/dev/urandom",
	  .help = "Random source; a regular file is read in a loop.",
	  F(source) },
	{ .name = "filename", .type = VDEV_DAEMON_STRING, .arg = "FILE",
	  .help = "The same as --rng-source (older vhost-device-rng).",
	  F(source) },
	{ .name = "max-bytes", .short_name = 'm', .type = VDEV_DAEMON_UINT,
	  .arg = "N", .def = "no limit",
	  .help = "At most N bytes per period, split evenly between the "
		  "sockets.",
	  .min = 1, .max = UINT64_MAX, F(max_bytes) },
	{ .name = "period", .short_name = 'p', .type = VDEV_DAEMON_UINT,
	  .arg = "MS", .def = "65536",
	  .help = "Rate-limit period in milliseconds, 1 to 65536.",
	  .min = 1, .max = PERIOD_MAX_MS, F(period_ms) },
	{ 0 },
};

static int rng_check(void *ctx, const struct vdev_daemon_instance *in)
{
	const struct rng_opts *o = ctx;

	if (o->max_bytes && o->max_bytes < in->count) {
		fprintf(stderr, "%s: --max-bytes %llu split between %u sockets "
			"leaves nothing for each: give at least %u\n", PROG,
			(unsigned long long)o->max_bytes, in->count,
			in->count);
		return -EINVAL;
	}
	return 0;
}

static struct vdev *rng_create(void *ctx, const struct vdev_daemon_instance *in)
{
	const struct rng_opts *o = ctx;
	struct vdev_rng_config cfg = {
		.source = o->source,
		/* One budget for the host, shared out as vhost-device-rng
		 * does, so N guests cannot drain N times the rate. */
		.max_bytes = o->max_bytes / in->count,
		.period_ms = o->max_bytes ? o->period_ms : 0,
		.queue_size = in->queue_size,
	};
	struct vdev *dev = vdev_rng_new(&cfg);

	if (!dev && (errno == ENOENT || errno == EACCES || errno == EPERM ||
		     errno == EISDIR || errno == ENXIO || errno == EINVAL))
		fprintf(stderr, "%s: --rng-source %s: %s\n", PROG, o->source,
			errno == ENOENT ? "no such file" :
			errno == EISDIR ? "a directory, not a source" :
			errno == EINVAL ? "an empty file: nothing to hand out" :
					  "the daemon's user cannot read it");
	return dev;
}

int main(int argc, char **argv)
{
	static const struct vdev_daemon d = {
		.name = PROG,
		.type = "rng",
		.summary = "virtio-rng device back-end (libvdev)",
		.options = rng_options,
		.check = rng_check,
		.create = rng_create,
	};
	struct rng_opts o = { .source = "/dev/urandom",
			      .period_ms = PERIOD_MAX_MS };

	return vdev_daemon_main(&d, &o, argc, argv);
}
