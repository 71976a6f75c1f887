/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-scsi with commands in flight on the image layer: a slow command
 * no longer holds up its queue; task management really aborts (or waits
 * for) the commands it concerns and answers only after they ended (SAM-5
 * 7.1, virtio 5.6.6.2); QUERY TASK sees what is in flight; a device reset
 * waits for it.
 *
 * "In flight" is made to last with the image layer's test hook: a worker
 * thread that takes a part of a large transfer waits there until the test
 * releases it (stg_pool_test_hold), as if the disk were slow.
 */
#include <pthread.h>
#include <time.h>

#include <poll.h>

#include "scsi_harness.h"
#include "storage/storage_internal.h"
#include "vhu_frontend.h"

#define BIG (256u << 10) /* goes to the worker pool */

/* One command left in flight. */
struct pend {
	size_t mark;
	struct vdev_scsi_cmd_resp *resp;
	uint8_t *din;
	size_t din_len;
};

static void submit(struct fx *f, struct pend *p, unsigned lun, uint64_t tag,
		   const uint8_t *cdb, size_t din_len)
{
	struct vdev_drv_mem *m = vdev_drv_get_mem(f->drv);
	struct vdev_drv_seg segs[3];
	struct vdev_scsi_cmd_req *req;

	memset(p, 0, sizeof(*p));
	p->mark = vdev_drv_mem_mark(m);
	req = vdev_drv_mem_alloc(m, sizeof(*req), 8, &segs[0].gpa);
	assert_non_null(req);
	lun_addr(req->lun, lun);
	req->id = vdev_cpu_to_le64(tag);
	memcpy(req->cdb, cdb, 16);
	segs[0].len = sizeof(*req);
	p->resp = vdev_drv_mem_alloc(m, sizeof(*p->resp), 8, &segs[1].gpa);
	assert_non_null(p->resp);
	p->resp->response = 0xee;
	segs[1].len = sizeof(*p->resp);
	p->din = vdev_drv_mem_alloc(m, din_len, 4096, &segs[2].gpa);
	assert_non_null(p->din);
	segs[2].len = (uint32_t)din_len;
	p->din_len = din_len;
	assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(f->drv, RQ), segs, 1,
					   2, p, 0),
			 0);
	assert_int_equal(vdev_drv_kick(f->drv, RQ), 0);
}

static void read16(uint8_t *cdb, uint64_t lba, uint32_t n)
{
	memset(cdb, 0, 16);
	cdb[0] = 0x88;
	put_be64(cdb + 2, lba);
	put_be32(cdb + 10, n);
}

/* A TMF made available, not waited for; *resp is where it answers. */
static uint8_t *tmf_submit(struct fx *f, uint32_t subtype, unsigned lun,
			   uint64_t tag)
{
	struct vdev_drv_mem *m = vdev_drv_get_mem(f->drv);
	struct vdev_drv_seg segs[2];
	struct vdev_scsi_ctrl_tmf_req *req;
	uint8_t *resp;

	req = vdev_drv_mem_alloc(m, sizeof(*req), 8, &segs[0].gpa);
	assert_non_null(req);
	req->type = vdev_cpu_to_le32(VDEV_SCSI_T_TMF);
	req->subtype = vdev_cpu_to_le32(subtype);
	lun_addr(req->lun, lun);
	req->id = vdev_cpu_to_le64(tag);
	segs[0].len = sizeof(*req);
	resp = vdev_drv_mem_alloc(m, 1, 1, &segs[1].gpa);
	assert_non_null(resp);
	*resp = 0xee;
	segs[1].len = 1;
	assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(f->drv,
							 VDEV_SCSI_CTRL_QUEUE),
					   segs, 1, 1, resp, 0),
			 0);
	assert_int_equal(vdev_drv_kick(f->drv, VDEV_SCSI_CTRL_QUEUE), 0);
	return resp;
}

/* The next completion on @q within @ms; NULL on timeout. */
static void *next_done(struct fx *f, unsigned q, int ms)
{
	void *tok;
	uint32_t len;
	int ret = vdev_drv_wait(f->drv, q, ms, &tok, &len);

	if (ret == -ETIMEDOUT)
		return NULL;
	assert_int_equal(ret, 0);
	return tok;
}

