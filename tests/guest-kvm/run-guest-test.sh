#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# Runs one test guest under vdev-vmm:
#   run-guest-test.sh VDEV-VMM GUEST.bin rng|blk [vdev-vmm options...]
# A fresh 64 KiB random file is loaded at 0x200000 for the guest to
# compare with, and is the device under test's backing (added last):
#   rng: --rng=FILE (the bytes the guest must receive);
#   blk: --blk=COPY (a 128-sector image); afterwards sector 5 of the copy
#        must hold sector 0's bytes, which the guest wrote there.
# Exit: 0 pass, 1 fail, 77 skip (no usable KVM), 2 usage.
set -u
if [ $# -lt 3 ]; then
	echo "usage: $0 VDEV-VMM GUEST.bin rng|blk [options...]" >&2
	exit 2
fi
vmm=$1
guest=$2
kind=$3
shift 3

if [ ! -e /dev/kvm ]; then
	echo "SKIP: /dev/kvm does not exist (no KVM on this machine)"
	exit 77
fi
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo "SKIP: /dev/kvm is not accessible to $(id -un)"
	exit 77
fi
if [ -d /sys/module/kvm_pvm ]; then
	echo "note: /dev/kvm is kvm_pvm (software-nested): slow exits"
fi

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
head -c 65536 /dev/urandom > "$tmp/data" || exit 1
case $kind in
rng)	dev="--rng=$tmp/data" ;;
blk)	cp "$tmp/data" "$tmp/image" || exit 1
	dev="--blk=$tmp/image" ;;
*)	echo "unknown device kind $kind" >&2; exit 2 ;;
esac

timeout -k 5 90 "$vmm" --flat "$guest" --load "$tmp/data@0x200000" \
	"$@" "$dev" --timeout 60 --stats -v > "$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
case $rc in
0)	;;
77)	exit 77 ;;
124|137)
	echo "FAIL: vdev-vmm did not exit (killed by timeout)"
	exit 1 ;;
*)
	echo "FAIL: vdev-vmm exit status $rc"
	exit 1 ;;
esac

# The guest counted its interrupts; make sure they were irqfd ones.
if ! grep -q "irqfd signals [1-9]" "$tmp/out"; then
	echo "FAIL: the guest passed but no irqfd signal was counted"
	exit 1
fi
if [ "$kind" = blk ]; then
	dd if="$tmp/image" of="$tmp/s5" bs=512 skip=5 count=1 2>/dev/null
	dd if="$tmp/data" of="$tmp/s0" bs=512 count=1 2>/dev/null
	if ! cmp -s "$tmp/s0" "$tmp/s5"; then
		echo "FAIL: the guest's write did not reach the image file"
		exit 1
	fi
fi
echo "PASS"
exit 0
