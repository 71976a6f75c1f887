#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# virtio-vsock through daemons/vsock (vdev-vsock) with the Linux driver
# (vmw_vsock_virtio_transport) on every frontend, one boot each, all
# checks in it (tests/vsock.in-guest, tests/vsock-host.py):
#   h2g  host CONNECT 5000 -> guest socat echo: MB MiB random, sha256
#   par  100 host connections at once to the echo
#   g2h  guest socat -> host UDS_5001: MB MiB random, sha256
#   rst  guest connect to a port with no listener: ECONNRESET
#   seq  SEQPACKET: 3 messages each way, boundaries kept
# MB is 64 (the issue's size) for the echo under UML and 32 for g2h there:
# the guest sends a file from its RAM disk (a pipe in front of socat would
# set the pace), and 64 MiB of it does not fit beside the guest's 128 MiB.
# 4 both ways under QEMU/TCG (VSOCK_QEMU_MB), whose guests run at a
# fraction of UML's speed. The guest's socat and cat set the echo's pace:
# 20-55 s for 64 MiB under UML on a loaded 2-core machine.
# vsock-siblings (UML): two guests of one daemon in one group: guest 4's
# socat reaches guest 3's echo by CID.
. "$(dirname "$0")/../lib.sh"
guest_setup

VSOCK=${VDEV_VSOCK:-$(daemon_bin vdev-vsock)}
SEQ=${VDEV_BUILD_DIR:-}/tests/guest/guest_vsock_seq
HOSTPY=$GUEST_DIR/tests/vsock-host.py

vsock_missing() {
	[ -x "$VSOCK" ] || { echo "vdev-vsock not built ($VSOCK)"; return; }
	[ -x "$SEQ" ] || { echo "guest_vsock_seq not built ($SEQ)"; return; }
	command -v python3 >/dev/null || { echo "no python3 on the host"; return; }
	guest_tools_missing socat
}

# vsock_case FE MB G2H-MB [NAME]
vsock_case() {
	local fe=$1 mb=$2 g2h=$3 name=${4:-vsock-$1} why
	why=$(fe_unavailable "$fe")
	[ -z "$why" ] && why=$(vsock_missing)
	[ -n "$why" ] && { guest_skip "$name" "$why"; return; }
	local sock=$GUEST_WORK/vsock-$fe.sock uds=$GUEST_WORK/v-$fe.vsock
	local log=$GUEST_WORK/$name.log hlog=$GUEST_WORK/$name-host.log
	local initrd=$GUEST_WORK/vsock-$fe.cpio devs=() hostfail= gsha hsha r
	guest_initramfs "$fe" "$initrd" -M vmw_vsock_virtio_transport \
		$(guest_tools socat) -b "$SEQ:/usr/bin/guest_vsock_seq" \
		-e VSOCK_MB="$mb" -e VSOCK_G2H_MB="$g2h" -n "$name" \
		"$GUEST_DIR/tests/vsock.in-guest"
	rm -f "$sock" "$uds"
	bg_start "$GUEST_WORK/vdev-vsock-$fe.log" "$VSOCK" \
		--transport "$(fe_transport "$fe")" --guest-cid 3 \
		--socket "$sock" --uds-path "$uds" --seqpacket
	local dpid=$BG_PID
	wait_socket "$sock" || echo "vdev-vsock did not create $sock"
	VSOCK_HOST_TIMEOUT=600 bg_start "$hlog" python3 "$HOSTPY" "$uds" "$mb"
	local hpid=$BG_PID
	fe_device "$fe" devs "$sock" vsock
	fe_run "$fe" "$log" "$initrd" 600 -- "${devs[@]}"
	bg_stop "$hpid"
	bg_stop "$dpid"
	gsha=$(grep -a '^VSOCK-G2H-SHA' "$log" | tr -d '\r' | cut -d' ' -f2)
	hsha=$(grep -a '^HOST g2h SHA' "$hlog" | cut -d' ' -f4)
	for r in h2g par seq; do
		grep -q "^HOST $r PASS" "$hlog" && continue
		hostfail+="$r: $(grep "^HOST $r" "$hlog" || echo 'no result'); "
	done
	[ -n "$gsha" ] && [ "$gsha" != "$hsha" ] &&
		hostfail+="g2h: guest sha256 $gsha, host got $hsha; "
	grep -a "^HOST " "$hlog" | sed 's/^/    /'
	guest_check "$name" "$log" "$hostfail"
}

# Two UML guests of one daemon (--vm ... --vm, one group): guest 4's
# socat sends 1 MiB to guest 3's echo by CID and checks it came back.
vsock_siblings() {
	local name=vsock-siblings why
	why=$(uml_unavailable)
	[ -z "$why" ] && why=$(vsock_missing)
	[ -n "$why" ] && { guest_skip "$name" "$why"; return; }
	local s3=$GUEST_WORK/sib3.sock s4=$GUEST_WORK/sib4.sock
	local i3=$GUEST_WORK/sib3.cpio i4=$GUEST_WORK/sib4.cpio
	local l3=$GUEST_WORK/$name-3.log l4=$GUEST_WORK/$name.log hostfail=
	guest_initramfs uml "$i3" $(guest_tools socat) -e VSOCK_ROLE=server \
		-n "$name-3" "$GUEST_DIR/tests/vsock-sib.in-guest"
	guest_initramfs uml "$i4" $(guest_tools socat) -e VSOCK_ROLE=client \
		-n "$name" "$GUEST_DIR/tests/vsock-sib.in-guest"
	rm -f "$s3" "$s4"
	bg_start "$GUEST_WORK/vdev-vsock-sib.log" "$VSOCK" \
		--vm "guest-cid=3,socket=$s3,groups=lab" \
		--vm "guest-cid=4,socket=$s4,groups=lab+other"
	local dpid=$BG_PID
	wait_socket "$s3" && wait_socket "$s4" ||
		echo "vdev-vsock did not create $s3 and $s4"
	run_uml "$l3" "$i3" 120 -- "$s3:19" >/dev/null &
	local upid=$!
	run_uml "$l4" "$i4" 120 -- "$s4:19"
	wait "$upid"
	bg_stop "$dpid"
	grep -aq 'VDEV-GUEST-RESULT: PASS' "$l3" ||
		hostfail="guest 3: $(grep -a 'VDEV-GUEST-RESULT' "$l3" ||
			echo 'no result')"
	guest_check "$name" "$l4" "$hostfail"
}

for fe in ${VSOCK_FRONTENDS:-$GUEST_FRONTENDS}; do
	if [ "$fe" = uml ]; then
		vsock_case uml "${VSOCK_UML_MB:-64}" "${VSOCK_UML_G2H_MB:-32}"
	else
		vsock_case "$fe" "${VSOCK_QEMU_MB:-4}" "${VSOCK_QEMU_MB:-4}"
	fi
done
[ -z "${VSOCK_FRONTENDS:-}" ] || [[ " $VSOCK_FRONTENDS " == *" uml "* ]] &&
	vsock_siblings
guest_finish
