/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-scsi against a hostile or unusual driver, and its control paths:
 * short headers and responses, bad LUN addresses, bidirectional buffers,
 * chains over seg_max, driver-chosen cdb_size and sense_size, task
 * management (every function, unit attentions), asynchronous notification
 * queries, the event queue (delivery, EVENTS_MISSED), reset with requests
 * pending, save/restore and bad options.
 */
#include <pthread.h>
#include <virtio/state.h>

#include "scsi_harness.h"

static void log_fn(enum vdev_log_level lvl, const char *msg, void *opaque)
{
	unsigned *n = opaque;

	(void)lvl;
	(void)msg;
	(*n)++;
}

static void test_short_header(void **state)
{
	struct fx *f = *state;
	struct vdev_scsi_cmd_req req = { 0 };
	uint8_t resp[sizeof(struct vdev_scsi_cmd_resp)];
	unsigned logs = 0;

	vdev_set_log_fn(log_fn, &logs, VDEV_LOG_WARN);
	assert_int_equal(fx_open(f), 0);
	lun_addr(req.lun, 0);
	/* request one byte short of 19 + cdb_size */
	memset(resp, 0x5a, sizeof(resp));
	assert_int_equal(raw_xfer(f, RQ, &req, sizeof(req) - 1, NULL, 0, resp,
				  sizeof(resp), NULL, 0),
			 0);
	for (size_t i = 0; i < sizeof(resp); i++)
		assert_int_equal(resp[i], 0xee);
	/* response one byte short of 12 + sense_size */
	assert_int_equal(raw_xfer(f, RQ, &req, sizeof(req), NULL, 0, resp,
				  sizeof(resp) - 1, NULL, 0),
			 0);
	/* nothing at all */
	assert_int_equal(raw_xfer(f, RQ, NULL, 0, NULL, 0, resp, sizeof(resp),
				  NULL, 0),
			 0);
	assert_int_equal(raw_xfer(f, RQ, &req, sizeof(req), NULL, 0, NULL, 0,
				  NULL, 0),
			 0);
	/* logged once, and the queue still works */
	assert_int_equal(logs, 1);
	{
		uint8_t cdb[6] = { 0 };
		struct res r;

		cmd(f, 0, cdb, 6, NULL, 0, NULL, 0, &r);
		assert_good(&r);
	}
	vdev_set_log_fn(NULL, NULL, VDEV_LOG_WARN);
}

static void test_bad_lun(void **state)
{
	static const uint8_t bad[][8] = {
		{ 0, 0, 0x40, 0 },           /* byte 0 not 1 */
		{ 2, 0, 0x40, 0 },
		{ 1, 1, 0x40, 0 },           /* target 1 */
		{ 1, 0xff, 0x40, 0 },
		{ 1, 0, 0x80, 0 },           /* LUN address method 2 */
		{ 1, 0, 0xc0, 0 },           /* extended */
		{ 1, 0, 0x01, 0 },           /* peripheral, bus 1 */
		{ 1, 0, 0x40, 0, 1 },        /* second level */
		{ 1, 0, 0x40, 0, 0, 0, 0, 1 },
	};
	struct fx *f = *state;
	uint8_t cdb[6] = { 0x12, 0, 0, 0, 36 }, b[36], lun[8] = { 1 };
	struct res r;

	assert_int_equal(fx_open(f), 0);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cmd_lun(f, bad[i], cdb, 6, NULL, 0, b, sizeof(b), &r);
		assert_int_equal(r.response, VDEV_SCSI_S_BAD_TARGET);
		assert_int_equal(r.status, 0);
		assert_int_equal(r.sense_len, 0);
		assert_int_equal(r.resid, sizeof(b));
		assert_int_equal(r.used, sizeof(struct vdev_scsi_cmd_resp));
		assert_int_equal(b[0], 0xdd);
	}
	/* peripheral addressing of LUN 1 */
	lun[3] = 1;
	cmd_lun(f, lun, cdb, 6, NULL, 0, b, sizeof(b), &r);
	assert_good(&r);
	assert_int_equal(b[0], 0);
	/* flat addressing of a LUN above 255: no such LUN */
	lun[2] = 0x41;
	cmd_lun(f, lun, cdb, 6, NULL, 0, b, sizeof(b), &r);
	assert_good(&r);
	assert_int_equal(b[0], 0x7f);
}

/* Data-in and data-out together need F_INOUT, which is not offered. */
static void test_bidirectional(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[10] = { 0x28 }, w[512] = { 1 }, b[512];
	struct res r;

	assert_int_equal(fx_open(f), 0);
	put_be16(cdb + 7, 1);
	cmd(f, 0, cdb, 10, w, sizeof(w), b, sizeof(b), &r);
	assert_int_equal(r.response, VDEV_SCSI_S_FAILURE);
	assert_int_equal(r.resid, 1024);
	assert_int_equal(b[0], 0xdd);
}

