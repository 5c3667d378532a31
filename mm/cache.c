// SPDX-License-Identifier: MIT
/*
 * cache.c - object caches (kmem_cache-style): hak_cache_create and the
 * calls on a cache, plus the leak walk heap.c shares.
 *
 * A cache is a shard of its own (struct hak_cache starts with it) whose
 * class is the cache's slot: exactly the object size rounded to 16 bytes
 * and to the alignment, so a cache of 200-byte objects packs 208-byte
 * slots where the classes would give 224. With a constructor the slot
 * has one more word, past the object, for the free cookie: SLAB's rule
 * (constructed once, when the slab is carved; given back constructed)
 * needs hakmem to write nothing into a free object, as SLUB moves its
 * free pointer out of constructed objects.
 *
 * Its front is one magazine per CPU (struct hak_pcpu_one: the head of a
 * per-CPU area, so the hosted rseq sections serve it as they serve a
 * class), allocated from the heap's provider on the CPU's first miss.
 * Its slabs, like a created heap's, have div 0: hak_free of a cache
 * object takes the slow path to hak_cache_free_checked.
 *
 * Cache objects are type-stable (a page each from the default heap's
 * provider, reused by a later create), so a destroyed cache's handle is
 * reported, not followed into freed memory.
 */
#include "pcpu_ops.h"

static struct hak_list *cache_pool; /* destroyed cache objects */

/*
 * Debug build (HAK_DEBUG): cache objects are not wrapped in debug.c's
 * header (a cache's slot is its object), but each slot gets a red zone of
 * DBG_RZ bytes right after the object (after its first 8 bytes for a
 * smaller one, whose first word is the cookie): its first word (copied,
 * unaligned) records the state
 * (FREED after a free, anything else while live or never used), the rest
 * is 0xA5. A free checks the red zone (a write past the object is a
 * buffer overflow) and, for a cache without a constructor, poisons the
 * object with 0xDD except its cookie word; an allocation of a block whose
 * state says FREED checks that poison (a write after free). A cache with
 * a constructor is never poisoned, so its objects stay constructed: it
 * gets the red zone check only.
 */
#define DBG_RZ 16
#define DBG_FREED 0x4652454546524545ULL /* "FREEFREE" */
#define DBG_RZ_BYTE 0xa5
#define DBG_POISON 0xdd

#define cache_of(n) hak_list_entry(n, struct hak_cache, link)

static struct hak_front cache_front(struct hak_cache *c)
{
	struct hak_front f = {(void *const *)c->pcpu, HAK_MAG_BASE, &c->shard,
			      NULL};

	return f;
}

/* One pop / push on c's magazine: as heap.c's heap_pop / heap_push. */
#if HAK_PORT_HAS_RESTART
/* This object's restartable sections' records (malloc.c searches it). */
HAK_RESTART_TABLE(hak_restart_table_cache);

#define C_NCPUS __builtin_offsetof(struct hak_cache, ncpus)
#define C_PCPU __builtin_offsetof(struct hak_cache, pcpu)
_Static_assert(C_NCPUS < 16384 && C_PCPU < 32768,
	       "load offsets every arch reaches");

static hak_always_inline void cache_pop(struct hak_cache *c, void **p,
				       int *fail)
{
	ARCH_RESTART_POP_R(*p, *fail, c, C_NCPUS, C_PCPU,
			   (uintptr_t)HAK_MAG_BASE);
}

static hak_always_inline int cache_push(struct hak_cache *c,
					const struct hak_front *f, void *p)
{
	(void)f;
	ARCH_RESTART_PUSH_R(p, c, C_NCPUS, C_PCPU, (uintptr_t)HAK_MAG_BASE,
			    miss);
	return 0;
miss:
	return -1;
}
#else
static hak_always_inline void cache_pop(struct hak_cache *c, void **p,
				       int *fail)
{
	struct hak_front f = cache_front(c);

	*p = hak_op_pop(&f);
	*fail = !*p;
}

static hak_always_inline int cache_push(struct hak_cache *c,
					const struct hak_front *f, void *p)
{
	struct hak_front own = cache_front(c);

	(void)f;
	return hak_op_push(&own, p);
}
#endif

