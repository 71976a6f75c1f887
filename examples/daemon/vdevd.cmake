# SPDX-License-Identifier: BSD-3-Clause
# The daemons' shared library (examples/daemon). Include this file from a
# daemon's CMakeLists.txt and link with vdevd_link(<target>): the whole
# archive is linked so every transport file in examples/daemon/ registers
# itself (they are weak references in transport.c).
if(NOT TARGET vdevd)
  file(GLOB _vdevd_srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
  add_library(vdevd STATIC ${_vdevd_srcs})
  target_include_directories(vdevd PUBLIC ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(vdevd PUBLIC vdev_static)
endif()

function(vdevd_link target)
  target_link_libraries(${target} PRIVATE "$<LINK_LIBRARY:WHOLE_ARCHIVE,vdevd>"
                        vdev_static)
endfunction()
