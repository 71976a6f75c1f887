/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * device.h / transport.h without rings: creation, features, the status
 * state machine, config space, DEVICE_NEEDS_RESET, logging, argument
 * checks of the per-queue calls.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <virtio/device.h>
#include <virtio/transport.h>

#define F_A 0
#define F_B 1 /* offered, but the model refuses it without F_A */

struct model {
	int resets, starts, reads;
	int start_ret;
	uint8_t last_write[8];
	uint32_t last_off, last_len;
	unsigned cfg_irqs, q_irqs;
	int destroyed;
};

static int m_features_ok(struct vdev *dev, uint64_t f)
{
	if ((f & VDEV_BIT(F_B)) && !(f & VDEV_BIT(F_A)))
		return -ENOTSUP;
	return 0;
}

static int m_config_write(struct vdev *dev, uint32_t off, const void *data,
			  uint32_t len)
{
	struct model *m = vdev_priv(dev);

	/* Only the second le32 (offset 4) is writable, and only whole. */
	if (off != 4 || len != 4)
		return -EPERM;
	memcpy(m->last_write, data, len);
	m->last_off = off;
	m->last_len = len;
	return 0;
}

static void m_config_read(struct vdev *dev, uint32_t off, uint32_t len)
{
	struct model *m = vdev_priv(dev);
	uint8_t *cfg = vdev_config(dev);

	m->reads++;
	cfg[0] = (uint8_t)m->reads; /* a volatile field */
}

static int m_start(struct vdev *dev)
{
	struct model *m = vdev_priv(dev);

	m->starts++;
	return m->start_ret;
}

static void m_reset(struct vdev *dev)
{
	struct model *m = vdev_priv(dev);

	m->resets++;
}

static void m_handle(struct vdev *dev, unsigned qidx, struct vdev_queue *q)
{
	fail(); /* no queue is ever set up here */
}

static void m_destroy(struct vdev *dev)
{
	struct model *m = vdev_priv(dev);

	m->destroyed++;
}

static const struct vdev_ops ops = {
	.features_ok = m_features_ok,
	.config_write = m_config_write,
	.config_read = m_config_read,
	.start = m_start,
	.reset = m_reset,
	.handle = m_handle,
	.destroy = m_destroy,
};

static const struct vdev_ops ro_ops = {
	.handle = m_handle,
};

static void t_queue_irq(void *opaque, unsigned qidx)
{
	((struct model *)opaque)->q_irqs++;
}

static void t_config_irq(void *opaque)
{
	((struct model *)opaque)->cfg_irqs++;
}

static const struct vdev_transport_ops tops = {
	.queue_interrupt = t_queue_irq,
	.config_interrupt = t_config_irq,
};

static const struct vdev_info info = {
	.name = "test",
	.device_id = 0xfff0,
	.features = VDEV_BIT(F_A) | VDEV_BIT(F_B),
	.num_queues = 2,
	.max_queue_size = 64,
	.config_size = 8,
	.state_version = 1,
};

static struct model M;

static int setup(void **state)
{
	struct vdev *dev;

	memset(&M, 0, sizeof(M));
	dev = vdev_new(&info, &ops, &M);
	assert_non_null(dev);
	vdev_set_transport(dev, &tops, &M);
	*state = dev;
	return 0;
}

static int teardown(void **state)
{
	vdev_free(*state);
	assert_int_equal(M.destroyed, 1);
	return 0;
}

static const uint8_t ACK = VDEV_STATUS_ACKNOWLEDGE;
static const uint8_t DRV = VDEV_STATUS_DRIVER;
static const uint8_t FOK = VDEV_STATUS_FEATURES_OK;
static const uint8_t DOK = VDEV_STATUS_DRIVER_OK;
static const uint64_t V1 = VDEV_BIT(VDEV_F_VERSION_1);

static void bring_up(struct vdev *dev, uint64_t f)
{
	assert_int_equal(vdev_set_status(dev, ACK), 0);
	assert_int_equal(vdev_set_status(dev, ACK | DRV), 0);
	assert_int_equal(vdev_set_driver_features(dev, f), 0);
	assert_int_equal(vdev_set_status(dev, ACK | DRV | FOK), 0);
	assert_int_equal(vdev_set_status(dev, ACK | DRV | FOK | DOK), 0);
}

