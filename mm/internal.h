/* SPDX-License-Identifier: MIT */
/*
 * mm/internal.h - hakmem's internal structures and cross-file interfaces.
 *
 * Layout: memory comes from the page provider in three shapes.
 *   superslab  HAK_SUPERSLAB_SIZE bytes aligned to its size, split into
 *              HAK_SLABS_PER_SS slabs of HAK_SLAB_SIZE. Its header (the
 *              slab descriptors) sits at the start of slab 0, whose objects
 *              begin after it.
 *   large run  whole pages for one block above HAK_POOL_MAX.
 *   metadata   per-CPU areas and page-map nodes, held for the heap's life.
 *
 * Finding metadata from a pointer: the page map (pagemap.c) maps every page
 * of every superslab slab to its struct hak_slab, and the first page of a
 * large run to its page count. A pointer hakmem never mapped reads 0, so a
 * foreign pointer is recognised without dereferencing it.
 *
 * Lock order (outermost first); no path takes them in another order:
 *   1. a per-CPU critical section   (hak_port_pcpu_enter)
 *   2. one shard lock               (struct hak_shard.lock, per class)
 *   3. the global lock              (hak_heap.lock: superslab pool, page
 *                                    map writes, large runs, provider
 *                                    accounting)
 *   4. the heap's provider lock     (struct hak_heap.provider_lock: the
 *                                    provider call alone; the large tier
 *                                    takes it with no other lock held)
 * Shared locks are taken with IRQs masked (hak_lock) and held for bounded
 * work, so a waiter never spins on a holder preempted on its own CPU.
 * That work is also short (a few hundred instructions): batches move in
 * chunks, one lock hold each; slabs and superslabs are released after
 * the shard lock is dropped; superslab headers, their page-map entries
 * and page-map nodes are written with no lock held (superslab.c,
 * pagemap.c).
 *
 * Names: hak_<file>_<verb> for cross-file functions, declared below grouped
 * by the file that defines them. The types live in layout.h, the derived
 * constants in defs.h, the classes in sizeclass.h, locks and assertions in
 * sync.h, the one list in list.h.
 */
#ifndef HAKMEM_MM_INTERNAL_H
#define HAKMEM_MM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "hakmem.h"
#include "hakmem/arch.h"
#include "hakmem/config.h"
#include "hakmem/port.h"
#include "defs.h"
#include "layout.h"
#include "list.h"
#include "sizeclass.h"
#include "sync.h"

/* ---- pagemap.c ------------------------------------------------------ */

/*
 * The root slot of an address whose bits 48-63 are all 0 (user space:
 * x86_64's lower half, aarch64's whole TTBR0 range up to 2^48) or all 1
 * (kernel space: x86_64's upper half, aarch64's TTBR1 range, where a
 * higher-half kernel keeps its image and heap): bits 36-47 of the
 * address, plus HAK_PM_HALF for the first kind. Any other address (x86_64
 * non-canonical, beyond 48-bit VA) gives HAK_PM_ROOT_SIZE or more. Not a
 * sign extension of bit 47: aarch64 user space has bit 47 set without the
 * bits above it.
 */
static inline size_t hak_pm_root_index(uintptr_t a)
{
	/* Adding 2^48 carries bits 48-63 = all 1 out of the word and turns
	 * all 0 into 1: one add and one shift, and every other address lands
	 * at HAK_PM_ROOT_SIZE or above. */
	return (size_t)((a + (1UL << HAK_PM_ADDR_BITS)) >> HAK_PM_ROOT_SHIFT);
}

static inline uintptr_t hak_pagemap_get(uintptr_t a)
{
	uintptr_t **mid, *leaf;
	size_t i0 = hak_pm_root_index(a);

	if (unlikely(i0 >> (HAK_PM_ADDR_BITS - HAK_PM_ROOT_SHIFT + 1)))
		return 0;
	mid = __atomic_load_n(&hak_pagemap_root[i0], __ATOMIC_ACQUIRE);
	if (unlikely(!mid))
		return 0;
	leaf = __atomic_load_n(&mid[(a >> (HAK_PAGE_SHIFT + HAK_PM_BITS)) &
				    (HAK_PM_FANOUT - 1)],
			       __ATOMIC_ACQUIRE);
	if (unlikely(!leaf))
		return 0;
	return __atomic_load_n(
		&leaf[(a >> HAK_PAGE_SHIFT) & (HAK_PM_FANOUT - 1)],
		__ATOMIC_ACQUIRE);
}

