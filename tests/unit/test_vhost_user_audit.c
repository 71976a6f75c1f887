/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-user against a frontend that misbehaves in ways the request table
 * cannot see: it closes the pipe it handed over for a state save, or it
 * never reads the back-end channel it set up. Either must cost the frontend
 * its own transfer or channel, never the process or the control thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/rng.h>
#include <virtio/spec.h>
#include <virtio/transport.h>

#include "adapters/vhost-user/vhu_internal.h"
#include "twait.h"
#include "vcore_tdev.h"
#include "vhu_frontend.h"

#define P(f) VDEV_BIT(VDEV_VHOST_USER_PROTOCOL_F_##f)

struct fixture {
	struct vdev *dev;
	struct vhu_fe_server srv;
	struct tdev t;
};

static int setup_dev(void **state, bool with_config)
{
	static struct fixture f;
	struct vdev_vhost_user_config cfg = { 0 };
	struct vdev_rng_config rc = { .source = "/dev/urandom" };

	memset(&f, 0, sizeof(f));
	/* A library user need not ignore SIGPIPE: the test must see what
	 * such a process sees, whatever the harness inherited. */
	signal(SIGPIPE, SIG_DFL);
	/* vdev-rng has no config space; the test device has one, so the
	 * back-end channel carries config-change messages. */
	f.dev = with_config ? tdev_new(&f.t, 1, 256, 1) : vdev_rng_new(&rc);
	if (!f.dev || vhu_fe_server_start(&f.srv, f.dev, &cfg))
		return -1;
	*state = &f;
	return 0;
}

static int setup(void **state)
{
	return setup_dev(state, false);
}

static int setup_config(void **state)
{
	return setup_dev(state, true);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vhu_fe_server_stop(&f->srv);
	vdev_free(f->dev);
	return 0;
}

/* One request through queue 0; true when it completes within 5 s. */
static bool request_completes(struct vhu_fe *fe, struct vhu_fe_guest *g)
{
	uint64_t gpa;
	uint8_t *buf = vdev_drv_mem_alloc(g->mem, 64, 16, &gpa);
	struct vdev_drv_seg seg = { .gpa = gpa, .len = 64 };
	void *token = NULL;
	uint32_t len = 0;
	int ret = -EAGAIN;

	if (!buf || vdev_drv_ring_add(g->ring, &seg, 0, 1, buf, 0) ||
	    vhu_fe_kick(fe, g))
		return false;
	for (int i = 0; i < 5000 && ret == -EAGAIN; i++) {
		ret = vdev_drv_ring_get_used(g->ring, &token, &len);
		if (ret == -EAGAIN)
			usleep(1000);
	}
	return ret == 0 && token == buf && len == 64;
}

/*
 * A call fd whose reader is gone (a socketpair or pipe with the other end
 * closed): signalling it must fail quietly, not raise SIGPIPE in a
 * process that did not ignore it.
 */
static void test_call_fd_reader_gone(void **state)
{
	struct fixture *f = *state;
	uint64_t proto = P(REPLY_ACK);
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	struct vhu_fe_guest g;
	int sp[2], p[2];

	assert_non_null(fe);
	assert_int_equal(vhu_fe_setup(fe, &g, 64, false, proto, false), 0);
	assert_true(request_completes(fe, &g));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sp),
			 0);
	close(sp[0]);
	assert_int_equal(vhu_fe_set_u64(fe, VHU_FE_SET_VRING_CALL, 0, sp[1],
					true),
			 0);
	close(sp[1]);
	assert_true(request_completes(fe, &g));
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	close(p[0]);
	assert_int_equal(vhu_fe_set_u64(fe, VHU_FE_SET_VRING_CALL, 0, p[1],
					true),
			 0);
	close(p[1]);
	assert_true(request_completes(fe, &g));
	vhu_fe_close(fe);
	vhu_fe_guest_fini(&g);
	assert_true(vhu_fe_server_idle(&f->srv, TWAIT_MS));
}

