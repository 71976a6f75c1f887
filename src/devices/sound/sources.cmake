# SPDX-License-Identifier: BSD-3-Clause
# virtio-sound: the model, the null and file backends (always built) and
# the ALSA backend (PCM and mixer) when alsa-lib is found (vdev_backend(),
# cmake/VdevBackends.cmake).
file(GLOB _srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
vdev_backend(_srcs NAME ALSA MODULE alsa LIB asound CAP alsa
             SOURCES be_alsa.c be_alsa_mix.c DOC "ALSA sound backend")
list(APPEND VDEV_SOURCES ${_srcs})
list(APPEND VDEV_CAPS device:sound)
