/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vfio-user wire format (QEMU docs/interop/vfio-user.rst), shared by the
 * server and the test client. All fields are in host byte order: the
 * protocol is defined for a client and server on the same host.
 */
#ifndef VDEV_VFU_PROTO_H
#define VDEV_VFU_PROTO_H

#include <stdint.h>

#define VFU_VERSION_MAJOR 0
#define VFU_VERSION_MINOR 1

enum vfu_cmd {
	VFU_CMD_VERSION = 1,
	VFU_CMD_DMA_MAP = 2,
	VFU_CMD_DMA_UNMAP = 3,
	VFU_CMD_DEVICE_GET_INFO = 4,
	VFU_CMD_DEVICE_GET_REGION_INFO = 5,
	VFU_CMD_DEVICE_GET_REGION_IO_FDS = 6,
	VFU_CMD_DEVICE_GET_IRQ_INFO = 7,
	VFU_CMD_DEVICE_SET_IRQS = 8,
	VFU_CMD_REGION_READ = 9,
	VFU_CMD_REGION_WRITE = 10,
	VFU_CMD_DMA_READ = 11,
	VFU_CMD_DMA_WRITE = 12,
	VFU_CMD_DEVICE_RESET = 13,
	VFU_CMD_REGION_WRITE_MULTI = 15,
	VFU_CMD_DEVICE_FEATURE = 16,
	VFU_CMD_MIG_DATA_READ = 17,
	VFU_CMD_MIG_DATA_WRITE = 18,
	VFU_CMD_MAX = 19,
};

struct vfu_hdr {
	uint16_t id;
	uint16_t cmd;
	uint32_t size;  /* whole message, header included */
	uint32_t flags;
	uint32_t error; /* errno in an error reply */
};

#define VFU_HDR_SIZE        16u
#define VFU_F_TYPE_MASK     0xfu
#define VFU_F_TYPE_COMMAND  0x0u
#define VFU_F_TYPE_REPLY    0x1u
#define VFU_F_NO_REPLY      0x10u
#define VFU_F_ERROR         0x20u

struct vfu_version {
	uint16_t major;
	uint16_t minor;
	/* then optional NUL-terminated JSON */
};

#define VFU_DMA_F_READ  1u
#define VFU_DMA_F_WRITE 2u

struct vfu_dma_map {
	uint32_t argsz;
	uint32_t flags;
	uint64_t offset;
	uint64_t addr;
	uint64_t size;
};

#define VFU_DMA_UNMAP_F_DIRTY_BITMAP 1u
#define VFU_DMA_UNMAP_F_ALL          2u

struct vfu_dma_unmap {
	uint32_t argsz;
	uint32_t flags;
	uint64_t addr;
	uint64_t size;
};

#define VFU_DEV_F_RESET 1u
#define VFU_DEV_F_PCI   2u

struct vfu_device_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t num_regions;
	uint32_t num_irqs;
};

/* PCI region indexes (as VFIO_PCI_*_REGION_INDEX). */
#define VFU_PCI_BAR0_REGION   0u
#define VFU_PCI_ROM_REGION    6u
#define VFU_PCI_CONFIG_REGION 7u
#define VFU_PCI_VGA_REGION    8u
#define VFU_PCI_NUM_REGIONS   9u

#define VFU_REGION_F_READ  1u
#define VFU_REGION_F_WRITE 2u
#define VFU_REGION_F_MMAP  4u
#define VFU_REGION_F_CAPS  8u

struct vfu_region_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t cap_offset;
	uint64_t size;
	uint64_t offset;
};

/* PCI interrupt indexes (as VFIO_PCI_*_IRQ_INDEX). */
#define VFU_IRQ_INTX     0u
#define VFU_IRQ_MSI      1u
#define VFU_IRQ_MSIX     2u
#define VFU_IRQ_ERR      3u
#define VFU_IRQ_REQ      4u
#define VFU_IRQ_NUM      5u

#define VFU_IRQ_INFO_EVENTFD    1u
#define VFU_IRQ_INFO_MASKABLE   2u
#define VFU_IRQ_INFO_AUTOMASKED 4u
#define VFU_IRQ_INFO_NORESIZE   8u

struct vfu_irq_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t count;
};

#define VFU_IRQ_SET_DATA_NONE      (1u << 0)
#define VFU_IRQ_SET_DATA_BOOL      (1u << 1)
#define VFU_IRQ_SET_DATA_EVENTFD   (1u << 2)
#define VFU_IRQ_SET_ACTION_MASK    (1u << 3)
#define VFU_IRQ_SET_ACTION_UNMASK  (1u << 4)
#define VFU_IRQ_SET_ACTION_TRIGGER (1u << 5)
#define VFU_IRQ_SET_DATA_MASK      0x07u
#define VFU_IRQ_SET_ACTION_MASK_ALL 0x38u

struct vfu_irq_set {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t start;
	uint32_t count;
	/* then count bytes with DATA_BOOL */
} __attribute__((packed));

#define VFU_IRQ_SET_SIZE 20u

struct vfu_region_access {
	uint64_t offset;
	uint32_t region;
	uint32_t count;
	/* then count bytes of data (write request, read reply) */
};

/* Name of a command, for logs and captures ("?" when unknown). */
const char *vfu_cmd_name(unsigned cmd);

#endif /* VDEV_VFU_PROTO_H */
