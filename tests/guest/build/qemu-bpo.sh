#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Prepares QEMU 10 from bookworm-backports for the guest tests that need a
# newer frontend than bookworm's 7.2 (7.2's vhost-user-rng cannot
# reconnect: see tests/rng.sh).  Nothing is installed and the system's apt
# configuration is left alone: a private apt state under the cache
# (sources, lists, archives) downloads qemu-system-x86, its -common and
# -data packages and seabios, and dpkg -x unpacks them.
# Prints the cache directory on stdout; bin/qemu-system-x86_64 there is a
# wrapper that points QEMU at its own modules (QEMU_MODULE_DIR), firmware
# (-L) and sets -audio none.
# VDEV_GUEST_QEMU_BPO=0 turns it off (its tests then SKIP).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
need_cmds dpkg dpkg-deb apt-get apt-cache ldd

[ "${VDEV_GUEST_QEMU_BPO:-1}" = 0 ] && gskip "VDEV_GUEST_QEMU_BPO=0"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$KEYRING" ] || gskip "no $KEYRING (apt-get install debian-archive-keyring)"
PKGS=(qemu-system-x86 qemu-system-common qemu-system-data seabios)

apt_dir=$GUEST_CACHE/work/apt-bpo
APT=(-o "Dir::Etc::sourcelist=/dev/null"
	-o "Dir::Etc::sourceparts=$apt_dir/sources.list.d"
	-o "Dir::State::Lists=$apt_dir/lists"
	-o "Dir::Cache=$apt_dir/cache"
	-o "APT::Sandbox::User=root")

# The newest entry already built, for when the mirror cannot be reached.
newest_entry() {
	ls -td "$GUEST_CACHE"/qemu-bpo-*/ 2>/dev/null | while read -r d; do
		[ -f "$d/version" ] && { echo "${d%/}"; break; }
	done
}

# Private apt state: one deb822 source, lists and archives of our own.
apt_update() {
	mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial" \
		"$apt_dir/cache/archives/partial"
	cat >"$apt_dir/sources.list.d/bookworm-backports.sources" <<-EOF
	Types: deb
	URIs: http://deb.debian.org/debian
	Suites: bookworm-backports
	Components: main
	Signed-By: $KEYRING
	EOF
	apt-get "${APT[@]}" -q update >&2
}

if ! with_lock qemu-bpo apt_update; then
	old=$(newest_entry)
	[ -n "$old" ] || gskip "apt-get update of bookworm-backports failed"
	glog "bookworm-backports unreachable, using $old"
	echo "$old"
	exit 0
fi

# "pkg=version" of each package, as bookworm-backports has it now.
ids=()
for p in "${PKGS[@]}"; do
	v=$(apt-cache "${APT[@]}" show --no-all-versions "$p" 2>/dev/null |
		sed -n 's/^Version: //p' | head -n1)
	[ -n "$v" ] || gskip "bookworm-backports has no $p"
	ids+=("$p=$v")
done
case ${ids[0]#*=} in
*:1[0-9].*|1[0-9].*) ;;
*) gskip "bookworm-backports offers ${ids[0]}, not QEMU 10 or newer" ;;
esac
key=$(input_key "${BASH_SOURCE[0]}" "$GUEST_DIR/build/common.sh" \
	-- "${ids[@]}")
out=$GUEST_CACHE/qemu-bpo-$key

build() {
	[ -f "$out/version" ] && return 0
	local t0=$SECONDS tmp=$out.tmp f
	rm -rf "$tmp"
	mkdir -p "$tmp/debs" "$tmp/root" "$tmp/bin"
	glog "downloading ${ids[*]}"
	# apt-get download writes into the current directory.
	(cd "$tmp/debs" && apt-get "${APT[@]}" -q download "${ids[@]}" >&2) ||
		gskip "apt-get download ${ids[*]} failed"
	for f in "$tmp"/debs/*.deb; do
		dpkg -x "$f" "$tmp/root"
	done
	local r=$tmp/root share=$tmp/root/usr/share/qemu
	local bin=$r/usr/bin/qemu-system-x86_64
	[ -x "$bin" ] || gdie "no qemu-system-x86_64 in the packages"
	# Debian links the firmware from the seabios package into
	# /usr/share/qemu at install time, which dpkg -x does not do.
	for f in "$r"/usr/share/seabios/*.bin; do
		[ -e "$share/${f##*/}" ] || ln -s "../seabios/${f##*/}" "$share/"
	done
	# Every shared library must be on this host (bookworm): QEMU 10
	# from bookworm-backports is built against bookworm.
	local missing
	missing=$(ldd "$bin" | awk '/not found/ {print $1}' | tr '\n' ' ')
	[ -z "$missing" ] ||
		gskip "QEMU ${ids[0]#*=} needs libraries this host lacks: $missing"
	cat >"$tmp/bin/qemu-system-x86_64" <<-'EOF'
	#!/bin/sh
	# SPDX-License-Identifier: BSD-3-Clause
	# QEMU from bookworm-backports, unpacked (not installed): its own
	# modules (else QEMU loads the installed 7.2 ones and aborts) and
	# firmware.  Written by tests/guest/build/qemu-bpo.sh.
	d=$(cd "$(dirname "$0")/.." && pwd)
	QEMU_MODULE_DIR=$d/root/usr/lib/x86_64-linux-gnu/qemu
	export QEMU_MODULE_DIR
	q=$d/root/usr/bin/qemu-system-x86_64
	case ${1:-} in
	--version|-version|-h|--help) exec "$q" "$@" ;;
	esac
	exec "$q" -L "$d/root/usr/share/qemu" -audio none "$@"
	EOF
	chmod +x "$tmp/bin/qemu-system-x86_64"
	# It must start and know the devices the tests use.
	local ver
	ver=$("$tmp/bin/qemu-system-x86_64" --version | head -n1) ||
		gskip "unpacked QEMU does not start: $ver"
	"$tmp/bin/qemu-system-x86_64" -M none -device vhost-user-rng-pci,help \
		>/dev/null 2>&1 || gskip "unpacked QEMU has no vhost-user-rng-pci"
	rm -rf "$tmp/debs" "$r/usr/share/doc" "$r/usr/share/man" "$out"
	printf '%s\n' "${ids[@]}" >"$tmp/packages"
	echo "$ver" | awk '{print $4}' >"$tmp/version"
	mv "$tmp" "$out"
	prune_old qemu-bpo "$out"
	glog "QEMU $(cat "$out/version") unpacked in $((SECONDS - t0)) s: $out"
}

with_lock qemu-bpo build
[ -f "$out/version" ] || gdie "QEMU from backports missing after build"
echo "$out"
