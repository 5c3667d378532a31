// SPDX-License-Identifier: MIT
/*
 * malloc.c - the public allocation API and its fast paths.
 *
 * malloc (Tiny/Pool): size -> class by one table load, enter the per-CPU
 * critical section, pop the class's magazine, leave. A miss refills one
 * batch from the shared pool (percpu_cache.c). Large sizes go to large.c.
 *
 * free: the page map says, from the pointer alone, whether it is a slab
 * object or a large run. A slab pointer is then checked against its slab:
 * inside the object area, at an object boundary (a multiply by the class's
 * reciprocal, no division), not already free in the slab (bitmap), and not
 * already in a CPU cache (the free cookie, below). Only then is it pushed
 * on the magazine. Anything else is reported and ignored.
 *
 * The free cookie: free() stores secret ^ address in the block's second
 * word and malloc() clears it, so a block that is free but cached (not yet
 * back in its slab bitmap) is recognised when freed again. The secret is
 * random per heap, so live data matches it only by design of an attacker
 * who can already read freed memory. Every class is >= 16 bytes, so the
 * word always lies inside the block.
 */
#include "pcpu_ops.h"

#define COOKIE_WORD HAK_COOKIE_WORD

static inline void cookie_clear(void *p)
{
	if (HAK_HARDEN)
		((uintptr_t *)p)[COOKIE_WORD] = 0;
}

static void *not_initialised(size_t size)
{
	hak_report(HAK_EV_NOT_INITIALISED, NULL, size, "call hak_init first");
	return NULL;
}

/*
 * Slow paths. align is what the caller asked for (0 for plain malloc), so
 * that a first call that finds hakmem uninitialised can redo the class
 * lookup once the lazy init filled the tables.
 */
static __attribute__((noinline)) void *alloc_slow(size_t size,
						  uintptr_t magoff,
						  size_t align)
{
	unsigned cls = HAK_MAG_CLASS(magoff);
	void *p;

	if (unlikely(!__atomic_load_n(&hak_heap.ready, __ATOMIC_ACQUIRE))) {
		if (hak_port_lazy_init())
			return not_initialised(size);
		return align ? HAK_RAW(hak_aligned_alloc)(align, size)
			     : HAK_RAW(hak_malloc)(size);
	}
	p = hak_pcpu_alloc_miss(cls);
	if (unlikely(!p)) {
		hak_report(HAK_EV_OUT_OF_MEMORY, NULL, size, "no slab");
		return NULL;
	}
	cookie_clear(p);
	return p;
}

#if HAK_PORT_HAS_RESTART
/* What the arch's restartable sections need of the heap object. */
#define RESTART_NCPUS __builtin_offsetof(struct hak_heap, ncpus)
#define RESTART_PCPU __builtin_offsetof(struct hak_heap, pcpu)
_Static_assert(RESTART_NCPUS < 16384 && RESTART_PCPU < 32768,
	       "load offsets every arch reaches");
#endif

/*
 * The fast paths: one magazine operation in one per-CPU critical section,
 * or a tail call to the slow path, so they call nothing and save no
 * registers. The miss branches go straight to the slow path and a hit
 * tests nothing after the section (the sections report failure in a
 * flag or jump to a label).
 *
 * The critical-section form of the fast paths: the port's enter and exit
 * around the magazine operation. It is the fast path itself where the
 * port has no sections (debug builds, riscv64, HAK_RESTART 0) and is
 * inlined there; where the port has rseq it is only the fallback, kept
 * out of line, so that the rseq hit path stays a leaf function (on
 * aarch64 the trylock's atomics call out to libgcc's helpers, which would
 * give every hit a stack frame).
 */
#if HAK_PORT_HAS_RSEQ
#define LOCKED_PATH __attribute__((noinline))
#else
#define LOCKED_PATH hak_always_inline
#endif

/* A pop's end, whichever way it ran: the object, or the slow path. */
static hak_always_inline void *popped(void *p, int fail, uintptr_t magoff,
				      size_t size, size_t align)
{
	if (unlikely(fail))
		return alloc_slow(size, magoff, align);
	cookie_clear(p);
	return p;
}

/*
 * The pop and push are written out here rather than built on
 * mag_pop_locked / mag_push_locked (pcpu_ops.h), whose NULL / -1 would be
 * tested a second time after the exit: here every miss branch leaves the
 * section and goes straight to the slow path.
 */
