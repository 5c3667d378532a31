// SPDX-License-Identifier: MIT
/*
 * peek.c - see peek.h. The suite's one window into mm/internal.h.
 */
#include "../../mm/internal.h"
#include "peek.h"

static struct hak_pcpu *pcpu(unsigned cpu)
{
	if (cpu >= hak_heap.ncpus)
		return NULL;
	return __atomic_load_n(&hak_heap.pcpu[cpu], __ATOMIC_ACQUIRE);
}

uint64_t peek_cached(unsigned cpu)
{
	struct hak_pcpu *pc = pcpu(cpu);

	return pc ? hak_pcpu_cached(pc) : 0;
}

uint64_t peek_transfer_cached(void)
{
	uint64_t n = 0;
	unsigned c;

	for (c = 0; c < HAK_NCLASSES; c++)
		n += hak_transfer_count(&hak_heap, c);
	return n;
}

/* The counters are the shards' (all CPUs'): the icount images run the
 * measured paths on one CPU. A miss's refill or drain is counted in its
 * bypass counter (as hak_stats adds them). */
uint64_t peek_refills(unsigned cpu)
{
	uint64_t n = 0;
	unsigned c;

	(void)cpu;
	for (c = 0; c < HAK_NCLASSES; c++)
		n += hak_stat_read(&hak_heap.shard[c].bypass_allocs);
	return n;
}

uint64_t peek_drains(unsigned cpu)
{
	uint64_t n = 0;
	unsigned c;

	(void)cpu;
	for (c = 0; c < HAK_NCLASSES; c++)
		n += hak_stat_read(&hak_heap.shard[c].drains) +
		     hak_stat_read(&hak_heap.shard[c].bypass_frees);
	return n;
}

size_t peek_block_bytes(const void *p)
{
	uintptr_t start;
	size_t usable;

	return hak_block_containing(p, &start, &usable) ? usable : 0;
}

void *peek_swap_cached(unsigned cpu, size_t size, unsigned i, void *v)
{
	struct hak_pcpu *pc = pcpu(cpu);
	struct hak_mag *m;
	void *old;

	if (!pc || size > HAK_POOL_MAX)
		return NULL;
	m = &pc->mag[hak_size_to_class(size)];
	if (i >= hak_mag_count(m))
		return NULL;
	old = m->base[i];
	m->base[i] = v;
	return old;
}

/* Every object's table, gathered into one array of {start, end}. */
unsigned peek_restart_ranges(const uintptr_t **table)
{
	static uintptr_t all[2 * 64];
	const uintptr_t *t;
	unsigned k, n = 0, i, m;

	for (k = 0; (m = hak_restart_ranges(k, &t)) || t; k++)
		for (i = 0; i < m && n < 64; i++, n++) {
			all[2 * n] = t[2 * i];
			all[2 * n + 1] = t[2 * i + 1];
		}
	*table = all;
	return n;
}

unsigned peek_restart_tables(void)
{
	const uintptr_t *t;
	unsigned k, full = 0;

	for (k = 0; hak_restart_ranges(k, &t) || t; k++)
		full += hak_restart_ranges(k, &t) != 0;
	return full;
}

void peek_decay(int on)
{
	__atomic_store_n(&hak_heap.decay_off, !on, __ATOMIC_RELAXED);
}
