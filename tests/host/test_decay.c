// SPDX-License-Identifier: MIT
/*
 * test_decay - an idle heap gives its memory back without hak_trim
 * (mm/decay.c): two threads, each pinned to its own CPU, fill their
 * per-CPU caches across every size class, with some large blocks, and
 * free everything; then each calls hak_tick() as a timer would. The
 * cached objects, the superslabs beyond the hysteresis and the cached
 * large runs must all go back, to the documented slack, with no trim; a
 * class still in use keeps its cache while the idle ones drain; and the
 * allocation misses of a busy class drain the idle classes too; a live
 * set that swings by megabytes keeps its superslabs until decay.
 */
#define _GNU_SOURCE
#include "pin.h"
#include "../../mm/internal.h" /* hak_heap.ss_keep_off (white box) */

#define N 20000
static struct report_log log;

/* Every class, and a few large blocks, allocated then all freed: the
 * caches are left full. */
static void churn(uint64_t seed)
{
	static __thread void *p[N];
	unsigned i;

	for (i = 0; i < N; i++)
		p[i] = hak_malloc(rng_range(&seed, 1, i % 500 ? 32768 : 300000));
	for (i = 0; i < N; i++)
		hak_free(p[i]);
}

static void *worker(void *arg)
{
	unsigned cpu = (unsigned)(uintptr_t)arg, i;

	pin(cpu);
	churn(cpu + 1);
	/* A timer's ticks, as an idle CPU would see them. */
	for (i = 0; i < 200000; i++)
		hak_tick();
	return NULL;
}

static struct hak_stats snap(const char *what)
{
	struct hak_stats st;

	hak_stats(&st);
	printf("  %s: cached %llu objects, %llu superslabs, large cached "
	       "%llu KiB, provider holds %llu KiB (meta %llu KiB)\n",
	       what, (unsigned long long)st.cached_objects,
	       (unsigned long long)st.superslabs,
	       (unsigned long long)(st.large_cached >> 10),
	       (unsigned long long)(st.provider_held >> 10),
	       (unsigned long long)(st.meta_bytes >> 10));
	return st;
}

