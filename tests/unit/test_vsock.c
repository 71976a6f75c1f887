/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-vsock through the software driver: the hybrid socket handshake
 * both ways, bulk data both ways past 1 MiB (vhost-device-vsock's credit
 * hang), exact credit, RST for unknown connections, shutdown each way,
 * SEQPACKET boundaries, the memory caps against a guest that ignores
 * credit, no POLLOUT spin, tx ring wrap, port allocator wrap, sibling
 * guests, malformed packets, save/restore with TRANSPORT_RESET.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/resource.h>
#include <cmocka.h>
#include <virtio/state.h>

#include "vsock_harness.h"
#include "devices/vsock/vsock_internal.h"

#define CID 42
#define GPORT 5000   /* a guest service */
#define GEPH 40000   /* a guest ephemeral port */

static char dir[64];
static char uds[128];

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vdev-vsock-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(uds, sizeof(uds), "%s/v.sock", dir);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static struct guest *make(uint32_t buf_size, uint64_t mem_max,
			  uint32_t conn_max, bool seqpacket)
{
	struct vdev_vsock_config c = {
		.guest_cid = CID,
		.uds_path = uds,
		.buf_size = buf_size,
		.mem_max = mem_max,
		.conn_max = conn_max,
		.seqpacket = seqpacket,
	};
	struct guest *g = g_new(&c, 64);

	assert_non_null(g);
	return g;
}

static struct vsock *priv(struct guest *g)
{
	return vdev_priv(g->dev);
}

/* Waits for a packet with op @op (others fail the test). */
static void expect_op(struct guest *g, struct gpkt *p, uint16_t op)
{
	/* Credit updates come whenever the host drains: not what the
	 * caller waits for unless asked. */
	do
		assert_int_equal(g_recv(g, p, 3000), 0);
	while (p->op == VDEV_VSOCK_OP_CREDIT_UPDATE &&
	       op != VDEV_VSOCK_OP_CREDIT_UPDATE);
	if (p->op != op)
		fail_msg("expected op %u, got %u (len %u)", op, p->op, p->len);
}

static ssize_t read_all(struct guest *g, int fd, void *buf, size_t len,
			int timeout_ms)
{
	size_t got = 0;
	int64_t end = g_now_ms() + timeout_ms;

	while (got < len && g_now_ms() < end) {
		ssize_t n = read(fd, (uint8_t *)buf + got, len - got);

		if (n > 0)
			got += (size_t)n;
		else if (n == 0)
			break;
		else
			g_run(g, 2);
	}
	return (ssize_t)got;
}

/* Host connects with CONNECT; the guest accepts. Returns the host fd and
 * the host-side port the device picked. */
static int host_connect(struct guest *g, uint32_t port, uint32_t gbuf,
			uint32_t *hport)
{
	int fd = uds_connect(uds);
	char line[32], want[32];
	struct gpkt p;
	char cmd[32];
	int n = snprintf(cmd, sizeof(cmd), "CONNECT %u\n", port);

	assert_int_equal(write(fd, cmd, (size_t)n), n);
	expect_op(g, &p, VDEV_VSOCK_OP_REQUEST);
	assert_int_equal(p.src_cid, 2);
	assert_int_equal(p.dst_cid, CID);
	assert_int_equal(p.dst_port, port);
	assert_int_equal(p.type, VDEV_VSOCK_TYPE_STREAM);
	*hport = p.src_port;
	assert_int_equal(g_send(g, 2, port, p.src_port, 1,
				VDEV_VSOCK_OP_RESPONSE, 0, gbuf, 0, NULL, 0),
			 0);
	n = snprintf(want, sizeof(want), "OK %u\n", p.src_port);
	assert_int_equal(read_all(g, fd, line, (size_t)n, 3000), n);
	assert_memory_equal(line, want, (size_t)n);
	return fd;
}

static void fill(uint8_t *b, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		b[i] = (uint8_t)(seed >> 16);
	}
}

/*
 * Host to guest @len bytes and guest to host @len bytes on one connection,
 * the guest honouring credit and returning it as Linux does (a
 * CREDIT_UPDATE when its free space runs low).
 */
