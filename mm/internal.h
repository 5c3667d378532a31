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
 *                                    map writes, large runs, provider calls)
 * Shared locks are taken with IRQs masked (hak_lock) and held for bounded
 * work, so a waiter never spins on a holder preempted on its own CPU.
 *
 * Names: hak_<file>_<verb> for cross-file functions, declared below grouped
 * by the file that defines them.
 */
#ifndef HAKMEM_MM_INTERNAL_H
#define HAKMEM_MM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "hakmem.h"
#include "hakmem/arch.h"
#include "hakmem/config.h"
#include "hakmem/port.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#define hak_cacheline_aligned __attribute__((aligned(ARCH_CACHELINE)))
/* For the few functions that make up the fast paths. */
#define hak_always_inline inline __attribute__((always_inline))

#define HAK_PAGE_SHIFT ARCH_PAGE_SHIFT
#define HAK_PAGE_SIZE (1UL << HAK_PAGE_SHIFT)
#define HAK_SLAB_SIZE (1UL << HAK_SLAB_SHIFT)
#define HAK_SUPERSLAB_SIZE (1UL << HAK_SUPERSLAB_SHIFT)
#define HAK_SLABS_PER_SS (1U << (HAK_SUPERSLAB_SHIFT - HAK_SLAB_SHIFT))
#define HAK_MIN_OBJECT 16
#define HAK_SLAB_MAX_OBJECTS (HAK_SLAB_SIZE / HAK_MIN_OBJECT)
#define HAK_SLAB_BITMAP_WORDS (HAK_SLAB_MAX_OBJECTS / 64)
#define HAK_SS_MAGIC 0x68616b6d53534c42ULL /* "hakmSSLB" */

#define hak_round_up(x, a) (((x) + (a)-1) & ~((uintptr_t)(a)-1))

/* ---- sizeclass.c ---------------------------------------------------- */

#define HAK_NCLASSES 40
#define HAK_NTINY 20 /* classes 0..19 are Tiny, 20..39 Pool */
#define HAK_CLASS_NONE 0xff

/* The one class table; everything else is derived from it at init. */
extern const uint32_t hak_class_size[HAK_NCLASSES];

struct hak_class_info {
	uint32_t size;
	uint32_t inv;	    /* ceil(2^32 / size): index = off * inv >> 32 */
	uint32_t cache_cap; /* per-CPU cache capacity, objects */
	uint32_t batch;	    /* refill / drain batch, objects */
	uint32_t align;	    /* largest power of two dividing size, <= 4 KiB */
};

extern struct hak_class_info hak_classes[HAK_NCLASSES];
extern uint8_t hak_class_tiny_lut[(HAK_TINY_MAX >> 4) + 1];
extern uint8_t hak_class_pool_lut[(HAK_POOL_MAX >> 8) + 1];

void hak_sizeclass_init(void);
/* Smallest class >= size whose objects are aligned to align, or
 * HAK_CLASS_NONE. */
unsigned hak_sizeclass_for_aligned(size_t size, size_t align);

/* size <= HAK_POOL_MAX */
static inline unsigned hak_size_to_class(size_t size)
{
	if (size <= HAK_TINY_MAX)
		return hak_class_tiny_lut[(size + 15) >> 4];
	return hak_class_pool_lut[(size + 255) >> 8];
}

static inline uint32_t hak_obj_index(uintptr_t off, uint32_t inv)
{
	return (uint32_t)(((uint64_t)off * inv) >> 32);
}

/* ---- spinlock (inline) ---------------------------------------------- */

typedef struct {
	int v;
} hak_spinlock_t;

/*
 * Bounded wait: every holder runs with IRQs masked (bare metal) and does
 * bounded work, so the wait is bounded by the number of CPUs times the
 * longest critical section. The hosted port yields to a preempted holder.
 */
static inline unsigned long hak_lock(hak_spinlock_t *l)
{
	unsigned long flags = hak_port_irq_save();
	unsigned spins = 0;

	while (__atomic_exchange_n(&l->v, 1, __ATOMIC_ACQUIRE)) {
		do
			hak_port_spin_wait(++spins);
		while (__atomic_load_n(&l->v, __ATOMIC_RELAXED));
	}
	return flags;
}

static inline void hak_unlock(hak_spinlock_t *l, unsigned long flags)
{
	__atomic_store_n(&l->v, 0, __ATOMIC_RELEASE);
	hak_port_irq_restore(flags);
}

