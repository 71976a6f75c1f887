/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest memory map: immutable, reference-counted snapshots (RCU style).
 *
 * Lifetimes: a mapping the map created (fd regions) is shared by every
 * snapshot that contains its region, so it carries its own count and is
 * unmapped with the last snapshot using it. Snapshots pin the map struct
 * (for nothing but its memory), so the struct is freed after both the
 * users and the last snapshot are gone.
 *
 * Acquire without locks: a reader announces itself in mem->readers before
 * loading the current pointer and leaves after taking its reference. A
 * writer that swapped the pointer waits for readers to reach zero before
 * dropping the map's own reference to the old snapshot, so no reader can
 * increment the count of a freed snapshot. The window is a few
 * instructions long, the wait is a short spin.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "queue/mem_internal.h"

static void mapping_put(struct vq_mapping *m)
{
	if (!m || atomic_fetch_sub_explicit(&m->refs, 1,
					    memory_order_acq_rel) != 1)
		return;
	vpeer_mem_unguard(m->addr);
	munmap(m->addr, m->len);
	free(m);
}

static void log_put(struct vq_log *l)
{
	if (!l || atomic_fetch_sub_explicit(&l->refs, 1,
					    memory_order_acq_rel) != 1)
		return;
	if (l->release)
		l->release(l->bits, l->size, l->opaque);
	free(l);
}

static void mem_struct_put(struct vdev_mem *mem)
{
	if (atomic_fetch_sub_explicit(&mem->struct_refs, 1,
				      memory_order_acq_rel) != 1)
		return;
	pthread_mutex_destroy(&mem->lock);
	free(mem);
}

static struct vdev_mem_table *table_alloc(struct vdev_mem *mem, unsigned n)
{
	struct vdev_mem_table *t;

	t = calloc(1, sizeof(*t) + (size_t)n * sizeof(t->r[0]));
	if (!t)
		return NULL;
	atomic_init(&t->refs, 1);
	t->mem = mem;
	atomic_fetch_add_explicit(&mem->struct_refs, 1, memory_order_relaxed);
	return t;
}

static void table_free(struct vdev_mem_table *t)
{
	struct vdev_mem *mem = t->mem;

	for (unsigned i = 0; i < t->n; i++)
		mapping_put(t->r[i].map);
	log_put(t->logref);
	free(t);
	mem_struct_put(mem);
}

void vdev_mem_release(struct vdev_mem_table *t)
{
	if (t && atomic_fetch_sub_explicit(&t->refs, 1,
					   memory_order_acq_rel) == 1)
		table_free(t);
}

struct vdev_mem_table *vdev_mem_acquire(struct vdev_mem *mem)
{
	struct vdev_mem_table *t;

	atomic_fetch_add(&mem->readers, 1);
	t = atomic_load(&mem->cur);
	atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
	atomic_fetch_sub_explicit(&mem->readers, 1, memory_order_release);
	return t;
}

uint64_t vdev_mem_table_generation(const struct vdev_mem_table *t)
{
	return t->generation;
}

uint64_t vdev_mem_generation(const struct vdev_mem *mem)
{
	return atomic_load_explicit(&mem->generation, memory_order_acquire);
}

/* Called with mem->lock held; takes over the caller's reference to @t. */
static void publish(struct vdev_mem *mem, struct vdev_mem_table *t)
{
	struct vdev_mem_table *old;

	t->generation = atomic_load_explicit(&mem->generation,
					     memory_order_relaxed) + 1;
	old = atomic_exchange(&mem->cur, t);
	atomic_store_explicit(&mem->generation, t->generation,
			      memory_order_release);
	while (atomic_load(&mem->readers) != 0)
		sched_yield();
	vdev_mem_release(old);
}

struct vdev_mem *vdev_mem_new(void)
{
	struct vdev_mem *mem = calloc(1, sizeof(*mem));
	struct vdev_mem_table *t;

	if (!mem) {
		errno = ENOMEM;
		return NULL;
	}
	atomic_init(&mem->refs, 1);
	atomic_init(&mem->struct_refs, 1);
	pthread_mutex_init(&mem->lock, NULL);
	t = table_alloc(mem, 0);
	if (!t) {
		pthread_mutex_destroy(&mem->lock);
		free(mem);
		errno = ENOMEM;
		return NULL;
	}
	t->generation = 1;
	atomic_init(&mem->generation, 1);
	atomic_init(&mem->cur, t);
	return mem;
}

