/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Listening UNIX sockets that appear at their path ready (internal API,
 * not exported). peer_listen.c is compiled into libvdev, for the
 * adapters' sockets, and into libvdev-daemon, for --stats-socket: each
 * library keeps its copy hidden, and both copies define the same
 * symbols, so a static link pulls one of them, never both.
 */
#ifndef VDEV_PEER_LISTEN_H
#define VDEV_PEER_LISTEN_H

#include <stdbool.h>

/*
 * Before a listening socket is bound at @path: 0 when the path is free (a
 * stale socket, whose process is gone, is removed first), -EADDRINUSE
 * when a process still accepts connections there (a second daemon must
 * not take a live socket over), -EEXIST when it is another kind of file,
 * or another negative errno from the probe.
 */
int vpeer_claim_socket_path(const char *path);

/* Who may connect to a socket: its group and permission bits. */
struct vpeer_sockperm {
	bool set_gid;
	bool set_mode;
	unsigned gid;
	unsigned mode; /* 0 .. 0777 */
};

/*
 * A socket listening at @path (@perm: its group and mode, or NULL for
 * what bind() gives), which appears there only once it listens with them
 * (peer_listen.c). A stale socket at @path is replaced first; see
 * vpeer_claim_socket_path() for the refusals. Returns the fd, or
 * -EINVAL (empty path, longer than sun_path, mode above 0777), or
 * another negative errno (chown's EPERM for a group the process may not
 * give).
 */
int vpeer_listen_unix(const char *path, int backlog,
		      const struct vpeer_sockperm *perm);

#endif /* VDEV_PEER_LISTEN_H */
