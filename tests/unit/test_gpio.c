/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-gpio with the simulated chip through the software driver, in all
 * four driver modes (split/packed x synchronous kicks/eventfds): names,
 * directions, values (SET_VALUE before OUT kept), edge and level
 * interrupts (latched edges, levels once per unmask, NONE returns the
 * buffer INVALID), every malformed request answered ERR with the device
 * going on, reset, save/restore into a fresh device, and the control
 * socket.
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/gpio.h>
#include <virtio/state.h>
#include <virtio/testing.h>
#include <virtio/transport.h>

#include "tdev.h"
#include "twait.h"

#define NLINES 8

struct mode {
	bool packed;
	bool eventfds;
};

static const struct mode modes[] = {
	{ false, false }, { false, true }, { true, false }, { true, true },
};

static struct vdev_drv *make_cfg(const struct mode *m,
				 const struct vdev_gpio_config *gc,
				 uint64_t refuse, struct vdev **devp)
{
	struct vdev_drv_config dc = {
		.packed = m->packed,
		.use_eventfds = m->eventfds,
		.queue_size = 64,
		.refuse = refuse,
	};
	struct vdev *dev = vdev_gpio_new(gc);
	struct vdev_drv *drv;

	assert_non_null(dev);
	drv = vdev_drv_new(dev, &dc);
	assert_non_null(drv);
	assert_int_equal(vdev_drv_init(drv), 0);
	*devp = dev;
	return drv;
}

static struct vdev_drv *make(const struct mode *m, struct vdev **devp)
{
	struct vdev_gpio_config gc = { .sim_lines = NLINES };

	return make_cfg(m, &gc, 0, devp);
}

static void destroy(struct vdev_drv *drv, struct vdev *dev)
{
	vdev_drv_free(drv);
	vdev_free(dev);
}

/* One request; returns the status, *value the response value. */
static int req(struct vdev_drv *drv, uint16_t type, uint16_t gpio,
	       uint32_t value, uint8_t *out)
{
	int st = tgpio_req(drv, type, gpio, value, out);

	assert_true(st >= 0);
	return st;
}

/* Queues the eventq buffer of @line (unmask); the status byte is *st. */
static void unmask(struct vdev_drv *drv, uint16_t line, uint8_t **st)
{
	assert_int_equal(tgpio_unmask(drv, line, st, 1), 0);
}

/* The same without the kick (a device the driver does not serve). */
static void unmask_nokick(struct vdev_drv *drv, uint16_t line, uint8_t **st)
{
	assert_int_equal(tgpio_unmask(drv, line, st, 0), 0);
}

/* Waits for an eventq completion: the line it was for, or -1. */
static int event(struct vdev_drv *drv, int timeout_ms, uint32_t *len)
{
	int line = tgpio_event(drv, timeout_ms);

	assert_true(line >= -1);
	*len = 1;
	return line;
}

static int raw(struct vdev_drv *drv, const void *out, size_t olen,
	       size_t ilen, uint32_t *w);

static void test_config_names(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev *dev;
		struct vdev_drv *drv = make(&modes[k], &dev);
		struct vdev_gpio_config_space cs;
		struct vdev_gpio_request r = {
			.type = vdev_cpu_to_le16(VDEV_GPIO_MSG_GET_LINE_NAMES),
		};
		char want[NLINES * 8] = { 0 }, got[1 + sizeof(want)];
		size_t wl = 0;
		uint32_t w;

		assert_true(vdev_drv_features(drv) &
			    VDEV_BIT(VDEV_GPIO_F_IRQ));
		assert_int_equal(vdev_drv_config_read(drv, 0, &cs, sizeof(cs)),
				 0);
		for (int i = 0; i < NLINES; i++)
			wl += (size_t)sprintf(want + wl, "sim-%d", i) + 1;
		assert_int_equal(vdev_le16_to_cpu(cs.ngpio), NLINES);
		assert_int_equal(vdev_le32_to_cpu(cs.gpio_names_size), wl);
		memset(got, 0xee, sizeof(got));
		assert_int_equal(vdev_drv_xfer(drv, 0, &r, sizeof(r), got,
					       1 + wl, &w, TWAIT_MS), 0);
		assert_int_equal(w, 1 + wl);
		assert_int_equal(got[0], VDEV_GPIO_STATUS_OK);
		assert_memory_equal(got + 1, want, wl);
		/* A buffer one byte short gets ERR and nothing else. */
		memset(got, 0xee, sizeof(got));
		assert_int_equal(vdev_drv_xfer(drv, 0, &r, sizeof(r), got, wl,
					       &w, TWAIT_MS), 0);
		assert_int_equal(w, 1);
		assert_int_equal(got[0], VDEV_GPIO_STATUS_ERR);
		assert_int_equal((uint8_t)got[1], 0xee);
		destroy(drv, dev);
	}
}

