#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# icount.sh BUILD_DIR - instructions per malloc+free pair, counted by
# callgrind with collection on measured_loop() only (bench/icount.c): one
# other block of the same size is kept live, a warm-up runs uncounted, then
# ITERS pairs are counted. The count includes the loop and the calls (PLT
# included), as measured; the "loop + calls" column is the same loop calling
# two empty functions. Table to stdout and BUILD_DIR/bench/icount.md.
# hakmem runs as BUILD_DIR/host-vg/libhakmem.so, whose arena valgrind
# grants (bench.mk); check_run refuses a run without the slab map.
#
# Environment: BENCH_QUICK=1 (fewer pairs), BENCH_ICOUNT_ITERS=N.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
BIN=$B/bench
OUT=$B/bench/icount-runs
MD=$B/bench/icount.md
. bench/lib.sh
# A measurement of hakmem without its slab map is refused (lib.sh).
export CHECK_SLABMAP=1
resolve_allocs "$B"
command -v valgrind >/dev/null || { echo "bench-icount: valgrind not installed (apt-get install valgrind)" >&2; exit 1; }
# hakmem as valgrind can run it: its arena reserved at 4 GiB (bench.mk).
VG_HAKMEM=$B/host-vg/libhakmem.so
[ -f "$VG_HAKMEM" ] || { echo "bench-icount: $VG_HAKMEM missing (make $VG_HAKMEM)" >&2; exit 1; }

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	ITERS=${BENCH_ICOUNT_ITERS:-20000}
else
	ITERS=${BENCH_ICOUNT_ITERS:-200000}
fi
SIZES="64 16384"
rm -rf "$OUT"
mkdir -p "$OUT"
errors=0

# count NAME PRELOAD ARGS...: Ir of measured_* per pair, or ERR.
count() {
	local name=$1 pre=$2 cg=$OUT/$1.cg rc=0 fn=measured_loop
	shift 2
	case " $* " in *" --baseline 1 "*) fn=measured_baseline ;; esac
	LD_PRELOAD=$pre valgrind --tool=callgrind --collect-atstart=no \
		--toggle-collect="$fn" --callgrind-out-file="$cg" \
		"$BIN/icount" --iters "$ITERS" "$@" \
		>"$OUT/$name.out" 2>"$OUT/$name.err" || rc=$?
	if [ "$rc" != 0 ]; then
		echo "bench-icount: ERROR $name: exit code $rc (see $OUT/$name.err)" >&2
		return 1
	fi
	awk -v n="$ITERS" '/^totals:/ { printf "%.1f\n", $2 / n; found = 1 }
		END { if (!found) exit 1 }' "$cg"
}

# Inclusive Ir of sched_getcpu per pair in a callgrind profile.
getcpu_share() {
	callgrind_annotate --inclusive=yes "$1" 2>/dev/null |
		awk -v n="$ITERS" '!/=>/ && /:sched_getcpu \[/ { gsub(",", "", $1); s += $1 }
			END { printf "%.1f\n", s / n }'
}

declare -A IR
for size in $SIZES; do
	IR[$size,base]=$(count "base-$size" "" --size "$size" --baseline 1) || { IR[$size,base]=ERR; errors=$((errors + 1)); }
	for a in $ALLOCS; do
		name=$a-$size
		pre=$(preload_of "$a")
		[ "$a" = hakmem ] && pre=$VG_HAKMEM
		if v=$(count "$name" "$pre" --size "$size"); then
			if why=$(check_run "$a" "$OUT/$name.out"); then
				IR[$size,$a]=$v
			else
				echo "bench-icount: ERROR $name: $why" >&2
				IR[$size,$a]=ERR
				errors=$((errors + 1))
			fi
		else
			IR[$size,$a]=ERR
			errors=$((errors + 1))
		fi
		echo "  $name: ${IR[$size,$a]} instructions/pair" >&2
	done
	IR[$size,getcpu]=$(getcpu_share "$OUT/hakmem-$size.cg")
	rseq=$(grep -o 'rseq=[01]' "$OUT/hakmem-$size.out" | head -n 1)
	IR[$size,rseq]=${rseq#rseq=}
done

{
	echo "Instructions per malloc+free pair (callgrind Ir, $ITERS pairs counted after a warm-up, one other block of the size kept live; loop and call overhead included). $(date '+%Y-%m-%d %H:%M %Z'), valgrind $(valgrind --version | sed 's/valgrind-//'); hakmem at $(hakmem_version); tcmalloc = $(basename "$(preload_of tcmalloc)")."
	echo
	echo "| size | loop + calls only | hakmem | glibc | mimalloc | jemalloc | tcmalloc | hakmem: of which sched_getcpu |"
	echo "|---|---|---|---|---|---|---|---|"
	for size in $SIZES; do
		row="| $size B | ${IR[$size,base]}"
		for a in $ALLOCS; do row+=" | ${IR[$size,$a]}"; done
		echo "$row | ${IR[$size,getcpu]} |"
	done
	echo
	if [ "${IR[64,rseq]:-1}" = 0 ]; then
		echo "Under valgrind glibc does not register rseq (the program saw __rseq_size = 0), so hakmem's hosted port picks its per-CPU cache by its no-rseq path; natively it reads rseq's cpu_id. The last column is the part of hakmem's count spent in sched_getcpu() (0 when that path does not call it)."
	fi
} >"$MD"
cat "$MD"
echo "bench-icount: table written to $MD; callgrind profiles in $OUT/"
if [ "$errors" -gt 0 ]; then
	echo "bench-icount: $errors measurement(s) failed (ERR cells)" >&2
	exit 1
fi
