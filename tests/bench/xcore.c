/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Cross-core virtqueue throughput: a driver and a device on two cores.
 *
 * The driver thread is a tight, minimal driver (not the software driver of
 * src/testing, which checks everything): it keeps a 256-entry ring full of
 * one-descriptor, 64-byte device-readable buffers, and for every
 * completion writes a new packet (a sequence number in the buffer), the
 * descriptor, and makes it available again. It asks for no interrupts.
 * The device thread runs the library: vdev_queue_pop_batch of up to B
 * chains, reads the 64 bytes of each (copied out, as a vhost-user net
 * back-end copies a packet into its own buffer), vdev_queue_push_batch
 * and vdev_queue_notify; it polls, and never sleeps. Each request's data
 * is checked (the sequence number the driver wrote into that buffer).
 *
 * This is the work DPDK's vhost PMD does per packet when it dequeues from
 * a virtio-user txonly peer (tests/bench/xcore-dpdk.sh runs the two side by
 * side): take the chain, copy the packet, give the descriptor back.
 *
 * usage: bench_xcore [seconds per configuration]   (default 0.5;
 *        VDEV_BENCH_LONG=1: 5)
 *        [only: split-1, split-32, packed-1, packed-32]
 * Prints Mreq/s per configuration, and the CPUs the threads ran on.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <virtio/mem.h>
#include <virtio/queue.h>
#include <virtio/spec.h>
#include <virtio/testing.h>

#define RING 256u
#define BUF 64u
#define MAXB 32u

#define F_AVAIL (1u << VDEV_PACKED_DESC_F_AVAIL)
#define F_USED (1u << VDEV_PACKED_DESC_F_USED)

