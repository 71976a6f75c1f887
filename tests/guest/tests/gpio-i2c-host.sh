#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The host backends of gpio (libgpiod) and i2c (/dev/i2c-N) against real
# kernel devices, without root or modules on the host: the unit tests
# test_gpio_host and test_i2c_host run inside a UML guest whose kernel
# builds GPIO_SIM (with CONFIGFS) and I2C_STUB in, as root there.  Results:
#   host-gpio-libgpiod   a gpio-sim chip through the libgpiod backend of
#                        this build (Debian 12: libgpiod 1.6)
#   host-gpio-libgpiod2  the same built against libgpiod 2.x: a build
#                        tree in VDEV_GPIOD2_BUILD_DIR (scripts/test.sh
#                        makes one with tests/guest/build/libgpiod2.sh)
#   host-i2c-dev         i2c-stub at 0x50 through /dev/i2c-N (SMBus), and
#                        I2C_RDWR through the guest's virtio-i2c adapter
#                        to a vdev-i2c on the host (24C02 at 0x52)
. "$(dirname "$0")/../lib.sh"
guest_setup

B=${VDEV_BUILD_DIR:-}
why=$(uml_unavailable)
for t in gpio_host i2c_host; do
	[ -z "$why" ] && [ ! -x "$B/tests/test_$t" ] &&
		why="no $B/tests/test_$t (pass a build dir with the unit tests)"
done
B2=${VDEV_GPIOD2_BUILD_DIR:-}
why2=
if [ -z "$B2" ]; then
	why2="no libgpiod 2.x build (VDEV_GPIOD2_BUILD_DIR unset; scripts/test.sh makes one)"
elif [ ! -x "$B2/tests/test_gpio_host" ]; then
	why2="no $B2/tests/test_gpio_host"
fi
if [ -n "$why" ]; then
	guest_skip host-gpio-libgpiod "$why"
	guest_skip host-gpio-libgpiod2 "$why"
	guest_skip host-i2c-dev "$why"
	guest_skip gpio-i2c-host "$why"
else
	log=$GUEST_WORK/gpio-i2c-host.log initrd=$GUEST_WORK/gpio-i2c-host.cpio
	extra=() tests="gpio_host:host-gpio-libgpiod i2c_host:host-i2c-dev"
	if [ -z "$why2" ]; then
		extra=(-b "$B2/tests/test_gpio_host:/test_gpio2_host")
		tests+=" gpio2_host:host-gpio-libgpiod2"
	else
		guest_skip host-gpio-libgpiod2 "$why2"
	fi
	# the daemons too, at their build-tree paths (VDEV_BUILD_DIR in the
	# guest): test_daemon runs them, sandboxed, on the kernel devices
	for d in gpio i2c; do
		[ -x "$B/daemons/$d/vdev-$d" ] && extra+=(-b "$B/daemons/$d/vdev-$d")
	done
	[ -n "$B2" ] && [ -x "$B2/daemons/gpio/vdev-gpio" ] &&
		extra+=(-b "$B2/daemons/gpio/vdev-gpio")
	guest_initramfs uml "$initrd" -n gpio-i2c-host \
		-e "VDEV_BUILD_DIR=$B" -e "VDEV_GPIOD2_BUILD_DIR=$B2" \
		-b "$B/tests/test_gpio_host:/test_gpio_host" \
		-b "$B/tests/test_i2c_host:/test_i2c_host" "${extra[@]}" \
		"$GUEST_DIR/tests/gpio-i2c-host.in-guest"
	# a real adapter that takes I2C_RDWR (i2c-stub does not): the
	# guest's virtio-i2c, served by vdev-i2c from the host
	sock=$GUEST_WORK/gih-i2c.sock
	devs=() i2cbin=$(daemon_bin vdev-i2c)
	if [ -x "$i2cbin" ]; then
		bg_start "$GUEST_WORK/gih-vdev-i2c.log" "$i2cbin" -s "$sock" \
			--sim "eeprom@0x52=$GUEST_WORK/gih-ee.bin"
		i2cpid=$BG_PID
		GUEST_DAEMON_LOGS+=("$GUEST_WORK/gih-vdev-i2c.log")
		wait_socket "$sock" && devs=("$sock:${GUEST_VIRTIO_ID[i2c]}")
	fi
	run_uml "$log" "$initrd" -- "${devs[@]}" -- i2c_stub.chip_addr=0x50
	[ -n "${i2cpid:-}" ] && bg_stop "$i2cpid"
	for t in $tests; do
		line=$(grep -a "^HOSTBE-RESULT [A-Z]* ${t%%:*} " "$log" | tr -d '\r')
		if [ -z "$line" ]; then
			guest_result FAIL "${t#*:}" "no result from the guest"
		else
			set -- $line
			guest_result "$2" "${t#*:}" "${*:4}"
		fi
	done
	guest_check gpio-i2c-host "$log"
fi
guest_finish