static void wait_held(unsigned n)
{
	for (int i = 0; i < 5000; i++) {
		if (atomic_load(&stg_pool_test_held) >= n)
			return;
		struct timespec ts = { 0, 1000000 };

		nanosleep(&ts, NULL);
	}
	fail_msg("no worker took the part");
}

static int setup(void **state)
{
	fx_setup(state);
	atomic_store(&stg_pool_test_hold, false);
	return 0;
}

static int teardown(void **state)
{
	stg_pool_test_release();
	return fx_teardown(state);
}

/* A command stuck on a slow disk holds up neither its queue nor the
 * commands behind it (before, a request queue ran one command at a
 * time). */
static void test_slow_command_does_not_stall(void **state)
{
	struct fx *f = *state;
	struct pend big, small;
	uint8_t cdb[16];

	assert_int_equal(fx_open(f), 0);
	atomic_store(&stg_pool_test_hold, true);
	read16(cdb, 0, BIG / 512);
	submit(f, &big, 0, 1, cdb, BIG);
	wait_held(1);
	read16(cdb, 8, 8);
	submit(f, &small, 0, 2, cdb, 4096);
	assert_ptr_equal(next_done(f, RQ, TMO), &small);
	assert_int_equal(small.resp->response, VDEV_SCSI_S_OK);
	assert_int_equal(small.resp->status, VDEV_SCSI_STATUS_GOOD);
	/* the big one is still there */
	assert_null(next_done(f, RQ, 100));
	stg_pool_test_release();
	assert_ptr_equal(next_done(f, RQ, TMO), &big);
	assert_int_equal(big.resp->response, VDEV_SCSI_S_OK);
	assert_int_equal(big.resp->resid, 0);
}

/*
 * ABORT TASK of a command the disk still has: the TMF does not answer
 * while it runs; the command then ends ABORTED, and only after it the
 * TMF, FUNCTION COMPLETE. Another command in flight is untouched, and
 * QUERY TASK sees it meanwhile.
 */
static void test_abort_task_waits(void **state)
{
	struct fx *f = *state;
	struct pend a, b;
	uint8_t cdb[16], *ab, *q1, *q2, ref[4096];
	void *tok;
	uint32_t len;

	assert_int_equal(fx_open(f), 0);
	pattern(ref, sizeof(ref), 3);
	assert_int_equal(pwrite(f->imgfd[0], ref, sizeof(ref), BIG),
			 (ssize_t)sizeof(ref));
	atomic_store(&stg_pool_test_hold, true);
	read16(cdb, 0, BIG / 512);
	submit(f, &a, 0, 0xa1, cdb, BIG);
	read16(cdb, BIG / 512, BIG / 512);
	submit(f, &b, 0, 0xb2, cdb, BIG);
	wait_held(1);
	ab = tmf_submit(f, VDEV_SCSI_T_TMF_ABORT_TASK, 0, 0xa1);
	/* nothing ends while the disk holds the command */
	assert_null(next_done(f, VDEV_SCSI_CTRL_QUEUE, 200));
	assert_int_equal(*ab, 0xee);
	/* the other TMF slots still answer */
	q1 = tmf_submit(f, VDEV_SCSI_T_TMF_QUERY_TASK, 0, 0xb2);
	assert_ptr_equal(next_done(f, VDEV_SCSI_CTRL_QUEUE, TMO), q1);
	assert_int_equal(*q1, VDEV_SCSI_S_FUNCTION_SUCCEEDED);
	q2 = tmf_submit(f, VDEV_SCSI_T_TMF_QUERY_TASK, 0, 0x99);
	assert_ptr_equal(next_done(f, VDEV_SCSI_CTRL_QUEUE, TMO), q2);
	assert_int_equal(*q2, VDEV_SCSI_S_FUNCTION_COMPLETE);
	stg_pool_test_release();
	assert_ptr_equal(next_done(f, VDEV_SCSI_CTRL_QUEUE, TMO), ab);
	assert_int_equal(*ab, VDEV_SCSI_S_FUNCTION_COMPLETE);
	/* the aborted command had ended before the TMF answered */
	assert_int_equal(vdev_drv_ring_get_used(vdev_drv_ring(f->drv, RQ),
						&tok, &len),
			 0);
	if (tok == &b) {
		assert_int_equal(b.resp->response, VDEV_SCSI_S_OK);
		assert_ptr_equal(next_done(f, RQ, TMO), &a);
	} else {
		assert_ptr_equal(tok, &a);
		assert_ptr_equal(next_done(f, RQ, TMO), &b);
	}
	assert_int_equal(a.resp->response, VDEV_SCSI_S_ABORTED);
	assert_int_equal(b.resp->response, VDEV_SCSI_S_OK);
	assert_int_equal(b.resp->status, VDEV_SCSI_STATUS_GOOD);
	assert_memory_equal(b.din, ref, sizeof(ref));
	/* the device goes on */
	read16(cdb, 0, 8);
	submit(f, &a, 0, 3, cdb, 4096);
	assert_ptr_equal(next_done(f, RQ, TMO), &a);
	assert_int_equal(a.resp->response, VDEV_SCSI_S_OK);
}

