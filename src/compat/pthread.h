/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * pthread_clockjoin_np where the C library lacks it (a glibc 2.31
 * extension; musl has only pthread_timedjoin_np, on CLOCK_REALTIME): the
 * CLOCK_MONOTONIC deadline becomes a CLOCK_REALTIME one, which a clock
 * step during the wait can stretch or shorten.
 */
#ifndef VDEV_COMPAT_PTHREAD_H
#define VDEV_COMPAT_PTHREAD_H

#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "vdev_build_config.h"

#if !VDEV_HAVE_PTHREAD_CLOCKJOIN_NP
static inline int pthread_clockjoin_np(pthread_t t, void **ret,
				       clockid_t clock,
				       const struct timespec *abstime)
{
	struct timespec now, real, at;
	long long left;

	if (clock == CLOCK_REALTIME)
		return pthread_timedjoin_np(t, ret, abstime);
	if (clock_gettime(clock, &now) < 0 ||
	    clock_gettime(CLOCK_REALTIME, &real) < 0)
		return errno;
	left = (long long)(abstime->tv_sec - now.tv_sec) * 1000000000ll +
	       (abstime->tv_nsec - now.tv_nsec);
	if (left < 0)
		left = 0;
	at.tv_sec = real.tv_sec + (time_t)(left / 1000000000ll);
	at.tv_nsec = real.tv_nsec + (long)(left % 1000000000ll);
	if (at.tv_nsec >= 1000000000l) {
		at.tv_sec++;
		at.tv_nsec -= 1000000000l;
	}
	return pthread_timedjoin_np(t, ret, &at);
}
#endif

#endif /* VDEV_COMPAT_PTHREAD_H */
