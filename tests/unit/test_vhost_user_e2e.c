/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-user end to end, in one process: the adapter serves vdev-rng on a
 * thread; the test frontend puts guest RAM in a memfd, drives the ring with
 * the software driver (testing.h) and checks the bytes against the known
 * source file. Split and packed rings, eventfd and in-band notifications,
 * a socketpair call fd (as User-Mode Linux passes), GET_VRING_BASE,
 * device-state save/load through a pipe, and 1,000 connect/disconnect
 * cycles with the fd count checked.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/rng.h>
#include <virtio/spec.h>
#include <virtio/transport.h>

#include "tthreads.h"
#include "twait.h"
#include "vhu_frontend.h"

#define P(f) VDEV_BIT(VDEV_VHOST_USER_PROTOCOL_F_##f)
#define SRC_LEN 4096

struct fixture {
	char src[64];
	struct vdev *dev;
	struct vhu_fe_server srv;
	unsigned fds_before;
};

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 7 + 3 + (i >> 8));
}

static unsigned fixture_poll_us;

static int setup_threads(void **state, enum vdev_vhost_user_threads th,
			 bool inband)
{
	static struct fixture f;
	struct vdev_vhost_user_config cfg = {
		.threads = th,
		.protocol_features_on = inband ? P(INBAND_NOTIFICATIONS) : 0,
		.poll_us = fixture_poll_us,
	};
	struct vdev_rng_config rc = { 0 };
	uint8_t buf[SRC_LEN];
	FILE *fp;

	memset(&f, 0, sizeof(f));
	snprintf(f.src, sizeof(f.src), "/tmp/vhu-e2e-src-%d", (int)getpid());
	for (size_t i = 0; i < SRC_LEN; i++)
		buf[i] = pattern(i);
	fp = fopen(f.src, "w");
	if (!fp || fwrite(buf, 1, SRC_LEN, fp) != SRC_LEN || fclose(fp))
		return -1;
	rc.source = f.src;
	f.dev = vdev_rng_new(&rc);
	if (!f.dev || vhu_fe_server_start(&f.srv, f.dev, &cfg))
		return -1;
	f.fds_before = vhu_fe_count_fds();
	*state = &f;
	return 0;
}

static int setup(void **state)
{
	return setup_threads(state, VDEV_VHOST_USER_THREAD_PER_DEVICE, false);
}

/* INBAND_NOTIFICATIONS is offered only when asked for. */
static int setup_inband(void **state)
{
	return setup_threads(state, VDEV_VHOST_USER_THREAD_PER_DEVICE, true);
}

static int setup_per_queue_inband(void **state)
{
	return setup_threads(state, VDEV_VHOST_USER_THREAD_PER_QUEUE, true);
}

/* Workers that busy-poll for half a second after their last work. */
static int setup_poll(void **state)
{
	int ret;

	fixture_poll_us = 500000;
	ret = setup_threads(state, VDEV_VHOST_USER_THREAD_PER_QUEUE, false);
	fixture_poll_us = 0;
	return ret;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vhu_fe_server_stop(&f->srv);
	vdev_free(f->dev);
	unlink(f->src);
	return 0;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { 0, ms * 1000000L };

	nanosleep(&ts, NULL);
}

