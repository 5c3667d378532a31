/* SPDX-License-Identifier: MIT */
/*
 * hakmem.h - the public API of the hakmem allocator.
 *
 * Common contract of every function below unless it says otherwise:
 *  - Thread/CPU safety: callable concurrently from every CPU, and from
 *    interrupt handlers on bare-metal ports (the per-CPU critical section
 *    masks IRQs there, so an IRQ never lands inside the allocator's
 *    per-CPU state on its own CPU).
 *  - Alignment: every pointer returned is aligned to HAK_MIN_ALIGN (16)
 *    at least, except a block of at most 8 bytes from malloc, calloc,
 *    realloc or hak_heap_malloc, which is aligned to 8 (the 8-byte size
 *    class: no object that small needs more, C17 7.22.3); an explicit
 *    alignment is always honoured. Size classes that are multiples of a
 *    larger power of two are aligned to that power (up to 4 KiB), page
 *    runs to the page.
 *  - Complexity: O(1) and bounded in instructions and lock acquisitions,
 *    excluding the page provider's own cost (see docs/design.md and the
 *    measured bounds in docs/guarantees.md). The exceptions are
 *    hak_check(), hak_trim() and hak_cpu_offline(), which walk the heap
 *    and are linear in its size, and the reclaim pass an allocation makes
 *    once when the provider is exhausted (what hak_trim does), before it
 *    returns NULL. Even these hold a lock, or mask IRQs on bare metal,
 *    only for bounded work at a time (docs/guarantees.md, the IRQ-off
 *    table).
 *  - Bad input (a foreign, interior or already-freed pointer, a bad
 *    alignment, an overflowing size) is reported through the report hook
 *    and leaves the heap consistent; the call returns NULL or does nothing.
 *  - Before hak_init (freestanding ports): allocation calls return NULL
 *    (HAK_EV_NOT_INITIALISED), hak_free reports the pointer as an invalid
 *    free, hak_usable_size returns 0, hak_check returns 0, hak_trim and
 *    hak_tick do nothing; with no hook installed yet only the port's
 *    fallback sink (the hosted port: stderr) sees the reports.
 *  - Misuse that would corrupt memory (a CPU id the port returns that is
 *    not below ncpus; in debug builds also two CPUs sharing one id) ends
 *    in the panic hook with a message naming the id, never in silent
 *    corruption.
 */
#ifndef HAKMEM_H
#define HAKMEM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with -fvisibility=hidden: only this API is
 * exported, and internal calls and data need no GOT/PLT indirection. */
#pragma GCC visibility push(default)

#define HAK_MIN_ALIGN 16

/* Kinds of event the report hook receives. */
enum hak_event {
	HAK_EV_DOUBLE_FREE = 1, /* free/realloc of a block already free */
	HAK_EV_INVALID_FREE,	/* pointer hakmem never handed out (foreign) */
	HAK_EV_INTERIOR_FREE,	/* pointer inside a block, not its start */
	HAK_EV_BAD_ALIGNMENT,	/* alignment 0, not a power of two, or
				 * above 2^47 (the page map's reach) */
	HAK_EV_SIZE_OVERFLOW,	/* calloc nmemb*size or a size near SIZE_MAX */
	HAK_EV_OUT_OF_MEMORY,	/* the page provider said no; NULL returned */
	HAK_EV_CORRUPTION,	/* hak_check() or a drain found a broken invariant */
	HAK_EV_NOT_INITIALISED, /* call before hak_init() on a freestanding port */
	HAK_EV_BUFFER_OVERFLOW, /* debug build: a write past the block's end */
	HAK_EV_USE_AFTER_FREE,	/* debug build: a write into a freed block */
	HAK_EV_MISUSE,		/* an API call out of contract: a second
				   hak_init, an out-of-range CPU number,
				   a NULL argument, a stale heap or cache
				   handle; nothing was changed */
	HAK_EV_LEAK,		/* a heap or object cache destroyed (or
				   refused) with blocks still live: one
				   report per block (ptr) up to 16, then
				   one with the count (size) */
	HAK_EV__COUNT
};

