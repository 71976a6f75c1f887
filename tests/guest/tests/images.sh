#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The guest images themselves, before any device uses them: what the device
# tests rely on is in the kernels and runs in the guests.
#   images-uml-sims   UML: gpio-sim through configfs and i2c-stub (+ at24)
#                     with Debian's gpiod and i2c-tools, for the host
#                     backends tested inside a guest
#   images-uml-tools  UML: socat on vsock, aplay/arecord on the ALSA
#                     loopback, iperf3 over IPv4/IPv6, evtest, tun
#   images-qemu-custom         QEMU 7.2, custom kernel: every virtio driver
#   images-qemu11-custom-snd   QEMU 11.1, custom kernel: the same, and aplay/
#                              arecord on QEMU's own virtio-sound-pci
#   images-qemu11-deb13-snd    QEMU 11.1, Debian 13's kernel: virtio_snd.ko
#                              and the other modules load, aplay/arecord
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

# qemu_case NAME FE KERNEL SND MODULES DRIVERS...: boot KERNEL (lib.sh
# guest_kernel) under frontend FE, with only MODULES when it has modules
# ("" for all); SND=1 adds QEMU's virtio-sound-pci (QEMU >= 8.2) on a
# silent audiodev and plays and records on it.
qemu_case() {
	local name=$1 fe=$2 kernel=$3 snd=$4 mods=$5 why
	shift 5
	guest_kernel "$kernel"
	why=$(fe_unavailable "$fe")
	[ -z "$why" ] && [ "$snd" = 1 ] && why=$(guest_tools_missing aplay arecord)
	if [ -n "$why" ]; then
		guest_skip "$name" "$why"
	else
		local initrd=$GUEST_WORK/$name.cpio log=$GUEST_WORK/$name.log
		local tools=() dev=()
		if [ "$snd" = 1 ]; then
			tools=($(guest_tools aplay arecord))
			dev=(-audiodev none,id=snd0
				-device virtio-sound-pci,audiodev=snd0)
		fi
		guest_initramfs "$fe" "$initrd" ${mods:+-M "$mods"} \
			"${tools[@]}" -n "$name" \
			-e "VDEV_DRIVERS=$*" -e "VDEV_SND=$snd" \
			"$GUEST_DIR/tests/qemu-kernel.in-guest"
		fe_run "$fe" "$log" "$initrd" -- "${dev[@]}"
		guest_check "$name" "$log"
	fi
	guest_kernel stock
}

uml_case images-uml-sims uml-sims.in-guest \
	"gpiodetect gpioinfo gpioget gpioset gpiomon i2cget i2cset" \
	i2c_stub.chip_addr=0x50
uml_case images-uml-tools uml-tools.in-guest "socat aplay arecord iperf3 evtest"
# Driver names as /sys/bus/virtio/drivers lists them.
VIRTIO_DRIVERS="virtio_rng virtio_blk virtio_scsi virtio_net virtio_console
	virtio_input vmw_vsock_virtio_transport virtio_snd"
qemu_case images-qemu-custom qemu custom 0 "" $VIRTIO_DRIVERS gpio_virtio \
	i2c_virtio virtio_balloon virtiofs
qemu_case images-qemu11-custom-snd qemu11 custom 1 "" $VIRTIO_DRIVERS \
	gpio_virtio i2c_virtio
# A distribution kernel boots slowly under TCG: only what sound needs.
qemu_case images-qemu11-deb13-snd qemu11 deb13 1 virtio_snd virtio_snd
guest_finish
