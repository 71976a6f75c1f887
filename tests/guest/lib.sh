# SPDX-License-Identifier: BSD-3-Clause
# Library for host-side guest tests (tests/guest/tests/*.sh).  Sourced.
#
# A test script calls guest_setup once, then for each case either
# guest_skip NAME REASON, or builds an initramfs (guest_initramfs) and boots
# it with run_uml / run_qemu, then guest_check NAME LOG [extra checks].
# Every case prints exactly one line
#   GUEST-TEST: PASS|FAIL|SKIP <name> <detail>
# which run-all.sh counts.  guest_finish returns non-zero on any FAIL.

GUEST_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$GUEST_DIR/build/common.sh"

GUEST_PASS=0 GUEST_FAIL=0 GUEST_SKIP=0
GUEST_BOOT_TIMEOUT=${VDEV_GUEST_TIMEOUT:-180}
GUEST_PIDS=()
GUEST_DAEMON_LOGS=()	# shown when the next guest_check fails
UML_MEM_MB=128	# mem= of every UML guest
UML_GLIBC_TUNABLES=GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX,-AVX2,-FMA,-AVX512F,-AVX512VL,-AVX512BW,-AVX512DQ,-AVX512CD

# guest_setup: work dir, cleanup trap, kernels.  Uses the kernels run-all.sh
# exported, else asks the builders (a cache hit costs only a hash).
# VDEV_BUILD_DIR is the libvdev build tree (for the daemons under test).
guest_setup() {
	GUEST_WORK=$(mktemp -d /dev/shm/vdev-guest.XXXXXX)
	trap guest_cleanup EXIT
	trap 'exit 130' INT TERM
	local parts=()
	[ -z "${VDEV_GUEST_UML_KERNEL+x}" ] && parts+=(uml)
	[ -z "${VDEV_GUEST_STOCK_DIR+x}" ] && parts+=(stock)
	[ -z "${VDEV_GUEST_QEMU10_DIR+x}" ] && parts+=(qemu10)
	[ -z "${VDEV_GUEST_QEMU11_DIR+x}" ] && parts+=(qemu11)
	[ -z "${VDEV_GUEST_CUSTOM_DIR+x}" ] && parts+=(custom)
	[ -z "${VDEV_GUEST_DEB13_DIR+x}" ] && parts+=(deb13)
	[ ${#parts[@]} = 0 ] || eval "$("$GUEST_DIR/build.sh" "${parts[@]}")"
	[ -n "${VDEV_GUEST_UML_PROBED:-}" ] || uml_probe
	QEMU=${VDEV_GUEST_QEMU:-$(command -v qemu-system-x86_64 || true)}
	# QEMU 10 from bookworm-backports (build/qemu-bpo.sh), for cases
	# 7.2 cannot run; a case uses it with QEMU_BIN=$QEMU10 run_qemu ...
	QEMU10=
	[ -n "${VDEV_GUEST_QEMU10_DIR:-}" ] &&
		QEMU10=$VDEV_GUEST_QEMU10_DIR/bin/qemu-system-x86_64
	# QEMU 11 in the Debian 13 root (build/qemu11-root.sh): the
	# frontends qemu11 (vhost-user) and qemu11-vfio (vfio-user).
	QEMU11=
	[ -n "${VDEV_GUEST_QEMU11_DIR:-}" ] &&
		QEMU11=$VDEV_GUEST_QEMU11_DIR/bin/qemu-system-x86_64
	GUEST_KERNEL_DIR=${VDEV_GUEST_STOCK_DIR:-}
}

# uml_probe: boots the UML kernel once with a trivial init.  UML runs on
# the host kernel's ptrace and register layout, and some hosts cannot run
# it at all (found: hosts with AMX, see kconfig/uml-xstate.patch); then the
# UML cases SKIP with what went wrong instead of failing for a reason that
# has nothing to do with libvdev.  Clears VDEV_GUEST_UML_KERNEL and sets
# VDEV_GUEST_UML_WHY in that case.
uml_probe() {
	VDEV_GUEST_UML_PROBED=1
	[ -n "${VDEV_GUEST_UML_KERNEL:-}" ] || return 0
	local dir script log why
	dir=$(mktemp -d /dev/shm/vdev-uml-probe.XXXXXX)
	script=$dir/probe.sh log=$dir/probe.log
	echo 'echo probe >"$VDEV_DETAIL"' >"$script"
	TMPDIR=$dir "$GUEST_DIR/mkinitramfs.sh" -n uml-probe "$script" \
		"$dir/probe.cpio"
	local GUEST_WORK=$dir GUEST_PIDS=()
	run_uml "$log" "$dir/probe.cpio" 30 -- >/dev/null
	if grep -aq '^run_uml: not booted\|Bus error - the host /dev/shm' "$log"; then
		# a full /dev/shm is not a host that cannot run UML: the
		# cases boot and FAIL saying so (run_uml, guest_check)
		echo "guest: UML probe: $(grep -a -m1 '^run_uml: not booted\|Bus error' "$log")" >&2
	elif ! grep -aq 'VDEV-GUEST-RESULT: PASS uml-probe' "$log"; then
		why=$(grep -aE 'failed|segfault|panic|error' "$log" |
			head -n 2 | tr '\n' ';')
		VDEV_GUEST_UML_WHY="UML cannot run a trivial init on this host (${why:-no output}) - host kernel $(uname -r)"
		VDEV_GUEST_UML_KERNEL=
		echo "guest: $VDEV_GUEST_UML_WHY" >&2
	else
		echo "guest: UML probe booted in ${GUEST_SECS}s" >&2
	fi
	rm -rf "$dir"
}

guest_cleanup() {
	local p
	for p in "${GUEST_PIDS[@]}"; do
		kill -KILL -- "-$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
	done
	[ -n "${GUEST_WORK:-}" ] && rm -rf "$GUEST_WORK"
}

guest_result() {
	local st=$1 name=$2; shift 2
	echo "GUEST-TEST: $st $name $*"
	case $st in
	PASS) GUEST_PASS=$((GUEST_PASS + 1)) ;;
	FAIL) GUEST_FAIL=$((GUEST_FAIL + 1)) ;;
	SKIP) GUEST_SKIP=$((GUEST_SKIP + 1)) ;;
	esac
}
guest_skip() { guest_result SKIP "$@"; }

