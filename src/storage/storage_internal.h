/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Inside the image layer: the per-queue context, the engines and the
 * helpers they share.
 *
 * A READ or WRITE goes: stg_submit -> bounced (bounce.c, a chunk at a
 * time) or split over the worker pool (pool.c) or handed whole to the
 * queue's engine (stg_xfer: memory, system calls, io_uring, NBD) ->
 * stg_xfer_done (next chunk, or the end) -> stg_finish -> done().
 * Work finished on another thread is posted to the queue (stg_post) and
 * delivered from the queue's eventfd on the queue's own thread.
 */
#ifndef VDEV_STORAGE_INTERNAL_H
#define VDEV_STORAGE_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "storage/storage.h"
#include "vdev_build_config.h"

#define STG_WITH_URING VDEV_WITH_URING_FOUND
#define STG_WITH_NBD VDEV_WITH_NBD_FOUND

/* Bounce memory per queue: STG_BOUNCE_SLOTS buffers of STG_BOUNCE_SLOT
 * bytes, allocated on first use. */
#define STG_BOUNCE_SLOT (256u << 10)
#define STG_BOUNCE_SLOTS 4u
#define STG_BOUNCE_NONE (-1)

/* Buffered transfers at least this long go to the worker pool, in parts
 * of at least STG_PART_MIN bytes. */
#define STG_SPLIT_MIN (128u << 10)
#define STG_PART_MIN (64u << 10)

/* Where a request is (r->state). */
enum {
	STG_S_NEW,
	STG_S_BOUNCE_WAIT,  /* on q->bwait */
	STG_S_SQ_WAIT,      /* on q->sqwait: no SQE free */
	STG_S_ENGINE,       /* in the ring */
	STG_S_REMOTE,       /* pool or NBD; comes back through q->posted */
	STG_S_DONE,
};

struct stg_uring;

struct stg_queue {
	struct vdev *dev;
	unsigned qidx;
	unsigned depth;
	void (*batch_done)(void *arg);
	void *arg;
	int efd;                    /* completions signal this */
	bool watched;
	bool warned;
	bool inline_only;           /* memory images only: no eventfd */
	unsigned inflight;          /* submitted, done() not yet called */
	/* Finished on another thread, waiting for the queue's thread. */
	_Atomic(struct stg_req *) posted;
	/* Threads inside stg_post(): the queue is not freed under them. */
	atomic_uint posting;
	struct stg_uring *uring;    /* NULL: system calls */
	struct stg_req *sqwait, *sqwait_tail;
	void *bslots[STG_BOUNCE_SLOTS];
	unsigned bbusy;             /* bit per slot in use */
	struct stg_req *bwait, *bwait_tail;
};

/* queue.c */
/* Hands the transfer r->cur (READ, or a write of any kind) to the queue's
 * engine; stg_xfer_done follows. */
void stg_xfer(struct stg_queue *q, struct stg_req *r);
/* The current transfer (r->cur..., r->cleft bytes at r->coff) is over:
 * @res 0 or -errno. Goes on with the next chunk or finishes. */
void stg_xfer_done(struct stg_queue *q, struct stg_req *r, int res);
/* The request is over: slot back, done(). */
void stg_finish(struct stg_queue *q, struct stg_req *r, int res);
/* From any thread: @r (state REMOTE) finished its parts. */
void stg_post(struct stg_queue *q, struct stg_req *r);
/* On the queue's thread: the parts of @r (state REMOTE) are over. */
void stg_remote_done(struct stg_queue *q, struct stg_req *r);
/* @n bytes of r->cur moved: forward in the iovecs and the image. */
void stg_advance(struct stg_req *r, uint64_t n);
/* Delivers what the eventfd signalled (posted requests, CQEs). */
void stg_deliver(struct stg_queue *q);

/* bounce.c */
bool stg_needs_bounce(const struct stg_image *img, const struct stg_req *r);
/* Starts a bounced READ/WRITE or a WRITE_SAME: takes a slot (or waits
 * for one) and moves the first chunk. */
void stg_bounce_start(struct stg_queue *q, struct stg_req *r);
/* A chunk moved: true when r->cur holds the next one. */
bool stg_bounce_next(struct stg_queue *q, struct stg_req *r);
void stg_bounce_release(struct stg_queue *q, struct stg_req *r);
bool stg_bounce_cancel(struct stg_queue *q, struct stg_req *r);
void stg_bounce_free(struct stg_queue *q);

/* file.c: blocking system calls, on whatever thread calls them. */
struct stg_io {
	struct iovec *iov;
	int cnt;
	uint64_t off;
	uint64_t left;
};
void stg_iov_advance(struct iovec **iov, int *cnt, uint64_t n);
/* Moves io->left bytes, advancing @io; 0 or -errno. RWF_NOWAIT in @rwf
 * stops at the first -EAGAIN/-EOPNOTSUPP, keeping the progress made. */
int stg_file_rw(struct stg_image *img, bool write, bool fua, int rwf,
		struct stg_io *io);
int stg_file_xfer_flags(struct stg_image *img, struct stg_req *r, int rwf);
int stg_file_flush(struct stg_image *img);
int stg_file_discard(struct stg_image *img, uint64_t off, uint64_t len);
int stg_file_write_zeroes(struct stg_image *img, uint64_t off, uint64_t len,
			  bool unmap);
/* The transfer r->cur on the calling thread; 0 or -errno. */
int stg_file_xfer(struct stg_image *img, struct stg_req *r);

/* mem.c */
void stg_mem_submit(struct stg_queue *q, struct stg_req *r);
void stg_mem_xfer(struct stg_queue *q, struct stg_req *r);

/* uring.c (stubs without liburing) */
int stg_uring_init(struct stg_queue *q);
void stg_uring_fini(struct stg_queue *q);
/* Starts the transfer r->cur, or FLUSH. */
void stg_uring_xfer(struct stg_queue *q, struct stg_req *r);
void stg_uring_kick(struct stg_queue *q);
unsigned stg_uring_reap(struct stg_queue *q);
bool stg_uring_cancel(struct stg_queue *q, struct stg_req *r);

/* pool.c */
/* Test hook: while set, a worker that took a part waits (counted in
 * _held) until stg_pool_test_release(): work that stays "in flight". */
extern atomic_bool stg_pool_test_hold;
extern atomic_uint stg_pool_test_held;
void stg_pool_test_release(void);
int stg_pool_start(struct stg_image *img);
void stg_pool_stop(struct stg_image *img);
/* Splits the transfer r->cur over the workers. */
void stg_pool_xfer(struct stg_queue *q, struct stg_req *r);
/* DISCARD / WRITE_ZEROES / FLUSH on a worker. */
void stg_pool_op(struct stg_queue *q, struct stg_req *r);
bool stg_pool_wanted(const struct stg_queue *q, const struct stg_req *r);

/* nbd.c (stubs without libnbd) */
int stg_nbd_open(struct stg_image *img, const struct stg_open_opts *o);
void stg_nbd_close(struct stg_image *img);
void stg_nbd_xfer(struct stg_queue *q, struct stg_req *r);
void stg_nbd_op(struct stg_queue *q, struct stg_req *r);

/* image.c */
uint64_t stg_fnv(uint64_t h, const void *p, size_t n);

#endif /* VDEV_STORAGE_INTERNAL_H */
