/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Image format detection: the signatures other disk formats put at the
 * start of a file (as their own specifications and qemu-img define them).
 * Only detection: nothing here interprets a format, so a file can at most
 * be refused, never misread.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <virtio/image.h>

#include "core/bytes.h"

/* Enough for every signature below, and a valid O_DIRECT transfer. */
#define PROBE_LEN 4096u

struct sig {
	const char *name;
	unsigned off;
	unsigned len;
	const char *bytes;
};

static const struct sig sigs[] = {
	{ "qed", 0, 4, "QED\0" },
	{ "vmdk", 0, 4, "KDMV" },                 /* hosted sparse extent */
	{ "vmdk", 0, 4, "COWD" },                 /* ESX sparse extent */
	{ "vmdk", 0, 21, "# Disk DescriptorFile" },
	{ "vdi", 0x40, 4, "\x7f\x10\xda\xbe" },   /* le32 0xbeda107f */
	{ "vhdx", 0, 8, "vhdxfile" },
	{ "vpc", 0, 8, "conectix" },              /* dynamic VHD */
	{ "luks", 0, 6, "LUKS\xba\xbe" },
	{ "parallels", 0, 16, "WithoutFreeSpace" },
	{ "parallels", 0, 16, "WithouFreSpacExt" },
	{ "bochs", 0, 22, "Bochs Virtual HD Image" },
	{ "cloop", 0, 22, "#!/bin/sh\n#V2.0 Format" },
};

/* The format @buf (@len bytes from offset 0) starts with, or "raw". */
static const char *probe_buf(const uint8_t *buf, size_t len)
{
	if (len >= 8 && !memcmp(buf, "QFI\xfb", 4)) {
		return get_be32(buf + 4) == 1 ? "qcow" : "qcow2";
	}
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigs[i].off + sigs[i].len <= len &&
		    !memcmp(buf + sigs[i].off, sigs[i].bytes, sigs[i].len))
			return sigs[i].name;
	return "raw";
}

const char *vdev_image_probe(int fd)
{
	const char *fmt;
	uint8_t *buf;
	ssize_t n;
	size_t got = 0;

	/* Aligned, so that an O_DIRECT descriptor reads it as well. */
	if (posix_memalign((void **)&buf, PROBE_LEN, PROBE_LEN)) {
		errno = ENOMEM;
		return NULL;
	}
	while (got < PROBE_LEN) {
		n = pread(fd, buf + got, PROBE_LEN - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			free(buf);
			errno = e;
			return NULL;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		/* O_DIRECT moves whole blocks; a short one is the end. */
		if (got % 512)
			break;
	}
	fmt = probe_buf(buf, got);
	free(buf);
	return fmt;
}
