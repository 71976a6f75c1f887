#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# virtio-rng through examples/vdev-rng with real Linux drivers: UML
# (virtio_uml), QEMU (vhost-user-rng-pci), and QEMU reconnecting after the
# daemon is killed and restarted while the guest reads.  The daemon serves
# a known random file (-f); every 64-byte read in the guest must be a run
# of that file's bytes.
. "$(dirname "$0")/../lib.sh"
guest_setup

RNG=${VDEV_RNG:-${VDEV_BUILD_DIR:-}/examples/vdev-rng/vdev-rng}
DATA=$GUEST_WORK/rng.bin
head -c 262144 /dev/urandom >"$DATA"
# The file as " xx xx ...": a chunk matches only at a byte boundary.
DATA_HEX=$GUEST_WORK/rng.hex
od -An -v -tx1 "$DATA" | tr -d '\n' >"$DATA_HEX"

# No khwrngd: with quality 0 nothing but our reads takes bytes from the
# device, so each read is one contiguous run of the file.
RNG_APPEND="rng_core.default_quality=0"

rng_start() { # SOCK LOG
	rm -f "$1"
	bg_start "$2" "$RNG" -s "$1" -f "$DATA"
	RNG_PID=$BG_PID
	wait_socket "$1" || echo "vdev-rng did not create $1"
}

# rng_verify LOG [ALLOWED-BAD]: prints why the chunks are wrong, if they are.
rng_verify() {
	local log=$1 allow=${2:-0} n=0 bad=0 idx hex
	while read -r _ idx hex; do
		n=$((n + 1))
		grep -qF " $hex" "$DATA_HEX" && continue
		# A read spanning a daemon restart joins two runs: accept it
		# when allowed and both its ends come from the file.
		if [ "$bad" -lt "$allow" ] &&
			grep -qF " ${hex:0:24}" "$DATA_HEX" &&
			grep -qF " ${hex: -23}" "$DATA_HEX"; then
			bad=$((bad + 1)); continue
		fi
		echo "chunk $idx is not from the served file: $hex"
		return
	done < <(grep -a '^RNG-CHUNK ' "$log" | tr -d '\r' | sed 's/  */ /')
	[ "$n" -gt 0 ] || echo "no chunks in the guest output"
}

rng_case() { # uml|qemu
	local fe=$1 name=rng-$1 why
	why=$(${fe}_unavailable)
	[ -n "$why" ] && { guest_skip "$name" "$why"; return; }
	local sock=$GUEST_WORK/rng-$fe.sock log=$GUEST_WORK/$name.log
	local initrd=$GUEST_WORK/rng-$fe.cpio
	guest_initramfs "$fe" "$initrd" -M virtio_rng -n "$name" \
		"$GUEST_DIR/tests/rng.in-guest"
	rng_start "$sock" "$GUEST_WORK/vdev-rng-$fe.log"
	if [ "$fe" = uml ]; then
		run_uml "$log" "$initrd" -- "$sock:4" -- $RNG_APPEND
	else
		run_qemu "$log" "$initrd" -- \
			-chardev "socket,id=c0,path=$sock" \
			-device vhost-user-rng-pci,chardev=c0 \
			--append "$RNG_APPEND"
	fi
	bg_stop "$RNG_PID"
	guest_check "$name" "$log" "$(rng_verify "$log")"
}

# QEMU 7.2 connects a reconnect=N chardev asynchronously, so a
# vhost-user-rng-pci on the command line is realized before the socket is
# up and fails.  Start paused (-S), wait for the connection over an HMP
# monitor, device_add, cont: the device is present before the firmware runs.
rng_reconnect() {
	local name=rng-qemu-reconnect why qv
	why=$(qemu_unavailable)
	[ -n "$why" ] && { guest_skip "$name" "$why"; return; }
	# Seen with 7.2: after reconnecting, vhost-user-rng sends
	# SET_VRING_CALL, SET_FEATURES, GET_STATUS to the restarted back-end
	# without SET_OWNER or protocol-feature negotiation (vhost-user-blk
	# redoes the handshake; see blk_reconnect).  libvdev refuses messages
	# before the handshake, as vhost-user.rst asks, so the case cannot pass.
	qv=$("$QEMU" --version | head -n1 | awk '{print $4}')
	if [ "${qv%%.*}" -lt 8 ] && [ -z "${VDEV_GUEST_FORCE:-}" ]; then
		guest_skip "$name" "QEMU $qv vhost-user-rng skips SET_OWNER and" \
			"protocol negotiation after a reconnect (VDEV_GUEST_FORCE=1 runs it)"
		return
	fi
	local sock=$GUEST_WORK/rng-rc.sock log=$GUEST_WORK/$name.log
	local initrd=$GUEST_WORK/rng-rc.cpio chunks=30 hmp=$GUEST_WORK/hmp
	guest_initramfs qemu "$initrd" -M virtio_rng -n "$name" \
		-e VDEV_RNG_CHUNKS=$chunks -e VDEV_RNG_PAUSE=0.2 \
		"$GUEST_DIR/tests/rng.in-guest"
	rng_start "$sock" "$GUEST_WORK/vdev-rng-rc1.log"
	qemu_hmp_open "$hmp"
	local t0=$SECONDS
	run_qemu "$log" "$initrd" -- -S "${QEMU_HMP_ARGS[@]}" \
		-chardev "socket,id=c0,path=$sock,reconnect=1" \
		--append "$RNG_APPEND" &
	local qpid=$! i killed_at= hostfail=
	if qemu_wait_chardev "$hmp" c0 30; then
		qemu_hmp "$hmp" "device_add vhost-user-rng-pci,chardev=c0,id=rng0"
		qemu_hmp "$hmp" cont
	else
		hostfail="QEMU never connected to $sock"
		qemu_hmp "$hmp" quit
	fi
	# Kill the daemon once the guest is reading, restart it 1 s later.
	for ((i = 0; i < GUEST_BOOT_TIMEOUT * 10; i++)); do
		[ -n "$hostfail" ] && break
		if grep -aq '^RNG-CHUNK 3 ' "$log" 2>/dev/null; then
			killed_at=$(grep -ac '^RNG-CHUNK ' "$log")
			kill -KILL -- "-$RNG_PID"
			wait "$RNG_PID" 2>/dev/null
			sleep 1
			rng_start "$sock" "$GUEST_WORK/vdev-rng-rc2.log"
			break
		fi
		kill -0 "$qpid" 2>/dev/null || break
		sleep 0.1
	done
	wait "$qpid"
	GUEST_SECS=$((SECONDS - t0))
	bg_stop "$RNG_PID"
	if [ -n "$hostfail" ]; then
		:
	elif [ -z "$killed_at" ]; then
		hostfail="guest never started reading: daemon not restarted"
	elif [ "$killed_at" -ge "$chunks" ]; then
		hostfail="guest finished before the daemon was killed"
	else
		hostfail=$(rng_verify "$log" 1)
	fi
	guest_check "$name" "$log" "$hostfail"
	echo "  (daemon killed after chunk ${killed_at:-none} of $chunks)"
}

if [ ! -x "$RNG" ]; then
	for c in rng-uml rng-qemu rng-qemu-reconnect; do
		guest_skip $c "no vdev-rng binary at $RNG (pass the build dir)"
	done
else
	rng_case uml
	rng_case qemu
	rng_reconnect
fi
guest_finish
