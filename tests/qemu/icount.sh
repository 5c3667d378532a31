#!/bin/sh
# SPDX-License-Identifier: MIT
#
# icount.sh - exact guest instruction counts of hakmem's paths, and their
# bounds (tests/qemu/icount.c; method and table in docs/guarantees-icount.md).
#
# Boots build/qemu/<flavour>/icount.elf for
#   x86_64        (board.mk's -cpu)
#   aarch64-llsc  on -cpu cortex-a72 (QEMU_LLSC_CPU)
#   aarch64-lse   on -cpu max        (QEMU_LSE_CPU)
# under TCG with -icount shift=0 -smp 1, checks each run, parses the
# guest's "ICOUNT ..." lines and prints one table over the three.
#
# Then boots build/qemu/<flavour>/icount-irq.elf the same way: icount.c
# built with -DHAK_TEST_IRQ_WINDOW against a library with the same flag,
# which times every IRQ-off window and prints "IRQWIN ..." lines; the
# table gets a column with each path's longest window.
#
# A run passes only if QEMU exits with the board's pass code, the tests
# icount_calibration, icount_measure and icount_bounds (icount_irqwin for
# icount-irq.elf) each began and passed, no "[test] FAIL" line appeared
# and it printed its paths. A missing QEMU, image or icount support is a
# failure, never a skip.
#
# Environment: FLAVOURS (default all four), TIMEOUT (seconds per run,
# default 60), MD (markdown copy of the table, default
# build/qemu/icount.md), VERBOSE=1 (copy the guest's console to stdout).
# Exit: 0 all pass, 1 a bound or a run failed, 2 cannot run.
set -u
cd "$(dirname "$0")/../.." || exit 2

flavours=${FLAVOURS:-x86_64 aarch64-llsc aarch64-lse riscv64}
timeout_s=${TIMEOUT:-60}
md=${MD:-build/qemu/icount.md}
logdir=build/qemu/logs
mkdir -p "$logdir" "$(dirname "$md")" || exit 2

board_var() { # board.mk variable: mk name
	# shellcheck disable=SC2016 # $(info ...) is for make
	printf 'include %s\n$(info $(%s))\nall:;@:\n' "$1" "$2" |
		env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL \
			make --no-print-directory -s -f -
}

status=0
fail() { # message
	echo "FAIL $*"
	status=1
}

# Boot one image and check its run: flavour qemu cpu_opt pass_code image
# log last_test line_prefix.
run_one() {
	f=$1 image=$5 log=$6 last=$7 prefix=$8
	if [ ! -f "$image" ]; then
		fail "$f: no $image (make icount-images)"
		return
	fi
	start=$(date +%s)
	# shellcheck disable=SC2086 # word splitting of the QEMU command is meant
	timeout "$timeout_s" $2 $3 -icount shift=0 -smp 1 \
		-kernel "$image" </dev/null >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	[ "${VERBOSE:-0}" = 1 ] && cat "$log"
	why=""
	if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		why="timeout after ${timeout_s}s"
	elif [ "$rc" != "$4" ]; then
		why="exit $rc (pass is $4)"
	fi
	failline=$(grep -a -m1 '\[test\] FAIL' "$log")
	[ -n "$failline" ] && why="${why:+$why; }${failline#*\[test\] }"
	for t in icount_calibration icount_measure $last; do
		grep -aqx "\[test\] begin $t" "$log" &&
			grep -aqx "\[test\] pass $t" "$log" ||
			why="${why:+$why; }no pass for $t"
	done
	npaths=$(grep -ac "^$prefix=.* arch=$f " "$log")
	[ "$npaths" -gt 0 ] || why="${why:+$why; }no $prefix lines"
	# The guest's own account of a bound it failed.
	grep -a '^icount_\(bounds\|irqwin\):' "$log" | sed "s/^/$f: /"
	if [ -n "$why" ]; then
		fail "$f: ${image##*/}: $why (${secs}s, log $log)"
	else
		echo "ok   $f: ${image##*/}: $npaths paths, ${secs}s"
	fi
	ran="$ran $log"
}

ran=""
for f in $flavours; do
	case $f in
	x86_64)
		mk=boards/x86_64/board.mk
		cpu_opt=""
		;;
	aarch64-llsc)
		mk=boards/aarch64/board.mk
		cpu_opt="-cpu $(board_var $mk QEMU_LLSC_CPU)"
		;;
	aarch64-lse)
		mk=boards/aarch64/board.mk
		cpu_opt="-cpu $(board_var $mk QEMU_LSE_CPU)"
		;;
	riscv64)
		mk=boards/riscv64/board.mk
		cpu_opt=""
		;;
	*)
		echo "icount.sh: unknown flavour $f" >&2
		exit 2
		;;
	esac
	qemu=$(board_var $mk QEMU_BASE)
	pass_code=$(board_var $mk QEMU_PASS_CODE)
	if [ -z "$qemu" ] || [ -z "$pass_code" ]; then
		fail "$f: cannot read QEMU_BASE/QEMU_PASS_CODE from $mk"
		continue
	fi
	if ! command -v "${qemu%% *}" >/dev/null 2>&1; then
		fail "$f: ${qemu%% *} not found (install qemu-system-x86 / qemu-system-arm)"
		continue
	fi
	run_one "$f" "$qemu" "$cpu_opt" "$pass_code" build/qemu/$f/icount.elf \
		"$logdir/icount-$f.log" icount_bounds "ICOUNT path"
	run_one "$f" "$qemu" "$cpu_opt" "$pass_code" \
		build/qemu/$f/icount-irq.elf "$logdir/icount-irq-$f.log" \
		icount_irqwin "IRQWIN path"
