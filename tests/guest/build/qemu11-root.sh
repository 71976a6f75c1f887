#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Prepares a Debian 13 (trixie) root with QEMU 11 from trixie-backports:
# the newest frontend the guest tests use, and the only one here with a
# vfio-user client (vfio-user-pci, QEMU 10.1+).  Its libraries are too new
# for Debian 12, so it runs inside the root through chroot.
#   debootstrap --variant=minbase trixie ROOT MIRROR
#   chroot ROOT apt-get install -t trixie-backports qemu-system-x86
# The host's apt state is never touched: the versions are read through a
# private apt state under the cache (work/apt-trixie), and the root has
# its own.  About 3 minutes and 450 MB, once per set of package versions.
# Prints the cache directory on stdout; bin/qemu-system-x86_64 there runs
# QEMU in the root (see the wrapper below for what it sees of the host).
# VDEV_GUEST_QEMU11=0 turns it off (its tests then SKIP).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
need_cmds dpkg apt-get apt-cache debootstrap chroot unshare mount

# apt_mirror: the Debian mirror the host's apt uses (the first ".../debian"
# URI of /etc/apt/sources.list{,.d}), http://deb.debian.org/debian when
# none is configured that way.  VDEV_GUEST_MIRROR overrides it.
apt_mirror() {
	local m=${VDEV_GUEST_MIRROR:-}
	[ -n "$m" ] || m=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
		sed -n 's/^URIs:[[:space:]]*//p' | tr ' ' '\n' |
		grep -E '^https?://[^ ]*/debian/?$' | head -n1)
	[ -n "$m" ] || m=$(cat /etc/apt/sources.list \
		/etc/apt/sources.list.d/*.list 2>/dev/null |
		awk '$1 == "deb" {for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) {print $i; break}}' |
		grep -E '/debian/?$' | head -n1)
	echo "${m:-http://deb.debian.org/debian}"
}

[ "${VDEV_GUEST_QEMU11:-1}" = 0 ] && gskip "VDEV_GUEST_QEMU11=0"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$KEYRING" ] || gskip "no $KEYRING (apt-get install debian-archive-keyring)"
[ "$(id -u)" = 0 ] || gskip "debootstrap and chroot need root"
MIRROR=$(apt_mirror)
[ -n "$MIRROR" ] || gskip "no Debian mirror in the host's apt sources"
# What the root installs from backports; the key is made of their versions
# there (and of trixie's point release), so a new upload rebuilds it.
PKGS=(qemu-system-x86 qemu-system-common qemu-system-data)
SUITE=trixie

apt_dir=$GUEST_CACHE/work/apt-trixie
APT=(-o "Dir::Etc::sourcelist=/dev/null"
	-o "Dir::Etc::sourceparts=$apt_dir/sources.list.d"
	-o "Dir::State::Lists=$apt_dir/lists"
	-o "Dir::State::status=/dev/null"
	-o "Dir::Cache=$apt_dir/cache"
	-o "APT::Sandbox::User=root")

newest_entry() {
	ls -td "$GUEST_CACHE"/qemu11-*/ 2>/dev/null | while read -r d; do
		[ -f "$d/version" ] && { echo "${d%/}"; break; }
	done
}

apt_update() {
	mkdir -p "$apt_dir/sources.list.d" "$apt_dir/lists/partial" \
		"$apt_dir/cache/archives/partial"
	cat >"$apt_dir/sources.list.d/trixie.sources" <<-EOF
	Types: deb
	URIs: $MIRROR
	Suites: $SUITE $SUITE-backports
	Components: main
	Signed-By: $KEYRING
	EOF
	apt-get "${APT[@]}" -q update >&2
}

if ! with_lock qemu11 apt_update; then
	old=$(newest_entry)
	[ -n "$old" ] || gskip "apt-get update of $SUITE from $MIRROR failed"
	glog "$SUITE unreachable, using $old"
	echo "$old"
	exit 0
fi

# The backports version of each package ("pkg=version").
ids=()
for p in "${PKGS[@]}"; do
	v=$(apt-cache "${APT[@]}" madison "$p" 2>/dev/null |
		awk -F' *[|] *' -v s="$SUITE-backports/" 'index($3, s) {print $2; exit}')
	[ -n "$v" ] || gskip "$SUITE-backports has no $p"
	ids+=("$p=$v")
