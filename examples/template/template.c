/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The template device, step by step. Read it top to bottom:
 *   1. the model's private state,
 *   2. feature negotiation,
 *   3. config space,
 *   4. the queue handler (where the device's work happens),
 *   5. lifecycle: start, reset, destroy,
 *   6. save/restore,
 *   7. the ops table and the constructor.
 *
 * Rules every model follows (device.h explains the why):
 *  - Everything in a request came from the guest: check lengths before
 *    using them; never trust the driver to have sized buffers right.
 *  - ops->handle runs on the queue's thread with the queue locked; other
 *    ops run on the control thread. Keep state per queue or lock it.
 *  - Never sleep or spin in ops->handle: return, and ask for another round
 *    with vdev_queue_schedule() when you can go on.
 */
#include "template.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <virtio/queue.h>
#include <virtio/state.h>

#define TPL_STATE_VERSION 1
#define TPL_TAG_SERVED VDEV_STATE_TAG('T', 'P', 'L', '0')
/* Most iovecs one request may use; a longer chain is completed empty by
 * the queue layer (vdev_queue_pop returns -EMSGSIZE). */
#define TPL_IOV_MAX 16

/* 1. Private state: whatever the device needs besides config space. */
struct tpl {
	uint32_t max_len;
	uint64_t served; /* touched by the queue thread only */
};

uint64_t tpl_served(struct vdev *dev)
{
	return ((struct tpl *)vdev_priv(dev))->served;
}

/*
 * 2. Feature negotiation. The core has already checked that every bit the
 * driver accepted was offered and that VERSION_1 is there. A model only
 * refuses combinations its spec forbids (e.g. a feature that depends on
 * another). The template's one feature stands alone, so this only shows
 * where such a check goes.
 */
static int tpl_features_ok(struct vdev *dev, uint64_t features)
{
	(void)dev;
	(void)features;
	return 0;
}

/*
 * 3. Config space. The core checked the range; the model decides what is
 * writable. Frontends write whole ranges: QEMU's vhost-user frontends send
 * the entire config space for one guest write, with every other field as
 * QEMU last read it, and a virtio-mmio/pci driver writes one field. So a
 * write may cover any fields, as long as it leaves the read-only ones
 * (max_len) as they are and covers the writable one (key) whole or not at
 * all. Returning 0 lets the core copy the bytes in; a negative errno
 * refuses the whole write. (A model that must compute its answer from
 * what was written, like virtio-input's select/subsel, applies the write
 * itself and returns VDEV_CONFIG_HANDLED: see device.h.) The core holds
 * the config lock around this call.
 */
static int tpl_config_write(struct vdev *dev, uint32_t offset,
			    const void *data, uint32_t len)
{
	const uint8_t *cur = vdev_config(dev), *in = data;
	const uint32_t key = offsetof(struct tpl_config, key);
	const uint32_t end = offset + len;

	for (uint32_t i = offset; i < end; i++) {
		bool in_key = i >= key && i < key + sizeof(vdev_le32);

		if (!in_key && in[i - offset] != cur[i])
			return -EPERM; /* a read-only field changed */
	}
	/* Part of the key only: the value would mix old and new bytes. */
	if (offset < key + sizeof(vdev_le32) && end > key &&
	    (offset > key || end < key + sizeof(vdev_le32)))
		return -EPERM;
	return 0;
}

/* Copies readable bytes into the writable part, XORing with @key. */
static uint32_t copy_xor(const struct vdev_req *req, uint8_t key)
{
	unsigned oi = 0, ii = 0;
	size_t ooff = 0, ioff = 0;
	uint32_t done = 0;

	while (oi < req->nout && ii < req->nin) {
		const uint8_t *src = (const uint8_t *)req->out[oi].iov_base +
				     ooff;
		uint8_t *dst = (uint8_t *)req->in[ii].iov_base + ioff;
		size_t n = req->out[oi].iov_len - ooff;

		if (n > req->in[ii].iov_len - ioff)
			n = req->in[ii].iov_len - ioff;
		for (size_t i = 0; i < n; i++)
			dst[i] = src[i] ^ key;
		done += (uint32_t)n;
		ooff += n;
		ioff += n;
		if (ooff == req->out[oi].iov_len) {
			oi++;
			ooff = 0;
		}
		if (ioff == req->in[ii].iov_len) {
			ii++;
			ioff = 0;
		}
	}
	return done;
}

/*
 * 4. The queue handler. The core calls it when the driver kicked (or the
 * model scheduled a round), with kick notifications already suppressed;
 * it re-enables them and calls again if buffers arrived meanwhile. The
 * handler pops until the ring is empty (-EAGAIN) or the round's budget is
 * spent (-EBUSY: the core schedules the next round), then notifies once.
 * -EIO means the driver wrote a malformed chain: stop; the core sets
 * DEVICE_NEEDS_RESET.
 */
static void tpl_handle(struct vdev *dev, unsigned qidx, struct vdev_queue *q)
{
	struct tpl *t = vdev_priv(dev);
	struct iovec iov[TPL_IOV_MAX];
	struct vdev_req req = { .iov = iov, .iov_max = TPL_IOV_MAX };
	uint8_t key = 0;
	bool pushed = false;

	(void)qidx; /* one queue: always 0 */
	/* The control thread may be writing config space right now: read
	 * the field whole, under the config lock. */
	if (vdev_has_feature(dev, TPL_F_XOR)) {
		vdev_le32 k;

		vdev_config_get(dev, offsetof(struct tpl_config, key), &k,
				sizeof(k));
		key = (uint8_t)vdev_le32_to_cpu(k);
	}
	for (;;) {
		uint32_t written = 0;
		int r = vdev_queue_pop(q, &req);

		if (r == -EMSGSIZE) {
			pushed = true; /* completed empty by the queue */
			continue;
		}
		if (r < 0)
			break;
		/* Guest input: a request over the advertised limit is
		 * answered with nothing written, as the device's spec
		 * would define. */
		if (req.out_bytes <= t->max_len)
			written = copy_xor(&req, key);
		vdev_queue_push(q, &req, written);
		t->served++;
		pushed = true;
	}
	if (pushed)
		vdev_queue_notify(q); /* one interrupt per batch at most */
}

/*
 * 5. Lifecycle. start: DRIVER_OK was set (open backends, arm timers,
 * vdev_watch_fd() the fds the queue thread must serve). reset: the driver
 * or transport reset the device: forget everything the driver set up.
 * Config fields the driver may write go back to their defaults too.
 */
static int tpl_start(struct vdev *dev)
{
	(void)dev;
	return 0;
}

static void tpl_reset(struct vdev *dev)
{
	struct tpl *t = vdev_priv(dev);
	struct tpl_config *cfg = vdev_config(dev);

	t->served = 0;
	vdev_config_lock(dev);
	cfg->key = vdev_cpu_to_le32(0);
	vdev_config_unlock(dev);
}

static void tpl_destroy(struct vdev *dev)
{
	free(vdev_priv(dev));
}

/*
 * 6. Save/restore. The core saves features, status, config space and the
 * queues; the model saves only its own state, in tagged sections, and
 * bumps TPL_STATE_VERSION when the meaning of a section changes (a reader
 * skips tags it does not know, so adding a section needs no bump). load()
 * validates what it reads: a blob can come from anywhere. The config
 * space stays the model's: load takes the fields the driver may write
 * (here `key`) from the saved bytes, everything else is what this device
 * says.
 */
static int tpl_save(struct vdev *dev, struct vdev_state_writer *w)
{
	struct tpl *t = vdev_priv(dev);

	return vdev_state_put_u64(w, TPL_TAG_SERVED, t->served);
}

static int tpl_load(struct vdev *dev, struct vdev_state_reader *r,
		    uint32_t version)
{
	struct tpl *t = vdev_priv(dev);
	struct tpl_config *cfg = vdev_config(dev), saved;
	const void *p;
	uint32_t len;
	uint64_t served;
	int ret = vdev_state_get_u64(r, TPL_TAG_SERVED, &served);

	(void)version; /* only one version so far */
	if (ret < 0)
		return ret == -ENOENT ? -EBADMSG : ret;
	p = vdev_state_config(r, &len);
	if (!p || len != sizeof(saved))
		return -EBADMSG;
	memcpy(&saved, p, sizeof(saved)); /* not aligned in the blob */
	t->served = served;
	cfg->key = saved.key;
	return 0;
}

/* 7. The ops table and the constructor. */
static const struct vdev_ops tpl_ops = {
	.features_ok = tpl_features_ok,
	.config_write = tpl_config_write,
	.start = tpl_start,
	.reset = tpl_reset,
	.handle = tpl_handle,
	.save = tpl_save,
	.load = tpl_load,
	.destroy = tpl_destroy,
};

struct vdev *tpl_new(const struct tpl_params *p)
{
	const struct vdev_info info = {
		.name = "template",
		.device_id = TPL_DEVICE_ID,
		.features = VDEV_BIT(TPL_F_XOR),
		.num_queues = 1,
		.max_queue_size = p && p->queue_size ? p->queue_size : 1024,
		.config_size = sizeof(struct tpl_config),
		.state_version = TPL_STATE_VERSION,
	};
	struct tpl_config *cfg;
	struct vdev *dev;
	struct tpl *t;

	if (p && p->max_len > TPL_MAX_LEN) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->max_len = p && p->max_len ? p->max_len : 4096;
	dev = vdev_new(&info, &tpl_ops, t);
	if (!dev) {
		free(t);
		return NULL;
	}
	/* Config space starts as the spec says; the core keeps it. */
	cfg = vdev_config(dev);
	cfg->max_len = vdev_cpu_to_le32(t->max_len);
	cfg->key = vdev_cpu_to_le32(0);
	return dev;
}
