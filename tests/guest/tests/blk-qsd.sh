#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Baseline vhost-user-blk guest test against QEMU's qemu-storage-daemon,
# through UML and through QEMU: proves the guest tier and gives the
# reference behaviour the libvdev blk daemon is compared with.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/blk.lib"
guest_setup

QSD=$(command -v qemu-storage-daemon || true)

qsd_start() { # IMG SOCK (vhost-user only)
	bg_start "$GUEST_WORK/qsd.log" "$QSD" \
		--blockdev "driver=file,node-name=disk,filename=$1" \
		--export "type=vhost-user-blk,id=e0,node-name=disk,addr.type=unix,addr.path=$2,writable=on"
	BLK_PID=$BG_PID
	wait_socket "$2" || echo "qemu-storage-daemon did not create $2"
}

# qemu-storage-daemon has no vfio-user export: the vhost-user frontends.
for fe in uml qemu qemu11; do
	if [ -z "$QSD" ]; then
		guest_skip "blk-qsd-$fe" "no qemu-storage-daemon (apt-get install qemu-system-common)"
	else
		blk_run "$fe" "blk-qsd-$fe" qsd_start "num-queues=1"
	fi
done
for fe in qemu qemu11; do
	if [ -n "$QSD" ]; then
		blk_reconnect "blk-qsd-$fe-reconnect" qsd_start "$fe"
	else
		guest_skip "blk-qsd-$fe-reconnect" "no qemu-storage-daemon"
	fi
done
guest_finish
