/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The template device: the smallest complete libvdev device model, written
 * as a guide. Copy this folder, rename "template"/"tpl", and replace the
 * request handling with your device's.
 *
 * What it does: one request queue. Each request carries bytes in its
 * device-readable part; the device writes them back into the
 * device-writable part, XORed with a key from config space when the
 * driver negotiated TPL_F_XOR.
 *
 * Device id 176 (0xb0): the virtio spec has no "experimental" device id,
 * but virtio-pci maps device id N to PCI device id 0x1040 + N, and QEMU's
 * PCI id allocation (docs/specs/pci-ids.rst) leaves 1af4:10f0..10ff "for
 * experimental usage without registration", i.e. virtio ids 0xb0..0xbf.
 * A real device gets an official id from the virtio TC before it ships.
 */
#ifndef TPL_TEMPLATE_H
#define TPL_TEMPLATE_H

#include <stdint.h>
#include <virtio/device.h>
#include <virtio/le.h>

#define TPL_DEVICE_ID 0xb0

/* Device feature bits live in 0..23 (bits 24..40 are the transport's and
 * the rings'; the core offers those itself). */
#define TPL_F_XOR 0

/*
 * Config space, as the driver sees it: little-endian fields, laid out
 * exactly as the device's spec section says (no compiler padding).
 */
struct tpl_config {
	vdev_le32 max_len; /* read-only: longest request the device takes */
	vdev_le32 key;     /* read-write: XOR key (low byte used) */
};

#define TPL_MAX_LEN (1u << 20) /* largest max_len */

struct tpl_params {
	uint32_t max_len;    /* 0 = 4096; at most TPL_MAX_LEN */
	uint16_t queue_size; /* largest ring accepted; 0 = 1024 */
};

/* Creates the device; errno EINVAL on bad parameters. */
struct vdev *tpl_new(const struct tpl_params *p);

/* Requests served since the last reset (the model's own state). */
uint64_t tpl_served(struct vdev *dev);

#endif /* TPL_TEMPLATE_H */
