#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Runs every test of libvdev, from a fresh Debian 12 machine on:
#   1. installs what it needs (scripts/install-deps.sh test)
#   2. gcc, -Werror, ASan + UBSan: builds everything, runs the unit, replay
#      and KVM small-guest tests (ctest)
#   3. clang, -Werror: builds everything, runs the same tests
#   3b. other targets (scripts/test-target.sh): x86-64 with musl, and
#      aarch64 and big-endian s390x under qemu-user: release builds of the
#      library, daemons and unit tests, the unit tests run there
#   4. checks that libvdev.so exports only vdev_* symbols, and that its ABI
#      and libvdev-daemon.so's are compatible with tests/abi (abidiff)
#   5. libFuzzer (scripts/fuzz.sh): VDEV_FUZZ_BUDGET seconds in all
#      (default 420) on two lanes, split evenly among the targets, three
#      quarters in the normal mode and one quarter for the targets with
#      guest memory in the double-fetch mode (VDEV_FUZZ_FLIP=1: a thread
#      keeps changing that memory); each target's runs are printed
#   5b. the gpio backend built against libgpiod 2.x (bookworm-backports,
#      unpacked privately) and its unit tests
#   6. benchmarks (release build; they print numbers and never fail on time)
#   7. guest tests: real Linux guests (User-Mode Linux, QEMU TCG) driving
#      the daemons; kernels are cached in $VDEV_GUEST_CACHE
#   7b. the guest tier of the coverage (scripts/coverage-guest.sh): the
#      guest cases that reach lines the unit tier does not (net, console
#      and scsi-features on UML), against a gcc coverage build of the
#      daemons (no sanitizer)
#   8. coverage (scripts/coverage.sh): lines of src/ and adapters/ run by
#      the gcc ASan build's tests (the unit tier) and by 7b (the guest
#      tier), against the floors in tests/coverage-floor
# and ends with one line "N passed, N failed, N skipped".
#
# Environment: VDEV_BUILD_ROOT (default ./build), VDEV_FUZZ_BUDGET,
# VDEV_SKIP_GUEST=1, VDEV_SKIP_BENCH=1, VDEV_SKIP_FUZZ=1, VDEV_SKIP_CROSS=1
# (each reported as skipped, never as passed).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
root=${VDEV_BUILD_ROOT:-$top/build}
fuzz_budget=${VDEV_FUZZ_BUDGET:-420}
jobs=$(nproc 2>/dev/null || echo 2)

passed=0 failed=0 skipped=0
failures=()

stage() { printf '\n==== %s [%ds] ====\n' "$*" "$SECONDS"; }
count() { # count PASS|FAIL|SKIP name [n]
	local n=${3:-1}
	case $1 in
	PASS) passed=$((passed + n)) ;;
	FAIL) failed=$((failed + n)); failures+=("$2") ;;
	SKIP) skipped=$((skipped + n)) ;;
	esac
}

"$top/scripts/install-deps.sh" test || { echo "dependency install failed"; exit 1; }

# Reads ctest's JUnit output and adds its counts.
ctest_counts() { # ctest_counts NAME JUNIT
	local f=$2 t=0 fl=0 sk=0
	if [ -f "$f" ]; then
		t=$(grep -c '<testcase ' "$f" || true)
		fl=$(grep -c '<testcase .*status="fail"' "$f" || true)
		sk=$(grep -c '<skipped' "$f" || true)
	fi
	t=${t:-0} fl=${fl:-0} sk=${sk:-0}
	passed=$((passed + t - fl - sk))
	skipped=$((skipped + sk))
	if [ "$fl" -gt 0 ]; then
		failed=$((failed + fl))
		failures+=("$1: $fl ctest failures")
	fi
	echo "$1: $((t - fl - sk)) passed, $fl failed, $sk skipped"
}

