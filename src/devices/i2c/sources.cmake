# SPDX-License-Identifier: BSD-3-Clause
# virtio-i2c: the model, the simulated EEPROM and LM75 (always) and the
# host adapter backend (i2c_dev.c: /dev/i2c-N through the kernel's uapi,
# no library needed).
file(GLOB _srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND VDEV_SOURCES ${_srcs})
list(APPEND VDEV_CAPS device:i2c backend:i2c-dev)