/* No lock held. Make sure the nodes exist for every entry of
 * [a, a + bytes): takes the default heap's lock (the page map's: nodes
 * come from its provider) and drops it to zero a new node with IRQs on.
 * Returns 0, or -1 if a node could not be allocated (or the range is not
 * mappable). */
int hak_pagemap_reserve(uintptr_t a, size_t bytes);
/* No lock needed: 1 if the nodes of [a, a + bytes) exist (one leaf), as
 * hak_pagemap_reserve would find them; 0 means "reserve first". */
int hak_pagemap_covered(uintptr_t a, size_t bytes);
/* Store v in a's entry. The caller owns a's page (a run or superslab on
 * no list, or under its heap's lock). Returns 0, or -1 if its nodes are
 * missing (hak_pagemap_reserve first) and v is not 0. */
int hak_pagemap_set(uintptr_t a, uintptr_t v);
/* The entry of a's page, NULL if its nodes are missing. No lock needed:
 * nodes are never freed. */
uintptr_t *hak_pagemap_entry(uintptr_t a);

/* ---- slabmap.c ------------------------------------------------------ */

/* At hak_init: the map over the provider's span, if it declares one. */
void hak_slabmap_init(const struct hak_page_provider *pp);
/* Superslab ss (on no list) gets (map) or loses its units' entries. */
void hak_slabmap_set(struct hak_superslab *ss, int map);
/* s's shard lock held (or s's superslab on no list), s's entry copies it:
 * carve after s is carved (hwm_off 0: every field); mark after s's
 * hwm_off rose or went to 0 (the mark alone: the rest is read only while
 * it is above 0, and changes only with a carve). */
void hak_slabmap_carve(struct hak_slab *s);

/* The entry of the slab unit at base, or NULL outside the map. */
static inline struct hak_slab_entry *hak_slabmap_entry_of(uintptr_t base)
{
	uintptr_t off = base - hak_heap.sm_base;

	if (off >= hak_heap.sm_len)
		return NULL;
	return &hak_heap.sm[off >> HAK_SLAB_SHIFT];
}

static inline void hak_slabmap_mark(struct hak_slab *s)
{
	struct hak_slab_entry *e = hak_slabmap_entry_of(hak_slab_base(s));

	/* Release, as the slab's own: the cookies of the objects under a
	 * risen mark are written before it. */
	if (e)
		__atomic_store_n(&e->hwm_off, s->hwm_off, __ATOMIC_RELEASE);
}
/* hak_check: 0 when s's entry, if it has one, agrees with s. */
int hak_slabmap_agrees(struct hak_slab *s);

/* The slab-map entry for an offset below sm_len from sm_base. */
static hak_always_inline const struct hak_slab_entry *
hak_slab_entry_at(const struct hak_heap *h, uintptr_t off)
{
	return &h->sm[off >> HAK_SLAB_SHIFT];
}

/* A descriptor that is no slab's: zero, so hwm_off 0 fails every
 * pointer. What the slab map holds where there is no slab unit. */
extern struct hak_slab hak_null_slab hak_hidden;

/* The slab unit a lies in, through the slab map when a lies in the
 * provider's span, else through the page map; &hak_null_slab when a is
 * in none. Never NULL, so free() tests no tag, except for a sparse map's
 * never-written entries (HAK_PORT_SPARSE_SLABMAP). */
static inline struct hak_slab *hak_slab_lookup_in(const struct hak_heap *h,
						  uintptr_t a)
{
	uintptr_t off = a - h->sm_base, e;

	if (likely(off < h->sm_len))
		return hak_racy_load(hak_slab_entry_at(h, off)->slab);
	e = hak_pagemap_get(a);
	if ((e & HAK_PM_TAG_MASK) == HAK_PM_TAG_SLAB)
		return hak_pm_slab(e);
	return &hak_null_slab;
}

/* h: the default heap, whose address the fast path already holds. */
static inline struct hak_slab *hak_slab_lookup(uintptr_t a)
{
	return hak_slab_lookup_in(hak_dflt(), a);
}

/* ---- provider.c ----------------------------------------------------- */

/* h's lock held. Accounting wrappers around h's provider hooks; alloc
 * also enforces h's limit. The call runs with h's lock held: for paths
 * whose provider calls are rare (superslabs, metadata). */
void *hak_provider_alloc(struct hak_heap *h, size_t bytes, size_t align,
			 int meta);