/*
 * LOGICAL UNIT RESET waits for that LUN's commands (ended RESET), not the
 * other LUN's, and leaves a unit attention.
 */
static void test_lun_reset_waits(void **state)
{
	struct fx *f = *state;
	struct pend a, b;
	uint8_t cdb[16], *rs;
	struct res r;
	void *first;

	assert_int_equal(fx_open(f), 0);
	atomic_store(&stg_pool_test_hold, true);
	read16(cdb, 0, BIG / 512);
	submit(f, &a, 0, 1, cdb, BIG);
	submit(f, &b, 1, 2, cdb, BIG);
	wait_held(1);
	rs = tmf_submit(f, VDEV_SCSI_T_TMF_LOGICAL_UNIT_RESET, 0, 0);
	assert_null(next_done(f, VDEV_SCSI_CTRL_QUEUE, 200));
	stg_pool_test_release();
	assert_ptr_equal(next_done(f, VDEV_SCSI_CTRL_QUEUE, TMO), rs);
	assert_int_equal(*rs, VDEV_SCSI_S_FUNCTION_COMPLETE);
	first = next_done(f, RQ, TMO);
	assert_non_null(first);
	assert_ptr_equal(next_done(f, RQ, TMO), first == &a ? &b : &a);
	assert_int_equal(a.resp->response, VDEV_SCSI_S_RESET);
	assert_int_equal(b.resp->response, VDEV_SCSI_S_OK);
	/* LUN 0 reports the reset once */
	static const uint8_t tur[6] = { 0 };

	cmd(f, 0, tur, 6, NULL, 0, NULL, 0, &r);
	assert_sense(&r, SK_UNIT_ATTENTION, ASC_POWER_ON_RESET);
	cmd(f, 0, tur, 6, NULL, 0, NULL, 0, &r);
	assert_good(&r);
	cmd(f, 1, tur, 6, NULL, 0, NULL, 0, &r);
	assert_good(&r);
}

/* An ABORT TASK SET and an I_T NEXUS RESET on the same command: both
 * wait, both answer once it ended. */
static void test_two_tmfs_one_task(void **state)
{
	struct fx *f = *state;
	struct pend a;
	uint8_t cdb[16], *t1, *t2;
	void *x, *y;

	assert_int_equal(fx_open(f), 0);
	atomic_store(&stg_pool_test_hold, true);
	read16(cdb, 0, BIG / 512);
	submit(f, &a, 1, 7, cdb, BIG);
	wait_held(1);
	t1 = tmf_submit(f, VDEV_SCSI_T_TMF_ABORT_TASK_SET, 1, 0);
	t2 = tmf_submit(f, VDEV_SCSI_T_TMF_I_T_NEXUS_RESET, 0, 0);
	assert_null(next_done(f, VDEV_SCSI_CTRL_QUEUE, 100));
	stg_pool_test_release();
	x = next_done(f, VDEV_SCSI_CTRL_QUEUE, TMO);
	y = next_done(f, VDEV_SCSI_CTRL_QUEUE, TMO);
	assert_true((x == t1 && y == t2) || (x == t2 && y == t1));
	assert_int_equal(*t1, VDEV_SCSI_S_FUNCTION_COMPLETE);
	assert_int_equal(*t2, VDEV_SCSI_S_FUNCTION_COMPLETE);
	assert_ptr_equal(next_done(f, RQ, TMO), &a);
	/* the first TMF to mark it decides how it ends */
	assert_int_equal(a.resp->response, VDEV_SCSI_S_ABORTED);
}

