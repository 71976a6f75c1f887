#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Builds the User-Mode Linux guest kernel from Debian's linux-source-6.1:
# ARCH=um defconfig + kconfig/uml.config, every virtio driver built in, ALSA
# enabled through a private copy of sound/Kconfig (6.1 hides it behind
# `if !UML`), I2C_STUB made buildable in (6.1 has it `depends on m`; its
# parameters then come from the kernel command line), kconfig/uml-*.patch
# applied to that copy (fixes needed on this project's machines).  Prints
# the path of the kernel binary on stdout; progress goes to stderr.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
. "$(dirname "${BASH_SOURCE[0]}")/kernel-make.sh"

SRC_PKG=linux-source-6.1
SRC_TAR=/usr/src/linux-source-6.1.tar.xz
FRAGMENT=$GUEST_DIR/kconfig/uml.config

src_ver=$(pkg_version "$SRC_PKG")
[ -n "$src_ver" ] && [ -f "$SRC_TAR" ] ||
	gskip "$SRC_PKG is not installed (apt-get install $SRC_PKG)"
need_cmds make gcc flex bison bc strip xz patch
PATCHES=("$GUEST_DIR"/kconfig/uml-*.patch)
key=$(input_key "${BASH_SOURCE[0]}" "$GUEST_DIR/build/common.sh" \
	"$GUEST_DIR/build/kernel-make.sh" "$FRAGMENT" "${PATCHES[@]}" \
	-- "$SRC_PKG=$src_ver")
# What the private source tree holds: the source version and our changes
# (bump "tree-2" when the unpack steps below change).
tree_id="$src_ver $(input_key "${PATCHES[@]}" -- tree-2)"
out=$GUEST_CACHE/uml-$key

build() {
	if [ -x "$out/linux" ]; then
		return 0
	fi
	# One persistent tree: a changed fragment rebuilds incrementally.
	local work=$GUEST_CACHE/work/uml
	local t0=$SECONDS
	if [ "$(cat "$work/.src-version" 2>/dev/null)" != "$tree_id" ]; then
		glog "unpacking $SRC_PKG $src_ver into $work"
		rm -rf "$work"
		mkdir -p "$work"
		tar -xJf "$SRC_TAR" -C "$work" --strip-components=1
		# Drop the `if !UML` / `endif # !UML` pair around ALSA.
		sed -i -e '/^if !UML$/d' -e '/^endif # !UML$/d' \
			"$work/sound/Kconfig"
		grep -q 'UML' "$work/sound/Kconfig" &&
			gdie "sound/Kconfig: UML guard not removed"
		# I2C_STUB `depends on m`: built in, chip_addr comes from the
		# command line (i2c_stub.chip_addr=0x50).
		sed -i '/^config I2C_STUB$/,/^$/{/^\tdepends on m$/d}' \
			"$work/drivers/i2c/Kconfig"
		sed -n '/^config I2C_STUB$/,/^$/p' "$work/drivers/i2c/Kconfig" |
			grep -q 'depends on m' &&
			gdie "drivers/i2c/Kconfig: I2C_STUB still module-only"
		local p
		for p in "${PATCHES[@]}"; do
			patch -d "$work" -p1 -N -s <"$p" >&2 ||
				gdie "$(basename "$p") does not apply"
		done
		echo "$tree_id" >"$work/.src-version"
	fi
	glog "building the UML kernel (key $key, -j$GUEST_JOBS): about 6 min" \
		"on 2 idle cores from scratch, less when $work was built before"
	(
		cd "$work"
		glog "uml: configuring (defconfig + $(basename "$FRAGMENT"))"
		kconfig_merge um defconfig "$FRAGMENT"
		glog "uml: compiling"
		kbuild_make uml "$GUEST_CACHE/work/.steps-uml" \
			ARCH=um -j"$GUEST_JOBS" linux
	) >&2
	glog "uml: stripping"
	mkdir -p "$out.tmp"
	strip -o "$out.tmp/linux" "$work/linux"
	cp "$work/.config" "$out.tmp/config"
	rm -rf "$out"
	mv "$out.tmp" "$out"
	prune_old uml "$out"
	glog "UML kernel built in $((SECONDS - t0)) s: $out/linux"
}

with_lock uml build
[ -x "$out/linux" ] || gdie "UML kernel missing after build"
echo "$out/linux"
