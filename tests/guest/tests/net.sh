#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# virtio-net through daemons/net on a tap in a network namespace this test
# creates (root), with real Linux drivers: UML (virtio_uml, which hands the
# control queue to the daemon), QEMU 7.2 and 11.1 (-netdev vhost-user;
# QEMU keeps the control queue) and QEMU 11.1 as a vfio-user client.
# One boot per frontend: the guest pings 10.0.2.2 20 times with 1400-byte
# packets (0 % loss), sends and receives MB MiB over TCP at once (TSO on
# when the tap has a vnet header; net_stream generates and hashes the data
# on the fly on both ends, the sha256 compared), and where the daemon has
# the control queue turns promiscuous mode on, which must reach the daemon
# as CTRL_RX. The QEMU multiqueue cases boot 2 vCPUs and 2 queue pairs,
# and vdev-net's per-queue counters (its SIGUSR1 lines) must show data on
# every rx and tx queue of both pairs: at least half the second round's
# under QEMU 11.1 (MSI-X), some under 7.2 (INTx, see net_case); the
# guest's queues and per-queue interrupts are printed beside.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/net.lib"
guest_setup

NET=${VDEV_NET:-$(daemon_bin vdev-net)}
STREAM=${VDEV_BUILD_DIR:-}/tests/guest/guest_net_stream
NS=vdevnet$$
trap 'net_cleanup; guest_cleanup' EXIT

# stream_sum LOG: "SHA BYTES" of the NET-STREAM line in LOG.
stream_sum() {
	grep -a '^NET-STREAM ' "$1" | tail -n 1 | awk '{print $3, $4}'
}
# guest_sum LOG TAG: "SHA BYTES" of the guest's TAG line (NET-TX-SHA ...).
guest_sum() {
	grep -a "^$2 " "$1" | tr -d '\r' | tail -n 1 | awk '{print $2, $3}'
}