static int cache_bad(const struct hak_cache *c, const char *what)
{
	if (!c)
		hak_report(HAK_EV_MISUSE, NULL, 0, what);
	else if (__atomic_load_n(&c->magic, __ATOMIC_ACQUIRE) !=
		 HAK_CACHE_MAGIC)
		hak_report(HAK_EV_MISUSE, c, 0, what);
	else
		return 0;
	return -1;
}

static void cache_setup(struct hak_cache *c, struct hak_heap *h,
			const char *name, size_t size, size_t align,
			void (*ctor)(void *, void *), void *arg)
{
	size_t slot = size < HAK_MIN_OBJECT ? HAK_MIN_OBJECT : size;
	unsigned i;

	/* A free slot holds the cookie, a word: a smaller alignment still
	 * gets word-aligned slots (riscv64 traps on a misaligned store). */
	if (align < sizeof(uintptr_t))
		align = sizeof(uintptr_t);
	/* Not the per-CPU tables: a destroyed cache's are all the empty
	 * area, and a stale handle's fast path may read them right now (on
	 * the hosted port with no bound check); zeroed, it would use a NULL
	 * area and fault, not read a dead magic (found by review). */
	hak_memset(c, 0, __builtin_offsetof(struct hak_cache, pcpu));
	if (HAK_DEBUG) /* the red zone, right after the object */
		slot = hak_round_up(slot + DBG_RZ, 8);
	if (ctor)
		slot += sizeof(uintptr_t);
	slot = hak_round_up(slot, align);
	c->obj_size = size;
	c->ci.size = (uint32_t)slot;
	c->ci.inv = (uint32_t)(((1ULL << 32) + slot - 1) / slot);
	c->ci.div = UINT64_MAX / slot + 1;
	c->ci.align = (uint32_t)align;
	c->ci.stripe = hak_stripe_of(slot);
	for (i = 0; name && i + 1 < HAK_HEAP_NAME && name[i]; i++)
		c->name[i] = name[i];
	if (ctor)
		c->shard.cookie_word = (uint16_t)(slot / sizeof(uintptr_t) - 1);
	c->shard.ctor = ctor;
	c->shard.ctor_arg = arg;
	hak_shard_init(&c->shard, h, HAK_CLASS_CACHE, &c->ci,
		       hak_cache_cap(h->cache_budget, slot));
	c->ci.cache_cap = c->shard.cap;
	c->ci.batch = c->shard.batch;
	hak_pcpu_table_none(c->pcpu);
	c->ncpus = hak_heap.ncpus;
}

struct hak_cache *hak_cache_create(struct hak_heap *h, const char *name,
				   size_t size, size_t align, unsigned flags,
				   void (*ctor)(void *obj, void *arg),
				   void *arg)
{
	struct hak_cache *c;
	unsigned long lf;

	if (!h)
		h = hak_heap_default();
	if (!h || (h != &hak_heap &&
		   __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) !=
			   HAK_HEAP_MAGIC)) {
		hak_report(HAK_EV_MISUSE, h, size,
			   "hak_cache_create: hakmem not initialised, or a "
			   "destroyed heap");
		return NULL;
	}
	if (!size || size > HAK_POOL_MAX || flags) {
		hak_report(HAK_EV_MISUSE, NULL, size,
			   "hak_cache_create: size 0 or above HAK_POOL_MAX, "
			   "or unknown flags");
		return NULL;
	}
	if (!align)
		align = HAK_MIN_ALIGN;
	if ((align & (align - 1)) || align > HAK_PAGE_SIZE) {
		hak_report(HAK_EV_BAD_ALIGNMENT, NULL, align,
			   "hak_cache_create: alignment not a power of two "
			   "up to a page");
		return NULL;
	}
	c = hak_stable_alloc(&cache_pool, sizeof(*c));
	if (!c) {
		hak_report(HAK_EV_OUT_OF_MEMORY, NULL, sizeof(*c),
			   "hak_cache_create: no memory for the cache object");
		return NULL;
	}
	cache_setup(c, h, name, size, align, ctor, arg);
	lf = hak_lock(&hak_heaps_lock);
	if (h != &hak_heap &&
	    (__atomic_load_n(&h->magic, __ATOMIC_RELAXED) != HAK_HEAP_MAGIC ||
	     h->destroying)) {
		/* A destroy of h runs: linked now, c would outlive it. */
		hak_unlock(&hak_heaps_lock, lf);
		hak_stable_free(&cache_pool, c); /* no area made yet */
		hak_report(HAK_EV_MISUSE, h, size,
			   "hak_cache_create: the heap is being destroyed");
		return NULL;
	}
	hak_list_push(&h->caches, &c->link);
	hak_heaps_gen++;
	__atomic_store_n(&c->magic, HAK_CACHE_MAGIC, __ATOMIC_RELEASE);
	hak_unlock(&hak_heaps_lock, lf);
	return c;
}

