/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-input: the config union, whole-batch delivery on the eventq and
 * the statusq (include/virtio/input.h says what the device does).
 *
 * Threads: sources (evdev, control socket, replay timer) are watched on
 * the eventq's thread and deliver directly; vdev_input_send() on any
 * thread queues under the model's lock and schedules the eventq. The
 * statusq runs on its own thread and only reads the sources' fds.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <virtio/iov.h>
#include <virtio/queue.h>
#include <virtio/state.h>

#include "core/bytes.h"
#include "input_internal.h"
#include "core/sized.h"

#define INPUT_STATE_VERSION 1
#define TAG_CAPS VDEV_STATE_TAG('I', 'N', 'P', 'C')
#define TAG_PENDING VDEV_STATE_TAG('I', 'N', 'P', 'E')
#define INPUT_BACKLOG_DEFAULT 256u
#define INPUT_BACKLOG_MAX 65536u
#define INPUT_SEND_MAX 4096u
#define INPUT_SCRIPT_TEXT_MAX (64u << 20)

struct input {
	struct vdev_input_caps caps;
	pthread_mutex_t lock; /* backlog, stats, started */
	struct vdev_input_event *ev; /* ring of backlog entries */
	bool *last;                  /* ends a batch */
	unsigned size, head, count;
	bool started;
	struct vdev_input_stats st;
	struct input_stage api;      /* vdev_input_send, under api_lock */
	pthread_mutex_t api_lock;
	struct input_src *src;
	struct input_evdev *evdev;
	vdev_input_status_fn status;
	void *opaque;
};

int vdev_input_caps_set(struct vdev_input_caps *caps, unsigned type,
			unsigned code)
{
	if (!caps || type >= VDEV_INPUT_EV_CNT || code >= VDEV_INPUT_BITS * 8)
		return -EINVAL;
	caps->bits[type][code / 8] |= (uint8_t)(1u << (code % 8));
	return 0;
}

static bool bit(const uint8_t *map, unsigned b)
{
	return map[b / 8] & (1u << (b % 8));
}

/* Bytes of @map up to its last non-zero one: EV_BITS' size. */
static uint8_t map_size(const uint8_t *map)
{
	unsigned n = VDEV_INPUT_BITS;

	while (n && !map[n - 1])
		n--;
	return (uint8_t)n;
}

/* The types that have codes, EV_SYN included when any does. */
static void type_map(const struct vdev_input_caps *c, uint8_t *map)
{
	memset(map, 0, VDEV_INPUT_BITS);
	for (unsigned t = 1; t < VDEV_INPUT_EV_CNT; t++)
		if (map_size(c->bits[t]))
			map[t / 8] |= (uint8_t)(1u << (t % 8));
	if (map_size(map))
		map[0] |= 1;
}

static uint8_t str_answer(const char *s, char *out)
{
	size_t n = strnlen(s, VDEV_INPUT_STR_MAX);

	memcpy(out, s, n);
	return (uint8_t)n;
}

