// SPDX-License-Identifier: MIT
/*
 * heap.c - created heaps: hak_heap_create, their allocation calls, and
 * hak_heap_destroy.
 *
 * A created heap is a struct hak_heap like the default one (layout.h):
 * its own provider, lock, shards, superslabs, large runs and per-CPU
 * areas, so nothing of one heap ever enters another's lists or caches.
 * What the allocator has once is the default heap's: the page map (and
 * its nodes, from the default provider), the slab map, the size table,
 * the cookie secret.
 *
 * Its front is a struct hak_front over its own per-CPU table, served by
 * pcpu_ops.h's hak_op_pop / hak_op_push: an rseq section on the hosted
 * port, one IRQ-masked section on bare metal. Its slabs carry div 0, so
 * hak_free's inline checks refuse its objects and its slow path brings
 * them here (hak_owner_free) after the full checks; the default heap's
 * fast path pays nothing for the existence of other heaps.
 *
 * Heap objects are type-stable: taken from the default provider, never
 * given back, reused only by a later create. So a stale handle reads a
 * dead magic instead of faulting, and a free racing a destroy's end
 * locks a lock that still exists.
 *
 * Lock order: the heap list lock (hak_heaps_lock) is outer to the
 * per-CPU sections (a cache walk holds it while it enters another CPU's
 * cache: fronts_walk) and to the shard and heap locks; it is held only
 * to link, unlink or walk heaps and caches.
 */
#include "pcpu_ops.h"

hak_spinlock_t hak_heaps_lock;
uint64_t hak_heaps_gen;
static uint64_t heap_incarnations; /* creates so far */
static struct hak_list *heaps;	   /* live created heaps */
static struct hak_list *heap_pool; /* destroyed heap objects */

#define heap_of(n) hak_list_entry(n, struct hak_heap, link)

struct hak_heap *hak_heap_default(void)
{
	if (!__atomic_load_n(&hak_heap.ready, __ATOMIC_ACQUIRE))
		return NULL;
	return &hak_heap;
}

/*
 * Type-stable objects (heaps, caches) sit in chunks of whole pages from
 * the default heap's provider, each after a header that lists the chunk
 * (for tests that account for every metadata page); never returned.
 */
struct stable_chunk {
	struct hak_list link; /* on stable_chunks */
	size_t bytes;
};

#define STABLE_HEAD hak_round_up(sizeof(struct stable_chunk), ARCH_CACHELINE)

static struct hak_list *stable_chunks;

/* An object of bytes: from pool, else a fresh chunk. No lock held. */
void *hak_stable_alloc(struct hak_list **pool, size_t bytes)
{
	unsigned long flags = hak_lock(&hak_heaps_lock);
	struct hak_list *n = *pool;
	struct stable_chunk *c;
	size_t len = hak_round_up(STABLE_HEAD + bytes, HAK_PAGE_SIZE);

	if (n)
		hak_list_del(pool, n);
	hak_unlock(&hak_heaps_lock, flags);
	if (n)
		return n;
	/* With the default heap's lock dropped for the call: every CPU's
	 * superslab and large traffic waits on it (found by review). */
	c = hak_provider_alloc_unlocked(&hak_heap, len, HAK_PAGE_SIZE, 1);
	if (!c)
		return NULL;
	c->bytes = len;
	flags = hak_lock(&hak_heaps_lock);
	hak_list_push(&stable_chunks, &c->link);
	hak_unlock(&hak_heaps_lock, flags);
	return (char *)c + STABLE_HEAD;
}

/* o's first bytes become its pool link: the magic that follows them is
 * already dead. */
void hak_stable_free(struct hak_list **pool, void *o)
{
	unsigned long flags = hak_lock(&hak_heaps_lock);

	hak_list_push(pool, o);
	hak_unlock(&hak_heaps_lock, flags);
}

unsigned hak_stable_chunks(uintptr_t *lo, size_t *len, unsigned max)
{
	unsigned long flags = hak_lock(&hak_heaps_lock);
	struct hak_list *n;
	unsigned k = 0;

	for (n = stable_chunks; n; n = n->next, k++)
		if (k < max) {
			lo[k] = (uintptr_t)n;
			len[k] = ((struct stable_chunk *)n)->bytes;
		}
	hak_unlock(&hak_heaps_lock, flags);
	return k;
}

