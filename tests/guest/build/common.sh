# SPDX-License-Identifier: BSD-3-Clause
# Shared by the guest-image builders: cache location, input hashing, locking.
# Sourced, not run.

GUEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GUEST_CACHE=${VDEV_GUEST_CACHE:-/var/cache/libvdev-guest}
GUEST_JOBS=${VDEV_GUEST_JOBS:-2}

glog() { echo "guest-build: $*" >&2; }
gdie() { echo "guest-build: error: $*" >&2; exit 1; }
# A missing prerequisite is not a failure: the tests needing it SKIP.
GUEST_EX_UNAVAILABLE=77
gskip() {
	echo "guest-build: unavailable: $*" >&2
	echo "$*" >"${GUEST_WHY_FILE:-/dev/null}"
	exit $GUEST_EX_UNAVAILABLE
}

# need_cmds CMD...: gskip unless every command exists.
need_cmds() {
	local c missing=
	for c in "$@"; do
		command -v "$c" >/dev/null || missing+=" $c"
	done
	[ -z "$missing" ] || gskip "missing commands:$missing"
}

# pkg_version PACKAGE: installed Debian version, empty when not installed.
pkg_version() {
	dpkg-query -W -f='${Version}' "$1" 2>/dev/null || true
}

# input_key FILE... -- STRING...: short hash naming a cache entry.  Any
# change to a builder script, a config fragment or a source version gives a
# new key, hence a rebuild.
input_key() {
	{
		while [ $# -gt 0 ] && [ "$1" != "--" ]; do
			echo "file $(basename "$1")"; cat "$1"; shift
		done
		[ $# -gt 0 ] && shift
		for s in "$@"; do echo "str $s"; done
	} | sha256sum | cut -c1-16
}

# with_lock NAME CMD...: serialise builders of one component (two test runs
# starting at once must not build into the same directory).
with_lock() {
	local name=$1; shift
	mkdir -p "$GUEST_CACHE"
	(
		flock 9
		"$@"
	) 9>"$GUEST_CACHE/.lock-$name"
}

# prune_old PREFIX KEEP: drop superseded cache entries of one component.
prune_old() {
	local d
	for d in "$GUEST_CACHE/$1"-*; do
		[ -d "$d" ] && [ "$d" != "$2" ] && rm -rf "$d"
	done
	return 0
}
