#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Nothing lost across back-end crashes (vhost-user PROTOCOL_F_INFLIGHT_SHMFD):
# QEMU 7.2 and 11 (vhost-user-blk-pci, reconnecting) run a guest that writes
# checksummed blocks with O_DIRECT, several requests in flight, while the
# host SIGKILLs vdev-blk at random moments (the first instant after a random
# delay when it is mid-request) and restarts it, VDEV_CRASH_KILLS times
# (default 4; up to 12 until some kill found requests in flight, which the
# restarted daemon logs).  QEMU resubmits nothing itself: the restarted daemon
# must find the requests in flight in the inflight region and complete
# them, otherwise the guest hangs or reads stale blocks.  The guest checks
# the writer's status, dmesg and every block; the host checks the image.
# UML is not a case: virtio_uml has no reconnect (a back-end that goes
# away unregisters the device), so it SKIPs with that reason.
# Cases: uring and sync back-ends on a split ring, uring on a packed ring
# (QEMU's packed=on: the region has the packed layout, and the daemon
# takes the ring position from it, since QEMU cannot read a packed
# ring's position back after a crash). VDEV_CRASH_CASES="name ..." runs
# only those.
. "$(dirname "$0")/../lib.sh"
guest_setup

BLK=${VDEV_BLK:-$(daemon_bin vdev-blk)}
LOADGEN_SRC=$GUEST_DIR/../bench/guest-blk/loadgen.c
KILLS=${VDEV_CRASH_KILLS:-4}
NBLK=${VDEV_CRASH_NBLK:-2048}
PASSES=${VDEV_CRASH_PASSES:-60}
QD=${VDEV_CRASH_QD:-16}

# daemon_busy PID: true while the back-end is in the middle of requests: a
# thread inside a read, write or sync system call (sync backend), or an
# io_uring with submissions not yet completed or reaped (uring backend).
# Killing then leaves popped, uncompleted requests behind, the case the
# inflight region exists for; a kill at a random moment mostly finds an
# idle back-end, because the TCG guest is far slower than the host.
daemon_busy() {
	local t nr rest f l sqh= cqh= cqt=
	for t in /proc/"$1"/task/*; do
		read -r nr rest <"$t/syscall" 2>/dev/null || continue
		case $nr in 17|18|74|75|295|296|327|328) return 0 ;; esac
	done
	for f in /proc/"$1"/fdinfo/*; do
		sqh= cqh= cqt=
		while read -r l; do
			case $l in
			SqHead:*) sqh=${l#*:} ;;
			CqHead:*) cqh=${l#*:} ;;
			CqTail:*) cqt=${l#*:} ;;
			esac
		done <"$f" 2>/dev/null
		[ -n "$sqh" ] && [ "$sqh" != "$cqt" ] && return 0
		[ -n "$cqh" ] && [ "$cqh" != "$cqt" ] && return 0
	done
	return 1
}

# The daemon says when it redoes requests its predecessor left.
redone_count() {
	cat "$dlog".* 2>/dev/null |
		sed -n 's/.*redoing \([0-9]*\) requests.*/\1/p' |
		awk '{n += $1} END {print n + 0}'
}

