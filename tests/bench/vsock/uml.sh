#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# vsock throughput under User-Mode Linux: host -> guest (the host writes
# through the hybrid socket into the guest's socat sink), guest -> host
# (the guest's socat sends zeros to a host Unix listener) and connections
# per second (CONNECT, accept by the guest's socat, close), next to the
# machine's ceiling (a Unix socketpair, bench_vsock_inproc's first line).
# Numbers, not pass/fail.
# usage: uml.sh BUILD_DIR (Release)   env: VSOCK_BENCH_MB (64), _CONNS (200)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { sed -n '3,10p' "$0" >&2; exit 2; }
VDEV_BUILD_DIR=$(cd "$1" && pwd) || exit 2
export VDEV_BUILD_DIR
. "$here/../../guest/lib.sh"
guest_setup
MB=${VSOCK_BENCH_MB:-64}
why=$(uml_unavailable)
[ -z "$why" ] && why=$(guest_tools_missing socat)
[ -n "$why" ] && { echo "SKIP: $why"; exit 0; }
sock=$GUEST_WORK/b.sock uds=$GUEST_WORK/b.vsock
initrd=$GUEST_WORK/b.cpio log=$GUEST_WORK/b.log hlog=$GUEST_WORK/b-host.log
guest_initramfs uml "$initrd" $(guest_tools socat) -e VSOCK_BENCH_MB="$MB" \
	-n vsock-bench "$here/bench.in-guest"
bg_start "$GUEST_WORK/d.log" ${VSOCK_BENCH_WRAP:-} "$(daemon_bin vdev-vsock)" --guest-cid 3 \
	--socket "$sock" --uds-path "$uds" ${VSOCK_BENCH_OPTS:-}
dpid=$BG_PID
wait_socket "$sock"
bg_start "$hlog" python3 "$here/bench-host.py" "$uds" "$MB" \
	"${VSOCK_BENCH_CONNS:-200}"
hpid=$BG_PID
run_uml "$log" "$initrd" 300 -- "$sock:19" >/dev/null
bg_stop "$hpid"
bg_stop "$dpid"
echo "vsock under UML (virtio_uml, Linux 6.1), $MB MiB each way"
grep '^BENCH' "$hlog"
grep -q '^BENCH conn' "$hlog" || {
	echo "(incomplete: last lines of the host side, guest and daemon)"
	tail -n 5 "$hlog" "$log" "$GUEST_WORK/d.log" | sed 's/^/    /'
}
ns=$(grep -a '^BENCH-G2H-NS' "$log" | tr -d '\r' | cut -d' ' -f2)
[ -n "$ns" ] && awk -v ns="$ns" -v mb="$MB" 'BEGIN {
	printf "BENCH g2h %.1f MB/s (guest side, %d MiB in %.2f s)\n",
		mb * 1048576 / (ns / 1e9) / 1e6, mb, ns / 1e9 }'
ceil=$("$VDEV_BUILD_DIR/tests/bench_vsock_inproc" 2>/dev/null |
	grep 'socketpair' | awk '{print $(NF-1)}')
echo "BENCH ceiling ${ceil:-?} MB/s (unix socketpair, one thread)"
guest_finish >/dev/null