static void test_new_invalid(void **state)
{
	struct vdev_info bad = info;

	bad.num_queues = 0;
	errno = 0;
	assert_null(vdev_new(&bad, &ops, NULL));
	assert_int_equal(errno, EINVAL);
	bad.num_queues = 1025;
	assert_null(vdev_new(&bad, &ops, NULL));
	assert_int_equal(errno, EINVAL);
	bad = info;
	bad.config_size = 1u << 20;
	assert_null(vdev_new(&bad, &ops, NULL));
	assert_int_equal(errno, EINVAL);
	assert_null(vdev_new(NULL, &ops, NULL));
	assert_null(vdev_new(&info, NULL, NULL));
	{
		static const struct vdev_ops no_handler = { 0 };

		/* A device without a queue handler cannot work. */
		assert_null(vdev_new(&info, &no_handler, NULL));
		assert_int_equal(errno, EINVAL);
	}
	vdev_free(NULL);
}

static void test_accessors(void **state)
{
	struct vdev *dev = *state;
	struct vdev_info one = info;
	struct vdev *d2;

	assert_ptr_equal(vdev_priv(dev), &M);
	assert_int_equal(vdev_get_info(dev)->device_id, 0xfff0);
	assert_string_equal(vdev_get_info(dev)->name, "test");
	assert_int_equal(vdev_num_queues(dev), 2);
	assert_non_null(vdev_get_queue(dev, 0));
	assert_non_null(vdev_get_queue(dev, 1));
	assert_ptr_not_equal(vdev_get_queue(dev, 0), vdev_get_queue(dev, 1));
	assert_null(vdev_get_queue(dev, 2));
	assert_int_equal(vdev_config_size(dev), 8);
	assert_non_null(vdev_config(dev));
	assert_int_equal(vdev_vq_max_size(dev, 0), 64);
	assert_int_equal(vdev_vq_max_size(dev, 2), 0);
	assert_null(vdev_get_mem(dev));
	/* max_queue_size 0 means the largest. */
	one.max_queue_size = 0;
	one.config_size = 0;
	d2 = vdev_new(&one, &ro_ops, NULL);
	assert_non_null(d2);
	assert_int_equal(vdev_vq_max_size(d2, 0), VDEV_QUEUE_SIZE_MAX);
	vdev_free(d2);
}

static void test_offered(void **state)
{
	struct vdev *dev = *state;
	uint64_t f = vdev_device_features(dev);
	struct vdev_info masked = info;
	struct vdev *d2;

	assert_true(f & V1);
	assert_true(f & VDEV_BIT(F_A));
	assert_int_equal(f & VDEV_RING_FEATURES, VDEV_RING_FEATURES);
	assert_false(f & VDEV_BIT(2));
	masked.ring_features_mask = VDEV_BIT(VDEV_F_RING_PACKED);
	d2 = vdev_new(&masked, &ro_ops, NULL);
	assert_false(vdev_device_features(d2) & VDEV_BIT(VDEV_F_RING_PACKED));
	assert_true(vdev_device_features(d2) & VDEV_BIT(VDEV_F_EVENT_IDX));
	vdev_free(d2);
}

