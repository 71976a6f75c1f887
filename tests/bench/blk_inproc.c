/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-blk in process: requests per second per core through the software
 * driver (split and packed rings, synchronous kicks), 4 KiB reads at queue
 * depth 1 and 32, with the null and ram backends, so the numbers measure
 * the queue, the core and the device model rather than a disk; and 1 MiB
 * sequential reads and writes at queue depth 4 on the file backends (the
 * image layer's worker pool), in MiB/s.
 *
 * Usage: bench_blk_inproc [seconds per case, default 1] [image file]
 * The uring and sync backends are measured too, on that image file (at
 * least 256 MiB) or, without one, on a 256 MiB image written in each of
 * $VDEV_BENCH_BLK_DIRS (default "/dev/shm /var/tmp": tmpfs and, usually,
 * a disk file system; page cache either way), split ring only.
 * $VDEV_BENCH_CASE, when set, runs only the cases whose name ("uring
 * split read qd=1 bs=4096") contains it: one case under callgrind, for
 * instruction counts per request that do not depend on the host's load.
 * Prints one line per case; never fails on time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <virtio/blk.h>
#include <virtio/testing.h>
#include <virtio/transport.h>


struct slot {
	struct vdev_drv_seg segs[3];
	uint8_t *st;
};

static double now(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int run(enum vdev_blk_backend be, unsigned qd, bool packed,
	       double seconds, const char *path, uint32_t bs, bool write)
{
	struct vdev_blk_config cfg = {
		.backend = be,
		.path = path,
		.size = 256u << 20,
		.queue_size = 256,
	};
	struct vdev_drv_config dcfg = {
		.queue_size = 256,
		.packed = packed,
		.mem_size = 128u << 20,
	};
	struct slot slots[64];
	struct vdev_drv_ring *ring;
	struct vdev_drv_mem *m;
	struct vdev_drv *drv;
	struct vdev *dev;
	unsigned long long done = 0, bad = 0, rounds = 0;
	double w0, c0, w1, c1;
	uint64_t sector = 0;
	uint64_t nsect;
	const char *only = getenv("VDEV_BENCH_CASE");
	char name[96];

	snprintf(name, sizeof(name), "%s %s %s qd=%u bs=%u",
		 vdev_blk_backend_name(be), packed ? "packed" : "split",
		 write ? "write" : "read", qd, bs);
	if (only && !strstr(name, only))
		return 0;
	dev = vdev_blk_new(&cfg);
	if (!dev) {
		fprintf(stderr, "vdev_blk_new: %s\n", strerror(errno));
		return 1;
	}
	drv = vdev_drv_new(dev, &dcfg);
	if (!drv || vdev_drv_init(drv) < 0) {
		fprintf(stderr, "driver setup failed\n");
		return 1;
	}
	vdev_drv_config_read(drv, 0, &nsect, 8);
	nsect = vdev_le64_to_cpu(nsect);
	if (nsect < 8) {
		fprintf(stderr, "image too small\n");
		return 1;
	}
	m = vdev_drv_get_mem(drv);
	ring = vdev_drv_ring(drv, 0);
	/* Buffers are set up once and reused: the loop measures requests,
	 * not the test driver's allocator. */
	for (unsigned i = 0; i < qd; i++) {
		struct vdev_blk_req_hdr *h;

		h = vdev_drv_mem_alloc(m, sizeof(*h), 16, &slots[i].segs[0].gpa);
		h->type = vdev_cpu_to_le32(write ? VDEV_BLK_T_OUT
						 : VDEV_BLK_T_IN);
		slots[i].segs[0].len = sizeof(*h);
		vdev_drv_mem_alloc(m, bs, 4096, &slots[i].segs[1].gpa);
		slots[i].segs[1].len = bs;
		slots[i].st = vdev_drv_mem_alloc(m, 1, 1, &slots[i].segs[2].gpa);
		slots[i].segs[2].len = 1;
	}

	w0 = now(CLOCK_MONOTONIC);
	c0 = now(CLOCK_PROCESS_CPUTIME_ID);
	for (unsigned i = 0; i < qd; i++)
		vdev_drv_ring_add(ring, slots[i].segs, write ? 2 : 1,
				  write ? 1 : 2, &slots[i], 0);
	vdev_drv_kick(drv, 0);
	for (;;) {
		void *tok;
		uint32_t len;
		unsigned got = 0;
		int r;

		/* Completions: all that are there, or wait for one (the
		 * io_uring backend completes from the driver's loop). */
		while ((r = vdev_drv_ring_get_used(ring, &tok, &len)) == 0 ||
		       (!got && (r = vdev_drv_wait(drv, 0, 1000, &tok,
						   &len)) == 0)) {
			struct slot *s = tok;
			struct vdev_blk_req_hdr *h =
				vdev_drv_mem_host(m, s->segs[0].gpa);

			if (*s->st != VDEV_BLK_S_OK ||
			    len != (write ? 1 : bs + 1))
				bad++;
			done++;
			got++;
			if (bs > 4096) {
				/* sequential */
				sector += bs / 512;
				if (sector + bs / 512 > nsect)
					sector = 0;
			} else {
				/* random-ish 4 KiB-aligned offsets */
				sector = (sector + 8 * 7919) % (nsect - 7);
			}
			h->sector = vdev_cpu_to_le64(sector & ~7ull);
			vdev_drv_ring_add(ring, s->segs, write ? 2 : 1,
					  write ? 1 : 2, s, 0);
		}
		if (!got) {
			fprintf(stderr, "no completion: %s\n", strerror(-r));
			return 1;
		}
		if (!(++rounds & 63) && now(CLOCK_MONOTONIC) - w0 >= seconds)
			break;
		vdev_drv_kick(drv, 0);
	}
	w1 = now(CLOCK_MONOTONIC);
	c1 = now(CLOCK_PROCESS_CPUTIME_ID);
	printf("blk_inproc backend=%s%s%s ring=%s %s qd=%u bs=%u reqs=%llu "
	       "errors=%llu wall_s=%.2f cpu_s=%.2f req/s=%.0f "
	       "req/s/core=%.0f MiB/s=%.0f\n",
	       vdev_blk_backend_name(be), path ? " image=" : "",
	       path ? path : "", packed ? "packed" : "split",
	       write ? "write" : "read", qd, bs, done, bad, w1 - w0, c1 - c0,
	       (double)done / (w1 - w0), (double)done / (c1 - c0),
	       (double)done * bs / (w1 - w0) / 1048576);
	fflush(stdout);
	vdev_drv_free(drv);
	vdev_free(dev);
	return bad ? 1 : 0;
}

/* A 256 MiB image in @dir, written through (so it is in the page cache,
 * as a guest's working set would be); its path in @path. */
static int make_image(const char *dir, char *path, size_t len)
{
	static char buf[1 << 20];
	int fd;

	snprintf(path, len, "%s/bench-blk-XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0)
		return -errno;
	memset(buf, 0xa5, sizeof(buf));
	for (unsigned i = 0; i < 256; i++)
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
			int err = errno ? -errno : -ENOSPC;

			close(fd);
			unlink(path);
			return err;
		}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	const char *path = argc > 2 ? argv[2] : NULL;
	static const enum vdev_blk_backend bes[] = {
		VDEV_BLK_BACKEND_NULL, VDEV_BLK_BACKEND_RAM,
		VDEV_BLK_BACKEND_URING, VDEV_BLK_BACKEND_SYNC,
	};
	static const unsigned qds[] = { 1, 32 };
	unsigned nbe = path ? 4 : 2;
	int ret = 0;

	if (seconds <= 0)
		seconds = 1.0;
	for (unsigned p = 0; p < 2; p++)
		for (unsigned b = 0; b < nbe; b++)
			for (unsigned q = 0; q < 2; q++)
				ret |= run(bes[b], qds[q], p == 1, seconds,
					   path, 4096, false);
	if (!path) {
		const char *env = getenv("VDEV_BENCH_BLK_DIRS");
		char dirs[256], *save = NULL, img[300];

		snprintf(dirs, sizeof(dirs), "%s",
			 env ? env : "/dev/shm /var/tmp");
		for (char *d = strtok_r(dirs, " ", &save); d;
		     d = strtok_r(NULL, " ", &save)) {
			int err = make_image(d, img, sizeof(img));

			if (err) {
				printf("blk_inproc image in %s: %s, skipped\n",
				       d, strerror(-err));
				continue;
			}
			for (unsigned b = 2; b < 4; b++)
				for (unsigned q = 0; q < 2; q++)
					ret |= run(bes[b], qds[q], false,
						   seconds, img, 4096, false);
			for (unsigned b = 2; b < 4; b++)
				for (int w = 0; w < 2; w++)
					ret |= run(bes[b], 4, false, seconds,
						   img, 1u << 20, w);
			unlink(img);
		}
	}
	return ret;
}