static void bulk(struct guest *g, int fd, uint32_t gport, uint32_t hport,
		 size_t len, uint32_t gbuf)
{
	uint8_t *out = malloc(len), *in = malloc(len), *hin = malloc(len);
	size_t hsent = 0, grecv = 0, gsent = 0, hrecv = 0;
	uint32_t gfwd = 0, gfwd_told = 0;   /* guest's consumption */
	uint32_t dev_buf = 0, dev_fwd = 0;  /* the device's credit */
	uint32_t gtx = 0;
	int64_t end = g_now_ms() + 60000;

	fill(out, len, 1);
	while ((grecv < len || hrecv < len) && g_now_ms() < end) {
		struct gpkt p;
		ssize_t n;

		if (hsent < len) {
			n = write(fd, out + hsent,
				  len - hsent > 65536 ? 65536 : len - hsent);
			if (n > 0)
				hsent += (size_t)n;
		}
		n = read(fd, hin + hrecv, len - hrecv);
		if (n > 0)
			hrecv += (size_t)n;
		/* Guest sends within the device's credit. */
		while (gsent < len && dev_buf) {
			uint32_t credit = vsock_credit(dev_buf, gtx, dev_fwd);
			uint32_t k = (uint32_t)(len - gsent);

			if (k > 4096)
				k = 4096;
			if (k > credit)
				k = credit;
			if (!k)
				break;
			if (g_send_host(g, &(struct vdev_vsock_hdr){
					       .src_cid = CID, .dst_cid = 2,
					       .src_port = gport,
					       .dst_port = hport, .len = k,
					       .type = 1,
					       .op = VDEV_VSOCK_OP_RW,
					       .buf_alloc = gbuf,
					       .fwd_cnt = gfwd },
				       (const uint8_t *)out + gsent, k,
				       0) < 0)
				break;
			gsent += k;
			gtx += k;
			gfwd_told = gfwd;
		}
		if (g_recv(g, &p, 5) < 0)
			continue;
		assert_int_equal(p.dst_port, gport);
		assert_int_equal(p.src_port, hport);
		dev_buf = p.buf_alloc;
		dev_fwd = p.fwd_cnt;
		if (p.op == VDEV_VSOCK_OP_RW) {
			/* Exact credit: never past what the guest gave. */
			assert_true(grecv + p.len <= (size_t)gfwd_told + gbuf ||
				    grecv + p.len <= (size_t)gfwd + gbuf);
			assert_true(grecv + p.len <= len);
			memcpy(in + grecv, p.data, p.len);
			grecv += p.len;
			gfwd += p.len;
			if (gfwd - gfwd_told > gbuf / 2) {
				assert_int_equal(
					g_send(g, 2, gport, hport, 1,
					       VDEV_VSOCK_OP_CREDIT_UPDATE, 0,
					       gbuf, gfwd, NULL, 0),
					0);
				gfwd_told = gfwd;
			}
		} else if (p.op != VDEV_VSOCK_OP_CREDIT_UPDATE) {
			fail_msg("unexpected op %u", p.op);
		}
	}
	assert_int_equal(grecv, len);
	assert_int_equal(hrecv, len);
	assert_memory_equal(in, out, len);
	assert_memory_equal(hin, out, len);
	free(out);
	free(in);
	free(hin);
}

static void test_host_to_guest_bulk(void **state)
{
	struct guest *g = make(0, 0, 0, false);
	uint32_t hport;
	int fd;

	(void)state;
	fd = host_connect(g, GPORT, 256 * 1024, &hport);
	assert_true(hport >= VSOCK_PORT_MIN);
	bulk(g, fd, GPORT, hport, 4u << 20, 256 * 1024);
	/* The host closes: the guest hears SHUTDOWN, then closes too and
	 * gets RST. */
	close(fd);
	{
		struct gpkt p;

		expect_op(g, &p, VDEV_VSOCK_OP_SHUTDOWN);
		assert_int_equal(p.flags, VDEV_VSOCK_SHUTDOWN_SEND);
		g_send(g, 2, GPORT, hport, 1, VDEV_VSOCK_OP_SHUTDOWN, 3, 4096,
		       4u << 20, NULL, 0);
		expect_op(g, &p, VDEV_VSOCK_OP_RST);
	}
	assert_int_equal(priv(g)->nconns, 0);
	assert_int_equal(priv(g)->mem_used, 0);
	g_free(g);
}

/* Guest connects to host port 6000: the device connects to uds_6000. */
static int guest_connect(struct guest *g, int lfd, uint32_t gport,
			 uint32_t hport, uint32_t gbuf, uint16_t type)
{
	struct gpkt p;
	int fd = -1;

	assert_int_equal(g_send(g, 2, gport, hport, type,
				VDEV_VSOCK_OP_REQUEST, 0, gbuf, 0, NULL, 0),
			 0);
	expect_op(g, &p, VDEV_VSOCK_OP_RESPONSE);
	assert_int_equal(p.src_port, hport);
	assert_int_equal(p.dst_port, gport);
	assert_int_equal(p.type, type);
	for (int i = 0; i < 100 && fd < 0; i++) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
		if (fd < 0)
			g_run(g, 5);
	}
	assert_true(fd >= 0);
	return fd;
}

static void test_guest_to_host_bulk(void **state)
{
	struct guest *g = make(0, 0, 0, false);
	char path[160];
	int lfd, fd;
	struct gpkt p;
	char b;

	(void)state;
	snprintf(path, sizeof(path), "%s_6000", uds);
	lfd = uds_listen(path, SOCK_STREAM);
	fd = guest_connect(g, lfd, GEPH, 6000, 128 * 1024, 1);
	bulk(g, fd, GEPH, 6000, 3u << 20, 128 * 1024);
	/* Guest shuts down its sending side: the host reads EOF, and can
	 * still write. */
	g_send(g, 2, GEPH, 6000, 1, VDEV_VSOCK_OP_SHUTDOWN,
	       VDEV_VSOCK_SHUTDOWN_SEND, 128 * 1024, 3u << 20, NULL, 0);
	assert_int_equal(read_all(g, fd, &b, 1, 1000), 0);
	assert_int_equal(write(fd, "x", 1), 1);
	expect_op(g, &p, VDEV_VSOCK_OP_RW);
	assert_int_equal(p.len, 1);
	/* Then the receiving side too: RST, the host socket closes. */
	g_send(g, 2, GEPH, 6000, 1, VDEV_VSOCK_OP_SHUTDOWN,
	       VDEV_VSOCK_SHUTDOWN_RCV, 128 * 1024, (3u << 20) + 1, NULL, 0);
	expect_op(g, &p, VDEV_VSOCK_OP_RST);
	g_run(g, 20);
	assert_int_equal(priv(g)->nconns, 0);
	close(fd);
	close(lfd);
	g_free(g);
}

