/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-gpio (virtio 1.2 section 5.18): the model.
 *
 * requestq: every request is answered at once, in order, ERR when it is
 * malformed (Linux waits for each answer without a timeout, so a request
 * that got no answer would hang its task for good).
 *
 * eventq (VIRTIO_GPIO_F_IRQ): the driver queues one buffer per line to
 * unmask it; the device keeps the buffer until the line interrupts and
 * returns it VALID (the line is then masked again until the driver queues
 * a new one), or INVALID when the IRQ type becomes NONE. An edge that
 * arrives while the line is masked is latched and delivered at unmask;
 * a level is never latched, but is checked at unmask and delivered then
 * if it is still active, so a held level fires once per unmask.
 *
 * Save/restore: per line the direction, the output value, the IRQ type
 * and a latched edge, plus the simulated chip's input levels. The mask is
 * the driver's buffer: a stop returns it INVALID (ops->drain), Linux
 * queues it again on a line it has not masked, and the latched edge is
 * delivered then.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <virtio/gpio.h>
#include <virtio/iov.h>
#include <virtio/state.h>

#include "devices/gpio/gpio_internal.h"
#include "core/sized.h"

#define GPIO_STATE_VERSION 1u
#define GPIO_TAG VDEV_STATE_TAG('G', 'P', 'I', '0')
#define GPIO_IOV_MAX 16
#define GPIO_EVQ_IOV 4
#define IRQ_EDGE_MASK (VDEV_GPIO_IRQ_TYPE_EDGE_BOTH)
#define IRQ_LEVEL_MASK (VDEV_GPIO_IRQ_TYPE_LEVEL_HIGH | VDEV_GPIO_IRQ_TYPE_LEVEL_LOW)

struct vgpio_line {
	uint8_t dir;
	uint8_t out;      /* kept from SET_VALUE, even before OUT */
	uint8_t irq_type;
	bool latched;     /* an edge came while masked */
	bool held;        /* an eventq buffer is queued: unmasked */
	struct vdev_req req;
	struct iovec iov[GPIO_EVQ_IOV];
};

struct vgpio {
	pthread_mutex_t lock;
	struct vdev *dev;
	struct vgpio_backend *be;
	unsigned n;
	struct vgpio_line *lines;
	uint8_t *names;
	uint32_t names_size;
	bool warned;
};

void vgpio_lock(struct vgpio *g)
{
	pthread_mutex_lock(&g->lock);
}

void vgpio_unlock(struct vgpio *g)
{
	pthread_mutex_unlock(&g->lock);
}

struct vgpio_backend *vgpio_backend(struct vgpio *g)
{
	return g->be;
}

const char *vgpio_line_name(struct vgpio *g, unsigned line)
{
	return line < g->n ? g->be->names[line] : "";
}

static bool is_gpio(struct vdev *dev);

struct vgpio *vgpio_of(struct vdev *dev)
{
	return dev && is_gpio(dev) ? vdev_priv(dev) : NULL;
}

static void bad(struct vgpio *g, const char *what, unsigned v)
{
	/* Once per device: a driver that sends garbage in a loop must not
	 * flood the log. */
	if (g->warned)
		return;
	g->warned = true;
	vdev_log(VDEV_LOG_WARN, "gpio: malformed request: %s (%u)", what, v);
}

/* The level a line shows the driver. */
static int line_value(struct vgpio *g, unsigned line)
{
	if (g->lines[line].dir == VDEV_GPIO_DIRECTION_OUT)
		return g->lines[line].out;
	return g->be->ops->get_value(g->be, line);
}

static bool level_active(struct vgpio *g, unsigned line)
{
	uint8_t t = g->lines[line].irq_type;
	int v;

	if (!(t & IRQ_LEVEL_MASK))
		return false;
	v = line_value(g, line);
	if (v < 0)
		return false;
	return (t == VDEV_GPIO_IRQ_TYPE_LEVEL_HIGH) ? v == 1 : v == 0;
}

