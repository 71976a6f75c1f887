/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The software driver as a vhost-user frontend
 * (vdev_drv_connect_vhost_user): the same test body runs a device in
 * process and through the vhost-user adapter on a socket, split and
 * packed; config space, config interrupts from the back-end channel,
 * several queues, a second bring-up (reset), and back-ends that are not
 * there, hang up or never answer.
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
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/spec.h>
#include <virtio/testing.h>
#include <virtio/transport.h>

#include "adapters/vhost-user/vhu_internal.h"
#include "tenv.h"
#include "twait.h"
#include "vcore_tdev.h"
#include "vhu_frontend.h"

static struct tdev T;

/* The test body, whatever the driver is connected to. */
static void exercise(struct vdev_drv *drv, bool remote)
{
	uint8_t out[5] = "ping", in[5], cfg[8];
	uint32_t w, v = 0x11223344, irqs;

	assert_int_equal(vdev_drv_num_queues(drv), 2);
	assert_true(vdev_drv_device_features(drv) & VDEV_BIT(TDEV_F_X));
	assert_int_equal(vdev_drv_init(drv), 0);
	assert_true(vdev_drv_features(drv) & VDEV_BIT(VDEV_F_VERSION_1));
	assert_true(vdev_drv_status(drv) & VDEV_STATUS_DRIVER_OK);
	for (unsigned q = 0; q < 2; q++) {
		for (int i = 0; i < 50; i++) {
			memset(in, 0, sizeof(in));
			assert_int_equal(vdev_drv_xfer(drv, q, out, 5, in, 5,
						       &w, TWAIT_MS), 0);
			assert_int_equal(w, 5);
			assert_string_equal(in, "ping");
		}
	}
	assert_true(vdev_drv_interrupts(drv, 0) > 0);
	/* Stopped, the ring's position comes back: 50 chains, i.e. 100
	 * slots of a 64-slot packed ring (one lap and 36). */
	{
		struct vdev_queue_state st;
		bool packed = vdev_drv_features(drv) &
			      VDEV_BIT(VDEV_F_RING_PACKED);

		assert_int_equal(vdev_drv_stop_queue(drv, 0, &st), 0);
		assert_int_equal(st.avail_idx, packed ? 36 : 50);
		assert_int_equal(st.used_idx, packed ? 36 : 50);
		assert_false(st.avail_wrap);
		assert_int_equal(vdev_drv_setup_queue(drv, 0, 0), 0);
		assert_int_equal(vdev_drv_xfer(drv, 0, out, 5, in, 5, &w,
					       TWAIT_MS), 0);
	}
	/* Config space: offset 4 is writable, 0 is not. */
	assert_int_equal(vdev_drv_config_write(drv, 4, &v, 4), 0);
	assert_int_equal(vdev_drv_config_read(drv, 0, cfg, 8), 0);
	assert_memory_equal(cfg + 4, &v, 4);
	assert_int_equal(vdev_drv_config_write(drv, 0, &v, 4), -EPERM);
	/* A config change reaches the driver as an interrupt. */
	irqs = vdev_drv_config_interrupts(drv);
	vdev_config_changed(T.dev);
	for (uint64_t end = twait_now_ms() + TWAIT_MS;
	     vdev_drv_config_interrupts(drv) == irqs && twait_now_ms() < end;)
		vdev_drv_poll(drv, 20);
	assert_int_equal(vdev_drv_config_interrupts(drv), irqs + 1);
	/* A second bring-up resets the device and starts over. */
	assert_int_equal(vdev_drv_init(drv), 0);
	assert_true(T.resets >= 1);
	assert_int_equal(vdev_drv_xfer(drv, 1, out, 5, in, 5, &w,
				       TWAIT_MS), 0);
	assert_int_equal(vdev_drv_device(drv) == NULL, remote);
}

static void test_same_body(void **state)
{
	/* Remotely the back-end signals a copy of the call eventfd. */
	const char *why = tenv_eventfd_counter_broken();

	(void)state;
	for (unsigned k = 0; k < 4; k++) {
		bool remote = k & 1, packed = k & 2;
		struct vdev_drv_config dc = { .packed = packed,
					      .use_eventfds = true,
					      .queue_size = 64 };
		struct vdev_vhost_user_config vc = { 0 };
		struct vhu_fe_server srv;
		struct vdev_drv *drv;

		if (remote && why)
			continue;
		assert_non_null(tdev_new(&T, 2, 256, 1));
		if (remote) {
			assert_int_equal(vhu_fe_server_start(&srv, T.dev, &vc),
					 0);
			drv = vdev_drv_connect_vhost_user(srv.path, &dc);
		} else {
			drv = vdev_drv_new(T.dev, &dc);
		}
		assert_non_null(drv);
		exercise(drv, remote);
		assert_int_equal(vdev_drv_features(drv) &
					 VDEV_BIT(VDEV_F_RING_PACKED),
				 packed ? VDEV_BIT(VDEV_F_RING_PACKED) : 0);
		vdev_drv_free(drv);
		if (remote) {
			assert_true(vhu_fe_server_idle(&srv, 2000));
			vhu_fe_server_stop(&srv);
		}
		vdev_free(T.dev);
	}
	if (why) {
		print_message("SKIP: the vhost-user half: %s\n", why);
		skip();
	}
}

