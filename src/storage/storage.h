/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The image layer that virtio-blk and virtio-scsi share: an image (a raw
 * file or block device, an NBD export, or memory) opened once per device,
 * and one I/O context per device queue.
 *
 * A device validates what the guest asked for, then hands the layer an
 * image range and the guest's iovecs (struct stg_req) and gets the result
 * back through the request's done() callback. Everything in between is
 * here: the engines (synchronous system calls, io_uring, libnbd, memory),
 * O_DIRECT bounce buffers where alignment needs them (bounded per queue:
 * a request that finds none waits), large transfers split over a small
 * pool of worker threads, DISCARD and WRITE_ZEROES on files and block
 * devices, and cancellation.
 *
 * Threads: an image is shared by the queues of its device and is
 * read-only after stg_image_open() (but for a few atomics). A stg_queue
 * belongs to the thread that serves its device queue: stg_submit(),
 * stg_kick(), stg_cancel(), stg_drain() are called there, and every
 * done() runs there, under the core's queue lock. Work that finishes on
 * another thread (io_uring, the worker pool, the NBD connection) comes
 * back through the queue's eventfd, which the layer watches on the queue's
 * thread with vdev_watch_fd(). Without a watcher (an embedder's loop that
 * cannot watch fds) stg_kick() waits for the batch instead.
 */
#ifndef VDEV_STORAGE_H
#define VDEV_STORAGE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <virtio/device.h>
#include <virtio/image.h>

/* How an image is reached. */
enum stg_engine {
	STG_ENGINE_AUTO,   /* io_uring when this build and the kernel
			      allow it, else sync */
	STG_ENGINE_URING,  /* io_uring (falls back to sync if the kernel
			      refuses it) */
	STG_ENGINE_SYNC,   /* system calls on the queue thread */
	STG_ENGINE_NULL,   /* reads return zeroes, writes are dropped */
	STG_ENGINE_RAM,    /* anonymous memory, lost at close */
	STG_ENGINE_NBD,    /* an NBD export through libnbd */
};

struct stg_open_opts {
	const char *path;        /* file or block device */
	int fd;                  /* used when @path is NULL (dup'd) */
	const char *nbd_uri;     /* STG_ENGINE_NBD */
	uint64_t mem_size;       /* NULL/RAM: bytes */
	enum stg_engine engine;
	enum vdev_image_format format;
	bool read_only;
	bool direct;             /* O_DIRECT */
	/* Logical block size the device wants (512 or 4096); 0: 512, or
	 * 4096 when O_DIRECT on the host needs it. */
	uint32_t block_size;
	const char *who;         /* "blk", "scsi LUN 2": for messages */
};

struct stg_pool;
struct stg_nbd;

struct stg_image {
	enum stg_engine engine;  /* resolved: never AUTO */
	int fd;                  /* file engines, else -1 */
	bool ro;
	bool direct;
	bool blockdev;
	bool in_memory;          /* a file on tmpfs/ramfs */
	/* No seek cost: memory, tmpfs/ramfs, or a disk the kernel calls
	 * non-rotational (sysfs). false: rotating, or not known. */
	bool nonrot;
	uint64_t size;           /* bytes, a multiple of block_size */
	uint32_t block_size;     /* logical block */
	uint32_t phys_block;     /* physical block (>= block_size) */
	/* What a buffer must satisfy to be used as is; anything else is
	 * bounced (O_DIRECT, NBD servers with a minimum block size). */
	uint32_t mem_align;
	uint32_t len_align;
	uint32_t max_xfer;       /* largest single transfer; 0: any */
	bool can_flush;
	bool can_fua;
	bool can_discard;        /* DISCARD does something */
	bool can_zero;           /* WRITE_ZEROES without writing data */
	bool zero_unmaps;        /* WRITE_ZEROES with UNMAP can deallocate */
	uint64_t id;             /* stable identity (device/inode, URI) */
	uint8_t *ram;            /* STG_ENGINE_RAM */
	/* Buffered transfers without RWF_NOWAIT support, learnt on the
	 * first one (any queue thread). */
	atomic_bool rd_no_nowait;
	atomic_bool wr_no_nowait;
	struct stg_pool *pool;
	struct stg_nbd *nbd;
	char *name;              /* path or URI, for messages */
	char who[32];            /* "blk", "scsi LUN 2" */
};

/* Test hooks: io_uring setup fails as on a kernel without it; every
 * transfer goes through the ring, none inline. */
extern bool stg_uring_test_fail_init;
extern bool stg_uring_test_ring_only;

