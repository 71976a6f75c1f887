#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Guest block benchmark: the same Linux virtio-blk driver and the same
# workloads against vdev-blk (uring and sync backends), qemu-storage-daemon
# (vhost-user-blk export; aio=threads, its default, and aio=io_uring) and,
# under QEMU only, QEMU's built-in virtio-blk, on the same raw image; and
# vdev-scsi (uring) beside them, on the same image through the Linux
# virtio-scsi driver (qemu-storage-daemon exports no scsi).
# Numbers, not pass/fail.
#
# usage: run.sh BUILD_DIR      (a Release build: BUILD_DIR/daemons/blk)
# env:   VDEV_BENCH_SECS (3) seconds per job
#        VDEV_BENCH_FRONTENDS ("uml qemu"): any of tests/guest/lib.sh's
#          frontends (uml qemu qemu11 qemu11-vfio).  UML runs the guest at
#          native speed (the numbers that count); QEMU is TCG here, for
#          reference, and "qemu11 qemu11-vfio" compares vhost-user and
#          vfio-user with the same QEMU and guest in one run (vdev-blk
#          only: qemu-storage-daemon has no vfio-user export)
#        VDEV_BENCH_DIRS ("/dev/shm /var/tmp"): where the 256 MiB image is
#        VDEV_BENCH_QEMU_DIRS ("/dev/shm"): the same for the QEMU runs
#        VDEV_BENCH_JOBS: "kind:bs:qd ..." (all six jobs below)
#        VDEV_BENCH_KINDS: back-ends to run (all: vdev-uring vdev-sync
#          vdev-scsi qsd qsd-uring, plus builtin under QEMU)
#        VDEV_BENCH_REPEAT (1): boots per case, interleaved across the
#          back-ends; the table gives the median of the repeats, because a
#          single run on a shared 2-core host swings 2x
#        VDEV_BENCH_OUT: also write the table there
#
# Guest load: tests/bench/guest-blk/loadgen.c (static; O_DIRECT, native
# AIO keeping QD requests queued from one thread), because the busybox
# initramfs has no libc for a dynamic fio.  Host CPU per request: utime +
# stime of the back-end process (/proc/PID/stat) across one job, divided by
# the requests the guest completed; for QEMU's built-in device there is no
# separate back-end process, so none is given.  Guest CPU per request: the
# same for the frontend's processes (UML's, or QEMU's), the guest's own
# driver stack included: where a back-end makes the guest work harder (a
# virtio-scsi LUN that Linux takes for a rotating disk did), it shows
# there, and the back-end's column then grows too (fewer requests per
# wakeup).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { sed -n '9,20p' "$0" >&2; exit 2; }
VDEV_BUILD_DIR=$(cd "$1" && pwd) || exit 2
export VDEV_BUILD_DIR
. "$here/../../guest/lib.sh"
. "$here/../lib/guest.sh"
guest_setup

SECS=${VDEV_BENCH_SECS:-3}
FRONTENDS=${VDEV_BENCH_FRONTENDS:-uml qemu}
DIRS=${VDEV_BENCH_DIRS:-/dev/shm /var/tmp}
QDIRS=${VDEV_BENCH_QEMU_DIRS:-/dev/shm}
JOBS=${VDEV_BENCH_JOBS:-"randread:4096:1 randread:4096:32 randwrite:4096:1 randwrite:4096:32 seqread:1048576:4 seqwrite:1048576:4"}
REPEAT=${VDEV_BENCH_REPEAT:-1}
BLK=$VDEV_BUILD_DIR/daemons/blk/vdev-blk
SCSI=$VDEV_BUILD_DIR/daemons/scsi/vdev-scsi
QSD=$(command -v qemu-storage-daemon || true)
TCK=$(getconf CLK_TCK)
RESULTS=$GUEST_WORK/results
: >"$RESULTS"

