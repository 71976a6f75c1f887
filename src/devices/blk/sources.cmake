# SPDX-License-Identifier: BSD-3-Clause
# virtio-blk on the image layer (src/storage, which probes its I/O
# libraries).
file(GLOB _srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND VDEV_SOURCES ${_srcs})
list(APPEND VDEV_CAPS device:blk)
