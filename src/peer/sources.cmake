# SPDX-License-Identifier: BSD-3-Clause
# What touching a peer's fds and shared memory safely takes (internal API,
# used by the queue layer, the core and the adapters).
file(GLOB _srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND VDEV_SOURCES ${_srcs})
