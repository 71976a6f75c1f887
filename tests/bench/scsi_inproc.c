/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-scsi in process: commands per second per core through the
 * software driver (split and packed rings), the same loop as
 * blk_inproc.c's so the two compare: 4 KiB READ(10) and WRITE(10) at
 * queue depth 1 and 32 on an image in /dev/shm (page cache only), TEST
 * UNIT READY (no data: the virtio and SCSI layers alone), and 1 MiB
 * sequential READ(10) and WRITE(10) at queue depth 4 in 64 KiB segments
 * (as Linux's SCSI layer sends them), in MiB/s.
 *
 * Usage: bench_scsi_inproc [seconds per case, default 1] [image file]
 * Without an image a 256 MiB one is made in /dev/shm and removed after.
 * $VDEV_BENCH_CASE, when set, runs only the cases whose name ("read qd 1
 * split bs 4096") contains it: one case under callgrind gives instruction
 * counts per command that do not depend on the host's load.
 * Prints one line per case; never fails on time.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <virtio/scsi.h>
#include <virtio/testing.h>
#include <virtio/transport.h>

#define BS 4096u
#define BIG (1u << 20)
/* What Linux's SCSI layer makes of a large buffer: segments of at most
 * 64 KiB (its default max_segment_size). */
#define SEG (64u << 10)
#define MAXSEG (BIG / SEG)
#define IMG_SIZE (256ull << 20)
#define RQ VDEV_SCSI_REQ_QUEUE0

enum op { OP_TUR, OP_READ, OP_WRITE };

struct slot {
	struct vdev_drv_seg req, resp, data[MAXSEG];
	unsigned nseg;
	struct vdev_scsi_cmd_req *r;
	struct vdev_scsi_cmd_resp *s;
};

static double now(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void set_cdb(struct slot *s, enum op op, uint32_t lba, uint32_t bs)
{
	uint8_t *cdb = s->r->cdb;
	uint16_t nb = (uint16_t)(bs / 512);

	memset(cdb, 0, 10);
	if (op == OP_TUR)
		return;
	cdb[0] = op == OP_READ ? 0x28 : 0x2a;
	cdb[2] = (uint8_t)(lba >> 24);
	cdb[3] = (uint8_t)(lba >> 16);
	cdb[4] = (uint8_t)(lba >> 8);
	cdb[5] = (uint8_t)lba;
	cdb[7] = (uint8_t)(nb >> 8);
	cdb[8] = (uint8_t)nb;
}

static void add(struct vdev_drv_ring *ring, struct slot *s, enum op op)
{
	struct vdev_drv_seg segs[2 + MAXSEG];
	unsigned n = 0, nout;

	segs[n++] = s->req;
	if (op == OP_WRITE)
		for (unsigned i = 0; i < s->nseg; i++)
			segs[n++] = s->data[i];
	nout = n;
	segs[n++] = s->resp;
	if (op == OP_READ)
		for (unsigned i = 0; i < s->nseg; i++)
			segs[n++] = s->data[i];
	if (vdev_drv_ring_add(ring, segs, nout, n - nout, s, 0))
		abort();
}

/* The next LBA: random-ish 4 KiB steps, or sequential for large ones. */
static uint32_t next_lba(uint32_t lba, uint32_t bs, uint32_t nblk)
{
	if (bs > BS)
		return lba + 2 * bs / 512 > nblk ? 0 : lba + bs / 512;
	return (lba + 8 * 7919) % (nblk - 7) & ~7u;
}

static int run(const char *path, enum op op, unsigned qd, bool packed,
	       uint32_t bs, double seconds)
{
	static const char *const names[] = { "tur", "read", "write" };
	const char *paths[1] = { path };
	struct vdev_scsi_config cfg = { .paths = paths, .num_luns = 1,
					.queue_size = 256 };
	struct vdev_drv_config dcfg = { .queue_size = 256, .packed = packed,
					.mem_size = 64u << 20 };
	struct slot slots[64];
	struct vdev_drv_ring *ring;
	struct vdev_drv_mem *m;
	struct vdev_drv *drv;
	struct vdev *dev;
	unsigned long long done = 0, bad = 0, rounds = 0;
	uint32_t lba = 0, nblk = (uint32_t)(IMG_SIZE / 512);
	double w0, c0, w1, c1;
	const char *only = getenv("VDEV_BENCH_CASE");
	char name[64];

	snprintf(name, sizeof(name), "%s qd %u %s bs %u", names[op], qd,
		 packed ? "packed" : "split", bs);
	if (only && !strstr(name, only))
		return 0;
	dev = vdev_scsi_new(&cfg);
	if (!dev)
		return -errno;
	drv = vdev_drv_new(dev, &dcfg);
	if (!drv || vdev_drv_init(drv))
		return -EIO;
	m = vdev_drv_get_mem(drv);
	ring = vdev_drv_ring(drv, RQ);
	for (unsigned i = 0; i < qd; i++) {
		struct slot *s = &slots[i];
		uint32_t seg = bs < SEG ? bs : SEG;

		s->r = vdev_drv_mem_alloc(m, sizeof(*s->r), 8, &s->req.gpa);
		s->s = vdev_drv_mem_alloc(m, sizeof(*s->s), 8, &s->resp.gpa);
		if (!s->r || !s->s)
			return -ENOMEM;
		s->req.len = sizeof(*s->r);
		s->resp.len = sizeof(*s->s);
		s->nseg = bs / seg;
		for (unsigned k = 0; k < s->nseg; k++) {
			if (!vdev_drv_mem_alloc(m, seg, 4096, &s->data[k].gpa))
				return -ENOMEM;
			s->data[k].len = seg;
		}
		s->r->lun[0] = 1;
		s->r->lun[2] = 0x40;
	}
	w0 = now(CLOCK_MONOTONIC);
	c0 = now(CLOCK_PROCESS_CPUTIME_ID);
	for (unsigned i = 0; i < qd; i++) {
		set_cdb(&slots[i], op, lba, bs);
		lba = next_lba(lba, bs, nblk);
		add(ring, &slots[i], op);
	}
	vdev_drv_kick(drv, RQ);
	for (;;) {
		void *tok;
		uint32_t len;
		unsigned got = 0;
		int r;

		/* Completions: all that are there, or wait for one (large
		 * transfers complete from the driver's loop). */
		while ((r = vdev_drv_ring_get_used(ring, &tok, &len)) == 0 ||
		       (!got && (r = vdev_drv_wait(drv, RQ, 1000, &tok,
						   &len)) == 0)) {
			struct slot *s = tok;

			if (s->s->response || s->s->status)
				bad++;
			done++;
			got++;
			set_cdb(s, op, lba, bs);
			lba = next_lba(lba, bs, nblk);
			add(ring, s, op);
		}
		if (!got) {
			fprintf(stderr, "no completion: %s\n", strerror(-r));
			return -EIO;
		}
		if (!(++rounds & 63) && now(CLOCK_MONOTONIC) - w0 >= seconds)
			break;
		vdev_drv_kick(drv, RQ);
	}
	w1 = now(CLOCK_MONOTONIC);
	c1 = now(CLOCK_PROCESS_CPUTIME_ID);
	printf("scsi %-5s qd %-2u %-6s bs %-7u %9.0f cmd/s  %9.0f cmd/s per "
	       "CPU second  %7.0f MiB/s  cmds=%llu%s\n",
	       names[op], qd, packed ? "packed" : "split", bs,
	       (double)done / (w1 - w0), (double)done / (c1 - c0),
	       (double)done * bs / (w1 - w0) / 1048576, done,
	       bad ? "  (ERRORS)" : "");
	fflush(stdout);
	vdev_drv_free(drv);
	vdev_free(dev);
	return bad ? -EIO : 0;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 1.0;
	char tmp[] = "/dev/shm/vdev-bench-scsi-XXXXXX";
	const char *path = argc > 2 ? argv[2] : NULL;
	int ret = 0;

	if (!path) {
		int fd = mkstemp(tmp);

		if (fd < 0 || ftruncate(fd, (off_t)IMG_SIZE) < 0) {
			perror("bench_scsi_inproc: image");
			return 1;
		}
		close(fd);
		path = tmp;
	}
	for (int op = OP_TUR; op <= OP_WRITE && !ret; op++)
		for (unsigned p = 0; p < 2 && !ret; p++)
			for (unsigned qd = 1; qd <= 32 && !ret; qd *= 32)
				ret = run(path, (enum op)op, qd, p, BS, secs);
	/* Large transfers: the image layer's worker pool (split ring). */
	for (int op = OP_READ; op <= OP_WRITE && !ret; op++)
		ret = run(path, (enum op)op, 4, false, BIG, secs);
	if (path == tmp)
		unlink(tmp);
	if (ret)
		fprintf(stderr, "bench_scsi_inproc: %s\n", strerror(-ret));
	return ret ? 1 : 0;
}
