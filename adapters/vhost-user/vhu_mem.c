/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest memory (SET_MEM_TABLE, ADD/REM_MEM_REG, GET_MAX_MEM_SLOTS) and the
 * dirty log (SET_LOG_BASE, SET_LOG_FD). The map itself (src/queue) checks
 * guest ranges and publishes tables without racing the queue workers; this
 * file checks what only vhost-user has (frontend addresses, fd offsets,
 * the log size) and re-translates the rings afterwards.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <virtio/transport.h>

#include "peer/peer_mem.h"
#include "vhu_internal.h"

/* Largest dirty log accepted: one bit per page of 2^48 bytes. */
#define VHU_LOG_MAX (UINT64_C(1) << 33)

static bool wraps(uint64_t a, uint64_t len)
{
	return len == 0 || a + len < a;
}

/* A mapping past the end of a file faults (SIGBUS) on first touch. */
static int check_fd_range(int fd, uint64_t off, uint64_t len)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < off + len)
		return -EINVAL;
	return 0;
}

static int region_from_wire(const struct vhu_mem_region *w, int fd,
			    struct vdev_mem_region *r)
{
	memset(r, 0, sizeof(*r));
	r->guest_addr = w->guest_addr;
	r->size = w->size;
	r->user_addr = w->user_addr;
	r->fd_offset = w->mmap_offset;
	r->fd = fd;
	if (wraps(r->guest_addr, r->size) || wraps(r->user_addr, r->size) ||
	    wraps(r->fd_offset, r->size) || fd < 0)
		return -EINVAL;
	return check_fd_range(fd, r->fd_offset, r->size);
}

static bool ranges_overlap(uint64_t a, uint64_t alen, uint64_t b,
			   uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* Two regions may not share guest or frontend addresses: either would
 * make a translation ambiguous. */
static int check_disjoint(const struct vdev_mem_region *r, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = i + 1; j < n; j++)
			if (ranges_overlap(r[i].guest_addr, r[i].size,
					   r[j].guest_addr, r[j].size) ||
			    ranges_overlap(r[i].user_addr, r[i].size,
					   r[j].user_addr, r[j].size))
				return -EINVAL;
	return 0;
}

int vhu_set_mem_table(struct vdev_vhost_user *vu, struct vhu_msg *m,
		      struct vhu_msg *r)
{
	struct vdev_mem_region regs[VHU_MAX_FDS];
	unsigned n = m->p.mem.nregions;
	int ret;

	for (unsigned i = 0; i < n; i++) {
		ret = region_from_wire(&m->p.mem.regions[i], m->fds[i],
				       &regs[i]);
		if (ret)
			return ret;
	}
	ret = check_disjoint(regs, n);
	if (ret)
		return ret;
	vhu_rings_halt_outside(vu, regs, n);
	ret = vdev_mem_replace(vu->mem, regs, n);
	if (ret) {
		vhu_rings_remap(vu); /* the old table stays: restart */
		return ret;
	}
	vhu_mem_dup_clear(vu);
	return vhu_rings_remap(vu);
}

/*
 * QEMU 7.2 (Debian 12's) sends ADD_MEM_REG and REM_MEM_REG from each
 * vhost_dev of a device, which for net is each queue pair: the same
 * region comes once per pair. Refusing the second copy as an overlap made
 * QEMU fall back to userspace virtio, i.e. no traffic at all with
 * queues=2 (later QEMUs send them from the first vhost_dev only). A region
 * identical in every field the frontend names is the same memory: it is
 * counted here, not mapped again, and REM_MEM_REG drops a count before it
 * removes the region.
 */
static bool same_region(const struct vdev_mem_region *a,
			const struct vdev_mem_region *b)
{
	return a->guest_addr == b->guest_addr && a->size == b->size &&
	       a->user_addr == b->user_addr && a->fd_offset == b->fd_offset;
}

static struct vhu_mem_dup *mem_dup_find(struct vdev_vhost_user *vu,
					uint64_t gpa, uint64_t size)
{
	for (unsigned i = 0; i < vu->n_mem_dup; i++)
		if (vu->mem_dup[i].gpa == gpa && vu->mem_dup[i].size == size)
			return &vu->mem_dup[i];
	return NULL;
}

static int mem_dup_add(struct vdev_vhost_user *vu,
		       const struct vdev_mem_region *r)
{
	struct vhu_mem_dup *d = mem_dup_find(vu, r->guest_addr, r->size);

	if (!d) {
		/* One entry per region at most: the table never outgrows
		 * the map. */
		if (vu->n_mem_dup >= VDEV_MEM_MAX_REGIONS)
			return -ENOSPC;
		d = &vu->mem_dup[vu->n_mem_dup++];
		*d = (struct vhu_mem_dup){ .gpa = r->guest_addr,
					   .size = r->size };
	}
	/* Bounded by the frontend's vhost_devs in practice; a frontend
	 * that adds one region forever gets a refusal, not a wrap. */
	if (d->extra >= 0xffff)
		return -ENOSPC;
	d->extra++;
	return 0;
}

/* A REM_MEM_REG that only drops a count: true. */
static bool mem_dup_rem(struct vdev_vhost_user *vu, uint64_t gpa,
			uint64_t size)
{
	struct vhu_mem_dup *d = mem_dup_find(vu, gpa, size);

	if (!d)
		return false;
	if (--d->extra == 0)
		*d = vu->mem_dup[--vu->n_mem_dup];
	return true;
}

void vhu_mem_dup_clear(struct vdev_vhost_user *vu)
{
	vu->n_mem_dup = 0;
}