/* Recomputes size and the union for select/subsel; config lock held. */
static void answer(struct input *in, struct vdev_input_config_space *cfg)
{
	const struct vdev_input_caps *c = &in->caps;
	unsigned sub = cfg->subsel;
	uint8_t size = 0;

	memset(&cfg->u, 0, sizeof(cfg->u));
	switch (cfg->select) {
	case VDEV_INPUT_CFG_ID_NAME:
		if (!sub)
			size = str_answer(c->name, cfg->u.string);
		break;
	case VDEV_INPUT_CFG_ID_SERIAL:
		if (!sub)
			size = str_answer(c->serial, cfg->u.string);
		break;
	case VDEV_INPUT_CFG_ID_DEVIDS:
		if (sub)
			break;
		cfg->u.ids.bustype = vdev_cpu_to_le16(c->bustype);
		cfg->u.ids.vendor = vdev_cpu_to_le16(c->vendor);
		cfg->u.ids.product = vdev_cpu_to_le16(c->product);
		cfg->u.ids.version = vdev_cpu_to_le16(c->version);
		size = sizeof(cfg->u.ids);
		break;
	case VDEV_INPUT_CFG_PROP_BITS:
		if (sub)
			break;
		memcpy(cfg->u.bitmap, c->props, VDEV_INPUT_BITS);
		size = map_size(c->props);
		break;
	case VDEV_INPUT_CFG_EV_BITS:
		if (sub >= VDEV_INPUT_EV_CNT)
			break;
		if (sub == VDEV_INPUT_EV_SYN)
			type_map(c, cfg->u.bitmap);
		else
			memcpy(cfg->u.bitmap, c->bits[sub], VDEV_INPUT_BITS);
		size = map_size(cfg->u.bitmap);
		break;
	case VDEV_INPUT_CFG_ABS_INFO:
		if (sub >= VDEV_INPUT_ABS_CNT ||
		    !bit(c->bits[VDEV_INPUT_EV_ABS], sub))
			break;
		cfg->u.abs.min = vdev_cpu_to_le32((uint32_t)c->abs[sub].min);
		cfg->u.abs.max = vdev_cpu_to_le32((uint32_t)c->abs[sub].max);
		cfg->u.abs.fuzz = vdev_cpu_to_le32((uint32_t)c->abs[sub].fuzz);
		cfg->u.abs.flat = vdev_cpu_to_le32((uint32_t)c->abs[sub].flat);
		cfg->u.abs.res = vdev_cpu_to_le32((uint32_t)c->abs[sub].res);
		size = sizeof(cfg->u.abs);
		break;
	default:
		break;
	}
	cfg->size = size;
}

/*
 * The driver writes select and subsel, one byte each (virtio-pci,
 * virtio-mmio, UML), or the whole config space with the bytes it did not
 * mean to change as it last read them (QEMU's vhost-user frontend). Only
 * those two bytes are the driver's; the rest is the device's answer, so
 * whatever else the range holds is ignored rather than refused.
 */
static int input_config_write(struct vdev *dev, uint32_t offset,
			      const void *data, uint32_t len)
{
	struct input *in = vdev_priv(dev);
	struct vdev_input_config_space *cfg = vdev_config(dev);
	const uint8_t *b = data;

	if (offset == 0 && len >= 1)
		cfg->select = b[0];
	if (offset <= 1 && offset + len >= 2)
		cfg->subsel = b[1 - offset];
	answer(in, cfg);
	return VDEV_CONFIG_HANDLED;
}

/* ---- the backlog and delivery --------------------------------------- */

static void drop(struct input *in, unsigned n)
{
	in->st.dropped++;
	in->st.dropped_events += n;
}

/* Queues one whole batch; the lock is held. */
static bool enqueue(struct input *in, const struct vdev_input_event *ev,
		    unsigned n)
{
	if (!in->started || n > in->size - in->count) {
		drop(in, n);
		return false;
	}
	for (unsigned i = 0; i < n; i++) {
		unsigned at = (in->head + in->count) % in->size;

		in->ev[at] = ev[i];
		in->last[at] = i + 1 == n;
		in->count++;
	}
	return true;
}

static unsigned head_batch(const struct input *in)
{
	unsigned n = 0;

	while (n < in->count)
		if (in->last[(in->head + n++) % in->size])
			break;
	return n;
}

static void consume(struct input *in, unsigned n)
{
	in->head = (in->head + n) % in->size;
	in->count -= n;
}

#define INPUT_IOV 4

/*
 * Eventq, its lock held. A batch leaves only when the ring has a buffer
 * for each event (vdev_queue_avail_count), so it is never split; one that
 * is longer than the ring itself could never leave and is dropped. Should
 * a pop still fail half-way, the buffers taken go back (unpop) and the
 * batch waits. A buffer smaller than an event breaks the spec's MUST
 * (5.8.6.1): the device needs a reset and the batch is dropped.
 */
