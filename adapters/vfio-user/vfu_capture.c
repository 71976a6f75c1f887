/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Text form of vfio-user messages, for VDEV_VFIO_USER_CAPTURE and the
 * replay tests: one header line, then the payload in hex, 16 bytes a line.
 *
 *   > id 3 cmd 9 REGION_READ flags 0x0 error 0 size 32 fds 0
 *     00 00 00 00 00 00 00 00 07 00 00 00 40 00 00 00
 */
#include "adapters/vfio-user/vfu_internal.h"

void vfu_capture_write(FILE *f, char dir, const struct vfu_hdr *h,
		       const void *body, uint32_t len, unsigned nfds)
{
	const uint8_t *p = body;

	fprintf(f, "%c id %u cmd %u %s flags 0x%x error %u size %u fds %u\n",
		dir, h->id, h->cmd, vfu_cmd_name(h->cmd), h->flags, h->error,
		h->size, nfds);
	for (uint32_t i = 0; p && i < len; i++)
		fprintf(f, "%s%02x%s", i % 16 ? " " : "  ", p[i],
			i % 16 == 15 || i + 1 == len ? "\n" : "");
}
