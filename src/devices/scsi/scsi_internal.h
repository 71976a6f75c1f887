/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-scsi internals shared by the device (scsi.c), the virtio request
 * and control queues (scsi_req.c) and the SCSI command set (scsi_cmd.c).
 * The LUNs' images and all I/O are the image layer's (src/storage).
 *
 * A request goes: pop (scsi_handle) into a task slot -> the virtio header
 * is copied out of guest memory and validated once (scsi_req.c) -> the CDB
 * is decoded and checked (scsi_cmd.c); a command that moves data goes to
 * the image layer and joins its queue's task set, anything else finishes
 * at once -> the response is written and the chain pushed on the queue's
 * own thread. Task management (the control queue, maybe another thread)
 * finds tasks through the task sets, marks them aborted, has their queue
 * cancel them, and answers once every one of them has ended (SAM-5 7.1:
 * a TMF completes after the tasks it aborts).
 */
#ifndef SCSI_INTERNAL_H
#define SCSI_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <virtio/device.h>
#include <virtio/queue.h>
#include <virtio/scsi.h>

#include "storage/storage.h"

/* Data segments per request (seg_max) and iovecs per chain we accept. */
#define SCSI_SEG_MAX 126u
#define SCSI_IOV_MAX (SCSI_SEG_MAX + 2u + 8u)
/* Largest transfer we advertise, in logical blocks (VPD 0xb0) and in
 * 512-byte sectors (config max_sectors). */
#define SCSI_MAX_XFER_BYTES (4u << 20)
/* UNMAP and WRITE SAME limits (VPD 0xb0). */
#define SCSI_MAX_UNMAP_DESC 64u
#define SCSI_MAX_UNMAP_BLOCKS 0x400000u
/* WRITE SAME of a non-zero block is written out, a bounce slot at a
 * time: bound the bytes, whatever the block size. */
#define SCSI_MAX_WSAME_BYTES (1u << 30)
#define SCSI_MAX_WSAME_BLOCKS(lbs) (SCSI_MAX_WSAME_BYTES / (lbs))
/* Scratch for generated data-in (REPORT LUNS of 256 LUNs fits), and a
 * task's copy of an UNMAP list or a WRITE SAME block. */
#define SCSI_SCRATCH 4096u
/* Commands in flight per request queue; a deeper ring waits. */
#define SCSI_MAX_INFLIGHT 256u
/* Task management requests in flight on the control queue. */
#define SCSI_TMF_SLOTS 8u
/* Events kept while the driver posts no buffer. */
#define SCSI_EVENTS_MAX 8u
#define SCSI_FIXED_SENSE_LEN 18u
#define SCSI_CONFIG_SIZE 36u
#define SCSI_CFG_SENSE_OFF 20u
#define SCSI_CFG_CDB_OFF 24u

/* Sense keys and the additional sense codes the device reports. */
#define SK_NO_SENSE        0x0
#define SK_NOT_READY       0x2
#define SK_MEDIUM_ERROR    0x3
#define SK_HARDWARE_ERROR  0x4
#define SK_ILLEGAL_REQUEST 0x5
#define SK_UNIT_ATTENTION  0x6
#define SK_DATA_PROTECT    0x7
#define SK_ABORTED_COMMAND 0xb

/* ASC << 8 | ASCQ */
#define ASC_NONE                  0x0000
#define ASC_WRITE_ERROR           0x0c00
#define ASC_READ_ERROR            0x1100
#define ASC_PARAM_LIST_LENGTH     0x1a00
#define ASC_INVALID_OPCODE        0x2000
#define ASC_LBA_OUT_OF_RANGE      0x2100
#define ASC_INVALID_FIELD_CDB     0x2400
#define ASC_LUN_NOT_SUPPORTED     0x2500
#define ASC_INVALID_FIELD_PARAM   0x2600
#define ASC_WRITE_PROTECTED       0x2700
#define ASC_POWER_ON_RESET        0x2900
#define ASC_I_T_NEXUS_LOSS        0x2907
#define ASC_SAVING_NOT_SUPPORTED  0x3900

