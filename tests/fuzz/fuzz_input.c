/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for virtio-input's parsers: the scripted source's
 * evemu text (the whole input as a description), a control-socket event
 * line (its first line), and config space writes of select/subsel (the
 * input as a list of {offset, len, bytes}) against a device whose answer
 * is then read back whole.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <virtio/input.h>
#include <virtio/transport.h>

#include "devices/input/input_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vdev *dev;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input_script s;
	struct input_timed_event e;
	char line[INPUT_LINE_MAX + 1];
	char err[128];
	uint8_t cfg[sizeof(struct vdev_input_config_space)];
	size_t n = 0;

	if (input_script_parse(&s, (const char *)data, size, err,
			       sizeof(err)) == 0) {
		if (!dev) {
			struct vdev_input_config ic = { .caps = &s.caps };

			dev = vdev_input_new(&ic);
			if (!dev)
				abort();
		}
		input_script_free(&s);
	}
	while (n < size && n < INPUT_LINE_MAX && data[n] != '\n' && data[n])
		n++;
	memcpy(line, data, n);
	line[n] = 0;
	input_parse_event(line, &e);
	if (!dev)
		return 0;
	for (size_t i = 0; i + 2 <= size;) {
		uint32_t off = data[i] % sizeof(cfg), len = data[i + 1] % 9;

		i += 2;
		if (len > size - i)
			len = (uint32_t)(size - i);
		if (off + len > sizeof(cfg))
			len = (uint32_t)(sizeof(cfg) - off);
		vdev_config_write(dev, off, data + i, len);
		i += len;
		vdev_config_read(dev, 0, cfg, sizeof(cfg));
		/* size never claims more than the union holds */
		if (cfg[2] > 128)
			abort();
	}
	return 0;
}
