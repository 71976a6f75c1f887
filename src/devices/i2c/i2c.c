/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-i2c (virtio 1.2 section 5.19): the model.
 *
 * Chains are popped into the transaction being collected until one comes
 * without FAIL_NEXT (or the transaction is as long as the device takes,
 * VDEV_I2C_TXN_MAX: the driver broke the limit and the lot fails, up to
 * and including the chain that ends it). The
 * transaction then runs: consecutive messages to the same backend (one
 * host adapter, one simulated client) as one repeated-start transfer;
 * the first message that fails (a NACK, an absent address, a malformed
 * chain) and every one after it get ERR, the ones before OK. A
 * transaction whose end has not arrived yet waits in the device across
 * rounds; a stop or reset (ops->drain) fails it.
 *
 * A malformed chain (header short, reserved flag bits, data on the wrong
 * side, a message over VDEV_I2C_MSG_MAX, an address that is neither 7-
 * nor 10-bit) gets ERR; one without a writable status byte is returned
 * with nothing written, which is all the device can do with it. Data is
 * copied out of guest memory once, into the device's own buffers.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <virtio/i2c.h>
#include <virtio/iov.h>
#include <virtio/state.h>

#include "core/ctlsock.h"
#include "devices/i2c/i2c_internal.h"
#include "core/sized.h"

#define I2C_STATE_VERSION 1u
#define I2C_TAG VDEV_STATE_TAG('I', '2', 'C', '0')
#define I2C_IOV_MAX 16
#define I2C_FLAGS_KNOWN (VDEV_I2C_FLAGS_FAIL_NEXT | VDEV_I2C_FLAGS_M_RD)

struct client {
	enum vdev_i2c_kind kind;
	uint16_t addr;
	struct vi2c_sim *sim;
	struct vi2c_adapter *ad; /* shared by the clients of one adapter */
};

struct pend {
	struct vdev_req req;
	struct iovec iov[I2C_IOV_MAX];
	bool bad;
	struct vi2c_msg msg;
};

struct vi2c {
	pthread_mutex_t lock; /* the simulated clients' state */
	struct vdev *dev;
	unsigned n;
	struct client clients[VDEV_I2C_MAX_CLIENTS];
	struct vi2c_adapter *ads[VDEV_I2C_MAX_CLIENTS];
	unsigned nads;
	struct vctl *ctl;
	struct pend txn[VDEV_I2C_TXN_MAX];
	unsigned ntxn;
	bool discard;  /* failing the rest of an overlong transaction */
	uint8_t *bufs; /* VDEV_I2C_TXN_MAX x VDEV_I2C_MSG_MAX */
	bool warned;
};

static void bad(struct vi2c *d, const char *what, unsigned v)
{
	if (d->warned)
		return;
	d->warned = true;
	vdev_log(VDEV_LOG_WARN, "i2c: malformed request: %s (%u)", what, v);
}

static struct client *lookup(struct vi2c *d, uint16_t addr)
{
	for (unsigned i = 0; i < d->n; i++)
		if (d->clients[i].addr == addr)
			return &d->clients[i];
	return NULL;
}

/* The wire's address field: 7-bit A as A << 1; 10-bit as 0b11110 A9 A8 0
 * in the low byte, A7..A0 in the high one. -1: neither. */
static int decode_addr(uint16_t a)
{
	uint8_t lo = (uint8_t)a, hi = (uint8_t)(a >> 8);

	if ((lo & 0xf9) == 0xf0)
		return (int)(VDEV_I2C_ADDR_10BIT | (unsigned)(lo & 6) << 7 | hi);
	if (hi || (lo & 1))
		return -1;
	return lo >> 1;
}

