#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Builds (or finds in ${VDEV_GUEST_CACHE:-/var/cache/libvdev-guest}) every
# guest image the guest tests need and says what is used:
#   UML kernel      build/uml-kernel.sh   (linux-source-6.1, ~6 min on 2 cores)
#   stock kernel    build/stock-kernel.sh (Debian linux-image .deb, ~1 min)
#   QEMU 10         build/qemu-bpo.sh     (bookworm-backports, unpacked, ~5 s)
#   QEMU 11         build/qemu11-root.sh  (a Debian 13 root, ~1-3 min, 250 MB)
#   custom kernel   build/custom-kernel.sh (linux-source-6.1 for QEMU, every
#                   virtio driver built in, ~6 min on 2 cores)
#   Debian 13 kernel build/deb13-kernel.sh (trixie's 6.12 .deb, virtio_snd;
#                   needs the qemu11 part's apt state, ~1-2 min)
# Initramfs images are built per test by mkinitramfs.sh (~1 s).
# Prints shell assignments on stdout: VDEV_GUEST_UML_KERNEL,
# VDEV_GUEST_STOCK_DIR, VDEV_GUEST_QEMU10_DIR, VDEV_GUEST_QEMU11_DIR,
# VDEV_GUEST_CUSTOM_DIR and VDEV_GUEST_DEB13_DIR (empty when the part is not
# there), and for such a part
# VDEV_GUEST_<PART>_WHY (the reason its tests SKIP) and, when the build
# itself failed (not a missing prerequisite), VDEV_GUEST_BUILD_FAILED="uml
# stock".
# usage: build.sh [uml|stock|qemu10|qemu11|custom|deb13]...   (default: all)
set -uo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
parts=("$@")
[ ${#parts[@]} = 0 ] && parts=(uml stock qemu10 qemu11 custom deb13)

failed=
for p in "${parts[@]}"; do
	t0=$SECONDS
	case $p in
	uml) var=VDEV_GUEST_UML_KERNEL script=uml-kernel.sh ;;
	stock) var=VDEV_GUEST_STOCK_DIR script=stock-kernel.sh ;;
	qemu10) var=VDEV_GUEST_QEMU10_DIR script=qemu-bpo.sh ;;
	qemu11) var=VDEV_GUEST_QEMU11_DIR script=qemu11-root.sh ;;
	custom) var=VDEV_GUEST_CUSTOM_DIR script=custom-kernel.sh ;;
	deb13) var=VDEV_GUEST_DEB13_DIR script=deb13-kernel.sh ;;
	*) echo "build.sh: unknown part $p" >&2; exit 2 ;;
	esac
	why_file=$(mktemp)
	val=$(GUEST_WHY_FILE=$why_file "$dir/build/$script")
	rc=$?
	why=$(cat "$why_file"); rm -f "$why_file"
	if [ $rc = 0 ]; then
		echo "guest-build: $p: $val ($((SECONDS - t0)) s)" >&2
	elif [ $rc = 77 ]; then
		echo "guest-build: $p: unavailable, its tests SKIP: $why" >&2
		val=
	else
		echo "guest-build: $p: build FAILED (exit $rc)" >&2
		val= why="$p image build failed"
		failed+=" $p"
	fi
	printf '%s=%q\n' "$var" "$val"
	[ -n "$why" ] && printf '%s_WHY=%q\n' "${var%_*}" "$why"
done
printf 'VDEV_GUEST_BUILD_FAILED=%q\n' "${failed# }"
