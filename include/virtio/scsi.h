/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-scsi (virtio 1.2 section 5.6): one SCSI target whose logical
 * units are raw image files or block devices on the host, or NBD exports
 * (LUN i = image i; see image.h).
 *
 * Queues: 0 control (task management, asynchronous notification), 1 event,
 * 2.. request queues. Each LUN is a direct-access block device (SBC-3) with
 * the commands a Linux or Windows initiator uses: INQUIRY (standard and VPD
 * pages 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2), TEST UNIT READY, REQUEST
 * SENSE, READ CAPACITY (10/16), READ/WRITE (6/10/12/16), SYNCHRONIZE CACHE
 * (10/16), REPORT LUNS, MODE SENSE (6/10), UNMAP and WRITE SAME (16). Any
 * other command ends in CHECK CONDITION with fixed-format sense data.
 *
 * Data moves straight between the image and the guest buffers (io_uring,
 * or system calls, or NBD), many commands at a time per queue, completed
 * on the thread that serves the request queue. Task management (ABORT
 * TASK, ABORT/CLEAR TASK SET, LOGICAL UNIT RESET, I_T NEXUS RESET)
 * cancels the commands it concerns, or waits for those the kernel or the
 * NBD server still has, and answers only after every one of them ended
 * (with VIRTIO_SCSI_S_ABORTED or _RESET). A device reset waits for the
 * I/O in flight; a state save refuses (-EBUSY) while there is some.
 *
 * Threads: as every device (device.h). vdev_scsi_post_event() is safe from
 * any thread.
 */
#ifndef VIRTIO_SCSI_H
#define VIRTIO_SCSI_H

#include <stdbool.h>
#include <stdint.h>
#include <virtio/api.h>
#include <virtio/device.h>
#include <virtio/image.h>
#include <virtio/le.h>

VDEV_BEGIN_DECLS

/* Feature bits (5.6.3). */
#define VDEV_SCSI_F_INOUT    0
#define VDEV_SCSI_F_HOTPLUG  1
#define VDEV_SCSI_F_CHANGE   2
#define VDEV_SCSI_F_T10_PI   3

/* Queues. */
#define VDEV_SCSI_CTRL_QUEUE   0u
#define VDEV_SCSI_EVENT_QUEUE  1u
#define VDEV_SCSI_REQ_QUEUE0   2u

/* Sizes the device starts with (config space; the driver may change
 * sense_size and cdb_size). */
#define VDEV_SCSI_CDB_SIZE_DEFAULT   32u
#define VDEV_SCSI_SENSE_SIZE_DEFAULT 96u
#define VDEV_SCSI_CDB_SIZE_MAX       255u
#define VDEV_SCSI_SENSE_SIZE_MAX     255u
#define VDEV_SCSI_MAX_LUNS           256u

/* Response codes (5.6.6.1). */
#define VDEV_SCSI_S_OK                 0
#define VDEV_SCSI_S_FUNCTION_COMPLETE  0
#define VDEV_SCSI_S_OVERRUN            1
#define VDEV_SCSI_S_ABORTED            2
#define VDEV_SCSI_S_BAD_TARGET         3
#define VDEV_SCSI_S_RESET              4
#define VDEV_SCSI_S_BUSY               5
#define VDEV_SCSI_S_TRANSPORT_FAILURE  6
#define VDEV_SCSI_S_TARGET_FAILURE     7
#define VDEV_SCSI_S_NEXUS_FAILURE      8
#define VDEV_SCSI_S_FAILURE            9
#define VDEV_SCSI_S_FUNCTION_SUCCEEDED 10
#define VDEV_SCSI_S_FUNCTION_REJECTED  11
#define VDEV_SCSI_S_INCORRECT_LUN      12

/* Task attributes. */
#define VDEV_SCSI_S_SIMPLE  0
#define VDEV_SCSI_S_ORDERED 1
#define VDEV_SCSI_S_HEAD    2
#define VDEV_SCSI_S_ACA     3

/* Control queue request types and task management functions (5.6.6.2). */
#define VDEV_SCSI_T_TMF          0
#define VDEV_SCSI_T_AN_QUERY     1
#define VDEV_SCSI_T_AN_SUBSCRIBE 2

#define VDEV_SCSI_T_TMF_ABORT_TASK         0
#define VDEV_SCSI_T_TMF_ABORT_TASK_SET     1
#define VDEV_SCSI_T_TMF_CLEAR_ACA          2
#define VDEV_SCSI_T_TMF_CLEAR_TASK_SET     3
#define VDEV_SCSI_T_TMF_I_T_NEXUS_RESET    4
#define VDEV_SCSI_T_TMF_LOGICAL_UNIT_RESET 5
#define VDEV_SCSI_T_TMF_QUERY_TASK         6
#define VDEV_SCSI_T_TMF_QUERY_TASK_SET     7

/* Events (5.6.6.3). */
#define VDEV_SCSI_T_NO_EVENT        0u
#define VDEV_SCSI_T_TRANSPORT_RESET 1u
#define VDEV_SCSI_T_ASYNC_NOTIFY    2u
#define VDEV_SCSI_T_PARAM_CHANGE    3u
#define VDEV_SCSI_T_EVENTS_MISSED   0x80000000u

#define VDEV_SCSI_EVT_RESET_HARD    0u
#define VDEV_SCSI_EVT_RESET_RESCAN  1u
#define VDEV_SCSI_EVT_RESET_REMOVED 2u

/* SCSI status bytes (SAM-5) used by the device. */
#define VDEV_SCSI_STATUS_GOOD            0x00
#define VDEV_SCSI_STATUS_CHECK_CONDITION 0x02

