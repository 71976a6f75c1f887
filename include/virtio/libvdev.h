/* SPDX-License-Identifier: BSD-3-Clause */
/* Everything a device model, an adapter user or an embedder needs. */
#ifndef VIRTIO_LIBVDEV_H
#define VIRTIO_LIBVDEV_H

#include <virtio/api.h>
#include <virtio/caps.h>
#include <virtio/device.h>
#include <virtio/iov.h>
#include <virtio/le.h>
#include <virtio/loop.h>
#include <virtio/mem.h>
#include <virtio/mmio.h>
#include <virtio/pci.h>
#include <virtio/queue.h>
#include <virtio/spec.h>
#include <virtio/state.h>
#include <virtio/transport.h>
#include <virtio/vfio-user.h>
#include <virtio/vhost-user.h>

/* Device models (virtio/rng.h, virtio/blk.h, virtio/scsi.h), the KVM
 * adapter (virtio/kvm.h) and the software driver (virtio/testing.h) are
 * included on their own. */

#endif /* VIRTIO_LIBVDEV_H */
