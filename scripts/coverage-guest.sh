#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# The guest tier of scripts/coverage.sh: real Linux drivers drive the
# daemons of a coverage build, and their counts become the guest tier.
#   scripts/coverage-guest.sh GUEST_BUILD_DIR
# GUEST_BUILD_DIR: gcc, -DVDEV_COVERAGE=ON, no sanitizer, Debug (-O0, as
# the unit tier's build, so both count the same lines); only the daemons
# are needed (scripts/test.sh: build/coverage-guest, ~45 s on two busy
# cores):
#   cmake -S . -B B -G Ninja -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Debug \
#     -DVDEV_COVERAGE=ON -DVDEV_BUILD_EXAMPLES=OFF -DVDEV_BUILD_BENCH=OFF
#   ninja -C B $(scripts/coverage-guest.sh --targets)
# Not the ASan build of the unit tier: its daemons run the sandbox with
# the calls ASan needs added (the guests should count the real filter's
# paths), they are slower, and cases that copy test programs into their
# guests (input.sh) fail with ASan ones: program and runtime overflow a
# 128 MiB UML guest while it unpacks its initramfs.
# Old counts under GUEST_BUILD_DIR are deleted first; the cases below run
# against its daemons; their counts go to GUEST_BUILD_DIR/coverage-guest.json
# (scripts/coverage.sh capture guest). GUEST_BUILD_DIR/coverage-guest.status
# says whether the tier ran whole: "complete" only when every case chosen
# passed and none skipped; else why not ("skipped: ..." or "incomplete:
# ..."), and coverage.sh then gates on the unit floor alone, saying so.
#
# Which cases: the whole guest tier takes ~9 min, and nearly every line it
# runs the unit tier runs too. Measured on 2026-12-03, each script alone
# against the unit tier, on UML and on QEMU 11.1 over vfio-user: rng,
# blk-vdev, blk-features, gpio, i2c, input and nbd add no line of src/,
# adapters/ or daemons/; vsock and snd a handful (3 and 5) for 28 s and
# 10 s; the vfio-user cases none (the unit tier drives adapters/vfio-user
# through real sockets) beyond ten lines of the PCI class table. What
# adds: net (the tap back-end in a network namespace, offloads, the
# stream back-end: ~180 lines), console (its host back-ends and daemon:
# ~60) and scsi-features (daemon options), all on UML: SCRIPT:FRONTENDS
# below. Other frontends' cases SKIP as "not selected"
# (VDEV_GUEST_FRONTENDS). VDEV_COVERAGE_GUEST_CASES overrides the list.
#
# The daemons write their counts when they exit: the cases stop them with
# SIGTERM (lib.sh bg_stop), main() returns, and gcov's exit handler
# writes. The sandbox of a coverage build lets gcov open, lock and write
# the .gcda files (src/daemon/sandbox.c, coverage_calls); the run lists
# the daemons that wrote counts ("counts from:"). A daemon a case
# SIGKILLs (the crash and reconnect cases) writes nothing: those cases are
# not chosen. Programs a case runs inside a guest write their counts
# there, where they are lost (the guest's own tests check them).
#
# Exit status: 0 when nothing failed (skips included: the status file
# says so), 1 when a case failed or the counts could not be captured.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
# SCRIPT:FRONTEND[,FRONTEND...]: tests/guest/tests/SCRIPT.sh with only
# those frontends' cases (the others SKIP as "not selected").
cases=${VDEV_COVERAGE_GUEST_CASES:-net:uml console:uml scsi-features:uml}
if [ "${1:-}" = --targets ]; then
	echo vdev-blk vdev-console vdev-gpio vdev-i2c vdev-input vdev-net \
		vdev-rng vdev-scsi vdev-snd vdev-vsock guest_net_stream
	exit 0
fi
b=$(cd "${1:?usage: scripts/coverage-guest.sh GUEST_BUILD_DIR | --targets}" && pwd) || exit 1
status=$b/coverage-guest.status
log=$b/coverage-guest.log

rm -f "$status" "$b/coverage-guest.json"
say() { echo "$1" >"$status"; echo "coverage-guest: $1"; }

if ! grep -q '^VDEV_COVERAGE:BOOL=ON' "$b/CMakeCache.txt" 2>/dev/null; then
	say "skipped: $b is not a coverage build (-DVDEV_COVERAGE=ON)"
	exit 1
fi
find "$b" -name '*.gcda' -delete

# One run-all.sh per set of frontends (each checks the images: ~8 s).
declare -A group=()
for c in $cases; do
	fes=${c#*:}
	[ "$fes" = "$c" ] && { echo "coverage-guest: $c: no frontend (SCRIPT:FE[,FE])"; exit 2; }
	group[$fes]+=" ${c%%:*}"
done
t0=$(date +%s)
: >"$log"
p=0 f=0 s=0 runs=0 frontends=
for fes in "${!group[@]}"; do
	frontends+=" ${fes//,/ }"
	echo "coverage-guest: frontends ${fes//,/ }:${group[$fes]}"
	VDEV_GUEST_FRONTENDS=${fes//,/ } "$top/tests/guest/run-all.sh" "$b" \
		${group[$fes]} 2>&1 | tee "$log.run"
	cat "$log.run" >>"$log"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log.run" | tail -n1)
	[ -n "$line" ] || continue
	read -r p1 _ f1 _ s1 _ <<<"$line"
	p=$((p + p1)) f=$((f + f1)) s=$((s + s1)) runs=$((runs + 1))
done
secs=$(($(date +%s) - t0))
rm -f "$log.run"
line=
[ "$runs" = "${#group[@]}" ] && line="$p passed, $f failed, $s skipped"
# Skips that matter: of a case on a chosen frontend (its name has -FE- or
# ends in -FE). Cases of other frontends skip by design (not selected,
# or what an unchosen QEMU cannot do).
skips=$b/coverage-guest.skips
: >"$skips"
for fe in $frontends; do
	grep -E "^GUEST-TEST: SKIP [^ ]*-$fe(-[^ ]*)? " "$log" |
		grep -v 'not selected (VDEV_GUEST_FRONTENDS=' >>"$skips"
done
rc=0
if [ -z "$line" ]; then
	say "skipped: tests/guest/run-all.sh printed no summary ($log)"
	rc=1
else
	n=$(sort -u "$skips" | grep -c .)
	if [ "$f" -gt 0 ]; then
		say "incomplete: $f of the guest cases failed ($log)"
		rc=1
	elif [ "$p" = 0 ]; then
		say "skipped: no guest case ran here ($(grep -m1 '^GUEST-TEST: SKIP' "$log" |
			cut -d' ' -f3-))"
	elif [ "$n" -gt 0 ]; then
		say "incomplete: $n of the guest cases on $frontends skipped ($(head -n1 "$skips" | cut -d' ' -f3-))"
	else
		say complete
	fi
	echo "coverage-guest: $p passed, $f failed, $s skipped ($n of them on the chosen frontends); $secs s"
fi
# Which daemons wrote counts (one that could not, sandbox or SIGKILL, is
# missing here).
have=
for d in "$b"/daemons/*/; do
	find "$d" -name '*.gcda' -print -quit | grep -q . && have+=" vdev-$(basename "$d")"
done
echo "coverage-guest: counts from:${have:- no daemon}"
if find "$b" -name '*.gcda' -print -quit | grep -q .; then
	"$top/scripts/coverage.sh" capture guest "$b" || rc=1
elif [ "$(cat "$status")" = complete ]; then
	say "incomplete: the guest cases ran but no daemon wrote counts"
	rc=1
fi
exit $rc
