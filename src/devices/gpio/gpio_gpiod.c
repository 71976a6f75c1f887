/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A host GPIO chip through libgpiod: 1.6 (Debian 12) or 2.x (Debian 13,
 * bookworm-backports), picked at configure time (VGPIO_GPIOD_V2).
 *
 * A line is requested from the kernel as the driver configures it: as an
 * output, as an input, or, once the driver sets an IRQ type, as an input
 * with both edges detected (levels are followed through their edges, the
 * model decides what interrupts). Direction NONE releases it. The edge
 * fd of each such line is watched on the request queue's thread (made
 * non-blocking: a spurious wakeup must not block the thread); there is
 * no thread per line.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vdev_build_config.h"
#include "devices/gpio/gpio_internal.h"

#if VDEV_WITH_GPIOD_FOUND
#include <gpiod.h>

#define CONSUMER "vdev-gpio"
#define EVENTS_MAX 16

struct gline {
	uint8_t dir;
	uint8_t out;
	uint8_t irq;
	int fd; /* watched edge fd, or -1 */
#ifdef VGPIO_GPIOD_V2
	struct gpiod_line_request *req;
#else
	struct gpiod_line *line;
	bool requested;
#endif
};

struct gchip {
	struct vgpio_backend be;
	struct gpiod_chip *chip;
	struct gline *lines;
	struct vdev *dev;
	struct vgpio *g;
#ifdef VGPIO_GPIOD_V2
	struct gpiod_edge_event_buffer *evbuf;
#endif
};

static struct gchip *to_chip(struct vgpio_backend *b)
{
	return (struct gchip *)b;
}

static void edge_ready(void *arg, int fd, uint32_t events);

static void unwatch(struct gchip *c, struct gline *l)
{
	if (l->fd >= 0 && c->dev)
		vdev_unwatch_fd(c->dev, 0, l->fd);
	l->fd = -1;
}

static int watch(struct gchip *c, struct gline *l, int fd)
{
	int fl = fcntl(fd, F_GETFL);
	int ret;

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	ret = vdev_watch_fd(c->dev, 0, fd, POLLIN, edge_ready, c);
	if (ret == 0)
		l->fd = fd;
	return ret;
}

#ifdef VGPIO_GPIOD_V2

static void release(struct gchip *c, struct gline *l)
{
	unwatch(c, l);
	if (l->req)
		gpiod_line_request_release(l->req);
	l->req = NULL;
}

static int request(struct gchip *c, unsigned off, struct gline *l)
{
	struct gpiod_line_settings *s = gpiod_line_settings_new();
	struct gpiod_line_config *lc = gpiod_line_config_new();
	struct gpiod_request_config *rc = gpiod_request_config_new();
	int ret = -ENOMEM;

	if (!s || !lc || !rc)
		goto out;
	if (l->dir == VDEV_GPIO_DIRECTION_OUT) {
		gpiod_line_settings_set_direction(s, GPIOD_LINE_DIRECTION_OUTPUT);
		gpiod_line_settings_set_output_value(s, l->out ?
			GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE);
	} else {
		gpiod_line_settings_set_direction(s, GPIOD_LINE_DIRECTION_INPUT);
		if (l->irq != VDEV_GPIO_IRQ_TYPE_NONE)
			gpiod_line_settings_set_edge_detection(s,
							GPIOD_LINE_EDGE_BOTH);
	}
	if (gpiod_line_config_add_line_settings(lc, &off, 1, s) < 0)
		goto err;
	gpiod_request_config_set_consumer(rc, CONSUMER);
	l->req = gpiod_chip_request_lines(c->chip, rc, lc);
	if (!l->req)
		goto err;
	ret = 0;
	if (l->dir != VDEV_GPIO_DIRECTION_OUT &&
	    l->irq != VDEV_GPIO_IRQ_TYPE_NONE) {
		ret = watch(c, l, gpiod_line_request_get_fd(l->req));
		if (ret < 0)
			release(c, l);
	}
	goto out;
err:
	ret = errno ? -errno : -EIO;
out:
	gpiod_line_settings_free(s);
	gpiod_line_config_free(lc);
	gpiod_request_config_free(rc);
	return ret;
}

static int read_value(struct gline *l, unsigned off)
{
	int v;

	if (!l->req)
		return -EPERM;
	v = (int)gpiod_line_request_get_value(l->req, off);
	return v < 0 ? -EIO : v;
}

static int write_value(struct gline *l, unsigned off, uint8_t v)
{
	if (!l->req)
		return -EPERM;
	return gpiod_line_request_set_value(l->req, off, v ?
		GPIOD_LINE_VALUE_ACTIVE : GPIOD_LINE_VALUE_INACTIVE) < 0 ?
		-EIO : 0;
}

