#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# virtio-gpio through daemons/gpio with Linux's gpio-virtio driver and
# Debian's gpiod tools, one boot per frontend: UML (virtio_uml), QEMU 7.2
# (vhost-user-gpio-pci, custom kernel: no Debian kernel builds
# gpio-virtio), QEMU 11.1 over vhost-user and as the vfio-user client.
# The daemon serves a simulated chip of 8 lines with a control socket;
# gpio.in-guest and this script take turns (GPIO-STEP n in the guest's
# output, the host's "done" on line 7).  Checks, one result each:
#   names  the guest sees one 8-line chip with the lines' names
#   set    a value the guest sets (gpioset) shows on the control socket,
#          and goes when the guest releases the line
#   get    a level the host drives reads in the guest (gpioget)
#   edge   one host pulse gives exactly one gpiomon event
#   latch  two pulses in one control write, before the device could
#          deliver the first, give one event (the edge latch)
# Level interrupts have no user-space interface in Linux (the GPIO
# character device detects edges only), so they are proven by unit/gpio.
. "$(dirname "$0")/../lib.sh"
guest_setup

GPIO=${VDEV_GPIO:-$(daemon_bin vdev-gpio)}
GPIO_TOOLS="gpiodetect gpioinfo gpioget gpioset gpiomon gpiofind"

ctl() { # CTL COMMANDS: one write, the replies
	printf "$2" | timeout 5 socat -t 2 - "UNIX-CONNECT:$1" 2>&1
}

# gpio_case FE NAME [IRQ]: one boot of frontend FE.
gpio_case() {
	local fe=$1 name=$2 irq=${3:-1} noirq=${4:-} why
	why=$(fe_unavailable "$fe")
	[ -z "$why" ] && why=$(guest_tools_missing $GPIO_TOOLS socat)
	if [ -n "$why" ]; then
		for c in "" -names -set -get -edge -latch; do
			guest_skip "$name$c" "$why"
		done
		return
	fi
	local sock=$GUEST_WORK/gpio-$fe.sock ctl=$GUEST_WORK/gpio-$fe.ctl
	local log=$GUEST_WORK/$name.log dlog=$GUEST_WORK/vdev-gpio-$fe.log
	local initrd=$GUEST_WORK/gpio-$fe.cpio devs=() hostfail= setres=
	guest_initramfs "$fe" "$initrd" -n "$name" -e VDEV_GPIO_IRQ=$irq \
		-e "VDEV_GPIO_NOIRQ_WHY=$noirq" \
		$(guest_tools $GPIO_TOOLS) "$GUEST_DIR/tests/gpio.in-guest"
	rm -f "$sock" "$ctl"
	bg_start "$dlog" "$GPIO" --transport "$(fe_transport "$fe")" \
		-s "$sock" -l s8 --control "$ctl"
	local dpid=$BG_PID
	GUEST_DAEMON_LOGS+=("$dlog")
	wait_socket "$sock" || hostfail="vdev-gpio did not create $sock"
	fe_device "$fe" devs "$sock" gpio
	fe_run "$fe" "$log" "$initrd" -- "${devs[@]}" &
	local gpid=$! step=1 i r t0=$SECONDS
	for ((i = 0; i < GUEST_BOOT_TIMEOUT * 10 && step <= 5; i++)); do
		[ -n "$hostfail" ] && break
		if grep -aq "^GPIO-STEP $step" "$log" 2>/dev/null; then
			case $step in
			1)	r=$(ctl "$ctl" 'get 3\n')
				[ "$r" = "ok out 1" ] ||
					setres="gpioset 3=1: control says '$r'"
				ctl "$ctl" 'set 5 1\n' >/dev/null ;;
			2)	r=$(ctl "$ctl" 'get 3\n')
				[ -z "$setres" ] && [ "$r" != "ok none 0" ] &&
					setres="released line 3: control says '$r'"
				ctl "$ctl" 'set 5 0\n' >/dev/null ;;
			3)	ctl "$ctl" 'pulse 5\n' >/dev/null ;;
			4)	ctl "$ctl" 'pulse 5\npulse 5\n' >/dev/null ;;
			esac
			r=$(ctl "$ctl" "set 7 $((step % 2))\n")
			[ "$r" = ok ] || hostfail="control socket: '$r' at step $step"
			step=$((step + 1))
			continue
		fi
		kill -0 "$gpid" 2>/dev/null || break
		sleep 0.1
	done
	wait "$gpid"
	GUEST_SECS=$((SECONDS - t0))
	bg_stop "$dpid"
	local c st detail
	while read -r _ st c detail; do
		guest_result "$st" "$name-$c" "$detail"
	done < <(grep -a '^GPIO-CHECK ' "$log" | tr -d '\r')
	if [ "$step" -gt 2 ]; then
		if [ -n "$setres" ]; then guest_result FAIL "$name-set" "$setres"
		else guest_result PASS "$name-set" "control socket saw out 1, then none 0"; fi
	else
		guest_result FAIL "$name-set" "the guest never got to step 2"
	fi
	guest_check "$name" "$log" "$hostfail"
}

if [ ! -x "$GPIO" ]; then
	for fe in $GUEST_FRONTENDS; do
		guest_skip "gpio-$fe" "no vdev-gpio binary at $GPIO (pass the build dir)"
	done
else
	gpio_case uml gpio-uml
	# No Debian kernel builds gpio-virtio: QEMU guests boot the custom one.
	guest_kernel custom
	# QEMU 7.2's vhost-user-gpio keeps only the feature bits it asked
	# for: F_IRQ never reaches the guest (QEMU 9.0 passes it through).
	gpio_case qemu gpio-qemu 0 "QEMU $(qemu_version "$QEMU") vhost-user-gpio-pci keeps only the feature bits it asked for (QEMU 9.0+ passes F_IRQ)"
	gpio_case qemu11 gpio-qemu11
	gpio_case qemu11-vfio gpio-qemu11-vfio
	guest_kernel stock
fi
guest_finish
