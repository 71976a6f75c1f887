/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Memory a peer shares can shrink under us (internal API; not exported).
 *
 * A frontend or client that truncates the memfd or file behind guest
 * memory, or a hugetlbfs pool that runs dry, turns the next touch of a
 * page past the end into SIGBUS, which kills the process and every device
 * and frontend it serves. So:
 *  - what we create ourselves is sealed (F_SEAL_SHRINK | F_SEAL_GROW |
 *    F_SEAL_SEAL: the vhost-user inflight region);
 *  - where the protocol lets us, we require F_SEAL_SHRINK on the peer's
 *    fd before mapping it (vpeer_fd_sealed: the vhost-user inflight and
 *    dirty-log fds, which QEMU seals);
 *  - everywhere else (guest RAM, vfio-user DMA windows: hugetlbfs and
 *    plain files cannot be sealed) the mapping is guarded: a SIGBUS
 *    inside it is survived.
 *
 * Surviving a SIGBUS: the library's handler (installed on the first
 * guard, chaining to whatever handler was there before) finds the guarded
 * mapping that holds the faulting address and replaces the whole mapping
 * with private zero pages (MAP_FIXED | MAP_ANONYMOUS). The faulting access
 * then completes: it reads zeros, its writes go nowhere. The handler sets
 * the guard's faulted flag and bumps the owner's counter (a map's
 * generation), so the owner notices at its next look and fails what the
 * memory belongs to: the queues of that map break and their device goes to
 * DEVICE_NEEDS_RESET, while every other device of the process carries on.
 * Nothing unwinds through the interrupted code (no longjmp), so no lock or
 * half-done update is left behind.
 *
 * A SIGBUS outside every guarded mapping goes to the handler installed
 * before ours, or, if there was none, kills the process as before. An
 * embedder that installs its own SIGBUS handler after the library's must
 * chain to the previous one (the usual rule for shared signals); one that
 * replaces ours without chaining gets it back with the next mapping.
 *
 * The guard's lifetime must cover every access to the mapping: register
 * right after mmap, unregister right before munmap, and only once no one
 * can still touch it (the map's reference counts ensure that).
 */
#ifndef VDEV_PEER_MEM_H
#define VDEV_PEER_MEM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vpeer_guard {
	atomic_uint faulted;        /* set by the handler; never cleared */
	_Atomic uint64_t *bump;     /* incremented on a fault, or NULL */
};

/*
 * Guards [@addr, @addr + @len), a mapping of a peer's fd (page aligned,
 * as mmap returned it). @g must stay valid until vpeer_mem_unguard.
 * -ENOSPC when too many mappings are guarded already, or -errno from
 * installing the handler.
 */
int vpeer_mem_guard(void *addr, size_t len, struct vpeer_guard *g);
/* Stops guarding the mapping that starts at @addr (before munmap). */
void vpeer_mem_unguard(void *addr);

/* True once a SIGBUS hit the guarded mapping. Cheap (one load). */
static inline bool vpeer_mem_faulted(const struct vpeer_guard *g)
{
	return atomic_load_explicit(&g->faulted, memory_order_acquire) != 0;
}

/*
 * 0 when @fd carries F_SEAL_SHRINK (it can never get smaller than it is),
 * -EPERM when it does not (or cannot be sealed at all: not a memfd).
 */
int vpeer_fd_sealed(int fd);

/* Seals a memfd we made: it can neither shrink nor grow, and no seal can
 * be removed or added. 0 or -errno. */
int vpeer_seal(int fd);

#endif /* VDEV_PEER_MEM_H */
