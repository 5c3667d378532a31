#!/bin/sh
# SPDX-License-Identifier: MIT
#
# run-matrix.sh - the QEMU test matrix (make test-qemu; tests/run-all.sh).
#
#   suite  x86_64                      -smp 1, -smp 4
#          aarch64 LL/SC (cortex-a72)  -smp 1, -smp 4
#          aarch64 LSE (max)           -smp 1, -smp 4
#          riscv64 (S-mode, OpenSBI)   -smp 1, -smp 4
#   suite-debug (HAK_DEBUG=1 suite and library)
#          x86_64 -smp 1, -smp 4; aarch64 LL/SC and LSE -smp 4
#   smoke, demo, embed  x86_64, aarch64 LSE and riscv64, -smp 4
#   hypervisor  x86_64, aarch64 LL/SC and LSE, riscv64 -smp 4; x86_64
#          -smp 1: four VM heaps (hak_heap_create) over sub-regions, their
#          limits and object caches, one VM destroyed (FORCE) while the
#          other CPUs work (tests/qemu/hypervisor.c)
#   suite  x86_64-kernel (higher-half image, -mcmodel=kernel)  -smp 4
#   suite  the other CPU id source, -smp 4: x86_64-gsoff (%gs:64),
#          aarch64-idoff (TPIDR_EL1 a per-CPU base, the id at +64),
#          riscv64-sscratch (the id in sscratch, the hart id in tp)
#   suite  lanes, -smp 4: x86_64-lanes, aarch64-lanes (LL/SC), the library,
#          board and tests built with HAK_LANES=4 HAK_TRANSFER_BATCHES=8
#   lua    aarch64-libc, riscv64-libc  -smp 4: Lua 5.4 on picolibc with
#          hakmem as its malloc (tests/qemu/lua/): the image must pass, every
#          CPU's output must equal the host lua5.4's (compare.py), and its
#          link map must show no picolibc allocator (check-map.sh, which
#          must also fail on a map that has one)
#   fail images (inverted): tests/qemu/run-image.sh must report FAIL for
#          each, for the reason its mode is about (tests/qemu/fail.c)
#
# One line per run, then a summary; exits non-zero if any run went the
# wrong way, or if QEMU, the compilers or an image are missing (missing
# tools are a failure, never a skip). Images come from `make images`.
set -u
cd "$(dirname "$0")/../.." || exit 1

RUN=tests/qemu/run-image.sh
QB=build/qemu
HANG_TIMEOUT=${HANG_TIMEOUT:-4}
# A suite run takes a few seconds; an allocator stuck with IRQs masked on
# every CPU can only be ended from outside.
RUN_TIMEOUT=${RUN_TIMEOUT:-60}
ok=0
wrong=0
wrong_list=""

bad() { # name message
	wrong=$((wrong + 1))
	wrong_list="$wrong_list $1"
	echo "WRONG $2"
}

# ---- tools ---------------------------------------------------------------
missing=""
for tool in qemu-system-x86_64 qemu-system-aarch64 qemu-system-riscv64 timeout make \
	"${X86_CC:-gcc}" "${A64_CC:-aarch64-linux-gnu-gcc}" lua5.4 python3; do
	command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
if [ -n "$missing" ]; then
	echo "FAIL qemu matrix: missing tools:$missing"
	echo "     (Debian: apt-get install qemu-system-x86 qemu-system-arm qemu-system-misc gcc-aarch64-linux-gnu gcc-riscv64-linux-gnu lua5.4 python3)"
	exit 1
fi

start=$(date +%s)

# expect_pass ARCH IMAGE SMP
expect_pass() {
	img=$QB/$(flavour_of "$1")/$2.elf
	out=$(TIMEOUT=$RUN_TIMEOUT $RUN "$1" "$img" "$3")
	rc=$?
	if [ $rc -eq 0 ]; then
		ok=$((ok + 1))
		echo "ok    $out"
	else
		bad "$1/$2/smp$3" "$out"
		log=$(echo "$out" | sed -n 's/.*log \([^)]*\)).*/\1/p')
		[ -n "$log" ] && [ -f "$log" ] && tail -n 15 "$log" | sed 's/^/      | /'
	fi
}

# expect_fail ARCH IMAGE SMP REASON: FAIL (exit 1) naming REASON.
expect_fail() {
	img=$QB/$(flavour_of "$1")/$2.elf
	case $2 in
	fail-hang) out=$(TIMEOUT=$HANG_TIMEOUT $RUN "$1" "$img" "$3") ;;
	*) out=$(TIMEOUT=$RUN_TIMEOUT $RUN "$1" "$img" "$3") ;;
	esac
	rc=$?
	if [ $rc -eq 1 ] && echo "$out" | grep -qF -- "$4"; then
		ok=$((ok + 1))
		echo "ok    (must fail) $out"
	else
		bad "$1/$2/smp$3" "(must fail with '$4', run-image exit $rc) $out"
	fi
}

