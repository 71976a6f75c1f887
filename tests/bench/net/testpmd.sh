#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# DPDK's virtio-user (dpdk-testpmd from Debian's dpdk package, a real
# frontend that drives the rings much harder than a guest kernel) against
# vdev-net's sink/source: txonly into the sink, rxonly from the source,
# one core each side (testpmd's forwarding lcore, the daemon's queue
# worker). Prints testpmd's packet rate and both sides' packet counts.
# A benchmark: it prints, never fails on time.
#
# usage: tests/bench/net/testpmd.sh BUILD_DIR [SECONDS per run, default 10]
#        [FRAME BYTES, default 64]
set -u
build=${1:?usage: $0 BUILD_DIR [SECONDS] [BYTES]}
secs=${2:-10}
len=${3:-64}
net=$build/daemons/net/vdev-net
command -v dpdk-testpmd >/dev/null ||
	{ echo "SKIP: no dpdk-testpmd (package dpdk)"; exit 0; }
[ -x "$net" ] || { echo "SKIP: no $net"; exit 0; }
work=$(mktemp -d /tmp/vdev-net-testpmd.XXXXXX)
dpid=
cleanup() {
	[ -n "$dpid" ] && kill -TERM "$dpid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

for mode in txonly rxonly; do
	sock=$work/net.sock
	setsid "$net" -s "$sock" --sink --source-len "$len" \
		>"$work/daemon.log" 2>&1 </dev/null &
	dpid=$!
	for i in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
	# --no-huge: no hugepages needed; cores 0 (main) and 1 (forwarding).
	timeout -s INT "$secs" dpdk-testpmd -l 0-1 --no-huge -m 1024 \
		--no-pci --single-file-segments --file-prefix="vdevnet$$" \
		--vdev="net_virtio_user0,path=$sock,queue_size=256" -- \
		--forward-mode=$mode --txpkts="$len" --nb-cores=1 \
		--stats-period 2 >"$work/testpmd.log" 2>&1
	kill -USR1 "$dpid"
	sleep 0.5
	kill -TERM "$dpid"
	wait "$dpid" 2>/dev/null
	dpid=
	# The last periodic rate while traffic ran, and the totals.
	if [ $mode = txonly ]; then
		pps=$(grep -a 'Tx-pps:' "$work/testpmd.log" | awk '{print $2}' |
			sort -n | tail -n 1)
		pmd=$(grep -a 'TX-packets:' "$work/testpmd.log" | tail -n 1 |
			awk '{print $2}')
		q=1
	else
		pps=$(grep -a 'Rx-pps:' "$work/testpmd.log" | awk '{print $2}' |
			sort -n | tail -n 1)
		pmd=$(grep -a 'RX-packets:' "$work/testpmd.log" | tail -n 1 |
			awk '{print $2}')
		q=0
	fi
	dev=$(grep -a "queue $q: " "$work/daemon.log" | tail -n 1 |
		sed 's/.*queue [0-9]*: \([0-9]*\) requests.*/\1/')
	printf 'testpmd %-6s %5s B: best %6.2f Mpps; packets: testpmd %s, vdev-net %s\n' \
		"$mode" "$len" "$(echo "${pps:-0} / 1000000" | bc -l)" \
		"${pmd:-?}" "${dev:-?}"
done
