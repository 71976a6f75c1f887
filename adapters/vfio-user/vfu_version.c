/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * VERSION negotiation: protocol 0.x, capabilities as JSON. The client's
 * JSON is parsed with json-c when the library has it; the reply is
 * written by hand (fixed keys, numbers only), so it does not need json-c.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "adapters/vfio-user/vfu_internal.h"
#include "vdev_build_config.h"

#if VDEV_WITH_JSONC_FOUND
#include <json-c/json.h>

/* Reads an optional non-negative integer capability. */
static int cap_u32(struct json_object *caps, const char *key, uint32_t *out)
{
	struct json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(caps, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return -EINVAL;
	n = json_object_get_int64(v);
	if (n < 0 || n > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)n;
	return 0;
}

static int parse_caps(struct vdev_vfio_user *s, const char *json)
{
	struct json_object *root, *caps;
	int r = 0;

	root = json_tokener_parse(json);
	if (!root || !json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		return -EINVAL;
	}
	if (json_object_object_get_ex(root, "capabilities", &caps)) {
		if (!json_object_is_type(caps, json_type_object)) {
			r = -EINVAL;
		} else {
			r = cap_u32(caps, "max_msg_fds", &s->client_max_fds);
			if (!r)
				r = cap_u32(caps, "max_data_xfer_size",
					    &s->client_max_xfer);
			/* "migration", "twin_socket", "write_multiple":
			 * not offered back, so the client will not use
			 * them. */
		}
	}
	json_object_put(root);
	return r;
}
#else
static int parse_caps(struct vdev_vfio_user *s, const char *json)
{
	/* Built without json-c: the client's capabilities are ignored and
	 * the protocol defaults assumed (we never send fds or DMA
	 * messages, so nothing depends on them). */
	(void)s;
	(void)json;
	return 0;
}
#endif

int vfu_h_version(struct vdev_vfio_user *s, struct vfu_msg *m,
		  struct vfu_reply *r)
{
	struct vfu_version v;
	char json[256];
	int n, e;

	memcpy(&v, m->body, sizeof(v));
	if (v.major != VFU_VERSION_MAJOR)
		return -ENOTSUP;
	s->client_max_fds = 1;
	s->client_max_xfer = VFU_XFER_DEFAULT;
	if (m->len > sizeof(v)) {
		e = parse_caps(s, (const char *)m->body + sizeof(v));
		if (e)
			return e;
	}
	s->minor = v.minor < VFU_VERSION_MINOR ? v.minor : VFU_VERSION_MINOR;
	n = snprintf(json, sizeof(json),
		     "{\"capabilities\":{\"max_msg_fds\":%u,"
		     "\"max_data_xfer_size\":%u,\"max_dma_maps\":%u,"
		     "\"pgsizes\":4096}}",
		     VFU_MAX_FDS, s->max_xfer, VFU_MAX_DMA);
	e = vfu_reply_alloc(r, (uint32_t)(sizeof(v) + n + 1));
	if (e)
		return e;
	v.minor = s->minor;
	memcpy(r->body, &v, sizeof(v));
	memcpy(r->body + sizeof(v), json, (size_t)n + 1);
	s->version_done = true;
	vdev_log(VDEV_LOG_INFO, "vfio-user %s: negotiated protocol %u.%u, "
		 "client: %u fds, %u bytes per transfer",
		 vdev_get_info(s->dev)->name, VFU_VERSION_MAJOR, s->minor,
		 s->client_max_fds, s->client_max_xfer);
	return 0;
}
