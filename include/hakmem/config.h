/* SPDX-License-Identifier: MIT */
/*
 * hakmem/config.h - the compile-time configuration, and its only source.
 *
 * Every layout constant derives from the few below; mm/internal.h pins the
 * derived layout with _Static_assert. To override, define HAK_CONFIG_FILE
 * as a header to include first (-DHAK_CONFIG_FILE='"myconfig.h"').
 * There are no environment variables and no run-time knobs besides
 * struct hak_config.
 */
#ifndef HAKMEM_CONFIG_H
#define HAKMEM_CONFIG_H

#ifdef HAK_CONFIG_FILE
#include HAK_CONFIG_FILE
#endif

/* Most CPUs hak_init accepts; per-CPU areas are allocated for ncpus only. */
#ifndef HAK_MAX_CPUS
#define HAK_MAX_CPUS 64
#endif

/* A slab is one unit of a superslab, carved into objects of one class. */
#ifndef HAK_SLAB_SHIFT
#define HAK_SLAB_SHIFT 16 /* 64 KiB */
#endif

/* Superslabs are aligned to their size, so a slab's superslab is a mask. */
#ifndef HAK_SUPERSLAB_SHIFT
#define HAK_SUPERSLAB_SHIFT 20 /* 1 MiB: 16 slabs */
#endif

/* Tier limits: Tiny up to HAK_TINY_MAX, Pool up to HAK_POOL_MAX. */
#define HAK_TINY_MAX 1024
#define HAK_POOL_MAX 32768

/* Per-CPU cache capacity per class: HAK_CACHE_BYTES worth of objects,
 * clamped to [HAK_CACHE_MIN, HAK_CACHE_MAX] objects. Refill and drain move
 * half a cache. */
#ifndef HAK_CACHE_BYTES
#define HAK_CACHE_BYTES (64 * 1024)
#endif
/* A created heap's default budget (struct hak_heap_config.cache_bytes):
 * smaller, since a hypervisor may run many heaps on many CPUs. */
#ifndef HAK_HEAP_CACHE_BYTES
#define HAK_HEAP_CACHE_BYTES (8 * 1024)
#endif
#ifndef HAK_CACHE_MIN
#define HAK_CACHE_MIN 4
#endif
#ifndef HAK_CACHE_MAX
#define HAK_CACHE_MAX 128
#endif
/* The most objects a refill or drain moves: batch = min(cap / 2, this),
 * so a class's capacity may grow without lengthening a miss. */
#ifndef HAK_BATCH_MAX
#define HAK_BATCH_MAX 64
#endif
/*
 * Dynamic capacity (the default heap; percpu_cache.c): a class whose
 * magazine overflows while it also serves allocations on that CPU grows
 * by a batch, up to HAK_CACHE_GROW_BYTES of objects (at most
 * HAK_CACHE_SLOTS_MAX, at least its initial capacity), as long as the
 * CPU's classes together stay within HAK_CACHE_CPU_BYTES; idle decay
 * shrinks an idle class back (decay.c). The slots for the largest
 * capacity are reserved in each CPU's area up front (docs/guarantees.md
 * has the memory this costs).
 */
#ifndef HAK_CACHE_GROW_BYTES
#define HAK_CACHE_GROW_BYTES (256 * 1024)
#endif
#ifndef HAK_CACHE_SLOTS_MAX
#define HAK_CACHE_SLOTS_MAX 2048
#endif
#ifndef HAK_CACHE_CPU_BYTES
#define HAK_CACHE_CPU_BYTES (4UL << 20)
#endif
/* And all CPUs' classes together grow by at most this many bytes beyond
 * their initial capacities, whatever the CPU count: the grown part of
 * the caches is bounded by this, not by ncpus x HAK_CACHE_CPU_BYTES. */
