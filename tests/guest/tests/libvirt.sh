#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# vdev-blk as a libvirt <disk type='vhostuser'>, and vdev-rng through
# <qemu:commandline> (libvirt has no element for it): Debian's libvirtd runs a
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

# A device libvirt has no element for (rng; scsi and the wave-2 devices go
# the same way): the README's <qemu:commandline> domain, on vdev-rng
# serving a known file, with the same socket options.
name=libvirt-rng
RNG=${VDEV_RNG:-$(daemon_bin vdev-rng)}
if [ ! -x "$RNG" ]; then
	guest_skip "$name" "no vdev-rng binary at $RNG"
	guest_finish
	exit
fi
data=$GUEST_WORK/rng.bin rsock=$GUEST_WORK/rng.sock rlog=$GUEST_WORK/$name.log
head -c 65536 /dev/urandom >"$data"
rinitrd=$GUEST_WORK/rng.cpio
guest_initramfs qemu "$rinitrd" -M virtio_rng -n "$name" \
	"$GUEST_DIR/tests/rng.in-guest"
chmod 0644 "$rinitrd"
bg_start "$GUEST_WORK/vdev-rng.log" "$RNG" -s "$rsock" -f "$data" \
	--socket-group kvm --socket-mode 0660
rng_pid=$BG_PID
wait_socket "$rsock" || echo "vdev-rng did not create $rsock"
rdom=$dom-rng
cat >"$GUEST_WORK/$rdom.xml" <<XML
<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>$rdom</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>$kernel</kernel>
    <initrd>$rinitrd</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 rng_core.default_quality=0</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='file'><source path='$rlog'/><target port='0'/></serial>
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
  <qemu:commandline>
    <qemu:arg value='-chardev'/><qemu:arg value='socket,id=vrng,path=$rsock'/>
    <qemu:arg value='-device'/><qemu:arg value='vhost-user-rng-pci,chardev=vrng'/>
  </qemu:commandline>
</domain>
XML
t0=$SECONDS
if ! out=$("${virsh[@]}" create "$GUEST_WORK/$rdom.xml" 2>&1); then
	bg_stop "$rng_pid"
	guest_result FAIL "$name" "virsh create failed: $(echo "$out" | tr '\n' ' ')"
	guest_finish
	exit
fi
for ((i = 0; i < GUEST_BOOT_TIMEOUT * 5; i++)); do
	grep -aq 'VDEV-GUEST-RESULT:' "$rlog" 2>/dev/null && break
	"${virsh[@]}" domstate "$rdom" >/dev/null 2>&1 || break
	sleep 0.2
done
"${virsh[@]}" destroy "$rdom" >/dev/null 2>&1
echo "guest ran $((SECONDS - t0)) s under libvirt"
bg_stop "$rng_pid"
GUEST_DAEMON_LOGS+=("/var/log/libvirt/qemu/$rdom.log")
# Every chunk the guest read must be a run of the served file.
hex=$(od -An -v -tx1 "$data" | tr -d '\n')
rfail=
while read -r _ idx chunk; do
	[[ "$hex" == *" $chunk"* ]] || { rfail="chunk $idx is not from the served file"; break; }
done < <(grep -a '^RNG-CHUNK ' "$rlog" | tr -d '\r' | sed 's/  */ /')
grep -aq '^RNG-CHUNK ' "$rlog" || rfail=${rfail:-"no chunks in the guest output"}
guest_check "$name" "$rlog" "$rfail"
guest_finish
