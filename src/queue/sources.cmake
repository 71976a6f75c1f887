# SPDX-License-Identifier: BSD-3-Clause
file(GLOB _srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND VDEV_SOURCES ${_srcs})
list(APPEND VDEV_CAPS feature:ring_split feature:ring_packed feature:indirect_desc
     feature:event_idx feature:in_order feature:notification_data feature:ring_reset)
