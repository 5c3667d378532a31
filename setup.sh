#!/bin/sh
# setup.sh - install what building and testing hakmem needs on Debian 12:
# the aarch64 cross compiler, QEMU for both arches, clang (fuzzing),
# valgrind (instruction counts) and the allocators the benchmarks compare
# against. Does nothing when everything is already there. Needs root (or
# sudo) only when it has to install.
set -eu
pkgs="make gcc libc6-dev gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu
qemu-system-x86 qemu-system-arm clang libclang-rt-14-dev llvm valgrind
libmimalloc-dev libjemalloc-dev libgoogle-perftools-dev python3"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "setup: all packages present"
	exit 0
fi
echo "setup: installing:$missing"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq --no-install-recommends \
	-o DPkg::Lock::Timeout=600 $missing >/dev/null
echo "setup: done"