static void deliver(struct vdev *dev, struct vdev_queue *q)
{
	struct input *in = vdev_priv(dev);
	struct iovec iov[INPUT_STAGE_MAX][INPUT_IOV];
	struct vdev_req req[INPUT_STAGE_MAX];
	bool pushed = false;

	pthread_mutex_lock(&in->lock);
	for (;;) {
		unsigned n = head_batch(in), got = 0;
		bool bad = false;

		if (!n)
			break;
		if (n > vdev_queue_size(q) || n > INPUT_STAGE_MAX) {
			drop(in, n);
			consume(in, n);
			continue;
		}
		if (vdev_queue_avail_count(q, n) < (int)n)
			break;
		for (; got < n; got++) {
			int r;

			req[got].iov = iov[got];
			req[got].iov_max = INPUT_IOV;
			r = vdev_queue_pop(q, &req[got]);
			/* A source's callback pops outside the core's
			 * rounds: a spent budget goes on in the next. */
			if (r == -EBUSY)
				vdev_queue_schedule(dev, 0);
			if (r < 0)
				break;
			if (req[got].in_bytes < sizeof(struct vdev_input_event))
				bad = true;
		}
		if (got < n && !bad) {
			while (got-- > 0)
				if (vdev_queue_unpop(q, &req[got]) < 0)
					vdev_queue_push(q, &req[got], 0);
			break;
		}
		for (unsigned i = 0; i < got; i++) {
			const struct vdev_input_event *e =
				&in->ev[(in->head + i) % in->size];
			size_t len = 0;

			if (!bad)
				len = vdev_iov_from_buf(req[i].in, req[i].nin,
							0, e, sizeof(*e));
			vdev_queue_push(q, &req[i], (uint32_t)len);
		}
		pushed = true;
		if (bad) {
			drop(in, n);
			consume(in, n);
			pthread_mutex_unlock(&in->lock);
			vdev_log(VDEV_LOG_WARN, "input: an eventq buffer is "
						"smaller than an event");
			vdev_queue_notify(q);
			vdev_set_needs_reset(dev);
			return;
		}
		in->st.batches++;
		in->st.events += n;
		consume(in, n);
	}
	pthread_mutex_unlock(&in->lock);
	if (pushed)
		vdev_queue_notify(q);
}

void input_deliver_now(struct vdev *dev)
{
	deliver(dev, vdev_get_queue(dev, 0));
}

bool input_feed(struct vdev *dev, struct input_stage *s, uint16_t type,
		uint16_t code, int32_t value)
{
	struct input *in = vdev_priv(dev);
	bool syn = type == VDEV_INPUT_EV_SYN;
	bool ok = false;

	if (syn && code == VDEV_INPUT_SYN_DROPPED) {
		/* The source lost events: the batch under way is torn. */
		pthread_mutex_lock(&in->lock);
		if (s->n || !s->skip)
			drop(in, s->n);
		pthread_mutex_unlock(&in->lock);
		s->n = 0;
		s->skip = true;
		return false;
	}
	if (s->skip) {
		if (syn && code == VDEV_INPUT_SYN_REPORT)
			s->skip = false;
		return false;
	}
	if (s->n == INPUT_STAGE_MAX) {
		pthread_mutex_lock(&in->lock);
		drop(in, s->n + 1);
		pthread_mutex_unlock(&in->lock);
		s->n = 0;
		s->skip = !(syn && code == VDEV_INPUT_SYN_REPORT);
		return false;
	}
	s->ev[s->n].type = vdev_cpu_to_le16(type);
	s->ev[s->n].code = vdev_cpu_to_le16(code);
	s->ev[s->n].value = vdev_cpu_to_le32((uint32_t)value);
	s->n++;
	if (!syn || code != VDEV_INPUT_SYN_REPORT)
		return false;
	pthread_mutex_lock(&in->lock);
	ok = enqueue(in, s->ev, s->n);
	pthread_mutex_unlock(&in->lock);
	s->n = 0;
	return ok;
}