static LOCKED_PATH void *alloc_locked(uintptr_t magoff, size_t size,
				      size_t align)
{
	unsigned long flags;
	struct hak_mag *m;
	void **top, *p;
	int cpu;

	cpu = hak_port_pcpu_try_enter(&flags);
	if (HAK_PORT_TRYENTER_CAN_FAIL && unlikely(cpu < 0))
		goto slow;
	if (pcpu_id_bad(cpu))
		goto miss;
	m = hak_pcpu_mag((unsigned)cpu, magoff);
	top = hak_mag_top(m);
	if (unlikely(top == m->base))
		goto miss;
	p = *--top;
	hak_mag_set_top(m, top);
	m->allocs++;
	hak_port_pcpu_exit((unsigned)cpu, flags);
	return popped(p, 0, magoff, size, align);
miss:
	hak_port_pcpu_exit((unsigned)cpu, flags);
slow:
	return popped(NULL, 1, magoff, size, align);
}

static LOCKED_PATH void free_locked(uintptr_t magoff, void *p)
{
	unsigned long flags;
	struct hak_mag *m;
	void **top;
	int cpu;

	cpu = hak_port_pcpu_try_enter(&flags);
	if (HAK_PORT_TRYENTER_CAN_FAIL && unlikely(cpu < 0))
		goto slow;
	if (pcpu_id_bad(cpu))
		goto miss;
	m = hak_pcpu_mag((unsigned)cpu, magoff);
	top = hak_mag_top(m);
	if (unlikely(top >= m->limit))
		goto miss;
	*top = p;
	hak_mag_set_top(m, top + 1);
	hak_port_pcpu_exit((unsigned)cpu, flags);
	return;
miss:
	hak_port_pcpu_exit((unsigned)cpu, flags);
slow:
	hak_pcpu_free_miss(HAK_MAG_CLASS(magoff), p);
}

#if HAK_PORT_HAS_RSEQ
/* The rseq sections that read the rseq area's offset from the variable,
 * else (trylock mode) the critical-section form. */
static hak_always_inline void *alloc_rseq_var(uintptr_t magoff, size_t size,
					      size_t align)
{
	void *p;
	int fail;

	if (likely(hak_port_rseq_active())) {
		fail = arch_rseq_mag_pop(hak_port_rseq_area(),
					 (void *const *)hak_heap.pcpu_fast,
					 magoff, &p);
		return popped(p, fail, magoff, size, align);
	}
	return alloc_locked(magoff, size, align);
}

static hak_always_inline void free_rseq_var(uintptr_t magoff, void *p)
{
	if (likely(hak_port_rseq_active())) {
		ARCH_RSEQ_MAG_PUSH_GOTO(hak_port_rseq_area(),
					(void *const *)hak_heap.pcpu_fast,
					magoff, p, rseq_miss);
		return;
rseq_miss:
		hak_pcpu_free_miss(HAK_MAG_CLASS(magoff), p);
		return;
	}
	free_locked(magoff, p);
}
#endif

#if HAK_PORT_HAS_RSEQ && ARCH_RSEQ_HAS_FIXED
/*
 * Where the port's rseq sections can address the rseq area as a constant
 * (hak_port_rseq_fixed), that is the fast path; the sections that read
 * its offset from a variable (a process whose glibc keeps the area
 * elsewhere) and the critical-section form are out of line here, so that
 * the fast path's function holds only its own path.
 */
static __attribute__((noinline)) void *alloc_other(uintptr_t magoff,
						   size_t size, size_t align)
{
	return alloc_rseq_var(magoff, size, align);
}

static __attribute__((noinline)) void free_other(uintptr_t magoff, void *p)
{
	free_rseq_var(magoff, p);
}
#endif

/* The fast paths: the port's sections where it has them, else the
 * critical-section form above. */
static hak_always_inline void *cache_alloc(uintptr_t magoff, size_t size,
					   size_t align)
{
#if HAK_PCPU_REG
	void *p;
	int fail;

	ARCH_RESTART_POP_PCPU(p, fail, magoff);
	return popped(p, fail, magoff, size, align);
#elif HAK_PORT_HAS_RESTART
	void *p;
	int fail;

	ARCH_RESTART_POP(p, fail, &hak_heap, RESTART_NCPUS, RESTART_PCPU,
			 magoff);
	return popped(p, fail, magoff, size, align);
#else
#if HAK_PORT_HAS_RSEQ && ARCH_RSEQ_HAS_FIXED
	void *p;
	int fail;

	if (likely(hak_port_rseq_fixed())) {
		fail = arch_rseq_mag_pop_fixed(
			(void *const *)hak_heap.pcpu_fast, magoff, &p);
		return popped(p, fail, magoff, size, align);
	}
	return alloc_other(magoff, size, align);
#elif HAK_PORT_HAS_RSEQ
	return alloc_rseq_var(magoff, size, align);
#else
	return alloc_locked(magoff, size, align);
#endif
#endif
}

