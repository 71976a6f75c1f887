/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * KVM adapter: binds a virtio-mmio register file to a VM with ioeventfds
 * (kicks), an irqfd (interrupt line) and one device thread.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <virtio/kvm.h>
#include <virtio/loop.h>
#include <virtio/spec.h>
#include <virtio/transport.h>

#include "core/thread.h"
#include "core/sized.h"
struct vdev_kvm {
	int vm_fd;
	struct vdev *dev;
	struct vdev_mmio *mmio;
	struct vdev_kvm_config cfg;

	int irq_fd;
	int resample_fd;
	bool irqfd_assigned;
	bool level;

	unsigned nq;
	int *kick_fds;
	unsigned ioevents; /* queues [0, ioevents) have an ioeventfd */
	bool ioeventfd;

	struct vdev_loop *loop;
	pthread_t thread;
	bool thread_started;

	_Atomic uint64_t mmio_exits;
	_Atomic uint64_t notify_exits;
	_Atomic uint64_t irqs;
	_Atomic uint64_t resamples;
	_Atomic uint64_t reasserts;
};

static void kvm_signal(int fd)
{
	uint64_t one = 1;

	/* An eventfd write fails only when the counter would overflow,
	 * and then an interrupt is pending anyway. */
	if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		vdev_log(VDEV_LOG_ERROR, "kvm: irqfd write: %s",
			 strerror(errno));
}

/* The line, as the register file drives it. Deasserting is KVM's job: a
 * resample irqfd drops the line at the guest's EOI. */
static void kvm_set_irq(void *opaque, bool level)
{
	struct vdev_kvm *k = opaque;

	if (!level)
		return;
	atomic_fetch_add(&k->irqs, 1);
	kvm_signal(k->irq_fd);
}

static void kvm_resample(void *arg, int fd, uint32_t events)
{
	struct vdev_kvm *k = arg;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return;
	atomic_fetch_add(&k->resamples, 1);
	if (vdev_mmio_interrupt_status(k->mmio)) {
		atomic_fetch_add(&k->reasserts, 1);
		kvm_signal(k->irq_fd);
	}
}

static void *kvm_thread(void *arg)
{
	struct vdev_kvm *k = arg;
	int rc = vdev_loop_run(k->loop);

	if (rc < 0)
		vdev_log(VDEV_LOG_ERROR, "kvm: device loop: %s",
			 strerror(-rc));
	return NULL;
}