void hak_provider_release(struct hak_heap *h, void *p, size_t bytes);

/*
 * The same in steps, for a call made with h's lock dropped:
 *   charge  h's lock held: count bytes against h's limit as held while
 *           the call runs; -1 (nothing charged) if over the limit.
 *   get     no lock of h's held: the provider's run, or NULL
 *           (get_large: for a large block, and the provider's
 *           advise_large hook is called on it).
 *   settle  h's lock held: the charge goes, and p (if not NULL) is
 *           booked as taken (meta: as permanent metadata too).
 *   put     no lock of h's held: give a run back, unbooked (the caller
 *           books it as returned, or settles a charge after it).
 */
int hak_provider_charge(struct hak_heap *h, size_t bytes);
void *hak_provider_get(struct hak_heap *h, size_t bytes, size_t align);
void *hak_provider_get_large(struct hak_heap *h, size_t bytes, size_t align);
void hak_provider_settle(struct hak_heap *h, size_t bytes, void *p, int meta);
void hak_provider_put(struct hak_heap *h, void *p, size_t bytes);
/* No lock held: a per-CPU area (metadata) back to h's provider, then
 * off h's books (meta and returned) under its lock. */
void hak_provider_put_meta(struct hak_heap *h, void *p, size_t bytes);
/* No lock held: charge, get and settle, taking h's lock twice. */
void *hak_provider_alloc_unlocked(struct hak_heap *h, size_t bytes,
				  size_t align, int meta);
/* Runs taken off h's books under its lock, to give back once it is
 * dropped: hak_provider_release_pending (no lock held) releases them,
 * then books them as returned under h's lock. */
void hak_pending_add(struct hak_pending *pd, void *p, size_t bytes);
void hak_provider_release_pending(struct hak_heap *h, struct hak_pending *pd);

/* ---- superslab.c ---------------------------------------------------- */

/* Take a free slab unit (creating a superslab if none). No lock held:
 * takes the global lock, and drops it while a new superslab is built.
 * NULL when the provider is exhausted. */
struct hak_slab *hak_superslab_get_slab(struct hak_heap *h);
/* Give a wholly free, uncarved slab unit back. No lock held but, for
 * HAK_SS_KEEP, maybe the heap list lock: takes the global lock, and
 * unmaps a released superslab with it dropped. mode:
 *   HAK_SS_PUT    an empty superslab above the hysteresis goes back (the
 *                 one this emptied, or one a HAK_SS_KEEP put left);
 *   HAK_SS_FORCE  the superslab goes back if this emptied it, whatever
 *                 the hysteresis (trim, reclaim);
 *   HAK_SS_KEEP   nothing goes back: the caller holds the heap list lock
 *                 or its caller masks IRQs (a light drain), across which
 *                 a release's page-map writes and provider call would be
 *                 too long; the heap's next HAK_SS_PUT, trim or destroy
 *                 does it. */
enum { HAK_SS_PUT, HAK_SS_FORCE, HAK_SS_KEEP };
void hak_superslab_put_slab(struct hak_slab *s, int mode);
/* Release every empty superslab. No lock held. */
void hak_superslab_trim(struct hak_heap *h);
/* Idle decay: release one kept empty superslab above
 * HAK_EMPTY_SUPERSLABS_KEPT, if any. No lock held; O(1). */
void hak_superslab_decay(struct hak_heap *h);
int hak_superslab_check(struct hak_heap *h);
/* heap.c's destroy: every superslab of h back to its provider, mapped
 * or not. h is quiescent; no lock held. */
void hak_superslab_release_all(struct hak_heap *h);

/* ---- shared_pool.c -------------------------------------------------- */

/* A slab laid down: every pointer into it refused, its sequence bumped
 * around the stores (shared_pool.c). */
void hak_slab_uncarve(struct hak_slab *s);
/* A shard of heap h: class cls (HAK_CLASS_CACHE: an object cache, whose
 * ci is its own), cap objects per CPU magazine. */
void hak_shard_init(struct hak_shard *sh, struct hak_heap *h, unsigned cls,
		    const struct hak_class_info *ci, unsigned cap);
/* Move up to n objects of sh into out[], each slab's lowest address last
 * (shared_pool.c slab_take says why). Returns the number moved: fewer
 * than n when it took its share of never-used objects
 * (HAK_REFILL_FRESH_BYTES of them, at least one) or the provider ran out
 * partway, 0 only when the provider is exhausted. */
