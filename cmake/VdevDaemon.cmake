# SPDX-License-Identifier: BSD-3-Clause
# vdev_add_daemon(NAME SOURCES...): a daemon of daemons/<dev>/ on the
# public daemon API. Builds the program, and from its option table (by
# running it) its man page and its QEMU descriptor for
# <datadir>/qemu/vhost-user/, makes example systemd units for socket
# activation (<prefix>/lib/systemd/system/NAME@.socket, NAME@.service), and
# installs them all; the descriptor and the units name the program where
# the install prefix puts it.
set(VDEV_DAEMON_DOC_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/vdev_daemon_doc.cmake)
set(VDEV_DAEMON_UNIT_DIR ${CMAKE_CURRENT_LIST_DIR})

function(vdev_add_daemon name)
  add_executable(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE vdev_daemon_static)
  install(TARGETS ${name} DESTINATION ${CMAKE_INSTALL_LIBEXECDIR})
  # A cross build can run the program only through an emulator.
  if(CMAKE_CROSSCOMPILING AND NOT CMAKE_CROSSCOMPILING_EMULATOR)
    message(STATUS "${name}: no man page or descriptor (cross build "
                   "without CMAKE_CROSSCOMPILING_EMULATOR)")
    return()
  endif()
  set(man ${CMAKE_CURRENT_BINARY_DIR}/${name}.1)
  set(json ${CMAKE_CURRENT_BINARY_DIR}/50-${name}.json)
  add_custom_command(OUTPUT ${man} ${json}
    COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:${name}>
            "-DEMULATOR=${CMAKE_CROSSCOMPILING_EMULATOR}"
            -DARGS=--print-doc=man -DOUT=${man}
            -P ${VDEV_DAEMON_DOC_SCRIPT}
    COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:${name}>
            "-DEMULATOR=${CMAKE_CROSSCOMPILING_EMULATOR}"
            -DARGS=--print-qemu-descriptor=/@VDEV_LIBEXECDIR@/${name}
            -DOUT=${json} -P ${VDEV_DAEMON_DOC_SCRIPT}
    DEPENDS ${name} ${VDEV_DAEMON_DOC_SCRIPT}
    COMMENT "${name}: man page and QEMU descriptor from its option table"
    VERBATIM)
  add_custom_target(${name}-doc ALL DEPENDS ${man} ${json})
  install(FILES ${man} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  # The descriptor names the program where it is installed: the prefix
  # is known only at install time (cmake --install --prefix P).
  # Example systemd units (socket activation, one device per instance).
  string(REGEX REPLACE "^vdev-" "" VDEV_DEV "${name}")
  set(VDEV_NAME ${name})
  set(VDEV_LIBEXECDIR "@VDEV_LIBEXECDIR@") # kept for the install step
  set(VDEV_SUMMARY "${name} virtio device back-end")
  foreach(kind socket service)
    configure_file(${VDEV_DAEMON_UNIT_DIR}/vdev-daemon@.${kind}.in
                   ${CMAKE_CURRENT_BINARY_DIR}/${name}@.${kind} @ONLY)
  endforeach()
  install(CODE "
    set(_libexec \"${CMAKE_INSTALL_LIBEXECDIR}\")
    set(_data \"${CMAKE_INSTALL_DATADIR}\")
    if(NOT IS_ABSOLUTE \"\${_libexec}\")
      set(_libexec \"\${CMAKE_INSTALL_PREFIX}/\${_libexec}\")
    endif()
    if(NOT IS_ABSOLUTE \"\${_data}\")
      set(_data \"\${CMAKE_INSTALL_PREFIX}/\${_data}\")
    endif()
    foreach(_u ${name}@.socket ${name}@.service)
      file(READ \"${CMAKE_CURRENT_BINARY_DIR}/\${_u}\" _t)
      string(REPLACE \"/@VDEV_LIBEXECDIR@\" \"\${_libexec}\" _t \"\${_t}\")
      set(_out \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/lib/systemd/system/\${_u}\")
      message(STATUS \"Installing: \${_out}\")
      file(WRITE \"\${_out}\" \"\${_t}\")
      list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"\${_out}\")
    endforeach()
    file(READ \"${json}\" _j)
    string(REPLACE \"/@VDEV_LIBEXECDIR@\" \"\${_libexec}\" _j \"\${_j}\")
    set(_out \"\$ENV{DESTDIR}\${_data}/qemu/vhost-user/50-${name}.json\")
    message(STATUS \"Installing: \${_out}\")
    file(WRITE \"\${_out}\" \"\${_j}\")
    list(APPEND CMAKE_INSTALL_MANIFEST_FILES \"\${_out}\")
  ")
endfunction()