#if HAK_DEBUG
static uint8_t *dbg_rz(struct hak_cache *c, void *p)
{
	/* Right after the object, but never over the cookie word. */
	size_t n = c->obj_size < HAK_MIN_OBJECT ? HAK_MIN_OBJECT : c->obj_size;

	return (uint8_t *)p + n;
}

/* Whether [p, p + n) is all b, skipping the cookie word. */
static int dbg_all(struct hak_cache *c, const uint8_t *p, size_t n,
		   uint8_t b, const uint8_t *obj)
{
	size_t i, w = c->shard.cookie_word * sizeof(uintptr_t);

	for (i = 0; i < n; i++)
		if (p[i] != b && (size_t)(p + i - obj) - w >= sizeof(uintptr_t))
			return 0;
	return 1;
}

static void dbg_on_alloc(struct hak_cache *c, void *p)
{
	uint8_t *rz = dbg_rz(c, p);
	uint64_t state;

	hak_memcpy(&state, rz, sizeof(state));
	if (state == DBG_FREED && !c->shard.ctor &&
	    !dbg_all(c, p, c->obj_size, DBG_POISON, p))
		hak_report_heap(c->shard.heap, HAK_EV_USE_AFTER_FREE, p,
				c->obj_size, "object cache: freed object "
					     "written to");
	hak_memset(rz, DBG_RZ_BYTE, DBG_RZ);
}

/* 0, or -1 after reporting an overflow (the object is then not freed:
 * its neighbour may be the one damaged, and the caller learns of it). */
static int dbg_on_free(struct hak_cache *c, void *p)
{
	uint8_t *rz = dbg_rz(c, p);
	uint64_t state;

	hak_memcpy(&state, rz, sizeof(state));
	if (state != DBG_FREED && !dbg_all(c, rz, DBG_RZ, DBG_RZ_BYTE, p)) {
		hak_report_heap(c->shard.heap, HAK_EV_BUFFER_OVERFLOW, rz,
				c->obj_size, "object cache: red zone past the "
					     "object written");
		return -1;
	}
	if (!c->shard.ctor)
		hak_memset(p, DBG_POISON, c->obj_size);
	state = DBG_FREED;
	hak_memcpy(rz, &state, sizeof(state));
	return 0;
}
#else
static void dbg_on_alloc(struct hak_cache *c, void *p)
{
	(void)c;
	(void)p;
}

static int dbg_on_free(struct hak_cache *c, void *p)
{
	(void)c;
	(void)p;
	return 0;
}
#endif

/* An object's way out: the debug build's checks, the cookie cleared
 * (with a ctor: the word past the object). */
static hak_always_inline void *cache_handed(struct hak_cache *c, void *p)
{
	dbg_on_alloc(c, p);
	if (HAK_HARDEN)
		((uintptr_t *)p)[c->shard.cookie_word] = 0;
	return p;
}

static __attribute__((noinline)) void *cache_alloc_slow(struct hak_cache *c)
{
	struct hak_front f = cache_front(c);
	void *p;

	if (cache_bad(c, "hak_cache_alloc: NULL or destroyed cache"))
		return NULL;
	p = hak_front_alloc_miss(&f);
	if (!p) {
		hak_report_heap(c->shard.heap, HAK_EV_OUT_OF_MEMORY, NULL,
				c->obj_size, "object cache");
		return NULL;
	}
	return cache_handed(c, p);
}

/* A miss goes to the slow path, which checks the handle: a destroyed
 * cache's per-CPU table points at hak_pcpu_none only, so it always
 * misses. NULL is the one handle tested here. A hit calls nothing. */