unsigned hak_shared_refill(struct hak_shard *sh, void **out, unsigned n);
/* Return n objects of sh to their slabs. */
void hak_shared_drain(struct hak_shard *sh, void *const *objs, unsigned n);
/* Give back sh's empty slabs. */
void hak_shard_trim(struct hak_shard *sh);
/*
 * The same two in one hold of the shard lock, without giving the slabs
 * back: the emptied ones (uncarved, off the shard) go in gone[], and the
 * caller gives them back (hak_superslab_put_slab) once it holds no lock,
 * or only a lock it may keep for one release. Returns how many. A kept
 * drain takes at most HAK_DRAIN_KEEP_MAX objects; gone[] holds as many
 * slabs (HAK_EMPTY_SLABS_KEPT for a trim).
 */
#define HAK_DRAIN_KEEP_MAX 8u
/* Objects a drain step takes when its caller masks IRQs (a request served
 * from an IRQ handler, remote.c): each may empty its slab, and the window
 * is the hold, their uncarves and their puts together. */
#define HAK_SERVE_LIGHT 4u
_Static_assert(HAK_SERVE_LIGHT <= HAK_DRAIN_KEEP_MAX &&
		       HAK_SERVE_LIGHT <= 16,
	       "a light chunk is one kept drain, within a drain chunk");
unsigned hak_shared_drain_keep(struct hak_shard *sh, void *const *objs,
			       unsigned n, struct hak_slab **gone);
unsigned hak_shard_trim_keep(struct hak_shard *sh, struct hak_slab **gone);
/* A drain whose caller masks IRQs (n <= HAK_DRAIN_KEEP_MAX): the slabs it
 * empties go back to their superslabs, but a superslab that empties stays
 * (HAK_SS_KEEP) for the heap's next put or trim to release. */
void hak_shared_drain_light(struct hak_shard *sh, void *const *objs,
			    unsigned n);
/* One or the other: light when the caller masks IRQs (hak_tick). */
static inline void hak_shared_drain_as(struct hak_shard *sh,
				       void *const *objs, unsigned n,
				       int light)
{
	if (light)
		hak_shared_drain_light(sh, objs, n);
	else
		hak_shared_drain(sh, objs, n);
}
/* hak_check of sh, in bounded holds (shared_pool.c); outer: see there. */
int hak_shard_check(struct hak_shard *sh, const uint64_t *outer, int *nbad);
/* hak_check of h's object caches' shards (cache.c). */
int hak_caches_check(struct hak_heap *h);
/* Objects of sh outside its slabs (live or cached); racy. */
uint64_t hak_shard_out(struct hak_shard *sh);

/* ---- transfer.c ------------------------------------------------------ */

/* Lanes (config.h HAK_LANES): with one (the freestanding default), none
 * of their bookkeeping is compiled in: its refill and drain holds are
 * bounded in guest instructions (docs/guarantees.md), and one list needs
 * no count. */
#define HAK_LANES_ON (HAK_LANES > 1)

/* CPU cpu's lane. */
static inline unsigned hak_lane_of(unsigned cpu)
{
	return HAK_LANES_ON ? cpu % HAK_LANES : 0;
}

/* The lane of the CPU we probably run on: a hint (we may move at once),
 * which only places slabs and transfer batches, never decides what is
 * correct. */
static inline unsigned hak_lane_now(void)
{
	return HAK_LANES_ON ? hak_lane_of(hak_port_cpu_hint()) : 0;
}

/* Class cls's transfer cache in lane, or NULL: only the default heap's
 * fronts have them (hak_front_of), and none is compiled in when
 * HAK_TRANSFER_BATCHES is 0 (the freestanding default: then every use
 * folds away and the miss paths' guest counts are the direct drain's). */
static inline struct hak_transfer *hak_transfer_of(const struct hak_heap *h,
						   unsigned cls, unsigned lane)
{
	return HAK_TRANSFER_BATCHES && h == &hak_heap ? &hak_xfer[cls][lane]
						      : NULL;
}

/* No lock held. Hand over / take one full batch (hak_classes[cls].batch
 * objects) of class cls, in the calling CPU's lane: 0, or -1 when the
 * lane's cache is full / empty (or its slots could not be allocated).
 * get_lane takes from the given lane's. */
