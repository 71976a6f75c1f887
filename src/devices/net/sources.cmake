# SPDX-License-Identifier: BSD-3-Clause
# virtio-net: the model, its sink/source backend, and the tap and UNIX
# socket backends (Linux headers only: always built).
file(GLOB _srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND VDEV_SOURCES ${_srcs})
list(APPEND VDEV_CAPS device:net backend:net-tap backend:net-stream
     backend:net-dgram backend:net-sink)
