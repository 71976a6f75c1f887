/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A line-oriented control socket for a device's simulated backend (the
 * gpio chip's inputs, the i2c sensor's temperature): a UNIX stream socket
 * whose connections send one command per line and get one reply line
 * each. Served on a queue's thread through the device's watched fds, so a
 * command runs like a request does; no thread of its own.
 *
 * A client is a peer like any other: a line longer than the buffer, or a
 * client that does not read its replies (a send that would block), closes
 * that connection and nothing else; at most VCTL_CONNS at once (the next
 * one is told and closed).
 */
#ifndef VDEV_CTLSOCK_H
#define VDEV_CTLSOCK_H

#include <stddef.h>
#include <virtio/device.h>

#define VCTL_CONNS 8
#define VCTL_LINE_MAX 256

struct vctl;

/* Runs one command (@line without its newline); writes the reply, without
 * a newline, to @reply (@len bytes). */
typedef void (*vctl_cmd_fn)(void *arg, char *line, char *reply, size_t len);

/*
 * Binds @path: a stale socket (nobody listening) is replaced, a live one
 * (-EADDRINUSE) or any other file (-EEXIST) is not. NULL with errno.
 */
struct vctl *vctl_new(const char *path);
/* Starts serving on queue @qidx's thread of @dev. Negative errno. */
int vctl_start(struct vctl *c, struct vdev *dev, unsigned qidx,
	       vctl_cmd_fn fn, void *arg);
/* Unwatches (when started), closes, removes the socket file. Accepts
 * NULL. */
void vctl_free(struct vctl *c);

#endif