/*
 * Request header with the default 32-byte CDB. With another cdb_size the
 * CDB is that long and the data-out buffer follows it.
 */
struct vdev_scsi_cmd_req {
	uint8_t lun[8];   /* 1, target, LUN (flat or peripheral), 0... */
	vdev_le64 id;
	uint8_t task_attr;
	uint8_t prio;
	uint8_t crn;
	uint8_t cdb[VDEV_SCSI_CDB_SIZE_DEFAULT];
} __attribute__((packed));

#define VDEV_SCSI_CMD_REQ_HDR 19u /* bytes before the CDB */

/* Response with the default 96-byte sense buffer. */
struct vdev_scsi_cmd_resp {
	vdev_le32 sense_len;
	vdev_le32 resid;
	vdev_le16 status_qualifier;
	uint8_t status;
	uint8_t response;
	uint8_t sense[VDEV_SCSI_SENSE_SIZE_DEFAULT];
} __attribute__((packed));

#define VDEV_SCSI_CMD_RESP_HDR 12u /* bytes before the sense data */

struct vdev_scsi_ctrl_tmf_req {
	vdev_le32 type;
	vdev_le32 subtype;
	uint8_t lun[8];
	vdev_le64 id;
} __attribute__((packed));

struct vdev_scsi_ctrl_tmf_resp {
	uint8_t response;
} __attribute__((packed));

struct vdev_scsi_ctrl_an_req {
	vdev_le32 type;
	uint8_t lun[8];
	vdev_le32 event_requested;
} __attribute__((packed));

struct vdev_scsi_ctrl_an_resp {
	vdev_le32 event_actual;
	uint8_t response;
} __attribute__((packed));

struct vdev_scsi_event {
	vdev_le32 event;
	uint8_t lun[8];
	vdev_le32 reason;
} __attribute__((packed));

/* Config space (5.6.4), 36 bytes. */
struct vdev_scsi_config_space {
	vdev_le32 num_queues;       /* request queues */
	vdev_le32 seg_max;
	vdev_le32 max_sectors;
	vdev_le32 cmd_per_lun;
	vdev_le32 event_info_size;
	vdev_le32 sense_size;       /* driver-writable */
	vdev_le32 cdb_size;         /* driver-writable */
	vdev_le16 max_channel;
	vdev_le16 max_target;
	vdev_le32 max_lun;
} __attribute__((packed));

struct vdev_scsi_config {
	/* Images, LUN i = paths[i]; 1..VDEV_SCSI_MAX_LUNS of them. */
	const char *const *paths;
	unsigned num_luns;
	bool read_only;      /* every LUN write-protected */
	/* VPD 0xb1 reports a non-rotating medium for every LUN; without it,
	 * for the LUNs whose image is in memory (tmpfs) or on a disk the
	 * host kernel calls non-rotational. */
	bool solid_state;
	bool hotplug;        /* offer VIRTIO_SCSI_F_HOTPLUG */
	/* Serial number prefix of VPD page 0x80 (the LUN number is
	 * appended); NULL = "vdev-scsi". At most 32 bytes are used. */
	const char *serial;
	uint32_t logical_block_size; /* 512 or 4096; 0 = 512 */
	uint16_t num_queues;         /* request queues 1..64; 0 = 1 */
	uint16_t queue_size;         /* largest queue size; 0 = 256 */
	/* AUTO, URING or SYNC for the files (NBD LUNs use their export);
	 * NULL and RAM are refused. */
	enum vdev_image_backend backend;
	/* AUTO: a file holding another format (qcow2, ...) is refused with
	 * EMEDIUMTYPE; RAW: served as raw whatever it holds. */
	enum vdev_image_format format;
	/* NULL, or @num_luns entries: LUN i is the NBD export nbd_uris[i]
	 * when that is not NULL, else the file paths[i] (@paths may then
	 * be NULL if every LUN is an export). */
	const char *const *nbd_uris;
};

/*
 * A virtio-scsi device. EINVAL: no image, too many, bad block size or
 * queue count, an image smaller than one block or not a regular file or
 * block device; EMEDIUMTYPE: an image holds another format (logged with
 * its name); ENOTSUP: a backend or NBD this build lacks; EROFS: a
 * read-only NBD export without @read_only; errno of open/fstat/connect.
 */
VDEV_API struct vdev *vdev_scsi_new(const struct vdev_scsi_config *cfg,
				   size_t size);
#define vdev_scsi_new(...) \
	vdev_scsi_new(__VA_ARGS__, sizeof(struct vdev_scsi_config))

/* The backend the LUNs' files really use (AUTO and URING resolve to URING
 * or SYNC; NBD when LUN 0 is an export). */
VDEV_API enum vdev_image_backend vdev_scsi_backend(const struct vdev *dev);

/* Number of LUNs of @dev. */
VDEV_API unsigned vdev_scsi_num_luns(const struct vdev *dev);

/*
 * Reports an event (VDEV_SCSI_T_TRANSPORT_RESET or _PARAM_CHANGE, with its
 * @reason) about LUN @lun to the driver through the event queue. The event
 * waits until the driver posts an event buffer; when more than a few wait,
 * the oldest are kept and the next one delivered carries
 * VDEV_SCSI_T_EVENTS_MISSED. -ENOTSUP: the driver did not negotiate the
 * feature the event needs (HOTPLUG for transport resets, CHANGE for
 * parameter changes); -EINVAL: unknown event. Any thread.
 */
VDEV_API int vdev_scsi_post_event(struct vdev *dev, uint32_t event,
				  uint32_t reason, unsigned lun);

VDEV_END_DECLS

#endif /* VIRTIO_SCSI_H */
