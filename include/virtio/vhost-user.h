/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-user back-end adapter: serves one `struct vdev` to a vhost-user
 * frontend (QEMU, Cloud Hypervisor, crosvm, DPDK virtio-user, User-Mode
 * Linux) over a UNIX socket (QEMU docs/interop/vhost-user.rst).
 *
 * How vhost-user maps onto the core (transport.h):
 *  - GET_FEATURES offers vdev_device_features() plus
 *    VHOST_USER_F_PROTOCOL_FEATURES (bit 30) and VHOST_F_LOG_ALL (bit 26);
 *    SET_FEATURES passes the rest to vdev_set_driver_features(). Bits 26
 *    and 30 never reach the core.
 *  - Status: without PROTOCOL_F_STATUS the adapter drives the core's
 *    status: SET_FEATURES sets ACKNOWLEDGE | DRIVER | FEATURES_OK. With it
 *    the frontend's SET_STATUS is applied (0 resets the device). Either
 *    way a ring that starts sets FEATURES_OK and DRIVER_OK if still
 *    missing, since a started ring runs whatever the status byte says
 *    (and QEMU 7.2's vhost-user-rng negotiates STATUS but never sends
 *    DRIVER_OK).
 *  - A ring is "started" by SET_VRING_KICK (with or without an fd) and
 *    "stopped" by GET_VRING_BASE (vdev_vq_stop: waits for requests in
 *    flight). It is enabled from the start without PROTOCOL_FEATURES, and
 *    only after SET_VRING_ENABLE 1 with it. The core's queue is enabled
 *    exactly while the ring is started and enabled.
 *  - Ring addresses arrive as frontend virtual addresses; they are
 *    translated with vdev_mem_uva_to_gpa() and translated again after
 *    every memory-table change.
 *  - When the frontend disconnects, requests in flight complete, the
 *    device is reset and kept, and the adapter accepts the next connection
 *    (listening socket) or returns from vdev_vhost_user_run() (connected
 *    socket).
 *  - Dirty logging (SET_LOG_BASE) is on exactly while VHOST_F_LOG_ALL is
 *    acked.
 *  - PROTOCOL_F_INFLIGHT_SHMFD (split rings; GET_INFLIGHT_FD for a packed
 *    ring is refused): the queues mark every popped chain in the region
 *    and unmark it when completed (vdev_queue_set_inflight); a back-end
 *    restarted after a crash pops the chains its predecessor left marked
 *    again, oldest first, when their ring starts.
 *
 * Threads: the control socket is served by whoever calls
 * vdev_vhost_user_run() or vdev_vhost_user_dispatch() (the control
 * thread). Queues are served by worker threads the adapter starts, one per
 * device or one per queue, each running its own vdev_loop, so the control
 * path never waits for a busy queue.
 *
 * Capture: with env VDEV_VHOST_USER_CAPTURE=FILE every message received
 * and every reply sent is appended to FILE as readable text.
 */
#ifndef VIRTIO_VHOST_USER_H
#define VIRTIO_VHOST_USER_H

#include <stdbool.h>
#include <stdint.h>
#include <virtio/api.h>
#include <virtio/device.h>

VDEV_BEGIN_DECLS

struct vdev_vhost_user;

enum vdev_vhost_user_mode {
	VDEV_VHOST_USER_LISTEN,  /* listen on @path (stale socket unlinked) */
	VDEV_VHOST_USER_CONNECT, /* connect to @path */
	VDEV_VHOST_USER_FD,      /* @fd: a listening or a connected socket */
};

enum vdev_vhost_user_threads {
	VDEV_VHOST_USER_THREAD_PER_DEVICE, /* one worker for all queues */
	VDEV_VHOST_USER_THREAD_PER_QUEUE,  /* one worker per queue */
};

