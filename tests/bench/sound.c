/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-sound pacing, as a driver sees it: a playback stream at 48 kHz
 * S16 stereo with 4 periods queued, run through the software driver
 * (eventfds, the device's timer on the driver's loop), for the null and
 * file backends with 10 ms and 1 ms periods. Prints per configuration:
 *  - jitter: completion time minus the ideal one (START sent + k
 *    periods), in us: min, median, p99, max. The device starts its clock
 *    when it handles START, somewhere within the START round trip
 *    ("start", us), so jitter overstates lateness by at most that;
 *  - latency: submit to completion of a period, in ms (4 periods queued:
 *    the guest's view of the device's buffer), and the latency_bytes the
 *    device reported, in ms;
 *  - CPU: user + system time of the process (device and driver) per
 *    second of audio;
 *  - xruns: PCM_XRUN events the device sent (the driver came back more
 *    than a period late; the device's clock starts again then, so the
 *    jitter after it includes the gap).
 *
 * usage: bench_sound [seconds per configuration, default 2]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <virtio/sound.h>
#include <virtio/testing.h>

#include "core/bytes.h"

#define DEPTH 4
#define EVENTS 16

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int ctl(struct vdev_drv *drv, const uint8_t *req, size_t len)
{
	uint8_t r[4] = { 0 };
	uint32_t w;

	if (vdev_drv_xfer(drv, 0, req, len, r, 4, &w, 2000) || w != 4)
		return -1;
	return get_le32(r) == 0x8000 ? 0 : -1;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

struct slot {
	uint8_t *hdr, *data, *status;
	struct vdev_drv_seg seg[3];
	int64_t submitted;
};

static int run(const char *name, enum vdev_sound_backend be,
	       unsigned period_ms, unsigned seconds)
{
	char out[64];
	struct vdev_sound_config c = { .backend = be, .out_path = out };
	struct vdev_drv_config dc = { .use_eventfds = true, .queue_size = 64 };
	uint32_t period = 48 * 4 * period_ms;
	unsigned total = seconds * 1000 / period_ms, got = 0;
	int64_t *jit = calloc(total, sizeof(*jit));
	int64_t *lat = calloc(total, sizeof(*lat));
	uint64_t lat_bytes = 0;
	unsigned xruns = 0;
	struct vdev_drv_seg evs[EVENTS];
	void *ev;
	struct slot s[DEPTH];
	struct vdev_drv *drv;
	struct vdev_drv_mem *m;
	struct vdev *dev;
	uint8_t req[24] = { 0 };
	int64_t t0, start_us;
	double c0, cpu;

	snprintf(out, sizeof(out), "/tmp/vdev-bench-snd-%d.raw", (int)getpid());
	dev = vdev_sound_new(&c);
	drv = dev ? vdev_drv_new(dev, &dc) : NULL;
	if (!drv || vdev_drv_init(drv) || !jit || !lat) {
		fprintf(stderr, "bench_sound: setup failed\n");
		return 1;
	}
	put_le32(req, 0x101);
	put_le32(req + 8, period * DEPTH);
	put_le32(req + 12, period);
	put_le32(req + 16, 1u << 4); /* EVT_XRUNS */
	req[20] = 2;
	req[21] = VDEV_SND_FMT_S16;
	req[22] = VDEV_SND_RATE_48000;
	if (ctl(drv, req, 24))
		return 1;
	put_le32(req, 0x102);
	if (ctl(drv, req, 8))
		return 1;
	m = vdev_drv_get_mem(drv);
	for (int i = 0; i < EVENTS; i++) {
		struct vdev_drv_seg e;

		vdev_drv_mem_alloc(m, 8, 4, &e.gpa);
		e.len = 8;
		evs[i] = e;
		vdev_drv_ring_add(vdev_drv_ring(drv, 1), &evs[i], 0, 1,
				  &evs[i], 0);
	}
	vdev_drv_kick(drv, 1);
	for (int i = 0; i < DEPTH; i++) {
		s[i].hdr = vdev_drv_mem_alloc(m, 4, 4, &s[i].seg[0].gpa);
		s[i].data = vdev_drv_mem_alloc(m, period, 64, &s[i].seg[1].gpa);
		s[i].status = vdev_drv_mem_alloc(m, 8, 4, &s[i].seg[2].gpa);
		s[i].seg[0].len = 4;
		s[i].seg[1].len = period;
		s[i].seg[2].len = 8;
		memset(s[i].data, i, period);
		s[i].submitted = now_us();
		vdev_drv_ring_add(vdev_drv_ring(drv, 2), s[i].seg, 2, 1, &s[i],
				  0);
	}
	vdev_drv_kick(drv, 2);
	put_le32(req, 0x104);
	t0 = now_us();
	c0 = cpu_s();
	if (ctl(drv, req, 8))
		return 1;
	start_us = now_us() - t0;
	while (got < total) {
		struct slot *d;
		uint32_t len;
		int64_t t;

		if (vdev_drv_wait(drv, 2, 2000, (void **)&d, &len)) {
			fprintf(stderr, "bench_sound: no completion\n");
			return 1;
		}
		t = now_us();
		jit[got] = t - (t0 + (int64_t)(got + 1) * period_ms * 1000);
		lat[got] = t - d->submitted;
		lat_bytes += get_le32(d->status + 4);
		got++;
		d->submitted = t;
		vdev_drv_ring_add(vdev_drv_ring(drv, 2), d->seg, 2, 1, d, 0);
		vdev_drv_kick(drv, 2);
		while (vdev_drv_ring_get_used(vdev_drv_ring(drv, 1), &ev,
					      &len) == 0) {
			xruns++;
			vdev_drv_ring_add(vdev_drv_ring(drv, 1), ev, 0, 1, ev,
					  0);
			vdev_drv_kick(drv, 1);
		}
	}
	cpu = cpu_s() - c0;
	qsort(jit, total, sizeof(*jit), cmp64);
	qsort(lat, total, sizeof(*lat), cmp64);
	printf("%-5s %2u ms  %6u  %6lld %6lld %6lld %7lld   %6.2f  %6.2f   %5.2f%%  %5u  %5lld\n",
	       name, period_ms, total, (long long)jit[0],
	       (long long)jit[total / 2], (long long)jit[total * 99 / 100],
	       (long long)jit[total - 1], lat[total / 2] / 1000.0,
	       (double)lat_bytes / total / 192.0, cpu / seconds * 100, xruns,
	       (long long)start_us);
	vdev_drv_free(drv);
	vdev_free(dev);
	unlink(out);
	free(jit);
	free(lat);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned secs = argc > 1 ? (unsigned)atoi(argv[1]) : 2;

	if (!secs)
		secs = 2;
	printf("virtio-sound playback, 48 kHz S16 stereo, %d periods queued, "
	       "%u s per line\n", DEPTH, secs);
	printf("%-5s %5s  %6s  %6s %6s %6s %7s   %6s  %6s   %6s  %5s  %5s\n", "be",
	       "period", "periods", "jit:min", "med", "p99", "max(us)",
	       "lat(ms)", "rep(ms)", "cpu", "xruns", "start");
	return run("null", VDEV_SOUND_BACKEND_NULL, 10, secs) ||
	       run("null", VDEV_SOUND_BACKEND_NULL, 1, secs) ||
	       run("file", VDEV_SOUND_BACKEND_FILE, 10, secs) ||
	       run("file", VDEV_SOUND_BACKEND_FILE, 1, secs);
}
