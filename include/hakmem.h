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
 *    at least; size classes that are multiples of a larger power of two
 *    are aligned to that power (up to 4 KiB), page runs to the page.
 *  - Complexity: O(1) and bounded in instructions and lock acquisitions,
 *    excluding the page provider's own cost (see docs/design.md). The
 *    exceptions are hak_check(), hak_trim() and hak_cpu_offline(), which
 *    walk the heap and are linear in its size.
 *  - Bad input (a foreign, interior or already-freed pointer, a bad
 *    alignment, an overflowing size) is reported through the report hook
 *    and leaves the heap consistent; the call returns NULL or does nothing.
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
	HAK_EV_BAD_ALIGNMENT,	/* alignment 0 or not a power of two */
	HAK_EV_SIZE_OVERFLOW,	/* calloc nmemb*size or a size near SIZE_MAX */
	HAK_EV_OUT_OF_MEMORY,	/* the page provider said no; NULL returned */
	HAK_EV_CORRUPTION,	/* hak_check() or a drain found a broken invariant */
	HAK_EV_NOT_INITIALISED, /* call before hak_init() on a freestanding port */
	HAK_EV_BUFFER_OVERFLOW, /* debug build: a write past the block's end */
	HAK_EV_USE_AFTER_FREE,	/* debug build: a write into a freed block */
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
 * Page provider: replaces mmap. hakmem serialises its calls (they run under
 * hakmem's global lock, with IRQs masked on bare metal), so the provider
 * needs no locking of its own, but it must not call back into hakmem and
 * must do bounded work.
 *   alloc:   return `bytes` (a multiple of the page size) aligned to `align`
 *            (a power of two >= the page size), or NULL when exhausted.
 *   release: take back exactly a run alloc returned, whole.
 */
struct hak_page_provider {
	void *(*alloc)(void *ctx, size_t bytes, size_t align);
	void (*release)(void *ctx, void *ptr, size_t bytes);
	void *ctx;
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
	/* Optional: 64 bits of entropy for the free-block cookie secret. */
	uint64_t (*entropy)(void);
};

enum hak_tier { HAK_TIER_TINY, HAK_TIER_POOL, HAK_TIER_LARGE, HAK_TIER__COUNT };

struct hak_tier_stats {
	uint64_t bytes_in_use;	 /* bytes of live blocks (class-rounded) */
	uint64_t objects_in_use; /* live blocks */
	uint64_t allocs;	 /* allocations served, ever */
	uint64_t frees;		 /* frees served, ever */
};

struct hak_stats {
	struct hak_tier_stats tier[HAK_TIER__COUNT];
	uint64_t bytes_in_use;	   /* sum of the tiers */
	uint64_t peak_bytes_out;   /* peak of bytes outside the shared pool
				      (live + per-CPU cached + large) */
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
	uint64_t cached_objects;   /* objects sitting in per-CPU caches */
	uint64_t events[HAK_EV__COUNT]; /* reports, by kind */
	unsigned ncpus;
	/* How the per-CPU fast path runs on this port: "irq-off" (bare
	 * metal), "rseq" (hosted, restartable sequences) or "trylock" (hosted
	 * fallback when rseq is unavailable). */
	const char *fast_path;
};

/* Compile-time limits (include/hakmem/config.h holds the tunables). */
#define HAK_MAX_CPUS_LIMIT 256

/*
 * hak_init - set up the heap. Call once, before any other call, on a
 * freestanding port. The hosted port calls it lazily with an mmap provider.
 * Returns 0, or -1 if cfg is invalid, hakmem is already initialised, or
 * the provider cannot supply the per-CPU areas.
 */
int hak_init(const struct hak_config *cfg);

/*
 * hak_init_region - the embedded default: initialise over one caller-owned
 * region [base, base+size) with the built-in region page provider. base and
 * size need not be aligned; hakmem uses the page-aligned interior. Returns
 * as hak_init.
 */
int hak_init_region(void *base, size_t size, unsigned ncpus,
		    void (*report)(const struct hak_report *, void *),
		    void *report_ctx);

/* Returns a block of at least size bytes, or NULL iff the provider is
 * exhausted or size is too large to represent. hak_malloc(0) returns a
 * unique minimum-size block. */
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
 * (else HAK_EV_BAD_ALIGNMENT and NULL). Any size is accepted. */
void *hak_aligned_alloc(size_t alignment, size_t size);

/* Bytes usable in the live block ptr (>= the request), 0 for NULL or a
 * pointer hakmem does not own (reported). */
size_t hak_usable_size(const void *ptr);

/* Walk every structure and check every invariant. Returns 0 when all hold,
 * else the number of violations found (each also reported). Takes the shard
 * locks one at a time; other CPUs keep allocating meanwhile. */
int hak_check(void);

/* Drain the per-CPU caches hakmem may touch from here (all CPUs on the
 * hosted port; the calling CPU and offline CPUs on bare metal), then return
 * every empty slab and superslab to the provider. */
void hak_trim(void);

/* Drain one CPU's caches into the shared pool. On bare metal the CPU must
 * no longer run hakmem code (hot-unplugged, or parked); it comes back by
 * simply allocating again. */
void hak_cpu_offline(unsigned cpu);

/* A snapshot of the counters; exact when nothing runs concurrently. */
void hak_stats(struct hak_stats *out);

/* Human-readable name of an event kind. */
const char *hak_event_name(enum hak_event ev);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif /* HAKMEM_H */