static hak_always_inline void cache_free(uintptr_t magoff, void *p)
{
#if HAK_PORT_HAS_RESTART
#if HAK_PCPU_REG
	ARCH_RESTART_PUSH_PCPU(p, magoff, miss);
#else
	ARCH_RESTART_PUSH(p, &hak_heap, RESTART_NCPUS, RESTART_PCPU, magoff,
			  miss);
#endif
	return;
miss:
	hak_pcpu_free_miss(HAK_MAG_CLASS(magoff), p);
#elif HAK_PORT_HAS_RSEQ && ARCH_RSEQ_HAS_FIXED
	if (likely(hak_port_rseq_fixed())) {
		ARCH_RSEQ_MAG_PUSH_GOTO_FIXED((void *const *)hak_heap.pcpu_fast,
					      magoff, p, rseq_miss);
		return;
rseq_miss:
		hak_pcpu_free_miss(HAK_MAG_CLASS(magoff), p);
		return;
	}
	free_other(magoff, p);
#elif HAK_PORT_HAS_RSEQ
	free_rseq_var(magoff, p);
#else
	free_locked(magoff, p);
#endif
}

/*
 * The restartable sections' tables (HAK_PORT_HAS_RESTART): each section
 * records its {start, end} (hakmem/restart_table.h), and each object
 * bounds its own records: this file's (the default heap's fast paths),
 * heap.c's and cache.c's (created heaps' and object caches' hits).
 */
#if HAK_PORT_HAS_RESTART
struct restart_range {
	uintptr_t start, end;
};

HAK_RESTART_TABLE(hak_restart_table);
extern const struct restart_range hak_restart_table[], hak_restart_table_end[];
extern const struct restart_range hak_restart_table_heap[],
	hak_restart_table_heap_end[];
extern const struct restart_range hak_restart_table_cache[],
	hak_restart_table_cache_end[];

static const struct restart_range *const restart_tables[][2] = {
	{ hak_restart_table, hak_restart_table_end },
	{ hak_restart_table_heap, hak_restart_table_heap_end },
	{ hak_restart_table_cache, hak_restart_table_cache_end },
};
#define NTABLES (sizeof(restart_tables) / sizeof(restart_tables[0]))
#endif

uintptr_t hak_restart_pc(uintptr_t pc)
{
#if HAK_PORT_HAS_RESTART
	const struct restart_range *r;
	unsigned k;

	for (k = 0; k < NTABLES; k++)
		for (r = restart_tables[k][0]; r < restart_tables[k][1]; r++)
			if (pc - r->start < r->end - r->start) {
				hak_stat_add(&hak_heap.restarts, 1);
				return r->start;
			}
#endif
	return pc;
}

/* For tests (white box): object k's table (mm/malloc.c's, heap.c's,
 * cache.c's); k past the last: NULL and 0. */
unsigned hak_restart_ranges(unsigned k, const uintptr_t **table)
{
#if HAK_PORT_HAS_RESTART
	if (k < NTABLES) {
		*table = &restart_tables[k][0]->start;
		return (unsigned)(restart_tables[k][1] - restart_tables[k][0]);
	}
#endif
	(void)k;
	*table = NULL;
	return 0;
}

static void *large_alloc(size_t size, size_t align)
{
	if (unlikely(!__atomic_load_n(&hak_heap.ready, __ATOMIC_ACQUIRE)) &&
	    hak_port_lazy_init())
		return not_initialised(size);
	return hak_large_alloc(size, align, &hak_heap);
}

hak_fast_entry void *HAK_RAW(hak_malloc)(size_t size)
{
	if (likely(size <= HAK_POOL_MAX))
		return cache_alloc(hak_size_to_magoff(size), size, 0);
	return large_alloc(size, 0);
}

/* What a pointer is, after every check free() makes. */
struct block {
	uintptr_t entry; /* page-map entry */
	struct hak_slab *slab;
	enum hak_event bad; /* 0 when the pointer is a live block */
	const char *what;
};

