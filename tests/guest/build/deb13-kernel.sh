#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Prepares Debian 13's own kernel (the linux-image that trixie's
# linux-image-amd64 points at, 6.12) for QEMU guests: virtio_snd is a
# module there (Debian 12's 6.1 has none), so sound runs under QEMU 11.1
# (vhost-user-snd-pci) with a distribution kernel.  Fetched, not installed,
# through the private trixie apt state build/qemu11-root.sh keeps in
# work/apt-trixie (read under its lock; that builder refreshes it), unpacked
# with dpkg -x; the ELF vmlinux is extracted for PVH boot; modules.dep is
# made with the host's depmod; the modules of kconfig/deb13-modules.list
# and their dependencies are decompressed (.ko.xz: busybox insmod loads
# only plain .ko) into modules/ with load.order.
# Prints the cache directory on stdout: vmlinux, vmlinuz, modules/*.ko,
# modules/load.order, modules/builtin (built-in module names), version,
# package.  VDEV_GUEST_DEB13_KERNEL=0 turns it off (its cases then SKIP).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
need_cmds dpkg dpkg-deb apt-get apt-cache xz depmod

[ "${VDEV_GUEST_DEB13_KERNEL:-1}" = 0 ] && gskip "VDEV_GUEST_DEB13_KERNEL=0"
LIST=$GUEST_DIR/kconfig/deb13-modules.list
apt_dir=$GUEST_CACHE/work/apt-trixie
APT=(-o "Dir::Etc::sourcelist=/dev/null"
	-o "Dir::Etc::sourceparts=$apt_dir/sources.list.d"
	-o "Dir::State::Lists=$apt_dir/lists"
	-o "Dir::State::status=/dev/null"
	-o "Dir::Cache=$apt_dir/cache"
	-o "APT::Sandbox::User=root")

newest_entry() {
	ls -td "$GUEST_CACHE"/deb13-*/ 2>/dev/null | while read -r d; do
		[ -f "$d/version" ] && { echo "${d%/}"; break; }
	done
}

# "linux-image-X-amd64 VERSION" as trixie (not its backports) has it.
resolve() {
	ls "$apt_dir"/lists/*_dists_trixie_main_binary-amd64_Packages* \
		>/dev/null 2>&1 || return 1
	apt-cache "${APT[@]}" madison linux-image-amd64 2>/dev/null |
		awk -F' *[|] *' '$3 ~ /trixie\/main/ && $3 !~ /backports/ {print $2; exit}' |
		while read -r meta; do
			apt-cache "${APT[@]}" show "linux-image-amd64=$meta" 2>/dev/null |
				sed -n 's/^Depends: \(linux-image-[0-9][^ ]*-amd64\) (= \([^)]*\)).*/\1 \2/p' |
				head -n1
		done
}
dep=$(with_lock qemu11 resolve) || dep=
if [ -z "$dep" ]; then
	old=$(newest_entry)
	[ -n "$old" ] ||
		gskip "no trixie package lists in $apt_dir (build/qemu11-root.sh makes them)"
	glog "trixie lists unavailable, using $old"
	echo "$old"
	exit 0
