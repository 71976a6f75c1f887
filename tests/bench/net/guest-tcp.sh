#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Guest TCP throughput through a tap, as issue 14 asks: the same Linux
# guest (stock Debian kernel, 1 vCPU, 256 MiB, virtio-net-pci with the
# same options) on vdev-net over vhost-user (--tap, in a network namespace
# this script makes) and on QEMU's own tap backend without vhost-net
# (-netdev tap,vhost=off, QEMU in the same kind of namespace), each with
# TSO on and off, guest to host ("tx") and host to guest ("rx"), under
# each QEMU asked for. Numbers, not pass/fail.
#
# usage: guest-tcp.sh BUILD_DIR   (a Release build: daemons/net/vdev-net,
#                                   tests/guest/guest_net_stream; root)
# env:   VDEV_BENCH_SECS (5) seconds per transfer
#        VDEV_BENCH_REPEAT (3) boots per case, interleaved across the
#          cases; the table gives the medians
#        VDEV_BENCH_FRONTENDS ("qemu qemu11"): QEMU 7.2 and QEMU 11.1,
#          both TCG here (the guest's CPU is the bottleneck: compare the
#          columns, not the absolute numbers)
#        VDEV_BENCH_KINDS ("vdev-net qemu-tap"), VDEV_BENCH_TSO ("on off"),
#        VDEV_BENCH_NET_DIRS ("tx rx")
#        VDEV_BENCH_NET: the vdev-net binary (default the build's)
#        VDEV_BENCH_OUT: also write the table there
#
# TSO off is the same for both back-ends: the device properties
# host_tso4/6, guest_tso4/6, host_ecn, guest_ecn, host_ufo and guest_ufo
# off on virtio-net-pci (QEMU masks the back-end's features with them, a
# vhost-user back-end's too), so neither direction negotiates TCP
# segmentation offload and the guest's and the host's stacks segment in
# software; checksum offload stays on. The guest prints the negotiated
# bits and the table shows them ("tso" column: what the guest got).
# The data: tests/guest/progs/net_stream.c with -n (nothing generated or
# hashed, which under TCG would be what is measured), the host's end in
# the namespace. MB/s = bytes / the guest's net_stream time (connect to
# the peer's close). CPU: QEMU's process (the guest, and for qemu-tap the
# device and its tap I/O too) and vdev-net's, from /proc/PID/stat across
# the transfer: percent of one CPU over the window, and ms per MB moved;
# irq/MB: the guest's virtio interrupts per MB (its /proc/interrupts).
# QEMU 7.2 runs with vectors=0 (INTx) for both back-ends: the vhost-user
# device needs it under TCG (tests/guest/tests/net.lib).
# Reading it: under TCG there is no irqfd, so every interrupt vdev-net
# raises goes through QEMU's main loop (its call eventfd), and every kick
# wakes vdev-net's thread: a round trip crosses one thread more than with
# QEMU's own device, whose main loop both moves the frames and raises the
# interrupt. On a loaded 2-CPU host each crossing can wait for a CPU; the
# idle link's ping and the qemu% column (the guest waiting) show it, and
# --poll-us (VDEV_BENCH_NET pointing at a wrapper that adds it) removes
# the kick's crossing at the cost of vdev-net's CPU. With KVM's irqfd and
# ioeventfd neither crossing goes through QEMU.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { sed -n '3,22p' "$0" >&2; exit 2; }
VDEV_BUILD_DIR=$(cd "$1" && pwd) || exit 2
export VDEV_BUILD_DIR
. "$here/../../guest/lib.sh"
. "$here/../../guest/tests/net.lib"
. "$here/../lib/guest.sh"
guest_setup
trap 'net_cleanup; guest_cleanup' EXIT

SECS=${VDEV_BENCH_SECS:-5}
REPEAT=${VDEV_BENCH_REPEAT:-3}
FRONTENDS=${VDEV_BENCH_FRONTENDS:-qemu qemu11}
KINDS=${VDEV_BENCH_KINDS:-vdev-net qemu-tap}
TSOS=${VDEV_BENCH_TSO:-on off}
DIRS=${VDEV_BENCH_NET_DIRS:-tx rx}
NET=${VDEV_BENCH_NET:-$(daemon_bin vdev-net)}
STREAM=$VDEV_BUILD_DIR/tests/guest/guest_net_stream
TCK=$(getconf CLK_TCK)
RESULTS=$GUEST_WORK/results
: >"$RESULTS"
TSO_OFF=",host_tso4=off,host_tso6=off,guest_tso4=off,guest_tso6=off"
TSO_OFF+=",host_ecn=off,guest_ecn=off,host_ufo=off,guest_ufo=off"

why=
[ -x "$NET" ] || why="no $NET (pass a Release build dir)"
[ -z "$why" ] && [ ! -x "$STREAM" ] && why="no $STREAM"
[ -z "$why" ] && why=$(net_unavailable)
[ -z "$why" ] && { net_ns_up "vdevtcp$$" || why="cannot create a network namespace"; }
[ -n "$why" ] && { echo "SKIP: $why"; exit 0; }