/* Checks chain @p and copies what it carries; false: malformed. */
static bool parse(struct vi2c *d, struct pend *p, unsigned idx, bool *more)
{
	struct vdev_req *r = &p->req;
	struct vdev_i2c_out_hdr h;
	uint32_t flags;
	int addr;

	*more = false;
	p->msg.buf = d->bufs + (size_t)idx * VDEV_I2C_MSG_MAX;
	p->msg.len = 0;
	if (r->out_bytes < sizeof(h) ||
	    vdev_iov_to_buf(r->out, r->nout, 0, &h, sizeof(h)) != sizeof(h)) {
		bad(d, "header size", r->out_bytes);
		return false;
	}
	flags = vdev_le32_to_cpu(h.flags);
	*more = flags & VDEV_I2C_FLAGS_FAIL_NEXT;
	if (!r->in_bytes) {
		bad(d, "no status byte", 0);
		return false;
	}
	if (flags & ~I2C_FLAGS_KNOWN) {
		bad(d, "reserved flags", flags);
		return false;
	}
	p->msg.rd = flags & VDEV_I2C_FLAGS_M_RD;
	if (p->msg.rd ? r->out_bytes != sizeof(h) : r->in_bytes != 1) {
		bad(d, "data on the wrong side", p->msg.rd);
		return false;
	}
	{
		uint32_t len = p->msg.rd ? r->in_bytes - 1 :
					   r->out_bytes - (uint32_t)sizeof(h);

		if (len > VDEV_I2C_MSG_MAX) {
			bad(d, "message too long", len);
			return false;
		}
		p->msg.len = (uint16_t)len;
	}
	addr = decode_addr(vdev_le16_to_cpu(h.addr));
	if (addr < 0) {
		bad(d, "address", vdev_le16_to_cpu(h.addr));
		return false;
	}
	p->msg.addr = (uint16_t)addr;
	if (!p->msg.rd)
		vdev_iov_to_buf(r->out, r->nout, sizeof(h), p->msg.buf,
				p->msg.len);
	return true;
}

static bool same_backend(const struct client *a, const struct client *b)
{
	return a && b && (a == b || (a->ad && a->ad == b->ad));
}

/* Runs the collected transaction; how many messages completed. */
static unsigned run(struct vi2c *d)
{
	unsigned end = 0, i = 0;

	while (end < d->ntxn && !d->txn[end].bad)
		end++;
	pthread_mutex_lock(&d->lock);
	while (i < end) {
		struct client *c = lookup(d, d->txn[i].msg.addr);
		struct vi2c_msg m[VDEV_I2C_TXN_MAX];
		unsigned j = i + 1, k, done;

		if (!c)
			break; /* nobody answers the address */
		while (j < end && same_backend(c, lookup(d, d->txn[j].msg.addr)))
			j++;
		for (k = i; k < j; k++)
			m[k - i] = d->txn[k].msg;
		done = c->sim ? vi2c_sim_xfer(c->sim, m, j - i) :
				vi2c_adapter_xfer(c->ad, m, j - i);
		i += done;
		if (done < j - (i - done))
			break;
	}
	pthread_mutex_unlock(&d->lock);
	return i;
}

/* Completes the transaction: the first @ok messages OK, the rest ERR. */
static void complete(struct vi2c *d, struct vdev_queue *q, unsigned ok)
{
	for (unsigned i = 0; i < d->ntxn; i++) {
		struct pend *p = &d->txn[i];
		uint8_t st = i < ok ? VDEV_I2C_MSG_OK : VDEV_I2C_MSG_ERR;
		uint32_t in = p->req.in_bytes;

		if (in) {
			if (st == VDEV_I2C_MSG_OK && p->msg.rd)
				vdev_iov_from_buf(p->req.in, p->req.nin, 0,
						  p->msg.buf, p->msg.len);
			vdev_iov_from_buf(p->req.in, p->req.nin, in - 1, &st,
					  1);
		}
		vdev_queue_push(q, &p->req, in);
	}
	d->ntxn = 0;
}

