/* SPDX-License-Identifier: BSD-3-Clause */
/* Threads the library starts, and their signal mask (core/thread.h). */
#include <signal.h>

#include "core/thread.h"

int vcore_thread_create(pthread_t *t, void *(*fn)(void *), void *arg)
{
	static const int synchronous[] = {
		SIGBUS, SIGSEGV, SIGFPE, SIGILL, SIGTRAP, SIGSYS,
	};
	sigset_t mask, old;
	int r;

	sigfillset(&mask);
	for (unsigned i = 0; i < sizeof(synchronous) / sizeof(int); i++)
		sigdelset(&mask, synchronous[i]);
	/* The new thread inherits the creator's mask. */
	pthread_sigmask(SIG_SETMASK, &mask, &old);
	r = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -r;
}
