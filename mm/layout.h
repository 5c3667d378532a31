/* SPDX-License-Identifier: MIT */
/*
 * layout.h - the data structures: slab and superslab headers, per-CPU
 * magazines, shards, the page map's encoding, the large-run cache and the
 * heap object, with _Static_assert on every layout assumption. The one
 * source of truth for their sizes and offsets (the rseq sections in
 * port/hosted rely on the per-CPU layout asserted here).
 */
#ifndef HAKMEM_MM_LAYOUT_H
#define HAKMEM_MM_LAYOUT_H

#include "hakmem.h"
#include "list.h"
#include "sizeclass.h"
#include "sync.h"

/* ---- slab and superslab layout -------------------------------------- */

struct hak_superslab;

struct hak_slab {
	/*
	 * What free() reads, lock-free, in one line: set under the shard
	 * lock before any object leaves the slab (slab_carve, slab_take).
	 * An uncarved unit has hwm_off 0, so every pointer into it fails
	 * the first check.
	 *   start    address of object 0
	 *   hwm_off  hwm * size: objects below start + hwm_off have been
	 *            handed out since the slab was carved (refills take the
	 *            lowest index first); one at or above it never was, so
	 *            one compare rejects pointers past the objects, below
	 *            them and into never-allocated ones
	 *   div      ceil(2^64 / size): an offset below 2^32 is a multiple
	 *            of size iff off * div (mod 2^64) < div (the divisibility
	 *            test of Lemire, Kaser and Kurz, 2019): the object-start
	 *            check in one multiply, no index. 0 in the slabs of a
	 *            created heap or an object cache: the test then fails
	 *            every pointer, so hak_free takes their objects on its
	 *            slow path, which finds their owner (heap.c)
	 *   magoff   the class's magazine offset, HAK_MAG_OFFSET(cls)
	 */
	uintptr_t start;
	uintptr_t hwm_off;
	uint64_t div;
	uint16_t magoff;
	/* Odd while a carve or an uncarve rewrites the slab (under the
	 * shard lock): a lock-free reader of the fields below (free()'s
	 * slow path, block_lookup) tells a slab that changed under it. */
	uint16_t seq;
	uint8_t cls;	    /* HAK_CLASS_NONE while free, HAK_CLASS_CACHE
			       for an object cache's slab */
	uint8_t index;	    /* position in its superslab, fixed */
	uint16_t capacity;
	uint32_t span; /* capacity * size; 0 while uncarved */
	uint32_t size;
	uint32_t inv; /* ceil(2^32 / size): index = off * inv >> 32 */
	/* Under the shard lock. */
	uint16_t nfree;	  /* bits set in bits[] */
	uint16_t hint;	  /* no set bit in bits[0..hint) */
	uint8_t on_list; /* 0 none, 1 partial, 2 empty */
	uint8_t lane;	 /* partial: on its shard's partial[lane] */
	/* Objects [0, hwm) have been handed out (see hwm_off): a free one
	 * at or above hwm was never allocated, so free() of it is an
	 * invalid free, not a double free. */
	uint16_t hwm;
	/* The shard that carved it (its heap's class, or an object cache);
	 * NULL while free. Set with cls, before any object leaves. */
	struct hak_shard *shard;
	struct hak_list link; /* on its shard's partial or empty list */
	/* 1 = object free in the slab. Written under the shard lock with
	 * relaxed atomics, read lock-free when a refused free is
	 * classified. Only the words of the carved class's objects are
	 * written (a carve) and read: 128 for the 8-byte class, 16 for
	 * 64-byte objects; the rest hold whatever an earlier class left,
	 * and are not even zeroed when the superslab is made. */
	uint64_t bits[HAK_SLAB_BITMAP_WORDS];
};

/*
 * A slab unit's entry in the slab map (slabmap.c): a copy of what free()
 * reads of the unit's slab, so that a free inside the provider's span
 * reads one entry of a dense array, where it used to load a pointer and
 * then the slab's descriptor (two dependent loads, and descriptors a
 * kilobyte apart in the superslab headers: 40% of free()'s samples on
 * larson, docs/performance.md).
 *   start, hwm_off, magoff   the slab's (struct hak_slab); 0 while
 *                            uncarved, so every pointer fails
 *   div      ceil(2^32 / size), or 0 where the slab's div is 0: an
 *            offset in a slab is below 2^HAK_SLAB_SHIFT and a size at
 *            most HAK_POOL_MAX, so 32 fraction bits keep the
 *            divisibility test exact (sizeclass.h hak_obj_aligned32)
 *   slab     the unit's descriptor; &hak_null_slab where the unit is in
 *            no superslab (NULL in a sparse map's unwritten entries)
 * Written right after the slab's own fields, under its shard lock, by
 * hak_slabmap_carve and hak_slabmap_mark (or by hak_slabmap_set while its
 * superslab is on no list); hak_check compares every entry with its
 * slab.
 */
struct hak_slab_entry {
	uintptr_t start;
	uintptr_t hwm_off;
	struct hak_slab *slab;
	uint32_t div;
	uint16_t magoff;
	uint16_t pad;
};