[ -x "$BLK" ] || { echo "no $BLK" >&2; exit 1; }
cc -static -O2 -o "$GUEST_WORK/loadgen" "$here/loadgen.c" || exit 1

start_backend() { # KIND IMG SOCK TRANSPORT; sets BPID (empty: no separate process)
	local kind=$1 img=$2 sock=$3 tr=$4 log=$GUEST_WORK/$1.log
	rm -f "$sock"
	BPID=
	case $kind in
	vdev-uring|vdev-sync)
		bg_start "$log" "$BLK" --transport "$tr" -s "$sock" -b "$img" \
			--backend "${kind#vdev-}" ;;
	vdev-scsi)
		bg_start "$log" "$SCSI" --transport "$tr" -s "$sock" "$img" ;;
	qsd|qsd-uring)
		local aio=
		[ "$kind" = qsd-uring ] && aio=",aio=io_uring"
		bg_start "$log" "$QSD" --blockdev \
			"driver=file,node-name=disk,filename=$img$aio" \
			--export "type=vhost-user-blk,id=e0,node-name=disk,addr.type=unix,addr.path=$sock,writable=on" ;;
	builtin) return 0 ;;
	esac
	BPID=$BG_PID
	wait_socket "$sock" || echo "bench: $kind did not create $sock" >&2
}

# One guest boot running every job; the host samples the back-end's CPU
# time at each job's BEGIN line and result line.
run_case() { # FE KIND DIR
	local fe=$1 kind=$2 dir=$3 img sock=$GUEST_WORK/b.sock
	local log gpid seen=0 c0=0 g0=0 job= l
	img=$dir/vdev-bench-$$.img
	log=$GUEST_WORK/$fe-$kind-${dir//\//_}.log
	rm -f "$log"  # the poll below must not read an older run's lines
	start_backend "$kind" "$img" "$sock" "$(fe_transport "$fe")"
	local devs=() initrd=${INITRD_QEMU:-}
	[ "$fe" = uml ] && initrd=$INITRD_UML
	if [ "$kind" = builtin ]; then
		devs=(-drive "file=$img,format=raw,if=none,id=d0,cache=writeback"
			-device virtio-blk-pci,drive=d0)
	elif [ "$kind" = vdev-scsi ]; then
		fe_device "$fe" devs "$sock" scsi num_queues=1
	else
		fe_device "$fe" devs "$sock" blk
	fi
	fe_run "$fe" "$log" "$initrd" 600 -- "${devs[@]}" >/dev/null &
	gpid=$!
	# New log lines through a file, not a process substitution: bash
	# (5.2) can miss the exit of such a child when it polls this often,
	# and then waits for any other child (the back-end) for good.
	local chunk=$GUEST_WORK/chunk
	while :; do
		local alive=1
		kill -0 "$gpid" 2>/dev/null || alive=0
		tail -n +"$((seen + 1))" "$log" >"$chunk" 2>/dev/null
		while IFS= read -r l; do
			seen=$((seen + 1))
			l=${l%$'\r'}
			case $l in
			BENCH-BEGIN*)
				job=${l#BENCH-BEGIN }
				[ -n "$BPID" ] && c0=$(cpu_ticks "$BPID")
				g0=$(tree_ticks "$gpid") ;;
			LOADGEN-BENCH*)
				local c1=0 g1 ops iops mbps cpu=- gcpu=-
				[ -n "$BPID" ] && c1=$(cpu_ticks "$BPID")
				g1=$(tree_ticks "$gpid")
				ops=$(echo "$l" | sed 's/.* ops=\([0-9]*\).*/\1/')
				iops=$(echo "$l" | sed 's/.* iops=\([0-9]*\).*/\1/')
				mbps=$(echo "$l" | sed 's/.* mbps=\([0-9.]*\).*/\1/')
				[ -n "$BPID" ] && [ "$ops" -gt 0 ] &&
					cpu=$(echo "scale=1; ($c1 - $c0) * 1000000 / $TCK / $ops" | bc)
				[ "$ops" -gt 0 ] &&
					gcpu=$(echo "scale=1; ($g1 - $g0) * 1000000 / $TCK / $ops" | bc)
				echo "$fe ${dir} $kind $job $iops $mbps $cpu $gcpu" >>"$RESULTS" ;;
			esac
		done <"$chunk"
		[ $alive = 0 ] && break
		sleep 0.05
	done
	wait "$gpid" 2>/dev/null
	grep -aq 'VDEV-GUEST-RESULT: PASS' "$log" ||
		{ echo "bench: $fe $kind $dir: guest failed:" >&2; tail -n 5 "$log" >&2; }
	[ -n "$BPID" ] && bg_stop "$BPID"
}

