/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The simulated GPIO chip: named lines whose inputs the host drives and
 * whose outputs it reads, in process (vdev_gpio_sim_*) or through a
 * control socket (the text protocol of include/virtio/gpio.h).
 *
 * The control socket and its connections are watched on the request
 * queue's thread; a command takes the model's lock like a request does.
 * The socket itself is src/core/ctlsock.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ctlsock.h"
#include "devices/gpio/gpio_internal.h"

struct sim {
	struct vgpio_backend be;
	uint8_t *input;      /* the level the outside drives, per line */
	struct vdev *dev;
	struct vgpio *g;
	struct vctl *ctl;
};

static struct sim *to_sim(struct vgpio_backend *b)
{
	return (struct sim *)b;
}

static int sim_set_direction(struct vgpio_backend *b, unsigned line,
			     uint8_t dir, uint8_t out)
{
	return 0;
}

static int sim_get_value(struct vgpio_backend *b, unsigned line)
{
	return to_sim(b)->input[line];
}

static int sim_set_value(struct vgpio_backend *b, unsigned line, uint8_t v)
{
	return 0;
}

static int sim_set_irq(struct vgpio_backend *b, unsigned line, uint8_t type)
{
	return 0;
}

static void sim_reset(struct vgpio_backend *b)
{
	/* The inputs are the outside world's: a device reset keeps them. */
}

int vgpio_sim_level(struct vgpio_backend *b, unsigned line)
{
	return line < b->nlines ? to_sim(b)->input[line] : -EINVAL;
}

int vgpio_sim_drive(struct vgpio_backend *b, struct vgpio *g, unsigned line,
		    int value)
{
	struct sim *s = to_sim(b);

	if (line >= b->nlines || (value != 0 && value != 1))
		return -EINVAL;
	if (s->input[line] == value)
		return 0;
	s->input[line] = (uint8_t)value;
	if (g)
		vgpio_input_locked(g, line, value);
	return 0;
}

static struct vgpio *sim_of(struct vdev *dev, unsigned line)
{
	struct vgpio *g = vgpio_of(dev);

	if (!g || !vgpio_backend(g)->sim || line >= vgpio_backend(g)->nlines)
		return NULL;
	return g;
}

int vdev_gpio_sim_set(struct vdev *dev, unsigned line, int value)
{
	struct vgpio *g = sim_of(dev, line);
	int ret;

	if (!g)
		return -EINVAL;
	vgpio_lock(g);
	ret = vgpio_sim_drive(vgpio_backend(g), g, line, value);
	vgpio_unlock(g);
	return ret;
}

int vdev_gpio_sim_pulse(struct vdev *dev, unsigned line)
{
	struct vgpio *g = sim_of(dev, line);
	struct vgpio_backend *b;
	int v;

	if (!g)
		return -EINVAL;
	b = vgpio_backend(g);
	vgpio_lock(g);
	v = vgpio_sim_level(b, line);
	vgpio_sim_drive(b, g, line, !v);
	vgpio_sim_drive(b, g, line, v);
	vgpio_unlock(g);
	return 0;
}

int vdev_gpio_sim_get(struct vdev *dev, unsigned line, int *dir, int *value)
{
	struct vgpio *g = sim_of(dev, line);
	int ret;

	if (!g)
		return -EINVAL;
	vgpio_lock(g);
	ret = vgpio_line_state_locked(g, line, dir, value, NULL, NULL);
	vgpio_unlock(g);
	return ret;
}

/* ---- control socket ------------------------------------------------- */

static const char *dir_name(int d)
{
	return d == VDEV_GPIO_DIRECTION_OUT ? "out" :
	       d == VDEV_GPIO_DIRECTION_IN  ? "in" : "none";
}

static const char *irq_name(uint8_t t)
{
	switch (t) {
	case VDEV_GPIO_IRQ_TYPE_EDGE_RISING: return "rising";
	case VDEV_GPIO_IRQ_TYPE_EDGE_FALLING: return "falling";
	case VDEV_GPIO_IRQ_TYPE_EDGE_BOTH: return "both";
	case VDEV_GPIO_IRQ_TYPE_LEVEL_HIGH: return "high";
	case VDEV_GPIO_IRQ_TYPE_LEVEL_LOW: return "low";
	default: return "none";
	}
}

static bool parse_line(struct sim *s, const char *arg, unsigned *line)
{
	char *end;
	unsigned long v;

	if (!arg || *arg < '0' || *arg > '9')
		return false;
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || *end || v >= s->be.nlines)
		return false;
	*line = (unsigned)v;
	return true;
}

