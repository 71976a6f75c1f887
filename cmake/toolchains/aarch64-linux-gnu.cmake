# SPDX-License-Identifier: BSD-3-Clause
# 64-bit Arm, little-endian: Debian's gcc-aarch64-linux-gnu, run under
# qemu-aarch64-static. Usage:
#   cmake -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake \
#         -DVDEV_TARGET_ROOT=$(scripts/target-root.sh aarch64-linux-gnu) ...
set(VDEV_TARGET_TRIPLE aarch64-linux-gnu)
set(VDEV_TARGET_PROCESSOR aarch64)
set(VDEV_TARGET_QEMU aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/linux-gnu-cross.cmake)