/* 0 when h may be used; else reports why (fn names the call) and -1. */
static int heap_bad(const struct hak_heap *h, const char *what)
{
	if (!h)
		hak_report(HAK_EV_MISUSE, NULL, 0, what);
	else if (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) !=
		 HAK_HEAP_MAGIC)
		hak_report(HAK_EV_MISUSE, h, 0, what);
	else
		return 0;
	return -1;
}

static void heap_setup(struct hak_heap *h, const struct hak_heap_config *cfg)
{
	size_t budget = cfg->cache_bytes ? cfg->cache_bytes
					 : HAK_HEAP_CACHE_BYTES;
	const char *name = cfg->name ? cfg->name : "heap";
	unsigned c, i;

	/* The pool link overlaid the first word: all of it goes. */
	hak_memset(h, 0, sizeof(*h));
	h->ncpus = hak_heap.ncpus;
	/* Not an assignment: the struct is large enough that GCC copies
	 * it with memcpy, which a freestanding build may not have. */
	hak_memcpy(&h->cfg.provider, &cfg->provider, sizeof(cfg->provider));
	h->cfg.report = cfg->report;
	h->cfg.report_ctx = cfg->report_ctx;
	h->limit = cfg->limit;
	for (i = 0; i + 1 < HAK_HEAP_NAME && name[i]; i++)
		h->name[i] = name[i];
	for (c = 0; c < HAK_NCLASSES; c++)
		hak_shard_init(&h->shard[c], h, c, &hak_classes[c],
			       hak_cache_cap(budget, hak_classes[c].size));
	h->pcpu_bytes = hak_pcpu_area_bytes(h);
	h->cache_budget = budget;
	hak_pcpu_table_none((void **)h->pcpu);
	h->ready = 1;
}

/* The calling CPU's area, made through the miss path's own helper. */
static int heap_first_area(struct hak_heap *h)
{
	unsigned cpu = hak_port_cpu_hint();

	if (cpu >= hak_heap.ncpus)
		cpu = 0;
	return hak_pcpu_area_make(h, (void **)&h->pcpu[cpu], 0, 0) == 0;
}

struct hak_heap *hak_heap_create(const struct hak_heap_config *cfg)
{
	struct hak_heap *h;
	unsigned long flags;

	if (!__atomic_load_n(&hak_heap.ready, __ATOMIC_ACQUIRE)) {
		hak_report(HAK_EV_NOT_INITIALISED, NULL, 0,
			   "hak_heap_create: call hak_init first");
		return NULL;
	}
	if (!cfg || !cfg->provider.alloc || !cfg->provider.release) {
		hak_report(HAK_EV_MISUSE, NULL, 0,
			   "hak_heap_create: no config or provider hooks");
		return NULL;
	}
	h = hak_stable_alloc(&heap_pool, sizeof(*h));
	if (!h) {
		struct hak_report r;

		hak_report_init(&r, HAK_EV_OUT_OF_MEMORY, NULL, sizeof(*h),
				"hak_heap_create: no memory for the heap "
				"object (default provider)");
		if (cfg->report)
			cfg->report(&r, cfg->report_ctx);
		else
			hak_report_full(&r);
		return NULL;
	}
	heap_setup(h, cfg);
	/* One provider call now, so a provider that cannot give anything is
	 * refused here rather than at the first allocation: the calling
	 * CPU's per-CPU area. */
	if (!heap_first_area(h)) {
		hak_report_heap(h, HAK_EV_OUT_OF_MEMORY, NULL, h->pcpu_bytes,
				"hak_heap_create: the provider (or the limit) "
				"refused the first per-CPU area");
		h->magic = HAK_HEAP_DEAD;
		hak_stable_free(&heap_pool, h);
		return NULL;
	}
	flags = hak_lock(&hak_heaps_lock);
	hak_list_push(&heaps, &h->link);
	hak_heaps_gen++;
	h->incarnation = ++heap_incarnations;
	__atomic_store_n(&h->magic, HAK_HEAP_MAGIC, __ATOMIC_RELEASE);
	hak_unlock(&hak_heaps_lock, flags);
	return h;
}

const char *hak_heap_name(const struct hak_heap *h)
{
	if (heap_bad(h, "hak_heap_name: NULL or destroyed heap"))
		return NULL;
	return h->name;
}

