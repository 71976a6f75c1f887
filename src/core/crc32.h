/* SPDX-License-Identifier: BSD-3-Clause */
/* CRC-32 (IEEE 802.3, reflected) of state blobs (internal API). */
#ifndef VDEV_CORE_CRC32_H
#define VDEV_CORE_CRC32_H

#include <stddef.h>
#include <stdint.h>

uint32_t vcore_crc32(const void *p, size_t len);

#endif /* VDEV_CORE_CRC32_H */
