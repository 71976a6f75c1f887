/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The shared inflight region (GET_INFLIGHT_FD, SET_INFLIGHT_FD) in the
 * layouts of vhost-user.rst "Inflight I/O tracking": per queue a header
 * and one descriptor-state entry per ring entry, each queue's part
 * 64-byte aligned.
 *
 * The region is allocated, handed out, taken back and checked here; the
 * queue layer fills it in (vdev_queue_set_inflight: every pop marks, every
 * push unmarks) and, when a ring starts on a region a dead back-end left,
 * pops the marked chains again. The layout follows the ring layout the
 * driver negotiated (SET_FEATURES comes before GET_INFLIGHT_FD: QEMU sends
 * it for this reason).
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <virtio/queue.h>
#include <virtio/spec.h>
#include <virtio/transport.h>

#include "peer/peer_mem.h"
#include "vhu_internal.h"

#define INFLIGHT_ALIGN 64u

size_t vhu_inflight_queue_size(uint16_t queue_size, bool packed)
{
	size_t n = vdev_queue_inflight_size(queue_size, packed);

	return (n + INFLIGHT_ALIGN - 1) & ~(size_t)(INFLIGHT_ALIGN - 1);
}

static bool is_packed(const struct vdev_vhost_user *vu);

/* This queue's part of the region, NULL when there is none, or when the
 * driver changed ring layout since the region was made (no tracking then,
 * rather than reading one layout as the other). */
void *vhu_inflight_queue(struct vdev_vhost_user *vu, unsigned i, size_t *len)
{
	const struct vhu_inflight_map *m = &vu->inflight;

	*len = 0;
	if (!m->base || i >= m->num_queues || m->packed != is_packed(vu))
		return NULL;
	*len = vhu_inflight_queue_size(m->queue_size, m->packed);
	return (uint8_t *)m->base + (size_t)i * *len;
}

void vhu_inflight_unmap(struct vdev_vhost_user *vu)
{
	/* The queues stop writing into it first. */
	for (unsigned i = 0; vu->inflight.base && i < vu->nq; i++)
		vdev_vq_set_inflight(vu->dev, i, NULL, 0);
	if (vu->inflight.base)
		munmap(vu->inflight.base, vu->inflight.len);
	memset(&vu->inflight, 0, sizeof(vu->inflight));
}

static bool is_packed(const struct vdev_vhost_user *vu)
{
	return vdev_driver_features(vu->dev) & VDEV_BIT(VDEV_F_RING_PACKED);
}

static int check_geometry(struct vdev_vhost_user *vu, uint16_t nq,
			  uint16_t qs)
{
	if (nq == 0 || nq > vu->nq || qs == 0 ||
	    qs > vdev_vq_max_size(vu->dev, 0))
		return -EINVAL;
	return 0;
}

static void init_region(void *base, uint16_t nq, uint16_t qs, bool packed)
{
	size_t per = vhu_inflight_queue_size(qs, packed);

	for (uint16_t i = 0; i < nq; i++)
		vdev_queue_inflight_init((uint8_t *)base + (size_t)i * per, per,
					 qs, packed);
}

int vhu_get_inflight_fd(struct vdev_vhost_user *vu, struct vhu_msg *m,
			struct vhu_msg *r)
{
	uint16_t nq = m->p.inflight.num_queues;
	uint16_t qs = m->p.inflight.queue_size;
	bool packed = is_packed(vu);
	size_t len;
	void *base;
	int fd, ret;

	ret = check_geometry(vu, nq, qs);
	if (ret)
		return ret;
	len = (size_t)nq * vhu_inflight_queue_size(qs, packed);
	fd = memfd_create("vdev-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	ret = ftruncate(fd, (off_t)len) < 0 ? -errno : 0;
	/* Sealed: the frontend cannot shrink it under us (peer_mem.h). */
	if (!ret)
		ret = vpeer_seal(fd);
	if (ret) {
		close(fd);
		return ret;
	}
	base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED) {
		ret = -errno;
		close(fd);
		return ret;
	}
	init_region(base, nq, qs, packed);
	vhu_inflight_unmap(vu);
	vu->inflight = (struct vhu_inflight_map){ base, len, nq, qs, packed };
	r->size = sizeof(struct vhu_inflight);
	r->p.inflight.mmap_size = len;
	r->p.inflight.mmap_offset = 0;
	r->p.inflight.num_queues = nq;
	r->p.inflight.queue_size = qs;
	r->fds[0] = fd; /* closed by the dispatcher after sending */
	r->nfds = 1;
	return 1;
}

int vhu_set_inflight_fd(struct vdev_vhost_user *vu, struct vhu_msg *m,
			struct vhu_msg *r)
{
	uint64_t size = m->p.inflight.mmap_size;
	uint64_t off = m->p.inflight.mmap_offset;
	uint16_t nq = m->p.inflight.num_queues;
	uint16_t qs = m->p.inflight.queue_size;
	bool packed = is_packed(vu);
	long page = sysconf(_SC_PAGESIZE);
	struct stat st;
	void *base;
	int ret;

	ret = check_geometry(vu, nq, qs);
	if (ret)
		return ret;
	if (size < (uint64_t)nq * vhu_inflight_queue_size(qs, packed) ||
	    off + size < off || (off & (uint64_t)(page - 1)))
		return -EINVAL;
	/* A region that can shrink would turn a touch past its new end into
	 * SIGBUS: only a sealed one (ours from GET_INFLIGHT_FD, QEMU's
	 * libvhost-user's) is taken. Seals first, then the size they fix. */
	if (vpeer_fd_sealed(m->fds[0]) < 0) {
		vdev_log(VDEV_LOG_WARN, "vhost-user: inflight fd without "
			 "F_SEAL_SHRINK refused");
		return -EPERM;
	}
	if (fstat(m->fds[0], &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size < off + size)
		return -EINVAL;
	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fds[0],
		    (off_t)off);
	if (base == MAP_FAILED)
		return -errno;
	vhu_inflight_unmap(vu);
	vu->inflight = (struct vhu_inflight_map){ base, size, nq, qs, packed };
	return 0;
}