ENVS=(-f "$GUEST_WORK/loadgen:/data/loadgen" -e "VDEV_BENCH_JOBS=$JOBS"
      -e "VDEV_BENCH_SECS=$SECS")
kinds_vu="vdev-uring vdev-sync"
[ -x "$SCSI" ] && kinds_vu+=" vdev-scsi"
[ -n "$QSD" ] && kinds_vu+=" qsd qsd-uring"
# keep_kinds LIST: LIST filtered by VDEV_BENCH_KINDS
keep_kinds() {
	local k out=
	[ -z "${VDEV_BENCH_KINDS:-}" ] && { echo "$*"; return; }
	for k in "$@"; do
		case " $VDEV_BENCH_KINDS " in *" $k "*) out+=" $k" ;; esac
	done
	echo $out
}
# Each repeat boots every (frontend, image dir, back-end) once, so a
# frontend is not measured in a quieter minute of the shared host than the
# one it is compared with.
t0=$SECONDS
cases=() imgdirs=()
for fe in $FRONTENDS; do
	why=$(fe_unavailable "$fe")
	[ -n "$why" ] && { echo "bench: $fe skipped: $why" >&2; continue; }
	if [ "$fe" = uml ]; then
		INITRD_UML=$GUEST_WORK/bench-uml.cpio
		guest_initramfs uml "$INITRD_UML" -n bench "${ENVS[@]}" \
			"$here/bench.in-guest"
		dirs=$DIRS kinds=$kinds_vu
	else
		INITRD_QEMU=$GUEST_WORK/bench-qemu.cpio
		guest_initramfs qemu "$INITRD_QEMU" \
			-M "virtio_blk virtio_scsi sd_mod" -n bench \
			"${ENVS[@]}" "$here/bench.in-guest"
		dirs=$QDIRS kinds="$kinds_vu builtin"
		# vfio-user: vdev-blk only (QEMU's built-in device is the same
		# with or without vfio-user: the qemu11 run has it).
		[ "$(fe_transport "$fe")" = vfio-user ] &&
			kinds="vdev-uring vdev-sync"
	fi
	for dir in $dirs; do
		[[ " ${imgdirs[*]} " == *" $dir "* ]] || imgdirs+=("$dir")
		for kind in $(keep_kinds $kinds); do
			cases+=("$fe $dir $kind")
		done
	done
done
for dir in "${imgdirs[@]}"; do
	dd if=/dev/zero of="$dir/vdev-bench-$$.img" bs=1M count=256 \
		status=none conv=fsync
done
for rep in $(seq "$REPEAT"); do
	for c in "${cases[@]}"; do
		set -- $c
		echo "bench: $1 $2 $3 ($rep/$REPEAT)" >&2
		run_case "$1" "$3" "$2"
	done
done
for dir in "${imgdirs[@]}"; do
	rm -f "$dir/vdev-bench-$$.img"
done

# Median of the repeats, per (fe, dir, kind, job), in first-seen order.
[ "$REPEAT" -gt 1 ] && bench_median "$RESULTS" 4

