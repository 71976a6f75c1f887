#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# bench_xcore beside DPDK's vhost PMD, in one run, interleaved.
#
# DPDK: testpmd with a vhost-user port (net_vhost, forward mode rxonly:
# rte_vhost_dequeue_burst copies each packet into an mbuf, which is then
# freed) on the device's CPU, fed by a second testpmd with a virtio-user
# port in txonly mode (64-byte packets, one descriptor each with the
# virtio-net header pushed in front) on the driver's CPU; the rate is the
# vhost side's Rx-pps. libvdev: bench_xcore (a driver keeps the ring full
# of 64-byte buffers, the device pops, copies 64 bytes and pushes). Both
# use 256-entry rings, split and packed, bursts/batches of 1 and 32, and
# the same two CPUs.
#
# usage: xcore-dpdk.sh BUILD_DIR   (a Release build with bench_xcore)
# env:   VDEV_BENCH_REPEAT (3): rounds, interleaved; medians are printed
#        VDEV_BENCH_SECS (3): seconds per measurement
#        VDEV_BENCH_OUT: also write the table there
# Needs dpdk-testpmd (Debian's dpdk-dev: scripts/install-deps.sh bench).
# Hugepages are used when the host has some free, else --no-huge (memfd
# memory, which vhost-user can share); the table says which.
set -uo pipefail
[ $# -ge 1 ] || { sed -n '3,20p' "$0" >&2; exit 2; }
BUILD=$(cd "$1" && pwd) || exit 2
XCORE=$BUILD/tests/bench_xcore
REPEAT=${VDEV_BENCH_REPEAT:-3}
SECS=${VDEV_BENCH_SECS:-3}
[ -x "$XCORE" ] || { echo "no $XCORE" >&2; exit 1; }
. "$(dirname "$0")/lib/testpmd.sh"
[ -n "$TESTPMD" ] || { echo "SKIP: no dpdk-testpmd (scripts/install-deps.sh bench)"; exit 0; }

work=$(mktemp -d /tmp/vdev-xcore.XXXXXX)
cleanup() {
	tp_cleanup
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The CPUs bench_xcore uses: the first two this shell may run on.
tp_cpus || { echo "SKIP: needs two CPUs"; exit 0; }
dev_cpu=$TP_CPU0 drv_cpu=$TP_CPU1
tp_mem
memnote=$TP_MEMNOTE

# dpdk_rate RING BURST: the vhost side's median Rx-pps over SECS seconds.
dpdk_rate() {
	local ring=$1 burst=$2 sock=$work/vh.sock
	local vlog=$work/vhost.log ulog=$work/user.log packed=0 p1 p2
	local opts=(--port-topology=loop --nb-cores=1 --rxd=256 --txd=256
		--burst="$burst" --total-num-mbufs=16384 --stats-period=1)
	[ "$ring" = packed ] && packed=1
	rm -f "$sock"
	# Forwarding lcore on the device's (vhost) or the driver's
	# (virtio-user) CPU, main lcore (statistics only) on the other.
	tp_start "$vlog" "$dev_cpu" "$drv_cpu" \
		"net_vhost0,iface=$sock,queues=1" --forward-mode=rxonly "${opts[@]}"
	p1=$TP_PID
	for _ in $(seq 300); do [ -S "$sock" ] && break; sleep 0.1; done
	tp_start "$ulog" "$drv_cpu" "$dev_cpu" \
		"net_virtio_user0,path=$sock,queues=1,queue_size=256,packed_vq=$packed" \
		--forward-mode=txonly "${opts[@]}"
	p2=$TP_PID
	# Until the vhost side has counted SECS + 1 seconds of packets.
	for _ in $(seq $((10 * (SECS + 30)))); do
		[ "$(grep -ao 'Rx-pps: *[0-9]*' "$vlog" | awk '$2 > 0' | wc -l)" -gt "$SECS" ] &&
			break
		kill -0 "$p2" 2>/dev/null || break
		sleep 0.1
	done
	# In a $(...) subshell: its testpmds and runtime dirs end here.
	tp_cleanup
	# Per-second Rx-pps of the vhost port once packets flow; the first
	# such second is partly start-up.
	tp_rates "$vlog" Rx-pps 1 "$SECS"
	if ! grep -aq 'Rx-pps:' "$vlog"; then
		echo "xcore-dpdk: testpmd gave no rate; its logs:" >&2
		tail -n 8 "$vlog" "$ulog" >&2
	fi
}

res=$work/results
: >"$res"
for rep in $(seq "$REPEAT"); do
	for ring in split packed; do
		for b in 1 32; do
			echo "xcore-dpdk: $ring batch $b ($rep/$REPEAT)" >&2
			v=$("$XCORE" "$SECS" "$ring-$b" | awk '/Mreq/ {print $3}')
			d=$(dpdk_rate "$ring" "$b")
			echo "$ring $b $v $d" >>"$res"
		done
	done
done

{
echo "cross-core dequeue, 256-entry ring, 64-byte buffers, device on CPU $dev_cpu, driver on CPU $drv_cpu, median of $REPEAT x ${SECS}s, $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "DPDK $(dpkg-query -W -f='${Version}' dpdk-dev 2>/dev/null || echo '?') testpmd: vhost rxonly <- virtio-user txonly, $memnote"
printf '%-7s %-6s %14s %14s %8s\n' ring batch "libvdev Mreq/s" "DPDK Mpps" ratio
for ring in split packed; do
	for b in 1 32; do
		awk -v r="$ring" -v b="$b" '
		function med(a, n,   i, j, t) {
			for (i = 2; i <= n; i++)
				for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) {
					t = a[j]; a[j] = a[j-1]; a[j-1] = t }
			return a[int((n + 1) / 2)] }
		$1 == r && $2 == b { v[++n] = $3; if ($4 != "-") d[++m] = $4 }
		END { mv = n ? med(v, n) : 0; md = m ? med(d, m) : 0
		      printf "%-7s %-6s %14.2f %14s %8s\n", r, b, mv,
			m ? sprintf("%.2f", md) : "-",
			(md > 0) ? sprintf("x%.2f", mv / md) : "-" }' "$res"
	done
done
} | tee ${VDEV_BENCH_OUT:+"$VDEV_BENCH_OUT"}
