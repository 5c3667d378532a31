#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""report.py RAW.tsv [options] - turn bench/run.sh's raw runs into the
markdown tables: median throughput per allocator, hakmem's ratio to each
peer (hakmem/peer, > 1 = hakmem faster), and median peak memory. A
fixed-work workload (its unit says "time:") gets a table of its own:
median seconds per run (peer/hakmem, > 1 = hakmem faster) and page faults.

A (workload, allocator) cell with any failed run shows ERR: a run whose
proof check failed is an error, not a number."""
import argparse
import csv
import os
import platform
import statistics
import subprocess
import time

ALLOCS = ["hakmem", "glibc", "mimalloc", "jemalloc", "tcmalloc"]
PEERS = ALLOCS[1:]
PACKAGES = ["libc6", "libmimalloc2.0", "libjemalloc2", "libtcmalloc-minimal4",
            "gcc-12", "valgrind"]


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


def machine_line():
    return (f"{os.cpu_count()} CPUs ({cpu_model()}), kernel {platform.release()}; "
            f"{pkg_versions()}")


def fmt_rate(x):
    if x is None:
        return "ERR"
    m = x / 1e6
    if m >= 100:
        return f"{m:.0f}"
    if m >= 10:
        return f"{m:.1f}"
    if m >= 1:
        return f"{m:.2f}"
    return f"{m:.3f}"


def fmt_bytes(x):
    if x is None:
        return "-"
    if x >= 1048576:
        return f"{x / 1048576:.1f} MiB"
    if x >= 1024:
        return f"{x / 1024:.0f} KiB"
    return f"{x:.0f} B"


def median(xs):
    return statistics.median(xs) if xs else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("--reps", default="?")
    ap.add_argument("--large-reps", default="?")
    ap.add_argument("--seconds", default="?")
    ap.add_argument("--elapsed", default="?")
    ap.add_argument("--load", default="?")
    ap.add_argument("--load-end", default="?")
    ap.add_argument("--tcmalloc", default="libtcmalloc_minimal.so.4")
    ap.add_argument("--hakmem", default="?")
    ap.add_argument("--out")
    a = ap.parse_args()

    rows = list(csv.DictReader(open(a.raw), delimiter="\t"))
    workloads, units = [], {}
    for r in rows:
        if r["workload"] not in units:
            workloads.append(r["workload"])
            units[r["workload"]] = r["unit"]

    def cell(w, al):
        rs = [r for r in rows if r["workload"] == w and r["alloc"] == al]
        return rs, any(r["status"] != "ok" for r in rs) or not rs

    def num(rs, key):
        return [float(r[key]) for r in rs if r["status"] == "ok" and r[key]]

    L = []
    L.append(f"Finished {time.strftime('%Y-%m-%d %H:%M %Z')}: {a.reps} repetitions "
             f"per cell ({a.large_reps} for fixed-work workloads), "
             f"{a.seconds} s per run, allocators interleaved; "
             f"{a.elapsed} s in all; load average {a.load} at the start, "
             f"{a.load_end} at the end.")
    L.append("")
    L.append(f"Machine: {machine_line()}. hakmem = build/host/libhakmem.so "
             f"at {a.hakmem}; tcmalloc = gperftools {a.tcmalloc}; "
             f"glibc = no preload.")
    L.append("")
    L.append("Throughput: median of the runs, in millions of ops per second "
             "(the op column says what one op is). hakmem/peer > 1 means "
             "hakmem is faster. Spread = (max - min) / median of the noisiest "
             "allocator in the row.")
    L.append("")
    hdr = ["workload", "op"] + ALLOCS + [f"h/{p}" for p in PEERS] + ["spread"]
    L.append("| " + " | ".join(hdr) + " |")
    L.append("|" + "---|" * len(hdr))
    for w in workloads:
        if units[w].startswith("time:"):
            continue
        med, spread = {}, 0.0
        for al in ALLOCS:
            rs, bad = cell(w, al)
            xs = num(rs, "ops_per_sec")
            med[al] = None if bad else median(xs)
            if not bad and len(xs) > 1 and med[al]:
                spread = max(spread, (max(xs) - min(xs)) / med[al])
        ratios = []
        for p in PEERS:
            if med["hakmem"] is None or med[p] is None or not med[p]:
                ratios.append("-")
            else:
                ratios.append(f"{med['hakmem'] / med[p]:.2f}")
        L.append("| " + " | ".join([w, units[w]] + [fmt_rate(med[al]) for al in ALLOCS]
                                   + ratios + [f"{spread * 100:.0f}%"]) + " |")
    timed = [w for w in workloads if units[w].startswith("time:")]
    if timed:
        L.append("")
        L.append("Fixed-work workloads: median seconds per run (lower is "
                 "better; peer/hakmem > 1 means hakmem is faster), then the "
                 "median minor page faults of the whole process (getrusage "
                 "ru_minflt). Spread as above.")
        L.append("")
        hdr = (["workload", "one run"] + ALLOCS + [f"{p}/h" for p in PEERS]
               + ["spread"])
        L.append("| " + " | ".join(hdr) + " |")
        L.append("|" + "---|" * len(hdr))
        for w in timed:
            med, spread = {}, 0.0
            for al in ALLOCS:
                rs, bad = cell(w, al)
                xs = num(rs, "elapsed_sec")
                med[al] = None if bad else median(xs)
                if not bad and len(xs) > 1 and med[al]:
                    spread = max(spread, (max(xs) - min(xs)) / med[al])
            ratios = []
            for p in PEERS:
                if med["hakmem"] is None or med[p] is None or not med["hakmem"]:
                    ratios.append("-")
                else:
                    ratios.append(f"{med[p] / med['hakmem']:.2f}")
            L.append("| " + " | ".join(
                [w, units[w][len("time:"):]]
                + ["ERR" if med[al] is None else f"{med[al]:.2f} s" for al in ALLOCS]
                + ratios + [f"{spread * 100:.0f}%"]) + " |")
        L.append("")
        hdr = ["workload"] + [f"faults {al}" for al in ALLOCS]
        L.append("| " + " | ".join(hdr) + " |")
        L.append("|" + "---|" * len(hdr))
        for w in timed:
            row = [w]
            for al in ALLOCS:
                rs, bad = cell(w, al)
                x = median(num(rs, "minflt"))
                row.append("ERR" if bad or x is None else f"{x / 1e6:.3f}M")
            L.append("| " + " | ".join(row) + " |")
    L.append("")
    L.append("Memory: medians. Peak live = the most bytes the "
             "benchmark itself held (requested sizes, sampled every 64 "
             "mallocs per thread). Peak RSS = getrusage ru_maxrss of the "
             "whole process. Provider peak = the most bytes hakmem held from "
             "mmap (hak_stats provider_peak); bytes out = hakmem's "
             "peak_bytes_out (live + per-CPU cached + large). The ratio is "
             "shown for live sets of 256 KiB and more. Held at exit = "
             "provider_held after the benchmark freed every block (no "
             "hak_trim).")
    L.append("")
    hdr = (["workload", "peak live"] + [f"RSS {al}" for al in ALLOCS]
           + ["hakmem provider peak", "hakmem bytes out", "provider peak / live",
              "hakmem held at exit"])
    L.append("| " + " | ".join(hdr) + " |")
    L.append("|" + "---|" * len(hdr))
    for w in workloads:
        live = median(num([r for r in rows if r["workload"] == w], "peak_live_bytes"))
        rss = []
        for al in ALLOCS:
            rs, bad = cell(w, al)
            x = median(num(rs, "peak_rss_kb"))
            rss.append("ERR" if bad else fmt_bytes(x * 1024 if x is not None else None))
        hrs, hbad = cell(w, "hakmem")
        pp = None if hbad else median(num(hrs, "provider_peak"))
        po = None if hbad else median(num(hrs, "peak_bytes_out"))
        ph = None if hbad else median(num(hrs, "provider_held"))
        # Meaningless for a live set of a few blocks: hakmem's fixed cost
        # (per-CPU areas, one superslab) dominates.
        ratio = f"{pp / live:.2f}" if pp and live and live >= 262144 else "-"
        L.append("| " + " | ".join([w, fmt_bytes(live)] + rss
                                   + [fmt_bytes(pp), fmt_bytes(po), ratio,
                                      fmt_bytes(ph)]) + " |")
    text = "\n".join(L) + "\n"
    print(text, end="")
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
