/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What this build of the library can do: device types, ring and protocol
 * features, transports and host backends. Daemons print it for
 * --print-capabilities; embedders check it before relying on something
 * optional (liburing, libgpiod, ALSA may be switched off at build time).
 */
#ifndef VIRTIO_CAPS_H
#define VIRTIO_CAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <virtio/api.h>

VDEV_BEGIN_DECLS

enum vdev_cap_kind {
	VDEV_CAP_DEVICE,    /* a device model: "rng", "blk", ... */
	VDEV_CAP_FEATURE,   /* a ring feature: "ring_packed", "event_idx" ... */
	VDEV_CAP_TRANSPORT, /* "vhost-user", "vfio-user", "kvm-mmio", "testing" */
	VDEV_CAP_BACKEND,   /* a host backend: "liburing", "libgpiod", "alsa" */
};

struct vdev_cap {
	enum vdev_cap_kind kind;
	const char *name;
};

/* The library version, "MAJOR.MINOR.PATCH". */
VDEV_API const char *vdev_version(void);

/* Every capability of this build; *n receives the count. The array is
 * static: do not free it. */
VDEV_API const struct vdev_cap *vdev_capabilities(size_t *n);

/* True when this build has capability @name of @kind. */
VDEV_API bool vdev_has_capability(enum vdev_cap_kind kind, const char *name);

VDEV_END_DECLS

#endif /* VIRTIO_CAPS_H */
