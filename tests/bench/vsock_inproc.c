/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-vsock in-process: the software driver as the guest (4 KiB rx
 * buffers as Linux 6.1 posts them, 64 KiB tx packets), the hybrid Unix
 * socket as the host, all on one thread. Prints MB/s host to guest and
 * guest to host and connections per second, next to the machine's own
 * ceiling: a Unix socketpair moving the same bytes on one thread.
 * Never fails on time. VDEV_BENCH_MB sets the bytes per run (default 256).
 */
#include "../unit/vsock_harness.h"

#include <sys/stat.h>

#define GBUF (256u * 1024)

static char uds[128];

/* The device's window as the guest sees it. */
static uint32_t credit(uint32_t buf_alloc, uint32_t tx, uint32_t fwd)
{
	uint32_t in_flight = tx - fwd;

	return in_flight > buf_alloc ? 0 : buf_alloc - in_flight;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double ceiling(size_t total)
{
	static uint8_t buf[65536];
	int sv[2];
	size_t sent = 0, got = 0;
	double t0;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	t0 = now_s();
	while (got < total) {
		ssize_t n;

		if (sent < total) {
			n = write(sv[0], buf, total - sent < sizeof(buf) ?
						       total - sent :
						       sizeof(buf));
			if (n > 0)
				sent += (size_t)n;
		}
		n = read(sv[1], buf, sizeof(buf));
		if (n > 0)
			got += (size_t)n;
	}
	t0 = now_s() - t0;
	close(sv[0]);
	close(sv[1]);
	return (double)total / t0 / 1e6;
}

static int host_connect(struct guest *g, uint32_t port, uint32_t *hport)
{
	int fd = uds_connect(uds);
	char cmd[32], line[32];
	struct gpkt p;
	int n = snprintf(cmd, sizeof(cmd), "CONNECT %u\n", port), got = 0;

	if (write(fd, cmd, (size_t)n) != n)
		abort();
	do
		if (g_recv(g, &p, 5000) < 0)
			abort();
	while (p.op != VDEV_VSOCK_OP_REQUEST);
	*hport = p.src_port;
	g_send(g, 2, port, p.src_port, 1, VDEV_VSOCK_OP_RESPONSE, 0, GBUF, 0,
	       NULL, 0);
	n = snprintf(line, sizeof(line), "OK %u\n", p.src_port);
	while (got < n) {
		ssize_t k = read(fd, line + got, (size_t)(n - got));

		if (k > 0)
			got += (int)k;
		else
			vdev_drv_poll(g->drv, 1);
	}
	return fd;
}

/* Host writes @total bytes; the guest takes them, returning credit as
 * Linux does. */
static double h2g(struct guest *g, size_t total)
{
	static uint8_t buf[65536];
	uint32_t hport, gfwd = 0, told = 0;
	size_t sent = 0, got = 0;
	int fd = host_connect(g, 5000, &hport);
	double t0 = now_s();

	while (got < total) {
		struct gpkt p;

		if (sent < total) {
			ssize_t n = write(fd, buf, total - sent < sizeof(buf) ?
							   total - sent :
							   sizeof(buf));

			if (n > 0)
				sent += (size_t)n;
		}
		vdev_drv_poll(g->drv, 0);
		while (g_recv(g, &p, sent < total ? 0 : 1) == 0) {
			if (p.op != VDEV_VSOCK_OP_RW)
				continue;
			got += p.len;
			gfwd += p.len;
			if (gfwd - told > GBUF / 2) {
				g_send(g, 2, 5000, hport, 1,
				       VDEV_VSOCK_OP_CREDIT_UPDATE, 0, GBUF,
				       gfwd, NULL, 0);
				told = gfwd;
			}
		}
	}
	t0 = now_s() - t0;
	close(fd);
	g_run(g, 20);
	while (vdev_drv_ring_inflight(vdev_drv_ring(g->drv, 0)) < G_RXN) {
		struct gpkt p;

		if (g_recv(g, &p, 100) < 0)
			break;
		if (p.op == VDEV_VSOCK_OP_SHUTDOWN)
			g_send(g, 2, 5000, hport, 1, VDEV_VSOCK_OP_RST, 0,
			       GBUF, gfwd, NULL, 0);
	}
	return (double)total / t0 / 1e6;
}

/* The guest sends @total bytes in 64 KiB packets within the device's
 * credit; the host reads. */
static double g2h(struct guest *g, size_t total)
{
	static uint8_t buf[1 << 20];
	char path[160];
	int lfd, fd = -1;
	uint32_t dev_fwd = 0, sent = 0;
	size_t sent_all = 0, got = 0;
	struct gpkt p;
	double t0;

	snprintf(path, sizeof(path), "%s_6000", uds);
	lfd = uds_listen(path, SOCK_STREAM);
	g_send(g, 2, 40000, 6000, 1, VDEV_VSOCK_OP_REQUEST, 0, GBUF, 0, NULL,
	       0);
	do
		if (g_recv(g, &p, 5000) < 0)
			abort();
	while (p.op != VDEV_VSOCK_OP_RESPONSE);
	dev_fwd = p.fwd_cnt;
	while (fd < 0) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
		vdev_drv_poll(g->drv, 1);
	}
	t0 = now_s();
	while (got < total) {
		ssize_t n;

		while (sent_all < total) {
			uint32_t k = credit(65536, sent, dev_fwd);

			if (k > total - sent_all)
				k = (uint32_t)(total - sent_all);
			if (k < 4096 && k < total - sent_all)
				break;
			if (g_send_raw(g, &(struct vdev_vsock_hdr){
					       .src_cid = g->cid, .dst_cid = 2,
					       .src_port = 40000,
					       .dst_port = 6000, .len = k,
					       .type = 1,
					       .op = VDEV_VSOCK_OP_RW,
					       .buf_alloc = GBUF },
				       buf, k, 0) < 0)
				break;
			sent += k;
			sent_all += k;
		}
		vdev_drv_poll(g->drv, 0);
		while (g_recv(g, &p, 0) == 0)
			dev_fwd = p.fwd_cnt;
		n = read(fd, buf, sizeof(buf));
		if (n > 0)
			got += (size_t)n;
	}
	t0 = now_s() - t0;
	g_send(g, 2, 40000, 6000, 1, VDEV_VSOCK_OP_SHUTDOWN, 3, GBUF, 0, NULL,
	       0);
	g_run(g, 20);
	while (g_recv(g, &p, 50) == 0)
		;
	close(fd);
	close(lfd);
	unlink(path);
	return (double)total / t0 / 1e6;
}