/* One command; the reply (without newline) goes to @out. */
static void command(struct sim *s, char *cmd, char *out, size_t outlen)
{
	char *save = NULL;
	char *verb = strtok_r(cmd, " \t", &save);
	char *a1 = verb ? strtok_r(NULL, " \t", &save) : NULL;
	char *a2 = a1 ? strtok_r(NULL, " \t", &save) : NULL;
	char *extra = a2 ? strtok_r(NULL, " \t", &save) : NULL;
	unsigned line;
	int dir, val;
	uint8_t irq;
	bool masked;

	if (!verb) {
		snprintf(out, outlen, "err empty command");
		return;
	}
	if (extra || !parse_line(s, a1, &line)) {
		snprintf(out, outlen, "err usage: set LINE 0|1, pulse LINE, "
			 "get LINE, info LINE (LINE < %u)", s->be.nlines);
		return;
	}
	vgpio_lock(s->g);
	if (!strcmp(verb, "set") && a2 && (!strcmp(a2, "0") || !strcmp(a2, "1"))) {
		vgpio_sim_drive(&s->be, s->g, line, a2[0] - '0');
		snprintf(out, outlen, "ok");
	} else if (!strcmp(verb, "pulse") && !a2) {
		int v = s->input[line];

		vgpio_sim_drive(&s->be, s->g, line, !v);
		vgpio_sim_drive(&s->be, s->g, line, v);
		snprintf(out, outlen, "ok");
	} else if (!strcmp(verb, "get") && !a2) {
		if (vgpio_line_state_locked(s->g, line, &dir, &val, NULL,
					    NULL) < 0)
			snprintf(out, outlen, "err line %u unreadable", line);
		else
			snprintf(out, outlen, "ok %s %d", dir_name(dir), val);
	} else if (!strcmp(verb, "info") && !a2) {
		vgpio_line_state_locked(s->g, line, NULL, NULL, &irq, &masked);
		snprintf(out, outlen, "ok %s %s %d",
			 vgpio_line_name(s->g, line), irq_name(irq), masked);
	} else {
		snprintf(out, outlen, "err unknown command or argument");
	}
	vgpio_unlock(s->g);
}

static void control(void *arg, char *line, char *reply, size_t len)
{
	command(arg, line, reply, len);
}

static int sim_start(struct vgpio_backend *b, struct vdev *dev,
		     struct vgpio *g)
{
	struct sim *s = to_sim(b);

	s->dev = dev;
	s->g = g;
	return s->ctl ? vctl_start(s->ctl, dev, 0, control, s) : 0;
}

static void sim_destroy(struct vgpio_backend *b, struct vdev *dev)
{
	struct sim *s = to_sim(b);

	vctl_free(s->ctl);
	free(s->input);
	free(s->be.names);
	free(s);
}

static const struct vgpio_backend_ops sim_ops = {
	.set_direction = sim_set_direction,
	.get_value = sim_get_value,
	.set_value = sim_set_value,
	.set_irq = sim_set_irq,
	.reset = sim_reset,
	.start = sim_start,
	.destroy = sim_destroy,
};

struct vgpio_backend *vgpio_sim_new(const struct vdev_gpio_config *cfg)
{
	const char *prefix = cfg->sim_prefix ? cfg->sim_prefix : "sim";
	unsigned n = cfg->sim_lines;
	struct sim *s;
	int err;

	if (n < 1 || n > VDEV_GPIO_MAX_LINES) {
		errno = EINVAL;
		return NULL;
	}
	for (unsigned i = 0; cfg->sim_names && i < n; i++) {
		if (!cfg->sim_names[i] ||
		    strlen(cfg->sim_names[i]) >= VGPIO_NAME_MAX) {
			errno = EINVAL;
			return NULL;
		}
	}
	if (!cfg->sim_names && strlen(prefix) + 6 >= VGPIO_NAME_MAX) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->be.ops = &sim_ops;
	s->be.nlines = n;
	s->be.sim = true;
	s->input = calloc(n, 1);
	s->be.names = calloc(n, sizeof(*s->be.names));
	if (!s->input || !s->be.names)
		goto fail;
	for (unsigned i = 0; i < n; i++) {
		if (cfg->sim_names)
			snprintf(s->be.names[i], VGPIO_NAME_MAX, "%s",
				 cfg->sim_names[i]);
		else
			snprintf(s->be.names[i], VGPIO_NAME_MAX, "%s-%u",
				 prefix, i);
	}
	if (cfg->control) {
		s->ctl = vctl_new(cfg->control);
		if (!s->ctl)
			goto fail;
	}
	return &s->be;
fail:
	err = errno;
	free(s->input);
	free(s->be.names);
	free(s);
	errno = err;
	return NULL;
}
