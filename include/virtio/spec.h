/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Constants and wire layouts from the virtio 1.2/1.3 specification that are
 * shared by the queue, the core, the transports and the device models.
 * Feature constants are bit numbers; VDEV_BIT() turns one into a mask.
 */
#ifndef VIRTIO_SPEC_H
#define VIRTIO_SPEC_H

#include <stdint.h>
#include <virtio/le.h>

#define VDEV_BIT(nr) (UINT64_C(1) << (nr))

/* Device status (2.1). */
#define VDEV_STATUS_ACKNOWLEDGE        1u
#define VDEV_STATUS_DRIVER             2u
#define VDEV_STATUS_DRIVER_OK          4u
#define VDEV_STATUS_FEATURES_OK        8u
#define VDEV_STATUS_DEVICE_NEEDS_RESET 64u
#define VDEV_STATUS_FAILED             128u

/* Reserved (transport and ring) feature bits (6). */
#define VDEV_F_NOTIFY_ON_EMPTY    24
#define VDEV_F_ANY_LAYOUT         27
#define VDEV_F_INDIRECT_DESC      28
#define VDEV_F_EVENT_IDX          29
#define VDEV_F_VERSION_1          32
#define VDEV_F_ACCESS_PLATFORM    33
#define VDEV_F_RING_PACKED        34
#define VDEV_F_IN_ORDER           35
#define VDEV_F_ORDER_PLATFORM     36
#define VDEV_F_SR_IOV             37
#define VDEV_F_NOTIFICATION_DATA  38
#define VDEV_F_NOTIF_CONFIG_DATA  39
#define VDEV_F_RING_RESET         40

/* Feature bits the queue layer implements; a device offers these unless it
 * masks them. */
#define VDEV_RING_FEATURES                                                   \
	(VDEV_BIT(VDEV_F_INDIRECT_DESC) | VDEV_BIT(VDEV_F_EVENT_IDX) |       \
	 VDEV_BIT(VDEV_F_RING_PACKED) | VDEV_BIT(VDEV_F_IN_ORDER) |          \
	 VDEV_BIT(VDEV_F_NOTIFICATION_DATA) | VDEV_BIT(VDEV_F_RING_RESET))

/* Device ids (5). */
#define VDEV_ID_NET      1
#define VDEV_ID_BLOCK    2
#define VDEV_ID_CONSOLE  3
#define VDEV_ID_RNG      4
#define VDEV_ID_SCSI     8
#define VDEV_ID_GPU      16
#define VDEV_ID_INPUT    18
#define VDEV_ID_VSOCK    19
#define VDEV_ID_FS       26
#define VDEV_ID_SOUND    25
#define VDEV_ID_SCMI     32
#define VDEV_ID_I2C      34
#define VDEV_ID_GPIO     41

/* Largest queue size either ring layout allows (2.7, 2.8). */
#define VDEV_QUEUE_SIZE_MAX 32768u

/* Split virtqueue (2.7). */
#define VDEV_DESC_F_NEXT      1u
#define VDEV_DESC_F_WRITE     2u
#define VDEV_DESC_F_INDIRECT  4u

#define VDEV_AVAIL_F_NO_INTERRUPT 1u
#define VDEV_USED_F_NO_NOTIFY     1u

struct vdev_vring_desc {
	vdev_le64 addr;
	vdev_le32 len;
	vdev_le16 flags;
	vdev_le16 next;
};

struct vdev_vring_avail {
	vdev_le16 flags;
	vdev_le16 idx;
	vdev_le16 ring[];
	/* vdev_le16 used_event follows ring[size] with EVENT_IDX */
};

struct vdev_vring_used_elem {
	vdev_le32 id;
	vdev_le32 len;
};

struct vdev_vring_used {
	vdev_le16 flags;
	vdev_le16 idx;
	struct vdev_vring_used_elem ring[];
	/* vdev_le16 avail_event follows ring[size] with EVENT_IDX */
};

/* Byte sizes of the three split-ring parts for a queue of @size entries. */
static inline uint64_t vdev_split_desc_size(uint32_t size)
{
	return 16ull * size;
}

static inline uint64_t vdev_split_avail_size(uint32_t size)
{
	return 6ull + 2ull * size;
}

static inline uint64_t vdev_split_used_size(uint32_t size)
{
	return 6ull + 8ull * size;
}

/* Packed virtqueue (2.8). */
#define VDEV_PACKED_DESC_F_AVAIL 7
#define VDEV_PACKED_DESC_F_USED  15

#define VDEV_PACKED_EVENT_FLAG_ENABLE  0u
#define VDEV_PACKED_EVENT_FLAG_DISABLE 1u
#define VDEV_PACKED_EVENT_FLAG_DESC    2u

struct vdev_packed_desc {
	vdev_le64 addr;
	vdev_le32 len;
	vdev_le16 id;
	vdev_le16 flags;
};

struct vdev_packed_event {
	vdev_le16 off_wrap;
	vdev_le16 flags;
};

/* The EVENT_IDX test of 2.7.7.2: must the other side be notified after the
 * index moved from @old_idx to @new_idx, given the event index it published? */
static inline int vdev_need_event(uint16_t event_idx, uint16_t new_idx,
				  uint16_t old_idx)
{
	return (uint16_t)(new_idx - event_idx - 1) <
	       (uint16_t)(new_idx - old_idx);
}

#endif /* VIRTIO_SPEC_H */