static void test_features_ok(void **state)
{
	struct vdev *dev = *state;

	assert_int_equal(vdev_set_status(dev, ACK | DRV), 0);
	/* A bit that was not offered. */
	assert_int_equal(vdev_set_driver_features(dev, V1 | VDEV_BIT(5)), 0);
	assert_int_equal(vdev_set_status(dev, ACK | DRV | FOK), -EINVAL);
	assert_int_equal(vdev_get_status(dev), ACK | DRV);
	/* VERSION_1 missing. */
	assert_int_equal(vdev_set_driver_features(dev, VDEV_BIT(F_A)), 0);
	assert_int_equal(vdev_set_status(dev, ACK | DRV | FOK), -EINVAL);
	assert_int_equal(vdev_get_status(dev), ACK | DRV);
	/* The model refuses B without A. */
	assert_int_equal(vdev_set_driver_features(dev, V1 | VDEV_BIT(F_B)), 0);
	assert_int_equal(vdev_set_status(dev, ACK | DRV | FOK), -EINVAL);
	assert_int_equal(vdev_get_status(dev), ACK | DRV);
	assert_int_equal(vdev_features(dev), 0); /* nothing negotiated */
	/* Accepted. */
	assert_int_equal(vdev_set_driver_features(dev, V1 | VDEV_BIT(F_A) |
						 VDEV_BIT(F_B)), 0);
	assert_int_equal(vdev_driver_features(dev),
			 V1 | VDEV_BIT(F_A) | VDEV_BIT(F_B));
	assert_int_equal(vdev_set_status(dev, ACK | DRV | FOK), 0);
	assert_int_equal(vdev_get_status(dev), ACK | DRV | FOK);
	assert_int_equal(vdev_features(dev),
			 V1 | VDEV_BIT(F_A) | VDEV_BIT(F_B));
	assert_true(vdev_has_feature(dev, F_A));
	assert_true(vdev_has_feature(dev, VDEV_F_VERSION_1));
	assert_false(vdev_has_feature(dev, VDEV_F_RING_PACKED));
	assert_false(vdev_has_feature(dev, 64));
	assert_false(vdev_has_feature(dev, 1000));
	/* Frozen from FEATURES_OK on. */
	assert_int_equal(vdev_set_driver_features(dev, V1), -EBUSY);
	assert_int_equal(vdev_driver_features(dev),
			 V1 | VDEV_BIT(F_A) | VDEV_BIT(F_B));
}

static void test_status_illegal(void **state)
{
	struct vdev *dev = *state;

	/* Out of order. */
	assert_int_equal(vdev_set_status(dev, DRV), -EINVAL);
	assert_int_equal(vdev_set_status(dev, ACK | FOK), -EINVAL);
	assert_int_equal(vdev_set_status(dev, ACK | DOK), -EINVAL);
	assert_int_equal(vdev_get_status(dev), 0);
	assert_int_equal(vdev_set_status(dev, ACK), 0);
	assert_int_equal(vdev_set_status(dev, ACK | DRV | DOK), -EINVAL);
	assert_int_equal(vdev_get_status(dev), ACK);
	/* The driver cannot set DEVICE_NEEDS_RESET or reserved bits. */
	assert_int_equal(vdev_set_status(dev, ACK |
					 VDEV_STATUS_DEVICE_NEEDS_RESET),
			 -EINVAL);
	assert_int_equal(vdev_set_status(dev, ACK | 16), -EINVAL);
	assert_int_equal(vdev_set_status(dev, ACK | 32), -EINVAL);
	assert_int_equal(vdev_get_status(dev), ACK);
	assert_int_equal(vdev_set_status(dev, ACK | DRV), 0);
	assert_int_equal(vdev_set_driver_features(dev, V1), 0);
	/* DRIVER_OK without FEATURES_OK. */
	assert_int_equal(vdev_set_status(dev, ACK | DRV | DOK), -EINVAL);
	assert_int_equal(vdev_get_status(dev), ACK | DRV);
	assert_int_equal(M.starts, 0);
	/* Clearing a bit other than by reset. */
	assert_int_equal(vdev_set_status(dev, ACK), -EINVAL);
	assert_int_equal(vdev_set_status(dev, DRV), -EINVAL);
	assert_int_equal(vdev_get_status(dev), ACK | DRV);
	/* Rewriting the same value is harmless. */
	assert_int_equal(vdev_set_status(dev, ACK | DRV), 0);
	/* FEATURES_OK and DRIVER_OK in one write: checked in order. */
	assert_int_equal(vdev_set_status(dev, ACK | DRV | FOK | DOK), 0);
	assert_int_equal(M.starts, 1);
	assert_int_equal(vdev_set_status(dev, ACK | DRV | FOK), -EINVAL);
	assert_int_equal(vdev_get_status(dev), ACK | DRV | FOK | DOK);
}

static void test_status_refused_features_in_one_write(void **state)
{
	struct vdev *dev = *state;

	assert_int_equal(vdev_set_status(dev, ACK | DRV), 0);
	assert_int_equal(vdev_set_driver_features(dev, VDEV_BIT(F_A)), 0);
	assert_int_equal(vdev_set_status(dev, ACK | DRV | FOK | DOK), -EINVAL);
	assert_int_equal(vdev_get_status(dev), ACK | DRV);
	assert_int_equal(M.starts, 0);
}