int hak_transfer_put(struct hak_heap *h, unsigned cls, void *const *objs);
int hak_transfer_get(struct hak_heap *h, unsigned cls, void **out);
int hak_transfer_get_lane(struct hak_heap *h, unsigned cls, unsigned lane,
			  void **out);
/* h's lock held: the lane whose cache decay may take a batch from, or -1
 * (transfer.c). */
int hak_transfer_decay_pick(struct hak_heap *h, unsigned cls);
/* Batches put and taken in cls, ever, all lanes (racy). */
uint64_t hak_transfer_moves(struct hak_heap *h, unsigned cls);
/* Objects held for cls now (racy). */
unsigned hak_transfer_count(struct hak_heap *h, unsigned cls);
/* Every batch back to the slabs (hak_trim, the reclaim). No lock held. */
void hak_transfer_flush(struct hak_heap *h);
/* Every batch of one lane's (hak_cpu_offline). No lock held. */
void hak_transfer_flush_lane(struct hak_heap *h, unsigned lane);
int hak_transfer_check(struct hak_heap *h);

/* ---- percpu_cache.c ------------------------------------------------- */

/*
 * A per-CPU front: a table of per-CPU areas (a heap's struct hak_pcpu, a
 * cache's struct hak_pcpu_one) and, in each, the magazine at magoff that
 * holds sh's objects; xh: the heap whose transfer cache takes sh's
 * batches, or NULL (object caches have none).
 */
struct hak_front {
	void *const *table;
	uintptr_t magoff;
	struct hak_shard *sh;
	struct hak_heap *xh;
};

/* Heap h's class cls; only the default heap has transfer caches. */
static inline struct hak_front hak_front_of(struct hak_heap *h, unsigned cls)
{
	struct hak_front f = {(void *const *)h->pcpu, HAK_MAG_OFFSET(cls),
			      &h->shard[cls], h == &hak_heap ? h : NULL};

	return f;
}

int hak_pcpu_alloc_areas(struct hak_heap *h, unsigned ncpus);
/* A created heap's (cache 0) or an object cache's (cache 1, cap slots)
 * per-CPU area into *slot, if it has none: 0, or -1 (provider, limit). */
int hak_pcpu_area_make(struct hak_heap *h, void **slot, int cache,
		       unsigned cap);
/* An object cache's per-CPU area's bytes (cap slots). */
size_t hak_pcpu_one_bytes(unsigned cap);
/* One per-CPU area's bytes for heap h (its shards' capacities). */
size_t hak_pcpu_area_bytes(struct hak_heap *h);
/* The misses, outside any critical section: refill from the shared pool
 * and hand one object over / drain a batch and p back to it. The default
 * heap's take a class (the fast paths' tail calls). */
void *hak_pcpu_alloc_miss(unsigned cls);
void hak_pcpu_free_miss(unsigned cls, void *p);
void *hak_front_alloc_miss(const struct hak_front *f);
void hak_front_free_miss(const struct hak_front *f, void *p);
/* Inside cpu's critical section: move the cached objects of heap h back,
 * every class's that holds at most what is left of max objects (~0u:
 * all), in class order; a class left keeps its objects and capacity. */
void hak_pcpu_flush(struct hak_heap *h, struct hak_pcpu *pc, unsigned cpu,
		    unsigned max);
/* The calling CPU's class cls of the default heap back at its initial
 * capacity if its magazine is empty (dynamic capacity). */
void hak_pcpu_cap_reset(unsigned cls);
/* Outside any critical section: move the calling CPU's cached objects
 * of f back, HAK_DRAIN_CHUNK per critical section. */
#define HAK_DRAIN_CHUNK 16u
/* Where the next chunk of a walk at i over n items ends, at most max
 * items on: i itself if n fell to i or below since the last chunk (a
 * magazine its CPU popped: the slots past n are stale). */
static inline unsigned hak_chunk_end(unsigned i, unsigned n, unsigned max)
{
	return n <= i ? i : n - i > max ? i + max : n;
}
/* A magazine's header is sane: top within [base, limit], and limit -
 * base within [lo, hi]. */
static inline int hak_mag_header_ok(const struct hak_mag *m, unsigned lo,
				    unsigned hi)
{
	unsigned lim = (unsigned)(m->limit - m->base);

	return hak_mag_top(m) >= m->base && hak_mag_count(m) <= lim &&
	       lim >= lo && lim <= hi;
}
/* cpu's cache back to its shards, a chunk per remote section (the
 * calling CPU's own goes as a request is served: remote.c). */
