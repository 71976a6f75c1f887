/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-console with MULTIPORT (include/virtio/console.h says what the
 * device does). The model: ports, the control queues, data both ways.
 * Backends (backend.c) give each port an input fd, read on the port's rx
 * queue's thread, and an output fd, written on its tx queue's thread.
 *
 * Locks: a queue's lock (held by the core around handle and callbacks),
 * then c->lock (ports, the control ring). Anything that must reach
 * another queue's thread asks for a round there (vdev_queue_schedule).
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <virtio/iov.h>
#include <virtio/queue.h>
#include <virtio/state.h>
#include <virtio/transport.h>

#include "console_internal.h"
#include "core/sized.h"

#define CON_STATE_VERSION 1
/* one section per port: 'C', 'P', id, 0 */
#define TAG_PORT(id) VDEV_STATE_TAG('C', 'P', (id), 0)
#define CON_BUFFER_DEFAULT (64u << 10)
#define CON_BUFFER_MAX (16u << 20)
#define CON_IOV 16

unsigned con_rxq(unsigned id)
{
	return id ? 2 * id + 2 : 0;
}

unsigned con_txq(unsigned id)
{
	return id ? 2 * id + 3 : 1;
}

/* ---- the control rx ring ---------------------------------------------- */

/* Queues a control message for the driver; c->lock held. The caller
 * schedules the control rx queue. */
void con_ctrl(struct con *c, unsigned id, uint16_t event, uint16_t value,
	      const void *extra, size_t elen)
{
	struct con_msg *m;
	struct vdev_console_control h = {
		.id = vdev_cpu_to_le32(id),
		.event = vdev_cpu_to_le16(event),
		.value = vdev_cpu_to_le16(value),
	};

	if (c->ccount == CON_CTRL_RING || elen > CON_MSG_MAX - sizeof(h)) {
		c->ctrl_dropped++;
		return;
	}
	m = &c->ctrl[(c->chead + c->ccount++) % CON_CTRL_RING];
	memcpy(m->b, &h, sizeof(h));
	if (elen)
		memcpy(m->b + sizeof(h), extra, elen);
	m->len = (uint16_t)(sizeof(h) + elen);
}

static void ctrl_rx(struct vdev *dev, struct vdev_queue *q)
{
	struct con *c = vdev_priv(dev);
	struct iovec iov[CON_IOV];
	bool pushed = false;

	pthread_mutex_lock(&c->lock);
	while (c->ccount) {
		struct vdev_req req = { .iov = iov, .iov_max = CON_IOV };
		struct con_msg *m = &c->ctrl[c->chead];
		size_t n;

		if (vdev_queue_pop(q, &req) < 0)
			break;
		/* Linux posts page-sized buffers; a smaller one gets
		 * nothing rather than half a message. */
		n = req.in_bytes >= m->len ?
			    vdev_iov_from_buf(req.in, req.nin, 0, m->b, m->len) :
			    0;
		if (!n)
			c->ctrl_dropped++;
		vdev_queue_push(q, &req, (uint32_t)n);
		pushed = true;
		c->chead = (c->chead + 1) % CON_CTRL_RING;
		c->ccount--;
	}
	pthread_mutex_unlock(&c->lock);
	if (pushed)
		vdev_queue_notify(q);
}

/* What a port says once the driver has it (PORT_READY); lock held. */
static void port_announce(struct con *c, unsigned id)
{
	struct con_port *p = &c->port[id];

	if (p->console)
		con_ctrl(c, id, VDEV_CONSOLE_CONSOLE_PORT, 1, NULL, 0);
	if (p->name[0])
		con_ctrl(c, id, VDEV_CONSOLE_PORT_NAME, 1, p->name,
			 strlen(p->name));
	con_ctrl(c, id, VDEV_CONSOLE_PORT_OPEN, p->host_open, NULL, 0);
}

