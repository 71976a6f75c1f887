/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The NBD engine: an image served by an NBD server (qemu-nbd, nbdkit, a
 * remote machine), through libnbd. This is how formats other than raw
 * reach the devices: the server understands qcow2, vmdk, ...; we speak
 * NBD to it.
 *
 * One connection per image (qemu-nbd accepts one client unless told
 * otherwise, and writes on one connection are not ordered against
 * another's flush without multi-conn). The queue threads issue commands
 * straight into libnbd, which is thread-safe; one thread per image runs
 * the connection (poll, then nbd_aio_notify_*), and the completion
 * callbacks it runs post each finished request to its queue. A request
 * becomes one command per iovec segment (libnbd has no vectored read),
 * so no data is copied; segments an export cannot take (lengths that are
 * not multiples of its minimum block size) are bounced.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "storage/storage_internal.h"
#include "core/thread.h"

#if STG_WITH_NBD
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <libnbd.h>

/* Commands never carry more than this (the NBD protocol's default largest
 * request; trim and zero have no payload but 32-bit lengths). */
#define NBD_XFER_MAX (32u << 20)
#define NBD_OP_MAX (1u << 30)

struct stg_nbd {
	struct nbd_handle *h;
	pthread_t thread;
	bool started;
	int wake;             /* eventfd: a queue issued commands */
	atomic_bool stop;
};

static void *run(void *arg)
{
	struct stg_image *img = arg;
	struct stg_nbd *n = img->nbd;
	bool dead = false;

	while (!atomic_load(&n->stop)) {
		struct pollfd p[2] = { { .fd = -1 },
				       { .fd = n->wake, .events = POLLIN } };
		uint64_t v;

		if (!dead) {
			unsigned dir = nbd_aio_get_direction(n->h);

			p[0].fd = nbd_aio_get_fd(n->h);
			if (dir & LIBNBD_AIO_DIRECTION_READ)
				p[0].events |= POLLIN;
			if (dir & LIBNBD_AIO_DIRECTION_WRITE)
				p[0].events |= POLLOUT;
		}
		if (poll(p, 2, -1) < 0)
			continue;
		if (p[1].revents && read(n->wake, &v, sizeof(v)) < 0) {
			/* EAGAIN: woken already */
		}
		if (dead || p[0].fd < 0)
			continue;
		/* Errors end commands through their callbacks (ENOTCONN). */
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR))
			nbd_aio_notify_read(n->h);
		else if (p[0].revents & POLLOUT)
			nbd_aio_notify_write(n->h);
		if (nbd_aio_is_dead(n->h) || nbd_aio_is_closed(n->h)) {
			vdev_log(VDEV_LOG_ERROR,
				 "%s: the NBD connection to %s is gone: %s",
				 img->who, img->name, nbd_get_error());
			dead = true;
		}
	}
	return NULL;
}

static void wake(struct stg_nbd *n)
{
	uint64_t one = 1;

	if (write(n->wake, &one, sizeof(one)) < 0) {
		/* EAGAIN: a wakeup is pending */
	}
}

static int nbd_err(void)
{
	int e = nbd_get_errno();

	return e ? -e : -EIO;
}

