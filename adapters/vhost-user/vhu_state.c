/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Device state transfer (SET_DEVICE_STATE_FD, CHECK_DEVICE_STATE) through
 * the frontend's pipe. The frontend reads (save) or writes (load) the pipe
 * only after our reply, so the transfer itself runs on a short-lived
 * thread; CHECK_DEVICE_STATE joins it and, for a load, applies the state
 * with vdev_restore() on the control thread.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <virtio/transport.h>

#include "core/thread.h"
#include "peer/peer_io.h"
#include "vhu_internal.h"

/* A state blob larger than this is refused on load. */
#define VHU_STATE_MAX (64u << 20)

/* How long a cancelled transfer thread may take to notice. It never
 * blocks on the frontend's fd, so this is only ever a backstop. */
#define VHU_XFER_CANCEL_MS 1000

/*
 * One transfer. The thread works only on this, never on the adapter, so
 * that a thread which outlives its deadline can be detached: the last of
 * the two references (the thread's, the adapter's) frees it.
 */
struct vhu_xfer {
	int fd;        /* the frontend's pipe (or whatever it passed) */
	int kind;      /* enum vpeer_kind of fd */
	int cancel;    /* eventfd: makes the thread give up */
	uint32_t dir;
	int err;
	void *buf;
	size_t len;
	pthread_t thread;
	unsigned refs;
};

static void xfer_put(struct vhu_xfer *x)
{
	if (__atomic_sub_fetch(&x->refs, 1, __ATOMIC_ACQ_REL))
		return;
	if (x->fd >= 0)
		close(x->fd);
	if (x->cancel >= 0)
		close(x->cancel);
	free(x->buf);
	free(x);
}

static int xfer_save(struct vhu_xfer *x)
{
	size_t done = 0;

	while (done < x->len) {
		int r = vpeer_wait(x->fd, POLLOUT, UINT64_MAX, x->cancel);
		ssize_t n;

		if (r < 0)
			return r;
		n = vpeer_write(x->fd, x->kind, (uint8_t *)x->buf + done,
				x->len - done);
		if (n == -EAGAIN)
			continue;
		if (n <= 0)
			return n < 0 ? (int)n : -EPIPE;
		done += (size_t)n;
	}
	return 0;
}

static int xfer_load(struct vhu_xfer *x)
{
	size_t cap = 0;

	for (;;) {
		ssize_t n;
		int r;

		if (x->len == cap) {
			size_t ncap = cap ? 2 * cap : 4096;
			void *nb;

			if (ncap > VHU_STATE_MAX)
				return -EFBIG;
			nb = realloc(x->buf, ncap);
			if (!nb)
				return -ENOMEM;
			x->buf = nb;
			cap = ncap;
		}
		r = vpeer_wait(x->fd, POLLIN, UINT64_MAX, x->cancel);
		if (r < 0)
			return r;
		n = vpeer_read(x->fd, x->kind, (uint8_t *)x->buf + x->len,
			       cap - x->len);
		if (n == -EAGAIN)
			continue;
		if (n < 0)
			return (int)n;
		if (n == 0)
			return 0;
		x->len += (size_t)n;
	}
}

/*
 * The transfer itself. It waits for the frontend as long as the adapter
 * lets it (the cancel eventfd), but never blocks in a read or write: a
 * pipe, a socket with SO_RCVLOWAT raised or a full buffer costs it a
 * wait it can be called back from, not the thread.
 */
static void *xfer_main(void *arg)
{
	struct vhu_xfer *x = arg;
	sigset_t pipe_sig;
	int err;

	/* A frontend that closes its end mid-save must cost it the
	 * transfer (EPIPE), not kill a process that did not ignore SIGPIPE. */
	sigemptyset(&pipe_sig);
	sigaddset(&pipe_sig, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_sig, NULL);
	err = x->dir == VHU_STATE_SAVE ? xfer_save(x) : xfer_load(x);
	/* Closing our end is the end-of-transfer mark for a save. */
	close(x->fd);
	x->fd = -1;
	x->err = err;
	xfer_put(x);
	return NULL;
}

/*
 * Ends the transfer thread: waits for it until @deadline, then cancels it
 * and gives it VHU_XFER_CANCEL_MS more. 0 when it ended by itself,
 * -ETIMEDOUT when it had to be cancelled, -EDEADLK when it did not even
 * end then (it is detached and frees its own part; the adapter moves on).
 * The adapter's reference is kept in every case but the last.
 */
