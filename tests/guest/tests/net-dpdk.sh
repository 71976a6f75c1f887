#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# DPDK's virtio-user as vdev-net's frontend (dpdk-testpmd from Debian's
# dpdk-dev, --vdev net_virtio_user0: what containerised DPDK applications
# use; it drives the rings much harder than a guest kernel). No guest: the
# frontend is a host process. One daemon and one testpmd per ring layout
# (split, packed), VDEV_NET_DPDK_PKTS packets (10 M) each way:
#   tx: testpmd txonly (64-byte frames) into the sink until vdev-net has
#       taken PKTS, then testpmd stops; once the ring is drained testpmd's
#       TX-packets must equal the tx queue's requests on vdev-net's
#       --stats-socket, with no queue error.
#   rx: the sink's source makes exactly PKTS 64-byte frames
#       (--source-count); testpmd rxonly must count exactly PKTS
#       RX-packets, and vdev-net's rx queue exactly PKTS requests.
# SKIPs with the reason when testpmd is missing or its environment cannot
# start (no memfd, no hugepages); a testpmd that started but whose port
# failed is a failure.
. "$(dirname "$0")/../lib.sh"
. "$GUEST_DIR/../bench/lib/testpmd.sh"
guest_setup
trap 'tp_cleanup; guest_cleanup' EXIT

NET=$(daemon_bin vdev-net)
PKTS=${VDEV_NET_DPDK_PKTS:-10000000}
LEN=64
WAIT=${VDEV_NET_DPDK_WAIT:-120} # seconds per direction at most
tp_cpus
tp_mem

dpdk_unavailable() {
	[ -n "$TESTPMD" ] || { echo "no dpdk-testpmd (scripts/install-deps.sh test: dpdk-dev)"; return; }
	[ -x "$NET" ] || { echo "no $NET"; return; }
	[ -n "${TP_CPU1:-}" ] || echo "needs two CPUs"
}

# dev_count SOCK QUEUE: the requests vdev-net counted on QUEUE, from its
# --stats-socket JSON; also fails when the queue counted errors.
dev_count() {
	python3 - "$1" "$2" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
b = b''
while True:
    c = s.recv(65536)
    if not c:
        break
    b += c
q = json.loads(b)["devices"][0]["queues"][int(sys.argv[2])]
print(q["requests"])
sys.exit(1 if q["errors"] else 0)
PY
}

# poll_until SECONDS CMD...: until CMD succeeds, every 0.2 s.
poll_until() {
	local end=$((SECONDS + $1)); shift
	while ! "$@"; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.2
	done
}

dev_reached() { # SOCK QUEUE N
	local c
	c=$(dev_count "$1" "$2") && [ "${c:-0}" -ge "$3" ]
}
# tp_counted LOG PID KEY N: asks testpmd PID for its port stats; true when
# KEY has reached N.
tp_counted() {
	local before c i
	before=$(grep -ac "$3:" "$1")
	tp_cmd "$2" "show port stats 0" || return 1
	for ((i = 0; i < 50; i++)); do
		[ "$(grep -ac "$3:" "$1")" -gt "$before" ] && break
		sleep 0.1
	done
	c=$(tp_port_stat "$1" "$3")
	[ "${c:-0}" -ge "$4" ]
}

dpdk_case() {
	local ring=$1 name=net-dpdk-$1 why packed=0 t0=$SECONDS
	why=$(dpdk_unavailable)
	[ -n "$why" ] && { guest_skip "$name" "$why"; return; }
	[ "$ring" = packed ] && packed=1
	local sock=$GUEST_WORK/$ring.sock stats=$GUEST_WORK/$ring.stats
	local dlog=$GUEST_WORK/vdev-net-$ring.log log=$GUEST_WORK/testpmd-$ring.log
	local fail=() tpid dpid dtx ttx drx trx
	bg_start "$dlog" "$NET" -s "$sock" --sink --source-len $LEN \
		--source-count "$PKTS" --stats-socket "$stats"
	dpid=$BG_PID
	wait_socket "$sock" && wait_socket "$stats" ||
		{ guest_result FAIL "$name" "vdev-net did not listen: $(tail -n 3 "$dlog")"; return; }
	# testpmd starts in txonly; the source's frames wait in the rx ring
	# (txonly reads nothing) and count in the rx phase.
	tp_start "$log" "$TP_CPU1" "$TP_CPU0" \
		"net_virtio_user0,path=$sock,queues=1,queue_size=256,packed_vq=$packed" \
		-i --forward-mode=txonly --txpkts=$LEN --nb-cores=1 \
		--rxd=256 --txd=256 --total-num-mbufs=8192
	tpid=$TP_PID
	if ! poll_until 60 grep -aq 'testpmd>' "$log"; then
		why=$(tp_eal_failed "$log")
		tp_stop "$tpid"
		bg_stop "$dpid"
		if [ -n "$why" ]; then
			guest_skip "$name" "testpmd cannot start its environment here: $why"
		else
			guest_result FAIL "$name" "testpmd did not come up: $(grep -a -v '^$' "$log" | tail -n 3 | tr '\n' ' ')"
		fi
		return
	fi
	# tx: until vdev-net took PKTS; stop; the ring drains; compare.
	tp_cmd "$tpid" start
	poll_until $WAIT dev_reached "$stats" 1 "$PKTS" ||
		fail+=("tx: vdev-net reached only $(dev_count "$stats" 1) of $PKTS in $WAIT s")
	tp_cmd "$tpid" stop
	sleep 1
	dtx=$(dev_count "$stats" 1) || fail+=("tx: vdev-net counted queue errors")
	tp_counted "$log" "$tpid" TX-packets 0
	ttx=$(tp_port_stat "$log" TX-packets)
	[ "${dtx:-x}" = "${ttx:-y}" ] && [ "${dtx:-0}" -ge "$PKTS" ] ||
		fail+=("tx: testpmd sent ${ttx:-?}, vdev-net took ${dtx:-?}")
	# rx: the source stops at PKTS; testpmd must read every one.
	tp_cmd "$tpid" "set fwd rxonly"
	tp_cmd "$tpid" start
	poll_until $WAIT dev_reached "$stats" 0 "$PKTS" ||
		fail+=("rx: vdev-net gave only $(dev_count "$stats" 0) of $PKTS in $WAIT s")
	poll_until 20 tp_counted "$log" "$tpid" RX-packets "$PKTS"
	sleep 0.5
	tp_counted "$log" "$tpid" RX-packets 0
	trx=$(tp_port_stat "$log" RX-packets)
	drx=$(dev_count "$stats" 0) || fail+=("rx: vdev-net counted queue errors")
	[ "${drx:-x}" = "$PKTS" ] && [ "${trx:-y}" = "$PKTS" ] ||
		fail+=("rx: vdev-net gave ${drx:-?}, testpmd received ${trx:-?} (want $PKTS)")
	tp_cmd "$tpid" stop
	tp_stop "$tpid"
	kill -0 "$dpid" 2>/dev/null || fail+=("vdev-net died: $(tail -n 3 "$dlog")")
	bg_stop "$dpid"
	if [ ${#fail[@]} = 0 ]; then
		guest_result PASS "$name" "tx $ttx = $dtx, rx $trx = $drx packets of $LEN bytes, $TP_MEMNOTE, $((SECONDS - t0)) s"
	else
		guest_result FAIL "$name" "$(IFS=';'; echo "${fail[*]}")"
		tail -n 20 "$log" "$dlog" >&2
	fi
}

dpdk_case split
dpdk_case packed
guest_finish
