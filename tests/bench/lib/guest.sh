# SPDX-License-Identifier: BSD-3-Clause
# Shared by the benchmarks that boot guests (tests/bench/guest-blk/run.sh,
# tests/bench/net/guest-tcp.sh). Source it; it defines:
#   cpu_ticks PID        utime + stime of the whole process (all threads),
#                        in clock ticks (getconf CLK_TCK); 0 when gone
#   tree_ticks PID       the same summed over PID and every process below
#                        it (a frontend that is a wrapper, QEMU under
#                        timeout, UML's helper processes)
#   bench_median FILE K  rewrites FILE (lines of K key words, then
#                        numbers or "-") to one line per key, in first-seen
#                        order, each number the median of that key's lines

cpu_ticks() {
	local s
	s=$(<"/proc/$1/stat") 2>/dev/null || { echo 0; return; }
	s=${s##*) }
	set -- $s
	echo $((${12} + ${13}))
}

tree_ticks() {
	local p s t=0
	for p in $(ps -e -o pid=,ppid= | awk -v root="$1" '
		{ par[$1] = $2 }
		END { for (p in par) { q = p
			while (q != root && (q in par) && q > 1) q = par[q]
			if (q == root) print p } }'); do
		s=$(<"/proc/$p/stat") 2>/dev/null || continue
		s=${s##*) }
		set -- $s
		t=$((t + ${12} + ${13}))
	done
	echo "$t"
}

bench_median() {
	awk -v K="$2" '{ k = $1; for (i = 2; i <= K; i++) k = k " " $i
	       if (!(k in n)) order[++m] = k
	       n[k]++; if (NF > nf) nf = NF
	       for (i = K + 1; i <= NF; i++) v[k, i, n[k]] = $i }
	     function med(k, f, c,   i, j, t, a) {
		for (i = 1; i <= c; i++) a[i] = v[k, f, i]
		for (i = 2; i <= c; i++)
			for (j = i; j > 1 && a[j-1] + 0 > a[j] + 0; j--) {
				t = a[j]; a[j] = a[j-1]; a[j-1] = t }
		return a[int((c + 1) / 2)] }
	     END { for (i = 1; i <= m; i++) { k = order[i]; line = k
		for (f = K + 1; f <= nf; f++) line = line " " med(k, f, n[k])
		print line } }' "$1" >"$1.med" && mv "$1.med" "$1"
}
