// SPDX-License-Identifier: MIT
/*
 * test_rseq_unregistered - in rseq mode, a thread whose rseq area names no
 * CPU is served correctly, from the shared pool, and pops or pushes no
 * object on any CPU's cache, nor steps any CPU's idle decay:
 *  - cpu_id -1: the thread unregistered glibc's rseq area (as a program
 *    that registers its own rseq, or a checkpointing tool, does); the
 *    kernel writes -1 there and no longer updates it;
 *  - cpu_id -2: what glibc leaves when the registration of a thread
 *    failed (written here by the test into the unregistered area).
 * For each, that thread allocates, writes, reads back and frees blocks of
 * every tier from the default heap, an object cache and a created heap,
 * first alone (every CPU's magazine object and allocation counts must stay
 * as they were: no operation went through a cache) and then beside a
 * registered thread doing the same through the caches. At the end
 * hak_check finds nothing and the bytes in use are back where they were.
 * Alone, its misses move single objects: PAIRS malloc and free pairs of
 * 64 bytes take the class's shard lock at most 2 x PAIRS times (and a
 * little slack for idle decay). Until session 17 each malloc took a batch
 * of 64 from the shard and gave 63 back, as no cache would keep them:
 * 3 holds a pair, 320 ns against 10 through a cache.
 * Before the rseq sections sign-extended the id and the per-CPU tables
 * had their guards (mm/layout.h, hak_pcpu_guards_init), such a thread's
 * first malloc read table[4294967295] and faulted.
 * Needs glibc's rseq registration and a kernel with rseq: without them
 * the test fails, saying so.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "../../mm/internal.h"

#define KEEP 128
#define ROUNDS 20000
#define PAIRS 4000

static struct hak_cache *cache;
static struct hak_heap *vm;
static int stop; /* atomics: the registered thread's stop */

static struct rseq *rseq_area(void)
{
	return (struct rseq *)((char *)__builtin_thread_pointer() +
			       __rseq_offset);
}

/* A heap's area: its magazines' object and allocation counts. */
static uint64_t area_sum(const struct hak_pcpu *pc)
{
	uint64_t s = 0;
	unsigned c;

	if (pc == &hak_pcpu_none)
		return 0;
	for (c = 0; c < HAK_NCLASSES; c++)
		s += (uint64_t)hak_mag_count(&pc->mag[c]) * 31 +
		     __atomic_load_n(&pc->mag[c].allocs, __ATOMIC_RELAXED);
	return s;
}

/* Every CPU's magazines of the default heap, the created heap and the
 * object cache: object and allocation counts, summed so that any pop,
 * push or refill moves the sum. (A miss of the thread may set up the
 * created heap's or the cache's area of the CPU its id hashes to, empty:
 * that adds nothing.) */
static uint64_t caches_sum(void)
{
	uint64_t s = 0;
	unsigned cpu;

	for (cpu = 0; cpu < hak_heap.ncpus; cpu++) {
		const struct hak_pcpu_one *one =
			hak_area_load((void *const *)&((void **)cache->pcpu)[cpu]);

		s += area_sum(hak_heap.pcpu[cpu]);
		/* Idle decay's place on the CPU: a miss of a thread with no
		 * CPU steps no CPU's decay (until session 17 it aged the
		 * classes of the CPU its id hashes to at each miss). */
		s += (uint64_t)__atomic_load_n(&hak_heap.pcpu[cpu]->decay_next,
					       __ATOMIC_RELAXED)
		     << 40;
		s += area_sum(hak_area_load((void *const *)&vm->pcpu[cpu]));
		if ((const void *)one != (const void *)&hak_pcpu_none)
			s += (uint64_t)hak_mag_count(&one->mag) * 31 +
			     __atomic_load_n(&one->mag.allocs,
					     __ATOMIC_RELAXED);
	}
	return s;
}

/* glibc registers its area with a length of at least 32 (the kernel's
 * original struct rseq), which __rseq_size, the part in use, may be
 * below; the kernel wants the length it was given. */
static long rseq_unregister(struct rseq *a)
{
	unsigned len = __rseq_size < 32 ? 32 : __rseq_size;

	if (!syscall(SYS_rseq, a, len, RSEQ_FLAG_UNREGISTER, RSEQ_SIG))
		return 0;
	return syscall(SYS_rseq, a, __rseq_size, RSEQ_FLAG_UNREGISTER,
		       RSEQ_SIG);
}

struct block {
	unsigned char *p;
	size_t n;
	int kind; /* 0: malloc, 1: the object cache, 2: the created heap */
};

static const size_t sizes[] = { 1, 8, 24, 64, 100, 500, 1000, 3000,
				8000, 20000, 32768, 40000, 300000 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static void block_free(struct block *b, const char *who)
{
	size_t i;

	if (!b->p)
		return;
	for (i = 0; i < b->n; i += 997)
		CHECK(b->p[i] == (unsigned char)((uintptr_t)b->p + i),
		      "%s: byte %zu of a %zu-byte block changed", who, i,
		      b->n);
	if (b->kind == 1)
		hak_cache_free(cache, b->p);
	else
		hak_free(b->p);
	b->p = NULL;
}

static void block_new(struct block *b, uint64_t *rng, const char *who)
{
	size_t i;

	b->kind = (int)rng_range(rng, 0, 2);
	if (b->kind == 1) {
		b->n = 48;
		b->p = hak_cache_alloc(cache);
	} else {
		b->n = sizes[rng_range(rng, 0, NSIZES - 1)];
		b->p = b->kind ? hak_heap_malloc(vm, b->n) : hak_malloc(b->n);
	}
	CHECK(b->p, "%s: a %zu-byte block (kind %d)", who, b->n, b->kind);
	for (i = 0; i < b->n; i += 997)
		b->p[i] = (unsigned char)((uintptr_t)b->p + i);
}

/* ROUNDS replacements among KEEP blocks, then everything freed. */
static void churn(uint64_t seed, const char *who)
{
	struct block keep[KEEP] = { 0 };
	uint64_t rng = seed;
	unsigned r, i;

	for (r = 0; r < ROUNDS; r++) {
		i = (unsigned)rng_range(&rng, 0, KEEP - 1);
		block_free(&keep[i], who);
		block_new(&keep[i], &rng, who);
	}
	for (i = 0; i < KEEP; i++)
		block_free(&keep[i], who);
}

static void *registered(void *arg)
{
	uint64_t seed = 7;

	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED))
		churn(seed++, "registered thread");
	return NULL;
}

