#!/bin/sh
# SPDX-License-Identifier: MIT
# run.sh - the hosted port on real aarch64 Linux, under QEMU (TCG).
#
# Cross-compiles the host test programs statically for aarch64 (the
# hosted library with arch/aarch64's rseq sections, plus test_mt again
# with the trylock fallback), packs them with a small /init (init.c) into
# an initramfs and boots a Debian arm64 kernel on 2 CPUs. /init runs every
# line of tests.list and powers off. Passes when every program passed and
# test_mt ran on the rseq fast path. HAK_A64_TESTS="test_mt,test_rseq_abort"
# runs only those lines (comma-separated).
#
# The kernel: $HAK_A64_KERNEL, else the one setup.sh unpacks into
# /usr/local/share/hakmem/arm64-kernel/vmlinuz. Nothing is downloaded here.
# Output: build/aarch64-linux/console.log (the whole boot), and on stdout
# each program's ok/FAIL line, the fast path test_mt saw, and the total.
#
# `run.sh icount` is the instruction-count mode (tests/aarch64-linux/
# icount.sh): it builds only icount_rseq.c, against the rseq library and
# again against the trylock one, and boots them on 1 CPU with -icount
# shift=0 (QEMU's PMU counts instructions only then; one CPU makes the
# count deterministic), in build/aarch64-linux-icount.
set -eu
cd "$(dirname "$0")/../.."
MODE=${1:-test}
case $MODE in
test | icount) ;;
*)
	echo "usage: $0 [icount]" >&2
	exit 2
	;;
esac

CC=${A64_CC:-aarch64-linux-gnu-gcc}
QEMU=${QEMU_A64:-qemu-system-aarch64}
KERNEL=${HAK_A64_KERNEL:-/usr/local/share/hakmem/arm64-kernel/vmlinuz}
TIMEOUT=${HAK_A64_TIMEOUT:-600}
# -cpu max without pointer authentication and SVE, which TCG emulates
# slowly and the rseq sections do not use. test_mt + test_stress measured:
# 391s with plain max, 110s with max,pauth-impdef=on, 82s like this.
CPU=${HAK_A64_CPU:-max,pauth=off,sve=off}
O=build/aarch64-linux
SMP=2
ICOUNT=""
if [ "$MODE" = icount ]; then
	O=build/aarch64-linux-icount
	SMP=1
	ICOUNT="-icount shift=0"
fi
J=${HAK_A64_JOBS:-$(nproc 2>/dev/null || echo 2)}

if [ ! -r "$KERNEL" ]; then
	echo "aarch64-linux: no arm64 kernel at $KERNEL (run setup.sh, or set HAK_A64_KERNEL)" >&2
	exit 1
fi
for t in "$CC" "$QEMU" python3; do
	command -v "$t" >/dev/null || {
		echo "aarch64-linux: $t not found (run setup.sh)" >&2
		exit 1
	}
done

rm -rf "$O/root" "$O/obj" "$O/obj-trylock"
mkdir -p "$O/root/tests" "$O/obj" "$O/obj-trylock"

# The host tests' flags (the hosted port's, -Itests/host and the test
# hooks), as the Makefile writes them, for aarch64.
CFLAGS="$(make -s --no-print-directory HOST_ARCH=aarch64 print-TEST_CFLAGS)"
SRCS="$(ls mm/*.c) port/hosted/hosted.c port/hosted/arena.c"