static void test_custom_names(void **state)
{
	static const char *const names[] = { "led", "button", "" };
	struct vdev_gpio_config gc = { .sim_lines = 3, .sim_names = names };
	struct vdev *dev;
	struct vdev_drv *drv = make_cfg(&modes[0], &gc, 0, &dev);
	struct vdev_gpio_config_space cs;

	assert_int_equal(vdev_drv_config_read(drv, 0, &cs, sizeof(cs)), 0);
	assert_int_equal(vdev_le32_to_cpu(cs.gpio_names_size), 4 + 7 + 1);
	destroy(drv, dev);
	/* No names at all: size 0, and GET_LINE_NAMES is an error. */
	{
		static const char *const none[] = { "", "" };
		struct vdev_gpio_config g2 = { .sim_lines = 2,
					       .sim_names = none };

		drv = make_cfg(&modes[0], &g2, 0, &dev);
		assert_int_equal(vdev_drv_config_read(drv, 0, &cs, sizeof(cs)),
				 0);
		assert_int_equal(vdev_le32_to_cpu(cs.gpio_names_size), 0);
		struct vdev_gpio_request r = {
			.type = vdev_cpu_to_le16(VDEV_GPIO_MSG_GET_LINE_NAMES),
		};
		uint32_t w;

		assert_int_equal(raw(drv, &r, sizeof(r), 2, &w),
				 VDEV_GPIO_STATUS_ERR);
		assert_int_equal(w, 1);
		destroy(drv, dev);
	}
}

static void test_direction_value(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev *dev;
		struct vdev_drv *drv = make(&modes[k], &dev);
		uint8_t v;
		int d, val;

		assert_int_equal(req(drv, VDEV_GPIO_MSG_GET_DIRECTION, 3, 0, &v),
				 0);
		assert_int_equal(v, VDEV_GPIO_DIRECTION_NONE);
		/* Linux sets the value first, then the direction. */
		assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_VALUE, 3, 1, NULL),
				 0);
		assert_int_equal(vdev_gpio_sim_get(dev, 3, &d, &val), 0);
		assert_int_equal(d, VDEV_GPIO_DIRECTION_NONE);
		assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_DIRECTION, 3,
				     VDEV_GPIO_DIRECTION_OUT, NULL), 0);
		assert_int_equal(vdev_gpio_sim_get(dev, 3, &d, &val), 0);
		assert_int_equal(d, VDEV_GPIO_DIRECTION_OUT);
		assert_int_equal(val, 1);
		assert_int_equal(req(drv, VDEV_GPIO_MSG_GET_DIRECTION, 3, 0, &v),
				 0);
		assert_int_equal(v, VDEV_GPIO_DIRECTION_OUT);
		assert_int_equal(req(drv, VDEV_GPIO_MSG_GET_VALUE, 3, 0, &v), 0);
		assert_int_equal(v, 1);
		assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_VALUE, 3, 0, NULL),
				 0);
		assert_int_equal(vdev_gpio_sim_get(dev, 3, &d, &val), 0);
		assert_int_equal(val, 0);
		/* The outside does not drive an output. */
		assert_int_equal(vdev_gpio_sim_set(dev, 3, 1), 0);
		assert_int_equal(req(drv, VDEV_GPIO_MSG_GET_VALUE, 3, 0, &v), 0);
		assert_int_equal(v, 0);
		/* An input reads what the outside drives. */
		assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_DIRECTION, 5,
				     VDEV_GPIO_DIRECTION_IN, NULL), 0);
		assert_int_equal(req(drv, VDEV_GPIO_MSG_GET_VALUE, 5, 0, &v), 0);
		assert_int_equal(v, 0);
		assert_int_equal(vdev_gpio_sim_set(dev, 5, 1), 0);
		assert_int_equal(req(drv, VDEV_GPIO_MSG_GET_VALUE, 5, 0, &v), 0);
		assert_int_equal(v, 1);
		/* NONE releases the line; its value is forgotten. */
		assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_DIRECTION, 3,
				     VDEV_GPIO_DIRECTION_NONE, NULL), 0);
		assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_DIRECTION, 3,
				     VDEV_GPIO_DIRECTION_OUT, NULL), 0);
		assert_int_equal(vdev_gpio_sim_get(dev, 3, &d, &val), 0);
		assert_int_equal(val, 0);
		destroy(drv, dev);
	}
}

static void set_irq(struct vdev_drv *drv, uint16_t line, uint8_t type)
{
	assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_DIRECTION, line,
			     VDEV_GPIO_DIRECTION_IN, NULL), 0);
	assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_IRQ_TYPE, line, type, NULL),
			 0);
}