struct vdev_mem *vdev_mem_ref(struct vdev_mem *mem)
{
	atomic_fetch_add_explicit(&mem->refs, 1, memory_order_relaxed);
	return mem;
}

void vdev_mem_free(struct vdev_mem *mem)
{
	struct vdev_mem_table *t;

	if (!mem || atomic_fetch_sub_explicit(&mem->refs, 1,
					      memory_order_acq_rel) != 1)
		return;
	/* No user is left, so nobody can acquire any more. */
	t = atomic_exchange(&mem->cur, NULL);
	vdev_mem_release(t);
	mem_struct_put(mem);
}

static int region_check(const struct vdev_mem_region *r)
{
	if (r->size == 0 || r->guest_addr + (r->size - 1) < r->guest_addr ||
	    r->flags & ~VDEV_MEM_F_RDONLY)
		return -EINVAL;
	if (!r->host) {
		if (r->fd < 0 || r->fd_offset + r->size < r->fd_offset ||
		    r->size > SIZE_MAX)
			return -EINVAL;
	}
	if (r->user_addr && r->user_addr + (r->size - 1) < r->user_addr)
		return -EINVAL;
	return 0;
}

/* Fills @out from @in, mapping the fd when there is no host pointer. */
static int region_make(struct vdev_mem *mem, const struct vdev_mem_region *in,
		       struct vq_region *out)
{
	struct vq_mapping *m;
	long pg = 4096;
	uint64_t delta;
	void *p;
	int ret = region_check(in);