static inline __attribute__((always_inline)) struct block
block_lookup(const void *ptr)
{
	uintptr_t p = (uintptr_t)ptr;
	struct block b = {hak_pagemap_get(p), NULL, 0, NULL};
	uintptr_t off;
	uint32_t idx;

	if (likely((b.entry & HAK_PM_TAG_MASK) == HAK_PM_TAG_SLAB)) {
		struct hak_slab *s = hak_pm_slab(b.entry);
		/* Read with no lock: the slab of a live block cannot change,
		 * but a block already free can be drained meanwhile, its slab
		 * emptied and uncarved (shard NULL) or carved again. The
		 * sequence tells (a seqlock's reader), and no field is
		 * followed before it is known not to be NULL. Until session
		 * 17 a double free that raced its slab's uncarve read a
		 * NULL shard and faulted (tests/host/test_free_race). */
		uint16_t seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
		struct hak_shard *sh =
			__atomic_load_n(&s->shard, __ATOMIC_RELAXED);
		uint32_t span = s->span;

		b.slab = s;
#ifdef HAK_TEST_HOOKS
		if (hak_test_lookup_gap)
			hak_test_lookup_gap();
#endif
		off = p - __atomic_load_n(&s->start, __ATOMIC_RELAXED);
		if (unlikely(off >= span)) {
			b.bad = HAK_EV_INVALID_FREE;
			b.what = span ? "outside the slab's objects"
				      : "in an unused slab";
			goto done;
		}
		idx = hak_obj_index(off, s->inv);
		if (unlikely((uintptr_t)idx * s->size != off)) {
			b.bad = HAK_EV_INTERIOR_FREE;
			b.what = "inside a block";
		} else if (unlikely(hak_slab_bit_is_free(s, idx))) {
			int never = idx >= __atomic_load_n(&s->hwm,
							   __ATOMIC_RELAXED);

			b.bad = never ? HAK_EV_INVALID_FREE
				      : HAK_EV_DOUBLE_FREE;
			b.what = never ? "block was never allocated"
				       : "block is free in its slab";
			/* sh is NULL only in a slab changing under us (with
			 * span > 0 a stable snapshot has a shard): the
			 * sequence below reports it. */
		} else if (unlikely(sh && ((const uintptr_t *)ptr)
						  [sh->cookie_word] ==
					  (hak_heap.secret ^ p))) {
			b.bad = HAK_EV_DOUBLE_FREE;
			b.what = "block is free in a CPU cache";
		}
done:
		hak_fence_acquire();
		if (unlikely((seq & 1) ||
			     __atomic_load_n(&s->seq, __ATOMIC_RELAXED) !=
				     seq)) {
			/* Only a block already free can be in a slab that
			 * changes: which kind of bad free is not known. */
			b.bad = HAK_EV_DOUBLE_FREE;
			b.what = "block not live (freed before?): its slab "
				 "was emptied or carved again during the free";
		}
		return b;
	}
	if ((b.entry & HAK_PM_TAG_MASK) == HAK_PM_TAG_LARGE) {
		if (p & (HAK_PAGE_SIZE - 1)) {
			b.bad = HAK_EV_INTERIOR_FREE;
			b.what = "inside a large block";
		}
		return b;
	}
	b.bad = HAK_EV_INVALID_FREE;
	b.what = "not allocated by hakmem";
	return b;
}

/* For debug.c: the block (slab object or large run) containing p, whether
 * or not p is its start. Returns 0 when p is in no carved block. */
int hak_block_containing(const void *p, uintptr_t *start, size_t *usable)
{
	uintptr_t a = (uintptr_t)p, e = hak_pagemap_get(a), off;
	struct hak_slab *s;

	if ((e & HAK_PM_TAG_MASK) == HAK_PM_TAG_TAIL) {
		a = (a & ~(HAK_PAGE_SIZE - 1)) - (hak_pm_pages(e) << HAK_PAGE_SHIFT);
		e = hak_pagemap_get(a);
		if ((e & HAK_PM_TAG_MASK) != HAK_PM_TAG_LARGE)
			return 0;
	}
	if ((e & HAK_PM_TAG_MASK) == HAK_PM_TAG_LARGE) {
		*start = a & ~(HAK_PAGE_SIZE - 1);
		*usable = hak_pm_large_run(e)->npages << HAK_PAGE_SHIFT;
		return 1;
	}
	if ((e & HAK_PM_TAG_MASK) != HAK_PM_TAG_SLAB)
		return 0;
	s = hak_pm_slab(e);
	off = a - s->start;
	if (off >= s->span)
		return 0;
	*start = s->start + (uintptr_t)hak_obj_index(off, s->inv) * s->size;
	*usable = s->size;
	return 1;
}

