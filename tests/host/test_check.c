// SPDX-License-Identifier: MIT
/*
 * test_check - hak_check() in bounded lock holds (mm/maintenance.c and
 * the walks it calls), white box:
 *  - a heap of many superslabs, every tier and an object cache in use,
 *    checks clean with nothing skipped (hak_stats' check_skipped): the
 *    walks resume across their holds when nothing else runs;
 *  - each deliberate corruption is found and reported as corruption: a
 *    slab's free count, a shard's outstanding count, a broken list link
 *    of a partial slab, a superslab count, an avail-list flag, the large
 *    run cache's bytes, the live large runs' bytes, an object cache
 *    slab's free count; undone, the heap checks clean again;
 *  - while two threads allocate and free, hak_check never reports a
 *    violation (a walk that saw a change starts over or skips, it does
 *    not compare stale counts), and every call returns.
 */
#include <pthread.h>
#include <sched.h>

#include "check.h"
#include "../../mm/internal.h"

#define M(n) HAK_RAW(hak_malloc)(n)
#define F(p) HAK_RAW(hak_free)(p)

static struct report_log log;

/* What the next gaps of a bounded walk see happen (hak_test_walk_gap):
 * another CPU taking the 64 B shard's lock, or changing the superslabs
 * under the heap lock; gaps_left of them, then nothing. */
enum { GAP_NONE, GAP_SHARD, GAP_HEAP };
static int gap_what;
static unsigned gaps_left;

void hak_test_walk_gap(void)
{
	struct hak_heap *h = &hak_heap;
	unsigned long f;

	if (!gaps_left)
		return;
	gaps_left--;
	if (gap_what == GAP_SHARD) {
		f = hak_lock(&h->shard[hak_size_to_class(64)].lock);
		hak_unlock(&h->shard[hak_size_to_class(64)].lock, f);
	} else {
		f = hak_lock(&h->lock);
		h->ss_gen++;
		hak_unlock(&h->lock, f);
	}
}

static uint64_t skipped(void)
{
	struct hak_stats st;

	hak_stats(&st);
	return st.check_skipped;
}

/* hak_check must find the corruption, report it as such, and nothing
 * must be skipped on this quiet heap. */
static void expect_found(const char *what)
{
	int before = log.count[HAK_EV_CORRUPTION], bad;
	uint64_t sk = skipped();

	bad = hak_check();
	CHECK(bad > 0, "%s: hak_check() found nothing", what);
	CHECK(log.count[HAK_EV_CORRUPTION] > before,
	      "%s: %d violations but no corruption report", what, bad);
	CHECK(skipped() == sk, "%s: a quiet heap's check skipped", what);
	printf("  %-40s found: %d violation(s), last report '%s'\n", what, bad,
	       log.last_what);
}

static void expect_clean(const char *when)
{
	uint64_t sk = skipped();
	int bad = hak_check();

	CHECK(bad == 0, "%s: hak_check() = %d", when, bad);
	CHECK(skipped() == sk, "%s: a quiet heap's check skipped %lu", when,
	      (unsigned long)(skipped() - sk));
}

static int stop;
static unsigned batches; /* churn batches done, by both threads */

/* Batches of 16384 blocks of one size, then all freed: refills and
 * drains take the shard locks between the check's holds. */
