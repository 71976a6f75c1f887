/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-user requests that need a device with config space, several
 * queues and asynchronous completion (the core's test device, tdev): MQ
 * and GET_QUEUE_NUM, GET/SET_CONFIG, BACKEND_CONFIG_CHANGE_MSG,
 * GET_VRING_BASE waiting for requests in flight, RESET_DEVICE, and a
 * legacy frontend without PROTOCOL_FEATURES (rings enabled at start).
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/spec.h>
#include <virtio/transport.h>

#include "twait.h"
#include "vcore_tdev.h"
#include "vhu_frontend.h"

#define P(f) VDEV_BIT(VDEV_VHOST_USER_PROTOCOL_F_##f)

struct fixture {
	struct tdev t;
	struct vhu_fe_server srv;
	unsigned fds_before;
};

static int setup(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	if (!tdev_new(&f.t, 2, 64, 1) ||
	    vhu_fe_server_start(&f.srv, f.t.dev, NULL))
		return -1;
	f.fds_before = vhu_fe_count_fds();
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vhu_fe_server_stop(&f->srv);
	vdev_free(f->t.dev);
	return 0;
}

static void finish(struct fixture *f, struct vhu_fe *fe,
		   struct vhu_fe_guest *g)
{
	vhu_fe_close(fe);
	vhu_fe_guest_fini(g);
	assert_true(vhu_fe_server_idle(&f->srv, TWAIT_MS));
	assert_int_equal(vhu_fe_count_fds(), f->fds_before);
}

static int get_config(struct vhu_fe *fe, uint32_t off, uint32_t len,
		      uint8_t *out, uint32_t *got)
{
	uint8_t p[12 + 256] = { 0 };
	uint32_t h[3] = { off, len, 0 };
	struct vhu_fe_msg r;
	int ret;

	memcpy(p, h, 12);
	ret = vhu_fe_send(fe, VHU_FE_GET_CONFIG, 0, p, 12 + len, NULL, 0);
	if (!ret)
		ret = vhu_fe_recv(fe->fd, &r, 2000);
	if (ret)
		return ret;
	if (r.size < 12)
		return -EPROTO;
	memcpy(h, r.payload, 12);
	*got = h[1];
	if (r.size != 12 + *got)
		return -EPROTO;
	memcpy(out, r.payload + 12, *got);
	return 0;
}

static void test_mq_config_backend(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	uint64_t pf, v;
	struct vhu_fe_guest g;
	uint8_t cfg[8], wr[12 + 4];
	uint32_t h[3] = { 4, 4, 0 };
	uint32_t got;
	int sp[2];

	assert_non_null(fe);
	assert_int_equal(vhu_fe_get_u64(fe, VHU_FE_GET_PROTOCOL_FEATURES, &pf),
			 0);
	/* Offered because this device has several queues and config. */
	assert_true(pf & P(MQ));
	assert_true(pf & P(CONFIG));
	assert_true(pf & P(INFLIGHT_SHMFD)); /* split rings, any device */
	assert_int_equal(vhu_fe_setup(fe, &g, 32, false,
				      P(REPLY_ACK) | P(MQ) | P(CONFIG) |
					      P(BACKEND_REQ),
				      false), 0);
	assert_int_equal(vhu_fe_get_u64(fe, VHU_FE_GET_QUEUE_NUM, &v), 0);
	assert_int_equal(v, 2);

	/* Config space: writable at 4..8 only (the model says so). */
	memcpy(wr, h, 12);
	memcpy(wr + 12, "\x11\x22\x33\x44", 4);
	assert_int_equal(vhu_fe_request(fe, VHU_FE_SET_CONFIG, wr, sizeof(wr),
					NULL, 0, true), 0);
	assert_int_equal(get_config(fe, 0, 8, cfg, &got), 0);
	assert_int_equal(got, 8);
	assert_memory_equal(cfg + 4, "\x11\x22\x33\x44", 4);
	h[0] = 0;
	memcpy(wr, h, 12);
	assert_true(vhu_fe_request(fe, VHU_FE_SET_CONFIG, wr, sizeof(wr),
				   NULL, 0, true) > 0);
	/* Out of range: an empty config payload comes back. */
	assert_int_equal(get_config(fe, 4, 8, cfg, &got), 0);
	assert_int_equal(got, 0);
	/* The largest access the spec allows (VHOST_USER_MAX_CONFIG_SIZE,
	 * a 268-byte message) is well-formed: answered, not dropped. */
	{
		uint8_t big[256];

		assert_int_equal(get_config(fe, 0, 256, big, &got), 0);
		assert_int_equal(got, 0);
	}

	/* A config change reaches the frontend on the back-end channel. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sp), 0);
	assert_int_equal(vhu_fe_request(fe, VHU_FE_SET_BACKEND_REQ_FD, NULL, 0,
					&sp[1], 1, true), 0);
	close(sp[1]);
	vdev_config_changed(f->t.dev);
	{
		struct vhu_fe_msg m;

		assert_int_equal(vhu_fe_recv(sp[0], &m, TWAIT_MS), 0);
		assert_int_equal(m.request, 2); /* CONFIG_CHANGE_MSG */
		assert_int_equal(m.size, 0);
		assert_int_equal(m.flags & 3, 1);
	}
	close(sp[0]);
	finish(f, fe, &g);
}

