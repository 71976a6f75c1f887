/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The request table and the one place where a message is checked before
 * any handler sees it: framing (version flags), payload size, fd count,
 * queue index, ring state and the protocol feature it depends on.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vhu_internal.h"

#define P(f) VDEV_VHOST_USER_PROTOCOL_F_##f
#define U64 sizeof(uint64_t)
#define STATE sizeof(struct vhu_vring_state)

/* name, handler, fds, size rule, min, max, qidx, rings, reply, proto */
#define R(req, fn, fds, sr, mn, mx, q, rg, rep, pr)                          \
	[VHU_##req] = { #req, fn, VHU_FDS_##fds, VHU_SIZE_##sr, mn, mx,      \
			VHU_QIDX_##q, VHU_RINGS_##rg, rep, pr }

static const struct vhu_req_info vhu_requests[VHU_REQUEST_MAX] = {
	R(GET_FEATURES, vhu_get_features, NONE, RANGE, 0, 0, NONE, ANY,
	  true, -1),
	R(SET_FEATURES, vhu_set_features, NONE, RANGE, U64, U64, NONE, ANY,
	  false, -1),
	R(SET_OWNER, vhu_set_owner, NONE, RANGE, 0, 0, NONE, ANY, false, -1),
	R(RESET_OWNER, vhu_reset_owner, NONE, RANGE, 0, 0, NONE, ANY, false,
	  -1),
	R(SET_MEM_TABLE, vhu_set_mem_table, REGIONS, MEMTABLE, 0, 0, NONE, ANY,
	  false, -1),
	R(SET_LOG_BASE, vhu_set_log_base, ONE, RANGE,
	  sizeof(struct vhu_log), sizeof(struct vhu_log), NONE, ANY, true,
	  P(LOG_SHMFD)),
	R(SET_LOG_FD, vhu_set_log_fd, ONE, RANGE, 0, U64, NONE, ANY, false,
	  P(LOG_SHMFD)),
	R(SET_VRING_NUM, vhu_set_vring_num, NONE, RANGE, STATE, STATE, STATE,
	  THIS_STOPPED, false, -1),
	R(SET_VRING_ADDR, vhu_set_vring_addr, NONE, RANGE,
	  sizeof(struct vhu_vring_addr), sizeof(struct vhu_vring_addr), STATE,
	  ANY, false, -1),
	R(SET_VRING_BASE, vhu_set_vring_base, NONE, RANGE, STATE, STATE, STATE,
	  THIS_STOPPED, false, -1),
	R(GET_VRING_BASE, vhu_get_vring_base, NONE, RANGE, STATE, STATE, STATE,
	  ANY, true, -1),
	R(SET_VRING_KICK, vhu_set_vring_kick, FILE, RANGE, U64, U64, FILE, ANY,
	  false, -1),
	R(SET_VRING_CALL, vhu_set_vring_call, FILE, RANGE, U64, U64, FILE, ANY,
	  false, -1),
	R(SET_VRING_ERR, vhu_set_vring_err, FILE, RANGE, U64, U64, FILE, ANY,
	  false, -1),
	R(GET_PROTOCOL_FEATURES, vhu_get_protocol_features, NONE, RANGE, 0, 0,
	  NONE, ANY, true, -1),
	R(SET_PROTOCOL_FEATURES, vhu_set_protocol_features, NONE, RANGE, U64,
	  U64, NONE, ANY, false, -1),
	R(GET_QUEUE_NUM, vhu_get_queue_num, NONE, RANGE, 0, 0, NONE, ANY, true,
	  P(MQ)),
	R(SET_VRING_ENABLE, vhu_set_vring_enable, NONE, RANGE, STATE, STATE,
	  STATE, ANY, false, -1),
	R(SEND_RARP, NULL, NONE, RANGE, 0, 0, NONE, ANY, false, -1),
	R(NET_SET_MTU, NULL, NONE, RANGE, 0, 0, NONE, ANY, false, -1),
	R(SET_BACKEND_REQ_FD, vhu_set_backend_req_fd, ONE, RANGE, 0, 0, NONE,
	  ANY, false, P(BACKEND_REQ)),
	R(IOTLB_MSG, NULL, NONE, RANGE, 0, 0, NONE, ANY, false, -1),
	R(SET_VRING_ENDIAN, NULL, NONE, RANGE, 0, 0, NONE, ANY, false, -1),
	R(GET_CONFIG, vhu_get_config, NONE, CONFIG, 0, 0, NONE, ANY, true,
	  P(CONFIG)),
	R(SET_CONFIG, vhu_set_config, NONE, CONFIG, 0, 0, NONE, ANY, false,
	  P(CONFIG)),
	R(CREATE_CRYPTO_SESSION, NULL, NONE, RANGE, 0, 0, NONE, ANY, false, -1),
	R(CLOSE_CRYPTO_SESSION, NULL, NONE, RANGE, 0, 0, NONE, ANY, false, -1),
	R(POSTCOPY_ADVISE, NULL, NONE, RANGE, 0, 0, NONE, ANY, false, -1),
	R(POSTCOPY_LISTEN, NULL, NONE, RANGE, 0, 0, NONE, ANY, false, -1),
	R(POSTCOPY_END, NULL, NONE, RANGE, 0, 0, NONE, ANY, false, -1),
	R(GET_INFLIGHT_FD, vhu_get_inflight_fd, NONE, RANGE,
	  VHU_INFLIGHT_MIN_SIZE, sizeof(struct vhu_inflight), NONE,
	  ALL_STOPPED, true, P(INFLIGHT_SHMFD)),
	R(SET_INFLIGHT_FD, vhu_set_inflight_fd, ONE, RANGE,
	  VHU_INFLIGHT_MIN_SIZE, sizeof(struct vhu_inflight), NONE,
	  ALL_STOPPED, false, P(INFLIGHT_SHMFD)),
	R(GPU_SET_SOCKET, NULL, NONE, RANGE, 0, 0, NONE, ANY, false, -1),
	R(RESET_DEVICE, vhu_reset_device, NONE, RANGE, 0, 0, NONE, ANY, false,
	  P(RESET_DEVICE)),
	R(VRING_KICK, vhu_vring_kick, NONE, RANGE, STATE, STATE, STATE, ANY,
	  false, P(INBAND_NOTIFICATIONS)),
	R(GET_MAX_MEM_SLOTS, vhu_get_max_mem_slots, NONE, RANGE, 0, 0, NONE,
	  ANY, true, P(CONFIGURE_MEM_SLOTS)),
	R(ADD_MEM_REG, vhu_add_mem_reg, ONE, RANGE,
	  sizeof(struct vhu_mem_single), sizeof(struct vhu_mem_single), NONE,
	  ANY, false, P(CONFIGURE_MEM_SLOTS)),
	/* QEMU attaches the region's fd to REM_MEM_REG too; it is unused. */
	R(REM_MEM_REG, vhu_rem_mem_reg, FILE, RANGE,
	  sizeof(struct vhu_mem_single), sizeof(struct vhu_mem_single), NONE,
	  ANY, false, P(CONFIGURE_MEM_SLOTS)),
	R(SET_STATUS, vhu_set_status, NONE, RANGE, U64, U64, NONE, ANY, false,
	  P(STATUS)),
	R(GET_STATUS, vhu_get_status, NONE, RANGE, 0, 0, NONE, ANY, true,
	  P(STATUS)),
	R(GET_SHARED_OBJECT, NULL, NONE, RANGE, 0, 0, NONE, ANY, false, -1),
	/* Running rings are refused by the handler: the reply carries it. */
	R(SET_DEVICE_STATE_FD, vhu_set_device_state_fd, ONE, RANGE,
	  sizeof(struct vhu_device_state), sizeof(struct vhu_device_state),
	  NONE, ANY, true, P(DEVICE_STATE)),
	R(CHECK_DEVICE_STATE, vhu_check_device_state, NONE, RANGE, 0, 0, NONE,
	  ANY, true, P(DEVICE_STATE)),
};

static const char *const vhu_backend_names[] = {
	[VHU_BACKEND_IOTLB_MSG] = "BACKEND_IOTLB_MSG",
	[VHU_BACKEND_CONFIG_CHANGE_MSG] = "BACKEND_CONFIG_CHANGE_MSG",
	[VHU_BACKEND_VRING_HOST_NOTIFIER_MSG] = "BACKEND_VRING_HOST_NOTIFIER_MSG",
	[VHU_BACKEND_VRING_CALL] = "BACKEND_VRING_CALL",
	[VHU_BACKEND_VRING_ERR] = "BACKEND_VRING_ERR",
};

const struct vhu_req_info *vhu_req_info(uint32_t request)
{
	if (request >= VHU_REQUEST_MAX || !vhu_requests[request].name)
		return NULL;
	return &vhu_requests[request];
}

const char *vhu_req_name(uint32_t request)
{
	const struct vhu_req_info *ri = vhu_req_info(request);

	return ri ? ri->name : "UNKNOWN";
}

const char *vhu_backend_req_name(uint32_t request)
{
	if (request < sizeof(vhu_backend_names) / sizeof(vhu_backend_names[0]) &&
	    vhu_backend_names[request])
		return vhu_backend_names[request];
	return "UNKNOWN";
}

static int check_size(const struct vhu_req_info *ri, const struct vhu_msg *m)
{
	switch (ri->size_rule) {
	case VHU_SIZE_MEMTABLE: {
		uint32_t n;

		if (m->size < 8)
			return -EMSGSIZE;
		n = m->p.mem.nregions;
		/* Unused region slots may follow: User-Mode Linux always
		 * sends its two-slot table. */
		if (n < 1 || n > VHU_MAX_FDS ||
		    m->size < 8 + n * sizeof(struct vhu_mem_region))
			return -EMSGSIZE;
		return 0;
	}
	case VHU_SIZE_CONFIG: {
		uint32_t len;

		if (m->size < VHU_CONFIG_HDR_SIZE)
			return -EMSGSIZE;
		len = m->p.config.size;
		if (len > VHU_MAX_CONFIG_SIZE ||
		    m->size != VHU_CONFIG_HDR_SIZE + len)
			return -EMSGSIZE;
		return 0;
	}
	default:
		if (m->size < ri->min_size || m->size > ri->max_size)
			return -EMSGSIZE;
		return 0;
	}
}

static int check_fds(const struct vhu_req_info *ri, const struct vhu_msg *m)
{
	unsigned want;

	switch (ri->fds) {
	case VHU_FDS_ONE:
		want = 1;
		break;
	case VHU_FDS_FILE:
		want = (vhu_u64(m) & VHU_VRING_NOFD) ? 0 : 1;
		break;
	case VHU_FDS_REGIONS:
		want = m->p.mem.nregions;
		break;
	default:
		want = 0;
		break;
	}
	/* SET_LOG_FD and REM_MEM_REG tolerate a missing fd. */
	if (m->nfds == want)
		return 0;
	if ((m->request == VHU_REM_MEM_REG || m->request == VHU_SET_LOG_FD) &&
	    m->nfds <= want)
		return 0;
	return -EBADF;
}

static int msg_qidx(const struct vhu_req_info *ri, const struct vhu_msg *m,
		    uint32_t *q)
{
	switch (ri->qidx) {
	case VHU_QIDX_STATE:
		*q = m->p.state.index;
		return 1;
	case VHU_QIDX_FILE:
		*q = (uint32_t)(vhu_u64(m) & VHU_VRING_IDX_MASK);
		return 1;
	default:
		return 0;
	}
}

/*
 * The err fd is written when the device needs a reset. Unlike the call fd
 * (User-Mode Linux passes a socketpair there, written with MSG_NOSIGNAL),
 * nothing but an eventfd makes sense: a pipe or socket whose reader the
 * frontend closed would raise SIGPIPE in this process.
 */
static int check_err_fd(const struct vhu_msg *m)
{
	struct stat st;

	if (m->request != VHU_SET_VRING_ERR || m->nfds != 1)
		return 0;
	if (fstat(m->fds[0], &st) < 0)
		return -errno;
	return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) ? -EINVAL : 0;
}

