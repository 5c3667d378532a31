#!/bin/sh
# setup.sh - install what building and testing hakmem needs on Debian 12:
# the aarch64 (with its libc headers, for the hosted aarch64 Linux test)
# and riscv64 cross compilers, QEMU for the three arches (riscv64 with
# its OpenSBI firmware), clang (fuzzing),
# valgrind (instruction counts), the allocators the benchmarks compare
# against, and an arm64 kernel for the aarch64 Linux test. Does nothing
# when everything is already there. Needs root (or sudo) only when it has
# to install.
set -eu
pkgs="make gcc libc6-dev gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu
libc6-dev-arm64-cross
qemu-system-x86 qemu-system-arm qemu-system-misc gcc-riscv64-linux-gnu
binutils-riscv64-linux-gnu clang libclang-rt-14-dev llvm valgrind
libmimalloc-dev libjemalloc-dev libgoogle-perftools-dev python3"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
if [ -n "$missing" ]; then
	echo "setup: installing:$missing"
	$sudo apt-get update -qq
	# shellcheck disable=SC2086
	$sudo apt-get install -y -qq --no-install-recommends \
		-o DPkg::Lock::Timeout=600 $missing >/dev/null
fi

# An arm64 Linux kernel for tests/aarch64-linux (the hosted port's rseq
# sections on aarch64, under QEMU): Debian's, unpacked, not installed.
kdir=/usr/local/share/hakmem/arm64-kernel
if [ ! -s "$kdir/vmlinuz" ]; then
	echo "setup: fetching an arm64 kernel into $kdir"
	dpkg --print-foreign-architectures | grep -qx arm64 ||
		$sudo dpkg --add-architecture arm64
	$sudo apt-get update -qq
	kpkg=$(apt-cache depends linux-image-arm64:arm64 |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ {print $2; exit}')
	[ -n "$kpkg" ] || { echo "setup: no arm64 kernel package found" >&2; exit 1; }
	d=$(mktemp -d)
	chmod 755 "$d"
	(cd "$d" && apt-get download -q "$kpkg" >/dev/null)
	$sudo mkdir -p "$kdir"
	dpkg-deb --fsys-tarfile "$d"/linux-image-*.deb |
		tar -x -O --wildcards './boot/vmlinuz-*' >"$d/vmlinuz"
	$sudo cp "$d/vmlinuz" "$kdir/vmlinuz"
	rm -rf "$d"
fi
echo "setup: done"
