/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-rng (virtio 1.2 section 5.4).
 *
 * One request queue. Each chain's device-writable part is filled with
 * bytes from the host source; device-readable descriptors carry nothing
 * for this device and are ignored (5.4.6.1 lets the device write fewer
 * bytes than offered).
 *
 * Rate limit: a period of period_ms starts with the first byte handed out
 * after the previous period ended; at most max_bytes go out in it. When the
 * budget is spent the handler stops popping (requests wait in the ring) and
 * arms a timerfd for the end of the period; the timer, watched on the
 * queue's thread, asks the core for another round. The handler never
 * sleeps and the device never spins.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <virtio/rng.h>
#include <virtio/state.h>
#include "core/sized.h"

#define RNG_STATE_VERSION 1u
#define RNG_TAG VDEV_STATE_TAG('R', 'N', 'G', '0')
#define RNG_IOV_MAX 64
#define NSEC_PER_MSEC 1000000ull

struct rng {
	int fd;
	bool regular;  /* a file: pread from pos, wrap at its end */
	uint64_t pos;
	uint64_t max_bytes;
	uint64_t period_ns;
	uint64_t used;          /* bytes handed out in this period */
	uint64_t period_start;  /* CLOCK_MONOTONIC ns */
	bool in_period;
	int tfd;
	bool timer_armed;
	bool warned;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Bytes that may go out now (UINT64_MAX when unlimited). */
static uint64_t budget(struct rng *r, uint64_t now)
{
	if (!r->max_bytes)
		return UINT64_MAX;
	if (!r->in_period || now - r->period_start >= r->period_ns) {
		r->in_period = true;
		r->period_start = now;
		r->used = 0;
	}
	return r->used < r->max_bytes ? r->max_bytes - r->used : 0;
}

static void timer_fired(void *arg, int fd, uint32_t events)
{
	struct vdev *dev = arg;
	struct rng *r = vdev_priv(dev);
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0) {
		/* spurious: the timer was disarmed meanwhile */
	}
	r->timer_armed = false;
	vdev_queue_schedule(dev, 0);
}

static void arm_timer(struct rng *r, uint64_t now)
{
	uint64_t end = r->period_start + r->period_ns;
	uint64_t left = end > now ? end - now : 1;
	struct itimerspec its = {
		.it_value = { .tv_sec = left / 1000000000ull,
			      .tv_nsec = left % 1000000000ull },
	};

	if (r->timer_armed)
		return;
	if (timerfd_settime(r->tfd, 0, &its, NULL) == 0)
		r->timer_armed = true;
}

/* Fills [base, base + len) from the source; returns bytes written. */
static size_t fill(struct rng *r, uint8_t *base, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n;

		if (r->regular) {
			n = pread(r->fd, base + done, len - done,
				  (off_t)r->pos);
			if (n == 0) {
				if (r->pos == 0)
					break; /* the file became empty */
				r->pos = 0;
				continue;
			}
		} else {
			n = read(r->fd, base + done, len - done);
			if (n == 0)
				break;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && !r->warned) {
				vdev_log(VDEV_LOG_WARN, "rng: source: %s",
					 strerror(errno));
				r->warned = true;
			}
			break;
		}
		if (r->regular)
			r->pos += (uint64_t)n;
		done += (size_t)n;
	}
	return done;
}

static void rng_handle(struct vdev *dev, unsigned qidx, struct vdev_queue *q)
{
	struct rng *r = vdev_priv(dev);
	struct iovec iov[RNG_IOV_MAX];
	struct vdev_req req = { .iov = iov, .iov_max = RNG_IOV_MAX };
	bool pushed = false;

	for (;;) {
		uint64_t now = now_ns();
		uint64_t avail = budget(r, now);
		uint64_t want, got = 0;
		int ret;

		if (!avail) {
			arm_timer(r, now);
			break;
		}
		ret = vdev_queue_pop(q, &req);
		if (ret == -EMSGSIZE) {
			pushed = true; /* completed empty by the queue */
			continue;
		}
		if (ret < 0)
			break; /* empty, budget spent, or broken */
		want = req.in_bytes < avail ? req.in_bytes : avail;
		for (unsigned i = 0; i < req.nin && got < want; i++) {
			size_t len = req.in[i].iov_len;
			size_t n;

			if (len > want - got)
				len = (size_t)(want - got);
			n = fill(r, req.in[i].iov_base, len);
			got += n;
			if (n < len)
				break;
		}
		if (r->max_bytes)
			r->used += got;
		vdev_queue_push(q, &req, (uint32_t)got);
		pushed = true;
	}
	if (pushed)
		vdev_queue_notify(q);
}

static void disarm(struct rng *r)
{
	struct itimerspec its = { 0 };

	timerfd_settime(r->tfd, 0, &its, NULL);
	r->timer_armed = false;
}