/*
 * One pop / push on h's magazine of class cls: where the port has
 * restartable sections, the same sections as the default heap's over h's
 * address in a register (no IRQ masked); else pcpu_ops.h's (rseq on the
 * hosted port, a critical section otherwise).
 */
#if HAK_PORT_HAS_RESTART
/* This object's restartable sections' records (malloc.c searches it). */
HAK_RESTART_TABLE(hak_restart_table_heap);

#define H_NCPUS __builtin_offsetof(struct hak_heap, ncpus)
#define H_PCPU __builtin_offsetof(struct hak_heap, pcpu)

static hak_always_inline void *heap_pop(struct hak_heap *h,
					const struct hak_front *f)
{
	void *p;
	int fail;

	ARCH_RESTART_POP_R(p, fail, h, H_NCPUS, H_PCPU, f->magoff);
	return fail ? NULL : p;
}

static hak_always_inline int heap_push(struct hak_heap *h,
				       const struct hak_front *f, void *p)
{
	ARCH_RESTART_PUSH_R(p, h, H_NCPUS, H_PCPU, f->magoff, miss);
	return 0;
miss:
	return -1;
}
#else
static hak_always_inline void *heap_pop(struct hak_heap *h,
					const struct hak_front *f)
{
	(void)h;
	return hak_op_pop(f);
}

static hak_always_inline int heap_push(struct hak_heap *h,
				       const struct hak_front *f, void *p)
{
	(void)h;
	return hak_op_push(f, p);
}
#endif

/* h is live and not the default heap. */
static void *heap_alloc(struct hak_heap *h, size_t size, size_t align)
{
	struct hak_front f;
	unsigned cls;
	void *p;

	if (align <= HAK_MIN_OBJECT) /* every class is this aligned */
		cls = size <= HAK_POOL_MAX ? hak_size_to_class(size)
					   : HAK_CLASS_NONE;
	else
		cls = hak_sizeclass_for_aligned(size, align);
	if (cls == HAK_CLASS_NONE)
		return hak_large_alloc(size, align, h);
	f = hak_front_of(h, cls);
	p = heap_pop(h, &f);
	if (unlikely(!p)) {
		p = hak_front_alloc_miss(&f);
		if (!p) {
			hak_report_heap(h, HAK_EV_OUT_OF_MEMORY, NULL, size,
					h->limit ? "no slab (limit or provider)"
						 : "no slab (provider)");
			return NULL;
		}
	}
	if (HAK_HARDEN)
		((uintptr_t *)p)[HAK_COOKIE_WORD] = 0;
	return p;
}

void *hak_heap_alloc_raw(struct hak_heap *h, size_t align, size_t size)
{
	return heap_alloc(h, size, align);
}

/* Debug builds wrap a created heap's blocks as the default heap's
 * (debug.c): red zone, poison, sites. */
#if HAK_DEBUG
#define HEAP_ALLOC(h, size, align)                                             \
	hak_dbg_heap_alloc(h, align, size, __builtin_return_address(0))
#else
#define HEAP_ALLOC(h, size, align) heap_alloc(h, size, align)
#endif

static __attribute__((noinline)) void *heap_malloc_slow(struct hak_heap *h,
							size_t size)
{
	if (heap_bad(h, "hak_heap_malloc: NULL or destroyed heap"))
		return NULL;
	return HEAP_ALLOC(h, size, 0);
}

/*
 * The hit inline: one magazine pop. Everything else (a bad handle, a
 * large size, a miss, the debug build's wrapping) goes to the slow path;
 * a destroyed heap's per-CPU table points at hak_pcpu_none only, so its
 * pop always fails there.
 */
void *hak_heap_malloc(struct hak_heap *h, size_t size)
{
	struct hak_front f;
	void *p;

	if (h == &hak_heap)
		return hak_malloc(size);
	if (HAK_DEBUG || unlikely(!h || size > HAK_POOL_MAX))
		return heap_malloc_slow(h, size);
	/* The size table gives the magazine offset itself: no class round
	 * trip on the hit (sh is for the slow path only). */
	f = hak_front_of(h, hak_size_to_class(size));
	f.magoff = hak_size_to_magoff(size);
	p = heap_pop(h, &f);
	if (unlikely(!p))
		return heap_malloc_slow(h, size);
	if (HAK_HARDEN)
		((uintptr_t *)p)[HAK_COOKIE_WORD] = 0;
	return p;
}

