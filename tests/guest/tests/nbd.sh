#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Images in another format served through NBD (issue 16): qemu-nbd serves
# two qcow2 images, vdev-blk --nbd and vdev-scsi --nbd serve them to one
# guest (UML, and QEMU 7.2). The guest checks blocks the host wrote into
# the qcow2 images before boot, writes and reads back a pattern on both
# disks and makes a file system on the SCSI one, with the pattern as a
# file. After the guest, the daemons stop, qemu-nbd flushes and exits,
# and the host checks the qcow2 images (qemu-img check), then, converted
# to raw, the pattern on the blk one and the file system on the other
# (e2fsck, debugfs).
. "$(dirname "$0")/../lib.sh"
guest_setup

BLK=${VDEV_BLK:-$(daemon_bin vdev-blk)}
SCSI=${VDEV_SCSI:-$(daemon_bin vdev-scsi)}
QEMU_NBD=$(command -v qemu-nbd || true)
QEMU_IMG=$(command -v qemu-img || true)
NBD_MB=64
PRE_OFF=4096	# 4 KiB block index of the host-written region (16 MiB)
PRE_CNT=256
PATTERN_KB=1024

nbd_unavailable() {
	[ -x "$BLK" ] && [ -x "$SCSI" ] ||
		{ echo "no vdev-blk/vdev-scsi at $BLK, $SCSI (pass the build dir)"; return; }
	[ -n "$QEMU_NBD" ] && [ -n "$QEMU_IMG" ] ||
		{ echo "no qemu-nbd/qemu-img (Debian qemu-utils)"; return; }
	"$BLK" --print-capabilities >/dev/null 2>&1 || true
	grep -q -- '--nbd' <<<"$("$BLK" --help 2>&1)" ||
		{ echo "vdev-blk has no --nbd"; return; }
	grep -q 'no NBD support' <<<"$("$BLK" -s /nonexistent/x \
		--nbd nbd://127.0.0.1:1/x 2>&1)" &&
		{ echo "this libvdev was built without libnbd"; return; }
}

# qcow2 IMG: a qcow2 image holding the host-written blocks.
make_qcow2() {
	local raw=$GUEST_WORK/nbd-src.raw
	rm -f "$raw" "$1"
	truncate -s "${NBD_MB}M" "$raw"
	dd if="$PRE" of="$raw" bs=4096 seek=$PRE_OFF conv=notrunc status=none
	"$QEMU_IMG" convert -q -f raw -O qcow2 "$raw" "$1"
	rm -f "$raw"
}

# nbd_verify BLK-QCOW2 SCSI-QCOW2: why the images do not hold what the
# guest wrote (nothing when they do): the pattern on the blk disk, a
# clean file system holding it as a file on the scsi one.
nbd_verify() {
	local q raw=$GUEST_WORK/nbd-check.raw
	for q in "$1" "$2"; do
		"$QEMU_IMG" check -q "$q" >"$GUEST_WORK/qcheck.log" 2>&1 ||
			{ echo "qemu-img check $(basename "$q"): $(tail -n1 "$GUEST_WORK/qcheck.log")"; return; }
		rm -f "$raw"
		"$QEMU_IMG" convert -q -f qcow2 -O raw "$q" "$raw" ||
			{ echo "qemu-img convert $(basename "$q") failed"; return; }
		if [ "$q" = "$1" ]; then
			cmp -s -n $((PATTERN_KB * 1024)) "$PATTERN" "$raw" ||
				{ echo "the blk image does not hold the pattern the guest wrote"; return; }
			continue
		fi
		if command -v e2fsck >/dev/null; then
			e2fsck -fn "$raw" >"$GUEST_WORK/e2fsck.log" 2>&1 ||
				{ echo "e2fsck on the scsi image: $(tail -n1 "$GUEST_WORK/e2fsck.log")"; return; }
		fi
		if command -v debugfs >/dev/null && grep -q mount "$LOG"; then
			rm -f "$GUEST_WORK/fs-pattern"
			debugfs -R "dump /pattern $GUEST_WORK/fs-pattern" "$raw" >/dev/null 2>&1
			cmp -s "$PATTERN" "$GUEST_WORK/fs-pattern" ||
				{ echo "the file the guest stored on the scsi disk differs"; return; }
		fi
	done
	rm -f "$raw"
}