struct resetter {
	struct vdev *dev;
	volatile bool done;
};

static void *do_reset(void *arg)
{
	struct resetter *r = arg;

	vdev_reset(r->dev);
	r->done = true;
	return NULL;
}

/* A device reset waits for the commands the disk still has: no
 * completion may land in a ring the driver took back. */
static void test_reset_waits(void **state)
{
	struct fx *f = *state;
	struct resetter r = { .dev = NULL };
	struct pend a;
	uint8_t cdb[16];
	pthread_t th;

	assert_int_equal(fx_open(f), 0);
	atomic_store(&stg_pool_test_hold, true);
	read16(cdb, 0, BIG / 512);
	submit(f, &a, 0, 1, cdb, BIG);
	wait_held(1);
	r.dev = f->dev;
	assert_int_equal(pthread_create(&th, NULL, do_reset, &r), 0);
	{
		struct timespec ts = { 0, 200000000 };

		nanosleep(&ts, NULL);
	}
	assert_false(r.done);
	assert_int_equal(fx_scsi(f)->queues[0].inflight, 1);
	stg_pool_test_release();
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(r.done);
	assert_int_equal(fx_scsi(f)->queues[0].inflight, 0);
}

/* Many commands in flight at once on a queue, all answered right. */
static void test_many_in_flight(void **state)
{
	struct fx *f = *state;
	enum { N = 24 };
	struct pend p[N];
	uint8_t cdb[16], *ref = malloc(BIG);
	bool seen[N] = { false };

	assert_non_null(ref);
	f->dcfg.queue_size = 128;
	assert_int_equal(fx_open(f), 0);
	pattern(ref, BIG, 5);
	assert_int_equal(pwrite(f->imgfd[0], ref, BIG, 0), (ssize_t)BIG);
	for (unsigned i = 0; i < N; i++) {
		uint32_t len = i % 2 ? 4096 : 65536 * (1 + i % 4);

		read16(cdb, 0, len / 512);
		submit(f, &p[i], 0, i, cdb, len);
	}
	for (unsigned i = 0; i < N; i++) {
		struct pend *d = next_done(f, RQ, TMO);

		assert_non_null(d);
		seen[d - p] = true;
		assert_int_equal(d->resp->response, VDEV_SCSI_S_OK);
		assert_int_equal(d->resp->status, VDEV_SCSI_STATUS_GOOD);
		assert_memory_equal(d->din, ref, d->din_len);
	}
	for (unsigned i = 0; i < N; i++)
		assert_true(seen[i]);
	free(ref);
}

/* The next completion on @ring within @ms (its call eventfd polled). */
static void *vhu_next(struct vdev_drv_ring *ring, int call_fd, int ms)
{
	for (int waited = 0; waited <= ms; waited += 10) {
		struct pollfd p = { .fd = call_fd, .events = POLLIN };
		void *tok;
		uint32_t len;
		uint64_t v;

		if (vdev_drv_ring_get_used(ring, &tok, &len) == 0)
			return tok;
		if (poll(&p, 1, 10) == 1 && read(call_fd, &v, 8) < 0) {
			/* consumed by a racing read: look again */
		}
	}
	return NULL;
}

static void kick_fd(int fd)
{
	uint64_t one = 1;

	assert_int_equal(write(fd, &one, 8), 8);
}

/*
 * The same ABORT TASK with every queue on its own thread (vhost-user,
 * thread per queue): the TMF runs on the control queue's thread, the
 * command on the request queue's; the TMF still answers only after the
 * command ended ABORTED.
 */
