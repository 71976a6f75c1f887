/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-blk internals shared by the device (blk.c) and the request
 * parser (blk_req.c). The image and all I/O are the image layer's
 * (src/storage): blk has no file code of its own.
 *
 * A request goes: pop (blk_handle) -> validate once, copying the header and
 * any segment table out of guest memory (blk_req.c) -> the image layer
 * moves the data straight between the image and the guest iovecs ->
 * its done() callback writes the status byte and pushes. Everything for
 * queue i happens on the thread that serves queue i, under the core's queue
 * lock (handler rounds and the image layer's completions alike), so
 * per-queue state needs no lock.
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

#include "storage/storage.h"

/* Data segments per request we advertise (seg_max) ... */
#define BLK_SEG_MAX 126u
/* ... and iovecs per chain we accept: header, status, and slack for
 * descriptors that cross guest memory regions. */
#define BLK_IOV_MAX (BLK_SEG_MAX + 2u + 8u)
/* Largest single segment advertised (size_max). Both limits are enforced
 * on every READ and WRITE: a request beyond them fails (blk_req.c). */
#define BLK_SIZE_MAX (4u << 20)
/* Requests in flight per queue; a deeper ring waits for completions. */
#define BLK_MAX_INFLIGHT 256u
/* DISCARD / WRITE_ZEROES limits advertised. */
#define BLK_MAX_DWZ_SEG 32u
#define BLK_MAX_DWZ_SECTORS (UINT32_MAX >> 1)

/* Size of the config space we expose (through unused1). */
#define BLK_CONFIG_SIZE 60u
#define BLK_CFG_WRITEBACK_OFF 32u

struct blk_queue;

/* One request slot, preallocated per queue. */
struct blk_req {
	struct vdev_req vr;         /* the popped chain; vr.iov = iov */
	struct blk_queue *bq;
	struct blk_req *next_free;
	uint8_t *status;            /* the status byte, in guest memory */
	struct stg_req io;          /* what the image layer does for it */
	/* DISCARD / WRITE_ZEROES: the validated ranges, done one after
	 * another; then a flush when the cache is writethrough. */
	struct { uint64_t off, len; bool unmap; } dwz[BLK_MAX_DWZ_SEG];
	unsigned ndwz, dwz_next;
	uint8_t dwz_op;
	bool dwz_flush;

	struct iovec iov[BLK_IOV_MAX];  /* the chain as popped */
	struct iovec dbuf[BLK_IOV_MAX]; /* data part, the layer's to move */
};

struct blk_dev;

struct blk_queue {
	struct blk_dev *b;
	unsigned idx;
	struct vdev_queue *vq;
	struct stg_queue *sq;       /* the image layer's side */
	struct blk_req *slots;
	struct blk_req *free;
	unsigned inflight;          /* handed to the layer, not done */
	bool starved;               /* stopped popping: no free slot */
	bool pushed;                /* pushed since the last notify */
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
	struct stg_image *img;
	bool ro;
	uint64_t capacity;          /* bytes, multiple of lbs */
	uint32_t lbs;               /* logical block size */
	char serial[VDEV_BLK_ID_BYTES];
	uint16_t queue_size;

	bool writeback_default;
	/* Driver-visible cache mode and what it means for writes; read by
	 * queue threads, written by the control thread. */
	atomic_bool writeback;
	atomic_bool writethrough;   /* effective: writes durable at once */
	bool neg_flush;
	bool neg_wce;
	bool neg_discard;
	bool neg_write_zeroes;

	atomic_uint logged;         /* bit per enum blk_bad */

	unsigned nq;
	struct blk_queue *queues;
};

/* blk_req.c */
void blk_handle(struct vdev *dev, unsigned qidx, struct vdev_queue *q);
/* Notifies the driver if something was pushed since the last call. */
void blk_queue_notify(struct blk_queue *bq);
/* After completions from the image layer's eventfd. */
void blk_batch_done(void *arg);
void blk_log_once(struct blk_dev *b, enum blk_bad kind, const char *what);

#endif /* BLK_INTERNAL_H */