struct hak_report {
	enum hak_event event;
	const void *ptr;  /* the offending pointer, or NULL */
	size_t size;	  /* the request size where it applies */
	unsigned cpu;	  /* CPU index the event was seen on */
	const char *what; /* a short human-readable explanation */
	/* Debug build: who allocated and who freed the block (the callers'
	 * return addresses and CPUs); NULL / -1 when unknown. */
	const void *alloc_site, *free_site;
	int alloc_cpu, free_cpu;
};

/*
 * Page provider: replaces mmap. hakmem serialises its calls: they run under
 * the heap's provider lock, held for the call alone (for a fresh large run,
 * alloc and advise_large together), with IRQs masked on bare metal. So the
 * provider needs no locking of its own, but it must not call back into
 * hakmem and must do bounded work.
 *   alloc:   return `bytes` (a multiple of the page size) aligned to `align`
 *            (a power of two >= the page size), or NULL when exhausted.
 *   release: take back exactly a run alloc returned, whole.
 *   span_base, span_size: optional (0, 0 = anywhere). A provider whose
 *            runs all lie in [span_base, span_base + span_size), such as
 *            hak_region_provider's, says so here: hakmem then keeps a
 *            flat map over the span (8 bytes per 64 KiB, taken from the
 *            provider at hak_init) and free() finds a block's slab with
 *            one load instead of a page-map walk. A run outside the span
 *            still works, through the page map.
 *   zeroed:  optional: every run alloc returns reads as zeros (fresh
 *            mmap memory). hakmem then leaves pages it would only zero
 *            untouched (the hosted port's slab map over 64 GiB).
 *   split:   optional: release takes any page-aligned part of a run, and
 *            adjacent runs (of one or several allocs) together, as a
 *            page-granular allocator does (hak_region_provider, mmap).
 *            The large-run cache then splits a cached run to serve a
 *            smaller request and merges a freed run with cached
 *            neighbours (mm/large_cache.c), so large blocks of varying
 *            sizes reuse each other's pages.
 *   advise_large: optional (NULL: none): called on each run alloc has
 *            just returned for a large block (never for slabs or
 *            metadata), in the same provider-lock hold, before hakmem
 *            touches it. Runs the large-run cache serves again, whole or
 *            split, are not advised again, and a block made of merged
 *            cached runs is not advised: the hint is per fresh run. For
 *            hints to the system under the provider: the hosted port
 *            asks Linux for transparent huge pages on fresh runs of
 *            2 MiB and more. Same rules as alloc: bounded, no calls into
 *            hakmem. Whatever the hint set must not outlive release of
 *            that memory, in whole or (with split) in part, if the
 *            provider hands it out again for slabs or metadata.
 *   lazy:    optional: memory alloc returns takes no physical memory
 *            until it is first written (demand paging: the hosted
 *            port's mmap and arena). Reserving address space is then
 *            cheap, and the default heap reserves room for per-CPU
 *            caches that grow much further (config.h HAK_CACHE_LAZY_*:
 *            8 MiB a class, 32 MiB a CPU, 64 MiB in all, against 256
 *            KiB, 4 MiB and 16 MiB), paged in only as far as they are
 *            used. Without it (a region, bare metal) every reserved slot
 *            is memory, and the smaller bounds hold.
 */
struct hak_page_provider {
	void *(*alloc)(void *ctx, size_t bytes, size_t align);
	void (*release)(void *ctx, void *ptr, size_t bytes);
	void *ctx;
	uintptr_t span_base;
	size_t span_size;
	int zeroed;
	int split;
	void (*advise_large)(void *ctx, void *run, size_t bytes);
	int lazy;
};