/*
 * Opens an image. NULL + errno: EMEDIUMTYPE when the file holds a format
 * other than raw (qcow2, vmdk, ...) and @format is AUTO (the message, with
 * the way out, is logged); EROFS for a read-only export opened
 * read-write; ENOTSUP for an engine this build lacks; EINVAL for an
 * image that is not a regular file, block device or usable export, or
 * smaller than one block; errno of open/stat/connect.
 */
struct stg_image *stg_image_open(const struct stg_open_opts *o);
void stg_image_close(struct stg_image *img);
const char *stg_engine_name(enum stg_engine e);

/* ---- requests --------------------------------------------------------- */

enum stg_op {
	STG_READ,
	STG_WRITE,
	STG_FLUSH,
	STG_DISCARD,        /* a hint: may do nothing */
	STG_WRITE_ZEROES,
	STG_WRITE_SAME,     /* iov[0] holds one block, repeated over len */
};

#define STG_FUA   0x1u  /* writes: durable before done() */
#define STG_UNMAP 0x2u  /* WRITE_ZEROES / WRITE_SAME of zeroes: may
			   deallocate */

#define STG_MAX_PARTS 8u

struct stg_queue;

struct stg_req {
	/* Filled in by the device. [off, off + len) lies inside @img and is
	 * a multiple of its block size; iov holds len bytes (READ, WRITE)
	 * and is the device's own copy: the layer may advance it. */
	struct stg_image *img;
	uint8_t op;
	uint8_t flags;
	uint64_t off;
	uint64_t len;
	struct iovec *iov;
	int iovcnt;
	/* 0 or a negative errno; -ECANCELED after stg_cancel(). Called
	 * once, on the queue's thread, possibly inside stg_submit(). */
	void (*done)(struct stg_req *r, int res);

	/* ---- the layer's ---- */
	struct stg_queue *q;
	struct stg_req *next;    /* on one of the queue's lists */
	uint8_t state;
	bool fua_flush;          /* NBD without FUA: a flush follows */
	atomic_bool cancel;
	/* The transfer in progress: what the engine moves next. */
	struct iovec *cur;
	int ncur;
	uint64_t coff;
	uint64_t cleft;
	/* Bounce (and WRITE_SAME): chunks through slot @bslot. */
	int bslot;
	uint64_t bdone;
	struct iovec biov;
	/* Parts on other threads (pool jobs, NBD commands). */
	atomic_uint parts;
	atomic_int perr;
	struct stg_part {
		struct stg_part *next;
		struct stg_req *r;
		uint64_t off;
		uint64_t len;
		unsigned idx;    /* first iovec of r->cur */
		size_t skip;     /* bytes into it */
	} part[STG_MAX_PARTS];
};

/*
 * A queue's I/O context, delivering on the thread that serves queue @qidx
 * of @dev, for requests on any of the device's images. @depth: requests
 * in flight at most. @batch_done, when set, runs after completions
 * delivered from the queue's eventfd (the device pushes and notifies
 * there). NULL + errno.
 *
 * @images: the device's images. The queue gets an io_uring if one of them
 * wants it; when the kernel refuses one (and for any image, with
 * @images left out of it) they fall back to system calls.
 */
struct stg_queue *stg_queue_new(struct vdev *dev, unsigned qidx,
				unsigned depth, struct stg_image *const *images,
				unsigned nimages, void (*batch_done)(void *arg),
				void *arg);
/* Completes what is in flight first (stg_drain). */
void stg_queue_free(struct stg_queue *q);
/* The device, when it is made after its queues (before DRIVER_OK). */
void stg_queue_set_dev(struct stg_queue *q, struct vdev *dev);

/* DRIVER_OK: starts watching the queue's eventfd (retried by stg_kick
 * while no watcher exists). */
void stg_queue_start(struct stg_queue *q);

/* Starts @r; done() follows, perhaps before this returns. */
void stg_submit(struct stg_queue *q, struct stg_req *r);
/* End of a handler round: hands the batch to the kernel or the workers;
 * completes what already finished. */
void stg_kick(struct stg_queue *q);
/*
 * Asks for @r to end early: one still waiting (for a bounce buffer, an
 * SQE) ends at once with -ECANCELED; one in the kernel or on a worker is
 * cancelled if it can be and otherwise waited for; its done() comes as
 * usual, with -ECANCELED unless it had already finished.
 */
void stg_cancel(struct stg_queue *q, struct stg_req *r);
/* Waits until nothing is in flight (reset, free). Every done() ran. */
void stg_drain(struct stg_queue *q);
unsigned stg_inflight(const struct stg_queue *q);

#endif /* VDEV_STORAGE_H */