int vhu_validate(struct vdev_vhost_user *vu, const struct vhu_msg *m)
{
	const struct vhu_req_info *ri = vhu_req_info(m->request);
	uint32_t q = 0;
	int ret;

	if ((m->flags & VHU_VERSION_MASK) != VHU_VERSION ||
	    (m->flags & VHU_FLAG_REPLY) || (m->flags & ~VHU_FLAGS_KNOWN))
		return -EPROTO;
	if (!ri || !ri->handle)
		return -EOPNOTSUPP;
	if (ri->proto >= 0 && !vhu_proto(vu, (unsigned)ri->proto))
		return -EPERM;
	ret = check_size(ri, m);
	if (ret)
		return ret;
	if (m->nfds > VHU_MAX_FDS)
		return -EBADF;
	ret = check_fds(ri, m);
	if (ret)
		return ret;
	if (msg_qidx(ri, m, &q) && q >= vu->nq)
		return -ERANGE;
	ret = check_err_fd(m);
	if (ret)
		return ret;
	if (ri->rings == VHU_RINGS_THIS_STOPPED && vu->rings[q].started)
		return -EBUSY;
	if (ri->rings == VHU_RINGS_ALL_STOPPED && vhu_any_ring_started(vu))
		return -EBUSY;
	return 0;
}

