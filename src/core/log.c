/* SPDX-License-Identifier: BSD-3-Clause */
/* Logging: one process-wide sink, so an embedder routes every message of
 * the library (models, adapters, core) to its own log. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <virtio/device.h>

/* Recursive: a sink may itself log. POSIX has no static initializer for
 * a recursive mutex (glibc's is an extension), so it is made once. */
static pthread_mutex_t log_lock;
static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static void (*log_fn)(enum vdev_log_level, const char *, void *);
static void *log_opaque;
static enum vdev_log_level log_max = VDEV_LOG_WARN;

static void log_lock_init(void)
{
	pthread_mutexattr_t a;

	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&log_lock, &a);
	pthread_mutexattr_destroy(&a);
}

static void take_log_lock(void)
{
	pthread_once(&log_once, log_lock_init);
	pthread_mutex_lock(&log_lock);
}

void vdev_set_log_fn(void (*fn)(enum vdev_log_level lvl, const char *msg,
				void *opaque),
		     void *opaque, enum vdev_log_level max_level)
{
	take_log_lock();
	log_fn = fn;
	log_opaque = opaque;
	log_max = max_level;
	pthread_mutex_unlock(&log_lock);
}

void vdev_log(enum vdev_log_level lvl, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info",
					     "debug" };
	char msg[512];
	va_list ap;

	take_log_lock();
	if (lvl > log_max) {
		pthread_mutex_unlock(&log_lock);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Called under the lock so that a sink being replaced is never
	 * called after vdev_set_log_fn returned. */
	if (log_fn)
		log_fn(lvl, msg, log_opaque);
	else
		fprintf(stderr, "libvdev %s: %s\n",
			(unsigned)lvl < 4 ? names[lvl] : "?", msg);
	pthread_mutex_unlock(&log_lock);
}