# tso_of FEATURES: what the guest negotiated, from the device's feature
# string: "on" with host and guest TSO4, "off" with neither, else the bits.
tso_of() {
	local f=$1
	case "${f:7:2}${f:11:2}" in
	1111) echo on ;;
	0000) echo off ;;
	*) echo "g${f:7:2}h${f:11:2}" ;;
	esac
}

# One boot: FE KIND TSO REP. The host's net_stream ends wait in the
# namespace; the guest runs DIRS one after the other; CPU times are taken
# at each BENCH-BEGIN and BENCH-RESULT line.
run_case() {
	local fe=$1 kind=$2 tso=$3 rep=$4 tap=vtb$$x$RANDOM
	local log=$GUEST_WORK/$fe-$kind-$tso-$rep.log sock=$GUEST_WORK/n.sock
	local props="" devs=() dpid= gpid spids=() qbin hostfail= tapped=
	tap=${tap:0:15}
	[ "$tso" = off ] && props=$TSO_OFF
	qbin=$(fe_qemu "$fe")
	bg_start "$GUEST_WORK/srv-tx.log" ip netns exec "$NET_NS" "$STREAM" -n serve-recv 5001
	spids+=("$BG_PID")
	bg_start "$GUEST_WORK/srv-rx.log" ip netns exec "$NET_NS" "$STREAM" -n -t "$SECS" serve-send 5002 0
	spids+=("$BG_PID")
	case $kind in
	vdev-net)
		rm -f "$sock"
		bg_start "$GUEST_WORK/vdev-net.log" ip netns exec "$NET_NS" "$NET" \
			-s "$sock" --tap "$tap" --mac 52:54:00:12:34:56
		dpid=$BG_PID
		wait_socket "$sock" || hostfail="vdev-net did not create $sock"
		net_tap_up "$tap" || hostfail="tap $tap not set up"
		tapped=1
		net_vhost_devs "$fe" devs "$sock" 1 "$props" ;;
	qemu-tap)
		# QEMU makes the tap, in the namespace: it runs there.
		qbin=$GUEST_WORK/qemu-in-ns-$fe
		printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$NET_NS" \
			"$(fe_qemu "$fe")" >"$qbin"
		chmod +x "$qbin"
		devs=(-netdev "tap,id=n0,ifname=$tap,script=no,downscript=no,vhost=off"
			-device "virtio-net-pci,netdev=n0,mac=52:54:00:12:34:56$(net_qemu_vectors "$fe" 1)$props") ;;
	esac
	rm -f "$log"
	if [ -z "$hostfail" ]; then
		QEMU_BIN=$qbin run_qemu "$log" "$INITRD" 600 -- "${devs[@]}" >/dev/null &
		gpid=$!
	fi
	local seen=0 l chunk=$GUEST_WORK/chunk feat=- q0=0 d0=0 t0=0 i
	while [ -n "${gpid:-}" ]; do
		local alive=1
		kill -0 "$gpid" 2>/dev/null || alive=0
		if [ -z "$tapped" ] &&
			ip netns exec "$NET_NS" ip link show "$tap" >/dev/null 2>&1; then
			net_tap_up "$tap" || hostfail="tap $tap not set up"
			tapped=1
		fi
		tail -n +"$((seen + 1))" "$log" >"$chunk" 2>/dev/null
		while IFS= read -r l; do
			seen=$((seen + 1))
			l=${l%$'\r'}
			case $l in
			BENCH-FEATURES*) feat=$(tso_of "${l#BENCH-FEATURES }") ;;
			BENCH-RTT*)
				echo "$fe $kind $tso rtt $feat ${l#BENCH-RTT }" >>"$RESULTS" ;;
			BENCH-BEGIN*)
				t0=$(date +%s%N)
				q0=$(tree_ticks "$gpid")
				d0=0; [ -n "$dpid" ] && d0=$(tree_ticks "$dpid") ;;
			BENCH-RESULT*)
				local t1 q1 d1=0 dir bytes ms
				t1=$(date +%s%N)
				q1=$(tree_ticks "$gpid")
				[ -n "$dpid" ] && d1=$(tree_ticks "$dpid")
				set -- $l
				dir=$2 bytes=$3 ms=$4 irq=${5:-0}
				[ "$ms" -gt 0 ] && [ "$bytes" -gt 0 ] || continue
				awk -v fe="$fe" -v k="$kind" -v tso="$tso" -v f="$feat" \
					-v d="$dir" -v b="$bytes" -v ms="$ms" -v q="$((q1 - q0))" -v irq="$irq" \
					-v v="$((d1 - d0))" -v w="$(((t1 - t0) / 1000000))" \
					-v tck="$TCK" -v has="${dpid:+1}" 'BEGIN {
					mb = b / 1e6
					qs = q / tck; vs = v / tck
					printf "%s %s %s %s %s %.1f %.0f %s %.1f %s %.1f\n", fe, k, tso, d, f,
						mb / (ms / 1000), 100 * qs / (w / 1000),
						has ? sprintf("%.0f", 100 * vs / (w / 1000)) : "-",
						1000 * qs / mb,
						has ? sprintf("%.2f", 1000 * vs / mb) : "-",
						irq / mb }' >>"$RESULTS" ;;
			esac
		done <"$chunk"
		[ $alive = 0 ] && break
		sleep 0.05
	done
	[ -n "${gpid:-}" ] && wait "$gpid" 2>/dev/null
	for i in "${spids[@]}"; do bg_stop "$i"; done
	[ -n "$dpid" ] && bg_stop "$dpid"
	ip netns exec "$NET_NS" ip link del "$tap" 2>/dev/null
	if [ -n "$hostfail" ] || ! grep -aq 'VDEV-GUEST-RESULT: PASS' "$log" 2>/dev/null; then
		echo "bench: $fe $kind tso $tso: failed${hostfail:+: $hostfail}" >&2
		tail -n 5 "$log" >&2 2>/dev/null
	fi
}