void *hak_cache_alloc(struct hak_cache *c)
{
	void *p;
	int fail;

	if (unlikely(!c))
		return cache_alloc_slow(c);
	cache_pop(c, &p, &fail);
	if (unlikely(fail))
		return cache_alloc_slow(c);
	return cache_handed(c, p);
}

/* p passed every check: mark it free and push it on c's front. */
void hak_cache_free_checked(struct hak_cache *c, void *p)
{
	struct hak_front f = cache_front(c);

	if (dbg_on_free(c, p))
		return;
	if (HAK_HARDEN)
		((uintptr_t *)p)[c->shard.cookie_word] =
			hak_heap.secret ^ (uintptr_t)p;
	if (cache_push(c, &f, p))
		hak_front_free_miss(&f, p);
}

/* What hak_cache_free's inline checks refused: NULL, a bad handle, a
 * pointer that is not a live object of c (reported precisely), or a
 * full magazine (then p passed them all). */
static __attribute__((noinline)) void cache_free_slow(struct hak_cache *c,
						      void *ptr, int passed)
{
	struct hak_front f;

	if (!ptr || cache_bad(c, "hak_cache_free: NULL or destroyed cache"))
		return;
	if (passed) {
		f = cache_front(c);
		hak_front_free_miss(&f, ptr);
		return;
	}
	if (hak_slab_lookup((uintptr_t)ptr) != NULL &&
	    hak_slab_lookup((uintptr_t)ptr)->shard == &c->shard) {
		hak_block_owner(ptr, 1); /* interior, never allocated, double */
		return;
	}
	/* Foreign, or a block of someone else: which, precisely. */
	if (hak_block_owner(ptr, 1))
		hak_report(HAK_EV_MISUSE, ptr, 0,
			   "hak_cache_free: not an object of this cache");
}

/*
 * The checks free() makes, against c: the slab is c's (one compare of its
 * shard), the offset is below its high-water mark and a multiple of the
 * slot (c's own div: the slab's is 0), and the block does not carry the
 * free cookie. Then the cookie, and one push; a hit calls nothing. The
 * handle needs no test of its own: a destroyed cache has no slab (its
 * slabs went back uncarved, their shard NULL), so the shard compare
 * refuses, or, for NULL, the high-water mark of a slab with no shard
 * (0); the slow path then reports the handle.
 */
void hak_cache_free(struct hak_cache *c, void *ptr)
{
	uintptr_t p = (uintptr_t)ptr, off, k;
	struct hak_slab *s;

	s = hak_slab_lookup(p);
	if (unlikely((HAK_PORT_SPARSE_SLABMAP && !s) || s->shard != &c->shard))
		goto refused;
	off = p - hak_racy_load(s->start);
	if (unlikely(off >= hak_racy_load(s->hwm_off) ||
		     !hak_obj_aligned(off, c->ci.div)))
		goto refused;
	k = hak_heap.secret ^ p;
	if (HAK_HARDEN &&
	    unlikely(((uintptr_t *)ptr)[c->shard.cookie_word] == k))
		goto refused;
	if (HAK_DEBUG) {
		hak_cache_free_checked(c, ptr);
		return;
	}
	if (HAK_HARDEN)
		((uintptr_t *)ptr)[c->shard.cookie_word] = k;
	if (unlikely(cache_push(c, NULL, ptr)))
		goto missed;
	return;
refused:
	cache_free_slow(c, ptr, 0);
	return;
missed:
	cache_free_slow(c, ptr, 1);
}

/* Destroy: cpu's magazine of c back to the shard, in chunks (c is
 * quiescent and off the list: no one else touches its areas). */
static void area_drain(struct hak_cache *c, unsigned cpu)
{
	struct hak_pcpu_one *a = hak_area_load(&c->pcpu[cpu]);

	if ((void *)a != (void *)&hak_pcpu_none)
		hak_mag_drain_remote(&c->shard, &a->mag, &c->pcpu[cpu], cpu);
}

