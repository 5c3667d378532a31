#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""gen_corpus.py [DIR] - write the seed corpus of fuzz_heap (default
tests/fuzz/corpus): one file per scenario, in the operation encoding of
tests/fuzz/fuzz_heap.c (keep the two in step), plus a few seeded random
mixes. Deterministic: rerunning it rewrites the same files.

    python3 tests/fuzz/gen_corpus.py
"""
import os
import random
import sys

# Opcodes: the first index of each operation in fuzz_heap.c's ops[].
MALLOC, CALLOC, REALLOC, ALIGNED, FREE = 0, 5, 7, 10, 12
DFREE, INTERIOR, FOREIGN, USABLE, TRIM = 17, 18, 19, 20, 21
OFFLINE, CPU, CHECK, HOG, ODD, BURST_ALLOC, BURST_FREE = 22, 23, 25, 26, 27, 28, 30

MIB = 1 << 20


def le16(v):
    return [v & 255, (v >> 8) & 255]


def le24(v):
    return [v & 255, (v >> 8) & 255, (v >> 16) & 255]


def size(n):
    """get_size(): a selector byte, then the value."""
    if n <= 1024:
        return [0] + le16(n)
    if n <= 32768:
        return [6] + le16(n - 1025)
    if n <= 65536:
        return [10] + le24(n)
    assert n <= MIB
    return [13] + le24(n)


def malloc(n):
    return [MALLOC] + size(n)


def calloc(nm, n):
    # the harness asks for nm * (n // nm) bytes
    return [CALLOC, nm] + size(n)


def realloc(i, n):
    return [REALLOC, 0, i] + size(n)


def realloc_mode(i, mode, *args):
    return [REALLOC, mode, i] + list(args)


def aligned(shift, n):
    return [ALIGNED, shift] + size(n)


def free(i):
    return [FREE, i]


def burst(count, n):
    return [BURST_ALLOC, count - 1] + size(n)


def burst_free(count, mode=0):
    return [BURST_FREE, count - 1, mode]


def cpu(k):
    return [CPU, k]


def bad_kind(kind, n=100):
    """The call bad_call() makes: 0 free, 1 realloc(p, n), 2 usable_size."""
    return [kind] + (size(n) if kind == 1 else [])


def double_free(i, between, arg, kinds):
    out = [DFREE, i, between] + ([arg] if between in (1, 3) else [])
    out += [len(kinds) - 1]
    for k in kinds:
        out += bad_kind(k)
    return out


def interior(i, mode, kind, extra=()):
    return [INTERIOR, i, mode] + list(extra) + bad_kind(kind)


def foreign(k, args, kind):
    return [FOREIGN, k] + list(args) + bad_kind(kind)


SIZES = [0, 1, 16, 24, 100, 128, 129, 1000, 1024, 1025, 3000, 4096, 8000,
         20000, 32768, 32769, 40000, 65536, 200000, MIB]


def scenarios():
    s = {}
    s["tiers"] = sum((malloc(n) for n in SIZES), []) + [CHECK] + \
        sum((free(0) for _ in SIZES), [])
    s["calloc"] = sum((calloc(nm, n) for nm in (1, 3, 16)
                       for n in (0, 48, 5000, 70000)), []) + [CHECK]
    s["realloc-chain"] = malloc(10) + sum((realloc(0, n) for n in
                                           (20, 500, 3000, 40000, 300000, 100,
                                            16, 70000, 8)), []) + \
        realloc_mode(0, 3) + [CHECK]
    s["realloc-modes"] = malloc(777) + malloc(5000) + malloc(50000) + sum(
        (realloc_mode(i, m, *a) for i in range(3)
         for m, a in ((1, [1, 0]), (2, [7, 0]), (4, []), (5, [0]), (5, [1]),
                      (6, [0]), (6, [1]))), []) + [REALLOC, 7] + size(64) + \
        [CHECK]
    s["aligned"] = sum((aligned(sh, n) for sh in range(0, 21, 2)
                        for n in (1, 100, 3000, 40000)), []) + [CHECK]
    for between in range(5):
        for n in (64, 5000, 100000):
            s["dfree-%d-%d" % (between, n)] = malloc(n) + malloc(n) + \
                double_free(0, between, 2, [0, 1, 2])
    s["interior"] = malloc(64) + malloc(3000) + malloc(100000) + sum(
        (interior(i, m, k, (0x10, 0x20) if m == 6 else
                  (0x34, 0x12, 0) if m == 7 else ())
         for i in range(3) for m in range(8) for k in range(3)), []) + \
        [CHECK]
    s["foreign"] = malloc(64) + sum(
        (foreign(k, [3] if k in (0, 7, 8, 9) else
                 [5, 1] if k == 1 else [1, 0] if k == 11 else [], kind)
         for k in range(12) for kind in range(3)), []) + [CHECK]
    # Fill magazines past their capacity, free from other CPUs, drain.
    s["magazines"] = burst(64, 16) + burst(64, 16) + burst(64, 16) + \
        cpu(1) + burst_free(64, 0) + cpu(2) + burst_free(64, 2) + \
        [CHECK, OFFLINE, 5, TRIM] + burst_free(64, 1)
    s["pool-drain"] = burst(40, 30000) + cpu(3) + burst_free(40, 1) + \
        [CHECK] + burst(20, 2000) + [OFFLINE, 1, OFFLINE, 4] + \
        burst_free(20) + [TRIM, CHECK]
    s["cpus"] = sum((cpu(k) + malloc(100 + 50 * k) + malloc(3000)
                     for k in range(9)), []) + sum(
        (cpu(k) + free(0) for k in range(9)), []) + [OFFLINE, 5, CHECK]
    s["hog-exhaust"] = [HOG, 20, 0, 0, HOG, 20, 0, 0] + malloc(MIB) + \
        burst(30, 60000) + malloc(64) + [CHECK] + burst_free(64) + \
        [HOG, 22, 0, 0, CHECK]
    s["odd"] = malloc(100) + sum(
        ([ODD, k] + list(a) for k, a in (
            (0, [0] + size(10)), (0, [8] + size(10)), (0, [9] + size(100)),
            (1, [5, 0, 7, 1]), (1, [0, 1, 0, 0]), (2, [0, 1]), (2, [4, 0]),
            (3, [0]), (3, [3]), (4, [0, 1, 0]), (4, [0, 0, 2]),
            (5, [0] + size(100)), (5, [3] + size(40000)),
            (5, [42] + size(1)), (6, [0]), (6, [1, 5, 0]), (6, [2, 5, 0]),
            (6, [3]), (7, []), (8, [1]))), []) + [CHECK]
    s["boundaries"] = sum(([MALLOC, 14, k] for k in range(31)), []) + \
        [CHECK] + burst_free(31)
    return s


def random_mix(seed, nops):
    rng = random.Random(seed)
    out = []
    for _ in range(nops):
        r = rng.random()
        if r < 0.35:
            out += malloc(rng.choice(SIZES[:15]) + rng.randrange(16))
        elif r < 0.6:
            out += free(rng.randrange(256))
        elif r < 0.7:
            out += realloc(rng.randrange(256), rng.randrange(40000))
        elif r < 0.75:
            out += aligned(rng.randrange(13), rng.randrange(5000))
        elif r < 0.8:
            out += cpu(rng.randrange(4))
        elif r < 0.85:
            out += burst(rng.randrange(1, 40), rng.choice((16, 64, 700, 9000)))
        elif r < 0.9:
            out += burst_free(rng.randrange(1, 40), rng.randrange(3))
        else:
            out += [rng.randrange(32)] + [rng.randrange(256)
                                          for _ in range(4)]
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "corpus")
    os.makedirs(d, exist_ok=True)
    for name in os.listdir(d):
        if name.startswith("seed-"):
            os.remove(os.path.join(d, name))
    files = scenarios()
    for i, n in enumerate((60, 200, 400, 800)):
        files["mix-%d" % i] = random_mix(i, n)
    for name, data in sorted(files.items()):
        with open(os.path.join(d, "seed-" + name), "wb") as f:
            f.write(bytes(data))
    print("%d seeds in %s" % (len(files), d))


if __name__ == "__main__":
    main()
