// SPDX-License-Identifier: MIT
/*
 * stats.c - hak_stats(): sums the per-CPU counters (written only inside
 * their CPU's critical section, read here with relaxed loads) and the
 * global ones. Exact when the heap is quiescent; a consistent-enough
 * snapshot otherwise. Nothing is counted twice: per-class figures are
 * derived from the magazines' headers and the shards' counts.
 */
#include "internal.h"

static void peak_raise(struct hak_heap *h, uint64_t now)
{
	uint64_t peak = __atomic_load_n(&h->peak_out, __ATOMIC_RELAXED);
	int tries;

	/* Folds are added after their shard lock is dropped, in any order:
	 * one that brings objects back may land before the one that counted
	 * them out, and the count then reads below 0 for a moment (wrapped).
	 * Not a peak (found by review: it would have stayed near 2^64). */
	if ((int64_t)now < 0)
		return;

	/* A few attempts only: a peak is a statistic, not worth a loop whose
	 * length another CPU decides. */
	for (tries = 0; tries < 4 && now > peak; tries++)
		if (__atomic_compare_exchange_n(&h->peak_out, &peak, now, 0,
						__ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			break;
}

/* The bytes out are the slab tiers' out_bytes plus the large tier's
 * large_bytes, which changes under the heap's lock: a large malloc or
 * free pays no atomic read-modify-write for this statistic (on the VMs
 * measured, one costs as much as the rest of a cached large malloc). */
void hak_stats_out_add(struct hak_heap *h, int64_t bytes)
{
	if (!bytes)
		return;
	uint64_t now = __atomic_add_fetch(&h->out_bytes, (uint64_t)bytes,
					  __ATOMIC_RELAXED);

	peak_raise(h, now + __atomic_load_n(&h->large_bytes,
					    __ATOMIC_RELAXED));
}

/*
 * Shard lock held: what the shard moved out of its slabs (+) or back (-)
 * since the heap's out_bytes last counted it, in bytes for
 * hak_stats_out_add once the lock is dropped, when that is more than
 * slack objects (a batch on the miss paths, 0 for an exact count);
 * else 0, and it waits. The count was an atomic on one heap-wide
 * line at every refill and drain: a read miss on a line the other CPUs'
 * misses write (5% of sh8bench-1t's samples, on that instruction alone).
 * A class whose refills and drains alternate now never writes it. The
 * price: between folds the count, and so the peak (hak_stats
 * peak_bytes_out), is off by up to a batch per class and object cache,
 * either way (HAK_BATCH_MAX objects, half a CPU cache's capacity); and
 * a drain adds its folds after its last hold, so a peak reached while
 * one is in flight may count its objects twice, and keeps them (a peak
 * only rises).
 * hak_stats folds the heap's classes in exactly before it reads the
 * peak, and a shard trim (hak_trim, an object cache's destroy) its
 * own.
 */
int64_t hak_stats_fold(struct hak_shard *sh, unsigned slack)
{
	int64_t d = (int64_t)(sh->out_objects - sh->out_folded);

	HAK_ASSERT(hak_lock_held(&sh->lock));
	if (d <= (int64_t)slack && d >= -(int64_t)slack)
		return 0;
	sh->out_folded = sh->out_objects;
	return d * (int64_t)sh->ci->size;
}

void hak_stats_large_peak(struct hak_heap *h)
{
	HAK_ASSERT(hak_lock_held(&h->lock));
	peak_raise(h, __atomic_load_n(&h->out_bytes, __ATOMIC_RELAXED) +
			      h->large_bytes);
}

/*
 * Per class: pops = sum of the magazines' allocs counters (each alloc a
 * cache served), cached = sum of their counts, out = objects outside the
 * slabs (the shard's count, exact under its lock), and the slow paths'
 * bypass counts (operations served past the magazines). Then live = out -
 * cached, allocs = pops + bypass allocs and frees = allocs - live: no
 * counter on the free fast path.
 */
static void add_classes(struct hak_heap *h, struct hak_stats *st)
{
	unsigned cpu, c, l;

	for (c = 0; c < HAK_NCLASSES; c++) {
		struct hak_shard *sh = &h->shard[c];
		struct hak_tier_stats *t =
			&st->tier[c < HAK_NTINY ? HAK_TIER_TINY
						: HAK_TIER_POOL];
		uint64_t pops = 0, cached = 0, out, live, ba, bf, a, f, gr;
		uint64_t hits, misses;
		int64_t fold;
		unsigned long flags;

		for (cpu = 0; cpu < hak_heap.ncpus; cpu++) {
			struct hak_pcpu *pc =
				hak_area_load((void *const *)&h->pcpu[cpu]);

			if (!pc)
				continue;
			pops += __atomic_load_n(&pc->mag[c].allocs,
						__ATOMIC_RELAXED);
			cached += hak_mag_count(&pc->mag[c]);
			st->cache_capacity +=
				(uint64_t)(__atomic_load_n(&pc->mag[c].limit,
							   __ATOMIC_RELAXED) -
					   pc->mag[c].base) *
				hak_class_size[c];
		}
		/* Objects in the transfer cache are free, outside the slabs. */
		cached += hak_transfer_count(h, c);
		st->transfer_batches += hak_transfer_moves(h, c);
		hak_lock_stats(&sh->lock, &st->lock_holds, &st->lock_waits);
		for (l = 0; l < HAK_LANES && hak_transfer_of(h, c, l); l++)
			hak_lock_stats(&hak_transfer_of(h, c, l)->lock,
				       &st->lock_holds, &st->lock_waits);
		flags = hak_lock(&sh->lock);
		out = sh->out_objects;
		fold = hak_stats_fold(sh, 0);
		hak_unlock(&sh->lock, flags);
		hak_stats_out_add(h, fold);
		ba = hak_stat_read(&sh->bypass_allocs);
		bf = hak_stat_read(&sh->bypass_frees);
		live = out > cached ? out - cached : 0; /* racing snapshot */
		a = pops + ba;
		f = a > live ? a - live : 0;
		t->allocs += a;
		t->frees += f;
		t->objects_in_use += live;
		t->bytes_in_use += live * hak_class_size[c];
		st->cached_objects += cached;
		/* Hits: allocs and frees the magazines served; a free that
		 * grew its class took the slow path: a miss. */
		gr = hak_stat_read(&sh->grows);
		hits = pops + (f > bf + gr ? f - bf - gr : 0);
		misses = ba + bf + gr;
		st->cache_hits += hits;
		st->cache_misses += misses;
		t->cache_hits += hits;
		t->cache_misses += misses;
		st->cache_grows += gr;
		st->cache_shrinks += hak_stat_read(&sh->shrinks);
		st->refills += ba;
		st->drains += bf + hak_stat_read(&sh->drains);
	}
}

void hak_heap_stats_fill(struct hak_heap *h, struct hak_stats *st)
{
	unsigned long flags;
	unsigned t;

	hak_memset(st, 0, sizeof(*st));
	st->ncpus = hak_heap.ncpus;
	st->fast_path = hak_port_fast_path_name();
	st->free_lookup = h == &hak_heap && h->sm_len ? "slabmap" : "pagemap";
	st->restarts = hak_stat_read(&h->restarts);
	st->check_skipped = hak_stat_read(&h->check_skips);
	add_classes(h, st);
	flags = hak_lock(&h->lock);
	st->tier[HAK_TIER_LARGE].bytes_in_use = h->large_bytes;
	st->tier[HAK_TIER_LARGE].objects_in_use = h->large_objects;
	st->tier[HAK_TIER_LARGE].allocs = h->large_allocs;
	st->tier[HAK_TIER_LARGE].frees = h->large_frees;
	st->provider_taken = h->taken;
	st->provider_returned = h->returned;
	st->provider_held = h->taken - h->returned;
	st->provider_peak = h->peak_held;
	st->meta_bytes = h->meta;
	st->superslabs = h->nss;
	st->large_cached = h->large_cache.bytes;
	hak_unlock(&h->lock, flags);
	for (t = 0; t < HAK_TIER__COUNT; t++)
		st->bytes_in_use += st->tier[t].bytes_in_use;
	st->peak_bytes_out = __atomic_load_n(&h->peak_out, __ATOMIC_RELAXED);
	hak_lock_stats(&h->lock, &st->lock_holds, &st->lock_waits);
	hak_lock_stats(&h->provider_lock, &st->lock_holds, &st->lock_waits);
	if (h == &hak_heap) {
		hak_lock_stats(&hak_heaps_lock, &st->lock_holds,
			       &st->lock_waits);
		hak_large_run_lock_stats(&st->lock_holds, &st->lock_waits);
	}
	for (t = 0; t < HAK_EV__COUNT; t++)
		st->events[t] =
			__atomic_load_n(&h->events[t], __ATOMIC_RELAXED);
}

void hak_stats(struct hak_stats *st)
{
	if (!st) {
		hak_report(HAK_EV_MISUSE, NULL, 0, "hak_stats: NULL");
		return;
	}
	hak_heap_stats_fill(&hak_heap, st);
}
