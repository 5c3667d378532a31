#!/bin/sh
# setup.sh - install what building and testing hakmem needs on Debian 12:
# the aarch64 (with its libc headers, for the hosted aarch64 Linux test)
# and riscv64 cross compilers, QEMU for the three arches (riscv64 with
# its OpenSBI firmware), clang (fuzzing),
# valgrind (instruction counts), the allocators the benchmarks compare
# against, an arm64 kernel for the aarch64 Linux test, and for the Lua
# images (tests/qemu/lua/) picolibc for aarch64 and riscv64, the host
# lua5.4 (reference output) and Lua's Debian source package, unpacked
# into $HAK_CACHE (never into the tree). Does nothing when everything is
# already there. Needs root (or sudo) only when it has to install.
set -eu
pkgs="make gcc libc6-dev gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu
libc6-dev-arm64-cross
qemu-system-x86 qemu-system-arm qemu-system-misc gcc-riscv64-linux-gnu
binutils-riscv64-linux-gnu clang libclang-rt-14-dev llvm valgrind
libmimalloc-dev libjemalloc-dev libgoogle-perftools-dev python3
picolibc-aarch64-linux-gnu picolibc-riscv64-unknown-elf lua5.4 dpkg-dev"
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
	# Recommends included: a machine that lacked one (the arm64 libc
	# headers) once failed where CI, which had it by accident, passed.
	# shellcheck disable=SC2086
	$sudo apt-get install -y -qq \
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

# Lua 5.4's Debian source package for the Lua images: fetched with
# apt-get source, which needs a deb-src line for the mirror the deb lines
# use. Ours goes in a file of its own (deb822 or one-line form, whichever
# the machine uses), so the system's own files are left as they are.
cache=${HAK_CACHE:-/usr/local/share/hakmem}
luadir=$cache/lua5.4
if [ ! -s "$luadir/src/lapi.c" ]; then
	if ! apt-cache showsrc lua5.4 2>/dev/null | grep -q '^Package: lua5.4'; then
		src=/etc/apt/sources.list.d/hakmem-deb-src
		if [ -s /etc/apt/sources.list.d/debian.sources ]; then
			echo "setup: enabling deb-src ($src.sources)"
			sed 's/^Types:.*/Types: deb-src/' \
				/etc/apt/sources.list.d/debian.sources |
				$sudo tee "$src.sources" >/dev/null
		elif [ -s /etc/apt/sources.list ]; then
			echo "setup: enabling deb-src ($src.list)"
			sed -n 's/^deb[[:space:]]/deb-src /p' /etc/apt/sources.list |
				$sudo tee "$src.list" >/dev/null
		else
			echo "setup: no Debian sources list to take a deb-src line from" >&2
			exit 1
		fi
		$sudo apt-get update -qq
	fi
	echo "setup: fetching Lua 5.4's source package into $luadir"
	d=$(mktemp -d)
	chmod 755 "$d"
	(cd "$d" && apt-get source -qq lua5.4 >/dev/null)
	sd=$(find "$d" -mindepth 1 -maxdepth 1 -type d -name 'lua5.4-*')
	[ -s "$sd/src/lapi.c" ] || { echo "setup: no src/lapi.c in lua5.4's source" >&2; exit 1; }
	$sudo mkdir -p "$cache"
	$sudo rm -rf "$luadir"
	$sudo cp -r "$sd" "$luadir"
	rm -rf "$d"
fi
echo "setup: done"
