/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-sound I/O (5.14.6.8) and events (5.14.6.9).
 *
 * An I/O message is {le32 stream_id} + frames + {le32 status; le32
 * latency_bytes}: playback frames are device-readable after the header,
 * capture frames device-writable before the status. The device holds each
 * buffer until its period has been played or captured in real time:
 *
 *   due(k) = epoch + (bytes of buffers 0..k since epoch) / byte rate
 *
 * so completions never run ahead of the stream's rate, and lateness of
 * one wakeup does not shift the next (no drift). A running stream that
 * has nothing to play for more than a period underran: the epoch starts
 * again when buffers come back, and the driver gets PCM_XRUN (when it
 * asked for EVT_XRUNS). The backend takes (playback) or fills (capture)
 * the frames when the period is due; a backend that cannot (an ALSA PCM
 * whose buffer is full) is waited for on its poll fd, so a completion is
 * never earlier than both the clock and the backend allow.
 *
 * PCM_PERIOD_ELAPSED (a stream that negotiated EVT_SHMEM_PERIODS): the
 * spec defines it for the shared-memory transport, where nothing else
 * tells the driver that the device moved on; with messages, the
 * completion of a period-sized buffer is the notification (5.14.6.8), and
 * Linux ignores the event. A driver that asks for it anyway gets one each
 * time the stream's position crosses a period boundary, when the buffer
 * that holds the boundary completes (same clock, never early; late by at
 * most that buffer's tail when buffers are longer than a period). Like an
 * interrupt, it is not queued twice: while a stream's event waits for an
 * eventq buffer, further periods are counted (periods_coalesced) and told
 * by that one event, so a driver that does not feed the eventq costs at
 * most one ring slot per stream.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <virtio/iov.h>
#include <virtio/le.h>

#include "core/bytes.h"
#include "sound_int.h"

#define NSEC 1000000000ull
#define RETRY_NS 1000000ull /* a backend without a poll fd: retry soon */

uint64_t snd_now(struct snd_dev *snd)
{
	struct timespec ts;

	if (snd->cfg.clock)
		return snd->cfg.clock(snd->cfg.clock_arg);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

static uint64_t byte_rate(const struct snd_stream *s)
{
	return (uint64_t)s->frame_bytes * s->rate_hz;
}

/* ns that @bytes take at the stream's rate, rounded up (never early). */
static uint64_t bytes_ns(const struct snd_stream *s, uint64_t bytes)
{
	uint64_t br = byte_rate(s);

	/* bytes < 2 * br here (the epoch moves every second), br < 2^26:
	 * the product stays far below 2^64. */
	return (bytes * NSEC + br - 1) / br;
}

static void arm(struct snd_stream *s, uint64_t due, uint64_t now)
{
	uint64_t left = due > now ? due - now : 1;
	struct itimerspec its = {
		.it_value = { .tv_sec = (time_t)(left / NSEC),
			      .tv_nsec = (long)(left % NSEC) },
	};

	if (s->timer_armed && s->timer_due == due)
		return;
	if (timerfd_settime(s->tfd, 0, &its, NULL) == 0) {
		s->timer_armed = true;
		s->timer_due = due;
	}
}

void snd_timer_disarm(struct snd_stream *s)
{
	struct itimerspec its = { 0 };

	if (!s->timer_armed)
		return;
	timerfd_settime(s->tfd, 0, &its, NULL);
	s->timer_armed = false;
}

void snd_unwatch_poll(struct snd_stream *s)
{
	if (s->poll_watched) {
		vdev_unwatch_fd(s->snd->dev, s->qidx, s->poll_fd);
		s->poll_watched = false;
	}
}

static void watch_poll(struct snd_stream *s, uint64_t now)
{
	if (s->poll_fd < 0) {
		arm(s, now + RETRY_NS, now);
		return;
	}
	if (!s->poll_watched) {
		if (vdev_watch_fd(s->snd->dev, s->qidx, s->poll_fd,
				  s->poll_events, snd_io_poll, s) == 0)
			s->poll_watched = true;
		else
			arm(s, now + RETRY_NS, now);
	} else {
		vdev_watch_fd_events(s->snd->dev, s->qidx, s->poll_fd,
				     s->poll_events);
	}
}

void snd_event(struct snd_dev *snd, uint32_t type, uint32_t data)
{
	unsigned slot;

	if (snd->evq_count == SND_EVQ_MAX) {
		/* The driver does not take events: keep the newest. */
		if (snd->evq[snd->evq_head].type == SND_EVT_PCM_PERIOD_ELAPSED &&
		    snd->evq[snd->evq_head].data < snd->nstreams)
			snd->streams[snd->evq[snd->evq_head].data]
				.period_evt_queued = false;
		snd->evq_head = (snd->evq_head + 1) % SND_EVQ_MAX;
		snd->evq_count--;
		snd->stats.events_dropped++;
	}
	if (type == SND_EVT_PCM_XRUN)
		snd->stats.xruns++;
	slot = (snd->evq_head + snd->evq_count) % SND_EVQ_MAX;
	snd->evq[slot].type = type;
	snd->evq[slot].data = data;
	snd->evq_count++;
	vdev_queue_schedule(snd->dev, SND_Q_EVT);
}

void snd_periods_elapsed(struct snd_stream *s, uint32_t n)
{
	struct snd_dev *snd = s->snd;

	if (!n || !(s->features & (1u << SND_PCM_F_EVT_SHMEM_PERIODS)))
		return;
	if (s->period_evt_queued) {
		snd->stats.periods_coalesced += n;
		return;
	}
	s->period_evt_queued = true;
	snd->stats.periods_elapsed++;
	snd->stats.periods_coalesced += n - 1;
	snd_event(snd, SND_EVT_PCM_PERIOD_ELAPSED, s->id);
}

void snd_evt_handle(struct snd_dev *snd, struct vdev_queue *q)
{
	struct iovec iov[8];
	struct vdev_req req = { .iov = iov, .iov_max = 8 };
	bool pushed = false;

	while (snd->evq_count) {
		uint8_t ev[SND_EVENT_LEN];
		uint32_t t, d;
		int ret = vdev_queue_pop(q, &req);

		if (ret == -EMSGSIZE) {
			pushed = true;
			continue;
		}
		if (ret < 0)
			break;
		if (req.in_bytes < SND_EVENT_LEN) {
			vdev_queue_push(q, &req, 0); /* too small: unused */
			pushed = true;
			continue;
		}
		t = snd->evq[snd->evq_head].type;
		d = snd->evq[snd->evq_head].data;
		for (int i = 0; i < 4; i++) {
			ev[i] = (uint8_t)(t >> (8 * i));
			ev[4 + i] = (uint8_t)(d >> (8 * i));
		}
		vdev_iov_from_buf(req.in, req.nin, 0, ev, sizeof(ev));
		vdev_queue_push(q, &req, SND_EVENT_LEN);
		pushed = true;
		snd->stats.events++;
		if (t == SND_EVT_PCM_PERIOD_ELAPSED && d < snd->nstreams)
			snd->streams[d].period_evt_queued = false;
		snd->evq_head = (snd->evq_head + 1) % SND_EVQ_MAX;
		snd->evq_count--;
	}
	if (pushed)
		vdev_queue_notify(q);
}

static struct snd_io *io_get(struct snd_dev *snd)
{
	struct snd_io *io = snd->free_io;

	if (io) {
		snd->free_io = io->next;
		return io;
	}
	return malloc(sizeof(*io));
}

static void io_put(struct snd_dev *snd, struct snd_io *io)
{
	io->next = snd->free_io;
	snd->free_io = io;
}

/* Writes the status at the end of the writable part and returns the
 * buffer: every writable byte counts as written (capture frames were
 * filled or zeroed before). */
static void complete(struct snd_dev *snd, struct vdev_queue *q,
		     struct snd_io *io, uint32_t status, uint32_t latency)
{
	uint8_t st[SND_STATUS_LEN];

	for (int i = 0; i < 4; i++) {
		st[i] = (uint8_t)(status >> (8 * i));
		st[4 + i] = (uint8_t)(latency >> (8 * i));
	}
	vdev_iov_from_buf(io->req.in, io->req.nin,
			  io->req.in_bytes - SND_STATUS_LEN, st, sizeof(st));
	vdev_queue_push(q, &io->req, io->req.in_bytes);
	io_put(snd, io);
}

/* Takes the head buffer off @s. */
static struct snd_io *dequeue(struct snd_stream *s)
{
	struct snd_io *io = s->head;

	s->head = io->next;
	if (!s->head)
		s->tail = &s->head;
	s->pending--;
	s->pending_bytes -= io->len;
	return io;
}

static bool is_output(const struct snd_stream *s)
{
	return s->info.direction == VDEV_SND_D_OUTPUT;
}

/* The frames of @io as the backend sees them: playback reads after the
 * header, capture writes from the start of the writable part. With a
 * volume or switch set (CTLS), the frames go through a private chunk that
 * the gain is applied to: guest memory is never written for playback. */
long snd_be_io(struct snd_stream *s, struct snd_io *io)
{
	bool out = is_output(s);
	const struct iovec *iov = out ? io->req.out : io->req.in;
	unsigned n = out ? io->req.nout : io->req.nin;
	size_t off = (out ? SND_XFER_LEN : 0) + io->done;
	size_t len = io->len - io->done, chunk;
	uint8_t tmp[4096];
	struct iovec t;
	long r;

	if (snd_gain_identity(s))
		return s->be->io(s, iov, n, off, len);
	chunk = sizeof(tmp) - sizeof(tmp) % s->frame_bytes;
	if (len > chunk)
		len = chunk;
	t.iov_base = tmp;
	t.iov_len = len;
	if (out) {
		vdev_iov_to_buf(iov, n, off, tmp, len);
		snd_gain_apply(s, tmp, len);
		return s->be->io(s, &t, 1, 0, len);
	}
	r = s->be->io(s, &t, 1, 0, len);
	if (r > 0) {
		snd_gain_apply(s, tmp, (size_t)r);
		vdev_iov_from_buf(iov, n, off, tmp, (size_t)r);
	}
	return r;
}

static void finish(struct snd_stream *s, struct vdev_queue *q,
		   struct snd_io *io, uint32_t status)
{
	uint32_t lat = s->pending_bytes;

	if (s->be->delay && s->be_open)
		lat += s->be->delay(s);
	if (!is_output(s) && io->done < io->len)
		vdev_iov_memset(io->req.in, io->req.nin, io->done, 0,
				io->len - io->done);
	complete(s->snd, q, io, status, lat);
}

void snd_io_flush(struct snd_stream *s, struct vdev_queue *q,
		  uint32_t status)
{
	while (s->head) {
		struct snd_io *io = dequeue(s);

		finish(s, q, io, status);
	}
	s->epoch_bytes = 0;
}

void snd_io_kick(struct snd_stream *s)
{
	vdev_queue_schedule(s->snd->dev, s->qidx);
}

/* The backend is not waited for (no buffer it refused). */
static void poll_off(struct snd_stream *s)
{
	if (s->poll_watched && s->poll_events) {
		vdev_watch_fd_events(s->snd->dev, s->qidx, s->poll_fd, 0);
		s->poll_events = 0;
	}
}

/* Plays (or captures) what is due; returns true when it pushed. */
static bool service(struct snd_stream *s, struct vdev_queue *q)
{
	struct snd_dev *snd = s->snd;
	bool pushed = false, waiting = false;
	uint64_t now, wake = 0;

	if (s->releasing) {
		pushed = s->head != NULL;
		snd_io_flush(s, q, SND_S_OK);
		snd_timer_disarm(s);
		snd_unwatch_poll(s);
		if (!s->release_ready) {
			s->release_ready = true;
			vdev_queue_schedule(snd->dev, SND_Q_CTL);
		}
		return pushed;
	}
	if (s->state != SND_ST_PREPARED && s->state != SND_ST_RUNNING &&
	    s->state != SND_ST_STOPPED) {
		pushed = s->head != NULL;
		snd_io_flush(s, q, SND_S_BAD_MSG);
	}
	if (s->state != SND_ST_RUNNING) {
		snd_timer_disarm(s);
		snd_unwatch_poll(s);
		for (struct snd_io *io = s->head; io; io = io->next)
			io->due = 0; /* plays again from START on */
		return pushed;
	}
	now = snd_now(snd);
	/* Each buffer gets its due time as soon as it is held. */
	for (struct snd_io *io = s->head; io; io = io->next) {
		if (io->due)
			continue;
		if (now > s->epoch + bytes_ns(s, s->epoch_bytes) +
				  bytes_ns(s, s->period_bytes)) {
			/* Nothing was played for over a period. */
			s->epoch = now;
			s->epoch_bytes = 0;
		}
		/* Keep the products small: move the epoch by whole seconds. */
		while (s->epoch_bytes >= byte_rate(s)) {
			s->epoch += NSEC;
			s->epoch_bytes -= byte_rate(s);
		}
		s->epoch_bytes += io->len;
		io->due = s->epoch + bytes_ns(s, s->epoch_bytes);
		s->starved = false;
	}
	/* The backend takes the frames when they are due (a sink that
	 * queues, as ALSA does, up to s->lead_ns before). */
	for (struct snd_io *io = s->head; io; io = io->next) {
		uint64_t at = io->due > s->lead_ns ? io->due - s->lead_ns : 0;
		long r;

		if (io->done == io->len)
			continue;
		if (now < at) {
			if (!wake || at < wake)
				wake = at;
			break;
		}
		r = snd_be_io(s, io);
		if (r == -EAGAIN) {
			watch_poll(s, now);
			waiting = true;
			break;
		}
		if (r < 0) {
			io->err = true;
			io->done = io->len;
			continue;
		}
		io->done += (uint32_t)r;
		if (io->done < io->len)
			break; /* partial: this buffer again, soon */
	}
	if (!waiting)
		poll_off(s);
	while (s->head && s->head->done == s->head->len &&
	       now >= s->head->due) {
		struct snd_io *io = dequeue(s);
		uint32_t periods = 0;

		/* The stream's position moved on by the buffer. */
		s->period_acc += io->len;
		while (s->period_acc >= s->period_bytes) {
			s->period_acc -= s->period_bytes;
			periods++;
		}
		finish(s, q, io, io->err ? SND_S_IO_ERR : SND_S_OK);
		pushed = true;
		snd_periods_elapsed(s, periods);
	}
	if (s->head) {
		uint64_t at = s->head->due;

		if (s->head->done < s->head->len && wake && wake < at)
			at = wake;
		if (s->head->done < s->head->len && !wake && !waiting)
			at = now; /* a partial transfer: go on at once */
		if (!waiting || s->head->done == s->head->len)
			arm(s, at, now);
		return pushed;
	}
	/* Nothing left to play: an underrun once a period has passed. */
	if (!s->starved) {
		uint64_t gap_end = s->epoch + bytes_ns(s, s->epoch_bytes) +
				   bytes_ns(s, s->period_bytes);

		if (now > gap_end) {
			s->starved = true;
			if (s->features & (1u << SND_PCM_F_EVT_XRUNS))
				snd_event(snd, SND_EVT_PCM_XRUN, s->id);
			snd_timer_disarm(s);
		} else {
			arm(s, gap_end + 1, now);
		}
	}
	return pushed;
}

/* Reads the stream id of a new buffer and queues it, or completes it at
 * once when it is malformed or comes at the wrong time. */
static bool take(struct snd_dev *snd, unsigned qidx, struct vdev_queue *q,
		 struct snd_io *io)
{
	uint8_t hdr[SND_XFER_LEN];
	struct snd_stream *s;
	uint32_t sid, len;

	if (io->req.in_bytes < SND_STATUS_LEN) {
		/* No room for a status: nothing can be said. */
		vdev_queue_push(q, &io->req, 0);
		io_put(snd, io);
		return true;
	}
	io->len = 0;
	io->done = 0;
	io->due = 0;
	io->err = false;
	if (vdev_iov_to_buf(io->req.out, io->req.nout, 0, hdr, sizeof(hdr)) <
	    sizeof(hdr))
		goto bad;
	sid = get_le32(hdr);
	if (sid >= snd->nstreams)
		goto bad;
	s = &snd->streams[sid];
	if (s->qidx != qidx || s->releasing)
		goto bad;
	if (s->state != SND_ST_PREPARED && s->state != SND_ST_RUNNING &&
	    s->state != SND_ST_STOPPED)
		goto bad;
	if (is_output(s)) {
		/* The writable part is the status, nothing else. */
		if (io->req.in_bytes != SND_STATUS_LEN)
			goto bad;
		len = io->req.out_bytes - SND_XFER_LEN;
	} else {
		if (io->req.out_bytes != SND_XFER_LEN)
			goto bad;
		len = io->req.in_bytes - SND_STATUS_LEN;
	}
	/* Whole frames, at most the buffer the driver set. */
	if (!len || len % s->frame_bytes || len > s->buffer_bytes)
		goto bad;
	io->len = len;
	io->next = NULL;
	*s->tail = io;
	s->tail = &io->next;
	s->pending++;
	s->pending_bytes += len;
	return false;
bad:
	/* Nothing was captured: the writable bytes before the status are
	 * zeroed rather than left as the driver had them. */
	vdev_iov_memset(io->req.in, io->req.nin, 0, 0,
			io->req.in_bytes - SND_STATUS_LEN);
	complete(snd, q, io, SND_S_BAD_MSG, 0);
	return true;
}

void snd_io_handle(struct snd_dev *snd, unsigned qidx, struct vdev_queue *q)
{
	bool pushed = false;

	for (;;) {
		struct snd_io *io = io_get(snd);
		int ret;

		if (!io)
			break; /* no memory: the buffers wait in the ring */
		io->req = (struct vdev_req){ .iov = io->iov,
					     .iov_max = SND_IOV_MAX };
		ret = vdev_queue_pop(q, &io->req);
		if (ret == -EMSGSIZE) {
			io_put(snd, io);
			pushed = true;
			continue;
		}
		if (ret < 0) {
			io_put(snd, io);
			break;
		}
		pushed |= take(snd, qidx, q, io);
	}
	for (unsigned i = 0; i < snd->nstreams; i++)
		if (snd->streams[i].qidx == qidx)
			pushed |= service(&snd->streams[i], q);
	if (pushed)
		vdev_queue_notify(q);
}

void snd_io_timer(void *arg, int fd, uint32_t events)
{
	struct snd_stream *s = arg;
	struct snd_dev *snd = s->snd;
	uint64_t v;

	(void)events;
	if (read(fd, &v, sizeof(v)) < 0) {
		/* disarmed meanwhile */
	}
	pthread_mutex_lock(&snd->lock);
	s->timer_armed = false;
	if (service(s, vdev_get_queue(snd->dev, s->qidx)))
		vdev_queue_notify(vdev_get_queue(snd->dev, s->qidx));
	pthread_mutex_unlock(&snd->lock);
}

void snd_io_poll(void *arg, int fd, uint32_t events)
{
	struct snd_stream *s = arg;
	struct snd_dev *snd = s->snd;

	(void)fd;
	(void)events;
	pthread_mutex_lock(&snd->lock);
	if (service(s, vdev_get_queue(snd->dev, s->qidx)))
		vdev_queue_notify(vdev_get_queue(snd->dev, s->qidx));
	pthread_mutex_unlock(&snd->lock);
}