static void edge_ready(void *arg, int fd, uint32_t events)
{
	struct gchip *c = arg;
	struct gline *l = NULL;
	unsigned off = 0;
	int n;

	for (unsigned i = 0; i < c->be.nlines; i++) {
		if (c->lines[i].fd == fd) {
			l = &c->lines[i];
			off = i;
			break;
		}
	}
	if (!l)
		return;
	n = gpiod_line_request_read_edge_events(l->req, c->evbuf, EVENTS_MAX);
	if (n <= 0)
		return;
	vgpio_lock(c->g);
	for (int i = 0; i < n; i++) {
		struct gpiod_edge_event *ev =
			gpiod_edge_event_buffer_get_event(c->evbuf, (unsigned long)i);

		if (!ev)
			break;
		vgpio_input_locked(c->g, off,
			gpiod_edge_event_get_event_type(ev) ==
				GPIOD_EDGE_EVENT_RISING_EDGE);
	}
	vgpio_unlock(c->g);
}

static int open_chip(struct gchip *c, const char *name)
{
	char path[64];
	struct gpiod_chip_info *ci;
	const char *p = name;

	if (name[0] >= '0' && name[0] <= '9') {
		snprintf(path, sizeof(path), "/dev/gpiochip%s", name);
		p = path;
	} else if (!strchr(name, '/')) {
		snprintf(path, sizeof(path), "/dev/%s", name);
		p = path;
	}
	c->chip = gpiod_chip_open(p);
	if (!c->chip)
		return -errno;
	ci = gpiod_chip_get_info(c->chip);
	if (!ci)
		return -errno;
	c->be.nlines = (unsigned)gpiod_chip_info_get_num_lines(ci);
	gpiod_chip_info_free(ci);
	c->evbuf = gpiod_edge_event_buffer_new(EVENTS_MAX);
	return c->evbuf ? 0 : -ENOMEM;
}

static void line_name(struct gchip *c, unsigned off, char *buf)
{
	struct gpiod_line_info *li = gpiod_chip_get_line_info(c->chip, off);
	const char *n = li ? gpiod_line_info_get_name(li) : NULL;

	snprintf(buf, VGPIO_NAME_MAX, "%s", n ? n : "");
	gpiod_line_info_free(li);
}

static void close_chip(struct gchip *c)
{
	if (c->evbuf)
		gpiod_edge_event_buffer_free(c->evbuf);
	if (c->chip)
		gpiod_chip_close(c->chip);
}

#else /* libgpiod 1.6 */

static void release(struct gchip *c, struct gline *l)
{
	unwatch(c, l);
	if (l->requested)
		gpiod_line_release(l->line);
	l->requested = false;
}

static int request(struct gchip *c, unsigned off, struct gline *l)
{
	int ret;

	if (l->dir == VDEV_GPIO_DIRECTION_OUT)
		ret = gpiod_line_request_output(l->line, CONSUMER, l->out);
	else if (l->irq != VDEV_GPIO_IRQ_TYPE_NONE)
		ret = gpiod_line_request_both_edges_events(l->line, CONSUMER);
	else
		ret = gpiod_line_request_input(l->line, CONSUMER);
	if (ret < 0)
		return errno ? -errno : -EIO;
	l->requested = true;
	if (l->dir != VDEV_GPIO_DIRECTION_OUT &&
	    l->irq != VDEV_GPIO_IRQ_TYPE_NONE) {
		ret = watch(c, l, gpiod_line_event_get_fd(l->line));
		if (ret < 0)
			release(c, l);
	}
	return ret;
}

static int read_value(struct gline *l, unsigned off)
{
	int v;

	if (!l->requested)
		return -EPERM;
	v = gpiod_line_get_value(l->line);
	return v < 0 ? -EIO : v;
}

static int write_value(struct gline *l, unsigned off, uint8_t v)
{
	if (!l->requested)
		return -EPERM;
	return gpiod_line_set_value(l->line, v) < 0 ? -EIO : 0;
}

static void edge_ready(void *arg, int fd, uint32_t events)
{
	struct gchip *c = arg;
	struct gpiod_line_event ev[EVENTS_MAX];
	unsigned off = c->be.nlines;
	int n;

	for (unsigned i = 0; i < c->be.nlines; i++) {
		if (c->lines[i].fd == fd) {
			off = i;
			break;
		}
	}
	if (off == c->be.nlines)
		return;
	n = gpiod_line_event_read_fd_multiple(fd, ev, EVENTS_MAX);
	if (n <= 0)
		return;
	vgpio_lock(c->g);
	for (int i = 0; i < n; i++)
		vgpio_input_locked(c->g, off, ev[i].event_type ==
					      GPIOD_LINE_EVENT_RISING_EDGE);
	vgpio_unlock(c->g);
}

static int open_chip(struct gchip *c, const char *name)
{
	c->chip = gpiod_chip_open_lookup(name);
	if (!c->chip)
		return errno ? -errno : -ENODEV;
	c->be.nlines = gpiod_chip_num_lines(c->chip);
	return 0;
}