/* One message from the driver; lock held. */
static void ctrl_msg(struct vdev *dev, struct con *c,
		     const struct vdev_console_control *h)
{
	unsigned id = vdev_le32_to_cpu(h->id);
	uint16_t value = vdev_le16_to_cpu(h->value);
	struct con_port *p = id < c->max_ports ? &c->port[id] : NULL;

	switch (vdev_le16_to_cpu(h->event)) {
	case VDEV_CONSOLE_DEVICE_READY:
		if (value != 1) {
			vdev_log(VDEV_LOG_WARN, "console: driver failed to "
						"initialize");
			return;
		}
		c->ready = true;
		for (unsigned i = 0; i < c->max_ports; i++)
			if (c->port[i].used && !c->port[i].added) {
				c->port[i].added = true;
				con_ctrl(c, i, VDEV_CONSOLE_DEVICE_ADD, 0, NULL,
					 0);
			}
		return;
	case VDEV_CONSOLE_PORT_READY:
		if (!p || !p->used || !p->added)
			break;
		if (value != 1) {
			vdev_log(VDEV_LOG_WARN, "console: driver failed to add "
						"port %u", id);
			return;
		}
		p->guest_ready = true;
		port_announce(c, id);
		/* Its rx buffers may all be there already, kicked before
		 * anything waited on them: look now. */
		vdev_queue_schedule(dev, con_rxq(id));
		return;
	case VDEV_CONSOLE_PORT_OPEN:
		if (!p || !p->used)
			break;
		p->guest_open = value != 0;
		if (p->guest_open)
			vdev_queue_schedule(dev, con_rxq(id));
		return;
	default:
		break;
	}
	c->ctrl_bad++;
}

static void ctrl_tx(struct vdev *dev, struct vdev_queue *q)
{
	struct con *c = vdev_priv(dev);
	struct iovec iov[CON_IOV];
	struct vdev_req req = { .iov = iov, .iov_max = CON_IOV };
	bool pushed = false;
	int r;

	while ((r = vdev_queue_pop(q, &req)) != -EAGAIN) {
		struct vdev_console_control h;

		if (r == -EMSGSIZE)
			continue;
		if (r < 0)
			break;
		/* Read once, into private memory. */
		pthread_mutex_lock(&c->lock);
		if (vdev_iov_to_buf(req.out, req.nout, 0, &h, sizeof(h)) ==
		    sizeof(h))
			ctrl_msg(dev, c, &h);
		else
			c->ctrl_bad++;
		pthread_mutex_unlock(&c->lock);
		vdev_queue_push(q, &req, 0);
		pushed = true;
	}
	if (pushed)
		vdev_queue_notify(q);
	vdev_queue_schedule(dev, 2);
}

/* ---- data: host input to the guest (the port's rx queue) -------------- */

void con_rx(struct vdev *dev, unsigned id, struct vdev_queue *q)
{
	struct con *c = vdev_priv(dev);
	struct con_port *p = &c->port[id];
	struct iovec iov[CON_IOV];
	bool pushed = false, gone = false;

	pthread_mutex_lock(&c->lock);
	/* Linux drops what reaches a port the guest has not opened
	 * (virtio_console.c, in_intr): host input waits for the guest's
	 * PORT_OPEN, as with QEMU's virtio-serial. A console is open from
	 * the start. */
	if (vdev_has_feature(dev, VDEV_CONSOLE_F_MULTIPORT) && !p->guest_open &&
	    !p->console)
		con_watch_in(dev, p, id, false);
	while (p->used && p->in_fd >= 0 &&
	       (p->guest_open || p->console ||
		!vdev_has_feature(dev, VDEV_CONSOLE_F_MULTIPORT))) {
		struct vdev_req req = { .iov = iov, .iov_max = CON_IOV };
		ssize_t n;
		int r = vdev_queue_pop(q, &req);

		if (r == -EMSGSIZE)
			continue;
		if (r < 0) {
			/* No buffer: stop reading until the driver gives
			 * one (its kick runs this again). The round's budget
			 * spent (a callback pops outside the core's rounds):
			 * go on in the next round. */
			if (r == -EAGAIN || r == -EBUSY)
				con_watch_in(dev, p, id, false);
			if (r == -EBUSY)
				vdev_queue_schedule(dev, con_rxq(id));
			break;
		}
		n = req.nin ? readv(p->in_fd, req.in, req.nin) : 0;
		if (n > 0) {
			vdev_queue_push(q, &req, (uint32_t)n);
			pushed = true;
			continue;
		}
		if (vdev_queue_unpop(q, &req) < 0)
			vdev_queue_push(q, &req, 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			con_watch_in(dev, p, id, true);
		else
			gone = true;
		break;
	}
	if (gone)
		con_input_ended(dev, id);
	pthread_mutex_unlock(&c->lock);
	if (pushed)
		vdev_queue_notify(q);
	if (gone)
		vdev_queue_schedule(dev, 2);
}

/* ---- data: guest output to the host (the port's tx queue) ------------- */

/* Writes what is held; lock held. True when it all went. */
static bool flush(struct vdev *dev, struct con_port *p, unsigned id)
{
	while (p->len && p->out_fd >= 0) {
		ssize_t n = write(p->out_fd, p->buf, p->len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0 && errno != EAGAIN) {
				/* the host side broke: it is away */
				con_host_gone(dev, id);
				vdev_queue_schedule(dev, 2);
				break;
			}
			con_watch_out(dev, p, id, true);
			return false;
		}
		memmove(p->buf, p->buf + n, p->len - (size_t)n);
		p->len -= (size_t)n;
	}
	if (p->len && p->out_fd < 0 && p->drop)
		p->len = 0;
	if (p->out_fd >= 0)
		con_watch_out(dev, p, id, false);
	return !p->len;
}

