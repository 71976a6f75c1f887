/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vhost-user wire format (QEMU docs/interop/vhost-user.rst). "All numbers
 * are in the machine native byte order": front-end and back-end share a
 * host, so the structures below are plain host-order integers. (What the
 * messages point at is another matter: rings and config space are virtio's
 * and little-endian.)
 */
#ifndef VHU_PROTO_H
#define VHU_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* Front-end requests. */
enum vhu_request {
	VHU_GET_FEATURES = 1,
	VHU_SET_FEATURES = 2,
	VHU_SET_OWNER = 3,
	VHU_RESET_OWNER = 4,
	VHU_SET_MEM_TABLE = 5,
	VHU_SET_LOG_BASE = 6,
	VHU_SET_LOG_FD = 7,
	VHU_SET_VRING_NUM = 8,
	VHU_SET_VRING_ADDR = 9,
	VHU_SET_VRING_BASE = 10,
	VHU_GET_VRING_BASE = 11,
	VHU_SET_VRING_KICK = 12,
	VHU_SET_VRING_CALL = 13,
	VHU_SET_VRING_ERR = 14,
	VHU_GET_PROTOCOL_FEATURES = 15,
	VHU_SET_PROTOCOL_FEATURES = 16,
	VHU_GET_QUEUE_NUM = 17,
	VHU_SET_VRING_ENABLE = 18,
	VHU_SEND_RARP = 19,
	VHU_NET_SET_MTU = 20,
	VHU_SET_BACKEND_REQ_FD = 21,
	VHU_IOTLB_MSG = 22,
	VHU_SET_VRING_ENDIAN = 23,
	VHU_GET_CONFIG = 24,
	VHU_SET_CONFIG = 25,
	VHU_CREATE_CRYPTO_SESSION = 26,
	VHU_CLOSE_CRYPTO_SESSION = 27,
	VHU_POSTCOPY_ADVISE = 28,
	VHU_POSTCOPY_LISTEN = 29,
	VHU_POSTCOPY_END = 30,
	VHU_GET_INFLIGHT_FD = 31,
	VHU_SET_INFLIGHT_FD = 32,
	VHU_GPU_SET_SOCKET = 33,
	VHU_RESET_DEVICE = 34,
	VHU_VRING_KICK = 35,
	VHU_GET_MAX_MEM_SLOTS = 36,
	VHU_ADD_MEM_REG = 37,
	VHU_REM_MEM_REG = 38,
	VHU_SET_STATUS = 39,
	VHU_GET_STATUS = 40,
	VHU_GET_SHARED_OBJECT = 41,
	VHU_SET_DEVICE_STATE_FD = 42,
	VHU_CHECK_DEVICE_STATE = 43,
	VHU_REQUEST_MAX
};

/* Back-end requests (on the SET_BACKEND_REQ_FD channel). */
enum vhu_backend_request {
	VHU_BACKEND_IOTLB_MSG = 1,
	VHU_BACKEND_CONFIG_CHANGE_MSG = 2,
	VHU_BACKEND_VRING_HOST_NOTIFIER_MSG = 3,
	VHU_BACKEND_VRING_CALL = 4,
	VHU_BACKEND_VRING_ERR = 5,
};

#define VHU_VERSION         0x1u
#define VHU_VERSION_MASK    0x3u
#define VHU_FLAG_REPLY      0x4u
#define VHU_FLAG_NEED_REPLY 0x8u
#define VHU_FLAGS_KNOWN     (VHU_VERSION_MASK | VHU_FLAG_REPLY | \
			     VHU_FLAG_NEED_REPLY)

#define VHU_F_LOG_ALL           26 /* VHOST_F_LOG_ALL */
#define VHU_F_PROTOCOL_FEATURES 30

/* u64 payload of SET_VRING_KICK/CALL/ERR. */
#define VHU_VRING_IDX_MASK 0xffu
#define VHU_VRING_NOFD     0x100u

/* SET_VRING_ADDR flags. */
#define VHU_VRING_F_LOG 1u

#define VHU_MAX_FDS         8   /* VHOST_MEMORY_BASELINE_NREGIONS */
#define VHU_MAX_CONFIG_SIZE 256 /* VHOST_USER_MAX_CONFIG_SIZE */

struct vhu_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
};

struct vhu_vring_state {
	uint32_t index;
	uint32_t num;
};

struct vhu_vring_addr {
	uint32_t index;
	uint32_t flags;
	uint64_t desc;
	uint64_t used;
	uint64_t avail;
	uint64_t log;
};

struct vhu_mem_region {
	uint64_t guest_addr;
	uint64_t size;
	uint64_t user_addr;
	uint64_t mmap_offset;
};

struct vhu_mem_table {
	uint32_t nregions;
	uint32_t padding;
	struct vhu_mem_region regions[VHU_MAX_FDS];
};

struct vhu_mem_single {
	uint64_t padding;
	struct vhu_mem_region region;
};

struct vhu_log {
	uint64_t mmap_size;
	uint64_t mmap_offset;
};

struct vhu_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t data[VHU_MAX_CONFIG_SIZE];
};
#define VHU_CONFIG_HDR_SIZE 12u

struct vhu_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
};
/* QEMU sends the padded struct (24 bytes); the fields end at 20. */
#define VHU_INFLIGHT_MIN_SIZE 20u

struct vhu_device_state {
	uint32_t direction; /* 0 save, 1 load */
	uint32_t phase;     /* 0 stopped */
};
#define VHU_STATE_SAVE 0u
#define VHU_STATE_LOAD 1u

/* Largest payload of any request: GET/SET_CONFIG with the spec's 256
 * config bytes (268) or SET_MEM_TABLE with 8 regions (264). */
#define VHU_MAX(a, b) ((a) > (b) ? (a) : (b))
#define VHU_MAX_PAYLOAD                                                      \
	VHU_MAX(sizeof(struct vhu_mem_table), sizeof(struct vhu_config))

/* A whole message, as received or to be sent. */
struct vhu_msg {
	uint32_t request;
	uint32_t flags;
	uint32_t size;
	union {
		uint8_t bytes[VHU_MAX_PAYLOAD];
		uint64_t u64;
		struct vhu_vring_state state;
		struct vhu_vring_addr addr;
		struct vhu_mem_table mem;
		struct vhu_mem_single mem_reg;
		struct vhu_log log;
		struct vhu_config config;
		struct vhu_inflight inflight;
		struct vhu_device_state dstate;
	} p;
	int fds[VHU_MAX_FDS];
	unsigned nfds;
};

/* The inflight region's own layout belongs to the queue layer that fills
 * it: vdev_queue_inflight_size() / vdev_queue_inflight_init(). */

#endif /* VHU_PROTO_H */
