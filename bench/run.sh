#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run.sh BUILD_DIR - run every workload under hakmem, glibc, mimalloc,
# jemalloc and tcmalloc (LD_PRELOAD of the shared library, as
# mimalloc-bench does; glibc = nothing preloaded), in interleaved rounds:
# each round runs every workload under every allocator, the allocators in
# an order that rotates from round to round. Every run must prove it ran
# on its allocator and pass its own checks (bench/lib.sh check_run). Then
# report.py prints the median time and peak RSS per allocator, their
# spread, and hakmem's ratio to the best peer (build/bench/results.md).
#
# Environment:
#   BENCH_QUICK=1      smoke run: 1 round, the workloads' short arguments
#                      (every workload once per allocator, a few seconds)
#   BENCH_REPS=N       rounds (default 3)
#   BENCH_ONLY=regex   workloads whose name matches
#   BENCH_ALLOCS=list  allocators (default: all five)
#   BENCH_TIMEOUT=S    a run that takes longer fails (default 600)
# Exit status: 0, or 1 if any run failed (its cell shows ERR).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
BIN=$B/bench
# A bench program older than the library reads hak_stats with the old
# layout (it once reported 706 events): bring both up to date first, as
# make bench does, unless the caller built them elsewhere (another B).
if [ "$B" = build ] && [ -z "${BENCH_NO_BUILD:-}" ]; then
	make -s host bench-bins >&2
fi
OUT=$B/bench
. bench/lib.sh
# A measurement of hakmem without its slab map is refused (lib.sh).
export CHECK_SLABMAP=1
resolve_allocs "$B"
TIMEOUT=${BENCH_TIMEOUT:-600}
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	REPS=${BENCH_REPS:-1}
else
	REPS=${BENCH_REPS:-3}
fi
[ -z "${BENCH_ALLOCS:-}" ] || ALLOCS=$BENCH_ALLOCS

WORKLOADS=$(bench_workloads)
if [ -n "${BENCH_ONLY:-}" ]; then
	WORKLOADS=$(grep -E "^(${BENCH_ONLY})\|" <<<"$WORKLOADS" || true)
	[ -n "$WORKLOADS" ] || { echo "bench: BENCH_ONLY matches no workload" >&2; exit 2; }
fi

rm -rf "$OUT/runs"
mkdir -p "$OUT/runs"
RAW=$OUT/raw.tsv
printf 'rep\tworkload\tkind\talloc\tstatus\ttime_sec\tops_per_sec\tpeak_rss_kb\telapsed_sec\tminflt\tprovider_peak\tprovider_held\tcache_hits\tcache_misses\ttiny_hits\ttiny_misses\tpool_hits\tpool_misses\tallocs\tfrees\tlock_holds\tlock_waits\n' >"$RAW"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
T_START=$(date +%s)
nwl=$(wc -l <<<"$WORKLOADS")
nal=$(wc -w <<<"$ALLOCS")
echo "bench: $nwl workloads x $nal allocators x $REPS rounds$([ "$QUICK" = 1 ] && echo ' (quick: short arguments)') (load average $LOAD_START)"
errors=0

read -r -a order <<<"$ALLOCS"
LINE_NS=""
for rep in $(seq 1 "$REPS"); do
	# What a cache line costs to move between CPUs 0 and 1 now: on the
	# development VMs it changes over minutes, and the 2-thread rows
	# follow it (bench/line_cost.c).
	ns=$("$B/bench/line_cost" | sed -n 's/^line_round_trip_ns=//p')
	LINE_NS="$LINE_NS${LINE_NS:+ }${ns:-?}"
	echo "bench: round $rep: a cache line's round trip between CPUs 0 and 1 takes ${ns:-?} ns"
	# Rotate the order so that no allocator always runs first or last.
	k=$(((rep - 1) % ${#order[@]}))
	rot=("${order[@]:k}" "${order[@]:0:k}")
	while IFS='|' read -r name kind prog full quick; do
		args=$full
		[ "$QUICK" = 1 ] && args=$quick
		line="[$rep/$REPS] $(printf '%-18s' "$name")"
		for a in "${rot[@]}"; do
			f=$OUT/runs/$rep-$name-$a.out
			pre=$(preload_of "$a")
			status=ok
			rc=0
			# shellcheck disable=SC2086 # args are words
			LD_PRELOAD=$pre timeout "$TIMEOUT" "$BIN/$prog" $args >"$f" 2>&1 || rc=$?
			if [ "$rc" != 0 ]; then
				status="exit code $rc"
			elif ! why=$(check_run "$a" "$f"); then
				status=$why
			fi
			res=$(grep '^RESULT ' "$f" | head -n 1 || true)
			hak=$(grep '^HAKMEM ' "$f" | head -n 1 || true)
			if [ "$status" = ok ]; then
				line+=" $a $(awk -v x="$(field time_sec "$res")" 'BEGIN { printf "%.3g", x }')"
			else
				line+=" $a ERR"
				errors=$((errors + 1))
				echo "bench: ERROR $name under $a (round $rep): $status; output in $f" >&2
			fi
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
				"$rep" "$name" "$kind" "$a" \
				"$( [ "$status" = ok ] && echo ok || echo ERR)" \
				"$(field time_sec "$res")" "$(field ops_per_sec "$res")" \
				"$(field peak_rss_kb "$res")" "$(field elapsed_sec "$res")" \
				"$(field minflt "$res")" "$(field provider_peak "$hak")" \
				"$(field provider_held "$hak")" "$(field cache_hits "$hak")" \
				"$(field cache_misses "$hak")" \
				"$(field tiny_hits "$hak")" "$(field tiny_misses "$hak")" \
				"$(field pool_hits "$hak")" "$(field pool_misses "$hak")" \
				"$(field allocs "$hak")" "$(field frees "$hak")" \
				"$(field lock_holds "$hak")" "$(field lock_waits "$hak")" >>"$RAW"
		done
		echo "$line"
	done <<<"$WORKLOADS"
done

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
ELAPSED=$(($(date +%s) - T_START))
python3 bench/report.py "$RAW" \
	--reps "$REPS" --quick "$QUICK" --elapsed "$ELAPSED" \
	--load "$LOAD_START" --load-end "$LOAD_END" --line-ns "$LINE_NS" \
	--tcmalloc "$(basename "$(preload_of tcmalloc)")" --hakmem "$(hakmem_version)" \
	--out "$OUT/results.md"
# Which per-CPU fast path hakmem ran (hak_stats().fast_path): rseq when the
# kernel and glibc provide it, else the trylock fallback.
paths=$(cat "$OUT"/runs/*-hakmem.out 2>/dev/null | grep -o 'fast_path=[a-z-]*' |
	sort | uniq -c | awk '{printf "%s%s x%s", sep, substr($2, 11), $1; sep = ", "}')
printf '\nhakmem fast path in these runs: %s\n' "${paths:-unknown}" | tee -a "$OUT/results.md"
echo "bench: table written to $OUT/results.md; raw runs in $OUT/runs/"
if [ "$errors" -gt 0 ]; then
	echo "bench: $errors run(s) failed their check (ERR cells): see above" >&2
	exit 1
fi