_Static_assert(sizeof(struct hak_slab_entry) == 32,
	       "slab map entries are 32 bytes (free() shifts by 5)");
_Static_assert(HAK_SLAB_SHIFT + 16 <= 32 && HAK_POOL_MAX <= 65536,
	       "32-bit div is exact for slab offsets and class sizes");

struct hak_superslab {
	uint64_t magic;
	struct hak_heap *heap; /* the heap whose provider gave it */
	/* Under the global lock. */
	struct hak_list all;   /* on hak_heap.ss_all: every superslab */
	struct hak_list avail; /* on hak_heap.ss_avail: with a free unit */
	struct hak_list empty; /* on hak_heap.ss_empty: every unit free */
	uint32_t used_mask; /* bit i: slab i carved for some class */
	uint32_t in_avail;
	struct hak_slab slab[HAK_SLABS_PER_SS];
};

#define HAK_SS_HEADER_SIZE                                                     \
	hak_round_up(sizeof(struct hak_superslab), HAK_PAGE_SIZE)

_Static_assert(HAK_SLAB_SHIFT >= HAK_PAGE_SHIFT + 2, "slab >= 4 pages");
_Static_assert(HAK_SUPERSLAB_SHIFT > HAK_SLAB_SHIFT, "superslab > slab");
_Static_assert(HAK_SLABS_PER_SS <= 32, "used_mask is 32 bits");
_Static_assert(HAK_SLAB_MAX_OBJECTS <= 65535, "16-bit object counts");
_Static_assert(HAK_SLAB_MAX_OBJECTS % 64 == 0, "whole bitmap words");
_Static_assert(sizeof(struct hak_superslab) + HAK_POOL_MAX <= HAK_SLAB_SIZE,
	       "slab 0 must hold its header and one object of every class");
_Static_assert(HAK_POOL_MAX * 2 <= HAK_SLAB_SIZE,
	       "other slabs must hold two objects of every class");
_Static_assert(HAK_MAX_CPUS <= HAK_MAX_CPUS_LIMIT, "HAK_MAX_CPUS too big");
_Static_assert((HAK_CACHE_MIN & 1) == 0 && HAK_CACHE_MIN >= 2,
	       "cache halves must be whole");

static inline struct hak_superslab *hak_slab_ss(struct hak_slab *s)
{
	return (struct hak_superslab *)((uintptr_t)s &
					~(HAK_SUPERSLAB_SIZE - 1));
}

static inline uintptr_t hak_slab_base(struct hak_slab *s)
{
	return (uintptr_t)hak_slab_ss(s) +
	       ((uintptr_t)s->index << HAK_SLAB_SHIFT);
}

/* Objects come from valid pointers only: callers checked the page map. */
static inline struct hak_slab *hak_slab_of_object(uintptr_t p)
{
	struct hak_superslab *ss =
		(struct hak_superslab *)(p & ~(HAK_SUPERSLAB_SIZE - 1));

	return &ss->slab[(p & (HAK_SUPERSLAB_SIZE - 1)) >> HAK_SLAB_SHIFT];
}

static inline int hak_slab_bit_is_free(struct hak_slab *s, uint32_t idx)
{
	uint64_t w = __atomic_load_n(&s->bits[idx >> 6], __ATOMIC_RELAXED);

	return (w >> (idx & 63)) & 1;
}

/* ---- per-CPU caches ------------------------------------------------- */

/*
 * A magazine: a bounded stack of free object pointers of one class, the
 * objects base[0 .. top - base), room up to limit (base + the class's
 * cache capacity), as tcmalloc's per-CPU slabs. Pop and push each move
 * top by one slot and commit with its one store: exactly the one-store
 * commit an rseq section needs, and no count to extract or scale.
 * allocs counts pops (allocations the cache served); stats.c derives
 * frees from it and the live count, so a push writes nothing else. On
 * aarch64 top and allocs are stored together (STP: one instruction, one
 * commit); on x86_64 an rseq pop increments allocs just before its
 * commit, so an aborted and restarted pop may count twice (stats only).
 */
struct hak_mag {
	void **top;
	uint64_t allocs;
	void **base;
	void **limit;
};

/*
 * A walk's place among one CPU's areas of the created heaps and object
 * caches (heap.c, hak_fronts_step): the element, and where in it.
 */
struct hak_heap;
struct hak_cache;
struct hak_fronts_pos {
	struct hak_heap *h;  /* whose elements; NULL: done */
	struct hak_cache *c; /* h's cache walked; NULL: h's own magazines */
	uint64_t gen;	     /* hak_heaps_gen when the walk (re)started */
	uint32_t cls;	     /* h's own magazine walked */
	uint32_t i;	     /* check: next index in it */
	uint32_t rounds;     /* drain: objects taken from it */
	uint32_t starts;     /* starts so far (HAK_WALK_TRIES) */
};

/*
 * A round of requests this CPU is serving (remote.c serve), kept between
 * steps: with IRQs masked (hak_tick from an IRQ handler) each call serves
 * one step. Touched only by the CPU holding `serving`.
 */
