#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# vdev-blk over vfio-user against the same daemon over vhost-user: one run,
# the same QEMU 11 (tests/guest/build/qemu11-root.sh), the same stock
# guest kernel, image and loadgen; 4 KiB random reads at queue depth 1 and
# 32 by default, interleaved boots, median of VDEV_BENCH_REPEAT (3).  QEMU
# runs TCG here, so the numbers compare the two transports' cost per
# request as this guest sees them, not what a KVM guest would get.
# Numbers, not pass/fail.  usage: vfio-user.sh BUILD_DIR (Release)
# Any run.sh variable (VDEV_BENCH_JOBS, _SECS, _KINDS, _QEMU_DIRS, _OUT)
# applies.
here=$(cd "$(dirname "$0")" && pwd)
export VDEV_BENCH_FRONTENDS=${VDEV_BENCH_FRONTENDS:-qemu11 qemu11-vfio}
export VDEV_BENCH_KINDS=${VDEV_BENCH_KINDS:-vdev-uring}
export VDEV_BENCH_JOBS=${VDEV_BENCH_JOBS:-randread:4096:1 randread:4096:32}
export VDEV_BENCH_REPEAT=${VDEV_BENCH_REPEAT:-3}
export VDEV_BENCH_SECS=${VDEV_BENCH_SECS:-5}
exec "$here/run.sh" "$@"
