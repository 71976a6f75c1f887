# SPDX-License-Identifier: BSD-3-Clause
# Shared by the vhost-user-blk guest tests (any back-end): disk image and
# initramfs preparation, host-side verification.  Sourced after lib.sh.

BLK_SIZE_MB=${BLK_SIZE_MB:-64}
BLK_PATTERN_KB=1024
BLK_PRE_OFF=4096	# 4 KiB block index of the host-written region (16 MiB)
BLK_PRE_CNT=256

# blk_prepare IMG uml|qemu: a sparse image with random data at BLK_PRE_OFF,
# a random pattern for the guest to write at 0, and the initramfs
# (BLK_INITRD) that checks both.
blk_prepare() {
	local img=$1 fe=$2 pre md5
	rm -f "$img"
	truncate -s "${BLK_SIZE_MB}M" "$img"
	pre=$GUEST_WORK/blk-pre.bin
	head -c $((BLK_PRE_CNT * 4096)) /dev/urandom >"$pre"
	dd if="$pre" of="$img" bs=4096 seek=$BLK_PRE_OFF conv=notrunc status=none
	md5=$(md5sum <"$pre" | cut -d' ' -f1)
	BLK_PATTERN=$GUEST_WORK/blk-pattern.bin
	head -c $((BLK_PATTERN_KB * 1024)) /dev/urandom >"$BLK_PATTERN"
	BLK_INITRD=$GUEST_WORK/blk-$fe.cpio
	guest_initramfs "$fe" "$BLK_INITRD" -n "blk-$fe" \
		-f "$BLK_PATTERN:/data/pattern" \
		-e VDEV_BLK_SECTORS=$((BLK_SIZE_MB * 2048)) \
		-e VDEV_BLK_PRE_OFF=$BLK_PRE_OFF -e VDEV_BLK_PRE_CNT=$BLK_PRE_CNT \
		-e VDEV_BLK_PRE_MD5="$md5" \
		"$GUEST_DIR/tests/blk.in-guest"
}

# blk_verify IMG: prints why the image does not hold what the guest wrote
# (nothing when it does).
blk_verify() {
	cmp -s -n $((BLK_PATTERN_KB * 1024)) "$BLK_PATTERN" "$1" ||
		echo "image does not hold the pattern the guest wrote"
}
