/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The scripted source's moving parts: the replay of a script's events,
 * paced by their time stamps (a timerfd), and the control socket (a
 * listening UNIX stream socket whose clients send event lines and get the
 * guest's status events). Everything is watched on the eventq's thread;
 * the statusq's thread only writes status lines to the clients, under
 * the source's lock.
 *
 * Lock order: the eventq's lock, then src->lock, then the model's lock.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "input_internal.h"

#define CLIENTS_MAX 8

struct client {
	int fd;
	size_t n;
	char buf[INPUT_LINE_MAX + 1];
	struct input_stage stage;
};

struct input_src {
	struct vdev *dev;
	pthread_mutex_t lock;
	/* replay */
	struct input_script script;
	struct input_stage stage;
	int tfd;
	size_t next;
	uint64_t t0; /* monotonic µs at which script.ev[0] plays */
	/* control socket */
	int lfd;
	char *path;
	struct client *cl[CLIENTS_MAX];
};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Arms the timer for monotonic time @at µs (0: disarm). */
static void arm(struct input_src *s, uint64_t at)
{
	struct itimerspec its = { 0 };

	if (at) {
		its.it_value.tv_sec = (time_t)(at / 1000000u);
		its.it_value.tv_nsec = (long)(at % 1000000u) * 1000;
	}
	timerfd_settime(s->tfd, at ? TFD_TIMER_ABSTIME : 0, &its, NULL);
}

/* Plays from the start; src->lock held. */
static void replay(struct input_src *s)
{
	s->next = 0;
	s->stage.n = 0;
	s->stage.skip = false;
	s->t0 = now_us();
	arm(s, s->script.n ? s->t0 : 0);
}

static void timer_fired(void *arg, int fd, uint32_t events)
{
	struct input_src *s = arg;
	const struct input_timed_event *ev = s->script.ev;
	uint64_t exp, now = now_us(), base;
	bool queued = false;

	(void)events;
	if (read(fd, &exp, sizeof(exp)) != sizeof(exp))
		return; /* disarmed meanwhile */
	pthread_mutex_lock(&s->lock);
	base = s->script.n ? ev[0].us : 0;
	while (s->next < s->script.n &&
	       s->t0 + (ev[s->next].us - base) <= now) {
		const struct input_timed_event *e = &ev[s->next++];

		queued |= input_feed(s->dev, &s->stage, e->type, e->code,
				     e->value);
	}
	/* Time stamps that go backwards play at once. */
	if (s->next < s->script.n)
		arm(s, s->t0 + (ev[s->next].us > base ?
				ev[s->next].us - base : 0));
	pthread_mutex_unlock(&s->lock);
	if (queued)
		input_deliver_now(s->dev);
}

void input_src_start(struct input_src *s)
{
	pthread_mutex_lock(&s->lock);
	replay(s);
	pthread_mutex_unlock(&s->lock);
}

void input_src_stop(struct input_src *s)
{
	pthread_mutex_lock(&s->lock);
	s->next = s->script.n;
	arm(s, 0);
	pthread_mutex_unlock(&s->lock);
}

/* ---- control clients ------------------------------------------------- */

static void reply(int fd, const char *msg)
{
	/* Never blocks: a client that does not read loses replies. */
	(void)!send(fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void drop_client(struct input_src *s, unsigned i)
{
	vdev_unwatch_fd(s->dev, 0, s->cl[i]->fd);
	close(s->cl[i]->fd);
	free(s->cl[i]);
	s->cl[i] = NULL;
}

/* One line from client @c; src->lock held. True when a batch queued. */
static bool command(struct input_src *s, struct client *c, const char *l)
{
	struct input_timed_event e;
	struct vdev_input_stats st;
	char msg[192];

	while (*l == ' ' || *l == '\t')
		l++;
	if (!*l || *l == '#')
		return false;
	if (!strncmp(l, "E:", 2)) {
		if (input_parse_event(l, &e)) {
			reply(c->fd, "error: E: takes SEC.USEC TYPE CODE "
				     "VALUE\n");
			return false;
		}
		return input_feed(s->dev, &c->stage, e.type, e.code, e.value);
	}
	if (!strcmp(l, "P:")) {
		replay(s);
		return false;
	}
	if (!strcmp(l, "S:")) {
		vdev_input_get_stats(s->dev, &st);
		snprintf(msg, sizeof(msg),
			 "S: batches %" PRIu64 " events %" PRIu64
			 " dropped %" PRIu64 " dropped_events %" PRIu64
			 " status %" PRIu64 " bad_status %" PRIu64 "\n",
			 st.batches, st.events, st.dropped, st.dropped_events,
			 st.status, st.bad_status);
		reply(c->fd, msg);
		return false;
	}
	reply(c->fd, "error: unknown command (E:, P: or S:)\n");
	return false;
}

static void client_readable(void *arg, int fd, uint32_t events)
{
	struct input_src *s = arg;
	struct client *c = NULL;
	bool queued = false, gone = false;
	unsigned i;

	(void)events;
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < CLIENTS_MAX; i++)
		if (s->cl[i] && s->cl[i]->fd == fd) {
			c = s->cl[i];
			break;
		}
	/* A bounded amount per call: other sources get their turn. */
	for (int rounds = 0; c && !gone && rounds < 16; rounds++) {
		ssize_t r = recv(fd, c->buf + c->n, INPUT_LINE_MAX - c->n,
				 MSG_DONTWAIT);
		size_t start = 0;

		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (r <= 0) {
			gone = true;
			break;
		}
		c->n += (size_t)r;
		for (size_t k = 0; k < c->n; k++) {
			if (c->buf[k] != '\n' && c->buf[k])
				continue;
			if (!c->buf[k]) {
				reply(fd, "error: NUL byte\n");
				gone = true;
				break;
			}
			c->buf[k] = 0;
			if (k > start && c->buf[k - 1] == '\r')
				c->buf[k - 1] = 0;
			queued |= command(s, c, c->buf + start);
			start = k + 1;
		}
		if (gone)
			break;
		memmove(c->buf, c->buf + start, c->n - start);
		c->n -= start;
		if (c->n == INPUT_LINE_MAX) {
			reply(fd, "error: line too long\n");
			gone = true;
		}
	}
	if (c && gone)
		drop_client(s, i);
	pthread_mutex_unlock(&s->lock);
	if (queued)
		input_deliver_now(s->dev);
}

static void accept_client(void *arg, int fd, uint32_t events)
{
	struct input_src *s = arg;
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	unsigned i;

	(void)events;
	if (c < 0)
		return;
	pthread_mutex_lock(&s->lock);
	for (i = 0; i < CLIENTS_MAX && s->cl[i]; i++)
		;
	if (i < CLIENTS_MAX)
		s->cl[i] = calloc(1, sizeof(*s->cl[i]));
	if (i == CLIENTS_MAX || !s->cl[i]) {
		pthread_mutex_unlock(&s->lock);
		reply(c, "error: too many clients\n");
		close(c);
		return;
	}
	s->cl[i]->fd = c;
	if (vdev_watch_fd(s->dev, 0, c, POLLIN, client_readable, s) < 0) {
		free(s->cl[i]);
		s->cl[i] = NULL;
		close(c);
	}
	pthread_mutex_unlock(&s->lock);
}

void input_src_status(struct input_src *s, uint16_t type, uint16_t code,
		      int32_t value)
{
	char msg[64];

	snprintf(msg, sizeof(msg), "E: 0.000000 %04x %04x %d\n", type, code,
		 value);
	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < CLIENTS_MAX; i++)
		if (s->cl[i])
			reply(s->cl[i]->fd, msg);
	pthread_mutex_unlock(&s->lock);
}

static int listen_on(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	memcpy(a.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(fd, CLIENTS_MAX) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

struct input_src *input_src_new(struct vdev *dev, struct input_script *script,
				const char *path)
{
	struct input_src *s = calloc(1, sizeof(*s));
	int e;

	if (!s)
		return NULL;
	s->dev = dev;
	s->lfd = -1;
	pthread_mutex_init(&s->lock, NULL);
	s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->tfd < 0)
		goto fail;
	if (path) {
		s->lfd = listen_on(path);
		if (s->lfd < 0) {
			errno = -s->lfd;
			goto fail;
		}
		s->path = strdup(path);
		if (!s->path)
			goto fail;
	}
	s->script = *script;
	memset(script, 0, sizeof(*script));
	return s;
fail:
	e = errno;
	if (s->lfd >= 0) {
		close(s->lfd);
		unlink(path);
	}
	if (s->tfd >= 0)
		close(s->tfd);
	pthread_mutex_destroy(&s->lock);
	free(s);
	errno = e;
	return NULL;
}

int input_src_watch(struct input_src *s)
{
	int r = vdev_watch_fd(s->dev, 0, s->tfd, POLLIN, timer_fired, s);

	if (!r && s->lfd >= 0)
		r = vdev_watch_fd(s->dev, 0, s->lfd, POLLIN, accept_client, s);
	return r;
}

void input_src_free(struct input_src *s)
{
	vdev_unwatch_fd(s->dev, 0, s->tfd);
	close(s->tfd);
	if (s->lfd >= 0) {
		vdev_unwatch_fd(s->dev, 0, s->lfd);
		close(s->lfd);
		unlink(s->path);
	}
	for (unsigned i = 0; i < CLIENTS_MAX; i++)
		if (s->cl[i])
			drop_client(s, i);
	free(s->path);
	input_script_free(&s->script);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
