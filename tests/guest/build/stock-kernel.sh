#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Prepares the stock Debian 6.1 kernel for QEMU guests: fetches the
# linux-image .deb that linux-image-amd64 points at (apt-get download, not
# installed), unpacks it with dpkg -x, extracts the uncompressed ELF vmlinux
# (PVH boot skips the in-guest decompressor) and collects the modules of
# kconfig/stock-modules.list plus their dependencies, in load order.
# Prints the cache directory on stdout: vmlinuz, vmlinux, modules/*.ko,
# modules/load.order, version.
# VDEV_GUEST_KERNEL_DEB=/path/to/linux-image-*.deb uses that file instead.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
need_cmds dpkg dpkg-deb apt-get apt-cache xz

LIST=$GUEST_DIR/kconfig/stock-modules.list

deb=${VDEV_GUEST_KERNEL_DEB:-}
if [ -n "$deb" ]; then
	[ -f "$deb" ] || gdie "VDEV_GUEST_KERNEL_DEB=$deb: no such file"
	pkg_id="file:$(sha256sum <"$deb" | cut -c1-16)"
else
	# One apt-cache call: "Depends: linux-image-X-amd64 (= VERSION)".
	dep=$(apt-cache show --no-all-versions linux-image-amd64 2>/dev/null |
		sed -n 's/^Depends: \(linux-image-[0-9][^ ]*-amd64\) (= \([^)]*\)).*/\1 \2/p' |
		head -n1)
	[ -n "$dep" ] || gskip "cannot resolve linux-image-amd64 (apt-get update?)"
	pkg=${dep% *} ver=${dep#* }
	pkg_id="$pkg=$ver"
fi
key=$(input_key "${BASH_SOURCE[0]}" "$GUEST_DIR/build/common.sh" "$LIST" \
	-- "$pkg_id")
out=$GUEST_CACHE/stock-$key

# Module names: kbuild treats '-' and '_' alike.
norm() { echo "${1//-/_}"; }

mod_depends() {
	if command -v modinfo >/dev/null; then
		modinfo -F depends "$1"
	else
		tr '\0' '\n' <"$1" | sed -n 's/^depends=//p'
	fi
}

build() {
	[ -f "$out/version" ] && return 0
	local t0=$SECONDS tmp=$out.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp/root" "$tmp/modules"
	if [ -z "$deb" ]; then
		glog "downloading $pkg_id"
		(cd "$tmp" && apt-get download -q "$pkg=$ver" >&2) ||
			gskip "apt-get download $pkg=$ver failed"
		deb=$(ls "$tmp"/linux-image-*.deb)
	fi
	dpkg -x "$deb" "$tmp/root"
	local vmlinuz kver
	vmlinuz=$(ls "$tmp"/root/boot/vmlinuz-* | head -n1)
	kver=${vmlinuz##*/vmlinuz-}
	cp "$vmlinuz" "$tmp/vmlinuz"

	# The bzImage payload is one xz stream (CONFIG_KERNEL_XZ); find its
	# magic and unpack it, as scripts/extract-vmlinux does.
	local off
	for off in $(grep -abo $'\xfd7zXZ\x00' "$tmp/vmlinuz" | cut -d: -f1); do
		tail -c +$((off + 1)) "$tmp/vmlinuz" |
			xz -dc --single-stream >"$tmp/vmlinux" 2>/dev/null || true
		[ "$(head -c4 "$tmp/vmlinux" | od -An -c | tr -d ' ')" = \
			'177ELF' ] && break
		rm -f "$tmp/vmlinux"
	done
	[ -f "$tmp/vmlinux" ] || glog "no vmlinux extracted: QEMU uses vmlinuz"

	# Dependency closure, depth first, so load.order is insmod-ready.
	local mdir=$tmp/root/lib/modules/$kver
	declare -A path=() seen=()
	local f
	while read -r f; do
		path[$(norm "$(basename "$f" .ko)")]=$f
	done < <(find "$mdir/kernel" -name '*.ko')
	visit() {
		local m d
		m=$(norm "$1")
		[ -n "${seen[$m]:-}" ] && return 0
		seen[$m]=1
		if [ -z "${path[$m]:-}" ]; then
			grep -q "/$1.ko\$\|/${1//_/-}.ko\$" \
				"$mdir/modules.builtin" 2>/dev/null &&
				return 0
			gdie "module $1 not in $kver"
		fi
		for d in $(mod_depends "${path[$m]}" | tr ',' ' '); do
			visit "$d"
		done
		cp "${path[$m]}" "$tmp/modules/$m.ko"
		echo "$m" >>"$tmp/modules/load.order"
	}
	local name
	while read -r name; do
		visit "$name"
	done < <(grep -v '^#' "$LIST" | grep .)

	echo "$kver" >"$tmp/version"
	echo "$pkg_id" >"$tmp/package"
	rm -rf "$tmp/root" "$tmp"/*.deb "$out"
	mv "$tmp" "$out"
	prune_old stock "$out"
	glog "stock kernel $kver prepared in $((SECONDS - t0)) s: $out"
}

with_lock stock build
[ -f "$out/version" ] || gdie "stock kernel missing after build"
echo "$out"
