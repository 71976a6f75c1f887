/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test helper: what the platform under the tests really does, where an
 * emulator (qemu-user, used for the cross-built tests) differs from Linux.
 * A test that depends on such behaviour probes it here and SKIPs with the
 * reason returned, rather than passing or failing on the emulator's bug.
 */
#ifndef TENV_H
#define TENV_H

/*
 * NULL if a recvmsg() whose control buffer is too small for the fds sent
 * closes the excess fds and sets MSG_CTRUNC (Linux does); otherwise why
 * not (qemu-user 7.2 leaves them open in the process and sets no flag).
 */
const char *tenv_scm_truncation_broken(void);

/*
 * An eventfd (eventfd(0, @flags)) whose counter the test can read while
 * the library writes to its own copy of it. Under qemu-user for a
 * big-endian target, qemu byte-swaps an eventfd's 8-byte counter only on
 * the fd numbers it saw created, not on copies received over a socket: a
 * 1 written on the library's copy reads back as 1 << 56 on the original.
 * The fd returned here went through a socketpair, so it is the same kind
 * of fd as the library's; on Linux it is simply a copy. -errno on error.
 */
int tenv_eventfd(int flags);

/*
 * NULL if an eventfd's counter reads back as written when the writer used
 * a copy of the fd received over a socket (Linux: always); otherwise why
 * not (qemu-s390x 7.2, see tenv_eventfd): a test that counts what a
 * back-end in this process signalled on such a copy cannot count here.
 */
const char *tenv_eventfd_counter_broken(void);

/*
 * NULL if /proc/self/task/TID/status shows the signal masks this process
 * set (SigBlk); otherwise why not. Under an emulator (VDEV_TEST_EMULATOR)
 * never: qemu-user shows its own host threads' masks, which match the
 * guest's for a sleeping thread but not for one waiting in epoll.
 */
const char *tenv_proc_sigmask_broken(void);

/*
 * NULL if a SIGBUS from touching a shared mapping past the end of its
 * (truncated) file reports the faulting address in si_addr; otherwise
 * what was reported (qemu-s390x 7.2 swaps the address's two halves, so a
 * handler cannot tell whose memory faulted). Probed in a child process.
 */
const char *tenv_sigbus_addr_broken(void);

#endif