struct hak_heap *hak_block_owner(const void *ptr, int report)
{
	struct block b;

	if (!ptr)
		return NULL;
	if (HAK_DEBUG) { /* a wrapped block's user pointer: its block */
		uintptr_t start, e = hak_pagemap_get((uintptr_t)ptr);
		size_t usable;
		int cache = (e & HAK_PM_TAG_MASK) == HAK_PM_TAG_SLAB &&
			    ((struct hak_slab *)hak_pm_slab(e))->cls ==
				    HAK_CLASS_CACHE;

		if (!cache && hak_block_containing(ptr, &start, &usable))
			ptr = (const void *)start;
	}
	b = block_lookup(ptr);
	if (b.bad) {
		if (report)
			hak_report(b.bad, ptr, 0, b.what);
		return NULL;
	}
	if (b.slab)
		return b.slab->shard->heap;
	return hak_pm_large_run(b.entry)->heap;
}

/* A good block of the default heap outside the slab map (a provider
 * without a span): block_lookup has made every check free() makes. */
static void free_unmapped(void *ptr, const struct hak_slab *s)
{
	if (HAK_HARDEN)
		((uintptr_t *)ptr)[COOKIE_WORD] =
			hak_heap.secret ^ (uintptr_t)ptr;
	cache_free(s->magoff, ptr);
}

/* Off the fast path: classify and report what the fast checks refused,
 * and take the good blocks outside the slab map. */
static __attribute__((noinline, cold)) void free_refused(void *ptr)
{
	struct block b;

	if (!ptr)
		return;
	b = block_lookup(ptr);
	if (b.bad)
		hak_report(b.bad, ptr, 0, b.what);
	else if (!b.slab)
		hak_large_free(ptr, b.entry);
	else if (b.slab->shard->heap != &hak_heap ||
		 b.slab->cls == HAK_CLASS_CACHE)
		hak_owner_free(b.slab, ptr); /* div 0: another owner's */
	else if ((uintptr_t)ptr - hak_heap.sm_base >= hak_heap.sm_len)
		free_unmapped(ptr, b.slab); /* outside the slab map */
	else /* the full checks accept what the fast ones refused */
		hak_report(HAK_EV_CORRUPTION, ptr, 0,
			   "free: slab map disagrees with the slab's bitmap");
}

/*
 * free()'s checks, each one compare, with every refusal (and NULL, and
 * every large block) going to free_refused, which works out and reports
 * the precise reason with the full lookup:
 *   the pointer lies in the provider's span, so the slab map has an entry
 *   for its slab unit (a pointer outside it goes to free_refused too,
 *   which accepts a good one: providers without a span take that path);
 *   the offset from the entry's object 0 is below its high-water mark:
 *   inside the objects ever handed out (layout.h, struct hak_slab; an
 *   entry without a carved slab has a mark of 0);
 *   the offset is a multiple of the object size (div);
 *   the block does not carry the free cookie: it is not free already,
 *   in a CPU cache or in its slab (every free object carries it:
 *   shared_pool.c slab_mark_fresh).
 * The cookie word lies inside the object once it is known to start one.
 */
hak_fast_entry void HAK_RAW(hak_free)(void *ptr)
{
	const struct hak_heap *h = hak_dflt();
	uintptr_t p = (uintptr_t)ptr, off = p - h->sm_base, c;
	const struct hak_slab_entry *e;

	if (unlikely(off >= h->sm_len))
		goto refused;
	e = hak_slab_entry_at(h, off);
	/* The entry's address in one register (an empty asm hides how it
	 * was made): GCC would otherwise index start's load by register and
	 * add for the others, where aarch64 loads start and hwm_off as one
	 * pair (2 instructions a free). */
	__asm__("" : "+r"(e));
	/* Racy reads: a refill raises hwm_off under the shard lock while
	 * frees of the slab's other objects run (sync.h). */
	off = p - hak_racy_load(e->start);
	if (unlikely(off >= hak_racy_load(e->hwm_off) ||
		     !hak_obj_aligned32(off, hak_racy_load(e->div))))
		goto refused;
	if (HAK_HARDEN) {
		c = h->secret ^ p;
		if (unlikely(((uintptr_t *)ptr)[COOKIE_WORD] == c))
			goto refused;
		((uintptr_t *)ptr)[COOKIE_WORD] = c;
	}
	cache_free(hak_racy_load(e->magoff), ptr);
	return;
refused:
	free_refused(ptr);
}