/* One 100-byte request; returns the source offset of its bytes. */
static void one_request(struct vhu_fe *fe, struct vhu_fe_guest *g,
			size_t *offset, int notify_fd, bool backend_call)
{
	uint64_t gpa;
	uint8_t *buf = vdev_drv_mem_alloc(g->mem, 100, 16, &gpa);
	struct vdev_drv_seg seg = { .gpa = gpa, .len = 100 };
	void *token = NULL;
	uint32_t len = 0;
	int ret = -EAGAIN;

	assert_non_null(buf);
	assert_int_equal(vdev_drv_ring_add(g->ring, &seg, 0, 1, buf, 0), 0);
	assert_int_equal(vhu_fe_kick(fe, g), 0);
	/* The interrupt arrives, then the completion is in the ring. */
	if (notify_fd >= 0) {
		struct pollfd p = { .fd = notify_fd, .events = POLLIN };

		assert_int_equal(poll(&p, 1, 5000), 1);
		if (backend_call) {
			struct vhu_fe_msg m;

			assert_int_equal(vhu_fe_recv(notify_fd, &m, TWAIT_MS),
					 0);
			assert_int_equal(m.request, 4); /* BACKEND_VRING_CALL */
			assert_int_equal(m.size, 8);
		} else {
			uint64_t v;

			assert_int_equal(read(notify_fd, &v, 8), 8);
		}
	}
	for (int i = 0; i < 5000 && ret == -EAGAIN; i++) {
		ret = vdev_drv_ring_get_used(g->ring, &token, &len);
		if (ret == -EAGAIN)
			sleep_ms(1);
	}
	assert_int_equal(ret, 0);
	assert_ptr_equal(token, buf);
	assert_int_equal(len, 100);
	for (size_t i = 0; i < 100; i++)
		assert_int_equal(buf[i], pattern((*offset + i) % SRC_LEN));
	*offset += 100;
}

static void run_rng_fe(struct fixture *f, bool packed, bool inband,
		       bool socketpair_call, bool uml, bool dpdk)
{
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	uint64_t proto = P(REPLY_ACK) | P(STATUS);
	struct vhu_fe_guest g;
	size_t off = 0;
	int notify = -1, sp[2] = { -1, -1 };
	uint32_t base;

	assert_non_null(fe);
	fe->uml = uml;
	fe->dpdk = dpdk;
	if (inband)
		proto |= P(INBAND_NOTIFICATIONS) | P(BACKEND_REQ);
	assert_int_equal(vhu_fe_setup(fe, &g, 64, packed, proto, inband), 0);
	assert_int_equal(!!(g.features & VDEV_BIT(VDEV_F_RING_PACKED)),
			 packed);
	if (inband) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
					    0, sp), 0);
		assert_int_equal(vhu_fe_request(fe, VHU_FE_SET_BACKEND_REQ_FD,
						NULL, 0, &sp[1], 1, true), 0);
		close(sp[1]);
		notify = sp[0];
	} else if (socketpair_call) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC,
					    0, sp), 0);
		assert_int_equal(vhu_fe_set_u64(fe, VHU_FE_SET_VRING_CALL, 0,
						sp[1], true), 0);
		close(sp[1]);
		notify = sp[0];
	} else {
		notify = g.call_fd;
	}
	for (int i = 0; i < 3; i++)
		one_request(fe, &g, &off, notify, inband);
	assert_int_equal(vhu_fe_get_vring_base(fe, 0, &base), 0);
	if (packed)
		assert_int_equal(base, 0x80038003u);
	else
		assert_int_equal(base, 3);
	if (sp[0] >= 0)
		close(sp[0]);
	vhu_fe_close(fe);
	vhu_fe_guest_fini(&g);
	assert_true(vhu_fe_server_idle(&f->srv, TWAIT_MS));
	assert_int_equal(vhu_fe_count_fds(), f->fds_before);
}

static void run_rng(struct fixture *f, bool packed, bool inband,
		    bool socketpair_call)
{
	run_rng_fe(f, packed, inband, socketpair_call, false, false);
}

/* What User-Mode Linux does: two-slot memory table, SET_VRING_BASE 0 for a
 * packed ring, no kick or call fd at all (the first in-band kick starts
 * the ring). */
static void test_uml_packed(void **state)
{
	run_rng_fe(*state, true, true, false, true, false);
}

static void test_uml_split(void **state)
{
	run_rng_fe(*state, false, true, false, true, false);
}

/* What DPDK's virtio-user does: SET_VRING_BASE 0x8000 for a new packed
 * ring (the avail half only; used = avail). Read as the full encoding,
 * the used wrap counter was 0 and DPDK never saw a buffer come back. */
static void test_dpdk_packed(void **state)
{
	run_rng_fe(*state, true, false, false, false, true);
}

static void test_split(void **state)
{
	run_rng(*state, false, false, false);
}

static void test_packed(void **state)
{
	run_rng(*state, true, false, false);
}

static void test_split_inband(void **state)
{
	run_rng(*state, false, true, false);
}

