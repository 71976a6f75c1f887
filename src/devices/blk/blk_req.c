/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-blk request parsing and completion (virtio 1.2 5.2.6).
 *
 * This is the boundary for everything a driver puts in a request: the
 * header and the DISCARD/WRITE_ZEROES segment table are copied out of guest
 * memory once and validated here; the image layer only ever sees an image
 * offset and length that lie inside the image, and iovecs the queue layer
 * already checked to be inside guest memory.
 */
#include <errno.h>
#include <string.h>
#include <virtio/iov.h>
#include <virtio/le.h>

#include "blk_internal.h"

void blk_log_once(struct blk_dev *b, enum blk_bad kind, const char *what)
{
	unsigned bit = 1u << kind;

	if (atomic_fetch_or(&b->logged, bit) & bit)
		return;
	vdev_log(VDEV_LOG_WARN, "blk: %s (reported once)", what);
}

/*
 * r->dbuf = the @len bytes that start @skip bytes into @iov, as our own
 * copy of the iovecs (the queue's are left untouched for push); returns
 * how many.
 */
static int data_view(struct blk_req *r, const struct iovec *iov,
		     unsigned cnt, size_t skip, size_t len)
{
	int n = 0;

	for (unsigned i = 0; i < cnt && len; i++) {
		size_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		l -= skip;
		if (l > len)
			l = len;
		r->dbuf[n].iov_base = (uint8_t *)iov[i].iov_base + skip;
		r->dbuf[n].iov_len = l;
		n++;
		len -= l;
		skip = 0;
	}
	return n;
}

static void put_slot(struct blk_queue *bq, struct blk_req *r)
{
	r->next_free = bq->free;
	bq->free = r;
	bq->inflight--;
	bq->pushed = true;
}

static void req_done(struct blk_queue *bq, struct blk_req *r, uint8_t status)
{
	*r->status = status;
	/* The status byte is the last writable byte, so the used length
	 * covers the whole writable part (as QEMU reports it). */
	vdev_queue_push(bq->vq, &r->vr, r->vr.in_bytes);
	put_slot(bq, r);
}

/* A request with no room for a status byte cannot be answered properly:
 * give it back with nothing written. */
static void done_no_status(struct blk_queue *bq, struct blk_req *r)
{
	vdev_queue_push(bq->vq, &r->vr, 0);
	put_slot(bq, r);
}

void blk_queue_notify(struct blk_queue *bq)
{
	if (!bq->pushed)
		return;
	bq->pushed = false;
	vdev_queue_notify(bq->vq);
}

/* The last device-writable byte, or NULL when there is none. */
static uint8_t *find_status(struct vdev_req *vr)
{
	for (unsigned i = vr->nin; i-- > 0;) {
		struct iovec *v = &vr->in[i];

		if (v->iov_len)
			return (uint8_t *)v->iov_base + v->iov_len - 1;
	}
	return NULL;
}

/*
 * [sector * 512, + len) inside the image and aligned to the logical block
 * size; *off receives the byte offset. Written so nothing can overflow.
 */
static bool range_ok(const struct blk_dev *b, uint64_t sector, uint64_t len,
		     uint64_t *off)
{
	if (sector > b->capacity / VDEV_BLK_SECTOR_SIZE)
		return false;
	*off = sector * VDEV_BLK_SECTOR_SIZE;
	if ((*off | len) & (b->lbs - 1))
		return false;
	return len <= b->capacity - *off;
}

/*
 * What the config space promises the driver may send: at most seg_max data
 * segments of at most size_max bytes each (5.2.4). The limits also bound
 * what a request can cost the device, bounce memory included. Segments are
 * counted as the device sees them: a buffer that spans two guest memory
 * regions counts twice.
 */
static bool limits_ok(const struct blk_req *r, int n)
{
	if ((unsigned)n > BLK_SEG_MAX)
		return false;
	for (int i = 0; i < n; i++)
		if (r->dbuf[i].iov_len > BLK_SIZE_MAX)
			return false;
	return true;
}

static uint8_t status_of(struct blk_dev *b, const struct stg_req *io,
			 int res)
{
	if (!res)
		return VDEV_BLK_S_OK;
	vdev_log(VDEV_LOG_DEBUG, "blk: op %d at %llu: %d", (int)io->op,
		 (unsigned long long)io->off, res);
	return VDEV_BLK_S_IOERR;
}

static void io_done(struct stg_req *io, int res)
{
	struct blk_req *r = (struct blk_req *)((uint8_t *)io -
					       offsetof(struct blk_req, io));

	req_done(r->bq, r, status_of(r->bq->b, io, res));
}

