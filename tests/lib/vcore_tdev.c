/* SPDX-License-Identifier: BSD-3-Clause */
#include "vcore_tdev.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <virtio/queue.h>
#include <virtio/state.h>
#include <virtio/transport.h>

#define TDEV_TAG VDEV_STATE_TAG('T', 'D', 'V', '0')

static uint32_t echo(struct vdev_req *req)
{
	uint32_t done = 0;
	unsigned oi = 0, ii = 0;
	size_t ooff = 0, ioff = 0;

	while (oi < req->nout && ii < req->nin) {
		size_t n = req->out[oi].iov_len - ooff;

		if (n > req->in[ii].iov_len - ioff)
			n = req->in[ii].iov_len - ioff;
		memcpy((uint8_t *)req->in[ii].iov_base + ioff,
		       (uint8_t *)req->out[oi].iov_base + ooff, n);
		ooff += n;
		ioff += n;
		done += (uint32_t)n;
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

static void handle(struct vdev *dev, unsigned qidx, struct vdev_queue *q)
{
	if (((struct tdev *)vdev_priv(dev))->reenter)
		((struct tdev *)vdev_priv(dev))->reenter_handle =
			vdev_vq_stop(dev, qidx, NULL);
	struct tdev *t = vdev_priv(dev);
	struct iovec iov[8];
	struct vdev_req req = { .iov = iov, .iov_max = 8 };
	bool pushed = false;

	t->handles[qidx]++;
	if (t->wait)
		return;
	for (;;) {
		struct vdev_req *r = &req;

		if (t->defer) {
			if (t->nheld == TDEV_HELD_MAX)
				break;
			r = &t->held[t->nheld];
			r->iov = t->iov[t->nheld];
			r->iov_max = 8;
		}
		if (vdev_queue_pop(q, r) < 0)
			break;
		t->pops[qidx]++;
		if (t->defer) {
			t->held_q[t->nheld] = qidx;
			/* Tests poll it from another thread. */
			__atomic_store_n(&t->nheld, t->nheld + 1,
					 __ATOMIC_RELEASE);
			continue;
		}
		/* Shared by the queues, whose workers may be threads of
		 * their own (vhost-user, one per queue). */
		__atomic_store_n(&t->last_push_ret,
				 vdev_queue_push(q, r, echo(r)),
				 __ATOMIC_RELAXED);
		__atomic_fetch_add(&t->completed, 1, __ATOMIC_RELAXED);
		pushed = true;
	}
	if (pushed)
		vdev_queue_notify(q);
}

unsigned tdev_complete(struct tdev *t)
{
	unsigned n = t->nheld;

	for (unsigned i = 0; i < n; i++) {
		struct vdev_queue *q = vdev_get_queue(t->dev, t->held_q[i]);

		t->last_push_ret = vdev_queue_push(q, &t->held[i],
						   echo(&t->held[i]));
		vdev_queue_notify(q);
		t->completed++;
	}
	t->nheld = 0;
	return n;
}

void tdev_signal_done(struct tdev *t)
{
	uint64_t one = 1;

	if (write(t->done_fd, &one, sizeof(one)) < 0)
		abort();
}

static void done_cb(void *arg, int fd, uint32_t events)
{
	struct tdev *t = arg;
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* spurious */
	}
	tdev_complete(t);
}

static void drain(struct vdev *dev, unsigned qidx, struct vdev_queue *q)
{
	struct tdev *t = vdev_priv(dev);
	unsigned keep = 0;

	t->drains[qidx]++;
	if (t->drain == TDEV_DRAIN_NONE)
		return;
	/* Only this queue's requests: the others keep running. */
	for (unsigned i = 0; i < t->nheld; i++) {
		if (t->held_q[i] != qidx) {
			if (keep != i) {
				struct vdev_req *r = &t->held[keep];

				memcpy(t->iov[keep], t->iov[i],
				       sizeof(t->iov[i]));
				*r = t->held[i];
				r->iov = r->out = t->iov[keep];
				r->in = r->iov + r->nout;
				t->held_q[keep] = t->held_q[i];
			}
			keep++;
			continue;
		}
		t->last_push_ret = vdev_queue_push(q, &t->held[i],
			t->drain == TDEV_DRAIN_COMPLETE ? echo(&t->held[i]) :
							  0);
		t->completed++;
	}
	t->nheld = keep;
	vdev_queue_notify(q);
}

static int start(struct vdev *dev)
{
	struct tdev *t = vdev_priv(dev);

	t->starts++;
	t->watch_ret = vdev_watch_fd(dev, 0, t->done_fd, POLLIN, done_cb, t);
	if (t->watch_ret == -EEXIST)
		t->watch_ret = 0;
	return 0;
}

static void reset(struct vdev *dev)
{
	struct tdev *t = vdev_priv(dev);

	t->resets++;
	t->counter = 0;
	if (t->reenter)
		t->reenter_reset = vdev_vq_reset(dev, 0);
}

static int save(struct vdev *dev, struct vdev_state_writer *w)
{
	struct tdev *t = vdev_priv(dev);

	return vdev_state_put_u64(w, TDEV_TAG, t->counter);
}

static int load(struct vdev *dev, struct vdev_state_reader *r,
		uint32_t version)
{
	struct tdev *t = vdev_priv(dev);

	t->loads++;
	return vdev_state_get_u64(r, TDEV_TAG, &t->counter);
}

static int config_write(struct vdev *dev, uint32_t off, const void *d,
			uint32_t len)
{
	return off == 4 && len == 4 ? 0 : -EPERM;
}

static void destroy(struct vdev *dev)
{
	struct tdev *t = vdev_priv(dev);

	vdev_unwatch_fd(dev, 0, t->done_fd);
	close(t->done_fd);
}

static const struct vdev_ops tdev_ops = {
	.config_write = config_write,
	.start = start,
	.reset = reset,
	.drain = drain,
	.handle = handle,
	.save = save,
	.load = load,
	.destroy = destroy,
};

struct vdev *tdev_new(struct tdev *t, unsigned nq, uint16_t max_size,
		      uint32_t state_version)
{
	struct vdev_info info = {
		.name = "tdev",
		.device_id = TDEV_ID,
		.features = VDEV_BIT(TDEV_F_X),
		.num_queues = nq,
		.max_queue_size = max_size,
		.config_size = 8,
		.state_version = state_version,
	};

	memset(t, 0, sizeof(*t));
	t->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (t->done_fd < 0)
		return NULL;
	t->dev = vdev_new(&info, &tdev_ops, t);
	if (!t->dev)
		close(t->done_fd);
	return t->dev;
}
