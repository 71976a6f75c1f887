#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Baseline vhost-user-blk guest test against QEMU's qemu-storage-daemon,
# through UML and through QEMU: proves the guest tier and gives the
# reference behaviour the libvdev blk daemon is compared with.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/blk.lib"
guest_setup

QSD=$(command -v qemu-storage-daemon || true)

qsd_start() { # IMG SOCK
	bg_start "$GUEST_WORK/qsd.log" "$QSD" \
		--blockdev "driver=file,node-name=disk,filename=$1" \
		--export "type=vhost-user-blk,id=e0,node-name=disk,addr.type=unix,addr.path=$2,writable=on"
	QSD_PID=$BG_PID
	wait_socket "$2" || echo "qsd did not create $2"
}

blk_case() { # uml|qemu
	local fe=$1 name=blk-qsd-$1 why
	if [ -z "$QSD" ]; then
		guest_skip "$name" "no qemu-storage-daemon (apt-get install qemu-system-common)"
		return
	fi
	why=$(${fe}_unavailable)
	[ -n "$why" ] && { guest_skip "$name" "$why"; return; }
	local sock=$GUEST_WORK/blk-$fe.sock img=$GUEST_WORK/blk-$fe.img
	blk_prepare "$img" "$fe"
	qsd_start "$img" "$sock"
	if [ "$fe" = uml ]; then
		run_uml "$GUEST_WORK/$name.log" "$BLK_INITRD" -- "$sock:2"
	else
		run_qemu "$GUEST_WORK/$name.log" "$BLK_INITRD" -- \
			-chardev "socket,id=c0,path=$sock" \
			-device vhost-user-blk-pci,chardev=c0,num-queues=1
	fi
	bg_stop "$QSD_PID"
	guest_check "$name" "$GUEST_WORK/$name.log" "$(blk_verify "$img")"
}

blk_case uml
blk_case qemu
guest_finish
