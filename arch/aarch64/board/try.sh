#!/bin/sh
# SPDX-License-Identifier: MIT
# Standalone check of the aarch64 board: build tests/qemu/smoke.c for the
# LL/SC (armv8-a, -cpu cortex-a72) and LSE (armv8.1-a, -cpu max) flavours,
# run each on -smp 1 and -smp 4, then check that a fault is reported.
# Usage: arch/aarch64/board/try.sh [smp counts...]   (default: 1 4)
set -u
cd "$(dirname "$0")/../../.." || exit 1

CC=${CC:-aarch64-linux-gnu-gcc}
OUT=build/aarch64
SMPS=${*:-1 4}
CFLAGS="-ffreestanding -nostdlib -fno-pic -fno-pie -mgeneral-regs-only
	-mstrict-align -mno-outline-atomics -fno-stack-protector -O2 -Wall
	-Wextra -Werror -std=gnu11 -Iinclude -Iarch/aarch64/include -Itests/qemu"
LDFLAGS="-static -nostdlib -no-pie -T linker/aarch64.ld"
BOARD="arch/aarch64/board/start.S arch/aarch64/board/board.c
	arch/aarch64/board/gic.c arch/aarch64/board/fdt.c"
QEMU="qemu-system-aarch64 -M virt,gic-version=3 -m 256M -display none
	-nodefaults -serial stdio -semihosting -no-reboot"

mkdir -p "$OUT"
fail=0

build() { # name march test.c
	# shellcheck disable=SC2086
	$CC $CFLAGS -march="$2" $LDFLAGS -o "$OUT/$1.elf" $BOARD "$3" ||
		{ echo "BUILD FAIL $1"; fail=1; return 1; }
}

run() { # name cpu smp expected_code grep_pattern...
	name=$1 cpu=$2 smp=$3 want=$4
	shift 4
	log="$OUT/$name-smp$smp.log"
	# shellcheck disable=SC2086
	timeout 60 $QEMU -cpu "$cpu" -smp "$smp" -kernel "$OUT/$name.elf" \
		</dev/null >"$log" 2>&1
	rc=$?
	ok=1
	[ "$rc" -eq "$want" ] || ok=0
	for pat in "$@"; do
		grep -q -- "$pat" "$log" || { ok=0; echo "  missing: $pat"; }
	done
	if [ $ok -eq 1 ]; then
		echo "PASS $name -cpu $cpu -smp $smp: exit $rc"
	else
		echo "FAIL $name -cpu $cpu -smp $smp: exit $rc (want $want), log $log:"
		sed 's/^/  | /' "$log"
		fail=1
	fi
}

cat >"$OUT/fault.c" <<'C'
#include "board.h"
void test_main(void)
{
	board_puts("[test] begin fault: load from unmapped 0x1000\n");
	(void)*(volatile unsigned long *)0x1000;
	board_puts("[test] FAIL fault: load did not fault\n");
	board_exit(0);
}
C

for fl in llsc:armv8-a:cortex-a72 lse:armv8.1-a:max; do
	IFS=: read -r f march cpu <<E
$fl
E
	build "smoke-$f" "$march" tests/qemu/smoke.c || continue
	for n in $SMPS; do
		run "smoke-$f" "$cpu" "$n" 0 "\[test\] pass smoke"
		for k in $(seq 0 $((n - 1))); do
			grep -q "^hello from cpu $k\$" "$OUT/smoke-$f-smp$n.log" ||
				{ echo "  missing: hello from cpu $k"; fail=1; }
		done
	done
	build "fault-$f" "$march" "$OUT/fault.c" &&
		run "fault-$f" "$cpu" 2 2 "FAULT on cpu 0" "ESR_EL1=" \
			"FAR_EL1=0x0000000000001000" "data abort"
done

[ $fail -eq 0 ] && echo "try.sh: all passed" || echo "try.sh: FAILURES"
exit $fail