static void test_rst_unknown(void **state)
{
	struct guest *g = make(0, 0, 0, false);
	struct gpkt p;

	(void)state;
	/* RW on no connection. */
	g_send(g, 2, GEPH, 7000, 1, VDEV_VSOCK_OP_RW, 0, 4096, 0, "abc", 3);
	expect_op(g, &p, VDEV_VSOCK_OP_RST);
	assert_int_equal(p.src_port, 7000);
	assert_int_equal(p.dst_port, GEPH);
	/* REQUEST to a port nobody listens on. */
	g_send(g, 2, GEPH, 7001, 1, VDEV_VSOCK_OP_REQUEST, 0, 4096, 0, NULL,
	       0);
	expect_op(g, &p, VDEV_VSOCK_OP_RST);
	assert_int_equal(p.src_port, 7001);
	/* REQUEST to a CID that is neither the host nor a sibling. */
	g_send(g, 77, GEPH, 7002, 1, VDEV_VSOCK_OP_REQUEST, 0, 4096, 0, NULL,
	       0);
	expect_op(g, &p, VDEV_VSOCK_OP_RST);
	assert_int_equal(p.src_cid, 77);
	/* An RST for nothing is not answered. */
	g_send(g, 2, GEPH, 7003, 1, VDEV_VSOCK_OP_RST, 0, 4096, 0, NULL, 0);
	assert_int_equal(g_recv(g, &p, 100), -ETIMEDOUT);
	/* SEQPACKET without the feature. */
	g_send(g, 2, GEPH, 7004, 2, VDEV_VSOCK_OP_REQUEST, 0, 4096, 0, NULL,
	       0);
	expect_op(g, &p, VDEV_VSOCK_OP_RST);
	assert_int_equal(priv(g)->nconns, 0);
	g_free(g);
}

/* The device sends exactly the guest's credit, no byte more, and resumes
 * when the guest returns it; the window exactly full stops it. */
static void test_credit_exact(void **state)
{
	struct guest *g = make(0, 0, 0, false);
	uint8_t data[5000];
	uint32_t hport, got = 0;
	struct gpkt p;
	int fd;

	(void)state;
	fill(data, sizeof(data), 7);
	fd = host_connect(g, GPORT, 1000, &hport);
	assert_int_equal(write(fd, data, sizeof(data)), (ssize_t)sizeof(data));
	while (got < 1000) {
		expect_op(g, &p, VDEV_VSOCK_OP_RW);
		assert_memory_equal(p.data, data + got, p.len);
		got += p.len;
	}
	assert_int_equal(got, 1000);
	/* Window full: nothing more, however long we wait. */
	assert_int_equal(g_recv(g, &p, 200), -ETIMEDOUT);
	/* Returning 300 bytes of credit lets exactly 300 through. */
	g_send(g, 2, GPORT, hport, 1, VDEV_VSOCK_OP_CREDIT_UPDATE, 0, 1000, 300,
	       NULL, 0);
	while (got < 1300) {
		expect_op(g, &p, VDEV_VSOCK_OP_RW);
		assert_memory_equal(p.data, data + got, p.len);
		got += p.len;
	}
	assert_int_equal(got, 1300);
	assert_int_equal(g_recv(g, &p, 200), -ETIMEDOUT);
	/* A larger buffer opens the window at once. */
	g_send(g, 2, GPORT, hport, 1, VDEV_VSOCK_OP_CREDIT_UPDATE, 0, 100000,
	       1300, NULL, 0);
	while (got < sizeof(data)) {
		expect_op(g, &p, VDEV_VSOCK_OP_RW);
		assert_memory_equal(p.data, data + got, p.len);
		got += p.len;
	}
	/* CREDIT_REQUEST is answered with the device's own numbers. */
	g_send(g, 2, GPORT, hport, 1, VDEV_VSOCK_OP_CREDIT_REQUEST, 0, 100000,
	       got, NULL, 0);
	expect_op(g, &p, VDEV_VSOCK_OP_CREDIT_UPDATE);
	assert_int_equal(p.buf_alloc, 64 * 1024);
	assert_int_equal(p.fwd_cnt, 0);
	close(fd);
	g_free(g);
}

/* The arithmetic at the 2^32 wrap, and the allocator's wrap. */
static bool in_use_set(void *arg, uint32_t port)
{
	const uint32_t *used = arg;

	for (int i = 0; used[i]; i++)
		if (used[i] == port)
			return true;
	return false;
}

static bool all_used(void *arg, uint32_t port)
{
	(void)arg;
	(void)port;
	return true;
}

