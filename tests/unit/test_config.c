/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Config space owned by the model, written the way frontends write it.
 *
 * QEMU's vhost-user frontends forward one guest config write as a
 * SET_CONFIG of the whole config space, the other fields as QEMU last read
 * them (136 bytes for virtio-input). A select/subsel device (virtio-input's
 * config, here "pick") must answer from what was selected without the
 * stale copy overwriting the answer: its config_write applies the write
 * itself and returns VDEV_CONFIG_HANDLED. A model that lets the core copy
 * gets ops->config_written with the range. And config space read from a
 * queue thread while the control thread writes it is read whole.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <virtio/spec.h>
#include <virtio/testing.h>
#include <virtio/transport.h>

#include "vhu_frontend.h"

#define P(f) VDEV_BIT(VDEV_VHOST_USER_PROTOCOL_F_##f)

/* virtio-input's config layout (virtio 1.2 5.8.4). */
struct pick_cfg {
	uint8_t select;
	uint8_t subsel;
	uint8_t size;
	uint8_t reserved[5];
	uint8_t u[128];
};

#define PICK_NAME 1 /* VIRTIO_INPUT_CFG_ID_NAME */
static const char pick_name[] = "libvdev pick";

struct pick {
	unsigned handled, written;
	uint32_t written_off, written_len;
	unsigned handles;
};

static void pick_handle(struct vdev *dev, unsigned qidx, struct vdev_queue *q)
{
	struct pick *p = vdev_priv(dev);

	(void)qidx;
	(void)q;
	p->handles++;
}

/* Applies select/subsel and fills in the answer; the rest is read-only. */
static int pick_config_write(struct vdev *dev, uint32_t off, const void *data,
			     uint32_t len)
{
	struct pick *p = vdev_priv(dev);
	struct pick_cfg *c = vdev_config(dev);
	const uint8_t *in = data;

	if (off > offsetof(struct pick_cfg, subsel))
		return -EPERM;
	if (off == 0)
		c->select = in[0];
	if (off + len > 1)
		c->subsel = in[1 - off];
	memset(c->u, 0, sizeof(c->u));
	c->size = 0;
	if (c->select == PICK_NAME && c->subsel == 0) {
		c->size = (uint8_t)strlen(pick_name);
		memcpy(c->u, pick_name, c->size);
	}
	p->handled++;
	return VDEV_CONFIG_HANDLED;
}

static const struct vdev_ops pick_ops = {
	.config_write = pick_config_write,
	.handle = pick_handle,
};

static struct vdev *pick_new(struct pick *p)
{
	const struct vdev_info info = {
		.name = "pick", .device_id = 18, .num_queues = 1,
		.config_size = sizeof(struct pick_cfg),
	};

	memset(p, 0, sizeof(*p));
	return vdev_new(&info, &pick_ops, p);
}

/* In process: the whole 136 bytes, stale answer included. */
static void test_handled_in_process(void **state)
{
	struct pick p;
	struct vdev *dev = pick_new(&p);
	struct vdev_drv *drv = vdev_drv_new(dev, NULL);
	struct pick_cfg c;

	(void)state;
	assert_non_null(drv);
	assert_int_equal(vdev_drv_init(drv), 0);
	assert_int_equal(vdev_drv_config_read(drv, 0, &c, sizeof(c)), 0);
	assert_int_equal(c.size, 0);
	c.select = PICK_NAME;
	assert_int_equal(vdev_drv_config_write(drv, 0, &c, sizeof(c)), 0);
	assert_int_equal(p.handled, 1);
	memset(&c, 0xee, sizeof(c));
	assert_int_equal(vdev_drv_config_read(drv, 0, &c, sizeof(c)), 0);
	assert_int_equal(c.select, PICK_NAME);
	assert_int_equal(c.size, strlen(pick_name));
	assert_memory_equal(c.u, pick_name, strlen(pick_name));
	/* One byte, as a virtio-pci driver writes select. */
	c.select = 0;
	assert_int_equal(vdev_drv_config_write(drv, 0, &c.select, 1), 0);
	assert_int_equal(vdev_drv_config_read(drv, 2, &c.size, 1), 0);
	assert_int_equal(c.size, 0);
	/* Read-only bytes alone: refused, nothing changes. */
	assert_int_equal(vdev_drv_config_write(drv, 8, c.u, 4), -EPERM);
	vdev_drv_free(drv);
	vdev_free(dev);
}

