/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a daemon says when an image file holds another format than raw:
 * the file, what it holds, and the two ways out in the daemon's own
 * options (issue 17: errors name the file, the option and the fix).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <virtio/daemon.h>
#include <virtio/image.h>

void vdev_daemon_explain_format(const char *prog, const char *option,
				const char *path)
{
	const char *fmt = NULL;
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;

	if (fd >= 0) {
		fmt = vdev_image_probe(fd);
		close(fd);
	}
	if (!fmt)
		fmt = "non-raw";
	fprintf(stderr,
		"%s: %s (%s) is a %s image, not a raw one. Serve it through "
		"NBD:\n"
		"    qemu-nbd --format=%s --socket=/run/disk.sock %s &\n"
		"    %s --nbd 'nbd+unix:///?socket=/run/disk.sock' ...\n"
		"  (or nbdkit), or pass --format raw if its bytes really are "
		"the disk.\n",
		prog, path ? path : "the image", option, fmt,
		strcmp(fmt, "non-raw") ? fmt : "FORMAT", path ? path : "IMAGE",
		prog);
}
