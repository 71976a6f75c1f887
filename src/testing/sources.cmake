# SPDX-License-Identifier: BSD-3-Clause
# The software driver (include/virtio/testing.h) is part of the installed
# library: users unit-test their own device models with it.
file(GLOB _srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND VDEV_SOURCES ${_srcs})
list(APPEND VDEV_CAPS transport:testing)