nbd_run() { # FE NAME
	local fe=$1 name=$2 why devs=() md5
	why=$(fe_unavailable "$fe")
	[ -n "$why" ] && { guest_skip "$name" "$why"; return; }
	local qb=$GUEST_WORK/$name-blk.qcow2 qs=$GUEST_WORK/$name-scsi.qcow2
	local nb=$GUEST_WORK/$name-blk.nbd ns=$GUEST_WORK/$name-scsi.nbd
	local sb=$GUEST_WORK/$name-blk.sock ss=$GUEST_WORK/$name-scsi.sock
	local log=$GUEST_WORK/$name.log
	LOG=$log
	PRE=$GUEST_WORK/nbd-pre.bin
	head -c $((PRE_CNT * 4096)) /dev/urandom >"$PRE"
	md5=$(md5sum <"$PRE" | cut -d' ' -f1)
	PATTERN=$GUEST_WORK/nbd-pattern.bin
	head -c $((PATTERN_KB * 1024)) /dev/urandom >"$PATTERN"
	make_qcow2 "$qb"
	make_qcow2 "$qs"
	local initrd=$GUEST_WORK/nbd-$fe.cpio
	guest_initramfs "$fe" "$initrd" \
		-M "virtio_blk virtio_scsi sd_mod ext4 crc32c_generic" -n "$name" \
		-f "$PATTERN:/data/pattern" \
		-e VDEV_NBD_SECTORS=$((NBD_MB * 2048)) \
		-e VDEV_NBD_PRE_OFF=$PRE_OFF -e VDEV_NBD_PRE_CNT=$PRE_CNT \
		-e VDEV_NBD_PRE_MD5="$md5" \
		"$GUEST_DIR/tests/nbd.in-guest"
	rm -f "$nb" "$ns" "$sb" "$ss"
	# Without --persistent qemu-nbd exits once its one client is gone,
	# after flushing the image.
	bg_start "$GUEST_WORK/$name-qnbd-blk.log" "$QEMU_NBD" --format=qcow2 \
		--socket="$nb" "$qb"
	local qnb=$BG_PID
	bg_start "$GUEST_WORK/$name-qnbd-scsi.log" "$QEMU_NBD" --format=qcow2 \
		--socket="$ns" "$qs"
	local qns=$BG_PID
	wait_socket "$nb" && wait_socket "$ns" || echo "qemu-nbd did not listen"
	bg_start "$GUEST_WORK/$name-blk.log" "$BLK" -s "$sb" \
		--nbd "nbd+unix:///?socket=$nb"
	local pb=$BG_PID
	bg_start "$GUEST_WORK/$name-scsi.log" "$SCSI" -s "$ss" \
		--nbd "nbd+unix:///?socket=$ns"
	local ps=$BG_PID
	wait_socket "$sb" && wait_socket "$ss" || echo "the daemons did not listen"
	fe_device "$fe" devs "$sb" blk
	fe_device "$fe" devs "$ss" scsi num_queues=1
	fe_run "$fe" "$log" "$initrd" -- "${devs[@]}"
	bg_stop "$pb"
	bg_stop "$ps"
	local i
	for ((i = 0; i < 100; i++)); do
		kill -0 "$qnb" 2>/dev/null || kill -0 "$qns" 2>/dev/null || break
		sleep 0.05
	done
	bg_stop "$qnb"
	bg_stop "$qns"
	guest_check "$name" "$log" "$(nbd_verify "$qb" "$qs")"
	rm -f "$qb" "$qs"
}

why=$(nbd_unavailable)
for fe in uml qemu; do
	if [ -n "$why" ]; then
		guest_skip "nbd-$fe" "$why"
	else
		nbd_run "$fe" "nbd-$fe"
	fi
done
guest_finish