/* The list lock held. */
int hak_caches_cached(struct hak_heap *h, unsigned cpu, unsigned *budget)
{
	struct hak_cache *c;

	for (c = cache_of(h->caches); c; c = cache_of(c->link.next)) {
		if (!*budget)
			return 1; /* looked long enough: say yes */
		(*budget)--;
		if (hak_mag_count(&((struct hak_pcpu_one *)hak_area_load(
					    &c->pcpu[cpu]))
					   ->mag))
			return 1;
	}
	return 0;
}

static uint64_t cache_cached(struct hak_cache *c)
{
	uint64_t n = 0;
	unsigned cpu;

	for (cpu = 0; cpu < HAK_MAX_CPUS; cpu++)
		n += hak_mag_count(&((struct hak_pcpu_one *)hak_area_load(
					     &c->pcpu[cpu]))
					    ->mag);
	return n;
}

static uint64_t cache_live(struct hak_cache *c)
{
	uint64_t out = hak_shard_out(&c->shard), cached = cache_cached(c);

	return out > cached ? out - cached : 0;
}

/* hak_heap_destroy's count, with h->destroying set: no cache of h is
 * created or destroyed meanwhile, so its list holds still without the
 * list lock, which a heap of many caches would hold for O(caches x
 * HAK_MAX_CPUS) (found by review). */
uint64_t hak_caches_live(struct hak_heap *h)
{
	struct hak_cache *c;
	uint64_t n = 0;

	HAK_ASSERT(h->destroying);
	for (c = cache_of(h->caches); c; c = cache_of(c->link.next))
		n += cache_live(c);
	return n;
}

/*
 * hak_trim of h's caches: each shard's empty slabs, one cache per hold
 * of the list lock, given back with it dropped (h is the caller's, alive
 * throughout; a cache destroyed meanwhile does not matter to its slabs,
 * which are h's). The walk starts over if the cache list changed
 * (hak_heaps_gen), HAK_WALK_TRIES times at most.
 */
void hak_caches_trim(struct hak_heap *h)
{
	unsigned starts;

	for (starts = 0; starts < HAK_WALK_TRIES; starts++) {
		unsigned long lf = hak_lock(&hak_heaps_lock);
		uint64_t gen = hak_heaps_gen;
		struct hak_cache *c = cache_of(h->caches);

		hak_unlock(&hak_heaps_lock, lf);
		while (c) {
			struct hak_slab *gone[HAK_EMPTY_SLABS_KEPT];
			unsigned n, k;

			lf = hak_lock(&hak_heaps_lock);
			if (hak_heaps_gen != gen) {
				hak_unlock(&hak_heaps_lock, lf);
				break;
			}
			n = hak_shard_trim_keep(&c->shard, gone);
			c = cache_of(c->link.next);
			hak_unlock(&hak_heaps_lock, lf);
			for (k = 0; k < n; k++)
				hak_superslab_put_slab(gone[k], HAK_SS_FORCE);
		}
		if (!c)
			return;
	}
}

/*
 * hak_check of h's caches: each shard in bounded holds (hak_shard_check),
 * the cache list lock dropped between caches and between holds, so a
 * cache may be created or destroyed meanwhile: the walk then starts over
 * (hak_heaps_gen), up to HAK_WALK_TRIES times, and then counts as skipped.
 */
int hak_caches_check(struct hak_heap *h)
{
	unsigned starts;
	int bad = 0;

	for (starts = 0; starts < HAK_WALK_TRIES; starts++) {
		unsigned long lf = hak_lock(&hak_heaps_lock);
		uint64_t gen = hak_heaps_gen;
		struct hak_cache *c = cache_of(h->caches);

		hak_unlock(&hak_heaps_lock, lf);
		while (c && !hak_shard_check(&c->shard, &gen, &bad)) {
			lf = hak_lock(&hak_heaps_lock);
			if (hak_heaps_gen != gen) {
				hak_unlock(&hak_heaps_lock, lf);
				break;
			}
			c = cache_of(c->link.next);
			hak_unlock(&hak_heaps_lock, lf);
		}
		if (!c)
			return bad;
	}
	hak_stat_add(&h->check_skips, 1);
	return bad;
}

