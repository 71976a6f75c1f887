#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# virtio-input through daemons/input with real Linux drivers, one boot per
# frontend (UML, QEMU 7.2 and 11.1 vhost-user-input-pci, QEMU 11.1
# vfio-user), every check in that boot with a result of its own:
#   name   sysfs name of the device is the description's
#   caps   capabilities/key and /abs are the description's bitmaps
#   abs    EVIOCGABS: ABS_X, ABS_Y and ABS_MT_SLOT ranges (multitouch)
#   keys   KEY_A down/up injected on the host's control socket, read from
#          /dev/input/eventN in the guest
#   led    the guest's caps lock reached the control socket
#   flood  10,000 events (2,500 batches of 4) into a 64-event backlog:
#          the guest reads only whole batches, and the daemon's counters
#          account for every batch (delivered + dropped)
#   evdev  evdev passthrough: the unit test's evdev case, in the guest, on
#          the guest's own virtio-input node (grab, ranges, the LED written
#          back, events through)
. "$(dirname "$0")/../lib.sh"
guest_setup

INPUT=${VDEV_INPUT:-$(daemon_bin vdev-input)}
TEST_INPUT=${VDEV_BUILD_DIR:-}/tests/test_input
EVTOOL=$GUEST_WORK/input-evtool
DESC=$GUEST_WORK/input.evemu
FLOOD=$GUEST_WORK/input.flood
IN_NAME="libvdev test tablet"
BATCHES=2500
CHECKS="name caps abs keys led flood evdev"

# KEY_A, KEY_B, BTN_TOUCH; ABS_X, ABS_Y, ABS_PRESSURE, ABS_DISTANCE,
# ABS_MT_SLOT, ABS_MT_POSITION_X/Y, ABS_MT_TRACKING_ID; caps, num and
# scroll lock LEDs; INPUT_PROP_DIRECT.
cat >"$DESC" <<'EOF'
# EVEMU 1.3
N: libvdev test tablet
U: vdev-serial-1
I: 0006 1af4 0011 0001
P: 02
K: 01 1e 30 14a
K: 11 00 01 02
A: 00 0 32767 4 8 12
A: 01 -100 100 0 0 0
A: 18 0 100000 0 0 0
A: 19 0 100000 0 0 0
A: 2f 0 4 0 0 0
A: 35 0 32767 0 0 0
A: 36 0 32767 0 0 0
A: 39 0 65535 0 0 0
EOF
IN_KEY="400 0 0 0 0 1000040000000"
IN_ABS="260800003000003"
awk -v n=$BATCHES 'BEGIN { for (i = 1; i <= n; i++)
	printf "E: 0.000000 0003 0001 %d\nE: 0.000000 0003 0018 %d\nE: 0.000000 0003 0019 %d\nE: 0.000000 0000 0000 0\n", i, i, i }' >"$FLOOD"

input_skip_all() { # FE WHY
	local c
	for c in $CHECKS; do guest_skip "input-$1-$c" "$2"; done
}

