#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# libgpiod 2.x from bookworm-backports (libgpiod-dev and libgpiod3) for
# building libvdev's gpio backend against the 2.x API on Debian 12, whose
# own libgpiod is 1.6.  Nothing is installed and the system's apt
# configuration is left alone: the private apt state of qemu-bpo.sh
# (work/apt-bpo, under its lock) downloads the packages, dpkg -x unpacks
# them, and the pkg-config file is pointed at the unpacked tree.
# Prints the directory to put in PKG_CONFIG_PATH on stdout (cached, keyed
# by the package versions).  VDEV_GPIOD2=0 turns it off.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
need_cmds dpkg apt-get apt-cache

[ "${VDEV_GPIOD2:-1}" = 0 ] && gskip "VDEV_GPIOD2=0"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$KEYRING" ] || gskip "no $KEYRING (apt-get install debian-archive-keyring)"
apt_dir=$GUEST_CACHE/work/apt-bpo
APT=(-o "Dir::Etc::sourcelist=/dev/null"
	-o "Dir::Etc::sourceparts=$apt_dir/sources.list.d"
	-o "Dir::State::Lists=$apt_dir/lists"
	-o "Dir::Cache=$apt_dir/cache"
	-o "APT::Sandbox::User=root")

apt_update() {
	mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial" \
		"$apt_dir/cache/archives/partial"
	cat >"$apt_dir/sources.list.d/bookworm-backports.sources" <<-EOF2
	Types: deb
	URIs: http://deb.debian.org/debian
	Suites: bookworm-backports
	Components: main
	Signed-By: $KEYRING
	EOF2
	apt-get "${APT[@]}" -q update >&2
}

newest_entry() {
	ls -td "$GUEST_CACHE"/libgpiod2-*/ 2>/dev/null | while read -r d; do
		[ -f "$d/version" ] && { echo "${d%/}/pkgconfig"; break; }
	done
}

# The lists qemu-bpo.sh keeps fresh are enough when they are there.
if [ ! -d "$apt_dir/lists" ] || ! ls "$apt_dir"/lists/*bookworm-backports* \
	>/dev/null 2>&1; then
	if ! with_lock qemu-bpo apt_update; then
		old=$(newest_entry)
		[ -n "$old" ] || gskip "apt-get update of bookworm-backports failed"
		echo "$old"
		exit 0
	fi
fi
ids=()
for p in libgpiod-dev libgpiod3; do
	v=$(apt-cache "${APT[@]}" show --no-all-versions "$p" 2>/dev/null |
		sed -n 's/^Version: //p' | head -n1)
	[ -n "$v" ] || gskip "bookworm-backports has no $p"
	ids+=("$p=$v")
done
case ${ids[0]#*=} in
2.*) ;;
*) gskip "bookworm-backports offers ${ids[0]}, not libgpiod 2.x" ;;
esac
key=$(input_key "${BASH_SOURCE[0]}" "$GUEST_DIR/build/common.sh" \
	-- "${ids[@]}")
out=$GUEST_CACHE/libgpiod2-$key

build() {
	[ -f "$out/version" ] && return 0
	local tmp=$out.tmp pc
	rm -rf "$tmp"
	mkdir -p "$tmp/debs" "$tmp/root" "$tmp/pkgconfig"
	glog "downloading ${ids[*]}"
	(cd "$tmp/debs" && apt-get "${APT[@]}" -q download "${ids[@]}" >&2) ||
		gskip "apt-get download ${ids[*]} failed"
	for f in "$tmp"/debs/*.deb; do
		dpkg -x "$f" "$tmp/root"
	done
	pc=$(find "$tmp/root" -name libgpiod.pc | head -n1)
	[ -n "$pc" ] || gdie "no libgpiod.pc in ${ids[*]}"
	# prefix=/usr -> the unpacked tree (where the entry will be)
	sed "s|^prefix=.*|prefix=$out/root/usr|" "$pc" >"$tmp/pkgconfig/libgpiod.pc"
	rm -rf "$tmp/debs"
	echo "${ids[*]}" >"$tmp/version"
	rm -rf "$out"
	mv "$tmp" "$out"
	glog "libgpiod 2.x in $out"
}
with_lock libgpiod2 build
echo "$out/pkgconfig"