static void test_reset(void **state)
{
	struct vdev *dev = *state;

	bring_up(dev, V1 | VDEV_BIT(F_A));
	assert_int_equal(M.starts, 1);
	assert_int_equal(vdev_set_status(dev, 0), 0);
	assert_int_equal(M.resets, 1);
	assert_int_equal(vdev_get_status(dev), 0);
	assert_int_equal(vdev_driver_features(dev), 0);
	assert_int_equal(vdev_features(dev), 0);
	/* The driver can negotiate again, even different features. */
	bring_up(dev, V1);
	assert_int_equal(vdev_features(dev), V1);
	vdev_reset(dev);
	assert_int_equal(M.resets, 2);
	assert_int_equal(vdev_get_status(dev), 0);
}

static void test_failed(void **state)
{
	struct vdev *dev = *state;

	assert_int_equal(vdev_set_status(dev, ACK | DRV), 0);
	assert_int_equal(vdev_set_status(dev, ACK | DRV | VDEV_STATUS_FAILED),
			 0);
	assert_int_equal(vdev_get_status(dev), ACK | DRV | VDEV_STATUS_FAILED);
	/* Only a reset leaves FAILED. */
	assert_int_equal(vdev_set_status(dev, ACK | DRV | VDEV_STATUS_FAILED |
					 FOK), -EINVAL);
	assert_int_equal(vdev_set_status(dev, ACK | DRV), -EINVAL);
	assert_int_equal(vdev_set_status(dev, ACK | DRV | VDEV_STATUS_FAILED),
			 0);
	assert_int_equal(vdev_set_status(dev, 0), 0);
	assert_int_equal(vdev_get_status(dev), 0);
	/* FAILED straight away is accepted too. */
	assert_int_equal(vdev_set_status(dev, VDEV_STATUS_FAILED), 0);
}

static void test_needs_reset(void **state)
{
	struct vdev *dev = *state;
	const uint8_t NR = VDEV_STATUS_DEVICE_NEEDS_RESET;

	/* Before DRIVER_OK: the bit is set, no interrupt yet. */
	vdev_set_needs_reset(dev);
	assert_int_equal(vdev_get_status(dev), NR);
	assert_int_equal(M.cfg_irqs, 0);
	vdev_reset(dev);
	assert_int_equal(vdev_get_status(dev), 0);
	bring_up(dev, V1);
	vdev_set_needs_reset(dev);
	assert_int_equal(vdev_get_status(dev), ACK | DRV | FOK | DOK | NR);
	assert_int_equal(M.cfg_irqs, 1);
	vdev_set_needs_reset(dev); /* once */
	assert_int_equal(M.cfg_irqs, 1);
	/* A driver write without the bit keeps it (the driver cannot clear
	 * it), with it is fine. */
	assert_int_equal(vdev_set_status(dev, ACK | DRV | FOK | DOK), 0);
	assert_int_equal(vdev_get_status(dev), ACK | DRV | FOK | DOK | NR);
	assert_int_equal(vdev_set_status(dev, ACK | DRV | FOK | DOK | NR), 0);
	assert_int_equal(vdev_set_status(dev, 0), 0);
	assert_int_equal(vdev_get_status(dev), 0);
}

static void test_start_fails(void **state)
{
	struct vdev *dev = *state;

	M.start_ret = -EIO;
	bring_up(dev, V1);
	assert_int_equal(M.starts, 1);
	assert_true(vdev_get_status(dev) & VDEV_STATUS_DEVICE_NEEDS_RESET);
	assert_int_equal(M.cfg_irqs, 1);
}