static void test_too_many_segments(void **state)
{
	struct fx *f = *state;
	struct vdev_drv_mem *m;
	struct vdev_drv_seg segs[SCSI_IOV_MAX + 1];
	struct vdev_scsi_cmd_req *req;
	size_t mark;
	void *tok;
	uint32_t used;
	uint8_t *p;

	f->cfg.queue_size = 256;
	f->dcfg.queue_size = 256;
	assert_int_equal(fx_open(f), 0);
	m = vdev_drv_get_mem(f->drv);
	mark = vdev_drv_mem_mark(m);
	req = vdev_drv_mem_alloc(m, sizeof(*req), 8, &segs[0].gpa);
	segs[0].len = sizeof(*req);
	lun_addr(req->lun, 0);
	req->cdb[0] = 0x28;
	p = vdev_drv_mem_alloc(m, SCSI_IOV_MAX * 512, 512, &segs[1].gpa);
	assert_non_null(p);
	for (unsigned i = 1; i <= SCSI_IOV_MAX; i++) {
		segs[i].gpa = segs[1].gpa + (i - 1) * 512;
		segs[i].len = 512;
	}
	assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(f->drv, RQ), segs, 1,
					   SCSI_IOV_MAX, req,
					   VDEV_DRV_F_INDIRECT),
			 0);
	assert_int_equal(vdev_drv_kick(f->drv, RQ), 0);
	assert_int_equal(vdev_drv_wait(f->drv, RQ, TMO, &tok, &used), 0);
	assert_int_equal(used, 0);
	vdev_drv_mem_reset_to(m, mark);
	{
		uint8_t cdb[6] = { 0 };
		struct res r;

		cmd(f, 0, cdb, 6, NULL, 0, NULL, 0, &r);
		assert_good(&r);
	}
}

/*
 * What the device advertises it enforces: more data segments than
 * seg_max (VIRTIO_SCSI_S_FAILURE), a transfer over the Block Limits
 * MAXIMUM TRANSFER LENGTH (INVALID FIELD IN CDB), even with buffers that
 * would hold it; exactly at the limits it works.
 */
static uint8_t limits_cmd(struct fx *f, uint8_t op, uint32_t nblocks,
			  unsigned nseg, struct vdev_scsi_cmd_resp *out)
{
	struct vdev_drv_mem *m = vdev_drv_get_mem(f->drv);
	struct vdev_drv_seg segs[SCSI_IOV_MAX + 2];
	size_t mark = vdev_drv_mem_mark(m), len = (size_t)nblocks * 512;
	struct vdev_scsi_cmd_req *req;
	struct vdev_scsi_cmd_resp *resp;
	bool wr = op == 0x8a;
	uint64_t gpa;
	void *tok;
	uint32_t used;
	unsigned n = 0;

	req = vdev_drv_mem_alloc(m, sizeof(*req), 8, &segs[n].gpa);
	assert_non_null(req);
	segs[n++].len = sizeof(*req);
	lun_addr(req->lun, 0);
	req->cdb[0] = op;
	put_be32(req->cdb + 10, nblocks);
	resp = vdev_drv_mem_alloc(m, sizeof(*resp), 8, &gpa);
	assert_non_null(resp);
	if (!wr) {
		segs[n].gpa = gpa;
		segs[n++].len = sizeof(*resp);
	}
	assert_non_null(vdev_drv_mem_alloc(m, len, 4096, &segs[n].gpa));
	for (unsigned i = 0; i < nseg; i++) {
		segs[n + i].gpa = segs[n].gpa + i * (len / nseg);
		segs[n + i].len = (uint32_t)(i + 1 == nseg
						     ? len - i * (len / nseg)
						     : len / nseg);
	}
	n += nseg;
	if (wr) {
		segs[n].gpa = gpa;
		segs[n++].len = sizeof(*resp);
	}
	resp->response = 0xee;
	assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(f->drv, RQ), segs,
					   wr ? 1 + nseg : 1,
					   wr ? 1 : 1 + nseg, req,
					   VDEV_DRV_F_INDIRECT),
			 0);
	assert_int_equal(vdev_drv_kick(f->drv, RQ), 0);
	assert_int_equal(vdev_drv_wait(f->drv, RQ, TMO, &tok, &used), 0);
	*out = *resp;
	vdev_drv_mem_reset_to(m, mark);
	return out->response;
}

static void test_limits(void **state)
{
	struct fx *f = *state;
	struct vdev_scsi_cmd_resp r;
	const uint32_t max = SCSI_MAX_XFER_BYTES / 512;
	struct res rr;

	f->cfg.queue_size = 256;
	f->dcfg.queue_size = 256;
	f->dcfg.mem_size = 32u << 20;
	assert_int_equal(fx_open(f), 0);
	for (int w = 0; w < 2; w++) {
		uint8_t op = w ? 0x8a : 0x88;

		/* seg_max + 1 segments */
		assert_int_equal(limits_cmd(f, op, SCSI_SEG_MAX + 1,
					    SCSI_SEG_MAX + 1, &r),
				 VDEV_SCSI_S_FAILURE);
		assert_int_equal(limits_cmd(f, op, SCSI_SEG_MAX, SCSI_SEG_MAX,
					    &r),
				 VDEV_SCSI_S_OK);
		assert_int_equal(r.status, VDEV_SCSI_STATUS_GOOD);
		/* one block over the maximum transfer length */
		assert_int_equal(limits_cmd(f, op, max + 1, 4, &r),
				 VDEV_SCSI_S_OK);
		assert_int_equal(r.status, VDEV_SCSI_STATUS_CHECK_CONDITION);
		assert_int_equal(r.sense[2], SK_ILLEGAL_REQUEST);
		assert_int_equal(r.sense[12] << 8 | r.sense[13],
				 ASC_INVALID_FIELD_CDB);
		assert_int_equal(limits_cmd(f, op, max, 4, &r),
				 VDEV_SCSI_S_OK);
		assert_int_equal(r.status, VDEV_SCSI_STATUS_GOOD);
	}
	{
		uint8_t cdb[6] = { 0 };

		cmd(f, 0, cdb, 6, NULL, 0, NULL, 0, &rr);
		assert_good(&rr);
	}
}

