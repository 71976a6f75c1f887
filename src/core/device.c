/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Device lifecycle: creation, features, the status state machine of
 * virtio 1.2 2.1 / 3.1, config space with its generation counter, reset and
 * DEVICE_NEEDS_RESET.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <virtio/device.h>
#include <virtio/mem.h>
#include <virtio/transport.h>

#include "core/core_internal.h"
#include "core/sized.h"

/* Largest config space any transport can expose (virtio-pci's device
 * config window is one BAR page in practice; 4 KiB is plenty). */
#define VCORE_CONFIG_MAX 4096u
#define VCORE_MAX_QUEUES 1024u

_Thread_local const struct vdev *vcore_op_dev;

bool vcore_reentered(const struct vdev *dev, const char *what)
{
	if (!dev || vcore_op_dev != dev)
		return false;
	vdev_log(VDEV_LOG_ERROR,
		 "%s: %s called from inside the device's own op or callback; "
		 "refused, it would deadlock (see device.h)",
		 dev->info.name ? dev->info.name : "device", what);
	return true;
}

static void init_config_lock(struct vdev *dev)
{
	pthread_mutexattr_t a;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&dev->config_lock, &a);
	pthread_mutexattr_destroy(&a);
}

struct vdev *(vdev_new)(const struct vdev_info *uinfo,
			const struct vdev_ops *uops, void *priv,
			size_t info_size, size_t ops_size)
{
	struct vdev_info info_copy;
	struct vdev_ops ops_copy;
	const struct vdev_info *info = VSIZED_IN(info_copy, uinfo, info_size);
	const struct vdev_ops *ops = VSIZED_IN(ops_copy, uops, ops_size);
	struct vdev *dev;

	if (!info || !ops || !ops->handle || info->num_queues == 0 ||
	    info->num_queues > VCORE_MAX_QUEUES ||
	    info->config_size > VCORE_CONFIG_MAX ||
	    info->max_queue_size > VDEV_QUEUE_SIZE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return NULL;
	dev->info = *info;
	if (!dev->info.max_queue_size)
		dev->info.max_queue_size = VDEV_QUEUE_SIZE_MAX;
	/* The model's table as this library knows it (a copy: an older
	 * model's has fewer callbacks, the rest are NULL). */
	dev->ops_copy = *ops;
	dev->ops = &dev->ops_copy;
	dev->priv = priv;
	dev->offered = info->features | VDEV_BIT(VDEV_F_VERSION_1) |
		       (VDEV_RING_FEATURES & ~info->ring_features_mask);
	pthread_mutex_init(&dev->mem_lock, NULL);
	init_config_lock(dev);
	dev->config = calloc(1, info->config_size ? info->config_size : 1);
	dev->vqs = calloc(info->num_queues, sizeof(*dev->vqs));
	if (!dev->config || !dev->vqs)
		goto fail;
	for (unsigned i = 0; i < info->num_queues; i++) {
		if (vcore_vq_init(dev, &dev->vqs[i], i) < 0)
			goto fail;
		dev->nvq++;
	}
	return dev;
fail:
	for (unsigned i = 0; i < dev->nvq; i++)
		vcore_vq_fini(&dev->vqs[i]);
	free(dev->vqs);
	free(dev->config);
	pthread_mutex_destroy(&dev->config_lock);
	pthread_mutex_destroy(&dev->mem_lock);
	free(dev);
	errno = ENOMEM;
	return NULL;
}

/* ops->drain for queue @i when it has requests in flight; its lock is
 * held. */
static void drain_model(struct vdev *dev, unsigned i)
{
	struct vcore_vq *vq = &dev->vqs[i];

	if (dev->ops->drain && vdev_queue_inflight(vq->q)) {
		VCORE_OP(dev, dev->ops->drain(dev, i, vq->q));
		vcore_check_broken(vq);
	}
}

void vdev_free(struct vdev *dev)
{
	if (!dev || vcore_reentered(dev, "vdev_free"))
		return;
	/* No round starts any more; one that runs ends first. The model
	 * finishes or cancels what it holds (ops->drain); what it still
	 * holds then is its own to cancel in ops->destroy: waiting for it
	 * here could wait forever. */
	for (unsigned i = 0; i < dev->nvq; i++) {
		pthread_mutex_lock(&dev->vqs[i].lock);
		dev->vqs[i].stopped = true;
		drain_model(dev, i);
		pthread_mutex_unlock(&dev->vqs[i].lock);
	}
	/* The model's fds leave every watcher before the model closes them. */
	for (unsigned i = 0; i < dev->nvq; i++)
		vcore_vq_unwatch_all(&dev->vqs[i]);
	if (dev->ops->destroy)
		dev->ops->destroy(dev);
	for (unsigned i = 0; i < dev->nvq; i++)
		vcore_vq_fini(&dev->vqs[i]);
	vdev_mem_free(dev->mem);
	pthread_mutex_destroy(&dev->config_lock);
	pthread_mutex_destroy(&dev->mem_lock);
	free(dev->vqs);
	free(dev->config);
	free(dev);
}

void *vdev_priv(const struct vdev *dev)
{
	return dev->priv;
}

const struct vdev_info *vdev_get_info(const struct vdev *dev)
{
	return &dev->info;
}

unsigned vdev_num_queues(const struct vdev *dev)
{
	return dev->nvq;
}

struct vdev_queue *vdev_get_queue(struct vdev *dev, unsigned qidx)
{
	return qidx < dev->nvq ? dev->vqs[qidx].q : NULL;
}

void vdev_set_transport(struct vdev *dev, const struct vdev_transport_ops *ops,
			void *opaque)
{
	dev->tops = ops;
	dev->topaque = opaque;
}

/* ---- features ------------------------------------------------------- */

uint64_t vdev_device_features(const struct vdev *dev)
{
	return dev->offered;
}

int vdev_set_driver_features(struct vdev *dev, uint64_t features)
{
	if (vcore_status(dev) & VDEV_STATUS_FEATURES_OK)
		return -EBUSY;
	dev->driver_features = features;
	return 0;
}

uint64_t vdev_driver_features(const struct vdev *dev)
{
	return dev->driver_features;
}

uint64_t vdev_features(const struct vdev *dev)
{
	if (!(vcore_status(dev) & VDEV_STATUS_FEATURES_OK))
		return 0;
	return dev->driver_features;
}

bool vdev_has_feature(const struct vdev *dev, unsigned bit)
{
	return bit < 64 && (vdev_features(dev) & VDEV_BIT(bit));
}

static int check_features(struct vdev *dev)
{
	uint64_t f = dev->driver_features;

	if (f & ~dev->offered) {
		vdev_log(VDEV_LOG_WARN,
			 "%s: driver acked features 0x%llx that were not offered",
			 dev->info.name ? dev->info.name : "device",
			 (unsigned long long)(f & ~dev->offered));
		return -EINVAL;
	}
	if (!(f & VDEV_BIT(VDEV_F_VERSION_1))) {
		vdev_log(VDEV_LOG_WARN, "%s: driver did not ack VERSION_1",
			 dev->info.name ? dev->info.name : "device");
		return -EINVAL;
	}
	if (dev->ops->features_ok) {
		int r = dev->ops->features_ok(dev, f);

		if (r < 0)
			return -EINVAL;
	}
	return 0;
}

/* ---- status --------------------------------------------------------- */

static void raise_config_interrupt(struct vdev *dev)
{
	if (dev->tops && dev->tops->config_interrupt)
		dev->tops->config_interrupt(dev->topaque);
}

uint8_t vdev_get_status(const struct vdev *dev)
{
	return vcore_status(dev);
}

void vdev_set_needs_reset(struct vdev *dev)
{
	uint8_t old = __atomic_fetch_or(&dev->status,
					VDEV_STATUS_DEVICE_NEEDS_RESET,
					__ATOMIC_ACQ_REL);

	if (old & VDEV_STATUS_DEVICE_NEEDS_RESET)
		return;
	vdev_log(VDEV_LOG_WARN, "%s: device needs reset",
		 dev->info.name ? dev->info.name : "device");
	/* 2.1.2: the device sends a config-change notification once the
	 * driver can receive one. */
	if (old & VDEV_STATUS_DRIVER_OK)
		raise_config_interrupt(dev);
}

static void start_queues(struct vdev *dev)
{
	for (unsigned i = 0; i < dev->nvq; i++)
		vcore_vq_schedule(&dev->vqs[i]);
}

int vdev_set_status(struct vdev *dev, uint8_t s)
{
	const uint8_t nr = VDEV_STATUS_DEVICE_NEEDS_RESET;
	uint8_t old = vcore_status(dev);
	uint8_t set;

	if (vcore_reentered(dev, "vdev_set_status"))
		return -EDEADLK;
	if (s == 0) {
		vdev_reset(dev);
		return 0;
	}
	/* DEVICE_NEEDS_RESET belongs to the device: the driver can neither
	 * set it nor clear it. */
	if ((s & nr) && !(old & nr))
		return -EINVAL;
	s |= old & nr;
	if (old & ~s)
		return -EINVAL; /* clearing a bit other than by reset */
	if (old & VDEV_STATUS_FAILED)
		return s == old ? 0 : -EINVAL;
	if (s & VDEV_STATUS_FAILED) {
		/* The driver gave up: keep what was set, stop processing. */
		vcore_set_status(dev, old | VDEV_STATUS_FAILED);
		return 0;
	}
	set = s & ~old;
	if (!set)
		return 0;
	/* The order of 3.1.1: ACKNOWLEDGE, DRIVER, FEATURES_OK, DRIVER_OK. */
	if ((s & VDEV_STATUS_DRIVER) && !(s & VDEV_STATUS_ACKNOWLEDGE))
		return -EINVAL;
	if ((s & VDEV_STATUS_FEATURES_OK) && !(s & VDEV_STATUS_DRIVER))
		return -EINVAL;
	if ((s & VDEV_STATUS_DRIVER_OK) && !(s & VDEV_STATUS_FEATURES_OK))
		return -EINVAL;
	if (set & ~(VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER |
		    VDEV_STATUS_FEATURES_OK | VDEV_STATUS_DRIVER_OK))
		return -EINVAL; /* reserved bits */
	if (set & VDEV_STATUS_FEATURES_OK) {
		int r = check_features(dev);

		if (r < 0)
			return r;
	}
	if (!(set & VDEV_STATUS_DRIVER_OK)) {
		vcore_set_status(dev, s);
		return 0;
	}
	vcore_set_status(dev, s);
	if (dev->ops->start) {
		int r = dev->ops->start(dev);

		if (r < 0) {
			vdev_log(VDEV_LOG_ERROR, "%s: start failed: %s",
				 dev->info.name ? dev->info.name : "device",
				 strerror(-r));
			vdev_set_needs_reset(dev);
			return 0;
		}
	}
	start_queues(dev);
	return 0;
}

void vdev_reset(struct vdev *dev)
{
	if (vcore_reentered(dev, "vdev_reset"))
		return;
	/* Every round ends and no new one starts while the model resets. */
	for (unsigned i = 0; i < dev->nvq; i++)
		pthread_mutex_lock(&dev->vqs[i].lock);
	/* Completions land before the rings go away (the driver reuses its
	 * buffers at once after a reset). */
	for (unsigned i = 0; i < dev->nvq; i++)
		drain_model(dev, i);
	vcore_set_status(dev, 0);
	if (dev->ops->reset)
		VCORE_OP(dev, dev->ops->reset(dev));
	for (unsigned i = 0; i < dev->nvq; i++)
		vcore_vq_reset_locked(&dev->vqs[i]);
	dev->driver_features = 0;
	for (unsigned i = dev->nvq; i-- > 0;) {
		pthread_cond_broadcast(&dev->vqs[i].idle);
		pthread_mutex_unlock(&dev->vqs[i].lock);
	}
}

/* ---- config space --------------------------------------------------- */

void *vdev_config(struct vdev *dev)
{
	return dev->config;
}

uint32_t vdev_config_size(const struct vdev *dev)
{
	return dev->info.config_size;
}

uint32_t vdev_config_generation(const struct vdev *dev)
{
	return __atomic_load_n(&dev->generation, __ATOMIC_ACQUIRE);
}

void vdev_config_changed(struct vdev *dev)
{
	__atomic_add_fetch(&dev->generation, 1, __ATOMIC_ACQ_REL);
	if (vcore_status(dev) & VDEV_STATUS_DRIVER_OK)
		raise_config_interrupt(dev);
}

static bool config_range_ok(const struct vdev *dev, uint32_t offset,
			    uint32_t len)
{
	return offset <= dev->info.config_size &&
	       len <= dev->info.config_size - offset;
}

void vdev_config_lock(struct vdev *dev)
{
	pthread_mutex_lock(&dev->config_lock);
}

void vdev_config_unlock(struct vdev *dev)
{
	pthread_mutex_unlock(&dev->config_lock);
}

int vdev_config_get(struct vdev *dev, uint32_t offset, void *buf,
		    uint32_t len)
{
	if (!buf && len)
		return -EINVAL;
	if (!config_range_ok(dev, offset, len))
		return -ERANGE;
	pthread_mutex_lock(&dev->config_lock);
	memcpy(buf, dev->config + offset, len);
	pthread_mutex_unlock(&dev->config_lock);
	return 0;
}

int vdev_config_read(struct vdev *dev, uint32_t offset, void *buf,
		     uint32_t len)
{
	if (!buf && len)
		return -EINVAL;
	if (!config_range_ok(dev, offset, len)) {
		memset(buf, 0, len);
		return -ERANGE;
	}
	if (!len)
		return 0;
	pthread_mutex_lock(&dev->config_lock);
	if (dev->ops->config_read)
		VCORE_OP(dev, dev->ops->config_read(dev, offset, len));
	memcpy(buf, dev->config + offset, len);
	pthread_mutex_unlock(&dev->config_lock);
	return 0;
}

int vdev_config_write(struct vdev *dev, uint32_t offset, const void *buf,
		      uint32_t len)
{
	int r;

	if (!buf && len)
		return -EINVAL;
	if (!config_range_ok(dev, offset, len))
		return -ERANGE;
	if (!len)
		return 0;
	if (!dev->ops->config_write)
		return -EPERM;
	pthread_mutex_lock(&dev->config_lock);
	VCORE_OP(dev, r = dev->ops->config_write(dev, offset, buf, len));
	if (r == 0) {
		memcpy(dev->config + offset, buf, len);
		if (dev->ops->config_written)
			VCORE_OP(dev, dev->ops->config_written(dev, offset,
							       len));
	}
	pthread_mutex_unlock(&dev->config_lock);
	return r < 0 ? r : 0;
}

/* ---- guest memory --------------------------------------------------- */

int vdev_set_mem(struct vdev *dev, struct vdev_mem *mem)
{
	struct vdev_queue_state *states;
	struct vdev_mem *old;
	bool *was_ready;
	unsigned i;
	int r = 0;

	if (vcore_reentered(dev, "vdev_set_mem"))
		return -EDEADLK;
	states = calloc(dev->nvq, sizeof(*states));
	was_ready = calloc(dev->nvq, sizeof(*was_ready));
	if (!states || !was_ready) {
		free(states);
		free(was_ready);
		return -ENOMEM;
	}
	pthread_mutex_lock(&dev->mem_lock);
	for (i = 0; i < dev->nvq; i++)
		pthread_mutex_lock(&dev->vqs[i].lock);
	for (i = 0; i < dev->nvq; i++) {
		if (vdev_queue_inflight(dev->vqs[i].q)) {
			r = -EBUSY;
			goto out;
		}
	}
	for (i = 0; i < dev->nvq; i++) {
		was_ready[i] = vdev_queue_ready(dev->vqs[i].q);
		if (was_ready[i])
			vdev_queue_get_state(dev->vqs[i].q, &states[i]);
	}
	for (i = 0; i < dev->nvq; i++) {
		r = vdev_queue_set_mem(dev->vqs[i].q, mem);
		if (r < 0) {
			/* Put back the map the earlier queues had. */
			while (i-- > 0)
				vdev_queue_set_mem(dev->vqs[i].q, dev->mem);
			goto out;
		}
	}
	old = dev->mem;
	dev->mem = mem ? vdev_mem_ref(mem) : NULL;
	vdev_mem_free(old);
	/* Live queues re-translate their rings in the new map and go on
	 * from where they were. */
	for (i = 0; i < dev->nvq; i++) {
		struct vcore_vq *vq = &dev->vqs[i];
		int e;

		if (!was_ready[i])
			continue;
		vq->pending = states[i];
		vq->has_pending = true;
		e = mem ? vcore_vq_configure_locked(vq) : -EFAULT;
		if (e < 0)
			vdev_log(VDEV_LOG_WARN,
				 "%s: queue %u not in the new memory map: %s",
				 dev->info.name ? dev->info.name : "device", i,
				 strerror(-e));
	}
out:
	for (i = dev->nvq; i-- > 0;)
		pthread_mutex_unlock(&dev->vqs[i].lock);
	pthread_mutex_unlock(&dev->mem_lock);
	free(states);
	free(was_ready);
	return r;
}

struct vdev_mem *vdev_get_mem(struct vdev *dev)
{
	return dev->mem;
}