{
echo "guest-blk benchmark: ${SECS}s per job, 256 MiB raw image, median of $REPEAT, $(nproc) host CPUs, $(uname -r)"
echo "frontend: uml = User-Mode Linux (native), qemu* = QEMU TCG (reference only; -vfio: vfio-user)"
printf '%-11s %-9s %-10s %-20s %9s %9s %10s %12s\n' fe image backend job IOPS MiB/s "cpu-us/req" "guest-us/req"
while read -r fe dir kind job iops mbps cpu gcpu; do
	printf '%-11s %-9s %-10s %-20s %9s %9s %10s %12s\n' "$fe" "$dir" "$kind" \
		"$job" "$iops" "$mbps" "$cpu" "$gcpu"
done <"$RESULTS"
echo
echo "ratio vdev-blk (uring) / qemu-storage-daemon (default aio=threads; aio=io_uring): IOPS, and CPU per request"
while read -r fe dir kind job iops mbps cpu gcpu; do
	[ "$kind" = vdev-uring ] || continue
	for q in qsd qsd-uring; do
		set -- $(awk -v f="$fe" -v d="$dir" -v k="$q" -v j="$job" \
			'$1 == f && $2 == d && $3 == k && $4 == j {print $5, $7}' "$RESULTS")
		[ $# = 2 ] || continue
		printf '%-5s %-9s %-20s vs %-9s IOPS x%s  cpu/req x%s\n' "$fe" "$dir" "$job" "$q" \
			"$(echo "scale=2; $iops / $1" | bc)" \
			"$( [ "$cpu" != - ] && [ "$2" != - ] && [ "$2" != 0 ] && echo "scale=2; $cpu / $2" | bc || echo -)"
	done
done <"$RESULTS"
if grep -q ' vdev-scsi ' "$RESULTS"; then
	echo
	echo "ratio vdev-scsi / vdev-blk (uring, same image and frontend): IOPS, and CPU per request"
	while read -r fe dir kind job iops mbps cpu gcpu; do
		[ "$kind" = vdev-scsi ] || continue
		set -- $(awk -v f="$fe" -v d="$dir" -v j="$job" \
			'$1 == f && $2 == d && $3 == "vdev-uring" && $4 == j {print $5, $7}' "$RESULTS")
		[ $# = 2 ] && [ "$1" != 0 ] || continue
		printf '%-5s %-9s %-20s IOPS x%s  cpu/req x%s\n' "$fe" "$dir" "$job" \
			"$(echo "scale=2; $iops / $1" | bc)" \
			"$( [ "$cpu" != - ] && [ "$2" != - ] && [ "$2" != 0 ] && echo "scale=2; $cpu / $2" | bc || echo -)"
	done <"$RESULTS"
fi
if grep -q -- '-vfio ' "$RESULTS"; then
	echo
	echo "ratio vfio-user / vhost-user (same QEMU, guest, back-end and image): IOPS, and CPU per request"
	while read -r fe dir kind job iops mbps cpu gcpu; do
		[[ $fe == *-vfio ]] || continue
		set -- $(awk -v f="${fe%-vfio}" -v d="$dir" -v k="$kind" -v j="$job" \
			'$1 == f && $2 == d && $3 == k && $4 == j {print $5, $7}' "$RESULTS")
		[ $# = 2 ] && [ "$1" != 0 ] || continue
		printf '%-11s %-9s %-10s %-20s IOPS %s/%s = x%s  cpu/req x%s\n' \
			"$fe" "$dir" "$kind" "$job" "$iops" "$1" \
			"$(echo "scale=2; $iops / $1" | bc)" \
			"$( [ "$cpu" != - ] && [ "$2" != - ] && [ "$2" != 0 ] && echo "scale=2; $cpu / $2" | bc || echo -)"
	done <"$RESULTS"
fi
echo "total time: $((SECONDS - t0)) s"
} | tee ${VDEV_BENCH_OUT:+"$VDEV_BENCH_OUT"}