guest_finish() {
	[ "$GUEST_FAIL" = 0 ]
}

# Why a frontend cannot run, empty when it can.
uml_unavailable() {
	[ -n "${VDEV_GUEST_UML_KERNEL:-}" ] && [ -x "$VDEV_GUEST_UML_KERNEL" ] ||
		{ echo "no UML kernel: ${VDEV_GUEST_UML_WHY:-not built}"; return; }
	[ -w /dev/shm ] || echo "/dev/shm not writable"
}
qemu_unavailable() {
	[ -n "$QEMU" ] && [ -x "$QEMU" ] ||
		{ echo "no qemu-system-x86_64 (apt-get install qemu-system-x86)"; return; }
	kernel_unavailable
}
qemu10_unavailable() {
	[ -n "$QEMU10" ] && [ -x "$QEMU10" ] ||
		{ echo "no QEMU 10: ${VDEV_GUEST_QEMU10_WHY:-not built}"; return; }
	kernel_unavailable
}
qemu11_unavailable() {
	[ -n "$QEMU11" ] && [ -x "$QEMU11" ] ||
		{ echo "no QEMU 11 (Debian 13 root): ${VDEV_GUEST_QEMU11_WHY:-not built}"; return; }
	kernel_unavailable
}
# kernel_unavailable: why the kernel QEMU guests boot (guest_kernel) is
# missing, nothing when it is there.
kernel_unavailable() {
	[ -n "${GUEST_KERNEL_DIR:-}" ] && [ -f "$GUEST_KERNEL_DIR/version" ] ||
		echo "no ${GUEST_KERNEL_NAME:-stock} kernel: ${GUEST_KERNEL_WHY:-${VDEV_GUEST_STOCK_WHY:-not built}}"
}

