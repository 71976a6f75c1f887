#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Builds the custom x86-64 guest kernel for QEMU from Debian's
# linux-source-6.1: `make tinyconfig` + kconfig/custom.config, every virtio
# driver built in (GPIO_VIRTIO and I2C_VIRTIO, which no Debian kernel has,
# SND_VIRTIO, which 6.1 lacks), no modules, booted PVH from the ELF vmlinux.
# Prints the cache directory on stdout (vmlinux, config, version); progress
# goes to stderr.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
. "$(dirname "${BASH_SOURCE[0]}")/kernel-make.sh"

SRC_PKG=linux-source-6.1
SRC_TAR=/usr/src/linux-source-6.1.tar.xz
FRAGMENT=$GUEST_DIR/kconfig/custom.config

src_ver=$(pkg_version "$SRC_PKG")
[ -n "$src_ver" ] && [ -f "$SRC_TAR" ] ||
	gskip "$SRC_PKG is not installed (apt-get install $SRC_PKG)"
need_cmds make gcc flex bison bc strip xz
key=$(input_key "${BASH_SOURCE[0]}" "$GUEST_DIR/build/common.sh" \
	"$GUEST_DIR/build/kernel-make.sh" "$FRAGMENT" -- "$SRC_PKG=$src_ver")
# The private tree holds the plain source (bump "tree-1" when the unpack
# below changes).
tree_id="$src_ver tree-1"
out=$GUEST_CACHE/custom-$key

build() {
	[ -f "$out/version" ] && return 0
	# One persistent tree: a changed fragment rebuilds incrementally.
	local work=$GUEST_CACHE/work/custom t0=$SECONDS
	if [ "$(cat "$work/.src-version" 2>/dev/null)" != "$tree_id" ]; then
		glog "unpacking $SRC_PKG $src_ver into $work"
		rm -rf "$work"
		mkdir -p "$work"
		tar -xJf "$SRC_TAR" -C "$work" --strip-components=1
		echo "$tree_id" >"$work/.src-version"
	fi
	glog "building the custom x86-64 kernel (key $key, -j$GUEST_JOBS):" \
		"about 5 min on 2 idle cores from scratch"
	(
		cd "$work"
		glog "custom: configuring (tinyconfig + $(basename "$FRAGMENT"))"
		# tinyconfig is itself a merge: keep its chatter out.
		kconfig_merge x86_64 tinyconfig "$FRAGMENT" >/dev/null
		glog "custom: compiling"
		kbuild_make custom "$GUEST_CACHE/work/.steps-custom" \
			ARCH=x86_64 -j"$GUEST_JOBS" vmlinux
	) >&2
	local tmp=$out.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp"
	strip -o "$tmp/vmlinux" "$work/vmlinux"
	# QEMU boots the ELF through its PVH note; without one it would
	# refuse the file ("Error loading uncompressed kernel without PVH
	# ELF Note").
	LC_ALL=C readelf -n "$tmp/vmlinux" | grep -q 'Xen.*0x00000012' ||
		gdie "vmlinux has no PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)"
	cp "$work/.config" "$tmp/config"
	make -s -C "$work" ARCH=x86_64 kernelrelease >"$tmp/version"
	rm -rf "$out"
	mv "$tmp" "$out"
	prune_old custom "$out"
	glog "custom kernel $(cat "$out/version") built in $((SECONDS - t0)) s: $out"
}

with_lock custom build
[ -f "$out/version" ] || gdie "custom kernel missing after build"
echo "$out"