static void test_wraps(void **state)
{
	uint32_t used[] = { VSOCK_PORT_MAX, VSOCK_PORT_MIN, 0 };
	uint32_t next, port;

	(void)state;
	/* fwd_cnt wrapped past 2^32 before tx_cnt... */
	assert_int_equal(vsock_credit(1000, 0x00000010u, 0xfffffff0u), 968);
	/* ...exactly full across the wrap, and one more in flight. */
	assert_int_equal(vsock_credit(1000, 0x000003d8u, 0x00000000u - 16),
			 0);
	assert_int_equal(vsock_credit(1000, 0x000003d9u, 0x00000000u - 16),
			 0);
	assert_int_equal(vsock_credit(1000, 5, 5), 1000);
	/* A peer claiming more consumed than sent has no credit. */
	assert_int_equal(vsock_credit(1000, 5, 6), 0);

	next = VSOCK_PORT_MAX - 1;
	assert_true(vsock_port_alloc(&next, in_use_set, used, 10, &port));
	assert_int_equal(port, VSOCK_PORT_MAX - 1);
	/* MAX is taken, MIN is taken: wraps to MIN + 1. */
	assert_true(vsock_port_alloc(&next, in_use_set, used, 10, &port));
	assert_int_equal(port, VSOCK_PORT_MIN + 1);
	assert_int_equal(next, VSOCK_PORT_MIN + 2);
	/* A counter out of range starts again at MIN, never at 0 or ANY. */
	next = 0xffffffffu;
	assert_true(vsock_port_alloc(&next, in_use_set, used, 10, &port));
	assert_int_equal(port, VSOCK_PORT_MIN + 1);
	assert_false(vsock_port_alloc(&next, all_used, NULL, 100, &port));
}

/* Host-initiated connections get distinct ports across an allocator wrap
 * while earlier ones are still open. */
static void test_port_wrap_live(void **state)
{
	struct guest *g = make(0, 0, 0, false);
	uint32_t p1, p2, p3;
	int f1, f2, f3;

	(void)state;
	priv(g)->next_port = VSOCK_PORT_MAX;
	f1 = host_connect(g, GPORT, 4096, &p1);
	priv(g)->next_port = VSOCK_PORT_MAX;
	f2 = host_connect(g, GPORT, 4096, &p2);
	priv(g)->next_port = VSOCK_PORT_MAX;
	f3 = host_connect(g, GPORT, 4096, &p3);
	assert_int_equal(p1, VSOCK_PORT_MAX);
	assert_int_equal(p2, VSOCK_PORT_MIN);
	assert_int_equal(p3, VSOCK_PORT_MIN + 1);
	close(f1);
	close(f2);
	close(f3);
	g_free(g);
}

/*
 * A guest that ignores credit: a host that never reads, the guest sends
 * 8 MiB regardless. The device buffers at most buf_size, resets the
 * connection, and the memory is back.
 */
static void test_credit_ignored(void **state)
{
	struct guest *g = make(16384, 0, 0, false);
	struct vsock *v = priv(g);
	uint8_t chunk[4096];
	char path[160];
	int lfd, fd, snd = 4096;
	size_t sent = 0;
	struct gpkt p;
	bool reset = false;

	(void)state;
	memset(chunk, 0x5a, sizeof(chunk));
	snprintf(path, sizeof(path), "%s_6001", uds);
	lfd = uds_listen(path, SOCK_STREAM);
	fd = guest_connect(g, lfd, GEPH, 6001, 4096, 1);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &snd, sizeof(snd));
	while (sent < (8u << 20) && !reset) {
		assert_int_equal(g_send(g, 2, GEPH, 6001, 1, VDEV_VSOCK_OP_RW,
					0, 4096, 0, chunk, sizeof(chunk)),
				 0);
		sent += sizeof(chunk);
		assert_true(v->mem_used <= 16384);
		while (g_recv(g, &p, 0) == 0)
			if (p.op == VDEV_VSOCK_OP_RST)
				reset = true;
	}
	while (!reset && g_recv(g, &p, 1000) == 0)
		reset = p.op == VDEV_VSOCK_OP_RST;
	assert_true(reset);
	print_message("credit ignored: reset after %zu bytes; buffered at "
		      "most 16384 (buf_size); violations %llu\n",
		      sent, (unsigned long long)v->credit_violations);
	assert_true(sent < (1u << 20));
	assert_int_equal(v->credit_violations, 1);
	assert_int_equal(v->nconns, 0);
	assert_int_equal(v->mem_used, 0);
	close(fd);
	close(lfd);
	g_free(g);
}

/* Total memory and connection caps: REQUEST floods are refused with RST. */
static void test_caps(void **state)
{
	struct guest *g = make(16384, 3 * 16384, 0, false);
	char path[160];
	int lfd, fds[3];
	struct gpkt p;

	(void)state;
	snprintf(path, sizeof(path), "%s_6002", uds);
	lfd = uds_listen(path, SOCK_STREAM);
	for (int i = 0; i < 3; i++)
		fds[i] = guest_connect(g, lfd, GEPH + (uint32_t)i, 6002, 4096,
				       1);
	g_send(g, 2, GEPH + 3, 6002, 1, VDEV_VSOCK_OP_REQUEST, 0, 4096, 0,
	       NULL, 0);
	expect_op(g, &p, VDEV_VSOCK_OP_RST);
	assert_int_equal(priv(g)->nconns, 3);
	assert_int_equal(priv(g)->mem_used, 3 * 16384);
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	close(lfd);
	g_free(g);

	/* conn_max alone, with a REQUEST flood of 500. */
	g = make(0, 0, 8, false);
	lfd = uds_listen(path, SOCK_STREAM);
	{
		unsigned resp = 0, rst = 0;

		/* The guest takes its rx packets as it sends: the device
		 * stops taking REQUESTs while its RST ring is full. */
		for (uint32_t i = 0; i < 500; i++) {
			assert_int_equal(g_send(g, 2, 30000 + i, 6002, 1,
						VDEV_VSOCK_OP_REQUEST, 0, 4096,
						0, NULL, 0),
					 0);
			while (g_recv(g, &p, 0) == 0) {
				if (p.op == VDEV_VSOCK_OP_RESPONSE)
					resp++;
				else if (p.op == VDEV_VSOCK_OP_RST)
					rst++;
			}
		}
		while (g_recv(g, &p, 300) == 0) {
			if (p.op == VDEV_VSOCK_OP_RESPONSE)
				resp++;
			else if (p.op == VDEV_VSOCK_OP_RST)
				rst++;
		}
		assert_int_equal(resp, 8);
		assert_int_equal(rst, 492);
		assert_int_equal(priv(g)->nconns, 8);
	}
	close(lfd);
	g_free(g);
}

