#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
#
# Runs the template daemon built out of tree (scripts/test.sh, install
# stage): its generated --help and --print-capabilities, a bad command
# line, then serving on a socket until SIGTERM, which must end it with
# status 0 and remove the socket.
# With CLIENT, the client drives one request through the daemon.
# usage: template-daemon.sh PROGRAM [CLIENT]
set -uo pipefail
prog=$1
client=${2:-}
dir=$(mktemp -d /tmp/vdev-tpl-XXXXXX)
trap 'kill -KILL "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
pid=

fail() { echo "template daemon: $*"; exit 1; }

# Output is captured whole before grep sees it: under pipefail,
# `prog | grep -q` fails whenever grep exits before prog's last write
# (SIGPIPE), which a loaded machine makes happen.
help=$("$prog" --help) || fail "--help failed"
grep -q -- '--socket-path PATH' <<<"$help" || fail "--help lacks the common options"
grep -q -- '--max-len BYTES' <<<"$help" || fail "--help lacks --max-len"
caps=$("$prog" --print-capabilities) || fail "--print-capabilities failed"
grep -q '"type": "template"' <<<"$caps" || fail "--print-capabilities lacks the type"
"$prog" -s "$dir/s" --max-len 0 2>/dev/null && fail "accepted --max-len 0"
"$prog" -s "$dir/s" --queue-size 256 --poll-us 10 --num-queues 1 \
	--thread-per-queue & pid=$!
for _ in $(seq 100); do [ -S "$dir/s" ] && break; sleep 0.05; done
[ -S "$dir/s" ] || fail "no socket after 5 s"
if [ -n "$client" ]; then
	"$client" "$dir/s" || fail "the client's request failed"
fi
kill -TERM "$pid"
wait "$pid"; rc=$?
[ $rc = 0 ] || fail "exit status $rc after SIGTERM"
[ -e "$dir/s" ] && fail "socket left behind"
echo "template daemon: built out of tree, served and stopped cleanly"