static void i2c_handle(struct vdev *dev, unsigned qidx, struct vdev_queue *q)
{
	struct vi2c *d = vdev_priv(dev);
	bool pushed = false;

	for (;;) {
		struct pend *p = &d->txn[d->ntxn];
		bool more;
		int ret;

		p->req = (struct vdev_req){ .iov = p->iov,
					    .iov_max = I2C_IOV_MAX };
		ret = vdev_queue_pop(q, &p->req);
		if (ret == -EMSGSIZE) {
			/* returned empty by the queue: whatever was being
			 * collected cannot complete as one transfer */
			bad(d, "chain with too many buffers", I2C_IOV_MAX);
			complete(d, q, 0);
			pushed = true;
			continue;
		}
		if (ret < 0)
			break;
		p->bad = !parse(d, p, d->ntxn, &more);
		d->ntxn++;
		if (d->discard) {
			/* the tail of a transaction already failed */
			d->discard = more;
			complete(d, q, 0);
		} else if (more && d->ntxn < VDEV_I2C_TXN_MAX) {
			continue;
		} else if (more) {
			bad(d, "transaction too long", d->ntxn);
			d->discard = true;
			complete(d, q, 0);
		} else {
			complete(d, q, run(d));
		}
		pushed = true;
	}
	if (pushed)
		vdev_queue_notify(q);
}

/* A stop or reset: a transaction still waiting for its end fails. */
static void i2c_drain(struct vdev *dev, unsigned qidx, struct vdev_queue *q)
{
	struct vi2c *d = vdev_priv(dev);

	d->discard = false;
	if (!d->ntxn)
		return;
	complete(d, q, 0);
	vdev_queue_notify(q);
}

static void i2c_reset(struct vdev *dev)
{
	struct vi2c *d = vdev_priv(dev);

	/* drain failed what was collected; the clients are the outside
	 * world and keep their state */
	d->ntxn = 0;
	d->discard = false;
	d->warned = false;
}

/*
 * Section I2C0: u8 number of simulated clients, then per client le16
 * address, u8 length, that many bytes of its state.
 */
static int i2c_save(struct vdev *dev, struct vdev_state_writer *w)
{
	struct vi2c *d = vdev_priv(dev);
	uint8_t b[1 + VDEV_I2C_MAX_CLIENTS * (3 + VI2C_SIM_STATE)];
	size_t len = 1;

	b[0] = 0;
	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; i < d->n; i++) {
		struct client *c = &d->clients[i];

		if (!c->sim)
			continue;
		b[len] = (uint8_t)c->addr;
		b[len + 1] = (uint8_t)(c->addr >> 8);
		b[len + 2] = (uint8_t)vi2c_sim_save(c->sim, b + len + 3);
		len += 3 + b[len + 2];
		b[0]++;
	}
	pthread_mutex_unlock(&d->lock);
	return vdev_state_put(w, I2C_TAG, b, (uint32_t)len);
}

static int i2c_load(struct vdev *dev, struct vdev_state_reader *rd,
		    uint32_t version)
{
	struct vi2c *d = vdev_priv(dev);
	const uint8_t *b;
	uint32_t len, off = 1;
	unsigned nsim = 0;
	int ret = 0;

	b = vdev_state_get(rd, I2C_TAG, &len);
	if (!b)
		return 0;
	if (version != I2C_STATE_VERSION || len < 1)
		return -EBADMSG;
	for (unsigned i = 0; i < d->n; i++)
		nsim += d->clients[i].sim != NULL;
	if (b[0] != nsim)
		return -EBADMSG; /* a blob of another bus */
	/* Checked whole before anything moves. */
	for (unsigned i = 0; i < b[0]; i++) {
		struct client *c;

		if (len - off < 3 || len - off - 3 < b[off + 2])
			return -EBADMSG;
		c = lookup(d, (uint16_t)(b[off] | b[off + 1] << 8));
		if (!c || !c->sim)
			return -EBADMSG;
		off += 3u + b[off + 2];
	}
	if (off != len)
		return -EBADMSG;
	pthread_mutex_lock(&d->lock);
	off = 1;
	for (unsigned i = 0; i < b[0] && !ret; i++) {
		struct client *c = lookup(d, (uint16_t)(b[off] | b[off + 1] << 8));

		ret = vi2c_sim_load(c->sim, b + off + 3, b[off + 2]);
		off += 3u + b[off + 2];
	}
	pthread_mutex_unlock(&d->lock);
	return ret;
}

