#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Builds a busybox-static initramfs (newc cpio, uncompressed) that runs one
# guest test script and powers off.
#
# usage: mkinitramfs.sh [-m MODDIR] [-f HOSTFILE:GUESTPATH]... [-e VAR=VALUE]...
#                       [-n NAME] TEST_SCRIPT OUT
#   -m MODDIR   directory with *.ko and load.order (stock kernel), insmod'ed
#               in that order before the test
#   -M "MODS"   only these modules (and what they depend on) from MODDIR:
#               fewer modules, faster boot under TCG
#   -f A:B      copy host file A to B in the guest
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
moddir= mods= name= files=() envs=()
while getopts "m:M:f:e:n:" o; do
	case $o in
	m) moddir=$OPTARG ;;
	M) mods=$OPTARG ;;
	f) files+=("$OPTARG") ;;
	e) envs+=("$OPTARG") ;;
	n) name=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# = 2 ] || { sed -n '4,12p' "$0" >&2; exit 2; }
script=$1 out=$2
[ -f "$script" ] || { echo "mkinitramfs: no test script $script" >&2; exit 1; }
name=${name:-$(basename "$script" .sh)}
# A dynamic busybox (package busybox) would find no libc in the guest.
[ -x "$BUSYBOX" ] && ! LC_ALL=C readelf -l "$BUSYBOX" 2>/dev/null |
	grep -q 'program interpreter' ||
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
for f in "${files[@]}"; do
	src=${f%%:*} dst=${f#*:}
	mkdir -p "$root/$(dirname "$dst")"
	cp "$src" "$root/$dst"
done
cp "$script" "$root/test.sh"
: >"$root/test.env"
for e in "${envs[@]}"; do
	printf 'export %s=%q\n' "${e%%=*}" "${e#*=}" >>"$root/test.env"
done
echo "$name" >"$root/test.name"

cat >"$root/init" <<'INIT'
#!/bin/sh
export PATH=/bin:/sbin
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