static void rng_reset(struct vdev *dev)
{
	struct rng *r = vdev_priv(dev);

	/* The source position is host state and is kept: a reset never
	 * replays bytes the driver already saw. */
	disarm(r);
	r->in_period = false;
	r->used = 0;
}

/* State: le64 bytes used in the period, le64 ns elapsed in it (or
 * UINT64_MAX when no period runs), le64 source position. */
static int rng_save(struct vdev *dev, struct vdev_state_writer *w)
{
	struct rng *r = vdev_priv(dev);
	uint64_t now = now_ns();
	uint64_t v[3];
	uint8_t b[24];

	v[0] = r->used;
	v[1] = r->in_period ? now - r->period_start : UINT64_MAX;
	v[2] = r->pos;
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 8; j++)
			b[i * 8 + j] = (uint8_t)(v[i] >> (8 * j));
	return vdev_state_put(w, RNG_TAG, b, sizeof(b));
}

static int rng_load(struct vdev *dev, struct vdev_state_reader *rd,
		    uint32_t version)
{
	struct rng *r = vdev_priv(dev);
	const uint8_t *b;
	uint64_t v[3] = { 0 };
	uint32_t len;

	b = vdev_state_get(rd, RNG_TAG, &len);
	if (!b)
		return 0; /* a blob without rng state: start fresh */
	if (len != 24)
		return -EBADMSG;
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 8; j++)
			v[i] |= (uint64_t)b[i * 8 + j] << (8 * j);
	r->used = v[0];
	if (r->max_bytes && v[1] != UINT64_MAX && v[1] < r->period_ns) {
		r->in_period = true;
		r->period_start = now_ns() - v[1];
	} else {
		r->in_period = false;
		r->used = 0;
	}
	/* The position is the peer's: one pread cannot take (negative as
	 * off_t) would fail every read from now on. Past the end of the
	 * file is fine: fill() wraps it. */
	if (r->regular)
		r->pos = v[2] <= INT64_MAX ? v[2] : 0;
	return 0;
}

static void rng_destroy(struct vdev *dev)
{
	struct rng *r = vdev_priv(dev);

	vdev_unwatch_fd(dev, 0, r->tfd);
	close(r->tfd);
	close(r->fd);
	free(r);
}

static const struct vdev_ops rng_ops = {
	.reset = rng_reset,
	.handle = rng_handle,
	.save = rng_save,
	.load = rng_load,
	.destroy = rng_destroy,
};

static struct vdev *rng_new_cfg(const struct vdev_rng_config *cfg)
{
	const char *src = cfg && cfg->source ? cfg->source : "/dev/urandom";
	struct vdev_info info = {
		.name = "rng",
		.device_id = VDEV_ID_RNG,
		.num_queues = 1,
		.max_queue_size = cfg && cfg->queue_size ? cfg->queue_size :
							   1024,
		.state_version = RNG_STATE_VERSION,
	};
	struct stat st;
	struct rng *r;
	struct vdev *dev;
	int err;

	if (cfg && cfg->max_bytes && !cfg->period_ms) {
		errno = EINVAL;
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->tfd = -1;
	r->fd = open(src, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (r->fd < 0)
		goto fail;
	if (fstat(r->fd, &st) < 0)
		goto fail;
	if (S_ISDIR(st.st_mode)) {
		errno = EISDIR; /* opens, but every read would fail */
		goto fail;
	}
	r->regular = S_ISREG(st.st_mode);
	if (r->regular && st.st_size == 0) {
		errno = EINVAL; /* nothing to hand out, ever */
		goto fail;
	}
	if (cfg) {
		r->max_bytes = cfg->max_bytes;
		r->period_ns = (uint64_t)cfg->period_ms * NSEC_PER_MSEC;
	}
	r->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (r->tfd < 0)
		goto fail;
	dev = vdev_new(&info, &rng_ops, r);
	if (!dev)
		goto fail;
	/* Watched from the start: the core registers it with whatever
	 * watcher serves queue 0, now or later. */
	err = vdev_watch_fd(dev, 0, r->tfd, POLLIN, timer_fired, dev);
	if (err < 0) {
		vdev_free(dev); /* destroy closes and frees */
		errno = -err;
		return NULL;
	}
	return dev;
fail:
	err = errno;
	if (r->tfd >= 0)
		close(r->tfd);
	if (r->fd >= 0)
		close(r->fd);
	free(r);
	errno = err;
	return NULL;
}

/* The caller's config at the size it was compiled with (api.h). */
struct vdev *(vdev_rng_new)(const struct vdev_rng_config *cfg, size_t size)
{
	struct vdev_rng_config c;
	struct vdev *dev;
	int e;

	if (cfg && !VSIZED_IN(c, cfg, size))
		return NULL;
	dev = rng_new_cfg(cfg ? &c : NULL);
	e = errno;
	errno = e;
	return dev;
}
