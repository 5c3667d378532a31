// SPDX-License-Identifier: MIT
/*
 * init.c - the heap object and hak_init().
 *
 * The default heap is the image's system allocator: what hak_malloc and
 * the standard names use. hak_init copies the embedder's hooks, derives
 * the class constants, draws the cookie secret and allocates the default
 * heap's per-CPU areas; everything else is allocated on demand. More
 * heaps come from hak_heap_create (heap.c).
 */
#include "internal.h"

struct hak_heap hak_heap __attribute__((aligned(HAK_HEAP_ALIGN)));

static int config_valid(const struct hak_config *cfg)
{
	return cfg && cfg->provider.alloc && cfg->provider.release &&
	       cfg->ncpus >= 1 && cfg->ncpus <= HAK_MAX_CPUS;
}

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

/* One init per heap: the flag is claimed before anything is written, so
 * a second or concurrent call changes nothing. */
static int init_claimed;

/* 1 if the claim was free and is ours now. */
static int claim_try(void)
{
	int expect = 0;

	return __atomic_compare_exchange_n(&init_claimed, &expect, 1, 0,
					   __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

int hak_init_claim(const void *ptr, size_t size, const char *already)
{
	if (claim_try())
		return 0;
	/* Through the heap's hook once it is ready; while another init
	 * runs, that hook may be half copied: the port's sink then. */
	if (__atomic_load_n(&hak_heap.ready, __ATOMIC_ACQUIRE))
		hak_report(HAK_EV_MISUSE, ptr, size, already);
	else
		hak_report_to_port(HAK_EV_MISUSE, ptr, size, already);
	return -1;
}

void hak_init_unclaim(void)
{
	__atomic_store_n(&init_claimed, 0, __ATOMIC_RELEASE);
}

/* The default heap's per-CPU cache bounds: how far each class may grow
 * (percpu_cache.c; only the default heap's classes grow), the budgets,
 * and so the size of each CPU's area. */
static void cache_bounds(int lazy)
{
	unsigned c;

	for (c = 0; c < HAK_NCLASSES; c++)
		hak_heap.shard[c].cap_max = hak_cache_grow_max(c, lazy);
	hak_heap.cpu_budget = lazy ? HAK_CACHE_LAZY_CPU_BYTES
				   : HAK_CACHE_CPU_BYTES;
	hak_heap.heap_grow_budget = lazy ? HAK_CACHE_LAZY_HEAP_GROW_BYTES
					 : HAK_CACHE_HEAP_GROW_BYTES;
	hak_heap.pcpu_bytes = hak_pcpu_area_bytes(&hak_heap);
}

/* The init proper, claim held (given back when it fails). */
static int init_body(const struct hak_config *cfg)
{
	int lazy = cfg->provider.lazy != 0;
	unsigned c;
	int bad;

#if HAK_PORT_HAS_RESTART
	/* The reference makes an image without the declaration fail to
	 * link; a declaration of 0 is refused here. */
	if (!__atomic_load_n(&hak_irq_entry_calls_hak_restart_pc,
			     __ATOMIC_RELAXED)) {
		hak_report(HAK_EV_MISUSE, NULL, 0,
			   "hak_init: hak_irq_entry_calls_hak_restart_pc is 0: "
			   "this build needs hak_restart_pc in the interrupt "
			   "entries");
		hak_init_unclaim();
		return -1;
	}
#endif
	hak_memcpy(&hak_heap.cfg, cfg, sizeof(*cfg));
#if HAK_PCPU_REG
	/* The one CPU whose setup hakmem sees before its first call. */
	if (arch_pcpu_reg_get()) { /* reported through cfg's hook */
		hak_report(HAK_EV_MISUSE, NULL, 0,
			   "hak_init: the per-CPU pointer register is not 0: "
			   "zero it on each CPU before its first call "
			   "(docs/embedding.md)");
		hak_init_unclaim();
		return -1;
	}
#endif
	hak_sizeclass_init();
	for (c = 0; c < HAK_NCLASSES; c++)
		hak_shard_init(&hak_heap.shard[c], &hak_heap, c,
			       &hak_classes[c], hak_classes[c].cache_cap);
	cache_bounds(lazy);
	hak_memcpy(hak_heap.name, "default", 8);
	hak_heap.cache_budget = HAK_CACHE_BYTES;
	hak_heap.secret = mix64((cfg->entropy ? cfg->entropy() : 0) ^
				hak_port_entropy() ^ (uintptr_t)&hak_heap);
	if (!hak_heap.secret)
		hak_heap.secret = 0x5bd1e9955bd1e995ULL;
	/* A lazy provider that cannot reserve the large areas (a limit on
	 * address space: ulimit -v, an arena refused) still gets the small
	 * ones, as a provider without the flag would. */
	bad = hak_pcpu_alloc_areas(&hak_heap, cfg->ncpus);
	if (bad && lazy) {
		cache_bounds(0);
		bad = hak_pcpu_alloc_areas(&hak_heap, cfg->ncpus);
	}
	if (bad) {
		/* Nothing is live yet: a later call may try again. */
		hak_memset(&hak_heap.cfg, 0, sizeof(hak_heap.cfg));
		hak_init_unclaim();
		return -1;
	}
	hak_slabmap_init(&cfg->provider);
	hak_port_set_ncpus(cfg->ncpus);
	/* Last: a CPU id is valid (pcpu_ops.h) only once its area exists. */
	hak_heap.magic = HAK_HEAP_MAGIC;
	__atomic_store_n(&hak_heap.ncpus, cfg->ncpus, __ATOMIC_RELEASE);
	__atomic_store_n(&hak_heap.ready, 1, __ATOMIC_RELEASE);
	return 0;
}

/* An invalid config is refused before the claim, so it never holds the
 * claim against a valid call. */
int hak_init(const struct hak_config *cfg)
{
	if (!config_valid(cfg))
		return -1;
	if (hak_init_claim(NULL, 0, "hak_init: hakmem is already initialised"))
		return -1;
	return init_body(cfg);
}

/* How long a lazy init waits for another: 2^16 waits (hosted: yields,
 * each of which lets a runnable init thread run); an init takes
 * O(ncpus) provider calls. (2^20 yields took over a minute under make
 * test's load.) */
#define HAK_INIT_WAIT_SPINS (1UL << 16)

/*
 * A port's lazy init (the hosted port's first call): as hak_init, but
 * an explicit hak_init running at the same moment is no misuse. Losing
 * the claim to it, wait until it is ready; if it fails (it gives the
 * claim back), take the claim and init. Bounded by the other init: it
 * either gets ready or gives the claim back, unless a hook of it calls
 * hakmem on its own thread (it then waits for itself): after
 * HAK_INIT_WAIT_SPINS that is reported and -1. Before session 16 the lazy
 * init called hak_init, whose lost claim was reported as a second init
 * (which the hosted default sink aborts on) and the caller got NULL.
 */
int hak_init_lazy(const struct hak_config *cfg)
{
	unsigned long spins;

	if (!config_valid(cfg))
		return -1;
	for (spins = 1; spins <= HAK_INIT_WAIT_SPINS; spins++) {
		if (__atomic_load_n(&hak_heap.ready, __ATOMIC_ACQUIRE))
			return 0;
		if (claim_try())
			return init_body(cfg);
		hak_port_spin_wait((unsigned)spins);
	}
	/* The other init never ended: a hook of it (entropy, say) called
	 * hakmem on its own thread, which now waits for itself. */
	hak_report_to_port(HAK_EV_MISUSE, NULL, 0,
			   "hakmem: an init did not finish (a hook of "
			   "hak_init called hakmem?)");
	return -1;
}

/*
 * In a child of fork(), whose only thread is the forking one: an init
 * another thread of the parent was running will not finish here, so its
 * claim is given back and the child's first call inits afresh (what the
 * unfinished init took from the provider stays taken). A port's fork
 * handler calls it; nothing is live before an init is ready.
 */
void hak_init_fork_child(void)
{
	if (!__atomic_load_n(&hak_heap.ready, __ATOMIC_ACQUIRE))
		hak_init_unclaim();
}

int hak_init_claimed(const struct hak_config *cfg)
{
	if (!config_valid(cfg)) {
		hak_init_unclaim();
		return -1;
	}
	return init_body(cfg);
}
