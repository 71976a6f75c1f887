/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * In-process virtio-mmio on KVM: a VMM links libvdev, creates a device
 * (vdev_rng_new, ...) and attaches it to its VM at a guest-physical MMIO
 * window and a GSI.
 *
 * What attaching sets up:
 *  - the register file (mmio.h) for the window [mmio_base, +VDEV_MMIO_WINDOW);
 *  - one KVM_IOEVENTFD per queue on QueueNotify (4-byte write, datamatch on
 *    the queue index), so kicks never leave the kernel's fast path: the
 *    device thread reads them from an eventfd;
 *  - a KVM_IRQFD on @gsi. Level-triggered by default: with a resample fd
 *    (KVM_IRQFD_FLAG_RESAMPLE) the line stays asserted until the guest's
 *    EOI, and is asserted again then if InterruptStatus is still not zero
 *    (what virtio-mmio drivers expect from a level line). With
 *    VDEV_KVM_F_EDGE, or when the kernel refuses the resample fd, each
 *    event is one edge (the guest must configure the line edge-triggered);
 *  - one thread per device running a vdev_loop that serves every queue of
 *    the device and the resample fd. vCPU threads only touch registers.
 *
 * NOTIFICATION_DATA: a driver that negotiated it writes
 * (data << 16 | queue index) to QueueNotify, which a datamatch on the
 * index does not catch. The feature is therefore hidden from the driver
 * unless VDEV_KVM_F_NOTIFICATION_DATA is given; with it, such kicks come
 * back as MMIO exits and vdev_kvm_mmio_exit() forwards them to the
 * device's thread (correct, but one exit to user space per kick).
 *
 * Everything else the guest does in the window reaches the VMM as
 * KVM_EXIT_MMIO; the VMM passes it to vdev_kvm_mmio_exit() from its vCPU
 * loop. Several devices: one attach each, on its own window and GSI.
 *
 * Needs an in-kernel irqchip (KVM_CREATE_IRQCHIP, or a split irqchip with
 * the GSI routed by the VMM) before attaching.
 *
 * Migration: vdev_save/vdev_restore for the device (transport.h) and
 * vdev_mmio_save/vdev_mmio_restore on vdev_kvm_mmio(k) for the register
 * file (InterruptStatus, selectors, queue registers): a pending interrupt
 * is asserted again on the target (mmio.h).
 *
 * Threads: attach/detach from the VMM's control thread; vdev_kvm_mmio_exit
 * from any vCPU thread, concurrently.
 */
#ifndef VIRTIO_KVM_H
#define VIRTIO_KVM_H

#include <stdbool.h>
#include <stdint.h>
#include <virtio/api.h>
#include <virtio/device.h>
#include <virtio/mem.h>
#include <virtio/mmio.h>

VDEV_BEGIN_DECLS

/* Edge-triggered interrupt (plain irqfd, no resample fd). */
#define VDEV_KVM_F_EDGE              1u
/* Offer VIRTIO_F_NOTIFICATION_DATA (kicks then exit to user space). */
#define VDEV_KVM_F_NOTIFICATION_DATA 2u
/* No ioeventfds: every kick is an MMIO exit (for VMMs or kernels without
 * KVM_IOEVENTFD, and for measuring what they save). */
#define VDEV_KVM_F_NO_IOEVENTFD      4u

struct vdev_kvm;

struct vdev_kvm_config {
	uint64_t mmio_base;   /* guest-physical, 4 KiB aligned */
	uint32_t gsi;
	/*
	 * Guest RAM as the device may see it, built by the VMM from its
	 * memory slots (vdev_mem_add per slot, with the slot's host address
	 * and, when it has one, the memfd behind it). The device takes a
	 * reference.
	 */
	struct vdev_mem *mem;
	unsigned flags;       /* VDEV_KVM_F_* */
};

/*
 * Attaches @dev (not owned; it must outlive the attachment) to the VM
 * @vm_fd. EINVAL: bad arguments or an unaligned window; errno of the KVM
 * ioctls (EEXIST: another ioeventfd is already on that address) or of
 * thread creation. On failure nothing stays registered.
 */
VDEV_API struct vdev_kvm *vdev_kvm_attach(int vm_fd, struct vdev *dev,
					  const struct vdev_kvm_config *cfg,
					  size_t size);
#define vdev_kvm_attach(...) \
	vdev_kvm_attach(__VA_ARGS__, sizeof(struct vdev_kvm_config))

/*
 * Resets the device, stops its thread, unregisters the ioeventfds and the
 * irqfd and closes their fds. The device stays allocated (vdev_free is the
 * caller's). Accepts NULL.
 */
VDEV_API void vdev_kvm_detach(struct vdev_kvm *k);

/*
 * A KVM_EXIT_MMIO: @addr, @data, @len and @is_write as in struct
 * kvm_run's mmio member. Returns 0 when the access was in this device's
 * window (a read has filled @data), -ENOENT when it was not (try the next
 * device), -EINVAL for a length other than 1, 2, 4 or 8.
 */
VDEV_API int vdev_kvm_mmio_exit(struct vdev_kvm *k, uint64_t addr,
				uint8_t *data, unsigned len, bool is_write);

VDEV_API struct vdev_mmio *vdev_kvm_mmio(struct vdev_kvm *k);

struct vdev_kvm_stats {
	uint64_t mmio_exits;   /* accesses that came through mmio_exit */
	uint64_t notify_exits; /* of those, QueueNotify writes */
	uint64_t irqs;         /* irqfd signals for new events */
	uint64_t resamples;    /* EOIs seen on the resample fd */
	uint64_t reasserts;    /* line asserted again after an EOI */
	bool level;            /* level-triggered (resample fd in use) */
	bool ioeventfd;        /* kicks caught by ioeventfds */
};

/* Counters so far. Safe from any thread. */
VDEV_API void vdev_kvm_get_stats(struct vdev_kvm *k,
				 struct vdev_kvm_stats *st, size_t size);
#define vdev_kvm_get_stats(...) \
	vdev_kvm_get_stats(__VA_ARGS__, sizeof(struct vdev_kvm_stats))

VDEV_END_DECLS

#endif /* VIRTIO_KVM_H */