static void test_edges(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev *dev;
		struct vdev_drv *drv = make(&modes[k], &dev);
		uint8_t *st;
		uint32_t len;

		set_irq(drv, 5, VDEV_GPIO_IRQ_TYPE_EDGE_RISING);
		unmask(drv, 5, &st);
		assert_int_equal(event(drv, 50, &len), -1);
		/* One pulse: exactly one event. */
		assert_int_equal(vdev_gpio_sim_pulse(dev, 5), 0);
		assert_int_equal(event(drv, TWAIT_MS, &len), 5);
		assert_int_equal(len, 1);
		assert_int_equal(*st, VDEV_GPIO_IRQ_STATUS_VALID);
		/* Masked now: two pulses latch one edge, given at unmask. */
		assert_int_equal(vdev_gpio_sim_pulse(dev, 5), 0);
		assert_int_equal(vdev_gpio_sim_pulse(dev, 5), 0);
		assert_int_equal(event(drv, 50, &len), -1);
		unmask(drv, 5, &st);
		assert_int_equal(event(drv, TWAIT_MS, &len), 5);
		assert_int_equal(*st, VDEV_GPIO_IRQ_STATUS_VALID);
		unmask(drv, 5, &st);
		assert_int_equal(event(drv, 50, &len), -1);
		/* A falling edge does not interrupt a rising line. */
		assert_int_equal(vdev_gpio_sim_set(dev, 5, 1), 0);
		assert_int_equal(event(drv, TWAIT_MS, &len), 5);
		unmask(drv, 5, &st);
		assert_int_equal(vdev_gpio_sim_set(dev, 5, 0), 0);
		assert_int_equal(event(drv, 50, &len), -1);
		/* Falling and both. */
		set_irq(drv, 5, VDEV_GPIO_IRQ_TYPE_EDGE_FALLING);
		assert_int_equal(vdev_gpio_sim_set(dev, 5, 1), 0);
		assert_int_equal(event(drv, 50, &len), -1);
		assert_int_equal(vdev_gpio_sim_set(dev, 5, 0), 0);
		assert_int_equal(event(drv, TWAIT_MS, &len), 5);
		set_irq(drv, 5, VDEV_GPIO_IRQ_TYPE_EDGE_BOTH);
		unmask(drv, 5, &st);
		assert_int_equal(vdev_gpio_sim_set(dev, 5, 1), 0);
		assert_int_equal(event(drv, TWAIT_MS, &len), 5);
		unmask(drv, 5, &st);
		assert_int_equal(vdev_gpio_sim_set(dev, 5, 0), 0);
		assert_int_equal(event(drv, TWAIT_MS, &len), 5);
		/* Other lines interrupt on their own. */
		set_irq(drv, 2, VDEV_GPIO_IRQ_TYPE_EDGE_RISING);
		unmask(drv, 2, &st);
		unmask(drv, 5, &st);
		assert_int_equal(vdev_gpio_sim_pulse(dev, 2), 0);
		assert_int_equal(event(drv, TWAIT_MS, &len), 2);
		assert_int_equal(event(drv, 50, &len), -1);
		/* IRQ type NONE: the queued buffer comes back INVALID. */
		assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_IRQ_TYPE, 5,
				     VDEV_GPIO_IRQ_TYPE_NONE, NULL), 0);
		assert_int_equal(event(drv, TWAIT_MS, &len), 5);
		assert_int_equal(*st, VDEV_GPIO_IRQ_STATUS_INVALID);
		destroy(drv, dev);
	}
}

static void test_levels(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev *dev;
		struct vdev_drv *drv = make(&modes[k], &dev);
		uint8_t *st;
		uint32_t len;

		set_irq(drv, 1, VDEV_GPIO_IRQ_TYPE_LEVEL_HIGH);
		unmask(drv, 1, &st);
		assert_int_equal(event(drv, 50, &len), -1);
		assert_int_equal(vdev_gpio_sim_set(dev, 1, 1), 0);
		assert_int_equal(event(drv, TWAIT_MS, &len), 1);
		assert_int_equal(*st, VDEV_GPIO_IRQ_STATUS_VALID);
		/* Held: once per unmask. */
		for (int i = 0; i < 3; i++) {
			unmask(drv, 1, &st);
			assert_int_equal(event(drv, TWAIT_MS, &len), 1);
			assert_int_equal(*st, VDEV_GPIO_IRQ_STATUS_VALID);
		}
		/* Never latched: active and gone while masked is nothing. */
		assert_int_equal(vdev_gpio_sim_set(dev, 1, 0), 0);
		unmask(drv, 1, &st);
		assert_int_equal(event(drv, 50, &len), -1);
		assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_IRQ_TYPE, 1,
				     VDEV_GPIO_IRQ_TYPE_NONE, NULL), 0);
		assert_int_equal(event(drv, TWAIT_MS, &len), 1);
		assert_int_equal(*st, VDEV_GPIO_IRQ_STATUS_INVALID);
		assert_int_equal(vdev_gpio_sim_set(dev, 1, 1), 0);
		assert_int_equal(vdev_gpio_sim_set(dev, 1, 0), 0);
		set_irq(drv, 1, VDEV_GPIO_IRQ_TYPE_LEVEL_HIGH);
		unmask(drv, 1, &st);
		assert_int_equal(event(drv, 50, &len), -1);
		/* Level low is active at once on a low line. */
		set_irq(drv, 4, VDEV_GPIO_IRQ_TYPE_LEVEL_LOW);
		unmask(drv, 4, &st);
		assert_int_equal(event(drv, TWAIT_MS, &len), 4);
		assert_int_equal(*st, VDEV_GPIO_IRQ_STATUS_VALID);
		assert_int_equal(vdev_gpio_sim_set(dev, 4, 1), 0);
		unmask(drv, 4, &st);
		assert_int_equal(event(drv, 50, &len), -1);
		assert_int_equal(vdev_gpio_sim_set(dev, 4, 0), 0);
		assert_int_equal(event(drv, TWAIT_MS, &len), 4);
		destroy(drv, dev);
	}
}