#ifndef HAK_CACHE_HEAP_GROW_BYTES
#define HAK_CACHE_HEAP_GROW_BYTES (16UL << 20)
#endif
/*
 * The same four bounds with a lazy provider (struct hak_page_provider
 * .lazy: the hosted port), whose reserved slots cost address space until
 * used: a class may grow to hold a burst of frees that the same CPU then
 * allocates again (sh8bench frees four fifths of its blocks at a time;
 * xmalloc-test's producer and consumer share a CPU), served from the
 * cache instead of a round trip through the slabs (docs/performance.md
 * "Per-CPU caches that grow to a burst"). The slots of the largest
 * capacities come to 21.4 MiB of address space a CPU. 32 MiB a CPU and
 * 64 MiB in all, not 16 and 32: sh8bench-1t 8.5 -> 7.4 s and -2t 4.3
 * -> 3.8 s, peak RSS +1 and +5 MB (its single worker's burst of 800,000
 * blocks is about 20 MiB of objects, computed from its size histogram;
 * docs/performance.md "A CPU's cache budget doubled").
 */
#ifndef HAK_CACHE_LAZY_GROW_BYTES
#define HAK_CACHE_LAZY_GROW_BYTES (8UL << 20)
#endif
#ifndef HAK_CACHE_LAZY_SLOTS_MAX
#define HAK_CACHE_LAZY_SLOTS_MAX (1U << 20)
#endif
#ifndef HAK_CACHE_LAZY_CPU_BYTES
#define HAK_CACHE_LAZY_CPU_BYTES (32UL << 20)
#endif
#ifndef HAK_CACHE_LAZY_HEAP_GROW_BYTES
#define HAK_CACHE_LAZY_HEAP_GROW_BYTES (64UL << 20)
#endif

/* Transfer cache (mm/transfer.c): whole batches (half a cache each) of
 * free objects a class keeps between the CPUs' caches and its slabs, one
 * cache per lane (HAK_LANES), so a CPU's free misses come back to its
 * allocation misses at O(1) an object. The
 * memory they may hold is HAK_TRANSFER_BATCHES / 2 more caches' worth
 * (docs/guarantees.md; 31.6 MiB at the hosted port's 32); the reclaim before an out-of-memory
 * gives it back. 0 disables it: the freestanding default, whose heaps may
 * be small and whose icount bounds are for the direct drain; the hosted
 * builds set 32 (Makefile HOSTED_DEFS). Shared among the lanes
 * (HAK_LANES): when not 0, at least HAK_LANES (transfer.c asserts it), so
 * each lane's share is at least one batch and the sum stays within it. */
#ifndef HAK_TRANSFER_BATCHES
#define HAK_TRANSFER_BATCHES 0
#endif

/* The shared pool's lock holds (mm/shared_pool.c): a refill or drain
 * moves at most HAK_HOLD_OBJECTS objects and visits at most
 * HAK_HOLD_SLABS slabs per hold of a class's lock, and drops it in
 * between. Bare metal masks IRQs for every hold, so the defaults keep the
 * longest IRQ-off window under 2,000 guest instructions
 * (docs/guarantees.md). The hosted port masks nothing and sets 64 and 32
 * (Makefile HOSTED_DEFS): a batch then takes one or two holds, not four
 * to ten (docs/performance.md). */
#ifndef HAK_HOLD_OBJECTS
#define HAK_HOLD_OBJECTS 16
#endif
#ifndef HAK_HOLD_SLABS
#define HAK_HOLD_SLABS 8
#endif

/*
 * Lanes (mm/shared_pool.c): a class keeps its slabs with free objects on
 * HAK_LANES lists, and a CPU refills from lane cpu % HAK_LANES first, so
 * that objects a CPU frees go back to the CPU that had them (their
 * slab's lane) rather than to whichever CPU refills next, and two CPUs
 * do not keep objects of one cache line. A refill whose lane is dry
 * takes another lane's slabs only when that lane is idle (none of its
 * CPUs refilled or drained the class in the class's last HAK_LANE_IDLE
 * refills and drain holds) or holds more than HAK_LANE_KEEP of them;
 * else it carves a fresh slab, and it takes any lane's before it fails.
 * 1: one list, the freestanding default (its bounds in
 * docs/guarantees.md are for one); the hosted port sets 8 (Makefile
 * HOSTED_DEFS).
 */
