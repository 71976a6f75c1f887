# SPDX-License-Identifier: BSD-3-Clause
#
# Shared part of the Debian cross toolchain files (aarch64-linux-gnu.cmake,
# s390x-linux-gnu.cmake): the including file sets VDEV_TARGET_TRIPLE and
# VDEV_TARGET_PROCESSOR first.
#
# Compilers: Debian's gcc-<triple> (its C library lives in /usr/<triple>).
# Target libraries: VDEV_TARGET_ROOT, a directory with the target's Debian
# packages unpacked (scripts/target-root.sh makes one with cmocka). Only
# that directory is searched by pkg-config, so an optional backend whose
# library is not there for the target is switched off (AUTO) and the
# configure output says so, instead of the host's x86-64 library being
# picked up.
# Running: binfmt_misc is often unavailable (containers, CI), so target
# programs run through qemu-user explicitly: CMAKE_CROSSCOMPILING_EMULATOR
# is used by ctest and handed to the tests that start daemons
# (VDEV_TEST_EMULATOR).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR ${VDEV_TARGET_PROCESSOR})
set(CMAKE_C_COMPILER ${VDEV_TARGET_TRIPLE}-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE ${VDEV_TARGET_TRIPLE})

# try_compile() projects re-read this file: hand them the root.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES VDEV_TARGET_ROOT)

set(_vdev_libc_root /usr/${VDEV_TARGET_TRIPLE})
set(CMAKE_FIND_ROOT_PATH ${_vdev_libc_root})
if(VDEV_TARGET_ROOT)
  list(APPEND CMAKE_FIND_ROOT_PATH ${VDEV_TARGET_ROOT})
endif()
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config sees the target root only; SYSROOT_DIR prefixes the -I/-L
# paths of Debian's .pc files (which say /usr/...).
if(VDEV_TARGET_ROOT)
  set(ENV{PKG_CONFIG_SYSROOT_DIR} ${VDEV_TARGET_ROOT})
  set(ENV{PKG_CONFIG_LIBDIR}
      "${VDEV_TARGET_ROOT}/usr/lib/${VDEV_TARGET_TRIPLE}/pkgconfig:${VDEV_TARGET_ROOT}/usr/lib/pkgconfig:${VDEV_TARGET_ROOT}/usr/share/pkgconfig")
else()
  set(ENV{PKG_CONFIG_LIBDIR} /nonexistent)
endif()
unset(ENV{PKG_CONFIG_PATH})

find_program(VDEV_QEMU_USER qemu-${VDEV_TARGET_QEMU}-static qemu-${VDEV_TARGET_QEMU})
if(VDEV_QEMU_USER)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${VDEV_QEMU_USER} -L ${_vdev_libc_root})
endif()
