/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for virtio-console's parsers: the control messages a
 * driver sends (the input as a stream of messages of 1..16 bytes on the
 * control tx queue, through the software driver), then the port
 * description parser (the daemon's --port, the control socket's "add")
 * on the input as text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <virtio/console.h>
#include <virtio/testing.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vdev *dev;
static struct vdev_drv *drv;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vdev_console_port p;
	char spec[256];
	size_t n;

	if (!dev) {
		struct vdev_console_port ports[2] = {
			{ .console = true, .backend = VDEV_CONSOLE_NONE },
			{ .name = "fuzz", .backend = VDEV_CONSOLE_NONE },
		};
		struct vdev_console_config cfg = { .ports = ports,
						   .nports = 2,
						   .max_ports = 4 };
		struct vdev_drv_config dc = { .queue_size = 64 };

		dev = vdev_console_new(&cfg);
		drv = dev ? vdev_drv_new(dev, &dc) : NULL;
		if (!drv)
			abort();
	}
	if (vdev_drv_init(drv))
		abort();
	for (size_t i = 0; i < size;) {
		size_t len = data[i] % 16 + 1;
		uint8_t reply[256];
		uint32_t w;

		i++;
		if (len > size - i)
			len = size - i;
		vdev_drv_xfer(drv, 3, data + i, len, NULL, 0, &w, 1000);
		/* take what the device answers, if anything */
		vdev_drv_xfer(drv, 2, NULL, 0, reply, sizeof(reply), &w, 0);
		i += len;
	}
	n = size < sizeof(spec) - 1 ? size : sizeof(spec) - 1;
	memcpy(spec, data, n);
	spec[n] = 0;
	vdev_console_parse_port(spec, &p);
	return 0;
}