/* A request of arbitrary bytes; the status, *w what was written. */
static int raw(struct vdev_drv *drv, const void *out, size_t olen,
	       size_t ilen, uint32_t *w)
{
	uint8_t resp[8];

	memset(resp, 0xee, sizeof(resp));
	assert_int_equal(vdev_drv_xfer(drv, 0, out, olen, resp, ilen, w,
				       TWAIT_MS), 0);
	return ilen ? resp[0] : -1;
}

static void test_malformed(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev *dev;
		struct vdev_drv *drv = make(&modes[k], &dev);
		struct vdev_gpio_request r = {
			.type = vdev_cpu_to_le16(VDEV_GPIO_MSG_GET_VALUE),
		};
		uint8_t big[12] = { 4, 0 };
		uint32_t w;
		uint8_t v;

		/* Short and long requests. */
		assert_int_equal(raw(drv, &r, 6, 2, &w), VDEV_GPIO_STATUS_ERR);
		assert_int_equal(w, 2);
		assert_int_equal(raw(drv, big, sizeof(big), 2, &w),
				 VDEV_GPIO_STATUS_ERR);
		assert_int_equal(raw(drv, NULL, 0, 2, &w), VDEV_GPIO_STATUS_ERR);
		/* Response buffers too small: what fits, or nothing. */
		assert_int_equal(raw(drv, &r, sizeof(r), 1, &w),
				 VDEV_GPIO_STATUS_ERR);
		assert_int_equal(w, 1);
		assert_int_equal(raw(drv, &r, sizeof(r), 0, &w), -1);
		assert_int_equal(w, 0);
		/* Bad fields. */
		assert_int_equal(req(drv, 0, 0, 0, NULL), VDEV_GPIO_STATUS_ERR);
		assert_int_equal(req(drv, 7, 0, 0, NULL), VDEV_GPIO_STATUS_ERR);
		assert_int_equal(req(drv, 0xffff, 0, 0, NULL),
				 VDEV_GPIO_STATUS_ERR);
		for (uint16_t t = 2; t <= 6; t++)
			assert_int_equal(req(drv, t, NLINES, 0, NULL),
					 VDEV_GPIO_STATUS_ERR);
		assert_int_equal(req(drv, VDEV_GPIO_MSG_GET_VALUE, 0xffff, 0,
				     NULL), VDEV_GPIO_STATUS_ERR);
		assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_DIRECTION, 0, 3,
				     NULL), VDEV_GPIO_STATUS_ERR);
		assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_VALUE, 0, 2, NULL),
				 VDEV_GPIO_STATUS_ERR);
		for (uint32_t t = 5; t < 16; t++) {
			if (t == 8)
				continue;
			assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_IRQ_TYPE, 0,
					     t, NULL), VDEV_GPIO_STATUS_ERR);
		}
		assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_IRQ_TYPE, 0,
				     0x10001, NULL), VDEV_GPIO_STATUS_ERR);
		/* Nothing else was lost: the line still works. */
		assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_DIRECTION, 0,
				     VDEV_GPIO_DIRECTION_OUT, NULL), 0);
		assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_VALUE, 0, 1, NULL),
				 0);
		assert_int_equal(req(drv, VDEV_GPIO_MSG_GET_VALUE, 0, 0, &v), 0);
		assert_int_equal(v, 1);
		assert_false(vdev_drv_status(drv) & VDEV_STATUS_DEVICE_NEEDS_RESET);
		destroy(drv, dev);
	}
}

/* An eventq buffer of @olen readable and @ilen writable bytes holding
 * line @line; returns its status byte pointer. */