# configure DIR CC [cmake args...]: configures DIR with every option this
# script relies on, never with what another script or a person left in its
# cache: a cache this script did not make with these very options (demo.sh
# makes build/release with VDEV_BUILD_TESTS=OFF) is dropped first.
# The log goes to DIR.configure.log.
configure() {
	local dir=$1 cc=$2; shift 2
	local args=(-G Ninja -DCMAKE_C_COMPILER="$cc" -DVDEV_WERROR=ON
		-DVDEV_BUILD_TESTS=ON -DVDEV_BUILD_EXAMPLES=ON
		-DVDEV_BUILD_DAEMONS=ON -DVDEV_BUILD_BENCH=ON -DVDEV_FUZZ=OFF
		-DVDEV_SANITIZE=OFF -DVDEV_GUEST_TESTS=OFF "$@")
	local stamp="scripts/test.sh: ${args[*]}"
	if [ -f "$dir/CMakeCache.txt" ] &&
		[ "$(cat "$dir/.vdev-test-sh" 2>/dev/null)" != "$stamp" ]; then
		echo "$dir: configured by someone else (or otherwise): starting afresh"
		rm -rf "$dir/CMakeCache.txt" "$dir/CMakeFiles"
	fi
	mkdir -p "$dir"
	rm -f "$dir/.vdev-test-sh"
	cmake -S "$top" -B "$dir" "${args[@]}" >"$dir.configure.log" 2>&1 &&
		echo "$stamp" >"$dir/.vdev-test-sh"
}

build_and_test() { # NAME CC [cmake args...]
	local name=$1 cc=$2; shift 2
	local dir=$root/$name
	stage "$name: configure and build ($cc)"
	if ! configure "$dir" "$cc" "$@"; then
		cat "$dir.configure.log"; count FAIL "$name: configure"; return 1
	fi
	if ! ninja -C "$dir" -j"$jobs"; then
		count FAIL "$name: build"; return 1
	fi
	count PASS "$name: build"
	stage "$name: ctest"
	ctest --test-dir "$dir" -j"$jobs" --output-on-failure \
		--output-junit "$dir/ctest.xml" --timeout 600
	ctest_counts "$name" "$dir/ctest.xml"
}

mkdir -p "$root"

# The gcc ASan build is also the coverage build of the unit tier
# (scripts/coverage.sh at the end): its unit, replay and KVM tests write
# the counts; those of an earlier run in this directory are dropped.
[ -d "$root/gcc-asan" ] && find "$root/gcc-asan" -name '*.gcda' -delete
build_and_test gcc-asan gcc -DVDEV_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug \
	-DVDEV_COVERAGE=ON
build_and_test clang clang -DCMAKE_BUILD_TYPE=RelWithDebInfo

for t in x86_64-linux-musl aarch64-linux-gnu s390x-linux-gnu; do
	stage "$t: build and unit tests (scripts/test-target.sh)"
	if [ "${VDEV_SKIP_CROSS:-0}" = 1 ]; then
		echo "SKIP: VDEV_SKIP_CROSS=1"; count SKIP "$t"; continue
	fi
	rm -f "$root/$t/ctest.xml"
	"$top/scripts/test-target.sh" "$t" "$root/$t"
	if [ -f "$root/$t/ctest.xml" ]; then
		count PASS "$t: build"
		ctest_counts "$t" "$root/$t/ctest.xml"
	else
		count FAIL "$t: configure or build"
	fi
done

stage "exported symbols of libvdev.so and libvdev-daemon.so"
# check_exports LIB PREFIX SONAME
check_exports() {
	local so=$1 prefix=$2 want=$3 bad soname
	if [ ! -f "$so" ]; then
		count FAIL "exports: no $(basename "$so")"; return
	fi
	bad=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVW]$/ {print $3}' |
		sed 's/@.*//' | grep -v "^$prefix" || true)
	soname=$(objdump -p "$so" | awk '/SONAME/ {print $2}')
	echo "$(basename "$so"): SONAME $soname; exported: $(nm -D --defined-only "$so" | grep -c " T $prefix") functions"
	if [ -n "$bad" ] || [ "$soname" != "$want" ]; then
		echo "symbols outside $prefix*: $bad"; count FAIL "exports $(basename "$so")"
	else
		count PASS "exports $(basename "$so")"
	fi
}
# The SONAMEs the CMake files ask for (bumped on an ABI break).
soversion() { sed -n "s/^set($1 \([0-9]*\)).*/\1/p" "$2"; }
check_exports "$root/clang/libvdev.so" vdev_ \
	"libvdev.so.$(soversion VDEV_SOVERSION "$top/CMakeLists.txt")"
