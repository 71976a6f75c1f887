/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-scsi request and control queues (virtio 1.2 5.6.6.1, 5.6.6.2).
 *
 * This is the boundary for the virtio part of a request: the header is
 * copied out of guest memory once, its LUN address checked, and the data
 * buffers located after the headers whose sizes the driver chose
 * (cdb_size, sense_size). A chain too short for its header or response
 * cannot be answered and goes back with nothing written.
 */
#include <errno.h>
#include <string.h>
#include <virtio/iov.h>
#include <virtio/le.h>

#include "scsi_internal.h"

void scsi_log_once(struct scsi_dev *s, enum scsi_bad kind, const char *what)
{
	unsigned bit = 1u << kind;

	if (atomic_fetch_or(&s->logged, bit) & bit)
		return;
	vdev_log(VDEV_LOG_WARN, "scsi: %s (reported once)", what);
}

/* Our own copy of the iovecs after the first @skip bytes, in @dst. */
static int data_view(struct iovec *dst, const struct iovec *iov,
		     unsigned cnt, size_t skip)
{
	int n = 0;

	for (unsigned i = 0; i < cnt; i++) {
		size_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		dst[n].iov_base = (uint8_t *)iov[i].iov_base + skip;
		dst[n].iov_len = l - skip;
		n++;
		skip = 0;
	}
	return n;
}

/*
 * The LUN a virtio LUN address names (5.6.6.1: byte 0 is 1, byte 1 the
 * target, bytes 2-3 the LUN in flat or peripheral format, the rest 0), or
 * -1 when it names no LUN of our single target.
 */
static int decode_lun(const struct scsi_dev *s, const uint8_t *lun)
{
	(void)s;
	if (lun[0] != 1 || lun[1] != 0)
		return -1;
	for (unsigned i = 4; i < 8; i++)
		if (lun[i])
			return -1;
	switch (lun[2] >> 6) {
	case 0:                         /* peripheral, bus 0 */
		return lun[2] ? -1 : lun[3];
	case 1:                         /* flat */
		return (lun[2] & 0x3f) << 8 | lun[3];
	default:
		return -1;
	}
}

uint32_t scsi_req_process(struct scsi_dev *s, struct scsi_queue *q,
			  struct vdev_req *vr)
{
	unsigned cdb_size = atomic_load_explicit(&s->cdb_size,
						 memory_order_relaxed);
	unsigned sense_size = atomic_load_explicit(&s->sense_size,
						   memory_order_relaxed);
	size_t req_len = VDEV_SCSI_CMD_REQ_HDR + cdb_size;
	size_t resp_len = VDEV_SCSI_CMD_RESP_HDR + sense_size;
	uint8_t hdr[VDEV_SCSI_CMD_REQ_HDR + VDEV_SCSI_CDB_SIZE_MAX];
	uint8_t resp[VDEV_SCSI_CMD_RESP_HDR + VDEV_SCSI_SENSE_SIZE_MAX];
	uint8_t cdb[VDEV_SCSI_CDB_SIZE_DEFAULT] = { 0 };
	struct scsi_cmd c = { .s = s, .q = q };
	size_t data_len, resid;
	int lun;

	if (vr->out_bytes < req_len || vr->in_bytes < resp_len) {
		scsi_log_once(s, SCSI_BAD_SHORT_REQ,
			      "request shorter than its header or response, "
			      "completed with nothing written");
		return 0;
	}
	vdev_iov_to_buf(vr->out, vr->nout, 0, hdr, req_len);
	memcpy(cdb, hdr + VDEV_SCSI_CMD_REQ_HDR,
	       cdb_size < sizeof(cdb) ? cdb_size : sizeof(cdb));