# shellcheck disable=SC2086
build_lib() { # objdir extra-flags...
	d=$1
	shift
	for s in $SRCS; do echo "$s"; done |
		xargs -P "$J" -I{} sh -c \
			'o='"$d"'/$(echo {} | tr / _).o; '"$CC"' '"$(echo $CFLAGS)"' '"$*"' -c -o $o {}'
	rm -f "$d/libhakmem.a"
	"${CC%gcc}ar" rcs "$d/libhakmem.a" "$d"/*.o
}

echo "  CC      $O (aarch64, static)"
build_lib "$O/obj"
build_lib "$O/obj-trylock" -DHAK_HOSTED_NO_RSEQ_BUILD

$CC -std=gnu11 -O2 -Wall -Wextra -Werror -static -o "$O/root/init" \
	tests/aarch64-linux/init.c

if [ "$MODE" = icount ]; then
	# The same program on both fast paths; each checks it ran on its own.
	# shellcheck disable=SC2086
	$CC $CFLAGS -static -o "$O/root/tests/icount_rseq" \
		tests/aarch64-linux/icount_rseq.c "$O/obj/libhakmem.a" -lpthread
	# shellcheck disable=SC2086
	$CC $CFLAGS -DHAK_HOSTED_NO_RSEQ_BUILD -static \
		-o "$O/root/tests/icount_trylock" \
		tests/aarch64-linux/icount_rseq.c "$O/obj-trylock/libhakmem.a" \
		-lpthread
	{
		echo icount_rseq
		echo icount_trylock
	} >"$O/root/tests.list"
fi

# Every host test but test_debug (it needs DEBUG=1 builds) and
# test_init_race (the report-and-continue build: make test-host runs it),
# test_refill_race (bare metal's hold sizes: make test-host runs it),
# and this directory's own (test_rseq_abort).
srcs=""
for src in tests/host/test_*.c tests/aarch64-linux/test_*.c; do
	[ "$src" = tests/host/test_debug.c ] && continue
	[ "$src" = tests/host/test_init_race.c ] && continue
	[ "$src" = tests/host/test_refill_race.c ] && continue
	srcs="$srcs $src"
done
tests=$(for s in $srcs; do basename "$s" .c; done)
if [ "$MODE" = test ]; then
	for s in $srcs; do echo "$s"; done |
		xargs -P "$J" -I{} sh -c \
			"$CC $(echo $CFLAGS) -static -o $O/root/tests/\$(basename {} .c) {} $O/obj/libhakmem.a -lpthread"
	# shellcheck disable=SC2086
	$CC $CFLAGS -DHAK_HOSTED_NO_RSEQ_BUILD -static -o "$O/root/tests/test_mt_trylock" \
		tests/host/test_mt.c "$O/obj-trylock/libhakmem.a" -lpthread

	if [ -n "${HAK_A64_TESTS:-}" ]; then
		echo "$HAK_A64_TESTS" | tr ',' '\n'
	else
		for t in $tests; do echo "$t"; done
		echo "test_mt_trylock"
		echo "test_stress 0 region"
	fi >"$O/root/tests.list"
fi
want=$(grep -c . "$O/root/tests.list")
python3 tests/aarch64-linux/mkcpio.py "$O/initramfs.cpio" "$O/root"

echo "  QEMU    aarch64 virt, $SMP CPU(s)${ICOUNT:+, $ICOUNT}, $(basename "$KERNEL")"
start=$(date +%s)
rc=0
# shellcheck disable=SC2086 # $ICOUNT is two words or none
timeout "$TIMEOUT" "$QEMU" -M virt -cpu "$CPU" -smp "$SMP" -m 1G $ICOUNT \
	-nographic -no-reboot -kernel "$KERNEL" -initrd "$O/initramfs.cpio" \
	-append "console=ttyAMA0 panic=-1 quiet" \
	</dev/null >"$O/console.log" 2>&1 || rc=$?
secs=$(($(date +%s) - start))
tr -d '\r' <"$O/console.log" >"$O/console.txt"
grep -E '^(ok |FAIL |fast path:|PASS|aarch64-linux:|icount_rseq: FAIL)' "$O/console.txt" || true
echo "aarch64-linux: QEMU exit $rc after ${secs}s, log $O/console.log"
if [ "$rc" -ne 0 ]; then
	tail -n 30 "$O/console.txt" | sed 's/^/     | /'
	exit 1
fi
grep -q "^aarch64-linux: $want passed, 0 failed" "$O/console.txt" || {
	echo "aarch64-linux: expected $want passed, 0 failed" >&2
	exit 1
}
[ "$MODE" = icount ] && exit 0
grep -q '^fast path: rseq$' "$O/console.txt" || {
	echo "aarch64-linux: test_mt did not use rseq" >&2
	exit 1
}