static int send_reply(struct vdev_vhost_user *vu, struct vhu_msg *reply)
{
	int ret;

	reply->flags = VHU_VERSION | VHU_FLAG_REPLY;
	vhu_capture_msg(vu, "reply", reply, false);
	ret = vhu_msg_send(vu->conn_fd, reply, reply->fds, reply->nfds);
	/* Fds sent in a reply are copies owned by their holders. */
	return ret;
}

int vhu_dispatch(struct vdev_vhost_user *vu, struct vhu_msg *m)
{
	const struct vhu_req_info *ri;
	struct vhu_msg reply;
	unsigned nfds = m->nfds;
	bool ack;
	int ret;

	vhu_capture_msg(vu, "recv", m, false);
	memset(&reply, 0, offsetof(struct vhu_msg, p) + sizeof(reply.p));
	reply.nfds = 0;
	reply.request = m->request;
	ri = vhu_req_info(m->request);

	ret = vhu_validate(vu, m);
	if (ret == 0)
		ret = ri->handle(vu, m, &reply);
	/* Whatever the handler did not take over is closed here. */
	vhu_msg_close_fds(m);
	/* Judged after the handler: the SET_PROTOCOL_FEATURES that acks
	 * REPLY_ACK is itself acked (User-Mode Linux waits for it). */
	ack = (m->flags & VHU_FLAG_NEED_REPLY) &&
	      vhu_proto(vu, VDEV_VHOST_USER_PROTOCOL_F_REPLY_ACK);

	if (ret < 0) {
		vdev_log(VDEV_LOG_WARN, "vhost-user: %s (%u, size %u, %u fds): %s",
			 vhu_req_name(m->request), m->request, m->size,
			 nfds, strerror(-ret));
		vhu_capture_note(vu, "error %s: %s", vhu_req_name(m->request),
				 strerror(-ret));
		/* A request that owes a reply, or a frontend that did not
		 * ask for an ack, learns of the failure by the close. */
		if (!ack || (ri && ri->reply))
			return ret;
		vhu_reply_u64(&reply, (uint64_t)-ret);
		return send_reply(vu, &reply);
	}
	if (ret == 1 || (ri->reply && ret == 0)) {
		ret = send_reply(vu, &reply);
		for (unsigned i = 0; i < reply.nfds; i++)
			close(reply.fds[i]);
		return ret;
	}
	if (ack) {
		vhu_reply_u64(&reply, 0);
		return send_reply(vu, &reply);
	}
	return 0;
}