/* The driver may choose other header sizes (5.6.4). */
static void test_cdb_sense_size(void **state)
{
	struct fx *f = *state;
	uint8_t hdr[19 + 16] = { 0 }, resp[12 + 8], b[512];
	vdev_le32 v;
	uint32_t used;

	assert_int_equal(fx_open(f), 0);
	v = vdev_cpu_to_le32(16);
	assert_int_equal(vdev_drv_config_write(f->drv, SCSI_CFG_CDB_OFF, &v, 4),
			 0);
	v = vdev_cpu_to_le32(8);
	assert_int_equal(
		vdev_drv_config_write(f->drv, SCSI_CFG_SENSE_OFF, &v, 4), 0);
	assert_int_equal(vdev_drv_config_read(f->drv, SCSI_CFG_CDB_OFF, &v, 4),
			 0);
	assert_int_equal(vdev_le32_to_cpu(v), 16);
	lun_addr(hdr, 0);
	/* READ(16) fits a 16-byte CDB; data follows right after it */
	hdr[19] = 0x88;
	put_be32(hdr + 19 + 10, 1);
	used = raw_xfer(f, RQ, hdr, sizeof(hdr), NULL, 0, resp, sizeof(resp),
			b, sizeof(b));
	assert_int_equal(used, sizeof(resp) + 512);
	assert_int_equal(resp[10], 0);
	assert_int_equal(resp[11], 0);
	/* an error: sense cut at 8 bytes */
	hdr[19] = 0xc0;
	used = raw_xfer(f, RQ, hdr, sizeof(hdr), NULL, 0, resp, sizeof(resp),
			NULL, 0);
	assert_int_equal(used, sizeof(resp));
	assert_int_equal(resp[10], VDEV_SCSI_STATUS_CHECK_CONDITION);
	assert_int_equal(resp[0], 8);
	assert_int_equal(resp[12], 0x70);
	assert_int_equal(resp[12 + 2], SK_ILLEGAL_REQUEST);

	/* a 6-byte cdb_size: READ(10) does not fit */
	v = vdev_cpu_to_le32(6);
	assert_int_equal(vdev_drv_config_write(f->drv, SCSI_CFG_CDB_OFF, &v, 4),
			 0);
	memset(hdr, 0, sizeof(hdr));
	lun_addr(hdr, 0);
	hdr[19] = 0x28;
	used = raw_xfer(f, RQ, hdr, 19 + 6, NULL, 0, resp, sizeof(resp), NULL,
			0);
	assert_int_equal(used, sizeof(resp));
	assert_int_equal(resp[10], VDEV_SCSI_STATUS_CHECK_CONDITION);
	assert_int_equal(resp[12 + 2], SK_ILLEGAL_REQUEST);
	/* TEST UNIT READY does */
	hdr[19] = 0;
	used = raw_xfer(f, RQ, hdr, 19 + 6, NULL, 0, resp, sizeof(resp), NULL,
			0);
	assert_int_equal(resp[10], 0);

	/* sizes over 255, other fields, partial writes: refused */
	v = vdev_cpu_to_le32(256);
	vdev_drv_config_write(f->drv, SCSI_CFG_CDB_OFF, &v, 4);
	vdev_drv_config_write(f->drv, SCSI_CFG_SENSE_OFF, &v, 4);
	vdev_drv_config_write(f->drv, 0, &v, 4);
	vdev_drv_config_write(f->drv, SCSI_CFG_CDB_OFF, &v, 2);
	assert_int_equal(atomic_load(&fx_scsi(f)->cdb_size), 6);
	assert_int_equal(atomic_load(&fx_scsi(f)->sense_size), 8);
	assert_int_equal(vdev_drv_config_read(f->drv, 0, &v, 4), 0);
	assert_int_equal(vdev_le32_to_cpu(v), 1);
	assert_int_equal(vdev_drv_config_read(f->drv, SCSI_CFG_CDB_OFF, &v, 4),
			 0);
	assert_int_equal(vdev_le32_to_cpu(v), 6);

	/* a reset brings the defaults back */
	vdev_reset(f->dev);
	assert_int_equal(atomic_load(&fx_scsi(f)->cdb_size), 32);
	assert_int_equal(atomic_load(&fx_scsi(f)->sense_size), 96);
}

