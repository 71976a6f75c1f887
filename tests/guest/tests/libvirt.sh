#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# vdev-blk as a libvirt <disk type='vhostuser'>: Debian's libvirtd runs a
# TCG domain (memfd shared memory, the stock kernel and the blk initramfs)
# whose QEMU runs as libvirt-qemu, which may connect to the socket only
# because the daemon made it group kvm, mode 0660 (--socket-group,
# --socket-mode: the README's libvirt recipe). The guest checks what the
# host wrote and writes a pattern the host then finds in the image.
# SKIPs with the reason where libvirtd, root or the guest kernel is missing.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/blk.lib"
guest_setup

BLK=${VDEV_BLK:-$(daemon_bin vdev-blk)}
name=libvirt-blk
virsh=(virsh -q -c qemu:///system)

# Sets WHY when libvirt cannot run the test here. Not in a $(...): a
# libvirtd it starts must stay in this shell's GUEST_PIDS (guest_cleanup
# ends it).
libvirt_check() {
	WHY=
	[ "$(id -u)" = 0 ] || { WHY="not root (libvirtd's system instance)"; return; }
	command -v virsh >/dev/null && [ -x /usr/sbin/libvirtd ] ||
		{ WHY="no libvirtd/virsh (package libvirt-daemon-system; scripts/install-deps.sh test)"; return; }
	id libvirt-qemu >/dev/null 2>&1 || { WHY="no user libvirt-qemu"; return; }
	getent group kvm >/dev/null || { WHY="no group kvm"; return; }
	# A running libvirtd is used; else one is started for this test.
	timeout 10 "${virsh[@]}" version >/dev/null 2>&1 && return
	pgrep -x virtlogd >/dev/null ||
		bg_start "$GUEST_WORK/virtlogd.log" /usr/sbin/virtlogd
	bg_start "$GUEST_WORK/libvirtd.log" /usr/sbin/libvirtd
	local i
	for ((i = 0; i < 50; i++)); do
		timeout 10 "${virsh[@]}" version >/dev/null 2>&1 && return
		sleep 0.2
	done
	WHY="libvirtd does not start here: $(tail -n 2 "$GUEST_WORK/libvirtd.log" | tr '\n' ' ')"
}

why=$(fe_unavailable qemu)
[ -z "$why" ] && [ ! -x "$BLK" ] && why="no vdev-blk binary at $BLK"
if [ -z "$why" ]; then
	libvirt_check
	why=$WHY
fi
if [ -n "$why" ]; then
	guest_skip "$name" "$why"
	guest_finish
	exit
fi

# libvirt's QEMU (libvirt-qemu) reads the kernel, the initramfs and the
# log directory; only the socket's permissions come from the daemon.
chmod 0755 "$GUEST_WORK"
img=$GUEST_WORK/$name.img sock=$GUEST_WORK/$name.sock log=$GUEST_WORK/$name.log
blk_prepare "$img" qemu
chmod 0644 "$BLK_INITRD"
bg_start "$GUEST_WORK/vdev-blk.log" "$BLK" -v -s "$sock" -b "$img" \
	--socket-group kvm --socket-mode 0660
blk_pid=$BG_PID
wait_socket "$sock" || echo "vdev-blk did not create $sock"
kdir=$VDEV_GUEST_STOCK_DIR
kernel=$kdir/vmlinux
[ -f "$kernel" ] || kernel=$kdir/vmlinuz
dom=vdev-test-$$
cat >"$GUEST_WORK/$dom.xml" <<XML
<domain type='qemu'>
  <name>$dom</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$kernel</kernel>
    <initrd>$BLK_INITRD</initrd>
    <cmdline>console=ttyS0 quiet panic=-1</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='vhostuser' device='disk'>
      <driver name='qemu' type='raw'/>
      <source type='unix' path='$sock'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='file'><source path='$log'/><target port='0'/></serial>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
XML
echo "frontend: libvirt $(virsh --version) running QEMU $(qemu_version "$QEMU") (TCG) as libvirt-qemu"
# First without the two options: libvirt's QEMU must be refused, which is
# what operators met (the reason for the options, not a libvirt quirk).
bg_start "$GUEST_WORK/vdev-blk-noperm.log" "$BLK" -s "$sock.noperm" -b "$img"
noperm_pid=$BG_PID
wait_socket "$sock.noperm" || echo "vdev-blk did not create $sock.noperm"
sed "s|$sock'|$sock.noperm'|; s|<name>$dom</name>|<name>$dom-noperm</name>|" \
	"$GUEST_WORK/$dom.xml" >"$GUEST_WORK/$dom-noperm.xml"
chmod 0700 "$sock.noperm" 2>/dev/null
noperm=$("${virsh[@]}" create "$GUEST_WORK/$dom-noperm.xml" 2>&1)
noperm_rc=$?
"${virsh[@]}" destroy "$dom-noperm" >/dev/null 2>&1
bg_stop "$noperm_pid"
if [ $noperm_rc = 0 ] || ! echo "$noperm" | grep -q 'Permission denied'; then
	bg_stop "$blk_pid"
	guest_result FAIL "$name" "a root-only socket was not refused to libvirt's QEMU: $(echo "$noperm" | tr '\n' ' ')"
	guest_finish
	exit
fi
echo "without --socket-group/--socket-mode: refused as expected (Permission denied)"
t0=$SECONDS
if ! out=$("${virsh[@]}" create "$GUEST_WORK/$dom.xml" 2>&1); then
	bg_stop "$blk_pid"
	guest_result FAIL "$name" "virsh create failed: $(echo "$out" | tr '\n' ' ')"
	guest_finish
	exit
fi
# Done when the guest printed its result (libvirt may keep a powered-off
# QEMU around until told), or when the domain is gone.
for ((i = 0; i < GUEST_BOOT_TIMEOUT * 5; i++)); do
	grep -aq 'VDEV-GUEST-RESULT:' "$log" 2>/dev/null && break
	"${virsh[@]}" domstate "$dom" >/dev/null 2>&1 || break
	sleep 0.2
done
"${virsh[@]}" destroy "$dom" >/dev/null 2>&1
echo "guest ran $((SECONDS - t0)) s under libvirt"
bg_stop "$blk_pid"
GUEST_DAEMON_LOGS+=("/var/log/libvirt/qemu/$dom.log")
guest_check "$name" "$log" "$(blk_verify "$img")"
guest_finish
