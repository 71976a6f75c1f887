#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# vdev-net beside DPDK's vhost PMD, as issue 14 asks, in one run, with
# DPDK's virtio-user (dpdk-testpmd) as the frontend of both:
#   tx: virtio-user txonly into vdev-net's sink, against virtio-user
#       txonly into testpmd's net_vhost port in rxonly mode;
#   rx: vdev-net's source into virtio-user rxonly, against net_vhost in
#       txonly mode into virtio-user rxonly.
# 64- and 1500-byte frames, split and packed rings (256 entries), one
# core per side: the device (vdev-net's queue thread, or the vhost
# testpmd's forwarding lcore) on the first CPU, virtio-user's forwarding
# lcore on the second; testpmd's main lcores (statistics only) on the
# other one. The rate of a row is virtio-user's per-second Tx-pps (tx) or
# Rx-pps (rx): the same place for both devices. Medians over the repeats,
# which are interleaved (vdev, DPDK, vdev, ...) so a change of load hits
# both. A benchmark: it prints, never fails on time.
#
# usage: tests/bench/net/testpmd.sh BUILD_DIR   (a Release build)
# Memory: DPDK's EAL (both testpmds) on 2 MiB hugepages when 512 are
# free, which is DPDK's best configuration; run as root, the script
# reserves them for the run (vm.nr_hugepages, and a hugetlbfs mount if
# there is none) and gives them back (VDEV_BENCH_HUGEPAGES=0: do not).
# Without them, --no-huge (memfd). The table's first line says which.
# env:   VDEV_BENCH_REPEAT (3) rounds; VDEV_BENCH_SECS (3) seconds per
#        measurement; VDEV_BENCH_OUT: also write the table there;
#        VDEV_BENCH_ROWS: e.g. "split-64 packed-64" (default all four);
#        VDEV_BENCH_NET_ARGS: vdev-net's options beyond the sink's
#        (default --poll-us 1000: it polls its rings like DPDK's PMD
#        does instead of sleeping until a kick; "" for none)
set -uo pipefail
[ $# -ge 1 ] || { sed -n '3,29p' "$0" >&2; exit 2; }
BUILD=$(cd "$1" && pwd) || exit 2
NET=$BUILD/daemons/net/vdev-net
REPEAT=${VDEV_BENCH_REPEAT:-3}
SECS=${VDEV_BENCH_SECS:-3}
ROWS=${VDEV_BENCH_ROWS:-split-64 split-1500 packed-64 packed-1500}
NET_ARGS=${VDEV_BENCH_NET_ARGS---poll-us 1000}
. "$(dirname "$0")/../lib/testpmd.sh"
[ -n "$TESTPMD" ] || { echo "SKIP: no dpdk-testpmd (scripts/install-deps.sh bench)"; exit 0; }
[ -x "$NET" ] || { echo "SKIP: no $NET"; exit 0; }
tp_cpus || { echo "SKIP: needs two CPUs"; exit 0; }
# DPDK's best configuration is with hugepages: as root, reserve what two
# testpmds take (2 x 512 MiB) for this run, and give it back at the end.
tp_huge_reserve 512
tp_mem
[ -n "$TP_HUGE_OLD$TP_HUGE_MNT" ] && TP_MEMNOTE+=" (reserved for this run)"
work=$(mktemp -d /tmp/vdev-net-testpmd.XXXXXX)
dpid=
t0=$SECONDS
cleanup() {
	[ -n "$dpid" ] && kill -KILL "$dpid" 2>/dev/null
	tp_cleanup
	tp_huge_restore
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
dev=$TP_CPU0 drv=$TP_CPU1
common=(--nb-cores=1 --rxd=256 --txd=256 --total-num-mbufs=16384
	--stats-period=1)

# measure KIND DIR RING LEN: the median Mpps of virtio-user's side, "-"
# when it never moved. KIND: vdev or dpdk; DIR: tx or rx.
measure() {
	local kind=$1 dir=$2 ring=$3 len=$4 sock=$work/sock packed=0
	local ulog=$work/user.log vlog=$work/vhost.log key mode vpid= upid
	[ "$ring" = packed ] && packed=1
	if [ "$dir" = tx ]; then key=Tx-pps mode=txonly; else key=Rx-pps mode=rxonly; fi
	rm -f "$sock"
	if [ "$kind" = vdev ]; then
		local src=()
		[ "$dir" = rx ] && src=(--source-len "$len")
		setsid taskset -c "$dev" "$NET" -s "$sock" --sink "${src[@]}" \
			$NET_ARGS \
			>"$work/daemon.log" 2>&1 </dev/null &
		dpid=$!
	else
		local vmode=rxonly
		[ "$dir" = rx ] && vmode=txonly
		tp_start "$vlog" "$dev" "$drv" "net_vhost0,iface=$sock,queues=1" \
			--forward-mode=$vmode --txpkts="$len" "${common[@]}"
		vpid=$TP_PID
	fi
	for _ in $(seq 300); do [ -S "$sock" ] && break; sleep 0.05; done
	tp_start "$ulog" "$drv" "$dev" \
		"net_virtio_user0,path=$sock,queues=1,queue_size=256,packed_vq=$packed" \
		--forward-mode=$mode --txpkts="$len" "${common[@]}"
	upid=$TP_PID
	# Until SECS + 1 seconds of traffic were counted (the first is
	# partly start-up).
	for _ in $(seq $((10 * (SECS + 30)))); do
		[ "$(grep -ao "$key: *[0-9]*" "$ulog" | awk '$2 > 0' | wc -l)" -gt "$SECS" ] &&
			break
		kill -0 "$upid" 2>/dev/null || break
		sleep 0.1
	done
	tp_stop "$upid"
	[ -n "$vpid" ] && tp_stop "$vpid"
	if [ -n "$dpid" ]; then
		kill -TERM "$dpid" 2>/dev/null
		wait "$dpid" 2>/dev/null
		dpid=
	fi
	# In a $(...) subshell: its testpmds and their runtime dirs go here.
	tp_cleanup
	tp_rates "$ulog" "$key" 1 "$SECS"
	if ! grep -aq "$key: *[1-9]" "$ulog"; then
		echo "testpmd.sh: $kind $dir $ring $len: no rate; the logs:" >&2
		tail -n 6 "$ulog" "$vlog" "$work/daemon.log" 2>/dev/null >&2
	fi
}

res=$work/results
: >"$res"
for rep in $(seq "$REPEAT"); do
	for r in $ROWS; do
		ring=${r%-*} len=${r#*-}
		for dir in tx rx; do
			echo "testpmd.sh: $dir $ring $len B ($rep/$REPEAT)" >&2
			v=$(measure vdev "$dir" "$ring" "$len")
			d=$(measure dpdk "$dir" "$ring" "$len")
			echo "$dir $ring $len $v $d" >>"$res"
		done
	done
done

{
echo "virtio-net, DPDK $(dpkg-query -W -f='${Version}' dpdk-dev 2>/dev/null || echo '?') virtio-user (testpmd) as the frontend of both, 256-entry rings, device on CPU $dev, virtio-user on CPU $drv, median of $REPEAT x ${SECS}s, $(nproc) CPUs, $TP_MEMNOTE"
echo "vdev-net ${NET_ARGS:-(no options)}; load at the end: $(cut -d' ' -f1-3 /proc/loadavg); $((SECONDS - t0)) s"
printf '%-3s %-7s %6s %15s %15s %7s\n' dir ring bytes "vdev-net Mpps" "DPDK vhost Mpps" ratio
for r in $ROWS; do
	ring=${r%-*} len=${r#*-}
	for dir in tx rx; do
		awk -v d="$dir" -v r="$ring" -v l="$len" '
		function med(a, n,   i, j, t) {
			for (i = 2; i <= n; i++)
				for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) {
					t = a[j]; a[j] = a[j-1]; a[j-1] = t }
			return a[int((n + 1) / 2)] }
		$1 == d && $2 == r && $3 == l {
			if ($4 != "-") v[++n] = $4; if ($5 != "-") x[++m] = $5 }
		END { mv = n ? med(v, n) : 0; md = m ? med(x, m) : 0
		      printf "%-3s %-7s %6s %15s %15s %7s\n", d, r, l,
			n ? sprintf("%.2f", mv) : "-", m ? sprintf("%.2f", md) : "-",
			(mv > 0 && md > 0) ? sprintf("x%.2f", mv / md) : "-" }' "$res"
	done
done
} | tee ${VDEV_BENCH_OUT:+"$VDEV_BENCH_OUT"}