struct run {
	int32_t cpu_id; /* what the area says after unregistering */
	int alone;
};

static void *unregistered(void *arg)
{
	struct run *run = arg;
	struct rseq *a = rseq_area();
	uint64_t before = 0;
	char who[64];

	snprintf(who, sizeof(who), "cpu_id %d, %s", (int)run->cpu_id,
		 run->alone ? "alone" : "beside a registered thread");
	CHECK(rseq_unregister(a) == 0,
	      "%s: unregistering glibc's rseq area: %s", who,
	      strerror(errno));
	CHECK((int32_t)__atomic_load_n(&a->cpu_id, __ATOMIC_RELAXED) ==
		      RSEQ_CPU_ID_UNINITIALIZED,
	      "%s: the kernel left cpu_id %d", who, (int)a->cpu_id);
	__atomic_store_n(&a->cpu_id, (uint32_t)run->cpu_id, __ATOMIC_RELAXED);
	if (run->alone) {
		void *probe = hak_malloc(64);
		unsigned c, i;
		hak_spinlock_t *l;
		uint64_t h0, h;

		/* The class malloc(64) takes (larger in a debug build,
		 * whose header comes first). */
		CHECK(probe, "%s: malloc(64)", who);
		c = hak_slab_of_object((uintptr_t)probe)->cls;
		hak_free(probe);
		l = &hak_heap.shard[c].lock;
		h0 = __atomic_load_n(&l->holds, __ATOMIC_RELAXED);
		for (i = 0; i < PAIRS; i++) {
			void *p = hak_malloc(64);

			CHECK(p, "%s: malloc(64)", who);
			*(volatile char *)p = 1;
			hak_free(p);
		}
		h = __atomic_load_n(&l->holds, __ATOMIC_RELAXED) - h0;
		CHECK(h <= 2 * PAIRS + PAIRS / 8,
		      "%s: %llu holds of the shard lock for %u pairs: batches "
		      "went back and forth",
		      who, (unsigned long long)h, PAIRS);
		before = caches_sum();
	}
	churn(1000 + (uint64_t)run->cpu_id, who);
	if (run->alone)
		CHECK(caches_sum() == before,
		      "%s: a per-CPU cache or a CPU's decay moved: the thread "
		      "went through one",
		      who);
	return NULL;
}

static void one_run(int32_t cpu_id, int alone)
{
	struct run run = { cpu_id, alone };
	pthread_t t, r;

	if (!alone) {
		__atomic_store_n(&stop, 0, __ATOMIC_RELAXED);
		CHECK(!pthread_create(&r, NULL, registered, NULL), "thread");
	}
	CHECK(!pthread_create(&t, NULL, unregistered, &run), "thread");
	CHECK(!pthread_join(t, NULL), "join");
	if (!alone) {
		__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
		CHECK(!pthread_join(r, NULL), "join");
	}
}

int main(void)
{
	struct hak_heap_config cfg = { 0 };
	struct hak_stats st0, st1;
	const int32_t ids[] = { RSEQ_CPU_ID_UNINITIALIZED,
				RSEQ_CPU_ID_REGISTRATION_FAILED };
	unsigned k;

	CHECK(__rseq_size > 0 && (int32_t)rseq_area()->cpu_id >= 0,
	      "glibc did not register rseq (kernel, tunable or libc): this "
	      "test needs it");
	hak_free(hak_malloc(1)); /* the lazy init */
	CHECK(!strcmp(hak_port_fast_path_name(), "rseq"),
	      "the library runs %s, not rseq", hak_port_fast_path_name());
	cache = hak_cache_create(NULL, "unreg", 48, 0, 0, NULL, NULL);
	CHECK(cache, "cache");
	cfg.name = "unreg-vm";
	cfg.provider = hak_hosted_mmap_provider();
	vm = hak_heap_create(&cfg);
	CHECK(vm, "heap");
	hak_stats(&st0);
	for (k = 0; k < 2; k++) {
		one_run(ids[k], 1);
		one_run(ids[k], 0);
	}
	CHECK(hak_check() == 0, "hak_check found a violation");
	CHECK(hak_heap_check(vm) == 0, "hak_heap_check found a violation");
	hak_stats(&st1);
	CHECK(st1.bytes_in_use == st0.bytes_in_use,
	      "bytes in use %llu, %llu before",
	      (unsigned long long)st1.bytes_in_use,
	      (unsigned long long)st0.bytes_in_use);
	CHECK(st1.events[HAK_EV_CORRUPTION] == 0 &&
		      st1.events[HAK_EV_INVALID_FREE] == 0 &&
		      st1.events[HAK_EV_DOUBLE_FREE] == 0,
	      "events reported");
	CHECK(hak_heap_destroy(vm, 0) == 0, "the created heap has leaks");
	CHECK(hak_cache_destroy(cache) == 0, "the cache has leaks");
	printf("PASS test_rseq_unregistered\n");
	return 0;
}