void vgpio_input_locked(struct vgpio *g, unsigned line, int level)
{
	struct vgpio_line *l;
	bool hit;

	if (line >= g->n)
		return;
	l = &g->lines[line];
	if (l->dir == VDEV_GPIO_DIRECTION_OUT)
		return; /* the output drives the line, not the outside */
	switch (l->irq_type) {
	case VDEV_GPIO_IRQ_TYPE_EDGE_RISING:
		hit = level == 1;
		break;
	case VDEV_GPIO_IRQ_TYPE_EDGE_FALLING:
		hit = level == 0;
		break;
	case VDEV_GPIO_IRQ_TYPE_EDGE_BOTH:
		hit = true;
		break;
	case VDEV_GPIO_IRQ_TYPE_LEVEL_HIGH:
	case VDEV_GPIO_IRQ_TYPE_LEVEL_LOW:
		/* Never latched while masked; while unmasked, a level that
		 * came and went before the eventq's thread looked still
		 * counts once. */
		hit = l->held &&
		      level == (l->irq_type == VDEV_GPIO_IRQ_TYPE_LEVEL_HIGH);
		break;
	default:
		hit = false;
	}
	if (!hit)
		return;
	l->latched = true;
	if (l->held)
		vdev_queue_schedule(g->dev, 1);
}

int vgpio_line_state_locked(struct vgpio *g, unsigned line, int *dir,
			    int *value, uint8_t *irq_type, bool *masked)
{
	int v;

	if (line >= g->n)
		return -EINVAL;
	v = line_value(g, line);
	if (v < 0)
		return v;
	if (dir)
		*dir = g->lines[line].dir;
	if (value)
		*value = v;
	if (irq_type)
		*irq_type = g->lines[line].irq_type;
	if (masked)
		*masked = !g->lines[line].held;
	return 0;
}

/* ---- requestq ------------------------------------------------------- */

/* Answers one request into @resp (status first); returns the response
 * length the request type has, 0 for a request to refuse. */
static uint8_t do_request(struct vgpio *g, const struct vdev_gpio_request *r,
			  uint8_t *value)
{
	uint16_t type = vdev_le16_to_cpu(r->type);
	uint16_t gpio = vdev_le16_to_cpu(r->gpio);
	uint32_t val = vdev_le32_to_cpu(r->value);
	struct vgpio_line *l;
	int ret;

	*value = 0;
	if (gpio >= g->n) {
		bad(g, "line out of range", gpio);
		return VDEV_GPIO_STATUS_ERR;
	}
	l = &g->lines[gpio];
	switch (type) {
	case VDEV_GPIO_MSG_GET_DIRECTION:
		*value = l->dir;
		return VDEV_GPIO_STATUS_OK;
	case VDEV_GPIO_MSG_SET_DIRECTION:
		if (val > VDEV_GPIO_DIRECTION_IN) {
			bad(g, "direction", val);
			return VDEV_GPIO_STATUS_ERR;
		}
		ret = g->be->ops->set_direction(g->be, gpio, (uint8_t)val,
						l->out);
		if (ret < 0)
			return VDEV_GPIO_STATUS_ERR;
		l->dir = (uint8_t)val;
		if (val == VDEV_GPIO_DIRECTION_NONE)
			l->out = 0; /* a released line forgets its value */
		if (l->held && level_active(g, gpio))
			vdev_queue_schedule(g->dev, 1);
		return VDEV_GPIO_STATUS_OK;
	case VDEV_GPIO_MSG_GET_VALUE:
		ret = line_value(g, gpio);
		if (ret < 0)
			return VDEV_GPIO_STATUS_ERR;
		*value = (uint8_t)ret;
		return VDEV_GPIO_STATUS_OK;
	case VDEV_GPIO_MSG_SET_VALUE:
		if (val > 1) {
			bad(g, "value", val);
			return VDEV_GPIO_STATUS_ERR;
		}
		if (l->dir == VDEV_GPIO_DIRECTION_OUT &&
		    g->be->ops->set_value(g->be, gpio, (uint8_t)val) < 0)
			return VDEV_GPIO_STATUS_ERR;
		l->out = (uint8_t)val;
		return VDEV_GPIO_STATUS_OK;
	case VDEV_GPIO_MSG_SET_IRQ_TYPE:
		if (!vdev_has_feature(g->dev, VDEV_GPIO_F_IRQ)) {
			bad(g, "IRQ type without VIRTIO_GPIO_F_IRQ", val);
			return VDEV_GPIO_STATUS_ERR;
		}
		switch (val) {
		case VDEV_GPIO_IRQ_TYPE_NONE:
		case VDEV_GPIO_IRQ_TYPE_EDGE_RISING:
		case VDEV_GPIO_IRQ_TYPE_EDGE_FALLING:
		case VDEV_GPIO_IRQ_TYPE_EDGE_BOTH:
		case VDEV_GPIO_IRQ_TYPE_LEVEL_HIGH:
		case VDEV_GPIO_IRQ_TYPE_LEVEL_LOW:
			break;
		default:
			bad(g, "IRQ type", val);
			return VDEV_GPIO_STATUS_ERR;
		}
		if (g->be->ops->set_irq(g->be, gpio, (uint8_t)val) < 0)
			return VDEV_GPIO_STATUS_ERR;
		l->irq_type = (uint8_t)val;
		/* Edges of the old type are not edges of the new one. */
		l->latched = false;
		/* NONE gives the queued buffer back INVALID; a level that is
		 * already active fires. Both on the eventq's thread. */
		if (l->held && (val == VDEV_GPIO_IRQ_TYPE_NONE ||
				level_active(g, gpio)))
			vdev_queue_schedule(g->dev, 1);
		return VDEV_GPIO_STATUS_OK;
	default:
		bad(g, "request type", type);
		return VDEV_GPIO_STATUS_ERR;
	}
}

