# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2034 # sourced; the variables are used by the sourcing script
# lib.sh - sourced by bench/run.sh and bench/icount.sh: the allocators
# compared, how each is loaded, and the check that a run really ran on the
# allocator it is filed under.

ALLOCS="hakmem glibc mimalloc jemalloc tcmalloc"

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

# check_run ALLOC OUTFILE: 0 if the output proves the run used ALLOC, else
# prints why to stdout and returns 1.
#   hakmem: hak_stats is present, its allocation counter covers at least
#           every malloc the benchmark made, no bad-input event was
#           reported, and libhakmem is mapped.
#   peers:  hak_stats is absent and the peer's library is mapped.
#   glibc:  hak_stats is absent and no allocator library is mapped.
check_run() {
	local alloc=$1 out=$2 res hak mapped allocs mallocs events
	res=$(grep '^RESULT ' "$out" | head -n 1)
	hak=$(grep '^HAKMEM ' "$out" | head -n 1)
	mapped=$(sed -n 's/^ALLOCATOR_MAPPED=//p' "$out" | head -n 1)
	[ "$(grep -c '^RESULT ' "$out")" = 1 ] || { echo "expected one RESULT line"; return 1; }
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
