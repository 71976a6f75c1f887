/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test helper: runs a daemon (or a function) in a child process and makes
 * sure a test can neither hang on it nor leave it behind. Every wait has a
 * timeout; a child that outlives it is killed with SIGKILL and reaped.
 * Children not yet reaped are remembered, so tspawn_kill_all() (and an
 * atexit handler) can end them after a failed assertion jumped past the
 * test's own cleanup.
 *
 * Results of the waits use one encoding: 0..255 is the child's exit code,
 * TSPAWN_SIGNALED + n means it was killed by signal n, and a negative
 * errno means the wait failed (-ETIMEDOUT: the child was killed after the
 * timeout; -ECHILD: it exited before what was awaited happened, its result
 * is in tspawn_result()). On a failure a line saying why goes to stderr.
 *
 * Not thread-safe: one test thread spawns and reaps.
 */
#ifndef TSPAWN_H
#define TSPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define TSPAWN_SIGNALED 256
/* Generous for a daemon under sanitizers on a loaded machine; a test that
 * needs a tighter bound passes its own. */
#define TSPAWN_TIMEOUT_MS 10000

struct tspawn_opts {
	/* If fd_as >= 3, the child gets @fd as fd number @fd_as (close-on-exec
	 * cleared; fd == fd_as is allowed). The caller keeps @fd. */
	int fd;
	int fd_as;
	/* Appends the child's stdout and stderr to this file (e.g.
	 * "/dev/null"); NULL: both are inherited. */
	const char *log;
	/* The child's stdout goes to a pipe, read with tspawn_read_stdout()
	 * (stderr stays as @log says). */
	bool pipe_stdout;
};

struct tspawn {
	pid_t pid;       /* > 0 until reaped, then -1; 0: never started */
	bool reaped;     /* the child's result is known */
	int result;      /* once reaped: exit code or TSPAWN_SIGNALED + n */
	int out;         /* read end of the stdout pipe, or -1 */
	char name[64];   /* for messages */
};

/*
 * Starts @argv[0] with @argv (NULL-terminated) and @o (NULL: defaults).
 * The child gets no fd of the test but 0, 1, 2 and the one @o passes, and
 * default signal dispositions and mask. Returns 0, or a negative errno if
 * the program could not be started (exec failures included; the child is
 * reaped then).
 */
int tspawn_start(struct tspawn *t, const char *const argv[],
		 const struct tspawn_opts *o);

/* Runs @fn(@arg) in a forked child, which exits with its return value. */
int tspawn_fork(struct tspawn *t, int (*fn)(void *), void *arg,
		const char *name);

/*
 * Connects to the unix socket @path, retrying until it accepts, the child
 * exits (-ECHILD) or @timeout_ms passes (-ETIMEDOUT; the child is left
 * running). With @fdp the connected socket (close-on-exec) is handed over
 * in *fdp, else it is closed at once.
 */
int tspawn_wait_socket(struct tspawn *t, const char *path, int timeout_ms,
		       int *fdp);

struct vhu_fe;

/* tspawn_wait_socket(), then the connection as a vhost-user frontend in
 * *fep (free it with vhu_fe_close()). */
int tspawn_vhu_connect(struct tspawn *t, const char *path, int timeout_ms,
		       struct vhu_fe **fep);

struct vdev_drv;
struct vdev_drv_config;

/* tspawn_wait_socket(), then the software driver on that connection
 * (vdev_drv_vhost_user_fd, testing.h) in *drvp: free it with
 * vdev_drv_free(). */
int tspawn_drv_connect(struct tspawn *t, const char *path, int timeout_ms,
		       const struct vdev_drv_config *cfg,
		       struct vdev_drv **drvp);

/* For a child that connects to us: accepts on the listening socket @lfd
 * until a connection comes (*fdp gets it), the child exits (-ECHILD) or
 * @timeout_ms passes (-ETIMEDOUT). */
int tspawn_accept(struct tspawn *t, int lfd, int timeout_ms, int *fdp);

/*
 * Reads the child's stdout until EOF into @buf (NUL-terminated, at most
 * @len - 1 bytes kept) within @timeout_ms. Returns the number of bytes
 * kept or a negative errno (-ETIMEDOUT if the child kept it open).
 */
ssize_t tspawn_read_stdout(struct tspawn *t, char *buf, size_t len,
			   int timeout_ms);

/*
 * Sends @sig (0: none) and waits up to @timeout_ms for the child to exit,
 * then SIGKILLs and reaps it. Returns its result (see above), -ETIMEDOUT
 * if it had to be killed, or the negative errno of a failed kill() (the
 * child is SIGKILLed and reaped then too). If the child was reaped before
 * (it died during a wait above), returns that result without a signal;
 * -ECHILD if there never was one or tspawn_kill_all() took it. Closes the
 * stdout pipe. A zeroed struct tspawn counts as never started.
 */
int tspawn_stop(struct tspawn *t, int sig, int timeout_ms);

/* Waits for the child to exit on its own: tspawn_stop(t, 0, timeout). */
int tspawn_wait(struct tspawn *t, int timeout_ms);

/* The result of a reaped child, -ECHILD while none. */
int tspawn_result(const struct tspawn *t);

/* SIGKILLs and reaps every child started here and not yet reaped;
 * returns how many there were. For teardown after a failed test. */
int tspawn_kill_all(void);

#endif
