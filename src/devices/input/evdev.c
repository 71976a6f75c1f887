/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * evdev passthrough: a host /dev/input/eventN as the device's source.
 * Its capabilities are read once (name, uniq as the serial, ids,
 * properties, the code bitmap of every type, every axis range, so a
 * multitouch device keeps its slots: ABS_MT_SLOT's range); its events are
 * read on the eventq's thread; the guest's LED and sound events go back
 * to it. Only those two types go back: anything else written to an evdev
 * node is injected into the host's input stack (a guest must not type on
 * the host's keyboard).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "input_internal.h"

struct input_evdev {
	int fd;
	bool grabbed;
	struct vdev *dev;
	struct input_stage stage;
};

static int read_caps(int fd, struct vdev_input_caps *c)
{
	struct input_id id;
	uint8_t types[VDEV_INPUT_BITS] = { 0 };

	memset(c, 0, sizeof(*c));
	if (ioctl(fd, EVIOCGID, &id) < 0)
		return -errno; /* ENOTTY: not an evdev node */
	c->bustype = id.bustype;
	c->vendor = id.vendor;
	c->product = id.product;
	c->version = id.version;
	/* Optional ones: a device may have no name, uniq or properties. */
	if (ioctl(fd, EVIOCGNAME(VDEV_INPUT_STR_MAX), c->name) < 0)
		c->name[0] = 0;
	if (ioctl(fd, EVIOCGUNIQ(VDEV_INPUT_STR_MAX), c->serial) < 0)
		c->serial[0] = 0;
	c->name[VDEV_INPUT_STR_MAX] = c->serial[VDEV_INPUT_STR_MAX] = 0;
	if (ioctl(fd, EVIOCGPROP(VDEV_INPUT_BITS), c->props) < 0)
		memset(c->props, 0, sizeof(c->props));
	if (ioctl(fd, EVIOCGBIT(0, sizeof(types)), types) < 0)
		return -errno;
	for (unsigned t = 1; t < VDEV_INPUT_EV_CNT; t++) {
		if (!(types[t / 8] & (1u << (t % 8))))
			continue;
		if (ioctl(fd, EVIOCGBIT(t, VDEV_INPUT_BITS), c->bits[t]) < 0)
			return -errno;
	}
	for (unsigned a = 0; a < VDEV_INPUT_ABS_CNT; a++) {
		struct input_absinfo ai;

		if (!(c->bits[EV_ABS][a / 8] & (1u << (a % 8))))
			continue;
		if (ioctl(fd, EVIOCGABS(a), &ai) < 0)
			return -errno;
		c->abs[a] = (struct vdev_input_absinfo){
			ai.minimum, ai.maximum, ai.fuzz, ai.flat,
			ai.resolution };
	}
	return 0;
}

struct input_evdev *input_evdev_open(const char *path, bool grab,
				     struct vdev_input_caps *caps)
{
	struct input_evdev *e = calloc(1, sizeof(*e));
	int r;

	if (!e)
		return NULL;
	e->fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (e->fd < 0 && (errno == EACCES || errno == EROFS))
		e->fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (e->fd < 0) {
		r = -errno;
		goto fail;
	}
	r = read_caps(e->fd, caps);
	if (r)
		goto fail;
	if (grab) {
		if (ioctl(e->fd, EVIOCGRAB, 1) < 0) {
			r = -errno;
			goto fail;
		}
		e->grabbed = true;
	}
	return e;
fail:
	if (e->fd >= 0)
		close(e->fd);
	free(e);
	errno = -r;
	return NULL;
}

static void readable(void *arg, int fd, uint32_t events)
{
	struct input_evdev *e = arg;
	struct input_event ev[64];
	bool queued = false;

	(void)events;
	/* A bounded amount per call: evdev hands whole events only. */
	for (int round = 0; round < 8; round++) {
		ssize_t r = read(fd, ev, sizeof(ev));

		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			break;
		if (r <= 0) {
			/* ENODEV: unplugged. The guest keeps a device that
			 * sends nothing more. */
			vdev_log(VDEV_LOG_WARN, "input: evdev gone (%s)",
				 r ? strerror(errno) : "end of file");
			vdev_unwatch_fd(e->dev, 0, fd);
			break;
		}
		for (size_t i = 0; i < (size_t)r / sizeof(ev[0]); i++)
			queued |= input_feed(e->dev, &e->stage, ev[i].type,
					     ev[i].code, ev[i].value);
		if ((size_t)r < sizeof(ev))
			break;
	}
	if (queued)
		input_deliver_now(e->dev);
}

int input_evdev_watch(struct input_evdev *e, struct vdev *dev)
{
	e->dev = dev;
	return vdev_watch_fd(dev, 0, e->fd, POLLIN, readable, e);
}

void input_evdev_status(struct input_evdev *e, uint16_t type, uint16_t code,
			int32_t value)
{
	struct input_event ev;

	if (type != EV_LED && type != EV_SND)
		return;
	struct input_event syn;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.code = code;
	ev.value = value;
	/* The input core passes the change on (to us too: readers see
	 * LED changes) at the next SYN_REPORT, so one follows. evdev writes
	 * never block; a read-only node just refuses. */
	memset(&syn, 0, sizeof(syn));
	syn.type = EV_SYN;
	syn.code = SYN_REPORT;
	(void)!write(e->fd, &ev, sizeof(ev));
	(void)!write(e->fd, &syn, sizeof(syn));
}

void input_evdev_close(struct input_evdev *e, struct vdev *dev)
{
	if (dev)
		vdev_unwatch_fd(dev, 0, e->fd);
	if (e->grabbed)
		ioctl(e->fd, EVIOCGRAB, 0);
	close(e->fd);
	free(e);
}
