#!/usr/bin/env python3
# icount-doc.py - regenerate docs/guarantees.md's two icount tables (path
# costs with their bounds; longest IRQ-off windows) from the logs of the
# last `make test-icount` (build/qemu/logs/icount-*.log), in place.
import re
import sys

ARCHES = ["x86_64", "aarch64-llsc", "aarch64-lse", "riscv64"]
LOGS = "build/qemu/logs"
DOC = "docs/guarantees.md"

# IRQ table rows: label, then the paths whose longest window it shows
# ("/" joins two figures in one cell); ALL:key reads the whole-run line.
IRQ_ROWS = [
    ("tiny / pool malloc, free, pairs (hits)", ["tiny_pair"]),
    ("tiny_refill", ["tiny_refill"]),
    ("tiny_drain", ["tiny_drain"]),
    ("pool_refill", ["pool_refill"]),
    ("pool_drain", ["pool_drain"]),
    ("tiny_grow", ["tiny_grow"]),
    ("tiny_refill_64slabs", ["tiny_refill_64slabs"]),
    ("tiny_drain_65slabs", ["tiny_drain_65slabs"]),
    ("new_slab", ["new_slab"]),
    ("new_superslab", ["new_superslab"]),
    ("new_superslab_nodes", ["new_superslab_nodes"]),
    ("release_slab", ["release_slab"]),
    ("release_superslab", ["release_superslab"]),
    ("large_64k / 1m malloc", ["large_64k_malloc", "large_1m_malloc"]),
    ("large_64k / 1m free", ["large_64k_free", "large_1m_free"]),
    ("large malloc / free with decay, free with eviction",
     ["max:large_malloc_decay,large_free_decay,large_free_evict"]),
    ("object cache and created heap hits",
     ["max:cache_pair,cache_alloc,cache_free,heap_malloc"]),
    ("free_foreign, free_double, free_interior",
     ["max:free_foreign,free_double,free_double_slab,free_interior"]),
    ("serve_drain: a drain another CPU posted, served at `hak_tick` with "
     "a full 64 B cache", ["serve_drain"]),
    ("serve_light: the same served from an IRQ handler (`hak_tick` with IRQs "
     "masked), the longest call, with a cache whose objects are each the "
     "last of their slab", ["serve_light"]),
    ("`hak_trim` (`scen_walks`: 36 superslabs, full object cache and "
     "created heap areas)", ["ALL:hak_trim"]),
    ("`hak_cpu_offline` of a full 64 B cache", ["ALL:hak_cpu_offline"]),
    ("`hak_check` (`scen_walks`)", ["ALL:hak_check"]),
    ("**longest window of the whole run**", ["ALL:max"]),
]


def parse():
    cost, irq, order = {}, {}, []
    for a in ARCHES:
        for line in open(f"{LOGS}/icount-{a}.log"):
            m = re.match(r"ICOUNT path=(\S+) arch=\S+ .*per_op=([\d.]+) "
                         r".*max=(\d+) total_max=(\d+) .*bound=(\d+)", line)
            if m:
                p = m.group(1)
                if p not in order:
                    order.append(p)
                cost[(p, a)] = m.groups()[1:]
        for line in open(f"{LOGS}/icount-irq-{a}.log"):
            m = re.match(r"IRQWIN path=(\S+) .*max=(\d+)", line)
            if m:
                irq[(m.group(1), a)] = int(m.group(2))
            m = re.match(r"IRQWIN all \S+ (.*)", line)
            if m:
                for kv in m.group(1).split():
                    k, v = kv.split("=")
                    irq[("ALL:" + k, a)] = int(v)
    return cost, irq, order


def cost_rows(cost, order):
    rows = []
    for p in order:
        cells, bounds = [], []
        for a in ARCHES:
            mean, mx, tmx, bound = cost[(p, a)]
            c = f"{float(mean):.1f} / {mx}"
            if tmx != mx:
                c += f" ({tmx})"
            cells.append(c)
            bounds.append(bound)
        rows.append(f"| {p} | " + " | ".join(cells) + " | " +
                    " / ".join(bounds) + " |")
    return rows


def irq_cell(irq, spec, a):
    if spec.startswith("max:"):
        return str(max(irq[(p, a)] for p in spec[4:].split(",")))
    if spec == "ALL:max":
        return str(irq[("ALL:max", a)])
    return str(irq[(spec, a)])


def irq_rows(irq):
    rows = []
    for label, specs in IRQ_ROWS:
        cells = [" / ".join(irq_cell(irq, s, a) for s in specs)
                 for a in ARCHES]
        rows.append(f"| {label} | " + " | ".join(cells) + " |")
    return rows


def replace_table(lines, header_start, rows):
    i = next(k for k, l in enumerate(lines) if l.startswith(header_start))
    j = i + 2
    while j < len(lines) and lines[j].startswith("|"):
        j += 1
    return lines[:i + 2] + rows + lines[j:]


def main():
    cost, irq, order = parse()
    lines = open(DOC).read().split("\n")
    lines = replace_table(lines, "| path | x86_64 mean / max", cost_rows(cost, order))
    lines = replace_table(lines, "| path | x86_64 | aarch64-llsc |", irq_rows(irq))
    open(DOC, "w").write("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
