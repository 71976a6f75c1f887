# SPDX-License-Identifier: BSD-3-Clause
# IBM Z, 64-bit big-endian: Debian's gcc-s390x-linux-gnu, run under
# qemu-s390x-static. The one big-endian target: it proves that everything
# virtio puts on the wire is converted explicitly. Usage:
#   cmake -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/s390x-linux-gnu.cmake \
#         -DVDEV_TARGET_ROOT=$(scripts/target-root.sh s390x-linux-gnu) ...
set(VDEV_TARGET_TRIPLE s390x-linux-gnu)
set(VDEV_TARGET_PROCESSOR s390x)
set(VDEV_TARGET_QEMU s390x)
include(${CMAKE_CURRENT_LIST_DIR}/linux-gnu-cross.cmake)
