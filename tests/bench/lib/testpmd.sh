# SPDX-License-Identifier: BSD-3-Clause
# Shared by the scripts that run DPDK's dpdk-testpmd (Debian's dpdk-dev)
# against libvdev or beside it: tests/bench/xcore-dpdk.sh,
# tests/bench/net/testpmd.sh and the interop test
# tests/guest/tests/net-dpdk.sh. Source it; it defines:
#   TESTPMD              the binary, empty when not installed
#   tp_cpus              sets TP_CPU0 TP_CPU1: the first two CPUs we may use
#   tp_mem               sets TP_MEM (EAL memory options) and TP_MEMNOTE:
#                        2 MiB hugepages when 512 are free and hugetlbfs
#                        is mounted, else --no-huge
#                        (memfd memory, which vhost-user can share).
#                        With hugepages, --single-file-segments: virtio-user
#                        sends one region per segment file and refuses more
#                        than 8 ("Too many memory regions"), so without it
#                        testpmd's port never starts
#   tp_huge_reserve N    for a benchmark run as root: when fewer than N
#                        2 MiB hugepages are free, raises vm.nr_hugepages
#                        by the difference, and mounts hugetlbfs on a
#                        private directory when none is mounted; both are
#                        given back by tp_huge_restore (call it on exit).
#                        Says what it did on stderr; does nothing when
#                        not root or VDEV_BENCH_HUGEPAGES=0
#   tp_start LOG FWD_CPU MAIN_CPU VDEV [testpmd options...]
#                        starts testpmd in the background in its own
#                        process group with its own --file-prefix; sets
#                        TP_PID. With -i among the options it reads
#                        commands from tp_cmd (stdin is a FIFO kept open)
#   tp_cmd PID CMD...    sends an interactive command to testpmd PID
#   tp_stop PID          SIGINT, then SIGKILL after 5 s; reaps it
#   tp_cleanup           stops every testpmd started, removes runtime dirs
#   tp_port_stat LOG KEY the last value of KEY (RX-packets, TX-packets,
#                        ...) in LOG's "show port stats"/periodic output
#   tp_rates LOG KEY SKIP N
#                        median of the per-second KEY (Rx-pps, Tx-pps)
#                        values in LOG that are > 0, after skipping the
#                        first SKIP of them, over at most N, in Mpps; "-"
#                        when there are none
#   tp_eal_failed LOG    why testpmd could not start its environment
#                        (EAL's memory: memfd, hugepages, mmap), empty
#                        when it could or failed for another reason (a
#                        bad option is a failure, not a missing feature)
# Never set -e around these: they return non-zero for "not yet".

TESTPMD=$(command -v dpdk-testpmd || true)
TP_PIDS=()
TP_PREFIXES=()
TP_FIFOS=()

tp_cpus() {
	local c
	c=($(python3 -c 'import os; print(*sorted(os.sched_getaffinity(0))[:2])'))
	TP_CPU0=${c[0]:-} TP_CPU1=${c[1]:-}
	[ -n "$TP_CPU1" ]
}

tp_mem() {
	local free
	free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
	# DPDK finds its hugepages through a hugetlbfs mount.
	awk '$3 == "hugetlbfs" {f = 1} END {exit !f}' /proc/mounts || free=0
	if [ "${free:-0}" -ge 512 ]; then
		TP_MEM=(-m 512 --single-file-segments) TP_MEMNOTE="2 MiB hugepages"
	else
		TP_MEM=(--no-huge -m 512)
		TP_MEMNOTE="--no-huge (memfd memory; no free hugepages here)"
	fi
}

TP_HUGE_OLD= TP_HUGE_MNT=
tp_huge_reserve() {
	local want=$1 f=/proc/sys/vm/nr_hugepages free total
	[ "$(id -u)" = 0 ] && [ "${VDEV_BENCH_HUGEPAGES:-1}" != 0 ] &&
		[ -w "$f" ] || return 0
	free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
	total=$(cat "$f")
	if [ "${free:-0}" -lt "$want" ]; then
		echo "$((total + want - free))" >"$f" 2>/dev/null
		TP_HUGE_OLD=$total
		echo "hugepages: vm.nr_hugepages $total -> $(cat "$f") for this run" >&2
	fi
	if ! awk '$3 == "hugetlbfs" {f = 1} END {exit !f}' /proc/mounts; then
		TP_HUGE_MNT=$(mktemp -d /tmp/vdev-hugetlbfs.XXXXXX) &&
			mount -t hugetlbfs -o pagesize=2M none "$TP_HUGE_MNT" ||
			{ rmdir "$TP_HUGE_MNT" 2>/dev/null; TP_HUGE_MNT=; }
		[ -n "$TP_HUGE_MNT" ] &&
			echo "hugepages: hugetlbfs mounted on $TP_HUGE_MNT for this run" >&2
	fi
	return 0
}

