#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The ABI guard: compares the ABI of libvdev.so and libvdev-daemon.so in
# BUILD_DIR (a build with debug information, e.g. scripts/test.sh's clang
# RelWithDebInfo build) with the baselines in tests/abi/, using abidw and
# abidiff from Debian's abigail-tools. Only what the public headers
# (include/virtio/) declare counts.
#   - a change that breaks binaries built against the baseline (a
#     function or variable removed, or changed: its parameters, or a public
#     struct it reaches changing size or layout) fails: exit 1, with
#     abidiff's report. It must be a decision: bump the library's SOVERSION
#     (CMakeLists.txt, src/daemon/CMakeLists.txt) and update the baseline
#     in the same commit;
#   - additions pass, and are listed;
#   - --update writes the baselines from BUILD_DIR (after such a
#     decision, or at a release).
# usage: scripts/abi-check.sh BUILD_DIR [--update]
#        scripts/abi-check.sh --selftest   (the guard on a toy library:
#                                           it must refuse a changed struct)
# Exit 77 when abigail-tools are missing (scripts/install-deps.sh test).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: $0 BUILD_DIR [--update] | --selftest}
update=${2:-}

command -v abidw >/dev/null && command -v abidiff >/dev/null || {
	echo "abi-check: no abidw/abidiff (package abigail-tools): skipped"
	exit 77
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

dump() { # LIB OUT [HEADERS]
	abidw --no-corpus-path --no-show-locs --drop-private-types \
		--headers-dir "${3:-$top/include/virtio}" --out-file "$2" "$1"
}

# judge NAME BASE NEW: 0 when NEW can replace BASE (identical, or
# additions only), 1 when not, 2 when abidiff failed; the report on stdout
# when there is something to say.
judge() {
	local name=$1 st broken
	abidiff --no-unreferenced-symbols "$2" "$3" >"$tmp/report"
	st=$?
	# abidiff's status is a bit mask: 1 error, 2 usage, 4 change,
	# 8 incompatible change. A changed struct layout is only "4", so the
	# summary decides: anything removed or changed breaks old binaries,
	# additions do not.
	broken=$(sed -n 's/.*changes summary: \([0-9]*\) Removed[^,]*, \([0-9]*\) Changed.*/\1 \2/p' \
		"$tmp/report" | awk '{ n += $1 + $2 } END { print n + 0 }')
	if [ $((st & 3)) != 0 ]; then
		cat "$tmp/report"; echo "abi-check: $name: abidiff failed ($st)"
		return 2
	elif [ $((st & 8)) != 0 ] || [ "$broken" != 0 ]; then
		cat "$tmp/report"
		echo "abi-check: $name: INCOMPATIBLE with its baseline"
		return 1
	elif [ $((st & 4)) != 0 ]; then
		grep -E '^ *\[A\]' "$tmp/report" | head -n 30
		echo "abi-check: $name: compatible with its baseline (additions)"
	else
		echo "abi-check: $name: identical to its baseline"
	fi
	return 0
}

if [ "$build" = --selftest ]; then
	# A toy library, changed in the two ways that matter.
	mkdir -p "$tmp/h"
	toy() { # VARIANT
		printf 'struct cfg { int a; %s int b; };\nint f(const struct cfg *c);\n%s\n' \
			"$1" "$2" >"$tmp/h/t.h"
		printf '#include "h/t.h"\nint f(const struct cfg *c) { return c->a; }\n%s\n' \
			"$3" >"$tmp/t.c"
		gcc -g -shared -fPIC -I"$tmp" "$tmp/t.c" -o "$tmp/libt.so" &&
			dump "$tmp/libt.so" "$tmp/$4.abi" "$tmp/h"
	}
	toy "" "" "" base &&
		toy "" "int g(void);" "int g(void) { return 1; }" added &&
		toy "long x;" "" "" grown || { echo "abi-check: selftest: no toy"; exit 1; }
	judge added "$tmp/base.abi" "$tmp/added.abi" >/dev/null ||
		{ echo "abi-check: selftest: an added function was refused"; exit 1; }
	judge grown "$tmp/base.abi" "$tmp/grown.abi" >/dev/null
	[ $? = 1 ] ||
		{ echo "abi-check: selftest: a struct that grew was accepted"; exit 1; }
	echo "abi-check: selftest: additions pass, a changed struct fails"
	exit 0
fi

rc=0
for lib in libvdev.so src/daemon/libvdev-daemon.so; do
	so=$build/$lib name=$(basename "$lib" .so)
	base=$top/tests/abi/$name.abi
	if [ ! -f "$so" ]; then
		echo "abi-check: $so not built"; rc=1; continue
	fi
	if ! dump "$so" "$tmp/$name.abi"; then
		echo "abi-check: abidw failed on $so"; rc=1; continue
	fi
	if [ "$update" = --update ]; then
		cp "$tmp/$name.abi" "$base"
		echo "abi-check: $base updated"
		continue
	fi
	if [ ! -f "$base" ]; then
		echo "abi-check: no baseline $base (scripts/abi-check.sh BUILD --update)"
		rc=1; continue
	fi
	if ! judge "$name" "$base" "$tmp/$name.abi"; then
		echo "abi-check: if the break is meant: bump $name's SOVERSION" \
			"and run scripts/abi-check.sh BUILD_DIR --update"
		rc=1
	fi
done
exit $rc
