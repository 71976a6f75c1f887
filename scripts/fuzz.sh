#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Runs the libFuzzer targets of a fuzz build (-DVDEV_FUZZ=ON):
#   scripts/fuzz.sh BUILD_DIR
#
# Two modes:
#  - budget (default; what scripts/test.sh runs in CI): a fixed total
#    wall time, VDEV_FUZZ_BUDGET seconds (default 420), whatever the number
#    of targets. The targets run in VDEV_FUZZ_JOBS parallel lanes (default:
#    the cores, at most 2). Three quarters of the lanes' time go to the
#    targets in the normal mode, one quarter to those with guest memory
#    (their source starts tests/lib/flipper.h) in the double-fetch mode
#    (VDEV_FUZZ_FLIP=1, docs/hostile-peers.md), evenly. Each target's line
#    says how long it ran and how many inputs it executed; below 20 s per
#    target it warns, since every new target makes the others shallower:
#    raise the budget then.
#  - long (VDEV_FUZZ_LONG=1): every target runs until it has executed
#    VDEV_FUZZ_RUNS inputs (default 10,000,000), VDEV_FUZZ_JOBS at a time
#    (default 1), and the double-fetch targets VDEV_FUZZ_FLIP_RUNS each
#    (default 0: not run). VDEV_FUZZ_LONG_SECONDS caps each run (default
#    0: no cap), for a run that must end by a deadline.
#    Takes hours; run it niced, e.g.
#      VDEV_FUZZ_LONG=1 nice scripts/fuzz.sh build/fuzz
#    It ends with a Markdown table: target, mode, PASS/FAIL, runs,
#    seconds, runs/s, new corpus entries, peak RSS, and the 1-minute load
#    average at the start and end of the run (a niced run's rate follows
#    the load).
#    docs/fuzzing.md has the numbers of the last long run.
#
# VDEV_FUZZ_TARGETS (both modes): only these targets, by name with or
# without the fuzz_ prefix ("scsi vsock"); default all.
#
# Corpora: the seeds in tests/fuzz/corpus/NAME are copied to
# BUILD_DIR/corpus-NAME, which keeps what the runs find; a crash input is
# written to BUILD_DIR/NAME[.flip]-crash-* and the log to
# BUILD_DIR/NAME[.flip].log. Output: one line per target,
#   FUZZ: PASS|FAIL NAME[ (double fetch)] RUNS runs in SECS s (...)
# then "fuzz: N passed, N failed"; exit status 1 on any failure.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
b=${1:?usage: scripts/fuzz.sh BUILD_DIR}
b=$(cd "$b" && pwd)
long=${VDEV_FUZZ_LONG:-0}
budget=${VDEV_FUZZ_BUDGET:-420}
jobs=${VDEV_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
[ "$jobs" -gt 2 ] && jobs=2
[ "$jobs" -lt 1 ] && jobs=1
runs=${VDEV_FUZZ_RUNS:-10000000}
flip_runs=${VDEV_FUZZ_FLIP_RUNS:-0}
# The double-fetch mode runs the targets whose source starts the flipper
# (tests/lib/flipper.h): those whose input includes guest memory.
flip_targets=$(grep -l flipper_fuzz_start "$top"/tests/fuzz/fuzz_*.c |
	xargs -r -n1 basename | sed 's/\.c$//')

only=" "
for n in ${VDEV_FUZZ_TARGETS:-}; do only+="fuzz_${n#fuzz_} "; done
# selected NAME: true when NAME is to run.
selected() { [ "$only" = " " ] || [[ "$only" == *" $1 "* ]]; }

normal=()
for fz in "$b"/tests/fuzz_*; do
	[ -x "$fz" ] && selected "$(basename "$fz")" &&
		normal+=("$(basename "$fz")")
done
if [ ${#normal[@]} -eq 0 ]; then
	echo "FUZZ: FAIL no fuzz targets in $b/tests"
	echo "fuzz: 0 passed, 1 failed"
	exit 1
fi
flip=()
missing=()
for n in $flip_targets; do
	selected "$n" || continue
	if [ -x "$b/tests/$n" ]; then flip+=("$n"); else missing+=("$n"); fi
done

# run_one NAME FLIP LIMIT...: one libFuzzer run; its result line goes to
# BUILD_DIR/NAME[.flip].result.
run_one() {
	local name=$1 fl=$2; shift 2
	local tag=$name label=$name corpus work t0 t1 rc st n secs rate l0 l1
	[ "$fl" = 1 ] && { tag=$name.flip; label="$name (double fetch)"; }
	corpus=$top/tests/fuzz/corpus/${name#fuzz_}
	work=$b/corpus-$name
	mkdir -p "$work"
	[ -d "$corpus" ] && cp -n "$corpus"/* "$work"/ 2>/dev/null
	t0=$(date +%s.%N)
	l0=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null)
	(cd "$b" && VDEV_FUZZ_FLIP=$fl "$b/tests/$name" "$@" \
		-print_final_stats=1 -artifact_prefix="$b/$tag-" "$work" \
		>"$b/$tag.log" 2>&1)
	rc=$?
	t1=$(date +%s.%N)
	l1=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null)
	n=$(awk '/stat::number_of_executed_units/ {print $2; exit}' "$b/$tag.log")
	n=${n:-0}
	secs=$(awk -v a="$t0" -v z="$t1" 'BEGIN {printf "%.0f", z - a}')
	rate=$(awk -v n="$n" -v s="$secs" 'BEGIN {printf "%.0f", (s > 0 ? n / s : n)}')
	st=PASS
	[ $rc -eq 0 ] || st=FAIL
	printf 'FUZZ: %s %s %s runs in %s s (%s/s, %s new corpus entries, peak %s MB, load %s-%s)\n' \
		"$st" "$label" "$n" "$secs" "$rate" \
		"$(awk '/stat::new_units_added/ {print $2; exit}' "$b/$tag.log")" \
		"$(awk '/stat::peak_rss_mb/ {print $2; exit}' "$b/$tag.log")" \
		"${l0:-?}" "${l1:-?}" >"$b/$tag.result"
	if [ $rc -ne 0 ]; then
		echo "---- $label: end of $b/$tag.log" >>"$b/$tag.result"
		tail -40 "$b/$tag.log" >>"$b/$tag.result"
	fi
}

# The work as lines "NAME FLIP ARGS...".
plan=()
if [ "$long" = 1 ]; then
	jobs=${VDEV_FUZZ_JOBS:-1}
	# A cap in seconds per target (0: none), for a run that must end by
	# some time; the table then shows how far each target got.
	cap=${VDEV_FUZZ_LONG_SECONDS:-0}
	lim=(-runs="$runs")
	[ "$cap" -gt 0 ] && lim+=(-max_total_time="$cap")
	for n in "${normal[@]}"; do plan+=("$n 0 ${lim[*]}"); done
	if [ "$flip_runs" -gt 0 ]; then
		for n in "${flip[@]}"; do
			plan+=("$n 1 -runs=$flip_runs ${lim[1]:-}")
		done
	fi
	echo "fuzz: long run, $runs inputs per target, $flip_runs per double-fetch target"
else
	lanes=$((budget * jobs))
	if [ ${#flip[@]} -gt 0 ]; then
		per=$((lanes * 3 / 4 / ${#normal[@]}))
		per_flip=$((lanes / 4 / ${#flip[@]}))
	else
		per=$((lanes / ${#normal[@]})) per_flip=0
	fi
	echo "fuzz: budget ${budget} s on $jobs lane(s): ${#normal[@]} targets ${per} s each, ${#flip[@]} in the double-fetch mode ${per_flip} s each"
	[ "$per" -lt 20 ] && echo "fuzz: WARNING: ${per} s per target is shallow; raise VDEV_FUZZ_BUDGET"
	for n in "${normal[@]}"; do plan+=("$n 0 -max_total_time=$per"); done
	for n in "${flip[@]}"; do plan+=("$n 1 -max_total_time=$per_flip"); done
fi

# Lanes: at most $jobs runs at a time.
for p in "${plan[@]}"; do
	while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
	# shellcheck disable=SC2086
	run_one $p &
done
wait

pass=0 fail=0
for p in "${plan[@]}"; do
	read -r name fl _ <<<"$p"
	tag=$name
	[ "$fl" = 1 ] && tag=$name.flip
	if [ -f "$b/$tag.result" ]; then
		cat "$b/$tag.result"
		if head -1 "$b/$tag.result" | grep -q '^FUZZ: PASS'; then
			pass=$((pass + 1))
		else
			fail=$((fail + 1))
		fi
	else
		echo "FUZZ: FAIL $tag: no result"; fail=$((fail + 1))
	fi
done
# A double-fetch target that should have run but was not built. The long
# mode runs none unless VDEV_FUZZ_FLIP_RUNS asks for them.
if [ "$long" != 1 ] || [ "$flip_runs" -gt 0 ]; then
	for n in "${missing[@]}"; do
		echo "FUZZ: FAIL $n (double fetch): not built"
		fail=$((fail + 1))
	done
fi
if [ "$long" = 1 ]; then
	echo
	echo "| target | mode | result | runs | seconds | runs/s | new corpus entries | peak RSS MB | load start-end |"
	echo "|---|---|---|---:|---:|---:|---:|---:|---|"
	for p in "${plan[@]}"; do
		read -r name fl _ <<<"$p"
		tag=$name mode=normal
		[ "$fl" = 1 ] && { tag=$name.flip; mode="double fetch"; }
		[ -f "$b/$tag.result" ] || continue
		head -1 "$b/$tag.result" | sed -E \
			's/^FUZZ: (PASS|FAIL) ([a-z0-9_]+)( \(double fetch\))? ([0-9]+) runs in ([0-9]+) s \(([0-9]+)\/s, ([0-9]*) new corpus entries, peak ([0-9]*) MB, load ([0-9.?]+-[0-9.?]+)\).*/| \2 | '"$mode"' | \1 | \4 | \5 | \6 | \7 | \8 | \9 |/'
	done
fi
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
