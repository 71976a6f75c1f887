/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev-rng: a virtio-rng back-end daemon (vhost-user by default), with the
 * options of rust-vmm's vhost-device-rng: -f/--filename, -m/--max-bytes,
 * -p/--period, plus the common daemon options (examples/daemon).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <virtio/rng.h>

#include "daemon.h"

struct rng_opts {
	const char *filename;
	unsigned long long max_bytes;
	unsigned long long period_ms;
	bool period_set;
};

static const struct option rng_options[] = {
	{ "filename", required_argument, NULL, 'f' },
	{ "max-bytes", required_argument, NULL, 'm' },
	{ "period", required_argument, NULL, 'p' },
	{ 0 },
};

static int rng_parse(void *ctx, int opt, const char *arg)
{
	struct rng_opts *o = ctx;

	switch (opt) {
	case 'f':
		o->filename = arg;
		return 0;
	case 'm':
		return vdevd_parse_u64("vdev-rng", "--max-bytes", arg,
				       &o->max_bytes);
	case 'p':
		o->period_set = true;
		return vdevd_parse_u64("vdev-rng", "--period", arg,
				       &o->period_ms);
	default:
		return -EINVAL;
	}
}

static int rng_check(void *ctx)
{
	struct rng_opts *o = ctx;

	if (o->period_set && (o->period_ms == 0 || o->period_ms > UINT32_MAX)) {
		fprintf(stderr, "vdev-rng: --period must be 1..%u ms\n",
			UINT32_MAX);
		return -EINVAL;
	}
	/* A byte budget needs a period; rust-vmm's default is one second. */
	if (o->max_bytes && !o->period_set)
		o->period_ms = 1000;
	return 0;
}

static struct vdev *rng_create(void *ctx, unsigned index)
{
	struct rng_opts *o = ctx;
	struct vdev_rng_config cfg = {
		.source = o->filename,
		.max_bytes = o->max_bytes,
		.period_ms = o->max_bytes ? (uint32_t)o->period_ms : 0,
	};

	return vdev_rng_new(&cfg);
}

int main(int argc, char **argv)
{
	static const struct vdevd_program prog = {
		.name = "vdev-rng",
		.type = "rng",
		.summary = "virtio-rng device back-end (libvdev)",
		.usage =
		"  -f, --filename FILE      random source (default /dev/urandom;\n"
		"                           a regular file is read in a loop)\n"
		"  -m, --max-bytes N        at most N bytes per period (default: no limit)\n"
		"  -p, --period MS          rate-limit period in ms (default 1000)\n",
		.options = rng_options,
		.shortopts = "f:m:p:",
		.parse = rng_parse,
		.check = rng_check,
		.create = rng_create,
	};
	struct rng_opts o = { .filename = "/dev/urandom" };

	return vdevd_main(&prog, &o, argc, argv);
}