check_exports "$root/clang/src/daemon/libvdev-daemon.so" vdev_daemon_ \
	"libvdev-daemon.so.$(soversion VDEV_DAEMON_SOVERSION "$top/src/daemon/CMakeLists.txt")"

stage "ABI of libvdev.so and libvdev-daemon.so against tests/abi (abidiff)"
# A break must be a decision (scripts/abi-check.sh says how to make it).
for what in --selftest "$root/clang"; do
	"$top/scripts/abi-check.sh" "$what"
	case $? in
	0) count PASS "abi ${what##*/}" ;;
	77) count SKIP "abi ${what##*/}" ;;
	*) count FAIL "abi ${what##*/}" ;;
	esac
done

stage "fuzzing (${fuzz_budget} s in all, scripts/fuzz.sh)"
if [ "${VDEV_SKIP_FUZZ:-0}" = 1 ]; then
	echo "SKIP: VDEV_SKIP_FUZZ=1"; count SKIP fuzz
elif configure "$root/fuzz" clang -DVDEV_FUZZ=ON -DVDEV_SANITIZE=ON \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo && ninja -C "$root/fuzz" -j"$jobs"; then
	# A fixed budget split among the targets, the double-fetch mode
	# (docs/hostile-peers.md) included; one line per target with its
	# runs. VDEV_FUZZ_LONG=1 scripts/fuzz.sh is the deep run.
	VDEV_FUZZ_BUDGET=$fuzz_budget VDEV_FUZZ_LONG=0 \
		"$top/scripts/fuzz.sh" "$root/fuzz" | tee "$root/fuzz.log"
	while read -r _ st name rest; do
		case $rest in "(double fetch)"*) name="$name (double fetch)" ;; esac
		if [ "$st" = PASS ]; then count PASS "$name"; else count FAIL "$name"; fi
	done < <(grep '^FUZZ: ' "$root/fuzz.log")
	grep -q '^FUZZ: ' "$root/fuzz.log" || count FAIL "fuzz: no result"
else
	cat "$root/fuzz.configure.log"; count FAIL "fuzz: build"
fi

# The release build serves the benchmarks, the install check, valgrind and
# the guest tests: it is built even when the benchmarks are skipped.
stage "release build (gcc, tests and benchmarks on)"
release_ok=0
if configure "$root/release" gcc -DCMAKE_BUILD_TYPE=Release &&
	ninja -C "$root/release" -j"$jobs"; then
	release_ok=1 && count PASS "release: build"
else
	cat "$root/release.configure.log"; count FAIL "release: build"
fi

# The gpio backend against libgpiod 2.x (bookworm-backports, unpacked
# into the guest cache, never installed): built and unit-tested here; the
# guest stage runs its gpio-sim test in UML (gpio-i2c-host).
stage "gpio on libgpiod 2.x (bookworm-backports, private prefix)"
if gpiod2_pc=$("$top/tests/guest/build/libgpiod2.sh" 2>"$root/gpiod2.log"); then
	if PKG_CONFIG_PATH=$gpiod2_pc configure "$root/gpiod2" gcc \
		-DCMAKE_BUILD_TYPE=Release -DVDEV_WITH_GPIOD=ON &&
		ninja -C "$root/gpiod2" -j"$jobs" test_gpio test_gpio_host \
			test_gpio_daemon vdev-gpio &&
		"$root/gpiod2/tests/test_gpio" &&
		VDEV_BUILD_DIR=$root/gpiod2 "$root/gpiod2/tests/test_gpio_daemon"; then
		count PASS "gpio: libgpiod 2.x build"
		export VDEV_GPIOD2_BUILD_DIR=$root/gpiod2
	else
		count FAIL "gpio: libgpiod 2.x build"
	fi