input_case() { # FE
	local fe=$1 why c
	why=$(fe_unavailable "$fe")
	[ -z "$why" ] && [ ! -x "$INPUT" ] && why="no vdev-input at $INPUT"
	[ -z "$why" ] && why=$(guest_tools_missing socat)
	# QEMU before 8.x (vhost-user-backend's dev_init, used only by
	# vhost-user-input and -gpu) refuses a machine without KVM ioeventfds:
	# "vhost initialization failed: requires kvm". Here /dev/kvm cannot
	# run Linux (kvm_pvm), so 7.2 runs this case only with
	# VDEV_GUEST_ACCEL=kvm on real KVM.
	if [ -z "$why" ] && [ "$fe" = qemu ] &&
		[ "${VDEV_GUEST_ACCEL:-tcg}" != kvm ]; then
		why="QEMU $(qemu_version "$QEMU") vhost-user-input-pci needs KVM"
		why+=" ('vhost initialization failed: requires kvm' under TCG);"
		why+=" set VDEV_GUEST_ACCEL=kvm on hardware KVM"
	fi
	[ -n "$why" ] && { input_skip_all "$fe" "$why"; return; }
	local sock=$GUEST_WORK/input-$fe.sock ctl=$GUEST_WORK/input-$fe.ctl
	local log=$GUEST_WORK/input-$fe.log rlog=$GUEST_WORK/input-$fe.ctl.log
	local initrd=$GUEST_WORK/input-$fe.cpio devs=() extra=() line st
	[ -x "$TEST_INPUT" ] && extra=(-b "$TEST_INPUT" -e "IN_TEST_INPUT=$TEST_INPUT")
	guest_initramfs "$fe" "$initrd" -M "virtio_input evdev" -n "input-$fe" \
		-f "$EVTOOL:/bin/input-evtool" -e "IN_EVTOOL=/bin/input-evtool" -e "IN_NAME=$IN_NAME" \
		-e "IN_KEY=$IN_KEY" -e "IN_ABS=$IN_ABS" "${extra[@]}" \
		"$GUEST_DIR/tests/input.in-guest"
	rm -f "$sock" "$ctl"
	bg_start "$GUEST_WORK/vdev-input-$fe.log" "$INPUT" \
		--transport "$(fe_transport "$fe")" -s "$sock" --script "$DESC" \
		--control "$ctl" --backlog 64
	local dpid=$BG_PID
	wait_socket "$sock" && wait_socket "$ctl" ||
		echo "vdev-input did not create $sock and $ctl"
	bg_start "$rlog" bash "$GUEST_DIR/tests/input.responder" "$ctl" "$FLOOD"
	local rpid=$BG_PID
	fe_device "$fe" devs "$sock" input
	fe_run "$fe" "$log" "$initrd" -- "${devs[@]}"
	bg_stop "$rpid"
	bg_stop "$dpid"
	# One result per check, from the guest's lines and the host's.
	for c in $CHECKS; do
		line=$(grep -a "^INPUT-CHECK: $c " "$log" | tail -n1 | tr -d '\r')
		case $c in
		led)
			if grep -q '^E: 0.000000 0011 0001 1$' "$rlog"; then
				guest_result PASS "input-$fe-led" "caps lock on reached the control socket"
			else
				guest_result FAIL "input-$fe-led" "no caps lock line in $rlog"
			fi
			continue ;;
		evdev)
			if [ ! -x "$TEST_INPUT" ]; then
				guest_skip "input-$fe-evdev" "no $TEST_INPUT (a build with tests)"
				continue
			fi ;;
		esac
		if [ -z "$line" ]; then
			guest_check "input-$fe-$c" "$log" "the guest never ran this check"
			continue
		fi
		set -- $line
		st=$3; shift 3
		if [ "$c" = flood ] && [ "$st" = PASS ]; then
			local s b d
			s=$(grep -a '^S: ' "$rlog" | tail -n1)
			b=$(echo "$s" | awk '{print $3}') d=$(echo "$s" | awk '{print $7}')
			# 2 batches of keys, the flood, KEY_B: all delivered or dropped
			local gp=$2 gd=$6
			if [ -z "$s" ] || [ $((b + d)) -ne $((BATCHES + 3)) ]; then
				st=FAIL
				set -- "daemon counters '$s' do not add up to $((BATCHES + 3)) batches; guest: $*"
			elif [ "$gd" = 0 ] && [ "$gp" -ne $((b - 3)) ]; then
				st=FAIL
				set -- "the guest read $gp flood batches, the daemon delivered $((b - 3)); guest: $*"
			else
				set -- "$* (daemon: $b batches delivered, $d dropped whole)"
			fi
		fi
		guest_result "$st" "input-$fe-$c" "$* [${GUEST_SECS:-?}s]"
		[ "$st" = PASS ] || { tail -n 30 "$log" | sed 's/^/    /'; tail -n 5 "$GUEST_WORK/vdev-input-$fe.log" | sed 's/^/    /'; }
	done
	GUEST_DAEMON_LOGS=()
}

if ! cc -static -O2 -o "$EVTOOL" "$GUEST_DIR/tests/input-evtool.c" 2>"$GUEST_WORK/cc.log"; then
	for fe in $GUEST_FRONTENDS; do
		input_skip_all "$fe" "cannot build the static helper: $(head -n1 "$GUEST_WORK/cc.log")"
	done
else
	for fe in ${VDEV_INPUT_FRONTENDS:-$GUEST_FRONTENDS}; do
		input_case "$fe"
	done
fi
guest_finish
