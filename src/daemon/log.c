/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Where a daemon's log goes (--log stderr|syslog|journald) and how much of
 * it (-v, --log-level): libvdev's messages are routed through
 * vdev_set_log_fn. journald is spoken natively (a datagram of KEY=VALUE
 * lines to the journal's socket), so no libsystemd is needed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>
#include <virtio/device.h>

#include "daemon_internal.h"

#define JOURNAL_SOCKET "/run/systemd/journal/socket"

static const char *const level_names[] = { "error", "warning", "info",
					   "debug" };

struct sink {
	const char *prog;
	int journal_fd;
	struct sockaddr_un journal;
};

static struct sink sink = { .journal_fd = -1 };

static int syslog_priority(enum vdev_log_level l)
{
	switch (l) {
	case VDEV_LOG_ERROR:
		return LOG_ERR;
	case VDEV_LOG_WARN:
		return LOG_WARNING;
	case VDEV_LOG_INFO:
		return LOG_INFO;
	default:
		return LOG_DEBUG;
	}
}

static void to_stderr(enum vdev_log_level l, const char *msg, void *o)
{
	struct sink *s = o;

	fprintf(stderr, "%s: %s: %s\n", s->prog,
		(unsigned)l < 4 ? level_names[l] : "?", msg);
}

static void to_syslog(enum vdev_log_level l, const char *msg, void *o)
{
	(void)o;
	syslog(syslog_priority(l), "%s", msg);
}

static void to_journal(enum vdev_log_level l, const char *msg, void *o)
{
	struct sink *s = o;
	char buf[1024];
	int n;

	/* A message is one line here: the native protocol's simple form
	 * would cut it at a newline. */
	n = snprintf(buf, sizeof(buf),
		     "PRIORITY=%d\nSYSLOG_IDENTIFIER=%s\nMESSAGE=%s\n",
		     syslog_priority(l), s->prog, msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1, buf[n - 1] = '\n';
	for (char *p = strstr(buf, "MESSAGE=") + 8; p < buf + n - 1; p++)
		if (*p == '\n')
			*p = ' ';
	/* Never blocks: a journal that cannot keep up loses the line. */
	if (sendto(s->journal_fd, buf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL,
		   (struct sockaddr *)&s->journal, sizeof(s->journal)) < 0)
		fprintf(stderr, "%s: %s: %s\n", s->prog,
			(unsigned)l < 4 ? level_names[l] : "?", msg);
}

static void (*chosen)(enum vdev_log_level, const char *, void *) = to_stderr;

void vdd_log_always(const char *msg)
{
	if (!sink.prog)
		sink.prog = "vdev-daemon";
	chosen(VDEV_LOG_INFO, msg, &sink);
}

int vdd_log_setup(const char *prog, const struct vdd_common *c)
{
	enum vdev_log_level level;
	const char *path;

	if (c->log_level != VDD_UNSET)
		level = (enum vdev_log_level)c->log_level;
	else
		level = c->verbose >= 2 ? VDEV_LOG_DEBUG :
			c->verbose ? VDEV_LOG_INFO : VDEV_LOG_WARN;
	sink.prog = prog;
	switch (c->log_target) {
	case VDD_LOG_SYSLOG:
		openlog(prog, LOG_PID | LOG_NDELAY, LOG_DAEMON);
		chosen = to_syslog;
		vdev_set_log_fn(to_syslog, &sink, level);
		return 0;
	case VDD_LOG_JOURNALD:
		/* VDEV_JOURNAL_SOCKET: for tests, a socket of their own. */
		path = getenv("VDEV_JOURNAL_SOCKET");
		if (!path || !*path)
			path = JOURNAL_SOCKET;
		memset(&sink.journal, 0, sizeof(sink.journal));
		sink.journal.sun_family = AF_UNIX;
		if (strlen(path) >= sizeof(sink.journal.sun_path) ||
		    access(path, W_OK) < 0) {
			fprintf(stderr, "%s: --log journald: no journal socket "
				"at %s (%s); is systemd-journald running?\n",
				prog, path, strerror(errno ? errno : EINVAL));
			return -1;
		}
		strcpy(sink.journal.sun_path, path);
		sink.journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (sink.journal_fd < 0) {
			fprintf(stderr, "%s: --log journald: %s\n", prog,
				strerror(errno));
			return -1;
		}
		chosen = to_journal;
		vdev_set_log_fn(to_journal, &sink, level);
		return 0;
	default:
		chosen = to_stderr;
		vdev_set_log_fn(to_stderr, &sink, level);
		return 0;
	}
}
