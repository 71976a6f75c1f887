/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-scsi request and control queues (virtio 1.2 5.6.6.1, 5.6.6.2).
 *
 * This is the boundary for the virtio part of a request: the header is
 * copied out of guest memory once, its LUN address checked, and the data
 * buffers located after the headers whose sizes the driver chose
 * (cdb_size, sense_size). A chain too short for its header or response
 * cannot be answered and goes back with nothing written.
 *
 * Commands that move data run on the image layer, many at a time per
 * queue; the queue's task set holds them until they end. Task management
 * marks the tasks it concerns, has their queue cancel them (a task still
 * waiting ends at once, one in the kernel or on a worker when it can),
 * and answers only when every marked task has ended, with ABORTED or
 * RESET as its response (SAM-5 7.1 and virtio 5.6.6.2: the TMF completes
 * after the commands it aborts).
 */
#include <errno.h>
#include <stdlib.h>
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


/* ---- request queues ------------------------------------------------------ */

static struct scsi_task *task_of_io(struct stg_req *io)
{
	return (struct scsi_task *)((uint8_t *)io -
				    offsetof(struct scsi_task, io));
}

static void tmf_task_ended(struct scsi_dev *s, unsigned slot)
{
	struct scsi_tmf *m = &s->tmfs[slot];

	if (atomic_fetch_sub(&m->pending, 1) != 1)
		return;
	pthread_mutex_lock(&s->tmf_lock);
	m->next_done = s->tmf_done;
	s->tmf_done = m;
	pthread_mutex_unlock(&s->tmf_lock);
	vdev_queue_schedule(s->dev, VDEV_SCSI_CTRL_QUEUE);
}

/* Writes the response, gives the chain back, frees the slot. */
static void task_end(struct scsi_task *t)
{
	struct scsi_queue *q = t->q;
	struct scsi_cmd *c = &t->c;
	uint8_t resp[VDEV_SCSI_CMD_RESP_HDR + VDEV_SCSI_SENSE_SIZE_MAX];
	unsigned sense_size = t->resp_len - VDEV_SCSI_CMD_RESP_HDR;
	size_t resid = t->data_len;
	uint32_t written = t->resp_len;

	memset(resp, 0, t->resp_len);
	if (t->abort) {
		/* Whatever moved, the task did not complete. */
		c->response = t->abort;
	} else if (c->response == VDEV_SCSI_S_OK) {
		unsigned sl = c->sense_len < sense_size ? c->sense_len
							: sense_size;

		resid = t->data_len - c->xfer;
		resp[10] = c->status;
		memcpy(resp + VDEV_SCSI_CMD_RESP_HDR, c->sense, sl);
		*(vdev_le32 *)(void *)resp = vdev_cpu_to_le32(sl);
		if (c->din_len)
			written += (uint32_t)c->xfer;
	}
	*(vdev_le32 *)(void *)(resp + 4) = vdev_cpu_to_le32((uint32_t)resid);
	resp[11] = c->response;
	vdev_iov_from_buf(t->vr.in, t->vr.nin, 0, resp, t->resp_len);
	if (t->sync_written)
		*t->sync_written = written;
	else
		vdev_queue_push(q->vq, &t->vr, written);
	t->next_free = q->free;
	q->free = t;
	q->inflight--;
	q->pushed = true;
}

/* A chain too short to answer: back with nothing written. */
static void task_drop(struct scsi_task *t)
{
	struct scsi_queue *q = t->q;

	t->c.response = VDEV_SCSI_S_OK;
	if (t->sync_written)
		*t->sync_written = 0;
	else
		vdev_queue_push(q->vq, &t->vr, 0);
	t->next_free = q->free;
	q->free = t;
	q->inflight--;
	q->pushed = true;
}

/* Out of the task set (q->lock held): the TMFs that wait for it. */
static uint8_t task_unlink(struct scsi_queue *q, struct scsi_task *t)
{
	uint8_t mask = t->tmf_mask;

	if (t->prev)
		t->prev->next = t->next;
	else
		q->tasks = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->in_set = false;
	t->tmf_mask = 0;
	return mask;
}