static void test_abort_across_threads(void **state)
{
	struct fx *f = *state;
	struct vdev_vhost_user_config vc = {
		.threads = VDEV_VHOST_USER_THREAD_PER_QUEUE,
	};
	struct vhu_fe_server srv;
	struct vhu_fe_guest g;
	struct vhu_fe_queue evq, rq;
	struct vhu_fe *fe;
	struct vdev_drv_seg segs[3];
	struct vdev_scsi_cmd_req *req;
	struct vdev_scsi_cmd_resp *resp;
	struct vdev_scsi_ctrl_tmf_req *tr;
	uint8_t *tresp, cdb[16];
	void *tok;
	uint32_t len;

	f->cfg.paths = f->paths;
	f->cfg.num_luns = NLUNS;
	f->dev = vdev_scsi_new(&f->cfg);
	assert_non_null(f->dev);
	assert_int_equal(vhu_fe_server_start(&srv, f->dev, &vc), 0);
	fe = vhu_fe_connect(srv.path, 2000);
	assert_non_null(fe);
	assert_int_equal(vhu_fe_setup(fe, &g, 64, false,
				      VDEV_BIT(VDEV_VHOST_USER_PROTOCOL_F_STATUS),
				      false),
			 0);
	assert_int_equal(vhu_fe_add_queue(fe, &g, &evq, 1, 64), 0);
	assert_int_equal(vhu_fe_add_queue(fe, &g, &rq, 2, 64), 0);

	atomic_store(&stg_pool_test_hold, true);
	req = vdev_drv_mem_alloc(g.mem, sizeof(*req), 8, &segs[0].gpa);
	resp = vdev_drv_mem_alloc(g.mem, sizeof(*resp), 8, &segs[1].gpa);
	assert_non_null(vdev_drv_mem_alloc(g.mem, BIG, 4096, &segs[2].gpa));
	assert_non_null(req);
	assert_non_null(resp);
	lun_addr(req->lun, 0);
	req->id = vdev_cpu_to_le64(0x77);
	read16(cdb, 0, BIG / 512);
	memcpy(req->cdb, cdb, 16);
	resp->response = 0xee;
	segs[0].len = sizeof(*req);
	segs[1].len = sizeof(*resp);
	segs[2].len = BIG;
	assert_int_equal(vdev_drv_ring_add(rq.ring, segs, 1, 2, req, 0), 0);
	kick_fd(rq.kick_fd);
	wait_held(1);

	tr = vdev_drv_mem_alloc(g.mem, sizeof(*tr), 8, &segs[0].gpa);
	tresp = vdev_drv_mem_alloc(g.mem, 1, 1, &segs[1].gpa);
	assert_non_null(tr);
	assert_non_null(tresp);
	tr->type = vdev_cpu_to_le32(VDEV_SCSI_T_TMF);
	tr->subtype = vdev_cpu_to_le32(VDEV_SCSI_T_TMF_ABORT_TASK);
	lun_addr(tr->lun, 0);
	tr->id = vdev_cpu_to_le64(0x77);
	*tresp = 0xee;
	segs[0].len = sizeof(*tr);
	segs[1].len = 1;
	assert_int_equal(vdev_drv_ring_add(g.ring, segs, 1, 1, tr, 0), 0);
	kick_fd(g.kick_fd);
	assert_null(vhu_next(g.ring, g.call_fd, 200));
	assert_int_equal(vdev_drv_ring_get_used(rq.ring, &tok, &len), -EAGAIN);
	stg_pool_test_release();
	assert_ptr_equal(vhu_next(g.ring, g.call_fd, TMO), tr);
	assert_int_equal(*tresp, VDEV_SCSI_S_FUNCTION_COMPLETE);
	/* the command was answered before the TMF */
	assert_int_equal(vdev_drv_ring_get_used(rq.ring, &tok, &len), 0);
	assert_ptr_equal(tok, req);
	assert_int_equal(resp->response, VDEV_SCSI_S_ABORTED);

	vhu_fe_close(fe);
	assert_true(vhu_fe_server_idle(&srv, 2000));
	vhu_fe_server_stop(&srv);
	vhu_fe_queue_fini(&evq);
	vhu_fe_queue_fini(&rq);
	vhu_fe_guest_fini(&g);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_slow_command_does_not_stall),
		T(test_abort_task_waits),
		T(test_lun_reset_waits),
		T(test_two_tmfs_one_task),
		T(test_reset_waits),
		T(test_many_in_flight),
		T(test_abort_across_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