static void test_tmf(void **state)
{
	struct fx *f = *state;
	uint8_t tur[6] = { 0 }, inq[6] = { 0x12, 0, 0, 0, 36 }, b[36];
	struct res r;
	uint32_t used;

	assert_int_equal(fx_open(f), 0);
	assert_int_equal(tmf(f, VDEV_SCSI_T_TMF_LOGICAL_UNIT_RESET, 0, &used),
			 VDEV_SCSI_S_FUNCTION_COMPLETE);
	assert_int_equal(used, 1);
	/* INQUIRY does not see the unit attention ... */
	cmd(f, 0, inq, 6, NULL, 0, b, sizeof(b), &r);
	assert_good(&r);
	/* ... LUN 1 has none ... */
	cmd(f, 1, tur, 6, NULL, 0, NULL, 0, &r);
	assert_good(&r);
	/* ... the next command of LUN 0 fails with it, once */
	cmd(f, 0, tur, 6, NULL, 0, NULL, 0, &r);
	assert_sense(&r, SK_UNIT_ATTENTION, ASC_POWER_ON_RESET);
	cmd(f, 0, tur, 6, NULL, 0, NULL, 0, &r);
	assert_good(&r);

	/* I_T NEXUS RESET: every LUN */
	assert_int_equal(tmf(f, VDEV_SCSI_T_TMF_I_T_NEXUS_RESET, 0, NULL),
			 VDEV_SCSI_S_FUNCTION_COMPLETE);
	for (unsigned l = 0; l < NLUNS; l++) {
		cmd(f, l, tur, 6, NULL, 0, NULL, 0, &r);
		assert_sense(&r, SK_UNIT_ATTENTION, ASC_I_T_NEXUS_LOSS);
		cmd(f, l, tur, 6, NULL, 0, NULL, 0, &r);
		assert_good(&r);
	}

	/* with nothing in flight there is nothing to abort or find
	 * (test_scsi_async has them with commands in flight) */
	assert_int_equal(tmf(f, VDEV_SCSI_T_TMF_ABORT_TASK, 1, NULL),
			 VDEV_SCSI_S_FUNCTION_COMPLETE);
	assert_int_equal(tmf(f, VDEV_SCSI_T_TMF_ABORT_TASK_SET, 1, NULL),
			 VDEV_SCSI_S_FUNCTION_COMPLETE);
	assert_int_equal(tmf(f, VDEV_SCSI_T_TMF_CLEAR_TASK_SET, 1, NULL),
			 VDEV_SCSI_S_FUNCTION_COMPLETE);
	assert_int_equal(tmf(f, VDEV_SCSI_T_TMF_QUERY_TASK, 1, NULL),
			 VDEV_SCSI_S_FUNCTION_COMPLETE);
	assert_int_equal(tmf(f, VDEV_SCSI_T_TMF_QUERY_TASK_SET, 0, NULL),
			 VDEV_SCSI_S_FUNCTION_COMPLETE);
	/* no ACA, unknown functions */
	assert_int_equal(tmf(f, VDEV_SCSI_T_TMF_CLEAR_ACA, 0, NULL),
			 VDEV_SCSI_S_FUNCTION_REJECTED);
	assert_int_equal(tmf(f, 8, 0, NULL), VDEV_SCSI_S_FUNCTION_REJECTED);
	assert_int_equal(tmf(f, 0xffffffff, 0, NULL),
			 VDEV_SCSI_S_FUNCTION_REJECTED);
	/* a LUN that does not exist */
	assert_int_equal(tmf(f, VDEV_SCSI_T_TMF_LOGICAL_UNIT_RESET, 5, NULL),
			 VDEV_SCSI_S_INCORRECT_LUN);
	assert_int_equal(tmf(f, VDEV_SCSI_T_TMF_ABORT_TASK, 5, NULL),
			 VDEV_SCSI_S_INCORRECT_LUN);
	/* none of that left a unit attention */
	for (unsigned l = 0; l < NLUNS; l++) {
		cmd(f, l, tur, 6, NULL, 0, NULL, 0, &r);
		assert_good(&r);
	}
	/* a bad target */
	{
		struct vdev_scsi_ctrl_tmf_req req = { 0 };
		uint8_t resp = 0;

		req.type = vdev_cpu_to_le32(VDEV_SCSI_T_TMF);
		req.subtype =
			vdev_cpu_to_le32(VDEV_SCSI_T_TMF_LOGICAL_UNIT_RESET);
		lun_addr(req.lun, 0);
		req.lun[1] = 3;
		assert_int_equal(raw_xfer(f, VDEV_SCSI_CTRL_QUEUE, &req,
					  sizeof(req), NULL, 0, &resp, 1, NULL,
					  0),
				 1);
		assert_int_equal(resp, VDEV_SCSI_S_BAD_TARGET);
	}
}

