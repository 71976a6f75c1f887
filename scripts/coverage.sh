#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Line and function coverage of src/ and adapters/ (and, shown apart,
# daemons/) per test tier and combined, against the floors in
# tests/coverage-floor. Builds configured with -DVDEV_COVERAGE=ON (gcc).
#
#   scripts/coverage.sh BUILD_DIR [GUEST_BUILD_DIR]
# The unit tier is what the .gcda files under BUILD_DIR count (its unit,
# replay and KVM tests, and the daemons they start). The guest tier is
# GUEST_BUILD_DIR/coverage-guest.json, which scripts/coverage-guest.sh
# writes after real Linux guests drove that build's daemons. gcovr merges
# the tiers line by line (the same sources, both built at -O0, so the
# same lines count). Writes BUILD_DIR/coverage.txt (per file) and
# coverage.html of what was counted, and gates:
#   - the unit tier against the "unit" floor, always;
#   - unit + guest against the "unit+guest" floor, only when the guest
#     tier ran whole (GUEST_BUILD_DIR/coverage-guest.status: "complete").
#     A guest tier that was not run, was skipped (no UML, QEMU or root;
#     VDEV_SKIP_GUEST) or ran in part is reported as such, and then only
#     the unit floor is checked, saying so: such a run neither passes nor
#     fails the combined floor.
#   scripts/coverage.sh capture TIER BUILD_DIR
# saves the counts under BUILD_DIR as BUILD_DIR/coverage-TIER.json
# (coverage-guest.sh's last step).
#
# Fails when a tier checked is below its floor, or when a commit lowered
# a floor: floors only go up. When a figure is a full point above its
# floor, it says so: raise the floor in the change that raised coverage.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
floor_file=$top/tests/coverage-floor

usage() {
	echo "usage: scripts/coverage.sh BUILD_DIR [GUEST_BUILD_DIR] | capture unit|guest BUILD_DIR" >&2
	exit 2
}

command -v gcovr >/dev/null || { echo "coverage: gcovr missing (scripts/install-deps.sh test)"; exit 1; }

# gcovr's arguments for build $1: the gcov of the compiler that built it
# (gcc-12 here).
gcovr_args() {
	local b=$1 cc ver gcov=gcov
	cc=$(awk -F= '/^CMAKE_C_COMPILER:/ {print $2}' "$b/CMakeCache.txt")
	ver=$("$cc" -dumpversion 2>/dev/null | cut -d. -f1)
	[ -n "$ver" ] && command -v "gcov-$ver" >/dev/null && gcov=gcov-$ver
	# The search path is the build alone: by default gcovr also searches
	# --root, the whole tree, and would count every other build's .gcda.
	args=(-r "$top" --object-directory "$b" --gcov-executable "$gcov" -j 2 "$b")
}
have_gcda() { find "$1" -name '*.gcda' -print -quit | grep -q .; }

# capture TIER BUILD
capture() {
	local tier=$1 b=$2 args
	case $tier in unit|guest) ;; *) usage ;; esac
	if ! have_gcda "$b"; then
		echo "coverage: no .gcda files under $b for the $tier tier (configure with -DVDEV_COVERAGE=ON and run the tests)"
		return 1
	fi
	gcovr_args "$b"
	# gcovr 5.2 can hang after a worker's error: bounded.
	if ! timeout 900 gcovr "${args[@]}" --filter "$top/src/" \
		--filter "$top/adapters/" --filter "$top/daemons/" \
		--json "$b/coverage-$tier.json" 2>"$b/coverage-$tier.err"; then
		cat "$b/coverage-$tier.err"; rm -f "$b/coverage-$tier.json"
		echo "coverage: gcovr failed on the $tier tier"; return 1
	fi
	echo "coverage: $tier tier captured in $b/coverage-$tier.json"
}

