#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Builds libvdev, its daemons and its unit tests for another target and
# runs the tests there:
#   aarch64-linux-gnu   64-bit Arm, under qemu-aarch64-static
#   s390x-linux-gnu     IBM Z, big-endian, under qemu-s390x-static
#   x86_64-linux-musl   x86-64 with musl instead of glibc, natively
# Usage: scripts/test-target.sh TARGET [BUILD_DIR]   (default build/TARGET)
#
# The compilers and qemu-user come from Debian (scripts/install-deps.sh
# cross), the target's cmocka from scripts/target-root.sh. The tests run
# through an explicit emulator (CMAKE_CROSSCOMPILING_EMULATOR), so
# binfmt_misc is not needed. aarch64 is a release build (-O3): that is
# what its users build, and its gcc's -O3 warnings differ from x86-64's.
# s390x (there for its byte order) and musl (the same gcc as the x86-64
# release build, which has -O3) are built at -O1, a third faster to
# build (VDEV_TARGET_CFLAGS overrides the level). No
# sanitizers: the gcc ASan stage of scripts/test.sh covers the same code
# on x86-64. Writes BUILD_DIR/ctest.xml (JUnit) and exits non-zero if a
# test failed.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
target=${1:?usage: $0 aarch64-linux-gnu|s390x-linux-gnu|x86_64-linux-musl [BUILD_DIR]}
dir=${2:-$top/build/$target}
jobs=$(nproc 2>/dev/null || echo 2)

case $target in
aarch64-linux-gnu) cflags=${VDEV_TARGET_CFLAGS:--O3} ;;
s390x-linux-gnu | x86_64-linux-musl) cflags=${VDEV_TARGET_CFLAGS:--O1} ;;
*) echo "test-target: unknown target $target" >&2; exit 2 ;;
esac

"$top/scripts/install-deps.sh" cross >&2 || exit 1
root=$("$top/scripts/target-root.sh" "$target") || exit 1

mkdir -p "$dir"
if ! cmake -S "$top" -B "$dir" -G Ninja \
	-DCMAKE_TOOLCHAIN_FILE="$top/cmake/toolchains/$target.cmake" \
	-DVDEV_TARGET_ROOT="$root" -DCMAKE_BUILD_TYPE=Release \
	-DCMAKE_C_FLAGS_RELEASE="$cflags -DNDEBUG" \
	-DVDEV_WERROR=ON -DVDEV_BUILD_BENCH=OFF >"$dir.configure.log" 2>&1; then
	cat "$dir.configure.log"
	exit 1
fi
# The backend summary: what this target was built without, and why.
sed -n '/optional backends:/,/^-- [^ ]/p' "$dir.configure.log" | grep '^--  '
ninja -C "$dir" -j"$jobs" || exit 1
ctest --test-dir "$dir" -j"$jobs" --output-on-failure \
	--output-junit "$dir/ctest.xml" --timeout 600
rc=$?
# Cases a program skipped inside (cmocka), with the reasons they gave.
grep -h '^SKIP: \|\[  SKIPPED \] [a-z]' "$dir"/Testing/Temporary/LastTest*.log \
	2>/dev/null | sort | uniq -c | sed 's/^/  skipped: /'
exit $rc
