/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A configurable test device for the core's tests: it echoes each chain's
 * readable bytes into its writable part, or holds requests until the test
 * completes them through a watched eventfd (asynchronous I/O), or waits
 * without popping (like a rate limit).
 */
#ifndef VCORE_TDEV_H
#define VCORE_TDEV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <virtio/device.h>

#define TDEV_ID 0xfff1
#define TDEV_F_X 3 /* a device feature bit */
#define TDEV_HELD_MAX 16

struct tdev {
	struct vdev *dev;
	/* Behaviour. */
	bool defer;       /* hold popped requests until done_fd fires */
	bool wait;        /* handler returns without popping */
	int done_fd;      /* eventfd: completes every held request */
	/* ops->drain: leave held requests alone (as a model without the
	 * op), complete them (echo), or cancel them (0 bytes). */
	enum { TDEV_DRAIN_NONE, TDEV_DRAIN_COMPLETE, TDEV_DRAIN_CANCEL } drain;
	/* Calls transport calls from handle and reset (refused). */
	bool reenter;
	/* Observations. */
	int reenter_handle, reenter_reset; /* what they returned */
	unsigned handles[4];
	unsigned pops[4];
	int starts, resets, loads;
	unsigned drains[4]; /* ops->drain calls per queue */
	int watch_ret;    /* what vdev_watch_fd said in start */
	int last_push_ret;
	unsigned completed;
	/* Held requests. */
	struct vdev_req held[TDEV_HELD_MAX];
	struct iovec iov[TDEV_HELD_MAX][8];
	unsigned held_q[TDEV_HELD_MAX];
	unsigned nheld;
	/* Model state (saved under tag "TDV0"). */
	uint64_t counter;
};

/* A device with @nq queues (<= 4) of at most @max_size entries. */
struct vdev *tdev_new(struct tdev *t, unsigned nq, uint16_t max_size,
		      uint32_t state_version);
/* Pushes every held request (echo); what done_fd's callback does. */
unsigned tdev_complete(struct tdev *t);
/* Makes done_fd readable. */
void tdev_signal_done(struct tdev *t);

#endif /* VCORE_TDEV_H */