if [ "${1:-}" = capture ]; then
	[ $# = 3 ] || usage
	b=$(cd "$3" && pwd -P) || exit 1
	capture "$2" "$b"; exit
fi
[ $# = 1 ] || [ $# = 2 ] || usage
b=$(cd "$1" && pwd -P) || exit 1
g=
[ $# = 2 ] && { g=$(cd "$2" && pwd -P) || exit 1; }

# floor KEY [FILE-CONTENTS]: the floor KEY (unit, unit+guest) of
# tests/coverage-floor, or of the given text. A file with one bare number
# (before the guest tier was counted) has that as its unit floor.
floor() {
	local text
	if [ $# -ge 2 ]; then text=$2; else text=$(cat "$floor_file"); fi
	awk -v k="$1" '!/^#/ && NF == 1 && k == "unit" && !f {f = $1}
		!/^#/ && NF >= 2 && $1 == k {f = $2} END {print f}' <<<"$text"
}
below() { awk -v t="$1" -v f="$2" 'BEGIN {exit !(t < f)}'; }

capture unit "$b" || exit 1

# What the guest tier did: scripts/coverage-guest.sh's status line.
guest=
guest_why="not run (no guest build given)"
if [ -n "$g" ]; then
	guest_why="not run (no $g/coverage-guest.status: scripts/coverage-guest.sh did not run with $g)"
	if [ -f "$g/coverage-guest.status" ]; then
		st=$(head -n1 "$g/coverage-guest.status")
		if [ "$st" = complete ] && [ -f "$g/coverage-guest.json" ]; then
			guest=1
		elif [ "$st" = complete ]; then
			guest_why="its counts were not captured ($g/coverage-guest.json missing)"
		else
			guest_why=$st
		fi
	fi
fi

gcovr_args "$b"
sa=(--filter "$top/src/" --filter "$top/adapters/")
dm=(--filter "$top/daemons/")
# pick WHAT SUMMARY: "86.2% (17585/20391)" from gcovr's "WHAT: 86.2% (17585 out of 20391)"
pick() { sed -nE "s/^$1: ([0-9.]+%) \(([0-9]+) out of ([0-9]+)\)/\1 (\2\/\3)/p" <<<"$2"; }
# summary NAME TRACEFILE...: prints NAME's lines and functions for
# src/ + adapters/ and for daemons/; sets LINES (src/ + adapters/).
summary() {
	local name=$1 t=() s d f; shift
	for f in "$@"; do t+=(-a "$f"); done
	s=$(timeout 900 gcovr -r "$top" "${t[@]}" "${sa[@]}" --print-summary 2>"$b/coverage.err") &&
		d=$(timeout 900 gcovr -r "$top" "${t[@]}" "${dm[@]}" --print-summary 2>"$b/coverage.err") ||
		{ cat "$b/coverage.err"; echo "coverage: gcovr failed"; exit 1; }
	# Two decimals from the counts (gcovr prints one, rounded).
	LINES=$(sed -nE 's/^lines: [0-9.]+% \(([0-9]+) out of ([0-9]+)\)/\1 \2/p' <<<"$s" |
		awk '$2 > 0 {printf "%.2f", 100 * $1 / $2}')
	printf '%-11s %-22s %-20s| %-18s %s\n' "$name" "$(pick lines "$s")" \
		"$(pick functions "$s")" "$(pick lines "$d")" "$(pick functions "$d")"
	[ -n "$LINES" ] || { echo "coverage: no summary from gcovr"; exit 1; }
}

fu=$(floor unit) fc=$(floor unit+guest)
[ -n "$fu" ] || { echo "coverage: no unit floor in $floor_file"; exit 1; }
echo "coverage by tier (gcovr):"
printf '%-11s %-22s %-20s| %-18s %s\n' tier "src/+adapters/ lines" functions \
	"daemons/ lines" functions
summary unit "$b/coverage-unit.json"; unit=$LINES
files=("$b/coverage-unit.json")
if [ -n "$guest" ]; then
	summary guest "$g/coverage-guest.json"
	files+=("$g/coverage-guest.json")
	summary unit+guest "${files[@]}"; both=$LINES
else
	echo "guest       not counted: $guest_why"
fi
t=(); for f in "${files[@]}"; do t+=(-a "$f"); done
timeout 900 gcovr -r "$top" "${t[@]}" "${sa[@]}" --txt "$b/coverage.txt" \
	--html "$b/coverage.html" 2>"$b/coverage.err" >/dev/null ||
	{ cat "$b/coverage.err"; echo "coverage: gcovr failed"; exit 1; }
echo "per file ($([ -n "$guest" ] && echo unit+guest || echo unit)): $b/coverage.txt, $b/coverage.html"

rc=0
gate() { # NAME FIGURE FLOOR
	if below "$2" "$3"; then
		echo "coverage: FAIL: $1 $2% is below its floor $3%"; rc=1
	elif awk -v t="$2" -v f="$3" 'BEGIN {exit !(t >= f + 1)}'; then
		echo "coverage: $1 $2% is a point or more above its floor $3%: raise it in tests/coverage-floor"
	else
		echo "coverage: $1 $2% >= floor $3%"
	fi
}
gate unit "$unit" "$fu"
if [ -z "$fc" ]; then
	[ -n "$guest" ] && echo "coverage: no unit+guest floor in $floor_file: the combined figure is not checked"
elif [ -n "$guest" ]; then
	gate unit+guest "$both" "$fc"
else
	echo "coverage: the guest tier was not counted ($guest_why): only the unit floor $fu% was checked, NOT the unit+guest floor $fc%"
fi

# Floors only go up: compare with the floors before the last commit that
# changed the file (a clone without that history checks nothing).
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	last=$(git -C "$top" log -1 --format=%H -- tests/coverage-floor 2>/dev/null)
	if [ -n "$last" ] && git -C "$top" cat-file -e "$last^:tests/coverage-floor" 2>/dev/null; then
		before=$(git -C "$top" show "$last^:tests/coverage-floor")
		for k in unit unit+guest; do
			prev=$(floor "$k" "$before") now=$(floor "$k")
			[ -n "$prev" ] || continue
			if [ -z "$now" ] || below "$now" "$prev"; then
				echo "coverage: FAIL: commit ${last:0:12} lowered the $k floor from $prev% to ${now:+$now%}${now:-nothing}"
				rc=1
			fi
		done
	fi
fi
exit $rc