/* ---- slab and superslab layout -------------------------------------- */

struct hak_superslab;

struct hak_slab {
	/* Set under the shard lock before any object leaves the slab; read
	 * lock-free by free(). span == 0 while the unit is not carved, so
	 * every pointer into it fails the range check. */
	uintptr_t start; /* address of object 0 */
	uint32_t span;	 /* capacity * size */
	uint32_t size;
	uint32_t inv;
	uint16_t capacity;
	uint8_t cls;   /* HAK_CLASS_NONE while free */
	uint8_t index; /* position in its superslab, fixed */
	/* Under the shard lock. */
	uint16_t nfree;	    /* bits set in bits[] */
	uint16_t hint;	    /* no set bit in bits[0..hint) */
	uint16_t on_list;   /* 0 none, 1 partial, 2 empty */
	uint16_t cache_cap; /* the class's per-CPU cache capacity, for free() */
	/* Objects [0, hwm) have been handed out since the slab was carved
	 * (refills take the lowest free index first), so a free object at
	 * or above hwm was never allocated: free() of it is an invalid free,
	 * not a double free. Read lock-free when classifying a refusal. */
	uint16_t hwm;
	struct hak_slab *next, *prev;
	/* 1 = object free in the slab. Written under the shard lock with
	 * relaxed atomics, read lock-free by free()'s double-free check. */
	uint64_t bits[HAK_SLAB_BITMAP_WORDS];
};

