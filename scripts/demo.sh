#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Builds everything (release) and runs the main demo: a virtio-rng device
# driven by the library's software driver, no VM needed. Installs what the
# build needs first (Debian 12, root or sudo).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${VDEV_BUILD_DIR:-$top/build/release}

"$top/scripts/install-deps.sh" build
cmake -S "$top" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
	-DVDEV_BUILD_TESTS=OFF >/dev/null
ninja -C "$build"
echo
exec "$build/examples/rng-demo/vdev-rng-demo" "$@"