static uint8_t *evbuf(struct vdev_drv *drv, uint16_t line, uint32_t olen,
		      uint32_t ilen, void *tok)
{
	struct vdev_drv_mem *mem = vdev_drv_get_mem(drv);
	struct vdev_drv_seg segs[2];
	uint8_t *o = vdev_drv_mem_alloc(mem, 8, 2, &segs[0].gpa);
	uint8_t *i = vdev_drv_mem_alloc(mem, 8, 1, &segs[1].gpa);

	o[0] = (uint8_t)line;
	o[1] = (uint8_t)(line >> 8);
	memset(i, 0xee, 8);
	segs[0].len = olen;
	segs[1].len = ilen;
	if (!olen)
		segs[0] = segs[1];
	assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(drv, 1), segs,
					   olen ? 1 : 0, ilen ? 1 : 0, tok, 0),
			 0);
	assert_int_equal(vdev_drv_kick(drv, 1), 0);
	return i;
}

static void test_malformed_events(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev *dev;
		struct vdev_drv *drv = make(&modes[k], &dev);
		uint8_t *st, *st2;
		uint32_t len;
		void *tok;

		set_irq(drv, 5, VDEV_GPIO_IRQ_TYPE_EDGE_RISING);
		/* Line out of range, short, long, no status byte: returned
		 * at once, INVALID where there is room for it. */
		st = evbuf(drv, NLINES, 2, 1, (void *)1);
		assert_int_equal(vdev_drv_wait(drv, 1, 2000, &tok, &len), 0);
		assert_int_equal(len, 1);
		assert_int_equal(*st, VDEV_GPIO_IRQ_STATUS_INVALID);
		st = evbuf(drv, 5, 1, 1, (void *)2);
		assert_int_equal(vdev_drv_wait(drv, 1, 2000, &tok, &len), 0);
		assert_int_equal(*st, VDEV_GPIO_IRQ_STATUS_INVALID);
		st = evbuf(drv, 5, 4, 1, (void *)3);
		assert_int_equal(vdev_drv_wait(drv, 1, 2000, &tok, &len), 0);
		assert_int_equal(*st, VDEV_GPIO_IRQ_STATUS_INVALID);
		evbuf(drv, 5, 2, 0, (void *)4);
		assert_int_equal(vdev_drv_wait(drv, 1, 2000, &tok, &len), 0);
		assert_int_equal(len, 0);
		/* A second buffer for a line: the second goes back. */
		st = evbuf(drv, 5, 2, 1, (void *)5);
		st2 = evbuf(drv, 5, 2, 1, (void *)6);
		assert_int_equal(vdev_drv_wait(drv, 1, 2000, &tok, &len), 0);
		assert_ptr_equal(tok, (void *)6);
		assert_int_equal(*st2, VDEV_GPIO_IRQ_STATUS_INVALID);
		/* The first still works. */
		assert_int_equal(vdev_gpio_sim_pulse(dev, 5), 0);
		assert_int_equal(vdev_drv_wait(drv, 1, 2000, &tok, &len), 0);
		assert_ptr_equal(tok, (void *)5);
		assert_int_equal(*st, VDEV_GPIO_IRQ_STATUS_VALID);
		/* A buffer for a line without an IRQ type: INVALID. */
		st = evbuf(drv, 6, 2, 1, (void *)7);
		assert_int_equal(vdev_drv_wait(drv, 1, 2000, &tok, &len), 0);
		assert_ptr_equal(tok, (void *)7);
		assert_int_equal(*st, VDEV_GPIO_IRQ_STATUS_INVALID);
		assert_false(vdev_drv_status(drv) & VDEV_STATUS_DEVICE_NEEDS_RESET);
		destroy(drv, dev);
	}
}

static void test_no_irq_feature(void **state)
{
	struct vdev *dev;
	struct vdev_drv *drv = make_cfg(&modes[1],
		&(struct vdev_gpio_config){ .sim_lines = 4 },
		VDEV_BIT(VDEV_GPIO_F_IRQ), &dev);

	assert_false(vdev_drv_features(drv) & VDEV_BIT(VDEV_GPIO_F_IRQ));
	assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_IRQ_TYPE, 0,
			     VDEV_GPIO_IRQ_TYPE_EDGE_RISING, NULL),
			 VDEV_GPIO_STATUS_ERR);
	assert_int_equal(req(drv, VDEV_GPIO_MSG_GET_DIRECTION, 0, 0, NULL), 0);
	destroy(drv, dev);
	/* A device built without it does not offer it. */
	dev = vdev_gpio_new(&(struct vdev_gpio_config){ .sim_lines = 4,
							.no_irq = true });
	assert_non_null(dev);
	assert_false(vdev_device_features(dev) & VDEV_BIT(VDEV_GPIO_F_IRQ));
	vdev_free(dev);
}

