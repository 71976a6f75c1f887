/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A peer's mapping can shrink (src/peer/peer_mem.h). A frontend or client
 * truncates the memfd behind guest memory while the device uses it: the
 * next touch of a page past the end raises SIGBUS. Only the device that
 * touched it may fail (DEVICE_NEEDS_RESET); the process, its other devices
 * and their frontends carry on. Where the protocol lets the back-end
 * insist (the vhost-user inflight and log fds), an fd that could shrink is
 * refused and our own inflight memfd is sealed.
 *
 * The test's driver side maps the same memfd: after the truncation it
 * touches none of that memory (it would take the SIGBUS itself).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/rng.h>
#include <virtio/testing.h>
#include <virtio/transport.h>

#include "queue/queue_internal.h"
#include "tenv.h"
#include "vfu_client.h"
#include "vhu_frontend.h"

#define P(f) VDEV_BIT(VDEV_VHOST_USER_PROTOCOL_F_##f)
#define SHRANK "guest memory shrank under the device"

/* A SKIP where a fault's address is not reported (qemu-s390x): the
 * handler cannot tell the device's fault from anyone else's there. */
#define NEED_SIGBUS_ADDR()                                                  \
	do {                                                                \
		const char *why_ = tenv_sigbus_addr_broken();               \
		if (why_) {                                                 \
			print_message("SKIP: %s\n", why_);                  \
			skip();                                             \
		}                                                           \
	} while (0)

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* True once @dev says DEVICE_NEEDS_RESET, within @ms. */
static bool needs_reset(struct vdev *dev, int ms)
{
	for (int i = 0; i < ms; i++) {
		if (vdev_get_status(dev) & VDEV_STATUS_DEVICE_NEEDS_RESET)
			return true;
		sleep_ms(1);
	}
	return false;
}

/* ---- the map and the queue ------------------------------------------- */

/* A region mapped from a memfd, which is then cut to nothing: reading
 * and writing it survive, and the map says so. */
static void map_survives(void)
{
	struct vdev_mem *mem = vdev_mem_new();
	int fd = memfd_create("ram", MFD_CLOEXEC);
	struct vdev_mem_region r = { .guest_addr = 0x10000, .size = 1 << 20,
				     .fd = fd };
	struct vdev_mem_table *t;
	uint64_t gen;
	volatile uint8_t *p;

	assert_non_null(mem);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	assert_int_equal(vdev_mem_add(mem, &r), 0);
	t = vdev_mem_acquire(mem);
	p = vdev_mem_ptr(t, 0x10000 + 8192, 64);
	assert_non_null(p);
	p[0] = 0x5a;
	assert_int_equal(p[0], 0x5a);
	assert_false(vq_mem_faulted(t));
	gen = vdev_mem_generation(mem);
	assert_int_equal(ftruncate(fd, 4096), 0);
	/* Past the new end: a SIGBUS, survived; the page reads zeros. */
	assert_int_equal(p[0], 0);
	p[1] = 1;
	assert_true(vq_mem_faulted(t));
	assert_true(vdev_mem_generation(mem) != gen);
	vdev_mem_release(t);
	vdev_mem_free(mem);
	close(fd);
}

/* A queue whose ring was in the memory: it breaks, with the reason. */
static void queue_breaks(void)
{
	struct vdev_drv_mem *m = vdev_drv_mem_new(0x100000, 1 << 20, 1);
	struct vdev_drv_ring *r;
	struct vdev_queue *q;
	struct vdev_queue_config cfg;
	struct iovec iov[4];
	struct vdev_req req = { .iov = iov, .iov_max = 4 };
	struct vdev_drv_seg seg;
	uint64_t gpa;

	assert_non_null(m);
	r = vdev_drv_ring_new(m, 64, 0);
	q = vdev_queue_new(vdev_drv_mem_map(m), 0);
	assert_non_null(r);
	assert_non_null(q);
	vdev_drv_ring_queue_config(r, &cfg);
	assert_int_equal(vdev_queue_configure(q, &cfg), 0);
	assert_non_null(vdev_drv_mem_alloc(m, 64, 16, &gpa));
	seg = (struct vdev_drv_seg){ gpa, 64 };
	assert_int_equal(vdev_drv_ring_add(r, &seg, 0, 1, NULL, 0), 0);
	assert_int_equal(ftruncate(vdev_drv_mem_fd(m), 0), 0);
	/* The ring reads as zeros now: maybe "empty", never a crash; the
	 * map changed, so the next look notices. */
	(void)vdev_queue_has_avail(q);
	assert_int_equal(vdev_queue_pop(q, &req), -EIO);
	assert_true(vdev_queue_broken(q));
	assert_string_equal(q->why, SHRANK);
	vdev_queue_free(q);
	vdev_drv_ring_free(r);
	vdev_drv_mem_free(m);
}

/* ---- vhost-user -------------------------------------------------------- */

