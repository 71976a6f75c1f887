/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Synchronous file backend: preadv/pwritev2/fdatasync on the queue's
 * thread. Used when io_uring is unavailable or not wanted; simple, and a
 * request never outlives the round that popped it.
 */
#include <errno.h>

#include "blk_internal.h"

static void sync_submit(struct blk_queue *bq, struct blk_req *r)
{
	struct blk_dev *b = bq->b;
	int ret;

	if (r->op == BLK_OP_FLUSH) {
		ret = blk_file_flush(b);
	} else {
		/* Nothing outlives this call, so a bounce slot is always
		 * free here (1 cannot happen). */
		ret = blk_bounce_prepare(bq, r);
		if (ret > 0)
			ret = -EIO;
		while (!ret) {
			ret = blk_file_rw(b, r);
			if (ret || r->bslot < 0 || !blk_bounce_next(r))
				break;
		}
	}
	if (ret < 0)
		vdev_log(VDEV_LOG_DEBUG, "blk: %s at %llu: %d",
			 r->op == BLK_OP_READ    ? "read"
			 : r->op == BLK_OP_WRITE ? "write"
						 : "flush",
			 (unsigned long long)r->off, ret);
	blk_req_done(bq, r, ret < 0 ? VDEV_BLK_S_IOERR : VDEV_BLK_S_OK);
}

const struct blk_backend_ops blk_sync_ops = {
	.kind = VDEV_BLK_BACKEND_SYNC,
	.submit = sync_submit,
	.discard = blk_file_discard,
	.write_zeroes = blk_file_write_zeroes,
};
