/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A program outside the tree that uses an installed libvdev: built by
 * scripts/test.sh through pkg-config and through find_package(libvdev),
 * against the shared and the static library.
 */
#include <stdio.h>
#include <string.h>
#include <virtio/caps.h>
#include <virtio/libvdev.h>
#include <virtio/rng.h>
#include <virtio/testing.h>

#if !defined(VDEV_VERSION) || VDEV_VERSION < VDEV_VERSION_NUMBER(0, 1, 0)
#error "the installed headers have no VDEV_VERSION (or an older one)"
#endif

int main(void)
{
	char hdr[32];
	struct vdev_rng_config rc = { 0 };
	struct vdev_drv_config dc = { .packed = true };
	struct vdev *dev = vdev_rng_new(&rc);
	struct vdev_drv *drv = dev ? vdev_drv_new(dev, &dc) : NULL;
	unsigned char buf[16];
	uint32_t w = 0;
	int ret = 1;

	/* The headers and the library they came with agree. */
	snprintf(hdr, sizeof(hdr), "%d.%d.%d", VDEV_VERSION_MAJOR,
		 VDEV_VERSION_MINOR, VDEV_VERSION_PATCH);
	if (strcmp(hdr, vdev_version())) {
		printf("headers say %s, the library %s\n", hdr, vdev_version());
		return 1;
	}
	if (drv && vdev_drv_init(drv) == 0 &&
	    vdev_drv_xfer(drv, 0, NULL, 0, buf, sizeof(buf), &w, 1000) == 0 &&
	    w == sizeof(buf)) {
		printf("libvdev %s: read %u random bytes\n", vdev_version(), w);
		ret = 0;
	}
	vdev_drv_free(drv);
	vdev_free(dev);
	return ret;
}