void hak_cache_stats(struct hak_cache *c, struct hak_cache_stats *st)
{
	uint64_t pops = 0, cached = 0, live, a;
	unsigned cpu;

	if (!st) {
		hak_report(HAK_EV_MISUSE, NULL, 0, "hak_cache_stats: NULL");
		return;
	}
	if (cache_bad(c, "hak_cache_stats: NULL or destroyed cache"))
		return;
	for (cpu = 0; cpu < HAK_MAX_CPUS; cpu++) {
		struct hak_pcpu_one *o = hak_area_load(&c->pcpu[cpu]);

		pops += __atomic_load_n(&o->mag.allocs, __ATOMIC_RELAXED);
		cached += hak_mag_count(&o->mag);
	}
	live = hak_shard_out(&c->shard);
	live = live > cached ? live - cached : 0;
	a = pops + hak_stat_read(&c->shard.bypass_allocs);
	st->name = c->name;
	st->object_size = c->obj_size;
	st->slot_size = c->ci.size;
	st->objects_in_use = live;
	st->cached = cached;
	st->allocs = a;
	st->frees = a > live ? a - live : 0;
	st->slabs = __atomic_load_n(&c->shard.nslabs, __ATOMIC_RELAXED);
}

/* Every per-CPU area of c back to its heap's provider (c is quiescent,
 * its magazines empty or about to be forgotten). */
static void cache_release_areas(struct hak_cache *c)
{
	struct hak_heap *h = c->shard.heap;
	size_t bytes = hak_pcpu_one_bytes(c->shard.cap);
	unsigned cpu;

	for (cpu = 0; cpu < HAK_MAX_CPUS; cpu++) {
		void *a = c->pcpu[cpu];

		if (a == (void *)&hak_pcpu_none)
			continue;
		hak_area_publish(&c->pcpu[cpu], &hak_pcpu_none);
		/* With no lock held: h's lock is the default heap's for a
		 * default-heap cache, which every CPU's refills take. */
		hak_provider_put_meta(h, a, bytes);
	}
}

int hak_cache_destroy(struct hak_cache *c)
{
	struct hak_heap *h;
	uint64_t live;
	unsigned long lf;
	unsigned cpu;
	int busy;

	if (cache_bad(c, "hak_cache_destroy: NULL or destroyed cache"))
		return -1;
	/* Off the list first: a remote drain or check (another CPU's
	 * hak_trim, reclaim or hak_check, served by the CPU that owns an
	 * area) reaches an area only under the list lock, through the list,
	 * so from here on only this call touches them. Back on the list if
	 * the cache is refused. Not if another destroy of c or of its heap
	 * runs: c would be unlinked twice (found by review). */
	lf = hak_lock(&hak_heaps_lock);
	/* Its heap read only now, with c live under the list lock: c may
	 * have been destroyed and created again on another heap since the
	 * test above, and the heap read before it unlinked c from the wrong
	 * list (found by review). */
	busy = __atomic_load_n(&c->magic, __ATOMIC_RELAXED) !=
		       HAK_CACHE_MAGIC ||
	       c->destroying;
	h = c->shard.heap;
	if (!busy)
		busy = h->destroying;
	if (!busy) {
		c->destroying = 1;
		h->caches_destroying++;
		hak_list_del(&h->caches, &c->link);
		hak_heaps_gen++;
	}
	hak_unlock(&hak_heaps_lock, lf);
	if (busy) {
		hak_report(HAK_EV_MISUSE, c, 0,
			   "hak_cache_destroy: the cache or its heap is being "
			   "destroyed by another call");
		return -1;
	}
	for (cpu = 0; cpu < HAK_MAX_CPUS; cpu++)
		area_drain(c, cpu);
	live = cache_live(c);
	if (live) {
		/* Reported while off the list: no remote drain moves an
		 * object out of a magazine between the report's look at
		 * its slab bit and at the magazines. */
		hak_leaks_report(&c->shard, live);
		lf = hak_lock(&hak_heaps_lock);
		hak_list_push(&h->caches, &c->link);
		hak_heaps_gen++;
		c->destroying = 0;
		h->caches_destroying--;
		hak_unlock(&hak_heaps_lock, lf);
		return -1;
	}
	/* Nothing live and every magazine drained: every slab is empty,
	 * on the empty list (the drains gave back the rest). */
	hak_shard_trim(&c->shard);
	if (c->shard.nslabs)
		hak_report(HAK_EV_CORRUPTION, c, c->shard.nslabs,
			   "hak_cache_destroy: slabs left");
	__atomic_store_n(&c->magic, HAK_CACHE_DEAD, __ATOMIC_RELEASE);
	cache_release_areas(c);
	lf = hak_lock(&hak_heaps_lock);
	h->caches_destroying--;
	hak_unlock(&hak_heaps_lock, lf);
	hak_stable_free(&cache_pool, c);
	return 0;
}

