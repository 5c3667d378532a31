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
 * The default heap's per-CPU areas are allocated once, at hak_init, for
 * ncpus CPUs. A created heap's and an object cache's are allocated from
 * its own provider when a CPU first misses in it (until then its table
 * points at an area whose magazines are empty and full), so a heap costs
 * per-CPU memory only on the CPUs that use it.
 *
 * The misses are written once, over a front (struct hak_front): the
 * default heap's classes, a created heap's, an object cache.
 *
 * Every miss first checks in (hak_remote_poll): it serves what other CPUs
 * asked of this cache (remote.c) and, with HAK_CHECK_CPU_OWNER, checks
 * that the CPU id belongs to this hardware CPU. A CPU's first operation
 * meets an empty cache, and a CPU that shares another's id misses within
 * one magazine's worth of operations, so a misconfigured id is caught at
 * once: an out-of-range id at the first call, an alias soon after.
 */
#include "pcpu_ops.h"

/* An area whose every magazine is empty and full: all zero. */
struct hak_pcpu hak_pcpu_none;

static size_t area_head(void)
{
	return hak_round_up(sizeof(struct hak_pcpu), ARCH_CACHELINE);
}

size_t hak_pcpu_one_bytes(unsigned cap)
{
	return hak_round_up(sizeof(struct hak_pcpu_one) +
				    (size_t)cap * sizeof(void *),
			    HAK_PAGE_SIZE);
}

size_t hak_pcpu_area_bytes(struct hak_heap *h)
{
	size_t slots = 0;
	unsigned c;

	for (c = 0; c < HAK_NCLASSES; c++)
		slots += h->shard[c].cap_max;
	return hak_round_up(area_head() + slots * sizeof(void *),
			    HAK_PAGE_SIZE);
}

static void area_init(struct hak_heap *h, struct hak_pcpu *pc)
{
	void **slot = (void **)((char *)pc + area_head());
	unsigned c;

	hak_memset(pc, 0, area_head());
	for (c = 0; c < HAK_NCLASSES; c++) {
		pc->mag[c].base = slot;
		pc->mag[c].top = slot;
		pc->mag[c].limit = slot + h->shard[c].cap;
		slot += h->shard[c].cap_max;
		pc->cap_bytes += (uint64_t)h->shard[c].cap *
				 h->shard[c].ci->size;
	}
}

int hak_pcpu_alloc_areas(struct hak_heap *h, unsigned ncpus)
{
	size_t bytes = hak_pcpu_area_bytes(h);
	unsigned cpu;

	hak_pcpu_guards_init((void **)h->pcpu);
	for (cpu = 0; cpu < ncpus; cpu++) {
		unsigned long flags = hak_lock(&h->lock);
		struct hak_pcpu *pc = hak_provider_alloc(h, bytes,
							 HAK_PAGE_SIZE, 1);

		hak_unlock(&h->lock, flags);
		if (!pc) {
			/* Nothing runs on them yet: the areas made so far go
			 * back, so that a later init (the hosted lazy init
			 * retries) takes them again rather than more. */
			while (cpu--) {
				pc = h->pcpu[cpu];
				hak_area_publish((void **)&h->pcpu[cpu], NULL);
				hak_provider_put_meta(h, pc, bytes);
			}
			return -1;
		}
		hak_port_area_advise(pc, bytes); /* before any touch */
		area_init(h, pc);
		hak_area_publish((void **)&h->pcpu[cpu], pc);
	}
	return 0;
}

/*
 * A created heap's (cache 0) or an object cache's (cache 1: cap slots)
 * area into *slot if it still points at hak_pcpu_none: from h's provider,
 * set up with no lock held and stored under h's lock (the slot is re-read
 * under it: of two racing CPUs' areas one is kept, the other given back).
 * Returns 0, or -1 when the provider or the limit says no.
 */