struct hak_serve {
	uint32_t phase;	 /* SERVE_*; 0: no round open */
	uint32_t seq;	 /* the round answers the posts up to this one */
	uint32_t what;	 /* their HAK_REQ_* bits */
	uint32_t cls;	 /* drain, check: the default heap's class */
	uint32_t pos;	 /* check: next index in its magazine */
	int32_t bad;	 /* check: violations found so far */
	uint32_t moved;	 /* drain: objects the class gave back (0: the
			  * class is not begun) */
	uint32_t light;	 /* the round took a light step */
	struct hak_fronts_pos fronts;
};

struct hak_pcpu {
	uint32_t offline; /* 1 after hak_cpu_offline, until a slow path */
	/* Cross-CPU requests (remote.c), atomics: HAK_REQ_* bits other CPUs
	 * posted, how many posts (seq) and up to which post the owner has
	 * served them (done). Only ports that cannot lock a remote cache
	 * (HAK_PORT_REMOTE_EXCLUSIVE 0) use them. */
	uint32_t req;
	struct hak_mag mag[HAK_NCLASSES];
	uint32_t req_seq, req_done;
	uint32_t check_bad; /* violations found by requested checks, ever */
	/* Bare metal: 1 while a hak_cpu_offline of this CPU runs
	 * (maintenance.c). */
	uint32_t offlining;
	/* 1 while this CPU serves posts outside its critical section
	 * (remote.c): an IRQ handler's slow path then leaves them to it. */
	uint32_t serving;
	struct hak_serve serve;
	/* HAK_CHECK_CPU_OWNER: arch_cpu_hw_id() + 1 of the CPU that first
	 * used this slot; 0 while none has. */
	uint64_t hw_owner;
	/* Idle decay (decay.c), touched only inside this CPU's critical
	 * section: the next class to look at, each class's allocs as last
	 * seen and how many visits in a row it has not moved. */
	uint32_t decay_next;
	/* 1 after a light step did the heap-wide caches for class 0's
	 * visit, which is the next step's (decay.c). */
	uint32_t decay_wide;
	uint32_t decay_idle[HAK_NCLASSES];
	uint64_t decay_seen[HAK_NCLASSES];
	/* Dynamic capacity (percpu_cache.c), changed only in this CPU's
	 * critical section: the bytes its classes' capacities come to, and
	 * each class's allocs when it was last put back at its initial
	 * capacity (a grow needs that many more served since). */
	uint64_t cap_bytes;
	uint64_t grow_seen[HAK_NCLASSES];
	/* slot storage follows, cache line aligned */
} hak_cacheline_aligned;

/*
 * An object cache's per-CPU area (cache.c): one magazine at HAK_MAG_BASE,
 * where a struct hak_pcpu has its first, so the same sections serve it.
 */
struct hak_pcpu_one {
	uint32_t pad[2];
	struct hak_mag mag;
	/* slot storage follows */
} hak_cacheline_aligned;

_Static_assert(__builtin_offsetof(struct hak_pcpu_one, mag) == HAK_MAG_BASE,
	       "a cache's area has a per-CPU area's head");

#define HAK_REQ_DRAIN 1u
#define HAK_REQ_CHECK 2u

/* What port/hosted/include/hakmem/rseq/<arch>.h assumes about the layout. */
_Static_assert(__builtin_offsetof(struct hak_mag, top) == 0 &&
		       __builtin_offsetof(struct hak_mag, allocs) == 8 &&
		       __builtin_offsetof(struct hak_mag, base) == 16 &&
		       __builtin_offsetof(struct hak_mag, limit) == 24 &&
		       sizeof(struct hak_mag) == 32,
	       "magazine layout");
_Static_assert(sizeof(struct hak_mag) == 1U << HAK_MAG_SHIFT &&
		       __builtin_offsetof(struct hak_pcpu, mag) == HAK_MAG_BASE,
	       "class_lut entries are magazine offsets (sizeclass.h)");

/* top is read racily by stats and checks on other CPUs: relaxed atomics. */
static inline void **hak_mag_top(const struct hak_mag *m)
{
	return __atomic_load_n(&m->top, __ATOMIC_RELAXED);
}

static inline void hak_mag_set_top(struct hak_mag *m, void **top)
{
	__atomic_store_n(&m->top, top, __ATOMIC_RELAXED);
}

static inline unsigned hak_mag_count(const struct hak_mag *m)
{
	return (unsigned)(hak_mag_top(m) - m->base);
}

static inline void hak_stat_add(uint64_t *c, uint64_t v)
{
	__atomic_fetch_add(c, v, __ATOMIC_RELAXED);
}

