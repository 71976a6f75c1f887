# SPDX-License-Identifier: BSD-3-Clause
# virtio-console: multiport model and its pty, UNIX socket, file and fd
# backends (POSIX only).
file(GLOB _srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND VDEV_SOURCES ${_srcs})
list(APPEND VDEV_CAPS device:console)