int vdev_input_send(struct vdev *dev, const struct vdev_input_event *ev,
		    unsigned n)
{
	struct input *in;
	uint64_t before;
	bool queued = false;

	if (!dev || !ev || !n || n > INPUT_SEND_MAX ||
	    vdev_le16_to_cpu(ev[n - 1].type) != VDEV_INPUT_EV_SYN ||
	    vdev_le16_to_cpu(ev[n - 1].code) != VDEV_INPUT_SYN_REPORT)
		return -EINVAL;
	in = vdev_priv(dev);
	pthread_mutex_lock(&in->api_lock);
	pthread_mutex_lock(&in->lock);
	before = in->st.dropped;
	pthread_mutex_unlock(&in->lock);
	for (unsigned i = 0; i < n; i++)
		queued |= input_feed(dev, &in->api, vdev_le16_to_cpu(ev[i].type),
				     vdev_le16_to_cpu(ev[i].code),
				     (int32_t)vdev_le32_to_cpu(ev[i].value));
	pthread_mutex_lock(&in->lock);
	before = in->st.dropped - before;
	pthread_mutex_unlock(&in->lock);
	pthread_mutex_unlock(&in->api_lock);
	if (queued)
		vdev_queue_schedule(dev, 0);
	return before ? -ENOSPC : 0;
}

static void get_stats(struct vdev *dev, struct vdev_input_stats *st)
{
	struct input *in = vdev_priv(dev);

	pthread_mutex_lock(&in->lock);
	*st = in->st;
	pthread_mutex_unlock(&in->lock);
}

/* ---- statusq: LEDs and sounds back to the host ---------------------- */

static void status(struct vdev *dev, struct vdev_queue *q)
{
	struct input *in = vdev_priv(dev);
	struct iovec iov[INPUT_IOV];
	struct vdev_req req = { .iov = iov, .iov_max = INPUT_IOV };
	bool pushed = false;
	int r;

	while ((r = vdev_queue_pop(q, &req)) != -EAGAIN) {
		struct vdev_input_event e;
		uint16_t type, code;
		int32_t value;

		if (r == -EMSGSIZE) {
			pthread_mutex_lock(&in->lock);
			in->st.bad_status++;
			pthread_mutex_unlock(&in->lock);
			continue;
		}
		if (r < 0)
			break;
		/* Read once, into private memory. */
		if (vdev_iov_to_buf(req.out, req.nout, 0, &e, sizeof(e)) !=
		    sizeof(e)) {
			pthread_mutex_lock(&in->lock);
			in->st.bad_status++;
			pthread_mutex_unlock(&in->lock);
			vdev_queue_push(q, &req, 0);
			pushed = true;
			continue;
		}
		vdev_queue_push(q, &req, 0);
		pushed = true;
		type = vdev_le16_to_cpu(e.type);
		code = vdev_le16_to_cpu(e.code);
		value = (int32_t)vdev_le32_to_cpu(e.value);
		pthread_mutex_lock(&in->lock);
		in->st.status++;
		pthread_mutex_unlock(&in->lock);
		if (in->evdev)
			input_evdev_status(in->evdev, type, code, value);
		if (in->src)
			input_src_status(in->src, type, code, value);
		if (in->status)
			in->status(in->opaque, type, code, value);
	}
	if (pushed)
		vdev_queue_notify(q);
}

static void input_handle(struct vdev *dev, unsigned qidx, struct vdev_queue *q)
{
	if (qidx == 0)
		deliver(dev, q);
	else
		status(dev, q);
}

/* ---- lifecycle ------------------------------------------------------- */

static int input_start(struct vdev *dev)
{
	struct input *in = vdev_priv(dev);

	pthread_mutex_lock(&in->lock);
	in->started = true;
	pthread_mutex_unlock(&in->lock);
	if (in->src)
		input_src_start(in->src);
	return 0;
}