static void test_ctrl_bad(void **state)
{
	struct fx *f = *state;
	struct vdev_scsi_ctrl_tmf_req req = { 0 };
	struct vdev_scsi_ctrl_an_req an = { 0 };
	struct vdev_scsi_ctrl_an_resp anr;
	uint8_t resp[8];

	assert_int_equal(fx_open(f), 0);
	req.type = vdev_cpu_to_le32(VDEV_SCSI_T_TMF);
	lun_addr(req.lun, 0);
	/* short TMF request, no response byte, no type at all */
	assert_int_equal(raw_xfer(f, 0, &req, sizeof(req) - 1, NULL, 0, resp,
				  1, NULL, 0),
			 0);
	assert_int_equal(resp[0], 0xee);
	assert_int_equal(raw_xfer(f, 0, &req, sizeof(req), NULL, 0, NULL, 0,
				  NULL, 0),
			 0);
	assert_int_equal(raw_xfer(f, 0, &req, 3, NULL, 0, resp, 1, NULL, 0),
			 0);
	/* unknown control request type: no layout to answer in */
	req.type = vdev_cpu_to_le32(3);
	assert_int_equal(raw_xfer(f, 0, &req, sizeof(req), NULL, 0, resp,
				  sizeof(resp), NULL, 0),
			 0);
	assert_int_equal(resp[0], 0xee);

	/* AN_QUERY / AN_SUBSCRIBE: no event class supported */
	for (uint32_t t = VDEV_SCSI_T_AN_QUERY; t <= VDEV_SCSI_T_AN_SUBSCRIBE;
	     t++) {
		an.type = vdev_cpu_to_le32(t);
		lun_addr(an.lun, 0);
		an.event_requested = vdev_cpu_to_le32(0x54);
		assert_int_equal(raw_xfer(f, 0, &an, sizeof(an), NULL, 0, &anr,
					  sizeof(anr), NULL, 0),
				 sizeof(anr));
		assert_int_equal(anr.response, VDEV_SCSI_S_OK);
		assert_int_equal(vdev_le32_to_cpu(anr.event_actual), 0);
		an.lun[0] = 0;
		assert_int_equal(raw_xfer(f, 0, &an, sizeof(an), NULL, 0, &anr,
					  sizeof(anr), NULL, 0),
				 sizeof(anr));
		assert_int_equal(anr.response, VDEV_SCSI_S_BAD_TARGET);
		/* response too short */
		assert_int_equal(raw_xfer(f, 0, &an, sizeof(an), NULL, 0, &anr,
					  sizeof(anr) - 1, NULL, 0),
				 0);
		assert_int_equal(raw_xfer(f, 0, &an, sizeof(an) - 1, NULL, 0,
					  &anr, sizeof(anr), NULL, 0),
				 0);
	}
}

/* Posts one event buffer on the event queue (not kicked). */
static void *evt_buf(struct fx *f, struct vdev_scsi_event **ev)
{
	struct vdev_drv_mem *m = vdev_drv_get_mem(f->drv);
	struct vdev_drv_seg seg;

	*ev = vdev_drv_mem_alloc(m, sizeof(**ev), 8, &seg.gpa);
	assert_non_null(*ev);
	memset(*ev, 0xee, sizeof(**ev));
	seg.len = sizeof(**ev);
	assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(f->drv, 1), &seg, 0,
					   1, *ev, 0),
			 0);
	return *ev;
}

