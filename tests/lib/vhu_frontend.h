/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A vhost-user test frontend: connects to a back-end socket, sends
 * messages (well-formed or not) with fds, reads replies. Also runs a
 * libvdev adapter on a thread for in-process tests and counts open fds.
 */
#ifndef VHU_FRONTEND_H
#define VHU_FRONTEND_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <virtio/device.h>
#include <virtio/testing.h>
#include <virtio/vhost-user.h>

/* Request numbers and flags the tests use (vhost-user.rst). */
enum {
	VHU_FE_GET_FEATURES = 1,
	VHU_FE_SET_FEATURES = 2,
	VHU_FE_SET_OWNER = 3,
	VHU_FE_RESET_OWNER = 4,
	VHU_FE_SET_MEM_TABLE = 5,
	VHU_FE_SET_LOG_BASE = 6,
	VHU_FE_SET_VRING_NUM = 8,
	VHU_FE_SET_VRING_ADDR = 9,
	VHU_FE_SET_VRING_BASE = 10,
	VHU_FE_GET_VRING_BASE = 11,
	VHU_FE_SET_VRING_KICK = 12,
	VHU_FE_SET_VRING_CALL = 13,
	VHU_FE_SET_VRING_ERR = 14,
	VHU_FE_GET_PROTOCOL_FEATURES = 15,
	VHU_FE_SET_PROTOCOL_FEATURES = 16,
	VHU_FE_GET_QUEUE_NUM = 17,
	VHU_FE_SET_VRING_ENABLE = 18,
	VHU_FE_SET_BACKEND_REQ_FD = 21,
	VHU_FE_GET_CONFIG = 24,
	VHU_FE_SET_CONFIG = 25,
	VHU_FE_GET_INFLIGHT_FD = 31,
	VHU_FE_SET_INFLIGHT_FD = 32,
	VHU_FE_RESET_DEVICE = 34,
	VHU_FE_VRING_KICK = 35,
	VHU_FE_GET_MAX_MEM_SLOTS = 36,
	VHU_FE_ADD_MEM_REG = 37,
	VHU_FE_REM_MEM_REG = 38,
	VHU_FE_SET_STATUS = 39,
	VHU_FE_GET_STATUS = 40,
	VHU_FE_SET_DEVICE_STATE_FD = 42,
	VHU_FE_CHECK_DEVICE_STATE = 43,
};

#define VHU_FE_VERSION 0x1u
#define VHU_FE_REPLY 0x4u
#define VHU_FE_NEED_REPLY 0x8u
#define VHU_FE_NOFD 0x100u
#define VHU_FE_F_PROTOCOL_FEATURES 30

#define VHU_FE_MAX_PAYLOAD 264

struct vhu_fe {
	int fd;
	uint64_t protocol_features; /* what SET_PROTOCOL_FEATURES sent */
	bool legacy;                /* never ack PROTOCOL_FEATURES (bit 30) */
	/* Behave like User-Mode Linux: a two-slot memory table, base 0 even
	 * for packed rings, no SET_VRING_CALL/KICK (in-band only). */
	bool uml;
	/* Behave like DPDK's virtio-user: a packed ring's base has only the
	 * avail half (0x8000), used = avail implied. */
	bool dpdk;
};

struct vhu_fe_msg {
	uint32_t request, flags, size;
	uint8_t payload[VHU_FE_MAX_PAYLOAD];
	int fds[8];
	unsigned nfds;
};

/* Connects to @path, retrying up to @timeout_ms. NULL on failure. */
struct vhu_fe *vhu_fe_connect(const char *path, int timeout_ms);
void vhu_fe_close(struct vhu_fe *fe);

/* Sends header + payload (+ fds). @flags 0 means version 1, no flags. */
int vhu_fe_send(struct vhu_fe *fe, uint32_t req, uint32_t flags,
		const void *payload, uint32_t size, const int *fds,
		unsigned nfds);
/* Sends raw bytes (for malformed headers). */
int vhu_fe_send_raw(struct vhu_fe *fe, const void *buf, size_t len,
		    const int *fds, unsigned nfds);