static int xfer_end(struct vdev_vhost_user *vu, uint64_t deadline)
{
	struct vhu_xfer *x = vu->xfer;
	uint64_t one = 1;

	if (vpeer_join(x->thread, deadline) == 0)
		return 0;
	if (write(x->cancel, &one, sizeof(one)) < 0)
		vdev_log(VDEV_LOG_WARN, "vhost-user: cancel: %s",
			 strerror(errno));
	if (vpeer_join(x->thread, vpeer_deadline(VHU_XFER_CANCEL_MS)) == 0)
		return -ETIMEDOUT;
	vdev_log(VDEV_LOG_ERROR,
		 "vhost-user: state transfer thread did not stop; leaving it");
	pthread_detach(x->thread);
	vu->xfer = NULL;
	xfer_put(x);
	return -EDEADLK;
}

static int xfer_join(struct vdev_vhost_user *vu)
{
	struct vhu_xfer *x = vu->xfer;
	int err;

	if (!x)
		return -EPROTO;
	/* By CHECK_DEVICE_STATE the frontend has closed its end (load) or
	 * read to the end (save), so the thread is finishing. One that
	 * kept the pipe open must not hold the control thread forever. */
	err = xfer_end(vu, vpeer_deadline(vhu_stall_timeout_ms));
	if (err == -EDEADLK)
		return -ETIMEDOUT;
	if (!err)
		err = x->err;
	if (!err && x->dir == VHU_STATE_LOAD) {
		err = vdev_restore(vu->dev, x->buf, x->len);
		if (!err) {
			/* The frontend sets the rings up again; the queues
			 * wait stopped, features already agreed. */
			for (unsigned i = 0; i < vu->nq; i++)
				vdev_vq_stop(vu->dev, i, NULL);
			vu->features_set = true;
		}
	}
	vu->xfer = NULL;
	xfer_put(x);
	return err;
}

void vhu_state_cancel(struct vdev_vhost_user *vu)
{
	if (!vu->xfer)
		return;
	/* A transfer that is not checked is dropped, never applied. */
	if (xfer_end(vu, vpeer_now_ns()) != -EDEADLK) {
		xfer_put(vu->xfer);
		vu->xfer = NULL;
	}
}

/* A new transfer on @fd (taken over), for @buf/@len (taken over). */
static int xfer_start(struct vdev_vhost_user *vu, uint32_t dir, int fd,
		      void *buf, size_t len)
{
	struct vhu_xfer *x = calloc(1, sizeof(*x));
	int kind = vpeer_kind(fd);

	if (!x || kind < 0) {
		free(x);
		free(buf);
		close(fd);
		return kind < 0 ? kind : -ENOMEM;
	}
	*x = (struct vhu_xfer){ .fd = fd, .kind = kind, .dir = dir,
				.buf = buf, .len = len, .refs = 2 };
	x->cancel = eventfd(0, EFD_CLOEXEC);
	if (x->cancel < 0 || vcore_thread_create(&x->thread, xfer_main, x)) {
		x->refs = 1;
		xfer_put(x);
		return -EAGAIN;
	}
	vu->xfer = x;
	return 0;
}

int vhu_set_device_state_fd(struct vdev_vhost_user *vu, struct vhu_msg *m,
			    struct vhu_msg *r)
{
	uint32_t dir = m->p.dstate.direction;
	uint32_t phase = m->p.dstate.phase;
	void *buf = NULL;
	size_t len = 0;
	uint64_t code = 0;
	int ret = 0;

	vhu_state_cancel(vu);
	if ((dir != VHU_STATE_SAVE && dir != VHU_STATE_LOAD) || phase != 0)
		ret = -EINVAL;
	else if (vhu_any_ring_started(vu))
		ret = -EBUSY;
	if (!ret && dir == VHU_STATE_SAVE)
		ret = vdev_save(vu->dev, &buf, &len);
	if (!ret)
		ret = xfer_start(vu, dir, vhu_msg_take_fd(m, 0), buf, len);
	if (ret)
		code = (uint64_t)-ret & 0xff;
	/* Bit 8: no back-end fd follows; the frontend's pipe is used. */
	vhu_reply_u64(r, code | 0x100);
	return 1;
}

int vhu_check_device_state(struct vdev_vhost_user *vu, struct vhu_msg *m,
			   struct vhu_msg *r)
{
	int ret = xfer_join(vu);

	/* Any non-zero low byte is a failure. */
	vhu_reply_u64(r, ret ? ((uint64_t)-ret & 0xff) | 1 : 0);
	return 1;
}