static void io_done(struct stg_req *io, int res)
{
	struct scsi_task *t = task_of_io(io);
	struct scsi_queue *q = t->q;
	uint8_t mask = 0;
	bool aborted, last;

	/* A command of one step (all but UNMAP), or an aborted one (it
	 * takes no further step), leaves the set in the same hold of the
	 * lock that read its abort mark: no TMF can mark it after that. */
	pthread_mutex_lock(&q->lock);
	aborted = t->abort;
	last = aborted || !scsi_cmd_has_steps(t);
	if (last)
		mask = task_unlink(q, t);
	pthread_mutex_unlock(&q->lock);
	if (!aborted && !scsi_cmd_io_done(t, res)) {
		if (last)
			abort(); /* a one-step command went on: a bug */
		return;
	}
	if (!last) {
		pthread_mutex_lock(&q->lock);
		mask = task_unlink(q, t);
		pthread_mutex_unlock(&q->lock);
	}
	task_end(t);
	for (unsigned i = 0; mask; i++, mask >>= 1)
		if (mask & 1)
			tmf_task_ended(q->s, i);
}

void scsi_task_submit(struct scsi_task *t)
{
	struct scsi_queue *q = t->q;

	if (!t->in_set) {
		pthread_mutex_lock(&q->lock);
		t->prev = NULL;
		t->next = q->tasks;
		if (q->tasks)
			q->tasks->prev = t;
		q->tasks = t;
		t->in_set = true;
		t->abort = 0;
		t->tmf_mask = 0;
		t->cancelled = false;
		pthread_mutex_unlock(&q->lock);
	}
	t->io.done = io_done;
	stg_submit(q->sq, &t->io);
}

/* Cancels what TMFs marked since the last look. Queue thread only. */
static void process_aborts(struct scsi_queue *q)
{
	struct scsi_task *list[SCSI_MAX_INFLIGHT];
	unsigned n = 0;

	if (!atomic_exchange(&q->abort_pending, false))
		return;
	pthread_mutex_lock(&q->lock);
	for (struct scsi_task *t = q->tasks; t && n < SCSI_MAX_INFLIGHT;
	     t = t->next) {
		if (t->abort && !t->cancelled) {
			t->cancelled = true;
			list[n++] = t;
		}
	}
	pthread_mutex_unlock(&q->lock);
	/* Completions run only on this thread, so a task either is still
	 * in the set or ended during an earlier cancel in this loop. */
	for (unsigned i = 0; i < n; i++)
		if (list[i]->in_set)
			stg_cancel(q->sq, &list[i]->io);
}