void *hak_heap_aligned_alloc(struct hak_heap *h, size_t alignment,
			     size_t size)
{
	if (h == &hak_heap)
		return hak_aligned_alloc(alignment, size);
	if (heap_bad(h, "hak_heap_aligned_alloc: NULL or destroyed heap"))
		return NULL;
	if (!alignment || (alignment & (alignment - 1))) {
		hak_report_heap(h, HAK_EV_BAD_ALIGNMENT, NULL, alignment,
				"alignment is not a power of two");
		return NULL;
	}
	return HEAP_ALLOC(h, size, alignment);
}

void *hak_heap_calloc(struct hak_heap *h, size_t nmemb, size_t size)
{
	size_t n;
	void *p;

	if (h == &hak_heap)
		return hak_calloc(nmemb, size);
	if (heap_bad(h, "hak_heap_calloc: NULL or destroyed heap"))
		return NULL;
	if (hak_calloc_bytes(nmemb, size, &n))
		return NULL;
	p = HEAP_ALLOC(h, n, 0);
	if (p) /* a created heap's memory is not known to be zero */
		hak_memset(p, 0, n);
	return p;
}

void *hak_heap_realloc(struct hak_heap *h, void *ptr, size_t size)
{
	if (h != &hak_heap &&
	    heap_bad(h, "hak_heap_realloc: NULL or destroyed heap"))
		return NULL;
	if (!ptr)
		return hak_heap_malloc(h, size);
	if (hak_block_owner(ptr, 0) != h) {
		hak_report(HAK_EV_MISUSE, ptr, size,
			   "hak_heap_realloc: the block is not the heap's");
		return NULL;
	}
	return hak_realloc(ptr, size);
}

void hak_owner_free(struct hak_slab *s, void *p)
{
	struct hak_shard *sh = s->shard;
	struct hak_front f;

	if (sh->cls == HAK_CLASS_CACHE) {
		hak_cache_free_checked((struct hak_cache *)(void *)sh, p);
		return;
	}
	if (HAK_HARDEN)
		((uintptr_t *)p)[sh->cookie_word] =
			hak_heap.secret ^ (uintptr_t)p;
	f = hak_front_of(sh->heap, sh->cls);
	if (heap_push(sh->heap, &f, p))
		hak_front_free_miss(&f, p);
}

void hak_heap_stats(struct hak_heap *h, struct hak_stats *out)
{
	if (!out) {
		hak_report(HAK_EV_MISUSE, NULL, 0, "hak_heap_stats: NULL");
		return;
	}
	if (h != &hak_heap &&
	    heap_bad(h, "hak_heap_stats: NULL or destroyed heap"))
		return;
	hak_heap_stats_fill(h, out);
}

int hak_heap_check(struct hak_heap *h)
{
	if (h != &hak_heap &&
	    heap_bad(h, "hak_heap_check: NULL or destroyed heap"))
		return 1;
	return hak_remote_all(HAK_REQ_CHECK) + hak_check_heap(h);
}

void hak_heap_trim(struct hak_heap *h)
{
	if (h != &hak_heap &&
	    heap_bad(h, "hak_heap_trim: NULL or destroyed heap"))
		return;
	hak_remote_all(HAK_REQ_DRAIN);
	hak_trim_heap(h);
}

/* ---- every heap's and cache's per-CPU areas ------------------------- */

/*
 * What a remote request does to the created heaps' and the object
 * caches' areas of cpu: a walk over them in holds of the list lock, each
 * of at most FRONTS_CHUNK objects of one magazine checked, or popped
 * and drained, inside one critical section (bare metal: IRQs masked for
 * a chunk, not for every heap). Each hold finds its place again under
 * the lock, and the walk starts over if a heap or cache joined or left
 * meanwhile (hak_heaps_gen): both are unlinked before their areas go
 * back, so an area reached under the lock is live. Elements in order:
 * the default heap's caches, then per created heap its HAK_NCLASSES
 * magazines and its caches. Bounded: a walk is at most its elements' capacities in
 * chunks; after HAK_WALK_TRIES starts it gives up (a check counts as
 * skipped; a drain leaves the rest cached until the next one). The
 * walk's place is a struct hak_fronts_pos (layout.h), which a request
 * served across several hak_tick calls keeps (remote.c).
 */

