/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev-net as a program, driven over vhost-user by the software driver
 * (which, like User-Mode Linux, takes the control queue): a frame sent by
 * the driver reaches the --dgram-remote socket, one sent to the --dgram
 * socket reaches the driver, RX mode commands filter; --sink generates
 * frames; a frame with a bad header is dropped and its reason counted on
 * --stats-socket and SIGUSR1; bad command lines are refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/net.h>
#include <virtio/testing.h>
#include "tdaemon.h"
#include "tspawn.h"

static char bin[512], sock[64], local[64], remote[64], stats[64], dlog[64];

static int group_setup(void **state)
{
	const char *b = getenv("VDEV_BUILD_DIR");

	if (b)
		snprintf(bin, sizeof(bin), "%s/daemons/net/vdev-net", b);
	snprintf(sock, sizeof(sock), "/tmp/vdev-netd-%d.sock", (int)getpid());
	snprintf(local, sizeof(local), "/tmp/vdev-netd-%d.l", (int)getpid());
	snprintf(remote, sizeof(remote), "/tmp/vdev-netd-%d.r", (int)getpid());
	snprintf(stats, sizeof(stats), "/tmp/vdev-netd-%d.st", (int)getpid());
	snprintf(dlog, sizeof(dlog), "/tmp/vdev-netd-%d.log", (int)getpid());
	return 0;
}

static int cleanup(void **state)
{
	tspawn_kill_all();
	unlink(sock);
	unlink(local);
	unlink(remote);
	unlink(stats);
	unlink(dlog);
	return 0;
}

static void need(void)
{
	if (!*bin || access(bin, X_OK) != 0) {
		print_message("SKIP: %s not built (VDEV_BUILD_DIR unset?)\n",
			      bin);
		skip();
	}
}

static struct vdev_drv *start(struct tspawn *t, const char *const *argv)
{
	struct vdev_drv_config dc = { .queue_size = 256 };
	struct vdev_drv *drv;

	assert_int_equal(tspawn_start(t, argv,
				      &(struct tspawn_opts){ .fd = -1 }),
			 0);
	assert_int_equal(tspawn_wait_socket(t, sock, 10000, NULL), 0);
	drv = vdev_drv_connect_vhost_user(sock, &dc);
	assert_non_null(drv);
	assert_int_equal(vdev_drv_init(drv), 0);
	return drv;
}

static void post_rx(struct vdev_drv *drv, unsigned n, uint32_t len)
{
	struct vdev_drv_mem *mem = vdev_drv_get_mem(drv);

	for (unsigned i = 0; i < n; i++) {
		struct vdev_drv_seg seg = { .len = len };
		void *host = vdev_drv_mem_alloc(mem, len, 16, &seg.gpa);

		assert_non_null(host);
		assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(drv, 0), &seg,
						   0, 1, host, 0),
				 0);
	}
	vdev_drv_kick(drv, 0);
}

