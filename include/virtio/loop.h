/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A small epoll loop for daemons and tests.
 *
 * Nothing in the library requires it: every object that waits exposes an
 * fd and a dispatch call through `struct vdev_watcher` (transport.h), so an
 * embedder can use its own loop (glib, libevent, a VMM's). The loop's own
 * epoll fd can also be nested in another loop (vdev_loop_fd).
 *
 * Threads: vdev_loop_run/run_once on one thread; add/del/stop from any
 * thread (a callback may delete any fd, its own included).
 */
#ifndef VIRTIO_LOOP_H
#define VIRTIO_LOOP_H

#include <stdint.h>
#include <virtio/api.h>
#include <virtio/device.h>
#include <virtio/transport.h>

VDEV_BEGIN_DECLS

struct vdev_loop;

VDEV_API struct vdev_loop *vdev_loop_new(void);
/* Does not close the watched fds. Accepts NULL. */
VDEV_API void vdev_loop_free(struct vdev_loop *loop);

/* @events: EPOLLIN / EPOLLOUT bits. -EEXIST: fd already watched. */
VDEV_API int vdev_loop_add(struct vdev_loop *loop, int fd, uint32_t events,
			   vdev_event_fn fn, void *arg);
VDEV_API int vdev_loop_mod(struct vdev_loop *loop, int fd, uint32_t events);
/* -ENOENT: not watched. */
VDEV_API int vdev_loop_del(struct vdev_loop *loop, int fd);

/* The epoll fd, readable when something is ready. */
VDEV_API int vdev_loop_fd(const struct vdev_loop *loop);

/*
 * Waits up to @timeout_ms (-1 forever) and dispatches what is ready.
 * Returns the number of callbacks run, 0 on timeout, -EINTR on a signal,
 * -ECANCELED once vdev_loop_stop was called.
 */
VDEV_API int vdev_loop_run_once(struct vdev_loop *loop, int timeout_ms);
/* Runs until vdev_loop_stop. Returns 0, or a negative errno on failure. */
VDEV_API int vdev_loop_run(struct vdev_loop *loop);
/* Makes vdev_loop_run return. Async-signal-safe. */
VDEV_API void vdev_loop_stop(struct vdev_loop *loop);

/* A watcher that registers fds in @loop. */
VDEV_API void vdev_loop_watcher(struct vdev_loop *loop, struct vdev_watcher *w);

VDEV_END_DECLS

#endif /* VIRTIO_LOOP_H */