static void test_events(void **state)
{
	struct fx *f = *state;
	struct vdev_scsi_event *ev[SCSI_EVENTS_MAX + 2];
	void *tok;
	uint32_t len;

	f->cfg.hotplug = true;
	assert_int_equal(fx_open(f), 0);
	assert_true(vdev_has_feature(f->dev, VDEV_SCSI_F_HOTPLUG));
	assert_int_equal(vdev_scsi_post_event(f->dev, 7, 0, 0), -EINVAL);
	assert_int_equal(vdev_scsi_post_event(f->dev,
					      VDEV_SCSI_T_TRANSPORT_RESET, 0,
					      NLUNS),
			 -EINVAL);
	assert_int_equal(vdev_scsi_post_event(f->dev,
					      VDEV_SCSI_T_TRANSPORT_RESET, 3,
					      0),
			 -EINVAL);

	/* buffers wait in the ring while there is nothing to report */
	evt_buf(f, &ev[0]);
	evt_buf(f, &ev[1]);
	assert_int_equal(vdev_drv_kick(f->drv, 1), 0);
	assert_int_equal(vdev_drv_wait(f->drv, 1, 50, &tok, &len),
			 -ETIMEDOUT);
	assert_int_equal(vdev_scsi_post_event(f->dev,
					      VDEV_SCSI_T_TRANSPORT_RESET,
					      VDEV_SCSI_EVT_RESET_RESCAN, 1),
			 0);
	assert_int_equal(vdev_drv_wait(f->drv, 1, TMO, &tok, &len), 0);
	assert_ptr_equal(tok, ev[0]);
	assert_int_equal(len, sizeof(struct vdev_scsi_event));
	assert_int_equal(vdev_le32_to_cpu(ev[0]->event),
			 VDEV_SCSI_T_TRANSPORT_RESET);
	assert_int_equal(vdev_le32_to_cpu(ev[0]->reason),
			 VDEV_SCSI_EVT_RESET_RESCAN);
	assert_memory_equal(ev[0]->lun, "\x01\x00\x40\x01\0\0\0\0", 8);
	assert_int_equal(vdev_scsi_post_event(f->dev, VDEV_SCSI_T_PARAM_CHANGE,
					      0x2a09, 0),
			 0);
	assert_int_equal(vdev_drv_wait(f->drv, 1, TMO, &tok, &len), 0);
	assert_ptr_equal(tok, ev[1]);
	assert_int_equal(vdev_le32_to_cpu(ev[1]->event),
			 VDEV_SCSI_T_PARAM_CHANGE);
	assert_int_equal(vdev_le32_to_cpu(ev[1]->reason), 0x2a09);

	/* more events than the device keeps without buffers */
	for (unsigned i = 0; i < SCSI_EVENTS_MAX + 2; i++)
		assert_int_equal(
			vdev_scsi_post_event(f->dev,
					     VDEV_SCSI_T_TRANSPORT_RESET,
					     VDEV_SCSI_EVT_RESET_REMOVED,
					     i % NLUNS),
			0);
	for (unsigned i = 0; i < SCSI_EVENTS_MAX + 1; i++)
		evt_buf(f, &ev[i]);
	assert_int_equal(vdev_drv_kick(f->drv, 1), 0);
	for (unsigned i = 0; i < SCSI_EVENTS_MAX; i++) {
		uint32_t e;

		assert_int_equal(vdev_drv_wait(f->drv, 1, TMO, &tok, &len), 0);
		assert_ptr_equal(tok, ev[i]);
		e = vdev_le32_to_cpu(ev[i]->event);
		assert_int_equal(e & ~VDEV_SCSI_T_EVENTS_MISSED,
				 VDEV_SCSI_T_TRANSPORT_RESET);
		/* the first one delivered says some were lost */
		assert_int_equal(!!(e & VDEV_SCSI_T_EVENTS_MISSED), i == 0);
		assert_int_equal(ev[i]->lun[3], i % NLUNS);
	}
	assert_int_equal(vdev_drv_wait(f->drv, 1, 50, &tok, &len),
			 -ETIMEDOUT);
	/* a buffer too small for an event goes back empty */
	{
		struct vdev_drv_mem *m = vdev_drv_get_mem(f->drv);
		struct vdev_drv_seg seg;
		void *p = vdev_drv_mem_alloc(m, 8, 8, &seg.gpa);

		/* the last buffer of the batch above is still waiting */
		seg.len = 8;
		assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(f->drv, 1),
						   &seg, 0, 1, p, 0),
				 0);
		assert_int_equal(vdev_scsi_post_event(
					 f->dev, VDEV_SCSI_T_TRANSPORT_RESET,
					 0, 0),
				 0);
		assert_int_equal(vdev_drv_wait(f->drv, 1, TMO, &tok, &len), 0);
		assert_ptr_equal(tok, ev[SCSI_EVENTS_MAX]);
		assert_int_equal(len, 16);
		assert_int_equal(vdev_scsi_post_event(
					 f->dev, VDEV_SCSI_T_TRANSPORT_RESET,
					 0, 0),
				 0);
		assert_int_equal(vdev_drv_wait(f->drv, 1, TMO, &tok, &len), 0);
		assert_ptr_equal(tok, p);
		assert_int_equal(len, 0);
	}
}

static void test_events_not_negotiated(void **state)
{
	struct fx *f = *state;

	/* HOTPLUG offered but refused by the driver; CHANGE refused too */
	f->cfg.hotplug = true;
	f->dcfg.refuse = VDEV_BIT(VDEV_SCSI_F_HOTPLUG) |
			 VDEV_BIT(VDEV_SCSI_F_CHANGE);
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(vdev_scsi_post_event(f->dev,
					      VDEV_SCSI_T_TRANSPORT_RESET, 0,
					      0),
			 -ENOTSUP);
	assert_int_equal(vdev_scsi_post_event(f->dev, VDEV_SCSI_T_PARAM_CHANGE,
					      0, 0),
			 -ENOTSUP);
	fx_close(f);
	/* not offered: HOTPLUG is off unless asked for */
	f->cfg.hotplug = false;
	f->dcfg.refuse = 0;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(vdev_scsi_post_event(f->dev,
					      VDEV_SCSI_T_TRANSPORT_RESET, 0,
					      0),
			 -ENOTSUP);
}

/* Reset with requests made available (some kicked and done, some never
 * seen): nothing completes into the reset ring, nothing of the unseen
 * writes reaches the image, the device works afterwards. */