/* Takes bytes of the request in progress into the port's buffer; lock
 * held. True when it is all taken. */
static bool take(struct con *c, struct con_port *p, bool all)
{
	size_t left = p->cur.out_bytes - p->cur_off;
	size_t room = c->cap - p->len;
	size_t n = all || left < room ? left : room;

	if (p->len + n > p->alloc) {
		size_t a = p->len + n;
		uint8_t *b = realloc(p->buf, a);

		if (!b)
			return false;
		p->buf = b;
		p->alloc = a;
	}
	p->len += vdev_iov_to_buf(p->cur.out, p->cur.nout, p->cur_off,
				  p->buf + p->len, n);
	p->cur_off += n;
	return p->cur_off == p->cur.out_bytes;
}

void con_tx(struct vdev *dev, unsigned id, struct vdev_queue *q)
{
	struct con *c = vdev_priv(dev);
	struct con_port *p = &c->port[id];
	bool pushed = false;

	pthread_mutex_lock(&c->lock);
	if (!p->used && p->has_cur) {
		/* the port went away under it */
		vdev_queue_push(q, &p->cur, 0);
		p->has_cur = false;
		pushed = true;
	}
	while (p->used) {
		if (!p->has_cur) {
			p->cur.iov = p->cur_iov;
			p->cur.iov_max = CON_IOV;
			int r = vdev_queue_pop(q, &p->cur);

			if (r == -EMSGSIZE)
				continue;
			if (r < 0) {
				flush(dev, p, id); /* what is held */
				if (r == -EBUSY)
					vdev_queue_schedule(dev, con_txq(id));
				break;
			}
			p->has_cur = true;
			p->cur_off = 0;
		}
		if (take(c, p, false)) {
			vdev_queue_push(q, &p->cur, 0);
			p->has_cur = false;
			pushed = true;
		}
		/* Away and dropping: what the guest says is gone. */
		if (p->out_fd < 0 && p->drop)
			p->len = 0;
		flush(dev, p, id);
		if (p->len == c->cap)
			break; /* held back until the host side takes some */
	}
	pthread_mutex_unlock(&c->lock);
	if (pushed)
		vdev_queue_notify(q);
}

/* The request in progress is finished now (queue stopped or reset): its
 * bytes go into the buffer past the cap, so nothing the driver handed
 * over is lost. */
static void con_drain(struct vdev *dev, unsigned qidx, struct vdev_queue *q)
{
	struct con *c = vdev_priv(dev);

	if (qidx < 4 && qidx > 1)
		return;
	pthread_mutex_lock(&c->lock);
	for (unsigned id = 0; id < c->max_ports; id++) {
		struct con_port *p = &c->port[id];

		if (con_txq(id) != qidx || !p->has_cur)
			continue;
		if (p->used && (p->cur.out_bytes - p->cur_off > CON_BUFFER_MAX ||
				!take(c, p, true)))
			vdev_log(VDEV_LOG_WARN, "console: port %u: output lost "
						"at a queue stop", id);
		vdev_queue_push(q, &p->cur, 0);
		p->has_cur = false;
	}
	pthread_mutex_unlock(&c->lock);
}

