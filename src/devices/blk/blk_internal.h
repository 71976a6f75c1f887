/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-blk internals shared by the device (blk.c), the request parser
 * (blk_req.c) and the host backends (blk_file.c, blk_sync.c, blk_uring.c,
 * blk_mem.c).
 *
 * A request goes: pop (blk_handle) -> validate once, copying the header and
 * any segment table out of guest memory (blk_req.c) -> a backend moves the
 * data straight between the image and the guest iovecs -> blk_req_done()
 * writes the status byte and pushes. Everything for queue i happens on the
 * thread that serves queue i, under the core's queue lock (handler rounds
 * and watched-fd callbacks alike), so per-queue state needs no lock.
 */
#ifndef BLK_INTERNAL_H
#define BLK_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <virtio/blk.h>
#include <virtio/device.h>
#include <virtio/queue.h>

#include "vdev_build_config.h"

/* Data segments per request we advertise (seg_max) ... */
#define BLK_SEG_MAX 126u
/* ... and iovecs per chain we accept: header, status, and slack for
 * descriptors that cross guest memory regions. */
#define BLK_IOV_MAX (BLK_SEG_MAX + 2u + 8u)
/* Largest single segment advertised (size_max). Both limits are enforced
 * on every READ and WRITE: a request beyond them fails (blk_req.c). */
#define BLK_SIZE_MAX (4u << 20)
/* O_DIRECT bounce memory per queue: BLK_BOUNCE_SLOTS buffers of
 * BLK_BOUNCE_SLOT bytes, allocated on first use. A bounced request holds
 * one buffer and moves through it a chunk at a time; a request that finds
 * none free waits for one (no allocation sized by the guest). */
#define BLK_BOUNCE_SLOT (256u << 10)
#define BLK_BOUNCE_SLOTS 4u
#define BLK_BOUNCE_NONE (-1)
#define BLK_BOUNCE_WAIT (-2)
/* Requests in flight per queue; a deeper ring waits for completions. */
#define BLK_MAX_INFLIGHT 256u
/* DISCARD / WRITE_ZEROES limits advertised. */
#define BLK_MAX_DWZ_SEG 32u
#define BLK_MAX_DWZ_SECTORS (UINT32_MAX >> 1)

/* Size of the config space we expose (through unused1). */
#define BLK_CONFIG_SIZE 60u
#define BLK_CFG_WRITEBACK_OFF 32u

enum blk_op {
	BLK_OP_READ,
	BLK_OP_WRITE,
	BLK_OP_FLUSH,
};

struct blk_queue;

/* One request slot, preallocated per queue. */
struct blk_req {
	struct vdev_req vr;         /* the popped chain; vr.iov = iov */
	struct blk_queue *bq;
	struct blk_req *next_free;
	uint8_t *status;            /* the status byte, in guest memory */

	/* What the backend does (READ/WRITE/FLUSH). */
	enum blk_op op;
	bool dsync;                 /* writethrough: durable before status */
	uint64_t off;               /* image offset of dio[0] */
	size_t left;                /* bytes still to move */
	struct iovec *dio;          /* data iovecs still to move */
	int ndio;
	/* O_DIRECT with unaligned guest buffers: the data moves a chunk at
	 * a time through bounce slot @bslot (dio = &biov); the guest's data
	 * iovecs are kept in gio. bslot -1: no bounce; BLK_BOUNCE_WAIT:
	 * waiting for a slot on bq->bwait. */
	int bslot;
	uint64_t boff;              /* image offset of the whole transfer */
	size_t btotal, bdone;       /* its length, and what has moved */
	struct iovec biov;
	struct iovec *gio;
	int ngio;
	struct blk_req *bnext;      /* on bq->bwait */

	struct iovec iov[BLK_IOV_MAX];  /* the chain as popped */
	struct iovec dbuf[BLK_IOV_MAX]; /* data part, ours to trim/advance */
};

struct blk_dev;

struct blk_queue {
	struct blk_dev *b;
	unsigned idx;
	struct vdev_queue *vq;
	struct blk_req *slots;
	struct blk_req *free;
	unsigned inflight;          /* handed to the backend, not done */
	bool starved;               /* stopped popping: no free slot */
	bool pushed;                /* pushed since the last notify */
	void *be;                   /* backend's per-queue state */
	/* O_DIRECT bounce buffers (BLK_BOUNCE_SLOTS) and the requests
	 * waiting for one, oldest first. */
	void *bslots[BLK_BOUNCE_SLOTS];
	unsigned bbusy;             /* bit per slot in use */
	struct blk_req *bwait, *bwait_tail;
};

/*
 * A host backend. Sync backends complete a request inside submit(); the
 * io_uring one completes later from its eventfd callback. Every completion
 * goes through blk_req_done() on the queue's thread.
 */
