/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Internals of libvdev-daemon (include/virtio/daemon.h): the common
 * options, the option list a daemon ends up with, the transports.
 */
#ifndef VDEV_DAEMON_INTERNAL_H
#define VDEV_DAEMON_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <virtio/daemon.h>

/* Values of the common options (options.c holds their table). */
struct vdd_common {
	const char *socket_path;
	uint32_t socket_count;     /* 0: not given (one socket, PATH as is) */
	const char *socket_group;  /* --socket-group, as given */
	const char *socket_mode;   /* --socket-mode, as given */
	unsigned log_level;        /* enum vdev_log_level; VDD_UNSET: none */
	unsigned verbose;          /* -v given this many times */
	unsigned log_target;       /* enum vdd_log_target */
	int32_t fd;                /* -1: not given */
	unsigned transport;        /* index in the offered transports */
	bool connect;
	bool thread_per_queue;
	bool thread_per_device;
	bool inband;
	bool no_config_messages;   /* --no-config-messages */
	uint32_t poll_us;
	uint16_t queue_size;
	uint16_t num_queues;
	const char *stats_socket;  /* --stats-socket */
	bool print_caps;
	unsigned print_doc;        /* enum vdd_doc */
	const char *descriptor_binary;
	bool help;
	bool version;
	bool no_sandbox;
	const char *user;          /* --user, --group: NULL when not given */
	const char *group;
	uid_t uid;                 /* resolved; -1: unchanged */
	gid_t gid;
};

#define VDD_UNSET 0x7fffffffu

enum vdd_doc { VDD_DOC_MAN, VDD_DOC_MARKDOWN, VDD_DOC_NONE = VDD_UNSET };

enum vdd_log_target { VDD_LOG_STDERR, VDD_LOG_SYSLOG, VDD_LOG_JOURNALD };

#define VDD_DEFAULT_QUEUE_SIZE 1024
#define VDD_MAX_SOCKETS 64

/* One option of a daemon's command line, with the struct its value goes
 * into (the common values or the daemon's ctx). */
struct vdd_opt {
	const struct vdev_daemon_option *o;
	bool common;
};

/* Every option of @d: the common ones, then the daemon's. *out is
 * malloc'd. -EINVAL (reason on stderr) when the tables are inconsistent. */
int vdd_collect(const struct vdev_daemon *d, struct vdd_opt **out,
		size_t *n);
void vdd_release(struct vdd_opt *v);

/* Parses @argv; 0, or -EINVAL after printing what is wrong. */
int vdd_parse(const struct vdev_daemon *d, void *ctx, struct vdd_common *c,
	      int argc, char **argv);

/* The largest --num-queues of @d. */
uint16_t vdd_num_queues_max(const struct vdev_daemon *d);

/* Transports (transports.c): the NULL-terminated names of those this
 * library can serve through and libvdev's capability table lists. */
const char *const *vdd_transport_choices(void);

struct vdd_endpoint {
	const char *path;      /* socket path; NULL when @fd is used */
	int fd;                /* inherited socket (--fd), else -1 */
	bool connect;          /* connect to @path instead of listening */
	bool thread_per_queue; /* one worker per queue, not per device */
	bool inband;           /* vhost-user: offer INBAND_NOTIFICATIONS */
	unsigned poll_us;      /* vhost-user: busy-poll window, 0 = none */
	bool no_config;        /* vhost-user: never offer PROTOCOL_F_CONFIG */
	/* The listening socket's group and mode, set by the adapter
	 * before the path appears (--socket-group, --socket-mode). */
	bool set_gid, set_mode;
	unsigned gid, mode;
};

struct vdd_transport {
	/* Opens the endpoint for @dev (which outlives the handle). NULL
	 * with errno set on failure. */
	void *(*open)(struct vdev *dev, const struct vdd_endpoint *ep);
	/* Serves until stop(), or until a one-shot connection (an
	 * inherited or connected socket) ends. 0 or a negative errno. */
	int (*run)(void *h);
	/* Makes run() return soon; async-signal-safe. */
	void (*stop)(void *h);
	/* Closes everything, removes the socket file it created. */
	void (*close)(void *h);
};

/* The transport called @name, or NULL. */
const struct vdd_transport *vdd_transport_find(const char *name);

/* Logging (log.c): routes libvdev's messages to the sink the common
 * options chose, at their level. 0, or -1 after saying what failed. */
int vdd_log_setup(const char *prog, const struct vdd_common *c);

/* Sockets (socket.c): the checks and the ownership of the sockets a
 * daemon creates (--socket-group, --socket-mode). */
struct vdd_sockperm {
	bool set_gid, set_mode;
	unsigned gid;
	unsigned mode;
};
int vdd_sockperm_parse(const char *prog, const struct vdd_common *c,
		       struct vdd_sockperm *p);
size_t vdd_socket_path_max(void);
/* The daemon table @d (@dsize bytes, its options @osize bytes each, as
 * the program was compiled) in this library's layout: *@c, with its
 * options in *@opts (free() it). 0, -EINVAL (NULL, a size refused, no
 * end to the options) or -ENOMEM. */
int vdd_daemon_in(const struct vdev_daemon *d, size_t dsize, size_t osize,
		  struct vdev_daemon *c, struct vdev_daemon_option **opts);
/* Says in one line why the socket @path (or the inherited --fd) could not
 * be served, from the transport's errno @err (@p: the group and mode it
 * was to get). */
void vdd_explain_endpoint(const char *prog, const char *tname,
			  const char *path, int fd, int err,
			  const struct vdd_sockperm *p);
/* --user/--group (privs.c): looks the names up (before any device is
 * made: NSS may need files and sockets); 0 or -EINVAL/-EPERM after
 * printing why. */
int vdd_privs_resolve(const char *prog, struct vdd_common *c);
/* Gives the socket files @paths to the user, then switches group and
 * user for good; 0 or a negative errno after printing why. */
int vdd_privs_drop(const char *prog, const struct vdd_common *c,
		   const char *const *paths, unsigned n);

/* Statistics (stats.c) of the devices a daemon serves. */
struct vdd_stats_dev {
	struct vdev *dev;  /* NULL: not made (yet) */
	const char *path;  /* its socket, or NULL for --fd */
};
/* @s as a JSON string, quoted and escaped (doc.c). */
void vdd_json_str(FILE *f, const char *s);
/* The ctx of vdev_daemon_main(), for the counters hook. */
void vdd_stats_set_ctx(void *ctx);
int vdd_stats_json(const struct vdev_daemon *d,
		   const struct vdd_stats_dev *devs, unsigned n, FILE *f);
void vdd_stats_log(const struct vdev_daemon *d,
		   const struct vdd_stats_dev *devs, unsigned n);
/* The listening --stats-socket, with the device sockets' group and mode
 * (@p) from the moment it appears; or -1 after saying why not. */
int vdd_stats_listen(const char *prog, const char *path,
		     const struct vdd_sockperm *p);
/* Accepts one connection on @lfd and writes the JSON to it. */
void vdd_stats_answer(const struct vdev_daemon *d, int lfd,
		      const struct vdd_stats_dev *devs, unsigned n);
/* Writes @msg to the log whatever its level (log.c). */
void vdd_log_always(const char *msg);

/* The help line of an option's argument ("PATH", "a|b|c"), or NULL. */
const char *vdd_arg_name(const struct vdev_daemon_option *o, char *buf,
			 size_t len);

#endif /* VDEV_DAEMON_INTERNAL_H */
