/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Text form of vfio-user messages, for VDEV_VFIO_USER_CAPTURE and the
 * replay tests: a header line, a decoded summary for the common commands
 * (a "#" line, ignored when parsed back), then the payload in hex, 16
 * bytes a line.
 *
 *   > id 3 cmd 9 REGION_READ flags 0x0 error 0 size 32 fds 0
 *     # region 7 offset 0x40 count 4
 *     40 00 00 00 00 00 00 00 07 00 00 00 04 00 00 00
 */
#include <inttypes.h>
#include <string.h>

#include "adapters/vfio-user/vfu_internal.h"

/* A field of @n bytes (2, 4 or 8): vfio-user sends it in host order. */
static uint64_t field(const uint8_t *p, uint32_t n)
{
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	switch (n) {
	case 2:
		memcpy(&v16, p, 2);
		return v16;
	case 4:
		memcpy(&v32, p, 4);
		return v32;
	default:
		memcpy(&v64, p, 8);
		return v64;
	}
}

/* Region data: the bytes of PCI registers, which are little-endian. */
static uint64_t le_bytes(const uint8_t *p, uint32_t n)
{
	uint64_t v = 0;

	for (uint32_t i = 0; i < n && i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void decode(FILE *f, char dir, const struct vfu_hdr *h,
		   const uint8_t *p, uint32_t len)
{
	if (h->flags & VFU_F_ERROR)
		return;
	switch (h->cmd) {
	case VFU_CMD_VERSION:
		if (len > 4 && p[len - 1] == 0 && !memchr(p + 4, '\n', len - 4))
			fprintf(f, "  # v%u.%u %s\n", (unsigned)field(p, 2),
				(unsigned)field(p + 2, 2),
				(const char *)p + 4);
		break;
	case VFU_CMD_DMA_MAP:
		if (dir == '>' && len == sizeof(struct vfu_dma_map))
			fprintf(f, "  # addr 0x%" PRIx64 " size 0x%" PRIx64
				   " offset 0x%" PRIx64 " flags 0x%x\n",
				field(p + 16, 8), field(p + 24, 8),
				field(p + 8, 8), (unsigned)field(p + 4, 4));
		break;
	case VFU_CMD_DMA_UNMAP:
		if (len == sizeof(struct vfu_dma_unmap))
			fprintf(f, "  # addr 0x%" PRIx64 " size 0x%" PRIx64
				   " flags 0x%x\n",
				field(p + 8, 8), field(p + 16, 8),
				(unsigned)field(p + 4, 4));
		break;
	case VFU_CMD_DEVICE_SET_IRQS:
		if (len >= VFU_IRQ_SET_SIZE)
			fprintf(f,
				"  # index %u start %u count %u flags 0x%x\n",
				(unsigned)field(p + 8, 4),
				(unsigned)field(p + 12, 4),
				(unsigned)field(p + 16, 4),
				(unsigned)field(p + 4, 4));
		break;
	case VFU_CMD_REGION_READ:
	case VFU_CMD_REGION_WRITE:
		if (len < 16)
			break;
		fprintf(f, "  # region %u offset 0x%" PRIx64 " count %u",
			(unsigned)field(p + 8, 4), field(p, 8),
			(unsigned)field(p + 12, 4));
		if (len > 16 && len <= 24)
			fprintf(f, " value 0x%" PRIx64,
				le_bytes(p + 16, len - 16));
		fputc('\n', f);
		break;
	default:
		break;
	}
}

void vfu_capture_write(FILE *f, char dir, const struct vfu_hdr *h,
		       const void *body, uint32_t len, unsigned nfds)
{
	const uint8_t *p = body;

	fprintf(f, "%c id %u cmd %u %s flags 0x%x error %u size %u fds %u\n",
		dir, h->id, h->cmd, vfu_cmd_name(h->cmd), h->flags, h->error,
		h->size, nfds);
	if (!p)
		return;
	decode(f, dir, h, p, len);
	for (uint32_t i = 0; i < len; i++)
		fprintf(f, "%s%02x%s", i % 16 ? " " : "  ", p[i],
			i % 16 == 15 || i + 1 == len ? "\n" : "");
}