static void test_config(void **state)
{
	struct vdev *dev = *state;
	uint8_t *cfg = vdev_config(dev);
	uint8_t buf[16];
	uint32_t v = 0x11223344, gen;

	memcpy(cfg, "\x00\x01\x02\x03\x04\x05\x06\x07", 8);
	assert_int_equal(vdev_config_read(dev, 4, buf, 4), 0);
	assert_memory_equal(buf, "\x04\x05\x06\x07", 4);
	assert_int_equal(M.reads, 1);
	assert_int_equal(vdev_config_read(dev, 0, buf, 1), 0);
	assert_int_equal(buf[0], 2); /* refreshed by the hook */
	/* Out of range: zeros, -ERANGE, no hook call. */
	memset(buf, 0xaa, sizeof(buf));
	assert_int_equal(vdev_config_read(dev, 6, buf, 4), -ERANGE);
	assert_memory_equal(buf, "\0\0\0\0", 4);
	assert_int_equal(vdev_config_read(dev, 9, buf, 1), -ERANGE);
	assert_int_equal(vdev_config_read(dev, UINT32_MAX, buf, 2), -ERANGE);
	assert_int_equal(vdev_config_read(dev, 4, buf, sizeof(buf)), -ERANGE);
	assert_int_equal(M.reads, 2);
	assert_int_equal(vdev_config_read(dev, 8, buf, 0), 0);
	/* Writes: range, then the hook decides. */
	assert_int_equal(vdev_config_write(dev, 6, &v, 4), -ERANGE);
	assert_int_equal(vdev_config_write(dev, UINT32_MAX - 1, &v, 4),
			 -ERANGE);
	assert_int_equal(vdev_config_write(dev, 0, &v, 4), -EPERM);
	assert_memory_equal(cfg + 1, "\x01\x02\x03", 3);
	assert_int_equal(vdev_config_write(dev, 4, &v, 2), -EPERM);
	assert_int_equal(vdev_config_write(dev, 4, &v, 4), 0);
	assert_memory_equal(cfg + 4, &v, 4);
	assert_int_equal(M.last_off, 4);
	assert_memory_equal(M.last_write, &v, 4);
	/* Generation: bumped by every device-side change; interrupt only
	 * once the driver is live. */
	gen = vdev_config_generation(dev);
	vdev_config_changed(dev);
	assert_int_equal(vdev_config_generation(dev), gen + 1);
	assert_int_equal(M.cfg_irqs, 0);
	bring_up(dev, V1);
	vdev_config_changed(dev);
	assert_int_equal(vdev_config_generation(dev), gen + 2);
	assert_int_equal(M.cfg_irqs, 1);
}

static void test_config_readonly(void **state)
{
	struct vdev_info i2 = info;
	struct vdev *dev;
	uint32_t v = 1;

	dev = vdev_new(&i2, &ro_ops, NULL);
	assert_non_null(dev);
	assert_int_equal(vdev_config_write(dev, 0, &v, 4), -EPERM);
	assert_int_equal(*(uint32_t *)vdev_config(dev), 0);
	vdev_free(dev);
}

static void dummy_fn(void *arg, int fd, uint32_t ev)
{
}

