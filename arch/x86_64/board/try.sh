#!/bin/sh
# SPDX-License-Identifier: MIT
# Build tests/qemu/smoke.c with the x86_64 board and run it under QEMU
# with -smp 1 and -smp 4. Flags come from board.mk.
#   arch/x86_64/board/try.sh          smoke test, exit 0 if both pass
#   arch/x86_64/board/try.sh fault    also check that a ud2 is reported
set -u
cd "$(dirname "$0")/../../.." || exit 1

mkvar() {
	printf 'include arch/x86_64/board/board.mk\n$(info $(%s))\nall:;@:\n' "$1" |
		make --no-print-directory -s -f -
}
CC=${CC:-gcc}
CFLAGS=$(mkvar BOARD_CFLAGS)
LDFLAGS=$(mkvar BOARD_LDFLAGS)
SRCS=$(mkvar BOARD_SRCS)
QEMU=$(mkvar QEMU_BASE)
PASS=$(mkvar QEMU_PASS_CODE)
OUT=build/x86_64
mkdir -p "$OUT"

build() { # build ELF TEST_SOURCE
	objs=""
	for s in $SRCS "$2"; do
		o=$OUT/$(basename "$s").o
		$CC $CFLAGS -c "$s" -o "$o" || return 1
		objs="$objs $o"
	done
	$CC $CFLAGS $LDFLAGS -o "$1" $objs || return 1
}

run() { # run ELF SMP LOG -> sets rc
	timeout 60 $QEMU -smp "$2" -kernel "$1" </dev/null >"$3" 2>&1
	rc=$?
	cat "$3"
	echo "== smp=$2 exit code $rc"
}

fail=0
build $OUT/smoke.elf tests/qemu/smoke.c || exit 1
for n in 1 4; do
	run $OUT/smoke.elf $n $OUT/smoke-smp$n.log
	ok=1
	[ "$rc" = "$PASS" ] || ok=0
	grep -q '\[test\] pass smoke' $OUT/smoke-smp$n.log || ok=0
	k=0
	while [ $k -lt $n ]; do
		grep -q "hello from cpu $k\$" $OUT/smoke-smp$n.log || ok=0
		k=$((k + 1))
	done
	if [ $ok = 1 ]; then echo "== smp=$n PASS"; else echo "== smp=$n FAIL"; fail=1; fi
done

if [ "${1:-}" = fault ]; then
	cat >$OUT/fault.c <<'EOC'
#include "board.h"
void test_main(void)
{
	board_puts("[test] about to ud2\n");
	__asm__ __volatile__("ud2");
	board_puts("[test] survived ud2?!\n");
	board_exit(0);
}
EOC
	build $OUT/fault.elf $OUT/fault.c || exit 1
	run $OUT/fault.elf 2 $OUT/fault.log
	if [ "$rc" != 0 ] && [ "$rc" != "$PASS" ] && grep -q 'FAULT vector 6' $OUT/fault.log; then
		echo "== fault PASS (reported, nonzero exit)"
	else
		echo "== fault FAIL"; fail=1
	fi
fi
exit $fail
