#!/bin/sh
# run-all.sh [host|qemu|all] - run test programs, print one line per test
# and the closing "N passed, N failed". Exits non-zero on any failure.
set -u
cd "$(dirname "$0")/.."
what=${1:-all}
pass=0
fail=0
failed=""

run() { # name command...
	name=$1
	shift
	log=build/test/logs/$(echo "$name" | tr '/ ' '__').log
	mkdir -p build/test/logs
	start=$(date +%s)
	if timeout 600 "$@" >"$log" 2>&1; then
		pass=$((pass + 1))
		echo "ok   $name ($(($(date +%s) - start))s)"
	else
		fail=$((fail + 1))
		failed="$failed $name"
		echo "FAIL $name ($(($(date +%s) - start))s), log: $log"
		tail -n 20 "$log" | sed 's/^/     | /'
	fi
}

# The test programs of this tree (make test-list), not a glob of build/,
# which may hold the binary of a test whose source is gone. One listed
# but not built fails below ("not found"), loudly.
# DEBUG=0 first: make exports a DEBUG=1 given on its command line (make
# DEBUG=1 test-host) to this script, and the plain list would then name
# the debug build's programs and match nothing below; a later DEBUG=1
# wins. An empty list is an error, never a silent pass.
list() { # [DEBUG=1]: the paths of the test programs
	MAKEFLAGS= make -s --no-print-directory DEBUG=0 "$@" test-list
}
need() { # pattern list: the lines of list that match, at least one
	printf '%s\n' "$2" | grep "$1" || {
		echo "FAIL no test programs match $1 in make test-list" >&2
		exit 1
	}
}

if [ "$what" = host ] || [ "$what" = all ]; then
	bins=$(list) || exit 1
	dbins=$(list DEBUG=1) || exit 1
	plain=$(need '^build/test/plain/' "$bins") || exit 1
	asan=$(need '^build/test/asan/' "$bins") || exit 1
	tsan=$(need '^build/test/tsan/' "$bins") || exit 1
	dplain=$(need '^build/debug/test/plain/' "$dbins") || exit 1
	for t in $plain; do
		run "host/$(basename "$t")" "$t"
	done
	run "host/test_stress(region)" build/test/plain/test_stress 0 region
	run "host/test_badinput(region)" build/test/plain/test_badinput region
	run "host/test_badinput(mmap)" build/test/plain/test_badinput mmap
	run "host/test_large_cache(split)" build/test/plain/test_large_cache split
	run "asan+ubsan/test_badinput(region)" env \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		build/test/asan/test_badinput region
	# The rseq build with glibc's rseq registration off at run time: the
	# threads take the trylock fallback the mode test chooses at init.
	run "host/test_mt(rseq off at run time)" env \
		GLIBC_TUNABLES=glibc.pthread.rseq=0 build/test/plain/test_mt trylock
	run "host/test_hosted_policy(continue)" \
		build/test/continue/test_hosted_policy continue
	run "host/test_init_race(continue)" build/test/continue/test_init_race
	run "host/test_refill_race(bare-metal holds)" \
		build/test/holds/test_refill_race
	# The rseq sections that take the area's offset from a variable (a
	# library run under another glibc than its build's).
	rvar=$(need '^build/test/rseqvar/' "$bins") || exit 1
	for t in $rvar; do
		run "rseqvar/$(basename "$t")" "$t"
	done
	for t in $asan; do
		run "asan+ubsan/$(basename "$t")" env \
			ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
			UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$t"
	done
	for t in $tsan; do
		run "tsan/$(basename "$t")" env TSAN_OPTIONS=halt_on_error=1 "$t"
	done
	# The debug build (make DEBUG=1) runs the same suite plus test_debug.
	for t in $dplain; do
		run "debug/$(basename "$t")" "$t"
	done
	run "debug/test_refill_race(bare-metal holds)" \
		build/debug/test/holds/test_refill_race
	for lib in build/x86_64 build/x86_64-kernel build/aarch64-llsc \
		build/aarch64-lse build/x86_64-gsoff build/aarch64-idoff \
		build/x86_64-lanes build/aarch64-lanes \
		build/debug/x86_64 build/debug/x86_64-kernel \
		build/debug/aarch64-llsc build/debug/aarch64-lse build/riscv64 \
		build/debug/riscv64 build/riscv64-sscratch; do
		case $lib in
		*x86_64*) cross="" ;;
		*riscv64*) cross=riscv64-linux-gnu- ;;
		*) cross=aarch64-linux-gnu- ;;
		esac
		run "nm/${lib#build/}" tests/check-nm.sh "$cross" "$lib/libhakmem.a"
	done
	# The libraries the picolibc images link as their C library's malloc.
	run nm/aarch64-libc tests/check-nm.sh aarch64-linux-gnu- \
		build/aarch64-libc/libhakmem.a malloc
	run nm/riscv64-libc tests/check-nm.sh riscv64-linux-gnu- \
		build/riscv64-libc/libhakmem.a malloc
	run "preload/ls" tests/host/preload.sh
	# Every benchmark workload once under hakmem, its output checked.
	run "bench/smoke" bench/smoke.sh
	run "fuzz/fuzz_heap(short)" tests/fuzz/run.sh short
fi
if [ "$what" = qemu ] || [ "$what" = all ]; then
	# Exact guest instruction counts of every path against their bounds.
	run "qemu/icount" tests/qemu/icount.sh
	# The hosted port's aarch64 rseq sections on a real arm64 kernel under
	# QEMU: the quick subset (make test-aarch64-linux runs all of it).
	run "aarch64-linux/rseq" env \
		HAK_A64_TESTS=test_api,test_badinput,test_mt,test_rseq_abort,test_mt_trylock,test_heap,test_rseq_unregistered \
		tests/aarch64-linux/run.sh
	# The same port's fast-path hits in exact user instructions (perf
	# under -icount shift=0), rseq and trylock, against their bounds:
	# one boot of 2 programs, about 15 s.
	run "aarch64-linux/icount" tests/aarch64-linux/icount.sh
	# Every image run of the matrix counts as one test.
	mkdir -p build/test/logs
	log=build/test/logs/qemu_matrix.log
	tests/qemu/run-matrix.sh >"$log" 2>&1
	rc=$?
	n_ok=$(grep -c '^ok ' "$log")
	n_bad=$(grep -c '^WRONG\|^FAIL' "$log")
	sed 's/^/qemu: /' "$log" | grep -v '^qemu:       |' || true
	pass=$((pass + n_ok))
	fail=$((fail + n_bad))
	if [ "$rc" -ne 0 ] && [ "$n_bad" -eq 0 ]; then
		fail=$((fail + 1))
		failed="$failed qemu/matrix"
	fi
	[ "$n_bad" -eq 0 ] || failed="$failed qemu/matrix"
fi
echo
[ -z "$failed" ] || echo "failed:$failed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