static void serve_request(struct vgpio *g, struct vdev_req *req)
{
	struct vdev_gpio_request r;
	uint8_t resp[2] = { VDEV_GPIO_STATUS_ERR, 0 };
	uint32_t rlen = sizeof(resp);
	uint16_t type;

	/* The request is copied out of guest memory once. */
	if (req->out_bytes != sizeof(r) ||
	    vdev_iov_to_buf(req->out, req->nout, 0, &r, sizeof(r)) !=
		    sizeof(r)) {
		bad(g, "request size", req->out_bytes);
		goto answer;
	}
	type = vdev_le16_to_cpu(r.type);
	if (type == VDEV_GPIO_MSG_GET_LINE_NAMES) {
		/* status, then every name, NUL-terminated */
		rlen = 1 + g->names_size;
		if (!g->names_size || req->in_bytes < rlen) {
			bad(g, "names buffer", req->in_bytes);
			rlen = 1;
			goto answer;
		}
		resp[0] = VDEV_GPIO_STATUS_OK;
		vdev_iov_from_buf(req->in, req->nin, 1, g->names,
				  g->names_size);
		vdev_iov_from_buf(req->in, req->nin, 0, resp, 1);
		vdev_queue_push(vdev_get_queue(g->dev, 0), req, rlen);
		return;
	}
	if (req->in_bytes < sizeof(resp)) {
		bad(g, "response buffer", req->in_bytes);
		goto answer;
	}
	resp[0] = do_request(g, &r, &resp[1]);
answer:
	if (rlen > req->in_bytes)
		rlen = req->in_bytes;
	vdev_iov_from_buf(req->in, req->nin, 0, resp,
			  rlen < sizeof(resp) ? rlen : sizeof(resp));
	vdev_queue_push(vdev_get_queue(g->dev, 0), req, rlen);
}

/* ---- eventq --------------------------------------------------------- */

static void give_back(struct vgpio *g, struct vdev_queue *q, unsigned line,
		      uint8_t status)
{
	struct vgpio_line *l = &g->lines[line];

	vdev_iov_from_buf(l->req.in, l->req.nin, 0, &status, 1);
	vdev_queue_push(q, &l->req, 1);
	l->held = false;
}