	if (ret)
		return ret;
	memset(out, 0, sizeof(*out));
	out->gpa = in->guest_addr;
	out->size = in->size;
	out->last = in->guest_addr + (in->size - 1);
	out->uva = in->user_addr;
	out->fd = in->fd;
	out->fd_offset = in->fd_offset;
	out->rdonly = in->flags & VDEV_MEM_F_RDONLY;
	if (in->host) {
		out->host = in->host;
		out->caller_host = true;
		return 0;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	/* mmap wants a page-aligned offset; keep the slack in front. */
	delta = in->fd_offset & (uint64_t)(pg - 1);
	if (in->size + delta < in->size || in->size + delta > SIZE_MAX) {
		free(m);
		return -EINVAL;
	}
	p = mmap(NULL, in->size + delta,
		 out->rdonly ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED,
		 in->fd, (off_t)(in->fd_offset - delta));
	if (p == MAP_FAILED) {
		ret = -errno;
		free(m);
		return ret;
	}
	m->addr = p;
	m->len = in->size + delta;
	atomic_init(&m->refs, 1);
	/* The fd is a peer's: it may shrink it under us (peer_mem.h). */
	atomic_init(&m->guard.faulted, 0);
	m->guard.bump = &mem->generation;
	ret = vpeer_mem_guard(p, m->len, &m->guard);
	if (ret) {
		munmap(p, m->len);
		free(m);
		return ret;
	}
	out->map = m;
	out->host = (uint8_t *)p + delta;
	return 0;
}

static int cmp_region(const void *a, const void *b)
{
	const struct vq_region *x = a, *y = b;

	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

/* Sorted input: true when two neighbours overlap. */
static bool any_overlap(const struct vq_region *r, unsigned n)
{
	for (unsigned i = 1; i < n; i++)
		if (r[i].gpa <= r[i - 1].last)
			return true;
	return false;
}

static void copy_shared(struct vdev_mem_table *dst,
			const struct vdev_mem_table *src)
{
	dst->log = src->log;
	dst->log_size = src->log_size;
	dst->logref = src->logref;
	if (dst->logref)
		atomic_fetch_add(&dst->logref->refs, 1);
}

int vdev_mem_add(struct vdev_mem *mem, const struct vdev_mem_region *region)
{
	struct vdev_mem_table *cur, *t;
	struct vq_region nr;
	int ret;

	pthread_mutex_lock(&mem->lock);
	cur = atomic_load(&mem->cur);
	if (cur->n >= VDEV_MEM_MAX_REGIONS) {
		ret = -ENOSPC;
		goto out;
	}
	ret = region_check(region);
	if (ret)
		goto out;
	for (unsigned i = 0; i < cur->n; i++) {
		if (region->guest_addr <= cur->r[i].last &&
		    cur->r[i].gpa <= region->guest_addr + (region->size - 1)) {
			ret = -EEXIST;
			goto out;
		}
	}
	ret = region_make(mem, region, &nr);
	if (ret)
		goto out;
	t = table_alloc(mem, cur->n + 1);
	if (!t) {
		mapping_put(nr.map);
		ret = -ENOMEM;
		goto out;
	}
	copy_shared(t, cur);
	t->n = cur->n + 1;
	for (unsigned i = 0; i < cur->n; i++) {
		t->r[i] = cur->r[i];
		if (t->r[i].map)
			atomic_fetch_add(&t->r[i].map->refs, 1);
	}
	t->r[cur->n] = nr;
	qsort(t->r, t->n, sizeof(t->r[0]), cmp_region);
	publish(mem, t);
out:
	pthread_mutex_unlock(&mem->lock);
	return ret;
}

int vdev_mem_remove(struct vdev_mem *mem, uint64_t guest_addr, uint64_t size)
{
	struct vdev_mem_table *cur, *t;
	unsigned j = 0;
	int ret = -ENOENT;

	pthread_mutex_lock(&mem->lock);
	cur = atomic_load(&mem->cur);
	for (unsigned i = 0; i < cur->n; i++)
		if (cur->r[i].gpa == guest_addr && cur->r[i].size == size)
			ret = 0;
	if (ret)
		goto out;
	t = table_alloc(mem, cur->n - 1);
	if (!t) {
		ret = -ENOMEM;
		goto out;
	}
	copy_shared(t, cur);
	for (unsigned i = 0; i < cur->n; i++) {
		if (cur->r[i].gpa == guest_addr && cur->r[i].size == size)
			continue;
		t->r[j] = cur->r[i];
		if (t->r[j].map)
			atomic_fetch_add(&t->r[j].map->refs, 1);
		j++;
	}
	t->n = j;
	publish(mem, t);
out:
	pthread_mutex_unlock(&mem->lock);
	return ret;
}

int vdev_mem_replace(struct vdev_mem *mem,
		     const struct vdev_mem_region *regions, unsigned n)
{
	struct vdev_mem_table *t;
	int ret = 0;

	if (n > VDEV_MEM_MAX_REGIONS)
		return -ENOSPC;
	if (n && !regions)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		ret = region_check(&regions[i]);
		if (ret)
			return ret;
	}
	pthread_mutex_lock(&mem->lock);
	t = table_alloc(mem, n);
	if (!t) {
		ret = -ENOMEM;
		goto out;
	}
	copy_shared(t, atomic_load(&mem->cur));
	for (; t->n < n; t->n++) {
		ret = region_make(mem, &regions[t->n], &t->r[t->n]);
		if (ret)
			break;
	}
	if (!ret) {
		qsort(t->r, t->n, sizeof(t->r[0]), cmp_region);
		if (any_overlap(t->r, t->n))
			ret = -EEXIST;
	}
	if (ret) {
		/* Never published: drop it (unmaps what it mapped). */
		vdev_mem_release(t);
		goto out;
	}
	publish(mem, t);
out:
	pthread_mutex_unlock(&mem->lock);
	return ret;
}

unsigned vdev_mem_count(struct vdev_mem *mem)
{
	struct vdev_mem_table *t = vdev_mem_acquire(mem);
	unsigned n = t->n;

	vdev_mem_release(t);
	return n;
}

int vdev_mem_region_get(struct vdev_mem *mem, unsigned i,
			struct vdev_mem_region *out)
{
	struct vdev_mem_table *t = vdev_mem_acquire(mem);
	int ret = -ENOENT;