# net_case FE NAME MB [PROMISC [PAIRS [CPUS]]]: with PAIRS > 1 the daemon
# and the frontend run that many pairs and the guest runs a second round
# on swapped CPUs; a QEMU guest gets CPUS vCPUs (default 1), and with as
# many CPUs as pairs every queue of every pair must carry data (Linux uses
# one pair per online CPU, and XPS picks the pair of the sending CPU).
net_case() {
	local fe=$1 name=$2 mb=$3 promisc=${4:-0} pairs=${5:-1} cpus=${6:-1} why
	why=$(fe_unavailable "$fe")
	[ -n "$why" ] && { guest_skip "$name" "$why"; return; }
	local sock=$GUEST_WORK/net-$fe.sock log=$GUEST_WORK/$name.log
	local dlog=$GUEST_WORK/vdev-net-$fe.log initrd=$GUEST_WORK/net-$fe.cpio
	local tap=vdt-$fe devs=() hostfail= i flows=0 flow_mb=4
	# Bytes every rx and tx queue must carry with as many CPUs as pairs:
	# half the second round's. Under INTx (QEMU 7.2 below) all queues
	# share one interrupt, taken on CPU 0, so the ACK clock moves a
	# flow's tx to pair 0 and tap follows it: only "some" is sure there
	# (the connections made on CPU 1 send their SYN on pair 1, and tap
	# answers on the queue the SYN came from).
	local qmin=$((flow_mb << 19))
	tap=${tap:0:15}
	[ "$pairs" -gt 1 ] && flows=1
	guest_initramfs "$fe" "$initrd" -M virtio_net -n "$name" \
		-b "$STREAM:/bin/net_stream" \
		-e VDEV_NET_MB="$mb" -e VDEV_NET_PROMISC="$promisc" \
		-e VDEV_NET_FLOWS=$flows -e VDEV_NET_FLOW_MB=$flow_mb \
		"$GUEST_DIR/tests/net.in-guest"
	rm -f "$sock"
	bg_start "$dlog" ip netns exec "$NS" "$NET" --transport "$(fe_transport "$fe")" \
		-s "$sock" --tap "$tap" --mac 52:54:00:12:34:56 --log-level info \
		--queues "$pairs" \
		${VDEV_NET_ARGS:-}
	local dpid=$BG_PID
	wait_socket "$sock" || hostfail="vdev-net did not create $sock"
	net_tap_up "$tap" || hostfail="tap $tap not set up"
	# The host's ends: 5001 takes the guest's stream, 5002 sends one
	# (seed 2); 5003 and 5004 the same for the second round.
	local spids=() port
	for port in 5001 5002 5003 5004; do
		[ "$flows" = 0 ] && [ "$port" -gt 5002 ] && continue
		case $port in
		5001|5003) bg_start "$GUEST_WORK/host-$port.log" ip netns exec "$NS" \
				"$STREAM" serve-recv $port ;;
		5002) bg_start "$GUEST_WORK/host-$port.log" ip netns exec "$NS" \
				"$STREAM" serve-send $port "$mb" 2 ;;
		5004) bg_start "$GUEST_WORK/host-$port.log" ip netns exec "$NS" \
				"$STREAM" serve-send $port "$flow_mb" 4 ;;
		esac
		spids+=("$BG_PID")
	done
	case $fe in
	uml|*-vfio) fe_device "$fe" devs "$sock" net ;;
	*)	# Under INTx (QEMU 7.2, net_qemu_vectors) only "some" is sure.
		[ "$(net_qemu_vectors "$fe" "$pairs")" = ",vectors=0" ] && qmin=1
		net_vhost_devs "$fe" devs "$sock" "$pairs" ;;
	esac
	# A stalled guest is killed at 300 s, and its rings go with it: the
	# daemon logs their state (SIGUSR1: counters and "queue N ring:"
	# lines) while it still runs, VDEV_NET_SNAP_S (285) after the start.
	bg_start "$GUEST_WORK/net-snap-$fe.log" sh -c \
		"sleep ${VDEV_NET_SNAP_S:-285}; kill -USR1 $dpid"
	local snap=$BG_PID
	# UML: its default minute is for a boot; this one moves data too.
	[ -z "$hostfail" ] &&
		QEMU_SMP=$cpus fe_run "$fe" "$log" "$initrd" 300 -- "${devs[@]}"
	bg_stop "$snap"
	# The receivers end when the guest's streams do.
	for i in $(seq 50); do
		kill -0 "${spids[0]}" 2>/dev/null || break
		sleep 0.1
	done
	for i in "${spids[@]}"; do bg_stop "$i"; done
	# The per-queue counters, into the daemon's log.
	kill -USR1 "$dpid" 2>/dev/null && sleep 0.3
	bg_stop "$dpid"
	[ -z "$hostfail" ] && hostfail=$(net_check_streams "$log" "$mb" "$flows" "$flow_mb")
	if [ -z "$hostfail" ] && [ "$promisc" = 1 ] &&
		! grep -q 'rx mode promisc on' "$dlog"; then
		hostfail="promiscuous mode did not reach the daemon as CTRL_RX"
	fi
	[ -z "$hostfail" ] && [ "$pairs" -gt 1 ] &&
		hostfail=$(net_check_pairs "$dlog" "$log" "$pairs" "$qmin")
	grep -a 'net: features' "$dlog" | tail -n 1 | sed 's/^/  daemon: /'
	guest_check "$name" "$log" "$hostfail"
	[ -n "${VDEV_NET_KEEP:-}" ] && cp "$log" "$dlog" "$VDEV_NET_KEEP/"
}

# net_check_streams LOG MB FLOWS FLOW_MB: why the streams of net_case's
# guest and host differ, nothing when every one arrived whole.
net_check_streams() {
	local log=$1 mb=$2 want got tag port mib
	for tag in TX RX TX2 RX2; do
		case $tag in
		TX) port=5001 mib=$2 ;; RX) port=5002 mib=$2 ;;
		TX2) port=5003 mib=$4 ;; RX2) port=5004 mib=$4 ;;
		esac
		[ "$3" = 0 ] && [ "$port" -gt 5002 ] && continue
		got=$(guest_sum "$log" "NET-$tag-SHA")
		want=$(stream_sum "$GUEST_WORK/host-$port.log")
		if [ -z "$got" ] || [ "$got" != "$want" ]; then
			echo "port $port: guest ${got:-none}, host ${want:-none}"
			return
		elif [ "${got#* }" != $((mib << 20)) ]; then
			echo "port $port: ${got#* } bytes, not $mib MiB"
			return
		fi
	done
}

