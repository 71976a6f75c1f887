/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Negotiation (features, protocol features), ownership, status, config
 * space and device reset: how vhost-user's device-level requests map onto
 * the core's status state machine (see include/virtio/vhost-user.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <virtio/transport.h>

#include "vhu_internal.h"

#define F_PROTOCOL VDEV_BIT(VHU_F_PROTOCOL_FEATURES)
#define F_LOG_ALL VDEV_BIT(VHU_F_LOG_ALL)

bool vhu_proto(const struct vdev_vhost_user *vu, unsigned bit)
{
	/* Read by queue workers (in-band calls) while the control thread may
	 * renegotiate. */
	return bit < 64 &&
	       (__atomic_load_n(&vu->proto_acked, __ATOMIC_ACQUIRE) &
		VDEV_BIT(bit));
}

static uint64_t offered_features(const struct vdev_vhost_user *vu)
{
	uint64_t f = vdev_device_features(vu->dev) | F_PROTOCOL;

	if (vu->proto_supported &
	    VDEV_BIT(VDEV_VHOST_USER_PROTOCOL_F_LOG_SHMFD))
		f |= F_LOG_ALL;
	return f;
}

int vhu_get_features(struct vdev_vhost_user *vu, struct vhu_msg *m,
		     struct vhu_msg *r)
{
	vhu_reply_u64(r, offered_features(vu));
	return 1;
}

void vhu_device_reset(struct vdev_vhost_user *vu)
{
	vdev_reset(vu->dev);
	vhu_rings_reset(vu);
	vu->features_set = false;
	vu->log_all = false;
	vu->proto_features_acked = false;
}

int vhu_set_features(struct vdev_vhost_user *vu, struct vhu_msg *m,
		     struct vhu_msg *r)
{
	uint64_t f = vhu_u64(m), devf;
	uint8_t st;
	int ret;

	if (f & ~offered_features(vu))
		return -EINVAL;
	devf = f & ~(F_PROTOCOL | F_LOG_ALL);
	st = vdev_get_status(vu->dev);
	if (vu->features_set && (st & VDEV_STATUS_FEATURES_OK)) {
		/* Logging is switched on and off while rings run; other
		 * bits change only through a reset. */
		if (devf == vdev_driver_features(vu->dev)) {
			vu->log_all = f & F_LOG_ALL;
			return vhu_log_apply(vu);
		}
		if (vhu_any_ring_started(vu))
			return -EBUSY;
		vhu_device_reset(vu);
	}
	ret = vdev_set_driver_features(vu->dev, devf);
	if (ret)
		return ret;
	vu->features_set = true;
	vu->log_all = f & F_LOG_ALL;
	ret = vhu_log_apply(vu);
	if (ret)
		return ret;
	vu->proto_features_acked = f & F_PROTOCOL;
	/* Without PROTOCOL_FEATURES a ring is enabled from the start. */
	if (!vu->proto_features_acked)
		for (unsigned i = 0; i < vu->nq; i++)
			vu->rings[i].enabled = true;
	/* What an operator asks first when a guest misbehaves. */
	vdev_log(VDEV_LOG_INFO, "vhost-user %s: negotiated features 0x%" PRIx64
		 ", protocol features 0x%" PRIx64 ", %u queues",
		 vdev_get_info(vu->dev)->name, devf,
		 __atomic_load_n(&vu->proto_acked, __ATOMIC_ACQUIRE), vu->nq);
	if (vhu_proto(vu, VDEV_VHOST_USER_PROTOCOL_F_STATUS))
		return 0;
	ret = vdev_set_status(vu->dev, VDEV_STATUS_ACKNOWLEDGE |
					       VDEV_STATUS_DRIVER);
	if (ret == 0)
		ret = vdev_set_status(vu->dev, VDEV_STATUS_ACKNOWLEDGE |
						       VDEV_STATUS_DRIVER |
						       VDEV_STATUS_FEATURES_OK);
	if (ret == 0 &&
	    !(vdev_get_status(vu->dev) & VDEV_STATUS_FEATURES_OK))
		ret = -EINVAL;
	if (ret) {
		vdev_reset(vu->dev);
		vu->features_set = false;
	}
	return ret;
}

