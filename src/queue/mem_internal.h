/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest memory map internals, shared by mem.c and the ring code, which
 * inlines the lookups on its hot path.
 */
#ifndef VQ_MEM_INTERNAL_H
#define VQ_MEM_INTERNAL_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <virtio/mem.h>

#include "peer/peer_mem.h"

#define VQ_LOG_PAGE 4096u

/* One mmap the map made itself; shared by the snapshots that use it. It
 * maps a peer's fd, so it is guarded: a SIGBUS in it (the peer shrank the
 * file) sets guard.faulted and bumps the map's generation. */
struct vq_mapping {
	atomic_uint refs;
	void *addr;
	size_t len;
	struct vpeer_guard guard;
};

/* A dirty log shared by the snapshots that log into it. */
struct vq_log {
	atomic_uint refs;
	uint8_t *bits;
	uint64_t size;
	void (*release)(void *log, uint64_t size, void *opaque);
	void *opaque;
};

struct vq_region {
	uint64_t gpa;
	uint64_t last;      /* gpa + size - 1: cannot overflow */
	uint8_t *host;
	uint64_t size;
	uint64_t uva;
	struct vq_mapping *map; /* NULL for caller memory */
	uint64_t fd_offset;
	int fd;
	bool caller_host;
	bool rdonly;        /* VDEV_MEM_F_RDONLY: mapped PROT_READ */
};

struct vdev_mem_table {
	atomic_uint refs;
	unsigned n;
	uint64_t generation;
	struct vdev_mem *mem;
	uint8_t *log;         /* == logref->bits, on the hot path */
	uint64_t log_size;
	struct vq_log *logref;
	struct vq_region r[]; /* sorted by gpa, disjoint */
};

struct vdev_mem {
	_Atomic(struct vdev_mem_table *) cur;
	_Atomic uint64_t generation;
	atomic_uint readers;
	atomic_uint refs;        /* users */
	atomic_uint struct_refs; /* users (as one) + live snapshots */
	pthread_mutex_t lock;    /* serialises writers */
};

/* The region holding @gpa, or NULL. Binary search. */
/* True when a mapping of @t was hit by a SIGBUS (its peer shrank it). */
static inline bool vq_mem_faulted(const struct vdev_mem_table *t)
{
	for (unsigned i = 0; i < t->n; i++)
		if (t->r[i].map && vpeer_mem_faulted(&t->r[i].map->guard))
			return true;
	return false;
}

static inline const struct vq_region *
vq_mem_find(const struct vdev_mem_table *t, uint64_t gpa)
{
	unsigned lo = 0, hi = t->n;

	/* Most maps have one region: skip the search. */
	if (__builtin_expect(t->n == 1, 1))
		return gpa - t->r[0].gpa <= t->r[0].last - t->r[0].gpa ?
			       &t->r[0] : NULL;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (gpa < t->r[mid].gpa)
			hi = mid;
		else if (gpa > t->r[mid].last)
			lo = mid + 1;
		else
			return &t->r[mid];
	}
	return NULL;
}

static inline void *vq_mem_ptr(const struct vdev_mem_table *t, uint64_t gpa,
			       uint64_t len)
{
	const struct vq_region *r;

	if (len && gpa + (len - 1) < gpa)
		return NULL;
	r = vq_mem_find(t, gpa);
	if (!r || (len && len - 1 > r->last - gpa))
		return NULL;
	return r->host + (gpa - r->gpa);
}

/* vq_mem_ptr for memory the device writes (used ring, packed ring): NULL
 * also when the range is in a read-only region. */
static inline void *vq_mem_ptr_w(const struct vdev_mem_table *t, uint64_t gpa,
				 uint64_t len)
{
	void *p = vq_mem_ptr(t, gpa, len);

	return p && !vq_mem_find(t, gpa)->rdonly ? p : NULL;
}

/*
 * Translates [gpa, gpa + len) into @iov (NULL: only count). Returns the
 * number of iovecs, -EFAULT, -EOVERFLOW or -ENOBUFS as vdev_mem_translate,
 * and -EACCES when @write and some byte is in a read-only region.
 */
static inline int vq_mem_map(const struct vdev_mem_table *t, uint64_t gpa,
			     uint64_t len, struct iovec *iov, unsigned max_iov,
			     bool write)
{
	unsigned n = 0;

	if (len == 0)
		return 0;
	if (gpa + (len - 1) < gpa)
		return -EOVERFLOW;
	for (;;) {
		const struct vq_region *r = vq_mem_find(t, gpa);
		uint64_t avail;

		if (!r)
			return -EFAULT;
		if (write && r->rdonly)
			return -EACCES;
		if (n >= max_iov)
			return -ENOBUFS;
		avail = r->last - gpa; /* bytes after gpa in the region */
		if (iov) {
			iov[n].iov_base = r->host + (gpa - r->gpa);
			iov[n].iov_len = len - 1 <= avail ? len : avail + 1;
		}
		n++;
		if (len - 1 <= avail)
			return (int)n;
		len -= avail + 1;
		gpa += avail + 1;
	}
}

#endif /* VQ_MEM_INTERNAL_H */