tp_huge_restore() {
	if [ -n "$TP_HUGE_MNT" ]; then
		umount "$TP_HUGE_MNT" 2>/dev/null && rmdir "$TP_HUGE_MNT"
		TP_HUGE_MNT=
	fi
	if [ -n "$TP_HUGE_OLD" ]; then
		# Pages still in use (another process's) stay until freed.
		echo "$TP_HUGE_OLD" >/proc/sys/vm/nr_hugepages 2>/dev/null
		TP_HUGE_OLD=
	fi
}

tp_start() {
	local log=$1 fwd=$2 main=$3 vdev=$4 prefix interactive=0 a
	shift 4
	prefix=vdev-tp$$-${#TP_PREFIXES[@]}
	TP_PREFIXES+=("$prefix")
	[ -n "${TP_MEM+x}" ] || tp_mem
	for a in "$@"; do [ "$a" = -i ] && interactive=1; done
	if [ $interactive = 1 ]; then
		local fifo=$log.cmd fd
		rm -f "$fifo"
		mkfifo "$fifo" || return 1
		# Line-buffered: the log shows each command's answer at once.
		setsid stdbuf -oL "$TESTPMD" -l "$fwd,$main" --main-lcore "$main" \
			--no-pci "${TP_MEM[@]}" --file-prefix "$prefix" \
			--vdev "$vdev" -- "$@" <"$fifo" >"$log" 2>&1 &
		TP_PID=$!
		exec {fd}>"$fifo"
		TP_FIFOS[$TP_PID]=$fd
	else
		setsid "$TESTPMD" -l "$fwd,$main" --main-lcore "$main" \
			--no-pci "${TP_MEM[@]}" --file-prefix "$prefix" \
			--vdev "$vdev" -- "$@" </dev/null >"$log" 2>&1 &
		TP_PID=$!
	fi
	TP_PIDS+=("$TP_PID")
}

tp_cmd() {
	local pid=$1; shift
	local fd=${TP_FIFOS[$pid]:-}
	[ -n "$fd" ] && kill -0 "$pid" 2>/dev/null || return 1
	# A testpmd that just died must not take the caller with SIGPIPE.
	(trap '' PIPE; echo "$*" >&"$fd") 2>/dev/null
}

tp_stop() {
	local pid=$1 i fd=${TP_FIFOS[$1]:-}
	if [ -n "$fd" ]; then
		tp_cmd "$pid" quit
		exec {fd}>&-
		unset "TP_FIFOS[$pid]"
	else
		kill -INT "$pid" 2>/dev/null
	fi
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$pid" 2>/dev/null
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

tp_cleanup() {
	local p d x
	for p in "${TP_PIDS[@]}"; do
		kill -0 "$p" 2>/dev/null && tp_stop "$p"
	done
	TP_PIDS=()
	for d in /var/run/dpdk "${XDG_RUNTIME_DIR:-/nonexistent}/dpdk"; do
		for x in "${TP_PREFIXES[@]}"; do rm -rf "${d:?}/$x"; done
	done
	TP_PREFIXES=()
}

tp_port_stat() {
	grep -a -o "$2: *[0-9]*" "$1" | tail -n 1 | awk '{print $2}'
}

tp_rates() {
	grep -a -o "$2: *[0-9]*" "$1" | awk '$2 > 0 {print $2}' |
		tail -n +$(($3 + 1)) | head -n "$4" | sort -n |
		awk '{v[NR] = $1} END { if (NR) printf "%.2f\n", v[int((NR + 1) / 2)] / 1e6; else print "-" }'
}

tp_eal_failed() {
	grep -a -m 1 -iE 'EAL: .*(memory|hugepage|memfd|mmap|Cannot (get|init|allocate|reserve|create)|No available)' "$1"
}
