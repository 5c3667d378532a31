#!/bin/sh
# preload.sh - the drop-in library runs ordinary programs under LD_PRELOAD,
# and preload_probe proves the calls really reached hakmem.
set -eu
cd "$(dirname "$0")/../.."
lib=$PWD/build/host/libhakmem.so
LD_PRELOAD=$lib build/test/preload_probe
LD_PRELOAD=$lib ls -lR /usr/include >/dev/null
LD_PRELOAD=$lib sh -c 'echo hello | sort | uniq -c' | grep -q hello
LD_PRELOAD=$lib python3 -c 'x=[bytes(i) for i in range(20000)]; print(len(x))' | grep -q 20000
echo "PASS preload"