static void con_handle(struct vdev *dev, unsigned qidx, struct vdev_queue *q)
{
	struct con *c = vdev_priv(dev);
	unsigned id;

	if (qidx == 2) {
		ctrl_rx(dev, q);
		return;
	}
	if (qidx == 3) {
		ctrl_tx(dev, q);
		return;
	}
	id = qidx < 2 ? 0 : (qidx - 2) / 2;
	if (id >= c->max_ports)
		return;
	if (qidx == con_rxq(id))
		con_rx(dev, id, q);
	else
		con_tx(dev, id, q);
}

/* ---- config space: SIZE, EMERG_WRITE ---------------------------------- */

static int con_config_write(struct vdev *dev, uint32_t offset,
			    const void *data, uint32_t len)
{
	struct con *c = vdev_priv(dev);
	const uint8_t *cur = vdev_config(dev), *in = data;
	const uint32_t e = offsetof(struct vdev_console_config_space, emerg_wr);

	/* Only emerg_wr is the driver's; a whole-space write must leave
	 * the rest as it is. */
	for (uint32_t i = offset; i < offset + len; i++)
		if (i < e && in[i - offset] != cur[i])
			return -EPERM;
	if (offset > e || offset + len < e + 1)
		return VDEV_CONFIG_HANDLED;
	if (!vdev_has_feature(dev, VDEV_CONSOLE_F_EMERG_WRITE))
		return -EPERM;
	pthread_mutex_lock(&c->lock);
	con_emerg(c, in[e - offset]);
	pthread_mutex_unlock(&c->lock);
	return VDEV_CONFIG_HANDLED;
}

/* ---- lifecycle -------------------------------------------------------- */

static void con_reset(struct vdev *dev)
{
	struct con *c = vdev_priv(dev);

	pthread_mutex_lock(&c->lock);
	c->ready = false;
	c->chead = c->ccount = 0;
	for (unsigned i = 0; i < c->max_ports; i++) {
		c->port[i].added = false;
		c->port[i].guest_ready = c->port[i].guest_open = false;
		/* a request in progress was finished by drain */
		c->port[i].has_cur = false;
	}
	pthread_mutex_unlock(&c->lock);
}

static int con_start(struct vdev *dev)
{
	struct con *c = vdev_priv(dev);

	/* Without MULTIPORT port 0 is the console and needs no handshake:
	 * its host input may flow at once. Every port looks at its rings
	 * (a restored device has buffers already). */
	for (unsigned id = 0; id < c->max_ports; id++) {
		vdev_queue_schedule(dev, con_rxq(id));
		vdev_queue_schedule(dev, con_txq(id));
	}
	return 0;
}

/* Save/restore: per port its state and the output held for the host. */
static int con_save(struct vdev *dev, struct vdev_state_writer *w)
{
	struct con *c = vdev_priv(dev);
	int r = 0;

	pthread_mutex_lock(&c->lock);
	for (unsigned id = 0; id < c->max_ports && !r; id++) {
		struct con_port *p = &c->port[id];
		size_t n = 8 + p->len;
		uint8_t *b;

		if (!p->used)
			continue;
		b = malloc(n);
		if (!b) {
			r = -ENOMEM;
			break;
		}
		b[0] = (uint8_t)id;
		b[1] = (uint8_t)(p->added | p->guest_ready << 1 |
				 p->guest_open << 2);
		memset(b + 2, 0, 6);
		if (p->len)
			memcpy(b + 8, p->buf, p->len);
		r = vdev_state_put(w, TAG_PORT(id), b,
				   (uint32_t)n);
		free(b);
	}
	pthread_mutex_unlock(&c->lock);
	if (!r) {
		uint64_t ready = c->ready;

		r = vdev_state_put_u64(w, VDEV_STATE_TAG('C', 'O', 'N', 'R'),
				       ready);
	}
	return r;
}