done

[ -n "$ran" ] || exit 2

# The table: one row per path, per flavour mean / max / bound (hakmem's own
# instructions, page provider excluded), max with the region provider, and
# the longest IRQ-off window (icount-irq.elf, provider excluded).
# shellcheck disable=SC2086 # $ran is a list of files
awk -v flavours="$flavours" -v md="$md" '
function field(line, key,    i, n, kv) {
	n = split(line, kv, " ")
	for (i = 1; i <= n; i++)
		if (index(kv[i], key "=") == 1)
			return substr(kv[i], length(key) + 2)
	return ""
}
/^ICOUNT path=/ {
	p = field($0, "path"); a = field($0, "arch")
	if (!(p in seen)) { seen[p] = 1; order[++np] = p }
	mean[p, a] = field($0, "per_op"); mx[p, a] = field($0, "max")
	tot[p, a] = field($0, "total_max"); bnd[p, a] = field($0, "bound")
	n[p, a] = field($0, "n")
	over[p, a] = (mx[p, a] + 0 > bnd[p, a] + 0) ? " !" : ""
}
/^IRQWIN path=/ {
	p = field($0, "path"); a = field($0, "arch")
	iw[p, a] = field($0, "max")
	if (iw[p, a] + 0 > field($0, "bound") + 0) iw[p, a] = iw[p, a] " !"
}
/^ICOUNT overhead / {
	a = field($0, "arch")
	ovh[a] = "bracket malloc " field($0, "bracket_malloc") \
		", free " field($0, "bracket_free") ", pair " \
		field($0, "bracket_pair") ", loop/iter " field($0, "loop_per_iter")
}
END {
	nf = split(flavours, fl, " ")
	printf "\nhakmem guest instructions per operation (QEMU TCG, -icount shift=0, -smp 1)\n"
	printf "mean/max/bound: hakmem only (page provider excluded); +prov: max with the region provider\n"
	printf "irqoff: longest IRQ-off window (provider excluded; bound: IRQWIN_BOUND in icount.c)\n\n"
	printf "%-21s", "path"
	for (i = 1; i <= nf; i++) printf " | %-38s", fl[i]
	printf "\n%-21s", ""
	for (i = 1; i <= nf; i++)
		printf " | %8s %6s %6s %8s %6s", "mean", "max", "bound", "+prov", "irqoff"
	printf "\n"
	line = "| path | n |"
	hdr = "|---|---:|"
	for (i = 1; i <= nf; i++) {
		line = line sprintf(" %s mean | %s max | %s max +prov | %s bound | %s irq-off |", \
			fl[i], fl[i], fl[i], fl[i], fl[i])
		hdr = hdr "---:|---:|---:|---:|---:|"
	}
	printf "%s\n%s\n", line, hdr > md
	for (k = 1; k <= np; k++) {
		p = order[k]
		printf "%-21s", p
		cnt = ""
		for (i = 1; i <= nf; i++) {
			a = fl[i]
			w = ((p, a) in iw) ? iw[p, a] : "-"
			if ((p, a) in mean) {
				printf " | %8s %6s %6s %8s %6s", mean[p, a], \
					mx[p, a] over[p, a], bnd[p, a], tot[p, a], w
				if (cnt == "") cnt = n[p, a]
			} else
				printf " | %8s %6s %6s %8s %6s", "-", "-", "-", "-", w
		}
		printf "\n"
		line = "| " p " | " cnt " |"
		for (i = 1; i <= nf; i++) {
			a = fl[i]
			w = ((p, a) in iw) ? iw[p, a] : "-"
			if ((p, a) in mean)
				line = line sprintf(" %s | %s | %s | %s | %s |", \
					mean[p, a], mx[p, a], tot[p, a], bnd[p, a], w)
			else
				line = line " - | - | - | - | " w " |"
		}
		printf "%s\n", line > md
	}
	printf "\noverhead subtracted (instructions):\n"
	for (i = 1; i <= nf; i++)
		if (fl[i] in ovh) printf "  %-13s %s\n", fl[i], ovh[fl[i]]
}' $ran

if [ "$status" -ne 0 ]; then
	echo "icount: FAIL (see above)"
else
	echo "icount: all paths within their bounds (table also in $md)"
fi
exit $status