void hak_pcpu_drain_remote(struct hak_heap *h, struct hak_pcpu *pc,
			   unsigned cpu);
/* One magazine m of shard sh (slot its area's per-CPU table entry) on cpu back
 * to sh, HAK_DRAIN_CHUNK objects per remote section, each drained outside
 * it; at most a full magazine's chunks and one more. Returns the objects
 * moved. */
unsigned hak_mag_drain_remote(struct hak_shard *sh, struct hak_mag *m,
			      void **slot, unsigned cpu);
int hak_pcpu_check(struct hak_heap *h, struct hak_pcpu *pc, unsigned cpu);
/* One chunk of that check, inside cpu's section: class c from *pos on
 * (HAK_CHECK_DONE after its last chunk; a served request's check goes
 * so, remote.c). Returns the violations. */
#define HAK_CHECK_DONE (~0u)
int hak_pcpu_check_chunk(struct hak_heap *h, struct hak_pcpu *pc,
			 unsigned cpu, unsigned c, unsigned *pos);
/* hak_check of one cached free object p of shard sh (where says which
 * cache): reports and returns 1 unless p is an object start of a carved
 * slab of sh that is not free in its slab. */
int hak_pcpu_check_object(void *p, struct hak_shard *sh, const char *where);
/* Objects in pc's magazines (racy unless inside its critical section). */
unsigned hak_pcpu_cached(const struct hak_pcpu *pc);
/* The port returned a CPU id that is not below ncpus. Before hak_init
 * (ncpus 0) that only means "not initialised" and it returns; otherwise
 * it panics naming the id. Called with the critical section left. */
void hak_pcpu_bad_id(unsigned cpu);

/* ---- maintenance.c ---------------------------------------------------- */

/* The out-of-memory reclaim pass of heap h: every CPU's caches drained,
 * then what hak_heap_trim(h) gives back, then a bounded wait for the
 * provider calls other CPUs have in flight on h (own: the bytes the
 * caller has charged on h and not settled). No lock held. */
void hak_reclaim(struct hak_heap *h, uint64_t own);
/* hak_trim of one heap, its caches' shards included, after the drain. */
void hak_trim_heap(struct hak_heap *h);
int hak_check_heap(struct hak_heap *h);

/* ---- decay.c -------------------------------------------------------- */

/* One O(1) step of idle decay on the calling CPU (hak_tick, misses).
 * light: hak_tick with IRQs masked by its caller (an IRQ handler): a
 * chunk of HAK_SERVE_LIGHT objects, and nothing that may release a
 * superslab (docs/embedding.md). */
void hak_decay_step(int light);

/* ---- remote.c --------------------------------------------------------- */

/* Every CPU's cache gets `what` (HAK_REQ_*): the caller's own directly,
 * the others by request with a bounded wait (or by the port's remote lock
 * where it has one). Returns the violations HAK_REQ_CHECK found. */
int hak_remote_all(unsigned what);
/* Serve what other CPUs asked of the calling CPU's cache, if anything:
 * a load when nothing was. Also clears the CPU's offline mark. light
 * (hak_tick with IRQs masked by its caller): one light step of the
 * request, its place kept for the next call. Returns 1 if it served. */
int hak_remote_poll(int light);

/* ---- large.c -------------------------------------------------------- */

/* (The heap last: the default heap's malloc passes size on in place.) */
void *hak_large_alloc(size_t size, size_t align, struct hak_heap *h);
void hak_large_free(void *p, uintptr_t entry);
size_t hak_large_usable(const void *p, uintptr_t entry);
/* destroy: every live run of h back to its provider; returns how many.
 * h is quiescent. */
uint64_t hak_large_release_all(struct hak_heap *h);
int hak_large_check(struct hak_heap *h);
/* hak_stats: add the run records' lock's acquisitions and waits. */
void hak_large_run_lock_stats(uint64_t *holds, uint64_t *waits);
/* The run record pool (type-stable). */
struct hak_large_run *hak_large_run_get(void);
void hak_large_run_lock(int take);
/* The record pages (at most max of their addresses in out); how many. */
unsigned hak_large_run_pages(uintptr_t *out, unsigned max);
void hak_large_run_put(struct hak_large_run *r);

/* ---- report.c ------------------------------------------------------- */

/* errno values for the standard names (Linux/newlib). */
#ifndef HAK_ENOMEM
#define HAK_ENOMEM 12
#endif
#ifndef HAK_EINVAL
#define HAK_EINVAL 22
#endif

