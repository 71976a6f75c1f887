#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# virtio-console through daemons/console with Linux's virtio_console, one
# boot per frontend (UML; QEMU 11.1 as vhost-user-test-device-pci with
# virtio-id=3, the generic device, and as the vfio-user client): port 0 is
# a console (hvc0) on a file, port 1 a named port on a UNIX socket.
#   ping     echo ping > /dev/hvc0 lands in the console's file
#   name     /sys/class/virtio-ports/vport0p1/name is the configured name
#   h2g/g2h  1 MiB of random bytes each way, sha256 equal
#   resize   the host's resize shows in stty size on hvc0
#   remove   the host removes the named port: its node goes away
# QEMU 7.2 has no vhost-user device a console can use (virtio-serial is
# QEMU's own; the generic vhost-user device came in 10.2).
. "$(dirname "$0")/../lib.sh"
guest_setup

CONSOLE=${VDEV_CONSOLE:-$(daemon_bin vdev-console)}
CON_NAME=org.libvdev.test
IN=$GUEST_WORK/con.h2g
head -c 1048576 /dev/urandom >"$IN"
H2G=$(sha256sum "$IN" | cut -d' ' -f1)
CHECKS="ping name h2g g2h resize remove"

console_case() { # FE
	local fe=$1 why c
	why=$(fe_unavailable "$fe")
	[ -z "$why" ] && [ ! -x "$CONSOLE" ] && why="no vdev-console at $CONSOLE"
	[ -z "$why" ] && why=$(guest_tools_missing socat)
	if [ -n "$why" ]; then
		for c in $CHECKS; do guest_skip "console-$fe-$c" "$why"; done
		return
	fi
	local sock=$GUEST_WORK/con-$fe.sock ctl=$GUEST_WORK/con-$fe.ctl
	local out=$GUEST_WORK/con-$fe.g2h rlog=$GUEST_WORK/con-$fe.resp.log
	local p1=$GUEST_WORK/con-$fe.p1 clog=$GUEST_WORK/con-$fe.hvc0

	local log=$GUEST_WORK/console-$fe.log initrd=$GUEST_WORK/con-$fe.cpio
	local devs=() line st
	rm -f "$sock" "$ctl" "$p1" "$clog" "$out"
	guest_initramfs "$fe" "$initrd" -M virtio_console -n "console-$fe" \
		-e "CON_NAME=$CON_NAME" -e "CON_H2G=$H2G" \
		"$GUEST_DIR/tests/console.in-guest"
	bg_start "$GUEST_WORK/vdev-console-$fe.log" "$CONSOLE" \
		--transport "$(fe_transport "$fe")" -s "$sock" \
		--port "name=console0,console=on,backend=file:$clog" \
		--port "name=$CON_NAME,backend=unix:$p1" --control "$ctl"
	local dpid=$BG_PID
	wait_socket "$sock" && wait_socket "$p1" && wait_socket "$ctl" ||
		echo "vdev-console did not create its sockets"
	bg_start "$rlog" bash "$GUEST_DIR/tests/console.responder" "$p1" \
		"$ctl" "$IN" "$out"
	local rpid=$BG_PID
	case $fe in
	uml) fe_device "$fe" devs "$sock" console ;;
	*) fe_device "$fe" devs "$sock" test-device \
		"virtio-id=3,num_vqs=6,config_size=12" ;;
	esac
	fe_run "$fe" "$log" "$initrd" -- "${devs[@]}"
	bg_stop "$rpid"
	bg_stop "$dpid"
	for c in $CHECKS; do
		line=$(grep -a "^CONSOLE-CHECK: $c " "$log" | tail -n1 | tr -d '\r')
		case $c in
		ping)
			# a console's tty writes "\r\n" for "\n"
			if grep -qx ping <<<"$(tr -d '\r' <"$clog" 2>/dev/null)" && [[ $line == *PASS* ]]; then
				guest_result PASS "console-$fe-ping" "ping reached the console's file [${GUEST_SECS:-?}s]"
			else
				guest_result FAIL "console-$fe-ping" "no ping in $clog ($(head -c 80 "$clog" 2>/dev/null | tr '\n' ' ')); guest: $line"
			fi
			continue ;;
		g2h)
			local g2h hsum
			g2h=$(grep -a '^G2H-SHA ' "$log" | tail -n1 | tr -d '\r' | cut -d' ' -f2)
			hsum=$(head -c 1048576 "$out" 2>/dev/null | sha256sum | cut -d' ' -f1)
			if [ -n "$g2h" ] && [ "$g2h" = "$hsum" ]; then
				guest_result PASS "console-$fe-g2h" "1 MiB guest to host, sha256 equal [${GUEST_SECS:-?}s]"
			else
				guest_result FAIL "console-$fe-g2h" "host got $(stat -c %s "$out" 2>/dev/null) bytes, sha256 $hsum; guest sent $g2h"
			fi
			continue ;;
		esac
		if [ -z "$line" ]; then
			guest_check "console-$fe-$c" "$log" "the guest never ran this check"
			continue
		fi
		set -- $line
		st=$3; shift 3
		guest_result "$st" "console-$fe-$c" "$* [${GUEST_SECS:-?}s]"
		[ "$st" = PASS ] || tail -n 20 "$log" | sed 's/^/    /'
	done
	GUEST_DAEMON_LOGS=()
}

guest_skip console-qemu "QEMU $(qemu_version "$QEMU" 2>/dev/null || echo 7.2) has no vhost-user device for a console: virtio-serial is QEMU's own and the generic vhost-user-test-device-pci came in 10.2"
for fe in ${VDEV_CONSOLE_FRONTENDS:-uml qemu11 qemu11-vfio}; do
	console_case "$fe"
done
guest_finish
