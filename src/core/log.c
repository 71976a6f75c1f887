/* SPDX-License-Identifier: BSD-3-Clause */
/* Logging: one process-wide sink, so an embedder routes every message of
 * the library (models, adapters, core) to its own log. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <virtio/device.h>

/* Recursive: a sink may itself log. */
static pthread_mutex_t log_lock = PTHREAD_RECURSIVE_MUTEX_INITIALIZER_NP;
static void (*log_fn)(enum vdev_log_level, const char *, void *);
static void *log_opaque;
static enum vdev_log_level log_max = VDEV_LOG_WARN;

void vdev_set_log_fn(void (*fn)(enum vdev_log_level lvl, const char *msg,
				void *opaque),
		     void *opaque, enum vdev_log_level max_level)
{
	pthread_mutex_lock(&log_lock);
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

	pthread_mutex_lock(&log_lock);
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