int hak_pcpu_area_make(struct hak_heap *h, void **slot, int cache,
		       unsigned cap)
{
	size_t bytes = cache ? hak_pcpu_one_bytes(cap) : h->pcpu_bytes;
	unsigned long flags;
	void *a;

	if (hak_area_load((void *const *)slot) != (void *)&hak_pcpu_none)
		return 0;
	a = hak_provider_alloc_unlocked(h, bytes, HAK_PAGE_SIZE, 1);
	if (!a)
		return -1;
	/* Set up with no lock held (IRQs on: a created heap's area is tens
	 * of magazines), published under h's lock if still wanted. */
	if (cache) {
		struct hak_pcpu_one *one = a;

		hak_memset(one, 0, sizeof(*one));
		one->mag.base = (void **)(one + 1);
		one->mag.top = one->mag.base;
		one->mag.limit = one->mag.base + cap;
	} else {
		area_init(h, a);
	}
	flags = hak_lock(&h->lock);
	if (*slot == (void *)&hak_pcpu_none) {
		hak_area_publish(slot, a);
		a = NULL;
	}
	hak_unlock(&h->lock, flags);
	if (a) /* another CPU made it first: ours goes back */
		hak_provider_put_meta(h, a, bytes);
	return 0;
}

/* On a miss: the area of the CPU we probably run on, if it has none yet.
 * A failure leaves the CPU on the empty area: its operations then all go
 * to the shard. */