static void test_reset(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev *dev;
		struct vdev_drv *drv = make(&modes[k], &dev);
		uint8_t *st, v;
		uint32_t len;

		set_irq(drv, 5, VDEV_GPIO_IRQ_TYPE_EDGE_RISING);
		unmask(drv, 5, &st);
		assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_DIRECTION, 2,
				     VDEV_GPIO_DIRECTION_OUT, NULL), 0);
		assert_int_equal(vdev_drv_init(drv), 0); /* resets first */
		assert_int_equal(req(drv, VDEV_GPIO_MSG_GET_DIRECTION, 2, 0, &v),
				 0);
		assert_int_equal(v, VDEV_GPIO_DIRECTION_NONE);
		/* The IRQ type went too: a pulse is nothing. */
		unmask(drv, 5, &st);
		assert_int_equal(event(drv, TWAIT_MS, &len), 5);
		assert_int_equal(*st, VDEV_GPIO_IRQ_STATUS_INVALID);
		destroy(drv, dev);
	}
}

/* Adds a GET_VALUE/GET_DIRECTION request to ring 0 of @drv by hand. */
static uint8_t *raw_req(struct vdev_drv *drv, uint16_t type, uint16_t gpio,
			void *tok)
{
	struct vdev_drv_mem *mem = vdev_drv_get_mem(drv);
	struct vdev_drv_seg segs[2];
	struct vdev_gpio_request *r = vdev_drv_mem_alloc(mem, sizeof(*r), 8,
							 &segs[0].gpa);
	uint8_t *resp = vdev_drv_mem_alloc(mem, 2, 1, &segs[1].gpa);

	r->type = vdev_cpu_to_le16(type);
	r->gpio = vdev_cpu_to_le16(gpio);
	r->value = 0;
	resp[0] = resp[1] = 0xee;
	segs[0].len = sizeof(*r);
	segs[1].len = 2;
	assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(drv, 0), segs, 1, 1,
					   tok, 0), 0);
	return resp;
}

/*
 * Save on one device, restore into a fresh one that takes over the same
 * rings in the same guest memory (what a migration target does): the
 * lines keep their directions, values and IRQ types, and the edge latched
 * while masked is delivered at the next unmask.
 */
static void test_state(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev *dev, *dev2;
		struct vdev_drv *drv = make(&modes[k], &dev);
		uint8_t *st, *resp;
		uint32_t len;
		void *blob, *tok;
		size_t blen;
		int d, val;

		assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_VALUE, 2, 1, NULL),
				 0);
		assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_DIRECTION, 2,
				     VDEV_GPIO_DIRECTION_OUT, NULL), 0);
		assert_int_equal(vdev_gpio_sim_set(dev, 6, 1), 0);
		set_irq(drv, 5, VDEV_GPIO_IRQ_TYPE_EDGE_RISING);
		set_irq(drv, 4, VDEV_GPIO_IRQ_TYPE_LEVEL_HIGH);
		/* Masked line 5 latches an edge; line 4 is unmasked. */
		assert_int_equal(vdev_gpio_sim_pulse(dev, 5), 0);
		unmask(drv, 4, &st);
		assert_int_equal(event(drv, 50, &len), -1);
		/* Stopping the eventq gives line 4's buffer back INVALID. */
		assert_int_equal(vdev_drv_stop_queue(drv, 0, NULL), 0);
		assert_int_equal(vdev_drv_stop_queue(drv, 1, NULL), 0);
		assert_int_equal(vdev_drv_ring_get_used(vdev_drv_ring(drv, 1),
							&tok, &len), 0);
		assert_ptr_equal(tok, (void *)5);
		assert_int_equal(*st, VDEV_GPIO_IRQ_STATUS_INVALID);
		assert_int_equal(vdev_save(dev, &blob, &blen), 0);

		/* A chip of another size refuses the blob. */
		dev2 = vdev_gpio_new(&(struct vdev_gpio_config){
			.sim_lines = 4 });
		assert_non_null(dev2);
		assert_int_equal(vdev_set_mem(dev2, vdev_get_mem(dev)), 0);
		assert_int_equal(vdev_restore(dev2, blob, blen), -EBADMSG);
		vdev_free(dev2);

		dev2 = vdev_gpio_new(&(struct vdev_gpio_config){
			.sim_lines = NLINES });
		assert_non_null(dev2);
		assert_int_equal(vdev_set_mem(dev2, vdev_get_mem(dev)), 0);
		assert_int_equal(vdev_restore(dev2, blob, blen), 0);
		free(blob);
		assert_int_equal(vdev_gpio_sim_get(dev2, 2, &d, &val), 0);
		assert_int_equal(d, VDEV_GPIO_DIRECTION_OUT);
		assert_int_equal(val, 1);
		assert_int_equal(vdev_gpio_sim_get(dev2, 6, &d, &val), 0);
		assert_int_equal(d, VDEV_GPIO_DIRECTION_NONE);
		assert_int_equal(val, 1);
		/* The driver's rings, served by the new device. */
		resp = raw_req(drv, VDEV_GPIO_MSG_GET_VALUE, 2, (void *)9);
		assert_int_equal(vdev_vq_kick(dev2, 0, 0), 0);
		assert_int_equal(vdev_drv_ring_get_used(vdev_drv_ring(drv, 0),
							&tok, &len), 0);
		assert_ptr_equal(tok, (void *)9);
		assert_int_equal(resp[0], VDEV_GPIO_STATUS_OK);
		assert_int_equal(resp[1], 1);
		unmask_nokick(drv, 5, &st);
		assert_int_equal(vdev_vq_kick(dev2, 1, 0), 0);
		assert_int_equal(vdev_drv_ring_get_used(vdev_drv_ring(drv, 1),
							&tok, &len), 0);
		assert_ptr_equal(tok, (void *)6);
		assert_int_equal(*st, VDEV_GPIO_IRQ_STATUS_VALID);
		/* Latched once: the next unmask waits for a new edge. */
		unmask_nokick(drv, 5, &st);
		assert_int_equal(vdev_vq_kick(dev2, 1, 0), 0);
		assert_int_equal(vdev_drv_ring_get_used(vdev_drv_ring(drv, 1),
							&tok, &len), -EAGAIN);
		assert_int_equal(vdev_gpio_sim_pulse(dev2, 5), 0);
		vdev_vq_kick(dev2, 1, 0);
		for (int i = 0; i < 100; i++) {
			if (vdev_drv_ring_get_used(vdev_drv_ring(drv, 1), &tok,
						   &len) == 0)
				break;
			vdev_vq_poll(dev2, 1);
			usleep(1000);
			tok = NULL;
		}
		assert_ptr_equal(tok, (void *)6);
		vdev_free(dev2);
		destroy(drv, dev);
	}
}

