#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# virtio-i2c through daemons/i2c with Linux's i2c-virtio driver and
# Debian's i2c-tools, one boot per frontend: UML (virtio_uml), QEMU 7.2
# (vhost-user-i2c-pci) and QEMU 11.1 over vhost-user and as the vfio-user
# client (custom kernel: no Debian kernel builds i2c-virtio).  The daemon
# serves a simulated 24C02 at 0x50 kept in a host file and an LM75 at 0x48.
# Checks, one result each:
#   detect    i2cdetect sees 0x48 and 0x50 only
#   set       i2cset/i2cget at 0x50, and the byte is in the host file
#   transfer  i2ctransfer w1@0x50 0x00 r16 reads the file's first bytes
#   absent    i2cget at 0x51 fails
#   lm75      the temperature the host set (23.5 degrees)
#   nack      a NACK injected from the host fails one transfer, once
#   at24      Linux's at24 driver bound on the virtio bus reads the file
. "$(dirname "$0")/../lib.sh"
guest_setup

I2C=${VDEV_I2C:-$(daemon_bin vdev-i2c)}
I2C_TOOLS="i2cdetect i2cget i2cset i2ctransfer"
I2C_CHECKS="detect set transfer absent lm75 nack at24"

ctl() { # CTL COMMAND: the reply
	printf '%s\n' "$2" | timeout 5 socat -t 2 - "UNIX-CONNECT:$1" 2>&1
}

# file_hex FILE [COUNT]: " xx xx ..." of the first COUNT bytes.
file_hex() {
	od -An -v -tx1 -N "${2:-256}" "$1" | tr -d '\n' | tr -s ' '
}

# i2c_case FE NAME: one boot of frontend FE.
i2c_case() {
	local fe=$1 name=$2 why c
	why=$(fe_unavailable "$fe")
	[ -z "$why" ] && why=$(guest_tools_missing $I2C_TOOLS socat)
	if [ -n "$why" ]; then
		guest_skip "$name" "$why"
		for c in $I2C_CHECKS; do guest_skip "$name-$c" "$why"; done
		return
	fi
	local sock=$GUEST_WORK/i2c-$fe.sock ctl=$GUEST_WORK/i2c-$fe.ctl
	local ee=$GUEST_WORK/i2c-$fe.ee log=$GUEST_WORK/$name.log
	local dlog=$GUEST_WORK/vdev-i2c-$fe.log initrd=$GUEST_WORK/i2c-$fe.cpio
	local devs=() hostfail=
	head -c 256 /dev/urandom >"$ee"
	# byte 0xff is the host's step counter
	printf '\0' | dd of="$ee" bs=1 seek=255 conv=notrunc 2>/dev/null
	guest_initramfs "$fe" "$initrd" -n "$name" $(guest_tools $I2C_TOOLS) \
		"$GUEST_DIR/tests/i2c.in-guest"
	rm -f "$sock" "$ctl"
	bg_start "$dlog" "$I2C" --transport "$(fe_transport "$fe")" -s "$sock" \
		--sim "eeprom@0x50=$ee,lm75@0x48" --control "$ctl"
	local dpid=$BG_PID
	GUEST_DAEMON_LOGS+=("$dlog")
	wait_socket "$sock" || hostfail="vdev-i2c did not create $sock"
	[ "$(ctl "$ctl" 'temp 0x48 23500')" = ok ] ||
		hostfail="control socket: temp refused"
	fe_device "$fe" devs "$sock" i2c
	fe_run "$fe" "$log" "$initrd" -- "${devs[@]}" &
	local gpid=$! step=1 i t0=$SECONDS
	for ((i = 0; i < GUEST_BOOT_TIMEOUT * 10 && step <= 1; i++)); do
		[ -n "$hostfail" ] && break
		if grep -aq "^I2C-STEP $step" "$log" 2>/dev/null; then
			[ $step = 1 ] && [ "$(ctl "$ctl" 'nack 0x48 0')" != ok ] &&
				hostfail="control socket: nack refused"
			printf "\\x$(printf %02x $step)" |
				dd of="$ee" bs=1 seek=255 conv=notrunc 2>/dev/null
			step=$((step + 1))
			continue
		fi
		kill -0 "$gpid" 2>/dev/null || break
		sleep 0.1
	done
	wait "$gpid"
	GUEST_SECS=$((SECONDS - t0))
	bg_stop "$dpid"
	local st detail got want
	while read -r _ st c detail; do
		if [ "$c" = set ] && [ "$st" = PASS ]; then
			got=$(od -An -tx1 -j 16 -N 1 "$ee" | tr -d ' ')
			[ "$got" = ab ] || { st=FAIL; detail+="; host file byte 0x10 is $got"; }
			detail+="; host file byte 0x10: $got"
		fi
		guest_result "$st" "$name-$c" "$detail"
	done < <(grep -a '^I2C-CHECK ' "$log" | tr -d '\r')
	want=$(file_hex "$ee" 16)
	got=$(grep -a '^I2C-BYTES transfer' "$log" | tr -d '\r' | cut -d' ' -f3- |
		sed 's/0x//g' | tr -s ' ' | sed 's/^/ /;s/ *$//')
	if [ "$got" = "$want" ]; then
		guest_result PASS "$name-transfer" "16 bytes equal the host file's"
	else
		guest_result FAIL "$name-transfer" "guest read '$got', file has '$want'"
	fi
	# at24 read the file after the guest's write and the host's last step
	want=$(file_hex "$ee" 256)
	got=$(grep -a '^I2C-BYTES at24' "$log" | tr -d '\r' | cut -d' ' -f3- |
		tr -s ' ' | sed 's/^/ /;s/^  */ /;s/ *$//')
	want=$(echo "$want" | sed 's/ *$//')
	if grep -aq '^I2C-CHECK FAIL at24' "$log"; then :
	elif [ -n "$got" ] && [ "$got" = "$want" ]; then
		guest_result PASS "$name-at24" "256 bytes through at24 equal the host file's"
	else
		guest_result FAIL "$name-at24" "at24 read '${got:0:60}...', file '${want:0:60}...'"
	fi
	guest_check "$name" "$log" "$hostfail"
}

if [ ! -x "$I2C" ]; then
	for fe in $GUEST_FRONTENDS; do
		guest_skip "i2c-$fe" "no vdev-i2c binary at $I2C (pass the build dir)"
	done
else
	i2c_case uml i2c-uml
	# No Debian kernel builds i2c-virtio: QEMU guests boot the custom one.
	guest_kernel custom
	i2c_case qemu i2c-qemu
	i2c_case qemu11 i2c-qemu11
	i2c_case qemu11-vfio i2c-qemu11-vfio
	guest_kernel stock
fi
guest_finish