/*
 * A host that stops reading: POLLOUT is watched while bytes wait, and the
 * device does not spin (vhost-device-vsock's 100% CPU with EPOLLOUT).
 */
static double cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec * 1000 +
	       (double)ru.ru_utime.tv_usec / 1000 +
	       (double)ru.ru_stime.tv_sec * 1000 +
	       (double)ru.ru_stime.tv_usec / 1000;
}

static void test_no_pollout_spin(void **state)
{
	struct guest *g = make(0, 0, 0, false);
	uint8_t chunk[4096];
	char path[160], *sink;
	int lfd, fd, sz = 4096;
	uint32_t sent = 0;
	double c0, c1;
	struct gpkt p;
	size_t got;

	(void)state;
	fill(chunk, sizeof(chunk), 3);
	snprintf(path, sizeof(path), "%s_6003", uds);
	lfd = uds_listen(path, SOCK_STREAM);
	fd = guest_connect(g, lfd, GEPH, 6003, 4096, 1);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	/* A host that reads nothing: the guest sends within its credit
	 * until the socket and then the device's window are full. */
	{
		uint32_t dev_fwd = 0;
		int64_t idle = g_now_ms() + 300;

		while (g_now_ms() < idle) {
			if (vsock_credit(64 * 1024, sent, dev_fwd) >=
			    sizeof(chunk)) {
				g_send(g, 2, GEPH, 6003, 1, VDEV_VSOCK_OP_RW, 0,
				       4096, 0, chunk, sizeof(chunk));
				sent += sizeof(chunk);
				idle = g_now_ms() + 300;
			}
			while (g_recv(g, &p, 1) == 0)
				dev_fwd = p.fwd_cnt;
		}
	}
	g_run(g, 50);
	assert_true(priv(g)->all->olen > 0);
	assert_true(priv(g)->all->events & POLLOUT);
	c0 = cpu_ms();
	g_run(g, 500);
	c1 = cpu_ms();
	print_message("idle with output pending: %.1f ms CPU in 500 ms\n",
		      c1 - c0);
	assert_true(c1 - c0 < 150);
	/* The host reads: everything arrives, credit comes back. */
	sink = malloc(sent);
	got = (size_t)read_all(g, fd, sink, sent, 3000);
	assert_int_equal(got, sent);
	g_run(g, 20);
	assert_false(priv(g)->all->events & POLLOUT);
	{
		bool credit = false;

		while (g_recv(g, &p, 200) == 0)
			if (p.op == VDEV_VSOCK_OP_CREDIT_UPDATE &&
			    p.fwd_cnt == sent)
				credit = true;
		assert_true(credit);
	}
	free(sink);
	close(fd);
	close(lfd);
	g_free(g);
}

/* Many packets through a 64-entry tx ring: data intact across wraps. */
static void test_tx_ring_wrap(void **state)
{
	struct guest *g = make(0, 0, 0, false);
	char path[160];
	int lfd, fd;
	uint8_t *data = malloc(20000 * 7), *back = malloc(20000 * 7);
	uint32_t gfwd = 0, sent = 0;
	size_t got = 0;
	struct gpkt p;

	(void)state;
	fill(data, 20000 * 7, 9);
	snprintf(path, sizeof(path), "%s_6004", uds);
	lfd = uds_listen(path, SOCK_STREAM);
	fd = guest_connect(g, lfd, GEPH, 6004, 4096, 1);
	/* 20000 packets of 7 bytes: 312 laps of the ring. */
	for (unsigned i = 0; i < 20000; i++) {
		uint32_t room;

		for (;;) {
			ssize_t n = read(fd, back + got, 20000 * 7 - got);

			if (n > 0)
				got += (size_t)n;
			while (g_recv(g, &p, 0) == 0)
				gfwd = p.fwd_cnt;
			room = vsock_credit(64 * 1024, sent, gfwd);
			if (room >= 7)
				break;
			g_run(g, 1);
		}
		assert_int_equal(g_send(g, 2, GEPH, 6004, 1, VDEV_VSOCK_OP_RW, 0,
					4096, 0, data + i * 7, 7),
				 0);
		sent += 7;
	}
	got += (size_t)read_all(g, fd, back + got, 20000 * 7 - got, 5000);
	assert_int_equal(got, 20000 * 7);
	assert_memory_equal(back, data, 20000 * 7);
	free(data);
	free(back);
	close(fd);
	close(lfd);
	g_free(g);
}