struct hak_config {
	struct hak_page_provider provider; /* required */
	unsigned ncpus;	/* 1..HAK_MAX_CPUS; CPU ids are 0..ncpus-1 */
	/* Called for every bad-input event; may be NULL (events are still
	 * counted in hak_stats). Runs in the caller's context, possibly with
	 * IRQs masked: it must not call back into hakmem. */
	void (*report)(const struct hak_report *r, void *ctx);
	void *report_ctx;
	/* Called when hakmem cannot continue (an internal invariant broke
	 * in a way that would corrupt memory). Must not return. NULL: trap. */
	void (*panic)(const char *msg);
	/* Optional: 64 bits of entropy for the free-block cookie secret.
	 * Called by hak_init: it must not call back into hakmem. */
	uint64_t (*entropy)(void);
	/* Optional (bare metal): make CPU `cpu` call hak_tick() soon, e.g. an
	 * IPI whose handler calls it. hak_trim, hak_check and the reclaim
	 * before an out-of-memory use it to reach caches that only their
	 * own CPU may touch. Called with IRQs possibly masked; must not call
	 * hakmem and must not wait for the target. NULL: the targets are
	 * reached only when they call hak_tick() or take a slow path
	 * themselves (see hak_tick). */
	void (*cpu_kick)(unsigned cpu, void *ctx);
	void *cpu_kick_ctx;
	/* Bare metal: how many polls (each an arch_cpu_relax plus a look at
	 * the answers) hak_trim, hak_check and the reclaim wait in all for
	 * other CPUs to answer; 0 = HAK_REMOTE_WAIT_SPINS (config.h). */
	unsigned long remote_wait;
};

enum hak_tier { HAK_TIER_TINY, HAK_TIER_POOL, HAK_TIER_LARGE, HAK_TIER__COUNT };

struct hak_tier_stats {
	uint64_t bytes_in_use;	 /* bytes of live blocks (class-rounded) */
	uint64_t objects_in_use; /* live blocks */
	uint64_t allocs;	 /* allocations served, ever */
	uint64_t frees;		 /* frees served, ever */
	uint64_t cache_hits;	 /* Tiny and Pool: as struct hak_stats' */
	uint64_t cache_misses;
};

struct hak_stats {
	struct hak_tier_stats tier[HAK_TIER__COUNT];
	uint64_t bytes_in_use;	   /* sum of the tiers */
	uint64_t peak_bytes_out;   /* peak of bytes outside the shared pool
				      (live + per-CPU cached + large); off
				      by up to a batch per class and object
				      cache either way, and above by what
				      drains had not yet counted when it
				      was reached (stats.c hak_stats_fold) */
	uint64_t provider_taken;   /* bytes ever taken from the provider */
	uint64_t provider_returned; /* bytes ever returned to it */
	uint64_t provider_held;	   /* taken - returned */
	uint64_t provider_peak;	   /* peak of provider_held */
	uint64_t meta_bytes;	   /* held permanently: per-CPU areas, page map */
	uint64_t superslabs;	   /* superslabs held now */
	uint64_t large_cached;	   /* bytes of freed large runs kept for reuse */
	uint64_t cache_hits;	   /* per-CPU cache hits, alloc + free */
	uint64_t cache_misses;	   /* alloc on empty / free on full cache */
	uint64_t refills;	   /* batches moved shared pool -> CPU */
	uint64_t drains;	   /* batches moved CPU -> shared pool */
	uint64_t cached_objects;   /* objects sitting in per-CPU caches and
				      the transfer caches */
	uint64_t transfer_batches; /* batches handed to and taken from the
				      transfer caches (mm/transfer.c) */
	uint64_t restarts;	   /* bare metal: fast-path sections an
				      interrupt restarted (hak_restart_pc) */
	uint64_t cache_grows;	   /* default heap: a class's per-CPU
				      capacity grew by a batch, ever */
	uint64_t cache_shrinks;	   /* ... went back to its initial one */
	uint64_t cache_capacity;   /* bytes the per-CPU caches may hold
				      now: sum over CPUs and classes */
	uint64_t lock_holds;	   /* shared-lock acquisitions, ever: the
				      heap's, its shards' and transfer
				      caches' (the default heap: and the
				      global ones) */
	uint64_t lock_waits;	   /* ... of which found the lock taken */
	uint64_t check_skipped;	   /* hak_check comparisons of totals not
				      made, ever: the structure changed
				      under each of the walk's tries (it
				      runs in short lock holds) */
	uint64_t events[HAK_EV__COUNT]; /* reports, by kind */
	unsigned ncpus;
	/* How the per-CPU fast path runs on this port: "restart" (bare
	 * metal, restartable sections), "irq-off" (bare metal, HAK_RESTART
	 * 0 or debug builds), "rseq" (hosted, restartable sequences) or
	 * "trylock" (hosted fallback when rseq is unavailable). */
	const char *fast_path;
	/* How free() finds a block's metadata: "slabmap" (the default heap
	 * over a provider with a span: one slab-map entry, checked in a few
	 * compares) or "pagemap" (a provider without a span, as the hosted
	 * port falls back to when its arena cannot be reserved, and a
	 * created heap's blocks: the page map's walk, the slower path). */
	const char *free_lookup;
};

