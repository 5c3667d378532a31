#!/bin/bash
# harden-cost.sh HARDENED.so UNHARDENED.so [reps] - the time cost of
# free()'s double-free checks on the benchmark suite: every workload of
# bench/lib.sh under both builds, interleaved, median of reps runs each
# (time_sec, lower is better), then the geometric mean of the ratios.
# HC_QUICK=1 uses the workloads' short arguments. Build the second
# library with -DHAK_HARDEN=0 (see docs/security.md).
set -u
cd "$(dirname "$0")/.."
hard=$1 soft=$2 reps=${3:-5}
. bench/lib.sh
workloads=$(bench_workloads)
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-18s %12s %12s %8s\n' workload hardened unhardened cost
logsum=0 n=0
while IFS='|' read -r name _ prog args quick; do
	[ "${HC_QUICK:-0}" = 1 ] && args=$quick
	: >/tmp/hc.$$.h
	: >/tmp/hc.$$.s
	for ((r = 0; r < reps; r++)); do
		for lib in "$hard" "$soft"; do
			v=$(LD_PRELOAD=$lib build/bench/$prog $args 2>/dev/null |
				grep -o 'time_sec=[0-9.e+]*' | cut -d= -f2)
			[ "$lib" = "$hard" ] && echo "$v" >>/tmp/hc.$$.h ||
				echo "$v" >>/tmp/hc.$$.s
		done
	done
	h=$(median </tmp/hc.$$.h)
	s=$(median </tmp/hc.$$.s)
	c=$(awk -v h="$h" -v s="$s" 'BEGIN {printf "%.3f", h / s}')
	printf '%-18s %12.4g %12.4g %7.1f%%\n' "$name" "$h" "$s" \
		"$(awk -v c="$c" 'BEGIN {print (c - 1) * 100}')"
	logsum=$(awk -v a="$logsum" -v c="$c" 'BEGIN {print a + log(c)}')
	n=$((n + 1))
done <<<"$workloads"
rm -f /tmp/hc.$$.h /tmp/hc.$$.s
awk -v a="$logsum" -v n="$n" 'BEGIN {printf "geometric mean cost of the checks: %.1f%%\n", (exp(a / n) - 1) * 100}'
