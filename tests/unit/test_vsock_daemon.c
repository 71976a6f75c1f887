/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev-vsock, the daemon, through the vhost-user software driver: two VMs
 * of one daemon (--vm) in one group reach each other by CID, each VM's
 * hybrid socket takes CONNECT, config space holds each VM's CID, --config
 * YAML and --socket give the same, and bad command lines are refused.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tspawn.h"
#include "vsock_harness.h"

static char bin[512];
static char dir[64];

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vdev-vsockd-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	tspawn_kill_all();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static int run_status(const char *const *args)
{
	const struct tspawn_opts o = { .fd = -1, .log = "/dev/null" };
	const char *argv[16] = { bin };
	struct tspawn t;
	int r, n = 1;

	while (*args && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	assert_int_equal(tspawn_start(&t, argv, &o), 0);
	r = tspawn_wait(&t, TSPAWN_TIMEOUT_MS);
	assert_in_range(r, 0, 255);
	return r;
}

static struct guest *connect_vm(struct tspawn *d, const char *sock,
				uint64_t cid)
{
	struct vdev_drv *drv;
	uint64_t c;

	assert_int_equal(tspawn_drv_connect(d, sock, 5000,
					    &(const struct vdev_drv_config){
						    .mem_size = 32u << 20,
						    .queue_size = 256 },
					    &drv),
			 0);
	assert_int_equal(vdev_drv_num_queues(drv), 3);
	assert_int_equal(vdev_drv_config_read(drv, 0, &c, 8), 0);
	assert_int_equal(vdev_le64_to_cpu(c), cid);
	return g_attach(drv, cid, 64);
}

static void expect_op(struct guest *g, struct gpkt *p, uint16_t op)
{
	do
		assert_int_equal(g_recv(g, p, 5000), 0);
	while (p->op == VDEV_VSOCK_OP_CREDIT_UPDATE &&
	       op != VDEV_VSOCK_OP_CREDIT_UPDATE);
	if (p->op != op)
		fail_msg("expected op %u, got %u", op, p->op);
}

/* CONNECT through @uds to guest port 5000 of @g, then a few bytes. */
static void hybrid(struct guest *g, const char *uds)
{
	int fd = uds_connect(uds);
	struct gpkt p;
	char line[32], want[32];
	int n;

	assert_int_equal(write(fd, "CONNECT 5000\n", 13), 13);
	expect_op(g, &p, VDEV_VSOCK_OP_REQUEST);
	assert_int_equal(p.dst_cid, g->cid);
	g_send(g, 2, 5000, p.src_port, 1, VDEV_VSOCK_OP_RESPONSE, 0, 65536, 0,
	       NULL, 0);
	n = snprintf(want, sizeof(want), "OK %u\n", p.src_port);
	for (int i = 0, got = 0; got < n && i < 500; i++) {
		ssize_t k = read(fd, line + got, (size_t)(n - got));

		if (k > 0)
			got += (int)k;
		else
			g_run(g, 5);
	}
	assert_memory_equal(line, want, (size_t)n);
	assert_int_equal(write(fd, "data", 4), 4);
	expect_op(g, &p, VDEV_VSOCK_OP_RW);
	assert_memory_equal(p.data, "data", 4);
	close(fd);
	expect_op(g, &p, VDEV_VSOCK_OP_SHUTDOWN);
	g_send(g, 2, 5000, p.src_port, 1, VDEV_VSOCK_OP_RST, 0, 65536, 4, NULL,
	       0);
}

static void test_two_vms(void **state)
{
	char s1[128], s2[128], u1[128], u2[128], vm1[400], vm2[400];
	const char *argv[8];
	struct tspawn d;
	struct guest *a, *b;
	struct gpkt p;
	int64_t end;

	(void)state;
	snprintf(s1, sizeof(s1), "%s/vm1.sock", dir);
	snprintf(s2, sizeof(s2), "%s/vm2.sock", dir);
	snprintf(u1, sizeof(u1), "%s/vm1.vsock", dir);
	snprintf(u2, sizeof(u2), "%s/vm2.vsock", dir);
	snprintf(vm1, sizeof(vm1),
		 "guest-cid=3,socket=%s,uds-path=%s,groups=g1+shared", s1, u1);
	snprintf(vm2, sizeof(vm2),
		 "guest-cid=4,socket=%s,uds-path=%s,groups=shared,"
		 "tx-buffer-size=32768",
		 s2, u2);
	argv[0] = bin;
	argv[1] = "--vm";
	argv[2] = vm1;
	argv[3] = "--vm";
	argv[4] = vm2;
	argv[5] = NULL;
	assert_int_equal(tspawn_start(&d, argv, NULL), 0);
	a = connect_vm(&d, s1, 3);
	b = connect_vm(&d, s2, 4);
	hybrid(a, u1);
	hybrid(b, u2);
	/* VM 3 -> VM 4, port 77. */
	g_send(a, 4, 1111, 77, 1, VDEV_VSOCK_OP_REQUEST, 0, 65536, 0, NULL, 0);
	expect_op(b, &p, VDEV_VSOCK_OP_REQUEST);
	assert_int_equal(p.src_cid, 3);
	assert_int_equal(p.buf_alloc, 32768);
	g_send(b, 3, 77, 1111, 1, VDEV_VSOCK_OP_RESPONSE, 0, 65536, 0, NULL, 0);
	expect_op(a, &p, VDEV_VSOCK_OP_RESPONSE);
	assert_int_equal(p.src_cid, 4);
	g_send(a, 4, 1111, 77, 1, VDEV_VSOCK_OP_RW, 0, 65536, 0, "hello", 5);
	expect_op(b, &p, VDEV_VSOCK_OP_RW);
	assert_memory_equal(p.data, "hello", 5);
	g_send(b, 3, 77, 1111, 1, VDEV_VSOCK_OP_RW, 0, 65536, 5, "world", 5);
	expect_op(a, &p, VDEV_VSOCK_OP_RW);
	assert_memory_equal(p.data, "world", 5);
	/* A closes both ways: B hears SHUTDOWN; A gets RST once B's side
	 * is gone. */
	g_send(a, 4, 1111, 77, 1, VDEV_VSOCK_OP_SHUTDOWN, 3, 65536, 5, NULL, 0);
	expect_op(a, &p, VDEV_VSOCK_OP_RST);
	end = g_now_ms() + 3000;
	do
		assert_int_equal(g_recv(b, &p, 3000), 0);
	while (p.op != VDEV_VSOCK_OP_SHUTDOWN && g_now_ms() < end);
	assert_int_equal(p.op, VDEV_VSOCK_OP_SHUTDOWN);
	vdev_drv_free(a->drv);
	vdev_drv_free(b->drv);
	free(a);
	free(b);
	assert_int_equal(tspawn_stop(&d, SIGTERM, TSPAWN_TIMEOUT_MS), 0);
	assert_int_equal(access(s1, F_OK), -1);
	assert_int_equal(access(u1, F_OK), -1);
}

/* --config YAML, then --socket: the same VM both ways. */
static void test_config_and_socket(void **state)
{
	char s[128], u[128], y[128];
	const char *argv[10];
	struct tspawn d;
	struct guest *g;
	FILE *f;

	(void)state;
	snprintf(s, sizeof(s), "%s/c.sock", dir);
	snprintf(u, sizeof(u), "%s/c.vsock", dir);
	snprintf(y, sizeof(y), "%s/c.yaml", dir);
	f = fopen(y, "w");
	assert_non_null(f);
	fprintf(f, "# a comment\nvms:\n    - guest_cid: 17\n"
		   "      socket: \"%s\"\n      uds_path: %s\n"
		   "      tx_buffer_size: 65536\n      queue_size: 256\n"
		   "      groups: default\n", s, u);
	fclose(f);
	argv[0] = bin;
	argv[1] = "--config";
	argv[2] = y;
	argv[3] = NULL;
	assert_int_equal(tspawn_start(&d, argv, NULL), 0);
	g = connect_vm(&d, s, 17);
	hybrid(g, u);
	vdev_drv_free(g->drv);
	free(g);
	assert_int_equal(tspawn_stop(&d, SIGTERM, TSPAWN_TIMEOUT_MS), 0);

	argv[1] = "--guest-cid";
	argv[2] = "18";
	argv[3] = "--socket";
	argv[4] = s;
	argv[5] = "--uds-path";
	argv[6] = u;
	argv[7] = NULL;
	assert_int_equal(tspawn_start(&d, argv, NULL), 0);
	g = connect_vm(&d, s, 18);
	hybrid(g, u);
	vdev_drv_free(g->drv);
	free(g);
	assert_int_equal(tspawn_stop(&d, SIGTERM, TSPAWN_TIMEOUT_MS), 0);
}

static void test_command_line(void **state)
{
	char y[128];
	FILE *f;

	(void)state;
	/* A VM without a socket; a CID twice; --vm with --guest-cid; an
	 * unknown key; -c 2; a CID out of range; a bad group. */
	assert_int_equal(run_status((const char *[]){ "--vm", "guest-cid=4",
						      NULL }),
			 1);
	assert_int_equal(run_status((const char *[]){
				 "--vm", "guest-cid=4,socket=/tmp/x1", "--vm",
				 "guest-cid=4,socket=/tmp/x2", NULL }),
			 1);
	assert_int_equal(run_status((const char *[]){
				 "--vm", "guest-cid=4,socket=/tmp/x1",
				 "--guest-cid", "5", NULL }),
			 1);
	assert_int_equal(run_status((const char *[]){
				 "--vm", "guest-cid=4,socket=/tmp/x1,color=red",
				 NULL }),
			 1);
	assert_int_equal(run_status((const char *[]){ "-s", "/tmp/x", "-c",
						      "2", NULL }),
			 1);
	assert_int_equal(run_status((const char *[]){ "--guest-cid", "2",
						      "-s", "/tmp/x", NULL }),
			 1);
	assert_int_equal(run_status((const char *[]){
				 "--vm", "guest-cid=4,socket=/tmp/x1",
				 "-s", "/tmp/x2", NULL }),
			 1);
	snprintf(y, sizeof(y), "%s/bad.yaml", dir);
	f = fopen(y, "w");
	assert_non_null(f);
	fprintf(f, "vms:\n  - guest_cid: 5\n    sock et x\n");
	fclose(f);
	assert_int_equal(run_status((const char *[]){ "--config", y, NULL }),
			 1);
	assert_int_equal(run_status((const char *[]){ "--help", NULL }), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_two_vms),
		cmocka_unit_test(test_config_and_socket),
		cmocka_unit_test(test_command_line),
	};
	const char *bd = getenv("VDEV_BUILD_DIR");

	snprintf(bin, sizeof(bin), "%s/daemons/vsock/vdev-vsock",
		 bd ? bd : ".");
	if (access(bin, X_OK) != 0) {
		fprintf(stderr, "SKIP: %s not built\n", bin);
		return 77;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