/* ---- control socket ------------------------------------------------- */

static char ctl_path[64];

static int ctl_connect(void)
{
	int fd = tctl_connect(ctl_path);

	assert_true(fd >= 0);
	return fd;
}

/* Sends @cmd (unless empty), runs the driver's loop until a reply line
 * came. */
static void ctl(struct vdev_drv *drv, int fd, const char *cmd, char *reply,
		size_t len)
{
	tctl_fd(fd, cmd, reply, len, drv);
}

static void test_control(void **state)
{
	struct vdev_gpio_config gc = { .sim_lines = NLINES, .control = ctl_path };
	struct vdev *dev;
	struct vdev_drv *drv;
	char r[128], big[400];
	uint8_t v;
	int fd, fds[9];

	snprintf(ctl_path, sizeof(ctl_path), "/tmp/vdev-gpio-ctl-%d",
		 (int)getpid());
	unlink(ctl_path);
	/* Synchronous kicks: an unmask is served before the next command. */
	drv = make_cfg(&modes[0], &gc, 0, &dev);
	/* A second device on a live control socket is refused. */
	errno = 0;
	assert_null(vdev_gpio_new(&gc));
	assert_int_equal(errno, EADDRINUSE);
	fd = ctl_connect();
	ctl(drv, fd, "set 5 1\n", r, sizeof(r));
	assert_string_equal(r, "ok\n");
	assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_DIRECTION, 5,
			     VDEV_GPIO_DIRECTION_IN, NULL), 0);
	assert_int_equal(req(drv, VDEV_GPIO_MSG_GET_VALUE, 5, 0, &v), 0);
	assert_int_equal(v, 1);
	ctl(drv, fd, "get 5\n", r, sizeof(r));
	assert_string_equal(r, "ok in 1\n");
	assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_VALUE, 3, 1, NULL), 0);
	assert_int_equal(req(drv, VDEV_GPIO_MSG_SET_DIRECTION, 3,
			     VDEV_GPIO_DIRECTION_OUT, NULL), 0);
	ctl(drv, fd, "get 3\r\n", r, sizeof(r));
	assert_string_equal(r, "ok out 1\n");
	set_irq(drv, 2, VDEV_GPIO_IRQ_TYPE_EDGE_BOTH);
	ctl(drv, fd, "info 2\n", r, sizeof(r));
	assert_string_equal(r, "ok sim-2 both 1\n");
	{
		uint8_t *st;
		uint32_t len;

		unmask(drv, 2, &st);
		ctl(drv, fd, "info 2\n", r, sizeof(r));
		assert_string_equal(r, "ok sim-2 both 0\n");
		ctl(drv, fd, "pulse 2\n", r, sizeof(r));
		assert_string_equal(r, "ok\n");
		assert_int_equal(event(drv, TWAIT_MS, &len), 2);
		assert_int_equal(*st, VDEV_GPIO_IRQ_STATUS_VALID);
	}
	/* Errors leave the connection usable. */
	ctl(drv, fd, "set 8 1\n", r, sizeof(r));
	assert_true(!strncmp(r, "err ", 4));
	ctl(drv, fd, "set 1 2\n", r, sizeof(r));
	assert_true(!strncmp(r, "err ", 4));
	ctl(drv, fd, "frob 1\n", r, sizeof(r));
	assert_true(!strncmp(r, "err ", 4));
	ctl(drv, fd, "\n", r, sizeof(r));
	assert_true(!strncmp(r, "err ", 4));
	ctl(drv, fd, "get -1\n", r, sizeof(r));
	assert_true(!strncmp(r, "err ", 4));
	ctl(drv, fd, "get 1 2\n", r, sizeof(r));
	assert_true(!strncmp(r, "err ", 4));
	ctl(drv, fd, "get 1\n", r, sizeof(r));
	assert_string_equal(r, "ok none 0\n");
	/* Too long a line closes that connection only. */
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = 0;
	ctl(drv, fd, big, r, sizeof(r));
	assert_string_equal(r, "err line too long\n");
	close(fd);
	/* Eight connections at most; the ninth is told and closed. */
	for (int i = 0; i < 9; i++)
		fds[i] = ctl_connect();
	for (int i = 0; i < 20; i++)
		vdev_drv_poll(drv, 10);
	ctl(drv, fds[8], "", r, sizeof(r)); /* told at once, then closed */
	assert_string_equal(r, "err too many connections\n");
	ctl(drv, fds[7], "get 1\n", r, sizeof(r));
	assert_string_equal(r, "ok none 0\n");
	for (int i = 0; i < 9; i++)
		close(fds[i]);
	for (int i = 0; i < 20; i++)
		vdev_drv_poll(drv, 5);
	fd = ctl_connect();
	ctl(drv, fd, "get 1\n", r, sizeof(r));
	assert_string_equal(r, "ok none 0\n");
	close(fd);
	destroy(drv, dev);
	/* The socket went with the device. */
	assert_int_equal(access(ctl_path, F_OK), -1);
}