static void task_start(struct scsi_dev *s, struct scsi_task *t)
{
	struct vdev_req *vr = &t->vr;
	unsigned cdb_size = atomic_load_explicit(&s->cdb_size,
						 memory_order_relaxed);
	unsigned sense_size = atomic_load_explicit(&s->sense_size,
						   memory_order_relaxed);
	size_t req_len = VDEV_SCSI_CMD_REQ_HDR + cdb_size;
	uint8_t hdr[VDEV_SCSI_CMD_REQ_HDR + VDEV_SCSI_CDB_SIZE_MAX];
	struct scsi_cmd *c = &t->c;
	vdev_le64 tag;
	int lun;

	t->resp_len = VDEV_SCSI_CMD_RESP_HDR + sense_size;
	if (vr->out_bytes < req_len || vr->in_bytes < t->resp_len) {
		scsi_log_once(s, SCSI_BAD_SHORT_REQ,
			      "request shorter than its header or response, "
			      "completed with nothing written");
		task_drop(t);
		return;
	}
	vdev_iov_to_buf(vr->out, vr->nout, 0, hdr, req_len);
	memset(t->cdb, 0, sizeof(t->cdb));
	memcpy(t->cdb, hdr + VDEV_SCSI_CMD_REQ_HDR,
	       cdb_size < sizeof(t->cdb) ? cdb_size : sizeof(t->cdb));
	memcpy(&tag, hdr + 8, sizeof(tag));
	t->tag = vdev_le64_to_cpu(tag);
	t->abort = 0;

	memset(c, 0, sizeof(*c));
	c->s = s;
	c->q = t->q;
	c->cdb = t->cdb;
	c->cdb_len = cdb_size;
	c->dout = t->dio;
	c->ndout = data_view(c->dout, vr->out, vr->nout, req_len);
	c->dout_len = vr->out_bytes - req_len;
	c->din = t->dio + c->ndout;
	c->ndin = data_view(c->din, vr->in, vr->nin, t->resp_len);
	c->din_len = vr->in_bytes - t->resp_len;
	t->data_len = c->din_len + c->dout_len;

	lun = decode_lun(s, hdr);
	if (lun < 0) {
		c->response = VDEV_SCSI_S_BAD_TARGET;
	} else if (c->din_len && c->dout_len) {
		/* Bidirectional commands need F_INOUT, never offered. */
		scsi_log_once(s, SCSI_BAD_INOUT,
			      "request with data-in and data-out buffers "
			      "without VIRTIO_SCSI_F_INOUT");
		c->response = VDEV_SCSI_S_FAILURE;
	} else {
		c->lun = (unsigned)lun;
		if (!scsi_cmd_exec(t))
			return; /* on the image layer; io_done ends it */
	}
	task_end(t);
}

void scsi_batch_done(void *arg)
{
	struct scsi_queue *q = arg;

	process_aborts(q);
	if (q->pushed) {
		q->pushed = false;
		vdev_queue_notify(q->vq);
	}
	/* A completion freed a slot: go on popping. */
	if (q->starved && q->free) {
		q->starved = false;
		vdev_queue_schedule(q->s->dev, q->vq_idx);
	}
}

static void handle_requests(struct scsi_dev *s, struct scsi_queue *q,
			    struct vdev_queue *vq)
{
	q->vq = vq;
	process_aborts(q);
	for (;;) {
		struct scsi_task *t = q->free;
		int ret;

		if (!t) {
			/* The image layer's completions reschedule us. */
			q->starved = true;
			break;
		}
		ret = vdev_queue_pop(vq, &t->vr);
		if (ret == -EMSGSIZE) {
			/* The queue already gave it back, 0 bytes written. */
			scsi_log_once(s, SCSI_BAD_TOO_MANY_IOV,
				      "request with more segments than "
				      "seg_max, completed with nothing "
				      "written");
			q->pushed = true;
			continue;
		}
		if (ret < 0)
			break;
		q->free = t->next_free;
		q->inflight++;
		t->sync_written = NULL;
		task_start(s, t);
	}
	/* Completions that came with the submit go with this round. */
	stg_kick(q->sq);
	scsi_batch_done(q);
}

uint32_t scsi_req_run(struct scsi_dev *s, struct scsi_queue *q,
		      struct vdev_req *vr)
{
	struct scsi_task *t = q->free;
	uint32_t written = UINT32_MAX;

	if (!t)
		return 0;
	q->free = t->next_free;
	q->inflight++;
	t->vr = *vr;
	t->sync_written = &written;
	task_start(s, t);
	stg_drain(q->sq);
	return written == UINT32_MAX ? 0 : written;
}

/* ---- control queue ------------------------------------------------------- */

/*
 * Marks the tasks a TMF aborts: those of @lun (all LUNs when @lun < 0),
 * only the one tagged @tag when @one. Returns how many; with @m NULL it
 * only counts (QUERY TASK, QUERY TASK SET).
 */
