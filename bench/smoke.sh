#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# smoke.sh [BUILD_DIR] - the host test of the benchmark suite: every
# workload of bench/lib.sh once under hakmem (LD_PRELOAD of
# build/host/libhakmem.so) with its quick arguments, and each run must
# pass check_run: one RESULT line, its own self-check (check=ok: blocks
# intact, counts add up), hak_stats present with at least as many
# allocations as the program made, no bad-input event, libhakmem mapped.
# A few seconds in all; make test runs it (tests/run-all.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
. bench/lib.sh
PRELOAD_hakmem=$(cd "$B/host" && pwd)/libhakmem.so
[ -f "$PRELOAD_hakmem" ] || { echo "smoke: $PRELOAD_hakmem missing (make host)"; exit 1; }
out=$B/bench/smoke
rm -rf "$out"
mkdir -p "$out"
fail=0
n=0
while IFS='|' read -r name _ prog _ quick; do
	f=$out/$name.out
	rc=0
	# shellcheck disable=SC2086 # args are words
	LD_PRELOAD=$PRELOAD_hakmem timeout 120 "$B/bench/$prog" $quick >"$f" 2>&1 || rc=$?
	n=$((n + 1))
	if [ "$rc" != 0 ]; then
		echo "FAIL $name: exit code $rc; output in $f"
		fail=$((fail + 1))
	elif ! why=$(check_run hakmem "$f"); then
		echo "FAIL $name: $why; output in $f"
		fail=$((fail + 1))
	else
		echo "ok   $name $(grep '^RESULT ' "$f" | grep -o 'time_sec=[0-9.e+-]*')"
	fi
done < <(bench_workloads)
echo "bench smoke: $((n - fail)) of $n workloads passed under hakmem"
[ "$fail" = 0 ]
