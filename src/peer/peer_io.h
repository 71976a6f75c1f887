/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * I/O on fds a peer chose (internal API of the library; not exported).
 *
 * A frontend passes kick, call and err fds, state-transfer pipes and
 * channels, and it chooses their type and flags: a blocking eventfd whose
 * counter it set to 0xfffffffffffffffe, a full pipe, a Unix socket with
 * SO_RCVLOWAT raised (poll says readable, read() blocks). A thread that
 * blocks on such an fd while holding a queue or channel lock stops the
 * whole daemon. So no read or write on a peer's fd may block, whatever
 * its flags say:
 *  - sockets: MSG_DONTWAIT on every call (and MSG_NOSIGNAL);
 *  - pipes and anything else the kernel allows it for (eventfd reads):
 *    RWF_NOWAIT on every call, SIGPIPE held back on this thread;
 *  - eventfd writes, for which Linux has no per-call flag: O_NONBLOCK on
 *    the file description (vpeer_prepare_write), which the peer shares.
 *    That flag changes the peer's own writes and reads of that eventfd
 *    only from "blocking" to "EAGAIN", which the vhost-user and
 *    vfio-user peers (QEMU's event notifiers, KVM irqfds) never rely on.
 *    A peer that clears O_NONBLOCK on its own copy again and saturates
 *    the counter can still stall the writer: there is no per-call way
 *    around it on Linux (no RWF_NOWAIT for eventfd writes, and an
 *    eventfd cannot be reopened into a private description).
 *  - regular files and block devices: plain calls (they never wait for a
 *    peer).
 * The same fallback (O_NONBLOCK on the description) is used where an old
 * kernel refuses RWF_NOWAIT for pipes or eventfd reads.
 *
 * Waits use vpeer_wait() with an absolute deadline taken once per
 * message or transfer (vpeer_deadline), never a timeout restarted per
 * system call: a peer that trickles one byte at a time gets the same
 * deadline as one that sends nothing.
 *
 * Every call here is safe from any thread. Adapters (vhost-user,
 * vfio-user) and the core use them for every fd a peer handed over.
 */
#ifndef VDEV_PEER_IO_H
#define VDEV_PEER_IO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* What an fd is, for the calls below (from vpeer_kind). */
enum vpeer_kind {
	VPEER_OTHER,  /* eventfd, character device, ...: RWF_NOWAIT/O_NONBLOCK */
	VPEER_SOCKET, /* MSG_DONTWAIT */
	VPEER_FIFO,   /* RWF_NOWAIT, SIGPIPE held back */
	VPEER_FILE,   /* regular file or block device: never waits on a peer */
};

/* The kind of @fd (fstat), or -errno (-EBADF). */
int vpeer_kind(int fd);

/*
 * vpeer_kind(), and for an fd that has no per-call non-blocking write
 * (VPEER_OTHER: eventfds) sets O_NONBLOCK on its description, keeping its
 * other flags. Call it once when the peer hands the fd over, before the
 * first vpeer_write/vpeer_signal. Returns the kind or -errno.
 */
int vpeer_prepare_write(int fd);

/*
 * Reads up to @len bytes without blocking. Returns the bytes read (0: end
 * of stream), -EAGAIN when nothing can be read now, or -errno.
 */
ssize_t vpeer_read(int fd, int kind, void *buf, size_t len);

/*
 * Writes up to @len bytes without blocking and without raising SIGPIPE.
 * Returns the bytes written (possibly fewer than @len), -EAGAIN when
 * there is no room now, -EPIPE when the reader is gone, or -errno.
 */
ssize_t vpeer_write(int fd, int kind, const void *buf, size_t len);

/*
 * Signals an interrupt or event fd (8-byte counter write of 1: an eventfd,
 * or a pipe or socket that a peer reads 8 bytes at a time). 0 when
 * signalled, or when the fd is full: a full counter or buffer means a
 * signal is already pending, so nothing is lost. -errno otherwise (-EPIPE:
 * the reader is gone).
 */
int vpeer_signal(int fd, int kind);

/*
 * Consumes one pending signal (an 8-byte read) without blocking. True when
 * something was read.
 */
bool vpeer_drain(int fd, int kind);

/* ---- deadlines ---------------------------------------------------------- */

/* CLOCK_MONOTONIC now, in ns. */
uint64_t vpeer_now_ns(void);

/* The absolute deadline @ms milliseconds from now (a negative @ms: none,
 * UINT64_MAX). */
uint64_t vpeer_deadline(int ms);

/*
 * Waits until @fd has one of @events (poll(2) bits) or the deadline has
 * passed. Returns the revents (> 0), -ETIMEDOUT, or -errno. EINTR is
 * retried against the same deadline. @cancel_fd, if >= 0, is polled too:
 * when it becomes readable the wait returns -ECANCELED.
 */
int vpeer_wait(int fd, short events, uint64_t deadline, int cancel_fd);

/*
 * pthread_join with a deadline (CLOCK_MONOTONIC, from vpeer_deadline). 0:
 * joined; -ETIMEDOUT: still running (not joined, still joinable).
 */
int vpeer_join(pthread_t thread, uint64_t deadline);

#endif /* VDEV_PEER_IO_H */
