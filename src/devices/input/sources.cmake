# SPDX-License-Identifier: BSD-3-Clause
# virtio-input: the model, the scripted source (evemu text, replay,
# control socket) and evdev passthrough (linux/input.h, always there on
# Linux).
file(GLOB _srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND VDEV_SOURCES ${_srcs})
list(APPEND VDEV_CAPS device:input backend:input-script backend:input-evdev)
