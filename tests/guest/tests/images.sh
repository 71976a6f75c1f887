#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The guest images themselves, before any device uses them: what the device
# tests rely on is in the kernels and runs in the guests.
#   images-uml-sims   UML: gpio-sim through configfs and i2c-stub (+ at24)
#                     with Debian's gpiod and i2c-tools, for the host
#                     backends tested inside a guest
#   images-uml-tools  UML: socat on vsock, aplay/arecord on the ALSA
#                     loopback, iperf3 over IPv4/IPv6, evtest, tun
. "$(dirname "$0")/../lib.sh"
guest_setup

uml_case() { # NAME SCRIPT TOOLS [KERNEL-ARGS...]
	local name=$1 script=$2 tools=$3 why
	shift 3
	why=$(uml_unavailable)
	[ -z "$why" ] && why=$(guest_tools_missing $tools)
	[ -n "$why" ] && { guest_skip "$name" "$why"; return; }
	local initrd=$GUEST_WORK/$name.cpio log=$GUEST_WORK/$name.log
	guest_initramfs uml "$initrd" $(guest_tools $tools) -n "$name" \
		"$GUEST_DIR/tests/$script"
	run_uml "$log" "$initrd" -- -- "$@"
	guest_check "$name" "$log"
}

uml_case images-uml-sims uml-sims.in-guest \
	"gpiodetect gpioinfo gpioget gpioset gpiomon i2cget i2cset" \
	i2c_stub.chip_addr=0x50
uml_case images-uml-tools uml-tools.in-guest "socat aplay arecord iperf3 evtest"
guest_finish
