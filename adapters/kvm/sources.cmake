# SPDX-License-Identifier: BSD-3-Clause
# In-process virtio-mmio on KVM (include/virtio/kvm.h). Needs the Linux KVM
# UAPI header; the register file itself (src/transport/mmio.c) does not.
include(CheckIncludeFile)
check_include_file(linux/kvm.h VDEV_HAVE_LINUX_KVM_H)
if(VDEV_HAVE_LINUX_KVM_H)
  file(GLOB _srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
  list(APPEND VDEV_SOURCES ${_srcs})
  list(APPEND VDEV_CAPS transport:kvm-mmio)
endif()
