#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Builds (or finds in ${VDEV_GUEST_CACHE:-/var/cache/libvdev-guest}) every
# guest image the guest tests need and says what is used:
#   UML kernel      build/uml-kernel.sh   (linux-source-6.1, ~6 min on 2 cores)
#   stock kernel    build/stock-kernel.sh (Debian linux-image .deb, ~1 min)
# Initramfs images are built per test by mkinitramfs.sh (~1 s).
# Prints shell assignments for VDEV_GUEST_UML_KERNEL / VDEV_GUEST_STOCK_DIR
# on stdout (empty when a part failed: its tests then SKIP with the reason).
# usage: build.sh [uml|stock]...   (default: both)
set -uo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
parts=("$@")
[ ${#parts[@]} = 0 ] && parts=(uml stock)

for p in "${parts[@]}"; do
	t0=$SECONDS
	case $p in
	uml) var=VDEV_GUEST_UML_KERNEL script=uml-kernel.sh ;;
	stock) var=VDEV_GUEST_STOCK_DIR script=stock-kernel.sh ;;
	*) echo "build.sh: unknown part $p" >&2; exit 2 ;;
	esac
	if val=$("$dir/build/$script"); then
		echo "guest-build: $p: $val ($((SECONDS - t0)) s)" >&2
	else
		echo "guest-build: $p: FAILED (its tests will SKIP)" >&2
		val=
	fi
	printf '%s=%q\n' "$var" "$val"
done