/* Events the driver never got are gone with it; select goes back to 0. */
static void input_reset(struct vdev *dev)
{
	struct input *in = vdev_priv(dev);
	struct vdev_input_config_space *cfg = vdev_config(dev);

	if (in->src)
		input_src_stop(in->src);
	pthread_mutex_lock(&in->lock);
	in->started = false;
	in->head = in->count = 0;
	pthread_mutex_unlock(&in->lock);
	vdev_config_lock(dev);
	cfg->select = cfg->subsel = 0;
	answer(in, cfg);
	vdev_config_unlock(dev);
}

/* ---- save/restore: capabilities and the backlog ---------------------- */

#define CAPS_BYTES                                                          \
	(2 * (VDEV_INPUT_STR_MAX + 1) + 8 + VDEV_INPUT_BITS +                \
	 VDEV_INPUT_EV_CNT * VDEV_INPUT_BITS + VDEV_INPUT_ABS_CNT * 20)

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	put_le16(p, v);
	return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	put_le32(p, v);
	return p + 4;
}

static const uint8_t *get16(const uint8_t *p, uint16_t *v)
{
	*v = get_le16(p);
	return p + 2;
}

static const uint8_t *get32(const uint8_t *p, int32_t *v)
{
	*v = (int32_t)get_le32(p);
	return p + 4;
}

static void caps_put(const struct vdev_input_caps *c, uint8_t *p)
{
	memcpy(p, c->name, sizeof(c->name));
	p += sizeof(c->name);
	memcpy(p, c->serial, sizeof(c->serial));
	p += sizeof(c->serial);
	p = put16(p, c->bustype);
	p = put16(p, c->vendor);
	p = put16(p, c->product);
	p = put16(p, c->version);
	memcpy(p, c->props, sizeof(c->props));
	p += sizeof(c->props);
	memcpy(p, c->bits, sizeof(c->bits));
	p += sizeof(c->bits);
	for (unsigned a = 0; a < VDEV_INPUT_ABS_CNT; a++) {
		p = put32(p, (uint32_t)c->abs[a].min);
		p = put32(p, (uint32_t)c->abs[a].max);
		p = put32(p, (uint32_t)c->abs[a].fuzz);
		p = put32(p, (uint32_t)c->abs[a].flat);
		p = put32(p, (uint32_t)c->abs[a].res);
	}
}

static void caps_get(struct vdev_input_caps *c, const uint8_t *p)
{
	memcpy(c->name, p, sizeof(c->name));
	p += sizeof(c->name);
	memcpy(c->serial, p, sizeof(c->serial));
	p += sizeof(c->serial);
	/* A blob can come from anywhere: strings end where ours do. */
	c->name[VDEV_INPUT_STR_MAX] = c->serial[VDEV_INPUT_STR_MAX] = 0;
	p = get16(p, &c->bustype);
	p = get16(p, &c->vendor);
	p = get16(p, &c->product);
	p = get16(p, &c->version);
	memcpy(c->props, p, sizeof(c->props));
	p += sizeof(c->props);
	memcpy(c->bits, p, sizeof(c->bits));
	p += sizeof(c->bits);
	for (unsigned a = 0; a < VDEV_INPUT_ABS_CNT; a++) {
		p = get32(p, &c->abs[a].min);
		p = get32(p, &c->abs[a].max);
		p = get32(p, &c->abs[a].fuzz);
		p = get32(p, &c->abs[a].flat);
		p = get32(p, &c->abs[a].res);
	}
}

