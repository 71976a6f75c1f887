#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# vdev-scsi features seen by a real Linux virtio-scsi driver on every
# frontend (UML, QEMU 7.2 and 11's vhost-user-scsi-pci, QEMU 11's
# vfio-user-pci): multiqueue, flush (write-back caching
# page, SYNCHRONIZE CACHE), mkfs+mount+copy (e2fsck on the host), discard
# (a hole in the host image afterwards) and a read-only LUN (refused
# writes, the host image unchanged). The same checks as blk-features.sh.
. "$(dirname "$0")/../lib.sh"
guest_setup

SCSI=${VDEV_SCSI:-$(daemon_bin vdev-scsi)}
SIZE_MB=64
MQ=2
FS_BLOCKS=8192			# 32 MiB file system at offset 0
DISC_OFF=$((48 << 20)) DISC_LEN=$((8 << 20))

features_run() { # FE NAME
	local fe=$1 name=$2 why devs=()
	why=$(fe_unavailable "$fe")
	[ -n "$why" ] && { guest_skip "$name" "$why"; return; }
	local w=$GUEST_WORK/$name
	local img=$w-rw.img roimg=$w-ro.img log=$w.log
	local pat=$GUEST_WORK/pattern.bin initrd=$w.cpio romd5
	rm -f "$img" "$roimg"
	truncate -s ${SIZE_MB}M "$img" "$roimg"
	head -c $DISC_LEN /dev/urandom | dd of="$img" bs=1M \
		seek=$((DISC_OFF >> 20)) conv=notrunc status=none
	head -c $((SIZE_MB << 20)) /dev/urandom >"$roimg"
	romd5=$(md5sum <"$roimg")
	head -c $((512 << 10)) /dev/urandom >"$pat"
	guest_initramfs "$fe" "$initrd" \
		-M "virtio_scsi sd_mod ext4 crc32c_generic" \
		-n "$name" -f "$pat:/data/pattern" -e VDEV_MQ=$MQ \
		-e VDEV_FS_BLOCKS=$FS_BLOCKS -e VDEV_DISC_OFF=$DISC_OFF \
		-e VDEV_DISC_LEN=$DISC_LEN "$GUEST_DIR/tests/scsi-features.in-guest"

	local s1=$w-rw.sock s2=$w-ro.sock p1 p2
	rm -f "$s1" "$s2"
	local tr
	tr=$(fe_transport "$fe")
	bg_start "$w-rw.daemon.log" "$SCSI" --transport "$tr" -s "$s1" \
		--num-queues $MQ --serial vdevrw "$img"
	p1=$BG_PID
	bg_start "$w-ro.daemon.log" "$SCSI" --transport "$tr" -s "$s2" -r \
		--serial vdevro "$roimg"
	p2=$BG_PID
	wait_socket "$s1" && wait_socket "$s2" ||
		echo "vdev-scsi did not create its sockets" >>"$log"
	fe_device "$fe" devs "$s1" scsi "num_queues=$MQ"
	fe_device "$fe" devs "$s2" scsi num_queues=1
	fe_run "$fe" "$log" "$initrd" -- -smp 2 "${devs[@]}"
	bg_stop "$p1"
	bg_stop "$p2"

	local hostfail= fsck
	if [ "$(md5sum <"$roimg")" != "$romd5" ]; then
		hostfail="read-only image changed"
	elif ! fsck=$(e2fsck -fn "$img" 2>&1); then
		hostfail="e2fsck -fn: $(echo "$fsck" | tail -n1)"
	else
		hostfail=$(image_hole "$img" $DISC_OFF $DISC_LEN)
		[ -n "$hostfail" ] && hostfail="discard: $hostfail"
	fi
	guest_check "$name" "$log" "$hostfail"
	rm -f "$img" "$roimg"
}

for fe in $GUEST_FRONTENDS; do
	if [ ! -x "$SCSI" ]; then
		guest_skip "scsi-features-$fe" "no vdev-scsi binary at $SCSI (pass the build dir)"
	else
		features_run "$fe" "scsi-features-$fe"
	fi
done
guest_finish
