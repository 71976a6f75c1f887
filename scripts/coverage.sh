#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Line coverage of src/ and adapters/ from a build configured with
# -DVDEV_COVERAGE=ON (gcc), after its tests ran (scripts/test.sh: the gcc
# ASan build is that build; its unit, replay and KVM tests, and the guest
# tests it serves, write the counts):
#   scripts/coverage.sh BUILD_DIR
# Writes BUILD_DIR/coverage.txt (per file) and BUILD_DIR/coverage.html,
# prints the total, and fails when it is below the floor in
# tests/coverage-floor, or when that floor was lowered by a commit: the
# floor only goes up. When the total is a full point above the floor, it
# says so: raise the floor in the same change that raised the coverage.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
b=$(cd "${1:?usage: scripts/coverage.sh BUILD_DIR}" && pwd)
floor_file=$top/tests/coverage-floor

command -v gcovr >/dev/null || { echo "coverage: gcovr missing (scripts/install-deps.sh test)"; exit 1; }
if ! find "$b" -name '*.gcda' -print -quit | grep -q .; then
	echo "coverage: no .gcda files under $b (configure with -DVDEV_COVERAGE=ON and run the tests)"
	exit 1
fi
floor=$(awk '!/^#/ && NF {print $1; exit}' "$floor_file")

# gcov of the compiler that built it (gcc-12 here).
cc=$(awk -F= '/^CMAKE_C_COMPILER:/ {print $2}' "$b/CMakeCache.txt")
gcov=gcov
ver=$("$cc" -dumpversion 2>/dev/null | cut -d. -f1)
[ -n "$ver" ] && command -v "gcov-$ver" >/dev/null && gcov=gcov-$ver

args=(-r "$top" --object-directory "$b" --gcov-executable "$gcov"
      --filter "$top/src/" --filter "$top/adapters/" -j 2)
# gcovr 5.2 can hang after a worker's error: bounded.
timeout 900 gcovr "${args[@]}" --txt "$b/coverage.txt" --html "$b/coverage.html" \
	--print-summary >"$b/coverage.summary" 2>"$b/coverage.err" || {
	cat "$b/coverage.err"; echo "coverage: gcovr failed"; exit 1; }
line=$(grep '^lines:' "$b/coverage.summary")
total=$(echo "$line" | sed -E 's/^lines: ([0-9.]+)%.*/\1/')
echo "coverage of src/ and adapters/: $line (floor $floor%, tests/coverage-floor)"
echo "per file: $b/coverage.txt, $b/coverage.html"

rc=0
if awk -v t="$total" -v f="$floor" 'BEGIN {exit !(t < f)}'; then
	echo "coverage: FAIL: $total% is below the floor $floor%"
	rc=1
elif awk -v t="$total" -v f="$floor" 'BEGIN {exit !(t >= f + 1)}'; then
	echo "coverage: $total% is a point or more above the floor: raise tests/coverage-floor"
fi
# The floor only goes up: compare with the floor before the last commit
# that changed it (a clone without that history checks nothing).
if git -C "$top" rev-parse --git-dir >/dev/null 2>&1; then
	last=$(git -C "$top" log -1 --format=%H -- tests/coverage-floor 2>/dev/null)
	if [ -n "$last" ] && git -C "$top" cat-file -e "$last^:tests/coverage-floor" 2>/dev/null; then
		prev=$(git -C "$top" show "$last^:tests/coverage-floor" |
			awk '!/^#/ && NF {print $1; exit}')
		if [ -n "$prev" ] && awk -v p="$prev" -v f="$floor" 'BEGIN {exit !(f < p)}'; then
			echo "coverage: FAIL: commit ${last:0:12} lowered the floor from $prev% to $floor%"
			rc=1
		fi
	fi
fi
exit $rc