struct blk_backend_ops {
	enum vdev_blk_backend kind;
	/* Per-queue setup at device creation; an error makes the device
	 * fall back to the sync backend (io_uring unavailable). */
	int (*queue_init)(struct blk_queue *bq);
	void (*queue_fini)(struct blk_queue *bq);
	/* DRIVER_OK: watch completion fds. May be NULL. */
	void (*start)(struct blk_queue *bq);
	/* A validated READ/WRITE/FLUSH. */
	void (*submit)(struct blk_queue *bq, struct blk_req *r);
	/* End of a handler round: hand the batch to the kernel. May be
	 * NULL. */
	void (*flush_batch)(struct blk_queue *bq);
	/* Completes everything in flight before returning (reset, free).
	 * May be NULL when submit always completes synchronously. */
	void (*drain)(struct blk_queue *bq);
	/* A request that waited for a bounce slot got one: move its first
	 * chunk. May be NULL when submit never leaves one waiting. */
	void (*resume)(struct blk_queue *bq, struct blk_req *r);
	/* One DISCARD / WRITE_ZEROES range, synchronously. 0 or -errno. */
	int (*discard)(struct blk_dev *b, uint64_t off, uint64_t len);
	int (*write_zeroes)(struct blk_dev *b, uint64_t off, uint64_t len,
			    bool unmap);
};

/* Malformed-request kinds, each logged once per device. */
enum blk_bad {
	BLK_BAD_NO_STATUS,
	BLK_BAD_SHORT_HDR,
	BLK_BAD_TOO_MANY_IOV,
	BLK_BAD_TOO_LARGE,
	BLK_BAD_COUNT
};

struct blk_dev {
	struct vdev *dev;
	const struct blk_backend_ops *be;

	int fd;                     /* image (file backends), else -1 */
	bool direct;
	bool ro;
	bool in_memory;             /* image on tmpfs/ramfs (blk.c) */
	/* Buffered reads / writes without RWF_NOWAIT support (blk_uring.c):
	 * learnt on the first one, by any queue thread. */
	atomic_bool rd_no_nowait;
	atomic_bool wr_no_nowait;
	uint8_t *ram;               /* ram backend image */
	uint64_t capacity;          /* bytes, multiple of lbs */
	uint32_t lbs;               /* logical block size */
	uint32_t dio_align;         /* O_DIRECT buffer alignment */
	char serial[VDEV_BLK_ID_BYTES];
	uint16_t queue_size;

	bool writeback_default;
	/* Driver-visible cache mode and what it means for writes; read by
	 * queue threads, written by the control thread. */
	atomic_bool writeback;
	atomic_bool writethrough;   /* effective: fdatasync every write */
	bool neg_flush;
	bool neg_wce;
	bool neg_discard;
	bool neg_write_zeroes;

	atomic_uint logged;         /* bit per enum blk_bad */

	unsigned nq;
	struct blk_queue *queues;
};

/* Backends. */
extern const struct blk_backend_ops blk_sync_ops;
extern const struct blk_backend_ops blk_null_ops;
extern const struct blk_backend_ops blk_ram_ops;
#if VDEV_WITH_URING_FOUND
extern const struct blk_backend_ops blk_uring_ops;
#endif
/* Test hook: when set, io_uring setup fails as on a kernel without it. */
extern bool blk_uring_test_fail_init;
/* Test hook: every transfer goes through the ring, none is done inline. */
extern bool blk_uring_test_ring_only;

/* blk_req.c */
void blk_handle(struct vdev *dev, unsigned qidx, struct vdev_queue *q);
/* Writes @status, pushes, recycles the slot. */
void blk_req_done(struct blk_queue *bq, struct blk_req *r, uint8_t status);
/* Notifies the driver if something was pushed since the last call. */
void blk_queue_notify(struct blk_queue *bq);
void blk_log_once(struct blk_dev *b, enum blk_bad kind, const char *what);

/* blk_file.c: helpers shared by the file backends. */
/* Moves r->left bytes with preadv/pwritev2; 0 or -errno. */
int blk_file_rw(struct blk_dev *b, struct blk_req *r);
int blk_file_rw_flags(struct blk_dev *b, struct blk_req *r, int rwf);
int blk_file_flush(struct blk_dev *b);
int blk_file_discard(struct blk_dev *b, uint64_t off, uint64_t len);
int blk_file_write_zeroes(struct blk_dev *b, uint64_t off, uint64_t len,
			  bool unmap);
/*
 * O_DIRECT needs aligned buffers. When the guest's are not, points r->dio
 * at the first chunk in a bounce slot of the queue (rare). 0: ready to
 * move r->left bytes; 1: no slot free, @r waits and the backend's resume()
 * gets it later; -ENOMEM.
 */
int blk_bounce_prepare(struct blk_queue *bq, struct blk_req *r);
/* A bounced chunk has moved: copy it to the guest (READ) and set up the
 * next one. true: r->dio holds the next chunk; false: all done. */
bool blk_bounce_next(struct blk_req *r);
/* Gives the slot back (blk_req_done) and hands it to the oldest waiter. */
void blk_bounce_release(struct blk_queue *bq, struct blk_req *r);
/* Frees the queue's bounce buffers (nothing in flight). */
void blk_bounce_free(struct blk_queue *bq);

/* Advances an iovec array by @n bytes (n <= total). */
void blk_iov_advance(struct iovec **iov, int *cnt, size_t n);

#endif /* BLK_INTERNAL_H */
