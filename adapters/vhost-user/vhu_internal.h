/* SPDX-License-Identifier: BSD-3-Clause */
/* Internal interfaces of the vhost-user adapter (not exported). */
#ifndef VHU_INTERNAL_H
#define VHU_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <virtio/device.h>
#include <virtio/loop.h>
#include <virtio/mem.h>
#include <virtio/queue.h>
#include <virtio/vhost-user.h>

#include "vhu_proto.h"

struct vhu_xfer;

/* Per-ring state as the frontend set it up. */
struct vhu_ring {
	uint16_t num;            /* SET_VRING_NUM; 0 = not set */
	bool addr_set;
	uint32_t addr_flags;     /* VHU_VRING_F_LOG */
	uint64_t desc_uva, avail_uva, used_uva, log_gpa;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint32_t base;           /* raw SET_VRING_BASE value */
	bool base_set;
	struct vdev_queue_state st; /* where the ring stands when not running */
	bool st_valid;
	int kick_fd, call_fd, err_fd;
	int err_kind;            /* enum vpeer_kind of err_fd */
	bool started;            /* SET_VRING_KICK seen, no GET_VRING_BASE since */
	bool enabled;            /* vhost-user enable state */
	bool running;            /* the core's queue is enabled */
};

struct vhu_worker {
	struct vdev_loop *loop;
	pthread_t thread;
	bool thread_ok;
	/* Busy polling (vdev_vhost_user_config.poll_us): queues
	 * [first, first + count) of @dev, for poll_ns after the last work. */
	struct vdev *dev;
	unsigned first, count;
	uint64_t poll_ns;
};

struct vhu_inflight_map {
	void *base;
	size_t len;
	uint16_t num_queues;
	uint16_t queue_size;
	bool packed;
};

struct vhu_mem_dup {
	uint64_t gpa, size;
	unsigned extra; /* times added beyond the first */
};

struct vdev_vhost_user {
	struct vdev *dev;
	struct vdev_mem *mem;
	struct vdev_loop *loop;          /* control loop */
	enum vdev_vhost_user_mode mode;
	int listen_fd;                   /* -1 when serving one connection */
	int reserve_fd;                  /* spent to shed a connection at EMFILE */
	int conn_fd;                     /* -1 when not connected */
	char *unlink_path;               /* socket file this adapter created */
	bool one_shot;                   /* no listening socket: one session */
	bool closed;                     /* one-shot session ended */
	unsigned connections;

	unsigned nworkers;
	struct vhu_worker *workers;

	unsigned nq;
	struct vhu_ring *rings;

	/* Negotiation. */
	uint64_t proto_supported;        /* what we offer */
	uint64_t proto_acked;
	bool proto_features_acked;       /* feature bit 30 acked */
	bool features_set;
	bool log_all;                    /* feature bit 26 acked */
	bool owner;

	/* Back-end request channel; the lock serialises workers and control. */
	int backend_fd;
	pthread_mutex_t backend_lock;

	/* Dirty log (SET_LOG_BASE), see vhu_mem.c. */
	struct vhu_logmap *logmap;

	/* Regions ADD_MEM_REG gave again, identical (QEMU 7.2 sends them
	 * once per vhost_dev, i.e. per net queue pair): REM_MEM_REG drops
	 * one count before the region goes. See vhu_mem.c. */
	struct vhu_mem_dup mem_dup[VDEV_MEM_MAX_REGIONS];
	unsigned n_mem_dup;

	struct vhu_inflight_map inflight;

	/* Device state transfer (SET_DEVICE_STATE_FD). */
	struct vhu_xfer *xfer;          /* NULL when none; vhu_state.c */

	FILE *capture;
	pthread_mutex_t capture_lock;
};

/* ---- the request table and dispatch (vhu_dispatch.c) ----------------- */

enum vhu_fds_rule {
	VHU_FDS_NONE,     /* no fd */
	VHU_FDS_ONE,      /* exactly one */
	VHU_FDS_FILE,     /* one, or none with VHU_VRING_NOFD in the u64 */
	VHU_FDS_REGIONS,  /* one per memory region of SET_MEM_TABLE */
};

enum vhu_size_rule {
	VHU_SIZE_RANGE,   /* min_size <= size <= max_size */
	VHU_SIZE_MEMTABLE,/* >= 8 + 32 * nregions (unused slots may
			   * follow), 1 <= nregions <= 8 */
	VHU_SIZE_CONFIG,  /* 12 + config size, config size <= 256 */
};

enum vhu_qidx_rule {
	VHU_QIDX_NONE,
	VHU_QIDX_STATE,   /* u32 index at offset 0 */
	VHU_QIDX_FILE,    /* u64 bits 0-7 */
};