fi
pkg=${dep% *} ver=${dep#* }
key=$(input_key "${BASH_SOURCE[0]}" "$GUEST_DIR/build/common.sh" "$LIST" \
	-- "$pkg=$ver")
out=$GUEST_CACHE/deb13-$key

# vmlinux_from BZIMAGE OUT: the ELF kernel inside a bzImage, whatever it
# was compressed with (Debian's flavours differ), as
# scripts/extract-vmlinux finds it: at each compressor's magic.
vmlinux_from() {
	local img=$1 elf=$2 magic tool off
	for magic in $'\xfd7zXZ\x00:xz -dc --single-stream' \
		$'\x28\xb5\x2f\xfd:zstd -dcq' $'\x1f\x8b\x08:gzip -dc' \
		$'\x02\x21\x4c\x18:lz4 -dc'; do
		tool=${magic#*:}
		command -v "${tool%% *}" >/dev/null || continue
		for off in $(LC_ALL=C grep -abo "${magic%%:*}" "$img" |
			cut -d: -f1); do
			tail -c +$((off + 1)) "$img" | $tool >"$elf" 2>/dev/null || true
			[ "$(head -c4 "$elf" | od -An -c | tr -d ' ')" = '177ELF' ] &&
				return 0
		done
	done
	rm -f "$elf"
	return 1
}

build() {
	[ -f "$out/version" ] && return 0
	local t0=$SECONDS tmp=$out.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp/root" "$tmp/modules" "$tmp/debs"
	glog "downloading $pkg=$ver (trixie)"
	(cd "$tmp/debs" &&
		with_lock qemu11 apt-get "${APT[@]}" -q download "$pkg=$ver" >&2) ||
		gskip "apt-get download $pkg=$ver failed"
	dpkg -x "$tmp"/debs/*.deb "$tmp/root"
	local vmlinuz kver
	vmlinuz=$(ls "$tmp"/root/boot/vmlinuz-* | head -n1)
	kver=${vmlinuz##*/vmlinuz-}
	cp "$vmlinuz" "$tmp/vmlinuz"
	if vmlinux_from "$tmp/vmlinuz" "$tmp/vmlinux"; then
		# QEMU boots an ELF only through its PVH note.
		LC_ALL=C readelf -n "$tmp/vmlinux" | grep -q 'Xen.*0x00000012' ||
			{ glog "vmlinux has no PVH note: QEMU uses vmlinuz"
			  rm -f "$tmp/vmlinux"; }
	else
		glog "no vmlinux extracted: QEMU uses vmlinuz"
	fi

	# The .deb has no modules.dep (the package's postinst makes it).
	local mroot=$tmp/root mdir=$tmp/root/lib/modules/$kver
	[ -d "$mdir" ] || { mroot=$tmp/root/usr; mdir=$tmp/root/usr/lib/modules/$kver; }
	depmod -b "$mroot" "$kver" || gdie "depmod of $kver failed"
	# modules.dep: "kernel/a/b.ko.xz: dep.ko.xz ..." (every dependency,
	# transitively); load each module after its dependencies.
	declare -A path=() deps=() seen=()
	local line m f d
	while IFS= read -r line; do
		f=${line%%:*}
		m=$(basename "$f"); m=${m%%.ko*}; m=${m//-/_}
		path[$m]=$f
		deps[$m]=${line#*:}
	done <"$mdir/modules.dep"
	visit() {
		local m=${1//-/_} d dm
		[ -n "${seen[$m]:-}" ] && return 0
		seen[$m]=1
		if [ -z "${path[$m]:-}" ]; then
			grep -q "/${1}.ko\|/${1//_/-}.ko" "$mdir/modules.builtin" &&
				return 0
			gdie "module $1 not in $kver"
		fi
		for d in ${deps[$m]}; do
			dm=$(basename "$d"); dm=${dm%%.ko*}
			visit "$dm"
		done
		case ${path[$m]} in
		*.ko.xz) xz -dc "$mdir/${path[$m]}" >"$tmp/modules/$m.ko" ;;
		*.ko.zst) zstd -dcq "$mdir/${path[$m]}" >"$tmp/modules/$m.ko" ;;
		*.ko) cp "$mdir/${path[$m]}" "$tmp/modules/$m.ko" ;;
		*) gdie "module $m: unknown format ${path[$m]}" ;;
		esac
		echo "$m" >>"$tmp/modules/load.order"
	}
	while read -r m; do
		visit "$m"
	done < <(grep -v '^#' "$LIST" | grep .)
	# What is built in, for mkinitramfs.sh -M (virtio_pci is, here).
	sed 's|.*/||; s|\.ko.*||; s|-|_|g' "$mdir/modules.builtin" |
		sort -u >"$tmp/modules/builtin"

	echo "$kver" >"$tmp/version"
	echo "$pkg=$ver" >"$tmp/package"
	rm -rf "$tmp/root" "$tmp/debs" "$out"
	mv "$tmp" "$out"
	prune_old deb13 "$out"
	glog "Debian 13 kernel $kver prepared in $((SECONDS - t0)) s: $out"
}

with_lock deb13 build
[ -f "$out/version" ] || gdie "Debian 13 kernel missing after build"
echo "$out"
