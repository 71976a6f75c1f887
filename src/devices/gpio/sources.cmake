# SPDX-License-Identifier: BSD-3-Clause
# virtio-gpio: the model, the simulated chip (always) and the libgpiod
# backend (gpio_gpiod.c; without libgpiod it refuses host chips with
# ENOTSUP). libgpiod 1.6 and 2.x have different APIs: the version found
# picks the variant.
file(GLOB _srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
vdev_backend(_srcs NAME GPIOD MODULE libgpiod LIB gpiod CAP libgpiod
             DOC "libgpiod GPIO backend")
if(VDEV_WITH_GPIOD_FOUND AND PC_VDEV_WITH_GPIOD_VERSION VERSION_GREATER_EQUAL 2)
  set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/gpio_gpiod.c
    PROPERTIES COMPILE_DEFINITIONS VGPIO_GPIOD_V2=1)
endif()
list(APPEND VDEV_SOURCES ${_srcs})
list(APPEND VDEV_CAPS device:gpio)