struct hak_superslab {
	uint64_t magic;
	/* Under the global lock. */
	struct hak_superslab *all_next, *all_prev;     /* every superslab */
	struct hak_superslab *avail_next, *avail_prev; /* with a free unit */
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
 * A magazine: a bounded stack of free object pointers of one class.
 * hdr packs the count (low HAK_MAG_COUNT_BITS) with an operation counter
 * (the rest): every pop is one store of hdr + HAK_MAG_OP - 1, every push
 * one store of hdr + HAK_MAG_OP + 1. So an operation's commit, its count
 * and its statistics are the same single store: no separate counters on
 * the fast path, and exactly the one-store commit an rseq section needs.
 * The capacity is hak_classes[cls].cache_cap.
 */
#define HAK_MAG_COUNT_BITS 16
#define HAK_MAG_COUNT_MASK ((1ULL << HAK_MAG_COUNT_BITS) - 1)
#define HAK_MAG_OP (1ULL << HAK_MAG_COUNT_BITS)

struct hak_mag {
	uint64_t hdr;
	void **slots;
};

struct hak_pcpu {
	/* Nonzero while another CPU holds this cache exclusively (ports whose
	 * fast path is an rseq section check it inside the section). */
	uint32_t excl;
	/* Cross-CPU requests (remote.c), atomics: HAK_REQ_* bits other CPUs
	 * posted, how many posts (seq) and up to which post the owner has
	 * served them (done). Only ports that cannot lock a remote cache
	 * (HAK_PORT_REMOTE_EXCLUSIVE 0) use them. */
	uint32_t req;
	struct hak_mag mag[HAK_NCLASSES];
	uint32_t req_seq, req_done;
	uint32_t check_bad; /* violations found by requested checks, ever */
	uint32_t offline;   /* 1 after hak_cpu_offline, until a slow path */
	/* HAK_CHECK_CPU_OWNER: arch_cpu_hw_id() + 1 of the CPU that first
	 * used this slot; 0 while none has. */
	uint64_t hw_owner;
	/* Slow-path counters, atomic adds: misses, batches moved. */
	uint64_t alloc_misses, free_misses, refills, drains;
	/* slot storage follows, cache line aligned */
} hak_cacheline_aligned;

#define HAK_REQ_DRAIN 1u
#define HAK_REQ_CHECK 2u

_Static_assert(HAK_CACHE_MAX < HAK_MAG_COUNT_MASK, "count fits the header");
/* What arch/<arch>/include/hakmem/rseq.h assumes about the layout. */
_Static_assert(__builtin_offsetof(struct hak_pcpu, excl) == 0, "excl first");
_Static_assert(__builtin_offsetof(struct hak_mag, hdr) == 0 &&
		       __builtin_offsetof(struct hak_mag, slots) == 8 &&
		       sizeof(struct hak_mag) == 16,
	       "magazine layout");
#define HAK_MAG_OFFSET(cls)                                                    \
	(__builtin_offsetof(struct hak_pcpu, mag) +                            \
	 (unsigned long)(cls) * sizeof(struct hak_mag))

static inline uint64_t hak_mag_hdr(const struct hak_mag *m)
{
	return __atomic_load_n(&m->hdr, __ATOMIC_RELAXED);
}

static inline void hak_mag_set_hdr(struct hak_mag *m, uint64_t hdr)
{
	__atomic_store_n(&m->hdr, hdr, __ATOMIC_RELAXED);
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

struct hak_shard {
	hak_spinlock_t lock;
	struct hak_slab *partial; /* some objects free */
	struct hak_slab *empty;	  /* all objects free, kept for hysteresis */
	uint32_t nempty;
	uint32_t nslabs;      /* carved slabs of this class */
	uint64_t out_objects; /* objects outside the slabs: live or cached */
	/* Atomic: user operations served past the caches (slow paths). */
	uint64_t bypass_allocs, bypass_frees;
} hak_cacheline_aligned;

/* ---- page map ------------------------------------------------------- */

#define HAK_PM_BITS 12
#define HAK_PM_FANOUT (1UL << HAK_PM_BITS)
#define HAK_PM_ADDR_BITS (HAK_PAGE_SHIFT + 3 * HAK_PM_BITS) /* 48 */
#define HAK_PM_ROOT_SHIFT (HAK_PAGE_SHIFT + 2 * HAK_PM_BITS)
#define HAK_PM_ROOT_SIZE (1UL << (HAK_PM_ADDR_BITS - HAK_PM_ROOT_SHIFT))
#define HAK_PM_TAG_MASK 3UL
#define HAK_PM_TAG_SLAB 1UL
#define HAK_PM_TAG_LARGE 2UL
#define HAK_PM_TAG_TAIL 3UL /* debug build: a later page of a large run */

/* ---- large_cache.c --------------------------------------------------- */

struct hak_large_cache {
	void *run[HAK_LARGE_CACHE_PAGES][HAK_LARGE_CACHE_WAYS];
	uint8_t n[HAK_LARGE_CACHE_PAGES];
	uint64_t bytes;
};

_Static_assert(HAK_LARGE_CACHE_WAYS < 256, "way count fits a byte");

/* Global lock held (flush takes it). */
void *hak_large_cache_take(size_t npages);
int hak_large_cache_put(void *p, size_t npages);
void hak_large_cache_flush(void);

/* ---- the heap ------------------------------------------------------- */

struct hak_heap {
	int ready;
	unsigned ncpus;
	uint64_t secret; /* free-block cookie key */
	struct hak_config cfg;
	struct hak_pcpu *pcpu[HAK_MAX_CPUS];

	/* Global lock and what it guards. */
	hak_spinlock_t lock hak_cacheline_aligned;
	struct hak_superslab *ss_all;
	struct hak_superslab *ss_avail;
	uint64_t nss;	    /* superslabs held */
	uint64_t nss_empty; /* of which wholly empty */
	uint64_t taken, returned, peak_held, meta;
	uint64_t large_bytes, large_objects, large_allocs, large_frees;
	struct hak_large_cache large_cache;

	/* Atomics. */
	uint64_t out_bytes hak_cacheline_aligned;
	uint64_t peak_out;
	uint64_t events[HAK_EV__COUNT];

	struct hak_shard shard[HAK_NCLASSES];
	uintptr_t **pagemap_root[HAK_PM_ROOT_SIZE];
};

extern struct hak_heap hak_heap;

/* ---- pagemap.c ------------------------------------------------------ */

/*
 * The root slot of a canonical 48-bit address: its bits 36-47 taken with
 * the sign, plus half the root, so the upper half (a higher-half kernel's
 * image and heap) takes slots 0..2047 and the lower half 2048..4095. A
 * non-canonical address gives HAK_PM_ROOT_SIZE or more. On x86_64 this
 * costs what testing a >> 48 for a lower-half-only map did; aarch64 pays
 * one instruction more per free.
 */
static inline size_t hak_pm_root_index(uintptr_t a)
{
	return (size_t)((intptr_t)a >> HAK_PM_ROOT_SHIFT) +
	       HAK_PM_ROOT_SIZE / 2;
}

static inline uintptr_t hak_pagemap_get(uintptr_t a)
{
	uintptr_t **mid, *leaf;
	size_t i0 = hak_pm_root_index(a);

	if (unlikely(i0 >= HAK_PM_ROOT_SIZE))
		return 0;
	mid = __atomic_load_n(&hak_heap.pagemap_root[i0], __ATOMIC_ACQUIRE);
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

/* Global lock held. Returns 0, or -1 if a node could not be allocated. */
int hak_pagemap_set(uintptr_t a, uintptr_t v);
/* Global lock held. The entry of a's page, creating the nodes on the way
 * if create; NULL if absent (or the nodes could not be allocated). */
uintptr_t *hak_pagemap_leaf_entry(uintptr_t a, int create);

/* ---- provider.c ----------------------------------------------------- */

/* Global lock held. Accounting wrappers around the provider hooks. */
void *hak_provider_alloc(size_t bytes, size_t align, int meta);
void hak_provider_release(void *p, size_t bytes);

/* ---- superslab.c ---------------------------------------------------- */

/* Take a free slab unit (creating a superslab if none). Caller holds the
 * shard lock; takes the global lock. NULL when the provider is exhausted. */
struct hak_slab *hak_superslab_get_slab(void);
/* Give a wholly free slab unit back; force: release an emptied superslab
 * even below the hysteresis. */
void hak_superslab_put_slab(struct hak_slab *s, int force);
/* Release every empty superslab. Global lock taken inside. */
void hak_superslab_trim(void);
int hak_superslab_check(void);

/* ---- shared_pool.c -------------------------------------------------- */

/* Move up to n objects of class cls into out[]. Returns the number moved
 * (0 only when the provider is exhausted). */
unsigned hak_shared_refill(unsigned cls, void **out, unsigned n);
/* Return n objects of class cls to their slabs. */
void hak_shared_drain(unsigned cls, void *const *objs, unsigned n);
/* Give back every empty slab of every class. */
void hak_shared_trim(void);
int hak_shared_check(void);

/* ---- percpu_cache.c ------------------------------------------------- */

int hak_pcpu_alloc_areas(unsigned ncpus);
/* The misses, outside any critical section: refill from the shared pool
 * and hand one object over / drain a batch and p back to it. */
void *hak_pcpu_alloc_miss(unsigned cls);
void hak_pcpu_free_miss(unsigned cls, void *p);
/* Inside cpu's critical section: move every cached object back. */
void hak_pcpu_flush(struct hak_pcpu *pc);
int hak_pcpu_check(struct hak_pcpu *pc, unsigned cpu);
/* Objects in pc's magazines (racy unless inside its critical section). */
unsigned hak_pcpu_cached(const struct hak_pcpu *pc);
/* The port returned a CPU id that is not below ncpus. Before hak_init
 * (ncpus 0) that only means "not initialised" and it returns; otherwise
 * it panics naming the id. Called with the critical section left. */
void hak_pcpu_bad_id(unsigned cpu);

/* ---- remote.c --------------------------------------------------------- */

/* Every CPU's cache gets `what` (HAK_REQ_*): the caller's own directly,
 * the others by request with a bounded wait (or by the port's remote lock
 * where it has one). Returns the violations HAK_REQ_CHECK found. */
int hak_remote_all(unsigned what);
/* Serve what other CPUs asked of the calling CPU's cache, if anything:
 * a load when nothing was. Also clears the CPU's offline mark. */
void hak_remote_poll(void);

/* ---- large.c -------------------------------------------------------- */

void *hak_large_alloc(size_t size, size_t align);
void hak_large_free(void *p, uintptr_t entry);
size_t hak_large_usable(const void *p, uintptr_t entry);

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
__attribute__((noreturn)) void hak_panic(const char *msg);

/* ---- string.c ------------------------------------------------------- */

void hak_memset(void *d, int c, size_t n);
void hak_memcpy(void *d, const void *s, size_t n);
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
#else
#define HAK_RAW(name) name
#endif
int hak_block_containing(const void *p, uintptr_t *start, size_t *usable);
int hak_calloc_bytes(size_t nmemb, size_t size, size_t *n);

/* ---- stats.c -------------------------------------------------------- */

void hak_stats_out_add(int64_t bytes);

#endif /* HAKMEM_MM_INTERNAL_H */
