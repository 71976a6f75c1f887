/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-scsi internals shared by the device (scsi.c), the virtio request
 * layer (scsi_req.c), the SCSI command set (scsi_cmd.c) and the image
 * files (scsi_lun.c).
 *
 * A request goes: pop (scsi_handle) -> the virtio header is copied out of
 * guest memory and validated once (scsi_req.c) -> the CDB is decoded and
 * executed against a LUN (scsi_cmd.c), data moving straight between the
 * image and the guest's iovecs -> the response is written and the chain
 * pushed, all inside one handler round on the queue's thread.
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

/* Data segments per request (seg_max) and iovecs per chain we accept. */
#define SCSI_SEG_MAX 126u
#define SCSI_IOV_MAX (SCSI_SEG_MAX + 2u + 8u)
/* Largest transfer we advertise, in logical blocks (VPD 0xb0) and in
 * 512-byte sectors (config max_sectors). */
#define SCSI_MAX_XFER_BYTES (4u << 20)
/* UNMAP and WRITE SAME limits (VPD 0xb0). */
#define SCSI_MAX_UNMAP_DESC 64u
#define SCSI_MAX_UNMAP_BLOCKS 0x400000u
/* WRITE SAME of a non-zero block is written out block by block on the
 * queue's thread: bound the bytes, whatever the block size. */
#define SCSI_MAX_WSAME_BYTES (1u << 30)
#define SCSI_MAX_WSAME_BLOCKS(lbs) (SCSI_MAX_WSAME_BYTES / (lbs))
/* Scratch for generated data-in (REPORT LUNS of 256 LUNs fits). */
#define SCSI_SCRATCH 4096u
/* Buffer of repeated WRITE SAME blocks. */
#define SCSI_WSAME_BUF (64u << 10)
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
	int fd;
	bool ro;
	bool blockdev;
	uint64_t nblocks;
	atomic_int ua;              /* enum scsi_ua; set by the control queue */
	char serial[48];   /* prefix (32 at most) "-" LUN */
	uint8_t naa[8];             /* VPD 0x83 NAA designator */
};

/* Per request queue: one request at a time, finished in its round. */
struct scsi_queue {
	struct vdev_req vr;
	struct iovec iov[SCSI_IOV_MAX];
	struct iovec dio[SCSI_IOV_MAX]; /* data part, ours to trim */
	uint8_t scratch[SCSI_SCRATCH];
	uint8_t *wsame;                 /* SCSI_WSAME_BUF bytes */
};

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
	struct scsi_queue ctrl;     /* control queue scratch */
	/* Driver-settable sizes, read by every queue thread. */
	atomic_uint sense_size;
	atomic_uint cdb_size;
	atomic_uint logged;         /* bit per enum scsi_bad */
	/*
	 * Held shared by a request queue while it runs and completes one
	 * command, exclusively by a task management function: when a TMF
	 * answers, every command it concerns has been completed (5.6.6.2),
	 * even with each queue on its own thread. Writers are preferred so
	 * a busy queue cannot starve a TMF.
	 */
	pthread_rwlock_t tmf_lock;

	/* Events waiting for an event-queue buffer. */
	pthread_mutex_t evt_lock;
	struct scsi_evt evts[SCSI_EVENTS_MAX];
	unsigned nevts;
	bool evts_missed;
};

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

/* scsi_cmd.c */
void scsi_cmd_exec(struct scsi_cmd *c);

/* scsi_req.c */
void scsi_handle(struct vdev *dev, unsigned qidx, struct vdev_queue *q);
/*
 * One request-queue chain, already popped: validates the headers, runs the
 * command, writes the response. Returns the bytes written into the
 * device-writable part (0: the chain was too short to answer).
 */
uint32_t scsi_req_process(struct scsi_dev *s, struct scsi_queue *q,
			  struct vdev_req *vr);
/* The same for a control-queue chain. */
uint32_t scsi_ctrl_process(struct scsi_dev *s, struct vdev_req *vr);
void scsi_log_once(struct scsi_dev *s, enum scsi_bad kind, const char *what);

/* scsi.c: the event queue. */
void scsi_event_handle(struct scsi_dev *s, struct vdev_queue *q);

/* scsi_lun.c: image I/O. 0 or -errno. */
int scsi_lun_open(struct scsi_lun *l, const char *path, bool ro,
		  uint32_t lbs);
void scsi_lun_close(struct scsi_lun *l);
int scsi_lun_rw(struct scsi_lun *l, bool write, uint64_t off,
		struct iovec *iov, int cnt, size_t len, bool fua);
int scsi_lun_flush(struct scsi_lun *l);
int scsi_lun_discard(struct scsi_lun *l, uint64_t off, uint64_t len);
int scsi_lun_write_zeroes(struct scsi_lun *l, uint64_t off, uint64_t len);
int scsi_lun_write_repeat(struct scsi_lun *l, uint64_t off, uint64_t len,
			  const uint8_t *buf, size_t buflen);

#endif /* SCSI_INTERNAL_H */