static void test_packed_inband(void **state)
{
	run_rng(*state, true, true, false);
}

/* Not offered by default: a frontend that sees it may use it, and every
 * kick and call then costs a message. */
static void test_inband_opt_in(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	uint64_t proto = 0;

	assert_non_null(fe);
	assert_int_equal(vhu_fe_get_u64(fe, VHU_FE_GET_PROTOCOL_FEATURES,
					&proto), 0);
	assert_true(proto & P(REPLY_ACK));
	assert_false(proto & P(INBAND_NOTIFICATIONS));
	assert_true(vdev_vhost_user_protocol_features() &
		    P(INBAND_NOTIFICATIONS));
	vhu_fe_close(fe);
	assert_true(vhu_fe_server_idle(&f->srv, TWAIT_MS));
}

/*
 * A request made available without a kick, right after one that was
 * kicked: a polling worker finds it (within 5 s); one that sleeps until
 * a kick does not (200 ms).
 */
static void run_no_kick(struct fixture *f, bool polls)
{
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	struct vhu_fe_guest g;
	size_t off = 0;
	uint64_t gpa;
	uint8_t *buf;
	struct vdev_drv_seg seg;
	void *token = NULL;
	uint32_t len = 0;
	int ret = -EAGAIN;

	assert_non_null(fe);
	assert_int_equal(vhu_fe_setup(fe, &g, 64, false,
				      P(REPLY_ACK) | P(STATUS), false), 0);
	one_request(fe, &g, &off, g.call_fd, false);
	/* The worker's round goes on after the interrupt: it turns kicks back
	 * on and looks at the ring once more, and would rightly take a
	 * request added meanwhile (issue #10: a sleep here still lost that
	 * race on a loaded machine). What must hold is that a worker gone
	 * to sleep stays asleep without a kick: wait until it sleeps. */
	if (!polls)
		assert_true(tthreads_asleep(5000));
	buf = vdev_drv_mem_alloc(g.mem, 100, 16, &gpa);
	assert_non_null(buf);
	seg = (struct vdev_drv_seg){ .gpa = gpa, .len = 100 };
	assert_int_equal(vdev_drv_ring_add(g.ring, &seg, 0, 1, buf, 0), 0);
	for (int i = 0; i < (polls ? 5000 : 200) && ret == -EAGAIN; i++) {
		ret = vdev_drv_ring_get_used(g.ring, &token, &len);
		if (ret == -EAGAIN)
			sleep_ms(1);
	}
	if (polls) {
		assert_int_equal(ret, 0);
		assert_ptr_equal(token, buf);
		assert_int_equal(len, 100);
		for (size_t i = 0; i < 100; i++)
			assert_int_equal(buf[i], pattern((off + i) % SRC_LEN));
	} else {
		assert_int_equal(ret, -EAGAIN);
		/* The kick it was waiting for. */
		assert_int_equal(vhu_fe_kick(fe, &g), 0);
	}
	vhu_fe_close(fe);
	vhu_fe_guest_fini(&g);
	assert_true(vhu_fe_server_idle(&f->srv, TWAIT_MS));
	assert_int_equal(vhu_fe_count_fds(), f->fds_before);
}

static bool kicks_off(struct vhu_fe_guest *g)
{
	uint16_t f = __atomic_load_n(
		&vdev_drv_ring_split_used(g->ring)->flags, __ATOMIC_ACQUIRE);

	return vdev_le16_to_cpu(f) & VDEV_USED_F_NO_NOTIFY;
}

/*
 * A polling worker keeps the driver's kicks off while it polls (as a
 * DPDK PMD does: a kick nobody waits for costs the driver a system call
 * per refill), and turns them on before it sleeps, or the next request
 * would wait forever.
 */
