/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Software driver: guest RAM. One memfd, mapped once for the driver and
 * registered in a `struct vdev_mem` by fd, as a transport would, so the
 * device side goes through the map's own mmap and bounds checks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <virtio/testing.h>

#include "testing/drv_internal.h"

struct vdev_drv_mem {
	uint64_t base;
	size_t size;
	size_t used;
	unsigned nregions;
	int fd;
	uint8_t *host;
	struct vdev_mem *map;
};

struct vdev_drv_mem *vdev_drv_mem_new(uint64_t base, size_t size,
				      unsigned nregions)
{
	struct vdev_drv_mem *m;
	size_t chunk;
	int err = EINVAL;

	if (nregions == 0)
		nregions = 1;
	if (size == 0 || nregions > VDEV_MEM_MAX_REGIONS || size < nregions ||
	    base + (size - 1) < base) {
		errno = EINVAL;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		errno = ENOMEM;
		return NULL;
	}
	m->base = base;
	m->size = size;
	m->nregions = nregions;
	m->fd = memfd_create("vdev-guest-ram", MFD_CLOEXEC);
	if (m->fd < 0 || ftruncate(m->fd, (off_t)size) < 0) {
		err = errno;
		goto fail;
	}
	m->host = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd,
		       0);
	if (m->host == MAP_FAILED) {
		err = errno;
		m->host = NULL;
		goto fail;
	}
	m->map = vdev_mem_new();
	if (!m->map) {
		err = ENOMEM;
		goto fail;
	}
	chunk = size / nregions;
	for (unsigned i = 0; i < nregions; i++) {
		struct vdev_mem_region r = {
			.guest_addr = base + (uint64_t)i * chunk,
			.size = i + 1 < nregions ? chunk :
						   size - (size_t)i * chunk,
			.fd = m->fd,
			.fd_offset = (uint64_t)i * chunk,
			.user_addr = (uint64_t)(uintptr_t)m->host + i * chunk,
		};
		int ret = vdev_mem_add(m->map, &r);

		if (ret) {
			err = -ret;
			goto fail;
		}
	}
	return m;
fail:
	vdev_drv_mem_free(m);
	errno = err;
	return NULL;
}

void vdev_drv_mem_free(struct vdev_drv_mem *m)
{
	if (!m)
		return;
	vdev_mem_free(m->map);
	if (m->host)
		munmap(m->host, m->size);
	if (m->fd >= 0)
		close(m->fd);
	free(m);
}

struct vdev_mem *vdev_drv_mem_map(struct vdev_drv_mem *m)
{
	return m->map;
}

unsigned vdrv_mem_nregions(const struct vdev_drv_mem *m)
{
	return m->nregions;
}

int vdev_drv_mem_fd(const struct vdev_drv_mem *m)
{
	return m->fd;
}

uint64_t vdev_drv_mem_base(const struct vdev_drv_mem *m)
{
	return m->base;
}

size_t vdev_drv_mem_size(const struct vdev_drv_mem *m)
{
	return m->size;
}

void *vdev_drv_mem_host(struct vdev_drv_mem *m, uint64_t gpa)
{
	if (gpa < m->base || gpa - m->base >= m->size)
		return NULL;
	return m->host + (gpa - m->base);
}

void *vdev_drv_mem_alloc(struct vdev_drv_mem *m, size_t len, size_t align,
			 uint64_t *gpa)
{
	uint64_t start;

	if (align == 0)
		align = 1;
	if (align & (align - 1))
		return NULL;
	/* Align the guest address, not the offset. */
	start = (m->base + m->used + (align - 1)) & ~(uint64_t)(align - 1);
	if (start < m->base || start - m->base > m->size ||
	    len > m->size - (start - m->base))
		return NULL;
	m->used = (size_t)(start - m->base) + len;
	memset(m->host + (start - m->base), 0, len);
	if (gpa)
		*gpa = start;
	return m->host + (start - m->base);
}

size_t vdev_drv_mem_mark(const struct vdev_drv_mem *m)
{
	return m->used;
}

void vdev_drv_mem_reset_to(struct vdev_drv_mem *m, size_t mark)
{
	if (mark <= m->used)
		m->used = mark;
}