/* heap.c's destroy: h's caches go with it (their slabs go with its
 * superslabs). */
void hak_caches_destroy_all(struct hak_heap *h)
{
	for (;;) {
		unsigned long lf = hak_lock(&hak_heaps_lock);
		struct hak_cache *c = cache_of(h->caches);

		if (c) {
			hak_list_del(&h->caches, &c->link);
			hak_heaps_gen++;
			__atomic_store_n(&c->magic, HAK_CACHE_DEAD,
					 __ATOMIC_RELEASE);
		}
		hak_unlock(&hak_heaps_lock, lf);
		if (!c)
			return;
		cache_release_areas(c);
		hak_list_push(&h->caches_dead, &c->link);
	}
}

void hak_caches_free_dead(struct hak_heap *h)
{
	struct hak_cache *c;

	while ((c = cache_of(h->caches_dead)) != NULL) {
		hak_list_del(&h->caches_dead, &c->link);
		hak_stable_free(&cache_pool, c);
	}
}

/* ---- leak reports ------------------------------------------------------ */

#define LEAKS_SHOWN 16

/* Whether p sits in a magazine of sh's front (sh quiescent). */
static int in_magazines(struct hak_shard *sh, void *p)
{
	unsigned cpu, i;

	for (cpu = 0; cpu < HAK_MAX_CPUS; cpu++) {
		const struct hak_mag *m;
		unsigned n;

		if (sh->cls == HAK_CLASS_CACHE)
			m = &((struct hak_pcpu_one *)((struct hak_cache *)sh)
				      ->pcpu[cpu])
				     ->mag;
		else
			m = &sh->heap->pcpu[cpu]->mag[sh->cls];
		n = hak_mag_count(m);
		for (i = 0; i < n; i++)
			if (m->base[i] == p)
				return 1;
	}
	return 0;
}

/* Objects whose slab bit one hold of h's lock reads, and slabs it
 * passes: the report's bound on IRQ-off work, like a check's hold. */
#define LEAKS_HOLD_OBJECTS 64

struct leak_walk {
	struct hak_superslab *ss; /* the place: valid while ss_list_gen is */
	unsigned i, idx;	  /* slab of ss, object of the slab */
	uint64_t seen_list;
	unsigned starts;
	unsigned long found, skip; /* leaks seen this start, to skip */
};

/* One hold: up to LEAKS_HOLD_OBJECTS of sh's objects below their slab's
 * high-water mark read, those not free in their slab put in cand[]
 * (with their size). Returns how many; *done when the walk ended (or gave
 * up: the superslab list kept changing). */
static unsigned leaks_hold(struct hak_shard *sh, struct leak_walk *w,
			   void **cand, size_t *size, int *done)
{
	struct hak_heap *h = sh->heap;
	unsigned long lf = hak_lock(&h->lock);
	unsigned n = 0, seen = 0;

	if (!w->starts || h->ss_list_gen != w->seen_list) {
		if (w->starts++ == HAK_WALK_TRIES) {
			*done = 1;
			goto out;
		}
		w->ss = hak_list_entry(h->ss_all, struct hak_superslab, all);
		w->i = w->idx = 0;
		/* Those reported before: a superslab holding one of sh's
		 * live objects cannot leave, so they come first again. */
		if (w->found > w->skip)
			w->skip = w->found;
		w->found = 0;
	}
	while (w->ss && seen < LEAKS_HOLD_OBJECTS) {
		struct hak_slab *s = &w->ss->slab[w->i];

		if (s->shard == sh && w->idx < s->hwm) {
			void *p = (void *)(s->start +
					   (uintptr_t)w->idx * s->size);

			if (!hak_slab_bit_is_free(s, w->idx)) {
				cand[n] = p;
				size[n++] = s->size;
			}
			w->idx++;
			seen++;
			continue;
		}
		/* A slab passed counts too: a hold over a heap where sh
		 * has few slabs stays bounded. */
		seen++;
		w->idx = 0;
		if (++w->i == HAK_SLABS_PER_SS) {
			w->i = 0;
			w->ss = hak_list_entry(w->ss->all.next,
					       struct hak_superslab, all);
		}
	}
	*done = !w->ss;
out:
	w->seen_list = h->ss_list_gen;
	hak_unlock(&h->lock, lf);
	return n;
}

