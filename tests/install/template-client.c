/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A client outside the tree for the template daemon: the installed
 * software driver connects to the daemon's socket over vhost-user, sets
 * the XOR key with a whole-config write (as QEMU writes config), and
 * checks one echo. Built by scripts/test.sh against the installed
 * libvdev; run by template-daemon.sh.
 * usage: template-client SOCKET
 */
#include <stdio.h>
#include <string.h>
#include <virtio/testing.h>

#include "template.h"

int main(int argc, char **argv)
{
	struct vdev_drv_config dc = { .queue_size = 256 };
	struct vdev_drv *drv;
	struct tpl_config cfg;
	char in[8] = { 0 };
	uint32_t w = 0;
	int ret = 1;

	if (argc != 2)
		return 2;
	drv = vdev_drv_connect_vhost_user(argv[1], &dc);
	if (!drv) {
		perror("template-client: connect");
		return 1;
	}
	if (vdev_drv_init(drv) == 0 &&
	    vdev_drv_config_read(drv, 0, &cfg, sizeof(cfg)) == 0) {
		cfg.key = vdev_cpu_to_le32(0x20);
		if (vdev_drv_config_write(drv, 0, &cfg, sizeof(cfg)) == 0 &&
		    vdev_drv_xfer(drv, 0, "Hello", 5, in, sizeof(in), &w,
				  5000) == 0 &&
		    w == 5 && memcmp(in, "hELLO", 5) == 0)
			ret = 0;
	}
	printf("template-client: %s (%u bytes back: %.5s)\n",
	       ret ? "FAILED" : "ok", w, in);
	vdev_drv_free(drv);
	return ret;
}