#ifndef HAK_LANES
#define HAK_LANES 1
#endif
#ifndef HAK_LANE_IDLE
#define HAK_LANE_IDLE 1024
#endif
#ifndef HAK_LANE_KEEP
#define HAK_LANE_KEEP 64
#endif

/* A refill takes at most this many bytes of never-used objects (at least
 * one object): it writes their free cookies, so this bounds the pages it
 * brings in for objects that may then sit unused in a CPU cache
 * (mm/shared_pool.c slab_take). */
#ifndef HAK_REFILL_FRESH_BYTES
#define HAK_REFILL_FRESH_BYTES 4096
#endif

/* Hysteresis: empty slabs a class keeps, empty superslabs the heap keeps,
 * before giving them back (hak_trim gives back all). */
#ifndef HAK_EMPTY_SLABS_KEPT
#define HAK_EMPTY_SLABS_KEPT 1
#endif
#ifndef HAK_EMPTY_SUPERSLABS_KEPT
#define HAK_EMPTY_SUPERSLABS_KEPT 1
#endif

/*
 * Freed large runs kept for reuse (mm/large_cache.c): at most
 * HAK_LARGE_CACHE_BYTES of them in all, any run no larger than that; a
 * request of n pages takes a cached run of n to n + n/4 pages. A run no
 * request took within 4096 large operations goes back to the provider
 * (decay), and hak_trim gives back all. 0 disables the cache.
 *
 * 64 MiB: blocks of several MiB (image and I/O buffers, a program's big
 * arrays) churn through the cache instead of an mmap, a munmap and a page
 * fault per page each time, and it is the fixed slack the memory bound
 * (docs/guarantees.md) adds. A bare-metal heap much smaller than that
 * should lower it: the reclaim before an out-of-memory empties the cache,
 * so it never costs an allocation, but it does hold memory until decay.
 */
#ifndef HAK_LARGE_CACHE_BYTES
#define HAK_LARGE_CACHE_BYTES (64UL << 20)
#endif

/* The double-free checks of free() (the slab bitmap bit and the free
 * cookie). Always 1 in real builds; 0 exists to measure their cost
 * (docs/security.md). Foreign and interior pointers are rejected either
 * way. */
#ifndef HAK_HARDEN
#define HAK_HARDEN 1
#endif

/* Bare metal: how long hak_trim, hak_check and the out-of-memory reclaim
 * wait for other CPUs to answer a request on their caches (mm/remote.c),
 * in polls (each an arch_cpu_relax and a look at the answers). */
#ifndef HAK_REMOTE_WAIT_SPINS
#define HAK_REMOTE_WAIT_SPINS (1UL << 22)
#endif

/*
 * Bare metal: the malloc and free fast paths as restartable sections
 * (arch/<arch>/include/hakmem/restart.h) instead of IRQ-masked ones: no
 * IRQ-off window on a cache hit, and 6 (x86_64) or 3 (aarch64) fewer
 * instructions per call. The embedder's interrupt and exception entries
 * must then call hak_restart_pc() and the image must define
 * hak_irq_entry_calls_hak_restart_pc (include/hakmem.h; a library built
 * so does not link without it). Used where the arch has the sections and
 * not in debug builds; 0: IRQs are masked around each cache operation and
 * the entries need nothing.
 */
#ifndef HAK_RESTART
#define HAK_RESTART 1
#endif

/* Debug build (make DEBUG=1): red zones, poison, alloc/free records. */
#ifndef HAK_DEBUG
#define HAK_DEBUG 0
#endif

/* Record which hardware CPU (arch_cpu_hw_id) first used each CPU id, and
 * panic when another one uses it: catches CPUs whose id register was left
 * at another CPU's value. Checked on slow paths only (a CPU's first
 * operation is one; an aliased CPU misses within a magazine's worth of
 * operations). Default: on in debug builds. */
#ifndef HAK_CHECK_CPU_OWNER
#define HAK_CHECK_CPU_OWNER HAK_DEBUG
#endif

/* Export malloc/free/... under their standard names (mm/malloc_names.c). */
#ifndef HAK_EXPORT_MALLOC
#define HAK_EXPORT_MALLOC 0
#endif

#endif /* HAKMEM_CONFIG_H */
