# SPDX-License-Identifier: BSD-3-Clause
# virtio-vsock: the model and its hybrid Unix socket host side (libc only).
file(GLOB _srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND VDEV_SOURCES ${_srcs})
list(APPEND VDEV_CAPS device:vsock)