else
	echo "SKIP: libgpiod 2.x: $(tail -n1 "$root/gpiod2.log")"
	count SKIP "gpio: libgpiod 2.x"
fi

stage "benchmarks (numbers, never pass/fail on time)"
if [ "${VDEV_SKIP_BENCH:-0}" = 1 ]; then
	echo "SKIP: VDEV_SKIP_BENCH=1"; count SKIP bench
elif [ $release_ok = 1 ]; then
	for b in "$root"/release/tests/bench_*; do
		[ -x "$b" ] || continue
		echo "--- $(basename "$b")"
		if VDEV_BENCH_QUICK=${VDEV_BENCH_QUICK:-1} timeout 600 "$b"; then
			count PASS "$(basename "$b")"
		else
			count FAIL "$(basename "$b") did not run to completion"
		fi
	done
else
	echo "no release build (counted above): benchmarks not run"
fi

stage "install: pkg-config and find_package(libvdev) consumers"
inst=$root/install
rm -rf "$inst" "$root/consumer"
# Only libvdev's own .pc files are visible: neither json-c's nor
# liburing's may be needed to compile against libvdev.
pc() { PKG_CONFIG_LIBDIR=$inst/lib/pkgconfig pkg-config "$@"; }
# Code users copy (the template) builds with plain warnings, no project
# flags: -Wno-unused-parameter and friends are not theirs.
user_cc() { gcc -std=c11 -Wall -Wextra -Werror "$@"; }
if [ -d "$root/release" ] && cmake --install "$root/release" --prefix "$inst" >/dev/null &&
	pc --cflags libvdev >/dev/null && pc --cflags libvdev-daemon >/dev/null &&
	user_cc "$top/tests/install/consumer.c" -o "$root/consumer-pc" \
		$(pc --cflags --libs libvdev) &&
	LD_LIBRARY_PATH=$inst/lib "$root/consumer-pc" &&
	user_cc -I"$top/examples/template" "$top/examples/template/template.c" \
		"$top/examples/template/daemon.c" -o "$root/template-daemon" \
		$(pc --cflags --libs libvdev-daemon) &&
	user_cc -I"$top/examples/template" "$top/tests/install/template-client.c" \
		-o "$root/template-client" $(pc --cflags --libs libvdev) &&
	user_cc -I"$top/examples/event-template" \
		"$top/examples/event-template/tick.c" \
		"$top/examples/event-template/daemon.c" -o "$root/tick-daemon" \
		$(pc --cflags --libs libvdev-daemon) &&
	LD_LIBRARY_PATH=$inst/lib "$top/tests/install/template-daemon.sh" \
		"$root/template-daemon" "$root/template-client" &&
	# Captured whole: `| grep -q` under pipefail fails when grep exits
	# before the program's last write.
	grep -q '"type": "tick"' <<<"$(LD_LIBRARY_PATH=$inst/lib \
		"$root/tick-daemon" --print-capabilities)" &&
	test -s "$inst/share/man/man1/vdev-rng.1" &&
	test -s "$inst/share/qemu/vhost-user/50-vdev-blk.json" &&
	# The descriptor and the units name the program where --prefix put
	# it, and it is there.
	grep -q "\"binary\": \"$inst/libexec/vdev-blk\"" \
		"$inst/share/qemu/vhost-user/50-vdev-blk.json" &&
	test -x "$inst/libexec/vdev-blk" &&
	grep -q "^ExecStart=$inst/libexec/vdev-rng --fd 3 " \
		"$inst/lib/systemd/system/vdev-rng@.service" &&
	grep -q "^ListenStream=/run/vdev/rng-%i.sock" \
		"$inst/lib/systemd/system/vdev-rng@.socket" &&
	cmake -S "$top/tests/install/project" -B "$root/consumer" -G Ninja \
		-DCMAKE_PREFIX_PATH="$inst" >/dev/null &&
	ninja -C "$root/consumer" >/dev/null &&
	LD_LIBRARY_PATH=$inst/lib "$root/consumer/consumer_shared" &&
	"$root/consumer/consumer_static" &&
	"$top/tests/install/template-daemon.sh" "$root/consumer/template_daemon_static"; then
	count PASS install
