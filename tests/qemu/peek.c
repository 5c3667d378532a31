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
 * measured paths on one CPU. */
uint64_t peek_refills(unsigned cpu)
{
	uint64_t n = 0;
	unsigned c;

	(void)cpu;
	for (c = 0; c < HAK_NCLASSES; c++)
		n += hak_stat_read(&hak_heap.shard[c].refills);
	return n;
}

uint64_t peek_drains(unsigned cpu)
{
	uint64_t n = 0;
	unsigned c;

	(void)cpu;
	for (c = 0; c < HAK_NCLASSES; c++)
		n += hak_stat_read(&hak_heap.shard[c].drains);
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

unsigned peek_restart_ranges(const uintptr_t **table)
{
	return hak_restart_ranges(table);
}
