#!/bin/sh
# run.sh short|long [seconds] - run build/fuzz/fuzz_heap (make fuzz-short,
# make fuzz, tests/run-all.sh). Fails on any finding, and when the harness
# is missing (clang is required: this never skips).
#   short  every seed of tests/fuzz/corpus, then fuzzing from a fresh
#          copy of it (build/fuzz/corpus-short) for the given time (25 s)
#   long   fuzzing on build/fuzz/corpus, kept across runs (300 s)
# Findings: build/fuzz/artifacts/; replay with build/fuzz/fuzz_heap FILE.
set -eu
cd "$(dirname "$0")/../.."
mode=${1:-short}
secs=${2:-}
bin=build/fuzz/fuzz_heap
seeds=tests/fuzz/corpus
art=build/fuzz/artifacts/
if [ ! -x "$bin" ]; then
	echo "FAIL: $bin missing: make $bin (needs clang and libclang-rt-14-dev)" >&2
	exit 1
fi
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
mkdir -p "$art"
case $mode in
short)
	secs=${secs:-25}
	work=build/fuzz/corpus-short
	rm -rf "$work"
	mkdir -p "$work"
	extra=""
	;;
long)
	secs=${secs:-300}
	work=build/fuzz/corpus
	mkdir -p "$work"
	extra="-use_value_profile=1"
	;;
*)
	echo "usage: $0 short|long [seconds]" >&2
	exit 2
	;;
esac
log=build/fuzz/$mode.log
echo "fuzz ($mode): $bin on $seeds for ${secs}s, log $log"
# New inputs go to the first directory only: the seeds are read-only.
# shellcheck disable=SC2086
if "$bin" -max_total_time="$secs" -max_len=4096 -timeout=20 \
	-artifact_prefix="$art" -print_final_stats=1 $extra \
	"$work" "$seeds" >"$log" 2>&1; then
	grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$log" || true
	grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added)' "$log" || true
	echo "PASS fuzz ($mode)"
else
	rc=$?
	tail -n 60 "$log"
	echo "FAIL fuzz ($mode): exit $rc; the input is in $art (replay: $bin FILE)" >&2
	exit 1
fi
