/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A deterministic double-fetch probe: memory a peer shares is made
 * inaccessible from one page on, and the first access there runs a
 * callback (the "peer" changes the memory) before the access completes.
 * A parser that reads a field, reaches the trapped page, then reads the
 * field again sees two different values, exactly once, every run.
 *
 * One trap per process at a time; not for threads racing the trap.
 */
#ifndef TOUCHTRAP_H
#define TOUCHTRAP_H

#include <stddef.h>

/*
 * Makes [@page, @page + @len) (page aligned, inside a mapping the test
 * owns) PROT_NONE. The first access to it restores read and write access
 * and calls @fn(@arg) from the signal handler (it may only touch memory).
 * 0 or -errno.
 */
int touchtrap_arm(void *page, size_t len, void (*fn)(void *), void *arg);
/* Restores access and the previous SIGSEGV handler; how many times the
 * trap fired (0 or 1). */
unsigned touchtrap_disarm(void);

#endif /* TOUCHTRAP_H */
