#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Installs what building and testing libvdev needs on Debian 12, from
# Debian's own packages. Runs as root or through sudo. Usage:
#   scripts/install-deps.sh [build|demo|cross|test|bench]
#   build: compilers, CMake and the libraries the library uses
#   demo:  build + what scripts/demo.sh's guest needs (the User-Mode Linux
#          kernel's sources and tools, busybox, e2fsprogs)
#   cross: build + the aarch64 and s390x cross compilers, qemu-user and
#          musl-gcc (scripts/test-target.sh)
#   test:  build + cross + cmocka, clang's fuzzer runtime, valgrind, gcovr, and
#          what the guest tests need (QEMU, kernel sources, busybox,
#          debootstrap for the Debian 13 root of QEMU 11, and the tools
#          copied into guests: socat, aplay/arecord, gpiod, i2c-tools,
#          evtest, iperf3), abigail-tools for the ABI check, and DPDK's
#          testpmd (the virtio-user frontend of tests/guest/tests/net-dpdk.sh)
#   bench: build + DPDK's testpmd (tests/bench/xcore-dpdk.sh,
#          tests/bench/net/testpmd.sh)
set -euo pipefail

what=${1:-test}

build_pkgs=(build-essential cmake ninja-build pkg-config clang libseccomp-dev
            liburing-dev libgpiod-dev libasound2-dev libjson-c-dev
            libnbd-dev)
# dpkg-dev: dpkg-source, for cmocka's source package (musl).
cross_pkgs=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross
            gcc-s390x-linux-gnu libc6-dev-s390x-cross
            qemu-user-static musl-tools dpkg-dev debian-archive-keyring)
test_pkgs=(libcmocka-dev libclang-rt-14-dev llvm valgrind gcovr
           qemu-system-x86 qemu-system-common qemu-utils linux-source-6.1 patch
           busybox-static flex bison bc m4 libelf-dev libssl-dev cpio
           xz-utils zstd kmod procps util-linux e2fsprogs dosfstools
           python3 fio debootstrap abigail-tools
           socat alsa-utils gpiod i2c-tools evtest iperf3
           libvirt-daemon-system libvirt-clients)
# dpdk-dev: dpdk-testpmd with the vhost and virtio-user PMDs; the guest
# tests use virtio-user as a frontend, the benchmarks both.
dpdk_pkgs=(dpdk-dev librte-net-vhost23 librte-net-virtio23
           librte-mempool-ring23)
bench_pkgs=("${dpdk_pkgs[@]}")

# The UML guest of scripts/demo.sh (a subset of test_pkgs).
demo_pkgs=(linux-source-6.1 patch busybox-static flex bison bc m4
           libelf-dev libssl-dev cpio xz-utils e2fsprogs)

pkgs=("${build_pkgs[@]}")
case $what in
demo) pkgs+=("${demo_pkgs[@]}") ;;
cross) pkgs+=("${cross_pkgs[@]}") ;;
test) pkgs+=("${cross_pkgs[@]}" "${test_pkgs[@]}" "${dpdk_pkgs[@]}") ;;
bench) pkgs+=("${bench_pkgs[@]}") ;;
esac

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#pkgs[@]} packages present"
	exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "install-deps: need root or sudo" >&2; exit 1; }
	sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	--no-install-recommends "${missing[@]}"
