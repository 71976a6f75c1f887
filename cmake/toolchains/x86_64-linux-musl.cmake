# SPDX-License-Identifier: BSD-3-Clause
# x86-64 with musl instead of glibc: Debian's musl-gcc (musl-tools). Runs
# natively. Usage:
#   cmake -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/x86_64-linux-musl.cmake \
#         -DVDEV_TARGET_ROOT=$(scripts/target-root.sh x86_64-linux-musl) ...
#
# Debian ships no musl build of any library libvdev can use (liburing,
# libgpiod, alsa-lib, json-c, cmocka): pkg-config sees only
# VDEV_TARGET_ROOT, so every optional backend is switched off (AUTO) and
# the configure summary says so. scripts/target-root.sh builds cmocka with
# musl-gcc from Debian's source package and links the kernel's UAPI
# headers (<linux/...>, <asm/...>), which musl-gcc does not search, into
# the root.
set(CMAKE_C_COMPILER musl-gcc)
set(VDEV_TARGET_TRIPLE x86_64-linux-musl)
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES VDEV_TARGET_ROOT)

if(VDEV_TARGET_ROOT)
  set(ENV{PKG_CONFIG_SYSROOT_DIR} ${VDEV_TARGET_ROOT})
  set(ENV{PKG_CONFIG_LIBDIR}
      "${VDEV_TARGET_ROOT}/usr/lib/x86_64-linux-musl/pkgconfig:${VDEV_TARGET_ROOT}/usr/share/pkgconfig")
  set(CMAKE_C_STANDARD_INCLUDE_DIRECTORIES ${VDEV_TARGET_ROOT}/usr/include)
else()
  set(ENV{PKG_CONFIG_LIBDIR} /nonexistent)
endif()
unset(ENV{PKG_CONFIG_PATH})