struct vdev_vhost_user_config {
	enum vdev_vhost_user_mode mode;
	const char *path;  /* LISTEN, CONNECT */
	int fd;            /* FD: the adapter takes ownership */
	enum vdev_vhost_user_threads threads;
	/* Protocol features (VDEV_VHOST_USER_PROTOCOL_F_* bit numbers as a
	 * mask) never to offer, even when supported. */
	uint64_t protocol_features_off;
	/* Protocol features offered only when asked for here (a mask within
	 * VDEV_VHOST_USER_PROTOCOL_OPT_IN). INBAND_NOTIFICATIONS turns every
	 * kick and call into a socket message: what UML's time-travel mode
	 * needs, and several times slower than eventfds otherwise (a
	 * frontend that sees it offered may use it). */
	uint64_t protocol_features_on;
	/* Busy polling: after its last work a queue worker keeps checking
	 * its rings and fds for this many microseconds before it sleeps
	 * (0: never polls). Saves the wakeup on each kick, and a driver
	 * that sees no kick needed sends none; costs a CPU while the guest
	 * is busy. */
	unsigned poll_us;
	/* LISTEN: who may connect. The socket gets group @socket_gid when
	 * @set_socket_group, and permission bits @socket_mode (0 .. 0777)
	 * when @set_socket_mode, before it appears at @path: a frontend
	 * that finds the path finds it listening with them. Otherwise it
	 * has the process's group and bind()'s mode (0777 less the umask). */
	bool set_socket_group;
	bool set_socket_mode;
	uint32_t socket_gid;
	uint32_t socket_mode;
};

/* Implemented protocol features that are off unless asked for. */
#define VDEV_VHOST_USER_PROTOCOL_OPT_IN \
	(1ull << VDEV_VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS)

/* Protocol feature bit numbers (vhost-user.rst "Protocol features"). */
#define VDEV_VHOST_USER_PROTOCOL_F_MQ                   0
#define VDEV_VHOST_USER_PROTOCOL_F_LOG_SHMFD            1
#define VDEV_VHOST_USER_PROTOCOL_F_REPLY_ACK            3
#define VDEV_VHOST_USER_PROTOCOL_F_BACKEND_REQ          5
#define VDEV_VHOST_USER_PROTOCOL_F_CONFIG               9
#define VDEV_VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD       12
#define VDEV_VHOST_USER_PROTOCOL_F_RESET_DEVICE         13
#define VDEV_VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS 14
#define VDEV_VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS  15
#define VDEV_VHOST_USER_PROTOCOL_F_STATUS               16
#define VDEV_VHOST_USER_PROTOCOL_F_DEVICE_STATE         19

/*
 * An adapter serving @dev (not owned; it must outlive the adapter). Sets
 * the device's memory map, transport callbacks and queue watchers, starts
 * the queue workers and opens the socket (LISTEN binds and listens, CONNECT
 * connects once). Fails with EINVAL (bad config: no path, path too long,
 * fd < 0 in FD mode, socket mode above 0777), EADDRINUSE (LISTEN: a live
 * socket is at @path; a stale one is replaced), EEXIST (LISTEN: another
 * kind of file is), EPERM (a group the process may not give), or the
 * errno of socket()/bind()/connect().
 */
VDEV_API struct vdev_vhost_user *
vdev_vhost_user_new(struct vdev *dev, const struct vdev_vhost_user_config *cfg,
		    size_t size);
#define vdev_vhost_user_new(...) \
	vdev_vhost_user_new(__VA_ARGS__, sizeof(struct vdev_vhost_user_config))

/*
 * Stops the workers, closes the connection and every fd received, removes
 * the socket file it created. Accepts NULL. The device is left reset.
 * Call it on the control thread once vdev_vhost_user_run() has returned
 * (or was never called).
 */
VDEV_API void vdev_vhost_user_free(struct vdev_vhost_user *vu);

/*
 * Serves the socket on the calling thread until vdev_vhost_user_stop(), or,
 * for a connected socket (CONNECT, or FD with a connected socket), until the
 * frontend disconnects. Returns 0, or a negative errno on failure.
 */
VDEV_API int vdev_vhost_user_run(struct vdev_vhost_user *vu);

/* Makes vdev_vhost_user_run() return soon. Async-signal-safe. */
VDEV_API void vdev_vhost_user_stop(struct vdev_vhost_user *vu);

/*
 * For embedders with their own loop: an fd that is readable when the
 * control path has work, and the call that does it (waiting at most
 * @timeout_ms). Returns like vdev_loop_run_once(); -ENOTCONN once a
 * connected socket was closed by the frontend.
 */
VDEV_API int vdev_vhost_user_fd(const struct vdev_vhost_user *vu);
VDEV_API int vdev_vhost_user_dispatch(struct vdev_vhost_user *vu,
				      int timeout_ms);

/* Connections accepted so far, and whether one is open now. */
VDEV_API unsigned vdev_vhost_user_connections(const struct vdev_vhost_user *vu);
VDEV_API bool vdev_vhost_user_connected(const struct vdev_vhost_user *vu);

/* Protocol features this build of the adapter implements (a mask). */
VDEV_API uint64_t vdev_vhost_user_protocol_features(void);

VDEV_END_DECLS

#endif /* VIRTIO_VHOST_USER_H */
