/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "touchtrap.h"

static struct {
	uint8_t *page;
	size_t len;
	void (*fn)(void *);
	void *arg;
	volatile sig_atomic_t armed;
	volatile unsigned hits;
	struct sigaction old;
} trap;

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	uint8_t *a = si->si_addr;

	if (trap.armed && a >= trap.page && a < trap.page + trap.len) {
		trap.armed = 0;
		mprotect(trap.page, trap.len, PROT_READ | PROT_WRITE);
		trap.hits++;
		trap.fn(trap.arg);
		return; /* the access is retried, and succeeds */
	}
	/* Not ours: a real fault. Let the previous handler see it again. */
	sigaction(SIGSEGV, &trap.old, NULL);
}

int touchtrap_arm(void *page, size_t len, void (*fn)(void *), void *arg)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	trap.page = page;
	trap.len = len;
	trap.fn = fn;
	trap.arg = arg;
	trap.hits = 0;
	if (sigaction(SIGSEGV, &sa, &trap.old) < 0)
		return -errno;
	trap.armed = 1;
	if (mprotect(page, len, PROT_NONE) < 0) {
		int e = errno;

		trap.armed = 0;
		sigaction(SIGSEGV, &trap.old, NULL);
		return -e;
	}
	return 0;
}

unsigned touchtrap_disarm(void)
{
	if (trap.armed)
		mprotect(trap.page, trap.len, PROT_READ | PROT_WRITE);
	trap.armed = 0;
	sigaction(SIGSEGV, &trap.old, NULL);
	return trap.hits;
}
