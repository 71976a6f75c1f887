/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Little-endian wire types.
 *
 * Everything virtio puts in guest memory or in config space is little-endian
 * (virtio 1.x). Wire structures use these typedefs so a reader sees which
 * fields need conversion, and every access goes through the helpers below so
 * the library stays correct on big-endian hosts.
 */
#ifndef VIRTIO_LE_H
#define VIRTIO_LE_H

#include <stdint.h>

typedef uint16_t vdev_le16;
typedef uint32_t vdev_le32;
typedef uint64_t vdev_le64;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define VDEV_HOST_BIG_ENDIAN 1
#else
#define VDEV_HOST_BIG_ENDIAN 0
#endif

static inline uint16_t vdev_le16_to_cpu(vdev_le16 v)
{
	return VDEV_HOST_BIG_ENDIAN ? __builtin_bswap16(v) : v;
}

static inline uint32_t vdev_le32_to_cpu(vdev_le32 v)
{
	return VDEV_HOST_BIG_ENDIAN ? __builtin_bswap32(v) : v;
}

static inline uint64_t vdev_le64_to_cpu(vdev_le64 v)
{
	return VDEV_HOST_BIG_ENDIAN ? __builtin_bswap64(v) : v;
}

static inline vdev_le16 vdev_cpu_to_le16(uint16_t v)
{
	return VDEV_HOST_BIG_ENDIAN ? __builtin_bswap16(v) : v;
}

static inline vdev_le32 vdev_cpu_to_le32(uint32_t v)
{
	return VDEV_HOST_BIG_ENDIAN ? __builtin_bswap32(v) : v;
}

static inline vdev_le64 vdev_cpu_to_le64(uint64_t v)
{
	return VDEV_HOST_BIG_ENDIAN ? __builtin_bswap64(v) : v;
}

#endif /* VIRTIO_LE_H */