/* Takes the buffers the driver queued: one per line. */
static bool take_buffers(struct vgpio *g, struct vdev_queue *q)
{
	struct iovec iov[GPIO_EVQ_IOV];
	struct vdev_req req = { .iov = iov, .iov_max = GPIO_EVQ_IOV };
	bool pushed = false;
	int ret;

	while ((ret = vdev_queue_pop(q, &req)) != -EAGAIN) {
		struct vdev_gpio_irq_request ir;
		uint8_t st = VDEV_GPIO_IRQ_STATUS_INVALID;
		struct vgpio_line *l;
		uint16_t gpio;

		if (ret == -EMSGSIZE) {
			pushed = true;
			continue;
		}
		if (ret < 0)
			break;
		if (req.out_bytes != sizeof(ir) || req.in_bytes < 1 ||
		    vdev_iov_to_buf(req.out, req.nout, 0, &ir, sizeof(ir)) !=
			    sizeof(ir)) {
			bad(g, "eventq buffer size", req.out_bytes);
			goto refuse;
		}
		gpio = vdev_le16_to_cpu(ir.gpio);
		if (gpio >= g->n) {
			bad(g, "eventq line out of range", gpio);
			goto refuse;
		}
		l = &g->lines[gpio];
		if (l->held) {
			bad(g, "second eventq buffer for line", gpio);
			goto refuse;
		}
		/* Kept until the line interrupts: the request and its iovecs
		 * move into the line. */
		l->req = req;
		memcpy(l->iov, iov, sizeof(iov));
		l->req.iov = l->iov;
		l->req.out = l->iov;
		l->req.in = l->iov + req.nout;
		l->held = true;
		continue;
refuse:
		vdev_iov_from_buf(req.in, req.nin, 0, &st, 1);
		vdev_queue_push(q, &req, req.in_bytes ? 1 : 0);
		pushed = true;
	}
	return pushed;
}

static void gpio_handle_events(struct vgpio *g, struct vdev_queue *q)
{
	bool pushed;

	vgpio_lock(g);
	pushed = take_buffers(g, q);
	for (unsigned i = 0; i < g->n; i++) {
		struct vgpio_line *l = &g->lines[i];

		if (!l->held)
			continue;
		if (l->irq_type == VDEV_GPIO_IRQ_TYPE_NONE) {
			give_back(g, q, i, VDEV_GPIO_IRQ_STATUS_INVALID);
		} else if (l->latched || level_active(g, i)) {
			l->latched = false;
			give_back(g, q, i, VDEV_GPIO_IRQ_STATUS_VALID);
		} else {
			continue;
		}
		pushed = true;
	}
	vgpio_unlock(g);
	if (pushed)
		vdev_queue_notify(q);
}

static void gpio_handle(struct vdev *dev, unsigned qidx, struct vdev_queue *q)
{
	struct vgpio *g = vdev_priv(dev);
	struct iovec iov[GPIO_IOV_MAX];
	struct vdev_req req = { .iov = iov, .iov_max = GPIO_IOV_MAX };
	bool pushed = false;
	int ret;

	if (qidx == 1) {
		gpio_handle_events(g, q);
		return;
	}
	while ((ret = vdev_queue_pop(q, &req)) != -EAGAIN) {
		if (ret == -EMSGSIZE) {
			pushed = true;
			continue;
		}
		if (ret < 0)
			break;
		vgpio_lock(g);
		serve_request(g, &req);
		vgpio_unlock(g);
		pushed = true;
	}
	if (pushed)
		vdev_queue_notify(q);
}

/* The queue stops or resets: held eventq buffers go back INVALID (a
 * Linux driver queues them again for a line it has not masked). */
static void gpio_drain(struct vdev *dev, unsigned qidx, struct vdev_queue *q)
{
	struct vgpio *g = vdev_priv(dev);
	bool pushed = false;

	if (qidx != 1)
		return;
	vgpio_lock(g);
	for (unsigned i = 0; i < g->n; i++) {
		if (g->lines[i].held) {
			give_back(g, q, i, VDEV_GPIO_IRQ_STATUS_INVALID);
			pushed = true;
		}
	}
	vgpio_unlock(g);
	if (pushed)
		vdev_queue_notify(q);
}

