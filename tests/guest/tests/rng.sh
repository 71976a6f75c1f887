#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# virtio-rng through daemons/rng with real Linux drivers: UML
# (virtio_uml), QEMU (vhost-user-rng-pci; with the stock kernel, and with
# the custom one: build/custom-kernel.sh), and QEMU reconnecting after the
# daemon is killed and restarted while the guest reads.  The daemon serves
# a known random file (-f); every 64-byte read in the guest must be a run
# of that file's bytes.
. "$(dirname "$0")/../lib.sh"
guest_setup

RNG=${VDEV_RNG:-$(daemon_bin vdev-rng)}
DATA=$GUEST_WORK/rng.bin
head -c 262144 /dev/urandom >"$DATA"
# The file as " xx xx ...": a chunk matches only at a byte boundary.
DATA_HEX=$GUEST_WORK/rng.hex
od -An -v -tx1 "$DATA" | tr -d '\n' >"$DATA_HEX"

# No khwrngd: with quality 0 nothing but our reads takes bytes from the
# device, so each read is one contiguous run of the file.
RNG_APPEND="rng_core.default_quality=0"

rng_start() { # SOCK LOG [TRANSPORT]
	rm -f "$1"
	bg_start "$2" "$RNG" --transport "${3:-vhost-user}" -s "$1" -f "$DATA"
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

# rng_case FE [NAME]: one boot of frontend FE (lib.sh GUEST_FRONTENDS).
rng_case() {
	local fe=$1 name=${2:-rng-$1} why
	why=$(fe_unavailable "$fe")
	[ -n "$why" ] && { guest_skip "$name" "$why"; return; }
	local sock=$GUEST_WORK/rng-$fe.sock log=$GUEST_WORK/$name.log
	local initrd=$GUEST_WORK/rng-$fe.cpio devs=() hostfail
	guest_initramfs "$fe" "$initrd" -M virtio_rng -n "$name" \
		"$GUEST_DIR/tests/rng.in-guest"
	rng_start "$sock" "$GUEST_WORK/vdev-rng-$fe.log" "$(fe_transport "$fe")"
	fe_device "$fe" devs "$sock" rng
	fe_run "$fe" "$log" "$initrd" -- "${devs[@]}" --append "$RNG_APPEND"
	bg_stop "$RNG_PID"
	hostfail=$(rng_verify "$log")
	# QEMU's vfio-user client warns when the function offers an error
	# IRQ that is not a single vector; a conventional PCI function has
	# none to offer (as the kernel's vfio-pci answers).
	[ -z "$hostfail" ] && grep -aq 'Could not enable error recovery' "$log" &&
		hostfail="QEMU: $(grep -a -m1 'Could not enable' "$log")"
	guest_check "$name" "$log" "$hostfail"
}

# QEMU connects a reconnect chardev asynchronously, so a
# vhost-user-rng-pci on the command line would be realized before the
# socket is up and fail.  Start paused (-S), wait for the connection over an
# HMP monitor, device_add, cont: the device is present before the firmware
# runs.  Then kill the daemon (SIGKILL) RNG_KILLS times while the guest
# reads, restarting it 1 s later each time; QEMU must reconnect and the
# guest keep reading bytes of the served file.
# rng_reconnect NAME QEMU-KIND: QEMU-KIND qemu11 is QEMU 11 from the
# Debian 13 root; old is bookworm-backports' QEMU 10 when the cache has it,
# else the installed QEMU.  SKIPs unless VDEV_GUEST_FORCE=1, because no
# QEMU here can reconnect a vhost-user-rng (see below).
RNG_KILLS=${VDEV_RNG_KILLS:-3}
rng_reconnect() {
	local name=$1 kind=$2 why why10= qv qemu=$QEMU rc_opt
	if [ "$kind" = qemu11 ]; then
		why=$(qemu11_unavailable)
		[ -n "$why" ] && { guest_skip "$name" "$why"; return; }
		qemu=$QEMU11
	else
		why=$(qemu10_unavailable)
		if [ -z "$why" ]; then
			qemu=$QEMU10
		else
			why10=$why
			why=$(qemu_unavailable)
			[ -n "$why" ] && { guest_skip "$name" "$why; $why10"; return; }
		fi
	fi
	qv=$(qemu_version "$qemu")
	# Neither QEMU Debian 12 offers can reconnect a vhost-user-rng:
	# - 7.2: after reconnecting it sends SET_VRING_CALL, SET_FEATURES,
	#   GET_STATUS to the restarted back-end without SET_OWNER,
	#   protocol-feature negotiation or a memory table (its connect
	#   handler never re-runs vhost_dev_init; vhost-user-blk does, see
	#   blk_reconnect).  libvdev refuses messages before the handshake,
	#   as vhost-user.rst asks.
	# - 9.0 to 11.1 (rng built on vhost-user-base; seen with 10.0.2 and
	#   with Debian 13's 11.1.3, which first logs "vhost VQ 0 ring
	#   restore failed: -22" for the killed back-end):
	#   the disconnect handler runs vhost_dev_cleanup, the connect
	#   handler again never calls vhost_dev_init, so vhost_dev_start
	#   aborts QEMU on "Assertion `hdev->vhost_ops' failed" before a
	#   single message reaches the restarted back-end (its capture shows
	#   a connect and a disconnect, nothing else).
	# VDEV_GUEST_FORCE=1 runs the case anyway, for a fixed QEMU.
	if [ -z "${VDEV_GUEST_FORCE:-}" ]; then
		if [ "${qv%%.*}" -lt 9 ]; then
			why="QEMU $qv vhost-user-rng skips SET_OWNER, protocol"
			why+=" negotiation and SET_MEM_TABLE after a reconnect"
			why+=" (QEMU 10: ${why10:-not tried})"
		else
			why="QEMU $qv vhost-user-rng (vhost-user-base) aborts on"
			why+=" reconnect: vhost_dev_start asserts hdev->vhost_ops"
			why+=" (vhost_dev_init is not redone after vhost_dev_cleanup)"
		fi
		guest_skip "$name" "$why (VDEV_GUEST_FORCE=1 runs it)"
		return
	fi
	rc_opt=$(qemu_reconnect_opt "$qemu" 1)
	local sock=$GUEST_WORK/rng-rc.sock log=$GUEST_WORK/$name.log
	local initrd=$GUEST_WORK/rng-rc.cpio chunks=40 hmp=$GUEST_WORK/hmp
	guest_initramfs qemu "$initrd" -M virtio_rng -n "$name" \
		-e VDEV_RNG_CHUNKS=$chunks -e VDEV_RNG_PAUSE=0.2 \
		"$GUEST_DIR/tests/rng.in-guest"
	local gen=1
	rng_start "$sock" "$GUEST_WORK/vdev-rng-rc$gen.log"
	qemu_hmp_open "$hmp"
	local t0=$SECONDS
	QEMU_BIN=$qemu run_qemu "$log" "$initrd" -- -S "${QEMU_HMP_ARGS[@]}" \
		-chardev "socket,id=c0,path=$sock,$rc_opt" \
		--append "$RNG_APPEND" &
	local qpid=$! i kills=() hostfail= next=3 n
	if qemu_wait_chardev "$hmp" c0 30; then
		qemu_hmp "$hmp" "device_add vhost-user-rng-pci,chardev=c0,id=rng0"
		qemu_hmp "$hmp" cont
	else
		hostfail="QEMU never connected to $sock"
		qemu_hmp "$hmp" quit
	fi
	# Kill once the guest has read chunk 3, then every 6 chunks after
	# the previous restart; restart the daemon 1 s after each kill.
	for ((i = 0; i < GUEST_BOOT_TIMEOUT * 10; i++)); do
		[ -n "$hostfail" ] && break
		[ ${#kills[@]} -ge "$RNG_KILLS" ] && break
		if grep -aq "^RNG-CHUNK $next " "$log" 2>/dev/null; then
			n=$(grep -ac '^RNG-CHUNK ' "$log")
			kills+=("$n")
			kill -KILL -- "-$RNG_PID"
			wait "$RNG_PID" 2>/dev/null
			sleep 1
			gen=$((gen + 1))
			rng_start "$sock" "$GUEST_WORK/vdev-rng-rc$gen.log"
			next=$((n + 6))
			continue
		fi
		kill -0 "$qpid" 2>/dev/null || break
		sleep 0.1
	done
	wait "$qpid"
	GUEST_SECS=$((SECONDS - t0))
	bg_stop "$RNG_PID"
	local last=${kills[${#kills[@]}-1]:-}
	if [ -n "$hostfail" ]; then
		:
	elif [ ${#kills[@]} -lt "$RNG_KILLS" ]; then
		hostfail="daemon killed ${#kills[@]} times, not $RNG_KILLS (guest stopped reading?)"
	elif [ "$last" -ge "$chunks" ]; then
		hostfail="guest finished before the last restart"
	else
		hostfail=$(rng_verify "$log" "$RNG_KILLS")
	fi
	guest_check "$name" "$log" "$hostfail"
	echo "  (QEMU $qv, daemon killed after chunks ${kills[*]:-none} of $chunks)"
}

if [ ! -x "$RNG" ]; then
	for c in $GUEST_FRONTENDS qemu-custom qemu11-vfio-custom qemu-reconnect \
		qemu11-reconnect; do
		guest_skip "rng-$c" "no vdev-rng binary at $RNG (pass the build dir)"
	done
else
	for fe in $GUEST_FRONTENDS; do
		rng_case "$fe"
	done
	# The custom kernel, which gpio and i2c need under QEMU: 7.2 over
	# vhost-user, 11.1 over vfio-user.
	guest_kernel custom
	rng_case qemu rng-qemu-custom
	rng_case qemu11-vfio rng-qemu11-vfio-custom
	guest_kernel stock
	rng_reconnect rng-qemu-reconnect old
	rng_reconnect rng-qemu11-reconnect qemu11
fi
guest_finish