static void test_poll_holds_kicks(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, 2000);
	struct vhu_fe_guest g;
	size_t off = 0;

	assert_non_null(fe);
	assert_int_equal(vhu_fe_setup(fe, &g, 64, false,
				      P(REPLY_ACK) | P(STATUS), false), 0);
	one_request(fe, &g, &off, g.call_fd, false);
	/* Well inside the 500 ms window, after the round ended. */
	sleep_ms(50);
	assert_true(kicks_off(&g));
	one_request(fe, &g, &off, g.call_fd, false);
	assert_true(tthreads_asleep(5000));
	assert_false(kicks_off(&g));
	one_request(fe, &g, &off, g.call_fd, false);
	vhu_fe_close(fe);
	vhu_fe_guest_fini(&g);
	assert_true(vhu_fe_server_idle(&f->srv, 2000));
	assert_int_equal(vhu_fe_count_fds(), f->fds_before);
}

static void test_poll_finds_unkicked(void **state)
{
	run_no_kick(*state, true);
}

static void test_no_poll_waits_for_kick(void **state)
{
	run_no_kick(*state, false);
}

static void test_socketpair_call(void **state)
{
	run_rng(*state, false, false, true);
}

/* The device outlives its frontends: a reconnecting frontend gets a
 * working device again, and nothing accumulates. */
static void test_reconnect_cycles(void **state)
{
	struct fixture *f = *state;
	const char *env = getenv("VDEV_VHU_CYCLES");
	unsigned cycles = env ? (unsigned)atoi(env) : 1000;
	size_t off = 0; /* the source is one stream for the device's life */

	for (unsigned c = 0; c < cycles; c++) {
		struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
		struct vhu_fe_guest g;

		assert_non_null(fe);
		assert_int_equal(vhu_fe_setup(fe, &g, 16, c & 1, P(REPLY_ACK),
					      false), 0);
		if (c % 100 == 0)
			one_request(fe, &g, &off, g.call_fd, false);
		vhu_fe_close(fe);
		vhu_fe_guest_fini(&g);
		assert_true(vhu_fe_server_idle(&f->srv, TWAIT_MS));
	}
	assert_int_equal(vdev_vhost_user_connections(f->srv.vu), cycles);
	assert_int_equal(vhu_fe_count_fds(), f->fds_before);
}

static int pipe_xfer(struct vhu_fe *fe, uint32_t dir, int fd, uint64_t *code)
{
	uint32_t p[2] = { dir, 0 };
	struct vhu_fe_msg r;
	uint64_t val;
	int ret;

	ret = vhu_fe_send(fe, VHU_FE_SET_DEVICE_STATE_FD, 0, p, sizeof(p), &fd,
			  1);
	if (!ret)
		ret = vhu_fe_recv(fe->fd, &r, 5000);
	if (ret)
		return ret;
	if (r.size != 8 || r.request != VHU_FE_SET_DEVICE_STATE_FD)
		return -EPROTO;
	memcpy(&val, r.payload, 8);
	*code = val;
	return 0;
}

