#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Prepares what a cross or musl build of libvdev needs beside its compiler
# (the target's cmocka, for the unit tests) and prints the directory, for
# -DVDEV_TARGET_ROOT. Usage: scripts/target-root.sh TARGET
#
#   aarch64-linux-gnu, s390x-linux-gnu
#       Debian's own libcmocka0 and libcmocka-dev for arm64 or s390x,
#       downloaded with a private apt state and unpacked (dpkg -x), not
#       installed. The packages are Multi-Arch: same and would install
#       beside the amd64 ones, but only after `dpkg --add-architecture`,
#       which changes the machine's package configuration for everything
#       (every apt-get update then fetches that architecture's indexes
#       from every source) and needs root; a private root needs neither.
#   x86_64-linux-musl
#       Debian ships no musl build of cmocka: it is built with musl-gcc
#       from Debian's source package (apt-get source, same private state).
#       The kernel's UAPI headers are linked in, since musl-gcc searches
#       only musl's own include directory.
#
# Entries are cached under $VDEV_TARGET_CACHE (default
# /var/cache/libvdev-target), keyed by the package version and this
# script; when the mirror cannot be reached the newest entry is used.
set -euo pipefail

target=${1:?usage: $0 aarch64-linux-gnu|s390x-linux-gnu|x86_64-linux-musl}
cache=${VDEV_TARGET_CACHE:-/var/cache/libvdev-target}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
log() { echo "target-root: $*" >&2; }

case $target in
aarch64-linux-gnu) arch=arm64 ;;
s390x-linux-gnu) arch=s390x ;;
x86_64-linux-musl) arch=source ;;
*) log "unknown target $target"; exit 2 ;;
esac

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

apt_dir=$cache/apt
APT=(-o "Dir::Etc::sourcelist=/dev/null"
	-o "Dir::Etc::sourceparts=$apt_dir/sources.list.d"
	-o "Dir::State::Lists=$apt_dir/lists"
	-o "Dir::Cache=$apt_dir/cache"
	-o "APT::Sandbox::User=root"
	-o "APT::Architectures::=arm64" -o "APT::Architectures::=s390x")

newest() {
	ls -td "$cache/$target"-*/ 2>/dev/null | while read -r d; do
		[ -f "$d/done" ] && { echo "${d%/}"; break; }
	done
}

# One private apt state for all targets, refreshed at most once a day.
apt_update() {
	local stamp=$apt_dir/updated
	if [ -f "$stamp" ] && [ -z "$(find "$stamp" -mmin +1440)" ]; then
		return 0
	fi
	mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial" \
		"$apt_dir/cache/archives/partial"
	cat >"$apt_dir/sources.list.d/debian.sources" <<-EOS
	Types: deb deb-src
	URIs: http://deb.debian.org/debian
	Suites: bookworm bookworm-updates
	Components: main
	Architectures: arm64 s390x
	Signed-By: $keyring
	EOS
	apt-get "${APT[@]}" -q update >&2 && touch "$stamp"
}

if ! apt_update; then
	old=$(newest)
	[ -n "$old" ] || { log "the Debian mirror cannot be reached and nothing is cached"; exit 1; }
	log "mirror unreachable, using $old"
	echo "$old"
	exit 0
fi

if [ "$arch" = source ]; then
	ver=$(apt-cache "${APT[@]}" showsrc cmocka 2>/dev/null |
		sed -n 's/^Version: //p' | sort -V | tail -n1)
else
	ver=$(apt-cache "${APT[@]}" show --no-all-versions "libcmocka-dev:$arch" \
		2>/dev/null | sed -n 's/^Version: //p' | head -n1)
fi
[ -n "$ver" ] || { log "no cmocka for $arch in the mirror's index"; exit 1; }
key=$( { cat "$0"; echo "$ver"; } | sha256sum | cut -c1-12)
out=$cache/$target-$key
if [ -f "$out/done" ]; then
	echo "$out"
	exit 0
fi

tmp=$out.tmp
rm -rf "$tmp"
mkdir -p "$tmp/dl" "$tmp/root"
if [ "$arch" = source ]; then
	command -v musl-gcc >/dev/null || { log "musl-gcc missing (apt-get install musl-tools)"; exit 1; }
	log "building cmocka $ver with musl-gcc"
	(cd "$tmp/dl" && apt-get "${APT[@]}" -q source --download-only "cmocka=$ver" >&2)
	# apt verified the files against the signed index: no signature check
	# again (it would need a keyring of the uploaders).
	dpkg-source --no-check -x "$tmp"/dl/cmocka_*.dsc "$tmp/src" >&2
	cmake -S "$tmp/src" -B "$tmp/build" -G Ninja -DCMAKE_C_COMPILER=musl-gcc \
		-DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
		-DCMAKE_INSTALL_LIBDIR=lib/$target -DWITH_EXAMPLES=OFF \
		-DUNIT_TESTING=OFF >&2
	ninja -C "$tmp/build" >&2
	DESTDIR=$tmp/root cmake --install "$tmp/build" >&2
	# The kernel's UAPI headers are the same for every C library.
	for d in linux asm-generic; do
		ln -s "/usr/include/$d" "$tmp/root/usr/include/$d"
	done
	ln -s /usr/include/x86_64-linux-gnu/asm "$tmp/root/usr/include/asm"
	rm -rf "$tmp/src" "$tmp/build"
else
	log "unpacking libcmocka-dev:$arch $ver"
	(cd "$tmp/dl" && apt-get "${APT[@]}" -q download \
		"libcmocka0:$arch=$ver" "libcmocka-dev:$arch=$ver" >&2)
	for deb in "$tmp"/dl/*.deb; do
		dpkg-deb -x "$deb" "$tmp/root"
	done
fi
rm -rf "$tmp/dl"
echo "$target $ver" >"$tmp/done"
rm -rf "$out"
mv "$tmp" "$out"
mv "$out/root"/* "$out/" && rmdir "$out/root"
echo "$out"