/* Pending unit attention of a LUN (saved and restored). */
enum scsi_ua {
	SCSI_UA_NONE = 0,
	SCSI_UA_RESET,        /* LOGICAL UNIT RESET: 29/00 */
	SCSI_UA_NEXUS_LOSS,   /* I_T NEXUS RESET: 29/07 */
	SCSI_UA_COUNT
};

struct scsi_lun {
	struct stg_image *img;
	bool ro;
	bool nonrot;                /* VPD 0xb1: a non-rotating medium */
	uint64_t nblocks;
	atomic_int ua;              /* enum scsi_ua; set by the control queue */
	char serial[48];   /* prefix (32 at most) "-" LUN */
	uint8_t naa[8];             /* VPD 0x83 NAA designator */
};

struct scsi_queue;

/* What one SCSI command sees and produces (scsi_cmd.c). */
struct scsi_cmd {
	struct scsi_dev *s;
	struct scsi_queue *q;
	unsigned lun;               /* may be >= nluns: no such LUN */
	const uint8_t *cdb;         /* cdb_len bytes, zero-padded to 32 */
	unsigned cdb_len;
	/* Data buffers after the virtio headers: at most one is non-empty
	 * (no F_INOUT). */
	struct iovec *din;
	int ndin;
	size_t din_len;
	struct iovec *dout;
	int ndout;
	size_t dout_len;
	/* Results. */
	uint8_t status;
	uint8_t response;           /* VDEV_SCSI_S_* */
	size_t xfer;                /* data bytes moved (in or out) */
	uint8_t sense[SCSI_FIXED_SENSE_LEN];
	unsigned sense_len;
};

/* One command, from pop to push. */
struct scsi_task {
	struct vdev_req vr;
	struct scsi_queue *q;
	struct scsi_task *next_free;
	struct scsi_cmd c;
	uint8_t cdb[VDEV_SCSI_CDB_SIZE_DEFAULT];
	uint64_t tag;               /* the driver's id, for ABORT TASK */
	size_t data_len;            /* data-in plus data-out bytes */
	unsigned resp_len;          /* response header + sense_size */
	/* On the image layer: in the queue's task set (q->lock). */
	struct stg_req io;
	struct scsi_task *prev, *next;
	bool in_set;
	/* Set by TMFs under q->lock: the response to end with (ABORTED,
	 * RESET; 0: none), and a bit per TMF slot that waits for the end. */
	uint8_t abort;
	uint8_t tmf_mask;
	bool cancelled;             /* the queue asked the layer to stop */
	/* Steps of UNMAP / WRITE SAME, and their copy of guest data. */
	unsigned step, nsteps;
	uint8_t *ext;               /* SCSI_SCRATCH bytes, made on use */
	/* Test hook (scsi_req_run): no push, the used length lands here. */
	uint32_t *sync_written;
	struct iovec iov[SCSI_IOV_MAX];
	struct iovec dio[SCSI_IOV_MAX]; /* data part, ours to trim */
};

/* A request queue. Its thread owns everything but the task set, which a
 * TMF on the control queue's thread walks under @lock. */
struct scsi_queue {
	struct scsi_dev *s;
	unsigned vq_idx;            /* VDEV_SCSI_REQ_QUEUE0 + i */
	struct vdev_queue *vq;
	struct stg_queue *sq;
	struct scsi_task *slots;
	struct scsi_task *free;
	unsigned nslots;
	unsigned inflight;          /* popped, not pushed */
	bool starved;               /* stopped popping: no free slot */
	bool pushed;                /* pushed since the last notify */
	pthread_mutex_t lock;
	struct scsi_task *tasks;    /* the task set: on the image layer */
	atomic_bool abort_pending;  /* a TMF marked some of them */
	uint8_t scratch[SCSI_SCRATCH];
};

