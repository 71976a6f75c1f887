/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest memory map.
 *
 * A `struct vdev_mem` is the set of guest memory regions a device may touch.
 * Every guest address the library uses goes through it: translation checks
 * bounds and 64-bit overflow, and nothing outside a region is ever read or
 * written.
 *
 * Concurrency (read-copy-update):
 *  - The region set is published as an immutable snapshot, a
 *    `struct vdev_mem_table`. Writers (vdev_mem_add/remove/replace, usually
 *    the control thread of an adapter) build a new snapshot and publish it
 *    with one atomic pointer store; they are serialised by a mutex inside the
 *    map, so several writers are safe.
 *  - Readers (queue workers) take a snapshot with vdev_mem_acquire() and use
 *    it without locks; a reader never sees a half-built table (no torn read).
 *  - A snapshot, and the mappings the map created for it, are freed only when
 *    the last reference is released, so an iovec obtained from a snapshot
 *    stays valid until its holder releases that snapshot (no use after
 *    unmap). The queue layer holds the snapshot its in-flight requests were
 *    translated with and releases it once they have all been pushed back.
 *  - vdev_mem_generation() changes on every publish; a reader compares it
 *    with the generation of the snapshot it holds to notice a change cheaply.
 */
#ifndef VIRTIO_MEM_H
#define VIRTIO_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <virtio/api.h>

VDEV_BEGIN_DECLS

/* Most regions one map holds; it is what vhost-user GET_MAX_MEM_SLOTS
 * reports. */
#define VDEV_MEM_MAX_REGIONS 509u

struct vdev_mem;
struct vdev_mem_table;

struct vdev_mem_region {
	uint64_t guest_addr; /* guest physical address of the first byte */
	uint64_t size;       /* bytes, > 0 */
	/*
	 * Where the region is in this process. NULL: the map mmaps
	 * [fd_offset, fd_offset + size) of @fd itself (MAP_SHARED, read and
	 * write) and unmaps it when the last snapshot using it is released;
	 * the caller keeps ownership of @fd and may close it after the call.
	 * Non-NULL: caller-owned memory that must stay mapped for as long as
	 * the map exists.
	 */
	void *host;
	int fd;             /* -1 when @host is given and no fd exists */
	uint64_t fd_offset; /* offset of guest_addr in @fd */
	/* The frontend's own virtual address of the region (vhost-user ring
	 * addresses are given in it); 0 when the transport has none. */
	uint64_t user_addr;
	uint32_t flags;     /* VDEV_MEM_F_* */
};

/*
 * The device may only read the region (a vfio-user DMA window mapped
 * without VFIO_USER_F_DMA_REGION_WRITE). The map mmaps @fd with PROT_READ
 * (so a read-only fd is enough), and every path through which the device
 * writes guest memory refuses it: a device-writable descriptor or a used
 * ring there breaks the queue (DEVICE_NEEDS_RESET), vdev_mem_write and
 * vdev_mem_translate_write fail with -EACCES. Caller memory (@host) with
 * this flag is trusted to be what the flag says.
 */
#define VDEV_MEM_F_RDONLY (1u << 0)

/* An empty map. Fails with ENOMEM. */
VDEV_API struct vdev_mem *vdev_mem_new(void);

/* Takes another reference to the map; returns @mem. */
VDEV_API struct vdev_mem *vdev_mem_ref(struct vdev_mem *mem);

/*
 * Drops the caller's reference. The map and its snapshots go away when no
 * queue holds them any more. Accepts NULL.
 */
VDEV_API void vdev_mem_free(struct vdev_mem *mem);

/*
 * Adds one region. -EINVAL: size 0, guest range or fd range wrapping 2^64,
 * neither host nor fd given; -EEXIST: overlaps an existing region (guest
 * range); -ENOSPC: VDEV_MEM_MAX_REGIONS reached; -errno of mmap.
 */
VDEV_API int vdev_mem_add(struct vdev_mem *mem,
			  const struct vdev_mem_region *region);

/*
 * Removes the region that starts at @guest_addr and has @size bytes (both
 * must match exactly, as vhost-user REM_MEM_REG and vfio-user DMA_UNMAP
 * require). -ENOENT when there is none.
 */
VDEV_API int vdev_mem_remove(struct vdev_mem *mem, uint64_t guest_addr,
			     uint64_t size);

/*
 * Replaces every region at once (vhost-user SET_MEM_TABLE). All regions are
 * checked (and mapped) before anything is published; on failure the old
 * table stays in force. @n may be 0 (empty map).
 */