static inline uint64_t hak_stat_read(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

/* ---- the shared pool ------------------------------------------------ */

struct hak_heap;

struct hak_shard {
	/* Set at init, then only read: every CPU's miss reads them before
	 * it takes the lock, so they have a line apart from the lock's.
	 * They shared it: each lock hold of one CPU turned the other's next
	 * read of batch into a miss (half the samples of sh8bench-2t's two
	 * miss functions sat right after that load; apart, sh8bench-2t
	 * 6.24 -> 5.83 s, docs/performance.md "The shard's lock line"). */
	uint8_t cls;	 /* class index, or HAK_CLASS_CACHE */
	uint16_t magoff; /* its slabs' magoff */
	uint16_t cookie_word; /* where a free object's cookie is */
	uint16_t cap;	 /* per-CPU magazine capacity, objects: initial */
	uint32_t cap_max; /* slots each CPU's area reserves: the most cap
			   * may grow to (the default heap; else cap) */
	uint16_t batch;	 /* refill / drain batch: min(cap / 2, 64) */
	uint16_t fresh_max; /* never-used objects a refill may take:
			     * HAK_REFILL_FRESH_BYTES of them, at least 1 */
	struct hak_heap *heap;
	const struct hak_class_info *ci; /* size, inv, div, align */
	/* Object caches: run on every object of a slab when it is carved. */
	void (*ctor)(void *obj, void *arg);
	void *ctor_arg;

	/* The lock, and what it guards. */
	hak_spinlock_t lock hak_cacheline_aligned;
	/* Slabs with some objects free, by lane (shared_pool.c): how many
	 * on each, and each lane's last refill or drain hold as a count of
	 * the shard's refills and drain holds (ticks, modulo 2^32). */
	struct hak_list *partial[HAK_LANES];
	uint32_t npartial[HAK_LANES];
	uint32_t lane_tick[HAK_LANES];
	uint32_t ticks;
	struct hak_list *empty;	  /* all objects free, kept for hysteresis */
	uint32_t nempty; /* written atomically: decay.c reads it unlocked */
	uint32_t nslabs;      /* carved slabs of this class */
	uint64_t out_objects; /* objects outside the slabs: live or cached */
	/* out_objects as the heap's out_bytes last counted it: folded in
	 * when they differ by more than a batch (hak_stats_fold). */
	uint64_t out_folded;
	/* Atomic: user operations served past the caches (slow paths: the
	 * misses), and batches moved out of the CPU caches other than a
	 * free miss's. A miss moves one batch: an alloc miss's is a refill,
	 * a free miss's a drain (hak_stats adds them), counted once, as one
	 * atomic on a line every CPU's misses write is worth sparing. On a
	 * line of their own: written without the lock. */
	uint64_t bypass_allocs hak_cacheline_aligned, bypass_frees, drains;
	uint64_t grows, shrinks; /* capacity moves (percpu_cache.c) */
} hak_cacheline_aligned;

/* ---- the transfer cache (transfer.c) --------------------------------- */

struct hak_transfer {
	hak_spinlock_t lock;
	uint32_t n;  /* full batches held: slots[0 .. n * batch) */
	uint32_t cap; /* batches it may hold, set with slots */
	void **slots; /* cap batches; NULL until first use */
	/* Batches put and taken, ever: written under the lock, read racily
	 * (stats, decay). */
	uint64_t puts, gets;
	/* Idle decay (decay.c), under the heap's lock: puts + gets as its
	 * last visit saw them. */
	uint64_t decay_seen;
} hak_cacheline_aligned;

/* The default heap's transfer caches, per class and lane (transfer.c):
 * only its fronts have one (hak_front_of), so created heaps' objects do
 * not carry them. */
extern struct hak_transfer hak_xfer[HAK_NCLASSES][HAK_LANES] hak_hidden;

/* ---- page map ------------------------------------------------------- */

#define HAK_PM_BITS 12
#define HAK_PM_FANOUT (1UL << HAK_PM_BITS)
#define HAK_PM_ADDR_BITS (HAK_PAGE_SHIFT + 3 * HAK_PM_BITS) /* 48 */
#define HAK_PM_ROOT_SHIFT (HAK_PAGE_SHIFT + 2 * HAK_PM_BITS)
/* Slots per half (bits 48-63 all 0, or all 1) and in all. */
#define HAK_PM_HALF (1UL << (HAK_PM_ADDR_BITS - HAK_PM_ROOT_SHIFT))
#define HAK_PM_ROOT_SIZE (2 * HAK_PM_HALF)
#define HAK_PM_TAG_MASK 3UL
#define HAK_PM_TAG_SLAB 1UL
#define HAK_PM_TAG_LARGE 2UL
#define HAK_PM_TAG_TAIL 3UL /* debug build: a later page of a large run */

/* The entries' encoding (pagemap.c describes it), in one place. */
static inline uintptr_t hak_pm_tag(uintptr_t e)
{
	return e & HAK_PM_TAG_MASK;
}

static inline uintptr_t hak_pm_slab_entry(const void *slab)
{
	return (uintptr_t)slab | HAK_PM_TAG_SLAB;
}

/* A slab entry's slab (the tag is known to be HAK_PM_TAG_SLAB). */
static inline void *hak_pm_slab(uintptr_t e)
{
	return (void *)(e - HAK_PM_TAG_SLAB);
}

/*
 * A live large run: its first page's entry points here (large.c). The
 * records are type-stable (never given back, reused through a free
 * list), so a lock-free reader may follow a stale entry safely and then
 * check it under the owner's lock.
 */
struct hak_large_run {
	uintptr_t addr;
	size_t npages;
	struct hak_heap *heap;
	struct hak_list link; /* on heap->large_runs; a free list */
};

static inline uintptr_t hak_pm_large_entry(struct hak_large_run *r)
{
	return (uintptr_t)r | HAK_PM_TAG_LARGE;
}

static inline struct hak_large_run *hak_pm_large_run(uintptr_t e)
{
	return (struct hak_large_run *)(e - HAK_PM_TAG_LARGE);
}

/* Debug build: page i of a large run: its distance from the first. */
static inline uintptr_t hak_pm_tail_entry(size_t i)
{
	return ((uintptr_t)i << 2) | HAK_PM_TAG_TAIL;
}

/* The distance of a tail entry. */
static inline size_t hak_pm_pages(uintptr_t e)
{
	return (size_t)(e >> 2);
}

/* ---- large_cache.c --------------------------------------------------- */

/*
 * The large-run cache's shape (large_cache.c explains it). Only its byte
 * bound is a knob (HAK_LARGE_CACHE_BYTES); these are structural:
 *   HAK_LC_WINDOW_SHIFT a request of n pages takes a run of up to
 *                    n + (n >> 2) pages: a block is at most a quarter
 *                    larger than its request, as with the size classes;
 *   HAK_LC_SLOTS     records, one per cached run: caps the metadata
 *                    (8 KiB) and a flush at 256 provider calls when many
 *                    small runs are cached;
 *   HAK_LC_SUB_SHIFT size classes of page counts, exact below 32 pages,
 *                    then 32 per power of two (1/64 to 1/32 of their
 *                    sizes wide, so the window [n, n + n/4] holds whole
 *                    classes);
 *   HAK_LC_CLASSES   enough classes for any run below 2^36 pages;
 *   HAK_LC_DECAY     large operations a cached run waits for a taker;
 *   HAK_LC_EVICT     oldest runs one put may give back to make room;
 *   HAK_LC_HEADROOM_SHIFT  before a fresh run, the cache and the live large
 *                    bytes may exceed their peak by 2^-shift of it (a
 *                    sixteenth): the cache's share of a program's peak.
 */
#define HAK_LC_WINDOW_SHIFT 2
#define HAK_LC_SLOTS 256
#define HAK_LC_SUB_SHIFT 5
#define HAK_LC_SUB (1U << HAK_LC_SUB_SHIFT)
#define HAK_LC_CLASSES 1024
#define HAK_LC_DECAY 4096U
#define HAK_LC_EVICT 2
#ifndef HAK_LC_HEADROOM_SHIFT
#define HAK_LC_HEADROOM_SHIFT 4
#endif
_Static_assert(HAK_LC_HEADROOM_SHIFT >= 1 && HAK_LC_HEADROOM_SHIFT < 64,
	       "the headroom is a fraction of the peak");

/* A cached run. Links are record numbers 1..HAK_LC_SLOTS, 0 = none (record
 * 0 is never used), so the zeroed heap is an empty cache. */
struct hak_lc_run {
	uintptr_t addr;
	uint32_t npages;
	uint32_t stamp;	       /* the large operation that cached it */
	uint16_t cls;	       /* its size class */
	uint16_t next, prev;   /* its class's list, newest first; free list */
	uint16_t older, newer; /* the age list */
	/* Split providers: the chains of the by-start and by-end hashes. */
	uint16_t snext, sprev, enext, eprev;
};

#define HAK_LC_HASH 256 /* buckets of the address hashes */
#define HAK_LC_PROBE 8	/* records a neighbour lookup looks at, at most */

struct hak_large_cache {
	uint64_t bytes;		 /* of the runs cached now */
	uint32_t now;		 /* large operations so far; wraps, only
				    differences below 2^31 are used */
	uint16_t count;		 /* runs cached now */
	uint16_t used;		 /* records 1..used were handed out once */
	uint16_t free;		 /* records given back, through next */
	uint16_t oldest, newest; /* ends of the age list */
	uint64_t map[HAK_LC_CLASSES / 64]; /* classes with a run */
	uint16_t head[HAK_LC_CLASSES];	   /* each class's newest run */
	/* Split providers: runs by first page and by end, for merging. */
	uint16_t by_start[HAK_LC_HASH], by_end[HAK_LC_HASH];
	struct hak_lc_run run[HAK_LC_SLOTS + 1];
};

_Static_assert(HAK_LC_SLOTS < 65535, "record numbers fit 16 bits");
_Static_assert(HAK_LC_WINDOW_SHIFT >= 1 && HAK_LC_SUB_SHIFT <= 5,
	       "a window spans fewer than 64 classes: two bitmap words");
_Static_assert(HAK_LC_CLASSES % 64 == 0, "whole bitmap words");
_Static_assert(HAK_LC_CLASSES ==
		       (36 - HAK_LC_SUB_SHIFT + 1) << HAK_LC_SUB_SHIFT,
	       "classes cover page counts below 2^36");
_Static_assert((HAK_LARGE_CACHE_BYTES >> HAK_PAGE_SHIFT) < (1ULL << 32),
	       "a cached run's page count fits 32 bits");
_Static_assert(HAK_LC_DECAY >= 1 && HAK_LC_DECAY < (1U << 31),
	       "decay compares stamp differences below 2^31");

struct hak_heap;

/*
 * Runs off a heap's books, to go back to its provider once the heap's
 * lock is dropped (provider.c). At most four per lock hold: a large
 * free's tick (1) and put (2 evictions and a merged run it refuses, or
 * the freed run itself), a large malloc's tick and the room it makes
 * for a fresh run (what the tick left of the four), or a flush step.
 */
#define HAK_PENDING_MAX 4

struct hak_pending {
	struct hak_heap *h; /* whose runs: hak_pending_add counts them in
			     * h->releasing until they are booked */
	unsigned n;
	struct {
		void *p;
		size_t bytes;
	} run[HAK_PENDING_MAX];
};

/* The heap's lock held (flush and check take it). Runs they give back
 * go on pd, for the caller to release with the lock dropped. */
void hak_large_cache_tick(struct hak_heap *h, struct hak_pending *pd);
void *hak_large_cache_take(struct hak_heap *h, size_t npages, size_t *got);
int hak_large_cache_put(struct hak_heap *h, void *p, size_t npages,
			struct hak_pending *pd);
void hak_large_cache_flush(struct hak_heap *h);
void hak_large_cache_make_room(struct hak_heap *h, size_t bytes,
			       struct hak_pending *pd);
/* The oldest cached run onto pd (idle decay). */
void hak_large_cache_release_oldest(struct hak_heap *h,
				    struct hak_pending *pd);
int hak_large_cache_check(struct hak_heap *h);

/* ---- the heap ------------------------------------------------------- */

/* 32 bits: one compare with an immediate on the allocation paths. */
#define HAK_HEAP_MAGIC 0x48454150U /* "HEAP" */
#define HAK_HEAP_DEAD 0x44454144U  /* "DEAD" */
#define HAK_HEAP_NAME 32

/*
 * A heap: the default one (the object hak_heap, what hak_malloc uses) or
 * one of hak_heap_create's (heap.c). Each has its own provider, shards,
 * superslabs, large runs, per-CPU areas and lock. Some fields are the
 * allocator's, kept in the default heap only: the slab map, the size
 * table, the cookie secret and the page-map spare (marked "default").
 *
 * The fast paths' fields come first and together, within reach of one
 * base address on load/store architectures: the small ones at offsets a
 * load-pair reaches (sm_base and sm_len are loaded as a pair), the size
 * table right after them (hak_size_to_magoff indexes it from the heap's
 * own address), the per-CPU table after it.
 */
/* Entries between a per-CPU table and its fast copy: hak_pcpu_guards_init. */
#define HAK_PCPU_GUARDS 2

struct hak_heap {
	int ready;
	unsigned ncpus;
	uint64_t secret; /* default: free-block cookie key */
	/* Default: the slab map (slabmap.c), over the provider's span, one
	 * slab descriptor per slab unit (&hak_null_slab where there is
	 * none); sm_len 0 when there is no map. */
	uintptr_t sm_base, sm_len;
	struct hak_slab_entry *sm;
	/* Default: size granule -> magazine offset (sizeclass.h). */
	uint16_t class_lut[HAK_CLASS_LUT_SIZE];
	/* Per-CPU areas; a created heap's point at hak_pcpu_none until
	 * their CPU first misses (percpu_cache.c). */
	struct hak_pcpu *pcpu[HAK_MAX_CPUS];
	struct hak_pcpu *pcpu_guard[HAK_PCPU_GUARDS]; /* HAK_PCPU_FAST */
	/* The table the fast path reads (HAK_PCPU_FAST): pcpu's copy, but
	 * hak_pcpu_none for a CPU whose cache another CPU holds. */
	struct hak_pcpu *pcpu_fast[HAK_MAX_CPUS];
	struct hak_config cfg; /* a created heap's: provider, report */

	/* Created heaps (heap.c). */
	uint32_t magic;	      /* HAK_HEAP_MAGIC while live */
	struct hak_list link; /* on the list of created heaps */
	uint64_t limit;	      /* bytes from the provider; 0: none */
	size_t pcpu_bytes;    /* one per-CPU area's size */
	size_t cache_budget;  /* per-CPU bytes per class, object caches */
	struct hak_list *caches; /* struct hak_cache.link */
	/* Under hak_heaps_lock: 1 while a hak_heap_destroy of this heap
	 * runs; how many hak_cache_destroy of its caches run. A second
	 * destroy meanwhile is refused with a report, not let unlink twice. */
	uint32_t destroying, caches_destroying;
	/* hak_heap_destroy: the caches destroyed with it, whose objects go
	 * back to the pool only after its slabs are uncarved. */
	struct hak_list *caches_dead;
	char name[HAK_HEAP_NAME];

	/* The heap lock and what it guards. */
	hak_spinlock_t lock hak_cacheline_aligned;
	struct hak_list *ss_all;   /* struct hak_superslab.all */
	struct hak_list *ss_avail; /* struct hak_superslab.avail */
	struct hak_list *ss_empty; /* struct hak_superslab.empty */
	struct hak_list *large_runs; /* struct hak_large_run.link, live */
	struct hak_list *run_free;   /* records of its freed runs (large.c) */
	uint64_t nss;	     /* superslabs held */
	uint64_t nss_empty;  /* of which on the lists and wholly empty */
	uint64_t nss_peak;   /* most superslabs ever held */
	/* Bumped under the lock (hak_check's bounded walks): ss_gen on any
	 * change of the superslab lists, masks and counts, ss_list_gen when
	 * one joins or leaves ss_all. */
	uint64_t ss_gen, ss_list_gen;
	uint32_t ss_gets;    /* slab units taken: decay's clock */
	uint32_t ss_kept;    /* a HAK_SS_KEEP put may have left an empty
			      * superslab above the hysteresis */
	uint64_t nss_transit; /* of which being built or torn down: on no
			       * list (superslab.c) */
	void *pm_spare;	     /* default: a zeroed page-map node not yet
				installed */
	uint64_t taken, returned, peak_held, meta;
	uint64_t charged; /* to provider calls in flight (provider.c) */
	/* Atomic: bytes being given back, from the hold that took them off
	 * the books (hak_pending_add) or the start of a metadata release to
	 * their booking (provider.c); with charged and nss_transit, what
	 * the out-of-memory retry waits for (maintenance.c, settle_wait). */
	uint64_t releasing;
	/* Under the lock: the charges of callers waiting in settle_wait,
	 * which no waiter waits for (each holds its own until it retries). */
	uint64_t charge_parked;
	/* large_bytes: written under the lock with relaxed atomic stores,
	 * read without it for the peak of bytes out (stats.c). */
	uint64_t large_bytes, large_objects, large_allocs, large_frees;
	uint64_t large_peak; /* most large_bytes ever: the cache's bound */
	/* Idle decay (decay.c), under the lock: the large-run cache's clock
	 * as last seen and the rounds it has not moved for; the next
	 * class whose transfer caches it visits. */
	uint32_t decay_lc_now, decay_lc_idle, decay_xfer_next;
	uint32_t decay_ss_gets, decay_ss_idle; /* the same for ss_gets */
	uint32_t decay_off; /* tests: no decay step runs (white box) */
	uint32_t grow_off;  /* tests: no class grows (white box) */
	uint32_t ss_keep_off; /* tests: keep HAK_EMPTY_SUPERSLABS_KEPT empty
			       * superslabs, as a created heap (white box) */
	uint64_t cpu_budget; /* per-CPU capacity budget, bytes (config.h) */
	/* What all CPUs' classes together may grow by beyond their initial
	 * capacities, bytes (config.h HAK_CACHE_HEAP_GROW_BYTES). */
	uint64_t heap_grow_budget;
	struct hak_large_cache large_cache;

	/* Serialises the calls to the provider, and nothing else: taken
	 * inside the lock above, or alone (provider.c). */
	hak_spinlock_t provider_lock hak_cacheline_aligned;

	/* Atomics. */
	uint64_t out_bytes hak_cacheline_aligned; /* slab tiers' (stats.c) */
	/* What the CPUs' classes grew by beyond their initial capacities,
	 * bytes: each CPU's grow and shrink adds to it (percpu_cache.c). */
	uint64_t grown_bytes;
	uint64_t peak_out; /* most out_bytes + large_bytes seen */
	uint64_t restarts; /* sections hak_restart_pc rewound */
	uint64_t check_skips; /* hak_check comparisons a busy heap skipped */
	uint64_t incarnation; /* created heaps: which create made this object
				 live (heap objects are reused) */
	uint64_t events[HAK_EV__COUNT];

	struct hak_shard shard[HAK_NCLASSES];
};

/* ---- object caches (cache.c) ------------------------------------------ */

#define HAK_CACHE_MAGIC 0x43414348U /* "CACH" */
#define HAK_CACHE_DEAD 0x44454144U  /* "DEAD" */

struct hak_cache {
	struct hak_shard shard; /* first: a slab's shard is its cache */
	uint32_t magic;		/* HAK_CACHE_MAGIC while live */
	uint32_t destroying;	/* under hak_heaps_lock: as hak_heap's */
	struct hak_list link;	/* on its heap's caches; the free list */
	struct hak_class_info ci; /* the slot: size, inv, div, align */
	size_t obj_size;	/* what the caller asked for */
	unsigned ncpus;		/* the restartable sections' bound check */
	char name[HAK_HEAP_NAME];
	/* struct hak_pcpu_one areas; hak_pcpu_none until first used. */
	void *pcpu[HAK_MAX_CPUS];
	void *pcpu_guard[HAK_PCPU_GUARDS]; /* as hak_heap's */
	void *pcpu_fast[HAK_MAX_CPUS];
};

/*
 * Every per-CPU table (a heap's pcpu, a cache's pcpu) is followed by its
 * fast copy, which the fast path reads instead. They differ only while
 * another CPU holds a cache (hak_port_pcpu_enter_remote): the copy then
 * points at hak_pcpu_none, whose magazines are empty and full at once,
 * so every fast operation there fails without testing anything, and its
 * slow path waits for the cache or takes another. The copy is what the
 * rseq sections read; on ports without them it is written and not read.
 */
#define HAK_PCPU_FAST(slot) ((slot) + HAK_MAX_CPUS + HAK_PCPU_GUARDS)
_Static_assert(__builtin_offsetof(struct hak_heap, pcpu_fast) ==
			       __builtin_offsetof(struct hak_heap, pcpu) +
				       (HAK_MAX_CPUS + HAK_PCPU_GUARDS) *
					       sizeof(void *) &&
		       __builtin_offsetof(struct hak_cache, pcpu_fast) ==
			       __builtin_offsetof(struct hak_cache, pcpu) +
				       (HAK_MAX_CPUS + HAK_PCPU_GUARDS) *
					       sizeof(void *),
	       "a per-CPU table's fast copy follows it, after the guards");

/*
 * Set cpu's table entry *slot and its fast copy to area a. Published
 * with release: a created heap's or a cache's areas are read with
 * acquire (hak_area_load). The fast copy first: a remote holder that
 * read a in *slot then finds it in the fast copy too, and its store of
 * the empty area there comes after ours. The other order would let a
 * publisher's late store of a to the fast copy land after the holder's,
 * and the CPU's sections would run on a cache held by another CPU.
 */
static inline void hak_area_publish(void **slot, void *a)
{
	__atomic_store_n(HAK_PCPU_FAST(slot), a, __ATOMIC_RELEASE);
	__atomic_store_n(slot, a, __ATOMIC_RELEASE);
}

_Static_assert(__builtin_offsetof(struct hak_cache, shard) == 0,
	       "a cache's shard is the cache");

static inline size_t hak_slab_usable(const struct hak_slab *s)
{
	if (s->cls == HAK_CLASS_CACHE)
		return ((const struct hak_cache *)(const void *)s->shard)
			->obj_size;
	return s->size;
}

/* A per-CPU table entry of a created heap or a cache: published by
 * hak_pcpu_area_make with a release store, so read with acquire. */
static inline void *hak_area_load(void *const *slot)
{
	return __atomic_load_n((void **)slot, __ATOMIC_ACQUIRE);
}

/* The page map's root (pagemap.c), the allocator's, not a heap's. */
extern uintptr_t **hak_pagemap_root[HAK_PM_ROOT_SIZE] hak_hidden;
/* What a created heap's per-CPU table points at before its CPU's first
 * miss: every magazine empty and full. */
extern struct hak_pcpu hak_pcpu_none hak_hidden;

/*
 * The guards of the per-CPU table whose first entry is *slot: the two
 * entries just below its fast copy, both the empty area. The hosted rseq
 * sections sign-extend the CPU id they read, and a thread whose rseq
 * area names no CPU (cpu_id -1: the thread unregistered it, as a program
 * that registers its own rseq does; -2: glibc's registration failed)
 * indexes these: every fast operation then fails without a test of its
 * own, and the slow paths, whose batch sections fail the same way, serve
 * that thread from the shared pool. Set before rseq mode can start.
 */
static inline void hak_pcpu_guards_init(void **slot)
{
	unsigned i;

	for (i = 1; i <= HAK_PCPU_GUARDS; i++)
		HAK_PCPU_FAST(slot)[-(long)i] = &hak_pcpu_none;
}

/* A created heap's or an object cache's table: every entry the empty
 * area until its CPU's first miss, and the guards. */
static inline void hak_pcpu_table_none(void **slot)
{
	unsigned i;

	for (i = 0; i < HAK_MAX_CPUS; i++)
		hak_area_publish(&slot[i], &hak_pcpu_none);
	hak_pcpu_guards_init(slot);
}

/* Page-aligned (4 KiB, whatever the page size), so that an arch that
 * can form such an object's address in one instruction does so on the
 * fast paths (ARCH_PAGE_OBJ_ADDR; aarch64's ADRP). */
#define HAK_HEAP_ALIGN 4096
extern struct hak_heap hak_heap hak_hidden
	__attribute__((aligned(HAK_HEAP_ALIGN)));

/* The default heap's address, for the fast paths. */
static hak_always_inline struct hak_heap *hak_dflt(void)
{
#ifdef ARCH_PAGE_OBJ_ADDR
	struct hak_heap *h;

	ARCH_PAGE_OBJ_ADDR(h, hak_heap);
	return h;
#else
	return &hak_heap;
#endif
}

#define HAK_HEAP_LUT_OFF __builtin_offsetof(struct hak_heap, class_lut)
_Static_assert(HAK_HEAP_LUT_OFF % 2 == 0 && HAK_HEAP_LUT_OFF <= 256,
	       "the size table near the heap's start, 2-byte aligned");
_Static_assert(__builtin_offsetof(struct hak_heap, sm_len) ==
		       __builtin_offsetof(struct hak_heap, sm_base) + 8,
	       "sm_base and sm_len are a pair");

/*
 * size <= HAK_POOL_MAX. Entry (size + 7) >> 3 of class_lut, indexed
 * from the heap's own address as an array of 16-bit words: the table's
 * offset, in 8-byte size granules, folds into the rounding add, so the
 * heap's one address serves the table and the fields before it.
 */
static inline uintptr_t hak_size_to_magoff(size_t size)
{
	return ((const uint16_t *)(const void *)hak_dflt())
		[(size + 7 + 4 * HAK_HEAP_LUT_OFF) >> 3];
}

static inline unsigned hak_size_to_class(size_t size)
{
	return HAK_MAG_CLASS(hak_size_to_magoff(size));
}

#endif /* HAKMEM_MM_LAYOUT_H */