int stg_nbd_open(struct stg_image *img, const struct stg_open_opts *o)
{
	struct stg_nbd *n = calloc(1, sizeof(*n));
	int64_t size, minb, maxb;
	int ret;

	if (!n)
		return -ENOMEM;
	img->nbd = n;
	n->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (n->wake < 0)
		return -errno;
	n->h = nbd_create();
	if (!n->h)
		return nbd_err();
	if (nbd_connect_uri(n->h, o->nbd_uri) < 0) {
		ret = nbd_err();
		vdev_log(VDEV_LOG_ERROR, "%s: cannot connect to %s: %s",
			 o->who, o->nbd_uri, nbd_get_error());
		return ret;
	}
	size = nbd_get_size(n->h);
	if (size < 0)
		return nbd_err();
	if (nbd_is_read_only(n->h) > 0 && !o->read_only) {
		vdev_log(VDEV_LOG_ERROR,
			 "%s: the NBD export %s is read-only: serve it "
			 "read-only",
			 o->who, o->nbd_uri);
		return -EROFS;
	}
	img->block_size = o->block_size ? o->block_size : 512;
	minb = nbd_get_block_size(n->h, LIBNBD_SIZE_MINIMUM);
	maxb = nbd_get_block_size(n->h, LIBNBD_SIZE_MAXIMUM);
	if (minb > (int64_t)img->block_size) {
		vdev_log(VDEV_LOG_ERROR,
			 "%s: the NBD export %s needs %lld-byte blocks",
			 o->who, o->nbd_uri, (long long)minb);
		return -EINVAL;
	}
	img->mem_align = 1;
	img->len_align = minb > 1 ? (uint32_t)minb : 1;
	img->max_xfer = maxb > 0 && maxb < NBD_XFER_MAX ? (uint32_t)maxb
							: NBD_XFER_MAX;
	img->phys_block = img->block_size;
	img->size = (uint64_t)size & ~(uint64_t)(img->block_size - 1);
	if (!img->size)
		return -EINVAL;
	img->can_flush = nbd_can_flush(n->h) > 0;
	img->can_fua = nbd_can_fua(n->h) > 0;
	img->can_discard = nbd_can_trim(n->h) > 0;
	img->can_zero = nbd_can_zero(n->h) > 0;
	img->zero_unmaps = img->can_zero;
	img->id = stg_fnv(0, o->nbd_uri, strlen(o->nbd_uri));
	/* No process signals here (core/thread.h). */
	ret = vcore_thread_create(&n->thread, run, img);
	if (ret)
		return ret;
	n->started = true;
	return 0;
}

void stg_nbd_close(struct stg_image *img)
{
	struct stg_nbd *n = img->nbd;

	if (!n)
		return;
	if (n->started) {
		atomic_store(&n->stop, true);
		wake(n);
		pthread_join(n->thread, NULL);
	}
	if (n->h) {
		nbd_shutdown(n->h, 0);
		nbd_close(n->h);
	}
	if (n->wake >= 0)
		close(n->wake);
	free(n);
	img->nbd = NULL;
}

static void fail_part(struct stg_req *r, int err)
{
	int zero = 0;

	atomic_compare_exchange_strong(&r->perr, &zero, err);
}

static void part_done(struct stg_req *r)
{
	if (atomic_fetch_sub_explicit(&r->parts, 1, memory_order_acq_rel) == 1)
		stg_post(r->q, r);
}

/* libnbd's completion callback, on the connection's thread (or wherever
 * libnbd ends a command when the connection dies). */
static int cmd_done(void *user_data, int *error)
{
	struct stg_req *r = user_data;

	if (*error)
		fail_part(r, -*error);
	part_done(r);
	return 1;
}

/* The parts counter holds one extra while commands are issued, so that
 * early completions cannot post the request before the last is out. */
static void begin(struct stg_queue *q, struct stg_req *r)
{
	r->state = STG_S_REMOTE;
	atomic_store_explicit(&r->parts, 1, memory_order_relaxed);
}

/* The commands of @r are issued. One that did not fit the socket at once
 * waits for POLLOUT, which the connection's thread only polls for once
 * woken; then the guard goes, and with it maybe the request. */
static void end(struct stg_req *r)
{
	struct stg_nbd *n = r->img->nbd;

	if (nbd_aio_get_direction(n->h) & LIBNBD_AIO_DIRECTION_WRITE)
		wake(n);
	part_done(r);
}

/* Counted before it is issued: its reply may come before the call
 * returns. */
static void issuing(struct stg_req *r)
{
	atomic_fetch_add_explicit(&r->parts, 1, memory_order_relaxed);
}

static void issued(struct stg_req *r, int64_t cookie)
{
	if (cookie >= 0)
		return;
	fail_part(r, nbd_err()); /* no callback comes */
	atomic_fetch_sub_explicit(&r->parts, 1, memory_order_relaxed);
}