void hak_report(enum hak_event ev, const void *ptr, size_t size,
		const char *what);
void hak_report_init(struct hak_report *r, enum hak_event ev, const void *ptr,
		     size_t size, const char *what);
void hak_report_full(struct hak_report *r);
/* Counted, and to the port's own sink, never the embedder's hook: for a
 * report made while another CPU's hak_init may be writing that hook. */
void hak_report_to_port(enum hak_event ev, const void *ptr, size_t size,
			const char *what);
__attribute__((noreturn)) void hak_panic(const char *msg);
/* A report about heap h: counted in h's events and sent to h's sink (a
 * created heap's own, else the default's). */
void hak_report_heap(struct hak_heap *h, enum hak_event ev, const void *ptr,
		     size_t size, const char *what);

/* ---- string.c ------------------------------------------------------- */

/* A port with faster ones defines HAK_PORT_MEMSET / HAK_PORT_MEMCPY (the
 * hosted port: libc's vector loops, for calloc's fills: rptest-1t 0.225
 * against 0.273 with these word loops); else string.c's. */
#ifdef HAK_PORT_MEMSET
#define hak_memset(d, c, n) HAK_PORT_MEMSET(d, c, n)
#else
void hak_memset(void *d, int c, size_t n);
#endif
#ifdef HAK_PORT_MEMCPY
#define hak_memcpy(d, s, n) HAK_PORT_MEMCPY(d, s, n)
#else
void hak_memcpy(void *d, const void *s, size_t n);
#endif
/* No __builtin_popcount: without a POPCNT target it calls libgcc. */
unsigned hak_popcount64(uint64_t v);
/* Panic and report messages without libc: append s, or v in base 10 or
 * 16 ("0x..."), at d, never past end - 1; NUL-terminate; return the new
 * end of the string. */
char *hak_fmt_str(char *d, char *end, const char *s);
char *hak_fmt_uint(char *d, char *end, uint64_t v, unsigned base);

/* ---- malloc.c / debug.c --------------------------------------------- */

/*
 * With HAK_DEBUG the public allocation calls are debug.c's, which add a
 * header and red zone around each block and call the plain ones, renamed
 * *_raw, underneath.
 */
#if HAK_DEBUG
#define HAK_RAW(name) name##_raw
void *hak_malloc_raw(size_t size);
void hak_free_raw(void *ptr);
size_t hak_usable_size_raw(const void *ptr);
void *hak_aligned_alloc_raw(size_t alignment, size_t size);
/* debug.c: a wrapped block of created heap hp. */
void *hak_dbg_heap_alloc(struct hak_heap *hp, size_t align, size_t size,
			 const void *site);
#else
#define HAK_RAW(name) name
#endif
int hak_block_containing(const void *p, uintptr_t *start, size_t *usable);
/* The heap a live block belongs to (p its start; in debug builds any
 * pointer into it); NULL if p is none, reported (why) when report is
 * set. */
struct hak_heap *hak_block_owner(const void *p, int report);
/* The default heap's restartable sections find the calling CPU's area
 * in the arch's per-CPU pointer register (ARCH_HAS_PCPU_REG) instead of
 * through its id: 0 there sends them to the slow path, whose check-in
 * sets it (remote.c, hak_remote_poll). */
#if HAK_PORT_HAS_RESTART && defined(ARCH_HAS_PCPU_REG)
#define HAK_PCPU_REG 1
#else
#define HAK_PCPU_REG 0
#endif
/* The restartable sections (HAK_PORT_HAS_RESTART): *table gets the
 * {start, end} pairs of object k's table (malloc.c, heap.c, cache.c);
 * returns how many (0 without them, or for k past the last: *table
 * NULL). */
unsigned hak_restart_ranges(unsigned k, const uintptr_t **table);
int hak_calloc_bytes(size_t nmemb, size_t size, size_t *n);

/* ---- stats.c -------------------------------------------------------- */

void hak_stats_out_add(struct hak_heap *h, int64_t bytes);
/* Shard lock held: bytes owed to the heap's out_bytes (stats.c). */
int64_t hak_stats_fold(struct hak_shard *sh, unsigned slack);
/* h's lock held: large_bytes grew; raise the peak of bytes out. */
void hak_stats_large_peak(struct hak_heap *h);
void hak_heap_stats_fill(struct hak_heap *h, struct hak_stats *st);