static unsigned mark(struct scsi_dev *s, struct scsi_tmf *m, int lun,
		     bool one, uint64_t tag, uint8_t why)
{
	unsigned total = 0, slot = m ? (unsigned)(m - s->tmfs) : 0;

	for (unsigned i = 0; i < s->nq; i++) {
		struct scsi_queue *q = &s->queues[i];
		unsigned n = 0;

		pthread_mutex_lock(&q->lock);
		for (struct scsi_task *t = q->tasks; t; t = t->next) {
			if ((lun >= 0 && t->c.lun != (unsigned)lun) ||
			    (one && t->tag != tag))
				continue;
			n++;
			if (!m)
				continue;
			if (!t->abort)
				t->abort = why;
			t->tmf_mask |= (uint8_t)(1u << slot);
			atomic_fetch_add(&m->pending, 1);
		}
		pthread_mutex_unlock(&q->lock);
		if (n && m) {
			atomic_store(&q->abort_pending, true);
			vdev_queue_schedule(s->dev, q->vq_idx);
		}
		total += n;
	}
	return total;
}

/*
 * Runs a TMF. Returns its response now, or -1 when it waits for tasks it
 * aborted (@m's response then goes out from scsi_tmf_flush()).
 */
static int tmf(struct scsi_dev *s, struct scsi_tmf *m, uint32_t subtype,
	       const uint8_t *l, uint64_t tag)
{
	int lun = decode_lun(s, l);
	uint8_t why = VDEV_SCSI_S_ABORTED;
	bool one = false;

	if (lun < 0)
		return VDEV_SCSI_S_BAD_TARGET;
	switch (subtype) {
	case VDEV_SCSI_T_TMF_I_T_NEXUS_RESET:
		/* The LUN field only names the nexus (our one target). */
		for (unsigned i = 0; i < s->nluns; i++)
			atomic_store(&s->luns[i].ua, SCSI_UA_NEXUS_LOSS);
		lun = -1;
		why = VDEV_SCSI_S_RESET;
		break;
	case VDEV_SCSI_T_TMF_ABORT_TASK:
		one = true;
		break;
	case VDEV_SCSI_T_TMF_ABORT_TASK_SET:
	case VDEV_SCSI_T_TMF_CLEAR_TASK_SET:
		break;
	case VDEV_SCSI_T_TMF_QUERY_TASK:
	case VDEV_SCSI_T_TMF_QUERY_TASK_SET:
		if ((unsigned)lun >= s->nluns)
			return VDEV_SCSI_S_INCORRECT_LUN;
		/* SAM-5 7.x: SUCCEEDED when the task (set) is there. */
		return mark(s, NULL, lun,
			    subtype == VDEV_SCSI_T_TMF_QUERY_TASK, tag, 0)
			       ? VDEV_SCSI_S_FUNCTION_SUCCEEDED
			       : VDEV_SCSI_S_FUNCTION_COMPLETE;
	case VDEV_SCSI_T_TMF_LOGICAL_UNIT_RESET:
		why = VDEV_SCSI_S_RESET;
		break;
	default:
		/* CLEAR_ACA: no ACA (NACA is refused); unknown functions. */
		return VDEV_SCSI_S_FUNCTION_REJECTED;
	}
	if (lun >= 0 && (unsigned)lun >= s->nluns)
		return VDEV_SCSI_S_INCORRECT_LUN;
	if (subtype == VDEV_SCSI_T_TMF_LOGICAL_UNIT_RESET)
		atomic_store(&s->luns[lun].ua, SCSI_UA_RESET);
	m->response = VDEV_SCSI_S_FUNCTION_COMPLETE;
	/* One extra while marking: tasks that end meanwhile cannot finish
	 * the TMF before every task was counted. */
	atomic_store(&m->pending, 1);
	mark(s, m, lun, one, tag, why);
	if (atomic_fetch_sub(&m->pending, 1) == 1)
		return m->response;
	return -1;
}

/* A control request; -1 when it is a TMF that waits. */
static int ctrl_process(struct scsi_dev *s, struct scsi_tmf *m,
			struct vdev_req *vr, uint32_t *written)
{
	union {
		struct vdev_scsi_ctrl_tmf_req tmf;
		struct vdev_scsi_ctrl_an_req an;
		vdev_le32 type;
	} req = { 0 };
	struct vdev_scsi_ctrl_an_resp an = { 0 };
	uint8_t r;
	int ret;

