#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# Runs one test guest under vdev-vmm:
#   run-guest-test.sh VDEV-VMM GUEST.bin [vdev-vmm options...]
# A fresh random file is both the --rng source of the device under test
# (added last) and loaded at 0x200000, where the guest compares what the
# device returned. Exit: 0 pass, 1 fail, 77 skip (no usable KVM).
set -u
vmm=$1
guest=$2
shift 2

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
head -c 65536 /dev/urandom > "$tmp/rng-source" || exit 1

timeout -k 5 90 "$vmm" --flat "$guest" --load "$tmp/rng-source@0x200000" \
	"$@" --rng="$tmp/rng-source" --timeout 60 --stats -v \
	> "$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
case $rc in
0)
	# The guest counted its interrupts; make sure they were irqfd ones.
	if ! grep -q "irqfd signals [1-9]" "$tmp/out"; then
		echo "FAIL: the guest passed but no irqfd signal was counted"
		exit 1
	fi
	echo "PASS"
	exit 0 ;;
77)
	exit 77 ;;
124|137)
	echo "FAIL: vdev-vmm did not exit (killed by timeout)"
	exit 1 ;;
*)
	echo "FAIL: vdev-vmm exit status $rc"
	exit 1 ;;
esac