static void line_name(struct gchip *c, unsigned off, char *buf)
{
	const char *n = gpiod_line_name(c->lines[off].line);

	snprintf(buf, VGPIO_NAME_MAX, "%s", n ? n : "");
}

static void close_chip(struct gchip *c)
{
	if (c->chip)
		gpiod_chip_close(c->chip);
}

#endif

/* Puts line @off in the kernel as the driver configured it. */
static int apply(struct gchip *c, unsigned off)
{
	struct gline *l = &c->lines[off];

	release(c, l);
	if (l->dir == VDEV_GPIO_DIRECTION_NONE &&
	    l->irq == VDEV_GPIO_IRQ_TYPE_NONE)
		return 0;
	return request(c, off, l);
}

static int gd_set_direction(struct vgpio_backend *b, unsigned line,
			    uint8_t dir, uint8_t out)
{
	struct gchip *c = to_chip(b);
	struct gline *l = &c->lines[line];
	uint8_t od = l->dir, oo = l->out;
	int ret;

	l->dir = dir;
	l->out = out;
	ret = apply(c, line);
	if (ret < 0) {
		/* the line as it was, if the kernel still lets us */
		l->dir = od;
		l->out = oo;
		apply(c, line);
	}
	return ret;
}

static int gd_get_value(struct vgpio_backend *b, unsigned line)
{
	return read_value(&to_chip(b)->lines[line], line);
}

static int gd_set_value(struct vgpio_backend *b, unsigned line, uint8_t v)
{
	struct gline *l = &to_chip(b)->lines[line];
	int ret = write_value(l, line, v);

	if (!ret)
		l->out = v;
	return ret;
}

static int gd_set_irq(struct vgpio_backend *b, unsigned line, uint8_t type)
{
	struct gchip *c = to_chip(b);
	struct gline *l = &c->lines[line];
	bool was = l->irq != VDEV_GPIO_IRQ_TYPE_NONE;
	bool now = type != VDEV_GPIO_IRQ_TYPE_NONE;
	uint8_t old = l->irq;
	int ret;

	l->irq = type;
	if (was == now)
		return 0; /* edges are detected both ways already */
	ret = apply(c, line);
	if (ret < 0) {
		l->irq = old;
		apply(c, line);
	}
	return ret;
}

static void gd_reset(struct vgpio_backend *b)
{
	struct gchip *c = to_chip(b);

	for (unsigned i = 0; i < b->nlines; i++) {
		release(c, &c->lines[i]);
		c->lines[i].dir = VDEV_GPIO_DIRECTION_NONE;
		c->lines[i].out = 0;
		c->lines[i].irq = VDEV_GPIO_IRQ_TYPE_NONE;
	}
}

static int gd_start(struct vgpio_backend *b, struct vdev *dev,
		    struct vgpio *g)
{
	struct gchip *c = to_chip(b);

	c->dev = dev;
	c->g = g;
	return 0;
}

static void gd_destroy(struct vgpio_backend *b, struct vdev *dev)
{
	struct gchip *c = to_chip(b);

	if (c->lines) {
		for (unsigned i = 0; i < b->nlines; i++)
			release(c, &c->lines[i]);
	}
	close_chip(c);
	free(c->lines);
	free(b->names);
	free(c);
}

static const struct vgpio_backend_ops gpiod_ops = {
	.set_direction = gd_set_direction,
	.get_value = gd_get_value,
	.set_value = gd_set_value,
	.set_irq = gd_set_irq,
	.reset = gd_reset,
	.start = gd_start,
	.destroy = gd_destroy,
};

struct vgpio_backend *vgpio_gpiod_new(const char *name)
{
	struct gchip *c = calloc(1, sizeof(*c));
	int err;

	if (!c)
		return NULL;
	c->be.ops = &gpiod_ops;
	err = open_chip(c, name);
	if (err < 0)
		goto fail;
	if (c->be.nlines < 1 || c->be.nlines > VDEV_GPIO_MAX_LINES) {
		err = -ERANGE;
		goto fail;
	}
	c->lines = calloc(c->be.nlines, sizeof(*c->lines));
	c->be.names = calloc(c->be.nlines, sizeof(*c->be.names));
	if (!c->lines || !c->be.names) {
		err = -ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < c->be.nlines; i++) {
		c->lines[i].fd = -1;
#ifndef VGPIO_GPIOD_V2
		c->lines[i].line = gpiod_chip_get_line(c->chip, i);
		if (!c->lines[i].line) {
			err = errno ? -errno : -EIO;
			goto fail;
		}
#endif
		line_name(c, i, c->be.names[i]);
	}
	return &c->be;
fail:
	close_chip(c);
	free(c->lines);
	free(c->be.names);
	free(c);
	errno = -err;
	return NULL;
}

#else /* no libgpiod */

struct vgpio_backend *vgpio_gpiod_new(const char *chip)
{
	errno = ENOTSUP;
	return NULL;
}

#endif