static void test_seqpacket(void **state)
{
	struct guest *g = make(0, 0, 0, true);
	char path[160];
	int lfd, fd;
	uint8_t m[3][3000], buf[10000];
	uint8_t big[9000], got[9000];
	uint32_t off = 0;
	struct gpkt p;

	(void)state;
	assert_true(vdev_has_feature(g->dev, VDEV_VSOCK_F_SEQPACKET));
	snprintf(path, sizeof(path), "%s_6005", uds);
	lfd = uds_listen(path, SOCK_SEQPACKET);
	fd = guest_connect(g, lfd, GEPH, 6005, 64 * 1024, 2);
	/* Guest to host: three messages, the second in two fragments; the
	 * host sees three with their sizes. */
	for (int i = 0; i < 3; i++)
		fill(m[i], sizeof(m[i]), (uint32_t)i);
	g_send(g, 2, GEPH, 6005, 2, VDEV_VSOCK_OP_RW, VDEV_VSOCK_SEQ_EOM, 65536,
	       0, m[0], 100);
	g_send(g, 2, GEPH, 6005, 2, VDEV_VSOCK_OP_RW, 0, 65536, 0, m[1], 1000);
	g_send(g, 2, GEPH, 6005, 2, VDEV_VSOCK_OP_RW,
	       VDEV_VSOCK_SEQ_EOM | VDEV_VSOCK_SEQ_EOR, 65536, 0, m[1] + 1000,
	       2000);
	g_send(g, 2, GEPH, 6005, 2, VDEV_VSOCK_OP_RW, VDEV_VSOCK_SEQ_EOM, 65536,
	       0, m[2], 7);
	g_run(g, 50);
	assert_int_equal(recv(fd, buf, sizeof(buf), 0), 100);
	assert_memory_equal(buf, m[0], 100);
	assert_int_equal(recv(fd, buf, sizeof(buf), 0), 3000);
	assert_memory_equal(buf, m[1], 3000);
	assert_int_equal(recv(fd, buf, sizeof(buf), 0), 7);
	assert_memory_equal(buf, m[2], 7);
	/* Host to guest: a 9000-byte message needs three rx buffers; EOM
	 * on the last only. Then a small one. */
	fill(big, sizeof(big), 5);
	assert_int_equal(send(fd, big, sizeof(big), 0), (ssize_t)sizeof(big));
	assert_int_equal(send(fd, "hi", 2, 0), 2);
	while (off < sizeof(big)) {
		expect_op(g, &p, VDEV_VSOCK_OP_RW);
		memcpy(got + off, p.data, p.len);
		off += p.len;
		assert_int_equal(!!(p.flags & VDEV_VSOCK_SEQ_EOM),
				 off == sizeof(big));
	}
	assert_memory_equal(got, big, sizeof(big));
	expect_op(g, &p, VDEV_VSOCK_OP_RW);
	assert_int_equal(p.len, 2);
	assert_int_equal(p.flags & VDEV_VSOCK_SEQ_EOM, VDEV_VSOCK_SEQ_EOM);
	close(fd);
	expect_op(g, &p, VDEV_VSOCK_OP_SHUTDOWN);
	close(lfd);
	g_free(g);
}

static void test_malformed(void **state)
{
	struct guest *g = make(0, 0, 0, false);
	struct vdev_vsock_hdr h = {
		.src_cid = CID, .dst_cid = 2, .src_port = GEPH,
		.dst_port = 7100, .type = 1, .op = VDEV_VSOCK_OP_RW,
		.buf_alloc = 4096,
	};
	struct gpkt p;
	uint32_t hport;
	int fd;

	(void)state;
	/* len past the payload: dropped, no answer. */
	h.len = 100;
	g_send_host(g, &h, "abc", 3, 1000);
	assert_int_equal(g_recv(g, &p, 100), -ETIMEDOUT);
	/* Over the packet maximum: dropped. */
	h.len = VSOCK_PKT_MAX + 1;
	g_send_host(g, &h, NULL, 0, 1000);
	assert_int_equal(g_recv(g, &p, 100), -ETIMEDOUT);
	/* A spoofed source CID: dropped. */
	h.len = 0;
	h.src_cid = CID + 1;
	g_send_host(g, &h, NULL, 0, 1000);
	assert_int_equal(g_recv(g, &p, 100), -ETIMEDOUT);
	/* An unknown op and an unknown type: RST. */
	h.src_cid = CID;
	h.op = 99;
	g_send_host(g, &h, NULL, 0, 1000);
	expect_op(g, &p, VDEV_VSOCK_OP_RST);
	h.op = VDEV_VSOCK_OP_REQUEST;
	h.type = 7;
	g_send_host(g, &h, NULL, 0, 1000);
	expect_op(g, &p, VDEV_VSOCK_OP_RST);
	/* A header cut short (20 bytes): dropped. */
	{
		struct vdev_drv_mem *m = g->m;
		uint64_t gpa;
		void *b = vdev_drv_mem_alloc(m, 20, 8, &gpa);
		struct vdev_drv_seg s = { gpa, 20 };

		memcpy(b, &h, 20);
		assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(g->drv, 1), &s,
						   1, 0, (void *)(uintptr_t)1000,
						   0),
				 0);
		vdev_drv_kick(g->drv, 1);
		assert_int_equal(g_recv(g, &p, 100), -ETIMEDOUT);
	}
	/* A payload on an op that takes none (RESPONSE with data) on a live
	 * connection is dropped; the connection goes on. */
	fd = host_connect(g, GPORT, 4096, &hport);
	h = (struct vdev_vsock_hdr){ .src_cid = CID, .dst_cid = 2,
				     .src_port = GPORT, .dst_port = hport,
				     .type = 1, .op = VDEV_VSOCK_OP_RESPONSE,
				     .len = 3, .buf_alloc = 4096 };
	g_send_host(g, &h, "xyz", 3, 1000);
	assert_int_equal(write(fd, "ok", 2), 2);
	expect_op(g, &p, VDEV_VSOCK_OP_RW);
	assert_memory_equal(p.data, "ok", 2);
	/* A RESPONSE on an established connection is a protocol error:
	 * RST, the host socket closes. */
	g_send(g, 2, GPORT, hport, 1, VDEV_VSOCK_OP_RESPONSE, 0, 4096, 0, NULL,
	       0);
	expect_op(g, &p, VDEV_VSOCK_OP_RST);
	{
		char c;

		assert_int_equal(read_all(g, fd, &c, 1, 500), 0);
	}
	close(fd);
	/* Bad handshakes from the host: closed, nothing reaches the guest. */
	{
		const char *bad[] = { "CONNECT\n", "CONNECT x\n",
				      "CONNECT 99999999999\n", "HELLO 5\n",
				      "CONNECT 5000 6000\n",
				      "CONNECT 123456789012345678901234567890" };

		for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			char c;

			fd = uds_connect(uds);
			assert_int_equal(write(fd, bad[i], strlen(bad[i])),
					 (ssize_t)strlen(bad[i]));
			assert_int_equal(read_all(g, fd, &c, 1, 500), 0);
			close(fd);
		}
		assert_int_equal(g_recv(g, &p, 100), -ETIMEDOUT);
		assert_int_equal(priv(g)->nconns, 0);
	}
	g_free(g);
}

