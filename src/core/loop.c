/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A small epoll loop (loop.h).
 *
 * Each watched fd has an entry whose address is the epoll cookie. Deleting
 * an fd only marks its entry dead and parks it on a list that the loop
 * thread frees after it has finished the batch of events it is working
 * on, so a callback may delete any fd (its own included) and a stale event
 * for a deleted (or deleted and re-added) fd is never delivered.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <virtio/loop.h>

#define LOOP_MAX_EVENTS 64

struct loop_entry {
	struct loop_entry *next;
	int fd;
	uint32_t events;
	vdev_event_fn fn;
	void *arg;
	bool dead;
};

struct vdev_loop {
	int epfd;
	int stopfd;
	int stop; /* __atomic: set from signal handlers and other threads */
	pthread_mutex_t lock;
	struct loop_entry *live;
	struct loop_entry *zombies;
};

struct vdev_loop *vdev_loop_new(void)
{
	struct vdev_loop *loop = calloc(1, sizeof(*loop));
	struct epoll_event ev = { .events = EPOLLIN };
	int err;

	if (!loop)
		return NULL;
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	loop->stopfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (loop->epfd < 0 || loop->stopfd < 0)
		goto fail;
	ev.data.ptr = loop; /* the stop fd's cookie is the loop itself */
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, loop->stopfd, &ev) < 0)
		goto fail;
	pthread_mutex_init(&loop->lock, NULL);
	return loop;
fail:
	err = errno;
	if (loop->epfd >= 0)
		close(loop->epfd);
	if (loop->stopfd >= 0)
		close(loop->stopfd);
	free(loop);
	errno = err;
	return NULL;
}

static void free_list(struct loop_entry *e)
{
	while (e) {
		struct loop_entry *next = e->next;

		free(e);
		e = next;
	}
}

void vdev_loop_free(struct vdev_loop *loop)
{
	if (!loop)
		return;
	free_list(loop->live);
	free_list(loop->zombies);
	close(loop->epfd);
	close(loop->stopfd);
	pthread_mutex_destroy(&loop->lock);
	free(loop);
}

static struct loop_entry *find_live(struct vdev_loop *loop, int fd)
{
	for (struct loop_entry *e = loop->live; e; e = e->next)
		if (e->fd == fd)
			return e;
	return NULL;
}

int vdev_loop_add(struct vdev_loop *loop, int fd, uint32_t events,
		  vdev_event_fn fn, void *arg)
{
	struct epoll_event ev = { .events = events };
	struct loop_entry *e;
	int r = 0;

	if (!loop || fd < 0 || !fn)
		return -EINVAL;
	pthread_mutex_lock(&loop->lock);
	if (find_live(loop, fd)) {
		r = -EEXIST;
		goto out;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		r = -ENOMEM;
		goto out;
	}
	e->fd = fd;
	e->events = events;
	e->fn = fn;
	e->arg = arg;
	ev.data.ptr = e;
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		r = -errno;
		free(e);
		goto out;
	}
	e->next = loop->live;
	loop->live = e;
out:
	pthread_mutex_unlock(&loop->lock);
	return r;
}

int vdev_loop_mod(struct vdev_loop *loop, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events };
	struct loop_entry *e;
	int r = 0;

	if (!loop)
		return -EINVAL;
	pthread_mutex_lock(&loop->lock);
	e = find_live(loop, fd);
	if (!e) {
		r = -ENOENT;
	} else {
		ev.data.ptr = e;
		if (epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ev) < 0)
			r = -errno;
		else
			e->events = events;
	}
	pthread_mutex_unlock(&loop->lock);
	return r;
}

int vdev_loop_del(struct vdev_loop *loop, int fd)
{
	struct loop_entry **pe, *e;
	int r = -ENOENT;

	if (!loop)
		return -EINVAL;
	pthread_mutex_lock(&loop->lock);
	for (pe = &loop->live; (e = *pe); pe = &e->next) {
		if (e->fd != fd)
			continue;
		/* EBADF: the caller closed the fd first, epoll forgot it. */
		epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
		*pe = e->next;
		e->dead = true;
		e->next = loop->zombies;
		loop->zombies = e;
		r = 0;
		break;
	}
	pthread_mutex_unlock(&loop->lock);
	return r;
}

int vdev_loop_fd(const struct vdev_loop *loop)
{
	return loop->epfd;
}

static bool stopped(const struct vdev_loop *loop)
{
	return __atomic_load_n(&loop->stop, __ATOMIC_ACQUIRE);
}

int vdev_loop_run_once(struct vdev_loop *loop, int timeout_ms)
{
	struct epoll_event evs[LOOP_MAX_EVENTS];
	struct loop_entry *z;
	int n, ran = 0;

	if (stopped(loop))
		return -ECANCELED;
	n = epoll_wait(loop->epfd, evs, LOOP_MAX_EVENTS, timeout_ms);
	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		struct loop_entry *e = evs[i].data.ptr;
		vdev_event_fn fn;
		void *arg;
		int fd;

		if (stopped(loop))
			break;
		if (evs[i].data.ptr == loop)
			continue;
		pthread_mutex_lock(&loop->lock);
		if (e->dead) {
			pthread_mutex_unlock(&loop->lock);
			continue;
		}
		fn = e->fn;
		arg = e->arg;
		fd = e->fd;
		pthread_mutex_unlock(&loop->lock);
		fn(arg, fd, evs[i].events);
		ran++;
	}
	/* Nothing of this batch refers to a zombie any more. */
	pthread_mutex_lock(&loop->lock);
	z = loop->zombies;
	loop->zombies = NULL;
	pthread_mutex_unlock(&loop->lock);
	free_list(z);
	if (stopped(loop))
		return -ECANCELED;
	return ran;
}

int vdev_loop_run(struct vdev_loop *loop)
{
	uint64_t v;
	int r;

	for (;;) {
		r = vdev_loop_run_once(loop, -1);
		if (r == -ECANCELED)
			break;
		if (r < 0 && r != -EINTR)
			return r;
	}
	/* Consumed: the loop can be run again. */
	__atomic_store_n(&loop->stop, 0, __ATOMIC_RELEASE);
	if (read(loop->stopfd, &v, sizeof(v)) < 0) {
		/* already drained */
	}
	return 0;
}

void vdev_loop_stop(struct vdev_loop *loop)
{
	uint64_t one = 1;

	/* A lock-free atomic store and write(2): async-signal-safe. */
	__atomic_store_n(&loop->stop, 1, __ATOMIC_RELEASE);
	if (write(loop->stopfd, &one, sizeof(one)) < 0) {
		/* counter saturated: a wakeup is pending anyway */
	}
}

static int watcher_add(void *opaque, int fd, uint32_t events,
		       vdev_event_fn fn, void *arg)
{
	return vdev_loop_add(opaque, fd, events, fn, arg);
}

static int watcher_del(void *opaque, int fd)
{
	return vdev_loop_del(opaque, fd);
}

void vdev_loop_watcher(struct vdev_loop *loop, struct vdev_watcher *w)
{
	w->add = watcher_add;
	w->del = watcher_del;
	w->opaque = loop;
}