enum vhu_rings_rule {
	VHU_RINGS_ANY,
	VHU_RINGS_THIS_STOPPED, /* the addressed ring must not be started */
	VHU_RINGS_ALL_STOPPED,  /* no ring may be started */
};

/*
 * A handler returns 0 (success; an ack follows when asked for), 1 (it
 * filled in @reply, which is sent), or a negative errno.
 */
typedef int (*vhu_handler)(struct vdev_vhost_user *vu, struct vhu_msg *m,
			   struct vhu_msg *reply);

struct vhu_req_info {
	const char *name;
	vhu_handler handle;     /* NULL: known but not supported */
	uint8_t fds;            /* enum vhu_fds_rule */
	uint8_t size_rule;      /* enum vhu_size_rule */
	uint16_t min_size, max_size;
	uint8_t qidx;           /* enum vhu_qidx_rule */
	uint8_t rings;          /* enum vhu_rings_rule */
	bool reply;             /* the request has a reply of its own */
	int8_t proto;           /* protocol feature it needs, or -1 */
};

const struct vhu_req_info *vhu_req_info(uint32_t request);
const char *vhu_req_name(uint32_t request);
const char *vhu_backend_req_name(uint32_t request);

/*
 * Checks framing, payload size, fd count, queue index and ring state of
 * @m against the table. 0 or a negative errno (EPROTO bad flags,
 * EOPNOTSUPP unknown/unsupported, EMSGSIZE size, EBADF fd count, ERANGE
 * queue index, EBUSY ring running, EPERM feature not negotiated).
 */
int vhu_validate(struct vdev_vhost_user *vu, const struct vhu_msg *m);

/*
 * Handles one received message (fds included; they are closed or taken
 * over). Returns 0 to go on, a negative errno to close the connection.
 */
int vhu_dispatch(struct vdev_vhost_user *vu, struct vhu_msg *m);

/* ---- wire I/O (vhu_msg.c) --------------------------------------------- */

/*
 * Receives one message. 0: got one (fds in m->fds, CLOEXEC). -ECONNRESET:
 * peer closed before a header; -EPROTO: short header, bad flags or a
 * payload larger than any request's; -EMSGSIZE: short payload. On error no
 * fd is left open.
 */
int vhu_msg_recv(int fd, struct vhu_msg *m);
int vhu_msg_send(int fd, const struct vhu_msg *m, const int *fds,
		 unsigned nfds);
void vhu_msg_close_fds(struct vhu_msg *m);
/* Takes fd @i out of @m (the caller owns it now). */
int vhu_msg_take_fd(struct vhu_msg *m, unsigned i);

/* ---- capture (vhu_capture.c) -------------------------------------------- */

void vhu_capture_open(struct vdev_vhost_user *vu);
void vhu_capture_close(struct vdev_vhost_user *vu);
void vhu_capture_msg(struct vdev_vhost_user *vu, const char *dir,
		     const struct vhu_msg *m, bool backend);
