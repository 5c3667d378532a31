/* SPDX-License-Identifier: MIT */
/*
 * peek.h - white-box reads of hakmem's per-CPU state for the QEMU suite.
 * The public API has no per-CPU view (hak_stats sums over CPUs), but the
 * cpu_offline test must show that one CPU's cache, and only its, went
 * back to the shared pool. Reads are relaxed and exact only while that
 * CPU runs no hakmem code.
 */
#ifndef HAKMEM_TESTS_QEMU_PEEK_H
#define HAKMEM_TESTS_QEMU_PEEK_H

#include <stddef.h>
#include <stdint.h>

/* Objects sitting in cpu's magazines, all classes. */
uint64_t peek_cached(unsigned cpu);
/* Objects the transfer caches hold (mm/transfer.c), all classes. */
uint64_t peek_transfer_cached(void);
/* cpu's refill and drain batch counters. */
uint64_t peek_refills(unsigned cpu);
uint64_t peek_drains(unsigned cpu);
/* Bytes of the carved block (slab object or page run) containing p, as
 * hakmem's stats count it; 0 if p is in none. For the debug build, whose
 * blocks are larger than what hak_usable_size() reports. */
size_t peek_block_bytes(const void *p);
/* Swap object i of cpu's magazine for the class of size with v (a planted
 * corruption, and its repair); returns the old pointer, or NULL if that
 * magazine holds fewer than i + 1 objects. Only while cpu is quiet. */
void *peek_swap_cached(unsigned cpu, size_t size, unsigned i, void *v);
/* The restartable fast-path sections' {start, end} pairs: how many (0 in
 * builds without them), *table their first. */
unsigned peek_restart_ranges(const uintptr_t **table);
/* How many objects have restartable sections (3: malloc.c, heap.c,
 * cache.c, where the port has them). */
unsigned peek_restart_tables(void);
/* Idle decay on (1) or off (0): the suite keeps it off but for its own
 * test, since its other tests check that a call changed nothing while
 * the other CPUs tick in their barrier loops. */
void peek_decay(int on);

#endif