/* Compile-time limits (include/hakmem/config.h holds the tunables). */
#define HAK_MAX_CPUS_LIMIT 256

/*
 * hak_init - set up the heap. Call once, before any other call, on a
 * freestanding port, from one CPU. The hosted port calls it lazily with an
 * mmap provider. Returns 0, or -1 if cfg is invalid, hakmem is already
 * initialised, or the provider cannot supply the per-CPU areas. A second
 * call changes nothing: it returns -1 and reports HAK_EV_MISUSE.
 * Complexity: O(ncpus) provider calls.
 */
int hak_init(const struct hak_config *cfg);

/*
 * hak_region_provider - the built-in region page provider over one
 * caller-owned region [base, base+size), for a struct hak_config: lets an
 * embedder give hak_init a region together with its own panic, entropy
 * and cpu_kick hooks. base and size need not be aligned; the page-aligned
 * interior is used, and its first pages hold the provider's bitmap (one
 * bit per page). Writes *out and returns 0, or returns -1 (writing
 * nothing to the region) if base is NULL or the interior has fewer than
 * 16 pages. The region must not be in use by a live heap.
 */
int hak_region_provider(void *base, size_t size,
			struct hak_page_provider *out);

/*
 * hak_init_region - the embedded default: hak_region_provider over
 * [base, base+size) plus hak_init with ncpus and the report hook (no
 * panic hook: a broken invariant traps). Returns as hak_init; a second
 * call while initialised returns -1 without touching the region.
 */
int hak_init_region(void *base, size_t size, unsigned ncpus,
		    void (*report)(const struct hak_report *, void *),
		    void *report_ctx);

/* Returns a block of at least size bytes, or NULL iff the provider is
 * exhausted (after one reclaim pass), size is too large to represent, or
 * hakmem is not initialised (bare metal; the hosted port initialises
 * itself). hak_malloc(0) returns a unique minimum-size block. */
void *hak_malloc(size_t size);

/* Frees ptr. NULL is a no-op. A pointer that is not the start of a live
 * block is reported and ignored. */
void hak_free(void *ptr);

/* Zeroed nmemb*size bytes; NULL (and HAK_EV_SIZE_OVERFLOW) on overflow. */
void *hak_calloc(size_t nmemb, size_t size);

/* Resizes ptr keeping min(old, new) bytes. ptr NULL: hak_malloc(size).
 * size 0: frees ptr and returns NULL. On failure returns NULL and ptr is
 * untouched. A bad ptr is reported and NULL returned. */
void *hak_realloc(void *ptr, size_t size);

/* A block of size bytes aligned to alignment, which must be a power of two
 * up to 2^47 (else HAK_EV_BAD_ALIGNMENT and NULL). Any size is accepted. */
void *hak_aligned_alloc(size_t alignment, size_t size);

/* Bytes usable in the live block ptr (>= the request), 0 for NULL or a
 * pointer hakmem does not own (reported). */
size_t hak_usable_size(const void *ptr);

/*
 * Walk every structure and check every invariant: the shared pool, the
 * superslabs and every CPU's cache. Returns 0 when all hold, else the
 * number of violations found (each also reported). Each walk runs in
 * short lock holds (bounded work each, IRQs on in between), so other
 * CPUs keep allocating meanwhile; a walk resumes after a gap only if
 * what it depends on did not change, else starts over, and after three
 * starts counts the comparison of totals it could not make in
 * hak_stats' check_skipped instead of reporting it: on a busy heap some
 * totals, and the tail of a walk that kept starting over (the large
 * runs', on a heap busy with large blocks), may go unchecked; nothing is
 * falsely reported, and what is visited is checked under its lock.
 * Other CPUs' caches: the hosted port locks each in turn. On bare metal
 * only a cache's own CPU may read it, so hak_check asks each other CPU to
 * check its cache at its next hak_tick() or slow path (and kicks it with
 * cpu_kick when given), waiting at most cfg.remote_wait polls for all of
 * them together; a CPU that does not answer within that bound (it runs with IRQs
 * masked, or is parked without calling hak_tick) is skipped, its cache
 * unchecked, and reported as HAK_EV_MISUSE "CPU did not answer". CPUs
 * taken offline with hak_cpu_offline hold nothing and are not asked.
 * Complexity: linear in the heap, plus the wait.
 */