static void submit(struct blk_queue *bq, struct blk_req *r, uint8_t op,
		   uint64_t off, uint64_t len, int niov, uint8_t flags,
		   void (*done)(struct stg_req *, int))
{
	struct stg_req *io = &r->io;

	io->img = bq->b->img;
	io->op = op;
	io->flags = flags;
	io->off = off;
	io->len = len;
	io->iov = r->dbuf;
	io->iovcnt = niov;
	io->done = done;
	stg_submit(bq->sq, io);
}

/* Returns a status, or -1 when the backend took the request. */
static int start_rw(struct blk_queue *bq, struct blk_req *r, bool write,
		    uint64_t sector)
{
	struct blk_dev *b = bq->b;
	struct vdev_req *vr = &r->vr;
	bool wt;
	uint64_t off;
	size_t len;
	int n;

	if (write) {
		/* 5.2.6.2: no data may be written on a read-only device. */
		if (b->ro)
			return VDEV_BLK_S_IOERR;
		len = vr->out_bytes - sizeof(struct vdev_blk_req_hdr);
		n = data_view(r, vr->out, vr->nout,
			      sizeof(struct vdev_blk_req_hdr), len);
	} else {
		len = vr->in_bytes - 1;
		n = data_view(r, vr->in, vr->nin, 0, len);
	}
	if (len % VDEV_BLK_SECTOR_SIZE || !range_ok(b, sector, len, &off))
		return VDEV_BLK_S_IOERR;
	if (!limits_ok(r, n)) {
		blk_log_once(b, BLK_BAD_TOO_LARGE,
			     "request over size_max or seg_max, failed");
		return VDEV_BLK_S_IOERR;
	}
	if (!len)
		return VDEV_BLK_S_OK;
	wt = write && atomic_load_explicit(&b->writethrough,
					   memory_order_relaxed);
	submit(bq, r, write ? STG_WRITE : STG_READ, off, len, n,
	       wt ? STG_FUA : 0, io_done);
	return -1;
}

static int start_flush(struct blk_queue *bq, struct blk_req *r)
{
	submit(bq, r, STG_FLUSH, 0, 0, 0, 0, io_done);
	return -1;
}

static int start_get_id(struct blk_queue *bq, struct blk_req *r)
{
	struct vdev_req *vr = &r->vr;
	size_t len = vr->in_bytes - 1;

	/* NUL-padded, no terminator when all 20 bytes are used. */
	if (len > VDEV_BLK_ID_BYTES)
		len = VDEV_BLK_ID_BYTES;
	vdev_iov_from_buf(vr->in, vr->nin, 0, bq->b->serial, len);
	return VDEV_BLK_S_OK;
}

/* The next DISCARD / WRITE_ZEROES range, the flush after them, or the
 * status. */
static void dwz_next(struct stg_req *io, int res)
{
	struct blk_req *r = (struct blk_req *)((uint8_t *)io -
					       offsetof(struct blk_req, io));
	struct blk_queue *bq = r->bq;

	if (res < 0 || (r->dwz_next == r->ndwz && !r->dwz_flush)) {
		req_done(bq, r, status_of(bq->b, io, res));
		return;
	}
	if (r->dwz_next == r->ndwz) {
		/* Zeroes are a write: durable before the status in
		 * writethrough. */
		r->dwz_flush = false;
		submit(bq, r, STG_FLUSH, 0, 0, 0, 0, io_done);
		return;
	}
	r->dwz_next++;
	submit(bq, r, r->dwz_op, r->dwz[r->dwz_next - 1].off,
	       r->dwz[r->dwz_next - 1].len, 0,
	       r->dwz[r->dwz_next - 1].unmap ? STG_UNMAP : 0, dwz_next);
}

