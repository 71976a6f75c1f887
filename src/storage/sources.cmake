# SPDX-License-Identifier: BSD-3-Clause
# The image layer of blk and scsi. It owns the I/O libraries, probed with
# vdev_backend() (cmake/VdevBackends.cmake): liburing and libnbd. Without
# them uring.c and nbd.c build their stubs and the engines are refused.
file(GLOB _srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
vdev_backend(_srcs NAME URING MODULE liburing LIB uring CAP liburing
             DOC "liburing image engine")
vdev_backend(_srcs NAME NBD MODULE libnbd LIB nbd CAP libnbd
             DOC "libnbd NBD image engine")
list(APPEND VDEV_SOURCES ${_srcs})
