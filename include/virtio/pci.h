/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio over PCI (virtio 1.2 section 4.1): register-level emulation of a
 * modern (non-transitional) virtio-pci function on top of the transport
 * interface (transport.h).
 *
 * Any VMM or adapter that emulates PCI can use it: it hands config-space and
 * BAR accesses to vdev_pci_cfg_read/write and vdev_pci_bar_read/write and
 * gets interrupts back through `struct vdev_pci_ops`. The vfio-user adapter
 * (vfio-user.h) is one such user.
 *
 * Layout of the function (fixed, so a client can rely on it; it is also
 * discoverable the normal way, through the capability list):
 *
 *   config space  256 bytes, type 0 header, vendor 0x1af4, device
 *                 0x1040 + device id, revision 1, class per device type,
 *                 interrupt pin INTA, capability list:
 *                 0x40 MSI-X, 0x50 COMMON_CFG, 0x60 NOTIFY_CFG,
 *                 0x74 ISR_CFG, 0x84 DEVICE_CFG (when the device has
 *                 config space), 0x94 PCI_CFG (access window)
 *   BAR0          32-bit non-prefetchable memory (VDEV_PCI_BAR_REGS):
 *                 0x0000 common configuration, 0x1000 ISR,
 *                 0x2000 device configuration, then the notification
 *                 area (one 4-byte slot per queue, notify_off_multiplier
 *                 4, queue_notify_off = queue index); size is the next
 *                 power of two
 *   BAR2          32-bit non-prefetchable memory (VDEV_PCI_BAR_MSIX): the
 *                 MSI-X table at 0, the PBA at the next 4 KiB boundary
 *   other BARs    not implemented (read 0, writes ignored)
 *
 * Interrupts: with MSI-X enabled a queue or config interrupt goes to the
 * vector the driver chose (none with NO_VECTOR); a masked vector (function
 * mask or the entry's mask bit) sets its pending bit instead and fires when
 * unmasked. With MSI-X disabled the ISR bits are set and INTx is asserted
 * (unless the command register disables it) until the driver reads the ISR.
 *
 * Hostile input: every access is checked against the register it hits.
 * Reads of unknown or partial registers return the bytes that are there
 * (zeros for holes); writes must hit one register with its natural width
 * (64-bit queue addresses may also be written as two 32-bit halves) or they
 * are ignored. A queue_select past the last queue reads queue_size 0 and
 * ignores queue writes. Enabling a queue whose ring is invalid leaves
 * queue_enable at 0 and sets DEVICE_NEEDS_RESET.
 *
 * Migration: the device's own state is vdev_save/vdev_restore (transport.h);
 * the function keeps state of its own (the writable config space: command,
 * BARs, MSI-X control; the selectors; the queues' sizes, addresses and
 * vectors; the ISR; the MSI-X table and pending bits). vdev_pci_save
 * writes it, vdev_pci_restore puts it back after vdev_restore, and a
 * pending interrupt is delivered again (an unmasked pending vector fires,
 * a pending ISR with INTx enabled asserts the line).
 *
 * Threads: register accesses (cfg/bar read/write, reset, msix_* calls) come
 * from one control thread at a time. Interrupts raised by queue workers on
 * other threads are safe: the interrupt state has its own lock, and the
 * ops callbacks are called without it held.
 */
#ifndef VIRTIO_PCI_H
#define VIRTIO_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <virtio/api.h>
#include <virtio/device.h>

VDEV_BEGIN_DECLS

struct vdev_pci;

#define VDEV_PCI_VENDOR_ID     0x1af4u
#define VDEV_PCI_DEVICE_ID_BASE 0x1040u
#define VDEV_PCI_CFG_SIZE      256u
#define VDEV_PCI_NO_VECTOR     0xffffu
#define VDEV_PCI_NUM_BARS      6u
#define VDEV_PCI_BAR_REGS      0u
#define VDEV_PCI_BAR_MSIX      2u
/* Most MSI-X vectors a function offers (the PCI limit). */
#define VDEV_PCI_MSIX_MAX      2048u

struct vdev_pci_config {
	uint16_t subsys_vendor; /* 0 = 0x1af4 */
	uint16_t subsys_id;     /* 0 = 0x1100 (>= 0x40 as 4.1.2.1 asks) */
	uint32_t class_code;    /* 24-bit class/subclass/prog-if; 0 = per
				   device type, as QEMU's virtio-*-pci: net
				   0x020000, blk/fs 0x018000, scsi 0x010000,
				   console/vsock 0x078000, gpu 0x038000,
				   input 0x098000, sound 0x040100, others
				   (rng, gpio, i2c, ...) 0xff0000 */
	uint16_t msix_vectors;  /* 0 = one per queue plus one for config
				   changes, at most VDEV_PCI_MSIX_MAX */
};

struct vdev_pci_ops {
	/*
	 * Deliver MSI-X vector @vector (the table entry's message address
	 * and data are given for VMMs that inject by address; adapters that
	 * own per-vector eventfds use @vector only).
	 */
	void (*msix)(void *opaque, uint16_t vector, uint64_t addr,
		     uint32_t data);
	/* INTx line level changed. */
	void (*intx)(void *opaque, bool level);
	/*
	 * A driver notified queue @qidx (write to its notify slot). @data is
	 * the NOTIFICATION_DATA value, or 0 when that feature is off. NULL:
	 * the function calls vdev_vq_kick() on the calling thread.
	 */
	void (*notify)(void *opaque, unsigned qidx, uint32_t data);
};

/*
 * A virtio-pci function for @dev. It installs itself as the device's
 * transport (vdev_set_transport) and does not own @dev; free it before the
 * device. @cfg may be NULL (defaults). @ops is copied. EINVAL: msix_vectors
 * above the limit, or a device with more queues than the notify area holds.
 */
VDEV_API struct vdev_pci *vdev_pci_new(struct vdev *dev,
				       const struct vdev_pci_config *cfg,
				       const struct vdev_pci_ops *ops,
				       void *opaque, size_t cfg_size,
				       size_t ops_size);
#define vdev_pci_new(...)                                                   \
	vdev_pci_new(__VA_ARGS__, sizeof(struct vdev_pci_config),          \
		     sizeof(struct vdev_pci_ops))
VDEV_API void vdev_pci_free(struct vdev_pci *pci);

VDEV_API struct vdev *vdev_pci_device(const struct vdev_pci *pci);

/*
 * The function's own state as a blob (malloc'd into *blob, the caller
 * frees it): little-endian, versioned, with a CRC. Call it with the
 * guest stopped. 0 or -ENOMEM.
 */
VDEV_API int vdev_pci_save(struct vdev_pci *pci, void **blob, size_t *len);
/*
 * Puts it back (after vdev_restore of the device, before the guest
 * runs), on a function made with the same device type and MSI-X vector
 * count; what the blob would set that a driver cannot write (identity,
 * capability layout) is ignored. The blob is checked first and nothing
 * changes when it is refused: -EBADMSG (truncated, corrupt, a vector or
 * size out of range), -EPROTO (another format version, queue or vector
 * count). Then pending interrupts are delivered through the ops.
 */
VDEV_API int vdev_pci_restore(struct vdev_pci *pci, const void *blob,
			      size_t len);

/*
 * Config-space access of @len bytes at @offset (any length, any
 * alignment, as long as the range lies inside VDEV_PCI_CFG_SIZE; else
 * -ERANGE and nothing is done).
 */
VDEV_API int vdev_pci_cfg_read(struct vdev_pci *pci, uint32_t offset,
			       void *buf, uint32_t len);
VDEV_API int vdev_pci_cfg_write(struct vdev_pci *pci, uint32_t offset,
				const void *buf, uint32_t len);

/* Size of BAR @bar in bytes; 0 when it is not implemented. */
VDEV_API uint64_t vdev_pci_bar_size(const struct vdev_pci *pci, unsigned bar);

/*
 * BAR access (@offset relative to the BAR). @len must be 1, 2, 4 or 8:
 * -EINVAL otherwise or for an unimplemented BAR; -ERANGE when the range
 * is outside the BAR. Accesses that hit no register read zeros and are
 * ignored, returning 0.
 */
VDEV_API int vdev_pci_bar_read(struct vdev_pci *pci, unsigned bar,
			       uint64_t offset, void *buf, uint32_t len);
VDEV_API int vdev_pci_bar_write(struct vdev_pci *pci, unsigned bar,
				uint64_t offset, const void *buf,
				uint32_t len);

VDEV_API unsigned vdev_pci_msix_vectors(const struct vdev_pci *pci);

/*
 * For VFIO-style users where the client emulates the MSI-X capability and
 * table itself (vfio-user, kernel VFIO): @on makes MSI-X count as enabled
 * whatever the config-space enable bit says, and makes vdev_pci_msix_mask
 * (not the in-BAR table's mask bits) decide masking.
 */
VDEV_API void vdev_pci_msix_set_external(struct vdev_pci *pci, bool on);
/* Masks or unmasks @vector in external mode (a pending interrupt fires on
 * unmask). -EINVAL: no such vector. */
VDEV_API int vdev_pci_msix_mask(struct vdev_pci *pci, unsigned vector,
				bool masked);
/* True while MSI-X (config bit or external mode) is enabled. */
VDEV_API bool vdev_pci_msix_enabled(const struct vdev_pci *pci);

/* Current INTx level (ISR not yet read and INTx not disabled). */
VDEV_API bool vdev_pci_intx_level(const struct vdev_pci *pci);

/*
 * PCI function-level reset: config space back to power-on values (command
 * 0, BARs 0, MSI-X disabled, every vector masked, nothing pending) and the
 * device reset as if the driver wrote 0 to device_status.
 */
VDEV_API void vdev_pci_reset(struct vdev_pci *pci);

VDEV_END_DECLS

#endif /* VIRTIO_PCI_H */