/* Data sent by the host right after the CONNECT line, in one write,
 * stays in the connection. */
static void test_connect_line_exact(void **state)
{
	struct guest *g = make(0, 0, 0, false);
	const char msg[] = "CONNECT 5000\nhello";
	int fd = uds_connect(uds);
	struct gpkt p;
	char ok[32];

	(void)state;
	assert_int_equal(write(fd, msg, sizeof(msg) - 1),
			 (ssize_t)sizeof(msg) - 1);
	char want[32];
	int n;

	expect_op(g, &p, VDEV_VSOCK_OP_REQUEST);
	n = snprintf(want, sizeof(want), "OK %u\n", p.src_port);
	g_send(g, 2, GPORT, p.src_port, 1, VDEV_VSOCK_OP_RESPONSE, 0, 4096, 0,
	       NULL, 0);
	expect_op(g, &p, VDEV_VSOCK_OP_RW);
	assert_int_equal(p.len, 5);
	assert_memory_equal(p.data, "hello", 5);
	assert_true(read_all(g, fd, ok, (size_t)n, 1000) == n);
	assert_memory_equal(ok, want, (size_t)n);
	/* The guest refuses a second one with RST: the host socket closes
	 * without OK. */
	close(fd);
	fd = uds_connect(uds);
	assert_int_equal(write(fd, "CONNECT 5001\n", 13), 13);
	expect_op(g, &p, VDEV_VSOCK_OP_SHUTDOWN); /* the first closed */
	expect_op(g, &p, VDEV_VSOCK_OP_REQUEST);
	g_send(g, 2, 5001, p.src_port, 1, VDEV_VSOCK_OP_RST, 0, 4096, 0, NULL,
	       0);
	assert_int_equal(read_all(g, fd, ok, 1, 500), 0);
	close(fd);
	g_free(g);
}

/* Two guests in one group: A connects to B's CID; data both ways. */
static void test_siblings(void **state)
{
	struct vdev_vsock_config ca = { .guest_cid = 10, .groups = "g1+g2" };
	struct vdev_vsock_config cb = { .guest_cid = 11, .groups = "g2" };
	struct vdev_vsock_config cc = { .guest_cid = 12, .groups = "other" };
	struct guest *a = g_new(&ca, 64), *b = g_new(&cb, 64);
	struct guest *c = g_new(&cc, 64);
	struct gpkt p;
	int64_t end;

	(void)state;
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	/* A duplicate CID is refused. */
	errno = 0;
	assert_null(vdev_vsock_new(&ca));
	assert_int_equal(errno, EINVAL);
	/* A (10) -> B (11) port 80. */
	g_send(a, 11, 1234, 80, 1, VDEV_VSOCK_OP_REQUEST, 0, 65536, 0, NULL, 0);
	g_run(a, 20);
	expect_op(b, &p, VDEV_VSOCK_OP_REQUEST);
	assert_int_equal(p.src_cid, 10);
	assert_int_equal(p.src_port, 1234);
	assert_int_equal(p.dst_port, 80);
	g_send(b, 10, 80, 1234, 1, VDEV_VSOCK_OP_RESPONSE, 0, 65536, 0, NULL, 0);
	g_run(b, 20);
	expect_op(a, &p, VDEV_VSOCK_OP_RESPONSE);
	assert_int_equal(p.src_cid, 11);
	g_send(a, 11, 1234, 80, 1, VDEV_VSOCK_OP_RW, 0, 65536, 0, "ping", 4);
	g_run(a, 20);
	expect_op(b, &p, VDEV_VSOCK_OP_RW);
	assert_memory_equal(p.data, "ping", 4);
	g_send(b, 10, 80, 1234, 1, VDEV_VSOCK_OP_RW, 0, 65536, 4, "pong", 4);
	g_run(b, 20);
	expect_op(a, &p, VDEV_VSOCK_OP_RW);
	assert_memory_equal(p.data, "pong", 4);
	/* B closes: A hears SHUTDOWN. */
	g_send(b, 10, 80, 1234, 1, VDEV_VSOCK_OP_RST, 0, 65536, 4, NULL, 0);
	g_run(b, 20);
	end = g_now_ms() + 2000;
	while (g_now_ms() < end) {
		if (g_recv(a, &p, 20) == 0 && p.op == VDEV_VSOCK_OP_SHUTDOWN)
			break;
	}
	assert_int_equal(p.op, VDEV_VSOCK_OP_SHUTDOWN);
	/* C shares no group with A: RST. */
	g_send(a, 12, 1235, 80, 1, VDEV_VSOCK_OP_REQUEST, 0, 65536, 0, NULL, 0);
	expect_op(a, &p, VDEV_VSOCK_OP_RST);
	assert_int_equal(p.src_cid, 12);
	g_free(c);
	g_free(b);
	g_free(a);
}