done
case ${ids[0]#*=} in
*:1[1-9].*|1[1-9].*) ;;
*) gskip "$SUITE-backports offers ${ids[0]}, not QEMU 11 or newer" ;;
esac
release=$(sed -n 's/^Version: //p' "$apt_dir"/lists/*_dists_${SUITE}_InRelease \
	2>/dev/null | head -n1)
key=$(input_key "${BASH_SOURCE[0]}" "$GUEST_DIR/build/common.sh" \
	-- "${ids[@]}" "$SUITE=$release")
out=$GUEST_CACHE/qemu11-$key

build() {
	[ -f "$out/version" ] && return 0
	local t0=$SECONDS tmp=$out.tmp r
	r=$tmp/root
	rm -rf "$tmp"
	mkdir -p "$tmp/bin"
	glog "debootstrap $SUITE from $MIRROR (about 2 minutes)"
	debootstrap --variant=minbase "$SUITE" "$r" "$MIRROR" \
		>"$tmp/debootstrap.log" 2>&1 ||
		{ tail -n 5 "$tmp/debootstrap.log" >&2
		  gskip "debootstrap $SUITE from $MIRROR failed: $(tail -n1 "$tmp/debootstrap.log")"; }
	cat >"$r/etc/apt/sources.list.d/debian.sources" <<-EOF
	Types: deb
	URIs: $MIRROR
	Suites: $SUITE $SUITE-updates $SUITE-backports
	Components: main
	Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
	EOF
	# Nothing in the root may start a service on the host.
	printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"
	chmod +x "$r/usr/sbin/policy-rc.d"
	glog "installing ${ids[*]} in the root"
	in_root() {
		unshare --mount --propagation private -- sh -c '
			r=$1; shift
			mount -t proc proc "$r/proc" &&
			exec chroot "$r" "$@"' sh "$r" \
			env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 "$@"
	}
	in_root apt-get -q update >"$tmp/apt.log" 2>&1 &&
		in_root apt-get -q -y --no-install-recommends \
			-t "$SUITE-backports" install "${ids[@]}" \
			>>"$tmp/apt.log" 2>&1 ||
		{ tail -n 5 "$tmp/apt.log" >&2
		  gdie "apt-get install ${ids[*]} in the $SUITE root failed"; }
	in_root apt-get clean
	rm -rf "$r/usr/share/doc" "$r/usr/share/man" "$r/usr/share/locale" \
		"$r/var/lib/apt/lists"/*_Packages "$r/var/cache/apt"/*.bin
	cat >"$tmp/bin/qemu-system-x86_64" <<-'EOF'
	#!/bin/sh
	# SPDX-License-Identifier: BSD-3-Clause
	# QEMU from the Debian 13 root next to this directory, run through
	# chroot in a private mount namespace (the mounts vanish with it).
	# Inside, these host paths are the same paths: /dev (so /dev/shm and
	# /dev/kvm), /tmp, /var/tmp, the guest cache (read-only) and every
	# directory of VDEV_QEMU11_BINDS (colon-separated).  Sockets, kernels,
	# initramfs and images must live there.  The working directory is /.
	# Written by tests/guest/build/qemu11-root.sh.
	d=$(cd "$(dirname "$0")/.." && pwd)
	cache=$(cd "$d/.." && pwd)
	exec unshare --mount --propagation private -- sh -c '
		r=$1 cache=$2; shift 2
		mount --rbind /dev "$r/dev" && mount -t proc proc "$r/proc" &&
		mount --rbind /sys "$r/sys" || exit 125
		IFS=:
		for p in /tmp /var/tmp $VDEV_QEMU11_BINDS; do
			[ -d "$p" ] || continue
			mkdir -p "$r$p" && mount --bind "$p" "$r$p" || exit 125
		done
		mkdir -p "$r$cache" && mount --bind "$cache" "$r$cache" &&
			mount -o remount,bind,ro "$r$cache" || exit 125
		exec chroot "$r" /usr/bin/qemu-system-x86_64 "$@"' \
		sh "$d/root" "$cache" "$@"
	EOF
	chmod +x "$tmp/bin/qemu-system-x86_64"
	local ver
	ver=$("$tmp/bin/qemu-system-x86_64" --version | head -n1) ||
		gdie "QEMU in the $SUITE root does not start: $ver"
	local dev
	for dev in vfio-user-pci vhost-user-rng-pci vhost-user-blk-pci; do
		"$tmp/bin/qemu-system-x86_64" -M none -device "$dev,help" \
			>/dev/null 2>&1 || gdie "QEMU in the root has no $dev"
	done
	rm -f "$tmp"/*.log
	printf '%s\n' "${ids[@]}" "$SUITE=$release" >"$tmp/packages"
	echo "$ver" | awk '{print $4}' >"$tmp/version"
	rm -rf "$out"
	mv "$tmp" "$out"
	prune_old qemu11 "$out"
	glog "QEMU $(cat "$out/version") in a $SUITE root in $((SECONDS - t0)) s: $out ($(du -sm "$out" | cut -f1) MB)"
}

with_lock qemu11 build
[ -f "$out/version" ] || gdie "QEMU 11 root missing after build"
echo "$out"