static int con_load(struct vdev *dev, struct vdev_state_reader *r,
		    uint32_t version)
{
	struct con *c = vdev_priv(dev);
	uint64_t ready;
	int ret = 0;

	(void)version;
	if (vdev_state_get_u64(r, VDEV_STATE_TAG('C', 'O', 'N', 'R'),
			       &ready) < 0 || ready > 1)
		return -EBADMSG;
	pthread_mutex_lock(&c->lock);
	c->ready = ready;
	for (unsigned id = 0; id < c->max_ports && !ret; id++) {
		struct con_port *p = &c->port[id];
		uint32_t len;
		const uint8_t *b = vdev_state_get(r, TAG_PORT(id),
						  &len);

		if (!b)
			continue;
		/* A port the saved guest had must be one we have. */
		if (len < 8 || b[0] != id || b[1] > 7 || !p->used ||
		    len - 8 > CON_BUFFER_MAX) {
			ret = -EBADMSG;
			break;
		}
		if (len - 8 > p->alloc) {
			uint8_t *nb = realloc(p->buf, len - 8);

			if (!nb) {
				ret = -ENOMEM;
				break;
			}
			p->buf = nb;
			p->alloc = len - 8;
		}
		if (len > 8)
			memcpy(p->buf, b + 8, len - 8);
		p->len = len - 8;
		p->added = b[1] & 1;
		p->guest_ready = b[1] & 2;
		p->guest_open = b[1] & 4;
	}
	pthread_mutex_unlock(&c->lock);
	return ret;
}

static void con_destroy(struct vdev *dev)
{
	struct con *c = vdev_priv(dev);

	con_control_stop(c);
	for (unsigned id = 0; id < c->max_ports; id++)
		if (c->port[id].used)
			con_port_close(dev, id);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static const struct vdev_ops con_ops = {
	.config_write = con_config_write,
	.start = con_start,
	.reset = con_reset,
	.drain = con_drain,
	.handle = con_handle,
	.save = con_save,
	.load = con_load,
	.destroy = con_destroy,
};

static int add_port(struct vdev *dev, unsigned id,
		    const struct vdev_console_port *port)
{
	struct con *c = vdev_priv(dev);
	int r;

	if (!port || id >= c->max_ports)
		return -EINVAL;
	if (id && !vdev_has_feature(dev, VDEV_CONSOLE_F_MULTIPORT) &&
	    vdev_get_status(dev) & VDEV_STATUS_FEATURES_OK)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&c->lock);
	if (c->port[id].used) {
		pthread_mutex_unlock(&c->lock);
		return -EEXIST;
	}
	r = con_port_open(dev, id, port);
	if (!r && c->ready) {
		c->port[id].added = true;
		con_ctrl(c, id, VDEV_CONSOLE_DEVICE_ADD, 0, NULL, 0);
	}
	pthread_mutex_unlock(&c->lock);
	vdev_queue_schedule(dev, 2);
	return r;
}

int vdev_console_remove_port(struct vdev *dev, unsigned id)
{
	struct con *c = vdev_priv(dev);

	if (id >= c->max_ports)
		return -ENOENT;
	pthread_mutex_lock(&c->lock);
	if (!c->port[id].used) {
		pthread_mutex_unlock(&c->lock);
		return -ENOENT;
	}
	if (c->port[id].added)
		con_ctrl(c, id, VDEV_CONSOLE_DEVICE_REMOVE, 0, NULL, 0);
	con_port_close(dev, id);
	pthread_mutex_unlock(&c->lock);
	vdev_queue_schedule(dev, 2);
	return 0;
}

int vdev_console_resize(struct vdev *dev, unsigned id, uint16_t cols,
			uint16_t rows)
{
	struct con *c = vdev_priv(dev);
	struct vdev_console_config_space *cfg = vdev_config(dev);
	/* struct virtio_console_resize: cols, then rows (as Linux 6.1
	 * reads it too: console.sh's stty size proves the order). */
	vdev_le16 size[2] = { vdev_cpu_to_le16(cols), vdev_cpu_to_le16(rows) };

	if (id >= c->max_ports)
		return -ENOENT;
	pthread_mutex_lock(&c->lock);
	if (!c->port[id].used || !c->port[id].console) {
		pthread_mutex_unlock(&c->lock);
		return -ENOENT;
	}
	if (c->port[id].guest_ready)
		con_ctrl(c, id, VDEV_CONSOLE_RESIZE, 0, size, sizeof(size));
	pthread_mutex_unlock(&c->lock);
	if (id == 0) {
		vdev_config_lock(dev);
		cfg->cols = vdev_cpu_to_le16(cols);
		cfg->rows = vdev_cpu_to_le16(rows);
		vdev_config_unlock(dev);
		vdev_config_changed(dev);
	}
	vdev_queue_schedule(dev, 2);
	return 0;
}