static void test_dgram(void **state)
{
	const char *argv[] = { bin, "-s", sock, "--dgram", local,
			       "--dgram-remote", remote,
			       "--mac", "02:00:00:00:00:0a", NULL };
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 0x0a };
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct tspawn t;
	struct vdev_drv *drv;
	uint8_t f[12 + 100] = { 0 }, got[200], m[6], ack = 9, off[3] = { 0, 0, 0 };
	uint32_t w;
	void *tok;
	int s;

	need();
	s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(s >= 0);
	strcpy(a.sun_path, remote);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	drv = start(&t, argv);
	assert_int_equal(vdev_drv_num_queues(drv), 3);
	assert_true(vdev_drv_features(drv) & VDEV_BIT(VDEV_NET_F_CTRL_VQ));
	assert_int_equal(vdev_drv_config_read(drv, 0, m, 6), 0);
	assert_memory_equal(m, mac, 6);

	/* tx: on the remote socket, without the header. */
	memset(f + 12, 0xff, 6);
	for (int i = 18; i < (int)sizeof(f); i++)
		f[i] = (uint8_t)i;
	assert_int_equal(vdev_drv_xfer(drv, 1, f, sizeof(f), NULL, 0, &w,
				       5000),
			 0);
	for (int i = 0; i < 5000; i++) {
		if (recv(s, got, sizeof(got), MSG_DONTWAIT) == 100)
			break;
		assert_true(i < 4999);
		usleep(1000);
	}
	assert_memory_equal(got, f + 12, 100);

	/* rx: sent to the daemon's socket, to our MAC. */
	strcpy(a.sun_path, local);
	memcpy(f + 12, mac, 6);
	post_rx(drv, 4, 1600);
	assert_int_equal(sendto(s, f + 12, 100, 0, (struct sockaddr *)&a,
				sizeof(a)),
			 100);
	assert_int_equal(vdev_drv_wait(drv, 0, 5000, &tok, &w), 0);
	assert_int_equal(w, 112);
	assert_memory_equal((uint8_t *)tok + 12, f + 12, 100);

	/* The control queue is ours: promiscuous off filters. */
	off[0] = VDEV_NET_CTRL_RX;
	off[1] = VDEV_NET_CTRL_RX_PROMISC;
	assert_int_equal(vdev_drv_xfer(drv, 2, off, 3, &ack, 1, &w, 5000), 0);
	assert_int_equal(ack, VDEV_NET_OK);
	memcpy(f + 12, "\x02\x00\x00\x00\x00\x0b", 6);
	assert_int_equal(sendto(s, f + 12, 100, 0, (struct sockaddr *)&a,
				sizeof(a)),
			 100);
	assert_int_equal(vdev_drv_wait(drv, 0, 300, &tok, &w), -ETIMEDOUT);
	memcpy(f + 12, mac, 6);
	assert_int_equal(sendto(s, f + 12, 100, 0, (struct sockaddr *)&a,
				sizeof(a)),
			 100);
	assert_int_equal(vdev_drv_wait(drv, 0, 5000, &tok, &w), 0);
	assert_memory_equal((uint8_t *)tok + 12, f + 12, 100);

	vdev_drv_free(drv);
	close(s);
	assert_int_equal(tspawn_stop(&t, SIGTERM, 5000), 0);
}

static void test_sink(void **state)
{
	const char *argv[] = { bin, "-s", sock, "--sink", "--source-len",
			       "64", "--queues", "2", NULL };
	struct tspawn t;
	struct vdev_drv *drv;
	uint32_t w;
	void *tok;

	need();
	drv = start(&t, argv);
	assert_int_equal(vdev_drv_num_queues(drv), 5);
	assert_true(vdev_drv_features(drv) & VDEV_BIT(VDEV_NET_F_MQ));
	post_rx(drv, 16, 2048);
	for (int i = 0; i < 16; i++) {
		assert_int_equal(vdev_drv_wait(drv, 0, 5000, &tok, &w), 0);
		assert_int_equal(w, 12 + 64);
	}
	vdev_drv_free(drv);
	assert_int_equal(tspawn_stop(&t, SIGTERM, 5000), 0);
}

/* A frame whose header names an undefined gso_type is dropped and counted
 * as drop_bad_hdr on its tx queue, next to the good frame that follows; the
 * operator reads both on --stats-socket and SIGUSR1. */
