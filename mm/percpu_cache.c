// SPDX-License-Identifier: MIT
/*
 * percpu_cache.c - the per-CPU caches ("magazines") and their slow paths.
 *
 * Each CPU has, per size class, a bounded stack of free object pointers
 * (struct hak_mag). The fast paths in malloc.c pop and push it with one
 * per-CPU critical section each (pcpu_ops.h): no lock, no atomic RMW.
 * Here live the misses: an empty magazine is refilled with one batch (half
 * its capacity) from the class's shard, and a full one gives half back, so
 * the next few operations hit again whichever way they go. The shard is
 * only touched outside the critical section.
 *
 * A pointer array rather than a list threaded through the objects: the
 * cache never reads or writes object memory, batches are plain copies, and
 * the capacity bound is structural. Capacity is HAK_CACHE_BYTES of objects
 * per class, clamped to [HAK_CACHE_MIN, HAK_CACHE_MAX].
 *
 * Per-CPU areas are allocated once, at hak_init, for ncpus CPUs.
 *
 * Every miss first checks in (hak_remote_poll): it serves what other CPUs
 * asked of this cache (remote.c) and, with HAK_CHECK_CPU_OWNER, checks
 * that the CPU id belongs to this hardware CPU. A CPU's first operation
 * meets an empty cache, and a CPU that shares another's id misses within
 * one magazine's worth of operations, so a misconfigured id is caught at
 * once: an out-of-range id at the first call, an alias soon after.
 */
#include "pcpu_ops.h"

int hak_pcpu_alloc_areas(unsigned ncpus)
{
	size_t head = hak_round_up(sizeof(struct hak_pcpu), ARCH_CACHELINE);
	size_t slots = 0, bytes;
	unsigned cpu, c;

	for (c = 0; c < HAK_NCLASSES; c++)
		slots += hak_classes[c].cache_cap;
	bytes = hak_round_up(head + slots * sizeof(void *), HAK_PAGE_SIZE);
	for (cpu = 0; cpu < ncpus; cpu++) {
		unsigned long flags = hak_lock(&hak_heap.lock);
		struct hak_pcpu *pc =
			hak_provider_alloc(bytes, HAK_PAGE_SIZE, 1);
		void **slot;

		hak_unlock(&hak_heap.lock, flags);
		if (!pc)
			return -1;
		hak_memset(pc, 0, head);
		slot = (void **)((char *)pc + head);
		for (c = 0; c < HAK_NCLASSES; c++) {
			pc->mag[c].base = slot;
			pc->mag[c].top = slot;
			slot += hak_classes[c].cache_cap;
			pc->mag[c].limit = slot;
		}
		hak_heap.pcpu[cpu] = pc;
	}
	return 0;
}

/* Per-CPU slow-path counters are atomic adds, so any CPU's will do: take
 * the one we probably run on. */
static struct hak_pcpu *stat_pcpu(void)
{
	unsigned c = hak_port_cpu_hint();

	return hak_heap.pcpu[c < hak_heap.ncpus ? c : 0];
}

unsigned hak_pcpu_cached(const struct hak_pcpu *pc)
{
	unsigned c, n = 0;

	for (c = 0; c < HAK_NCLASSES; c++)
		n += hak_mag_count(&pc->mag[c]);
	return n;
}

void hak_pcpu_bad_id(unsigned cpu)
{
	char msg[160], *m = msg, *end = msg + sizeof(msg);

	if (!__atomic_load_n(&hak_heap.ready, __ATOMIC_ACQUIRE))
		return;
	m = hak_fmt_str(m, end, "hakmem: CPU id ");
	m = hak_fmt_uint(m, end, cpu, 10);
	m = hak_fmt_str(m, end, " is not below ncpus ");
	m = hak_fmt_uint(m, end, hak_heap.ncpus, 10);
	hak_fmt_str(m, end, ": the CPU id source is not set up on this CPU, "
			    "or ids are not dense");
	hak_panic(msg);
}

/*
 * Allocation miss. One batch comes from the shard outside any critical
 * section (with IRQs enabled on bare metal, except under the shard lock);
 * one object is the caller's, the rest go into the magazine of whichever
 * CPU we are on by now, and what no longer fits goes straight back.
 * The caller's object bypassed the magazine, so it is counted apart.
 */
void *hak_pcpu_alloc_miss(unsigned cls)
{
	void *batch[HAK_CACHE_MAX / 2];
	unsigned n, k;
	void *p;

	hak_remote_poll();
	/* The fast path may only have met a busy cache (hosted fallback). */
	p = hak_op_pop_wait(cls);
	if (p)
		return p;
	hak_stat_add(&stat_pcpu()->alloc_misses, 1);
	/* A batch another CPU's free miss handed over, if any: O(1) an
	 * object; else from the slabs. */
	if (!hak_transfer_get(cls, batch))
		n = hak_classes[cls].batch;
	else
		n = hak_shared_refill(cls, batch, hak_classes[cls].batch);
	if (!n) {
		/* Out of memory: give back what hysteresis and caches hold,
		 * then try once more. */
		hak_reclaim();
		n = hak_shared_refill(cls, batch, hak_classes[cls].batch);
		if (!n)
			return NULL;
	}
	hak_stat_add(&stat_pcpu()->refills, 1);
	hak_stat_add(&hak_heap.shard[cls].bypass_allocs, 1);
	p = batch[--n];
	k = n ? hak_op_push_batch(cls, batch, n) : 0;
	if (k < n)
		hak_shared_drain(cls, batch + k, n - k);
	return p;
}

