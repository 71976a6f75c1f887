#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# vdev-scsi with real Linux virtio-scsi drivers on every frontend (UML,
# QEMU 7.2 and 11 over vhost-user, QEMU 11 over vfio-user): two LUNs; the
# guest checks host-written blocks,
# writes and reads back a pattern, makes a file system (and, where the
# kernel has ext2/ext4, mounts it and stores a file); the host then checks
# the pattern and runs e2fsck on the file system image.
. "$(dirname "$0")/../lib.sh"
guest_setup

SCSI=${VDEV_SCSI:-$(daemon_bin vdev-scsi)}
SCSI_SIZE_MB=64
SCSI_PATTERN_KB=1024
SCSI_PRE_OFF=4096
SCSI_PRE_CNT=256

# scsi_verify LUN0 LUN1 FE: why the images do not hold what the
# guest wrote (nothing when they do).
scsi_verify() {
	cmp -s -n $((SCSI_PATTERN_KB * 1024)) "$PATTERN" "$1" ||
		{ echo "LUN 0 does not hold the pattern the guest wrote"; return; }
	if command -v e2fsck >/dev/null; then
		e2fsck -fn "$2" >"$GUEST_WORK/e2fsck.log" 2>&1 ||
			{ echo "e2fsck found errors on LUN 1 ($(tail -n1 "$GUEST_WORK/e2fsck.log"))"; return; }
	fi
	# Both kernels have ext4 (UML built in, QEMU: stock-modules.list).
	if command -v debugfs >/dev/null; then
		debugfs -R "dump /pattern $GUEST_WORK/fs-pattern" "$2" >/dev/null 2>&1
		cmp -s "$PATTERN" "$GUEST_WORK/fs-pattern" ||
			echo "the file the guest stored on LUN 1 differs"
	fi
}

scsi_run() { # FE NAME
	local fe=$1 name=$2 why devs=()
	why=$(fe_unavailable "$fe")
	[ -n "$why" ] && { guest_skip "$name" "$why"; return; }
	local sock=$GUEST_WORK/$name.sock log=$GUEST_WORK/$name.log
	local img0=$GUEST_WORK/$name-0.img img1=$GUEST_WORK/$name-1.img pre md5
	rm -f "$img0" "$img1" "$sock"
	truncate -s "${SCSI_SIZE_MB}M" "$img0" "$img1"
	pre=$GUEST_WORK/scsi-pre.bin
	head -c $((SCSI_PRE_CNT * 4096)) /dev/urandom >"$pre"
	dd if="$pre" of="$img0" bs=4096 seek=$SCSI_PRE_OFF conv=notrunc status=none
	md5=$(md5sum <"$pre" | cut -d' ' -f1)
	PATTERN=$GUEST_WORK/scsi-pattern.bin
	head -c $((SCSI_PATTERN_KB * 1024)) /dev/urandom >"$PATTERN"
	local initrd=$GUEST_WORK/scsi-$fe.cpio
	guest_initramfs "$fe" "$initrd" \
		-M "virtio_scsi sd_mod ext4 crc32c_generic" -n "$name" \
		-f "$PATTERN:/data/pattern" \
		-e VDEV_SCSI_SECTORS=$((SCSI_SIZE_MB * 2048)) \
		-e VDEV_SCSI_PRE_OFF=$SCSI_PRE_OFF -e VDEV_SCSI_PRE_CNT=$SCSI_PRE_CNT \
		-e VDEV_SCSI_PRE_MD5="$md5" \
		"$GUEST_DIR/tests/scsi.in-guest"
	bg_start "$GUEST_WORK/$name-daemon.log" "$SCSI" \
		--transport "$(fe_transport "$fe")" -s "$sock" "$img0" "$img1"
	local pid=$BG_PID
	wait_socket "$sock" || echo "vdev-scsi did not create $sock"
	fe_device "$fe" devs "$sock" scsi num_queues=1
	fe_run "$fe" "$log" "$initrd" -- "${devs[@]}"
	bg_stop "$pid"
	guest_check "$name" "$log" "$(scsi_verify "$img0" "$img1" "$fe")"
	rm -f "$img0" "$img1"
}

for fe in $GUEST_FRONTENDS; do
	if [ ! -x "$SCSI" ]; then
		guest_skip "scsi-vdev-$fe" "no vdev-scsi binary at $SCSI (pass the build dir)"
	else
		scsi_run "$fe" "scsi-vdev-$fe"
	fi
done
guest_finish
