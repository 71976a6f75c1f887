# SPDX-License-Identifier: BSD-3-Clause
# vfio-user server: a libvdev device as a virtio-pci function to a
# vfio-user client (QEMU 10.1+, SPDK). json-c parses the client's version
# capabilities when available; without it they are ignored (defaults).
file(GLOB _srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
vdev_backend(_srcs NAME JSONC MODULE json-c LIB json-c
             DOC "json-c, for vfio-user")
list(APPEND VDEV_SOURCES ${_srcs})
list(APPEND VDEV_CAPS "transport:vfio-user")