/* The slabs a drain emptied, of heap h (inc its incarnation), to give
 * back once the list lock is dropped (fronts_put). */
struct fronts_gone {
	struct hak_slab *slab[HAK_DRAIN_KEEP_MAX];
	unsigned n;
	struct hak_heap *h;
	uint64_t inc;
	/* The caller masks IRQs (hak_tick from an IRQ handler): smaller
	 * chunks, and no superslab goes back (HAK_SS_KEEP). */
	int light;
};

/* Objects per hold: the hold is the list lock, around a critical
 * section and a shard-lock hold (riscv64's longest window at 16 was 1868
 * instructions, too near 2000). */
#define FRONTS_CHUNK 8u

_Static_assert(FRONTS_CHUNK <= HAK_DRAIN_KEEP_MAX,
	       "a chunk is drained in one kept hold");

#define cache_of(n) hak_list_entry(n, struct hak_cache, link)

/* The list lock held: the walk moves to the next element. */
static void fronts_next(struct hak_fronts_pos *w)
{
	w->i = 0;
	w->rounds = 0;
	if (!w->c && w->h != &hak_heap && ++w->cls < HAK_NCLASSES)
		return;
	w->c = w->c ? cache_of(w->c->link.next) : cache_of(w->h->caches);
	if (w->c)
		return;
	/* The next created heap, its own magazines first. */
	w->h = w->h == &hak_heap ? heap_of(heaps) : heap_of(w->h->link.next);
	w->cls = 0;
}

/* The list lock held: the element's magazine on cpu, its shard and its
 * area's per-CPU table entry, or NULL when it has no area there. */
static struct hak_mag *fronts_mag(const struct hak_fronts_pos *w, unsigned cpu,
				  struct hak_shard **sh, void ***slot)
{
	if (w->c) {
		struct hak_pcpu_one *a = hak_area_load(&w->c->pcpu[cpu]);

		if ((void *)a == (void *)&hak_pcpu_none)
			return NULL;
		*sh = &w->c->shard;
		*slot = &w->c->pcpu[cpu];
		return &a->mag;
	} else {
		struct hak_pcpu *pc =
			hak_area_load((void *const *)&w->h->pcpu[cpu]);

		if (pc == &hak_pcpu_none)
			return NULL;
		*sh = &w->h->shard[w->cls];
		*slot = (void **)&w->h->pcpu[cpu];
		return &pc->mag[w->cls];
	}
}

/* Inside the section: the magazine's header agrees with its shard. */
static int fronts_mag_bad(const struct hak_fronts_pos *w, struct hak_mag *m,
			  struct hak_shard *sh, unsigned cpu)
{
	/* A cache's magazine is exactly its cap; a heap's grows to cap_max
	 * (percpu_cache.c's mag_bad). */
	if (hak_mag_header_ok(m, sh->cap, w->c ? sh->cap : sh->cap_max))
		return 0;
	hak_report(HAK_EV_CORRUPTION, m, cpu,
		   w->c ? "object cache count" : "cache count");
	return 1;
}

/* One hold: a chunk of the element's magazine. own: we are cpu, outside
 * any section (serve), and enter our own: -1 if we are cpu no more. A
 * port whose remote sections mask nothing (hosted, where entering one
 * may cost a membarrier) does a whole magazine per section. */
