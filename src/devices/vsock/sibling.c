/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sibling guests (vhost-device-vsock's --groups): every vsock device of the
 * process is in one registry with its CID and groups. A guest's REQUEST to
 * a sibling's CID becomes a Unix socketpair: this device keeps one end as
 * the connection's host socket and hands the other to the sibling, which
 * treats it as a host connection to its guest's port and writes "OK
 * <port>\n" into it when its guest accepts. Each device then runs its own
 * credit and memory caps on its end, and the socketpair carries the bytes
 * between the two threads.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <virtio/device.h>

#include "vsock_internal.h"

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static struct vsock *reg_head;

/* "a+b" -> "+a+b+" for a plain substring match of "+name+". */
static char *norm_groups(const char *g)
{
	size_t n;
	char *s;

	if (!g)
		g = "default";
	n = strlen(g);
	if (!n || n > 1024)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char ch = g[i];

		if (ch == '+' ? (i == 0 || i == n - 1 || g[i - 1] == '+') :
				!(ch == '-' || ch == '_' || ch == '.' ||
				  (ch >= '0' && ch <= '9') ||
				  (ch >= 'a' && ch <= 'z') ||
				  (ch >= 'A' && ch <= 'Z')))
			return NULL;
	}
	s = malloc(n + 3);
	if (!s)
		return NULL;
	s[0] = '+';
	memcpy(s + 1, g, n);
	s[n + 1] = '+';
	s[n + 2] = 0;
	return s;
}

static bool share_group(const struct vsock *a, const struct vsock *b)
{
	const char *p = a->groups;

	/* Every "+name+" of a. */
	while (p[1]) {
		const char *e = strchr(p + 1, '+');
		size_t len = (size_t)(e - p) + 1;
		const char *q = b->groups;

		while ((q = strstr(q, "+")) != NULL) {
			if (!strncmp(q, p, len))
				return true;
			q++;
		}
		p = e;
	}
	return false;
}

static struct vsock *find_cid(uint64_t cid)
{
	for (struct vsock *v = reg_head; v; v = v->sib_next)
		if (v->cid == cid)
			return v;
	return NULL;
}

int vsock_sib_register(struct vsock *v, const char *groups)
{
	int r = 0;

	v->groups = norm_groups(groups);
	if (!v->groups)
		return -EINVAL;
	pthread_mutex_lock(&reg_mu);
	if (find_cid(v->cid)) {
		r = -EINVAL;
	} else {
		v->sib_next = reg_head;
		reg_head = v;
	}
	pthread_mutex_unlock(&reg_mu);
	return r;
}

void vsock_sib_unregister(struct vsock *v)
{
	pthread_mutex_lock(&reg_mu);
	for (struct vsock **pp = &reg_head; *pp; pp = &(*pp)->sib_next)
		if (*pp == v) {
			*pp = v->sib_next;
			break;
		}
	pthread_mutex_unlock(&reg_mu);
}

bool vsock_sib_cid_taken(uint64_t cid)
{
	bool r;

	pthread_mutex_lock(&reg_mu);
	r = find_cid(cid) != NULL;
	pthread_mutex_unlock(&reg_mu);
	return r;
}

int vsock_sib_offer(struct vsock *v, uint64_t cid, int fd, uint16_t type,
		    uint32_t src_port, uint32_t dst_port)
{
	struct vsock_offer *o;
	struct vsock *s;
	int r = -ENOENT;

	o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->fd = fd;
	o->type = type;
	o->src_cid = v->cid;
	o->src_port = src_port;
	o->dst_port = dst_port;
	pthread_mutex_lock(&reg_mu);
	s = find_cid(cid);
	if (s && s != v && share_group(v, s) &&
	    (type != VDEV_VSOCK_TYPE_SEQPACKET || s->seqpacket)) {
		pthread_mutex_lock(&s->inbox_mu);
		o->next = s->inbox;
		s->inbox = o;
		pthread_mutex_unlock(&s->inbox_mu);
		/* Safe from any thread; s cannot go away while reg_mu is
		 * held (unregister takes it first). */
		vdev_queue_schedule(s->dev, VSOCK_RXQ);
		r = 0;
	}
	pthread_mutex_unlock(&reg_mu);
	if (r < 0)
		free(o);
	return r;
}

void vsock_sib_take(struct vsock *v)
{
	struct vsock_offer *o;

	pthread_mutex_lock(&v->inbox_mu);
	o = v->inbox;
	v->inbox = NULL;
	pthread_mutex_unlock(&v->inbox_mu);
	while (o) {
		struct vsock_offer *n = o->next;
		struct conn *c = NULL;

		if (v->started && (o->type != VDEV_VSOCK_TYPE_SEQPACKET ||
				   vdev_has_feature(v->dev,
						    VDEV_VSOCK_F_SEQPACKET)))
			c = vsock_conn_new(v, o->fd, o->src_cid, o->src_port,
					   o->dst_port, o->type, C_REQUESTED);
		if (!c) {
			close(o->fd); /* the sibling's guest gets RST */
		} else {
			c->pend |= P_REQUEST;
			vsock_conn_ready(v, c);
			vsock_conn_watch(v, c);
		}
		free(o);
		o = n;
	}
}