/* A back-end without PROTOCOL_F_CONFIG, MQ or STATUS: one queue unless
 * told, config access refused, the bring-up still works. */
static void test_plain_backend(void **state)
{
	struct vdev_vhost_user_config vc = {
		.protocol_features_off =
			VDEV_BIT(VDEV_VHOST_USER_PROTOCOL_F_CONFIG) |
			VDEV_BIT(VDEV_VHOST_USER_PROTOCOL_F_MQ) |
			VDEV_BIT(VDEV_VHOST_USER_PROTOCOL_F_STATUS),
	};
	struct vdev_drv_config dc = { .queue_size = 32 };
	struct vhu_fe_server srv;
	struct vdev_drv *drv;
	uint8_t in[4];
	uint32_t w;

	(void)state;
	assert_non_null(tdev_new(&T, 2, 256, 1));
	assert_int_equal(vhu_fe_server_start(&srv, T.dev, &vc), 0);
	drv = vdev_drv_connect_vhost_user(srv.path, &dc);
	assert_non_null(drv);
	assert_int_equal(vdev_drv_num_queues(drv), 1);
	assert_int_equal(vdev_drv_init(drv), 0);
	assert_int_equal(vdev_drv_xfer(drv, 0, "abc", 4, in, 4, &w,
				       TWAIT_MS), 0);
	assert_string_equal(in, "abc");
	assert_int_equal(vdev_drv_config_read(drv, 0, in, 4), -ENOTSUP);
	vdev_drv_free(drv);
	/* Told how many queues there are. */
	dc.num_queues = 2;
	drv = vdev_drv_connect_vhost_user(srv.path, &dc);
	assert_non_null(drv);
	assert_int_equal(vdev_drv_num_queues(drv), 2);
	assert_int_equal(vdev_drv_init(drv), 0);
	assert_int_equal(vdev_drv_xfer(drv, 1, "abc", 4, in, 4, &w,
				       TWAIT_MS), 0);
	vdev_drv_free(drv);
	vhu_fe_server_stop(&srv);
	vdev_free(T.dev);
}

/* A listening socket whose "back-end" does @what, on a thread. */
enum fake { FAKE_CLOSE, FAKE_SILENT, FAKE_GARBAGE };

struct fake_srv {
	char path[108];
	int lfd;
	enum fake what;
	pthread_t thr;
};

static void *fake_main(void *arg)
{
	struct fake_srv *f = arg;
	int c = accept(f->lfd, NULL, NULL);
	char buf[64];

	if (c < 0)
		return NULL;
	if (f->what == FAKE_GARBAGE) {
		/* A reply to GET_FEATURES with a size no request has. */
		uint32_t h[3] = { 1, VHU_VERSION | VHU_FLAG_REPLY, 1u << 20 };

		if (read(c, buf, sizeof(buf)) >= 0 &&
		    write(c, h, sizeof(h)) < 0) {
			/* the driver went away */
		}
	}
	if (f->what != FAKE_CLOSE) {
		/* Keep it open until the driver gives up. */
		while (read(c, buf, sizeof(buf)) > 0)
			;
	}
	close(c);
	return NULL;
}

static void fake_start(struct fake_srv *f, enum fake what)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(f->path, sizeof(f->path), "/tmp/vdev-drv-fake-%d.sock",
		 (int)getpid());
	unlink(f->path);
	strcpy(sa.sun_path, f->path);
	f->what = what;
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(f->lfd, 1), 0);
	assert_int_equal(pthread_create(&f->thr, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake_srv *f)
{
	pthread_join(f->thr, NULL);
	close(f->lfd);
	unlink(f->path);
}

static void test_bad_backends(void **state)
{
	struct vdev_drv_config dc = { .timeout_ms = 50 };
	struct fake_srv f;
	int saved = vhu_stall_timeout_ms;

	(void)state;
	errno = 0;
	assert_null(vdev_drv_connect_vhost_user("/nonexistent/vdev.sock",
						&dc));
	assert_int_equal(errno, ENOENT);
	assert_null(vdev_drv_connect_vhost_user(NULL, &dc));
	assert_int_equal(errno, EINVAL);
	vhu_stall_timeout_ms = 200;
	fake_start(&f, FAKE_CLOSE);
	assert_null(vdev_drv_connect_vhost_user(f.path, &dc));
	assert_int_equal(errno, ECONNRESET);
	fake_stop(&f);
	fake_start(&f, FAKE_SILENT);
	assert_null(vdev_drv_connect_vhost_user(f.path, &dc));
	assert_int_equal(errno, ETIMEDOUT);
	fake_stop(&f);
	fake_start(&f, FAKE_GARBAGE);
	assert_null(vdev_drv_connect_vhost_user(f.path, &dc));
	assert_int_equal(errno, EPROTO);
	fake_stop(&f);
	vhu_stall_timeout_ms = saved;
	/* Nothing leaked on the way. */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_body),
		cmocka_unit_test(test_plain_backend),
		cmocka_unit_test(test_bad_backends),
	};
	unsigned fds = vhu_fe_count_fds();
	int ret = cmocka_run_group_tests(tests, NULL, NULL);

	if (!ret && vhu_fe_count_fds() != fds) {
		fprintf(stderr, "fds leaked: %u before, %u after\n", fds,
			vhu_fe_count_fds());
		return 1;
	}
	return ret;
}
