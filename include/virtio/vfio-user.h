/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vfio-user server: serves a libvdev device as a modern virtio-pci function
 * (pci.h) to one vfio-user client at a time (QEMU 10.1+ "vfio-user-pci",
 * SPDK, libvfio-user clients) over a UNIX stream socket.
 *
 * What the server does:
 *  - VERSION: protocol 0.1; the client's JSON capabilities (max_msg_fds,
 *    max_data_xfer_size, migration, ...) are parsed with json-c when the
 *    library was built with it; migration and twin-socket mode are not
 *    offered.
 *  - DMA_MAP/DMA_UNMAP: regions that come with an fd are mmapped into the
 *    device's guest memory map (vdev_mem_add), so rings and buffers in them
 *    are used zero-copy. Regions without an fd are accepted and tracked
 *    (overlap and unmap rules apply) but the device cannot reach them:
 *    queue memory must be fd-backed (a ring there fails to enable, a
 *    buffer there breaks the queue and sets DEVICE_NEEDS_RESET). The fd
 *    must be mappable read-write (MAP_SHARED).
 *  - DEVICE_GET_INFO / GET_REGION_INFO / REGION_READ / REGION_WRITE: config
 *    space (region 7) and BAR0/BAR2 (see pci.h); no region is mmappable,
 *    every access is a message. BAR accesses are 1, 2, 4 or 8 bytes.
 *  - GET_IRQ_INFO / SET_IRQS: INTx (maskable, automasked) and MSI-X
 *    (maskable) with eventfds; once the client gives MSI-X eventfds the
 *    client owns the MSI-X table (vdev_pci_msix_set_external).
 *  - Queue kicks: a write to a queue's notify slot in BAR0 runs the queue
 *    synchronously (vdev_vq_kick) on the server's thread before the reply;
 *    ioeventfds (GET_REGION_IO_FDS) are not offered.
 *  - DEVICE_RESET: PCI function-level reset of the device.
 *  Every message is checked in one place before its handler runs (sizes,
 *  flags, fd count, region and IRQ ranges); a bad one gets an error reply
 *  with an errno and leaks nothing. On disconnect every DMA region is
 *  unmapped and every IRQ fd closed; the device state is kept.
 *
 * Capture: with VDEV_VFIO_USER_CAPTURE=FILE in the environment, the server
 * appends every message it receives and sends to FILE as text (the format
 * the replay tests in tests/data/vfio-user use).
 *
 * Threads: everything (the watcher callbacks, dispatch, queue kicks) runs
 * on the thread of the watcher's loop; the calls below come from it.
 */
#ifndef VIRTIO_VFIO_USER_H
#define VIRTIO_VFIO_USER_H

#include <stdbool.h>
#include <stdint.h>
#include <virtio/api.h>
#include <virtio/device.h>
#include <virtio/pci.h>
#include <virtio/transport.h>

VDEV_BEGIN_DECLS

struct vdev_vfio_user;

struct vdev_vfio_user_config {
	/*
	 * Listen on this path (a stale socket file there is replaced).
	 * NULL: serve @conn_fd, an AF_UNIX stream socket the server then
	 * owns: a connected one (served once, closed on disconnect or by
	 * vdev_vfio_user_free) or a listening one (clients accepted from it
	 * one at a time, as with a path).
	 */
	const char *socket_path;
	int conn_fd;
	/* The PCI function's identity; NULL = defaults. */
	const struct vdev_pci_config *pci;
	/* Largest REGION_READ/WRITE count accepted; 0 = 1 MiB. */
	uint32_t max_data_xfer_size;
	/* @socket_path: who may connect. The socket gets group @socket_gid
	 * when @set_socket_group, and permission bits @socket_mode (0 ..
	 * 0777) when @set_socket_mode, before it appears at the path: a
	 * client that finds the path finds it listening with them.
	 * Otherwise it has the process's group and bind()'s mode. */
	bool set_socket_group;
	bool set_socket_mode;
	uint32_t socket_gid;
	uint32_t socket_mode;
};

/*
 * A server for @dev (not owned; free the server first). It creates the
 * device's guest memory map and its virtio-pci function. With @w, the
 * server watches its socket through @w (and sets @w as the device's
 * watcher); without it the embedder polls vdev_vfio_user_fd() and calls
 * vdev_vfio_user_dispatch(). Fails with EINVAL (no path and no fd, or
 * @conn_fd not a stream socket), ENOTSOCK or EBADF (@conn_fd not a socket;
 * it stays the caller's), ENOMEM, EADDRINUSE (a live socket at the
 * path; a stale one is replaced), EEXIST (another kind of file there),
 * EPERM (a group the process may not give), or the errno of
 * socket/bind/listen.
 */
VDEV_API struct vdev_vfio_user *
vdev_vfio_user_new(struct vdev *dev, const struct vdev_vfio_user_config *cfg,
		   const struct vdev_watcher *w, size_t size, size_t pci_size);
#define vdev_vfio_user_new(...)                                             \
	vdev_vfio_user_new(__VA_ARGS__, sizeof(struct vdev_vfio_user_config), \
			   sizeof(struct vdev_pci_config))
VDEV_API void vdev_vfio_user_free(struct vdev_vfio_user *s);

/* The fd to wait on for input now: the client connection when there is
 * one, else the listening socket; -1 when neither exists any more. */
VDEV_API int vdev_vfio_user_fd(const struct vdev_vfio_user *s);

/*
 * Handles what is ready on vdev_vfio_user_fd(): accepts a client, or
 * reads and answers one message. Returns 0, or -ENOTCONN when the client
 * went away (the server is listening again when it has a path).
 */
VDEV_API int vdev_vfio_user_dispatch(struct vdev_vfio_user *s);

VDEV_API bool vdev_vfio_user_connected(const struct vdev_vfio_user *s);
VDEV_API struct vdev_pci *vdev_vfio_user_pci(const struct vdev_vfio_user *s);

VDEV_END_DECLS

#endif /* VIRTIO_VFIO_USER_H */
