// SPDX-License-Identifier: MIT
/*
 * test_capacity - the default heap's per-CPU capacity moves to the
 * classes that miss (mm/percpu_cache.c, dynamic capacity):
 *   - a class that allocates and frees more blocks than its initial
 *     capacity grows, up to its reserved slots, and then serves the
 *     whole working set from the cache (no more misses);
 *   - a CPU that only frees what another CPU allocated never grows;
 *   - growth stops at the CPU's byte budget;
 *   - an idle class goes back to its initial capacity by decay alone,
 *     and hak_trim puts every class back;
 *   - the capacity and cached bytes stay within the documented bound.
 * Threads are pinned, so each plays one CPU.
 */
#define _GNU_SOURCE
#include "pin.h"
#include "../../mm/internal.h"

static struct report_log log;

/* The capacity of class cls on cpu, in objects. */
static unsigned cap_of(unsigned cpu, unsigned cls)
{
	const struct hak_mag *m = &hak_heap.pcpu[cpu]->mag[cls];

	return (unsigned)(__atomic_load_n(&m->limit, __ATOMIC_RELAXED) -
			  m->base);
}

/* The class blocks of size come from (debug builds add a header and a
 * red zone, so it is not always hak_size_to_class(size)'s). */
static unsigned class_of(size_t size)
{
	void *p = hak_malloc(size);
	unsigned cls = hak_slab_lookup((uintptr_t)p)->cls;

	hak_free(p);
	return cls;
}

static uint64_t initial_bytes(void)
{
	uint64_t b = 0;
	unsigned c;

	for (c = 0; c < HAK_NCLASSES; c++)
		b += (uint64_t)hak_heap.shard[c].cap * hak_class_size[c];
	return b;
}

/* n blocks of size in, then out, rounds times. */
static void cycle(size_t size, unsigned n, unsigned rounds)
{
	static void *p[4096];
	unsigned i, r;

	for (r = 0; r < rounds; r++) {
		for (i = 0; i < n; i++) {
			p[i] = hak_malloc(size);
			CHECK(p[i], "malloc");
		}
		for (i = 0; i < n; i++)
			hak_free(p[i]);
	}
}

/* 1600 blocks of 64 bytes, glibc-simple's largest count: the class
 * grows past its initial 128 and the cycles then all hit. */
static void grows_to_fit(void)
{
	unsigned cls = class_of(64), c0 = hak_heap.shard[cls].cap;
	struct hak_stats a, b;

	pin(0);
	cycle(64, 1600, 40);
	printf("  64 B: capacity %u -> %u (max %u)\n", c0, cap_of(0, cls),
	       hak_heap.shard[cls].cap_max);
	CHECK(cap_of(0, cls) >= 1600 && cap_of(0, cls) <=
	      hak_heap.shard[cls].cap_max, "capacity %u", cap_of(0, cls));
	hak_stats(&a);
	CHECK(a.cache_grows > 0, "no grow counted");
	cycle(64, 1600, 20);
	hak_stats(&b);
	CHECK(b.cache_misses == a.cache_misses,
	      "%llu misses after the class grew to fit",
	      (unsigned long long)(b.cache_misses - a.cache_misses));
	CHECK(hak_check() == 0, "check");
}

/* Producer on CPU 0, consumer on CPU 1: the consumer's class stays. */
static void *consumer(void *arg)
{
	void **q = arg;
	unsigned i;

	pin(1);
	for (i = 0; i < 4096; i++)
		hak_free(q[i]);
	return NULL;
}

static void consumer_does_not_grow(void)
{
	static void *q[4096];
	unsigned cls = class_of(1000), r, i;
	pthread_t t;

	pin(0);
	for (r = 0; r < 20; r++) {
		for (i = 0; i < 4096; i++)
			q[i] = hak_malloc(1000);
		pthread_create(&t, NULL, consumer, q);
		pthread_join(t, NULL);
	}
	printf("  consumer: capacity %u (initial %u)\n", cap_of(1, cls),
	       hak_heap.shard[cls].cap);
	CHECK(cap_of(1, cls) == hak_heap.shard[cls].cap,
	      "the consumer's class grew to %u", cap_of(1, cls));
}

