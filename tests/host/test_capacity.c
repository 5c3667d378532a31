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
 *   - the capacity and cached bytes stay within the documented bound;
 *   - with a lazy provider (the hosted port's) the bounds are the
 *     HAK_CACHE_LAZY_* ones, past 16 bits of slots, a class holds a
 *     burst of 200,000 frees and serves them again without a miss, and
 *     all CPUs' growth together stays within the heap's budget, whose
 *     count follows every grow, trim and hak_cpu_offline.
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

/* n blocks of size in, then out, rounds times. Per thread: two workers
 * run it at once (heap_budget_holds). */
static void cycle(size_t size, unsigned n, unsigned rounds)
{
	static __thread void *p[4096];
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
	uint64_t saved = hak_heap.cpu_budget;
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
	hak_heap.cpu_budget = saved;
}

/* The hosted providers are lazy: the HAK_CACHE_LAZY_* bounds, each class
 * at grow bytes of objects within [initial, slots max] (computed here,
 * not by hak_cache_grow_max), and the 8-byte class past 16 bits. */
static void lazy_bounds(void)
{
	unsigned c, wide = 0;

	CHECK(hak_heap.cfg.provider.lazy, "the hosted provider is not lazy");
	CHECK(hak_heap.cpu_budget == HAK_CACHE_LAZY_CPU_BYTES &&
	      hak_heap.heap_grow_budget == HAK_CACHE_LAZY_HEAP_GROW_BYTES,
	      "budgets %llu / %llu",
	      (unsigned long long)hak_heap.cpu_budget,
	      (unsigned long long)hak_heap.heap_grow_budget);
	for (c = 0; c < HAK_NCLASSES; c++) {
		uint64_t want = HAK_CACHE_LAZY_GROW_BYTES / hak_class_size[c];

		if (want > HAK_CACHE_LAZY_SLOTS_MAX)
			want = HAK_CACHE_LAZY_SLOTS_MAX;
		want &= ~1ULL;
		if (want < hak_heap.shard[c].cap)
			want = hak_heap.shard[c].cap;
		CHECK(hak_heap.shard[c].cap_max == want,
		      "class %u (%u B): %u slots, want %llu", c,
		      hak_class_size[c], hak_heap.shard[c].cap_max,
		      (unsigned long long)want);
		wide += hak_heap.shard[c].cap_max > 0xffff;
	}
	CHECK(wide > 0, "no class reserves more than 65535 slots");
}

/* Sum over the CPUs of what their classes grew by, bytes. */
static uint64_t grown_sum(void)
{
	uint64_t g = 0;
	unsigned c;

	for (c = 0; c < hak_heap.ncpus; c++)
		g += hak_heap.pcpu[c]->cap_bytes - initial_bytes();
	return g;
}

/* The heap's count of growth is what the CPUs' classes grew by. */
static void check_grown(const char *when)
{
	CHECK(hak_heap.grown_bytes == grown_sum(), "%s: grown %llu, CPUs %llu",
	      when, (unsigned long long)hak_heap.grown_bytes,
	      (unsigned long long)grown_sum());
}

/* A trim puts every class back: no growth left counted. */
static void trim_all_back(const char *when)
{
	hak_trim();
	CHECK(hak_heap.grown_bytes == 0, "%s: grown %llu after trim", when,
	      (unsigned long long)hak_heap.grown_bytes);
}

/*
 * Idle after the burst: decay alone takes the n cached objects back and
 * the class back to its initial capacity, in about
 * 41 x (3 + (n - 2048) / 128 + 2048 / 16) steps, and at most a quarter
 * more (mm/decay.c: one class a step; two idle visits, then 8 chunks of
 * 16 a visit while the class holds more than HAK_CACHE_SLOTS_MAX = 2048
 * objects, 1 after that, and a visit that finds it empty and resets its
 * capacity). At 16 a visit it took 41 x n / 16: 512,500 steps for
 * 200,000.
 */
static void burst_decays(unsigned cls, unsigned n)
{
	unsigned long bound = (unsigned long)HAK_NCLASSES *
			      (3 + (n - HAK_CACHE_SLOTS_MAX) / 128 +
			       HAK_CACHE_SLOTS_MAX / 16),
		      limit = bound + bound / 4, t;

	for (t = 0; t < limit && cap_of(0, cls) != hak_heap.shard[cls].cap;
	     t++)
		hak_tick();
	printf("  burst of %u: back to capacity %u by decay in %lu ticks "
	       "(about %lu)\n", n, cap_of(0, cls), t, bound);
	CHECK(cap_of(0, cls) == hak_heap.shard[cls].cap,
	      "after %lu ticks capacity %u, %u cached", t, cap_of(0, cls),
	      hak_mag_count(&hak_heap.pcpu[0]->mag[cls]));
	CHECK(!hak_mag_count(&hak_heap.pcpu[0]->mag[cls]), "%u cached",
	      hak_mag_count(&hak_heap.pcpu[0]->mag[cls]));
	check_grown("burst decayed");
	CHECK(hak_check() == 0, "check");
}

/* 200,000 blocks of 16 bytes freed at once, then allocated again, three
 * times on one CPU (sh8bench's burst, smaller): the class grows to hold
 * them (3.2 MB of objects: past the 256 KiB a class of a non-lazy
 * provider), and the third round takes no more than a few misses (a
 * round trip through the slabs would be 2 x 200,000 / 64). */
static void burst_held(void)
{
	enum { N = 200000 };
	static void *p[N];
	unsigned cls = class_of(16), i, r, n = N;
	struct hak_stats a, b;

	/* A debug build's header and red zone put 16 bytes in a larger
	 * class, whose 8 MiB are fewer slots: three quarters of them. */
	if (n > hak_heap.shard[cls].cap_max / 4 * 3)
		n = hak_heap.shard[cls].cap_max / 4 * 3;
	CHECK((uint64_t)n * hak_class_size[cls] > HAK_CACHE_GROW_BYTES &&
	      n > HAK_CACHE_SLOTS_MAX, "a burst of %u: no test", n);
	pin(0);
	hak_trim();
	for (r = 0; r < 3; r++) {
		hak_stats(&a);
		for (i = 0; i < n; i++)
			CHECK(p[i] = hak_malloc(16), "malloc %u", i);
		for (i = 0; i < n; i++)
			hak_free(p[i]);
		hak_stats(&b);
	}
	printf("  burst of %u: capacity %u, last round %llu misses, grown %llu "
	       "bytes\n", n, cap_of(0, cls),
	       (unsigned long long)(b.cache_misses - a.cache_misses),
	       (unsigned long long)hak_heap.grown_bytes);
	CHECK(cap_of(0, cls) >= n, "capacity %u", cap_of(0, cls));
	CHECK(b.cache_misses - a.cache_misses <= 8, "%llu misses",
	      (unsigned long long)(b.cache_misses - a.cache_misses));
	check_grown("burst");
	CHECK(hak_check() == 0, "check");
	burst_decays(cls, n);
	trim_all_back("burst");
}

/* The heap's budget binds before either CPU's: the two CPUs together
 * grow by at most it, and the count matches what their classes grew. */
static void *heap_budget_worker(void *arg)
{
	unsigned c;

	pin((int)(intptr_t)arg);
	for (c = 0; c < 8; c++)
		cycle(16 + 16 * c, 2048, 4);
	return NULL;
}

static void heap_budget_holds(void)
{
	uint64_t limit = 65536, saved = hak_heap.heap_grow_budget;
	pthread_t t[2];
	intptr_t c;

	trim_all_back("before the heap budget");
	hak_heap.heap_grow_budget = limit;
	for (c = 0; c < 2; c++)
		pthread_create(&t[c], NULL, heap_budget_worker, (void *)c);
	for (c = 0; c < 2; c++)
		pthread_join(t[c], NULL);
	printf("  heap budget: CPUs grew by %llu and %llu bytes, budget "
	       "%llu\n",
	       (unsigned long long)(hak_heap.pcpu[0]->cap_bytes -
				    initial_bytes()),
	       (unsigned long long)(hak_heap.pcpu[1]->cap_bytes -
				    initial_bytes()),
	       (unsigned long long)limit);
	check_grown("heap budget");
	CHECK(grown_sum() > limit / 2 && grown_sum() <= limit,
	      "grew by %llu, budget %llu", (unsigned long long)grown_sum(),
	      (unsigned long long)limit);
	hak_heap.heap_grow_budget = saved;
	trim_all_back("heap budget");
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

/* hak_cpu_offline puts a grown CPU's classes back, through the same
 * reset as decay and trim: the heap's count follows. */
static void *grow_worker(void *arg)
{
	(void)arg;
	pin(1);
	cycle(64, 1600, 10);
	return NULL;
}

static void offline_resets(void)
{
	unsigned cls = class_of(64);
	pthread_t t;

	hak_trim();
	pthread_create(&t, NULL, grow_worker, NULL);
	pthread_join(t, NULL);
	CHECK(cap_of(1, cls) > hak_heap.shard[cls].cap, "CPU 1 did not grow");
	CHECK(hak_heap.grown_bytes > 0, "no growth counted");
	check_grown("before offline");
	hak_cpu_offline(1);
	printf("  offline: CPU 1 at %u (initial %u), heap grown %llu bytes\n",
	       cap_of(1, cls), hak_heap.shard[cls].cap,
	       (unsigned long long)hak_heap.grown_bytes);
	CHECK(cap_of(1, cls) == hak_heap.shard[cls].cap &&
	      hak_heap.pcpu[1]->cap_bytes == initial_bytes(),
	      "CPU 1 offline at capacity %u", cap_of(1, cls));
	check_grown("after offline");
	CHECK(hak_check() == 0, "check");
}

int main(void)
{
	init_hosted(2, &log);
	log.quiet = 1;
	CHECK(HAK_CACHE_CPU_BYTES >= initial_bytes() &&
	      hak_heap.cpu_budget >= initial_bytes(),
	      "budget %llu below the initial capacities %llu",
	      (unsigned long long)hak_heap.cpu_budget,
	      (unsigned long long)initial_bytes());
	printf("  initial capacity %llu bytes per CPU, budget %llu\n",
	       (unsigned long long)initial_bytes(),
	       (unsigned long long)hak_heap.cpu_budget);
	lazy_bounds();
	grows_to_fit();
	consumer_does_not_grow();
	budget_holds();
	shrink_back();
	burst_held();
	heap_budget_holds();
	offline_resets();
	printf("PASS capacity\n");
	return 0;
}
