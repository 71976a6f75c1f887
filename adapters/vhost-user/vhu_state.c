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

#include "vhu_internal.h"

/* A state blob larger than this is refused on load. */
#define VHU_STATE_MAX (64u << 20)

/* Waits until the pipe is ready or the transfer is cancelled. */
static int xfer_wait(struct vdev_vhost_user *vu, short ev)
{
	struct pollfd p[2] = {
		{ .fd = vu->xfer_fd, .events = ev },
		{ .fd = vu->xfer_cancel, .events = POLLIN },
	};

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[1].revents)
			return -ECANCELED;
		return 0;
	}
}

static void *xfer_main(void *arg)
{
	struct vdev_vhost_user *vu = arg;
	sigset_t pipe_sig;
	int err = 0;

	/* A frontend that closes its end mid-save must cost it the
	 * transfer (EPIPE), not kill a process that did not ignore
	 * SIGPIPE: write() raises it on this thread, which blocks it. */
	sigemptyset(&pipe_sig);
	sigaddset(&pipe_sig, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_sig, NULL);
	if (vu->xfer_dir == VHU_STATE_SAVE) {
		size_t done = 0;

		while (done < vu->xfer_len) {
			err = xfer_wait(vu, POLLOUT);
			if (err)
				break;
			ssize_t n = write(vu->xfer_fd,
					  (uint8_t *)vu->xfer_buf + done,
					  vu->xfer_len - done);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				err = n < 0 ? -errno : -EPIPE;
				break;
			}
			done += (size_t)n;
		}
	} else {
		size_t cap = 0;

		for (;;) {
			if (vu->xfer_len == cap) {
				size_t ncap = cap ? 2 * cap : 4096;
				void *nb;

				if (ncap > VHU_STATE_MAX) {
					err = -EFBIG;
					break;
				}
				nb = realloc(vu->xfer_buf, ncap);
				if (!nb) {
					err = -ENOMEM;
					break;
				}
				vu->xfer_buf = nb;
				cap = ncap;
			}
			err = xfer_wait(vu, POLLIN);
			if (err)
				break;
			ssize_t n = read(vu->xfer_fd,
					 (uint8_t *)vu->xfer_buf + vu->xfer_len,
					 cap - vu->xfer_len);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				err = -errno;
			if (n <= 0)
				break;
			vu->xfer_len += (size_t)n;
		}
	}
	/* Closing our end is the end-of-transfer mark for a save. */
	close(vu->xfer_fd);
	vu->xfer_fd = -1;
	vu->xfer_err = err;
	return NULL;
}

static int xfer_join(struct vdev_vhost_user *vu)
{
	struct timespec until;
	uint64_t one = 1;
	int err;

	if (!vu->xfer_active)
		return -EPROTO;
	/* By CHECK_DEVICE_STATE the frontend has closed its end (load) or
	 * read to the end (save), so the thread is finishing. One that
	 * kept the pipe open must not hold the control thread forever. */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += vhu_stall_timeout_ms / 1000;
	until.tv_nsec += (long)(vhu_stall_timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	if (pthread_timedjoin_np(vu->xfer_thread, NULL, &until) != 0) {
		if (write(vu->xfer_cancel, &one, sizeof(one)) < 0)
			vdev_log(VDEV_LOG_WARN, "vhost-user: cancel: %s",
				 strerror(errno));
		pthread_join(vu->xfer_thread, NULL);
		vu->xfer_err = -ETIMEDOUT;
	}
	close(vu->xfer_cancel);
	vu->xfer_cancel = -1;
	vu->xfer_active = false;
	err = vu->xfer_err;
	if (!err && vu->xfer_dir == VHU_STATE_LOAD) {
		err = vdev_restore(vu->dev, vu->xfer_buf, vu->xfer_len);
		if (!err) {
			/* The frontend sets the rings up again; the queues
			 * wait stopped, features already agreed. */
			for (unsigned i = 0; i < vu->nq; i++)
				vdev_vq_stop(vu->dev, i, NULL);
			vu->features_set = true;
		}
	}
	free(vu->xfer_buf);
	vu->xfer_buf = NULL;
	vu->xfer_len = 0;
	return err;
}

void vhu_state_cancel(struct vdev_vhost_user *vu)
{
	uint64_t one = 1;

	if (!vu->xfer_active)
		return;
	/* A transfer that is not checked is dropped, never applied. */
	if (write(vu->xfer_cancel, &one, sizeof(one)) < 0)
		vdev_log(VDEV_LOG_WARN, "vhost-user: cancel: %s",
			 strerror(errno));
	pthread_join(vu->xfer_thread, NULL);
	close(vu->xfer_cancel);
	vu->xfer_cancel = -1;
	vu->xfer_active = false;
	free(vu->xfer_buf);
	vu->xfer_buf = NULL;
	vu->xfer_len = 0;
}

int vhu_set_device_state_fd(struct vdev_vhost_user *vu, struct vhu_msg *m,
			    struct vhu_msg *r)
{
	uint32_t dir = vdev_le32_to_cpu(m->p.dstate.direction);
	uint32_t phase = vdev_le32_to_cpu(m->p.dstate.phase);
	uint64_t code = 0;
	int ret = 0;

	vhu_state_cancel(vu);
	if ((dir != VHU_STATE_SAVE && dir != VHU_STATE_LOAD) || phase != 0)
		ret = -EINVAL;
	else if (vhu_any_ring_started(vu))
		ret = -EBUSY;
	if (!ret && dir == VHU_STATE_SAVE)
		ret = vdev_save(vu->dev, &vu->xfer_buf, &vu->xfer_len);
	if (!ret) {
		vu->xfer_dir = dir;
		vu->xfer_err = 0;
		vu->xfer_fd = vhu_msg_take_fd(m, 0);
		vu->xfer_cancel = eventfd(0, EFD_CLOEXEC);
		if (vu->xfer_cancel < 0 ||
		    pthread_create(&vu->xfer_thread, NULL, xfer_main, vu)) {
			close(vu->xfer_fd);
			vu->xfer_fd = -1;
			if (vu->xfer_cancel >= 0)
				close(vu->xfer_cancel);
			vu->xfer_cancel = -1;
			ret = -EAGAIN;
		} else {
			vu->xfer_active = true;
		}
	}
	if (ret) {
		free(vu->xfer_buf);
		vu->xfer_buf = NULL;
		vu->xfer_len = 0;
		code = (uint64_t)-ret & 0xff;
	}
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