/* Host connect, guest accept, one byte, host close, guest close. */
static double conns(struct guest *g, unsigned n)
{
	double t0 = now_s();

	for (unsigned i = 0; i < n; i++) {
		uint32_t hport;
		int fd = host_connect(g, 5000, &hport);
		struct gpkt p;

		close(fd);
		do
			if (g_recv(g, &p, 5000) < 0)
				abort();
		while (p.op != VDEV_VSOCK_OP_SHUTDOWN);
		g_send(g, 2, 5000, hport, 1, VDEV_VSOCK_OP_SHUTDOWN, 3, GBUF, 0,
		       NULL, 0);
		do
			if (g_recv(g, &p, 5000) < 0)
				abort();
		while (p.op != VDEV_VSOCK_OP_RST);
	}
	return n / (now_s() - t0);
}

int main(void)
{
	const char *e = getenv("VDEV_BENCH_MB");
	size_t total = (size_t)(e ? atoi(e) : 256) << 20;
	char dir[] = "/tmp/vdev-bench-vsock-XXXXXX";
	struct vdev_vsock_config c = { .guest_cid = 3 };
	struct guest *g;
	double ce, a, b, cps;

	if (!mkdtemp(dir))
		return 1;
	snprintf(uds, sizeof(uds), "%s/v", dir);
	c.uds_path = uds;
	g = g_new(&c, 256);
	if (!g)
		return 1;
	ce = ceiling(total);
	a = h2g(g, total);
	b = g2h(g, total);
	cps = conns(g, 2000);
	g_free(g);
	rmdir(dir);
	printf("vsock in-process, %zu MiB each way, one thread\n", total >> 20);
	printf("%-34s %10s %8s\n", "", "MB/s", "ceiling");
	printf("%-34s %10.0f %7.0f%%\n", "unix socketpair (ceiling)", ce, 100.0);
	printf("%-34s %10.0f %7.0f%%\n", "host -> guest (4 KiB rx buffers)", a,
	       100 * a / ce);
	printf("%-34s %10.0f %7.0f%%\n", "guest -> host (64 KiB packets)", b,
	       100 * b / ce);
	printf("%-34s %10.0f\n", "connections/s (open, close)", cps);
	return 0;
}
