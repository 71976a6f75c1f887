/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-scsi in process: commands per second per core through the
 * software driver (split and packed rings, synchronous kicks): 4 KiB
 * READ(10) and WRITE(10) at queue depth 1 and 32 on an image in /dev/shm
 * (page cache only), and TEST UNIT READY (no data: the virtio and SCSI
 * layers alone).
 *
 * Usage: bench_scsi_inproc [seconds per case, default 1] [image file]
 * Without an image a 256 MiB one is made in /dev/shm and removed after.
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
#define IMG_SIZE (256ull << 20)
#define RQ VDEV_SCSI_REQ_QUEUE0

enum op { OP_TUR, OP_READ, OP_WRITE };

struct slot {
	struct vdev_drv_seg segs[3];
	struct vdev_scsi_cmd_req *req;
	struct vdev_scsi_cmd_resp *resp;
};

static double now(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void set_cdb(struct slot *s, enum op op, uint32_t lba)
{
	uint8_t *cdb = s->req->cdb;

	memset(cdb, 0, 10);
	if (op == OP_TUR)
		return;
	cdb[0] = op == OP_READ ? 0x28 : 0x2a;
	cdb[2] = (uint8_t)(lba >> 24);
	cdb[3] = (uint8_t)(lba >> 16);
	cdb[4] = (uint8_t)(lba >> 8);
	cdb[5] = (uint8_t)lba;
	cdb[8] = BS / 512;
}

static void add(struct vdev_drv_ring *ring, struct slot *s, enum op op)
{
	unsigned nout = op == OP_WRITE ? 2 : 1;
	unsigned nin = op == OP_READ ? 2 : 1;
	struct vdev_drv_seg segs[3];

	segs[0] = s->segs[0];
	if (op == OP_WRITE) {
		segs[1] = s->segs[2];
		segs[2] = s->segs[1];
	} else {
		segs[1] = s->segs[1];
		segs[2] = s->segs[2];
	}
	if (vdev_drv_ring_add(ring, segs, nout, nin, s, 0))
		abort();
}

static int run(const char *path, enum op op, unsigned qd, bool packed,
	       double seconds)
{
	static const char *const names[] = { "tur", "read", "write" };
	const char *paths[1] = { path };
	struct vdev_scsi_config cfg = { .paths = paths, .num_luns = 1,
					.queue_size = 256 };
	struct vdev_drv_config dcfg = { .queue_size = 256, .packed = packed,
					.mem_size = 16u << 20 };
	struct slot slots[64];
	struct vdev_drv_ring *ring;
	struct vdev_drv_mem *m;
	struct vdev_drv *drv;
	struct vdev *dev;
	unsigned long long done = 0, bad = 0;
	uint32_t lba = 0, nblk = (uint32_t)(IMG_SIZE / 512);
	double w0, c0, w1, c1;

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

		s->req = vdev_drv_mem_alloc(m, sizeof(*s->req), 8,
					    &s->segs[0].gpa);
		s->resp = vdev_drv_mem_alloc(m, sizeof(*s->resp), 8,
					     &s->segs[1].gpa);
		if (!s->req || !s->resp ||
		    !vdev_drv_mem_alloc(m, BS, 4096, &s->segs[2].gpa))
			return -ENOMEM;
		s->segs[0].len = sizeof(*s->req);
		s->segs[1].len = sizeof(*s->resp);
		s->segs[2].len = BS;
		s->req->lun[0] = 1;
		s->req->lun[2] = 0x40;
		set_cdb(s, op, lba);
		lba = (lba + BS / 512) % nblk;
		add(ring, s, op);
	}
	w0 = now(CLOCK_MONOTONIC);
	c0 = now(CLOCK_PROCESS_CPUTIME_ID);
	do {
		void *tok;
		uint32_t len;

		for (unsigned k = 0; k < 256; k++) {
			vdev_vq_kick(dev, RQ, 0);
			while (vdev_drv_ring_get_used(ring, &tok, &len) == 0) {
				struct slot *s = tok;

				if (s->resp->response || s->resp->status)
					bad++;
				done++;
				set_cdb(s, op, lba);
				lba = (lba + BS / 512) % nblk;
				add(ring, s, op);
			}
		}
		w1 = now(CLOCK_MONOTONIC);
	} while (w1 - w0 < seconds);
	c1 = now(CLOCK_PROCESS_CPUTIME_ID);
	printf("scsi %-5s qd %-2u %-6s %9.0f cmd/s  %9.0f cmd/s per CPU "
	       "second%s\n",
	       names[op], qd, packed ? "packed" : "split",
	       (double)done / (w1 - w0), (double)done / (c1 - c0),
	       bad ? "  (ERRORS)" : "");
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
				ret = run(path, (enum op)op, qd, p, secs);
	if (path == tmp)
		unlink(tmp);
	if (ret)
		fprintf(stderr, "bench_scsi_inproc: %s\n", strerror(-ret));
	return ret ? 1 : 0;
}
