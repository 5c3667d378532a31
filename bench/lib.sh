# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2034 # sourced; the variables are used by the sourcing script
# lib.sh - sourced by bench/run.sh and bench/icount.sh: the allocators
# compared, how each is loaded, and the check that a run really ran on the
# allocator it is filed under.

ALLOCS="hakmem glibc mimalloc jemalloc tcmalloc"

# bench_workloads: the suite, one line per workload:
#   name|kind|program|arguments|quick arguments
# kind "pub" is a published workload (mimalloc-bench) with the arguments
# mimalloc-bench's bench.sh gives it (the thread count set to 1 and 2
# here, and to 4 = 2 x CPUs for sh6bench and sh8bench, as bench.sh does
# on this 2-CPU machine); "ours" is a workload of our own, under a name
# that does not claim to be a published one. The quick arguments shorten
# the run for smoke tests (BENCH_QUICK=1, bench/smoke.sh) and turn on
# --verify (checks of markers the originals never read) where a program
# has it. docs/performance.md describes each workload and every deviation.
bench_workloads() {
	local la="--min 8 --max 1000 --chunks 5000 --rounds 100 --seed 4141"
	local lp="--min 8192 --max 32769 --chunks 1000 --rounds 100 --seed 4141"
	local rp="--mode 0 --size-mode 1 --cross 2 --loops 500 --allocs 1000 --ops 100 --min 8 --max 16000"
	local cs="--iterations 1000 --objsize 1 --repetitions 2000000"
	local csq="--iterations 50 --objsize 1 --repetitions 20000"
	local ml="--slots 20 --min 5242880 --max 26214400 --seed 42"
	cat <<EOF
larson-1t|pub|larson|--seconds 5 $la --threads 1|--seconds 0.1 $la --threads 1
larson-2t|pub|larson|--seconds 5 $la --threads 2|--seconds 0.1 $la --threads 2
larson-sized-1t|pub|larson|--seconds 5 $la --threads 1 --sized 1|--seconds 0.1 $la --threads 1 --sized 1
larson-sized-2t|pub|larson|--seconds 5 $la --threads 2 --sized 1|--seconds 0.1 $la --threads 2 --sized 1
xmalloc-test-w1|pub|xmalloc_test|--workers 1 --seconds 5 --size 64|--workers 1 --seconds 0.1 --size 64 --verify 1
xmalloc-test-w2|pub|xmalloc_test|--workers 2 --seconds 5 --size 64|--workers 2 --seconds 0.1 --size 64 --verify 1
cache-scratch-1t|pub|cache_sharing|--passive 1 --threads 1 $cs|--passive 1 --threads 1 $csq
cache-scratch-2t|pub|cache_sharing|--passive 1 --threads 2 $cs|--passive 1 --threads 2 $csq
cache-thrash-1t|pub|cache_sharing|--passive 0 --threads 1 $cs|--passive 0 --threads 1 $csq
cache-thrash-2t|pub|cache_sharing|--passive 0 --threads 2 $cs|--passive 0 --threads 2 $csq
mstress-1t|pub|mstress|--threads 1 --scale 50 --iter 25|--threads 1 --scale 5 --iter 3
mstress-2t|pub|mstress|--threads 2 --scale 50 --iter 25|--threads 2 --scale 5 --iter 3
rptest-1t|pub|rptest|--threads 1 $rp|--threads 1 $rp --loops 20 --pause-ms 1 --verify 1
rptest-2t|pub|rptest|--threads 2 $rp|--threads 2 $rp --loops 20 --pause-ms 1 --verify 1
glibc-simple|pub|glibc_simple|--size 16|--size 16 --iters 20000
glibc-thread-1t|pub|glibc_thread|--threads 1 --seconds 2|--threads 1 --seconds 0.05
glibc-thread-2t|pub|glibc_thread|--threads 2 --seconds 2|--threads 2 --seconds 0.05
alloc-test-1t|pub|alloc_test|--threads 1|--threads 1 --ops 100000
alloc-test-2t|pub|alloc_test|--threads 2|--threads 2 --ops 100000
sh6bench-1t|pub|sh6bench|--threads 1|--threads 1 --calls 200 --verify 1
sh6bench-2t|pub|sh6bench|--threads 2|--threads 2 --calls 200 --verify 1
sh6bench-4t|pub|sh6bench|--threads 4|--threads 4 --calls 200 --verify 1
sh8bench-1t|pub|sh8bench|--threads 1|--threads 1 --iterations 10000 --heap 50000 --foreign 50000 --verify 1
sh8bench-2t|pub|sh8bench|--threads 2|--threads 2 --iterations 10000 --heap 50000 --foreign 50000 --verify 1
sh8bench-4t|pub|sh8bench|--threads 4|--threads 4 --iterations 10000 --heap 50000 --foreign 50000 --verify 1
malloc-large|pub|malloc_large|--iterations 2000 $ml|--iterations 20 $ml
mleak-5|pub|mleak|--iter 5|--iter 1 --verify 1
mleak-50|pub|mleak|--iter 50|--iter 1 --verify 1
larson-pool-1t|ours|larson|--seconds 5 $lp --threads 1|--seconds 0.1 $lp --threads 1
larson-pool-2t|ours|larson|--seconds 5 $lp --threads 2|--seconds 0.1 $lp --threads 2
fast-64|ours|fastpath|--size 64 --seconds 1|--size 64 --seconds 0.05
fast-16k|ours|fastpath|--size 16384 --seconds 1|--size 16384 --seconds 0.05
EOF
}