const char *vdev_console_pty_path(struct vdev *dev, unsigned id)
{
	struct con *c = vdev_priv(dev);

	if (id >= c->max_ports || !c->port[id].used || !c->port[id].pty[0])
		return NULL;
	return c->port[id].pty;
}

static struct vdev *console_new_cfg(const struct vdev_console_config *cfg)
{
	struct vdev_info info = {
		.name = "console",
		.device_id = VDEV_ID_CONSOLE,
		.features = 1ull << VDEV_CONSOLE_F_SIZE |
			    1ull << VDEV_CONSOLE_F_MULTIPORT |
			    1ull << VDEV_CONSOLE_F_EMERG_WRITE,
		.config_size = sizeof(struct vdev_console_config_space),
		.state_version = CON_STATE_VERSION,
	};
	struct vdev_console_config_space *cs;
	struct vdev *dev;
	struct con *c;
	unsigned max;
	int r = 0;

	max = cfg ? (cfg->max_ports ? cfg->max_ports : cfg->nports) : 0;
	if (!cfg || !max || max > VDEV_CONSOLE_PORTS_MAX ||
	    cfg->nports > max || (cfg->nports && !cfg->ports) ||
	    cfg->buffer > CON_BUFFER_MAX) {
		errno = EINVAL;
		return NULL;
	}
	for (unsigned i = 0; i < cfg->nports; i++)
		if (cfg->ports[i].name &&
		    strlen(cfg->ports[i].name) > VDEV_CONSOLE_NAME_MAX) {
			errno = EINVAL;
			return NULL;
		}
	info.num_queues = 2 * max + 2;
	info.max_queue_size = cfg->queue_size ? cfg->queue_size : 1024;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	c->max_ports = max;
	c->cap = cfg->buffer ? cfg->buffer : CON_BUFFER_DEFAULT;
	for (unsigned i = 0; i < max; i++)
		con_port_init(&c->port[i]);
	dev = vdev_new(&info, &con_ops, c);
	if (!dev) {
		pthread_mutex_destroy(&c->lock);
		free(c);
		return NULL;
	}
	c->dev = dev;
	cs = vdev_config(dev);
	cs->cols = vdev_cpu_to_le16(cfg->cols ? cfg->cols : 80);
	cs->rows = vdev_cpu_to_le16(cfg->rows ? cfg->rows : 25);
	cs->max_nr_ports = vdev_cpu_to_le32(max);
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < cfg->nports && !r; i++)
		r = con_port_open(dev, i, &cfg->ports[i]);
	pthread_mutex_unlock(&c->lock);
	if (!r && cfg->control)
		r = con_control_start(c, cfg->control);
	if (r) {
		vdev_free(dev);
		errno = -r;
		return NULL;
	}
	return dev;
}

/* The caller's config at the size it was compiled with (api.h). */
struct vdev *(vdev_console_new)(const struct vdev_console_config *cfg,
				 size_t size, size_t port_size)
{
	struct vdev_console_config c;
	struct vdev_console_port *ports = NULL;
	struct vdev *dev;
	int e;

	if (cfg && !VSIZED_IN(c, cfg, size))
		return NULL;
	/* More than the most is refused by the device, unread. */
	if (cfg && c.ports && c.nports &&
	    c.nports <= VDEV_CONSOLE_PORTS_MAX) {
		ports = vsized_array(c.ports, c.nports, port_size,
				sizeof(*ports));
		if (!ports)
			return NULL;
		c.ports = ports;
	}
	dev = console_new_cfg(cfg ? &c : NULL);
	e = errno;
	free(ports);
	errno = e;
	return dev;
}

int (vdev_console_add_port)(struct vdev *dev, unsigned id,
			   const struct vdev_console_port *port, size_t size)
{
	struct vdev_console_port c;

	if (!port || !VSIZED_IN(c, port, size))
		return -EINVAL;
	return add_port(dev, id, &c);
}
