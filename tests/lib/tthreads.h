/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test helper: waits until the library's threads in this process have
 * nothing left to do. A test that must know a queue worker has finished
 * its round (and gone to sleep until the next kick) cannot tell that from
 * the ring: a worker turns kicks back on and then looks at the ring once
 * more, as virtio requires, so a request added before that last look is
 * rightly served without a kick. Sleeping "long enough" is a race on a
 * loaded machine; this asks the kernel instead.
 */
#ifndef TTHREADS_H
#define TTHREADS_H

#include <stdbool.h>

/*
 * True once every thread of this process but the caller is asleep in the
 * kernel (state S in /proc/self/task/TID/stat) in five samples in a row,
 * 10 ms apart; false when that did not happen within @timeout_ms.
 */
bool tthreads_asleep(int timeout_ms);

#endif /* TTHREADS_H */