/*
 * Receives one message within @timeout_ms. 0, -ETIMEDOUT, -ECONNRESET
 * (peer closed), -EPROTO (garbage).
 */
int vhu_fe_recv(int fd, struct vhu_fe_msg *m, int timeout_ms);

/* A request with a u64 reply (GET_FEATURES, ...). */
int vhu_fe_get_u64(struct vhu_fe *fe, uint32_t req, uint64_t *v);
/* A request with a u64 payload (+ optional fd). With @ack the request
 * asks for a reply and its value is returned (0 = success). */
int vhu_fe_set_u64(struct vhu_fe *fe, uint32_t req, uint64_t v, int fd,
		   bool ack);
/* A request with a vring-state payload {index, num}. */
int vhu_fe_set_state(struct vhu_fe *fe, uint32_t req, uint32_t idx,
		     uint32_t num, bool ack);
int vhu_fe_get_vring_base(struct vhu_fe *fe, uint32_t idx, uint32_t *num);
/* Any request; @ack asks for and waits for an ack, whose value is
 * returned. Without @ack returns 0 once sent. */
int vhu_fe_request(struct vhu_fe *fe, uint32_t req, const void *payload,
		   uint32_t size, const int *fds, unsigned nfds, bool ack);

/* True when the back-end closed the connection within @timeout_ms. */
bool vhu_fe_peer_closed(struct vhu_fe *fe, int timeout_ms);

/* Open fds of this process. */
unsigned vhu_fe_count_fds(void);

/* ---- guest side: memory and one ring ------------------------------- */

struct vhu_fe_guest {
	struct vdev_drv_mem *mem;
	struct vdev_drv_ring *ring;
	uint64_t features;      /* device features acked */
	int kick_fd, call_fd;   /* eventfds, -1 for in-band */
};

/*
 * The usual bring-up of queue 0 with guest RAM @mem: OWNER, features
 * (offered & ~@refuse, RING_PACKED when @packed), protocol features
 * @proto (masked with what is offered), MEM_TABLE, NUM, BASE, ADDR, CALL,
 * KICK, ENABLE. @inband: no kick/call fds (INBAND_NOTIFICATIONS).
 */
int vhu_fe_setup(struct vhu_fe *fe, struct vhu_fe_guest *g, uint16_t qsize,
		 bool packed, uint64_t proto, bool inband);
void vhu_fe_guest_fini(struct vhu_fe_guest *g);
/* Another queue of the same guest, after vhu_fe_setup(): its own ring in
 * the guest's memory and its own kick and call eventfds. */
struct vhu_fe_queue {
	unsigned idx;
	struct vdev_drv_ring *ring;
	int kick_fd, call_fd;
};
int vhu_fe_add_queue(struct vhu_fe *fe, struct vhu_fe_guest *g,
		     struct vhu_fe_queue *q, unsigned idx, uint16_t qsize);
void vhu_fe_queue_fini(struct vhu_fe_queue *q);
/* SET_MEM_TABLE with all of @m as one region (user addr = host pointer). */
int vhu_fe_set_mem_table(struct vhu_fe *fe, struct vdev_drv_mem *m,
			 bool ack);
/* Kicks queue 0 (eventfd, or in-band VRING_KICK when kick_fd < 0). */
int vhu_fe_kick(struct vhu_fe *fe, struct vhu_fe_guest *g);

/* ---- an adapter on a thread ----------------------------------------- */

struct vhu_fe_server {
	struct vdev *dev;
	struct vdev_vhost_user *vu;
	pthread_t thread;
	long tid; /* the thread's, once it runs (__atomic) */
	char path[108];
	int ret;
};

/* Starts an adapter for @dev listening on a fresh path under /tmp. */
int vhu_fe_server_start(struct vhu_fe_server *s, struct vdev *dev,
			const struct vdev_vhost_user_config *cfg);
void vhu_fe_server_stop(struct vhu_fe_server *s);
/* Waits until the adapter has no connection (it handled a close). */
bool vhu_fe_server_idle(struct vhu_fe_server *s, int timeout_ms);

#endif /* VHU_FRONTEND_H */
