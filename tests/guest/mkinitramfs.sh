#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Builds a busybox-static initramfs (newc cpio, uncompressed) that runs one
# guest test script and powers off.
#
# usage: mkinitramfs.sh [-m MODDIR] [-M MODS] [-b HOSTBIN[:GUESTPATH]]...
#                       [-f HOSTFILE:GUESTPATH]... [-e VAR=VALUE]...
#                       [-n NAME] TEST_SCRIPT OUT
#   -m MODDIR   directory with *.ko and load.order (stock kernel), insmod'ed
#               in that order before the test
#   -M "MODS"   only these modules (and what they depend on) from MODDIR:
#               fewer modules, faster boot under TCG; a module named in
#               MODDIR/builtin (if there is one) is built in: skipped
#   -b A[:B]    copy host executable A (default B: the same path, so
#               /usr/bin/socat stays /usr/bin/socat, ahead of busybox in
#               PATH) with every shared library ldd lists, and the ELF
#               loader, at their host paths
#   -f A:B      copy host file or directory A to B in the guest
#   -e V=X      export V=X to the test (written to /test.env)
#   -n NAME     test name in the result line (default: script basename)
#
# /init mounts proc, sysfs, devtmpfs, loads the modules, runs TEST_SCRIPT
# with sh and prints exactly one line
#   VDEV-GUEST-RESULT: PASS|FAIL <name> <detail>
# where <detail> is the last line the test wrote to $VDEV_DETAIL (or its
# exit status), then powers off.  The test passes iff it exits 0.
set -euo pipefail

BUSYBOX=${VDEV_GUEST_BUSYBOX:-/bin/busybox}
moddir= mods= name= files=() envs=() bins=()
while getopts "m:M:b:f:e:n:" o; do
	case $o in
	m) moddir=$OPTARG ;;
	M) mods=$OPTARG ;;
	b) bins+=("$OPTARG") ;;
	f) files+=("$OPTARG") ;;
	e) envs+=("$OPTARG") ;;
	n) name=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# = 2 ] || { sed -n '4,21p' "$0" >&2; exit 2; }
script=$1 out=$2
[ -f "$script" ] || { echo "mkinitramfs: no test script $script" >&2; exit 1; }
name=${name:-$(basename "$script" .sh)}
# A dynamic busybox (package busybox) would find no libc in the guest.
[ -x "$BUSYBOX" ] && ! grep -q 'program interpreter' \
	<<<"$(LC_ALL=C readelf -l "$BUSYBOX" 2>/dev/null)" ||
	{ echo "mkinitramfs: $BUSYBOX is not a static busybox (busybox-static)" >&2; exit 1; }

root=$(mktemp -d "${TMPDIR:-/tmp}/vdev-initramfs.XXXXXX")
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,run,lib/modules,data}
cp "$BUSYBOX" "$root/bin/busybox"
for app in $("$BUSYBOX" --list); do
	[ "$app" = busybox ] || ln -s busybox "$root/bin/$app"
done
mod_depends() {
	if command -v modinfo >/dev/null; then
		modinfo -F depends "$1"
	else
		tr '\0' '\n' <"$1" | sed -n 's/^depends=//p'
	fi | tr ',-' ' _'
}
if [ -n "$moddir" ]; then
	declare -A want=()
	if [ -n "$mods" ]; then
		todo=($mods)
		while [ ${#todo[@]} -gt 0 ]; do
			m=${todo[0]//-/_}; todo=("${todo[@]:1}")
			[ -n "${want[$m]:-}" ] && continue
			# Built into this kernel (MODDIR/builtin lists them).
			grep -qx "$m" "$moddir/builtin" 2>/dev/null && continue
			[ -f "$moddir/$m.ko" ] ||
				{ echo "mkinitramfs: no module $m in $moddir" >&2; exit 1; }
			want[$m]=1
			todo+=($(mod_depends "$moddir/$m.ko"))
		done
	fi
	while read -r m; do
		[ -z "$mods" ] || [ -n "${want[$m]:-}" ] || continue
		cp "$moddir/$m.ko" "$root/lib/modules/"
		echo "$m" >>"$root/lib/modules/load.order"
	done <"$moddir/load.order"
fi
die() { echo "mkinitramfs: $*" >&2; exit 1; }
# put HOSTPATH GUESTPATH: one file (symlinks followed) or directory tree.
put() {
	[ -e "$1" ] || die "no such file: $1"
	mkdir -p "$root/$(dirname "$2")"
	if [ -d "$1" ]; then
		mkdir -p "$root/$2"
		cp -RL "$1/." "$root/$2/"
	else
		cp -L "$1" "$root/$2"
	fi
}
# A dynamic executable runs in the guest from the host's own libraries,
# placed where the host has them: the loader's default directories and
# RUNPATHs (a build tree's libvdev.so) then resolve as on the host.
declare -A libs_done=()
put_bin() {
	local src=$1 dst=$2 line lib
	[ -f "$src" ] && [ -x "$src" ] || die "-b $src: not an executable file"
	put "$src" "$dst"
	# Static executables (and scripts) need nothing more.
	# Captured whole: under pipefail a readelf cut short by grep -q
	# (SIGPIPE) would make a dynamic program look static.
	grep -q 'program interpreter' <<<"$(LC_ALL=C readelf -l "$src" 2>/dev/null)" ||
		return 0
	local out
	out=$(LC_ALL=C ldd "$src") || die "-b $src: ldd failed"
	! grep -q 'not found' <<<"$out" ||
		die "-b $src: missing libraries: $(grep 'not found' <<<"$out" | tr -s '\t\n' '  ')"
	while read -r line; do
		case $line in
		*" => /"*) lib=${line#*=> }; lib=${lib%% (*} ;;
		/*) lib=${line%% (*} ;;	# the loader
		*) continue ;;		# linux-vdso
		esac
		[ -n "${libs_done[$lib]:-}" ] && continue
		libs_done[$lib]=1
		put "$lib" "$lib"
	done <<<"$out"
}
for b in "${bins[@]}"; do
	case $b in
	*:*) put_bin "${b%%:*}" "${b#*:}" ;;
	*) put_bin "$b" "$b" ;;
	esac
done
for f in "${files[@]}"; do
	put "${f%%:*}" "${f#*:}"
done
cp "$script" "$root/test.sh"
: >"$root/test.env"
for e in "${envs[@]}"; do
	printf 'export %s=%q\n' "${e%%=*}" "${e#*=}" >>"$root/test.env"
done
echo "$name" >"$root/test.name"

cat >"$root/init" <<'INIT'
#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
name=$(cat /test.name)
if [ -f /lib/modules/load.order ]; then
	for m in $(cat /lib/modules/load.order); do
		insmod /lib/modules/$m.ko || echo "init: insmod $m failed"
	done
fi
echo "VDEV-GUEST: init at $(cut -d' ' -f1 /proc/uptime) s, kernel $(uname -r) $(uname -m)"
export VDEV_DETAIL=/tmp/detail
. /test.env
sh -c '. /test.env; exec sh /test.sh'
rc=$?
detail=$(tail -n1 $VDEV_DETAIL 2>/dev/null)
if [ $rc = 0 ]; then res=PASS; else res=FAIL; fi
echo "VDEV-GUEST-RESULT: $res $name ${detail:-exit $rc} (t=$(cut -d' ' -f1 /proc/uptime)s)"
sync
poweroff -f
reboot -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) >"$out.tmp"
mv "$out.tmp" "$out"