static void gpio_reset(struct vdev *dev)
{
	struct vgpio *g = vdev_priv(dev);

	vgpio_lock(g);
	g->be->ops->reset(g->be);
	for (unsigned i = 0; i < g->n; i++) {
		struct vgpio_line *l = &g->lines[i];

		/* drain gave every buffer back; a request popped after
		 * that belongs to a ring the core resets now */
		l->held = false;
		l->dir = VDEV_GPIO_DIRECTION_NONE;
		l->out = 0;
		l->irq_type = VDEV_GPIO_IRQ_TYPE_NONE;
		l->latched = false;
	}
	g->warned = false;
	vgpio_unlock(g);
}

/* ---- state ---------------------------------------------------------- */

/*
 * Section GPI0: le16 line count, then 4 bytes per line: direction,
 * output value, IRQ type, flags (bit 0 latched edge, bit 1 simulated
 * input high).
 */
static int gpio_save(struct vdev *dev, struct vdev_state_writer *w)
{
	struct vgpio *g = vdev_priv(dev);
	size_t len = 2 + (size_t)g->n * 4;
	uint8_t *b = malloc(len);
	int ret;

	if (!b)
		return -ENOMEM;
	vgpio_lock(g);
	b[0] = (uint8_t)g->n;
	b[1] = (uint8_t)(g->n >> 8);
	for (unsigned i = 0; i < g->n; i++) {
		struct vgpio_line *l = &g->lines[i];
		uint8_t *p = b + 2 + i * 4;

		p[0] = l->dir;
		p[1] = l->out;
		p[2] = l->irq_type;
		p[3] = (uint8_t)(l->latched ? 1 : 0);
		if (g->be->sim && vgpio_sim_level(g->be, i) == 1)
			p[3] |= 2;
	}
	vgpio_unlock(g);
	ret = vdev_state_put(w, GPIO_TAG, b, (uint32_t)len);
	free(b);
	return ret;
}

static bool valid_irq_type(uint8_t t)
{
	return t <= VDEV_GPIO_IRQ_TYPE_LEVEL_HIGH ||
	       t == VDEV_GPIO_IRQ_TYPE_LEVEL_LOW;
}

static int gpio_load(struct vdev *dev, struct vdev_state_reader *rd,
		     uint32_t version)
{
	struct vgpio *g = vdev_priv(dev);
	const uint8_t *b;
	uint32_t len;
	unsigned n;
	int ret = 0;

	b = vdev_state_get(rd, GPIO_TAG, &len);
	if (!b)
		return 0;
	if (version != GPIO_STATE_VERSION || len < 2)
		return -EBADMSG;
	n = (unsigned)b[0] | (unsigned)b[1] << 8;
	/* A blob of another chip is refused whole, before anything moves. */
	if (n != g->n || len != 2 + (size_t)n * 4)
		return -EBADMSG;
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *p = b + 2 + i * 4;

		if (p[0] > VDEV_GPIO_DIRECTION_IN || p[1] > 1 ||
		    !valid_irq_type(p[2]) || p[3] > 3)
			return -EBADMSG;
	}
	vgpio_lock(g);
	for (unsigned i = 0; i < n && !ret; i++) {
		const uint8_t *p = b + 2 + i * 4;
		struct vgpio_line *l = &g->lines[i];

		if (g->be->sim)
			vgpio_sim_drive(g->be, NULL, i, (p[3] & 2) ? 1 : 0);
		ret = g->be->ops->set_direction(g->be, i, p[0], p[1]);
		if (!ret)
			ret = g->be->ops->set_irq(g->be, i, p[2]);
		l->dir = p[0];
		l->out = p[1];
		l->irq_type = p[2];
		l->latched = p[3] & 1;
	}
	vgpio_unlock(g);
	return ret < 0 ? ret : 0;
}

static void gpio_destroy(struct vdev *dev)
{
	struct vgpio *g = vdev_priv(dev);

	g->be->ops->destroy(g->be, dev);
	pthread_mutex_destroy(&g->lock);
	free(g->names);
	free(g->lines);
	free(g);
}

