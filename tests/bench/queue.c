/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Device-side virtqueue cost.
 *
 * The software driver (ring layer) keeps a 256-entry ring busy; per batch
 * the device pops B chains, pushes them back and calls notify once.
 * "device" is the time spent in vdev_queue_pop_batch + push_batch + notify
 * per request, measured around those calls only with the TSC: the median
 * batch (robust against preemption on a loaded machine) and the mean.
 * "total" is wall time per request including the driver's add and
 * get_used. Interrupts go to a counting callback (no eventfd write), so the
 * numbers are the ring work, not a system call.
 *
 * usage: bench_queue [requests per configuration, default 4000000]
 *                    [only: "split"/"packed" and chain/batch, e.g. split-1-32]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <virtio/mem.h>
#include <virtio/queue.h>
#include <virtio/spec.h>
#include <virtio/testing.h>

#define RING 256
#define MAXB 32

static unsigned long interrupts;

static void on_call(void *opaque, struct vdev_queue *q)
{
	(void)opaque;
	(void)q;
	interrupts++;
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#if defined(__x86_64__) || defined(__i386__)
static inline uint64_t ticks(void)
{
	return __builtin_ia32_rdtsc();
}
#else
static inline uint64_t ticks(void)
{
	return now_ns();
}
#endif

/* Ticks per nanosecond. */
static double calibrate(void)
{
	uint64_t t0 = now_ns(), c0 = ticks(), t1, c1;

	do
		t1 = now_ns();
	while (t1 - t0 < 200000000ull);
	c1 = ticks();
	return (double)(c1 - c0) / (double)(t1 - t0);
}

/* Overhead of one ticks() pair, in ticks. */
static uint64_t tick_overhead(void)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < 100000; i++) {
		uint64_t a = ticks(), b = ticks();

		if (b - a < best)
			best = b - a;
	}
	return best;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static void run(bool packed, unsigned ndesc, unsigned batch, bool evidx,
		unsigned long n, double tpn, uint64_t ovh)
{
	unsigned long nb = n / batch, ib = 0;
	uint32_t *samples = malloc(nb * sizeof(*samples));
	uint64_t features = (packed ? VDEV_BIT(VDEV_F_RING_PACKED) : 0) |
			    (evidx ? VDEV_BIT(VDEV_F_EVENT_IDX) : 0);
	struct vdev_drv_mem *m = vdev_drv_mem_new(0x100000, 16u << 20, 1);
	struct vdev_drv_ring *r = vdev_drv_ring_new(m, RING, features);
	struct vdev_queue *q = vdev_queue_new(vdev_drv_mem_map(m), 0);
	struct vdev_req reqs[MAXB], *rp[MAXB];
	struct iovec iov[MAXB][8];
	uint32_t written[MAXB];
	struct vdev_drv_seg segs[4];
	struct vdev_queue_config cfg;
	uint64_t dev = 0, t0, start;
	unsigned long done = 0;
	unsigned ninterrupt;

	if (!m || !r || !q || !samples)
		abort();
	for (unsigned i = 0; i < ndesc; i++) {
		vdev_drv_mem_alloc(m, 512, 64, &segs[i].gpa);
		segs[i].len = 512;
	}
	vdev_drv_ring_queue_config(r, &cfg);
	if (vdev_queue_configure(q, &cfg))
		abort();
	vdev_queue_set_call_fn(q, on_call, NULL);
	vdev_queue_set_budget(q, 0);
	vdev_drv_ring_want_interrupts(r, true);
	for (unsigned i = 0; i < MAXB; i++) {
		rp[i] = &reqs[i];
		reqs[i].iov = iov[i];
		reqs[i].iov_max = 8;
		written[i] = 100;
	}
	interrupts = 0;
	start = now_ns();
	while (done < n) {
		int got;

		/* 1 descriptor: writable only; 4: 2 readable + 2 writable. */
		for (unsigned i = 0; i < batch; i++)
			if (vdev_drv_ring_add(r, segs, ndesc == 1 ? 0 : 2,
					      ndesc == 1 ? 1 : 2, NULL, 0))
				abort();
		t0 = ticks();
		got = vdev_queue_pop_batch(q, rp, batch);
		if (got != (int)batch)
			abort();
		vdev_queue_push_batch(q, rp, written, batch);
		vdev_queue_notify(q);
		t0 = ticks() - t0 - ovh;
		dev += t0;
		if (ib < nb)
			samples[ib++] = t0 > UINT32_MAX ? UINT32_MAX :
							  (uint32_t)t0;
		for (unsigned i = 0; i < batch; i++) {
			void *tok;
			uint32_t len;

			if (vdev_drv_ring_get_used(r, &tok, &len))
				abort();
		}
		done += batch;
	}
	ninterrupt = (unsigned)(interrupts * 1000 / (done / batch));
	qsort(samples, ib, sizeof(*samples), cmp_u32);
	printf("%-6s chain=%u batch=%-2u event_idx=%-3s device median %6.1f "
	       "mean %6.1f ns/req  total %6.1f ns/req  irq/batch %u.%03u\n",
	       packed ? "packed" : "split", ndesc, batch, evidx ? "on" : "off",
	       (double)samples[ib / 2] / tpn / batch,
	       (double)dev / tpn / (double)done,
	       (double)(now_ns() - start) / (double)done, ninterrupt / 1000,
	       ninterrupt % 1000);
	free(samples);
	vdev_queue_free(q);
	vdev_drv_ring_free(r);
	vdev_drv_mem_free(m);
}

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 0) : 4000000;
	const char *only = argc > 2 ? argv[2] : NULL;
	double tpn = calibrate();
	uint64_t ovh = tick_overhead();

	printf("# %lu requests per line, 512-byte buffers, ring of %u, "
	       "%.2f ticks/ns, timer overhead %.1f ns per batch subtracted\n",
	       n, RING, tpn, (double)ovh / tpn);
	for (int packed = 0; packed < 2; packed++)
		for (unsigned nd = 1; nd <= 4; nd += 3)
			for (unsigned b = 1; b <= MAXB; b += MAXB - 1)
				for (int ev = 0; ev < 2; ev++) {
					char name[32];

					snprintf(name, sizeof(name), "%s-%u-%u",
						 packed ? "packed" : "split",
						 nd, b);
					if (!only || !strcmp(only, name))
						run(packed, nd, b, ev, n, tpn,
						    ovh);
				}
	return 0;
}