	c.cdb = cdb;
	c.cdb_len = cdb_size;
	c.dout = q->dio;
	c.ndout = data_view(c.dout, vr->out, vr->nout, req_len);
	c.dout_len = vr->out_bytes - req_len;
	c.din = q->dio + c.ndout;
	c.ndin = data_view(c.din, vr->in, vr->nin, resp_len);
	c.din_len = vr->in_bytes - resp_len;
	data_len = c.din_len + c.dout_len;

	lun = decode_lun(s, hdr);
	if (lun < 0) {
		c.response = VDEV_SCSI_S_BAD_TARGET;
	} else if (c.din_len && c.dout_len) {
		/* Bidirectional commands need F_INOUT, never offered. */
		scsi_log_once(s, SCSI_BAD_INOUT,
			      "request with data-in and data-out buffers "
			      "without VIRTIO_SCSI_F_INOUT");
		c.response = VDEV_SCSI_S_FAILURE;
	} else {
		c.lun = (unsigned)lun;
		scsi_cmd_exec(&c);
	}

	memset(resp, 0, resp_len);
	resid = data_len;
	if (c.response == VDEV_SCSI_S_OK) {
		unsigned sl = c.sense_len < sense_size ? c.sense_len
						       : sense_size;

		resid = data_len - c.xfer;
		resp[10] = c.status;
		memcpy(resp + VDEV_SCSI_CMD_RESP_HDR, c.sense, sl);
		*(vdev_le32 *)(void *)resp = vdev_cpu_to_le32(sl);
	}
	*(vdev_le32 *)(void *)(resp + 4) = vdev_cpu_to_le32((uint32_t)resid);
	resp[11] = c.response;
	vdev_iov_from_buf(vr->in, vr->nin, 0, resp, resp_len);
	return (uint32_t)(resp_len + (c.din_len ? c.xfer : 0));
}

static uint8_t tmf(struct scsi_dev *s, uint32_t subtype, const uint8_t *l)
{
	int lun = decode_lun(s, l);

	if (lun < 0)
		return VDEV_SCSI_S_BAD_TARGET;
	switch (subtype) {
	case VDEV_SCSI_T_TMF_I_T_NEXUS_RESET:
		/* The LUN field only names the nexus (our one target). */
		for (unsigned i = 0; i < s->nluns; i++)
			atomic_store(&s->luns[i].ua, SCSI_UA_NEXUS_LOSS);
		return VDEV_SCSI_S_FUNCTION_COMPLETE;
	case VDEV_SCSI_T_TMF_ABORT_TASK:
	case VDEV_SCSI_T_TMF_ABORT_TASK_SET:
	case VDEV_SCSI_T_TMF_CLEAR_TASK_SET:
	case VDEV_SCSI_T_TMF_QUERY_TASK:
	case VDEV_SCSI_T_TMF_QUERY_TASK_SET:
	case VDEV_SCSI_T_TMF_LOGICAL_UNIT_RESET:
		break;
	default:
		/* CLEAR_ACA: no ACA (NACA is refused); unknown functions. */
		return VDEV_SCSI_S_FUNCTION_REJECTED;
	}
	if ((unsigned)lun >= s->nluns)
		return VDEV_SCSI_S_INCORRECT_LUN;
	/*
	 * A command is popped, run and pushed under tmf_lock held shared,
	 * which the TMF holds exclusively: no task is ever in the task set
	 * when a TMF runs. Aborts and clears find nothing to do, queries
	 * find nothing (FUNCTION_COMPLETE, not FUNCTION_SUCCEEDED, SAM-5
	 * 7.1).
	 */
	if (subtype == VDEV_SCSI_T_TMF_LOGICAL_UNIT_RESET)
		atomic_store(&s->luns[lun].ua, SCSI_UA_RESET);
	return VDEV_SCSI_S_FUNCTION_COMPLETE;
}

