/* SPDX-License-Identifier: BSD-3-Clause */
/* A daemon run by a test: its files, and what it tells (tdaemon.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "tdaemon.h"
#include "tspawn.h"
#include "twait.h"

void tdaemon_init(struct tdaemon *d, const char *name, const char *tag)
{
	const char *b = getenv("VDEV_BUILD_DIR");
	int pid = (int)getpid();

	memset(d, 0, sizeof(*d));
	if (b)
		snprintf(d->bin, sizeof(d->bin), "%s/daemons/%s/vdev-%s", b,
			 name, name);
	snprintf(d->sock, sizeof(d->sock), "/tmp/vdev-%s-%d.sock", tag, pid);
	snprintf(d->ctl, sizeof(d->ctl), "/tmp/vdev-%s-%d.ctl", tag, pid);
	snprintf(d->log, sizeof(d->log), "/tmp/vdev-%s-%d.log", tag, pid);
}

bool tdaemon_built(const struct tdaemon *d)
{
	return d->bin[0] && access(d->bin, X_OK) == 0;
}

int tdaemon_start(const struct tdaemon *d, struct tspawn *t,
		  const char *const *argv)
{
	return tspawn_start(t, argv,
			    &(struct tspawn_opts){ .fd = -1, .log = d->log });
}

void tdaemon_cleanup(const struct tdaemon *d)
{
	char p[80];

	tspawn_kill_all();
	unlink(d->sock);
	unlink(d->ctl);
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%d", d->sock, i);
		unlink(p);
		snprintf(p, sizeof(p), "%s%d", d->ctl, i);
		unlink(p);
	}
	unlink(d->log);
}

int tdaemon_read_stats(const char *path, char *buf, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t end = twait_now_ms() + TSPAWN_TIMEOUT_MS;
	size_t used = 0;
	int fd, r = 0;

	buf[0] = 0;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		r = -errno;
	while (!r) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = twait_now_ms();
		ssize_t n;

		if (now >= end) {
			r = -ETIMEDOUT;
			break;
		}
		if (poll(&p, 1, (int)(end - now)) < 0) {
			r = errno == EINTR ? 0 : -errno;
			continue;
		}
		if (!p.revents)
			continue;
		if (used + 1 >= len) {
			r = -ENOBUFS;
			break;
		}
		n = read(fd, buf + used, len - used - 1);
		if (n < 0)
			r = errno == EINTR ? 0 : -errno;
		else if (n == 0)
			break;
		else
			used += (size_t)n;
	}
	buf[used] = 0;
	close(fd);
	return r;
}

bool tdaemon_log_has(const char *log, const char *what, int ms)
{
	static char out[16384];
	uint64_t end = twait_now_ms() + (uint64_t)(ms > 0 ? ms : 0);

	for (;;) {
		FILE *f = fopen(log, "r");
		size_t n = 0;

		if (f) {
			n = fread(out, 1, sizeof(out) - 1, f);
			fclose(f);
		}
		out[n] = 0;
		if (strstr(out, what))
			return true;
		if (twait_now_ms() >= end)
			return false;
		usleep(20000);
	}
}