int vhu_get_max_mem_slots(struct vdev_vhost_user *vu, struct vhu_msg *m,
			  struct vhu_msg *r)
{
	vhu_reply_u64(r, VDEV_MEM_MAX_REGIONS);
	return 1;
}

int vhu_add_mem_reg(struct vdev_vhost_user *vu, struct vhu_msg *m,
		    struct vhu_msg *r)
{
	struct vdev_mem_region reg, old;
	unsigned n = vdev_mem_count(vu->mem);
	int ret;

	ret = region_from_wire(&m->p.mem_reg.region, m->fds[0], &reg);
	if (ret)
		return ret;
	for (unsigned i = 0; i < n; i++) {
		if (vdev_mem_region_get(vu->mem, i, &old) != 0)
			continue;
		if (same_region(&old, &reg))
			return mem_dup_add(vu, &reg);
		if (ranges_overlap(old.user_addr, old.size, reg.user_addr,
				   reg.size))
			return -EINVAL;
	}
	ret = vdev_mem_add(vu->mem, &reg);
	if (ret)
		return ret;
	return vhu_rings_remap(vu);
}

int vhu_rem_mem_reg(struct vdev_vhost_user *vu, struct vhu_msg *m,
		    struct vhu_msg *r)
{
	const struct vhu_mem_region *w = &m->p.mem_reg.region;
	uint64_t gpa = w->guest_addr, size = w->size;
	struct vdev_mem_region *keep;
	unsigned n = vdev_mem_count(vu->mem), k = 0;
	int ret;

	if (mem_dup_rem(vu, gpa, size))
		return 0;
	/* What stays, so rings in the region that goes halt first. */
	keep = calloc(n ? n : 1, sizeof(*keep));
	if (!keep)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++)
		if (vdev_mem_region_get(vu->mem, i, &keep[k]) == 0 &&
		    !(keep[k].guest_addr == gpa && keep[k].size == size))
			k++;
	if (k < n)
		vhu_rings_halt_outside(vu, keep, k);
	free(keep);
	ret = vdev_mem_remove(vu->mem, gpa, size);
	if (ret) {
		vhu_rings_remap(vu); /* restarts what was halted */
		return ret;
	}
	return vhu_rings_remap(vu);
}

/*
 * A mapped log, shared between the adapter and every snapshot of the map
 * that logs into it: queue workers may still hold such a snapshot after a
 * switch, so the mapping goes away with the last reference, whichever
 * thread drops it (vdev_mem_set_dirty_log_release).
 */
struct vhu_logmap {
	void *map;
	size_t len;
	uint8_t *log;
	uint64_t size;
	unsigned refs;
};

static void logmap_put(struct vhu_logmap *lm)
{
	if (lm && __atomic_sub_fetch(&lm->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		munmap(lm->map, lm->len);
		free(lm);
	}
}

static void log_released(void *log, uint64_t size, void *opaque)
{
	logmap_put(opaque);
}

int vhu_log_apply(struct vdev_vhost_user *vu)
{
	struct vhu_logmap *lm = vu->logmap;
	int ret;

	if (!vu->log_all || !lm)
		return vdev_mem_set_dirty_log(vu->mem, NULL, 0);
	__atomic_add_fetch(&lm->refs, 1, __ATOMIC_ACQ_REL);
	ret = vdev_mem_set_dirty_log_release(vu->mem, lm->log, lm->size,
					     log_released, lm);
	if (ret)
		logmap_put(lm); /* not released by the map on failure */
	return ret;
}

void vhu_log_unmap(struct vdev_vhost_user *vu)
{
	vdev_mem_set_dirty_log(vu->mem, NULL, 0);
	logmap_put(vu->logmap);
	vu->logmap = NULL;
}

int vhu_set_log_base(struct vdev_vhost_user *vu, struct vhu_msg *m,
		     struct vhu_msg *r)
{
	uint64_t size = m->p.log.mmap_size;
	uint64_t off = m->p.log.mmap_offset;
	long page = sysconf(_SC_PAGESIZE);
	uint64_t skew = off & (uint64_t)(page - 1);
	struct vhu_logmap *lm, *old = vu->logmap;
	int ret;

	if (wraps(off, size) || size > VHU_LOG_MAX)
		return -EINVAL;
	/* Written from every queue worker: a log that can shrink would
	 * turn a dirty bit into SIGBUS. QEMU seals its log memfd. */
	if (vpeer_fd_sealed(m->fds[0]) < 0) {
		vdev_log(VDEV_LOG_WARN, "vhost-user: log fd without "
			 "F_SEAL_SHRINK refused");
		return -EPERM;
	}
	ret = check_fd_range(m->fds[0], off, size);
	if (ret)
		return ret;
	lm = calloc(1, sizeof(*lm));
	if (!lm)
		return -ENOMEM;
	lm->len = size + skew;
	lm->map = mmap(NULL, lm->len, PROT_READ | PROT_WRITE, MAP_SHARED,
		       m->fds[0], (off_t)(off - skew));
	if (lm->map == MAP_FAILED) {
		ret = -errno;
		free(lm);
		return ret;
	}
	lm->log = (uint8_t *)lm->map + skew;
	lm->size = size;
	lm->refs = 1; /* the adapter's */
	vu->logmap = lm;
	ret = vhu_log_apply(vu);
	if (ret) {
		/* The old log stays in force. */
		vu->logmap = old;
		vhu_log_apply(vu);
		logmap_put(lm);
		return ret;
	}
	logmap_put(old);
	vhu_reply_u64(r, 0);
	return 1;
}

int vhu_set_log_fd(struct vdev_vhost_user *vu, struct vhu_msg *m,
		   struct vhu_msg *r)
{
	/* The log is written synchronously; nobody needs to be told. The
	 * dispatcher closes the fd. */
	return 0;
}