/* GET_VRING_BASE answers only once the request in flight completed, and
 * the answer counts it. */
static void test_get_vring_base_waits(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	struct vhu_fe_guest g;
	struct vdev_drv_seg seg;
	struct vhu_fe_msg r;
	uint32_t st[2] = { 0, 0 };
	void *tok;
	uint32_t len;

	assert_non_null(fe);
	f->t.defer = true;
	assert_int_equal(vhu_fe_setup(fe, &g, 32, false, P(REPLY_ACK), false),
			 0);
	assert_non_null(vdev_drv_mem_alloc(g.mem, 64, 16, &seg.gpa));
	seg.len = 64;
	assert_int_equal(vdev_drv_ring_add(g.ring, &seg, 0, 1, &seg, 0), 0);
	assert_int_equal(vhu_fe_kick(fe, &g), 0);
	for (int i = 0; i < 2000 && !f->t.nheld; i++) {
		struct timespec ts = { 0, 1000000 };

		nanosleep(&ts, NULL);
	}
	assert_int_equal(f->t.nheld, 1);
	assert_int_equal(vhu_fe_send(fe, VHU_FE_GET_VRING_BASE, 0, st,
				     sizeof(st), NULL, 0), 0);
	assert_int_equal(vhu_fe_recv(fe->fd, &r, 300), -ETIMEDOUT);
	tdev_signal_done(&f->t);
	assert_int_equal(vhu_fe_recv(fe->fd, &r, 5000), 0);
	assert_int_equal(r.request, VHU_FE_GET_VRING_BASE);
	memcpy(st, r.payload, 8);
	assert_int_equal(st[1], 1);
	assert_int_equal(vdev_drv_ring_get_used(g.ring, &tok, &len), 0);
	assert_ptr_equal(tok, &seg);
	f->t.defer = false;
	finish(f, fe, &g);
}

/* RESET_DEVICE drops negotiation and rings; the frontend starts over on
 * the same connection. */
static void test_reset_device(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	struct vhu_fe_guest g, g2;
	uint64_t v;

	assert_non_null(fe);
	assert_int_equal(vhu_fe_setup(fe, &g, 32, false,
				      P(REPLY_ACK) | P(RESET_DEVICE), false),
			 0);
	assert_true(vdev_vq_enabled(f->t.dev, 0));
	assert_int_equal(vhu_fe_request(fe, VHU_FE_RESET_DEVICE, NULL, 0, NULL,
					0, true), 0);
	assert_false(vdev_vq_enabled(f->t.dev, 0));
	assert_int_equal(vdev_get_status(f->t.dev), 0);
	assert_int_equal(vhu_fe_setup(fe, &g2, 32, true,
				      P(REPLY_ACK) | P(RESET_DEVICE), false),
			 0);
	assert_true(vdev_vq_enabled(f->t.dev, 0));
	assert_int_equal(vhu_fe_get_u64(fe, VHU_FE_GET_FEATURES, &v), 0);
	vhu_fe_guest_fini(&g2);
	finish(f, fe, &g);
}

/* Without PROTOCOL_FEATURES a ring runs as soon as it is kicked: no
 * SET_VRING_ENABLE, no status messages. */
static void test_legacy_frontend(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	struct vhu_fe_guest g;

	assert_non_null(fe);
	fe->legacy = true;
	assert_int_equal(vhu_fe_setup(fe, &g, 32, false, 0, false), 0);
	assert_true(vdev_vq_enabled(f->t.dev, 0));
	assert_true(vdev_get_status(f->t.dev) & VDEV_STATUS_DRIVER_OK);
	finish(f, fe, &g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_mq_config_backend, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_get_vring_base_waits,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_device, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_legacy_frontend, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
