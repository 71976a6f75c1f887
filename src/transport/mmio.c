/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-mmio version 2 register file (virtio 1.2 section 4.2.2) on top of
 * the transport interface. Every guest access is validated here, once;
 * the core below sees only well-formed calls.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <virtio/le.h>
#include <virtio/mmio.h>
#include <virtio/spec.h>
#include <virtio/transport.h>

#include "core/bytes.h"
#include "core/crc32.h"
#include "core/sized.h"

/* The VendorID reported when the model leaves it at 0 ("VDEV"). */
#define MMIO_DEFAULT_VENDOR 0x56454456u

/* Kinds of driver misbehaviour, each logged once per register file. */
enum mmio_warn {
	MMIO_W_WIDTH,
	MMIO_W_UNDEFINED,
	MMIO_W_WRITE_ONLY,
	MMIO_W_READ_ONLY,
	MMIO_W_QUEUE_SEL,
	MMIO_W_QUEUE_BUSY,
	MMIO_W_QUEUE_SETUP,
	MMIO_W_FEATURES_LATE,
	MMIO_W_FEATURES_BAD,
	MMIO_W_STATUS,
	MMIO_W_NOTIFY,
	MMIO_W_ACK,
	MMIO_W_RING_RESET,
	MMIO_W_CONFIG,
};

struct mmio_queue {
	uint32_t num;
	uint64_t desc;
	uint64_t driver;
	uint64_t device;
	int kick_fd;
};

struct vdev_mmio {
	struct vdev *dev;
	struct vdev_mmio_config cfg;
	bool set_watcher;       /* we set the device's watcher */
	pthread_mutex_t lock;
	_Atomic uint32_t isr;
	_Atomic uint64_t irqs;

	uint32_t dev_features_sel;
	uint32_t drv_features_sel;
	uint32_t queue_sel;
	uint32_t shm_sel;
	uint64_t drv_features;
	bool drv_features_high; /* nonzero bits written above bit 63 */

	unsigned nq;
	struct mmio_queue *q;
	_Atomic uint32_t warned;
};

static const char *mmio_name(const struct vdev_mmio *m)
{
	const char *name = vdev_get_info(m->dev)->name;

	return name ? name : "device";
}

static void mmio_warn(struct vdev_mmio *m, enum mmio_warn kind,
		      const char *what, uint64_t off, uint64_t val)
{
	uint32_t bit = 1u << kind;

	if (atomic_fetch_or(&m->warned, bit) & bit)
		return;
	vdev_log(VDEV_LOG_WARN,
		 "virtio-mmio %s: %s (offset 0x%llx, value 0x%llx); "
		 "further ones are not logged",
		 mmio_name(m), what, (unsigned long long)off,
		 (unsigned long long)val);
}

/* ---- interrupts (any thread, no lock: queue threads call these) ---- */

static void mmio_raise(struct vdev_mmio *m, uint32_t bits)
{
	atomic_fetch_or(&m->isr, bits);
	atomic_fetch_add(&m->irqs, 1);
	m->cfg.set_irq(m->cfg.opaque, true);
}

static void mmio_queue_interrupt(void *opaque, unsigned qidx)
{
	mmio_raise(opaque, VDEV_MMIO_INT_VRING);
}

static void mmio_config_interrupt(void *opaque)
{
	mmio_raise(opaque, VDEV_MMIO_INT_CONFIG);
}

static const struct vdev_transport_ops mmio_transport_ops = {
	.queue_interrupt = mmio_queue_interrupt,
	.config_interrupt = mmio_config_interrupt,
};

/* Clears @bits; drops the line once nothing is pending. A queue thread may
 * set a bit between the clear and the drop: re-check and re-assert. */
static void mmio_ack(struct vdev_mmio *m, uint32_t bits)
{
	uint32_t old = atomic_fetch_and(&m->isr, ~bits);

	if (old == 0 || (old & ~bits) != 0)
		return;
	m->cfg.set_irq(m->cfg.opaque, false);
	if (atomic_load(&m->isr) != 0)
		m->cfg.set_irq(m->cfg.opaque, true);
}

