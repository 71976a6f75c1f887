# SPDX-License-Identifier: BSD-3-Clause
# The guest half of scripts/demo.sh (busybox sh inside User-Mode Linux):
# finds the virtio-blk disk vdev-blk serves, makes a file system on it,
# writes DEMO_TEXT into /hello.txt, unmounts, mounts again and reads it
# back. Each step prints a "DEMO:" line that the host shows.
fail() { echo "$*" >"$VDEV_DETAIL"; echo "DEMO: FAILED: $*"; exit 1; }

dev=
for i in $(seq 50); do
	for d in /sys/block/vd*; do
		[ -e "$d" ] && { dev=${d##*/}; break 2; }
	done
	sleep 0.1
done
[ -n "$dev" ] || fail "no virtio-blk disk appeared"
[ -b /dev/$dev ] || mknod /dev/$dev b $(tr ':' ' ' </sys/block/$dev/dev)
echo "DEMO: guest kernel $(uname -r) sees /dev/$dev," \
	"$(($(cat /sys/block/$dev/size) / 2048)) MiB, driver" \
	"$(basename "$(readlink /sys/block/$dev/device/driver)")"
mke2fs -q /dev/$dev >/dev/null 2>&1 || fail "mke2fs /dev/$dev failed"
echo "DEMO: guest formatted /dev/$dev (ext2)"
mkdir -p /mnt
mount -t ext4 /dev/$dev /mnt || fail "mount failed"
echo "$DEMO_TEXT" >/mnt/hello.txt || fail "write failed"
umount /mnt || fail "umount failed"
echo 3 >/proc/sys/vm/drop_caches
mount -t ext4 /dev/$dev /mnt || fail "second mount failed"
got=$(cat /mnt/hello.txt)
umount /mnt
[ "$got" = "$DEMO_TEXT" ] || fail "read back '$got'"
echo "DEMO: guest wrote /hello.txt, unmounted, mounted again and read" \
	"back: $got"
echo "demo done" >"$VDEV_DETAIL"
