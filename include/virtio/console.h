/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-console (virtio 1.2 section 5.3) with MULTIPORT: ports that are
 * consoles (/dev/hvcN in a Linux guest) or named channels
 * (/dev/vportNpM, /sys/class/virtio-ports/vportNpM/name: how
 * qemu-guest-agent finds org.qemu.guest_agent.0), hot-added and removed
 * while the guest runs, SIZE (a console's rows and columns) and
 * EMERG_WRITE (a byte written to config space goes to port 0 at once).
 *
 * Queues: port 0 rx (0) and tx (1), control rx (2) and tx (3), port n at
 * 2n + 2 and 2n + 3. The control handshake: the driver's DEVICE_READY,
 * DEVICE_ADD for each port, the driver's PORT_READY, then CONSOLE_PORT,
 * PORT_NAME and PORT_OPEN (the host side's state) for that port; the
 * driver's PORT_OPEN says whether the guest has the port open.
 *
 * Each port has a host backend (a pty, a UNIX socket the device listens
 * on, a file, two inherited fds). Data is bytes. The guest's output is
 * buffered per port up to a cap while the host side is away or slow;
 * beyond it the guest is held back (its tx buffers wait in the ring),
 * unless the port drops output. Host input is read only while the guest
 * has rx buffers for it.
 *
 * Threads: a port's backend fds are watched on its own queues' threads;
 * vdev_console_add_port/remove_port/resize are safe from any thread.
 */
#ifndef VIRTIO_CONSOLE_H
#define VIRTIO_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <virtio/api.h>
#include <virtio/device.h>
#include <virtio/le.h>

VDEV_BEGIN_DECLS

/* Feature bits (5.3.3). */
#define VDEV_CONSOLE_F_SIZE        0
#define VDEV_CONSOLE_F_MULTIPORT   1
#define VDEV_CONSOLE_F_EMERG_WRITE 2

/* Control events (5.3.6.2). */
#define VDEV_CONSOLE_DEVICE_READY  0
#define VDEV_CONSOLE_DEVICE_ADD    1
#define VDEV_CONSOLE_DEVICE_REMOVE 2
#define VDEV_CONSOLE_PORT_READY    3
#define VDEV_CONSOLE_CONSOLE_PORT  4
#define VDEV_CONSOLE_RESIZE        5
#define VDEV_CONSOLE_PORT_OPEN     6
#define VDEV_CONSOLE_PORT_NAME     7

#define VDEV_CONSOLE_PORTS_MAX 64   /* ports a device may have */
#define VDEV_CONSOLE_NAME_MAX  127  /* bytes of a port name */

struct vdev_console_config_space {
	vdev_le16 cols;
	vdev_le16 rows;
	vdev_le32 max_nr_ports;
	vdev_le32 emerg_wr;
};

struct vdev_console_control {
	vdev_le32 id;
	vdev_le16 event;
	vdev_le16 value;
};

enum vdev_console_backend {
	VDEV_CONSOLE_NONE,   /* no host side: output dropped or held */
	VDEV_CONSOLE_PTY,    /* a new pseudo-terminal; its path is logged
				and given by vdev_console_pty_path() */
	VDEV_CONSOLE_UNIX,   /* listens on @path, one client at a time:
				the host side is open while it is there */
	VDEV_CONSOLE_FILE,   /* output appended to @path; no input */
	VDEV_CONSOLE_FDS,    /* @in_fd and @out_fd (stdio: 0 and 1); the
				device dup()s them */
	VDEV_CONSOLE_TCP,    /* listens on 127.0.0.1:@tcp_port, one client
				at a time (vhost-device-console's
				"network" backend) */
};

struct vdev_console_port {
	const char *name;    /* PORT_NAME; NULL: none */
	bool console;        /* a console (hvc) rather than a channel */
	enum vdev_console_backend backend;
	const char *path;    /* UNIX, FILE */
	int in_fd, out_fd;   /* FDS; -1: none */
	uint16_t tcp_port;   /* TCP */
	bool drop;           /* drop output while the host side is away
				instead of holding the guest back */
};

struct vdev_console_config {
	const struct vdev_console_port *ports; /* ports 0 .. nports - 1 */
	unsigned nports;
	/* Ports the device has room for (hot-add up to it): max_nr_ports,
	 * 1 .. VDEV_CONSOLE_PORTS_MAX; 0: nports. */
	unsigned max_ports;
	uint16_t cols, rows; /* console size; 0: 80 x 25 */
	size_t buffer;       /* guest output held per port; 0: 64 KiB */
	/* A control socket (NULL: none): lines "resize ID COLS ROWS",
	 * "remove ID", "add ID SPEC" (SPEC as vdev_console_parse_port), each
	 * answered "ok" or "error: ...". */
	const char *control;
	uint16_t queue_size; /* largest ring accepted; 0 = 1024 */
};

/* NULL with errno: EINVAL (bad config, a name too long), or the errno of
 * a backend that could not be set up (EADDRINUSE: a live socket). */
VDEV_API struct vdev *vdev_console_new(const struct vdev_console_config *cfg,
				   size_t size,
				   size_t port_size);
#define vdev_console_new(...) \
	vdev_console_new(__VA_ARGS__, sizeof(struct vdev_console_config), \
			 sizeof(struct vdev_console_port))

/* Adds port @id (a free one below max_ports) while the device runs: the
 * driver hears DEVICE_ADD. -EINVAL, -EEXIST, or a backend's error. */
VDEV_API int vdev_console_add_port(struct vdev *dev, unsigned id,
				   const struct vdev_console_port *port,
				   size_t size);
#define vdev_console_add_port(...) \
	vdev_console_add_port(__VA_ARGS__, sizeof(struct vdev_console_port))
/* Removes port @id: the driver hears DEVICE_REMOVE, the backend is
 * closed and held output is lost. -ENOENT. */
VDEV_API int vdev_console_remove_port(struct vdev *dev, unsigned id);
/* A console's new size: config space (port 0) and a RESIZE message. */
VDEV_API int vdev_console_resize(struct vdev *dev, unsigned id,
				 uint16_t cols, uint16_t rows);
/*
 * Parses a port description, "name=NAME,console=on|off,drop=on|off,
 * backend=pty|unix:PATH|file:PATH|tcp:PORT|stdio|none" (any order, each
 * optional; backend defaults to none), into @p. @spec is cut in place
 * and @p points into it. -EINVAL on anything else.
 */
VDEV_API int vdev_console_parse_port(char *spec, struct vdev_console_port *p,
				     size_t size);
#define vdev_console_parse_port(...) \
	vdev_console_parse_port(__VA_ARGS__, sizeof(struct vdev_console_port))

/* The pty's path of port @id ("/dev/pts/N"), or NULL. */
VDEV_API const char *vdev_console_pty_path(struct vdev *dev, unsigned id);

VDEV_END_DECLS

#endif /* VIRTIO_CONSOLE_H */