static void idle_returns(void)
{
	pthread_t t[2];
	struct hak_stats st;
	unsigned i;

	for (i = 0; i < 2; i++) {
		pin(i);
		churn(i + 10);
	}
	st = snap("after the frees");
	CHECK(st.cached_objects > 1000 && st.bytes_in_use == 0,
	      "the caches should hold the freed objects");
	for (i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	st = snap("after the ticks, no trim");
	/* docs/guarantees.md's idle slack: no cached object, no cached
	 * large run, no kept empty slab (an idle class gives its back),
	 * at most the one kept empty superslab. */
	CHECK(st.bytes_in_use == 0 && st.cached_objects == 0,
	      "%llu objects still cached",
	      (unsigned long long)st.cached_objects);
	CHECK(st.large_cached == 0, "large runs still cached");
	CHECK(st.superslabs <= HAK_EMPTY_SUPERSLABS_KEPT,
	      "%llu superslabs", (unsigned long long)st.superslabs);
	CHECK(st.provider_held <=
		      st.meta_bytes + (uint64_t)st.superslabs * (1 << 20),
	      "held %llu", (unsigned long long)st.provider_held);
	CHECK(hak_check() == 0, "check");
}

/* A class in use keeps its cache; the idle ones drain. */
static void busy_class_kept(void)
{
	struct hak_stats st0, st;
	void *keep[64], *p;
	unsigned i, k;

	pin(0);
	for (i = 0; i < 64; i++)
		keep[i] = hak_malloc(200);
	for (i = 0; i < 64; i++)
		hak_free(keep[i]);
	for (i = 0; i < 64; i++)
		keep[i] = hak_malloc(3000);
	for (i = 0; i < 64; i++)
		hak_free(keep[i]);
	hak_stats(&st0);
	/* 200-byte blocks stay busy; 3000-byte ones are idle. */
	for (k = 0; k < 100000; k++) {
		p = hak_malloc(200);
		hak_free(p);
		hak_tick();
	}
	hak_stats(&st);
	CHECK(st.cached_objects > 0 && st.cached_objects < st0.cached_objects,
	      "cached %llu -> %llu: the busy class keeps some, the idle one "
	      "drains", (unsigned long long)st0.cached_objects,
	      (unsigned long long)st.cached_objects);
	p = hak_malloc(200);
	hak_free(p);
	CHECK(hak_check() == 0, "check");
}

/* Objects of class cls in the default heap's per-CPU and transfer
 * caches (white box: racy reads, exact here with one thread). */
static unsigned long class_cached(unsigned cls)
{
	unsigned long n = hak_transfer_count(&hak_heap, cls);
	unsigned cpu;

	for (cpu = 0; cpu < hak_heap.ncpus; cpu++)
		n += hak_mag_count(&hak_heap.pcpu[cpu]->mag[cls]);
	return n;
}

/* Without ticks: the misses of a busy class drain idle classes. */
static void misses_drain(void)
{
	struct hak_stats st0, st;
	static void *p[4096];
	unsigned long idle0, idle;
	unsigned i, r, cls;

	pin(1);
	for (i = 0; i < 512; i++)
		p[i] = hak_malloc(64);
	/* Its class (in the debug build a 64-byte block has a header). */
	cls = hak_slab_of_object((uintptr_t)p[0])->cls;
	for (i = 0; i < 512; i++)
		hak_free(p[i]);
	hak_stats(&st0);
	idle0 = class_cached(cls);
	/* 4096 blocks of another class in and out: refill misses. */
	for (r = 0; r < 200; r++) {
		for (i = 0; i < 4096; i++)
			p[i] = hak_malloc(5000);
		for (i = 0; i < 4096; i++)
			hak_free(p[i]);
	}
	hak_stats(&st);
	idle = class_cached(cls);
	printf("  misses: cached %llu -> %llu objects, %lu -> %lu of the "
	       "64-byte blocks' class\n",
	       (unsigned long long)st0.cached_objects,
	       (unsigned long long)st.cached_objects, idle0, idle);
	/* Without decay the 64-byte objects would all still be cached. (The
	 * busy class's own, in its magazine and its transfer cache, may
	 * outnumber them: its transfer cache holds up to
	 * HAK_TRANSFER_BATCHES batches.) */
	CHECK(idle0 >= 256 && idle < idle0 / 2,
	      "the 64-byte class's cache did not drain (%lu -> %lu)", idle0,
	      idle);
	CHECK(hak_check() == 0, "check");
}

/*
 * A live set that swings by megabytes (xmalloc-test's producer and
 * consumer) must not give superslabs back and take them again on every
 * swing: the default heap keeps empty ones up to its peak, and idle decay
 * gives them back. The control run, with the created heaps' rule (keep
 * one), must retake them, or the first half proves nothing.
 */
#define SWING_N 1536 /* 6 MiB of 4 KiB blocks: several superslabs */
static uint64_t swing(unsigned rounds)
{
	static void *p[SWING_N];
	struct hak_stats st0, st;
	unsigned r, i;

	for (r = 0; r < rounds; r++) {
		if (r == 1)
			hak_stats(&st0);
		for (i = 0; i < SWING_N; i++) {
			p[i] = hak_malloc(4096);
			CHECK(p[i], "malloc");
		}
		for (i = 0; i < SWING_N; i++)
			hak_free(p[i]);
	}
	hak_stats(&st);
	return st.provider_taken - st0.provider_taken;
}

static void swings_keep_superslabs(void)
{
	struct hak_stats st;
	uint64_t kept, control;
	unsigned i;

	pin(0);
	hak_trim();
	kept = swing(5);
	hak_stats(&st);
	printf("  swings: %llu superslabs held, %llu KiB taken after the "
	       "first swing\n", (unsigned long long)st.superslabs,
	       (unsigned long long)(kept >> 10));
	CHECK(kept == 0, "%llu KiB taken again by later swings",
	      (unsigned long long)(kept >> 10));
	CHECK(st.superslabs > 2, "only %llu superslabs held",
	      (unsigned long long)st.superslabs);
	for (i = 0; i < 200000; i++)
		hak_tick();
	hak_stats(&st);
	CHECK(st.superslabs <= HAK_EMPTY_SUPERSLABS_KEPT,
	      "idle decay left %llu superslabs",
	      (unsigned long long)st.superslabs);
	hak_heap.ss_keep_off = 1;
	hak_trim();
	control = swing(5);
	hak_heap.ss_keep_off = 0;
	printf("  swings, keeping one: %llu KiB taken again\n",
	       (unsigned long long)(control >> 10));
	CHECK(control > 0, "the control run kept its superslabs");
	hak_trim();
	CHECK(hak_check() == 0, "check");
}

/*
 * An unused transfer cache gives back one batch at each visit of idle
 * decay: one heap-wide pass a round of HAK_NCLASSES steps, one class's
 * transfer cache a pass, so k batches take about k x HAK_NCLASSES^2
 * steps. Until session 17 a visit saw the batch it had taken itself as
 * use, and only every second visit gave one back (2k x ...; found by
 * review).
 */
static void transfer_decay_rate(void)
{
	const unsigned per_visit = HAK_NCLASSES * HAK_NCLASSES;
	static void *p[8192];
	unsigned c, i, k;
	unsigned long t, limit;

	pin(0);
	/* Every class at its initial capacity, and kept there: the frees
	 * overflow into the transfer cache (a lazy provider's magazine
	 * would grow to hold them all). */
	hak_trim();
	hak_heap.grow_off = 1;
	for (i = 0; i < 8192; i++)
		CHECK(p[i] = hak_malloc(64), "malloc");
	/* The class malloc(64) took (a debug build's header makes it
	 * larger than 64). */
	c = hak_slab_of_object((uintptr_t)p[0])->cls;
	for (i = 0; i < 8192; i++)
		hak_free(p[i]);
	k = (unsigned)(hak_transfer_count(&hak_heap, c) /
		       hak_heap.shard[c].batch);
	CHECK(k >= 4, "only %u batches in the transfer cache: no test", k);
	limit = (unsigned long)(2 * k + 2) * per_visit;
	for (t = 0; hak_transfer_count(&hak_heap, c) && t < limit; t++)
		hak_tick();
	printf("  transfer decay: %u batches in %lu ticks (%.2f visits a "
	       "batch)\n", k, t, (double)t / per_visit / k);
	CHECK(t <= (unsigned long)(k + 2) * per_visit,
	      "%u batches took %lu ticks, over %u visits", k, t, k + 2);
	hak_heap.grow_off = 0;
}

int main(void)
{
	init_hosted(2, &log);
	log.quiet = 1;
	idle_returns();
	busy_class_kept();
	misses_drain();
	swings_keep_superslabs();
	transfer_decay_rate();
	printf("PASS decay\n");
	return 0;
}