/* A budget just above the initial capacities: growth stops there. */
static void *budget_worker(void *arg)
{
	unsigned c;

	(void)arg;
	pin(1);
	for (c = 0; c < 8; c++)
		cycle(16 + 16 * c, 2048, 4);
	return NULL;
}

static void budget_holds(void)
{
	uint64_t init = initial_bytes(), limit = init + 16384;
	pthread_t t;

	hak_trim();
	hak_heap.cpu_budget = limit;
	pthread_create(&t, NULL, budget_worker, NULL);
	pthread_join(t, NULL);
	printf("  budget: CPU 1 holds %llu bytes of capacity, budget %llu\n",
	       (unsigned long long)hak_heap.pcpu[1]->cap_bytes,
	       (unsigned long long)limit);
	CHECK(hak_heap.pcpu[1]->cap_bytes > init &&
	      hak_heap.pcpu[1]->cap_bytes <= limit,
	      "capacity %llu bytes, budget %llu",
	      (unsigned long long)hak_heap.pcpu[1]->cap_bytes,
	      (unsigned long long)limit);
	hak_heap.cpu_budget = HAK_CACHE_CPU_BYTES;
}

/* Idle: decay alone puts the grown class back; trim puts all back. */
static void *ticker(void *arg)
{
	unsigned i;

	(void)arg;
	pin(0);
	for (i = 0; i < 200000; i++)
		hak_tick();
	return NULL;
}

static void shrink_back(void)
{
	unsigned cls = class_of(64), c;
	struct hak_stats st;
	pthread_t t;

	pin(0);
	cycle(64, 1600, 10);
	CHECK(cap_of(0, cls) > hak_heap.shard[cls].cap, "did not grow");
	pthread_create(&t, NULL, ticker, NULL);
	pthread_join(t, NULL);
	printf("  idle: capacity %u (initial %u)\n", cap_of(0, cls),
	       hak_heap.shard[cls].cap);
	CHECK(cap_of(0, cls) == hak_heap.shard[cls].cap,
	      "decay left capacity %u", cap_of(0, cls));
	CHECK(hak_heap.pcpu[0]->cap_bytes == initial_bytes(),
	      "CPU 0's budget use %llu, initial %llu",
	      (unsigned long long)hak_heap.pcpu[0]->cap_bytes,
	      (unsigned long long)initial_bytes());
	cycle(64, 1600, 10);
	hak_trim();
	hak_stats(&st);
	for (c = 0; c < 2; c++)
		CHECK(hak_heap.pcpu[c]->cap_bytes == initial_bytes(),
		      "after trim, CPU %u's capacity %llu bytes", c,
		      (unsigned long long)hak_heap.pcpu[c]->cap_bytes);
	CHECK(st.cache_shrinks > 0, "no shrink counted");
	CHECK(st.cache_capacity == 2 * initial_bytes(),
	      "stats: capacity %llu", (unsigned long long)st.cache_capacity);
	CHECK(hak_check() == 0, "check");
}

int main(void)
{
	init_hosted(2, &log);
	log.quiet = 1;
	CHECK(HAK_CACHE_CPU_BYTES >= initial_bytes(),
	      "budget %lu below the initial capacities %llu",
	      (unsigned long)HAK_CACHE_CPU_BYTES,
	      (unsigned long long)initial_bytes());
	printf("  initial capacity %llu bytes per CPU, budget %lu\n",
	       (unsigned long long)initial_bytes(),
	       (unsigned long)HAK_CACHE_CPU_BYTES);
	grows_to_fit();
	consumer_does_not_grow();
	budget_holds();
	shrink_back();
	printf("PASS capacity\n");
	return 0;
}
