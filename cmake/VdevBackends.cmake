# SPDX-License-Identifier: BSD-3-Clause
#
# vdev_backend(<sources-var> NAME <N> MODULE <pkg-config module>
#              LIB <library> [CAP <capability>] [SOURCES <file>...]
#              [DOC <text>])
#
# A folder of the library (a device, an adapter) probes the host library
# one of its backends needs, from its own sources.cmake, so a new device
# touches nothing outside its folder:
#  - VDEV_WITH_<N> (cache: AUTO uses the library when found, ON requires
#    it, OFF never uses it) and vdev_optional_pkg() decide;
#  - found: the library is linked privately (libvdev.pc's Libs.private,
#    the installed CMake package), CAP becomes capability "backend:CAP"
#    (vdev_capabilities()), VDEV_WITH_<N>_FOUND is 1 in CMake and in
#    vdev_build_config.h;
#  - not found: SOURCES (file names in the folder) leave <sources-var>, and
#    VDEV_WITH_<N>_FOUND is 0: the device builds with its simulated
#    backend.
set_property(GLOBAL PROPERTY VDEV_BACKEND_DEFINES "")

macro(vdev_backend srcvar)
  cmake_parse_arguments(_vb "" "NAME;MODULE;LIB;CAP;DOC" "SOURCES" ${ARGN})
  if(NOT _vb_NAME OR NOT _vb_MODULE OR NOT _vb_LIB)
    message(FATAL_ERROR "vdev_backend: NAME, MODULE and LIB are needed")
  endif()
  if(NOT _vb_DOC)
    set(_vb_DOC "${_vb_MODULE} backend")
  endif()
  set(VDEV_WITH_${_vb_NAME} AUTO CACHE STRING "${_vb_DOC} (AUTO/ON/OFF)")
  vdev_optional_pkg(VDEV_WITH_${_vb_NAME} ${_vb_MODULE} ${_vb_LIB})
  if(VDEV_WITH_${_vb_NAME}_FOUND)
    set_property(GLOBAL APPEND PROPERTY VDEV_BACKEND_DEFINES
                 "VDEV_WITH_${_vb_NAME}_FOUND=1")
    list(APPEND VDEV_LINK_LIBS PkgConfig::PC_VDEV_WITH_${_vb_NAME})
    list(APPEND VDEV_PC_REQUIRES ${_vb_MODULE})
    if(_vb_CAP)
      list(APPEND VDEV_CAPS backend:${_vb_CAP})
    endif()
  else()
    set_property(GLOBAL APPEND PROPERTY VDEV_BACKEND_DEFINES
                 "VDEV_WITH_${_vb_NAME}_FOUND=0")
    foreach(_vb_f ${_vb_SOURCES})
      list(FILTER ${srcvar} EXCLUDE REGEX "/${_vb_f}$")
    endforeach()
  endif()
endmacro()