uint32_t scsi_ctrl_process(struct scsi_dev *s, struct vdev_req *vr)
{
	union {
		struct vdev_scsi_ctrl_tmf_req tmf;
		struct vdev_scsi_ctrl_an_req an;
		vdev_le32 type;
	} req = { 0 };
	struct vdev_scsi_ctrl_an_resp an = { 0 };
	uint8_t r;

	if (vr->out_bytes < sizeof(req.type))
		goto short_req;
	vdev_iov_to_buf(vr->out, vr->nout, 0, &req, sizeof(req));
	switch (vdev_le32_to_cpu(req.type)) {
	case VDEV_SCSI_T_TMF:
		if (vr->out_bytes < sizeof(req.tmf) || vr->in_bytes < 1)
			goto short_req;
		pthread_rwlock_wrlock(&s->tmf_lock);
		r = tmf(s, vdev_le32_to_cpu(req.tmf.subtype), req.tmf.lun);
		pthread_rwlock_unlock(&s->tmf_lock);
		vdev_iov_from_buf(vr->in, vr->nin, 0, &r, 1);
		return 1;
	case VDEV_SCSI_T_AN_QUERY:
	case VDEV_SCSI_T_AN_SUBSCRIBE:
		if (vr->out_bytes < sizeof(req.an) || vr->in_bytes < sizeof(an))
			goto short_req;
		/* No asynchronous notification class is supported: the
		 * event_actual mask stays 0. */
		an.response = decode_lun(s, req.an.lun) < 0
				      ? VDEV_SCSI_S_BAD_TARGET
				      : VDEV_SCSI_S_OK;
		vdev_iov_from_buf(vr->in, vr->nin, 0, &an, sizeof(an));
		return sizeof(an);
	default:
		scsi_log_once(s, SCSI_BAD_CTRL_TYPE,
			      "control request of unknown type, completed "
			      "with nothing written");
		return 0;
	}
short_req:
	scsi_log_once(s, SCSI_BAD_SHORT_CTRL,
		      "control request shorter than its header or "
		      "response, completed with nothing written");
	return 0;
}

static void handle_ctrl(struct scsi_dev *s, struct vdev_queue *q)
{
	struct scsi_queue *sq = &s->ctrl;
	bool pushed = false;

	for (;;) {
		int ret = vdev_queue_pop(q, &sq->vr);

		if (ret == -EMSGSIZE) {
			pushed = true;
			continue;
		}
		if (ret < 0)
			break;
		vdev_queue_push(q, &sq->vr, scsi_ctrl_process(s, &sq->vr));
		pushed = true;
	}
	if (pushed)
		vdev_queue_notify(q);
}

void scsi_handle(struct vdev *dev, unsigned qidx, struct vdev_queue *q)
{
	struct scsi_dev *s = vdev_priv(dev);
	struct scsi_queue *sq;
	bool pushed = false;

	if (qidx == VDEV_SCSI_CTRL_QUEUE) {
		handle_ctrl(s, q);
		return;
	}
	if (qidx == VDEV_SCSI_EVENT_QUEUE) {
		scsi_event_handle(s, q);
		return;
	}
	sq = &s->queues[qidx - VDEV_SCSI_REQ_QUEUE0];
	for (;;) {
		int ret;

		/* Taken before the pop: a TMF either sees the command done
		 * or runs before it is popped. */
		pthread_rwlock_rdlock(&s->tmf_lock);
		ret = vdev_queue_pop(q, &sq->vr);
		if (ret < 0)
			pthread_rwlock_unlock(&s->tmf_lock);
		if (ret == -EMSGSIZE) {
			/* The queue already gave it back, 0 bytes written. */
			scsi_log_once(s, SCSI_BAD_TOO_MANY_IOV,
				      "request with more segments than "
				      "seg_max, completed with nothing "
				      "written");
			pushed = true;
			continue;
		}
		if (ret < 0)
			break;
		vdev_queue_push(q, &sq->vr, scsi_req_process(s, sq, &sq->vr));
		pthread_rwlock_unlock(&s->tmf_lock);
		pushed = true;
	}
	if (pushed)
		vdev_queue_notify(q);
}