else
	count FAIL "install: consumers"
fi

stage "valgrind: adapters under memcheck (1,000 vhost-user reconnects included)"
for t in test_vhost_user_e2e test_vfio_user_rng; do
	bin=$root/release/tests/$t
	if [ ! -x "$bin" ]; then
		count FAIL "valgrind: $t not built"; continue
	fi
	# The tests count their own fds before and after; memcheck adds
	# leaks and invalid accesses.
	if (cd "$root/release" && VDEV_BUILD_DIR="$root/release" \
		valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
		--errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
		"$bin" >"$root/valgrind-$t.log" 2>&1); then
		echo "$t: clean under valgrind"; count PASS "valgrind $t"
	else
		tail -40 "$root/valgrind-$t.log"; count FAIL "valgrind $t"
	fi
done

stage "guest tests (real Linux drivers)"
if [ "${VDEV_SKIP_GUEST:-0}" = 1 ]; then
	echo "SKIP: VDEV_SKIP_GUEST=1"; count SKIP guest
elif [ -x "$top/tests/guest/run-all.sh" ]; then
	out=$root/guest.log
	"$top/tests/guest/run-all.sh" "$root/release" 2>&1 | tee "$out"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$out" | tail -1)
	if [ -n "$line" ]; then
		read -r gp _ gf _ gs _ <<<"$line"
		passed=$((passed + gp)); skipped=$((skipped + gs))
		[ "$gf" -gt 0 ] && { failed=$((failed + gf)); failures+=("guest: $gf failed"); }
	else
		count FAIL "guest: no summary line"
	fi
else
	echo "SKIP: no guest tests in this tree"; count SKIP guest
fi

# The guest tier of the coverage (scripts/coverage-guest.sh says which
# cases and why): its own build of the daemons, gcc -O0 with --coverage
# and no sanitizer. Without it scripts/coverage.sh checks the unit floor
# only, and says so.
stage "guest tier of the coverage (scripts/coverage-guest.sh)"
cg=$root/coverage-guest
rm -f "$cg/coverage-guest.status" "$cg/coverage-guest.json"
if [ "${VDEV_SKIP_GUEST:-0}" = 1 ]; then
	echo "SKIP: VDEV_SKIP_GUEST=1"; count SKIP "coverage: guest tier"
	mkdir -p "$cg" && echo "skipped: VDEV_SKIP_GUEST=1" >"$cg/coverage-guest.status"
elif ! configure "$cg" gcc -DCMAKE_BUILD_TYPE=Debug -DVDEV_COVERAGE=ON \
	-DVDEV_BUILD_EXAMPLES=OFF -DVDEV_BUILD_BENCH=OFF ||
	! ninja -C "$cg" -j"$jobs" $("$top/scripts/coverage-guest.sh" --targets); then
	cat "$cg.configure.log" 2>/dev/null; count FAIL "coverage: guest tier build"
elif "$top/scripts/coverage-guest.sh" "$cg"; then
	case $(head -n1 "$cg/coverage-guest.status") in
	complete) count PASS "coverage: guest tier" ;;
	*) count SKIP "coverage: guest tier" ;;
	esac
else
	count FAIL "coverage: guest tier ($(head -n1 "$cg/coverage-guest.status" 2>/dev/null))"
fi

stage "coverage of src/ and adapters/, unit and guest tiers (scripts/coverage.sh)"
if [ -f "$root/gcc-asan/CMakeCache.txt" ] &&
	"$top/scripts/coverage.sh" "$root/gcc-asan" "$cg"; then
	count PASS coverage
else
	count FAIL "coverage: below the floor (tests/coverage-floor) or not measured"
fi

stage "summary (${SECONDS}s in all)"
for f in "${failures[@]}"; do echo "FAILED: $f"; done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