static int input_save(struct vdev *dev, struct vdev_state_writer *w)
{
	struct input *in = vdev_priv(dev);
	uint8_t *buf;
	size_t n = 0;
	int r;

	buf = malloc(CAPS_BYTES > in->size * 9 ? CAPS_BYTES : in->size * 9);
	if (!buf)
		return -ENOMEM;
	caps_put(&in->caps, buf);
	r = vdev_state_put(w, TAG_CAPS, buf, CAPS_BYTES);
	if (r)
		goto out;
	pthread_mutex_lock(&in->lock);
	for (unsigned i = 0; i < in->count; i++, n += 9) {
		unsigned at = (in->head + i) % in->size;

		memcpy(buf + n, &in->ev[at], 8);
		buf[n + 8] = in->last[at];
	}
	pthread_mutex_unlock(&in->lock);
	r = vdev_state_put(w, TAG_PENDING, buf, (uint32_t)n);
out:
	free(buf);
	return r;
}

/*
 * The guest probed the saved capabilities, so they stay what config space
 * answers even when this device's source differs (a host with another
 * evdev device): the guest's view must not change under it.
 */
static int input_load(struct vdev *dev, struct vdev_state_reader *r,
		      uint32_t version)
{
	struct input *in = vdev_priv(dev);
	struct vdev_input_config_space *cfg = vdev_config(dev);
	const struct vdev_input_config_space *old;
	const uint8_t *caps, *p;
	uint32_t clen, len, olen;

	(void)version;
	caps = vdev_state_get(r, TAG_CAPS, &clen);
	p = vdev_state_get(r, TAG_PENDING, &len);
	old = vdev_state_config(r, &olen);
	if (!caps || clen != CAPS_BYTES || !p || len % 9 ||
	    len / 9 > in->size || !old || olen != sizeof(*cfg))
		return -EBADMSG;
	for (uint32_t i = 0; i < len; i += 9)
		if (p[i + 8] > 1 || (i + 9 == len && !p[i + 8]))
			return -EBADMSG; /* the last batch must end */
	caps_get(&in->caps, caps);
	if (in->evdev || in->src)
		vdev_log(VDEV_LOG_INFO, "input: restored capabilities replace "
					"the source's");
	pthread_mutex_lock(&in->lock);
	in->head = 0;
	in->count = len / 9;
	for (unsigned i = 0; i < in->count; i++) {
		memcpy(&in->ev[i], p + 9 * i, 8);
		in->last[i] = p[9 * i + 8];
	}
	pthread_mutex_unlock(&in->lock);
	vdev_config_lock(dev);
	cfg->select = old->select;
	cfg->subsel = old->subsel;
	answer(in, cfg);
	vdev_config_unlock(dev);
	return 0;
}

static void input_destroy(struct vdev *dev)
{
	struct input *in = vdev_priv(dev);

	if (in->src)
		input_src_free(in->src);
	if (in->evdev)
		input_evdev_close(in->evdev, dev);
	pthread_mutex_destroy(&in->lock);
	pthread_mutex_destroy(&in->api_lock);
	free(in->ev);
	free(in->last);
	free(in);
}

static const struct vdev_ops input_ops = {
	.config_write = input_config_write,
	.start = input_start,
	.reset = input_reset,
	.handle = input_handle,
	.save = input_save,
	.load = input_load,
	.destroy = input_destroy,
};

static int load_script(const char *path, struct input_script *s)
{
	char err[160] = "";
	char *text = NULL;
	size_t len = 0;
	FILE *f = fopen(path, "re");
	int r;

	if (!f)
		return -errno;
	/* Bounded: the parser caps events, this caps the text. */
	for (;;) {
		char *t;

		if (len >= (size_t)INPUT_SCRIPT_TEXT_MAX) {
			r = -EFBIG;
			break;
		}
		t = realloc(text, len + 65536);
		if (!t) {
			r = -ENOMEM;
			break;
		}
		text = t;
		len += fread(text + len, 1, 65536, f);
		if (ferror(f)) {
			r = -EIO;
			break;
		}
		if (feof(f)) {
			r = 0;
			break;
		}
	}
	fclose(f);
	if (!r) {
		r = input_script_parse(s, text, len, err, sizeof(err));
		if (r == -EBADMSG)
			vdev_log(VDEV_LOG_ERROR, "input: %s: %s", path, err);
	}
	free(text);
	return r;
}

