#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Runs every guest test: tests/guest/tests/*.sh, each a host-side script
# that prints "GUEST-TEST: PASS|FAIL|SKIP <name> <detail>" lines.  A new
# device adds one such file, nothing else.
# usage: run-all.sh BUILD_DIR [TEST-NAME-GLOB...]
#   BUILD_DIR   libvdev build tree (daemons: BUILD_DIR/daemons/<dev>/vdev-<dev>)
# Ends with the line "N passed, N failed, N skipped"; exits 1 on a failure.
set -uo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [GLOB...]" >&2; exit 2; }
VDEV_BUILD_DIR=$(cd "$1" && pwd) || exit 2
export VDEV_BUILD_DIR
shift
globs=("$@")
[ $# -gt 0 ] || globs=('*')
t0=$(date +%s)

assign=$("$dir/build.sh") || exit 1
eval "$assign"
. "$dir/lib.sh"
QEMU=
uml_probe
export VDEV_GUEST_UML_KERNEL VDEV_GUEST_STOCK_DIR VDEV_GUEST_UML_PROBED
export VDEV_GUEST_UML_WHY VDEV_GUEST_STOCK_WHY VDEV_GUEST_QEMU10_DIR
export VDEV_GUEST_QEMU10_WHY VDEV_GUEST_QEMU11_DIR VDEV_GUEST_QEMU11_WHY
export VDEV_GUEST_CUSTOM_DIR VDEV_GUEST_CUSTOM_WHY VDEV_GUEST_DEB13_DIR
export VDEV_GUEST_DEB13_WHY
tb=$(date +%s)
echo "guest images ready in $((tb - t0)) s"

pass=0 fail=0 skip=0
# A broken image build is a failure; a missing prerequisite only SKIPs.
for p in $VDEV_GUEST_BUILD_FAILED; do
	echo "GUEST-TEST: FAIL build-$p the $p guest image did not build"
	fail=$((fail + 1))
done
tests=()
for glob in "${globs[@]}"; do
	for t in "$dir"/tests/$glob.sh; do
		[ -f "$t" ] && tests+=("$t")
	done
done
for t in "${tests[@]}"; do
	echo "=== $(basename "$t")"
	out=$(mktemp)
	bash "$t" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	p=$(grep -c '^GUEST-TEST: PASS ' "$out")
	f=$(grep -c '^GUEST-TEST: FAIL ' "$out")
	s=$(grep -c '^GUEST-TEST: SKIP ' "$out")
	# A script that dies without reporting a failure is a failure too.
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "GUEST-TEST: FAIL $(basename "$t" .sh) script exited $rc"
		f=1
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
	rm -f "$out"
done
echo "guest tests took $(($(date +%s) - tb)) s, $(($(date +%s) - t0)) s in all"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