INITRD=$GUEST_WORK/bench-net.cpio
guest_initramfs qemu "$INITRD" -M virtio_net -n bench-net \
	-b "$STREAM:/bin/net_stream" -e VDEV_BENCH_SECS="$SECS" \
	-e VDEV_BENCH_NET_DIRS="$DIRS" "$here/tcp.in-guest"
t0=$SECONDS
cases=()
for fe in $FRONTENDS; do
	why=$(fe_unavailable "$fe")
	[ -z "$why" ] && [ "$(fe_kind "$fe")" != qemu ] && why="not a QEMU frontend"
	[ -z "$why" ] && [ "$(fe_transport "$fe")" != vhost-user ] && why="not vhost-user"
	[ -n "$why" ] && { echo "bench: $fe skipped: $why" >&2; continue; }
	for tso in $TSOS; do
		for kind in $KINDS; do cases+=("$fe $kind $tso"); done
	done
done
for rep in $(seq "$REPEAT"); do
	for c in "${cases[@]}"; do
		set -- $c
		echo "bench: $1 $2 tso $3 ($rep/$REPEAT)" >&2
		run_case "$1" "$2" "$3" "$rep"
	done
done
[ "$REPEAT" -gt 1 ] && bench_median "$RESULTS" 5

{
echo "guest-tcp benchmark: ${SECS}s per transfer, median of $REPEAT boots, $(nproc) host CPUs, $(uname -r), load $(uptime | sed 's/.*average: //')"
echo "guest: stock $(cat "$GUEST_KERNEL_DIR/version"), 1 vCPU, 256 MiB, QEMU TCG; tx = guest to host, rx = host to guest"
echo "qemu%: QEMU's CPU (guest + its device work) in % of one CPU; vdev%: vdev-net's; ms/MB: CPU ms per MB moved"
printf '%-7s %-9s %-4s %-3s %-8s %8s %6s %6s %10s %10s %7s\n' fe backend tso dir negotiat MB/s qemu% vdev% qemu-ms/MB vdev-ms/MB irq/MB
while read -r fe kind tso dir feat mbs q v qm vm irq; do
	[ "$dir" = rtt ] && continue
	printf '%-7s %-9s %-4s %-3s %-8s %8s %6s %6s %10s %10s %7s\n' \
		"$fe" "$kind" "$tso" "$dir" "$feat" "$mbs" "$q" "$v" "$qm" "$vm" "$irq"
done <"$RESULTS"
echo
echo "ping round trip of the idle link, guest to host (ms, busybox's average of 20):"
while read -r fe kind tso dir feat rtt rest; do
	[ "$dir" = rtt ] && printf '%-7s %-9s tso %-3s %s\n' "$fe" "$kind" "$tso" "$rtt"
done <"$RESULTS"
echo
echo "ratio vdev-net / qemu-tap (same QEMU, guest, TSO and direction): MB/s, and QEMU's CPU per MB"
while read -r fe kind tso dir feat mbs q v qm vm irq; do
	[ "$kind" = vdev-net ] && [ "$dir" != rtt ] || continue
	set -- $(awk -v f="$fe" -v t="$tso" -v d="$dir" \
		'$1 == f && $2 == "qemu-tap" && $3 == t && $4 == d {print $6, $9}' "$RESULTS")
	[ $# = 2 ] || continue
	printf '%-7s tso %-3s %-3s MB/s %s/%s = x%s  qemu-ms/MB x%s\n' "$fe" "$tso" "$dir" \
		"$mbs" "$1" "$(echo "scale=2; $mbs / $1" | bc)" \
		"$(echo "scale=2; $qm / $2" | bc)"
done <"$RESULTS"
echo "total time: $((SECONDS - t0)) s"
} | tee ${VDEV_BENCH_OUT:+"$VDEV_BENCH_OUT"}
