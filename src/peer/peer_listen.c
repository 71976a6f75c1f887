/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A listening UNIX socket that appears at its path only when it is ready:
 * listening, with its final group and mode. Bound at its path directly,
 * a frontend polling for the path could see it before listen() (and get
 * ECONNREFUSED) or before chmod() (and connect with the wrong mode, or be
 * refused). So it is bound in a private directory (0700, so nobody else
 * can reach it there), made ready, then hard-linked onto the path: link()
 * is atomic and, unlike rename(), never replaces a socket another daemon
 * made meanwhile. The umask is not touched: it is per process, and a
 * library must not change it under its embedder's other threads.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "peer/peer_listen.h"

#define SUN_MAX (sizeof(((struct sockaddr_un *)0)->sun_path))

int vpeer_claim_socket_path(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return -EEXIST;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	/* A live listener accepts (or has a full backlog: EAGAIN); a stale
	 * socket refuses. The probe never blocks. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? errno : 0;
	close(fd);
	if (!r || r == EAGAIN || r == EINPROGRESS)
		return -EADDRINUSE;
	if (r == ECONNREFUSED || r == ENOENT) {
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
		return 0;
	}
	return -r;
}

/* Binds @fd at @dir/s: by that path when it fits in sun_path, else
 * through /proc/self/fd/N, a short name for the same directory. */
static int bind_in(int fd, const char *dir)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int dfd, r, e;

	if ((size_t)snprintf(sa.sun_path, SUN_MAX, "%s/s", dir) < SUN_MAX)
		return bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ?
			       -errno : 0;
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	snprintf(sa.sun_path, SUN_MAX, "/proc/self/fd/%d/s", dfd);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	e = errno;
	close(dfd);
	return r < 0 ? -e : 0;
}

/* Sets the group, then the mode: chown may clear mode bits. */
static int set_perm(const char *p, const struct vpeer_sockperm *perm)
{
	if (perm && perm->set_gid &&
	    chown(p, (uid_t)-1, (gid_t)perm->gid) < 0)
		return -errno;
	if (perm && perm->set_mode && chmod(p, (mode_t)perm->mode) < 0)
		return -errno;
	return 0;
}

int vpeer_listen_unix(const char *path, int backlog,
		      const struct vpeer_sockperm *perm)
{
	char tmp[PATH_MAX], sp[PATH_MAX + 2];
	const char *slash;
	int fd = -1, r, tries;
	size_t dlen;

	if (!path || !*path || strlen(path) >= SUN_MAX)
		return -EINVAL;
	if (perm && perm->set_mode && perm->mode > 0777)
		return -EINVAL;
	slash = strrchr(path, '/');
	dlen = slash ? (size_t)(slash - path) : 0;
	/* ".vdev-XXXXXX" beside the socket: the same filesystem, so the
	 * link can be made; the directory "/" keeps its slash. */
	if (slash)
		r = snprintf(tmp, sizeof(tmp), "%.*s/.vdev-XXXXXX",
			     (int)(dlen ? dlen : 1), dlen ? path : "/");
	else
		r = snprintf(tmp, sizeof(tmp), ".vdev-XXXXXX");
	if (r < 0 || (size_t)r >= sizeof(tmp))
		return -ENAMETOOLONG;
	r = vpeer_claim_socket_path(path);
	if (r)
		return r;
	if (!mkdtemp(tmp))
		return -errno;
	snprintf(sp, sizeof(sp), "%s/s", tmp);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	r = bind_in(fd, tmp);
	if (!r && listen(fd, backlog) < 0)
		r = -errno;
	if (!r)
		r = set_perm(sp, perm);
	/* Something took the path since the claim: a live socket is
	 * refused, a stale one replaced once more. */
	for (tries = 0; !r && link(sp, path) < 0; tries++) {
		r = errno == EEXIST && tries < 2 ?
			    vpeer_claim_socket_path(path) : -errno;
	}
out:
	if (fd >= 0)
		unlink(sp);
	rmdir(tmp);
	if (r) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	return fd;
}
