#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""report.py RAW.tsv [options] - turn bench/run.sh's raw runs into markdown
tables: per workload and allocator the median time (the figure
mimalloc-bench ranks by: elapsed seconds, or the original's relative time
for the time-boxed programs) with its min-max range, hakmem's ratio to the
best peer (hakmem / best peer: > 1 means hakmem is slower), and the same
for peak RSS. Geometric means are taken over the published workloads only.

A (workload, allocator) cell with any failed run shows ERR: a run whose
proof or self-check failed is an error, not a number."""
import argparse
import csv
import math
import os
import platform
import statistics
import subprocess
import time

ALLOCS = ["hakmem", "glibc", "mimalloc", "jemalloc", "tcmalloc"]
PACKAGES = ["libc6", "libmimalloc2.0", "libjemalloc2", "libtcmalloc-minimal4",
            "gcc-12"]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def pkg_versions():
    out = []
    for p in PACKAGES:
        try:
            v = subprocess.run(["dpkg-query", "-W", "-f=${Version}", p],
                               capture_output=True, text=True).stdout.strip()
        except OSError:
            v = ""
        if v:
            out.append(f"{p} {v}")
    return ", ".join(out)


def fmt_t(x):
    if x is None:
        return "ERR"
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x:.3g}"


def fmt_kb(x):
    if x is None:
        return "ERR"
    if x >= 1024:
        return f"{x / 1024:.1f} MiB"
    return f"{x:.0f} KiB"


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("--reps", default="?")
    ap.add_argument("--quick", default="0")
    ap.add_argument("--elapsed", default="?")
    ap.add_argument("--load", default="?")
    ap.add_argument("--load-end", default="?")
    ap.add_argument("--line-ns", default="?")
    ap.add_argument("--tcmalloc", default="libtcmalloc_minimal.so.4")
    ap.add_argument("--hakmem", default="?")
    ap.add_argument("--out")
    a = ap.parse_args()

    rows = list(csv.DictReader(open(a.raw), delimiter="\t"))
    workloads, kinds = [], {}
    allocs = [al for al in ALLOCS if any(r["alloc"] == al for r in rows)]
    for r in rows:
        if r["workload"] not in kinds:
            workloads.append(r["workload"])
            kinds[r["workload"]] = r["kind"]

    def runs(w, al):
        rs = [r for r in rows if r["workload"] == w and r["alloc"] == al]
        bad = not rs or any(r["status"] != "ok" for r in rs)
        return rs, bad

    def values(rs, key):
        return [float(r[key]) for r in rs if r["status"] == "ok" and r.get(key)]

    def cell(w, al, key):
        """(median, min, max) or None if any run failed."""
        rs, bad = runs(w, al)
        xs = values(rs, key)
        if bad or not xs:
            return None
        return statistics.median(xs), min(xs), max(xs)

    L = []
    quick = a.quick == "1"
    L.append(f"Finished {time.strftime('%Y-%m-%d %H:%M %Z')}: {a.reps} "
             f"interleaved round(s){' of QUICK smoke runs (short arguments: not a measurement)' if quick else ''}, "
             f"{a.elapsed} s in all; load average {a.load} at the start, "
             f"{a.load_end} at the end. A cache line's round trip between "
             f"CPUs 0 and 1 at each round's start (bench/line_cost.c; the "
             f"2-thread rows follow it): {a.line_ns} ns.")
    L.append("")
    L.append(f"Machine: {os.cpu_count()} CPUs ({cpu_model()}), kernel "
             f"{platform.release()}; {pkg_versions()}. hakmem = "
             f"build/host/libhakmem.so at {a.hakmem}; tcmalloc = gperftools "
             f"{a.tcmalloc}; glibc = no preload.")
    L.append("")
    L.append("Time: the median over the rounds, with the range (min-max) "
             "below it; seconds for fixed-work programs, the original's "
             "relative time for time-boxed ones (lower is better either "
             "way). h/best = hakmem's median / the best peer's median "
             "(> 1: hakmem slower). Kind: pub = published workload with "
             "mimalloc-bench's arguments; ours = our own.")
    L.append("")
    hdr = ["workload", "kind"] + allocs + ["best peer", "h/best", "h/mimalloc"]
    L.append("| " + " | ".join(hdr) + " |")
    L.append("|" + "---|" * len(hdr))
    ratios_t, ratios_m, ratios_r = [], [], []
    for w in workloads:
        c = {al: cell(w, al, "time_sec") for al in allocs}
        cells = []
        for al in allocs:
            if c[al] is None:
                cells.append("ERR")
            elif c[al][1] == c[al][2]:
                cells.append(fmt_t(c[al][0]))
            else:
                cells.append(f"{fmt_t(c[al][0])} ({fmt_t(c[al][1])}-{fmt_t(c[al][2])})")
        peers = [al for al in allocs if al != "hakmem" and c[al] is not None]
        best = min(peers, key=lambda al: c[al][0]) if peers else None
        r = rm = None
        if best and c.get("hakmem") and c[best][0] > 0:
            r = c["hakmem"][0] / c[best][0]
        if c.get("mimalloc") and c.get("hakmem") and c["mimalloc"][0] > 0:
            rm = c["hakmem"][0] / c["mimalloc"][0]
        if kinds[w] == "pub":
            ratios_t.append(r)
            ratios_m.append(rm)
        L.append("| " + " | ".join(
            [w, kinds[w]] + cells
            + [best or "-", f"{r:.2f}" if r else "-", f"{rm:.2f}" if rm else "-"]) + " |")
    g, gm = geomean(ratios_t), geomean(ratios_m)
    L.append("")
    L.append(f"Geometric mean over the {len([x for x in ratios_t if x])} published rows: "
             f"hakmem / best peer {g:.2f}, hakmem / mimalloc {gm:.2f}." if g and gm else
             "Geometric mean: no complete published row.")
    L.append("")
    L.append("Peak RSS (getrusage ru_maxrss of the whole process): median over "
             "the rounds. h/lowest = hakmem's median / the lowest peer's. "
             "hakmem hit % = per-CPU cache hits / (hits + misses) from "
             "hak_stats, summed over the rounds: all, then the Tiny and "
             "Pool tiers (- where the tier served nothing). Locks = "
             "hakmem's shared-lock acquisitions per million operations "
             "(allocs + frees), and the share of them that found the lock "
             "taken (hak_stats lock_holds, lock_waits), summed over the "
             "rounds.")
    L.append("")
    hdr = ["workload"] + allocs + ["lowest peer", "h/lowest", "hakmem hit %",
                                   "Tiny hit %", "Pool hit %",
                                   "locks / M ops", "lock waits %"]
    L.append("| " + " | ".join(hdr) + " |")
    L.append("|" + "---|" * len(hdr))
    for w in workloads:
        c = {al: cell(w, al, "peak_rss_kb") for al in allocs}
        peers = [al for al in allocs if al != "hakmem" and c[al] is not None]
        low = min(peers, key=lambda al: c[al][0]) if peers else None
        r = None
        if low and c.get("hakmem") and c[low][0] > 0:
            r = c["hakmem"][0] / c[low][0]
        if kinds[w] == "pub":
            ratios_r.append(r)
        hrs, hbad = runs(w, "hakmem")
        hits = sum(values(hrs, "cache_hits")) if not hbad else 0
        miss = sum(values(hrs, "cache_misses")) if not hbad else 0
        hit = f"{100 * hits / (hits + miss):.1f}" if hits + miss else "-"
        tiers = []
        for t in ("tiny", "pool"):
            th = sum(values(hrs, t + "_hits")) if not hbad else 0
            tm = sum(values(hrs, t + "_misses")) if not hbad else 0
            tiers.append(f"{100 * th / (th + tm):.1f}" if th + tm else "-")
        holds = sum(values(hrs, "lock_holds")) if not hbad else 0
        waits = sum(values(hrs, "lock_waits")) if not hbad else 0
        ops = (sum(values(hrs, "allocs")) + sum(values(hrs, "frees"))
               if not hbad else 0)
        tiers.append(f"{holds * 1e6 / ops:.0f}" if ops else "-")
        tiers.append(f"{100 * waits / holds:.1f}" if holds else "-")
        L.append("| " + " | ".join(
            [w] + [fmt_kb(c[al][0]) if c[al] else "ERR" for al in allocs]
            + [low or "-", f"{r:.2f}" if r else "-", hit] + tiers) + " |")
    g = geomean(ratios_r)
    L.append("")
    if g:
        L.append(f"Geometric mean of hakmem / lowest peer's peak RSS over the "
                 f"published rows: {g:.2f}.")
    text = "\n".join(L) + "\n"
    print(text, end="")
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