# net_check_pairs DLOG LOG PAIRS MIN: why the queue pairs did not carry
# what they should have, nothing when they did. From the daemon's SIGUSR1
# lines: rx queue 2p's bytes written, tx queue 2p+1's bytes read, each at
# least MIN when the guest has a CPU per pair.
net_check_pairs() {
	local dlog=$1 log=$2 pairs=$3 min=$4 used=0 p q n
	local gcpus msg= line
	gcpus=$(grep -a '^NET-CPUS ' "$log" | tr -d '\r' | awk '{print $2}')
	grep -a '^NET-QUEUES \|^NET-IRQ ' "$log" | tr -d '\r' | sed 's/^/  guest: /' >&2
	for ((p = 0; p < pairs; p++)); do
		local ok=1
		for q in $((2 * p)) $((2 * p + 1)); do
			line=$(grep -a "queue $q: " "$dlog" | tail -n 1)
			echo "  daemon: queue ${line#* queue }" >&2
			if ((q % 2 == 0)); then
				n=$(sed 's/.* \([0-9]*\) bytes written.*/\1/' <<<"$line")
			else
				n=$(sed 's/.* \([0-9]*\) bytes read.*/\1/' <<<"$line")
			fi
			[[ $n =~ ^[0-9]+$ ]] || n=0
			[ "$n" -ge "$min" ] || { ok=0; msg+=" queue $q: $n bytes;"; }
		done
		[ "$ok" = 1 ] && used=$((used + 1))
	done
	if [ "${gcpus:-1}" -ge "$pairs" ]; then
		[ "$used" = "$pairs" ] ||
			echo "$used of $pairs pairs carried $min bytes on each queue in a $gcpus-CPU guest:$msg"
	else
		# Linux uses one pair per CPU: with fewer CPUs the other
		# pairs idle, and the streams must still pass.
		echo "  $used of $pairs queue pairs carried traffic ($gcpus-CPU guest)" >&2
		[ "$used" -ge 1 ] || echo "no queue pair carried traffic:$msg"
	fi
}

# Two UML guests on one wire without root: vdev-net's stream backend (QEMU's
# -netdev stream framing), daemon A listening, daemon B connecting; MB MiB
# each way at full speed (net_stream), both directions at once
# (VDEV_NET_AT_ONCE=0: one after the other). This stalled under host load
# until a POLLOUT callback that spent the queue's budget got a round
# (src/core/vq_watch.c): the frames left in the tx ring waited for a kick
# that EVENT_IDX never sends for buffers already made available, and the
# guest's TCP counted TCPSpuriousRtxHostQueues. On failure the guests print
# their TCP counters and the daemons' per-queue counters (SIGUSR1) are
# shown.
net_pair_case() {
	local name=net-uml-pair why mb=${VDEV_NET_MB_PAIR:-64}
	why=$(fe_unavailable uml)
	[ -n "$why" ] && { guest_skip "$name" "$why"; return; }
	local wire=$GUEST_WORK/wire.sock r hostfail= pids=() role
	for role in server client; do
		guest_initramfs uml "$GUEST_WORK/pair-$role.cpio" -n "$name-$role" \
			-b "$STREAM:/bin/net_stream" \
			-e VDEV_NET_ROLE=$role -e VDEV_NET_MB="$mb" \
			-e VDEV_NET_AT_ONCE="${VDEV_NET_AT_ONCE:-1}" \
			"$GUEST_DIR/tests/net-pair.in-guest"
	done
	rm -f "$wire"
	bg_start "$GUEST_WORK/pair-a.log" "$NET" -s "$GUEST_WORK/pa.sock" \
		--stream-server "$wire" --mac 52:54:00:00:03:01
	pids+=("$BG_PID")
	wait_socket "$wire" || hostfail="no listening wire socket"
	bg_start "$GUEST_WORK/pair-b.log" "$NET" -s "$GUEST_WORK/pb.sock" \
		--stream "$wire" --mac 52:54:00:00:03:02
	pids+=("$BG_PID")
	wait_socket "$GUEST_WORK/pa.sock" && wait_socket "$GUEST_WORK/pb.sock" ||
		hostfail="daemons did not start"
	if [ -z "$hostfail" ]; then
		run_uml "$GUEST_WORK/pair-server.log" "$GUEST_WORK/pair-server.cpio" 300 \
			-- "$GUEST_WORK/pa.sock:1" >/dev/null &
		local upid=$!
		run_uml "$GUEST_WORK/pair-client.log" "$GUEST_WORK/pair-client.cpio" 300 \
			-- "$GUEST_WORK/pb.sock:1"
		wait "$upid"
	fi
	# Each side's per-queue counters, into its log (shown on failure).
	for r in "${pids[@]}"; do kill -USR1 "$r" 2>/dev/null; done
	sleep 0.3
	for r in "${pids[@]}"; do bg_stop "$r"; done
	if [ -z "$hostfail" ]; then
		local stx srx ctx crx
		stx=$(guest_sum "$GUEST_WORK/pair-server.log" NET-TX-SHA)
		srx=$(guest_sum "$GUEST_WORK/pair-server.log" NET-RX-SHA)
		ctx=$(guest_sum "$GUEST_WORK/pair-client.log" NET-TX-SHA)
		crx=$(guest_sum "$GUEST_WORK/pair-client.log" NET-RX-SHA)
		if [ -z "$ctx" ] || [ "$ctx" != "$srx" ]; then
			hostfail="client->server sha256 differs (${ctx:-none} vs ${srx:-none})"
		elif [ -z "$stx" ] || [ "$stx" != "$crx" ]; then
			hostfail="server->client sha256 differs (${stx:-none} vs ${crx:-none})"
		elif [ "${ctx#* }" != $((mb << 20)) ] || [ "${stx#* }" != $((mb << 20)) ]; then
			hostfail="sent ${ctx#* } and ${stx#* } bytes, not $mb MiB each"
		elif ! grep -aq 'VDEV-GUEST-RESULT: PASS' "$GUEST_WORK/pair-server.log"; then
			hostfail="server guest: $(grep -a 'VDEV-GUEST-RESULT' "$GUEST_WORK/pair-server.log")"
		fi
	fi
	if [ -n "$hostfail" ]; then
		for r in a b; do
			grep -a 'queue [0-9]*: \|net: ' "$GUEST_WORK/pair-$r.log" |
				sed "s/^/  daemon $r: /" >&2
		done
	fi
	[ -n "${VDEV_NET_KEEP:-}" ] && cp "$GUEST_WORK"/pair-*.log "$VDEV_NET_KEEP/"
	guest_check "$name" "$GUEST_WORK/pair-client.log" "$hostfail"
}