static void free_all(struct vi2c *d)
{
	vctl_free(d->ctl);
	for (unsigned i = 0; i < d->n; i++)
		vi2c_sim_free(d->clients[i].sim);
	for (unsigned i = 0; i < d->nads; i++)
		vi2c_adapter_close(d->ads[i]);
	pthread_mutex_destroy(&d->lock);
	free(d->bufs);
	free(d);
}

static void i2c_destroy(struct vdev *dev)
{
	free_all(vdev_priv(dev));
}

static const struct vdev_ops i2c_ops = {
	.reset = i2c_reset,
	.drain = i2c_drain,
	.handle = i2c_handle,
	.save = i2c_save,
	.load = i2c_load,
	.destroy = i2c_destroy,
};

static bool is_i2c(struct vdev *dev)
{
	const struct vdev_info *info = dev ? vdev_get_info(dev) : NULL;

	return info && info->device_id == VDEV_ID_I2C && info->name &&
	       !strcmp(info->name, "i2c");
}

static struct client *sim_client(struct vdev *dev, uint16_t addr)
{
	struct vi2c *d;
	struct client *c;

	if (!is_i2c(dev))
		return NULL;
	d = vdev_priv(dev);
	c = lookup(d, addr);
	return c && c->sim ? c : NULL;
}

