/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Memory images, to measure a device without a disk: null (reads return
 * zeroes, writes are dropped) and ram (an anonymous mapping holding the
 * image, lost when it is closed). Everything completes inline.
 */
#include <string.h>
#include <sys/mman.h>

#include "storage/storage_internal.h"

void stg_mem_xfer(struct stg_queue *q, struct stg_req *r)
{
	struct stg_image *img = r->img;
	uint8_t *p = img->ram ? img->ram + r->coff : NULL;

	/* stg_submit checked [off, off + len) against the size. */
	for (int i = 0; i < r->ncur; i++) {
		void *b = r->cur[i].iov_base;
		size_t l = r->cur[i].iov_len;

		if (l > r->cleft)
			l = (size_t)r->cleft;
		if (r->op == STG_READ) {
			if (p)
				memcpy(b, p, l);
			else
				memset(b, 0, l);
		} else if (p) {
			memcpy(p, b, l);
		}
		if (p)
			p += l;
		r->cleft -= l;
		if (!r->cleft)
			break;
	}
	r->cleft = 0;
	stg_xfer_done(q, r, 0);
}

/* Whole pages go back to the kernel (they read as zeroes again), the
 * partial ones at the edges are cleared. */
static void ram_zero(struct stg_image *img, uint64_t off, uint64_t len,
		     bool unmap)
{
	const uint64_t pg = 4096;
	uint64_t start = (off + pg - 1) & ~(pg - 1);
	uint64_t end = (off + len) & ~(pg - 1);

	if (!unmap || end <= start) {
		memset(img->ram + off, 0, len);
		return;
	}
	memset(img->ram + off, 0, start - off);
	if (madvise(img->ram + start, end - start, MADV_DONTNEED) < 0)
		memset(img->ram + start, 0, end - start);
	memset(img->ram + end, 0, off + len - end);
}

void stg_mem_submit(struct stg_queue *q, struct stg_req *r)
{
	if (r->img->ram)
		ram_zero(r->img, r->off, r->len,
			 r->op == STG_DISCARD || (r->flags & STG_UNMAP));
	stg_finish(q, r, 0);
}