/*
 * Save/restore on a live connection: the guest gets TRANSPORT_RESET, the
 * host side of the old connection closes, nothing leaks, and a new
 * connection works.
 */
static void test_state(void **state)
{
	struct guest *g = make(0, 0, 0, false);
	struct vdev_queue_state st;
	uint32_t hport, hport2;
	void *blob;
	size_t len;
	int fd, fd2;
	char c;

	(void)state;
	fd = host_connect(g, GPORT, 4096, &hport);
	assert_int_equal(priv(g)->nconns, 1);
	for (unsigned q = 0; q < 3; q++)
		assert_int_equal(vdev_vq_stop(g->dev, q, &st), 0);
	assert_int_equal(vdev_save(g->dev, &blob, &len), 0);
	vdev_reset(g->dev);
	assert_int_equal(vdev_restore(g->dev, blob, len), 0);
	free(blob);
	assert_true(vdev_get_status(g->dev) & VDEV_STATUS_DRIVER_OK);
	g_run(g, 50);
	assert_int_equal(g->events, 1);
	assert_int_equal(vdev_le32_to_cpu(*(vdev_le32 *)g->ev),
			 VDEV_VSOCK_EVENT_TRANSPORT_RESET);
	/* The old connection is gone on the host side. */
	assert_int_equal(read_all(g, fd, &c, 1, 500), 0);
	close(fd);
	assert_int_equal(priv(g)->nconns, 0);
	assert_int_equal(priv(g)->mem_used, 0);
	/* A new one works, and its port is not the old one. */
	fd2 = host_connect(g, GPORT, 4096, &hport2);
	assert_int_not_equal(hport2, hport);
	assert_int_equal(write(fd2, "z", 1), 1);
	{
		struct gpkt p;

		expect_op(g, &p, VDEV_VSOCK_OP_RW);
		assert_int_equal(p.data[0], 'z');
	}
	close(fd2);
	/* A truncated state section is refused. */
	for (unsigned q = 0; q < 3; q++)
		assert_int_equal(vdev_vq_stop(g->dev, q, &st), 0);
	assert_int_equal(vdev_save(g->dev, &blob, &len), 0);
	assert_true(vdev_restore(g->dev, blob, len - 1) < 0);
	free(blob);
	g_free(g);
}

static void test_config(void **state)
{
	struct vdev_vsock_config c = { .guest_cid = 2 };
	struct guest *g;
	uint64_t cid;

	(void)state;
	assert_null(vdev_vsock_new(&c));
	c.guest_cid = 0x100000000ull;
	assert_null(vdev_vsock_new(&c));
	c.guest_cid = 3;
	c.buf_size = 100;
	assert_null(vdev_vsock_new(&c));
	c.buf_size = 0;
	c.groups = "a++b";
	assert_null(vdev_vsock_new(&c));
	c.groups = "a+b";
	g = g_new(&c, 64);
	assert_non_null(g);
	assert_int_equal(vdev_drv_config_read(g->drv, 0, &cid, 8), 0);
	assert_int_equal(vdev_le64_to_cpu(cid), 3);
	g_free(g);
	/* A live socket at the path is somebody's. */
	{
		struct vdev_vsock_config c2 = { .guest_cid = 5,
						.uds_path = uds };
		struct vdev *d1 = vdev_vsock_new(&c2), *d2;

		assert_non_null(d1);
		c2.guest_cid = 6;
		d2 = vdev_vsock_new(&c2);
		assert_null(d2);
		assert_int_equal(errno, EADDRINUSE);
		vdev_free(d1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_to_guest_bulk),
		cmocka_unit_test(test_guest_to_host_bulk),
		cmocka_unit_test(test_rst_unknown),
		cmocka_unit_test(test_credit_exact),
		cmocka_unit_test(test_wraps),
		cmocka_unit_test(test_port_wrap_live),
		cmocka_unit_test(test_credit_ignored),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_no_pollout_spin),
		cmocka_unit_test(test_tx_ring_wrap),
		cmocka_unit_test(test_seqpacket),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_connect_line_exact),
		cmocka_unit_test(test_siblings),
		cmocka_unit_test(test_state),
		cmocka_unit_test(test_config),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
