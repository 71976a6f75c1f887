/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for vdev_restore: a device state blob comes from a
 * frontend (vhost-user DEVICE_STATE, vfio-user migration) and is hostile.
 *
 * Input: one flag byte, then the blob.
 *   flag bit 0: recompute the header's CRC and length first, so the
 *               fuzzer gets past the checksum into the section parser;
 *   flag bit 1: restore into a live device (driver set up, queues
 *               running) instead of a fresh one.
 * A restore either succeeds (then the device must still work: save after
 * stopping the queues, reset) or fails and leaves the device reset.
 * VDEV_FUZZ_FLIP=1: the blob sits in a buffer a thread keeps changing
 * (the double-fetch mode, tests/lib/flipper.h); restore must read it once.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <virtio/testing.h>
#include <virtio/transport.h>

#include "core/bytes.h"
#include "core/crc32.h"
#include "flipper.h"
#include "vcore_tdev.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tdev t;
static struct vdev_drv *drv;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *blob;
	size_t len;
	void *out;
	size_t outlen;
	int r;

	if (size < 1)
		return 0;
	if (!drv) {
		struct vdev_drv_config dc = { .mem_size = 1 << 20 };

		if (!tdev_new(&t, 2, 256, 1))
			abort();
		drv = vdev_drv_new(t.dev, &dc);
		if (!drv)
			abort();
	}
	len = size - 1;
	if (flipper_fuzz_mode()) {
		/* Shared with the flipper for the whole run. */
		static uint8_t shared[1 << 16];

		flipper_fuzz_start((void *[]){ shared },
				   (size_t[]){ sizeof(shared) }, 1);
		if (len > sizeof(shared))
			len = sizeof(shared);
		blob = shared;
	} else {
		blob = malloc(len ? len : 1);
	}
	memcpy(blob, data + 1, len);
	if ((data[0] & 1) && len >= 32) {
		put_le32(blob + 20, vcore_crc32(blob + 32, len - 32));
		put_le64(blob + 24, len);
	}
	if (data[0] & 2) {
		if (vdev_drv_init(drv) < 0)
			abort();
	} else {
		vdev_reset(t.dev);
	}
	r = vdev_restore(t.dev, blob, len);
	if (r < 0) {
		if (vdev_get_status(t.dev) != 0)
			abort(); /* a refused blob leaves the device reset */
	} else {
		for (unsigned q = 0; q < 2; q++)
			vdev_vq_stop(t.dev, q, NULL);
		if (vdev_save(t.dev, &out, &outlen) < 0)
			abort();
		free(out);
	}
	vdev_reset(t.dev);
	if (!flipper_fuzz_mode())
		free(blob);
	return 0;
}