static size_t block_usable(const void *ptr, const struct block *b)
{
	if (b->slab)
		return hak_slab_usable(b->slab);
	return hak_large_usable(ptr, b->entry);
}

#if !HAK_DEBUG /* debug.c has its own realloc */
/* The heap a live block belongs to (an object cache's: its heap). */
static struct hak_heap *block_heap(const struct block *b)
{
	if (b->slab)
		return b->slab->shard->heap;
	return hak_pm_large_run(b->entry)->heap;
}
#endif

size_t HAK_RAW(hak_usable_size)(const void *ptr)
{
	struct block b;

	if (!ptr)
		return 0;
	b = block_lookup(ptr);
	if (b.bad) {
		hak_report(b.bad, ptr, 0, b.what);
		return 0;
	}
	return block_usable(ptr, &b);
}

/* calloc's byte count in *n: 0, or -1 after reporting an overflow. */
int hak_calloc_bytes(size_t nmemb, size_t size, size_t *n)
{
	if (!__builtin_mul_overflow(nmemb, size, n))
		return 0;
	hak_report(HAK_EV_SIZE_OVERFLOW, NULL, size, "calloc nmemb * size");
	return -1;
}

#if !HAK_DEBUG /* debug.c wraps these */
void *hak_calloc(size_t nmemb, size_t size)
{
	size_t n;
	void *p;

	if (hak_calloc_bytes(nmemb, size, &n))
		return NULL;
	p = hak_malloc(n);
	if (p)
		hak_memset(p, 0, n);
	return p;
}

void *hak_realloc(void *ptr, size_t size)
{
	struct block b;
	size_t old;
	void *n;

	if (!ptr)
		return hak_malloc(size);
	b = block_lookup(ptr);
	if (b.bad) {
		hak_report(b.bad, ptr, size, b.what);
		return NULL;
	}
	if (b.slab && b.slab->cls == HAK_CLASS_CACHE) {
		hak_report(HAK_EV_MISUSE, ptr, size,
			   "realloc of an object cache's object");
		return NULL;
	}
	if (!size) {
		hak_free(ptr);
		return NULL;
	}
	old = block_usable(ptr, &b);
	/* Keep the block while the new size still fits and wastes < half. */
	if (size <= old && (size >= old / 2 || old <= HAK_MIN_OBJECT * 2))
		return ptr;
	/* A block stays in its own heap. */
	n = block_heap(&b) == &hak_heap ? hak_malloc(size)
					: hak_heap_malloc(block_heap(&b), size);
	if (!n)
		return NULL;
	hak_memcpy(n, ptr, size < old ? size : old);
	hak_free(ptr);
	return n;
}

#endif /* !HAK_DEBUG */

void *HAK_RAW(hak_aligned_alloc)(size_t alignment, size_t size)
{
	unsigned cls;

	if (!alignment || (alignment & (alignment - 1))) {
		hak_report(HAK_EV_BAD_ALIGNMENT, NULL, alignment,
			   "alignment is not a power of two");
		return NULL;
	}
	/* Every class is at least HAK_MIN_OBJECT-aligned (the 8-byte class
	 * only that): above it, the classes that are aligned enough. */
	if (alignment <= HAK_MIN_OBJECT)
		return HAK_RAW(hak_malloc)(size);
	if (unlikely(!__atomic_load_n(&hak_heap.ready, __ATOMIC_ACQUIRE)) &&
	    hak_port_lazy_init())
		return not_initialised(size);
	cls = hak_sizeclass_for_aligned(size, alignment);
	if (cls != HAK_CLASS_NONE)
		return cache_alloc(HAK_MAG_OFFSET(cls), size, alignment);
	return large_alloc(size, alignment);
}

/*
 * The standard names of the two hot calls are these very functions, not
 * wrappers in malloc_names.c: a wrapper is one more jump on every call,
 * and glibc-simple ran about 5% faster without it (0.62 s against
 * 0.67 s, 4 alternating runs). Not in the debug build, whose hak_malloc
 * and hak_free are debug.c's.
 */
#if HAK_EXPORT_MALLOC && !HAK_DEBUG
void *malloc(size_t size)
	__attribute__((alias("hak_malloc"), visibility("default")));
void free(void *ptr) __attribute__((alias("hak_free"), visibility("default")));
#endif