void vhu_capture_note(struct vdev_vhost_user *vu, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- handlers, by concern --------------------------------------------- */

/* vhu_features.c */
int vhu_get_features(struct vdev_vhost_user *, struct vhu_msg *,
		     struct vhu_msg *);
int vhu_set_features(struct vdev_vhost_user *, struct vhu_msg *,
		     struct vhu_msg *);
int vhu_set_owner(struct vdev_vhost_user *, struct vhu_msg *,
		  struct vhu_msg *);
int vhu_reset_owner(struct vdev_vhost_user *, struct vhu_msg *,
		    struct vhu_msg *);
int vhu_get_protocol_features(struct vdev_vhost_user *, struct vhu_msg *,
			      struct vhu_msg *);
int vhu_set_protocol_features(struct vdev_vhost_user *, struct vhu_msg *,
			      struct vhu_msg *);
int vhu_get_queue_num(struct vdev_vhost_user *, struct vhu_msg *,
		      struct vhu_msg *);
int vhu_get_config(struct vdev_vhost_user *, struct vhu_msg *,
		   struct vhu_msg *);
int vhu_set_config(struct vdev_vhost_user *, struct vhu_msg *,
		   struct vhu_msg *);
int vhu_reset_device(struct vdev_vhost_user *, struct vhu_msg *,
		     struct vhu_msg *);
int vhu_set_status(struct vdev_vhost_user *, struct vhu_msg *,
		   struct vhu_msg *);
int vhu_get_status(struct vdev_vhost_user *, struct vhu_msg *,
		   struct vhu_msg *);
/* Resets the device and every ring, keeps the memory table. */
void vhu_device_reset(struct vdev_vhost_user *vu);
bool vhu_proto(const struct vdev_vhost_user *vu, unsigned bit);

/* vhu_mem.c */
int vhu_set_mem_table(struct vdev_vhost_user *, struct vhu_msg *,
		      struct vhu_msg *);
int vhu_get_max_mem_slots(struct vdev_vhost_user *, struct vhu_msg *,
			  struct vhu_msg *);
/* Forgets the counts of regions added twice (the map was emptied). */
void vhu_mem_dup_clear(struct vdev_vhost_user *vu);
int vhu_add_mem_reg(struct vdev_vhost_user *, struct vhu_msg *,
		    struct vhu_msg *);
int vhu_rem_mem_reg(struct vdev_vhost_user *, struct vhu_msg *,
		    struct vhu_msg *);
int vhu_set_log_base(struct vdev_vhost_user *, struct vhu_msg *,
		     struct vhu_msg *);
int vhu_set_log_fd(struct vdev_vhost_user *, struct vhu_msg *,
		   struct vhu_msg *);
void vhu_log_unmap(struct vdev_vhost_user *vu);
/* Logs dirty pages exactly while LOG_ALL is acked and a log is mapped. */
int vhu_log_apply(struct vdev_vhost_user *vu);

/* vhu_ring.c */
int vhu_set_vring_num(struct vdev_vhost_user *, struct vhu_msg *,
		      struct vhu_msg *);
int vhu_set_vring_addr(struct vdev_vhost_user *, struct vhu_msg *,
		       struct vhu_msg *);
int vhu_set_vring_base(struct vdev_vhost_user *, struct vhu_msg *,
		       struct vhu_msg *);
int vhu_get_vring_base(struct vdev_vhost_user *, struct vhu_msg *,
		       struct vhu_msg *);
int vhu_set_vring_kick(struct vdev_vhost_user *, struct vhu_msg *,
		       struct vhu_msg *);
int vhu_set_vring_call(struct vdev_vhost_user *, struct vhu_msg *,
		       struct vhu_msg *);
int vhu_set_vring_err(struct vdev_vhost_user *, struct vhu_msg *,
		      struct vhu_msg *);
int vhu_set_vring_enable(struct vdev_vhost_user *, struct vhu_msg *,
			 struct vhu_msg *);
int vhu_vring_kick(struct vdev_vhost_user *, struct vhu_msg *,
		   struct vhu_msg *);
void vhu_rings_init(struct vdev_vhost_user *vu);
/* Stops every ring and closes every ring fd (disconnect, reset). */
void vhu_rings_reset(struct vdev_vhost_user *vu);
/*
 * Before the memory table changes to @regions: halts every running ring
 * that would not lie inside them, so that its worker never meets a table
 * without its ring (the queue would break, and the device need a reset,
 * for what the protocol makes a ring stop). vhu_rings_remap restarts what
 * still translates.
 */
void vhu_rings_halt_outside(struct vdev_vhost_user *vu,
			    const struct vdev_mem_region *regions, unsigned n);
/* The memory table changed: translate ring addresses again. */
int vhu_rings_remap(struct vdev_vhost_user *vu);
bool vhu_any_ring_started(const struct vdev_vhost_user *vu);

/* vhu_backend.c */
int vhu_set_backend_req_fd(struct vdev_vhost_user *, struct vhu_msg *,
			   struct vhu_msg *);
void vhu_backend_close(struct vdev_vhost_user *vu);
extern const struct vdev_transport_ops vhu_transport_ops;

/* How long one message may take to arrive or to leave, all of it however
 * the frontend splits it, and how long CHECK_DEVICE_STATE waits for a
 * state transfer to end, before the adapter gives up on the frontend
 * (ms). 5000; tests lower it. */
extern int vhu_stall_timeout_ms;

/* vhu_inflight.c */
int vhu_get_inflight_fd(struct vdev_vhost_user *, struct vhu_msg *,
			struct vhu_msg *);
int vhu_set_inflight_fd(struct vdev_vhost_user *, struct vhu_msg *,
			struct vhu_msg *);
void vhu_inflight_unmap(struct vdev_vhost_user *vu);
void *vhu_inflight_queue(struct vdev_vhost_user *vu, unsigned i, size_t *len);
size_t vhu_inflight_queue_size(uint16_t queue_size, bool packed);

/* vhu_state.c */
int vhu_set_device_state_fd(struct vdev_vhost_user *, struct vhu_msg *,
			    struct vhu_msg *);
int vhu_check_device_state(struct vdev_vhost_user *, struct vhu_msg *,
			   struct vhu_msg *);
void vhu_state_cancel(struct vdev_vhost_user *vu);

/* Reply helpers. */
static inline void vhu_reply_u64(struct vhu_msg *r, uint64_t v)
{
	r->size = 8;
	r->p.u64 = v;
}

static inline uint64_t vhu_u64(const struct vhu_msg *m)
{
	return m->p.u64;
}

#endif /* VHU_INTERNAL_H */