crash_case() { # FE NAME BACKEND IMG-DIR [DAEMON-OPTS [DEVICE-PROPS]]
	local fe=$1 name=$2 backend=$3 imgdir=$4 dopts=${5:-} props=${6:-} why
	local qemu
	local ring=split
	[[ $props == *packed=on* ]] && ring=packed
	if [ -n "${VDEV_CRASH_CASES:-}" ] &&
		[[ " $VDEV_CRASH_CASES " != *" $name "* ]]; then
		return
	fi
	why=$(fe_unavailable "$fe")
	[ -n "$why" ] && { guest_skip "$name" "$why"; return; }
	qemu=$(fe_qemu "$fe")
	local sock=$GUEST_WORK/$name.sock img=$imgdir/vdev-$name-$$.img
	local log=$GUEST_WORK/$name.log initrd=$GUEST_WORK/$name.cpio
	local dlog=$GUEST_WORK/$name-daemon.log
	rm -f "$img" "$sock"
	truncate -s 64M "$img"
	guest_initramfs qemu "$initrd" -M virtio_blk -n "$name" \
		-f "$LOADGEN:/data/loadgen" \
		-e VDEV_CRASH_NBLK=$NBLK -e VDEV_CRASH_PASSES=$PASSES \
		-e VDEV_CRASH_QD=$QD -e VDEV_CRASH_RING=$ring \
		"$GUEST_DIR/tests/blk-crash.in-guest"
	start() {
		bg_start "$dlog.$1" "$BLK" -s "$sock" -b "$img" \
			--backend "$backend" $dopts
		BLK_PID=$BG_PID
		wait_socket "$sock" || echo "vdev-blk did not create $sock"
	}
	start 0
	local t0=$SECONDS
	QEMU_BIN=$qemu run_qemu "$log" "$initrd" -- \
		-chardev "socket,id=c0,path=$sock,$(qemu_reconnect_opt "$qemu" 1)" \
		-device "vhost-user-blk-pci,chardev=c0,num-queues=1$props" &
	local qpid=$! k=0 i hostfail= started= passes_at=() busy=0 redone=0
	KILLS_NEEDED=$KILLS
	for ((i = 0; i < GUEST_BOOT_TIMEOUT * 10; i++)); do
		kill -0 "$qpid" 2>/dev/null || break
		if [ -z "$started" ]; then
			grep -aq '^CRASH-WRITER-START' "$log" 2>/dev/null &&
				started=1
			sleep 0.1
			continue
		fi
		# A random moment 0.3-1.2 s into the writer's work, then the
		# first instant (within 2 s) the back-end is mid-request.
		sleep "$(printf '0.%d' $((3 + RANDOM % 10)))"
		grep -aq '^CRASH-WRITER-END' "$log" && break
		local t_end=$(( ${EPOCHREALTIME/./} + 2000000 ))
		while [ "${EPOCHREALTIME/./}" -lt "$t_end" ]; do
			daemon_busy "$BLK_PID" && { busy=$((busy + 1)); break; }
		done
		kill -KILL -- "-$BLK_PID" 2>/dev/null
		wait "$BLK_PID" 2>/dev/null
		k=$((k + 1))
		passes_at+=("$(grep -ac '^LOADGEN pass' "$log")")
		sleep "0.$((RANDOM % 5))"
		rm -f "$sock"
		start "$k"
		# Let QEMU reconnect (1 s period) and the guest make progress.
		sleep 1.5
		redone=$(redone_count)
		# Go on until some kill caught requests in flight.
		[ "$k" -ge "$KILLS" ] && [ "$redone" = 0 ] && [ "$k" -lt 12 ] &&
			KILLS_NEEDED=$((k + 1))
		[ "$k" -ge "${KILLS_NEEDED:-$KILLS}" ] && break
	done
	wait "$qpid"
	GUEST_SECS=$((SECONDS - t0))
	bg_stop "$BLK_PID"
	redone=$(redone_count)
	if [ "$k" -lt "$KILLS" ]; then
		hostfail="back-end killed only $k of $KILLS times before the writer finished (raise VDEV_CRASH_PASSES)"
	elif [ "$redone" = 0 ]; then
		hostfail="no kill (of $k) caught a request in flight: nothing was proved"
	elif ! grep -aq "^LOADGEN pass $PASSES" "$log"; then
		hostfail="writer did not finish"
	elif ! "$LOADGEN" verify "$img" "$NBLK" "$PASSES" >/dev/null; then
		hostfail="image on the host: $("$LOADGEN" verify "$img" "$NBLK" "$PASSES" 2>&1 | head -n 2 | tr '\n' ' ')"
	fi
	[ -n "${VDEV_CRASH_DEBUG:-}" ] && tail -n 5 "$dlog".*
	guest_check "$name" "$log" "$hostfail"
	echo "  (back-end SIGKILLed $k times ($busy mid-request), after writer passes: ${passes_at[*]};" \
		"requests found in flight and redone: $redone)"
	rm -f "$img"
}

LOADGEN=$GUEST_WORK/loadgen
guest_skip blk-crash-uml "User-Mode Linux's virtio_uml has no reconnect: a back-end that goes away unregisters the device"
if [ ! -x "$BLK" ]; then
	for fe in qemu qemu11; do
		for c in uring sync uring-packed; do
			guest_skip "blk-crash-$fe-$c" "no vdev-blk binary at $BLK (pass the build dir)"
		done
	done
elif ! cc -static -O2 -o "$LOADGEN" "$LOADGEN_SRC" 2>"$GUEST_WORK/cc.log"
then
	guest_skip blk-crash-qemu-uring "cannot build the static loadgen: $(head -n1 "$GUEST_WORK/cc.log")"
else
	# O_DIRECT on a disk-backed file: requests take long enough for
	# daemon_busy to see them (and complete out of order with uring).
	# QEMU 7.2 and 11 (vhost-user; vfio-user has no inflight region).
	for fe in qemu qemu11; do
		crash_case "$fe" "blk-crash-$fe-uring" uring \
			"${VDEV_CRASH_DISK_DIR:-/var/tmp}" --direct
		crash_case "$fe" "blk-crash-$fe-sync" sync \
			"${VDEV_CRASH_DISK_DIR:-/var/tmp}" --direct
		crash_case "$fe" "blk-crash-$fe-uring-packed" uring \
			"${VDEV_CRASH_DISK_DIR:-/var/tmp}" --direct ,packed=on
	done
fi
guest_finish