static void front_ensure(const struct hak_front *f)
{
	struct hak_shard *sh = f->sh;
	unsigned cpu = hak_port_cpu_hint();
	void **slot;

	/* The default heap's classes have their areas from hak_init. */
	if (cpu >= hak_heap.ncpus ||
	    (sh->heap == &hak_heap && sh->cls != HAK_CLASS_CACHE))
		return;
	slot = (void **)&f->table[cpu];
	if (__atomic_load_n(slot, __ATOMIC_ACQUIRE) == (void *)&hak_pcpu_none)
		hak_pcpu_area_make(sh->heap, slot, sh->cls == HAK_CLASS_CACHE,
				   sh->cap);
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
 * Dynamic capacity (the default heap: its shards' cap_max > cap). Each
 * class starts at its initial capacity, cap; the area reserves cap_max
 * slots for it. A free that finds the magazine full grows the class by a
 * batch instead of draining one, if
 *   - this CPU has served at least the new capacity's worth of
 *     allocations of the class from its cache since the class was last
 *     at cap (a CPU that only frees what others allocate, a consumer,
 *     never grows: its objects would only sit there), and
 *   - the CPU's classes together stay within hak_heap.cpu_budget bytes,
 *     and all CPUs' growth together within heap_grow_budget bytes.
 * Idle decay, hak_trim and hak_cpu_offline put an emptied class back at
 * cap (cap_reset_locked), which returns its bytes to the budget: so the
 * budget moves from idle classes to the ones that miss.
 *
 * Only this CPU's critical section changes a magazine's limit and the
 * budget. A grow's one store of the limit races with nothing that
 * matters: a concurrent hosted rseq section reads the old or the new
 * limit, and the slots up to cap_max are the class's either way. A
 * shrink must not let top pass the new limit, so on the hosted port it
 * takes the cache exclusively (no rseq section there runs meanwhile).
 */

/* Whether m has grown past sh's initial capacity and is empty: what a
 * shrink needs. Exact inside the CPU's critical section; outside it, a
 * racy look that spares the section when there is nothing to do. */
static int cap_grown_empty(const struct hak_shard *sh,
			   const struct hak_mag *m)
{
	return __atomic_load_n(&m->limit, __ATOMIC_RELAXED) - m->base >
		       (long)sh->cap &&
	       hak_mag_top(m) == m->base;
}

/* Inside pc's critical section (or with the cache taken exclusively). A
 * created heap's classes never grow: nothing to do for them. */
static void cap_reset_locked(struct hak_heap *h, struct hak_pcpu *pc,
			     unsigned cls)
{
	struct hak_shard *sh = &h->shard[cls];
	struct hak_mag *m = &pc->mag[cls];
	uint64_t grew;

	if (!cap_grown_empty(sh, m))
		return;
	grew = (uint64_t)(m->limit - m->base - sh->cap) * sh->ci->size;
	pc->cap_bytes -= grew;
	__atomic_fetch_sub(&h->grown_bytes, grew, __ATOMIC_RELAXED);
	pc->grow_seen[cls] = m->allocs;
	__atomic_store_n(&m->limit, m->base + sh->cap, __ATOMIC_RELAXED);
	hak_stat_add(&sh->shrinks, 1);
}

/*
 * The calling CPU's class cls of the default heap back at cap, if its
 * magazine is empty. A racy look first, on every port: idle decay calls
 * this at each visit to an idle, empty class, and the section it spares
 * is IRQs masked on bare metal and a membarrier on the hosted port.
 */
void hak_pcpu_cap_reset(unsigned cls)
{
	struct hak_pcpu *pc;
	unsigned long flags;
	unsigned cpu = hak_port_cpu_hint();

	if (cpu >= hak_heap.ncpus ||
	    !cap_grown_empty(&hak_heap.shard[cls],
			     &hak_heap.pcpu[cpu]->mag[cls]))
		return;
	if (HAK_PORT_REMOTE_EXCLUSIVE) {
		/* Exclusive: no rseq section there pushes meanwhile. */
		void **slot = (void **)&hak_heap.pcpu[cpu];

		pc = *slot;
		hak_port_pcpu_enter_remote(cpu, &flags, slot);
		cap_reset_locked(&hak_heap, pc, cls);
		hak_port_pcpu_exit_remote(cpu, flags, slot);
		return;
	}
	cpu = hak_port_pcpu_enter(&flags);
	if (cpu < hak_heap.ncpus)
		cap_reset_locked(&hak_heap, hak_heap.pcpu[cpu], cls);
	hak_port_pcpu_exit(cpu, flags);
}

/* Inside a CPU's critical section: bytes more of growth within the
 * heap's budget, 1; else 0 and nothing taken. The count is heap-wide, so
 * an atomic (a caller that migrates meanwhile still adds to the one
 * count); a grow is at most one a batch of frees, and rare once a class
 * has grown. A grow that raced past the budget gives its share back: a
 * transient overshoot a concurrent grow may see and refuse on. */
static int heap_grow_take(struct hak_heap *h, uint64_t bytes)
{
	uint64_t now;

	/* A look first: once the budget is spent, a full magazine's free
	 * on every CPU would add and take back on the heap's line. */
	if (__atomic_load_n(&h->grown_bytes, __ATOMIC_RELAXED) + bytes >
	    h->heap_grow_budget)
		return 0;
	now = __atomic_add_fetch(&h->grown_bytes, bytes, __ATOMIC_RELAXED);

	if (now <= h->heap_grow_budget)
		return 1;
	__atomic_fetch_sub(&h->grown_bytes, bytes, __ATOMIC_RELAXED);
	return 0;
}

/* A free found f's magazine full: 1 if the class grew (see above). */
static int cap_grow(const struct hak_front *f)
{
	struct hak_shard *sh = f->sh;
	struct hak_heap *h = sh->heap;
	unsigned long flags;
	unsigned cpu, cur, g;
	int grew = 0;

	if (sh->cap_max <= sh->cap ||
	    __atomic_load_n(&h->grow_off, __ATOMIC_RELAXED))
		return 0;
	cpu = hak_port_pcpu_enter(&flags);
	if (cpu < h->ncpus) {
		struct hak_pcpu *pc = h->pcpu[cpu];
		struct hak_mag *m = &pc->mag[sh->cls];
		uint64_t bytes;

		cur = (unsigned)(m->limit - m->base);
		g = sh->cap_max - cur < sh->batch ? sh->cap_max - cur
						  : sh->batch;
		bytes = (uint64_t)g * sh->ci->size;
		if (g && m->allocs - pc->grow_seen[sh->cls] >= cur + g &&
		    pc->cap_bytes + bytes <= h->cpu_budget &&
		    heap_grow_take(h, bytes)) {
			pc->cap_bytes += bytes;
			__atomic_store_n(&m->limit, m->limit + g,
					 __ATOMIC_RELAXED);
			grew = 1;
		}
	}
	hak_port_pcpu_exit(cpu, flags);
	if (grew)
		hak_stat_add(&sh->grows, 1);
	return grew;
}

/*
 * Allocation miss. One batch comes from the shard outside any critical
 * section (with IRQs enabled on bare metal, except under the shard lock);
 * one object is the caller's, the rest go into the magazine of whichever
 * CPU we are on by now, and what no longer fits goes straight back.
 * The caller's object bypassed the magazine, so it is counted apart.
 */
void *hak_front_alloc_miss(const struct hak_front *f)
{
	void *batch[HAK_BATCH_MAX];
	struct hak_shard *sh = f->sh;
	unsigned n, k, b = sh->batch;
	void *p;

	hak_remote_poll(0);
	/* The fast path may only have met a busy cache (hosted fallback). */
	p = hak_op_pop_wait(f);
	if (p)
		return p;
	if (unlikely(!hak_port_has_cpu())) {
		/* No cache would take the rest of a batch: one object.
		 * (A batch of 64 and 63 back cost 320 ns a malloc and free
		 * on x86_64, against 10 through a cache.) */
		b = 1;
		n = hak_shared_refill(sh, batch, b);
	} else {
		front_ensure(f);
		/* A batch another CPU's free miss handed over, if any: O(1)
		 * an object; else from the slabs. */
		if (f->xh && !hak_transfer_get(f->xh, sh->cls, batch))
			n = b;
		else
			n = hak_shared_refill(sh, batch, b);
	}
	if (!n) {
		/* Out of memory: give back what hysteresis and caches hold,
		 * then try once more. */
		hak_reclaim(sh->heap, 0);
		n = hak_shared_refill(sh, batch, b);
		if (!n)
			return NULL;
	}
	hak_stat_add(&sh->bypass_allocs, 1); /* and a refill */
	p = batch[--n];
	k = n ? hak_op_push_batch(f, batch, n) : 0;
	if (k < n)
		hak_shared_drain(sh, batch + k, n - k);
	return p;
}

/*
 * Free miss: take a batch off the top of the magazine and hand it to the
 * transfer cache whole, or, when that is full (or there is none), return
 * it with p to the slabs, outside the critical section.
 */
void hak_front_free_miss(const struct hak_front *f, void *p)
{
	void *batch[HAK_BATCH_MAX + 1];
	struct hak_shard *sh = f->sh;
	unsigned k, b = sh->batch;
	int grew;

	hak_remote_poll(0);
	if (!hak_op_push_wait(f, p))
		return;
	if (unlikely(!hak_port_has_cpu())) {
		/* No cache: p alone to its slab, nothing grown or set up on
		 * the CPU its id hashes to. */
		hak_shared_drain(sh, &p, 1);
		hak_stat_add(&sh->bypass_frees, 1);
		return;
	}
	front_ensure(f);
	/* Room instead of a drain: p is then a cache hit after all, which
	 * the grows count tells hak_stats (stats.c). */
	grew = cap_grow(f);
	if (grew && hak_op_push_batch(f, &p, 1))
		return;
	k = hak_op_pop_batch(f, batch, b);
	if (k == b && f->xh && !hak_transfer_put(f->xh, sh->cls, batch)) {
		/* The batch went over whole; p takes the room it left (on
		 * whichever CPU we run on by now), else to its slab. */
		if (!hak_op_push_batch(f, &p, 1))
			hak_shared_drain(sh, &p, 1);
	} else if (k || !hak_op_push_batch(f, &p, 1)) {
		/* (k 0: a first free on this CPU, whose area is there now,
		 * or a full one that could not be emptied.) */
		batch[k] = p;
		hak_shared_drain(sh, batch, k + 1);
	}
	/* A miss and a drain; the miss counted already by a grow whose push
	 * then found no room (we had moved to a CPU whose magazine is full):
	 * the drain alone then, so stats.c counts this free once. */
	hak_stat_add(grew ? &sh->drains : &sh->bypass_frees, 1);
}

void *hak_pcpu_alloc_miss(unsigned cls)
{
	struct hak_front f = hak_front_of(&hak_heap, cls);
	void *p = hak_front_alloc_miss(&f);

	hak_decay_step(0); /* idle classes drain while others miss */
	return p;
}

void hak_pcpu_free_miss(unsigned cls, void *p)
{
	struct hak_front f = hak_front_of(&hak_heap, cls);

	hak_front_free_miss(&f, p);
}

unsigned hak_mag_drain_remote(struct hak_shard *sh, struct hak_mag *m,
			      void **slot, unsigned cpu)
{
	void *chunk[HAK_DRAIN_CHUNK];
	unsigned long flags;
	unsigned k, rounds = sh->cap_max / HAK_DRAIN_CHUNK + 1, moved = 0;

	while (rounds--) {
		hak_port_pcpu_enter_remote(cpu, &flags, slot);
		k = mag_pop_batch_locked(m, chunk, HAK_DRAIN_CHUNK);
		hak_port_pcpu_exit_remote(cpu, flags, slot);
		if (!k)
			break;
		hak_shared_drain(sh, chunk, k);
		moved += k;
	}
	if (moved)
		hak_stat_add(&sh->drains, 1);
	return moved;
}

/* cpu's cache from a context that enters it remotely (hak_cpu_offline:
 * cpu runs no hakmem code, or is the caller), a class at a time, then
 * each emptied class's grown capacity back. */
void hak_pcpu_drain_remote(struct hak_heap *h, struct hak_pcpu *pc,
			   unsigned cpu)
{
	void **slot = (void **)&h->pcpu[cpu];
	unsigned long flags;
	unsigned c;

	for (c = 0; c < HAK_NCLASSES; c++) {
		hak_mag_drain_remote(&h->shard[c], &pc->mag[c], slot, cpu);
		hak_port_pcpu_enter_remote(cpu, &flags, slot);
		cap_reset_locked(h, pc, c);
		hak_port_pcpu_exit_remote(cpu, flags, slot);
	}
}

void hak_pcpu_flush(struct hak_heap *h, struct hak_pcpu *pc, unsigned cpu,
		    unsigned max)
{
	unsigned c;

	HAK_ASSERT(hak_port_pcpu_held(cpu));
	(void)cpu;
	for (c = 0; c < HAK_NCLASSES; c++) {
		struct hak_mag *m = &pc->mag[c];
		unsigned n = hak_mag_count(m);

		if (n > max)
			continue; /* left cached, capacity as it is */
		if (n) {
			max -= n;
			hak_shared_drain(&h->shard[c], m->base, n);
			hak_mag_set_top(m, m->base);
			hak_stat_add(&h->shard[c].drains, 1);
		}
		cap_reset_locked(h, pc, c);
	}
}

int hak_pcpu_check_object(void *ptr, struct hak_shard *sh, const char *where)
{
	uintptr_t p = (uintptr_t)ptr, e = hak_pagemap_get(p);
	struct hak_slab *s = hak_pm_slab(e);
	uint32_t idx;

	if ((e & HAK_PM_TAG_MASK) != HAK_PM_TAG_SLAB ||
	    p - s->start >= s->span) {
		hak_report(HAK_EV_CORRUPTION, ptr, sh->cls, where);
		return 1;
	}
	idx = hak_obj_index(p - s->start, s->inv);
	if (s->shard != sh || (uintptr_t)idx * s->size != p - s->start ||
	    hak_slab_bit_is_free(s, idx)) {
		hak_report(HAK_EV_CORRUPTION, ptr, sh->cls, where);
		return 1;
	}
	return 0;
}

/* Inside cpu's critical section: class c's magazine header is sane. */
static int mag_bad(struct hak_heap *h, struct hak_pcpu *pc, unsigned cpu,
		   unsigned c)
{
	if (hak_mag_header_ok(&pc->mag[c], h->shard[c].cap,
			      h->shard[c].cap_max))
		return 0;
	hak_report(HAK_EV_CORRUPTION, pc, cpu, "cache count");
	return 1;
}

/* Inside cpu's critical section: every cached pointer must be an
 * allocated-from-slab object of the magazine's class. */
int hak_pcpu_check(struct hak_heap *h, struct hak_pcpu *pc, unsigned cpu)
{
	int bad = 0;
	unsigned c, i;

	HAK_ASSERT(hak_port_pcpu_held(cpu));
	for (c = 0; c < HAK_NCLASSES; c++) {
		struct hak_mag *m = &pc->mag[c];
		unsigned n = hak_mag_count(m);

		if (mag_bad(h, pc, cpu, c)) {
			bad++;
			continue;
		}
		for (i = 0; i < n; i++)
			bad += hak_pcpu_check_object(m->base[i], &h->shard[c],
						     "CPU cache");
	}
	return bad;
}

/*
 * Inside cpu's critical section: a chunk (HAK_DRAIN_CHUNK objects) of
 * class c's magazine checked from *pos on; *pos moves past it, to
 * HAK_CHECK_DONE once the magazine is done (or its header is bad). An IRQ
 * handler may have popped below *pos since the last chunk; one it pushes
 * below the place is not checked.
 */
int hak_pcpu_check_chunk(struct hak_heap *h, struct hak_pcpu *pc,
			 unsigned cpu, unsigned c, unsigned *pos)
{
	struct hak_mag *m = &pc->mag[c];
	unsigned i = *pos, n, end;
	int bad = 0;

	HAK_ASSERT(hak_port_pcpu_held(cpu));
	if (mag_bad(h, pc, cpu, c)) {
		*pos = HAK_CHECK_DONE;
		return 1;
	}
	n = hak_mag_count(m);
	end = hak_chunk_end(i, n, HAK_DRAIN_CHUNK);
	for (; i < end; i++)
		bad += hak_pcpu_check_object(m->base[i], &h->shard[c],
					     "CPU cache");
	*pos = end >= n ? HAK_CHECK_DONE : end;
	return bad;
}