/* The err fd is only ever an eventfd: a pipe or socket, whose reader the
 * frontend may close, is refused. */
static void test_err_fd_not_eventfd(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	struct vhu_fe_guest g;
	int p[2], sp[2], efd;

	assert_non_null(fe);
	assert_int_equal(vhu_fe_setup(fe, &g, 64, false, P(REPLY_ACK), false),
			 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	close(p[0]);
	assert_int_not_equal(vhu_fe_set_u64(fe, VHU_FE_SET_VRING_ERR, 0, p[1],
					    true),
			     0);
	close(p[1]);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sp),
			 0);
	close(sp[0]);
	assert_int_not_equal(vhu_fe_set_u64(fe, VHU_FE_SET_VRING_ERR, 0,
					    sp[1], true),
			     0);
	close(sp[1]);
	efd = eventfd(0, EFD_CLOEXEC);
	assert_true(efd >= 0);
	assert_int_equal(vhu_fe_set_u64(fe, VHU_FE_SET_VRING_ERR, 0, efd,
					true),
			 0);
	close(efd);
	vhu_fe_close(fe);
	vhu_fe_guest_fini(&g);
	assert_true(vhu_fe_server_idle(&f->srv, TWAIT_MS));
}

struct needs_reset_arg {
	struct vdev *dev;
	int efd;
};

static void *do_needs_reset(void *arg)
{
	struct needs_reset_arg *a = arg;

	vdev_set_needs_reset(a->dev);
	return NULL;
}

/*
 * The err fd is a blocking eventfd the frontend saturated: telling it that
 * the device needs a reset must not block (the write happens under the
 * back-end channel lock, which every queue interrupt needs too). A full
 * counter means the frontend has an error pending already.
 */
