#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The ABI guard: compares the ABI of libvdev.so and libvdev-daemon.so in
# BUILD_DIR (a build with debug information, e.g. scripts/test.sh's clang
# RelWithDebInfo build) with the baselines in tests/abi/, using abidw and
# abidiff from Debian's abigail-tools. Only what the public headers
# (include/virtio/) declare counts. The baselines are the ABI of the last
# release, whose version tests/abi/RELEASE names (docs/abi.md):
#   - a change that breaks binaries built against that release (a
#     function or variable removed, or changed: its parameters, or a public
#     struct it reaches changing size or layout) fails: exit 1, with
#     abidiff's report, unless the library's SONAME is no longer the
#     baseline's: a break must be a decision, a SOVERSION bump
#     (CMakeLists.txt, src/daemon/CMakeLists.txt) in the same commit. Once
#     bumped, later breaks before the next release pass, reported;
#   - additions pass, and are listed;
#   - --update, at a release (the commit that sets the version the tag
#     names), writes the baselines from BUILD_DIR and RELEASE from the
#     project version.
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
# Members added at the end of the structs whose calls take their size
# break nothing (docs/abi.md).
suppr=$top/tests/abi/sized.suppr
sized_re=$(sed -n 's/^ *name_regexp = //p' "$suppr")

# layout ABI: "struct offset member" for each member of the sized structs.
layout() {
	awk -v re="$sized_re" '
		function attr(a,   m) {
			if (match($0, a "=\047[^\047]*\047"))
				return substr($0, RSTART + length(a) + 2,
					      RLENGTH - length(a) - 3)
			return ""
		}
		/<class-decl / { n = attr("name"); cur = n ~ re ? n : ""; next }
		/<\/class-decl>/ { cur = ""; next }
		cur != "" && /<data-member / { off = attr("layout-offset-in-bits") }
		cur != "" && /<var-decl / { print cur, off, attr("name") }
	' "$1"
}

# appended_only BASE NEW: the suppression lets members added at the end of
# a sized struct pass; here every member the baseline has must still be
# there, at its offset, in its order (abidiff's suppression alone would
# let an insertion in the middle pass as well).
appended_only() {
	local s ok=0
	layout "$1" >"$tmp/l.base"
	layout "$2" >"$tmp/l.new"
	for s in $(awk '{ print $1 }' "$tmp/l.base" | sort -u); do
		if ! cmp -s <(grep "^$s " "$tmp/l.base") \
			<(grep "^$s " "$tmp/l.new" | head -n "$(grep -c "^$s " "$tmp/l.base")"); then
			echo "abi-check: struct $s: a member was inserted, moved or removed (members may only be added at its end):"
			diff <(grep "^$s " "$tmp/l.base") <(grep "^$s " "$tmp/l.new")
			ok=1
		fi
	done
	return $ok
}
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
	abidiff --no-unreferenced-symbols --suppressions "$suppr" "$2" "$3" \
		>"$tmp/report"
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
	elif [ $((st & 8)) != 0 ] || [ "$broken" != 0 ] ||
		! appended_only "$2" "$3" >>"$tmp/report"; then
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
	# A toy library, changed in the ways that matter.
	mkdir -p "$tmp/h"
	toy() { # STRUCT MIDDLE END DECL DEF OUT
		printf 'struct %s { int a; %s int b; %s };\nint f(const struct %s *c);\n%s\n' \
			"$1" "$2" "$3" "$1" "$4" >"$tmp/h/t.h"
		printf '#include "h/t.h"\nint f(const struct %s *c) { return c->a; }\n%s\n' \
			"$1" "$5" >"$tmp/t.c"
		gcc -g -shared -fPIC -I"$tmp" "$tmp/t.c" -o "$tmp/libt.so" &&
			dump "$tmp/libt.so" "$tmp/$6.abi" "$tmp/h"
	}
	sized=vdev_rng_config fixed=vdev_queue_config
	toy $sized "" "" "" "" base &&
		toy $sized "" "" "int g(void);" "int g(void) { return 1; }" added &&
		toy $sized "long x;" "" "" "" inserted &&
		toy $sized "" "long x;" "" "" appended &&
		toy $fixed "" "" "" "" fixed-base &&
		toy $fixed "" "long x;" "" "" fixed-appended ||
		{ echo "abi-check: selftest: no toy"; exit 1; }
	judge added "$tmp/base.abi" "$tmp/added.abi" >/dev/null ||
		{ echo "abi-check: selftest: an added function was refused"; exit 1; }
	judge appended "$tmp/base.abi" "$tmp/appended.abi" >/dev/null ||
		{ echo "abi-check: selftest: a member added at the end of a sized struct was refused"; exit 1; }
	judge inserted "$tmp/base.abi" "$tmp/inserted.abi" >/dev/null
	[ $? = 1 ] ||
		{ echo "abi-check: selftest: a member inserted in a sized struct was accepted"; exit 1; }
	judge fixed "$tmp/fixed-base.abi" "$tmp/fixed-appended.abi" >/dev/null
	[ $? = 1 ] ||
		{ echo "abi-check: selftest: a fixed struct that grew was accepted"; exit 1; }
	echo "abi-check: selftest: additions and members appended to sized structs pass; an inserted member, or a fixed struct that grew, fails"
	exit 0
fi

release=$(cat "$top/tests/abi/RELEASE" 2>/dev/null || echo "(none)")
version=$(sed -n 's/^project(libvdev VERSION \([0-9.]*\).*/\1/p' "$top/CMakeLists.txt")
[ "$update" = --update ] || echo "abi-check: baseline: release $release"
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
		echo "$version" >"$top/tests/abi/RELEASE"
		echo "abi-check: $base updated (release $version)"
		continue
	fi
	if [ ! -f "$base" ]; then
		echo "abi-check: no baseline $base (scripts/abi-check.sh BUILD --update)"
		rc=1; continue
	fi
	judge "$name" "$base" "$tmp/$name.abi"
	case $? in
	0) ;;
	1)
		was=$(sed -n "s/.*soname='\([^']*\)'.*/\1/p" "$base" | head -n 1)
		now=$(objdump -p "$so" | awk '/SONAME/ { print $2 }')
		if [ -n "$was" ] && [ -n "$now" ] && [ "$was" != "$now" ]; then
			echo "abi-check: $name: the break is declared: SONAME" \
				"$was (release $release) is now $now"
		else
			echo "abi-check: if the break is meant: bump $name's" \
				"SOVERSION (SONAME $was now); at the release" \
				"run scripts/abi-check.sh BUILD_DIR --update"
			rc=1
		fi ;;
	*) rc=1 ;;
	esac
done
exit $rc
