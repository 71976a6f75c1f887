/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The vdev-scsi daemon end to end: the test starts the real binary with two
 * images as arguments, connects the software driver over vhost-user
 * (vdev_drv_vhost_user_fd, testing.h), reads
 * the config space, drives the control queue (queue 0: task management
 * and asynchronous notification queries), then stops the daemon with
 * SIGTERM and checks that it exits cleanly and removes its socket. Also:
 * the command-line errors of the daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/scsi.h>
#include <virtio/spec.h>
#include <virtio/testing.h>

#include "tspawn.h"


struct efx {
	char img[2][64];
	char sock[108];
	char bin[512];
	struct tspawn d;
	struct vdev_drv *drv;
};

static int setup(void **state)
{
	static struct efx e;
	const char *bd = getenv("VDEV_BUILD_DIR");

	memset(&e, 0, sizeof(e));
	snprintf(e.bin, sizeof(e.bin), "%s/daemons/scsi/vdev-scsi",
		 bd ? bd : ".");
	for (unsigned i = 0; i < 2; i++) {
		int fd;

		snprintf(e.img[i], sizeof(e.img[i]),
			 "/tmp/vdev-scsi-e2e-XXXXXX");
		fd = mkstemp(e.img[i]);
		assert_true(fd >= 0);
		assert_int_equal(ftruncate(fd, (1 + i) << 20), 0);
		close(fd);
	}
	snprintf(e.sock, sizeof(e.sock), "/tmp/vdev-scsi-e2e-%d.sock",
		 (int)getpid());
	*state = &e;
	return 0;
}

static void stop_daemon(struct efx *e, bool expect_clean)
{
	int r;

	vdev_drv_free(e->drv);
	e->drv = NULL;
	if (e->d.pid <= 0)
		return;
	r = tspawn_stop(&e->d, SIGTERM, TSPAWN_TIMEOUT_MS);
	assert_true(r >= 0); /* it ended within the timeout */
	if (expect_clean) {
		assert_int_equal(r, 0);
		assert_int_equal(access(e->sock, F_OK), -1);
	}
}

static int teardown(void **state)
{
	struct efx *e = *state;

	stop_daemon(e, false);
	unlink(e->img[0]);
	unlink(e->img[1]);
	unlink(e->sock);
	return 0;
}

/* Runs the daemon with @argv (NULL-terminated, after the program name)
 * and returns its exit status; output goes to /dev/null. */
