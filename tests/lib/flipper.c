/* SPDX-License-Identifier: BSD-3-Clause */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flipper.h"

struct flipper {
	pthread_t thread;
	atomic_bool stop;
	unsigned n;
	uint8_t *base[FLIPPER_MAX_REGIONS];
	size_t len[FLIPPER_MAX_REGIONS];
	uint64_t state;
	uint64_t writes;
};

static uint64_t next(uint64_t *s)
{
	/* xorshift64*: fast, and reproducible from the seed. */
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static void *flip_main(void *arg)
{
	struct flipper *f = arg;

	while (!atomic_load_explicit(&f->stop, memory_order_relaxed)) {
		for (int k = 0; k < 256; k++) {
			uint64_t r = next(&f->state), v = next(&f->state);
			unsigned i = (unsigned)(r % f->n);
			size_t off, w = (size_t)1 << ((r >> 8) & 3);
			uint8_t *p;

			if (f->len[i] < w)
				w = 1;
			off = (size_t)((r >> 16) % (f->len[i] - w + 1));
			off &= ~(w - 1); /* natural alignment: one store */
			p = f->base[i] + off;
			switch (w) {
			case 8:
				__atomic_store_n((uint64_t *)p, v,
						 __ATOMIC_RELAXED);
				break;
			case 4:
				__atomic_store_n((uint32_t *)p, (uint32_t)v,
						 __ATOMIC_RELAXED);
				break;
			case 2:
				__atomic_store_n((uint16_t *)p, (uint16_t)v,
						 __ATOMIC_RELAXED);
				break;
			default:
				__atomic_store_n(p, (uint8_t)v,
						 __ATOMIC_RELAXED);
				break;
			}
			f->writes++;
		}
		/* Let the thread under test run on a single core too. */
		sched_yield();
	}
	return NULL;
}

struct flipper *flipper_start(void *const *regions, const size_t *lens,
			      unsigned n, uint64_t seed)
{
	struct flipper *f;

	if (!n || n > FLIPPER_MAX_REGIONS)
		return NULL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	for (unsigned i = 0; i < n; i++) {
		if (!regions[i] || !lens[i]) {
			free(f);
			return NULL;
		}
		f->base[i] = regions[i];
		f->len[i] = lens[i];
	}
	f->n = n;
	f->state = seed ? seed : 0x9e3779b97f4a7c15ull;
	atomic_init(&f->stop, false);
	if (pthread_create(&f->thread, NULL, flip_main, f)) {
		free(f);
		return NULL;
	}
	return f;
}

uint64_t flipper_stop(struct flipper *f)
{
	uint64_t w;

	if (!f)
		return 0;
	atomic_store(&f->stop, true);
	pthread_join(f->thread, NULL);
	w = f->writes;
	free(f);
	return w;
}

bool flipper_fuzz_mode(void)
{
	const char *e = getenv("VDEV_FUZZ_FLIP");

	return e && strcmp(e, "0") != 0;
}

void flipper_fuzz_start(void *const *regions, const size_t *lens, unsigned n)
{
	static struct flipper *f;

	if (!f)
		f = flipper_start(regions, lens, n, (uint64_t)getpid());
	if (!f)
		abort();
}