/* vhost-user SET_CONFIG / GET_CONFIG of @len bytes at @off. */
static int set_config(struct vhu_fe *fe, uint32_t off, const void *data,
		      uint32_t len)
{
	uint8_t msg[12 + 256] = { 0 };
	uint32_t h[3] = { off, len, 0 }; /* host order, as vhost-user is */

	memcpy(msg, h, 12);
	memcpy(msg + 12, data, len);
	return vhu_fe_request(fe, VHU_FE_SET_CONFIG, msg, 12 + len, NULL, 0,
			      true);
}

static void get_config(struct vhu_fe *fe, uint32_t off, void *data,
		       uint32_t len)
{
	uint8_t msg[12 + 256] = { 0 };
	uint32_t h[3] = { off, len, 0 }; /* host order, as vhost-user is */
	struct vhu_fe_msg r;

	memcpy(msg, h, 12);
	assert_int_equal(vhu_fe_send(fe, VHU_FE_GET_CONFIG, 0, msg, 12 + len,
				     NULL, 0), 0);
	assert_int_equal(vhu_fe_recv(fe->fd, &r, 5000), 0);
	assert_int_equal(r.request, VHU_FE_GET_CONFIG);
	assert_int_equal(r.size, 12 + len);
	memcpy(data, r.payload + 12, len);
}

/* Through the vhost-user adapter, exactly as QEMU's vhost-user-input
 * does it: GET_CONFIG of everything, change select, SET_CONFIG of
 * everything. */
static void test_handled_vhost_user(void **state)
{
	struct vdev_vhost_user_config cfg = { 0 };
	struct vhu_fe_server srv;
	struct vhu_fe_guest g;
	struct vhu_fe *fe;
	struct pick p;
	struct vdev *dev = pick_new(&p);
	struct pick_cfg c;

	(void)state;
	assert_int_equal(vhu_fe_server_start(&srv, dev, &cfg), 0);
	fe = vhu_fe_connect(srv.path, 2000);
	assert_non_null(fe);
	assert_int_equal(vhu_fe_setup(fe, &g, 64, false,
				      P(REPLY_ACK) | P(CONFIG), false), 0);
	get_config(fe, 0, &c, sizeof(c));
	c.select = PICK_NAME;
	assert_int_equal(set_config(fe, 0, &c, sizeof(c)), 0);
	memset(&c, 0, sizeof(c));
	get_config(fe, 0, &c, sizeof(c));
	assert_int_equal(c.size, strlen(pick_name));
	assert_memory_equal(c.u, pick_name, strlen(pick_name));
	/* A write of read-only bytes only is answered with an error. */
	assert_int_not_equal(set_config(fe, 8, c.u, 8), 0);
	vhu_fe_close(fe);
	vhu_fe_guest_fini(&g);
	vhu_fe_server_stop(&srv);
	vdev_free(dev);
}

/* A model that lets the core copy, and reacts after: ops->config_written
 * sees the range, after the bytes are in; not for a refused write. */
struct wr {
	unsigned calls;
	uint32_t off, len;
	uint8_t seen[8];
};

static int wr_config_write(struct vdev *dev, uint32_t off, const void *data,
			   uint32_t len)
{
	(void)dev;
	(void)data;
	/* Bytes 0..3 read-only unless unchanged; 4..7 writable. */
	for (uint32_t i = off; i < off + len && i < 4; i++)
		if (((const uint8_t *)data)[i - off] !=
		    ((uint8_t *)vdev_config(dev))[i])
			return -EPERM;
	return 0;
}