void stg_nbd_xfer(struct stg_queue *q, struct stg_req *r)
{
	struct stg_image *img = r->img;
	struct nbd_handle *h = img->nbd->h;
	nbd_completion_callback cb = { .callback = cmd_done, .user_data = r };
	bool wr = r->op != STG_READ;
	uint32_t fl = wr && (r->flags & STG_FUA) && img->can_fua
			      ? LIBNBD_CMD_FLAG_FUA
			      : 0;
	uint64_t off = r->coff, left = r->cleft;

	begin(q, r);
	for (int i = 0; i < r->ncur && left; i++) {
		uint8_t *p = r->cur[i].iov_base;
		uint64_t seg = r->cur[i].iov_len < left ? r->cur[i].iov_len
							: left;

		while (seg) {
			uint64_t n = seg < img->max_xfer ? seg : img->max_xfer;
			int64_t c;

			/* Hold the request back once one part failed. */
			if (atomic_load_explicit(&r->perr,
						 memory_order_relaxed))
				goto out;
			issuing(r);
			c = wr ? nbd_aio_pwrite(h, p, n, off, cb, fl)
			       : nbd_aio_pread(h, p, n, off, cb, 0);
			issued(r, c);
			p += n;
			off += n;
			seg -= n;
			left -= n;
		}
	}
out:
	r->cleft = 0;
	end(r);
}

/* The zero block WRITE_ZEROES falls back to on exports without it, for
 * 512- and 4096-byte blocks (only ever read). */
static uint8_t zero_block[4096];
static struct iovec zero_iov[2] = { { zero_block, 512 },
				    { zero_block, 4096 } };

void stg_nbd_op(struct stg_queue *q, struct stg_req *r)
{
	struct stg_image *img = r->img;
	struct nbd_handle *h = img->nbd->h;
	nbd_completion_callback cb = { .callback = cmd_done, .user_data = r };
	uint64_t off = r->off, left = r->len;

	if (r->op == STG_FLUSH || r->fua_flush) {
		if (!img->can_flush) {
			stg_finish(q, r, 0); /* nothing to make durable */
			return;
		}
		begin(q, r);
		issuing(r);
		issued(r, nbd_aio_flush(h, cb, 0));
		end(r);
		return;
	}
	if (r->op == STG_DISCARD && !img->can_discard) {
		stg_finish(q, r, 0); /* a hint */
		return;
	}
	if (r->op == STG_WRITE_ZEROES && !img->can_zero) {
		/* Written out, through a bounce slot full of zeroes. */
		r->op = STG_WRITE_SAME;
		r->iov = &zero_iov[img->block_size == 4096];
		r->iovcnt = 1;
		stg_bounce_start(q, r);
		return;
	}
	begin(q, r);
	while (left && !atomic_load_explicit(&r->perr, memory_order_relaxed)) {
		uint64_t n = left < NBD_OP_MAX ? left : NBD_OP_MAX;
		uint32_t fl = 0;
		int64_t c;

		issuing(r);
		if (r->op == STG_DISCARD) {
			c = nbd_aio_trim(h, n, off, cb, 0);
		} else {
			if (!(r->flags & STG_UNMAP))
				fl |= LIBNBD_CMD_FLAG_NO_HOLE;
			if ((r->flags & STG_FUA) && img->can_fua)
				fl |= LIBNBD_CMD_FLAG_FUA;
			c = nbd_aio_zero(h, n, off, cb, fl);
		}
		issued(r, c);
		off += n;
		left -= n;
	}
	end(r);
}

#else /* !STG_WITH_NBD */

int stg_nbd_open(struct stg_image *img, const struct stg_open_opts *o)
{
	vdev_log(VDEV_LOG_ERROR,
		 "%s: this build of libvdev has no NBD support (libnbd)",
		 o->who);
	return -ENOTSUP;
}

void stg_nbd_close(struct stg_image *img)
{
}

void stg_nbd_xfer(struct stg_queue *q, struct stg_req *r)
{
	stg_finish(q, r, -ENOTSUP);
}

void stg_nbd_op(struct stg_queue *q, struct stg_req *r)
{
	stg_finish(q, r, -ENOTSUP);
}


#endif
