#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# virtio-sound through daemons/snd (file backend) with real Linux
# drivers and Debian's aplay/arecord: UML (virtio_uml, id 25, queues of
# 256), QEMU 11.1 (vhost-user-snd-pci, and vfio-user) with the custom
# kernel (virtio_snd built in) and with Debian 13's kernel (virtio_snd.ko).
# QEMU 7.2 has no vhost-user-snd-pci: that case SKIPs saying so.  The
# Debian 13 case also offers the virtio 1.3 controls (CTLS) and drives
# them with amixer.  snd-uml-alsa-aloop runs the ALSA backend against
# UML's built-in snd-aloop (test_sound's test_alsa_aloop in the guest:
# a transfer with xruns, which the devices count and report, is run
# again, at most 8 times, and the detail says how many were).  One boot
# per frontend runs every check (snd.in-guest): the card is listed, an
# aplay killed mid-stream leaves the device usable, aplay of 1 s of a known
# S16_LE stereo 48 kHz pattern takes >= 0.9 s and leaves the daemon's
# output file byte-identical, arecord of 1 s returns the input file's first
# 192000 bytes.
. "$(dirname "$0")/../lib.sh"
guest_setup

SND=${VDEV_SND:-$(daemon_bin vdev-snd)}
PLAY=$GUEST_WORK/snd-play.raw
IN=$GUEST_WORK/snd-in.raw
head -c 192000 /dev/urandom >"$PLAY"
head -c 384000 /dev/urandom >"$IN"

# snd_verify_out FILE: why the daemon's output is not what aplay played.
# The 192000 bytes must be there byte for byte, first.  After them the
# guest's drain (alsa-lib's snd_pcm_drain on hw:) puts silence behind the
# last frame, and the driver, which keeps every period of its ring queued
# while the stream runs, sends STOP only after the period behind the data
# was played: one period of zeros (9600 bytes here) follows on every
# frontend, as a sound card would play it.  So what follows the data may
# be zeros, at most a period plus 0.1 s (alsa-lib's drain silence).
snd_verify_out() {
	local out=$1 size tail
	[ -f "$out" ] || { echo "no output file $out"; return; }
	size=$(wc -c <"$out")
	if [ "$size" -lt 192000 ] || ! cmp -s -n 192000 "$PLAY" "$out"; then
		echo "the daemon's output ($size bytes) does not start with the"
		echo "192000 bytes aplay played: $(cmp -n 192000 "$PLAY" "$out" 2>&1 | head -n1)"
		return
	fi
	tail=$((size - 192000))
	[ "$tail" -le $((9600 + 19200)) ] ||
		{ echo "$tail bytes after the 192000 played: more than drain silence"; return; }
	[ "$tail" = 0 ] || [ -z "$(tail -c "$tail" "$out" | tr -d '\0' | head -c 1)" ] ||
		echo "the $tail bytes after the 192000 played are not silence"
	echo "  output: 192000 bytes identical, then $tail bytes of drain silence" >&2
}

