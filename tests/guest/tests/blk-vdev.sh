#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# daemons/blk with real Linux virtio-blk drivers (UML and QEMU): the
# same checks as the qemu-storage-daemon baseline (blk-qsd.sh).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/blk.lib"
guest_setup

BLK=${VDEV_BLK:-$(daemon_bin vdev-blk)}

vdev_blk_start() { # IMG SOCK
	bg_start "$GUEST_WORK/vdev-blk.log" "$BLK" -s "$2" -b "$1"
	BLK_PID=$BG_PID
	wait_socket "$2" || echo "vdev-blk did not create $2"
}

for fe in uml qemu; do
	if [ ! -x "$BLK" ]; then
		guest_skip "blk-vdev-$fe" "no vdev-blk binary at $BLK (pass the build dir)"
	else
		blk_run "$fe" "blk-vdev-$fe" vdev_blk_start
	fi
done
if [ -x "$BLK" ]; then
	blk_reconnect blk-vdev-qemu-reconnect vdev_blk_start
else
	guest_skip blk-vdev-qemu-reconnect "no vdev-blk binary at $BLK"
fi
guest_finish