static void wr_config_written(struct vdev *dev, uint32_t off, uint32_t len)
{
	struct wr *w = vdev_priv(dev);

	w->calls++;
	w->off = off;
	w->len = len;
	memcpy(w->seen, vdev_config(dev), 8);
}

static const struct vdev_ops wr_ops = {
	.config_write = wr_config_write,
	.config_written = wr_config_written,
	.handle = pick_handle,
};

static void test_config_written(void **state)
{
	const struct vdev_info info = {
		.name = "wr", .device_id = 0xb1, .num_queues = 1,
		.config_size = 8,
	};
	struct wr w = { 0 };
	struct vdev *dev = vdev_new(&info, &wr_ops, &w);
	uint8_t all[8] = { 0, 0, 0, 0, 1, 2, 3, 4 };

	(void)state;
	assert_non_null(dev);
	assert_int_equal(vdev_config_write(dev, 0, all, 8), 0);
	assert_int_equal(w.calls, 1);
	assert_int_equal(w.off, 0);
	assert_int_equal(w.len, 8);
	assert_memory_equal(w.seen, all, 8);
	assert_int_equal(vdev_config_write(dev, 6, "xy", 2), 0);
	assert_int_equal(w.calls, 2);
	assert_int_equal(w.off, 6);
	assert_int_equal(w.len, 2);
	assert_memory_equal(w.seen + 6, "xy", 2);
	all[0] = 9;
	assert_int_equal(vdev_config_write(dev, 0, all, 8), -EPERM);
	assert_int_equal(w.calls, 2);
	vdev_free(dev);
}

/*
 * Config space read on one thread while another writes it: the reader
 * sees whole values, even a 2 KiB one (vdev_config_get takes the
 * config lock the core holds around every write; an unlocked copy of
 * that size tears).
 */
#define RACE_LEN 2048

struct race {
	struct vdev *dev;
	volatile bool stop;
	unsigned writes;
};

static int race_config_write(struct vdev *dev, uint32_t off, const void *data,
			     uint32_t len)
{
	(void)dev;
	(void)data;
	return off >= 8 && len <= RACE_LEN ? 0 : -EPERM;
}

static const struct vdev_ops race_ops = {
	.config_write = race_config_write,
	.handle = pick_handle,
};

static void *race_writer(void *arg)
{
	struct race *r = arg;
	uint8_t v[RACE_LEN];

	while (!r->stop) {
		memset(v, r->writes & 1 ? 0xff : 0x00, sizeof(v));
		if (vdev_config_write(r->dev, 8, v, sizeof(v)))
			abort();
		r->writes++;
	}
	return NULL;
}

static void test_read_while_written(void **state)
{
	const struct vdev_info info = {
		.name = "race", .device_id = 0xb1, .num_queues = 1,
		.config_size = 8 + RACE_LEN,
	};
	struct race r = { 0 };
	pthread_t t;
	unsigned torn = 0;
	uint8_t v[RACE_LEN];

	(void)state;
	r.dev = vdev_new(&info, &race_ops, NULL);
	assert_non_null(r.dev);
	assert_int_equal(pthread_create(&t, NULL, race_writer, &r), 0);
	for (int i = 0; i < 20000; i++) {
		assert_int_equal(vdev_config_get(r.dev, 8, v, sizeof(v)), 0);
		for (size_t k = 1; k < sizeof(v); k++) {
			if (v[k] != v[0]) {
				torn++;
				break;
			}
		}
	}
	r.stop = true;
	pthread_join(t, NULL);
	assert_int_equal(torn, 0);
	assert_true(r.writes > 0);
	assert_int_equal(vdev_config_get(r.dev, 8 + RACE_LEN - 2, v, 4),
			 -ERANGE);
	vdev_free(r.dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handled_in_process),
		cmocka_unit_test(test_handled_vhost_user),
		cmocka_unit_test(test_config_written),
		cmocka_unit_test(test_read_while_written),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
