#!/bin/sh
# SPDX-License-Identifier: MIT
#
# run-image.sh ARCH IMAGE SMP [CPU] - boot one QEMU test image and judge it.
#
#   ARCH   x86_64, x86_64-kernel (the higher-half image), x86_64-gsoff
#          (the id at %gs:64), aarch64, aarch64-llsc (default -cpu
#          cortex-a72), aarch64-lse / aarch64 or aarch64-idoff (the id
#          behind a per-CPU base; both default -cpu max), aarch64-libc
#          (the picolibc images, -cpu max), riscv64, riscv64-libc,
#          riscv64-sscratch (the id in sscratch), x86_64-lanes and
#          aarch64-lanes (HAK_LANES=4; the latter -cpu cortex-a72); each
#          flavour logs apart
#   IMAGE  an ELF built by tests/qemu/qemu.mk
#   SMP    number of CPUs
#   CPU    -cpu model (aarch64; x86_64 uses board.mk's)
#
# QEMU runs under `timeout` with stdin from /dev/null; the serial console
# and QEMU's own messages go to the log. The run passes only if
#   - QEMU's exit code is the arch's pass code (x86_64 isa-debug-exit 33,
#     aarch64 semihosting 0) - a triple fault's exit 0 is not a pass on
#     x86_64;
#   - at least one "[test] begin NAME" line appeared;
#   - every begun test has its "[test] pass NAME" line, and no test passed
#     that did not begin;
#   - no "[test] FAIL" line appeared.
# Prints one verdict line: "PASS ..." or "FAIL ...: reason; reason".
#
# Environment: TIMEOUT (seconds, default 120), LOG (log file, default
# build/qemu/logs/<flavour>-<image>-smpN.log), VERBOSE=1 (copy the console
# to stdout as it runs).
# Exit: 0 pass, 1 fail, 2 cannot run (usage, missing QEMU or image).
set -u
cd "$(dirname "$0")/../.." || exit 2

usage() {
	echo "usage: $0 x86_64|x86_64-kernel|x86_64-gsoff|x86_64-lanes|aarch64|aarch64-llsc|aarch64-lse|aarch64-idoff|aarch64-libc|aarch64-lanes|riscv64|riscv64-libc|riscv64-sscratch IMAGE SMP [CPU]" >&2
	exit 2
}
if [ $# -lt 3 ] || [ $# -gt 4 ]; then usage; fi
arch=$1 image=$2 smp=$3 cpu=${4:-}
timeout_s=${TIMEOUT:-120}
case $smp in '' | *[!0-9]*) usage ;; esac

# QEMU command and pass code from the board's own board.mk.
board_var() { # board.mk variable (a clean make: not the caller's flags)
	# shellcheck disable=SC2016 # $(info ...) is for make
	printf 'include %s\n$(info $(%s))\nall:;@:\n' "$mk" "$1" |
		env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
			make --no-print-directory -s -f -
}
case $arch in
x86_64 | x86_64-kernel | x86_64-gsoff | x86_64-lanes)
	mk=boards/x86_64/board.mk
	flavour=$arch
	;;
aarch64 | aarch64-lse | aarch64-llsc | aarch64-idoff | aarch64-libc | aarch64-lanes)
	mk=boards/aarch64/board.mk
	flavour=$arch
	[ "$arch" = aarch64 ] && flavour=aarch64-lse
	if [ -z "$cpu" ]; then
		if [ "$flavour" = aarch64-llsc ] ||
			[ "$flavour" = aarch64-lanes ]; then
			cpu=$(board_var QEMU_LLSC_CPU)
		else
			cpu=$(board_var QEMU_LSE_CPU)
		fi
	fi
	;;
riscv64 | riscv64-libc | riscv64-sscratch)
	mk=boards/riscv64/board.mk
	flavour=$arch
	;;
*) usage ;;
esac
qemu=$(board_var QEMU_BASE)
pass_code=$(board_var QEMU_PASS_CODE)
if [ -z "$qemu" ] || [ -z "$pass_code" ]; then
	echo "FAIL $arch $image: cannot read QEMU_BASE/QEMU_PASS_CODE from $mk"
	exit 2
fi
qemu_bin=${qemu%% *}
if ! command -v "$qemu_bin" >/dev/null 2>&1; then
	echo "FAIL $arch $image: $qemu_bin not found (install qemu-system-x86 / qemu-system-arm)"
	exit 2
fi
if [ ! -f "$image" ]; then
	echo "FAIL $arch $image: no such image (make images)"
	exit 2
fi

name=$(basename "$image" .elf)
log=${LOG:-build/qemu/logs/$flavour-$name-smp$smp.log}
mkdir -p "$(dirname "$log")"
desc="$flavour $name -smp $smp${cpu:+ -cpu $cpu}"

start=$(date +%s%N)
cpu_opt=""
[ -n "$cpu" ] && cpu_opt="-cpu $cpu"
rcfile=$log.rc
rm -f "$rcfile"
# shellcheck disable=SC2086 # word splitting of the QEMU command is meant
if [ "${VERBOSE:-0}" = 1 ]; then
	{
		timeout "$timeout_s" $qemu $cpu_opt -smp "$smp" -kernel "$image" \
			</dev/null 2>&1
		echo $? >"$rcfile"
	} | tee "$log"
else
	timeout "$timeout_s" $qemu $cpu_opt -smp "$smp" -kernel "$image" \
		</dev/null >"$log" 2>&1
	echo $? >"$rcfile"
fi
rc=$(cat "$rcfile" 2>/dev/null || echo 255)
rm -f "$rcfile"
ms=$((($(date +%s%N) - start) / 1000000))
secs=$((ms / 1000)).$((ms % 1000 / 100))

reasons=""
add() { reasons="${reasons:+$reasons; }$1"; }

if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
	add "timeout after ${timeout_s}s"
elif [ "$rc" != "$pass_code" ]; then
	add "exit $rc (pass is $pass_code)"
fi
fail_line=$(grep -m1 -a '\[test\] FAIL' "$log")
[ -n "$fail_line" ] && add "FAIL line: ${fail_line#*\[test\] FAIL }"

# Test names: the word after begin/pass (a trailing ':' dropped).
names() { # begin|pass
	grep -a "^\[test\] $1 " "$log" | sed "s/^\[test\] $1 //; s/[: ].*//"
}
begun=$(names begin)
passed=$(names pass)
nbegun=0
npassed=0
missing=""
extra=""
for t in $begun; do
	nbegun=$((nbegun + 1))
	echo "$passed" | grep -qxF -- "$t" || missing="$missing $t"
done
for t in $passed; do
	npassed=$((npassed + 1))
	echo "$begun" | grep -qxF -- "$t" || extra="$extra $t"
done
[ "$nbegun" -eq 0 ] && add "no test began"
[ -n "$missing" ] && add "no pass for:$missing"
[ -n "$extra" ] && add "pass without begin:$extra"

if [ -z "$reasons" ]; then
	echo "PASS $desc: $npassed/$nbegun tests, exit $rc, ${secs}s"
	exit 0
fi
echo "FAIL $desc: $reasons (${secs}s, log $log)"
exit 1