int hak_check(void);

/*
 * Drain every CPU's cache, then return every empty slab and superslab and
 * every cached large run to the provider. Other CPUs' caches are reached
 * as hak_check says: directly on the hosted port, by request on bare
 * metal (bounded wait per CPU, kicked when cpu_kick is given). hakmem also
 * runs this once, as a reclaim, before it reports an out-of-memory.
 * Complexity: linear in the heap, plus the wait.
 */
void hak_trim(void);

/*
 * hak_tick - serve what other CPUs asked of the calling CPU's cache
 * (drain it for their hak_trim or out-of-memory reclaim, check it for
 * their hak_check), then run one step of idle decay: a size class of this
 * CPU's cache that saw no allocation for two visits gives back up to 16
 * objects (8 x 16, each chunk its own critical section, from a lazy
 * provider's class grown past 2048 objects; mm/decay.c), so an idle heap
 * returns its memory without hak_trim. Bare metal: call it from a
 * periodic timer interrupt or the idle loop of each CPU, or from the IPI
 * handler behind cpu_kick; any context the allocator may be called from,
 * IRQ handlers included. O(1): one load when nothing was asked, plus at
 * most one chunk of 16 objects back to the shared pool (8 with IRQs on
 * and a lazy provider's grown class); else one cache drain or check.
 * Hosted: optional (other CPUs' caches are locked directly, and misses
 * run decay steps too); a timer thread may call it.
 */
void hak_tick(void);

/* Drain one CPU's caches into the shared pool, and its lane's transfer
 * caches when there are any (HAK_LANES, HAK_TRANSFER_BATCHES; shared
 * with the lane's other CPUs). On bare metal the CPU must
 * no longer run hakmem code (hot-unplugged, or parked); it comes back by
 * simply allocating again, and it is not asked to answer hak_trim or
 * hak_check requests until it does. cpu >= ncpus is reported
 * (HAK_EV_MISUSE) and ignored, as is, on bare metal, a call for a CPU
 * that another call is taking offline at that moment (it would drain
 * the same cache): that call returns at once, before the first one has
 * drained it. The hosted port runs such calls one after the other. */
void hak_cpu_offline(unsigned cpu);

/*
 * hak_restart_pc - bare metal with restartable fast paths (HAK_RESTART,
 * hakmem/config.h): every interrupt and exception entry that can lead to
 * a hakmem call or a task switch on its CPU calls it, before either, with
 * the interrupted kernel-mode PC (x86_64: the frame's RIP, aarch64:
 * ELR_EL1, riscv64: sepc), and resumes at the address it returns: pc
 * itself, or the start of the hakmem section pc was in, which then runs
 * again from its start, on whichever CPU. Without it a handler that
 * allocates could corrupt the cache of the code it interrupted.
 * Lock-free, reentrant, any context: a compare per section (a dozen).
 * Harmless in builds without the sections: it returns pc.
 */
uintptr_t hak_restart_pc(uintptr_t pc);

/*
 * The embedder of a library built with restartable fast paths defines
 *	const int hak_irq_entry_calls_hak_restart_pc = 1;
 * declaring that its entries call hak_restart_pc. hakmem refers to it, so
 * an image that forgot the hook fails to link, naming it, instead of
 * corrupting memory once in a while under interrupts.
 */
extern const int hak_irq_entry_calls_hak_restart_pc;

/* A snapshot of the counters; exact when nothing runs concurrently.
 * out == NULL is reported (HAK_EV_MISUSE) and ignored. */
void hak_stats(struct hak_stats *out);