/*
 * Report up to *left of sh's live objects (not free in their slab, not in
 * a magazine), SLUB's "objects remaining" with addresses. sh is
 * quiescent (its cache or heap is being destroyed), so the magazines are
 * read with no lock; the slabs in holds of h's lock of bounded work, the
 * reports made with it dropped (the report hook may be slow). A walk
 * whose superslab list changed in a gap starts over, HAK_WALK_TRIES times
 * at most, past what it reported (a report, not a check: it may then say
 * less).
 */
static void shard_leaks(struct hak_shard *sh, unsigned *left)
{
	struct leak_walk w = { 0 };
	void *cand[LEAKS_HOLD_OBJECTS];
	size_t size[LEAKS_HOLD_OBJECTS];
	int done = 0;

	while (!done && *left) {
		unsigned n = leaks_hold(sh, &w, cand, size, &done), k;

		for (k = 0; k < n && *left; k++) {
			if (in_magazines(sh, cand[k]))
				continue;
			if (w.found++ < w.skip)
				continue;
			hak_report_heap(sh->heap, HAK_EV_LEAK, cand[k], size[k],
					sh->cls == HAK_CLASS_CACHE
						? "object remaining in its cache"
						: "block remaining");
			(*left)--;
		}
		hak_test_walk_gap();
	}
}

/* A cache's live objects: up to LEAKS_SHOWN addresses, then the count
 * (hak_heap_leaks_report does a heap's). */
void hak_leaks_report(struct hak_shard *sh, uint64_t live)
{
	unsigned left = LEAKS_SHOWN;
	struct hak_heap *h = sh->heap;

	shard_leaks(sh, &left);
	hak_report_heap(h, HAK_EV_LEAK, sh, (size_t)live,
			"cache destroy refused: objects remaining");
}

/* A heap's live blocks, every shard's and large run's: magazine
 * membership is found per object, so this is O(objects x cached), a
 * report for a leak, not a fast path. */
void hak_heap_leaks_report(struct hak_heap *h, uint64_t live)
{
	unsigned long lf;
	unsigned left = LEAKS_SHOWN, c, i;
	struct hak_cache *k;
	struct hak_large_run *r;
	void *run_at[LEAKS_SHOWN];
	size_t run_len[LEAKS_SHOWN];

	for (c = 0; c < HAK_NCLASSES && left; c++)
		shard_leaks(&h->shard[c], &left);
	/* h is quiescent, so its cache list does not change; each step is
	 * read under the list lock, which its writers take, and not held
	 * over a cache's walk (IRQs masked on bare metal). */
	lf = hak_lock(&hak_heaps_lock);
	k = cache_of(h->caches);
	hak_unlock(&hak_heaps_lock, lf);
	while (k && left) {
		shard_leaks(&k->shard, &left);
		lf = hak_lock(&hak_heaps_lock);
		k = cache_of(k->link.next);
		hak_unlock(&hak_heaps_lock, lf);
	}
	/* At most left (<= LEAKS_SHOWN) runs, reported with the lock
	 * dropped like the rest. */
	lf = hak_lock(&h->lock);
	for (r = hak_list_entry(h->large_runs, struct hak_large_run, link),
	    c = 0;
	     r && c < left;
	     r = hak_list_entry(r->link.next, struct hak_large_run, link)) {
		run_at[c] = (void *)r->addr;
		run_len[c++] = r->npages << HAK_PAGE_SHIFT;
	}
	hak_unlock(&h->lock, lf);
	for (i = 0; i < c; i++)
		hak_report_heap(h, HAK_EV_LEAK, run_at[i], run_len[i],
				"large block remaining");
	hak_report_heap(h, HAK_EV_LEAK, h, (size_t)live,
			"heap destroy refused: blocks remaining");
}