static int kvm_ioeventfd(struct vdev_kvm *k, unsigned qidx, bool assign)
{
	struct kvm_ioeventfd io = {
		/* KVM compares the bytes the guest wrote, read as a host
		 * integer; virtio-mmio registers are little-endian. */
		.datamatch = vdev_cpu_to_le32(qidx),
		.addr = k->cfg.mmio_base + VDEV_MMIO_QUEUE_NOTIFY,
		.len = 4,
		.fd = k->kick_fds[qidx],
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH |
			 (assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN),
	};

	return ioctl(k->vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

static int kvm_irqfd(struct vdev_kvm *k)
{
	struct kvm_irqfd irq = {
		.fd = (uint32_t)k->irq_fd,
		.gsi = k->cfg.gsi,
	};

	if (!(k->cfg.flags & VDEV_KVM_F_EDGE)) {
		k->resample_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (k->resample_fd < 0)
			return -errno;
		irq.flags = KVM_IRQFD_FLAG_RESAMPLE;
		irq.resamplefd = (uint32_t)k->resample_fd;
		if (ioctl(k->vm_fd, KVM_IRQFD, &irq) == 0) {
			k->level = true;
			return 0;
		}
		vdev_log(VDEV_LOG_WARN,
			 "kvm: no resample irqfd on GSI %u (%s); the line is "
			 "edge-triggered",
			 k->cfg.gsi, strerror(errno));
		close(k->resample_fd);
		k->resample_fd = -1;
		irq.flags = 0;
		irq.resamplefd = 0;
	}
	return ioctl(k->vm_fd, KVM_IRQFD, &irq) < 0 ? -errno : 0;
}

static void kvm_teardown(struct vdev_kvm *k)
{
	/* The device's fds leave the loop while it still exists, and the
	 * thread is gone before the kick fds change under it. */
	vdev_set_watcher(k->dev, NULL);
	if (k->thread_started) {
		vdev_loop_stop(k->loop);
		pthread_join(k->thread, NULL);
	}
	if (k->mmio)
		for (unsigned i = 0; i < k->nq; i++)
			if (k->kick_fds[i] >= 0)
				vdev_mmio_set_kick_fd(k->mmio, i, -1);
	for (unsigned i = 0; i < k->ioevents; i++)
		kvm_ioeventfd(k, i, false);
	if (k->irqfd_assigned) {
		struct kvm_irqfd irq = {
			.fd = (uint32_t)k->irq_fd,
			.gsi = k->cfg.gsi,
			.flags = KVM_IRQFD_FLAG_DEASSIGN,
		};

		ioctl(k->vm_fd, KVM_IRQFD, &irq);
	}
	vdev_mmio_free(k->mmio);
	for (unsigned i = 0; i < k->nq; i++)
		if (k->kick_fds[i] >= 0)
			close(k->kick_fds[i]);
	if (k->irq_fd >= 0)
		close(k->irq_fd);
	if (k->resample_fd >= 0)
		close(k->resample_fd);
	vdev_loop_free(k->loop);
	free(k->kick_fds);
	free(k);
}

static int kvm_setup(struct vdev_kvm *k)
{
	struct vdev_mmio_config mc = {
		.set_irq = kvm_set_irq,
		.opaque = k,
	};
	struct vdev_watcher w;
	int rc;

	if (!(k->cfg.flags & VDEV_KVM_F_NOTIFICATION_DATA))
		mc.hide_features = VDEV_BIT(VDEV_F_NOTIFICATION_DATA);
	k->mmio = vdev_mmio_new(k->dev, &mc);
	if (!k->mmio)
		return -errno;
	rc = vdev_set_mem(k->dev, k->cfg.mem);
	if (rc < 0)
		return rc;
	k->loop = vdev_loop_new();
	if (!k->loop)
		return -errno;
	vdev_loop_watcher(k->loop, &w);
	rc = vdev_set_watcher(k->dev, &w);
	if (rc < 0)
		return rc;

	k->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (k->irq_fd < 0)
		return -errno;
	rc = kvm_irqfd(k);
	if (rc < 0)
		return rc;
	k->irqfd_assigned = true;

	k->ioeventfd = !(k->cfg.flags & VDEV_KVM_F_NO_IOEVENTFD);
	for (unsigned i = 0; i < k->nq; i++) {
		k->kick_fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (k->kick_fds[i] < 0)
			return -errno;
		if (k->ioeventfd) {
			rc = kvm_ioeventfd(k, i, true);
			if (rc < 0)
				return rc;
			k->ioevents = i + 1;
		}
		rc = vdev_mmio_set_kick_fd(k->mmio, i, k->kick_fds[i]);
		if (rc < 0)
			return rc;
	}
	if (k->level) {
		rc = vdev_loop_add(k->loop, k->resample_fd, EPOLLIN,
				   kvm_resample, k);
		if (rc < 0)
			return rc;
	}

	/* The device thread takes no process signals: they belong to the
	 * VMM's own threads (core/thread.h; faults stay deliverable). */
	rc = vcore_thread_create(&k->thread, kvm_thread, k);
	if (rc < 0)
		return rc;
	k->thread_started = true;
	return 0;
}

static struct vdev_kvm *kvm_attach(int vm_fd, struct vdev *dev,
				   const struct vdev_kvm_config *cfg)
{
	struct vdev_kvm *k;
	int rc;

	if (vm_fd < 0 || !dev || !cfg || !cfg->mem ||
	    (cfg->mmio_base & (VDEV_MMIO_WINDOW - 1)) ||
	    cfg->mmio_base > UINT64_MAX - VDEV_MMIO_WINDOW) {
		errno = EINVAL;
		return NULL;
	}
	k = calloc(1, sizeof(*k));
	if (!k)
		return NULL;
	k->vm_fd = vm_fd;
	k->dev = dev;
	k->cfg = *cfg;
	k->irq_fd = -1;
	k->resample_fd = -1;
	k->nq = vdev_num_queues(dev);
	k->kick_fds = malloc(k->nq * sizeof(*k->kick_fds));
	if (!k->kick_fds) {
		free(k);
		errno = ENOMEM;
		return NULL;
	}
	for (unsigned i = 0; i < k->nq; i++)
		k->kick_fds[i] = -1;
	rc = kvm_setup(k);
	if (rc < 0) {
		vdev_log(VDEV_LOG_ERROR,
			 "kvm: attaching %s at 0x%llx, GSI %u: %s",
			 vdev_get_info(dev)->name,
			 (unsigned long long)cfg->mmio_base, cfg->gsi,
			 strerror(-rc));
		kvm_teardown(k);
		errno = -rc;
		return NULL;
	}
	return k;
}

void vdev_kvm_detach(struct vdev_kvm *k)
{
	if (!k)
		return;
	vdev_reset(k->dev);
	kvm_teardown(k);
}

int vdev_kvm_mmio_exit(struct vdev_kvm *k, uint64_t addr, uint8_t *data,
		       unsigned len, bool is_write)
{
	uint64_t off;

	if (addr < k->cfg.mmio_base ||
	    addr - k->cfg.mmio_base >= VDEV_MMIO_WINDOW)
		return -ENOENT;
	if (len != 1 && len != 2 && len != 4 && len != 8)
		return -EINVAL;
	off = addr - k->cfg.mmio_base;
	atomic_fetch_add(&k->mmio_exits, 1);
	if (!is_write) {
		vdev_mmio_read(k->mmio, off, data, len);
		return 0;
	}
	if (off == VDEV_MMIO_QUEUE_NOTIFY)
		atomic_fetch_add(&k->notify_exits, 1);
	vdev_mmio_write(k->mmio, off, data, len);
	return 0;
}

struct vdev_mmio *vdev_kvm_mmio(struct vdev_kvm *k)
{
	return k->mmio;
}

static void get_stats(struct vdev_kvm *k, struct vdev_kvm_stats *st)
{
	st->mmio_exits = atomic_load(&k->mmio_exits);
	st->notify_exits = atomic_load(&k->notify_exits);
	st->irqs = atomic_load(&k->irqs);
	st->resamples = atomic_load(&k->resamples);
	st->reasserts = atomic_load(&k->reasserts);
	st->level = k->level;
	st->ioeventfd = k->ioeventfd;
}

/* The caller's config at the size it was compiled with (api.h). */
struct vdev_kvm *(vdev_kvm_attach)(int vm_fd, struct vdev *dev,
				   const struct vdev_kvm_config *cfg,
				   size_t size)
{
	struct vdev_kvm_config c;

	if (cfg && !VSIZED_IN(c, cfg, size))
		return NULL;
	return kvm_attach(vm_fd, dev, cfg ? &c : NULL);
}

/* Into the caller's struct at the size it was compiled with (api.h). */
void (vdev_kvm_get_stats)(struct vdev_kvm *k, struct vdev_kvm_stats *st,
			 size_t size)
{
	struct vdev_kvm_stats s;

	if (!st)
		return;
	get_stats(k, &s);
	vsized_out(st, size, &s, sizeof(s));
}
