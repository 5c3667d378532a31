# SPDX-License-Identifier: MIT
# Benchmarks (included by the top Makefile).
#
#   make bench                  every workload under hakmem, glibc, mimalloc,
#                               jemalloc and tcmalloc, interleaved, 3 rounds,
#                               the published workloads with mimalloc-bench's
#                               arguments; the table goes to stdout and
#                               build/bench/results.md
#   make bench BENCH_QUICK=1    smoke run: 1 round, short arguments
#   make bench BENCH_REPS=N     N rounds
#   make bench-smoke            each workload once under hakmem, checked
#                               (part of make test)
#   make bench-icount           instructions per malloc+free pair: callgrind
#                               on the host, then exact guest counts of the
#                               freestanding build under QEMU -icount
#
# The programs are plain malloc/free clients linked against nothing but
# libc: LD_PRELOAD picks the allocator (see bench/run.sh).

BENCH_PROGS := $(patsubst bench/%.c,%,$(sort $(wildcard bench/*.c)))
BENCH_BINS := $(addprefix $(B)/bench/,$(BENCH_PROGS))
BENCH_CFLAGS := -std=gnu11 -O2 -g $(WARN) -D_GNU_SOURCE -Iinclude -pthread
BENCH_QUICK ?= 0
BENCH_REPS ?=

$(B)/bench/%: bench/%.c bench/common.h include/hakmem.h
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(HOST_CC) $(BENCH_CFLAGS) -o $@ $< -ldl -lm

bench-bins: $(BENCH_BINS)

# make test runs bench/smoke.sh (tests/run-all.sh): each workload once
# under hakmem, its output checked.
test-bins: bench-bins

bench: host bench-bins
	$(Q)BENCH_QUICK=$(BENCH_QUICK) BENCH_REPS=$(BENCH_REPS) \
		bench/run.sh $(B)

bench-smoke: host bench-bins
	$(Q)bench/smoke.sh $(B)

# The library bench-icount runs under valgrind: the release objects, but
# the arena reserves 4 GiB of address space instead of 64, which valgrind
# refuses. Without its arena the library runs every free() through the
# page map (hak_stats free_lookup=pagemap), which the drop-in never does
# by default, and bench/lib.sh refuses such a run.
VG_ARENA_BYTES := 4294967296UL

$(B)/host-vg/arena.o: port/hosted/arena.c $(HOST_HDRS) $(call flags_stamp,$(B)/host-vg,$(HOST_CC) $(HOST_CFLAGS) $(VG_ARENA_BYTES))
	@mkdir -p $(dir $@)
	@echo "  CC      $@"
	$(Q)$(HOST_CC) $(HOST_CFLAGS) -DHAK_HOSTED_ARENA_BYTES=$(VG_ARENA_BYTES) -c $< -o $@

$(B)/host-vg/libhakmem.so: $(filter-out %/arena.o,$(HOST_SO_OBJS)) $(B)/host-vg/arena.o
	@echo "  LD      $@"
	$(Q)$(HOST_SO_LD)

bench-icount: host $(B)/host-vg/libhakmem.so bench-bins icount-images
	$(Q)BENCH_QUICK=$(BENCH_QUICK) bench/icount.sh $(B)
	$(Q)tests/qemu/icount.sh

.PHONY: bench-bins bench-smoke