# guest_kernel [stock|NAME|DIR]: the kernel every following QEMU guest
# boots and whose modules guest_initramfs packs (UML has its own).  A
# kernel directory holds vmlinux (ELF, booted PVH) or bzImage/vmlinuz, a
# file "version", and optionally modules/ with *.ko and load.order
# (build/stock-kernel.sh makes one; a kernel without modules/ has its
# drivers built in).  stock (the default) is the Debian 6.1 kernel; NAME
# means $VDEV_GUEST_<NAME>_DIR (as build.sh prints it for a part NAME, with
# VDEV_GUEST_<NAME>_WHY when it is missing): custom is linux-source-6.1
# with every virtio driver built in (build/custom-kernel.sh), the one for
# gpio and i2c; deb13 is Debian 13's 6.12 with its virtio modules and
# virtio_snd (build/deb13-kernel.sh), for sound; a path is used as it is.
# Prints nothing; kernel_unavailable then says why it cannot be used.
guest_kernel() {
	local k=${1:-stock} var
	GUEST_KERNEL_NAME=$k GUEST_KERNEL_WHY=
	case $k in
	stock) GUEST_KERNEL_DIR=${VDEV_GUEST_STOCK_DIR:-}
		GUEST_KERNEL_WHY=${VDEV_GUEST_STOCK_WHY:-} ;;
	/*) GUEST_KERNEL_DIR=$k ;;
	*)	var=VDEV_GUEST_$(echo "$k" | tr 'a-z-' 'A-Z_')
		local dir=${var}_DIR why=${var}_WHY
		GUEST_KERNEL_DIR=${!dir:-} GUEST_KERNEL_WHY=${!why:-}
		[ -n "${!dir+x}" ] ||
			GUEST_KERNEL_WHY="$dir not set (build.sh part $k?)" ;;
	esac
}

# ---- Frontends -----------------------------------------------------------
# A case names the frontend that drives its daemon with one word, so the
# same case runs on each (tests/guest/README.md, "Frontends"):
#   uml          User-Mode Linux (virtio_uml), vhost-user; split rings, no
#                reconnect, any device id
#   qemu         the host's QEMU (Debian 12: 7.2), vhost-user
#   qemu11       QEMU 11 in the Debian 13 root, vhost-user
#   qemu11-vfio  QEMU 11 in the Debian 13 root, vfio-user (vfio-user-pci);
#                the daemon runs with --transport vfio-user
# VDEV_GUEST_FRONTENDS="uml ..." runs the cases of those frontends only,
# the others SKIP as "not selected" (scripts/coverage-guest.sh).
GUEST_FRONTENDS=${VDEV_GUEST_FRONTENDS:-uml qemu qemu11 qemu11-vfio}

fe_unavailable() { # FE: why FE cannot run here, nothing when it can
	if [ -n "${VDEV_GUEST_FRONTENDS:-}" ] &&
		[[ " $VDEV_GUEST_FRONTENDS " != *" $1 "* ]]; then
		echo "frontend $1 not selected (VDEV_GUEST_FRONTENDS=$VDEV_GUEST_FRONTENDS)"
		return
	fi
	case $1 in
	uml) uml_unavailable ;;
	qemu) qemu_unavailable ;;
	qemu10) qemu10_unavailable ;;
	qemu11|qemu11-vfio) qemu11_unavailable ;;
	*) echo "unknown frontend $1" ;;
	esac
}
fe_kind() { # FE: uml or qemu (what guest_initramfs needs)
	[ "$1" = uml ] && echo uml || echo qemu
}
fe_transport() { # FE: the daemon's --transport for FE
	case $1 in *-vfio) echo vfio-user ;; *) echo vhost-user ;; esac
}
fe_qemu() { # FE: the QEMU binary of a QEMU frontend
	case $1 in
	qemu) echo "$QEMU" ;;
	qemu10) echo "$QEMU10" ;;
	qemu11|qemu11-vfio) echo "$QEMU11" ;;
	esac
}
# qemu_version [QEMU-BIN]: "11.1.3"
qemu_version() {
	"${1:-$QEMU}" --version | head -n1 | awk '{print $4}'
}
# qemu_reconnect_opt QEMU-BIN SECONDS: the socket chardev option that
# reconnects after SECONDS (9.2 renamed reconnect=S to reconnect-ms=MS).
qemu_reconnect_opt() {
	local v
	v=$(qemu_version "$1")
	if [ "${v%%.*}" -ge 10 ]; then echo "reconnect-ms=$(($2 * 1000))"
	else echo "reconnect=$2"; fi
}

# Virtio device ids, for UML (virtio_uml.device=SOCKET:ID).
declare -A GUEST_VIRTIO_ID=([net]=1 [blk]=2 [console]=3 [rng]=4 [scsi]=8
	[input]=18 [vsock]=19 [snd]=25 [fs]=26 [i2c]=34 [can]=36 [gpio]=41
	[spi]=45)
GUEST_DEV_N=0

# fe_device FE ARRAY SOCKET DEV [PROPS [VFIO-PROPS]]: appends to the array
# named ARRAY what FE needs to attach the daemon listening on SOCKET as a
# DEV (rng, blk, scsi, gpio, i2c, snd, input, vsock, ...):
#   uml          SOCKET:ID                         (for fe_run / run_uml)
#   qemu*        -chardev socket,id=vuN,path=SOCKET
#                -device vhost-user-DEV-pci,chardev=vuN[,PROPS]
#   qemu11-vfio  -device {"driver":"vfio-user-pci","socket":{...}[,VFIO-PROPS]}
# PROPS and VFIO-PROPS are QEMU device properties "k=v,k=v" (for
# vfio-user-pci, numbers and on/off become JSON numbers and booleans).
# UML takes neither; on a vfio-user function the device's queues and
# features are the daemon's options, so vhost-user PROPS do not apply.
fe_device() {
	local fe=$1 arr=$2 sock=$3 dev=$4 props=${5:-} id
	[[ $fe == *-vfio ]] && props=${6:-}
	local -n _a=$arr
	GUEST_DEV_N=$((GUEST_DEV_N + 1))
	id=vu$GUEST_DEV_N
	case $fe in
	uml)
		local vid=${GUEST_VIRTIO_ID[$dev]:-$dev}
		_a+=("$sock:$vid") ;;
	*-vfio)
		local json kv k v
		json="{\"driver\":\"vfio-user-pci\",\"id\":\"$id\",\"socket\":{\"path\":\"$sock\",\"type\":\"unix\"}"
		local IFS=,
		for kv in $props; do
			k=${kv%%=*} v=${kv#*=}
			case $v in
			on|true) v=true ;;
			off|false) v=false ;;
			*[!0-9]*|'') v="\"$v\"" ;;
			esac
			json+=",\"$k\":$v"
		done
		_a+=(-device "$json}") ;;
	*)
		_a+=(-chardev "socket,id=$id,path=$sock"
			-device "vhost-user-$dev-pci,chardev=$id${props:+,$props}") ;;
	esac
}

# fe_run FE LOG INITRD [TIMEOUT] -- ITEMS... [--append KERNEL-ARGS]
# Boots FE with the ITEMS fe_device collected (and, for QEMU frontends,
# any other QEMU options: UML ignores items that are not SOCKET:ID).  Sets
# GUEST_SECS like run_uml and run_qemu, which it calls.
fe_run() {
	local fe=$1 log=$2 initrd=$3; shift 3
	local pre=()
	if [ "${1:-}" != "--" ]; then pre=("$1"); shift; fi
	[ "${1:-}" = "--" ] && shift
	if [ "$fe" = uml ]; then
		local devs=() kargs=()
		while [ $# -gt 0 ]; do
			case $1 in
			--append) kargs+=($2); shift 2; continue ;;
			-*) ;;
			*:*) devs+=("$1") ;;
			esac
			shift
		done
		run_uml "$log" "$initrd" "${pre[@]}" -- "${devs[@]}" -- "${kargs[@]}"
	else
		QEMU_BIN=$(fe_qemu "$fe") run_qemu "$log" "$initrd" "${pre[@]}" -- "$@"
	fi
}

# daemon_bin NAME: the daemon NAME (vdev-DEV) of the build tree
# ($VDEV_BUILD_DIR): daemons/DEV/vdev-DEV.
daemon_bin() {
	echo "${VDEV_BUILD_DIR:-}/daemons/${1#vdev-}/$1"
}

# guest_initramfs FE OUT [-M "MODULES"] [mkinitramfs options] SCRIPT
# FE: uml, qemu or any frontend name.  -M names the modules the QEMU
# guest needs from the kernel guest_kernel chose (virtio_pci is added;
# dependencies are resolved); without it all are loaded.  UML, and a
# kernel without modules/, have every driver built in and ignore -M.
guest_initramfs() {
	local kind=$1 out=$2; shift 2
	local mod=() mods=
	if [ "${1:-}" = -M ]; then mods=$2; shift 2; fi
	kind=$(fe_kind "$kind")
	if [ "$kind" = qemu ] && [ -f "$GUEST_KERNEL_DIR/modules/load.order" ]; then
		mod=(-m "$GUEST_KERNEL_DIR/modules")
		[ -n "$mods" ] && mod+=(-M "virtio_pci $mods")
	fi
	TMPDIR=$GUEST_WORK "$GUEST_DIR/mkinitramfs.sh" "${mod[@]}" "$@" "$out"
}

# Debian programs a guest test can run: copied into the initramfs with their
# shared libraries (mkinitramfs.sh -b) and the data files they read.
#   why=$(guest_tools_missing socat aplay) -> SKIP reason, empty when all are here
#   guest_initramfs uml OUT $(guest_tools socat aplay) SCRIPT
# A TOOL is a command name (looked up in PATH, /usr/sbin and /sbin
# included) or an absolute path; the table gives the Debian package to
# install and any data files it needs (scripts/install-deps.sh test
# installs them all).
guest_tool_path() {
	case $1 in
	/*) [ -x "$1" ] && echo "$1" ;;
	*) PATH=$PATH:/usr/sbin:/sbin command -v "$1" ;;
	esac
}
guest_tool_package() {
	case ${1##*/} in
	aplay | arecord | amixer | speaker-test | alsactl) echo alsa-utils ;;
	gpio*) echo gpiod ;;
	i2c*) echo i2c-tools ;;
	*) echo "${1##*/}" ;;
	esac
}
guest_tools_missing() {
	local t missing=
	for t in "$@"; do
		[ -n "$(guest_tool_path "$t")" ] ||
			missing+=" $t (package $(guest_tool_package "$t"))"
	done
	[ -z "$missing" ] ||
		echo "missing guest tools:$missing; scripts/install-deps.sh test installs them"
}
guest_tools() {
	local t p alsa=
	for t in "$@"; do
		p=$(guest_tool_path "$t") ||
			{ echo "guest_tools: no $t" >&2; return 1; }
		echo "-b $p"
		# alsa-lib reads its configuration even for hw: devices.
		[ "$(guest_tool_package "$t")" = alsa-utils ] && alsa=1
	done
	if [ -n "$alsa" ]; then
		for p in alsa.conf cards pcm ctl; do
			echo "-f /usr/share/alsa/$p:/usr/share/alsa/$p"
		done
	fi
}