# snd_case FE NAME KERNEL [MODULES [CTLS]]: one boot of frontend FE.
# CTLS=1: the daemon offers VIRTIO_SND_F_CTLS (--controls, QEMU's
# controls=on) and the guest reads and writes the controls with amixer
# first (a kernel with virtio_kctl.c: 6.7+, so Debian 13's).  With the
# test mixer plugin built (tests/alsa), a second vdev-snd (the ALSA
# backend on a null PCM, one output stream) maps its playback controls to
# that mixer, card 1 in the guest: amixer sees the mixer's range and dB
# scale, and its write reaches the mixer on the host.
snd_case() {
	local fe=$1 name=$2 kernel=$3 mods=${4:-} ctls=${5:-0} why
	local tools="aplay arecord" dargs=() props=
	[ "$ctls" = 1 ] && { tools+=" amixer"; dargs=(--controls); props=controls=on; }
	guest_kernel "$kernel"
	why=$(fe_unavailable "$fe")
	[ -z "$why" ] && why=$(guest_tools_missing $tools)
	if [ -z "$why" ] && [ "$(fe_kind "$fe")" = qemu ] &&
		[[ $fe != *-vfio ]] &&
		! "$(fe_qemu "$fe")" -device help 2>/dev/null |
			grep -q '"vhost-user-snd-pci"'; then
		why="QEMU $(qemu_version "$(fe_qemu "$fe")") has no"
		why+=" vhost-user-snd-pci device (added in QEMU 8.2)"
	fi
	if [ -n "$why" ]; then
		guest_skip "$name" "$why"
		guest_kernel stock
		return
	fi
	local sock=$GUEST_WORK/snd-$name.sock log=$GUEST_WORK/$name.log
	local initrd=$GUEST_WORK/$name.cpio out=$GUEST_WORK/snd-$name.out
	local devs=() hostfail= step mix=0 mpid=
	local mixlib=${VDEV_BUILD_DIR:-}/tests/alsa/libasound_module_ctl_vdevtest.so
	local msock=$GUEST_WORK/snd-$name-mix.sock mst=$GUEST_WORK/snd-$name-mix.st
	[ "$ctls" = 1 ] && [ -r "$mixlib" ] && mix=1
	guest_initramfs "$fe" "$initrd" ${mods:+-M "$mods"} \
		$(guest_tools $tools) -n "$name" \
		-f "$PLAY:/snd/play.raw" -f "$IN:/snd/in.raw" \
		-e VDEV_SND_PLAY=/snd/play.raw -e VDEV_SND_IN=/snd/in.raw \
		-e VDEV_SND_CTLS=$ctls -e VDEV_SND_MIXER=$mix \
		"$GUEST_DIR/tests/snd.in-guest"
	rm -f "$sock" "$out"
	bg_start "$GUEST_WORK/vdev-snd-$name.log" "$SND" \
		--transport "$(fe_transport "$fe")" --socket "$sock" \
		--backend file --out "$out" --in "$IN" "${dargs[@]}"
	local pid=$BG_PID
	wait_socket "$sock" || hostfail="vdev-snd did not create $sock"
	fe_device "$fe" devs "$sock" snd "$props"
	if [ "$mix" = 1 ] && [ -z "$hostfail" ]; then
		# the mixer's values (long[2][2]: volume, switch), 120 and on
		printf '\170\0\0\0\0\0\0\0\170\0\0\0\0\0\0\0\1\0\0\0\0\0\0\0\1\0\0\0\0\0\0\0' >"$mst"
		rm -f "$mst.fifo" "$msock"
		mkfifo "$mst.fifo"
		printf '%s\n' "ctl_type.vdevtest { lib \"$mixlib\" }" \
			"ctl.vdevtest { type vdevtest state \"$mst\" fifo \"$mst.fifo\" }" \
			"pcm.vdevnull { type null }" >"$mst.conf"
		bg_start "$GUEST_WORK/vdev-snd-$name-mix.log" \
			env ALSA_CONFIG_PATH="$mst.conf" "$SND" \
			--transport "$(fe_transport "$fe")" --socket "$msock" \
			--backend alsa --device vdevnull --controls \
			--mixer-device vdevtest --mixer Vdevtest \
			--capture-mixer none --stream out
		mpid=$BG_PID
		wait_socket "$msock" || hostfail="vdev-snd (mixer) did not create $msock"
		fe_device "$fe" devs "$msock" snd "$props"
	fi
	[ -z "$hostfail" ] && fe_run "$fe" "$log" "$initrd" -- "${devs[@]}"
	bg_stop "$pid"
	[ -n "$mpid" ] && bg_stop "$mpid"
	for step in card ctls mixer kill play record; do
		[ "$step" = ctls ] && [ "$ctls" != 1 ] && continue
		[ "$step" = mixer ] && [ "$mix" != 1 ] && continue
		grep -aq "^SND-STEP $step PASS" "$log" &&
			echo "  $name: $step PASS" || echo "  $name: $step not passed"
	done
	[ -z "$hostfail" ] && grep -aq '^SND-STEP play PASS' "$log" &&
		hostfail=$(snd_verify_out "$out")
	# the guest's amixer write reached the host's mixer
	if [ -z "$hostfail" ] && [ "$mix" = 1 ] &&
		grep -aq '^SND-STEP mixer PASS' "$log"; then
		local mv
		mv=$(od -An -tu8 -N16 "$mst" | tr -s ' ')
		[ "$mv" = " 150 20" ] ||
			hostfail="the host mixer holds '$mv' after the guest's cset 150,20"
	fi
	guest_check "$name" "$log" "$hostfail"
	guest_kernel stock
}

# snd_aloop_uml: the ALSA backend against the kernel's ALSA loopback in
# User-Mode Linux (the host's kernel here has no ALSA: unit/sound SKIPs
# its copy of the test).  test_sound runs in the guest with its libraries.
snd_aloop_uml() {
	local name=snd-uml-alsa-aloop why prog=${VDEV_BUILD_DIR:-}/tests/test_sound
	why=$(uml_unavailable)
	[ -z "$why" ] && why=$(guest_tools_missing aplay)
	[ -z "$why" ] && [ ! -x "$prog" ] && why="no test program at $prog"
	[ -z "$why" ] && ! grep -q 'backend:alsa\|VDEV_WITH_ALSA_FOUND 1' \
		"${VDEV_BUILD_DIR:-}/generated/vdev_build_config.h" 2>/dev/null &&
		why="libvdev built without alsa-lib"
	[ -n "$why" ] && { guest_skip "$name" "$why"; return; }
	local initrd=$GUEST_WORK/$name.cpio log=$GUEST_WORK/$name.log
	guest_initramfs uml "$initrd" $(guest_tools aplay) -b "$prog" \
		-n "$name" -e "VDEV_SND_TEST=$prog" \
		"$GUEST_DIR/tests/snd-aloop.in-guest"
	run_uml "$log" "$initrd" -- --
	guest_check "$name" "$log"
}

if [ ! -x "$SND" ]; then
	for c in uml uml-alsa-aloop qemu qemu11-custom qemu11-vfio-custom \
		qemu11-deb13; do
		guest_skip "snd-$c" "no vdev-snd binary at $SND (pass the build dir)"
	done
else
	snd_case uml snd-uml stock
	snd_aloop_uml
	snd_case qemu snd-qemu stock
	snd_case qemu11 snd-qemu11-custom custom
	snd_case qemu11-vfio snd-qemu11-vfio-custom custom
	# A distribution kernel: virtio_snd as a module (slow under TCG),
	# with the virtio 1.3 controls its driver knows.
	snd_case qemu11 snd-qemu11-deb13 deb13 virtio_snd 1
fi
guest_finish
