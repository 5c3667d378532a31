#!/bin/sh
# preload.sh - the drop-in library runs ordinary programs under LD_PRELOAD,
# and preload_probe proves the calls really reached hakmem.
set -eu
cd "$(dirname "$0")/../.."
lib=$PWD/build/host/libhakmem.so
LD_PRELOAD=$lib build/test/preload_probe
# glibc's rseq registration turned off at run time: the same library must
# take its trylock fallback (the mode is chosen at init), and say so.
out=$(GLIBC_TUNABLES=glibc.pthread.rseq=0 LD_PRELOAD=$lib build/test/preload_probe)
echo "$out"
echo "$out" | grep -q "fast path trylock" || { echo "FAIL preload: rseq off at run time: $out"; exit 1; }
GLIBC_TUNABLES=glibc.pthread.rseq=0 LD_PRELOAD=$lib sh -c 'echo hello | sort | uniq -c' | grep -q hello
LD_PRELOAD=$lib ls -lR /usr/include >/dev/null
LD_PRELOAD=$lib sh -c 'echo hello | sort | uniq -c' | grep -q hello
LD_PRELOAD=$lib python3 -c 'x=[bytes(i) for i in range(20000)]; print(len(x))' | grep -q 20000
# A bad free() before the first malloc: printed, then abort (SIGABRT:
# status 134 from the shell).
set +e
err=$(LD_PRELOAD=$lib build/test/preload_badfree 2>&1 >/dev/null)
rc=$?
set -e
[ "$rc" -eq 134 ] || { echo "FAIL preload: bad free before malloc: exit $rc, expected abort (134): $err"; exit 1; }
echo "$err" | grep -q "hakmem: invalid free" || { echo "FAIL preload: bad free before malloc printed: $err"; exit 1; }
echo "bad free before malloc: $err"
echo "PASS preload"
