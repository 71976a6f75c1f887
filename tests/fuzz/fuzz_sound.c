/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the virtio-sound parsers (sound_ctl.c: control
 * requests and the PCM state machine; sound_kctl.c: CTLS control elements;
 * sound_io.c: I/O message headers and events), driven through the software driver on one device whose state
 * carries over from input to input, so sequences of requests (SET_PARAMS,
 * PREPARE, START, I/O, RELEASE, ...) are explored, not single messages.
 *
 * Input:
 *   [0] bits 0-1: the queue (0 control, 1 event, 2 tx, 3 rx); bit 2: the
 *       fake clock jumps 1 s after the request (held I/O comes due)
 *   [1] device-readable descriptors (v % 4), [2] device-writable (v % 4)
 *   then one le16 length per descriptor (0 counts as 1), then the
 *   device-readable bytes (missing bytes are zero).
 * A control request must complete within 2 s (a RELEASE once its I/O is
 * back) with a used length inside its writable part; no queue may break
 * and the device may never ask for a reset. Held I/O is bounded: past 32
 * buffers the driver resets the device, which returns them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <virtio/sound.h>
#include <virtio/testing.h>
#include <virtio/transport.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t fake_ns = 1000000000ull;

static uint64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_ns;
}

static struct vdev *dev;
static struct vdev_drv *drv;

static void setup(void)
{
	struct vdev_sound_config cfg = { .num_jacks = 2, .clock = fake_clock,
					 .controls = true };
	struct vdev_drv_config dcfg = { .mem_size = 4u << 20,
					.queue_size = 64,
					.use_eventfds = true };

	dev = vdev_sound_new(&cfg);
	if (!dev)
		abort();
	drv = vdev_drv_new(dev, &dcfg);
	if (!drv || vdev_drv_init(drv))
		abort();
}

static void check_device(void)
{
	for (unsigned q = 0; q < 4; q++)
		if (vdev_queue_broken(vdev_get_queue(dev, q)))
			abort();
	if (vdev_get_status(dev) & VDEV_STATUS_DEVICE_NEEDS_RESET)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned qmap[4] = { 0, 1, 2, 3 };
	struct vdev_drv_seg segs[8];
	struct vdev_drv_mem *m;
	unsigned nout, nin, n, q;
	size_t mark, off;
	uint32_t in_total = 0, used;
	void *tok;

	if (size < 3)
		return 0;
	if (!dev)
		setup();
	q = qmap[data[0] & 3];
	nout = data[1] % 4;
	nin = data[2] % 4;
	n = nout + nin;
	if (!n || size < 3 + 2 * (size_t)n)
		return 0;
	/* Too much held: a reset returns it (and is itself exercised). */
	for (unsigned i = 1; i < 4; i++)
		if (vdev_drv_ring_inflight(vdev_drv_ring(drv, i)) > 32) {
			if (vdev_drv_init(drv))
				abort();
			break;
		}
	m = vdev_drv_get_mem(drv);
	mark = vdev_drv_mem_mark(m);
	off = 3 + 2 * (size_t)n;
	for (unsigned i = 0; i < n; i++) {
		uint32_t len = data[3 + 2 * i] | data[4 + 2 * i] << 8;
		uint8_t *p;

		if (!len)
			len = 1;
		p = vdev_drv_mem_alloc(m, len, 1, &segs[i].gpa);
		if (!p) {
			/* RAM kept by held buffers ran out: a reset returns
			 * them and frees all of it (vdev_drv_init). */
			if (vdev_drv_init(drv))
				abort();
			return 0;
		}
		segs[i].len = len;
		if (i < nout && off < size) {
			size_t need = size - off < len ? size - off : len;

			memcpy(p, data + off, need);
			off += need;
		}
		if (i >= nout)
			in_total += len;
	}
	if (vdev_drv_ring_add(vdev_drv_ring(drv, q), segs, nout, nin, segs, 0)) {
		/* Ring full of held buffers: reset, drop this input. */
		if (vdev_drv_init(drv))
			abort();
		return 0;
	}
	if (vdev_drv_kick(drv, q))
		abort();
	if (q == 0) {
		if (vdev_drv_wait(drv, 0, 2000, &tok, &used) || tok != segs ||
		    used > in_total)
			abort();
	} else {
		/* I/O and event buffers may be held: take what completes. */
		while (vdev_drv_wait(drv, q, 0, &tok, &used) == 0)
			if (used > 65535u * 4)
				abort();
	}
	if (data[0] & 4) {
		fake_ns += 1000000000ull;
		for (unsigned i = 1; i < 4; i++)
			vdev_queue_schedule(dev, i);
		vdev_drv_poll(drv, 0);
		for (unsigned i = 1; i < 4; i++)
			while (vdev_drv_wait(drv, i, 0, &tok, &used) == 0)
				;
	}
	check_device();
	/* Buffers the device still holds keep their RAM (it writes their
	 * status later); only a completed control request's is reused. */
	if (q == 0 && !vdev_drv_ring_inflight(vdev_drv_ring(drv, 2)) &&
	    !vdev_drv_ring_inflight(vdev_drv_ring(drv, 3)) &&
	    !vdev_drv_ring_inflight(vdev_drv_ring(drv, 1)))
		vdev_drv_mem_reset_to(m, mark);
	return 0;
}