static void test_new_errors(void **state)
{
	static const char *const longname[] = {
		"0123456789012345678901234567890123456789",
	};

	errno = 0;
	assert_null(vdev_gpio_new(NULL));
	assert_int_equal(errno, EINVAL);
	assert_null(vdev_gpio_new(&(struct vdev_gpio_config){ 0 }));
	assert_int_equal(errno, EINVAL);
	assert_null(vdev_gpio_new(&(struct vdev_gpio_config){
		.sim_lines = VDEV_GPIO_MAX_LINES + 1 }));
	assert_int_equal(errno, EINVAL);
	assert_null(vdev_gpio_new(&(struct vdev_gpio_config){
		.sim_lines = 1, .sim_names = longname }));
	assert_int_equal(errno, EINVAL);
	assert_null(vdev_gpio_new(&(struct vdev_gpio_config){
		.chip = "/nonexistent/gpiochip9" }));
	assert_true(errno == ENOENT || errno == ENOTSUP || errno == ENODEV);
	assert_null(vdev_gpio_new(&(struct vdev_gpio_config){
		.sim_lines = 2, .control = "/nonexistent/dir/ctl" }));
	/* A regular file at the control path is not replaced. */
	{
		char p[] = "/tmp/vdev-gpio-file-XXXXXX";
		int fd = mkstemp(p);

		assert_true(fd >= 0);
		close(fd);
		assert_null(vdev_gpio_new(&(struct vdev_gpio_config){
			.sim_lines = 2, .control = p }));
		assert_int_equal(errno, EEXIST);
		unlink(p);
	}
	/* A gpio call on a device of another kind is refused. */
	assert_int_equal(vdev_gpio_sim_set(NULL, 0, 1), -EINVAL);
}

static void test_max_lines(void **state)
{
	struct vdev *dev;
	struct vdev_drv *drv = make_cfg(&modes[1],
		&(struct vdev_gpio_config){ .sim_lines = VDEV_GPIO_MAX_LINES },
		0, &dev);
	uint8_t *st, v;
	uint32_t len;

	set_irq(drv, VDEV_GPIO_MAX_LINES - 1, VDEV_GPIO_IRQ_TYPE_EDGE_RISING);
	unmask(drv, VDEV_GPIO_MAX_LINES - 1, &st);
	assert_int_equal(vdev_gpio_sim_pulse(dev, VDEV_GPIO_MAX_LINES - 1), 0);
	assert_int_equal(event(drv, TWAIT_MS, &len),
			 VDEV_GPIO_MAX_LINES - 1);
	assert_int_equal(req(drv, VDEV_GPIO_MSG_GET_DIRECTION,
			     VDEV_GPIO_MAX_LINES, 0, &v), VDEV_GPIO_STATUS_ERR);
	destroy(drv, dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_names),
		cmocka_unit_test(test_custom_names),
		cmocka_unit_test(test_direction_value),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_malformed_events),
		cmocka_unit_test(test_no_irq_feature),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_control),
		cmocka_unit_test(test_new_errors),
		cmocka_unit_test(test_max_lines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