static void test_err_fd_saturated(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	uint64_t full = 0xfffffffffffffffeull, v, feat;
	struct needs_reset_arg a = { .dev = f->dev };
	struct vhu_fe_guest g;
	struct timespec ts;
	pthread_t t;

	assert_non_null(fe);
	assert_int_equal(vhu_fe_setup(fe, &g, 64, false, P(REPLY_ACK), false),
			 0);
	a.efd = eventfd(0, EFD_CLOEXEC);
	assert_true(a.efd >= 0);
	assert_int_equal(write(a.efd, &full, 8), 8);
	assert_int_equal(vhu_fe_set_u64(fe, VHU_FE_SET_VRING_ERR, 0, a.efd,
					true),
			 0);
	assert_int_equal(pthread_create(&t, NULL, do_needs_reset, &a), 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2;
	if (pthread_timedjoin_np(t, NULL, &ts) != 0) {
		/* Blocked: release it so the program can end, then fail. */
		assert_int_equal(read(a.efd, &v, 8), 8);
		pthread_join(t, NULL);
		fail_msg("err fd write blocked");
	}
	assert_int_equal(read(a.efd, &v, 8), 8);
	assert_true(v == full);
	/* The control thread still answers. */
	assert_int_equal(vhu_fe_get_u64(fe, VHU_FE_GET_FEATURES, &feat), 0);
	close(a.efd);
	vhu_fe_close(fe);
	vhu_fe_guest_fini(&g);
	assert_true(vhu_fe_server_idle(&f->srv, TWAIT_MS));
}

/* Frontend closed its read end before the back-end writes the state. */
static void test_state_save_to_closed_pipe(void **state)
{
	struct fixture *f = *state;
	uint64_t proto = P(REPLY_ACK) | P(STATUS) | P(DEVICE_STATE);
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	uint32_t pl[2] = { 0, 0 }; /* save, phase 0 */
	struct vhu_fe_guest g;
	struct vhu_fe_msg r;
	uint64_t code;
	uint32_t base;
	int p[2];

	assert_non_null(fe);
	assert_int_equal(vhu_fe_setup(fe, &g, 64, false, proto, false), 0);
	assert_int_equal(vhu_fe_get_vring_base(fe, 0, &base), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	close(p[0]);
	assert_int_equal(vhu_fe_send(fe, VHU_FE_SET_DEVICE_STATE_FD, 0, pl,
				     sizeof(pl), &p[1], 1),
			 0);
	close(p[1]);
	assert_int_equal(vhu_fe_recv(fe->fd, &r, 5000), 0);
	assert_int_equal(r.size, 8);
	/* The transfer failed; the process is still here to say so. */
	assert_int_equal(vhu_fe_get_u64(fe, VHU_FE_CHECK_DEVICE_STATE, &code),
			 0);
	assert_int_not_equal(code & 0xff, 0);
	vhu_fe_close(fe);
	vhu_fe_guest_fini(&g);
	assert_true(vhu_fe_server_idle(&f->srv, TWAIT_MS));
}

/* Frontend asks CHECK_DEVICE_STATE while still holding the load pipe open:
 * the transfer is abandoned after a timeout, the control thread answers. */
static void test_state_load_pipe_kept_open(void **state)
{
	struct fixture *f = *state;
	uint64_t proto = P(REPLY_ACK) | P(STATUS) | P(DEVICE_STATE);
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	uint32_t pl[2] = { 1, 0 }; /* load, phase 0 */
	struct vhu_fe_guest g;
	struct vhu_fe_msg r;
	uint64_t code;
	uint32_t base;
	int p[2];

	assert_non_null(fe);
	assert_int_equal(vhu_fe_setup(fe, &g, 64, false, proto, false), 0);
	assert_int_equal(vhu_fe_get_vring_base(fe, 0, &base), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(vhu_fe_send(fe, VHU_FE_SET_DEVICE_STATE_FD, 0, pl,
				     sizeof(pl), &p[0], 1),
			 0);
	close(p[0]);
	assert_int_equal(vhu_fe_recv(fe->fd, &r, 5000), 0);
	assert_int_equal(write(p[1], "VDEVSTAT", 8), 8);
	alarm(40);
	assert_int_equal(vhu_fe_send(fe, VHU_FE_CHECK_DEVICE_STATE, 0, NULL,
				     0, NULL, 0),
			 0);
	/* The back-end waits vhu_stall_timeout_ms for the transfer to end. */
	assert_int_equal(vhu_fe_recv(fe->fd, &r, 15000), 0);
	alarm(0);
	assert_int_equal(r.request, VHU_FE_CHECK_DEVICE_STATE);
	assert_int_equal(r.size, 8);
	memcpy(&code, r.payload, 8);
	assert_int_not_equal(code & 0xff, 0);
	close(p[1]);
	vhu_fe_close(fe);
	vhu_fe_guest_fini(&g);
	assert_true(vhu_fe_server_idle(&f->srv, TWAIT_MS));
}

/*
 * The load "pipe" is a Unix socket with SO_RCVLOWAT raised: poll says
 * readable with 8 bytes there, a read() of more waits for 4096. The
 * transfer thread must not sit in that read: CHECK_DEVICE_STATE (which
 * waits for the thread, then cancels it) and a disconnect (which cancels
 * it) both have to come back.
 */
static int rcvlowat_load(struct vhu_fe *fe, struct vhu_fe_guest *g, int sp[2])
{
	uint64_t proto = P(REPLY_ACK) | P(STATUS) | P(DEVICE_STATE);
	uint32_t pl[2] = { 1, 0 }; /* load, phase 0 */
	struct vhu_fe_msg r;
	uint32_t base;
	int low = 4096;

	if (vhu_fe_setup(fe, g, 64, false, proto, false) ||
	    vhu_fe_get_vring_base(fe, 0, &base) ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) ||
	    setsockopt(sp[0], SOL_SOCKET, SO_RCVLOWAT, &low, sizeof(low)) ||
	    vhu_fe_send(fe, VHU_FE_SET_DEVICE_STATE_FD, 0, pl, sizeof(pl),
			&sp[0], 1) ||
	    vhu_fe_recv(fe->fd, &r, 5000) || r.size != 8)
		return -1;
	close(sp[0]);
	return send(sp[1], "VDEVSTAT", 8, 0) == 8 ? 0 : -1;
}

static void test_state_load_rcvlowat_check(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	struct vhu_fe_guest g;
	struct vhu_fe_msg r;
	uint64_t code;
	int sp[2];

	assert_non_null(fe);
	assert_int_equal(rcvlowat_load(fe, &g, sp), 0);
	/* Without it the control thread never answers; the alarm ends the
	 * program then. */
	alarm(40);
	assert_int_equal(vhu_fe_send(fe, VHU_FE_CHECK_DEVICE_STATE, 0, NULL,
				     0, NULL, 0),
			 0);
	assert_int_equal(vhu_fe_recv(fe->fd, &r, 15000), 0);
	alarm(0);
	assert_int_equal(r.request, VHU_FE_CHECK_DEVICE_STATE);
	memcpy(&code, r.payload, 8);
	/* The stream never ended: the load failed, nothing was applied. */
	assert_int_not_equal(code & 0xff, 0);
	close(sp[1]);
	vhu_fe_close(fe);
	vhu_fe_guest_fini(&g);
	assert_true(vhu_fe_server_idle(&f->srv, TWAIT_MS));
}

static void test_state_load_rcvlowat_disconnect(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	struct vhu_fe_guest g;
	int sp[2];

	assert_non_null(fe);
	assert_int_equal(rcvlowat_load(fe, &g, sp), 0);
	/* Let the transfer thread take the bytes first: a disconnect that
	 * came before would cancel it while it still waits for them. */
	usleep(200000);
	alarm(40);
	vhu_fe_close(fe);
	assert_true(vhu_fe_server_idle(&f->srv, 5000));
	alarm(0);
	close(sp[1]);
	vhu_fe_guest_fini(&g);
	/* The next frontend is served. */
	fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	assert_non_null(fe);
	assert_int_equal(vhu_fe_get_u64(fe, VHU_FE_GET_FEATURES, &(uint64_t){ 0 }),
			 0);
	vhu_fe_close(fe);
}

/*
 * The frontend sets up a back-end channel and never reads it. Config
 * changes fill the socket; the back-end must give the channel up instead
 * of blocking (with the channel lock held) forever.
 */
static void test_backend_channel_never_read(void **state)
{
	struct fixture *f = *state;
	uint64_t proto = P(REPLY_ACK) | P(BACKEND_REQ) | P(CONFIG);
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	struct vhu_fe_guest g;
	int sp[2];

	assert_non_null(fe);
	assert_int_equal(vhu_fe_setup(fe, &g, 64, false, proto, false), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
				    sp),
			 0);
	assert_int_equal(vhu_fe_request(fe, VHU_FE_SET_BACKEND_REQ_FD, NULL,
					0, &sp[1], 1, true),
			 0);
	close(sp[1]);
	assert_true(fe->protocol_features & P(CONFIG));
	assert_true(vdev_get_status(f->dev) & VDEV_STATUS_DRIVER_OK);
	/* Without a send timeout this blocks on the first full buffer and
	 * the alarm ends the test. */
	alarm(30);
	for (unsigned i = 0; i < 20000; i++)
		vdev_config_changed(f->dev);
	alarm(0);
	/* The control thread still answers. */
	assert_int_equal(vhu_fe_request(fe, VHU_FE_SET_VRING_ENABLE,
					(uint32_t[2]){ 0, 1 },
					8, NULL, 0, true),
			 0);
	close(sp[0]);
	vhu_fe_close(fe);
	vhu_fe_guest_fini(&g);
	assert_true(vhu_fe_server_idle(&f->srv, TWAIT_MS));
}

/*
 * A frontend that sends half a message and then waits: the back-end drops
 * it after a timeout instead of blocking its control thread (and a
 * daemon's shutdown) for as long as the frontend likes.
 */
static void test_stalled_message(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	/* GET_FEATURES header (host byte order) announcing 100 payload
	 * bytes; 10 sent. */
	const uint32_t hdr[3] = { 1, 1, 100 };
	uint8_t msg[12 + 10] = { 0 };

	memcpy(msg, hdr, sizeof(hdr));
	assert_non_null(fe);
	/* Without a receive timeout the back-end never lets go; the alarm
	 * ends the test then (teardown would wait for it forever). */
	alarm(40);
	assert_int_equal(vhu_fe_send_raw(fe, msg, sizeof(msg), NULL, 0), 0);
	assert_true(vhu_fe_peer_closed(fe, 15000));
	vhu_fe_close(fe);
	assert_true(vhu_fe_server_idle(&f->srv, TWAIT_MS));
	/* The next frontend is served. */
	fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	assert_non_null(fe);
	{
		uint64_t feat;

		assert_int_equal(vhu_fe_get_u64(fe, VHU_FE_GET_FEATURES,
						&feat),
				 0);
		assert_true(feat & VDEV_BIT(VDEV_F_VERSION_1));
	}
	vhu_fe_close(fe);
	alarm(0);
}

/*
 * A frontend that trickles a message, one byte every 300 ms: each byte
 * comes well within the stall timeout (1 s here), the message never does.
 * The deadline is per message, so the back-end drops it after about one
 * timeout, not after 112 bytes times 300 ms.
 */
static void test_trickled_message(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	/* GET_FEATURES header announcing 100 payload bytes. */
	uint8_t msg[12 + 100] = { 1, 0, 0, 0, 1, 0, 0, 0, 100 };
	unsigned sent = 0;
	bool closed = false;

	assert_non_null(fe);
	alarm(60);
	while (!closed && sent < sizeof(msg)) {
		if (vhu_fe_send_raw(fe, &msg[sent], 1, NULL, 0) == 0)
			sent++;
		closed = vhu_fe_peer_closed(fe, 300);
	}
	alarm(0);
	assert_true(closed);
	/* 1 s of deadline, some slack for a loaded machine. */
	assert_true(sent <= 12);
	vhu_fe_close(fe);
	assert_true(vhu_fe_server_idle(&f->srv, TWAIT_MS));
}

/*
 * A frontend that keeps asking and never reads a reply: once both socket
 * buffers are full the back-end gives up on it after a timeout instead of
 * blocking in send forever.
 */
static void test_replies_never_read(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	const uint32_t get_features[3] = { 1, 1, 0 };
	unsigned sent = 0;

	assert_non_null(fe);
	alarm(40);
	/* Fill our send buffer; the back-end fills its own meanwhile. */
	for (int idle = 0; idle < 200;) {
		if (send(fe->fd, get_features, sizeof(get_features),
			 MSG_DONTWAIT | MSG_NOSIGNAL) ==
		    (ssize_t)sizeof(get_features)) {
			sent++;
			idle = 0;
		} else {
			idle++;
			usleep(1000);
		}
	}
	assert_true(sent > 100);
	/* Without reading anything: the back-end has dropped us. */
	assert_true(vhu_fe_server_idle(&f->srv, 15000));
	alarm(0);
	vhu_fe_close(fe);
}

int main(void)
{
	/* The stalls below each wait out the adapter's timeout: 1 s here
	 * instead of 5 keeps the program short; what is checked is that
	 * the adapter gives up at all. */
	vhu_stall_timeout_ms = 1000;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_state_save_to_closed_pipe,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_call_fd_reader_gone, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_err_fd_not_eventfd, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_err_fd_saturated, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_state_load_pipe_kept_open,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_load_rcvlowat_check,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_state_load_rcvlowat_disconnect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_backend_channel_never_read,
						setup_config, teardown),
		cmocka_unit_test_setup_teardown(test_stalled_message, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_trickled_message, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_replies_never_read, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
