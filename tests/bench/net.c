/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-net packet rates on the sink/source backend: the device's own
 * cost per packet, without a host network stack.
 *
 *  tx: the driver keeps the tx ring full of one-descriptor chains, the
 *      12-byte header then the frame (as Linux sends them with
 *      VERSION_1: the header pushed into the skb's headroom); the device
 *      validates each header and hands the frame to the sink.
 *  rx: the driver keeps the rx ring full of 2048-byte buffers (mergeable
 *      rx, as Linux's); the device's source fills each with a frame.
 *
 * Two ways: in process (software driver, synchronous kicks: driver and
 * device on one core, one after the other) and over vhost-user to
 * vdev-net (driver here, device in the daemon: two cores, eventfd kicks
 * and interrupts; with --poll-us the daemon polls instead). 64- and
 * 1500-byte frames, split and packed rings. Prints Mpps; never fails on
 * time.
 *
 * usage: bench_net [packets per row, default 2000000] [vhost-user only:
 *        "vu", in process only: "ip" (for callgrind: instructions per
 *        packet), then optionally one row: split-64, packed-1500, ...]
 *        — the daemon is found next to this program's build tree
 *        (../daemons/net/vdev-net) or at $VDEV_NET.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <virtio/net.h>
#include <virtio/testing.h>
#include "tspawn.h"

#define RING 256
#define RXBUF 2048

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct slot {
	struct vdev_drv_seg segs[2];
};

/* Keeps @q's ring full for @n packets; returns packets per second. */
static double run(struct vdev_drv *drv, unsigned q, bool tx, uint32_t len,
		  unsigned long n)
{
	struct vdev_drv_mem *m = vdev_drv_get_mem(drv);
	struct vdev_drv_ring *ring = vdev_drv_ring(drv, q);
	static struct slot slots[RING];
	unsigned long done = 0, posted = 0;
	size_t mark = vdev_drv_mem_mark(m);
	double t0;

	for (unsigned i = 0; i < RING; i++) {
		struct slot *s = &slots[i];

		if (tx) {
			uint8_t *f = vdev_drv_mem_alloc(m, 12 + len, 64,
							&s->segs[0].gpa);

			s->segs[0].len = 12 + len;
			f += 12;
			memset(f, 0xff, 6);
			f[12] = 0x88;
			f[13] = 0xb5;
		} else {
			vdev_drv_mem_alloc(m, RXBUF, 64, &s->segs[0].gpa);
			s->segs[0].len = RXBUF;
		}
	}
	t0 = now_s();
	for (unsigned i = 0; i < RING && posted < n; i++, posted++)
		if (vdev_drv_ring_add(ring, slots[i].segs, tx ? 1 : 0,
				      tx ? 0 : 1, &slots[i], 0) < 0)
			break;
	vdev_drv_kick(drv, q);
	while (done < n) {
		void *tok;
		uint32_t l;
		unsigned got = 0;
		int r;

		while ((r = vdev_drv_ring_get_used(ring, &tok, &l)) == 0) {
			struct slot *s = tok;

			got++;
			done++;
			if (posted < n) {
				vdev_drv_ring_add(ring, s->segs, tx ? 1 : 0,
						  tx ? 0 : 1, s, 0);
				posted++;
			}
		}
		if (r != -EAGAIN) {
			fprintf(stderr, "bench_net: get_used: %s\n",
				strerror(-r));
			break;
		}
		if (got) {
			vdev_drv_kick(drv, q);
			continue;
		}
		r = vdev_drv_wait(drv, q, 5000, &tok, &l);
		if (r < 0) {
			fprintf(stderr, "bench_net: no completion: %s "
				"(%lu of %lu, %lu posted, %u in flight)\n",
				strerror(-r), done, n, posted,
				vdev_drv_ring_inflight(ring));
			break;
		}
		done++;
		if (posted < n) {
			struct slot *s = tok;

			vdev_drv_ring_add(ring, s->segs, tx ? 1 : 0, tx ? 0 : 1,
					  s, 0);
			posted++;
			vdev_drv_kick(drv, q);
		}
	}
	t0 = now_s() - t0;
	/* Let the ring drain before the memory is reused. */
	while (vdev_drv_ring_inflight(ring)) {
		void *tok;
		uint32_t l;

		if (vdev_drv_wait(drv, q, 2000, &tok, &l) < 0)
			break;
	}
	vdev_drv_mem_reset_to(m, mark);
	return (double)done / t0;
}

static void row(const char *how, bool packed, uint32_t len, double tx,
		double rx)
{
	printf("%-22s %-6s %5u B   tx %6.2f Mpps   rx %6.2f Mpps\n", how,
	       packed ? "packed" : "split", len, tx / 1e6, rx / 1e6);
	fflush(stdout);
}

/* @only: "split-64", "packed-1500", ... or NULL for every row. */
static void inproc(unsigned long n, const char *only)
{
	for (int packed = 0; packed < 2; packed++) {
		for (int k = 0; k < 2; k++) {
			uint32_t len = k ? 1500 : 64;
			char name[32];

			snprintf(name, sizeof(name), "%s-%u",
				 packed ? "packed" : "split", len);
			if (only && strcmp(only, name))
				continue;
			struct vdev_net_config c = { .backend = VDEV_NET_SINK,
						     .source_len = len };
			struct vdev_drv_config dc = { .queue_size = RING,
						      .packed = packed,
						      .mem_size = 64 << 20 };
			struct vdev *dev = vdev_net_new(&c);
			struct vdev_drv *drv = dev ? vdev_drv_new(dev, &dc) :
						     NULL;
			double tx, rx;

			if (!drv || vdev_drv_init(drv) < 0) {
				fprintf(stderr, "bench_net: setup failed\n");
				exit(1);
			}
			tx = run(drv, 1, true, len, n);
			rx = run(drv, 0, false, len, n);
			row("in process (1 core)", packed, len, tx, rx);
			vdev_drv_free(drv);
			vdev_free(dev);
		}
	}
}

static void daemon_path(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n;

	if (getenv("VDEV_NET")) {
		snprintf(out, len, "%s", getenv("VDEV_NET"));
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0) {
		out[0] = 0;
		return;
	}
	self[n] = 0;
	*strrchr(self, '/') = 0;
	snprintf(out, len, "%s/../daemons/net/vdev-net", self);
}

static void vhost_user(unsigned long n, const char *poll_us)
{
	char bin[PATH_MAX + 32], sock[64];

	daemon_path(bin, sizeof(bin));
	if (access(bin, X_OK) != 0) {
		printf("vhost-user: SKIP, no daemon at %s\n", bin);
		return;
	}
	snprintf(sock, sizeof(sock), "/tmp/vdev-bench-net-%d.sock",
		 (int)getpid());
	for (int packed = 0; packed < 2; packed++) {
		for (int k = 0; k < 2; k++) {
			uint32_t len = k ? 1500 : 64;
			char lens[16], how[64];
			const char *argv[] = { bin, "-s", sock, "--sink",
					       "--source-len", lens,
					       "--poll-us", poll_us, NULL };
			struct vdev_drv_config dc = { .queue_size = RING,
						      .packed = packed,
						      .mem_size = 64 << 20 };
			struct tspawn t;
			struct vdev_drv *drv;
			double tx, rx;

			snprintf(lens, sizeof(lens), "%u", len);
			unlink(sock);
			if (tspawn_start(&t, argv, &(struct tspawn_opts){
							   .fd = -1 }) < 0 ||
			    tspawn_wait_socket(&t, sock, 10000, NULL) < 0) {
				printf("vhost-user: SKIP, daemon did not start\n");
				tspawn_kill_all();
				return;
			}
			drv = vdev_drv_connect_vhost_user(sock, &dc);
			if (!drv || vdev_drv_init(drv) < 0) {
				fprintf(stderr, "bench_net: vhost-user setup\n");
				tspawn_kill_all();
				exit(1);
			}
			tx = run(drv, 1, true, len, n);
			rx = run(drv, 0, false, len, n);
			snprintf(how, sizeof(how), "vhost-user poll-us=%s",
				 poll_us);
			row(how, packed, len, tx, rx);
			vdev_drv_free(drv);
			tspawn_stop(&t, SIGTERM, 5000);
		}
	}
	unlink(sock);
}

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 0) : 2000000;
	bool vu_only = argc > 2 && !strcmp(argv[2], "vu");
	bool ip_only = argc > 2 && !strcmp(argv[2], "ip");

	if (!n)
		n = 2000000;
	printf("virtio-net on the sink/source backend, %lu packets per row, "
	       "ring %u\n", n, RING);
	if (!vu_only)
		inproc(n, ip_only && argc > 3 ? argv[3] : NULL);
	if (ip_only)
		return 0;
	vhost_user(n, "0");
	vhost_user(n, "1000");
	return 0;
}