/* A task management request waiting for the tasks it aborts. */
struct scsi_tmf {
	struct vdev_req vr;
	struct iovec iov[SCSI_IOV_MAX];
	bool busy;
	uint8_t response;
	atomic_uint pending;        /* tasks still to end, + 1 while marking */
	struct scsi_tmf *next_done; /* on s->tmf_done */
};
_Static_assert(SCSI_TMF_SLOTS <= 8, "tmf_mask has a bit per slot");

struct scsi_evt {
	uint32_t event;
	uint32_t reason;
	uint16_t lun;
};

/* Malformed-request kinds, each logged once per device. */
enum scsi_bad {
	SCSI_BAD_SHORT_REQ,
	SCSI_BAD_SHORT_CTRL,
	SCSI_BAD_CTRL_TYPE,
	SCSI_BAD_TOO_MANY_IOV,
	SCSI_BAD_INOUT,
	SCSI_BAD_TOO_MANY_SEG,
	SCSI_BAD_COUNT
};

struct scsi_dev {
	struct vdev *dev;
	unsigned nluns;
	struct scsi_lun *luns;
	uint32_t lbs;
	bool solid_state;
	uint16_t queue_size;
	unsigned nq;                /* request queues */
	struct scsi_queue *queues;  /* [nq] */
	struct stg_image **imgs;    /* [nluns], for the queues */
	/* The control queue: TMFs in flight, and those whose tasks all
	 * ended (pushed by the control queue's thread). */
	struct vdev_queue *ctrl_vq;
	struct scsi_tmf tmfs[SCSI_TMF_SLOTS];
	bool ctrl_starved;
	pthread_mutex_t tmf_lock;
	struct scsi_tmf *tmf_done;
	/* Driver-settable sizes, read by every queue thread. */
	atomic_uint sense_size;
	atomic_uint cdb_size;
	atomic_uint logged;         /* bit per enum scsi_bad */

	/* Events waiting for an event-queue buffer. */
	pthread_mutex_t evt_lock;
	struct scsi_evt evts[SCSI_EVENTS_MAX];
	unsigned nevts;
	bool evts_missed;
};


/* scsi_cmd.c */
/*
 * Decodes and runs the task's command. true: done (results in t->c);
 * false: it went to the image layer and scsi_task_end() follows.
 */
bool scsi_cmd_exec(struct scsi_task *t);
/* The image layer finished a step of @t's command with @res: true when
 * the command is over (results in t->c), false when it went on. */
bool scsi_cmd_io_done(struct scsi_task *t, int res);
/* Whether the task's command may take more than one step on the image
 * layer (UNMAP: one per descriptor). */
bool scsi_cmd_has_steps(const struct scsi_task *t);

/* scsi_req.c */
void scsi_handle(struct vdev *dev, unsigned qidx, struct vdev_queue *q);
/* Hands t->io to the image layer as part of the task set. */
void scsi_task_submit(struct scsi_task *t);
/* After completions from the image layer's eventfd. */
void scsi_batch_done(void *arg);
/*
 * Test hook: one request-queue chain, already popped, run to the end on
 * queue @q (waiting for the image layer if need be). Returns the bytes
 * written into the device-writable part (0: too short to answer).
 */
uint32_t scsi_req_run(struct scsi_dev *s, struct scsi_queue *q,
		      struct vdev_req *vr);
/* The same for a control-queue chain (no TMF may have to wait). */
uint32_t scsi_ctrl_run(struct scsi_dev *s, struct vdev_req *vr);
/* Ends the TMFs whose tasks ended (reset: drained first). */
void scsi_tmf_flush(struct scsi_dev *s);
void scsi_log_once(struct scsi_dev *s, enum scsi_bad kind, const char *what);

/* scsi.c: the event queue. */
void scsi_event_handle(struct scsi_dev *s, struct vdev_queue *q);

#endif /* SCSI_INTERNAL_H */