why=
[ -x "$NET" ] || why="no vdev-net binary at $NET (pass the build dir)"
[ -z "$why" ] && [ ! -x "$STREAM" ] &&
	why="no $STREAM (the build's guest_net_stream)"
nowhy=$why
[ -z "$why" ] && why=$(net_unavailable)
# Made here, not in net_unavailable's subshell, so the EXIT trap knows to
# delete it.
if [ -z "$why" ] && [ "${VDEV_NET_FRONTENDS:-}" != pair ]; then
	net_ns_up "$NS" ||
		why="cannot create a network namespace (ip netns add)"
fi
# The two-guest case needs neither root nor a tap.
if [ -n "$nowhy" ]; then
	guest_skip net-uml-pair "$nowhy"
elif [ -z "${VDEV_NET_FRONTENDS:-}" ] || [ "${VDEV_NET_FRONTENDS}" = pair ]; then
	net_pair_case
fi
if [ "${VDEV_NET_FRONTENDS:-}" = pair ]; then
	:
elif [ -n "$why" ]; then
	for fe in $GUEST_FRONTENDS; do guest_skip "net-$fe" "$why"; done
else
	# The issue's 64 MiB each way everywhere: net_stream generates and
	# hashes on the fly, so UML moves it in about 3 s and QEMU 11.1
	# under TCG in about 7 s (2 vCPUs, quiet machine).
	# VDEV_NET_FRONTENDS picks some (default: all).
	for fe in ${VDEV_NET_FRONTENDS:-$GUEST_FRONTENDS}; do
		case $fe in
		uml) net_case uml net-uml "${VDEV_NET_MB_UML:-64}" 1 2 ;;
		*-vfio) net_case "$fe" "net-$fe" "${VDEV_NET_MB_QEMU:-64}" 1 ;;
		# Two pairs, two vCPUs: every queue carries data.
		qemu11) net_case "$fe" "net-$fe" "${VDEV_NET_MB_QEMU:-64}" 0 2 2 ;;
		# QEMU 7.2: two pairs, two vCPUs too (it sends each memory
		# region once per pair, vhu_mem.c). Its host-to-guest stream
		# once stalled on pair 1 in 1 run of 3: a TSO frame that
		# found too few rx buffers waited for a kick the driver
		# never sent (avail_event behind its avail index, fixed in
		# the queue core). VDEV_NET_QEMU72_PAIRS=1 runs one pair.
		*) net_case "$fe" "net-$fe" "${VDEV_NET_MB_QEMU:-64}" 0 \
			"${VDEV_NET_QEMU72_PAIRS:-2}" "${VDEV_NET_QEMU72_PAIRS:-2}" ;;
		esac
	done
fi
guest_finish