# wait_socket PATH [SECONDS]: wait until a daemon listens on PATH.
wait_socket() {
	local i
	for ((i = 0; i < ${2:-10} * 20; i++)); do
		[ -S "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# image_hole FILE OFFSET LENGTH: why [OFFSET, +LENGTH) of FILE is not a
# hole (SEEK_HOLE/SEEK_DATA), nothing when it is. For discard checks.
image_hole() {
	perl -e 'open(F, "<", $ARGV[0]) or die "$!\n";
		my ($o, $l) = @ARGV[1, 2];
		my $h = sysseek(F, $o, 4);	# SEEK_HOLE
		my $d = sysseek(F, $o, 3);	# SEEK_DATA (fails: no data after)
		print "range not a hole (next hole at $h)" if $h != $o;
		print "data at ", $d + 0, " inside the range" if $d && $d < $o + $l;' \
		"$1" "$2" "$3"
}

# bg_start LOG CMD...: start a daemon in its own process group; sets BG_PID.
bg_start() {
	local log=$1; shift
	setsid "$@" >"$log" 2>&1 </dev/null &
	BG_PID=$!
	GUEST_PIDS+=("$BG_PID")
	GUEST_DAEMON_LOGS+=("$log")
}
bg_stop() {
	kill -TERM -- "-$1" 2>/dev/null || kill -TERM "$1" 2>/dev/null
	local i
	for ((i = 0; i < 40; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL -- "-$1" 2>/dev/null
	wait "$1" 2>/dev/null || true
}

# run_uml LOG INITRD [TIMEOUT] -- SOCKET:ID... [-- extra kernel args]
# Boots the UML kernel with one virtio_uml device per SOCKET:ID.  UML calls
# setsid(), so on timeout its whole process group is killed.  Sets
# GUEST_SECS (wall time) and echoes a description line.
run_uml() {
	# UML boots in about a second: a minute means it is stuck.
	local log=$1 initrd=$2 tmo=${VDEV_GUEST_UML_TIMEOUT:-60}
	shift 2
	if [ "${1:-}" != "--" ]; then tmo=$1; shift; fi
	[ "${1:-}" = "--" ] && shift
	local args=() umid="vdevg$$_$RANDOM"
	while [ $# -gt 0 ] && [ "$1" != "--" ]; do
		args+=("virtio_uml.device=$1"); shift
	done
	[ "${1:-}" = "--" ] && { shift; args+=("$@"); }
	local udir=$GUEST_WORK/uml
	mkdir -p "$udir"
	echo "frontend: UML (virtio_uml), kernel: linux-source-6.1" \
		"$(pkg_version linux-source-6.1) ARCH=um" \
		"($VDEV_GUEST_UML_KERNEL), accel: none (user-mode)"
	local t0 pid i free
	# UML's memory is a file it makes (and unlinks) in TMPDIR, mapped
	# shared: a page the host's tmpfs has no room for is a SIGBUS in
	# the guest kernel, "Kernel mode signal 7", and UML aborts (first
	# seen unpacking the initramfs, the first big write).  Not booting
	# says so plainly; guest_check names the crash if room ran out
	# during the boot.
	free=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')
	if [ -n "$free" ] && [ "$free" -lt $((UML_MEM_MB * 1024 + 65536)) ]; then
		echo "run_uml: not booted: /dev/shm has $((free / 1024)) MiB free," \
			"UML's memory file needs up to $UML_MEM_MB MiB there (+64 MiB)" >"$log"
		GUEST_SECS=0
		return
	fi
	t0=$(date +%s.%N)
	# On hosts whose XSAVE area UML cannot restore (AMX, see
	# kconfig/uml-xstate.patch) UML saves only the legacy FP/SSE state
	# across its processes: keep the guest's glibc off AVX (init gets
	# NAME=VALUE kernel arguments as environment).  The built-in ALSA
	# loopback (hw:Loopback) gets card 7, so virtio-snd is card 0.
	TMPDIR=/dev/shm "$VDEV_GUEST_UML_KERNEL" mem=${UML_MEM_MB}M initrd="$initrd" \
		con=null ssl=null con0=null,fd:1 uml_dir="$udir" umid="$umid" \
		panic=-1 quiet "$UML_GLIBC_TUNABLES" snd_aloop.index=7 \
		"${args[@]}" >"$log" 2>&1 </dev/null &
	pid=$!
	GUEST_PIDS+=("$pid")
	for ((i = 0; i < tmo * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "run_uml: timeout after ${tmo}s (UML prints nothing while a" \
			"virtio_uml device waits for its back-end at boot)" >>"$log"
	fi
	kill -KILL -- "-$pid" 2>/dev/null
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null || true
	rm -rf "${udir:?}/$umid"
	GUEST_SECS=$(echo "$(date +%s.%N) - $t0" | bc)
	GUEST_SECS=$(printf %.2f "$GUEST_SECS")
}

# run_qemu LOG INITRD [TIMEOUT] -- QEMU-ARGS... [--append KERNEL-ARGS]
# TCG (this machine's /dev/kvm cannot run Linux, see notes), pc machine,
# memfd shared memory for vhost-user, PVH boot of the extracted vmlinux
# (vmlinuz when none was extracted).  Always under timeout.
# QEMU_BIN overrides the QEMU binary for one call (e.g. QEMU_BIN=$QEMU10);
# QEMU_SMP the number of vCPUs (default 1; under TCG each is a host
# thread, so ask for more only where a case needs them, e.g. a multiqueue
# device, whose Linux driver uses one queue pair per online CPU).
run_qemu() {
	local QEMU=${QEMU_BIN:-$QEMU}
	local log=$1 initrd=$2 tmo=$GUEST_BOOT_TIMEOUT
	shift 2
	if [ "${1:-}" != "--" ]; then tmo=$1; shift; fi
	[ "${1:-}" = "--" ] && shift
	local qargs=() append="console=ttyS0 quiet panic=-1"
	while [ $# -gt 0 ]; do
		if [ "$1" = "--append" ]; then append+=" $2"; shift 2; continue; fi
		qargs+=("$1"); shift
	done
	local kdir=${GUEST_KERNEL_DIR:-$VDEV_GUEST_STOCK_DIR} boot=PVH kernel
	kernel=$kdir/vmlinux
	[ -f "$kernel" ] || { kernel=$kdir/bzImage; boot=bzImage; }
	[ -f "$kernel" ] || kernel=$kdir/vmlinuz
	local accel=${VDEV_GUEST_ACCEL:-tcg}
	echo "frontend: QEMU $(qemu_version "$QEMU")" \
		"pc, ${QEMU_SMP:-1} vCPU, kernel: ${GUEST_KERNEL_NAME:-stock} $(cat "$kdir/version") ($boot)," \
		"accel: $accel"
	local t0
	t0=$(date +%s.%N)
	timeout -s KILL "$tmo" "$QEMU" -accel "$accel" -M pc -m 256M \
		-smp "${QEMU_SMP:-1}" \
		-nodefaults -no-user-config -nographic -serial stdio -no-reboot \
		-object memory-backend-memfd,id=mem,size=256M,share=on \
		-numa node,memdev=mem \
		-kernel "$kernel" -initrd "$initrd" -append "$append" \
		"${qargs[@]}" >"$log" 2>&1 </dev/null ||
		echo "run_qemu: exit status $? (137: timeout after ${tmo}s)" >>"$log"
	GUEST_SECS=$(echo "$(date +%s.%N) - $t0" | bc)
	GUEST_SECS=$(printf %.2f "$GUEST_SECS")
}

# guest_check NAME LOG [HOST-FAIL-REASON]: one result line from the guest's
# VDEV-GUEST-RESULT line; a non-empty third argument (a host-side check that
# failed) turns a guest PASS into FAIL.  On failure the log tail is shown.
guest_check() {
	local name=$1 log=$2 hostfail=${3:-} line st detail
	line=$(grep -a 'VDEV-GUEST-RESULT:' "$log" | tail -n1 | tr -d '\r')
	if [ -z "$line" ]; then
		st=FAIL detail="no result line from guest (boot failed or hung)"
		# UML's own words when its memory file found the host's tmpfs
		# full (run_uml): say that, not a hang
		if grep -aq '^run_uml: not booted' "$log"; then
			detail=$(grep -a -m1 '^run_uml: not booted' "$log")
		elif grep -aq 'Bus error - the host /dev/shm or /tmp mount' "$log"; then
			detail="UML aborted: SIGBUS in its kernel (Kernel mode"
			detail+=" signal 7), its memory file on /dev/shm found the"
			detail+=" host's tmpfs full ($(df -Pm /dev/shm | awk 'NR == 2 { print $4 }') MiB free now)"
		fi
	else
		set -- $line
		st=$2 detail="${*:4}"
	fi
	if [ "$st" = PASS ] && [ -n "$hostfail" ]; then
		st=FAIL detail="host check: $hostfail; guest: $detail"
	fi
	if [ "$st" != PASS ]; then
		echo "---- $name: last lines of $log ----"
		tail -n 30 "$log" | sed 's/^/    /'
		local d
		for d in "${GUEST_DAEMON_LOGS[@]}"; do
			[ -s "$d" ] || continue
			echo "---- $name: last lines of $d ----"
			tail -n 10 "$d" | sed 's/^/    /'
		done
		echo "----"
	fi
	GUEST_DAEMON_LOGS=()
	guest_result "$st" "$name" "$detail [${GUEST_SECS:-?}s]"
}

# HMP monitor over FIFOs (no socat or python needed):
#   qemu_hmp_open BASE  -> creates BASE.in/BASE.out, starts draining the
#                          output into BASE.log, sets QEMU_HMP_ARGS
#   qemu_hmp BASE CMD   -> sends one command
#   qemu_wait_chardev BASE ID [SECONDS] -> waits until chardev ID is
#                          connected (QEMU connects reconnect=N sockets
#                          asynchronously, after device realize)
qemu_hmp_open() {
	rm -f "$1.in" "$1.out"
	mkfifo "$1.in" "$1.out"
	cat "$1.out" >"$1.log" 2>/dev/null &
	QEMU_HMP_ARGS=(-chardev "pipe,id=hmp0,path=$1" -mon chardev=hmp0,mode=readline)
}
qemu_hmp() {
	local base=$1; shift
	echo "$*" >"$base.in"
}
qemu_wait_chardev() {
	local i
	for ((i = 0; i < ${3:-10} * 4; i++)); do
		qemu_hmp "$1" "info chardev"
		sleep 0.25
		tr -d '\r' <"$1.log" | grep -a "^$2: filename=" | tail -n1 |
			grep -qv 'disconnected' && return 0
	done
	return 1
}