VDEV_API int vdev_mem_replace(struct vdev_mem *mem,
			      const struct vdev_mem_region *regions,
			      unsigned n);

/* Number of regions and a copy of region @i of the current table. */
VDEV_API unsigned vdev_mem_count(struct vdev_mem *mem);
VDEV_API int vdev_mem_region_get(struct vdev_mem *mem, unsigned i,
				 struct vdev_mem_region *out);

/* Changes each time a new table is published. */
VDEV_API uint64_t vdev_mem_generation(const struct vdev_mem *mem);

/*
 * Takes a reference to the current snapshot. Never fails (an empty map has
 * an empty snapshot). Lock-free; safe from any thread.
 */
VDEV_API struct vdev_mem_table *vdev_mem_acquire(struct vdev_mem *mem);

/* Releases a snapshot reference. Accepts NULL. Safe from any thread. */
VDEV_API void vdev_mem_release(struct vdev_mem_table *table);

/* The generation the snapshot was published with. */
VDEV_API uint64_t vdev_mem_table_generation(const struct vdev_mem_table *t);

/*
 * Translates [gpa, gpa + len) into at most @max_iov iovecs (several when the
 * range crosses adjacent regions). Returns the number of iovecs written;
 * len 0 gives 0 iovecs. -EFAULT: some byte is outside every region;
 * -EOVERFLOW: gpa + len wraps 2^64; -ENOBUFS: more than @max_iov iovecs
 * would be needed.
 */
VDEV_API int vdev_mem_translate(const struct vdev_mem_table *t, uint64_t gpa,
				uint64_t len, struct iovec *iov,
				unsigned max_iov);

/*
 * vdev_mem_translate for memory the device will write: also -EACCES when
 * some byte is in a VDEV_MEM_F_RDONLY region.
 */
VDEV_API int vdev_mem_translate_write(const struct vdev_mem_table *t,
				      uint64_t gpa, uint64_t len,
				      struct iovec *iov, unsigned max_iov);

/*
 * Host pointer to [gpa, gpa + len) when that range lies inside one region,
 * else NULL (also on overflow). Used for rings, which must be contiguous in
 * this process.
 */
VDEV_API void *vdev_mem_ptr(const struct vdev_mem_table *t, uint64_t gpa,
			    uint64_t len);

/* Frontend virtual address to guest physical address for a range inside one
 * region (vhost-user SET_VRING_ADDR). -EFAULT when there is none. */
VDEV_API int vdev_mem_uva_to_gpa(const struct vdev_mem_table *t, uint64_t uva,
				 uint64_t len, uint64_t *gpa);

/* Copies between guest memory and a buffer, across regions. -EFAULT or
 * -EOVERFLOW as vdev_mem_translate (vdev_mem_write: -EACCES too, as
 * vdev_mem_translate_write); nothing is copied then. vdev_mem_ptr gives
 * read access only where a region is VDEV_MEM_F_RDONLY. */
VDEV_API int vdev_mem_read(const struct vdev_mem_table *t, uint64_t gpa,
			   void *buf, size_t len);
VDEV_API int vdev_mem_write(const struct vdev_mem_table *t, uint64_t gpa,
			    const void *buf, size_t len);

/*
 * Dirty-page log for live migration (vhost-user SET_LOG_BASE): one bit per
 * 4 KiB guest page, bit (gpa / 4096) of the byte array @log of @size bytes,
 * set atomically. NULL disables logging. While it is on, the queue layer
 * marks the used ring and every device-writable buffer it completes.
 */
VDEV_API int vdev_mem_set_dirty_log(struct vdev_mem *mem, void *log,
				    uint64_t size);
/*
 * The same, for a log the caller wants to free (munmap) safely: queue
 * workers may still hold snapshots that log into @log after this call
 * returns, so the map calls @release(@log, @size, @opaque) once the last
 * snapshot using @log is gone, from whichever thread releases it. Not
 * called when this call fails. With plain vdev_mem_set_dirty_log the
 * caller must keep an old log mapped for as long as the map exists.
 */
VDEV_API int vdev_mem_set_dirty_log_release(
	struct vdev_mem *mem, void *log, uint64_t size,
	void (*release)(void *log, uint64_t size, void *opaque),
	void *opaque);
VDEV_API void vdev_mem_log_write(const struct vdev_mem_table *t, uint64_t gpa,
				 uint64_t len);
/* True when dirty logging is on in this snapshot's map. */
VDEV_API bool vdev_mem_logging(const struct vdev_mem_table *t);

VDEV_END_DECLS

#endif /* VIRTIO_MEM_H */