	if (i < t->n) {
		const struct vq_region *r = &t->r[i];

		out->guest_addr = r->gpa;
		out->size = r->size;
		out->host = r->host;
		out->fd = r->fd;
		out->fd_offset = r->fd_offset;
		out->user_addr = r->uva;
		out->flags = r->rdonly ? VDEV_MEM_F_RDONLY : 0;
		ret = 0;
	}
	vdev_mem_release(t);
	return ret;
}

int vdev_mem_set_dirty_log_release(
	struct vdev_mem *mem, void *log, uint64_t size,
	void (*release)(void *log, uint64_t size, void *opaque), void *opaque)
{
	struct vdev_mem_table *cur, *t;
	struct vq_log *l = NULL;
	int ret = 0;

	if (log && size == 0)
		return -EINVAL;
	if (log) {
		l = calloc(1, sizeof(*l));
		if (!l)
			return -ENOMEM;
		atomic_init(&l->refs, 1);
		l->bits = log;
		l->size = size;
		l->release = release;
		l->opaque = opaque;
	}
	pthread_mutex_lock(&mem->lock);
	cur = atomic_load(&mem->cur);
	t = table_alloc(mem, cur->n);
	if (!t) {
		free(l);
		ret = -ENOMEM;
		goto out;
	}
	t->n = cur->n;
	for (unsigned i = 0; i < cur->n; i++) {
		t->r[i] = cur->r[i];
		if (t->r[i].map)
			atomic_fetch_add(&t->r[i].map->refs, 1);
	}
	/* The new table takes over the reference made above. */
	t->logref = l;
	t->log = log;
	t->log_size = log ? size : 0;
	publish(mem, t);
out:
	pthread_mutex_unlock(&mem->lock);
	return ret;
}

int vdev_mem_set_dirty_log(struct vdev_mem *mem, void *log, uint64_t size)
{
	return vdev_mem_set_dirty_log_release(mem, log, size, NULL, NULL);
}

bool vdev_mem_logging(const struct vdev_mem_table *t)
{
	return t->log != NULL;
}

void vdev_mem_log_write(const struct vdev_mem_table *t, uint64_t gpa,
			uint64_t len)
{
	uint64_t first, last;

	if (!t->log || len == 0)
		return;
	if (gpa + (len - 1) < gpa)
		len = -gpa;
	first = gpa / VQ_LOG_PAGE;
	last = (gpa + (len - 1)) / VQ_LOG_PAGE;
	for (uint64_t p = first; p <= last; p++) {
		/* Pages past the end of the log are not tracked. */
		if (p / 8 >= t->log_size)
			break;
		__atomic_fetch_or(&t->log[p / 8], (uint8_t)(1u << (p % 8)),
				  __ATOMIC_RELAXED);
	}
}

int vdev_mem_translate(const struct vdev_mem_table *t, uint64_t gpa,
		       uint64_t len, struct iovec *iov, unsigned max_iov)
{
	return vq_mem_map(t, gpa, len, iov, max_iov, false);
}

int vdev_mem_translate_write(const struct vdev_mem_table *t, uint64_t gpa,
			     uint64_t len, struct iovec *iov, unsigned max_iov)
{
	return vq_mem_map(t, gpa, len, iov, max_iov, true);
}

void *vdev_mem_ptr(const struct vdev_mem_table *t, uint64_t gpa, uint64_t len)
{
	return vq_mem_ptr(t, gpa, len);
}

int vdev_mem_uva_to_gpa(const struct vdev_mem_table *t, uint64_t uva,
			uint64_t len, uint64_t *gpa)
{
	if (len && uva + (len - 1) < uva)
		return -EFAULT;
	for (unsigned i = 0; i < t->n; i++) {
		const struct vq_region *r = &t->r[i];

		if (!r->uva || uva < r->uva || uva - r->uva >= r->size)
			continue;
		if (len && len - 1 > r->size - 1 - (uva - r->uva))
			continue;
		*gpa = r->gpa + (uva - r->uva);
		return 0;
	}
	return -EFAULT;
}

static int copy(const struct vdev_mem_table *t, uint64_t gpa, void *buf,
		size_t len, bool to_guest)
{
	uint8_t *p = buf;
	int ret;

	if (len == 0)
		return 0;
	if (gpa + (len - 1) < gpa)
		return -EOVERFLOW;
	/* Check the whole range first so that nothing is copied on error. */
	ret = vq_mem_map(t, gpa, len, NULL, UINT32_MAX, to_guest);
	if (ret < 0)
		return ret == -EACCES ? ret : -EFAULT;
	while (len) {
		const struct vq_region *r = vq_mem_find(t, gpa);
		uint64_t off = gpa - r->gpa;
		uint64_t n = r->size - off < len ? r->size - off : len;

		if (to_guest)
			memcpy(r->host + off, p, n);
		else
			memcpy(p, r->host + off, n);
		p += n;
		gpa += n;
		len -= n;
	}
	return 0;
}

int vdev_mem_read(const struct vdev_mem_table *t, uint64_t gpa, void *buf,
		  size_t len)
{
	return copy(t, gpa, buf, len, false);
}

int vdev_mem_write(const struct vdev_mem_table *t, uint64_t gpa,
		   const void *buf, size_t len)
{
	return copy(t, gpa, (void *)buf, len, true);
}