static void test_device_state(void **state)
{
	struct fixture *f = *state;
	uint64_t proto = P(REPLY_ACK) | P(STATUS) | P(DEVICE_STATE);
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	struct vhu_fe_guest g;
	uint8_t blob[65536];
	size_t off = 0, len = 0;
	uint64_t code, st;
	uint32_t base;
	int p[2];
	ssize_t n;

	assert_non_null(fe);
	assert_int_equal(vhu_fe_setup(fe, &g, 64, false, proto, false), 0);
	one_request(fe, &g, &off, g.call_fd, false);
	/* Saving needs the rings stopped. */
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(pipe_xfer(fe, 0, p[1], &code), 0);
	assert_int_not_equal(code & 0xff, 0);
	assert_int_equal(vhu_fe_get_vring_base(fe, 0, &base), 0);
	assert_int_equal(base, 1);
	assert_int_equal(pipe_xfer(fe, 0, p[1], &code), 0);
	assert_int_equal(code, 0x100);
	close(p[1]);
	while ((n = read(p[0], blob + len, sizeof(blob) - len)) > 0)
		len += (size_t)n;
	close(p[0]);
	assert_true(len > 32);
	assert_memory_equal(blob, "VDEVSTAT", 8);
	assert_int_equal(vhu_fe_get_u64(fe, VHU_FE_CHECK_DEVICE_STATE, &code),
			 0);
	assert_int_equal(code, 0);

	/* Reset, then load it back: the negotiated features return. */
	assert_int_equal(vhu_fe_set_u64(fe, VHU_FE_SET_STATUS, 0, -1, true),
			 0);
	assert_int_equal(vdev_driver_features(f->dev), 0);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(pipe_xfer(fe, 1, p[0], &code), 0);
	assert_int_equal(code, 0x100);
	close(p[0]);
	assert_int_equal(write(p[1], blob, len), (ssize_t)len);
	close(p[1]);
	assert_int_equal(vhu_fe_get_u64(fe, VHU_FE_CHECK_DEVICE_STATE, &code),
			 0);
	assert_int_equal(code, 0);
	assert_int_equal(vdev_driver_features(f->dev), g.features);
	assert_int_equal(vhu_fe_get_u64(fe, VHU_FE_GET_STATUS, &st), 0);
	assert_true(st & VDEV_STATUS_FEATURES_OK);
	/* A corrupt blob is refused. */
	blob[40] ^= 0xff;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(pipe_xfer(fe, 1, p[0], &code), 0);
	close(p[0]);
	assert_int_equal(write(p[1], blob, len), (ssize_t)len);
	close(p[1]);
	assert_int_equal(vhu_fe_get_u64(fe, VHU_FE_CHECK_DEVICE_STATE, &code),
			 0);
	assert_int_not_equal(code, 0);

	vhu_fe_close(fe);
	vhu_fe_guest_fini(&g);
	assert_true(vhu_fe_server_idle(&f->srv, TWAIT_MS));
	assert_int_equal(vhu_fe_count_fds(), f->fds_before);
}

/* Memory-table changes while the ring runs: the same table again changes
 * nothing; a table that moves the frontend's addresses stops the ring
 * (nack) until SET_VRING_ADDR gives addresses inside it again. */
static void test_mem_table_change_running(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	struct vhu_fe_guest g;
	struct vdev_queue_config qc;
	const uint64_t shift = 0x10000000;
	uint64_t base, size, host;
	uint64_t mt[5], a[5];
	uint32_t *m32 = (uint32_t *)&mt[0];
	size_t off = 0;
	int memfd;

	assert_non_null(fe);
	assert_int_equal(vhu_fe_setup(fe, &g, 64, false, P(REPLY_ACK), false),
			 0);
	one_request(fe, &g, &off, g.call_fd, false);
	assert_int_equal(vhu_fe_set_mem_table(fe, g.mem, true), 0);
	one_request(fe, &g, &off, g.call_fd, false);

	base = vdev_drv_mem_base(g.mem);
	size = vdev_drv_mem_size(g.mem);
	host = (uint64_t)(uintptr_t)vdev_drv_mem_host(g.mem, base);
	memfd = vdev_drv_mem_fd(g.mem);
	m32[0] = 1;
	m32[1] = 0;
	mt[1] = base;
	mt[2] = size;
	mt[3] = host + shift;
	mt[4] = 0;
	assert_true(vhu_fe_request(fe, VHU_FE_SET_MEM_TABLE, mt, sizeof(mt),
				   &memfd, 1, true) > 0);
	vdev_drv_ring_queue_config(g.ring, &qc);
	a[0] = 0;
	a[1] = host + shift + (qc.desc_addr - base);
	a[2] = host + shift + (qc.device_addr - base);
	a[3] = host + shift + (qc.driver_addr - base);
	a[4] = 0;
	assert_int_equal(vhu_fe_request(fe, VHU_FE_SET_VRING_ADDR, a,
					sizeof(a), NULL, 0, true), 0);
	one_request(fe, &g, &off, g.call_fd, false);

	vhu_fe_close(fe);
	vhu_fe_guest_fini(&g);
	assert_true(vhu_fe_server_idle(&f->srv, TWAIT_MS));
	assert_int_equal(vhu_fe_count_fds(), f->fds_before);
}

/* Dirty logging: LOG_ALL acked while running, SET_LOG_BASE, and the pages
 * the device wrote (buffer, used ring) are marked. */
