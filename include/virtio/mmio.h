/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-mmio, version 2 (virtio 1.2 section 4.2): the register file of one
 * device, for any VMM that traps guest MMIO accesses (KVM or not).
 *
 * The VMM forwards every access to the device's window to vdev_mmio_read /
 * vdev_mmio_write and gives the device one interrupt line (set_irq). The
 * register file drives the device through the transport interface
 * (transport.h) and keeps InterruptStatus.
 *
 * What a driver gets when it breaks the rules (logged once per kind with
 * vdev_log, never fatal):
 *  - control registers (offsets below 0x100) are 32-bit: another width, an
 *    unaligned offset, an undefined offset, reading a write-only register:
 *    reads as zero, writes are ignored;
 *  - config space (0x100 + n) takes 1, 2, 4 and 8-byte accesses at any
 *    offset; beyond the device's config size it reads zeros, writes are
 *    ignored;
 *  - QueueNum and the queue address registers are ignored while the
 *    selected queue is ready; a queue that does not exist has QueueNumMax 0
 *    and ignores writes;
 *  - QueueReady = 1 with a ring the device refuses (size 0, above
 *    QueueNumMax, not a power of two for a split ring, misaligned, outside
 *    guest memory) leaves QueueReady at 0 and sets DEVICE_NEEDS_RESET
 *    (with a configuration change interrupt), so a driver that does not
 *    read QueueReady back still learns that the device is unusable;
 *  - FEATURES_OK with a feature bit that was not offered (including bits
 *    hidden by the VMM, and any bit of DriverFeaturesSel >= 2) does not
 *    stick: Status reads back without it (2.2.2);
 *  - DriverFeatures writes after FEATURES_OK are ignored;
 *  - QueueReset is honoured only when VIRTIO_F_RING_RESET was negotiated;
 *    the reset completes before the write returns, so QueueReset reads 0.
 *
 * Interrupts: InterruptStatus bit 0 (used buffer) is set when a queue wants
 * an interrupt, bit 1 (configuration change) on a config change or
 * DEVICE_NEEDS_RESET; the line is asserted while InterruptStatus is not
 * zero and deasserted when InterruptACK clears the last bit.
 *
 * Setting up a device without KVM (the KVM adapter, kvm.h, does all of
 * this itself): besides the register file and its interrupt line the
 * device needs
 *  - guest memory: a `struct vdev_mem` with one region per RAM range
 *    (vdev_mem_add), given as .mem (or vdev_set_mem) before the driver
 *    enables a queue, else every QueueReady fails (DEVICE_NEEDS_RESET);
 *  - a watcher and a thread that runs it: a vdev_loop on a thread of
 *    its own (vdev_loop_new, vdev_loop_watcher, vdev_loop_run) or the
 *    VMM's own loop, given as .watcher (or vdev_set_watcher). It serves
 *    the fds models watch (rng's rate-limit timer, blk's io_uring
 *    completions) and the rounds models schedule. Without one a model's
 *    timer never fires and its asynchronous work is done within the
 *    vCPU's kick, or not at all;
 *  - optionally, an eventfd per queue (vdev_mmio_set_kick_fd, and the
 *    same fd to the VMM's own QueueNotify fast path) so kicks are served
 *    by the loop's thread instead of the vCPU thread.
 *
 *	struct vdev_loop *loop = vdev_loop_new();
 *	struct vdev_watcher w;
 *	pthread_t t;
 *
 *	vdev_loop_watcher(loop, &w);
 *	m = vdev_mmio_new(dev, &(struct vdev_mmio_config){
 *		.set_irq = raise_line, .opaque = vm,
 *		.mem = guest_ram, .watcher = &w });
 *	pthread_create(&t, NULL, run_loop, loop);   (vdev_loop_run(loop))
 *	...
 *	vdev_loop_stop(loop); pthread_join(t, NULL);
 *	vdev_mmio_free(m); vdev_loop_free(loop);
 *
 * Migration: the device's own state is vdev_save/vdev_restore
 * (transport.h, with every queue stopped); the register file keeps state
 * of its own (InterruptStatus, the selectors, driver features written
 * before FEATURES_OK, the queue registers of queues not yet ready), saved
 * with vdev_mmio_save and put back with vdev_mmio_restore after
 * vdev_restore. A pending interrupt survives: the line is asserted again.
 *
 * Threads: vdev_mmio_read/write may be called from several vCPU threads;
 * they are serialised inside. set_irq(true) is called from whichever thread
 * completed a request (a queue thread, or the vCPU thread for synchronous
 * kicks) and must be safe from any thread; set_irq(false) only from inside
 * vdev_mmio_write. The register file takes over the device's transport
 * callbacks (vdev_set_transport): one transport per device.
 */
#ifndef VIRTIO_MMIO_H
#define VIRTIO_MMIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <virtio/api.h>
#include <virtio/device.h>
#include <virtio/mem.h>
#include <virtio/transport.h>

VDEV_BEGIN_DECLS

/* Register offsets (4.2.2). */
#define VDEV_MMIO_MAGIC_VALUE         0x000
#define VDEV_MMIO_VERSION             0x004
#define VDEV_MMIO_DEVICE_ID           0x008
#define VDEV_MMIO_VENDOR_ID           0x00c
#define VDEV_MMIO_DEVICE_FEATURES     0x010
#define VDEV_MMIO_DEVICE_FEATURES_SEL 0x014
#define VDEV_MMIO_DRIVER_FEATURES     0x020
#define VDEV_MMIO_DRIVER_FEATURES_SEL 0x024
#define VDEV_MMIO_QUEUE_SEL           0x030
#define VDEV_MMIO_QUEUE_NUM_MAX       0x034
#define VDEV_MMIO_QUEUE_NUM           0x038
#define VDEV_MMIO_QUEUE_READY         0x044
#define VDEV_MMIO_QUEUE_NOTIFY        0x050
#define VDEV_MMIO_INTERRUPT_STATUS    0x060
#define VDEV_MMIO_INTERRUPT_ACK       0x064
#define VDEV_MMIO_STATUS              0x070
#define VDEV_MMIO_QUEUE_DESC_LOW      0x080
#define VDEV_MMIO_QUEUE_DESC_HIGH     0x084
#define VDEV_MMIO_QUEUE_DRIVER_LOW    0x090
#define VDEV_MMIO_QUEUE_DRIVER_HIGH   0x094
#define VDEV_MMIO_QUEUE_DEVICE_LOW    0x0a0
#define VDEV_MMIO_QUEUE_DEVICE_HIGH   0x0a4
#define VDEV_MMIO_SHM_SEL             0x0ac
#define VDEV_MMIO_SHM_LEN_LOW         0x0b0
#define VDEV_MMIO_SHM_LEN_HIGH        0x0b4
#define VDEV_MMIO_SHM_BASE_LOW        0x0b8
#define VDEV_MMIO_SHM_BASE_HIGH       0x0bc
#define VDEV_MMIO_QUEUE_RESET         0x0c0
#define VDEV_MMIO_CONFIG_GENERATION   0x0fc
#define VDEV_MMIO_CONFIG              0x100

#define VDEV_MMIO_MAGIC 0x74726976u /* "virt" */

/* InterruptStatus / InterruptACK bits. */
#define VDEV_MMIO_INT_VRING  1u
#define VDEV_MMIO_INT_CONFIG 2u

/* Size of the window a VMM maps for each device (a page, as
 * virtio_mmio.device=4K@... and the DSDT entries of microvm use). */
#define VDEV_MMIO_WINDOW 0x1000u

struct vdev_mmio;

struct vdev_mmio_config {
	/* The interrupt line: true = assert, false = deassert. */
	void (*set_irq)(void *opaque, bool level);
	void *opaque;
	/*
	 * Offered features the driver does not see in DeviceFeatures and may
	 * not accept (a VMM hides what its notification path cannot carry,
	 * e.g. NOTIFICATION_DATA behind a datamatch ioeventfd).
	 */
	uint64_t hide_features;
	/* Guest memory the device sees: vdev_set_mem(dev, mem) at
	 * creation (the device takes a reference). NULL: the VMM calls
	 * vdev_set_mem itself. */
	struct vdev_mem *mem;
	/* The watcher of every queue (vdev_set_watcher), copied: what it
	 * points to must outlive the register file, which takes it back
	 * at vdev_mmio_free. NULL: the VMM sets one itself, or there is
	 * none (see above). */
	const struct vdev_watcher *watcher;
};

/*
 * A register file for @dev (which it does not own, and which must outlive
 * it). It installs itself as the device's transport. EINVAL: @dev or @cfg
 * NULL, no set_irq, or @dev's config space does not fit in the window.
 */
VDEV_API struct vdev_mmio *vdev_mmio_new(struct vdev *dev,
					 const struct vdev_mmio_config *cfg,
					 size_t size);
#define vdev_mmio_new(...) \
	vdev_mmio_new(__VA_ARGS__, sizeof(struct vdev_mmio_config))
/* Detaches from the device (transport callbacks cleared). Accepts NULL. */
VDEV_API void vdev_mmio_free(struct vdev_mmio *m);

VDEV_API struct vdev *vdev_mmio_device(const struct vdev_mmio *m);

/*
 * One guest access of @size bytes (1, 2, 4 or 8) at @offset from the start
 * of the window; @data in guest (little-endian) byte order. A read always
 * fills @data (zeros when the access is refused). Returns 0 when the access
 * meant something, -EINVAL when it was refused as the header comment says
 * (the guest sees zeros / nothing happens), -ERANGE when @offset is outside
 * the window. A VMM needs the return value only for its own logging.
 */
VDEV_API int vdev_mmio_read(struct vdev_mmio *m, uint64_t offset, void *data,
			    unsigned size);
VDEV_API int vdev_mmio_write(struct vdev_mmio *m, uint64_t offset,
			     const void *data, unsigned size);

/*
 * The notification eventfd of queue @qidx (-1: none). When the VMM catches
 * QueueNotify writes itself (a KVM ioeventfd) the device reads kicks from
 * it; a QueueNotify write that still reaches vdev_mmio_write (e.g. one
 * carrying NOTIFICATION_DATA, which a datamatch does not catch) is then
 * forwarded to that fd, so the queue is always served by the thread that
 * watches it. Without a fd, QueueNotify runs the queue synchronously on the
 * calling thread (vdev_vq_kick). The register file does not own @fd.
 */
VDEV_API int vdev_mmio_set_kick_fd(struct vdev_mmio *m, unsigned qidx, int fd);

/*
 * The register file's own state as a blob (malloc'd into *blob, the caller
 * frees it): a little-endian, versioned record with a CRC, for a VMM's
 * migration stream next to vdev_save's. Call it once the vCPUs are
 * stopped. 0 or -ENOMEM.
 */
VDEV_API int vdev_mmio_save(struct vdev_mmio *m, void **blob, size_t *len);
/*
 * Puts a saved state back (after vdev_restore of the device, before the
 * vCPUs run): InterruptStatus (ORed with what the restored device raised
 * meanwhile, and the line asserted when not zero), the selectors, the
 * driver features and the queue registers. The blob is checked first and
 * nothing changes when it is refused: -EBADMSG (truncated, corrupt, bad
 * values), -EPROTO (another format version, or another number of queues).
 */
VDEV_API int vdev_mmio_restore(struct vdev_mmio *m, const void *blob,
			       size_t len);

/* Current InterruptStatus (what the resample path of a level-triggered
 * line re-checks). Safe from any thread. */
VDEV_API uint32_t vdev_mmio_interrupt_status(const struct vdev_mmio *m);

/* Times the line was asserted (set_irq(true) calls). Safe from any
 * thread. */
VDEV_API uint64_t vdev_mmio_irq_count(const struct vdev_mmio *m);

VDEV_END_DECLS

#endif /* VIRTIO_MMIO_H */