int vhu_set_owner(struct vdev_vhost_user *vu, struct vhu_msg *m,
		  struct vhu_msg *r)
{
	vu->owner = true;
	return 0;
}

int vhu_reset_owner(struct vdev_vhost_user *vu, struct vhu_msg *m,
		    struct vhu_msg *r)
{
	vhu_device_reset(vu);
	vu->owner = false;
	return 0;
}

int vhu_get_protocol_features(struct vdev_vhost_user *vu, struct vhu_msg *m,
			      struct vhu_msg *r)
{
	vhu_reply_u64(r, vu->proto_supported);
	return 1;
}

int vhu_set_protocol_features(struct vdev_vhost_user *vu, struct vhu_msg *m,
			      struct vhu_msg *r)
{
	uint64_t f = vhu_u64(m);

	if (f & ~vu->proto_supported)
		return -EINVAL;
	__atomic_store_n(&vu->proto_acked, f, __ATOMIC_RELEASE);
	return 0;
}

int vhu_get_queue_num(struct vdev_vhost_user *vu, struct vhu_msg *m,
		      struct vhu_msg *r)
{
	vhu_reply_u64(r, vu->nq);
	return 1;
}

int vhu_get_config(struct vdev_vhost_user *vu, struct vhu_msg *m,
		   struct vhu_msg *r)
{
	uint32_t off = m->p.config.offset;
	uint32_t len = m->p.config.size;

	memcpy(&r->p.config, &m->p.config, VHU_CONFIG_HDR_SIZE);
	if (vdev_config_read(vu->dev, off, r->p.config.data, len) < 0) {
		/* A failed read answers with an empty config payload. */
		r->p.config.size = 0;
		r->size = VHU_CONFIG_HDR_SIZE;
		return 1;
	}
	r->size = VHU_CONFIG_HDR_SIZE + len;
	return 1;
}

int vhu_set_config(struct vdev_vhost_user *vu, struct vhu_msg *m,
		   struct vhu_msg *r)
{
	uint32_t off = m->p.config.offset;
	uint32_t len = m->p.config.size;

	return vdev_config_write(vu->dev, off, m->p.config.data, len);
}

int vhu_reset_device(struct vdev_vhost_user *vu, struct vhu_msg *m,
		     struct vhu_msg *r)
{
	vhu_device_reset(vu);
	return 0;
}

int vhu_set_status(struct vdev_vhost_user *vu, struct vhu_msg *m,
		   struct vhu_msg *r)
{
	uint64_t v = vhu_u64(m);
	uint8_t cur, s;

	if (v > 0xff)
		return -EINVAL;
	if (v == 0) {
		vhu_device_reset(vu);
		return 0;
	}
	cur = vdev_get_status(vu->dev);
	/* DEVICE_NEEDS_RESET is the device's bit, not the frontend's. */
	s = ((uint8_t)v & ~VDEV_STATUS_DEVICE_NEEDS_RESET) |
	    (cur & VDEV_STATUS_DEVICE_NEEDS_RESET);
	/* QEMU sets FEATURES_OK and DRIVER_OK without ACKNOWLEDGE|DRIVER. */
	if (s & (VDEV_STATUS_FEATURES_OK | VDEV_STATUS_DRIVER_OK))
		s |= VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER;
	if (s == cur)
		return 0;
	return vdev_set_status(vu->dev, s);
}

int vhu_get_status(struct vdev_vhost_user *vu, struct vhu_msg *m,
		   struct vhu_msg *r)
{
	vhu_reply_u64(r, vdev_get_status(vu->dev));
	return 1;
}