struct bench {
	bool packed;
	unsigned batch;
	struct vdev_drv_mem *m;
	/* rings */
	struct vdev_vring_desc *desc;
	struct vdev_vring_avail *avail;
	struct vdev_vring_used *used;
	struct vdev_packed_desc *pdesc;
	struct vdev_packed_event *drv_ev, *dev_ev;
	struct vdev_queue_config cfg;
	uint64_t buf_gpa[RING];
	unsigned char *buf[RING];
	atomic_bool go, stop;
	atomic_int ready;
	/* results */
	unsigned long done;     /* device: requests completed */
	unsigned long bad;      /* device: data not what the driver wrote */
	unsigned long drv_loops;
	int dev_cpu, drv_cpu;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static uint16_t ld_acq16(const vdev_le16 *p)
{
	return vdev_le16_to_cpu(__atomic_load_n(p, __ATOMIC_ACQUIRE));
}

static void st_rel16(vdev_le16 *p, uint16_t v)
{
	__atomic_store_n(p, vdev_cpu_to_le16(v), __ATOMIC_RELEASE);
}

/* A new packet in buffer @id: its sequence number, in the first 8 bytes
 * and the last 8 (the device checks both). */
static void fill(struct bench *b, uint16_t id, uint64_t seq)
{
	memcpy(b->buf[id], &seq, 8);
	memcpy(b->buf[id] + BUF - 8, &seq, 8);
}

static void start_barrier(struct bench *b)
{
	atomic_fetch_add(&b->ready, 1);
	while (!atomic_load(&b->go))
		;
}

static void *split_driver(void *arg)
{
	struct bench *b = arg;
	uint16_t aidx = RING, last_used = 0, mask = RING - 1;
	uint64_t seq = RING;
	unsigned long loops = 0;

	pin(b->drv_cpu);
	start_barrier(b);
	while (!atomic_load_explicit(&b->stop, memory_order_relaxed)) {
		uint16_t u = ld_acq16(&b->used->idx);

		loops++;
		if (u == last_used)
			continue;
		for (; last_used != u; last_used++, aidx++) {
			uint32_t id = vdev_le32_to_cpu(
				b->used->ring[last_used & mask].id) & mask;
			struct vdev_vring_desc *d = &b->desc[id];

			fill(b, (uint16_t)id, seq++);
			d->addr = vdev_cpu_to_le64(b->buf_gpa[id]);
			d->len = vdev_cpu_to_le32(BUF);
			d->flags = 0;
			d->next = 0;
			b->avail->ring[aidx & mask] = vdev_cpu_to_le16((uint16_t)id);
		}
		st_rel16(&b->avail->idx, aidx);
	}
	b->drv_loops = loops;
	return NULL;
}

static void *packed_driver(void *arg)
{
	struct bench *b = arg;
	/* The ring is full: the next slot to fill is the next to come back. */
	uint16_t pos = 0;
	bool wrap = false; /* the first lap was made available at setup */
	uint64_t seq = RING;
	unsigned long loops = 0;

	pin(b->drv_cpu);
	start_barrier(b);
	while (!atomic_load_explicit(&b->stop, memory_order_relaxed)) {
		struct vdev_packed_desc *d = &b->pdesc[pos];
		uint16_t f = ld_acq16(&d->flags);
		uint16_t id;

		loops++;
		/* Used in the lap before this one: both bits = !wrap. */
		if (!!(f & F_AVAIL) != !wrap || !!(f & F_USED) != !wrap)
			continue;
		id = vdev_le16_to_cpu(d->id) & (RING - 1);
		fill(b, id, seq++);
		d->addr = vdev_cpu_to_le64(b->buf_gpa[id]);
		d->len = vdev_cpu_to_le32(BUF);
		d->id = vdev_cpu_to_le16(id);
		st_rel16(&d->flags, wrap ? F_AVAIL : F_USED);
		if (++pos == RING) {
			pos = 0;
			wrap = !wrap;
		}
	}
	b->drv_loops = loops;
	return NULL;
}

static void *device(void *arg)
{
	struct bench *b = arg;
	struct vdev_queue *q = vdev_queue_new(vdev_drv_mem_map(b->m), 0);
	struct vdev_req reqs[MAXB], *rp[MAXB];
	struct iovec iov[MAXB][2];
	uint32_t written[MAXB] = { 0 };
	unsigned char copy[MAXB][BUF];
	unsigned long done = 0, bad = 0;
	/* What each buffer should hold next: the driver numbers packets in
	 * the order it refills them, the order they complete. */
	uint64_t expect = 0;

	pin(b->dev_cpu);
	if (!q || vdev_queue_configure(q, &b->cfg))
		abort();
	vdev_queue_set_budget(q, 0);
	vdev_queue_disable_kicks(q);
	for (unsigned i = 0; i < MAXB; i++) {
		rp[i] = &reqs[i];
		reqs[i].iov = iov[i];
		reqs[i].iov_max = 2;
	}
	start_barrier(b);
	while (!atomic_load_explicit(&b->stop, memory_order_relaxed)) {
		int got = vdev_queue_pop_batch(q, rp, b->batch);

		if (got <= 0) {
			if (got != -EAGAIN)
				abort();
			continue;
		}
		for (int i = 0; i < got; i++) {
			uint64_t s0, s1;

			if (reqs[i].nout != 1 || reqs[i].out[0].iov_len != BUF)
				abort();
			memcpy(copy[i], reqs[i].out[0].iov_base, BUF);
			/* The copy is made, whole, whatever we read of it. */
			__asm__ volatile("" : : "r"(copy[i]) : "memory");
			memcpy(&s0, copy[i], 8);
			memcpy(&s1, copy[i] + BUF - 8, 8);
			bad += s0 != expect || s1 != expect;
			expect++;
		}
		vdev_queue_push_batch(q, rp, written, (unsigned)got);
		vdev_queue_notify(q);
		done += (unsigned long)got;
	}
	b->done = done;
	b->bad = bad;
	vdev_queue_free(q);
	return NULL;
}

static void setup(struct bench *b)
{
	uint64_t gpa;

	b->m = vdev_drv_mem_new(0x100000, 4u << 20, 1);
	if (!b->m)
		abort();
	for (unsigned i = 0; i < RING; i++) {
		/* One cache line each, as a packet buffer would have. */
		b->buf[i] = vdev_drv_mem_alloc(b->m, BUF, 64, &b->buf_gpa[i]);
		if (!b->buf[i])
			abort();
		fill(b, (uint16_t)i, i);
	}
	b->cfg.size = RING;
	if (b->packed) {
		b->pdesc = vdev_drv_mem_alloc(b->m, 16 * RING, 64, &gpa);
		b->cfg.desc_addr = gpa;
		b->drv_ev = vdev_drv_mem_alloc(b->m, 4, 64, &gpa);
		b->cfg.driver_addr = gpa;
		b->dev_ev = vdev_drv_mem_alloc(b->m, 4, 64, &gpa);
		b->cfg.device_addr = gpa;
		b->cfg.features = VDEV_BIT(VDEV_F_VERSION_1) |
				  VDEV_BIT(VDEV_F_RING_PACKED);
		b->drv_ev->flags =
			vdev_cpu_to_le16(VDEV_PACKED_EVENT_FLAG_DISABLE);
		for (unsigned i = 0; i < RING; i++) {
			b->pdesc[i].addr = vdev_cpu_to_le64(b->buf_gpa[i]);
			b->pdesc[i].len = vdev_cpu_to_le32(BUF);
			b->pdesc[i].id = vdev_cpu_to_le16((uint16_t)i);
			st_rel16(&b->pdesc[i].flags, F_AVAIL);
		}
	} else {
		b->desc = vdev_drv_mem_alloc(b->m, vdev_split_desc_size(RING),
					     64, &gpa);
		b->cfg.desc_addr = gpa;
		b->avail = vdev_drv_mem_alloc(b->m, vdev_split_avail_size(RING),
					      64, &gpa);
		b->cfg.driver_addr = gpa;
		b->used = vdev_drv_mem_alloc(b->m, vdev_split_used_size(RING),
					     64, &gpa);
		b->cfg.device_addr = gpa;
		b->cfg.features = VDEV_BIT(VDEV_F_VERSION_1);
		b->avail->flags = vdev_cpu_to_le16(VDEV_AVAIL_F_NO_INTERRUPT);
		for (unsigned i = 0; i < RING; i++) {
			b->desc[i].addr = vdev_cpu_to_le64(b->buf_gpa[i]);
			b->desc[i].len = vdev_cpu_to_le32(BUF);
			b->avail->ring[i] = vdev_cpu_to_le16((uint16_t)i);
		}
		st_rel16(&b->avail->idx, RING);
	}
}

static void run(bool packed, unsigned batch, double secs, int dev_cpu,
		int drv_cpu)
{
	struct bench b = { .packed = packed, .batch = batch,
			   .dev_cpu = dev_cpu, .drv_cpu = drv_cpu };
	pthread_t td, tv;
	double t0, t1;

	setup(&b);
	if (pthread_create(&tv, NULL, device, &b) ||
	    pthread_create(&td, NULL, packed ? packed_driver : split_driver,
			   &b))
		abort();
	while (atomic_load(&b.ready) < 2)
		sched_yield();
	t0 = now_s();
	atomic_store(&b.go, true);
	do {
		struct timespec ts = { 0, 10000000 };

		nanosleep(&ts, NULL);
		t1 = now_s();
	} while (t1 - t0 < secs);
	atomic_store(&b.stop, true);
	t1 = now_s();
	pthread_join(td, NULL);
	pthread_join(tv, NULL);
	printf("%-6s batch=%-2u  %7.2f Mreq/s  (%lu requests in %.2f s, "
	       "64-byte reads, data errors %lu)\n",
	       packed ? "packed" : "split", batch,
	       (double)b.done / (t1 - t0) / 1e6, b.done, t1 - t0, b.bad);
	vdev_drv_mem_free(b.m);
}

int main(int argc, char **argv)
{
	const char *longrun = getenv("VDEV_BENCH_LONG");
	double secs = longrun && *longrun && strcmp(longrun, "0") ? 5.0 : 0.5;
	const char *only = argc > 2 ? argv[2] : NULL;
	cpu_set_t set;
	int cpus[2] = { -1, -1 }, n = 0;

	if (argc > 1)
		secs = strtod(argv[1], NULL);
	/* Two different CPUs this process may run on, if there are two. */
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
			if (CPU_ISSET(c, &set))
				cpus[n++] = c;
	if (n < 2)
		printf("# only one CPU: driver and device share it, the "
		       "numbers mean little\n");
	printf("# cross-core: driver on CPU %d keeps a %u-entry ring full, "
	       "device (libvdev) on CPU %d pops, reads 64 bytes, pushes; "
	       "%.1f s per line\n", cpus[1], RING, cpus[0], secs);
	for (int packed = 0; packed < 2; packed++)
		for (unsigned b = 1; b <= MAXB; b += MAXB - 1) {
			char name[32];

			snprintf(name, sizeof(name), "%s-%u",
				 packed ? "packed" : "split", b);
			if (!only || !strcmp(only, name))
				run(packed, b, secs, cpus[0], cpus[1]);
		}
	return 0;
}