/* ---- init.c --------------------------------------------------------- */

/* hak_init in two steps, for callers that must own the init before they
 * touch anything (hak_init_region's region): claim it (-1, reported as
 * ptr, size and the message already, if another init holds or held it),
 * then
 * hak_init_claimed, which gives the claim back when it fails.
 * hak_init_unclaim: give it back unused. */
int hak_init_claim(const void *ptr, size_t size, const char *already);
void hak_init_unclaim(void);
int hak_init_claimed(const struct hak_config *cfg);
/* A port's lazy init: hak_init, waiting for an explicit one instead of
 * reporting it (init.c). */
int hak_init_lazy(const struct hak_config *cfg);
/* A fork child's handler: an unfinished init's claim back (init.c). */
void hak_init_fork_child(void);

/* ---- heap.c --------------------------------------------------------- */

/* The hosted port's fork takes every lock, in lock order: the heap list
 * lock (hak_locks_list), then every CPU's lock, then all the others
 * (hak_locks_all); releases them in reverse. The list lock comes first
 * because a cache walk holds it while it waits for another CPU's cache
 * (heap.c, fronts_walk): taken after the CPUs' locks, a fork racing a
 * hak_trim, hak_check or reclaim deadlocked (tests/host/test_fork_walk). */
void hak_locks_list(int take);
void hak_locks_all(int take);
/* A created heap's plain block (align <= HAK_MIN_ALIGN: any). */
void *hak_heap_alloc_raw(struct hak_heap *h, size_t align, size_t size);
/* hak_free of a created heap's or cache's object (div 0 in its slab):
 * the checks made, push it on its owner's front. */
void hak_owner_free(struct hak_slab *s, void *p);
extern hak_spinlock_t hak_heaps_lock hak_hidden;
/* Bumped under hak_heaps_lock whenever a heap or an object cache joins or
 * leaves a list: a walk that drops the lock resumes only if it did not
 * move (hak_check's over the caches). */
extern uint64_t hak_heaps_gen hak_hidden;
/* What a remote request (HAK_REQ_*) does to the created heaps' and the
 * object caches' areas of cpu, a chunk per hold of the list lock and per
 * critical section (heap.c), each entered remotely. Returns the
 * violations a check found. */
int hak_fronts_cpu(unsigned cpu, unsigned what);
/* The same walk a hold at a time, its place in w (remote.c's serve keeps
 * it across calls): hak_fronts_step returns 1 when the walk is over, 0
 * while holds remain; own: we are cpu and enter our own sections, -1 if
 * we were moved off it. */
void hak_fronts_begin(struct hak_fronts_pos *w);
int hak_fronts_step(struct hak_fronts_pos *w, unsigned cpu, unsigned what,
		    int own, int light, int *bad);
/* hak_trim of h's object caches' shards, a cache per list-lock hold. */
void hak_caches_trim(struct hak_heap *h);
/* A type-stable object (heap and cache objects): from pool, else fresh
 * pages of the default heap's provider, never returned. No lock held. */
void *hak_stable_alloc(struct hak_list **pool, size_t bytes);
void hak_stable_free(struct hak_list **pool, void *o);
/* The chunks they sit in (at most max, in lo/len); how many. */
unsigned hak_stable_chunks(uintptr_t *lo, size_t *len, unsigned max);

/* ---- cache.c -------------------------------------------------------- */

/* p is a live object of c, checked: free it. */
void hak_cache_free_checked(struct hak_cache *c, void *p);
/* The list lock held: whether a cache of h may hold objects on cpu; each
 * cache looked at costs one of *budget, and none left means yes. */
int hak_caches_cached(struct hak_heap *h, unsigned cpu, unsigned *budget);
/* Live objects of h's caches (h quiescent, h->destroying set). */
uint64_t hak_caches_live(struct hak_heap *h);
/* h is being destroyed: its caches die with it; their objects wait on
 * h->caches_dead until hak_caches_free_dead, after h's slabs are gone. */
void hak_caches_destroy_all(struct hak_heap *h);
void hak_caches_free_dead(struct hak_heap *h);
/* Leak reports: up to 16 addresses, then the count. */
void hak_leaks_report(struct hak_shard *sh, uint64_t live);
void hak_heap_leaks_report(struct hak_heap *h, uint64_t live);
int hak_fronts_cached(unsigned cpu);

#endif /* HAKMEM_MM_INTERNAL_H */
