/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Memory backends, to measure the device model without a disk: null
 * (reads return zeroes, writes are dropped) and ram (an anonymous mapping
 * holding the image, lost when the device is freed).
 */
#include <string.h>
#include <sys/mman.h>

#include "blk_internal.h"

static void null_submit(struct blk_queue *bq, struct blk_req *r)
{
	if (r->op == BLK_OP_READ)
		for (int i = 0; i < r->ndio; i++)
			memset(r->dio[i].iov_base, 0, r->dio[i].iov_len);
	blk_req_done(bq, r, VDEV_BLK_S_OK);
}

static int null_discard(struct blk_dev *b, uint64_t off, uint64_t len)
{
	return 0;
}

static int null_write_zeroes(struct blk_dev *b, uint64_t off, uint64_t len,
			     bool unmap)
{
	return 0;
}

const struct blk_backend_ops blk_null_ops = {
	.kind = VDEV_BLK_BACKEND_NULL,
	.submit = null_submit,
	.discard = null_discard,
	.write_zeroes = null_write_zeroes,
};

static void ram_submit(struct blk_queue *bq, struct blk_req *r)
{
	uint8_t *p = bq->b->ram + r->off;

	/* blk_req.c checked [off, off + left) against the capacity. */
	for (int i = 0; i < r->ndio; i++) {
		if (r->op == BLK_OP_READ)
			memcpy(r->dio[i].iov_base, p, r->dio[i].iov_len);
		else if (r->op == BLK_OP_WRITE)
			memcpy(p, r->dio[i].iov_base, r->dio[i].iov_len);
		p += r->dio[i].iov_len;
	}
	blk_req_done(bq, r, VDEV_BLK_S_OK);
}

/* Whole pages go back to the kernel (they read as zeroes again), the
 * partial ones at the edges are cleared. */
static int ram_zero(struct blk_dev *b, uint64_t off, uint64_t len, bool unmap)
{
	const uint64_t pg = 4096;
	uint64_t start = (off + pg - 1) & ~(pg - 1);
	uint64_t end = (off + len) & ~(pg - 1);

	if (!unmap || end <= start) {
		memset(b->ram + off, 0, len);
		return 0;
	}
	memset(b->ram + off, 0, start - off);
	if (madvise(b->ram + start, end - start, MADV_DONTNEED) < 0)
		memset(b->ram + start, 0, end - start);
	memset(b->ram + end, 0, off + len - end);
	return 0;
}

static int ram_discard(struct blk_dev *b, uint64_t off, uint64_t len)
{
	return ram_zero(b, off, len, true);
}

static int ram_write_zeroes(struct blk_dev *b, uint64_t off, uint64_t len,
			    bool unmap)
{
	return ram_zero(b, off, len, unmap);
}

const struct blk_backend_ops blk_ram_ops = {
	.kind = VDEV_BLK_BACKEND_RAM,
	.submit = ram_submit,
	.discard = ram_discard,
	.write_zeroes = ram_write_zeroes,
};
