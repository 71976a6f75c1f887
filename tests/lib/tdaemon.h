/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test helpers for a daemon of daemons/ run as a process: where its
 * program is, the files it makes (named after the test's pid), starting
 * it with its output in a log, cleaning up after it, and what an
 * operator reads from it (the --stats-socket document, the log). Like
 * the rest of tests/lib they report failures as values (no cmocka here);
 * the callers assert, or skip when the daemon is not built.
 */
#ifndef TDAEMON_H
#define TDAEMON_H

#include <stdbool.h>
#include <stddef.h>

struct tspawn;

struct tdaemon {
	char bin[512]; /* $VDEV_BUILD_DIR/daemons/NAME/vdev-NAME, or "" */
	char sock[64]; /* /tmp/vdev-TAG-PID.sock */
	char ctl[64];  /* /tmp/vdev-TAG-PID.ctl, for a control socket */
	char log[64];  /* /tmp/vdev-TAG-PID.log: the daemon's output */
};

/* Fills @d for daemons/@name, its files tagged @tag. */
void tdaemon_init(struct tdaemon *d, const char *name, const char *tag);

/* Whether the program is built (and VDEV_BUILD_DIR says where). */
bool tdaemon_built(const struct tdaemon *d);

/* Starts @argv (argv[0]: d->bin, usually) with its stdout and stderr
 * appended to d->log: tspawn_start()'s result. */
int tdaemon_start(const struct tdaemon *d, struct tspawn *t,
		  const char *const *argv);

/* For a test's teardown: kills the children left (tspawn_kill_all) and
 * removes the sockets, control sockets (also those numbered 0..2, as
 * -c names them) and the log. */
void tdaemon_cleanup(const struct tdaemon *d);

/* Reads the document the --stats-socket @path serves (one per
 * connection, then closed) into @buf, NUL-terminated. 0, -ETIMEDOUT when
 * it did not end within TSPAWN_TIMEOUT_MS, -ENOBUFS when it filled @buf
 * before it ended, or the negative errno of connect/read. */
int tdaemon_read_stats(const char *path, char *buf, size_t len);

/* Whether the file @log has @what in its first 16 KiB within @ms. */
bool tdaemon_log_has(const char *log, const char *what, int ms);

#endif