static int run_status(struct efx *e, const char *const *args)
{
	const struct tspawn_opts o = { .fd = -1, .log = "/dev/null" };
	const char *argv[16] = { e->bin };
	struct tspawn t;
	int r, n = 1;

	while (*args && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	assert_int_equal(tspawn_start(&t, argv, &o), 0);
	r = tspawn_wait(&t, TSPAWN_TIMEOUT_MS);
	/* exited by itself, not killed by a signal or the timeout */
	assert_in_range(r, 0, 255);
	return r;
}

static void start_daemon(struct efx *e, bool hotplug)
{
	const char *argv[12];
	int n = 0;

	argv[n++] = e->bin;
	argv[n++] = "-s";
	argv[n++] = e->sock;
	argv[n++] = e->img[0];
	argv[n++] = "--num-queues";
	argv[n++] = "2";
	argv[n++] = e->img[1];
	if (hotplug)
		argv[n++] = "--hotplug";
	argv[n] = NULL;
	unlink(e->sock);
	assert_int_equal(tspawn_start(&e->d, argv, NULL), 0);
	assert_int_equal(tspawn_drv_connect(&e->d, e->sock, 5000,
					    &(const struct vdev_drv_config){
						    .queue_size = 64 },
					    &e->drv), 0);
	/* Queue 0 is the control queue; all four are brought up. */
	assert_int_equal(vdev_drv_num_queues(e->drv), 4);
	assert_int_equal(vdev_drv_init(e->drv), 0);
}

static void get_config(struct efx *e, struct vdev_scsi_config_space *cs)
{
	assert_int_equal(vdev_drv_config_read(e->drv, 0, cs, sizeof(*cs)), 0);
}

/* One control request; returns the used length. */
static uint32_t ctrl(struct efx *e, const void *req, uint32_t len,
		     void *resp, uint32_t rlen)
{
	uint32_t used = 0;

	memset(resp, 0xee, rlen);
	assert_int_equal(vdev_drv_xfer(e->drv, 0, req, len, resp, rlen, &used,
				       5000), 0);
	return used;
}

static void lun(uint8_t *l, unsigned n, unsigned target)
{
	memset(l, 0, 8);
	l[0] = 1;
	l[1] = (uint8_t)target;
	l[2] = 0x40;
	l[3] = (uint8_t)n;
}

static uint8_t tmf(struct efx *e, uint32_t subtype, unsigned n,
		   unsigned target)
{
	struct vdev_scsi_ctrl_tmf_req t = { 0 };
	uint8_t r;

	t.type = vdev_cpu_to_le32(VDEV_SCSI_T_TMF);
	t.subtype = vdev_cpu_to_le32(subtype);
	lun(t.lun, n, target);
	assert_int_equal(ctrl(e, &t, sizeof(t), &r, 1), 1);
	return r;
}

static void test_control_queue(void **state)
{
	struct efx *e = *state;
	struct vdev_scsi_config_space cs;
	struct vdev_scsi_ctrl_an_req an = { 0 };
	struct vdev_scsi_ctrl_an_resp ar;

	if (access(e->bin, X_OK) != 0)
		skip();
	start_daemon(e, true);
	get_config(e, &cs);
	assert_int_equal(vdev_le32_to_cpu(cs.num_queues), 2);
	assert_int_equal(vdev_le32_to_cpu(cs.max_lun), 1);
	assert_int_equal(vdev_le32_to_cpu(cs.sense_size), 96);
	assert_int_equal(vdev_le32_to_cpu(cs.cdb_size), 32);
	/* The daemons' default --queue-size (daemon.h). */
	assert_int_equal(vdev_le32_to_cpu(cs.cmd_per_lun), 1024);
	assert_true(vdev_drv_features(e->drv) & VDEV_BIT(VDEV_SCSI_F_HOTPLUG));
	assert_true(vdev_drv_features(e->drv) & VDEV_BIT(VDEV_SCSI_F_CHANGE));

	assert_int_equal(tmf(e, VDEV_SCSI_T_TMF_LOGICAL_UNIT_RESET, 1, 0),
			 VDEV_SCSI_S_FUNCTION_COMPLETE);
	assert_int_equal(tmf(e, VDEV_SCSI_T_TMF_LOGICAL_UNIT_RESET, 2, 0),
			 VDEV_SCSI_S_INCORRECT_LUN);
	assert_int_equal(tmf(e, VDEV_SCSI_T_TMF_ABORT_TASK, 0, 1),
			 VDEV_SCSI_S_BAD_TARGET);
	assert_int_equal(tmf(e, VDEV_SCSI_T_TMF_CLEAR_ACA, 0, 0),
			 VDEV_SCSI_S_FUNCTION_REJECTED);

	an.type = vdev_cpu_to_le32(VDEV_SCSI_T_AN_SUBSCRIBE);
	lun(an.lun, 0, 0);
	an.event_requested = vdev_cpu_to_le32(0x10);
	assert_int_equal(ctrl(e, &an, sizeof(an), &ar, sizeof(ar)),
			 sizeof(ar));
	assert_int_equal(ar.response, VDEV_SCSI_S_OK);
	assert_int_equal(vdev_le32_to_cpu(ar.event_actual), 0);
	/* a short control request over the wire: nothing written */
	{
		uint8_t r = 0;

		assert_int_equal(ctrl(e, &an, 3, &r, 1), 0);
	}
	stop_daemon(e, true);
}

static void test_command_line(void **state)
{
	struct efx *e = *state;
	const char *none[] = { "-s", e->sock, NULL };
	const char *missing[] = { "-s", e->sock, "/nonexistent/img", NULL };
	const char *help[] = { "--help", NULL };
	const char *caps[] = { "--print-capabilities", NULL };
	const char *badq[] = { "-s", e->sock, "--num-queues", "0", e->img[0],
			       NULL };
	const char *badbs[] = { "-s", e->sock, "--logical-block-size", "1024",
				e->img[0], NULL };

	if (access(e->bin, X_OK) != 0)
		skip();
	assert_int_equal(run_status(e, help), 0);
	assert_int_equal(run_status(e, caps), 0);
	assert_int_equal(run_status(e, none), 1);
	assert_int_equal(run_status(e, badq), 1);
	assert_int_equal(run_status(e, badbs), 1);
	assert_int_equal(run_status(e, missing), 1);
	assert_int_equal(access(e->sock, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_control_queue, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_command_line, setup,
						teardown),
	};
	const char *bd = getenv("VDEV_BUILD_DIR");
	char bin[512];

	/* Without the daemon nothing here can run: ctest counts exit code
	 * 77 as skipped, not passed. */
	snprintf(bin, sizeof(bin), "%s/daemons/scsi/vdev-scsi",
		 bd ? bd : ".");
	if (access(bin, X_OK) != 0) {
		fprintf(stderr, "SKIP: %s not built\n", bin);
		return 77;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
