#!/bin/sh
# SPDX-License-Identifier: MIT
# icount.sh - exact user-space instruction counts of the hosted port's fast
# paths on aarch64 Linux: the rseq sections and the trylock fallback.
#
# Builds tests/aarch64-linux/icount_rseq.c twice (against the rseq and the
# HAK_HOSTED_NO_RSEQ_BUILD libraries) and boots them on the Debian arm64
# kernel under QEMU TCG with -icount shift=0 -smp 1, where the PMU's
# instructions event, read through perf_event_open, is exact
# (tests/aarch64-linux/run.sh icount does the building and booting).
# Passes when both programs passed: the counter counted a calibration
# loop exactly, every sample was a cache hit on the expected fast path and
# every path's median is within its bound (icount_rseq.c). A missing
# tool or kernel is a failure, never a skip.
#
# Prints one table, Tiny (64 B) and Pool (16 KiB) hits, min / median / max
# per mode, and writes a markdown copy to
# build/aarch64-linux-icount/icount.md. About 15 s (the boot: 3 s).
set -u
cd "$(dirname "$0")/../.." || exit 2
O=build/aarch64-linux-icount

rm -f "$O/console.txt" # no table from an earlier run
tests/aarch64-linux/run.sh icount
rc=$?
[ -f "$O/console.txt" ] || exit 1

awk -v md="$O/icount.md" -v commit="$(git rev-parse --short HEAD 2>/dev/null)" '
function field(line, key,    i, n, kv) {
	n = split(line, kv, " ")
	for (i = 1; i <= n; i++)
		if (index(kv[i], key "=") == 1)
			return substr(kv[i], length(key) + 2)
	return ""
}
/^ICOUNT_HOSTED path=/ {
	p = field($0, "path"); m = field($0, "mode")
	if (!(p in seen)) { seen[p] = 1; order[++np] = p }
	v[p, m] = field($0, "min") " / " field($0, "median") " / " \
		field($0, "max")
	if (field($0, "distinct") != 1) v[p, m] = v[p, m] " (varies)"
	b[p, m] = field($0, "bound")
}
/^ICOUNT_HOSTED overhead/ { ovh = $0; sub(/^ICOUNT_HOSTED overhead /, "", ovh) }
END {
	if (!np) exit
	printf "\nhosted aarch64 Linux, user instructions per hit (QEMU TCG, -icount shift=0, -smp 1, %s)\n", commit
	printf "min / median / max over the samples; bound: on the median\n\n"
	printf "%-12s | %-22s %5s | %-22s %5s\n", "path", "rseq", "bound", \
		"trylock", "bound"
	printf "| path | rseq min / median / max | bound | trylock min / median / max | bound |\n|---|---:|---:|---:|---:|\n" > md
	for (k = 1; k <= np; k++) {
		p = order[k]
		r = ((p, "rseq") in v) ? v[p, "rseq"] : "-"
		t = ((p, "trylock") in v) ? v[p, "trylock"] : "-"
		printf "%-12s | %-22s %5s | %-22s %5s\n", p, r, b[p, "rseq"], \
			t, b[p, "trylock"]
		printf "| %s | %s | %s | %s | %s |\n", p, r, b[p, "rseq"], t, \
			b[p, "trylock"] > md
	}
	printf "\noverhead subtracted (instructions): %s\n", ovh
}' "$O/console.txt"

if [ "$rc" -ne 0 ]; then
	echo "icount-aarch64-linux: FAIL (log $O/console.txt)"
	exit 1
fi
echo "icount-aarch64-linux: pass (table also in $O/icount.md)"
