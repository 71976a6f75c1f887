# SPDX-License-Identifier: BSD-3-Clause
# In-process virtio-mmio on KVM (include/virtio/kvm.h). Needs the Linux KVM
# UAPI header; the register file itself (src/transport/mmio.c) does not.
# Built where a KVM guest reaches virtio-mmio through KVM_EXIT_MMIO,
# ioeventfds and irqfds: x86-64 and aarch64 (the calls are the same on
# both). Not on s390x, whose KVM guests use virtio-ccw, nor elsewhere
# until someone runs it there.
include(CheckIncludeFile)
check_include_file(linux/kvm.h VDEV_HAVE_LINUX_KVM_H)
if(VDEV_HAVE_LINUX_KVM_H AND
   CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64|aarch64|arm64)$")
  set(VDEV_WITH_KVM ON)
  file(GLOB _srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
  list(APPEND VDEV_SOURCES ${_srcs})
  list(APPEND VDEV_CAPS transport:kvm-mmio)
else()
  set(VDEV_WITH_KVM OFF)
endif()