int vdev_i2c_sim_set_temp(struct vdev *dev, uint16_t addr,
			  int32_t millidegrees)
{
	struct client *c = sim_client(dev, addr);
	struct vi2c *d;
	int ret;

	if (!c)
		return -EINVAL;
	d = vdev_priv(dev);
	pthread_mutex_lock(&d->lock);
	ret = vi2c_sim_set_temp(c->sim, millidegrees);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

int vdev_i2c_sim_nack(struct vdev *dev, uint16_t addr, int byte)
{
	struct client *c = sim_client(dev, addr);
	struct vi2c *d;

	if (!c)
		return -EINVAL;
	d = vdev_priv(dev);
	pthread_mutex_lock(&d->lock);
	vi2c_sim_nack(c->sim, byte);
	pthread_mutex_unlock(&d->lock);
	return 0;
}

static bool num(const char *s, long lo, long hi, long *v)
{
	char *end;

	if (!s || !*s)
		return false;
	errno = 0;
	*v = strtol(s, &end, 0);
	return !errno && !*end && *v >= lo && *v <= hi;
}

static void control(void *arg, char *line, char *reply, size_t len)
{
	struct vi2c *d = arg;
	char *save = NULL;
	char *verb = strtok_r(line, " \t", &save);
	char *a1 = verb ? strtok_r(NULL, " \t", &save) : NULL;
	char *a2 = a1 ? strtok_r(NULL, " \t", &save) : NULL;
	char *extra = a2 ? strtok_r(NULL, " \t", &save) : NULL;
	long addr, v;
	int ret;

	if (!verb || !a2 || extra || !num(a1, 0, 0xffff, &addr) ||
	    !sim_client(d->dev, (uint16_t)addr)) {
		snprintf(reply, len, "err usage: temp ADDR MILLIDEGREES, "
			 "nack ADDR N|off (ADDR of a simulated client)");
		return;
	}
	if (!strcmp(verb, "temp") && num(a2, -1000000, 1000000, &v))
		ret = vdev_i2c_sim_set_temp(d->dev, (uint16_t)addr, (int32_t)v);
	else if (!strcmp(verb, "nack") && !strcmp(a2, "off"))
		ret = vdev_i2c_sim_nack(d->dev, (uint16_t)addr, -1);
	else if (!strcmp(verb, "nack") && num(a2, 0, 0xfffe, &v))
		ret = vdev_i2c_sim_nack(d->dev, (uint16_t)addr, (int)v);
	else
		ret = -EINVAL;
	snprintf(reply, len, ret ? "err %s" : "ok",
		 ret ? "bad command or value for this client" : "");
}

static bool valid_addr(uint16_t a)
{
	if (a & VDEV_I2C_ADDR_10BIT)
		return (a & ~VDEV_I2C_ADDR_10BIT) <= 0x3ff;
	return a <= 0x7f;
}

static int add_client(struct vi2c *d, const struct vdev_i2c_client *c)
{
	struct client *k = &d->clients[d->n];

	if (!valid_addr(c->addr) || lookup(d, c->addr))
		return -EINVAL;
	k->kind = c->kind;
	k->addr = c->addr;
	switch (c->kind) {
	case VDEV_I2C_HOST: {
		struct vi2c_adapter *a;

		if (!c->path)
			return -EINVAL;
		a = vi2c_adapter_open(c->path);
		if (!a)
			return -errno;
		/* one fd per adapter, whatever its clients */
		for (unsigned i = 0; i < d->nads; i++) {
			if (!strcmp(vi2c_adapter_path(d->ads[i]),
				    vi2c_adapter_path(a))) {
				vi2c_adapter_close(a);
				a = d->ads[i];
				break;
			}
		}
		if (!d->nads || a != d->ads[d->nads - 1]) {
			unsigned i;

			for (i = 0; i < d->nads && d->ads[i] != a; i++)
				;
			if (i == d->nads)
				d->ads[d->nads++] = a;
		}
		k->ad = a;
		break;
	}
	case VDEV_I2C_EEPROM:
	case VDEV_I2C_LM75:
		k->sim = vi2c_sim_new(c);
		if (!k->sim)
			return -errno;
		break;
	default:
		return -EINVAL;
	}
	d->n++;
	return 0;
}

static struct vdev *i2c_new_cfg(const struct vdev_i2c_config *cfg)
{
	struct vdev_info info = {
		.name = "i2c",
		.device_id = VDEV_ID_I2C,
		.num_queues = 1,
		.features = VDEV_BIT(VDEV_I2C_F_ZERO_LENGTH_REQUEST),
		.state_version = I2C_STATE_VERSION,
	};
	struct vi2c *d;
	struct vdev *dev;
	int err;

	if (!cfg || !cfg->nclients || cfg->nclients > VDEV_I2C_MAX_CLIENTS ||
	    !cfg->clients) {
		errno = EINVAL;
		return NULL;
	}
	info.max_queue_size = cfg->queue_size ? cfg->queue_size : 1024;
	d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	pthread_mutex_init(&d->lock, NULL);
	d->bufs = malloc((size_t)VDEV_I2C_TXN_MAX * VDEV_I2C_MSG_MAX);
	if (!d->bufs) {
		err = ENOMEM;
		goto fail;
	}
	for (unsigned i = 0; i < cfg->nclients; i++) {
		err = -add_client(d, &cfg->clients[i]);
		if (err)
			goto fail;
	}
	if (cfg->control) {
		d->ctl = vctl_new(cfg->control);
		if (!d->ctl) {
			err = errno;
			goto fail;
		}
	}
	dev = vdev_new(&info, &i2c_ops, d);
	if (!dev) {
		err = errno;
		goto fail;
	}
	d->dev = dev;
	if (d->ctl) {
		err = -vctl_start(d->ctl, dev, 0, control, d);
		if (err) {
			vdev_free(dev);
			errno = err;
			return NULL;
		}
	}
	return dev;
fail:
	free_all(d);
	errno = err;
	return NULL;
}

/* The caller's config at the size it was compiled with (api.h). */
struct vdev *(vdev_i2c_new)(const struct vdev_i2c_config *cfg,
				 size_t size, size_t client_size)
{
	struct vdev_i2c_config c;
	struct vdev_i2c_client *clients = NULL;
	struct vdev *dev;
	int e;

	if (cfg && !VSIZED_IN(c, cfg, size))
		return NULL;
	/* More than the most is refused by the device, unread. */
	if (cfg && c.clients && c.nclients &&
	    c.nclients <= VDEV_I2C_MAX_CLIENTS) {
		clients = vsized_array(c.clients, c.nclients, client_size,
				sizeof(*clients));
		if (!clients)
			return NULL;
		c.clients = clients;
	}
	dev = i2c_new_cfg(cfg ? &c : NULL);
	e = errno;
	free(clients);
	errno = e;
	return dev;
}