static int start_dwz(struct blk_queue *bq, struct blk_req *r, bool discard)
{
	struct vdev_blk_discard_write_zeroes seg[BLK_MAX_DWZ_SEG];
	struct blk_dev *b = bq->b;
	struct vdev_req *vr = &r->vr;
	size_t len = vr->out_bytes - sizeof(struct vdev_blk_req_hdr);
	unsigned n;

	if (!(discard ? b->neg_discard : b->neg_write_zeroes))
		return VDEV_BLK_S_UNSUPP;
	if (b->ro)
		return VDEV_BLK_S_IOERR;
	if (!len || len % sizeof(seg[0]))
		return VDEV_BLK_S_IOERR;
	n = len / sizeof(seg[0]);
	if (n > BLK_MAX_DWZ_SEG)
		return VDEV_BLK_S_IOERR;
	/* One copy: the driver cannot change a segment after the check. */
	vdev_iov_to_buf(vr->out, vr->nout, sizeof(struct vdev_blk_req_hdr), seg,
		   len);

	/* Unknown flags, and unmap on a discard, are UNSUPP (5.2.6.2);
	 * checked for every segment before anything is done. */
	for (unsigned i = 0; i < n; i++) {
		uint32_t flags = vdev_le32_to_cpu(seg[i].flags);

		if (flags & ~VDEV_BLK_WRITE_ZEROES_FLAG_UNMAP)
			return VDEV_BLK_S_UNSUPP;
		if (discard && (flags & VDEV_BLK_WRITE_ZEROES_FLAG_UNMAP))
			return VDEV_BLK_S_UNSUPP;
	}
	r->ndwz = 0;
	for (unsigned i = 0; i < n; i++) {
		uint32_t ns = vdev_le32_to_cpu(seg[i].num_sectors);
		uint64_t off;

		if (ns > BLK_MAX_DWZ_SECTORS ||
		    !range_ok(b, vdev_le64_to_cpu(seg[i].sector),
			      (uint64_t)ns * VDEV_BLK_SECTOR_SIZE, &off))
			return VDEV_BLK_S_IOERR;
		if (!ns)
			continue;
		r->dwz[r->ndwz].off = off;
		r->dwz[r->ndwz].len = (uint64_t)ns * VDEV_BLK_SECTOR_SIZE;
		r->dwz[r->ndwz].unmap = vdev_le32_to_cpu(seg[i].flags) &
					VDEV_BLK_WRITE_ZEROES_FLAG_UNMAP;
		r->ndwz++;
	}
	r->dwz_op = discard ? STG_DISCARD : STG_WRITE_ZEROES;
	r->dwz_next = 0;
	r->dwz_flush = !discard && r->ndwz &&
		       atomic_load_explicit(&b->writethrough,
					    memory_order_relaxed);
	r->io.off = 0;
	r->io.op = r->dwz_op;
	dwz_next(&r->io, 0);
	return -1;
}

static void blk_req_start(struct blk_queue *bq, struct blk_req *r)
{
	struct blk_dev *b = bq->b;
	struct vdev_req *vr = &r->vr;
	struct vdev_blk_req_hdr hdr;
	uint64_t sector;
	int status;

	r->status = find_status(vr);
	if (!r->status) {
		blk_log_once(b, BLK_BAD_NO_STATUS,
			     "request without a status byte, completed with "
			     "nothing written");
		done_no_status(bq, r);
		return;
	}
	if (vr->out_bytes < sizeof(hdr)) {
		blk_log_once(b, BLK_BAD_SHORT_HDR,
			     "request header shorter than 16 bytes, completed "
			     "with nothing written");
		done_no_status(bq, r);
		return;
	}
	vdev_iov_to_buf(vr->out, vr->nout, 0, &hdr, sizeof(hdr));
	sector = vdev_le64_to_cpu(hdr.sector);

	switch (vdev_le32_to_cpu(hdr.type)) {
	case VDEV_BLK_T_IN:
		status = start_rw(bq, r, false, sector);
		break;
	case VDEV_BLK_T_OUT:
		status = start_rw(bq, r, true, sector);
		break;
	case VDEV_BLK_T_FLUSH:
		status = start_flush(bq, r);
		break;
	case VDEV_BLK_T_GET_ID:
		status = start_get_id(bq, r);
		break;
	case VDEV_BLK_T_DISCARD:
		status = start_dwz(bq, r, true);
		break;
	case VDEV_BLK_T_WRITE_ZEROES:
		status = start_dwz(bq, r, false);
		break;
	default:
		/* GET_LIFETIME included: an image file has no wear data
		 * (LIFETIME is not offered). */
		status = VDEV_BLK_S_UNSUPP;
		break;
	}
	if (status >= 0)
		req_done(bq, r, (uint8_t)status);
}

void blk_handle(struct vdev *dev, unsigned qidx, struct vdev_queue *q)
{
	struct blk_dev *b = vdev_priv(dev);
	struct blk_queue *bq = &b->queues[qidx];

	bq->vq = q;
	for (;;) {
		struct blk_req *r = bq->free;
		int ret;

		if (!r) {
			/* The backend's completions reschedule us. */
			bq->starved = true;
			break;
		}
		ret = vdev_queue_pop(q, &r->vr);
		if (ret == -EMSGSIZE) {
			/* The queue already gave it back, 0 bytes written. */
			blk_log_once(b, BLK_BAD_TOO_MANY_IOV,
				     "request with more segments than "
				     "seg_max, completed with nothing written");
			bq->pushed = true;
			continue;
		}
		if (ret < 0)
			break;
		bq->free = r->next_free;
		bq->inflight++;
		blk_req_start(bq, r);
	}
	/* Completions that came with the submit go with this round. */
	stg_kick(bq->sq);
	blk_batch_done(bq);
}

void blk_batch_done(void *arg)
{
	struct blk_queue *bq = arg;

	blk_queue_notify(bq);
	/* A completion freed a slot: go on popping. */
	if (bq->starved && bq->free) {
		bq->starved = false;
		vdev_queue_schedule(bq->b->dev, bq->idx);
	}
}