static void test_dirty_log(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	struct vhu_fe_guest g;
	struct vdev_queue_config qc;
	uint64_t end, buf_gpa, log_size;
	uint64_t lb[2];
	uint8_t *log, *buf;
	size_t off = 0;
	int logfd, marked = 0;

	assert_non_null(fe);
	assert_int_equal(vhu_fe_setup(fe, &g, 64, false,
				      P(REPLY_ACK) | P(LOG_SHMFD), false), 0);
	assert_int_equal(vhu_fe_set_u64(fe, VHU_FE_SET_FEATURES,
					g.features | VDEV_BIT(26) |
						VDEV_BIT(VHU_FE_F_PROTOCOL_FEATURES),
					-1, true), 0);
	end = vdev_drv_mem_base(g.mem) + vdev_drv_mem_size(g.mem);
	log_size = end / 4096 / 8 + 1;
	/* Sealed, as QEMU's is: the back-end takes no log that can shrink. */
	logfd = memfd_create("log", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_int_equal(ftruncate(logfd, (off_t)log_size), 0);
	assert_int_equal(fcntl(logfd, F_ADD_SEALS,
			       F_SEAL_SHRINK | F_SEAL_GROW), 0);
	log = mmap(NULL, log_size, PROT_READ | PROT_WRITE, MAP_SHARED, logfd,
		   0);
	assert_true(log != MAP_FAILED);
	lb[0] = log_size;
	lb[1] = 0;
	{
		struct vhu_fe_msg r;

		assert_int_equal(vhu_fe_send(fe, VHU_FE_SET_LOG_BASE, 0, lb,
					     sizeof(lb), &logfd, 1), 0);
		assert_int_equal(vhu_fe_recv(fe->fd, &r, 2000), 0);
		assert_int_equal(r.request, VHU_FE_SET_LOG_BASE);
		assert_int_equal(r.size, 8);
	}
	close(logfd);
	/* The buffer on a page of its own, away from the rings. */
	assert_non_null(vdev_drv_mem_alloc(g.mem, 4096, 4096, &buf_gpa));
	one_request(fe, &g, &off, g.call_fd, false);
	/* The buffer of the last request and the used ring are dirty. */
	buf = vdev_drv_mem_alloc(g.mem, 1, 1, &buf_gpa);
	assert_non_null(buf);
	buf_gpa -= 100; /* the 100-byte buffer just before */
	vdev_drv_ring_queue_config(g.ring, &qc);
	assert_true(log[(buf_gpa / 4096) / 8] & (1u << ((buf_gpa / 4096) % 8)));
	assert_true(log[(qc.device_addr / 4096) / 8] &
		    (1u << ((qc.device_addr / 4096) % 8)));
	for (uint64_t i = 0; i < log_size; i++)
		marked += __builtin_popcount(log[i]);
	assert_true(marked >= 2 && marked <= 4);
	/* LOG_ALL off again: the device stops marking the pages it writes.
	 * (The used ring may still be marked once by a kick-suppression
	 * write made before the queue sees the new table: marking too much
	 * is harmless for migration, too little is not.) */
	assert_int_equal(vhu_fe_set_u64(fe, VHU_FE_SET_FEATURES,
					g.features |
						VDEV_BIT(VHU_FE_F_PROTOCOL_FEATURES),
					-1, true), 0);
	memset(log, 0, log_size);
	/* The next buffer on a page of its own, away from the rings. */
	assert_non_null(vdev_drv_mem_alloc(g.mem, 4096, 4096, &buf_gpa));
	one_request(fe, &g, &off, g.call_fd, false);
	buf = vdev_drv_mem_alloc(g.mem, 1, 1, &buf_gpa);
	assert_non_null(buf);
	buf_gpa -= 100;
	for (uint64_t i = 0; i < log_size; i++)
		if (i != (qc.device_addr / 4096) / 8)
			assert_int_equal(log[i], 0);
	assert_false(log[(buf_gpa / 4096) / 8] &
		     (1u << ((buf_gpa / 4096) % 8)));
	munmap(log, log_size);
	vhu_fe_close(fe);
	vhu_fe_guest_fini(&g);
	assert_true(vhu_fe_server_idle(&f->srv, TWAIT_MS));
	assert_int_equal(vhu_fe_count_fds(), f->fds_before);
}

static int mem_reg(struct vhu_fe *fe, uint32_t req, uint64_t gpa,
		   uint64_t size, uint64_t uva, uint64_t off, int fd)
{
	uint64_t p[5] = { 0, gpa, size, uva, off };

	return vhu_fe_request(fe, req, p, sizeof(p), &fd, 1, true);
}

/* CONFIGURE_MEM_SLOTS: regions come and go while the ring runs; removing
 * the ring's own region stops it (nack), adding it back and giving the
 * addresses again restarts it. SET_VRING_ENABLE 0 stops processing. */
static void test_mem_slots_and_enable(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	struct vhu_fe_guest g;
	struct vdev_queue_config qc;
	uint64_t slots, base, size, host;
	size_t off = 0;
	int extra = memfd_create("extra", MFD_CLOEXEC), memfd;
	uint64_t a[5];

	assert_non_null(fe);
	assert_int_equal(ftruncate(extra, 0x10000), 0);
	assert_int_equal(vhu_fe_setup(fe, &g, 64, false,
				      P(REPLY_ACK) | P(CONFIGURE_MEM_SLOTS),
				      false), 0);
	assert_int_equal(vhu_fe_get_u64(fe, VHU_FE_GET_MAX_MEM_SLOTS, &slots),
			 0);
	assert_int_equal(slots, VDEV_MEM_MAX_REGIONS);
	base = vdev_drv_mem_base(g.mem);
	size = vdev_drv_mem_size(g.mem);
	host = (uint64_t)(uintptr_t)vdev_drv_mem_host(g.mem, base);
	memfd = vdev_drv_mem_fd(g.mem);

	assert_int_equal(mem_reg(fe, VHU_FE_ADD_MEM_REG, 0x40000000, 0x10000,
				 0x6f0000000000, 0, extra), 0);
	one_request(fe, &g, &off, g.call_fd, false);
	/* The same region again (QEMU 7.2 sends it once per vhost_dev, i.e.
	 * per net queue pair): taken, counted; the first REM_MEM_REG only
	 * drops the count, the second removes it, a third names nothing. */
	assert_int_equal(mem_reg(fe, VHU_FE_ADD_MEM_REG, 0x40000000, 0x10000,
				 0x6f0000000000, 0, extra), 0);
	assert_int_equal(vdev_mem_count(vdev_get_mem(f->dev)), 2);
	assert_int_equal(mem_reg(fe, VHU_FE_REM_MEM_REG, 0x40000000, 0x10000,
				 0x6f0000000000, 0, extra), 0);
	assert_int_equal(vdev_mem_count(vdev_get_mem(f->dev)), 2);
	assert_int_equal(mem_reg(fe, VHU_FE_REM_MEM_REG, 0x40000000, 0x10000,
				 0x6f0000000000, 0, extra), 0);
	assert_int_equal(vdev_mem_count(vdev_get_mem(f->dev)), 1);
	assert_true(mem_reg(fe, VHU_FE_REM_MEM_REG, 0x40000000, 0x10000,
			    0x6f0000000000, 0, extra) > 0);
	/* Same guest range at another frontend address is no copy. */
	assert_int_equal(mem_reg(fe, VHU_FE_ADD_MEM_REG, 0x40000000, 0x10000,
				 0x6f0000000000, 0, extra), 0);
	assert_true(mem_reg(fe, VHU_FE_ADD_MEM_REG, 0x40000000, 0x10000,
			    0x6f2000000000, 0, extra) > 0);
	one_request(fe, &g, &off, g.call_fd, false);
	/* Overlapping, wrapping, or naming a region that is not there. */
	assert_true(mem_reg(fe, VHU_FE_ADD_MEM_REG, 0x40008000, 0x10000,
			    0x6f1000000000, 0, extra) > 0);
	assert_true(mem_reg(fe, VHU_FE_ADD_MEM_REG, UINT64_MAX - 0xfff,
			    0x10000, 0x6f1000000000, 0, extra) > 0);
	assert_true(mem_reg(fe, VHU_FE_REM_MEM_REG, 0x50000000, 0x10000,
			    0x6f0000000000, 0, extra) > 0);
	assert_int_equal(mem_reg(fe, VHU_FE_REM_MEM_REG, 0x40000000, 0x10000,
				 0x6f0000000000, 0, extra), 0);
	one_request(fe, &g, &off, g.call_fd, false);

	/* The ring's own region goes: the ring stops. */
	assert_true(mem_reg(fe, VHU_FE_REM_MEM_REG, base, size, host, 0,
			    memfd) > 0);
	assert_false(vdev_vq_enabled(f->dev, 0));
	assert_int_equal(mem_reg(fe, VHU_FE_ADD_MEM_REG, base, size, host, 0,
				 memfd), 0);
	vdev_drv_ring_queue_config(g.ring, &qc);
	a[0] = 0;
	a[1] = host + (qc.desc_addr - base);
	a[2] = host + (qc.device_addr - base);
	a[3] = host + (qc.driver_addr - base);
	a[4] = 0;
	assert_int_equal(vhu_fe_request(fe, VHU_FE_SET_VRING_ADDR, a,
					sizeof(a), NULL, 0, true), 0);
	assert_true(vdev_vq_enabled(f->dev, 0));
	one_request(fe, &g, &off, g.call_fd, false);

	/* Disabled: a kicked request waits; enabled again, it completes. */
	assert_int_equal(vhu_fe_set_state(fe, VHU_FE_SET_VRING_ENABLE, 0, 0,
					  true), 0);
	assert_false(vdev_vq_enabled(f->dev, 0));
	assert_int_equal(vhu_fe_set_state(fe, VHU_FE_SET_VRING_ENABLE, 0, 2,
					  true) > 0, 1);
	{
		uint64_t gpa;
		uint8_t *buf = vdev_drv_mem_alloc(g.mem, 100, 16, &gpa);
		struct vdev_drv_seg seg = { .gpa = gpa, .len = 100 };
		struct pollfd p = { .fd = g.call_fd, .events = POLLIN };
		void *tok;
		uint32_t len;

		assert_int_equal(vdev_drv_ring_add(g.ring, &seg, 0, 1, buf, 0),
				 0);
		assert_int_equal(vhu_fe_kick(fe, &g), 0);
		assert_int_equal(poll(&p, 1, 200), 0);
		assert_int_equal(vdev_drv_ring_get_used(g.ring, &tok, &len),
				 -EAGAIN);
		assert_int_equal(vhu_fe_set_state(fe, VHU_FE_SET_VRING_ENABLE,
						  0, 1, true), 0);
		assert_int_equal(poll(&p, 1, 5000), 1);
		assert_int_equal(vdev_drv_ring_get_used(g.ring, &tok, &len), 0);
		assert_ptr_equal(tok, buf);
		assert_int_equal(len, 100);
		for (size_t i = 0; i < 100; i++)
			assert_int_equal(buf[i], pattern((off + i) % SRC_LEN));
	}
	close(extra);
	vhu_fe_close(fe);
	vhu_fe_guest_fini(&g);
	assert_true(vhu_fe_server_idle(&f->srv, TWAIT_MS));
	assert_int_equal(vhu_fe_count_fds(), f->fds_before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_split, setup, teardown),
		cmocka_unit_test_setup_teardown(test_packed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dpdk_packed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_inband_opt_in, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_split_inband,
						setup_inband, teardown),
		cmocka_unit_test_setup_teardown(test_packed_inband,
						setup_per_queue_inband,
						teardown),
		cmocka_unit_test_setup_teardown(test_socketpair_call, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_poll_finds_unkicked,
						setup_poll, teardown),
		cmocka_unit_test_setup_teardown(test_poll_holds_kicks,
						setup_poll, teardown),
		cmocka_unit_test_setup_teardown(test_no_poll_waits_for_kick,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_uml_packed, setup_inband,
						teardown),
		cmocka_unit_test_setup_teardown(test_uml_split, setup_inband,
						teardown),
		cmocka_unit_test_setup_teardown(test_device_state, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mem_table_change_running,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_dirty_log, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mem_slots_and_enable,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_reconnect_cycles, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
