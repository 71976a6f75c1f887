#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# vdev-blk features seen by real Linux virtio-blk drivers, one boot per
# frontend (UML, QEMU 7.2, QEMU 11 over vhost-user and vfio-user) with two
# disks: "rw" (--num-queues 2) gets
# multiqueue, flush (write back cache), mke2fs+mount+copy (the host runs
# e2fsck -fn) and discard (the host checks the range is a hole); "ro" (-r)
# must be read-only in the guest and unchanged on the host.  UML runs it
# again with --backend sync (the default auto picks io_uring when allowed).
. "$(dirname "$0")/../lib.sh"
guest_setup

BLK=${VDEV_BLK:-$(daemon_bin vdev-blk)}
SIZE_MB=64
MQ=2
FS_BLOCKS=8192			# 32 MiB file system at offset 0
DISC_OFF=$((48 << 20)) DISC_LEN=$((8 << 20))

# features_run FE NAME [vdev-blk options for both disks]
features_run() {
	local fe=$1 name=$2 why devs=()
	shift 2
	why=$(fe_unavailable "$fe")
	[ -n "$why" ] && { guest_skip "$name" "$why"; return; }
	local w=$GUEST_WORK/$name
	local img=$w-rw.img roimg=$w-ro.img log=$w.log
	local pat=$GUEST_WORK/pattern.bin initrd=$w.cpio
	rm -f "$img" "$roimg"
	truncate -s ${SIZE_MB}M "$img" "$roimg"
	head -c $DISC_LEN /dev/urandom | dd of="$img" bs=1M \
		seek=$((DISC_OFF >> 20)) conv=notrunc status=none
	head -c $((SIZE_MB << 20)) /dev/urandom >"$roimg"
	local romd5
	romd5=$(md5sum <"$roimg")
	head -c $((512 << 10)) /dev/urandom >"$pat"
	guest_initramfs "$fe" "$initrd" -M "virtio_blk ext4 crc32c_generic" \
		-n "$name" -f "$pat:/data/pattern" -e VDEV_MQ=$MQ \
		-e VDEV_FS_BLOCKS=$FS_BLOCKS -e VDEV_DISC_OFF=$DISC_OFF \
		-e VDEV_DISC_LEN=$DISC_LEN "$GUEST_DIR/tests/blk-features.in-guest"

	local s1=$w-rw.sock s2=$w-ro.sock p1 p2
	rm -f "$s1" "$s2"
	local tr
	tr=$(fe_transport "$fe")
	bg_start "$w-rw.daemon.log" "$BLK" --transport "$tr" -s "$s1" \
		-b "$img" --num-queues $MQ --serial rw "$@"
	p1=$BG_PID
	bg_start "$w-ro.daemon.log" "$BLK" --transport "$tr" -s "$s2" \
		-b "$roimg" -r --serial ro "$@"
	p2=$BG_PID
	wait_socket "$s1" && wait_socket "$s2" ||
		echo "vdev-blk did not create its sockets" >>"$log"
	fe_device "$fe" devs "$s1" blk "num-queues=$MQ"
	fe_device "$fe" devs "$s2" blk num-queues=1
	# -smp 2 (overrides run_qemu's -smp 1): virtio_blk uses at most one
	# queue per CPU; QEMU defaults num-queues to the CPUs.  UML ignores it.
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
	if [ ! -x "$BLK" ]; then
		guest_skip "blk-features-$fe" "no vdev-blk binary at $BLK (pass the build dir)"
	else
		features_run "$fe" "blk-features-$fe"
	fi
done
# The synchronous back-end (pwrite/fsync/fallocate) too; UML costs ~1 s.
if [ -x "$BLK" ]; then
	features_run uml blk-features-uml-sync --backend sync
else
	guest_skip blk-features-uml-sync "no vdev-blk binary at $BLK"
fi
guest_finish
