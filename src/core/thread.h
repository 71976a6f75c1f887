/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Threads the library starts (internal API; not exported): queue workers,
 * state transfers, the KVM device thread, storage workers.
 *
 * They block every asynchronous signal, so a process-directed signal
 * (SIGINT, SIGTERM, SIGCHLD, a timer, SIGPIPE) is delivered to one of the
 * application's own threads, as the application expects; a library thread
 * never runs the application's handlers. The synchronous signals a fault
 * raises (SIGBUS, SIGSEGV, SIGFPE, SIGILL, SIGTRAP, SIGSYS) stay unblocked:
 * blocked, the kernel would kill the process instead of running a
 * handler, and the library's own SIGBUS handler (peer/peer_mem.h) is what
 * lets a device survive a peer that shrinks its memory.
 */
#ifndef VDEV_CORE_THREAD_H
#define VDEV_CORE_THREAD_H

#include <pthread.h>

/* pthread_create with that signal mask. 0 or a negative errno. */
int vcore_thread_create(pthread_t *t, void *(*fn)(void *), void *arg);

#endif /* VDEV_CORE_THREAD_H */