static void test_vq_args(void **state)
{
	struct vdev *dev = *state;
	struct vdev_queue_state st = { 0 };

	assert_int_equal(vdev_vq_set_size(dev, 2, 16), -EINVAL);
	assert_int_equal(vdev_vq_set_size(dev, 0, 0), -EINVAL);
	assert_int_equal(vdev_vq_set_size(dev, 0, 65), -EINVAL);
	assert_int_equal(vdev_vq_set_size(dev, 0, 64), 0);
	assert_int_equal(vdev_vq_set_addr(dev, 2, 0, 0, 0), -EINVAL);
	assert_int_equal(vdev_vq_enable(dev, 2, true), -EINVAL);
	assert_false(vdev_vq_enabled(dev, 2));
	assert_int_equal(vdev_vq_set_kick_fd(dev, 2, -1), -EINVAL);
	assert_int_equal(vdev_vq_set_kick_fd(dev, 0, -5), -EINVAL);
	assert_int_equal(vdev_vq_set_call_fd(dev, 2, -1), -EINVAL);
	assert_int_equal(vdev_vq_kick(dev, 2, 0), -EINVAL);
	assert_int_equal(vdev_vq_stop(dev, 2, &st), -EINVAL);
	assert_int_equal(vdev_vq_set_state(dev, 2, &st), -EINVAL);
	assert_int_equal(vdev_vq_set_state(dev, 0, NULL), -EINVAL);
	assert_int_equal(vdev_vq_reset(dev, 2), -EINVAL);
	assert_int_equal(vdev_vq_set_watcher(dev, 2, NULL), -EINVAL);
	assert_int_equal(vdev_watch_fd(dev, 2, 0, POLLIN, dummy_fn, NULL),
			 -EINVAL);
	assert_int_equal(vdev_watch_fd(dev, 0, 0, POLLIN, NULL, NULL),
			 -EINVAL);
	assert_int_equal(vdev_watch_fd(dev, 0, 0, POLLHUP, dummy_fn, NULL),
			 -EINVAL);
	assert_int_equal(vdev_watch_fd_events(dev, 0, 0, POLLIN), -ENOENT);
	assert_int_equal(vdev_unwatch_fd(dev, 2, 0), -EINVAL);
	assert_int_equal(vdev_unwatch_fd(dev, 0, 0), -ENOENT);
	vdev_vq_dispatch(dev, 2); /* ignored */
	vdev_queue_schedule(dev, 2);
	/* No watcher yet: remembered until one comes (test_vq). */
	assert_false(vdev_has_watcher(dev, 0));
	assert_int_equal(vdev_watch_fd(dev, 0, 0, POLLIN, dummy_fn, NULL), 0);
	assert_int_equal(vdev_watch_fd(dev, 0, 0, POLLIN, dummy_fn, NULL),
			 -EEXIST);
	assert_int_equal(vdev_watch_fd_events(dev, 0, 0, POLLOUT), 0);
	assert_int_equal(vdev_unwatch_fd(dev, 0, 0), 0);
	/* The ring layout needs negotiated features. */
	assert_int_equal(vdev_set_status(dev, ACK | DRV), 0);
	assert_int_equal(vdev_vq_enable(dev, 0, true), -EINVAL);
	assert_false(vdev_vq_enabled(dev, 0));
	/* A kick before DRIVER_OK processes nothing (the handler fails). */
	assert_int_equal(vdev_vq_kick(dev, 0, 0), 0);
}

static struct {
	int n;
	enum vdev_log_level lvl;
	char msg[64];
} logged;

static void log_sink(enum vdev_log_level lvl, const char *msg, void *opaque)
{
	assert_ptr_equal(opaque, &logged);
	logged.n++;
	logged.lvl = lvl;
	snprintf(logged.msg, sizeof(logged.msg), "%s", msg);
}

static void test_log(void **state)
{
	vdev_set_log_fn(log_sink, &logged, VDEV_LOG_INFO);
	vdev_log(VDEV_LOG_INFO, "hello %d", 42);
	assert_int_equal(logged.n, 1);
	assert_int_equal(logged.lvl, VDEV_LOG_INFO);
	assert_string_equal(logged.msg, "hello 42");
	vdev_log(VDEV_LOG_DEBUG, "filtered");
	assert_int_equal(logged.n, 1);
	vdev_log(VDEV_LOG_ERROR, "bad");
	assert_int_equal(logged.n, 2);
	assert_int_equal(logged.lvl, VDEV_LOG_ERROR);
	/* The core reports through the same sink. */
	{
		struct vdev *dev = vdev_new(&info, &ro_ops, NULL);

		vdev_set_status(dev, ACK | DRV);
		vdev_set_driver_features(dev, VDEV_BIT(F_A));
		vdev_set_status(dev, ACK | DRV | FOK);
		assert_int_equal(logged.n, 3);
		assert_int_equal(logged.lvl, VDEV_LOG_WARN);
		assert_non_null(strstr(logged.msg, "VERSION_1"));
		vdev_free(dev);
	}
	/* Back to the default (stderr for warnings and errors). */
	vdev_set_log_fn(NULL, NULL, VDEV_LOG_WARN);
	vdev_log(VDEV_LOG_WARN, "test_device: expected warning on stderr");
	assert_int_equal(logged.n, 3);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_invalid),
		T(test_accessors),
		T(test_offered),
		T(test_features_ok),
		T(test_status_illegal),
		T(test_status_refused_features_in_one_write),
		T(test_reset),
		T(test_failed),
		T(test_needs_reset),
		T(test_start_fails),
		T(test_config),
		cmocka_unit_test(test_config_readonly),
		T(test_vq_args),
		cmocka_unit_test(test_log),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