/*
 * Free miss: take a batch off the top of the magazine and hand it to the
 * class's transfer cache whole, or, when that is full, return it with p
 * to the slabs, outside the critical section.
 */
void hak_pcpu_free_miss(unsigned cls, void *p)
{
	void *batch[HAK_CACHE_MAX / 2 + 1];
	unsigned k;

	hak_remote_poll();
	if (!hak_op_push_wait(cls, p))
		return;
	k = hak_op_pop_batch(cls, batch, hak_classes[cls].batch);
	if (k == hak_classes[cls].batch && !hak_transfer_put(cls, batch)) {
		/* The batch went over whole; p takes the room it left (on
		 * whichever CPU we run on by now), else to its slab. */
		if (!hak_op_push_batch(cls, &p, 1))
			hak_shared_drain(cls, &p, 1);
	} else {
		batch[k] = p;
		hak_shared_drain(cls, batch, k + 1);
	}
	hak_stat_add(&hak_heap.shard[cls].bypass_frees, 1);
	hak_stat_add(&stat_pcpu()->free_misses, 1);
	hak_stat_add(&stat_pcpu()->drains, 1);
}

/*
 * The calling CPU's cache back to the shards a chunk at a time: each
 * pop_batch is one short critical section and each drain runs outside
 * it, so IRQs are never masked for a whole cache. Per class at most what
 * a full magazine holds, plus one chunk: frees from IRQ handlers meanwhile
 * cannot keep it going.
 */
void hak_pcpu_drain_own(void)
{
	void *chunk[HAK_DRAIN_CHUNK];
	unsigned c, k, rounds, moved;

	for (c = 0; c < HAK_NCLASSES; c++) {
		rounds = hak_classes[c].cache_cap / HAK_DRAIN_CHUNK + 1;
		moved = 0;
		while (rounds-- &&
		       (k = hak_op_pop_batch(c, chunk, HAK_DRAIN_CHUNK))) {
			hak_shared_drain(c, chunk, k);
			moved += k;
		}
		if (moved) /* one drain per class, as hak_pcpu_flush counts */
			hak_stat_add(&stat_pcpu()->drains, 1);
	}
}

/*
 * cpu's cache from a context that enters it remotely, HAK_DRAIN_CHUNK
 * objects per remote section, each drain outside it (hak_cpu_offline:
 * cpu runs no hakmem code, or is the caller). Per class at most a full
 * magazine plus one chunk, as hak_pcpu_drain_own.
 */
void hak_pcpu_drain_remote(struct hak_pcpu *pc, unsigned cpu)
{
	void *chunk[HAK_DRAIN_CHUNK];
	unsigned long flags;
	unsigned c, k, rounds, moved;

	for (c = 0; c < HAK_NCLASSES; c++) {
		rounds = hak_classes[c].cache_cap / HAK_DRAIN_CHUNK + 1;
		moved = 0;
		while (rounds--) {
			hak_port_pcpu_enter_remote(cpu, &flags, &pc->excl);
			k = mag_pop_batch_locked(&pc->mag[c], chunk,
						 HAK_DRAIN_CHUNK);
			hak_port_pcpu_exit_remote(cpu, flags, &pc->excl);
			if (!k)
				break;
			hak_shared_drain(c, chunk, k);
			moved += k;
		}
		if (moved)
			hak_stat_add(&pc->drains, 1);
	}
}

void hak_pcpu_flush(struct hak_pcpu *pc, unsigned cpu)
{
	unsigned c;

	HAK_ASSERT(hak_port_pcpu_held(cpu));
	for (c = 0; c < HAK_NCLASSES; c++) {
		struct hak_mag *m = &pc->mag[c];
		unsigned n = hak_mag_count(m);

		if (!n)
			continue;
		hak_shared_drain(c, m->base, n);
		hak_mag_set_top(m, m->base);
		hak_stat_add(&pc->drains, 1);
	}
}

int hak_pcpu_check_object(void *ptr, unsigned cls, const char *where)
{
	uintptr_t p = (uintptr_t)ptr, e = hak_pagemap_get(p);
	struct hak_slab *s = hak_pm_slab(e);
	uint32_t idx;

	if ((e & HAK_PM_TAG_MASK) != HAK_PM_TAG_SLAB ||
	    p - s->start >= s->span) {
		hak_report(HAK_EV_CORRUPTION, ptr, cls, where);
		return 1;
	}
	idx = hak_obj_index(p - s->start, s->inv);
	if (s->cls != cls || (uintptr_t)idx * s->size != p - s->start ||
	    hak_slab_bit_is_free(s, idx)) {
		hak_report(HAK_EV_CORRUPTION, ptr, cls, where);
		return 1;
	}
	return 0;
}

/* Inside cpu's critical section: every cached pointer must be an
 * allocated-from-slab object of the magazine's class. */
int hak_pcpu_check(struct hak_pcpu *pc, unsigned cpu)
{
	int bad = 0;
	unsigned c, i;

	HAK_ASSERT(hak_port_pcpu_held(cpu));
	for (c = 0; c < HAK_NCLASSES; c++) {
		struct hak_mag *m = &pc->mag[c];
		unsigned n = hak_mag_count(m);

		if (hak_mag_top(m) < m->base || n > hak_classes[c].cache_cap ||
		    m->limit != m->base + hak_classes[c].cache_cap) {
			hak_report(HAK_EV_CORRUPTION, pc, cpu, "cache count");
			bad++;
			continue;
		}
		for (i = 0; i < n; i++)
			bad += hak_pcpu_check_object(m->base[i], c, "CPU cache");
	}
	return bad;
}
