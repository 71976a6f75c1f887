/* SPDX-License-Identifier: BSD-3-Clause */
/* Everything a device model, an adapter user or an embedder needs. */
#ifndef VIRTIO_LIBVDEV_H
#define VIRTIO_LIBVDEV_H

#include <virtio/api.h>
#include <virtio/caps.h>
#include <virtio/device.h>
#include <virtio/le.h>
#include <virtio/loop.h>
#include <virtio/mem.h>
#include <virtio/queue.h>
#include <virtio/spec.h>
#include <virtio/state.h>
#include <virtio/transport.h>

#endif /* VIRTIO_LIBVDEV_H */
