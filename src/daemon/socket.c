/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The sockets a daemon serves, as an operator meets them: who may connect
 * (--socket-group, --socket-mode: libvirt runs QEMU as its own user), and
 * an error that names the socket and the way out when one cannot be
 * served (issue 17).
 */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon_internal.h"

/* A group name or number; 0, or -1 after saying why not. */
static int find_group(const char *prog, const char *arg, unsigned *gid)
{
	struct group gr, *res = NULL;
	char buf[4096], *end;
	unsigned long v;
	int r;

	r = getgrnam_r(arg, &gr, buf, sizeof(buf), &res);
	if (!r && res) {
		*gid = (unsigned)res->gr_gid;
		return 0;
	}
	errno = 0;
	v = strtoul(arg, &end, 10);
	if (arg[0] >= '0' && arg[0] <= '9' && !*end && !errno &&
	    v < 0xffffffffUL) {
		*gid = (unsigned)v;
		return 0;
	}
	fprintf(stderr, "%s: --socket-group: no group '%s' on this host%s%s\n",
		prog, arg, r ? ": " : "", r ? strerror(r) : "");
	return -1;
}

int vdd_sockperm_parse(const char *prog, const struct vdd_common *c,
		       struct vdd_sockperm *p)
{
	memset(p, 0, sizeof(*p));
	if (!c->socket_group && !c->socket_mode)
		return 0;
	if (!c->socket_path || c->connect) {
		fprintf(stderr, "%s: --socket-group and --socket-mode are for "
			"the sockets the daemon creates: --socket-path without "
			"--connect (an --fd socket is its creator's to set "
			"up)\n", prog);
		return -1;
	}
	if (c->socket_mode) {
		const char *m = c->socket_mode;
		char *end;
		unsigned long v;

		errno = 0;
		v = m[0] >= '0' && m[0] <= '7' ? strtoul(m, &end, 8) : ~0UL;
		if (v == ~0UL || errno || *end || v > 0777) {
			fprintf(stderr, "%s: --socket-mode: '%s' is not an "
				"octal mode from 0 to 0777 (e.g. 0660)\n",
				prog, m);
			return -1;
		}
		if (!(v & 0222))
			fprintf(stderr, "%s: --socket-mode %s: nobody may "
				"write to the socket, so no frontend can "
				"connect\n", prog, m);
		p->set_mode = true;
		p->mode = (unsigned)v;
	}
	if (c->socket_group) {
		if (find_group(prog, c->socket_group, &p->gid) < 0)
			return -1;
		p->set_gid = true;
	}
	return 0;
}

void vdd_explain_endpoint(const char *prog, const char *tname,
			  const char *path, int fd, int err,
			  const struct vdd_sockperm *p)
{
	const char *why;

	if (!path) {
		fprintf(stderr, "%s: --fd %d: %s%s\n", prog, fd, strerror(err),
			err == ENOTSOCK ? " (--fd takes a UNIX socket, "
					  "listening or connected)" :
			err == EBADF ? " (no such open file descriptor: was "
				       "it passed to the daemon?)" : "");
		return;
	}
	/* Creating a file in a directory one may not write is EACCES; EPERM
	 * is chown's: a group the daemon's user is not in. */
	if (err == EPERM && p && p->set_gid) {
		fprintf(stderr, "%s: --socket-group: cannot give %s to group "
			"%u: %s (only root, or a member of the group, may)\n",
			prog, path, p->gid, strerror(err));
		return;
	}
	switch (err) {
	case EADDRINUSE:
		why = "another process is serving this socket; stop it first "
		      "or choose another --socket-path";
		break;
	case EEXIST:
		why = "the path exists and is not a socket; remove it or "
		      "choose another --socket-path";
		break;
	case ENOENT:
		why = "its directory does not exist";
		break;
	case EACCES:
	case EPERM:
		why = "permission denied: the daemon's user may not create "
		      "it in that directory";
		break;
	case ECONNREFUSED:
		why = "nothing listens there (--connect needs the frontend's "
		      "socket to exist first)";
		break;
	default:
		why = NULL;
		break;
	}
	if (why)
		fprintf(stderr, "%s: %s socket %s: %s\n", prog, tname, path,
			why);
	else
		fprintf(stderr, "%s: %s socket %s: %s\n", prog, tname, path,
			strerror(err));
}

/* sizeof(sun_path) - 1: the longest path a UNIX socket can have. */
size_t vdd_socket_path_max(void)
{
	return sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
}