/* ---- heaps ------------------------------------------------------------
 *
 * A heap is an allocator instance with its own page provider, byte limit,
 * report sink and name: a guest VM's memory, a DMA or uncached region, a
 * NUMA node. Its blocks are served by a per-CPU front like the default
 * heap's (its per-CPU areas come from its own provider, on each CPU's
 * first use: docs/guarantees.md gives the bound), its slabs and large
 * runs are its own, and hak_heap_destroy gives all of it back at once.
 * hak_free, hak_realloc and hak_usable_size take a block of any heap: the
 * page map finds its owner. The default heap (hak_heap_default) is what
 * hak_malloc and the standard names use; its fast path is unchanged.
 *
 * Handles: NULL, a destroyed heap's handle (heap objects are never
 * reused for anything else, only for a later hak_heap_create) and the
 * default heap where it cannot go are reported as HAK_EV_MISUSE, the call
 * doing nothing. A pointer that never was a handle is undefined.
 * Contexts: as hak_malloc (any CPU, IRQ handlers included), except
 * create and destroy: thread or task context, not in an IRQ handler.
 */
struct hak_heap;

struct hak_heap_config {
	const char *name; /* for reports and stats; copied (31 bytes) */
	/* Required. Its calls are serialised by the heap's own provider
	 * lock; it may be the same hook code as another heap's over other
	 * memory, but two heaps must not hand out the same pages. */
	struct hak_page_provider provider;
	/* Bytes the heap may hold from its provider at any moment
	 * (superslabs, large runs and its per-CPU areas), enforced at every
	 * provider call; 0 = no limit. An allocation that would exceed it
	 * returns NULL with HAK_EV_OUT_OF_MEMORY naming the heap, after one
	 * reclaim pass (caches drained, empty slabs given back) and a
	 * bounded wait for other CPUs' provider calls in flight on the heap
	 * (a superslab on its way in, memory on its way back). */
	size_t limit;
	/* Reports about this heap's blocks; NULL: the default heap's sink. */
	void (*report)(const struct hak_report *r, void *ctx);
	void *report_ctx;
	/* Per-CPU magazine budget per size class, in bytes (clamped to
	 * 4..HAK_CACHE_MAX objects); 0 = HAK_HEAP_CACHE_BYTES. Smaller:
	 * less per-CPU memory per heap, more trips to the shared pool. */
	size_t cache_bytes;
};

/* The heap hak_malloc uses; NULL before hak_init. */
struct hak_heap *hak_heap_default(void);

/*
 * A new heap, empty but for the calling CPU's per-CPU area, which comes
 * from its provider at once (docs/heaps.md). NULL, reported
 * (HAK_EV_MISUSE with the reason, through cfg->report when given), iff
 * hakmem is not initialised, cfg or its provider hooks are missing, the
 * heap object cannot be allocated from the default heap's provider
 * (32 KiB, type-stable); HAK_EV_OUT_OF_MEMORY iff its provider or limit
 * refuses that area.
 * Complexity: O(HAK_MAX_CPUS).
 */
struct hak_heap *hak_heap_create(const struct hak_heap_config *cfg);

#define HAK_HEAP_DESTROY_FORCE 1u

/*
 * Give every page h holds back to its provider: superslabs, large runs,
 * cached runs and per-CPU areas, and destroy its object caches. Without
 * HAK_HEAP_DESTROY_FORCE a heap with live blocks is not destroyed: the
 * blocks are reported (HAK_EV_LEAK) and -1 returned. With it, live blocks
 * go too (a dead VM's memory); a later hak_free of one of them is
 * reported as an invalid free. Returns 0 when destroyed, -1 when refused
 * (also for NULL, the default heap, a destroyed heap: HAK_EV_MISUSE).
 * h must be quiescent: no call on h or its blocks may run concurrently
 * or start afterwards (a destroyed VM's CPUs no longer allocate for it).
 * Complexity: O(pages held) provider releases and page-map stores, in
 * steps with the heap's lock dropped between them.
 */
int hak_heap_destroy(struct hak_heap *h, unsigned flags);

