/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The double-fetch test mode: a thread that keeps changing memory a peer
 * shares (rings, descriptors, indirect tables, request headers, inflight,
 * log and state regions) while the code under test walks and parses it.
 * Code that reads such memory once, into private memory, and then checks
 * and uses its copy, is unaffected; code that checks one read and uses
 * another sooner or later uses a value it never checked, which ASan (and
 * the callers' bounds checks) catch. See docs/hostile-peers.md.
 */
#ifndef FLIPPER_H
#define FLIPPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FLIPPER_MAX_REGIONS 8

struct flipper;

/*
 * Starts a thread that writes random bytes (1, 2, 4 or 8 at a time, at
 * random offsets, with relaxed atomic stores) into the @n regions
 * regions[i] of lens[i] bytes until flipper_stop. The regions must stay
 * mapped until then. NULL on failure.
 */
struct flipper *flipper_start(void *const *regions, const size_t *lens,
			      unsigned n, uint64_t seed);
/* Stops and joins the thread; returns how many writes it made. */
uint64_t flipper_stop(struct flipper *f);

/* True when the environment asks fuzz targets for the double-fetch mode
 * (VDEV_FUZZ_FLIP=1). */
bool flipper_fuzz_mode(void);

/* For a fuzz target: starts one flipper over regions that stay mapped for
 * the whole run, once (later calls do nothing); it is never stopped. */
void flipper_fuzz_start(void *const *regions, const size_t *lens,
			unsigned n);

#endif /* FLIPPER_H */
