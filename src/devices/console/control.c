/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The console's host controls: the port description parser (the daemon's
 * --port and the control socket's "add") and the control socket itself,
 * on the shared line protocol of src/core/ctlsock.h, served on the
 * control rx queue's thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console_internal.h"
#include "core/ctlsock.h"

static int onoff(const char *v, bool *out)
{
	if (!strcmp(v, "on") || !strcmp(v, "true") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "off") || !strcmp(v, "false") || !strcmp(v, "0"))
		*out = false;
	else
		return -EINVAL;
	return 0;
}

static int parse_port(char *spec, struct vdev_console_port *p)
{
	char *save = NULL, *kv;

	if (!spec || !p)
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	p->in_fd = p->out_fd = -1;
	for (kv = strtok_r(spec, ",", &save); kv;
	     kv = strtok_r(NULL, ",", &save)) {
		char *v = strchr(kv, '=');

		if (!v)
			return -EINVAL;
		*v++ = 0;
		if (!strcmp(kv, "name")) {
			if (!*v || strlen(v) > VDEV_CONSOLE_NAME_MAX)
				return -EINVAL;
			p->name = v;
		} else if (!strcmp(kv, "console")) {
			if (onoff(v, &p->console))
				return -EINVAL;
		} else if (!strcmp(kv, "drop")) {
			if (onoff(v, &p->drop))
				return -EINVAL;
		} else if (!strcmp(kv, "backend")) {
			if (!strcmp(v, "pty")) {
				p->backend = VDEV_CONSOLE_PTY;
			} else if (!strcmp(v, "stdio")) {
				p->backend = VDEV_CONSOLE_FDS;
				p->in_fd = 0;
				p->out_fd = 1;
			} else if (!strcmp(v, "none")) {
				p->backend = VDEV_CONSOLE_NONE;
			} else if (!strncmp(v, "unix:", 5) && v[5]) {
				p->backend = VDEV_CONSOLE_UNIX;
				p->path = v + 5;
			} else if (!strncmp(v, "file:", 5) && v[5]) {
				p->backend = VDEV_CONSOLE_FILE;
				p->path = v + 5;
			} else if (!strncmp(v, "tcp:", 4)) {
				char *end;
				unsigned long n = strtoul(v + 4, &end, 10);

				if (!v[4] || *end || !n || n > 65535)
					return -EINVAL;
				p->backend = VDEV_CONSOLE_TCP;
				p->tcp_port = (uint16_t)n;
			} else {
				return -EINVAL;
			}
		} else {
			return -EINVAL;
		}
	}
	return 0;
}

static void command(void *arg, char *line, char *reply, size_t len)
{
	struct con *c = arg;
	unsigned id, cols, rows;
	char spec[256];
	int n = 0, r;

	if (sscanf(line, "resize %u %u %u %n", &id, &cols, &rows, &n) == 3 &&
	    !line[n]) {
		r = cols > 0xffff || rows > 0xffff ? -EINVAL :
			vdev_console_resize(c->dev, id, (uint16_t)cols,
					    (uint16_t)rows);
	} else if (sscanf(line, "remove %u %n", &id, &n) == 1 && !line[n]) {
		r = vdev_console_remove_port(c->dev, id);
	} else if (sscanf(line, "add %u %255s %n", &id, spec, &n) == 2 &&
		   !line[n]) {
		struct vdev_console_port p;

		r = parse_port(spec, &p);
		if (!r && p.backend == VDEV_CONSOLE_FDS)
			r = -EINVAL; /* stdio is the daemon's, given once */
		if (!r)
			r = vdev_console_add_port(c->dev, id, &p);
	} else {
		snprintf(reply, len, "error: resize ID COLS ROWS, remove ID "
				     "or add ID SPEC");
		return;
	}
	if (r)
		snprintf(reply, len, "error: %s", strerror(-r));
	else
		snprintf(reply, len, "ok");
}

int con_control_start(struct con *c, const char *path)
{
	int r;

	c->ctl = vctl_new(path);
	if (!c->ctl)
		return -errno;
	r = vctl_start(c->ctl, c->dev, 2, command, c);
	if (r) {
		vctl_free(c->ctl);
		c->ctl = NULL;
	}
	return r;
}

void con_control_stop(struct con *c)
{
	vctl_free(c->ctl);
	c->ctl = NULL;
}

/* Written at the size the caller compiled the port with (api.h): fields
 * it does not know are left out, bytes it has beyond ours zeroed. */
int (vdev_console_parse_port)(char *spec, struct vdev_console_port *p,
			     size_t size)
{
	struct vdev_console_port c;
	int r;

	if (!p || !size)
		return -EINVAL;
	r = parse_port(spec, &c);
	if (r < 0)
		return r;
	memset(p, 0, size);
	memcpy(p, &c, size < sizeof(c) ? size : sizeof(c));
	return 0;
}
