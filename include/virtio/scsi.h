/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-scsi (virtio 1.2 section 5.6): one SCSI target whose logical
 * units are image files or block devices on the host (LUN i = image i).
 *
 * Queues: 0 control (task management, asynchronous notification), 1 event,
 * 2.. request queues. Each LUN is a direct-access block device (SBC-3) with
 * the commands a Linux or Windows initiator uses: INQUIRY (standard and VPD
 * pages 0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2), TEST UNIT READY, REQUEST
 * SENSE, READ CAPACITY (10/16), READ/WRITE (6/10/12/16), SYNCHRONIZE CACHE
 * (10/16), REPORT LUNS, MODE SENSE (6/10), UNMAP and WRITE SAME (16). Any
 * other command ends in CHECK CONDITION with fixed-format sense data.
 *
 * Data moves straight between the image and the guest buffers with
 * preadv/pwritev on the thread that serves the request queue; a request is
 * finished when the handler round that popped it returns, so a device reset
 * or a state save never finds I/O in flight.
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
	bool solid_state;    /* VPD 0xb1 reports a non-rotating medium */
	bool hotplug;        /* offer VIRTIO_SCSI_F_HOTPLUG */
	/* Serial number prefix of VPD page 0x80 (the LUN number is
	 * appended); NULL = "vdev-scsi". At most 32 bytes are used. */
	const char *serial;
	uint32_t logical_block_size; /* 512 or 4096; 0 = 512 */
	uint16_t num_queues;         /* request queues 1..64; 0 = 1 */
	uint16_t queue_size;         /* largest queue size; 0 = 256 */
};

/*
 * A virtio-scsi device. EINVAL: no image, too many, bad block size or
 * queue count, an image smaller than one block or not a regular file or
 * block device; errno of open/fstat.
 */
VDEV_API struct vdev *vdev_scsi_new(const struct vdev_scsi_config *cfg);

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
