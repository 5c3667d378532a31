#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run.sh BUILD_DIR - run every workload under hakmem, glibc, mimalloc,
# jemalloc and tcmalloc, interleaved (for each repetition, for each
# workload: A B C D E), check that each run really ran on its allocator,
# and print the table (also written to BUILD_DIR/bench/results.md).
#
# Environment: BENCH_QUICK=1 (1 repetition, 0.05 s runs: a smoke test),
# BENCH_REPS=N (default 5), BENCH_SECONDS=S (default 1),
# BENCH_ONLY=regex (workloads whose name matches), BENCH_TIMEOUT=S (a run
# that takes longer fails; default 300: malloc-large under an allocator
# that page-faults on every block takes minutes on a loaded VM),
# BENCH_LARGE_REPS=N (repetitions of the fixed-work workloads, default 2:
# the first N rounds run them, interleaved like the rest).
# Exit status: 0, or 1 if any run failed its check (its cell shows ERR).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
BIN=$B/bench
OUT=$B/bench
. bench/lib.sh
resolve_allocs "$B"
TIMEOUT=${BENCH_TIMEOUT:-300}

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	REPS=${BENCH_REPS:-1}
	S=${BENCH_SECONDS:-0.05}
	GS=$S
	LARGE_STEPS=50
else
	REPS=${BENCH_REPS:-5}
	S=${BENCH_SECONDS:-1}
	GS=2 # glibc-thread's own duration
	LARGE_STEPS=2000 # the original's fixed amount of work
fi
LARGE_REPS=${BENCH_LARGE_REPS:-2}
[ "$LARGE_REPS" -le "$REPS" ] || LARGE_REPS=$REPS

# name | program | arguments | what one op is. A fixed-work workload
# (malloc-large: mimalloc-bench's, which runs a set number of steps) says
# "time:" and what one run does instead; it is reported in seconds.
WORKLOADS=$(cat <<EOF
larson-1t|larson|--threads 1 --seconds $S --min 8 --max 1000 --chunks 1000 --rounds 5000 --seed 42|free+malloc
larson-2t|larson|--threads 2 --seconds $S --min 8 --max 1000 --chunks 1000 --rounds 5000 --seed 42|free+malloc
larson-pool-1t|larson|--threads 1 --seconds $S --min 8192 --max 32768 --chunks 1000 --rounds 5000 --seed 42|free+malloc
larson-pool-2t|larson|--threads 2 --seconds $S --min 8192 --max 32768 --chunks 1000 --rounds 5000 --seed 42|free+malloc
xmalloc-2t|xmalloc|--pairs 1 --seconds $S --size 64 --batch 256 --ring 64|remote free
cache-scratch-2t|cache_sharing|--passive 1 --threads 2 --seconds $S --objsize 8 --repetitions 1000|8 B obj x1000 writes
cache-thrash-2t|cache_sharing|--passive 0 --threads 2 --seconds $S --objsize 8 --repetitions 1000|8 B obj x1000 writes
mstress-4t|mstress|--threads 4 --seconds $S --allocs 2000 --transfer 200 --seed 42|malloc
rptest-1t|rptest|--threads 1 --seconds $S --slots 4096 --max 131072 --xfer 64 --seed 42|malloc+free
rptest-2t|rptest|--threads 2 --seconds $S --slots 4096 --max 131072 --xfer 64 --seed 42|malloc+free
fast-64|fastpath|--size 64 --seconds $S|malloc+free
fast-16k|fastpath|--size 16384 --seconds $S|malloc+free
glibc-simple|glibc_simple|--size 16|malloc+free
glibc-thread-1t|glibc_thread|--threads 1 --seconds $GS|free+malloc+fill
glibc-thread-2t|glibc_thread|--threads 2 --seconds $GS|free+malloc+fill
malloc-large|malloc_large|--iterations $LARGE_STEPS --slots 20 --min 5242880 --max 26214400 --seed 42|time:$LARGE_STEPS steps of malloc 5-25 MiB, zero it, free an older block
EOF
)
if [ -n "${BENCH_ONLY:-}" ]; then
	WORKLOADS=$(grep -E "^(${BENCH_ONLY})\|" <<<"$WORKLOADS" || true)
	[ -n "$WORKLOADS" ] || { echo "bench: BENCH_ONLY matches no workload" >&2; exit 2; }
fi

rm -rf "$OUT/runs"
mkdir -p "$OUT/runs"
RAW=$OUT/raw.tsv
printf 'rep\tworkload\talloc\tstatus\tops_per_sec\tpeak_rss_kb\tpeak_live_bytes\tprovider_peak\tpeak_bytes_out\tprovider_held\telapsed_sec\tminflt\tunit\n' >"$RAW"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
T_START=$(date +%s)
nwl=$(wc -l <<<"$WORKLOADS")
echo "bench: $nwl workloads x 5 allocators x $REPS reps (fixed-work ones: $LARGE_REPS), ${S}s each (load average $LOAD_START)"
errors=0

for rep in $(seq 1 "$REPS"); do
	while IFS='|' read -r name prog args unit; do
		case $unit in time:*) [ "$rep" -le "$LARGE_REPS" ] || continue ;; esac
		line="[$rep/$REPS] $(printf '%-17s' "$name")"
		for a in $ALLOCS; do
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
				ops=$(field ops_per_sec "$res")
				case $unit in
				time:*) line+=" $a $(field elapsed_sec "$res")s" ;;
				*) line+=" $a $(awk -v x="$ops" 'BEGIN { printf "%.2fM", x / 1e6 }')" ;;
				esac
			else
				ops=
				line+=" $a ERR"
				errors=$((errors + 1))
				echo "bench: ERROR $name under $a (rep $rep): $status; output in $f" >&2
			fi
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rep" "$name" "$a" \
				"$( [ "$status" = ok ] && echo ok || echo ERR)" "$ops" \
				"$(field peak_rss_kb "$res")" "$(field peak_live_bytes "$res")" \
				"$(field provider_peak "$hak")" "$(field peak_bytes_out "$hak")" \
				"$(field provider_held "$hak")" \
				"$(field elapsed_sec "$res")" "$(field minflt "$res")" \
				"$unit" >>"$RAW"
		done
		echo "$line"
	done <<<"$WORKLOADS"
done

LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
ELAPSED=$(( $(date +%s) - T_START ))
python3 bench/report.py "$RAW" \
	--reps "$REPS" --large-reps "$LARGE_REPS" --seconds "$S" --elapsed "$ELAPSED" \
	--load "$LOAD_START" --load-end "$LOAD_END" \
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
