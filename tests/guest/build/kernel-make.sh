# SPDX-License-Identifier: BSD-3-Clause
# Shared by the builders of kernels made from source (uml-kernel.sh,
# custom-kernel.sh): configuration from a fragment, checked, and a build
# that shows its progress.  Sourced after common.sh, not run.

# kconfig_merge ARCH BASE FRAGMENT: `make ARCH=ARCH BASE` (defconfig,
# tinyconfig), FRAGMENT merged on top, olddefconfig; then every option the
# fragment sets must be in .config as written: merge_config.sh does not fail
# on an option Kconfig refused (a missing dependency, `depends on m`).
# Runs in the kernel tree.
kconfig_merge() {
	local arch=$1 base=$2 fragment=$3 opt bad=0
	make -s ARCH="$arch" "$base"
	scripts/kconfig/merge_config.sh -m -O . .config "$fragment" >/dev/null
	make -s ARCH="$arch" olddefconfig
	while read -r opt; do
		grep -qx "$opt" .config || { glog "option not applied: $opt"; bad=1; }
	done < <(grep -E '^CONFIG_[A-Z0-9_]+=' "$fragment")
	while read -r opt; do
		! grep -q "^$opt=" .config ||
			{ glog "option not disabled: $opt"; bad=1; }
	done < <(sed -n 's/^# \(CONFIG_[A-Z0-9_]*\) is not set$/\1/p' "$fragment")
	[ $bad = 0 ] || gdie "kernel config incomplete (see above)"
}

# kbuild_progress NAME STEPFILE: filter for a non-silent kbuild's output.
# A build of a few thousand files prints nothing useful per file; this
# prints one line every 20 s (steps done, elapsed time, and a percentage
# when STEPFILE holds the step count of an earlier full build) and the
# final link at once.  Anything that is not a kbuild step line (compiler
# warnings and errors, make's own errors) passes through, except the
# linker's notes on the kernel's executable stack and RWX segments.  At the end the
# step count is stored in STEPFILE when the build was a full one.
kbuild_progress() {
	local name=$1 stepfile=$2 line n=0 last=$SECONDS t0=$SECONDS total
	total=$(cat "$stepfile" 2>/dev/null || true)
	local re='^  ([A-Z][A-Z0-9_-]*) +([^ ].*)$'
	while IFS= read -r line; do
		if [[ $line =~ $re ]]; then
			n=$((n + 1))
			case ${BASH_REMATCH[1]}:${BASH_REMATCH[2]} in
			LD:vmlinux | LD:vmlinux.o | LINK:linux)
				glog "$name: linking ${BASH_REMATCH[2]}" \
					"($((SECONDS - t0)) s)" ;;
			esac
		else
			case $line in
			# binutils 2.40 on the kernel's own link steps: known,
			# harmless, and the same on every build.
			*"ld: warning: "*"has a LOAD segment with RWX permissions" | \
			*"ld: warning: "*"missing .note.GNU-stack section implies executable stack" | \
			*"ld: NOTE: This behaviour is deprecated and will be removed"*) ;;
			*) echo "$line" ;;
			esac
		fi
		if ((SECONDS - last >= 20)); then
			last=$SECONDS
			local pct=
			[ -n "$total" ] && ((total > 0)) &&
				pct=", ~$((n * 100 / total > 99 ? 99 : n * 100 / total)) %"
			glog "$name: $n build steps in $((SECONDS - t0)) s$pct" \
				"(now: ${BASH_REMATCH[2]:-...})"
		fi
	done
	glog "$name: $n build steps in $((SECONDS - t0)) s"
	# Only a full build says how long a full build is.
	if [ -z "$total" ] || ((n > total)); then
		echo "$n" >"$stepfile"
	fi
}

# kbuild_make NAME STEPFILE MAKE-ARGS...: make with progress (above); fails
# when make fails.  Runs in the kernel tree.
kbuild_make() {
	local name=$1 stepfile=$2; shift 2
	make --no-print-directory "$@" 2>&1 | kbuild_progress "$name" "$stepfile"
	return "${PIPESTATUS[0]}"
}