/* As hak_malloc / hak_calloc / hak_aligned_alloc, from heap h. NULL iff
 * h is bad (reported), its limit or provider is exhausted after one
 * reclaim (reported, naming the heap), or the size cannot be served. */
void *hak_heap_malloc(struct hak_heap *h, size_t size);
void *hak_heap_calloc(struct hak_heap *h, size_t nmemb, size_t size);
void *hak_heap_aligned_alloc(struct hak_heap *h, size_t alignment,
			     size_t size);
/* As hak_realloc, for a block of h (NULL: hak_heap_malloc(h, size)); a
 * block of another heap is reported (HAK_EV_MISUSE) and NULL returned.
 * hak_realloc itself keeps any block in its own heap. */
void *hak_heap_realloc(struct hak_heap *h, void *ptr, size_t size);

/* As hak_stats / hak_check / hak_trim, for heap h alone. hak_heap_check
 * and hak_heap_trim include its object caches' shards (hak_heap_check
 * also walks every CPU's caches, as hak_check); hak_heap_stats counts
 * its classes and large blocks, not its caches' objects (hak_cache_stats
 * has those), except in peak_bytes_out, which counts every slab object
 * out of the heap, theirs included. */
void hak_heap_stats(struct hak_heap *h, struct hak_stats *out);
int hak_heap_check(struct hak_heap *h);
void hak_heap_trim(struct hak_heap *h);
/* h's name ("default" for the default heap), NULL for a bad handle. */
const char *hak_heap_name(const struct hak_heap *h);

/* ---- object caches ------------------------------------------------------
 *
 * kmem_cache-style typed caches: exact-size slots in their own slabs of a
 * heap (NULL: the default heap), served by a per-CPU front like the size
 * classes'. Objects are at least 8 bytes: a free object holds hakmem's
 * free cookie in its first word. With a constructor (SLAB's rule) every
 * object is constructed once, when its slab is carved, and must be given
 * back in constructed state: hakmem then writes nothing into the object,
 * keeping the cookie in one extra word after it (the slot is size + 8,
 * rounded to align, as SLUB moves its free pointer out of constructed
 * objects). hak_free of a cache object works (it finds the cache, more
 * slowly); hak_realloc of one is reported.
 */
struct hak_cache;

struct hak_cache_stats {
	const char *name;
	size_t object_size;	 /* as created */
	size_t slot_size;	 /* what each object takes in its slab */
	uint64_t objects_in_use; /* live objects */
	uint64_t cached;	 /* free objects in per-CPU magazines */
	uint64_t allocs, frees;	 /* ever */
	uint64_t slabs;		 /* slabs carved for it now */
};

/*
 * A cache of size-byte objects aligned to align (a power of two up to the
 * page size; 0: HAK_MIN_ALIGN; below 8: 8, since a free slot holds the
 * free cookie, a word) in heap h (NULL: default). flags: 0 (reserved). NULL,
 * reported (HAK_EV_MISUSE or HAK_EV_BAD_ALIGNMENT), iff h is bad, size
 * is 0 or above HAK_POOL_MAX, align is not a power of two or above a
 * page, or the cache object cannot be allocated.
 */
struct hak_cache *hak_cache_create(struct hak_heap *h, const char *name,
				   size_t size, size_t align, unsigned flags,
				   void (*ctor)(void *obj, void *arg),
				   void *arg);
/* An object, NULL iff c is bad (reported) or its heap is out of memory
 * (reported). O(1); one per-CPU section on a hit. */
void *hak_cache_alloc(struct hak_cache *c);
/* Give p back to c. NULL: no-op. A pointer that is not a live object of
 * c (another cache's or heap's block, foreign, interior, already free)
 * is reported and ignored. */
void hak_cache_free(struct hak_cache *c, void *p);
/* Destroy c: 0, or -1 when objects are still live: each is reported
 * (HAK_EV_LEAK, its address, up to 16, then the count) and c stays. Its
 * slabs go back to its heap. c must be quiescent, as for heaps. */
int hak_cache_destroy(struct hak_cache *c);
void hak_cache_stats(struct hak_cache *c, struct hak_cache_stats *out);

/* Human-readable name of an event kind. */
const char *hak_event_name(enum hak_event ev);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* HAKMEM_H */
