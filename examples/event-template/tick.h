/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The event template ("tick"): a device that sends events on its own, the
 * shape of virtio-input, virtio-console's input and a sensor or GPIO
 * interrupt line. Copy this folder for a device whose traffic starts on
 * the device side.
 *
 * What it does: one event queue, which the driver keeps stocked with
 * writable buffers of 8 bytes (struct tick_event, virtio-input's layout).
 * The device fills them:
 *  - every period_ms (config space, writable) a TICK event from a timer
 *    the queue's thread watches;
 *  - whatever tick_inject() hands it, from any thread, as an
 *    all-or-nothing batch: every event of a batch is delivered at once
 *    or none is, so a driver never sees half of one (virtio-input's
 *    SYN_REPORT groups).
 * Events wait in the device while the driver has no buffers, up to
 * TICK_PENDING_MAX; a batch (or a tick) that does not fit any more is
 * refused whole and counted in config space (dropped, read-only).
 *
 * Device id 0xb1, from the range virtio-pci leaves for experiments (see
 * examples/template/template.h).
 */
#ifndef TICK_H
#define TICK_H

#include <stdint.h>
#include <virtio/device.h>
#include <virtio/le.h>

#define TICK_DEVICE_ID 0xb1
#define TICK_PENDING_MAX 64 /* events the device keeps for the driver */

/* Event types (type field); code and value are the caller's. */
#define TICK_EV_SYN 0  /* ends a batch (virtio-input's EV_SYN) */
#define TICK_EV_TICK 1 /* the timer: value counts ticks */

struct tick_event {
	vdev_le16 type;
	vdev_le16 code;
	vdev_le32 value;
};

struct tick_config {
	vdev_le32 period_ms; /* read-write: timer period, 0 = no timer */
	vdev_le32 dropped;   /* read-only: events dropped for want of room */
};

struct tick_params {
	uint32_t period_ms;  /* initial period; 0 = no timer */
	uint16_t queue_size; /* largest ring accepted; 0 = 1024 */
};

/* Creates the device; errno EINVAL on bad parameters. */
struct vdev *tick_new(const struct tick_params *p);

/*
 * Hands @n events (1..TICK_PENDING_MAX) to the device as one batch, from
 * any thread. They are delivered together, in order, when the driver has
 * buffers for all of them. 0, -EINVAL (bad @n), -ENOSPC (no room: the
 * batch is dropped and counted).
 */
int tick_inject(struct vdev *dev, const struct tick_event *ev, unsigned n);

#endif /* TICK_H */