struct vhu_dev {
	struct vdev *dev;
	struct vhu_fe_server srv;
	struct vhu_fe *fe;
	struct vhu_fe_guest g;
};

static void vhu_dev_up(struct vhu_dev *d)
{
	struct vdev_vhost_user_config cfg = { 0 };
	struct vdev_rng_config rc = { .source = "/dev/urandom" };

	memset(d, 0, sizeof(*d));
	d->dev = vdev_rng_new(&rc);
	assert_non_null(d->dev);
	assert_int_equal(vhu_fe_server_start(&d->srv, d->dev, &cfg), 0);
	d->fe = vhu_fe_connect(d->srv.path, 2000);
	assert_non_null(d->fe);
	assert_int_equal(vhu_fe_setup(d->fe, &d->g, 64, false,
				      P(REPLY_ACK) | P(LOG_SHMFD), false),
			 0);
}

static void vhu_dev_down(struct vhu_dev *d)
{
	vhu_fe_close(d->fe);
	assert_true(vhu_fe_server_idle(&d->srv, 2000));
	vhu_fe_guest_fini(&d->g);
	vhu_fe_server_stop(&d->srv);
	vdev_free(d->dev);
}

/* These fault in this thread. */
static void test_map_survives(void **state)
{
	NEED_SIGBUS_ADDR();
	map_survives();
}

static void test_queue_breaks(void **state)
{
	NEED_SIGBUS_ADDR();
	queue_breaks();
}

/* Adds one 64-byte request; with @wait, true when it completed. */
static bool vhu_request(struct vhu_dev *d, bool wait)
{
	uint64_t gpa;
	uint8_t *buf = vdev_drv_mem_alloc(d->g.mem, 64, 16, &gpa);
	struct vdev_drv_seg seg = { .gpa = gpa, .len = 64 };
	void *tok = NULL;
	uint32_t len = 0;
	int ret = -EAGAIN;

	if (!buf || vdev_drv_ring_add(d->g.ring, &seg, 0, 1, buf, 0))
		return false;
	if (!wait)
		return true;
	if (vhu_fe_kick(d->fe, &d->g))
		return false;
	for (int i = 0; i < 5000 && ret == -EAGAIN; i++) {
		ret = vdev_drv_ring_get_used(d->g.ring, &tok, &len);
		if (ret == -EAGAIN)
			sleep_ms(1);
	}
	return ret == 0 && tok == buf && len == 64;
}

static void test_vhost_user_ram_truncated(void **state)
{
	struct vhu_dev a, b;
	uint64_t feat;

	NEED_SIGBUS_ADDR();
	vhu_dev_up(&a);
	vhu_dev_up(&b);
	assert_true(vhu_request(&a, true));
	assert_true(vhu_request(&b, true));
	/* A's frontend makes a request available, cuts its RAM, kicks. */
	assert_true(vhu_request(&a, false));
	assert_int_equal(ftruncate(vdev_drv_mem_fd(a.g.mem), 0), 0);
	assert_int_equal(vhu_fe_kick(a.fe, &a.g), 0);
	assert_true(needs_reset(a.dev, 5000));
	assert_string_equal(vdev_get_queue(a.dev, 0)->why, SHRANK);
	/* A's control path still answers; B never noticed. */
	assert_int_equal(vhu_fe_get_u64(a.fe, VHU_FE_GET_FEATURES, &feat), 0);
	for (int i = 0; i < 8; i++)
		assert_true(vhu_request(&b, true));
	assert_false(vdev_get_status(b.dev) & VDEV_STATUS_DEVICE_NEEDS_RESET);
	vhu_dev_down(&a);
	vhu_dev_down(&b);
}

/* SET_LOG_BASE: a log fd that could shrink is refused (the request
 * fails, which closes the connection); QEMU's sealed one is taken and
 * cannot be cut. */
static int set_log(struct vhu_dev *d, int fd, uint64_t size)
{
	uint64_t lb[2] = { size, 0 };
	struct vhu_fe_msg r;

	if (vhu_fe_send(d->fe, VHU_FE_SET_LOG_BASE, 0, lb, sizeof(lb), &fd,
			1))
		return -EIO;
	return vhu_fe_recv(d->fe->fd, &r, 2000);
}

