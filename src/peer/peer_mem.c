/* SPDX-License-Identifier: BSD-3-Clause */
/* Surviving a peer's shrinking memory; see peer_mem.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "peer/peer_mem.h"

/*
 * Guarded mappings, read by the signal handler without locks. A slot is
 * published by storing its start last (release) and withdrawn by storing
 * 0; the handler reads start, then end and guard, then start again, and
 * ignores a slot that changed meanwhile. The slot of a mapping being
 * touched cannot change (it is unguarded only once nobody can touch it).
 */
#define VPEER_GUARDS_MAX 4096

struct slot {
	_Atomic uintptr_t start;
	_Atomic uintptr_t end;
	_Atomic(struct vpeer_guard *) g;
};

static struct slot slots[VPEER_GUARDS_MAX];
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;

/* The handler that was there before ours. Two copies: a re-install writes
 * the one the handler is not reading, then switches. */
static struct sigaction old_bus[2];
static atomic_uint old_idx;

/* The mapping becomes private zero pages; the access that faulted then
 * completes. A raw system call: the handler must not go through an
 * interposed mmap (sanitizers). */
static bool replace(uintptr_t start, uintptr_t end)
{
	long r = syscall(SYS_mmap, (void *)start, (size_t)(end - start),
			 PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE,
			 -1, 0L);

	return r == (long)start;
}

/* Not ours: what would have happened without the library. */
static void chain(int sig, siginfo_t *si, void *uc)
{
	const struct sigaction *old =
		&old_bus[atomic_load_explicit(&old_idx, memory_order_acquire)];

	if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction) {
		old->sa_sigaction(sig, si, uc);
		return;
	}
	if (old->sa_handler != SIG_DFL && old->sa_handler != SIG_IGN) {
		old->sa_handler(sig);
		return;
	}
	/* Default action: the access faults again on return and the
	 * signal, no longer handled, ends the process as it always did. */
	signal(SIGBUS, SIG_DFL);
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	int saved = errno;

	/* Only a fault has an address: kill(2) and friends are not ours. */
	for (unsigned i = 0; si->si_code > 0 && i < VPEER_GUARDS_MAX; i++) {
		struct slot *s = &slots[i];
		uintptr_t start = atomic_load_explicit(&s->start,
						       memory_order_acquire);
		uintptr_t end;
		struct vpeer_guard *g;

		if (!start || a < start)
			continue;
		end = atomic_load_explicit(&s->end, memory_order_acquire);
		g = atomic_load_explicit(&s->g, memory_order_acquire);
		if (a >= end || !g ||
		    atomic_load_explicit(&s->start, memory_order_acquire) !=
			    start)
			continue;
		if (!replace(start, end))
			break;
		atomic_store_explicit(&g->faulted, 1, memory_order_release);
		if (g->bump)
			atomic_fetch_add_explicit(g->bump, 1,
						  memory_order_release);
		errno = saved;
		return;
	}
	errno = saved;
	chain(sig, si, uc);
}

/*
 * slots_lock held. Installs the handler unless it is in place already:
 * checked at every new guard, because whoever replaced ours meanwhile
 * (an embedder, a test harness that saves and restores handlers around
 * each test) may have dropped it. Whatever is there is chained to.
 */
static int install(void)
{
	struct sigaction sa, cur;
	unsigned next;

	if (sigaction(SIGBUS, NULL, &cur) < 0)
		return -errno;
	if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_sigbus)
		return 0;
	next = !atomic_load_explicit(&old_idx, memory_order_relaxed);
	old_bus[next] = cur;
	atomic_store_explicit(&old_idx, next, memory_order_release);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, NULL) < 0)
		return -errno;
	return 0;
}

int vpeer_mem_guard(void *addr, size_t len, struct vpeer_guard *g)
{
	int r;

	if (!addr || !len || !g)
		return -EINVAL;
	pthread_mutex_lock(&slots_lock);
	r = install();
	if (r == 0) {
		r = -ENOSPC;
		for (unsigned i = 0; i < VPEER_GUARDS_MAX; i++) {
			struct slot *s = &slots[i];

			if (atomic_load_explicit(&s->start,
						 memory_order_relaxed))
				continue;
			atomic_store_explicit(&s->end, (uintptr_t)addr + len,
					      memory_order_relaxed);
			atomic_store_explicit(&s->g, g, memory_order_relaxed);
			atomic_store_explicit(&s->start, (uintptr_t)addr,
					      memory_order_release);
			r = 0;
			break;
		}
	}
	pthread_mutex_unlock(&slots_lock);
	return r;
}

void vpeer_mem_unguard(void *addr)
{
	pthread_mutex_lock(&slots_lock);
	for (unsigned i = 0; addr && i < VPEER_GUARDS_MAX; i++) {
		struct slot *s = &slots[i];

		if (atomic_load_explicit(&s->start, memory_order_relaxed) !=
		    (uintptr_t)addr)
			continue;
		atomic_store_explicit(&s->start, 0, memory_order_release);
		atomic_store_explicit(&s->g, NULL, memory_order_relaxed);
		break;
	}
	pthread_mutex_unlock(&slots_lock);
}

int vpeer_fd_sealed(int fd)
{
	int seals = fcntl(fd, F_GET_SEALS);

	return seals >= 0 && (seals & F_SEAL_SHRINK) ? 0 : -EPERM;
}

int vpeer_seal(int fd)
{
	return fcntl(fd, F_ADD_SEALS,
		     F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0 ? -errno : 0;
}
