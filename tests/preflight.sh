#!/bin/sh
# SPDX-License-Identifier: MIT
#
# preflight.sh [all|host|qemu|bench] - before a long build or test run,
# check every tool, header, library and file it will use, and name the
# Debian package that brings each missing one. One line per missing item,
# then exit 1; prints "preflight: ok (N checks)" otherwise. This exists so
# that a missing package is a one-line answer at the start, never a
# compiler error deep in a log (a fresh machine once lacked the aarch64
# libc headers while CI, on an older machine, had them).
set -u
what=${1:-all}
missing=0
checks=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

miss() { # what package
	echo "preflight: missing $1 (Debian package: $2; ./setup.sh installs it)"
	missing=$((missing + 1))
}

tool() { # command package
	checks=$((checks + 1))
	command -v "$1" >/dev/null 2>&1 || miss "command '$1'" "$2"
}

# compiles CC PACKAGE FLAGS... - a C file that includes libc headers must
# compile and link (catches a cross compiler without its libc headers).
compiles() {
	cc=$1
	pkg=$2
	shift 2
	checks=$((checks + 1))
	command -v "$cc" >/dev/null 2>&1 || return 0 # reported by tool()
	printf '#include <stdio.h>\n#include <pthread.h>\nint main(void){return puts("")<0;}\n' >"$tmp/t.c"
	"$cc" "$@" -o "$tmp/t" "$tmp/t.c" -lpthread >"$tmp/err" 2>&1 ||
		miss "a working '$cc $*' ($(head -n 1 "$tmp/err"))" "$pkg"
}

host() {
	tool make make
	tool gcc gcc
	tool ar binutils
	tool python3 python3
	tool timeout coreutils
	compiles gcc libc6-dev -O2
	compiles gcc "libasan8 (gcc)" -fsanitize=address,undefined
	compiles gcc "libtsan2 (gcc)" -fsanitize=thread
	tool clang clang
	checks=$((checks + 1))
	printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n){(void)d;(void)n;return 0;}\n' >"$tmp/f.c"
	command -v clang >/dev/null 2>&1 &&
		! clang -fsanitize=fuzzer,address -o "$tmp/f" "$tmp/f.c" >"$tmp/err" 2>&1 &&
		miss "libFuzzer for clang ($(head -n 1 "$tmp/err"))" libclang-rt-14-dev
	tool aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu
	tool aarch64-linux-gnu-ld binutils-aarch64-linux-gnu
	compiles aarch64-linux-gnu-gcc libc6-dev-arm64-cross -static -O2
}

qemu() {
	tool qemu-system-x86_64 qemu-system-x86
	tool qemu-system-aarch64 qemu-system-arm
	tool qemu-system-riscv64 qemu-system-misc
	tool riscv64-linux-gnu-gcc gcc-riscv64-linux-gnu
	checks=$((checks + 1))
	[ -s /usr/share/qemu/opensbi-riscv64-generic-fw_dynamic.bin ] ||
		miss "OpenSBI firmware for qemu-system-riscv64" qemu-system-data
	tool aarch64-linux-gnu-gcc gcc-aarch64-linux-gnu
	lua
	checks=$((checks + 1))
	k=${HAK_A64_KERNEL:-/usr/local/share/hakmem/arm64-kernel/vmlinuz}
	[ -s "$k" ] || miss "the arm64 kernel $k" "linux-image-arm64:arm64, unpacked by setup.sh"
}

# The Lua images (tests/qemu/lua/): picolibc for both arches, the host
# interpreter the outputs are compared with, and Lua's unpacked source.
lua() {
	tool lua5.4 lua5.4
	tool python3 python3
	tool riscv64-unknown-elf-gcc "gcc-riscv64-unknown-elf (with picolibc-riscv64-unknown-elf)"
	for f in aarch64-linux-gnu/lib/libc.a:picolibc-aarch64-linux-gnu \
		riscv64-unknown-elf/lib/rv64imac/lp64/libc.a:picolibc-riscv64-unknown-elf; do
		checks=$((checks + 1))
		[ -s "/usr/lib/picolibc/${f%%:*}" ] ||
			miss "picolibc's /usr/lib/picolibc/${f%%:*}" "${f#*:}"
	done
	checks=$((checks + 1))
	printf '#include <stdio.h>\n#include <picotls.h>\nint f(void){return puts("")<0;}\n' >"$tmp/p.c"
	command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 &&
		! aarch64-linux-gnu-gcc --specs=picolibc.specs -c -o "$tmp/p.o" \
			"$tmp/p.c" >"$tmp/err" 2>&1 &&
		miss "a working 'aarch64-linux-gnu-gcc --specs=picolibc.specs' ($(head -n 1 "$tmp/err"))" \
			picolibc-aarch64-linux-gnu
	checks=$((checks + 1))
	d=${HAK_CACHE:-/usr/local/share/hakmem}/lua5.4
	[ -s "$d/src/lapi.c" ] ||
		miss "Lua 5.4's source in $d" "the lua5.4 source package (apt-get source), unpacked by setup.sh"
}

bench() {
	tool valgrind valgrind
	for l in libmimalloc.so:libmimalloc-dev libjemalloc.so:libjemalloc-dev \
		libtcmalloc_minimal.so:libgoogle-perftools-dev; do
		checks=$((checks + 1))
		gcc -print-file-name="${l%%:*}" | grep -q / ||
			miss "library ${l%%:*}" "${l#*:}"
	done
}

case $what in
all) host; qemu ;;
host) host ;;
qemu) qemu ;;
bench) bench ;;
*) echo "usage: $0 [all|host|qemu|bench]" >&2; exit 2 ;;
esac
if [ "$missing" -gt 0 ]; then
	echo "preflight: $missing of $checks checks failed: run ./setup.sh"
	exit 1
fi
echo "preflight: ok ($checks checks)"