/* ---- state ------------------------------------------------------------ */

static void mmio_queue_defaults(struct vdev_mmio *m, unsigned i)
{
	m->q[i].num = vdev_vq_max_size(m->dev, i);
	m->q[i].desc = 0;
	m->q[i].driver = 0;
	m->q[i].device = 0;
}

/* After a device reset: what the spec says the registers read then. */
static void mmio_reset_regs(struct vdev_mmio *m)
{
	m->dev_features_sel = 0;
	m->drv_features_sel = 0;
	m->queue_sel = 0;
	m->shm_sel = 0;
	m->drv_features = 0;
	m->drv_features_high = false;
	for (unsigned i = 0; i < m->nq; i++)
		mmio_queue_defaults(m, i);
	mmio_ack(m, VDEV_MMIO_INT_VRING | VDEV_MMIO_INT_CONFIG);
}

static struct vdev_mmio *mmio_new(struct vdev *dev,
				  const struct vdev_mmio_config *cfg)
{
	struct vdev_mmio *m;

	if (!dev || !cfg || !cfg->set_irq ||
	    vdev_config_size(dev) > VDEV_MMIO_WINDOW - VDEV_MMIO_CONFIG) {
		errno = EINVAL;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->nq = vdev_num_queues(dev);
	m->q = calloc(m->nq, sizeof(*m->q));
	if (!m->q) {
		free(m);
		errno = ENOMEM;
		return NULL;
	}
	m->dev = dev;
	m->cfg = *cfg;
	m->cfg.watcher = NULL; /* the caller's; copied into the device */
	if (cfg->mem) {
		int r = vdev_set_mem(dev, cfg->mem);

		if (r < 0) {
			free(m->q);
			free(m);
			errno = -r;
			return NULL;
		}
	}
	if (cfg->watcher) {
		int r = vdev_set_watcher(dev, cfg->watcher);

		if (r < 0) {
			free(m->q);
			free(m);
			errno = -r;
			return NULL;
		}
		m->set_watcher = true;
	}
	pthread_mutex_init(&m->lock, NULL);
	for (unsigned i = 0; i < m->nq; i++) {
		m->q[i].kick_fd = -1;
		mmio_queue_defaults(m, i);
	}
	vdev_set_transport(dev, &mmio_transport_ops, m);
	return m;
}

void vdev_mmio_free(struct vdev_mmio *m)
{
	if (!m)
		return;
	vdev_set_transport(m->dev, NULL, NULL);
	if (m->set_watcher)
		vdev_set_watcher(m->dev, NULL);
	pthread_mutex_destroy(&m->lock);
	free(m->q);
	free(m);
}

struct vdev *vdev_mmio_device(const struct vdev_mmio *m)
{
	return m->dev;
}

int vdev_mmio_set_kick_fd(struct vdev_mmio *m, unsigned qidx, int fd)
{
	int rc;

	if (qidx >= m->nq)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	rc = vdev_vq_set_kick_fd(m->dev, qidx, fd);
	if (rc == 0)
		m->q[qidx].kick_fd = fd;
	pthread_mutex_unlock(&m->lock);
	return rc;
}

uint32_t vdev_mmio_interrupt_status(const struct vdev_mmio *m)
{
	return atomic_load(&((struct vdev_mmio *)m)->isr);
}

uint64_t vdev_mmio_irq_count(const struct vdev_mmio *m)
{
	return atomic_load(&((struct vdev_mmio *)m)->irqs);
}

/* ---- migration -------------------------------------------------------- */

/*
 * The blob: "VDEVMMIO", le32 version, le32 queues, le32 InterruptStatus,
 * le32 DeviceFeaturesSel, DriverFeaturesSel, QueueSel, SHMSel, le32 flags,
 * le64 driver features, then per queue le32 QueueNum and le64 desc,
 * driver and device addresses, and a le32 CRC-32 of all of that.
 */
#define MMIO_STATE_MAGIC "VDEVMMIO"
#define MMIO_STATE_VERSION 1u
#define MMIO_STATE_HDR 48u
#define MMIO_STATE_Q 28u
#define MMIO_STATE_HIGH 1u /* driver wrote feature bits above 63 */

int vdev_mmio_save(struct vdev_mmio *m, void **blob, size_t *len)
{
	size_t n = MMIO_STATE_HDR + (size_t)m->nq * MMIO_STATE_Q + 4;
	uint8_t *b = calloc(1, n);

	if (!b)
		return -ENOMEM;
	pthread_mutex_lock(&m->lock);
	memcpy(b, MMIO_STATE_MAGIC, 8);
	put_le32(b + 8, MMIO_STATE_VERSION);
	put_le32(b + 12, m->nq);
	put_le32(b + 16, atomic_load(&m->isr));
	put_le32(b + 20, m->dev_features_sel);
	put_le32(b + 24, m->drv_features_sel);
	put_le32(b + 28, m->queue_sel);
	put_le32(b + 32, m->shm_sel);
	put_le32(b + 36, m->drv_features_high ? MMIO_STATE_HIGH : 0);
	put_le64(b + 40, m->drv_features);
	for (unsigned i = 0; i < m->nq; i++) {
		uint8_t *q = b + MMIO_STATE_HDR + (size_t)i * MMIO_STATE_Q;

		put_le32(q, m->q[i].num);
		put_le64(q + 4, m->q[i].desc);
		put_le64(q + 12, m->q[i].driver);
		put_le64(q + 20, m->q[i].device);
	}
	pthread_mutex_unlock(&m->lock);
	put_le32(b + n - 4, vcore_crc32(b, n - 4));
	*blob = b;
	*len = n;
	return 0;
}

int vdev_mmio_restore(struct vdev_mmio *m, const void *blob, size_t len)
{
	size_t n = MMIO_STATE_HDR + (size_t)m->nq * MMIO_STATE_Q + 4;
	uint32_t isr, flags;
	uint8_t *b;

	if (!blob || len < MMIO_STATE_HDR + 4)
		return -EBADMSG;
	/* One private copy: the blob may be where someone can change it. */
	b = malloc(len);
	if (!b)
		return -ENOMEM;
	memcpy(b, blob, len);
	if (memcmp(b, MMIO_STATE_MAGIC, 8) ||
	    vcore_crc32(b, len - 4) != get_le32(b + len - 4)) {
		free(b);
		return -EBADMSG;
	}
	if (get_le32(b + 8) != MMIO_STATE_VERSION ||
	    get_le32(b + 12) != m->nq) {
		free(b);
		return -EPROTO;
	}
	isr = get_le32(b + 16);
	flags = get_le32(b + 36);
	if (len != n || (isr & ~(VDEV_MMIO_INT_VRING | VDEV_MMIO_INT_CONFIG)) ||
	    (flags & ~MMIO_STATE_HIGH)) {
		free(b);
		return -EBADMSG;
	}
	pthread_mutex_lock(&m->lock);
	m->dev_features_sel = get_le32(b + 20);
	m->drv_features_sel = get_le32(b + 24);
	m->queue_sel = get_le32(b + 28);
	m->shm_sel = get_le32(b + 32);
	m->drv_features_high = flags & MMIO_STATE_HIGH;
	m->drv_features = get_le64(b + 40);
	for (unsigned i = 0; i < m->nq; i++) {
		const uint8_t *q = b + MMIO_STATE_HDR + (size_t)i * MMIO_STATE_Q;

		m->q[i].num = get_le32(q);
		m->q[i].desc = get_le64(q + 4);
		m->q[i].driver = get_le64(q + 12);
		m->q[i].device = get_le64(q + 20);
	}
	pthread_mutex_unlock(&m->lock);
	free(b);
	if (isr) {
		atomic_fetch_or(&m->isr, isr);
		m->cfg.set_irq(m->cfg.opaque, true);
	}
	return 0;
}

/* ---- register reads -------------------------------------------------- */

static struct mmio_queue *mmio_sel_queue(struct vdev_mmio *m)
{
	return m->queue_sel < m->nq ? &m->q[m->queue_sel] : NULL;
}

static int mmio_read_reg(struct vdev_mmio *m, uint64_t off, uint32_t *val)
{
	const struct vdev_info *info = vdev_get_info(m->dev);
	uint64_t features;

	*val = 0;
	switch (off) {
	case VDEV_MMIO_MAGIC_VALUE:
		*val = VDEV_MMIO_MAGIC;
		return 0;
	case VDEV_MMIO_VERSION:
		*val = 2;
		return 0;
	case VDEV_MMIO_DEVICE_ID:
		*val = info->device_id;
		return 0;
	case VDEV_MMIO_VENDOR_ID:
		*val = info->vendor_id ? info->vendor_id : MMIO_DEFAULT_VENDOR;
		return 0;
	case VDEV_MMIO_DEVICE_FEATURES:
		features = vdev_device_features(m->dev) & ~m->cfg.hide_features;
		if (m->dev_features_sel < 2)
			*val = (uint32_t)(features >>
					  (32 * m->dev_features_sel));
		return 0;
	case VDEV_MMIO_QUEUE_NUM_MAX:
		if (m->queue_sel < m->nq)
			*val = vdev_vq_max_size(m->dev, m->queue_sel);
		return 0;
	case VDEV_MMIO_QUEUE_READY:
		if (m->queue_sel < m->nq)
			*val = vdev_vq_enabled(m->dev, m->queue_sel);
		return 0;
	case VDEV_MMIO_INTERRUPT_STATUS:
		*val = atomic_load(&m->isr);
		return 0;
	case VDEV_MMIO_STATUS:
		*val = vdev_get_status(m->dev);
		return 0;
	case VDEV_MMIO_SHM_LEN_LOW:
	case VDEV_MMIO_SHM_LEN_HIGH:
	case VDEV_MMIO_SHM_BASE_LOW:
	case VDEV_MMIO_SHM_BASE_HIGH:
		/* No shared memory regions: every id is unused (4.2.2). */
		*val = 0xffffffffu;
		return 0;
	case VDEV_MMIO_QUEUE_RESET:
		/* Queue resets complete inside the write. */
		return 0;
	case VDEV_MMIO_CONFIG_GENERATION:
		*val = vdev_config_generation(m->dev);
		return 0;
	case VDEV_MMIO_DEVICE_FEATURES_SEL:
	case VDEV_MMIO_DRIVER_FEATURES:
	case VDEV_MMIO_DRIVER_FEATURES_SEL:
	case VDEV_MMIO_QUEUE_SEL:
	case VDEV_MMIO_QUEUE_NUM:
	case VDEV_MMIO_QUEUE_NOTIFY:
	case VDEV_MMIO_INTERRUPT_ACK:
	case VDEV_MMIO_QUEUE_DESC_LOW:
	case VDEV_MMIO_QUEUE_DESC_HIGH:
	case VDEV_MMIO_QUEUE_DRIVER_LOW:
	case VDEV_MMIO_QUEUE_DRIVER_HIGH:
	case VDEV_MMIO_QUEUE_DEVICE_LOW:
	case VDEV_MMIO_QUEUE_DEVICE_HIGH:
	case VDEV_MMIO_SHM_SEL:
		mmio_warn(m, MMIO_W_WRITE_ONLY, "read of a write-only register",
			  off, 0);
		return -EINVAL;
	default:
		mmio_warn(m, MMIO_W_UNDEFINED, "read of an undefined register",
			  off, 0);
		return -EINVAL;
	}
}

/* ---- register writes ------------------------------------------------- */

static void mmio_write_driver_features(struct vdev_mmio *m, uint32_t val)
{
	uint32_t sel = m->drv_features_sel;

	if (vdev_get_status(m->dev) & VDEV_STATUS_FEATURES_OK) {
		mmio_warn(m, MMIO_W_FEATURES_LATE,
			  "DriverFeatures written after FEATURES_OK", sel, val);
		return;
	}
	if (sel >= 2) {
		if (val)
			m->drv_features_high = true;
		return;
	}
	m->drv_features &= ~((uint64_t)UINT32_MAX << (32 * sel));
	m->drv_features |= (uint64_t)val << (32 * sel);
	/* The core checks the set against its offer at FEATURES_OK. */
	vdev_set_driver_features(m->dev, m->drv_features);
}

static void mmio_write_status(struct vdev_mmio *m, uint32_t val)
{
	uint8_t cur = vdev_get_status(m->dev);
	uint8_t st = (uint8_t)val;
	bool new_ok;
	int rc;

	if (val > 0xff)
		mmio_warn(m, MMIO_W_STATUS, "Status bits above 7 ignored",
			  VDEV_MMIO_STATUS, val);
	if (st == 0) {
		vdev_set_status(m->dev, 0);
		mmio_reset_regs(m);
		return;
	}
	new_ok = (st & VDEV_STATUS_FEATURES_OK) &&
		 !(cur & VDEV_STATUS_FEATURES_OK);

	if (new_ok && (m->drv_features_high ||
		       (m->drv_features & m->cfg.hide_features))) {
		/* A bit the driver never saw offered: 2.2.2, the device
		 * does not set FEATURES_OK. */
		mmio_warn(m, MMIO_W_FEATURES_BAD,
			  "FEATURES_OK refused: feature not offered",
			  VDEV_MMIO_STATUS, m->drv_features);
		st &= (uint8_t)~VDEV_STATUS_FEATURES_OK;
	}
	rc = vdev_set_status(m->dev, st);
	if (rc < 0)
		mmio_warn(m, MMIO_W_STATUS, "Status write refused",
			  VDEV_MMIO_STATUS, val);
}

static void mmio_queue_ready(struct vdev_mmio *m, struct mmio_queue *q,
			     unsigned qidx, uint32_t val)
{
	int rc;

	if (val == 0) {
		vdev_vq_enable(m->dev, qidx, false);
		return;
	}
	if (vdev_vq_enabled(m->dev, qidx))
		return;
	rc = q->num == 0 || q->num > vdev_vq_max_size(m->dev, qidx) ?
		     -EINVAL : 0;
	if (rc == 0)
		rc = vdev_vq_set_size(m->dev, qidx, (uint16_t)q->num);
	if (rc == 0)
		rc = vdev_vq_set_addr(m->dev, qidx, q->desc, q->driver,
				      q->device);
	if (rc == 0)
		rc = vdev_vq_enable(m->dev, qidx, true);
	if (rc == 0)
		return;
	vdev_log(VDEV_LOG_WARN,
		 "virtio-mmio %s: queue %u refused (size %u, desc 0x%llx, "
		 "driver 0x%llx, device 0x%llx): %s; device needs reset",
		 mmio_name(m), qidx, q->num,
		 (unsigned long long)q->desc, (unsigned long long)q->driver,
		 (unsigned long long)q->device, strerror(-rc));
	vdev_set_needs_reset(m->dev);
}

static void mmio_queue_notify(struct vdev_mmio *m, uint32_t val)
{
	bool data = vdev_has_feature(m->dev, VDEV_F_NOTIFICATION_DATA);
	unsigned qidx = data ? (val & 0xffff) : val;
	uint64_t one = 1;

	if (qidx >= m->nq || !vdev_vq_enabled(m->dev, qidx)) {
		mmio_warn(m, MMIO_W_NOTIFY, "notify of a queue not ready",
			  VDEV_MMIO_QUEUE_NOTIFY, val);
		return;
	}
	if (m->q[qidx].kick_fd >= 0) {
		/* The fd is an eventfd: an 8-byte write never blocks short
		 * of 2^64 - 1 pending kicks. */
		if (write(m->q[qidx].kick_fd, &one, sizeof(one)) < 0)
			vdev_log(VDEV_LOG_ERROR, "virtio-mmio: kick fd: %s",
				 strerror(errno));
		return;
	}
	vdev_vq_kick(m->dev, qidx, data ? val : 0);
}

/* Registers of the selected queue that only make sense while it is off. */
static void mmio_queue_field(struct vdev_mmio *m, uint64_t off, uint32_t val)
{
	struct mmio_queue *q = mmio_sel_queue(m);
	uint64_t *addr;

	if (!q) {
		mmio_warn(m, MMIO_W_QUEUE_SEL, "write to a missing queue", off,
			  val);
		return;
	}
	if (vdev_vq_enabled(m->dev, m->queue_sel)) {
		mmio_warn(m, MMIO_W_QUEUE_BUSY,
			  "queue register written while the queue is ready",
			  off, val);
		return;
	}
	switch (off) {
	case VDEV_MMIO_QUEUE_NUM:
		q->num = val;
		return;
	case VDEV_MMIO_QUEUE_DESC_LOW:
	case VDEV_MMIO_QUEUE_DESC_HIGH:
		addr = &q->desc;
		break;
	case VDEV_MMIO_QUEUE_DRIVER_LOW:
	case VDEV_MMIO_QUEUE_DRIVER_HIGH:
		addr = &q->driver;
		break;
	default:
		addr = &q->device;
		break;
	}
	if (off & 4)
		*addr = (*addr & UINT32_MAX) | ((uint64_t)val << 32);
	else
		*addr = (*addr & ~(uint64_t)UINT32_MAX) | val;
}

static void mmio_queue_reset(struct vdev_mmio *m, uint32_t val)
{
	if (!vdev_has_feature(m->dev, VDEV_F_RING_RESET) ||
	    m->queue_sel >= m->nq || val != 1) {
		mmio_warn(m, MMIO_W_RING_RESET,
			  "QueueReset without RING_RESET or of a missing queue",
			  m->queue_sel, val);
		return;
	}
	if (vdev_vq_reset(m->dev, m->queue_sel) == 0)
		mmio_queue_defaults(m, m->queue_sel);
}

static int mmio_write_reg(struct vdev_mmio *m, uint64_t off, uint32_t val)
{
	switch (off) {
	case VDEV_MMIO_DEVICE_FEATURES_SEL:
		m->dev_features_sel = val;
		return 0;
	case VDEV_MMIO_DRIVER_FEATURES:
		mmio_write_driver_features(m, val);
		return 0;
	case VDEV_MMIO_DRIVER_FEATURES_SEL:
		m->drv_features_sel = val;
		return 0;
	case VDEV_MMIO_QUEUE_SEL:
		m->queue_sel = val;
		return 0;
	case VDEV_MMIO_QUEUE_NUM:
	case VDEV_MMIO_QUEUE_DESC_LOW:
	case VDEV_MMIO_QUEUE_DESC_HIGH:
	case VDEV_MMIO_QUEUE_DRIVER_LOW:
	case VDEV_MMIO_QUEUE_DRIVER_HIGH:
	case VDEV_MMIO_QUEUE_DEVICE_LOW:
	case VDEV_MMIO_QUEUE_DEVICE_HIGH:
		mmio_queue_field(m, off, val);
		return 0;
	case VDEV_MMIO_QUEUE_READY:
		if (m->queue_sel >= m->nq) {
			mmio_warn(m, MMIO_W_QUEUE_SEL,
				  "QueueReady of a missing queue", off, val);
			return 0;
		}
		mmio_queue_ready(m, &m->q[m->queue_sel], m->queue_sel, val);
		return 0;
	case VDEV_MMIO_QUEUE_NOTIFY:
		mmio_queue_notify(m, val);
		return 0;
	case VDEV_MMIO_INTERRUPT_ACK:
		if (val & ~(VDEV_MMIO_INT_VRING | VDEV_MMIO_INT_CONFIG))
			mmio_warn(m, MMIO_W_ACK,
				  "InterruptACK with undefined bits", off, val);
		mmio_ack(m, val & (VDEV_MMIO_INT_VRING | VDEV_MMIO_INT_CONFIG));
		return 0;
	case VDEV_MMIO_STATUS:
		mmio_write_status(m, val);
		return 0;
	case VDEV_MMIO_SHM_SEL:
		m->shm_sel = val;
		return 0;
	case VDEV_MMIO_QUEUE_RESET:
		mmio_queue_reset(m, val);
		return 0;
	case VDEV_MMIO_MAGIC_VALUE:
	case VDEV_MMIO_VERSION:
	case VDEV_MMIO_DEVICE_ID:
	case VDEV_MMIO_VENDOR_ID:
	case VDEV_MMIO_DEVICE_FEATURES:
	case VDEV_MMIO_QUEUE_NUM_MAX:
	case VDEV_MMIO_INTERRUPT_STATUS:
	case VDEV_MMIO_SHM_LEN_LOW:
	case VDEV_MMIO_SHM_LEN_HIGH:
	case VDEV_MMIO_SHM_BASE_LOW:
	case VDEV_MMIO_SHM_BASE_HIGH:
	case VDEV_MMIO_CONFIG_GENERATION:
		mmio_warn(m, MMIO_W_READ_ONLY, "write to a read-only register",
			  off, val);
		return -EINVAL;
	default:
		mmio_warn(m, MMIO_W_UNDEFINED, "write to an undefined register",
			  off, val);
		return -EINVAL;
	}
}

/* ---- entry points ---------------------------------------------------- */

static bool mmio_size_ok(unsigned size)
{
	return size == 1 || size == 2 || size == 4 || size == 8;
}

int vdev_mmio_read(struct vdev_mmio *m, uint64_t offset, void *data,
		   unsigned size)
{
	uint32_t val;
	int rc;

	if (size && size <= 8)
		memset(data, 0, size);
	if (!mmio_size_ok(size))
		return -EINVAL;
	if (offset >= VDEV_MMIO_WINDOW || size > VDEV_MMIO_WINDOW - offset)
		return -ERANGE;
	pthread_mutex_lock(&m->lock);
	if (offset >= VDEV_MMIO_CONFIG) {
		rc = vdev_config_read(m->dev,
				      (uint32_t)offset - VDEV_MMIO_CONFIG, data,
				      size);
		if (rc < 0) {
			memset(data, 0, size);
			mmio_warn(m, MMIO_W_CONFIG,
				  "config read beyond config space", offset,
				  size);
		}
	} else if (size != 4 || (offset & 3)) {
		mmio_warn(m, MMIO_W_WIDTH, "register access not 32-bit aligned",
			  offset, size);
		rc = -EINVAL;
	} else {
		rc = mmio_read_reg(m, offset, &val);
		val = vdev_cpu_to_le32(val);
		memcpy(data, &val, 4);
	}
	pthread_mutex_unlock(&m->lock);
	return rc < 0 ? rc : 0;
}

int vdev_mmio_write(struct vdev_mmio *m, uint64_t offset, const void *data,
		    unsigned size)
{
	uint32_t val;
	int rc;

	if (!mmio_size_ok(size))
		return -EINVAL;
	if (offset >= VDEV_MMIO_WINDOW || size > VDEV_MMIO_WINDOW - offset)
		return -ERANGE;
	pthread_mutex_lock(&m->lock);
	if (offset >= VDEV_MMIO_CONFIG) {
		rc = vdev_config_write(m->dev,
				       (uint32_t)offset - VDEV_MMIO_CONFIG,
				       data, size);
		if (rc < 0)
			mmio_warn(m, MMIO_W_CONFIG, "config write refused",
				  offset, size);
	} else if (size != 4 || (offset & 3)) {
		mmio_warn(m, MMIO_W_WIDTH, "register access not 32-bit aligned",
			  offset, size);
		rc = -EINVAL;
	} else {
		memcpy(&val, data, 4);
		rc = mmio_write_reg(m, offset, vdev_le32_to_cpu(val));
	}
	pthread_mutex_unlock(&m->lock);
	return rc < 0 ? rc : 0;
}

/* The caller's config at the size it was compiled with (api.h). */
struct vdev_mmio *(vdev_mmio_new)(struct vdev *dev,
				  const struct vdev_mmio_config *cfg,
				  size_t size)
{
	struct vdev_mmio_config c;

	if (cfg && !VSIZED_IN(c, cfg, size))
		return NULL;
	return mmio_new(dev, cfg ? &c : NULL);
}
