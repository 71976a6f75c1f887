/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * How long a test waits for what must happen: a reply, a used buffer, an
 * interrupt. It comes in micro- or milliseconds, but a machine under
 * heavy load (CI beside other builds) can keep the thread that serves it
 * off the CPU for seconds, and a fixed one-second deadline then fails a
 * correct device. So such waits end as soon as the condition holds and
 * give up only after TWAIT_MS: a device that hangs still fails, within
 * the test's ctest timeout. Waits that expect nothing to happen are not
 * these; they stay short.
 */
#ifndef TWAIT_H
#define TWAIT_H

#include <stdint.h>
#include <time.h>

#define TWAIT_MS 30000

/* CLOCK_MONOTONIC in milliseconds, for deadlines of loops that poll. */
static inline uint64_t twait_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

#endif
