#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Builds everything (release) and shows libvdev doing its real job:
#   1. vdev-blk, a daemon on the library, serves a disk image over
#      vhost-user to a real Linux guest (User-Mode Linux): the guest's own
#      virtio-blk driver formats it, writes a file and reads it back, and
#      the host then finds the file in the image;
#   2. the same library with no VM at all: a virtio-rng device driven
#      in-process by the software driver the library ships.
# Each step says in one line what it proves. Installs what it needs first
# (Debian 12, root or sudo: scripts/install-deps.sh demo). The first run
# builds the guest kernel (about 6 minutes on 2 cores, with progress) into
# ${VDEV_GUEST_CACHE:-/var/cache/libvdev-guest}; later runs take seconds.
# Where the guest cannot run here, step 1 says why and is skipped; the
# exit status is then still 0, and 1 only when something that ran failed.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${VDEV_BUILD_DIR:-$top/build/release}
t0=$SECONDS

step() { printf '\n== [%ds] %s\n' "$((SECONDS - t0))" "$*"; }
proves() { printf '   => %s\n' "$*"; }

step "installing what the build and the guest need (Debian packages)"
"$top/scripts/install-deps.sh" demo

step "building libvdev, its daemons and examples (release)"
cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
	-DVDEV_BUILD_TESTS=OFF >/dev/null
ninja -C "$build" | tail -n 1
BLK=$build/daemons/blk/vdev-blk

guest_demo() {
	# lib.sh: run_uml and the image builders of the guest tests.
	VDEV_BUILD_DIR=$build
	. "$top/tests/guest/lib.sh"
	GUEST_WORK=$(mktemp -d /dev/shm/vdev-demo.XXXXXX)
	GUEST_PIDS=()
	trap 'guest_cleanup || true' EXIT

	step "the guest kernel (User-Mode Linux from linux-source-6.1)"
	if [ ! -d "$GUEST_CACHE" ] || ! ls "$GUEST_CACHE"/uml-*/linux >/dev/null 2>&1; then
		echo "   not built yet: building it now (about 6 minutes on 2 cores;"
		echo "   progress follows, and the result is cached in $GUEST_CACHE)"
	fi
	eval "$("$top/tests/guest/build.sh" uml)"
	if [ -z "${VDEV_GUEST_UML_KERNEL:-}" ]; then
		echo "   SKIPPED: no guest kernel: ${VDEV_GUEST_UML_WHY:-the build failed}"
		return 2
	fi
	echo "   $VDEV_GUEST_UML_KERNEL"

	step "vdev-blk serves a 64 MiB raw image on a vhost-user socket"
	local img=$GUEST_WORK/disk.img sock=$GUEST_WORK/blk.sock
	local text="written by the guest's virtio-blk driver at $(date -u +%T)"
	truncate -s 64M "$img"
	bg_start "$GUEST_WORK/vdev-blk.log" "$BLK" -v -s "$sock" -b "$img"
	local blk_pid=$BG_PID
	wait_socket "$sock" || {
		cat "$GUEST_WORK/vdev-blk.log"; echo "   FAILED: no socket"; return 1; }
	echo "   $BLK -v -s $sock -b $img"
	proves "the daemon (an option table on libvdev-daemon) listens for a frontend"

	step "a Linux guest boots with that socket as its disk"
	TMPDIR=$GUEST_WORK "$GUEST_DIR/mkinitramfs.sh" -n demo \
		-e "DEMO_TEXT=$text" "$top/scripts/demo-guest.sh" \
		"$GUEST_WORK/demo.cpio" >/dev/null
	run_uml "$GUEST_WORK/guest.log" "$GUEST_WORK/demo.cpio" 60 -- \
		"$sock:2" >/dev/null
	grep -a '^DEMO: ' "$GUEST_WORK/guest.log" | sed 's/^DEMO: /   guest: /'
	if ! grep -aq 'VDEV-GUEST-RESULT: PASS' "$GUEST_WORK/guest.log"; then
		echo "   FAILED: the guest did not finish; its log ends with:"
		tail -n 15 "$GUEST_WORK/guest.log" | sed 's/^/   | /'
		sed 's/^/   vdev-blk| /' "$GUEST_WORK/vdev-blk.log"
		return 1
	fi
	proves "Linux's own virtio-blk driver negotiated with the device, and" \
		"its writes, flushes and reads went through libvdev's rings" \
		"(guest ran ${GUEST_SECS} s)"

	step "what the daemon saw (its -v log, and its counters on SIGUSR1)"
	kill -USR1 "$blk_pid"
	sleep 0.2
	bg_stop "$blk_pid"
	grep -E 'info|queue 0' "$GUEST_WORK/vdev-blk.log" | sed 's/^/   /'
	proves "an operator sees connects, the negotiation and the traffic"

	step "the host reads the guest's file straight from the image"
	local got
	got=$(/usr/sbin/debugfs -R "cat /hello.txt" "$img" 2>/dev/null)
	echo "   debugfs -R 'cat /hello.txt' disk.img: $got"
	if [ "$got" != "$text" ]; then
		echo "   FAILED: the image does not hold what the guest wrote"
		return 1
	fi
	proves "the data is in the image file, byte for byte: nothing was faked"
}

rc=0
guest_demo || rc=$?
trap - EXIT
# lib.sh's cleanup kills what is left; it is not written for set -e.
[ -z "${GUEST_WORK:-}" ] || guest_cleanup || true
[ $rc = 2 ] && rc=0

step "no VM at all: the in-process software driver (vdev-rng-demo)"
"$build/examples/rng-demo/vdev-rng-demo" "$@" | sed 's/^/   /'
proves "a device model runs unchanged under a unit test, without a VM"

step "done in $((SECONDS - t0)) s$([ $rc = 0 ] || echo ': the guest part FAILED')"
exit $rc