# The shared object a soname resolves to (ldconfig's cache), or "".
soname_path() {
	ldconfig -p | awk -v n="$1" '$1 == n && !f { print $NF; f = 1 }'
}

# resolve_allocs BUILD_DIR: sets PRELOAD_<name> for every allocator. glibc
# is the default allocator: nothing preloaded. tcmalloc is gperftools'
# libtcmalloc_minimal.so.4 (the allocator without the profiler hooks).
resolve_allocs() {
	local b=$1 so
	PRELOAD_hakmem=$(cd "$b/host" && pwd)/libhakmem.so
	[ -f "$PRELOAD_hakmem" ] || { echo "bench: $PRELOAD_hakmem missing (make host)" >&2; return 1; }
	PRELOAD_glibc=
	for a in mimalloc:libmimalloc.so.2:libmimalloc2.0 \
		 jemalloc:libjemalloc.so.2:libjemalloc2 \
		 tcmalloc:libtcmalloc_minimal.so.4:libtcmalloc-minimal4; do
		IFS=: read -r name soname pkg <<<"$a"
		so=$(soname_path "$soname")
		if [ -z "$so" ]; then
			echo "bench: $soname not found; apt-get install $pkg (setup.sh does)" >&2
			return 1
		fi
		eval "PRELOAD_$name=\$so"
	done
}

preload_of() {
	eval "echo \"\$PRELOAD_$1\""
}

# field KEY LINE: the value of KEY=value in a space-separated line.
field() {
	local kv
	for kv in $2; do
		case $kv in "$1="*) echo "${kv#*=}"; return 0 ;; esac
	done
	echo ""
}

# check_run ALLOC OUTFILE: 0 if the output proves the run used ALLOC and
# the program's own checks passed (check=ok: no corrupted block, no lost
# count), else prints why to stdout and returns 1.
#   hakmem: hak_stats is present, its allocation counter covers at least
#           every malloc the benchmark made, no bad-input event was
#           reported, libhakmem is mapped and, with CHECK_SLABMAP=1 (the
#           measurements), free() used the slab map (free_lookup=slabmap:
#           the arena was reserved).
#   peers:  hak_stats is absent and the peer's library is mapped.
#   glibc:  hak_stats is absent and no allocator library is mapped.
check_run() {
	local alloc=$1 out=$2 res hak mapped allocs mallocs events
	res=$(grep '^RESULT ' "$out" | head -n 1)
	hak=$(grep '^HAKMEM ' "$out" | head -n 1)
	mapped=$(sed -n 's/^ALLOCATOR_MAPPED=//p' "$out" | head -n 1)
	[ "$(grep -c '^RESULT ' "$out")" = 1 ] || { echo "expected one RESULT line"; return 1; }
	[ "$(field check "$res")" = ok ] || { echo "the program's own check failed (check=$(field check "$res"))"; return 1; }
	[ -n "$hak" ] || { echo "no HAKMEM line"; return 1; }
	[ -n "$mapped" ] || { echo "no ALLOCATOR_MAPPED line"; return 1; }
	case $alloc in
	hakmem)
		[ "$hak" != "HAKMEM absent" ] || { echo "hak_stats not found: not running on hakmem"; return 1; }
		allocs=$(field allocs "$hak")
		mallocs=$(field mallocs "$res")
		events=$(field events "$hak")
		[ "${allocs:-0}" -gt 0 ] || { echo "hakmem allocs did not move"; return 1; }
		[ "$allocs" -ge "${mallocs:-0}" ] || { echo "hakmem counted $allocs allocs < the benchmark's $mallocs mallocs"; return 1; }
		[ "${events:-1}" = 0 ] || { echo "hakmem reported $events bad-input/OOM events"; return 1; }
		# Measurements (CHECK_SLABMAP=1: run.sh, icount.sh): the drop-in's
		# free() reads the slab map over its arena; without the arena (a
		# refused reservation: valgrind, ulimit -v) every free takes the
		# page map's walk, not what a user of the drop-in gets. The smoke
		# runs accept either: the library must work both ways.
		if [ "${CHECK_SLABMAP:-0}" = 1 ]; then
			[ "$(field free_lookup "$hak")" = slabmap ] || { echo "hakmem ran without its slab map (free_lookup=$(field free_lookup "$hak")): the arena was not reserved"; return 1; }
		fi
		case ",$mapped," in *,libhakmem,*) ;; *) echo "libhakmem not mapped ($mapped)"; return 1 ;; esac
		;;
	glibc)
		[ "$hak" = "HAKMEM absent" ] || { echo "hakmem present in a glibc run"; return 1; }
		[ "$mapped" = none ] || { echo "an allocator library is mapped: $mapped"; return 1; }
		;;
	*)
		[ "$hak" = "HAKMEM absent" ] || { echo "hakmem present in a $alloc run"; return 1; }
		case ",$mapped," in *,lib$alloc,*) ;; *) echo "lib$alloc not mapped ($mapped)"; return 1 ;; esac
		;;
	esac
	return 0
}

# The hakmem source measured: commit, and "+local changes" when mm/,
# port/, arch/ or include/ differ from it.
hakmem_version() {
	local c
	c=$(git rev-parse --short HEAD 2>/dev/null) || { echo "unknown (not a git tree)"; return 0; }
	if [ -n "$(git status --porcelain -- mm port arch include 2>/dev/null)" ]; then
		echo "$c+local changes"
	else
		echo "$c"
	fi
}