	*written = 0;
	if (vr->out_bytes < sizeof(req.type))
		goto short_req;
	vdev_iov_to_buf(vr->out, vr->nout, 0, &req, sizeof(req));
	switch (vdev_le32_to_cpu(req.type)) {
	case VDEV_SCSI_T_TMF:
		if (vr->out_bytes < sizeof(req.tmf) || vr->in_bytes < 1)
			goto short_req;
		ret = tmf(s, m, vdev_le32_to_cpu(req.tmf.subtype), req.tmf.lun,
			  vdev_le64_to_cpu(req.tmf.id));
		if (ret < 0)
			return -1;
		r = (uint8_t)ret;
		vdev_iov_from_buf(vr->in, vr->nin, 0, &r, 1);
		*written = 1;
		return 0;
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
		*written = sizeof(an);
		return 0;
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

uint32_t scsi_ctrl_run(struct scsi_dev *s, struct vdev_req *vr)
{
	struct scsi_tmf m = { 0 };
	uint32_t written;

	/* Nothing may be in flight for a TMF to wait for. */
	for (unsigned i = 0; i < s->nq; i++)
		stg_drain(s->queues[i].sq);
	m.busy = true;
	if (ctrl_process(s, &m, vr, &written) < 0)
		abort(); /* a task in flight after the drain: a bug */
	return written;
}

/* Pushes the TMFs whose tasks all ended; true when one was. */
static bool tmf_push_done(struct scsi_dev *s, struct vdev_queue *vq)
{
	struct scsi_tmf *m;
	bool any = false;

	pthread_mutex_lock(&s->tmf_lock);
	m = s->tmf_done;
	s->tmf_done = NULL;
	pthread_mutex_unlock(&s->tmf_lock);
	for (; m; m = m->next_done) {
		vdev_iov_from_buf(m->vr.in, m->vr.nin, 0, &m->response, 1);
		if (vq)
			vdev_queue_push(vq, &m->vr, 1);
		m->busy = false;
		any = true;
	}
	return any;
}

void scsi_tmf_flush(struct scsi_dev *s)
{
	if (tmf_push_done(s, s->ctrl_vq) && s->ctrl_vq)
		vdev_queue_notify(s->ctrl_vq);
	for (unsigned i = 0; i < SCSI_TMF_SLOTS; i++)
		s->tmfs[i].busy = false;
	s->ctrl_starved = false;
}

static void handle_ctrl(struct scsi_dev *s, struct vdev_queue *q)
{
	bool pushed;

	s->ctrl_vq = q;
	pushed = tmf_push_done(s, q);
	for (;;) {
		struct scsi_tmf *m = NULL;
		uint32_t written;
		int ret;

		for (unsigned i = 0; i < SCSI_TMF_SLOTS && !m; i++)
			if (!s->tmfs[i].busy)
				m = &s->tmfs[i];
		if (!m) {
			/* A TMF that ends reschedules us. */
			s->ctrl_starved = true;
			break;
		}
		s->ctrl_starved = false;
		ret = vdev_queue_pop(q, &m->vr);
		if (ret == -EMSGSIZE) {
			pushed = true;
			continue;
		}
		if (ret < 0)
			break;
		m->busy = true;
		if (ctrl_process(s, m, &m->vr, &written) < 0)
			continue; /* waits for its tasks */
		m->busy = false;
		vdev_queue_push(q, &m->vr, written);
		pushed = true;
	}
	if (pushed)
		vdev_queue_notify(q);
}

void scsi_handle(struct vdev *dev, unsigned qidx, struct vdev_queue *q)
{
	struct scsi_dev *s = vdev_priv(dev);

	if (qidx == VDEV_SCSI_CTRL_QUEUE) {
		handle_ctrl(s, q);
		return;
	}
	if (qidx == VDEV_SCSI_EVENT_QUEUE) {
		scsi_event_handle(s, q);
		return;
	}
	handle_requests(s, &s->queues[qidx - VDEV_SCSI_REQ_QUEUE0], q);
}