static void test_reset_in_flight(void **state)
{
	struct fx *f = *state;
	struct vdev_drv_mem *m;
	struct vdev_scsi_cmd_req *req;
	struct vdev_scsi_cmd_resp *resp;
	struct vdev_drv_seg segs[3];
	uint8_t *d, b[4096];
	struct res r;

	f->dcfg.use_eventfds = true;
	assert_int_equal(fx_open(f), 0);
	m = vdev_drv_get_mem(f->drv);
	for (unsigned i = 0; i < 20; i++) {
		req = vdev_drv_mem_alloc(m, sizeof(*req), 8, &segs[0].gpa);
		segs[0].len = sizeof(*req);
		lun_addr(req->lun, 0);
		req->cdb[0] = 0x2a;
		put_be32(req->cdb + 2, 8 * i);
		put_be16(req->cdb + 7, 8);
		d = vdev_drv_mem_alloc(m, 4096, 512, &segs[1].gpa);
		memset(d, 0x11 + i, 4096);
		segs[1].len = 4096;
		resp = vdev_drv_mem_alloc(m, sizeof(*resp), 8, &segs[2].gpa);
		segs[2].len = sizeof(*resp);
		assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(f->drv, RQ),
						   segs, 2, 1, resp, 0),
				 0);
		/* the first ten are kicked (eventfd, not yet dispatched) */
		if (i == 9)
			assert_int_equal(vdev_drv_kick(f->drv, RQ), 0);
	}
	vdev_reset(f->dev);
	assert_int_equal(vdev_queue_inflight(vdev_get_queue(f->dev, RQ)), 0);
	fx_close(f);
	f->dcfg.use_eventfds = false;
	assert_int_equal(fx_open(f), 0);
	/* whatever ran before the reset is complete in the image; the rest
	 * never touched it */
	for (unsigned i = 0; i < 20; i++) {
		uint8_t cdb[10] = { 0x28 };

		put_be32(cdb + 2, 8 * i);
		put_be16(cdb + 7, 8);
		cmd(f, 0, cdb, 10, NULL, 0, b, sizeof(b), &r);
		assert_good(&r);
		for (unsigned k = 1; k < sizeof(b); k++)
			assert_int_equal(b[k], b[0]);
		assert_true(b[0] == 0 || b[0] == 0x11 + i);
	}
}

struct kicker {
	struct vdev *dev;
	atomic_bool stop;
	unsigned rounds;
};

static void *kick_loop(void *arg)
{
	struct kicker *k = arg;

	while (!atomic_load(&k->stop)) {
		vdev_vq_kick(k->dev, RQ, 0);
		k->rounds++;
	}
	return NULL;
}

/* A reset while another thread is busy running the request queue: the
 * reset waits for the round, every write is all or nothing in the image,
 * nothing stays in flight, the device works afterwards. */
static void test_reset_racing_worker(void **state)
{
	struct fx *f = *state;
	enum { N = 40, BLOCKS = 64 };
	struct vdev_drv_mem *m;
	struct kicker k = { 0 };
	pthread_t t;
	uint8_t *b = malloc(BLOCKS * 512);
	unsigned done = 0;

	assert_non_null(b);
	for (unsigned round = 0; round < 4; round++) {
		assert_int_equal(fx_open(f), 0);
		m = vdev_drv_get_mem(f->drv);
		for (unsigned i = 0; i < N; i++) {
			struct vdev_scsi_cmd_req *req;
			struct vdev_drv_seg segs[3];
			uint8_t *d;

			req = vdev_drv_mem_alloc(m, sizeof(*req), 8,
						 &segs[0].gpa);
			segs[0].len = sizeof(*req);
			lun_addr(req->lun, 0);
			req->cdb[0] = 0x2a;
			put_be32(req->cdb + 2, BLOCKS * i);
			put_be16(req->cdb + 7, BLOCKS);
			d = vdev_drv_mem_alloc(m, BLOCKS * 512, 512,
					       &segs[1].gpa);
			memset(d, 1 + round * N + i, BLOCKS * 512);
			segs[1].len = BLOCKS * 512;
			vdev_drv_mem_alloc(m, sizeof(struct vdev_scsi_cmd_resp),
					   8, &segs[2].gpa);
			segs[2].len = sizeof(struct vdev_scsi_cmd_resp);
			assert_int_equal(
				vdev_drv_ring_add(vdev_drv_ring(f->drv, RQ),
						  segs, 2, 1, d,
						  VDEV_DRV_F_INDIRECT),
				0);
		}
		k.dev = f->dev;
		atomic_store(&k.stop, false);
		assert_int_equal(pthread_create(&t, NULL, kick_loop, &k), 0);
		usleep(200 * round);
		vdev_reset(f->dev);
		atomic_store(&k.stop, true);
		pthread_join(t, NULL);
		assert_int_equal(
			vdev_queue_inflight(vdev_get_queue(f->dev, RQ)), 0);
		fx_close(f);
		for (unsigned i = 0; i < N; i++) {
			assert_int_equal(pread(f->imgfd[0], b, BLOCKS * 512,
					       (off_t)i * BLOCKS * 512),
					 BLOCKS * 512);
			for (unsigned x = 1; x < BLOCKS * 512; x++)
				assert_int_equal(b[x], b[0]);
			if (b[0] == 1 + round * N + i)
				done++;
		}
	}
	print_message("  %u of %u writes ran before the resets\n", done,
		      4 * N);
	/* and the device still works */
	assert_int_equal(fx_open(f), 0);
	{
		uint8_t cdb[6] = { 0 };
		struct res r;

		cmd(f, 0, cdb, 6, NULL, 0, NULL, 0, &r);
		assert_good(&r);
	}
	free(b);
}