static int fronts_chunk(struct hak_fronts_pos *w, struct fronts_gone *g,
			unsigned cpu, unsigned what, int own, int *bad)
{
	const unsigned chunk_max =
		HAK_PORT_REMOTE_EXCLUSIVE ? ~0u : FRONTS_CHUNK;
	void *chunk[FRONTS_CHUNK];
	struct hak_shard *sh = NULL;
	void **slot = NULL;
	struct hak_mag *m = fronts_mag(w, cpu, &sh, &slot);
	unsigned long flags;
	unsigned n, end, k = 0, more = 0;

	/* No area on cpu (none of its magazines either), or an empty
	 * magazine (a racy read: what is pushed after it is left, as if
	 * pushed after the walk): no section. */
	if (!m || (!(what & HAK_REQ_CHECK) && !hak_mag_count(m))) {
		if (!m && !w->c)
			w->cls = HAK_NCLASSES - 1;
		fronts_next(w);
		return 0;
	}
	if (own) {
		unsigned on = hak_port_pcpu_enter(&flags);

		if (on != cpu) {
			hak_port_pcpu_exit(on, flags);
			return -1;
		}
	} else {
		hak_port_pcpu_enter_remote(cpu, &flags, slot);
	}
	n = hak_mag_count(m);
	if (what & HAK_REQ_CHECK) {
		if (!w->i && fronts_mag_bad(w, m, sh, cpu)) {
			(*bad)++;
			n = 0;
		}
		/* The magazine may have shrunk below our place since the
		 * last chunk (its CPU popped). */
		end = hak_chunk_end(w->i, n, chunk_max);
		for (; w->i < end; w->i++)
			*bad += hak_pcpu_check_object(
				m->base[w->i], sh,
				w->c ? "object cache CPU cache" : "CPU cache");
		more = end < n;
	} else if (HAK_PORT_REMOTE_EXCLUSIVE) {
		/* The whole magazine in this hold (a remote hold costs the
		 * hosted port a membarrier), in drains whose emptied slabs
		 * wait in gone[] for fronts_put, with the locks dropped: a
		 * superslab they empty is no provider call under the list
		 * lock or the CPU's (found by review). When gone[] may not
		 * hold another drain's, the rest waits for the next hold. */
		unsigned c;

		while ((n = hak_mag_count(m)) &&
		       (c = HAK_DRAIN_KEEP_MAX - g->n) != 0) {
			void **top;

			c = c < n ? c : n;
			top = hak_mag_top(m) - c;
			g->n += hak_shared_drain_keep(sh, top, c,
						      g->slab + g->n);
			hak_mag_set_top(m, top);
			k += c;
		}
		more = n != 0;
	} else {
		/* At most a full magazine's chunks and one more: IRQ
		 * handlers on cpu may push between two chunks. */
		unsigned lim = g->light ? HAK_SERVE_LIGHT : FRONTS_CHUNK;

		k = mag_pop_batch_locked(m, chunk, lim);
		w->rounds += k; /* in objects: light chunks are smaller */
		more = k == lim && w->rounds <= sh->cap_max;
	}
	if (own)
		hak_port_pcpu_exit(cpu, flags);
	else
		hak_port_pcpu_exit_remote(cpu, flags, slot);
	if (k) {
		/* Still under the list lock: the shard's heap is live. Its
		 * emptied slabs go back after the lock is dropped (a release
		 * each, fronts_put), not inside this hold. */
		if (!HAK_PORT_REMOTE_EXCLUSIVE)
			g->n = hak_shared_drain_keep(sh, chunk, k, g->slab);
		g->h = sh->heap;
		g->inc = sh->heap->incarnation;
		hak_stat_add(&sh->drains, 1);
	}
	if (!more)
		fronts_next(w);
	return 0;
}

/*
 * The list lock dropped: the slabs the last chunk emptied go back, each
 * in its own hold. The default heap's with no list lock (it is never
 * destroyed); a created heap's under the list lock, and only if the heap
 * is still the one they came from: if it was destroyed meanwhile, its
 * superslabs went back whole, these units with them.
 */
static void fronts_put(struct fronts_gone *g)
{
	unsigned k;

	for (k = 0; k < g->n; k++) {
		struct hak_heap *h = g->h;
		unsigned long lf;

		if (h == &hak_heap) {
			hak_superslab_put_slab(g->slab[k], g->light
								   ? HAK_SS_KEEP
								   : HAK_SS_PUT);
			continue;
		}
		/* Under the list lock, which keeps h alive: the unit goes
		 * back, but a superslab it empties stays (HAK_SS_KEEP) for
		 * h's next put, trim or destroy to release, not across
		 * this hold (found by review). */
		lf = hak_lock(&hak_heaps_lock);
		if (__atomic_load_n(&h->magic, __ATOMIC_RELAXED) ==
			    HAK_HEAP_MAGIC &&
		    h->incarnation == g->inc)
			hak_superslab_put_slab(g->slab[k], HAK_SS_KEEP);
		hak_unlock(&hak_heaps_lock, lf);
	}
	g->n = 0;
}

void hak_fronts_begin(struct hak_fronts_pos *w)
{
	w->starts = 0;
	w->h = &hak_heap;
}

