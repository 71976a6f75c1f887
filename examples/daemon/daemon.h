/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdevd: what every libvdev daemon shares (option parsing in the style of
 * rust-vmm's vhost-device daemons, --print-capabilities as vhost-user.rst
 * "Backend program conventions" asks, signals, one device and one thread
 * per socket) and the transport table the daemon serves devices through.
 *
 * A daemon fills in a `struct vdevd_program` and calls vdevd_main().
 */
#ifndef VDEVD_DAEMON_H
#define VDEVD_DAEMON_H

#include <getopt.h>
#include <stdbool.h>
#include <virtio/device.h>

/* Where one device is served. */
struct vdevd_endpoint {
	const char *path;      /* socket path; NULL when @fd is used */
	int fd;                /* inherited socket (--fd), else -1 */
	bool connect;          /* connect to @path instead of listening */
	bool thread_per_queue; /* one worker per queue, not per device */
	bool inband;           /* vhost-user: offer INBAND_NOTIFICATIONS */
	unsigned poll_us;      /* vhost-user: busy-poll window, 0 = none */
};

/*
 * A transport the daemon can serve a device through (--transport NAME).
 * vhost-user lives in transport_vhost_user.c. Another transport is one new
 * file in examples/daemon/ that defines a `const struct vdevd_transport`
 * named vdevd_transport_<name> and adds it to the weak list in
 * transport.c; nothing else changes.
 */
struct vdevd_transport {
	const char *name;
	/* Opens the endpoint for @dev (which outlives the handle). NULL
	 * with errno set on failure. */
	void *(*open)(struct vdev *dev, const struct vdevd_endpoint *ep);
	/* Serves until stop(), or until a one-shot connection (an inherited
	 * or connected socket) ends. 0 or a negative errno. */
	int (*run)(void *h);
	/* Makes run() return soon. Must be async-signal-safe. */
	void (*stop)(void *h);
	/* Closes everything, removes the socket file it created. */
	void (*close)(void *h);
};

/* The transport called @name, or NULL. */
const struct vdevd_transport *vdevd_transport_find(const char *name);
/* Names of the transports built in, for --help. */
void vdevd_transport_list(char *buf, size_t len);

struct vdevd_program {
	const char *name;      /* "vdev-rng" */
	const char *type;      /* vhost-user backend type: "rng" */
	const char *summary;   /* one line for --help */
	const char *usage;     /* the program's own options, for --help */
	/* Capability features for --print-capabilities (NULL-terminated,
	 * may be NULL). */
	const char *const *features;
	/* The program's own options: getopt_long entries (terminated by a
	 * zero entry) and their short letters ("f:m:p:"). */
	const struct option *options;
	const char *shortopts;
	/* Called for each of the program's own options. 0, or a negative
	 * errno after printing what is wrong. */
	int (*parse)(void *ctx, int opt, const char *arg);
	/* Checks the options once parsed (may be NULL). */
	int (*check)(void *ctx);
	/* A device for socket @index (one per socket). NULL + errno. */
	struct vdev *(*create)(void *ctx, unsigned index);
	/* Arguments after the options (image paths ...), handed over in
	 * order before check(); 0 or a negative errno after printing what
	 * is wrong. NULL: the program takes none. @operands names them in
	 * the usage line ("IMAGE..."). */
	int (*operand)(void *ctx, const char *arg);
	const char *operands;
};

/* Runs the daemon. Returns the process exit status. */
int vdevd_main(const struct vdevd_program *prog, void *ctx, int argc,
	       char **argv);

/* Parses an unsigned number for option @opt; prints an error and returns
 * -EINVAL when @arg is not one. */
int vdevd_parse_u64(const char *prog, const char *opt, const char *arg,
		    unsigned long long *out);

/* The same, and the number must lie in [@lo, @hi]. */
int vdevd_parse_range(const char *prog, const char *opt, const char *arg,
		      unsigned long long lo, unsigned long long hi,
		      unsigned long long *out);

#endif /* VDEVD_DAEMON_H */
