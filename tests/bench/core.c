/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Device-core cost: a whole request through the transport interface
 * (kick, round, handler, push, interrupt, completion) with the software
 * driver, in each ring layout and kick mode, for an echo device.
 *  - "single": one 64-byte request at a time (vdev_drv_xfer): latency of
 *    the full path, system calls included in eventfd mode;
 *  - "batch":  64 requests made available, one kick, all collected:
 *    what the core adds per request when the driver batches.
 *
 * usage: bench_core [requests per configuration, default 200000]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <virtio/testing.h>
#include <virtio/transport.h>

#include "vcore_tdev.h"

#define BATCH 64

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int run(bool packed, bool eventfds, unsigned long n)
{
	struct vdev_drv_config dc = {
		.packed = packed,
		.use_eventfds = eventfds,
		.queue_size = 256,
	};
	static struct tdev t;
	struct vdev_drv *drv;
	struct vdev_drv_seg seg[2 * BATCH];
	uint8_t out[64] = { 1 }, in[64];
	double t0, single, batch;
	unsigned long done;

	if (!tdev_new(&t, 1, 256, 1))
		return -1;
	drv = vdev_drv_new(t.dev, &dc);
	if (!drv || vdev_drv_init(drv) < 0)
		return -1;
	t0 = now_s();
	for (unsigned long i = 0; i < n; i++) {
		uint32_t w;

		if (vdev_drv_xfer(drv, 0, out, 64, in, 64, &w, 1000) < 0)
			return -1;
	}
	single = (now_s() - t0) / n;

	for (unsigned i = 0; i < BATCH; i++) {
		struct vdev_drv_mem *m = vdev_drv_get_mem(drv);

		vdev_drv_mem_alloc(m, 64, 64, &seg[2 * i].gpa);
		vdev_drv_mem_alloc(m, 64, 64, &seg[2 * i + 1].gpa);
		seg[2 * i].len = seg[2 * i + 1].len = 64;
	}
	t0 = now_s();
	for (done = 0; done < n; done += BATCH) {
		for (uintptr_t i = 0; i < BATCH; i++)
			if (vdev_drv_ring_add(vdev_drv_ring(drv, 0),
					      &seg[2 * i], 1, 1,
					      (void *)(i + 1), 0) < 0)
				return -1;
		vdev_drv_kick(drv, 0);
		for (unsigned i = 0; i < BATCH; i++)
			if (vdev_drv_wait(drv, 0, 1000, NULL, NULL) < 0)
				return -1;
	}
	batch = (now_s() - t0) / done;
	printf("%-6s %-8s single %7.0f ns/req   batch %6.0f ns/req   "
	       "interrupts %u\n",
	       packed ? "packed" : "split", eventfds ? "eventfd" : "sync",
	       single * 1e9, batch * 1e9, vdev_drv_interrupts(drv, 0));
	vdev_drv_free(drv);
	vdev_free(t.dev);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 0) : 200000;

	if (!n)
		n = 1;
	for (int k = 0; k < 4; k++)
		if (run(k & 1, k & 2, n) < 0) {
			fprintf(stderr, "bench_core: request failed\n");
			return 1;
		}
	return 0;
}