static const struct vdev_ops gpio_ops = {
	.reset = gpio_reset,
	.drain = gpio_drain,
	.handle = gpio_handle,
	.save = gpio_save,
	.load = gpio_load,
	.destroy = gpio_destroy,
};

static bool is_gpio(struct vdev *dev)
{
	const struct vdev_info *info = vdev_get_info(dev);

	return info && info->device_id == VDEV_ID_GPIO &&
	       info->name && !strcmp(info->name, "gpio");
}

/* The names blob of GET_LINE_NAMES; none at all when no line has one
 * (gpio_names_size 0 tells the driver not to ask). */
static int make_names(struct vgpio *g)
{
	size_t size = 0;
	bool any = false;

	for (unsigned i = 0; i < g->n; i++) {
		size += strlen(g->be->names[i]) + 1;
		any |= g->be->names[i][0] != 0;
	}
	if (!any)
		return 0;
	g->names = malloc(size);
	if (!g->names)
		return -ENOMEM;
	size = 0;
	for (unsigned i = 0; i < g->n; i++) {
		size_t l = strlen(g->be->names[i]) + 1;

		memcpy(g->names + size, g->be->names[i], l);
		size += l;
	}
	g->names_size = (uint32_t)size;
	return 0;
}

static struct vdev *gpio_new_cfg(const struct vdev_gpio_config *cfg)
{
	struct vdev_info info = {
		.name = "gpio",
		.device_id = VDEV_ID_GPIO,
		.num_queues = 2,
		.config_size = sizeof(struct vdev_gpio_config_space),
		.state_version = GPIO_STATE_VERSION,
		/* eventq buffers come back in the order lines interrupt */
		.ring_features_mask = VDEV_BIT(VDEV_F_IN_ORDER),
	};
	struct vdev_gpio_config_space *cs;
	struct vgpio_backend *be;
	struct vgpio *g;
	struct vdev *dev;
	int err;

	if (!cfg) {
		errno = EINVAL;
		return NULL;
	}
	if (cfg->chip && cfg->control) {
		errno = EINVAL; /* the control socket drives a simulated chip */
		return NULL;
	}
	info.features = cfg->no_irq ? 0 : 1ull << VDEV_GPIO_F_IRQ;
	info.max_queue_size = cfg->queue_size ? cfg->queue_size : 1024;
	be = cfg->chip ? vgpio_gpiod_new(cfg->chip) : vgpio_sim_new(cfg);
	if (!be)
		return NULL;
	g = calloc(1, sizeof(*g));
	if (!g)
		goto fail_be;
	pthread_mutex_init(&g->lock, NULL);
	g->be = be;
	g->n = be->nlines;
	g->lines = calloc(g->n, sizeof(*g->lines));
	if (!g->lines || make_names(g) < 0)
		goto fail_g;
	dev = vdev_new(&info, &gpio_ops, g);
	if (!dev)
		goto fail_g;
	g->dev = dev;
	vdev_config_lock(dev);
	cs = vdev_config(dev);
	cs->ngpio = vdev_cpu_to_le16((uint16_t)g->n);
	cs->gpio_names_size = vdev_cpu_to_le32(g->names_size);
	vdev_config_unlock(dev);
	err = be->ops->start(be, dev, g);
	if (err < 0) {
		vdev_free(dev); /* destroy frees the backend and g */
		errno = -err;
		return NULL;
	}
	return dev;
fail_g:
	err = errno;
	free(g->names);
	free(g->lines);
	pthread_mutex_destroy(&g->lock);
	free(g);
	errno = err;
fail_be:
	err = errno;
	be->ops->destroy(be, NULL);
	errno = err;
	return NULL;
}

/* The caller's config at the size it was compiled with (api.h). */
struct vdev *(vdev_gpio_new)(const struct vdev_gpio_config *cfg, size_t size)
{
	struct vdev_gpio_config c;
	struct vdev *dev;
	int e;

	if (cfg && !VSIZED_IN(c, cfg, size))
		return NULL;
	dev = gpio_new_cfg(cfg ? &c : NULL);
	e = errno;
	errno = e;
	return dev;
}
