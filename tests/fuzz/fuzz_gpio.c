/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the virtio-gpio parsers (gpio.c): the requestq
 * request and the eventq buffer, each a well-formed descriptor chain
 * whose contents and shape come from the fuzzer, driven through the
 * software driver against a simulated chip of 8 lines.
 *
 * Input:
 *   [0] bit 0: eventq instead of requestq; bits 1-2: the host drives
 *       line ([1] % 8) (0 nothing, 1 low, 2 high, 3 pulse) after the
 *       chain; bit 3: reset the device afterwards
 *   [1] device-readable descriptors (1 + v % 3)
 *   [2] device-writable descriptors (v % 3)
 *   then one byte length per descriptor (0 counts as 1), then the
 *   device-readable bytes (missing bytes are zero).
 * A requestq chain must complete at once with at most the writable bytes;
 * an eventq chain completes or is held (one per line); the queue never
 * breaks, the device never asks for a reset. A reset (or 64 inputs)
 * returns every held buffer.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <virtio/gpio.h>
#include <virtio/testing.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vdev *dev;
static struct vdev_drv *drv;
static unsigned since_reset;

static void setup(void)
{
	struct vdev_gpio_config cfg = { .sim_lines = 8 };
	struct vdev_drv_config dcfg = { .mem_size = 1u << 20,
					.queue_size = 64 };

	dev = vdev_gpio_new(&cfg);
	if (!dev)
		abort();
	drv = vdev_drv_new(dev, &dcfg);
	if (!drv || vdev_drv_init(drv))
		abort();
}

/* Takes every completion; false when one is not a chain we made. */
static bool reap(unsigned q, uint32_t max_used)
{
	void *tok;
	uint32_t used;
	int r;

	while ((r = vdev_drv_ring_get_used(vdev_drv_ring(drv, q), &tok,
					   &used)) == 0) {
		if (used > max_used)
			return false;
	}
	return r == -EAGAIN;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vdev_drv_seg segs[6];
	struct vdev_drv_mem *m;
	unsigned nout, nin, n, q, line;
	size_t mark, off;
	uint32_t in_total = 0;

	if (size < 3)
		return 0;
	if (!dev)
		setup();
	q = data[0] & 1;
	line = data[1] % 8;
	nout = 1 + data[1] % 3;
	nin = data[2] % 3;
	n = nout + nin;
	if (size < 3 + (size_t)n)
		return 0;
	m = vdev_drv_get_mem(drv);
	mark = vdev_drv_mem_mark(m);
	off = 3 + (size_t)n;
	for (unsigned i = 0; i < n; i++) {
		uint32_t len = data[3 + i] ? data[3 + i] : 1;
		uint8_t *p = vdev_drv_mem_alloc(m, len, 1, &segs[i].gpa);

		if (!p)
			abort();
		segs[i].len = len;
		if (i < nout && off < size) {
			size_t k = size - off < len ? size - off : len;

			memcpy(p, data + off, k);
			off += k;
		}
		if (i >= nout)
			in_total += len;
	}
	if (vdev_drv_ring_add(vdev_drv_ring(drv, q), segs, nout, nin, segs, 0))
		abort();
	if (vdev_drv_kick(drv, q))
		abort();
	switch ((data[0] >> 1) & 3) {
	case 1: vdev_gpio_sim_set(dev, line, 0); break;
	case 2: vdev_gpio_sim_set(dev, line, 1); break;
	case 3: vdev_gpio_sim_pulse(dev, line); break;
	}
	vdev_drv_poll(drv, 0);
	/* Synchronous kicks: a request is answered by now. */
	if (!reap(0, 1 + 64) || !reap(1, in_total > 1 ? in_total : 1))
		abort();
	if (q == 0 && vdev_drv_ring_inflight(vdev_drv_ring(drv, 0)))
		abort();
	if (vdev_drv_ring_inflight(vdev_drv_ring(drv, 1)) > 8)
		abort();
	if (vdev_queue_broken(vdev_get_queue(dev, 0)) ||
	    vdev_queue_broken(vdev_get_queue(dev, 1)) ||
	    (vdev_drv_status(drv) & VDEV_STATUS_DEVICE_NEEDS_RESET))
		abort();
	if ((data[0] & 8) || ++since_reset == 64) {
		/* the reset gives every held buffer back; the driver's rings
		 * start over */
		since_reset = 0;
		vdev_drv_free(drv);
		vdev_free(dev);
		dev = NULL;
		setup();
		return 0;
	}
	/* held eventq buffers keep their memory until they come back */
	if (!vdev_drv_ring_inflight(vdev_drv_ring(drv, 1)))
		vdev_drv_mem_reset_to(m, mark);
	return 0;
}
