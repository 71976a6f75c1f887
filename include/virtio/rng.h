/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-rng (virtio 1.2 section 5.4): one request queue; the device fills
 * every device-writable buffer it is given with bytes read from a host
 * source.
 */
#ifndef VIRTIO_RNG_H
#define VIRTIO_RNG_H

#include <stdint.h>
#include <virtio/api.h>
#include <virtio/device.h>

VDEV_BEGIN_DECLS

struct vdev_rng_config {
	/* Host source of random bytes; NULL = "/dev/urandom". A regular file
	 * is read from the start and wraps around at its end. */
	const char *source;
	/*
	 * Rate limit: at most @max_bytes per @period_ms. 0 = unlimited.
	 * When the budget is spent the queue is left alone (requests wait in
	 * the ring, no spinning) until the next period starts.
	 */
	uint64_t max_bytes;
	uint32_t period_ms;
	uint16_t queue_size; /* largest queue size offered; 0 = 1024 */
};

/* EINVAL: max_bytes without period_ms; errno of open() on the source. */
VDEV_API struct vdev *vdev_rng_new(const struct vdev_rng_config *cfg,
				   size_t size);
#define vdev_rng_new(...) \
	vdev_rng_new(__VA_ARGS__, sizeof(struct vdev_rng_config))

VDEV_END_DECLS

#endif /* VIRTIO_RNG_H */
