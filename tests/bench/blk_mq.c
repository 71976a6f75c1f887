/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-blk multiqueue over vhost-user, in process: one driver thread per
 * queue keeps 32 4 KiB reads in flight on its own ring (eventfd kicks and
 * calls, as a guest's queues would), against the adapter with one worker
 * per device or one per queue. Prints requests per second and the device
 * side's CPU time per request (the process's CPU time minus the driver
 * threads'): with shared-nothing request paths the latter stays flat as
 * queues are added, and requests per second grow with the cores there are
 * to run the queues' threads on.
 *
 * Usage: bench_blk_mq [seconds per case, default 2] [backend, default
 * null] [image file, for uring/sync]. Never fails on time.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <virtio/blk.h>
#include <virtio/spec.h>

#include "vhu_frontend.h"

#define QD 32u
#define BS 4096u
#define MAXQ 4u

struct slot {
	struct vdev_drv_seg segs[3];
	uint8_t *st;
};

struct qdrv {
	struct vdev_drv_ring *ring;
	struct vdev_drv_mem *mem;
	int kick_fd, call_fd;
	struct slot slots[QD];
	uint64_t nsect;
	unsigned long long done, bad;
	pthread_t th;
	clockid_t clk;
	atomic_bool *stop;
};

static double now(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *drive(void *arg)
{
	struct qdrv *d = arg;
	uint64_t one = 1, sector = 0, v;

	pthread_getcpuclockid(pthread_self(), &d->clk);
	for (unsigned i = 0; i < QD; i++)
		vdev_drv_ring_add(d->ring, d->slots[i].segs, 1, 2,
				  &d->slots[i], 0);
	if (write(d->kick_fd, &one, 8) < 0)
		return NULL;
	while (!atomic_load_explicit(d->stop, memory_order_relaxed)) {
		struct pollfd p = { .fd = d->call_fd, .events = POLLIN };
		unsigned got = 0;
		void *tok;
		uint32_t len;

		while (vdev_drv_ring_get_used(d->ring, &tok, &len) == 0) {
			struct slot *s = tok;
			struct vdev_blk_req_hdr *h =
				vdev_drv_mem_host(d->mem, s->segs[0].gpa);

			if (*s->st != VDEV_BLK_S_OK || len != BS + 1)
				d->bad++;
			d->done++;
			got++;
			sector = (sector + 8 * 7919) % (d->nsect - 7);
			h->sector = vdev_cpu_to_le64(sector & ~7ull);
			vdev_drv_ring_add(d->ring, s->segs, 1, 2, s, 0);
		}
		if (got) {
			if (vdev_drv_ring_needs_kick(d->ring) &&
			    write(d->kick_fd, &one, 8) < 0)
				break;
			continue;
		}
		if (poll(&p, 1, 100) == 1 && read(d->call_fd, &v, 8) < 0) {
			/* spurious */
		}
	}
	return NULL;
}

static void setup_slots(struct qdrv *d)
{
	for (unsigned i = 0; i < QD; i++) {
		struct slot *s = &d->slots[i];
		struct vdev_blk_req_hdr *h;

		h = vdev_drv_mem_alloc(d->mem, sizeof(*h), 16, &s->segs[0].gpa);
		h->type = vdev_cpu_to_le32(VDEV_BLK_T_IN);
		s->segs[0].len = sizeof(*h);
		vdev_drv_mem_alloc(d->mem, BS, 4096, &s->segs[1].gpa);
		s->segs[1].len = BS;
		s->st = vdev_drv_mem_alloc(d->mem, 1, 1, &s->segs[2].gpa);
		s->segs[2].len = 1;
	}
}

static int run(unsigned nq, bool per_queue, enum vdev_blk_backend be,
	       const char *path, double secs)
{
	struct vdev_blk_config cfg = {
		.backend = be, .path = path, .size = 256u << 20,
		.num_queues = (uint16_t)nq, .queue_size = 256,
	};
	struct vdev_vhost_user_config vc = {
		.threads = per_queue ? VDEV_VHOST_USER_THREAD_PER_QUEUE
				     : VDEV_VHOST_USER_THREAD_PER_DEVICE,
	};
	struct vhu_fe_queue extra[MAXQ];
	struct qdrv d[MAXQ];
	struct vhu_fe_server srv;
	struct vhu_fe_guest g;
	struct vhu_fe *fe;
	struct vdev *dev;
	atomic_bool stop = false;
	struct rusage r0, r1;
	double w0, w1, cpu, drv_cpu = 0;
	unsigned long long done = 0, bad = 0;

	memset(d, 0, sizeof(d));
	dev = vdev_blk_new(&cfg);
	if (!dev || vhu_fe_server_start(&srv, dev, &vc) < 0) {
		fprintf(stderr, "blk_mq: device or adapter: %s\n",
			strerror(errno));
		return 1;
	}
	fe = vhu_fe_connect(srv.path, 2000);
	if (!fe || vhu_fe_setup(fe, &g, 256, false,
				VDEV_BIT(VDEV_VHOST_USER_PROTOCOL_F_STATUS) |
					VDEV_BIT(VDEV_VHOST_USER_PROTOCOL_F_MQ),
				false) < 0) {
		fprintf(stderr, "blk_mq: frontend setup failed\n");
		return 1;
	}
	for (unsigned i = 0; i < nq; i++) {
		d[i].mem = g.mem;
		d[i].nsect = cfg.size / 512;
		d[i].stop = &stop;
		if (i == 0) {
			d[i].ring = g.ring;
			d[i].kick_fd = g.kick_fd;
			d[i].call_fd = g.call_fd;
		} else {
			if (vhu_fe_add_queue(fe, &g, &extra[i], i, 256) < 0) {
				fprintf(stderr, "blk_mq: queue %u failed\n",
					i);
				return 1;
			}
			d[i].ring = extra[i].ring;
			d[i].kick_fd = extra[i].kick_fd;
			d[i].call_fd = extra[i].call_fd;
		}
		setup_slots(&d[i]);
	}
	getrusage(RUSAGE_SELF, &r0);
	w0 = now(CLOCK_MONOTONIC);
	for (unsigned i = 0; i < nq; i++)
		pthread_create(&d[i].th, NULL, drive, &d[i]);
	usleep((useconds_t)(secs * 1e6));
	/* The drivers' CPU time, read while they still run. */
	for (unsigned i = 0; i < nq; i++)
		drv_cpu += now(d[i].clk);
	atomic_store(&stop, true);
	for (unsigned i = 0; i < nq; i++) {
		pthread_join(d[i].th, NULL);
		done += d[i].done;
		bad += d[i].bad;
	}
	w1 = now(CLOCK_MONOTONIC);
	getrusage(RUSAGE_SELF, &r1);
	cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) +
	      (double)(r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
	      (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) * 1e-6 +
	      (double)(r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) * 1e-6;
	printf("blk_mq backend=%s queues=%u threads=%s qd=%u bs=%u reqs=%llu "
	       "errors=%llu req/s=%.0f device_cpu_us/req=%.2f "
	       "total_cpu_us/req=%.2f\n",
	       vdev_blk_backend_name(vdev_blk_backend(dev)), nq,
	       per_queue ? "per-queue" : "per-device", QD, BS, done, bad,
	       (double)done / (w1 - w0),
	       done ? (cpu - drv_cpu) * 1e6 / (double)done : 0,
	       done ? cpu * 1e6 / (double)done : 0);
	fflush(stdout);
	vhu_fe_close(fe);
	vhu_fe_server_idle(&srv, 2000);
	vhu_fe_server_stop(&srv);
	for (unsigned i = 1; i < nq; i++)
		vhu_fe_queue_fini(&extra[i]);
	vhu_fe_guest_fini(&g);
	vdev_free(dev);
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0;
	enum vdev_blk_backend be = VDEV_BLK_BACKEND_NULL;
	const char *path = argc > 3 ? argv[3] : NULL;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned maxq = ncpu > (long)MAXQ ? MAXQ : ncpu < 2 ? 2 : (unsigned)ncpu;
	int ret = 0;

	if (argc > 2 && vdev_blk_backend_parse(argv[2], &be) < 0) {
		fprintf(stderr, "usage: bench_blk_mq [secs] [backend] [image]\n");
		return 2;
	}
	if (secs <= 0)
		secs = 2.0;
	ret |= run(1, false, be, path, secs);
	for (unsigned q = 2; q <= maxq; q++) {
		ret |= run(q, false, be, path, secs);
		ret |= run(q, true, be, path, secs);
	}
	return ret;
}