static void test_save_restore(void **state)
{
	struct fx *f = *state;
	struct vdev_queue_state st;
	uint8_t tur[6] = { 0 };
	void *blob = NULL;
	size_t len = 0;
	struct res r;
	vdev_le32 v = vdev_cpu_to_le32(64);

	f->cfg.hotplug = true;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(tmf(f, VDEV_SCSI_T_TMF_LOGICAL_UNIT_RESET, 1, NULL),
			 VDEV_SCSI_S_FUNCTION_COMPLETE);
	assert_int_equal(vdev_drv_config_write(f->drv, SCSI_CFG_SENSE_OFF, &v,
					       4),
			 0);
	assert_int_equal(vdev_scsi_post_event(f->dev,
					      VDEV_SCSI_T_TRANSPORT_RESET,
					      VDEV_SCSI_EVT_RESET_REMOVED, 1),
			 0);
	for (unsigned q = 0; q < vdev_num_queues(f->dev); q++)
		assert_int_equal(vdev_vq_stop(f->dev, q, &st), 0);
	assert_int_equal(vdev_save(f->dev, &blob, &len), 0);
	vdev_reset(f->dev);
	assert_int_equal(atomic_load(&fx_scsi(f)->luns[1].ua), SCSI_UA_NONE);
	assert_int_equal(fx_scsi(f)->nevts, 0);
	assert_int_equal(vdev_restore(f->dev, blob, len), 0);
	free(blob);
	assert_int_equal(atomic_load(&fx_scsi(f)->luns[1].ua), SCSI_UA_RESET);
	assert_int_equal(atomic_load(&fx_scsi(f)->luns[0].ua), SCSI_UA_NONE);
	assert_int_equal(atomic_load(&fx_scsi(f)->sense_size), 64);
	assert_int_equal(fx_scsi(f)->nevts, 1);
	assert_int_equal(fx_scsi(f)->evts[0].lun, 1);
	/* the restored device goes on where it was */
	for (unsigned q = 0; q < vdev_num_queues(f->dev); q++)
		vdev_vq_enable(f->dev, q, true);
	{
		struct vdev_scsi_cmd_req req = { 0 };
		uint8_t resp[12 + 64];

		lun_addr(req.lun, 1);
		assert_int_equal(raw_xfer(f, RQ, &req, sizeof(req), NULL, 0,
					  resp, sizeof(resp), NULL, 0),
				 sizeof(resp));
		assert_int_equal(resp[10], VDEV_SCSI_STATUS_CHECK_CONDITION);
		assert_int_equal(resp[12 + 2], SK_UNIT_ATTENTION);
		assert_int_equal(resp[12 + 12], 0x29);
	}
	v = vdev_cpu_to_le32(96);
	assert_int_equal(vdev_drv_config_write(f->drv, SCSI_CFG_SENSE_OFF, &v,
					       4),
			 0);
	cmd(f, 1, tur, 6, NULL, 0, NULL, 0, &r);
	assert_good(&r);
}

static void test_bad_options(void **state)
{
	const char *paths[2] = { "/nonexistent/vdev-scsi", NULL };
	struct vdev_scsi_config cfg = { .paths = paths, .num_luns = 1 };
	char dir[] = "/tmp";

	(void)state;
	errno = 0;
	assert_null(vdev_scsi_new(NULL));
	assert_int_equal(errno, EINVAL);
	assert_null(vdev_scsi_new(&cfg));
	assert_int_equal(errno, ENOENT);
	cfg.num_luns = 0;
	assert_null(vdev_scsi_new(&cfg));
	assert_int_equal(errno, EINVAL);
	cfg.num_luns = VDEV_SCSI_MAX_LUNS + 1;
	assert_null(vdev_scsi_new(&cfg));
	assert_int_equal(errno, EINVAL);
	cfg.num_luns = 2;              /* paths[1] is NULL */
	paths[0] = dir;                /* a directory is no image */
	cfg.read_only = true;          /* (read-write: EISDIR from open) */
	assert_null(vdev_scsi_new(&cfg));
	assert_int_equal(errno, EINVAL);
	cfg.read_only = false;
	cfg.num_luns = 1;
	cfg.logical_block_size = 1024;
	assert_null(vdev_scsi_new(&cfg));
	assert_int_equal(errno, EINVAL);
	cfg.logical_block_size = 0;
	cfg.num_queues = 65;
	assert_null(vdev_scsi_new(&cfg));
	assert_int_equal(errno, EINVAL);
	{
		/* an image smaller than one block */
		char p[] = "/tmp/vdev-scsi-tiny-XXXXXX";
		int fd = mkstemp(p);

		assert_true(fd >= 0);
		assert_int_equal(ftruncate(fd, 100), 0);
		paths[0] = p;
		cfg.num_queues = 0;
		assert_null(vdev_scsi_new(&cfg));
		assert_int_equal(errno, EINVAL);
		close(fd);
		unlink(p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SCSI_TEST(test_short_header),
		SCSI_TEST(test_bad_lun),
		SCSI_TEST(test_bidirectional),
		SCSI_TEST(test_too_many_segments),
		SCSI_TEST(test_limits),
		SCSI_TEST(test_cdb_sense_size),
		SCSI_TEST(test_tmf),
		SCSI_TEST(test_ctrl_bad),
		SCSI_TEST(test_events),
		SCSI_TEST(test_events_not_negotiated),
		SCSI_TEST(test_reset_in_flight),
		SCSI_TEST(test_reset_racing_worker),
		SCSI_TEST(test_save_restore),
		cmocka_unit_test(test_bad_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