static struct vdev *input_new_cfg(const struct vdev_input_config *cfg)
{
	struct vdev_info info = {
		.name = "input",
		.device_id = VDEV_ID_INPUT,
		.num_queues = 2,
		.config_size = sizeof(struct vdev_input_config_space),
		.state_version = INPUT_STATE_VERSION,
	};
	struct input_script script;
	struct input *in;
	struct vdev *dev;
	unsigned sources;
	int r = 0;

	memset(&script, 0, sizeof(script));
	sources = cfg ? !!cfg->caps + !!cfg->script + !!cfg->evdev : 0;
	if (sources != 1 ||
	    (cfg->backlog && (cfg->backlog < 16 ||
			      cfg->backlog > INPUT_BACKLOG_MAX))) {
		errno = EINVAL;
		return NULL;
	}
	info.max_queue_size = cfg->queue_size ? cfg->queue_size : 1024;
	in = calloc(1, sizeof(*in));
	if (!in)
		return NULL;
	pthread_mutex_init(&in->lock, NULL);
	pthread_mutex_init(&in->api_lock, NULL);
	in->size = cfg->backlog ? cfg->backlog : INPUT_BACKLOG_DEFAULT;
	in->ev = calloc(in->size, sizeof(*in->ev));
	in->last = calloc(in->size, sizeof(*in->last));
	in->status = cfg->status;
	in->opaque = cfg->opaque;
	if (!in->ev || !in->last) {
		r = -ENOMEM;
		goto fail;
	}
	if (cfg->caps) {
		in->caps = *cfg->caps;
		in->caps.name[VDEV_INPUT_STR_MAX] = 0;
		in->caps.serial[VDEV_INPUT_STR_MAX] = 0;
	} else if (cfg->script) {
		r = load_script(cfg->script, &script);
		if (r)
			goto fail;
		in->caps = script.caps;
	} else {
		in->evdev = input_evdev_open(cfg->evdev, cfg->grab, &in->caps);
		if (!in->evdev) {
			r = -errno;
			goto fail;
		}
	}
	dev = vdev_new(&info, &input_ops, in);
	if (!dev) {
		r = -errno;
		goto fail;
	}
	/* From here vdev_free() frees everything in @in. */
	if (cfg->script || cfg->control) {
		in->src = input_src_new(dev, &script, cfg->control);
		if (!in->src) {
			r = -errno;
			goto fail_dev;
		}
		r = input_src_watch(in->src);
		if (r)
			goto fail_dev;
	}
	if (in->evdev) {
		r = input_evdev_watch(in->evdev, dev);
		if (r)
			goto fail_dev;
	}
	answer(in, vdev_config(dev));
	return dev;
fail_dev:
	input_script_free(&script);
	vdev_free(dev);
	errno = -r;
	return NULL;
fail:
	input_script_free(&script);
	if (in->evdev)
		input_evdev_close(in->evdev, NULL);
	pthread_mutex_destroy(&in->lock);
	pthread_mutex_destroy(&in->api_lock);
	free(in->ev);
	free(in->last);
	free(in);
	errno = -r;
	return NULL;
}

/* The caller's config at the size it was compiled with (api.h). */
struct vdev *(vdev_input_new)(const struct vdev_input_config *cfg, size_t size)
{
	struct vdev_input_config c;
	struct vdev *dev;
	int e;

	if (cfg && !VSIZED_IN(c, cfg, size))
		return NULL;
	dev = input_new_cfg(cfg ? &c : NULL);
	e = errno;
	errno = e;
	return dev;
}

/* Into the caller's struct at the size it was compiled with (api.h). */
void (vdev_input_get_stats)(struct vdev *dev, struct vdev_input_stats *st,
			   size_t size)
{
	struct vdev_input_stats s;

	if (!st)
		return;
	get_stats(dev, &s);
	vsized_out(st, size, &s, sizeof(s));
}