# expect_lua FLAVOUR SMP: the Lua image passes, its outputs equal the
# host's, its link map has no picolibc allocator. It runs 7 to 9 s on a
# quiet 2-core machine, over 20 s when other builds share it: a bound of
# its own.
LUA_TIMEOUT=${LUA_TIMEOUT:-180}
expect_lua() {
	log=$QB/logs/$1-lua-smp$2.log
	out=$(LOG=$log TIMEOUT=$LUA_TIMEOUT $RUN "$1" "$QB/$1/lua.elf" "$2")
	if [ $? -ne 0 ]; then
		bad "$1/lua/smp$2" "$out"
		[ -f "$log" ] && tail -n 15 "$log" | sed 's/^/      | /'
		return
	fi
	cmp=$(tests/qemu/lua/compare.py "$log")
	if [ $? -ne 0 ]; then
		bad "$1/lua/smp$2" "$out; $(echo "$cmp" | grep -v '^ok ')"
		return
	fi
	map=$(tests/qemu/lua/check-map.sh "$QB/$1/lua.elf.map")
	if [ $? -ne 0 ]; then
		bad "$1/lua/smp$2" "$map"
		return
	fi
	ok=$((ok + 1))
	echo "ok    $out; $(echo "$cmp" | tail -n 1); $map"
}

flavour_of() {
	case $1 in
	aarch64) echo aarch64-lse ;;
	*) echo "$1" ;;
	esac
}

# ---- the suite -----------------------------------------------------------
for arch in x86_64 aarch64-llsc aarch64-lse riscv64; do
	for smp in 1 4; do
		expect_pass $arch suite $smp
	done
done

# ---- the suite against the debug build (mm/debug.c) --------------------
expect_pass x86_64 suite-debug 1
expect_pass x86_64 suite-debug 4
expect_pass aarch64-llsc suite-debug 4
expect_pass aarch64-lse suite-debug 4
expect_pass riscv64 suite-debug 4

# ---- board smoke test, the demo, docs/embedding.md's example -------------
for arch in x86_64 aarch64-lse riscv64; do
	expect_pass $arch smoke 4
	expect_pass $arch demo 4
	expect_pass $arch embed 4
done
expect_pass x86_64-kernel embed 4

# ---- heaps as VMs: limits, object caches, a forced destroy under load ----
for arch in x86_64 aarch64-llsc aarch64-lse riscv64; do
	expect_pass $arch hypervisor 4
done
expect_pass x86_64 hypervisor 1

# ---- the suite as a higher-half kernel (linked at 0xffffffff80000000) -----
expect_pass x86_64-kernel suite 4

# ---- the other CPU id source (board, tests and library built for it) -----
expect_pass x86_64-gsoff suite 4
expect_pass aarch64-idoff suite 4
expect_pass riscv64-sscratch suite 4

# ---- lanes and per-lane transfer caches on bare metal (HAK_LANES=4) -------
expect_pass x86_64-lanes suite 4
expect_pass aarch64-lanes suite 4

# ---- Lua 5.4 on picolibc, hakmem as its malloc ------------------------------
expect_lua aarch64-libc 4
expect_lua riscv64-libc 4
# The map check must be able to fail: a copy of a map in which picolibc's
# malloc defines the names.
badmap=$QB/logs/lua-nano-malloc.map
if [ -s "$QB/aarch64-libc/lua.elf.map" ]; then
	sed 's|[^ ]*libhakmem\.a(hakmem\.o)$|libc.a(nano-malloc-malloc.c.o)|' \
		"$QB/aarch64-libc/lua.elf.map" >"$badmap"
	if out=$(tests/qemu/lua/check-map.sh "$badmap"); then
		bad lua/check-map "(must fail) $out"
	else
		ok=$((ok + 1))
		echo "ok    (must fail) $(echo "$out" | cut -c1-120)..."
	fi
else
	bad lua/check-map "no map $QB/aarch64-libc/lua.elf.map (make images)"
fi

# ---- images that must fail -----------------------------------------------
for arch in x86_64 aarch64-llsc aarch64-lse riscv64; do
	expect_fail $arch fail 2 "FAIL line: slab_metadata: hak_check() found"
	expect_fail $arch fail-nopass 2 "no pass for: first"
	expect_fail $arch fail-failline 2 "FAIL line: first: deliberate"
	expect_fail $arch fail-exit 2 "exit "
	expect_fail $arch fail-fault 2 "exit "
	expect_fail $arch fail-nobegin 1 "no test began"
	# Misuse an embedder can make: each must end in hakmem's own words.
	expect_fail $arch fail-cpuid_range 2 \
		"hakmem panic: hakmem: CPU id 4 is not below ncpus 2"
	expect_fail $arch fail-cpuid_alias-debug 2 \
		"hakmem panic: hakmem: CPU id 0 is used by two CPUs"
	case $arch in
	x86_64) unset_msg="hakmem panic: hakmem: CPU id 4294967295 is not below ncpus 2" ;;
	*) unset_msg="hakmem panic: hakmem: CPU id 0 is used by two CPUs" ;;
	esac
	expect_fail $arch fail-cpuid_unset-debug 2 "$unset_msg"
	expect_fail $arch fail-double_init 2 \
		"report 'API misuse' (hak_init_region: hakmem is already initialised)"
	case $arch in
	aarch64*) expect_fail $arch fail-pcpu_reg 2 \
		"report 'API misuse' (hak_init: the per-CPU pointer register is not 0" ;;
	esac
	case $arch in
	x86_64) expect_fail $arch fail-reset 1 "exit 0 (pass is 33)" ;;
	*) expect_fail $arch fail-reset 1 "no pass for: first" ;;
	esac
done
expect_fail x86_64 fail-hang 1 "timeout"
expect_fail aarch64-lse fail-hang 1 "timeout"
expect_fail riscv64 fail-hang 1 "timeout"

echo
echo "qemu matrix: $ok ok, $wrong wrong, $(($(date +%s) - start))s${wrong_list:+; wrong:$wrong_list}"
[ "$wrong" -eq 0 ]