/* One hold of the walk w (begun by hak_fronts_begin), for one kind of
 * request (drain or check): 1 when the walk is over (or gave up), 0 when
 * holds remain, -1 when own and the caller is on cpu no more (w keeps its
 * place). The list lock is dropped between holds: the next one finds its
 * place again, or starts over if a heap or cache joined or left. light:
 * the caller masks IRQs (remote.c serve): a drain takes HAK_SERVE_LIGHT
 * objects and leaves a superslab it empties for a later put or trim. */
int hak_fronts_step(struct hak_fronts_pos *w, unsigned cpu, unsigned what,
		    int own, int light, int *bad)
{
	unsigned long lf = hak_lock(&hak_heaps_lock);
	struct fronts_gone g;
	int r = 0;

	g.n = 0;
	g.light = light;
	if (!w->starts || hak_heaps_gen != w->gen) {
		if (w->starts++ == HAK_WALK_TRIES) {
			hak_unlock(&hak_heaps_lock, lf);
			if (what & HAK_REQ_CHECK)
				hak_stat_add(&hak_heap.check_skips, 1);
			w->h = NULL;
			return 1;
		}
		w->gen = hak_heaps_gen;
		w->h = &hak_heap;
		w->c = cache_of(hak_heap.caches);
		w->cls = w->i = w->rounds = 0;
		if (!w->c)
			fronts_next(w);
	}
	if (w->h)
		r = fronts_chunk(w, &g, cpu, what, own, bad);
	hak_unlock(&hak_heaps_lock, lf);
	fronts_put(&g);
	if (r)
		return -1;
	return !w->h;
}

/* One kind of request (drain or check) over every element, to the end,
 * entering cpu's sections remotely. */
static void fronts_walk(unsigned cpu, unsigned what, int *bad)
{
	struct hak_fronts_pos w;

	hak_fronts_begin(&w);
	while (!hak_fronts_step(&w, cpu, what, 0, 0, bad))
		;
}

int hak_fronts_cpu(unsigned cpu, unsigned what)
{
	int bad = 0;

	if (what & HAK_REQ_CHECK)
		fronts_walk(cpu, HAK_REQ_CHECK, &bad);
	if (what & HAK_REQ_DRAIN)
		fronts_walk(cpu, HAK_REQ_DRAIN, &bad);
	return bad;
}

/* Whether cpu's areas of the created heaps or the caches may hold
 * objects: at most HAK_FRONTS_PEEK of them are looked at under the list
 * lock (its hold stays bounded however many there are); past them the
 * answer is yes, which costs the asker a request, not a wrong result. */
#define HAK_FRONTS_PEEK 8u

int hak_fronts_cached(unsigned cpu)
{
	unsigned long flags = hak_lock(&hak_heaps_lock);
	unsigned budget = HAK_FRONTS_PEEK;
	struct hak_heap *h;
	int any = hak_caches_cached(&hak_heap, cpu, &budget);

	for (h = heap_of(heaps); h && !any; h = heap_of(h->link.next)) {
		if (!budget)
			any = 1;
		else {
			budget--;
			any = hak_pcpu_cached(hak_area_load(
				      (void *const *)&h->pcpu[cpu])) ||
			      hak_caches_cached(h, cpu, &budget);
		}
	}
	hak_unlock(&hak_heaps_lock, flags);
	return any;
}

/* One heap's locks, taken (take) in the documented order or released. */
static void heap_locks(struct hak_heap *h, int take)
{
	struct hak_cache *c;
	unsigned i;

	for (c = hak_list_entry(h->caches, struct hak_cache, link); c;
	     c = hak_list_entry(c->link.next, struct hak_cache, link))
		take ? (void)hak_lock(&c->shard.lock)
		     : hak_unlock(&c->shard.lock, 0);
	for (i = 0; i < HAK_NCLASSES; i++)
		take ? (void)hak_lock(&h->shard[i].lock)
		     : hak_unlock(&h->shard[i].lock, 0);
	for (i = 0; i < HAK_NCLASSES * HAK_LANES; i++) {
		struct hak_transfer *x =
			hak_transfer_of(h, i / HAK_LANES, i % HAK_LANES);

		if (x)
			take ? (void)hak_lock(&x->lock)
			     : hak_unlock(&x->lock, 0);
	}
	take ? (void)hak_lock(&h->lock) : hak_unlock(&h->lock, 0);
	take ? (void)hak_lock(&h->provider_lock)
	     : hak_unlock(&h->provider_lock, 0);
}

