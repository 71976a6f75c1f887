# SPDX-License-Identifier: BSD-3-Clause
# vdev_add_daemon(NAME SOURCES...): a daemon of daemons/<dev>/ on the
# public daemon API. Builds the program, and from its option table (by
# running it) its man page and its QEMU descriptor for
# <datadir>/qemu/vhost-user/, and installs all three.
set(VDEV_DAEMON_DOC_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/vdev_daemon_doc.cmake)

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
            -DARGS=--print-qemu-descriptor=${CMAKE_INSTALL_FULL_LIBEXECDIR}/${name}
            -DOUT=${json} -P ${VDEV_DAEMON_DOC_SCRIPT}
    DEPENDS ${name} ${VDEV_DAEMON_DOC_SCRIPT}
    COMMENT "${name}: man page and QEMU descriptor from its option table"
    VERBATIM)
  add_custom_target(${name}-doc ALL DEPENDS ${man} ${json})
  install(FILES ${man} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  install(FILES ${json} DESTINATION ${CMAKE_INSTALL_DATADIR}/qemu/vhost-user)
endfunction()