static void *churn(void *arg)
{
	uint64_t rng = (uintptr_t)arg;
	int fixed = (uintptr_t)arg & 1;
	static __thread void *slot[16384];

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		/* One thread on 64 B only, so that shard's walks are
		 * disturbed; the other on any size. */
		size_t size = fixed ? 64 : rng_range(&rng, 1, 40000);
		unsigned k;

		for (k = 0; k < 16384; k++)
			CHECK((slot[k] = M(size)), "churn malloc failed");
		for (k = 0; k < 16384; k++)
			F(slot[k]);
		__atomic_fetch_add(&batches, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void concurrent(void)
{
	pthread_t t[2];
	uint64_t sk = skipped();
	unsigned i, b0, nchecks;

	__atomic_store_n(&stop, 0, __ATOMIC_RELAXED);
	for (i = 0; i < 2; i++)
		CHECK(!pthread_create(&t[i], NULL, churn,
				      (void *)(uintptr_t)(0x5eee + i)),
		      "pthread_create");
	while (__atomic_load_n(&batches, __ATOMIC_RELAXED) < 2)
		sched_yield();
	/* 40 checks at least, and for at least 40 more batches. */
	for (i = 0, b0 = __atomic_load_n(&batches, __ATOMIC_RELAXED);
	     i < 40 || __atomic_load_n(&batches, __ATOMIC_RELAXED) < b0 + 40;
	     i++)
		CHECK(hak_check() == 0,
		      "hak_check() reported a violation under concurrency");
	nchecks = i;
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	printf("  %u checks beside 2 churning threads (%u batches): clean, "
	       "%lu comparisons skipped\n",
	       nchecks, __atomic_load_n(&batches, __ATOMIC_RELAXED), (unsigned long)(skipped() - sk));
	expect_clean("after the threads");
}

#define NSMALL 200000
static void *small[NSMALL];

/* A check with `what` in every gap of every walk: no violation, and
 * exactly `skips` comparisons skipped. */
static void disturbed_throughout(int what, uint64_t skips)
{
	uint64_t sk = skipped();
	int bad;

	gap_what = what;
	gaps_left = 1000000;
	bad = hak_check();
	gaps_left = 0;
	CHECK(bad == 0, "a disturbed walk reported %d violations", bad);
	CHECK(skipped() == sk + skips, "%s in every gap: %lu skipped, not %lu",
	      what == GAP_SHARD ? "shard lock taken" : "superslabs changed",
	      (unsigned long)(skipped() - sk), (unsigned long)skips);
}

/*
 * Changes landing between two holds of the walks, on the big heap of
 * corruptions() (each walk many holds long):
 *  - the 64 B shard's lock taken in one gap: that walk starts over and
 *    still finds a corruption of that shard, nothing skipped;
 *  - taken in every gap: its counts are never compared (1 skipped), and
 *    no violation is reported for a shard that is intact;
 *  - the superslabs changed under the heap lock in every gap: the
 *    superslab walk and the two large walks (40 live runs, 40 cached:
 *    two holds each; they resume on the heap lock's count) skip: 3.
 */
static void gaps(void)
{
	struct hak_slab *s = NULL;
	uint64_t sk = skipped();
	unsigned i;

	for (i = 1; i < NSMALL && !s; i++) /* a live 64 B block */
		if (i % 3 && 8 + (i * 40) % 1024 == 64)
			s = hak_slab_of_object((uintptr_t)small[i]);
	CHECK(s && s->size == 64, "no live 64 B block");
	s->nfree++;
	gap_what = GAP_SHARD;
	gaps_left = 1;
	expect_found("64 B slab corrupted, one disturbed gap");
	CHECK(!gaps_left, "no gap was called");
	s->nfree--;

	disturbed_throughout(GAP_SHARD, 1);
	disturbed_throughout(GAP_HEAP, 3);
	printf("  disturbed gaps: a restarted walk still finds the "
	       "corruption; walks disturbed throughout skip (%lu), report "
	       "nothing\n",
	       (unsigned long)(skipped() - sk));
	expect_clean("gaps undisturbed again");
}


static void corruptions(void)
{
	struct hak_heap *h = &hak_heap;
	struct hak_cache *c = hak_cache_create(NULL, "chk", 40, 8, 0, NULL, NULL);
	void *obj[64], *big[4], *mid[80];
	struct hak_slab *s;
	struct hak_superslab *ss;
	unsigned i;

	CHECK(c, "hak_cache_create failed");
	/* Many superslabs: 200k blocks of 8 to 1024 B (about 100 MiB), so
	 * every walk spans many holds. */
	for (i = 0; i < NSMALL; i++) {
		small[i] = M(8 + (i * 40) % 1024);
		CHECK(small[i], "malloc %u failed", i);
	}
	for (i = 0; i < NSMALL; i += 3) /* partial slabs everywhere */
		F(small[i]);
	for (i = 0; i < 64; i++)
		CHECK((obj[i] = hak_cache_alloc(c)), "cache alloc failed");
	for (i = 0; i < 4; i++)
		CHECK((big[i] = M((size_t)(1 + i) << 20)), "large failed");
	hak_trim(); /* caches drained: the slabs' own counts are the truth */
	F(big[3]); /* one cached large run */
	/* 40 more live and 40 cached: the large walks span two holds. */
	for (i = 0; i < 80; i++)
		CHECK((mid[i] = M(40960 + i * 4096)), "large failed");
	for (i = 0; i < 80; i += 2)
		F(mid[i]);
	CHECK(h->large_cache.count > 32, "%u runs cached",
	      h->large_cache.count);
	printf("  heap: %lu superslabs\n", (unsigned long)h->nss);
	CHECK(h->nss >= 16, "only %lu superslabs", (unsigned long)h->nss);
	expect_clean("a quiet heap");

	s = hak_slab_of_object((uintptr_t)small[1]);
	s->nfree++;
	expect_found("slab free count + 1");
	s->nfree--;
	expect_clean("slab free count restored");

	s->shard->out_objects++;
	expect_found("shard outstanding count + 1");
	s->shard->out_objects--;
	expect_clean("shard count restored");

	/* small[0] was freed: its slab is partial. */
	s = hak_slab_of_object((uintptr_t)small[0]);
	CHECK(s->on_list == 1, "slab of a freed block not partial (%u)",
	      s->on_list);
	{
		struct hak_list *keep = s->link.prev;

		s->link.prev = &s->link;
		expect_found("partial slab's prev link to itself");
		s->link.prev = keep;
	}
	expect_clean("link restored");

	h->nss_empty++;
	expect_found("superslab empty count + 1");
	h->nss_empty--;
	ss = hak_slab_ss(s);
	ss->in_avail = !ss->in_avail;
	expect_found("superslab avail flag flipped");
	ss->in_avail = !ss->in_avail;
	expect_clean("superslab fields restored");

	CHECK(h->large_cache.count, "no run in the large cache");
	h->large_cache.bytes += 4096;
	expect_found("large run cache bytes + 4096");
	h->large_cache.bytes -= 4096;
	h->large_bytes += 4096;
	expect_found("live large bytes + 4096");
	h->large_bytes -= 4096;
	expect_clean("large fields restored");

	s = hak_slab_of_object((uintptr_t)obj[5]);
	CHECK(s->shard == &c->shard, "cache object not in the cache's slab");
	s->nfree++;
	expect_found("object cache slab free count + 1");
	s->nfree--;
	expect_clean("cache slab restored");

	gaps();
	/* The walks span many holds: churn beside them. */
	concurrent();
	for (i = 0; i < 64; i++)
		hak_cache_free(c, obj[i]);
	CHECK(hak_cache_destroy(c) == 0, "cache destroy failed");
	for (i = 0; i < 3; i++)
		F(big[i]);
	for (i = 1; i < 80; i += 2)
		F(mid[i]);
	for (i = 0; i < NSMALL; i++)
		if (i % 3)
			F(small[i]);
	expect_clean("everything freed");
}

int main(void)
{
	init_hosted(4, &log);
	log.quiet = 1;
	corruptions();
	printf("PASS test_check\n");
	return 0;
}