static void test_vhost_user_log_fd(void **state)
{
	struct vhu_dev a;
	int fd = memfd_create("log", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	vhu_dev_up(&a);
	assert_int_equal(ftruncate(fd, 4096), 0);
	assert_int_not_equal(set_log(&a, fd, 4096), 0);
	assert_true(vhu_fe_peer_closed(a.fe, 2000));
	vhu_fe_close(a.fe);
	assert_true(vhu_fe_server_idle(&a.srv, 2000));
	vhu_fe_guest_fini(&a.g);
	/* Sealed against shrinking: taken. */
	a.fe = vhu_fe_connect(a.srv.path, 2000);
	assert_non_null(a.fe);
	assert_int_equal(vhu_fe_setup(a.fe, &a.g, 64, false,
				      P(REPLY_ACK) | P(LOG_SHMFD), false),
			 0);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	assert_int_equal(set_log(&a, fd, 4096), 0);
	assert_int_equal(ftruncate(fd, 0), -1);
	assert_true(vhu_request(&a, true));
	close(fd);
	vhu_dev_down(&a);
}

/* ---- vfio-user --------------------------------------------------------- */

#define VFU_BASE 0x40000000ull
#define VFU_SIZE (4u << 20)

struct vfu_dev {
	char path[108];
	struct vdev *dev;
	struct vfu_testsrv *srv;
	struct vfu_client *c;
	struct vdev_drv_mem *mem;
	struct vdev_drv_ring *ring;
};

static void vfu_dev_up(struct vfu_dev *d, int n)
{
	struct vdev_rng_config rc = { .queue_size = 256 };
	struct vpci_drv *p;

	memset(d, 0, sizeof(*d));
	snprintf(d->path, sizeof(d->path), "/tmp/vdev-sigbus-%d-%d.sock",
		 (int)getpid(), n);
	d->dev = vdev_rng_new(&rc);
	assert_non_null(d->dev);
	d->srv = vfu_testsrv_start(d->dev, d->path, -1);
	assert_non_null(d->srv);
	d->c = vfu_client_connect(d->path);
	assert_non_null(d->c);
	assert_int_equal(vfu_client_version(d->c), 0);
	assert_int_equal(vfu_client_probe(d->c), 0);
	d->mem = vdev_drv_mem_new(VFU_BASE, VFU_SIZE, 1);
	assert_non_null(d->mem);
	assert_int_equal(vfu_client_dma_map(d->c, vdev_drv_mem_fd(d->mem), 0,
					    VFU_BASE, VFU_SIZE),
			 0);
	p = &d->c->pci;
	assert_int_equal(vpci_negotiate(p, ~VDEV_BIT(VDEV_F_RING_PACKED)), 0);
	d->ring = vdev_drv_ring_new(d->mem, 128, p->features);
	assert_non_null(d->ring);
	assert_int_equal(vpci_setup_queue(p, 0, d->ring, 0xffff), 0);
	assert_int_equal(vpci_driver_ok(p), 0);
}

static void vfu_dev_down(struct vfu_dev *d)
{
	vfu_client_free(d->c);
	assert_true(vfu_testsrv_wait_idle(d->srv));
	vfu_testsrv_stop(d->srv);
	vdev_drv_ring_free(d->ring);
	vdev_drv_mem_free(d->mem);
	vdev_free(d->dev);
	unlink(d->path);
}

static bool vfu_request(struct vfu_dev *d, bool notify)
{
	uint64_t gpa;
	uint8_t *buf = vdev_drv_mem_alloc(d->mem, 64, 16, &gpa);
	struct vdev_drv_seg seg = { gpa, 64 };
	void *tok = NULL;
	uint32_t len = 0;
	int ret = -EAGAIN;

	if (!buf || vdev_drv_ring_add(d->ring, &seg, 0, 1, buf, 0))
		return false;
	if (!notify)
		return true;
	if (vpci_notify(&d->c->pci, 0, d->ring))
		return false;
	for (int i = 0; i < 5000 && ret == -EAGAIN; i++) {
		ret = vdev_drv_ring_get_used(d->ring, &tok, &len);
		if (ret == -EAGAIN)
			sleep_ms(1);
	}
	return ret == 0 && tok == buf && len == 64;
}

static void test_vfio_user_dma_truncated(void **state)
{
	struct vfu_dev a, b;

	NEED_SIGBUS_ADDR();
	vfu_dev_up(&a, 0);
	vfu_dev_up(&b, 1);
	assert_true(vfu_request(&a, true));
	assert_true(vfu_request(&b, true));
	assert_true(vfu_request(&a, false));
	assert_int_equal(ftruncate(vdev_drv_mem_fd(a.mem), 0), 0);
	/* The notify runs the queue on the server's thread. */
	assert_int_equal(vpci_notify(&a.c->pci, 0, a.ring), 0);
	assert_true(needs_reset(a.dev, 5000));
	assert_string_equal(vdev_get_queue(a.dev, 0)->why, SHRANK);
	/* A's server still answers (the status register says it), B
	 * carries on. */
	assert_true(vpci_common_rd(&a.c->pci, VPCI_STATUS, 1) &
		    VDEV_STATUS_DEVICE_NEEDS_RESET);
	for (int i = 0; i < 8; i++)
		assert_true(vfu_request(&b, true));
	vfu_dev_down(&a);
	vfu_dev_down(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_survives),
		cmocka_unit_test(test_queue_breaks),
		cmocka_unit_test(test_vhost_user_ram_truncated),
		cmocka_unit_test(test_vhost_user_log_fd),
		cmocka_unit_test(test_vfio_user_dma_truncated),
	};

	/* A library user need not handle SIGPIPE itself. */
	signal(SIGPIPE, SIG_DFL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
