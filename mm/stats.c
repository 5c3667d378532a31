// SPDX-License-Identifier: MIT
/*
 * stats.c - hak_stats(): sums the per-CPU counters (written only inside
 * their CPU's critical section, read here with relaxed loads) and the
 * global ones. Exact when the heap is quiescent; a consistent-enough
 * snapshot otherwise. Bytes in use per tier are derived, not counted
 * twice: (allocs - frees) * class size summed over classes.
 */
#include "internal.h"

void hak_stats_out_add(int64_t bytes)
{
	uint64_t now = __atomic_add_fetch(&hak_heap.out_bytes, (uint64_t)bytes,
					  __ATOMIC_RELAXED);
	uint64_t peak = __atomic_load_n(&hak_heap.peak_out, __ATOMIC_RELAXED);
	int tries;

	/* A few attempts only: a peak is a statistic, not worth a loop whose
	 * length another CPU decides. */
	for (tries = 0; tries < 4 && now > peak; tries++)
		if (__atomic_compare_exchange_n(&hak_heap.peak_out, &peak, now, 0,
						__ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			break;
}

static void add_classes(struct hak_stats *st)
{
	unsigned cpu, c;

	for (cpu = 0; cpu < hak_heap.ncpus; cpu++) {
		struct hak_pcpu *pc = hak_heap.pcpu[cpu];
		uint64_t misses;

		if (!pc)
			continue;
		for (c = 0; c < HAK_NCLASSES; c++) {
			struct hak_tier_stats *t =
				&st->tier[c < HAK_NTINY ? HAK_TIER_TINY : HAK_TIER_POOL];
			uint64_t a = hak_stat_read(&pc->allocs[c]);
			uint64_t f = hak_stat_read(&pc->frees[c]);

			t->allocs += a;
			t->frees += f;
			st->cache_hits += a + f;
		}
		misses = hak_stat_read(&pc->alloc_misses) +
			 hak_stat_read(&pc->free_misses);
		st->cache_misses += misses;
		st->cache_hits -= misses;
		st->refills += hak_stat_read(&pc->refills);
		st->drains += hak_stat_read(&pc->drains);
	}
}

/* Objects outside the slabs minus live ones are the cached ones; the
 * magazines themselves belong to their CPUs and are not read here. */
static void add_in_use(struct hak_stats *st)
{
	unsigned cpu, c;

	for (c = 0; c < HAK_NCLASSES; c++) {
		struct hak_shard *sh = &hak_heap.shard[c];
		unsigned long flags = hak_lock(&sh->lock);
		int64_t out = (int64_t)sh->out_objects, live = 0;

		hak_unlock(&sh->lock, flags);
		struct hak_tier_stats *t =
			&st->tier[c < HAK_NTINY ? HAK_TIER_TINY : HAK_TIER_POOL];

		for (cpu = 0; cpu < hak_heap.ncpus; cpu++) {
			struct hak_pcpu *pc = hak_heap.pcpu[cpu];

			if (pc)
				live += (int64_t)(hak_stat_read(&pc->allocs[c]) -
						  hak_stat_read(&pc->frees[c]));
		}
		if (live < 0) /* a racing snapshot */
			live = 0;
		if (out > live)
			st->cached_objects += (uint64_t)(out - live);
		t->objects_in_use += (uint64_t)live;
		t->bytes_in_use += (uint64_t)live * hak_class_size[c];
	}
}

void hak_stats(struct hak_stats *st)
{
	unsigned long flags;
	unsigned t;

	hak_memset(st, 0, sizeof(*st));
	st->ncpus = hak_heap.ncpus;
	add_classes(st);
	add_in_use(st);
	flags = hak_lock(&hak_heap.lock);
	st->tier[HAK_TIER_LARGE].bytes_in_use = hak_heap.large_bytes;
	st->tier[HAK_TIER_LARGE].objects_in_use = hak_heap.large_objects;
	st->tier[HAK_TIER_LARGE].allocs = hak_heap.large_allocs;
	st->tier[HAK_TIER_LARGE].frees = hak_heap.large_frees;
	st->provider_taken = hak_heap.taken;
	st->provider_returned = hak_heap.returned;
	st->provider_held = hak_heap.taken - hak_heap.returned;
	st->provider_peak = hak_heap.peak_held;
	st->meta_bytes = hak_heap.meta;
	st->superslabs = hak_heap.nss;
	hak_unlock(&hak_heap.lock, flags);
	for (t = 0; t < HAK_TIER__COUNT; t++)
		st->bytes_in_use += st->tier[t].bytes_in_use;
	st->peak_bytes_out = __atomic_load_n(&hak_heap.peak_out, __ATOMIC_RELAXED);
	for (t = 0; t < HAK_EV__COUNT; t++)
		st->events[t] = __atomic_load_n(&hak_heap.events[t], __ATOMIC_RELAXED);
}
