#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# vdev-blk with real Linux virtio-blk drivers on every frontend (UML, QEMU
# 7.2, QEMU 11 over vhost-user and over vfio-user): the same checks as the
# qemu-storage-daemon baseline (blk-qsd.sh), and QEMU reconnecting.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/blk.lib"
guest_setup

BLK=${VDEV_BLK:-$(daemon_bin vdev-blk)}

vdev_blk_start() { # IMG SOCK [TRANSPORT]
	bg_start "$GUEST_WORK/vdev-blk.log" "$BLK" \
		--transport "${3:-vhost-user}" -s "$2" -b "$1"
	BLK_PID=$BG_PID
	wait_socket "$2" || echo "vdev-blk did not create $2"
}

for fe in $GUEST_FRONTENDS; do
	if [ ! -x "$BLK" ]; then
		guest_skip "blk-vdev-$fe" "no vdev-blk binary at $BLK (pass the build dir)"
	else
		blk_run "$fe" "blk-vdev-$fe" vdev_blk_start
	fi
done
for fe in qemu qemu11; do
	if [ -x "$BLK" ]; then
		blk_reconnect "blk-vdev-$fe-reconnect" vdev_blk_start "$fe"
	else
		guest_skip "blk-vdev-$fe-reconnect" "no vdev-blk binary at $BLK"
	fi
done
guest_finish