static void test_stats_bad_hdr(void **state)
{
	const char *argv[] = { bin, "-s", sock, "--sink", "--stats-socket",
			       stats, NULL };
	/* Queue 1 (tx): two requests of 12 + 100 bytes, one dropped. */
	static const char *const want_tx[2] = {
		"{\"index\": 1, \"requests\": 2, \"read_bytes\": 224, "
		"\"written_bytes\": 0, \"errors\": 0, \"notifies\": ",
		"\"counters\": {\"packets\": 1, \"bytes\": 100, "
		"\"drop_bad_hdr\": 1, \"drop_bad_len\": 0, "
		"\"drop_backend\": 0}},",
	};
	static char json[16384];
	uint8_t f[12 + 100] = { 0 };
	const char *q1;
	struct tspawn t;
	struct vdev_drv *drv;
	uint32_t w;

	need();
	assert_int_equal(tspawn_start(&t, argv,
				      &(struct tspawn_opts){ .fd = -1,
							     .log = dlog }),
			 0);
	assert_int_equal(tspawn_wait_socket(&t, sock, 10000, NULL), 0);
	drv = vdev_drv_connect_vhost_user(
		sock, &(struct vdev_drv_config){ .queue_size = 256 });
	assert_non_null(drv);
	assert_int_equal(vdev_drv_init(drv), 0);
	memset(f + 12, 0xff, 6);
	f[1] = 2; /* gso_type: not one the spec defines */
	assert_int_equal(vdev_drv_xfer(drv, 1, f, sizeof(f), NULL, 0, &w,
				       5000),
			 0);
	f[1] = 0;
	assert_int_equal(vdev_drv_xfer(drv, 1, f, sizeof(f), NULL, 0, &w,
				       5000),
			 0);
	assert_int_equal(tdaemon_read_stats(stats, json, sizeof(json)), 0);
	q1 = strstr(json, want_tx[0]);
	if (!q1 || !strstr(q1, want_tx[1]) ||
	    strchr(q1, '\n') < strstr(q1, want_tx[1]) ||
	    !strstr(json, "\"counters\": {\"packets\": 0, \"bytes\": 0, "
			  "\"drop_filtered\": 0, \"drop_no_buffer\": 0, "
			  "\"drop_bad\": 0}}"))
		fail_msg("stats JSON:\n%s\nwanted the tx queue as\n%s...%s",
			 json, want_tx[0], want_tx[1]);
	/* The control queue (2) has no counters of its own. */
	assert_non_null(strstr(json, "{\"index\": 2, "));
	assert_null(strstr(strstr(json, "{\"index\": 2, "), "counters"));
	assert_int_equal(kill(t.pid, SIGUSR1), 0);
	if (!tdaemon_log_has(dlog, "queue 1: 2 requests, 224 bytes read, "
			     "0 bytes written, 0 errors, ", 10000) ||
	    !tdaemon_log_has(dlog, " interrupts; packets 1, bytes 100, "
			     "drop_bad_hdr 1, drop_bad_len 0, drop_backend 0\n",
			     100))
		fail_msg("no SIGUSR1 counters in the log");
	/* and where the ring stands: both chains back, nothing in flight,
	 * kicks asked for */
	if (!tdaemon_log_has(dlog, "queue 1 ring: split avail 2/2 used 2/2 "
			     "used_event ", 1000) ||
	    !tdaemon_log_has(dlog, " kicks on inflight 0\n", 100))
		fail_msg("no SIGUSR1 ring state in the log");
	vdev_drv_free(drv);
	assert_int_equal(tspawn_stop(&t, SIGTERM, 5000), 0);
}

static void test_bad_args(void **state)
{
	static const char *const bad[][8] = {
		{ "--sink", "--dgram", "/tmp/x", NULL },
		{ "--mac", "01:00:00:00:00:01", "--sink", NULL },
		{ "--mac", "02:00:00:00:00", "--sink", NULL },
		{ "--dgram-remote", "/tmp/x", "--sink", NULL },
		{ "--stream", "/tmp/x", "--queues", "2", NULL },
		{ "--source-len", "10", "--sink", NULL },
		{ "--queues", "17", "--sink", NULL },
		{ NULL },
	};

	need();
	for (int i = 0; bad[i][0]; i++) {
		const char *argv[12] = { bin, "-s", sock };
		struct tspawn t;
		int n = 3;

		for (int j = 0; bad[i][j]; j++)
			argv[n++] = bad[i][j];
		argv[n] = NULL;
		assert_int_equal(tspawn_start(&t, argv,
					      &(struct tspawn_opts){
						      .fd = -1,
						      .log = "/dev/null" }),
				 0);
		if (tspawn_stop(&t, 0, 10000) != 1)
			fail_msg("case %d was not refused", i);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_dgram, cleanup),
		cmocka_unit_test_teardown(test_sink, cleanup),
		cmocka_unit_test_teardown(test_stats_bad_hdr, cleanup),
		cmocka_unit_test_teardown(test_bad_args, cleanup),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