void hak_locks_list(int take)
{
	take ? (void)hak_lock(&hak_heaps_lock) : hak_unlock(&hak_heaps_lock, 0);
}

void hak_locks_all(int take)
{
	struct hak_heap *h;

	for (h = heap_of(heaps); h; h = heap_of(h->link.next))
		heap_locks(h, take);
	heap_locks(&hak_heap, take);
	hak_large_run_lock(take);
}

/* ---- destroy ---------------------------------------------------------- */

/* Live blocks of h: objects outside the slabs minus those cached (h is
 * quiescent: its magazines are read directly), plus large runs. */
static uint64_t heap_live(struct hak_heap *h)
{
	uint64_t live = h->large_objects;
	unsigned c, cpu;

	for (c = 0; c < HAK_NCLASSES; c++) {
		uint64_t out = hak_shard_out(&h->shard[c]), cached = 0;

		for (cpu = 0; cpu < HAK_MAX_CPUS; cpu++)
			cached += hak_mag_count(
				&((struct hak_pcpu *)hak_area_load(
					  (void *const *)&h->pcpu[cpu]))
					 ->mag[c]);
		live += out > cached ? out - cached : 0;
	}
	return live + hak_caches_live(h);
}

int hak_heap_destroy(struct hak_heap *h, unsigned flags)
{
	unsigned long lf;
	uint64_t live;
	unsigned cpu;
	int busy;

	if (h == &hak_heap) {
		hak_report(HAK_EV_MISUSE, h, 0,
			   "hak_heap_destroy: the default heap");
		return -1;
	}
	if (heap_bad(h, "hak_heap_destroy: NULL or destroyed heap"))
		return -1;
	/* Off the list first: no remote drain or check (another CPU's
	 * hak_trim, reclaim or hak_check, which reach h only through the
	 * list) moves its objects between magazines and slabs while live
	 * is counted, which could count some twice and refuse an empty
	 * heap. Back on the list if refused. */
	lf = hak_lock(&hak_heaps_lock);
	busy = __atomic_load_n(&h->magic, __ATOMIC_RELAXED) !=
		       HAK_HEAP_MAGIC ||
	       h->destroying || h->caches_destroying;
	if (!busy) {
		h->destroying = 1;
		hak_list_del(&heaps, &h->link);
		hak_heaps_gen++;
	}
	hak_unlock(&hak_heaps_lock, lf);
	if (busy) {
		/* Two destroys at once (or one of a cache of h) would
		 * unlink h twice, which empties the list (found by
		 * review). */
		hak_report(HAK_EV_MISUSE, h, 0,
			   "hak_heap_destroy: the heap or one of its caches is "
			   "being destroyed by another call");
		return -1;
	}
	live = heap_live(h);
	if (live && !(flags & HAK_HEAP_DESTROY_FORCE)) {
		/* Reported while still off the list (no remote drain moves
		 * objects under the report), then back on it. */
		hak_heap_leaks_report(h, live);
		lf = hak_lock(&hak_heaps_lock);
		hak_list_push(&heaps, &h->link);
		hak_heaps_gen++;
		h->destroying = 0;
		hak_unlock(&hak_heaps_lock, lf);
		return -1;
	}
	lf = hak_lock(&hak_heaps_lock);
	__atomic_store_n(&h->magic, HAK_HEAP_DEAD, __ATOMIC_RELEASE);
	hak_unlock(&hak_heaps_lock, lf);
	hak_caches_destroy_all(h);
	hak_superslab_release_all(h);
	/* Only now, with no slab naming them, may the cache objects be
	 * reused by a create (found by review). */
	hak_caches_free_dead(h);
	hak_large_release_all(h);
	for (cpu = 0; cpu < HAK_MAX_CPUS; cpu++) {
		struct hak_pcpu *pc = h->pcpu[cpu];

		if (pc == &hak_pcpu_none)
			continue;
		hak_area_publish((void **)&h->pcpu[cpu], &hak_pcpu_none);
		hak_provider_put_meta(h, pc, h->pcpu_bytes);
	}
	if (h->taken != h->returned)
		hak_report(HAK_EV_CORRUPTION, h, h->taken - h->returned,
			   "hak_heap_destroy: bytes not returned");
	hak_stable_free(&heap_pool, h);
	return 0;
}
