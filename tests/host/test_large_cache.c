// SPDX-License-Identifier: MIT
/*
 * test_large_cache - the large-run cache (mm/large_cache.c), through a
 * page provider that counts its calls and remembers what it got back:
 *  - reuse by size: a freed 5 MiB run serves a later 4.8 MiB request
 *    without a provider call, and the block reports the run's real length;
 *    requests outside [n, n + n/4] of the run do not take it;
 *  - the byte bound and the 256 records are never exceeded, whatever the
 *    mix of runs freed, and a run above the bound is not kept;
 *  - headroom: before a fresh run comes from the provider, the oldest
 *    cached runs go back until the cache and the live large bytes fit
 *    within the large peak plus 2^-HAK_LC_HEADROOM_SHIFT of it; with a
 *    provider that splits, only the part over that limit goes back;
 *  - decay: a run nobody takes goes back at exactly the HAK_LC_DECAY-th
 *    large operation after its free, not one earlier;
 *  - hak_trim gives every cached run back;
 *  - the provider's advise_large hook sees each fresh large run once,
 *    and no slab, metadata or run served again from the cache;
 *  - a freed (cached) large block still reads as not hakmem's: a second
 *    free and usable size report an invalid pointer, an interior pointer
 *    is reported as before, and usable size is exact for live blocks.
 * The provider's own count of bytes held must agree with hakmem's
 * throughout.
 */
#include "check.h"
#include "../../mm/internal.h"

#define MiB (1UL << 20)

/* The allocator itself: the debug build's wrapping layer (header, red
 * zone) would move the pointers and sizes this test reasons about. */
#define M(n) HAK_RAW(hak_malloc)(n)
#define F(p) HAK_RAW(hak_free)(p)
#define U(p) HAK_RAW(hak_usable_size)(p)

static struct report_log log;
static struct hak_page_provider mm;
static size_t held, allocs, releases, last_alloc, released_bytes;
/* Provider calls for 1 MiB or more: runs, not metadata (a page-map node
 * when a run lands in a new 16 MiB window, a page of run records). */
static size_t run_allocs;
static uintptr_t released[64]; /* the last releases, a ring */
/* The advise_large hook's calls, and the run alloc returned last. */
static size_t advised, advised_bytes;
static uintptr_t advised_run, last_run;

static void *count_alloc(void *ctx, size_t bytes, size_t align)
{
	void *p = mm.alloc(ctx, bytes, align);

	allocs++;
	run_allocs += bytes >= MiB;
	last_alloc = bytes;
	last_run = (uintptr_t)p;
	if (p)
		held += bytes;
	return p;
}

/* Only ever on the run alloc has just returned, whole. */
static void count_advise(void *ctx, void *run, size_t bytes)
{
	(void)ctx;
	CHECK((uintptr_t)run == last_run && bytes == last_alloc,
	      "advise_large on %p (%zu bytes), not the run alloc returned",
	      run, bytes);
	advised++;
	advised_run = (uintptr_t)run;
	advised_bytes = bytes;
}

static void count_release(void *ctx, void *p, size_t bytes)
{
	released[releases++ % 64] = (uintptr_t)p;
	released_bytes += bytes;
	held -= bytes;
	mm.release(ctx, p, bytes);
}

static int was_released(const void *p, size_t since)
{
	size_t i;

	for (i = since; i < releases; i++)
		if (released[i % 64] == (uintptr_t)p)
			return 1;
	return 0;
}

static struct hak_stats stats(void)
{
	struct hak_stats st;

	hak_stats(&st);
	CHECK(held == st.provider_held, "provider holds %zu, hakmem says %llu",
	      held, (unsigned long long)st.provider_held);
	CHECK(st.large_cached == hak_heap.large_cache.bytes, "large_cached");
	/* The bound: 64 MiB, or half the peak of live large bytes (which
	 * peak_bytes_out, every tier's, bounds from above). */
	CHECK(st.large_cached <= HAK_LARGE_CACHE_BYTES ||
		      st.large_cached <= st.peak_bytes_out / 2,
	      "cache holds %llu > bound %lu (peak out %llu)",
	      (unsigned long long)st.large_cached, HAK_LARGE_CACHE_BYTES,
	      (unsigned long long)st.peak_bytes_out);
	CHECK(hak_heap.large_cache.count <= HAK_LC_SLOTS, "record bound");
	return st;
}

static int cached(const void *p)
{
	const struct hak_large_cache *lc = &hak_heap.large_cache;
	unsigned i;

	for (i = lc->oldest; i; i = lc->run[i].newer)
		if (lc->run[i].addr == (uintptr_t)p)
			return 1;
	return 0;
}

/* What the cache and the live large blocks may hold together when a
 * fresh run has just come from the provider. */
static uint64_t headroom_limit(void)
{
	uint64_t peak = hak_heap.large_peak;

	return peak + (peak >> HAK_LC_HEADROOM_SHIFT);
}

/* A fresh heap (its large peak 0), then eight live 10 MiB blocks. */
static void ten_blocks(void *ten[8])
{
	int i;

	hak_trim();
	CHECK(hak_heap.large_peak == 0 && hak_heap.large_cache.count == 0,
	      "a fresh heap");
	for (i = 0; i < 8; i++) {
		ten[i] = M(10 * MiB);
		CHECK(ten[i], "malloc");
	}
}

/*
 * Eight 10 MiB blocks make a peak of 80 MiB; four go to the cache. Then
 * 12 MiB requests, which no 10 MiB run fits, each need a fresh run: the
 * oldest cached runs go back first, exactly as many as keep the cache
 * and the live bytes within the headroom, and not one more.
 */
static void headroom(void)
{
	void *ten[8], *twelve[4];
	unsigned want[4], gone = 0, j;
	uint64_t cache = 40 * MiB, live = 40 * MiB, peak = 80 * MiB;
	size_t r0;
	int i;

	/* The rule, modelled: with the default shift (4, a limit of 85 MiB,
	 * then 93.5) that is one run back for each of the first two
	 * requests, two for the third and none for the fourth. */
	for (i = 0; i < 4; i++) {
		uint64_t lim;

		live += 12 * MiB;
		peak = live > peak ? live : peak;
		lim = peak + (peak >> HAK_LC_HEADROOM_SHIFT);
		for (want[i] = 0; cache && cache + live > lim; want[i]++)
			cache -= 10 * MiB;
	}
	if (HAK_LC_HEADROOM_SHIFT == 4)
		CHECK(want[0] == 1 && want[1] == 1 && want[2] == 2 &&
			      want[3] == 0,
		      "the model");

	ten_blocks(ten);
	for (i = 0; i < 4; i++)
		F(ten[i]);
	CHECK(hak_heap.large_cache.count == 4 &&
		      hak_heap.large_cache.bytes == 40 * MiB,
	      "four runs cached");
	for (i = 0; i < 4; i++) {
		size_t a0 = run_allocs;

		r0 = releases;
		twelve[i] = M(12 * MiB);
		CHECK(twelve[i] && run_allocs == a0 + 1, "a fresh run");
		CHECK(releases - r0 == want[i],
		      "12 MiB request %d: %zu runs went back, want %u", i,
		      releases - r0, want[i]);
		/* The oldest first: ten[0], then ten[1], ... */
		for (j = 0; j < 4; j++)
			CHECK(cached(ten[j]) == (j >= gone + want[i]) &&
				      (j < gone || j >= gone + want[i] ||
				       was_released(ten[j], r0)),
			      "request %d: run %d went back out of order", i,
			      j);
		gone += want[i];
		CHECK(hak_heap.large_cache.bytes + hak_heap.large_bytes <=
			      headroom_limit(),
		      "request %d: cache %llu + live %llu > %llu", i,
		      (unsigned long long)hak_heap.large_cache.bytes,
		      (unsigned long long)hak_heap.large_bytes,
		      (unsigned long long)headroom_limit());
		stats();
	}
	CHECK(cached(ten[3]) == (gone < 4), "the newest run");
	for (i = 0; i < 4; i++) {
		F(ten[4 + i]);
		F(twelve[i]);
	}
	hak_trim();
	stats();
	CHECK(hak_check() == 0, "check");
	printf("headroom: ok (peak %llu MiB, limit %llu MiB)\n",
	       (unsigned long long)(hak_heap.large_peak / MiB),
	       (unsigned long long)(headroom_limit() / MiB));
}

/*
 * The provider's advise_large hook: called once on each run alloc gives
 * for a large block, and never on slabs or metadata or on a run the cache
 * serves again.
 */
static void advise(void)
{
	size_t n0 = advised, a0 = allocs, i;
	void *small[64], *big, *again;

	/* After headroom()'s trim: slabs need fresh superslabs. */
	for (i = 0; i < 64; i++) {
		small[i] = M(i < 32 ? 48 : 20000); /* Tiny, Pool */
		CHECK(small[i], "small block %zu", i);
	}
	CHECK(allocs > a0, "no provider call for slabs: nothing to test");
	CHECK(advised == n0, "a slab or metadata run was advised");
	a0 = run_allocs;
	big = M(3 * MiB);
	CHECK(big && run_allocs == a0 + 1, "a fresh run");
	CHECK(advised == n0 + 1 && advised_bytes >= 3 * MiB &&
		      advised_run <= (uintptr_t)big &&
		      (uintptr_t)big + 3 * MiB <= advised_run + advised_bytes,
	      "the large block's run advised (%zu calls)", advised - n0);
	F(big);
	CHECK(hak_heap.large_cache.count == 1, "cached");
	again = M(3 * MiB);
	CHECK(again && run_allocs == a0 + 1, "the cache serves it");
	CHECK(advised == n0 + 1, "a cached run advised again");
	F(again);
	for (i = 0; i < 64; i++)
		F(small[i]);
	hak_trim();
	stats();
	printf("advise: ok\n");
}

static void reuse_by_size(void)
{
	size_t a0, r0;
	char *p, *q, *r;
	struct hak_stats st;

	p = M(5 * MiB);
	CHECK(p, "5 MiB");
	memset(p, 1, 5 * MiB);
	F(p);
	CHECK(cached(p), "a freed 5 MiB run is kept");
	a0 = allocs;
	r0 = releases;
	q = M(5033165); /* 4.8 MiB: 1229 pages, the run has 1280 */
	CHECK(q == p, "4.8 MiB did not reuse the 5 MiB run (%p, %p)", q, p);
	CHECK(allocs == a0 && releases == r0, "provider called on a reuse");
	CHECK(U(q) == 5 * MiB, "usable %zu: not the real run",
	      U(q));
	st = stats();
	CHECK(st.tier[HAK_TIER_LARGE].bytes_in_use == 5 * MiB &&
		      st.large_cached == 0,
	      "accounting after reuse: in use %llu cached %llu",
	      (unsigned long long)st.tier[HAK_TIER_LARGE].bytes_in_use,
	      (unsigned long long)st.large_cached);
	/* The whole real run is the caller's. */
	memset(q, 2, U(q));
	F(q);
	CHECK(cached(p) && stats().large_cached == 5 * MiB, "cached again");

	/* Outside the window: larger than the run, or so small that the run
	 * would waste more than a quarter. Neither takes it. */
	r = M(5 * MiB + 1);
	CHECK(r && r != p && cached(p), "5 MiB + 1 took the 5 MiB run");
	q = M(1023 * 4096); /* 1023 + 1023/4 = 1278 < 1280 pages */
	CHECK(q && q != p && cached(p), "1023 pages took the 5 MiB run");
	/* Just inside: 1024 + 256 = 1280. (r stays live: freed now, it would
	 * be the newest run of the 1280-1311 page class, the only one of that
	 * class the window's top end looks at.) */
	F(q);
	a0 = allocs;
	q = M(1024 * 4096);
	CHECK(q == p && allocs == a0, "1024 pages did not take 1280");
	CHECK(U(q) == 5 * MiB, "usable");
	F(q);
	F(r);
	CHECK(hak_check() == 0, "check");
	printf("reuse by size: ok\n");
}

/* Free runs of many sizes in an order that fills the cache every way. */
static void byte_bound(void)
{
	enum { N = 300 };
	static void *p[N];
	uint64_t seed = 42;
	size_t r0;
	int i;

	for (i = 0; i < N; i++) {
		size_t size;

		switch (i % 4) {
		case 0:
			size = rng_range(&seed, 33 * 1024, 256 * 1024);
			break;
		case 1:
			size = rng_range(&seed, 256 * 1024, 2 * MiB);
			break;
		default:
			/* Up to 8 MiB: a peak near 750 MiB, so that the run
			 * above half of it fits in the 1 GiB aarch64-linux
			 * guest (30 MiB made it 1.25 GiB, which the guest's
			 * kernel refused). */
			size = rng_range(&seed, 2 * MiB, 8 * MiB);
			break;
		}
		p[i] = M(size);
		CHECK(p[i], "malloc %zu", size);
	}
	for (i = 0; i < N; i++) {
		F(p[(i * 7) % N]);
		stats();
	}
	/* Many small runs, far below the byte bound: the records bind. */
	for (i = 0; i < N; i++)
		p[i] = M(40000);
	for (i = 0; i < N; i++) {
		F(p[i]);
		stats();
	}
	CHECK(hak_heap.large_cache.count == HAK_LC_SLOTS, "%u runs cached",
	      hak_heap.large_cache.count);
	/* A run above the bound (64 MiB, or half the peak of live large
	 * bytes: this run's own share cannot lift it over itself) goes
	 * straight back. */
	p[0] = M((hak_heap.large_peak / 2 > HAK_LARGE_CACHE_BYTES
			  ? hak_heap.large_peak / 2
			  : HAK_LARGE_CACHE_BYTES) +
		 4096);
	CHECK(p[0], "above the bound");
	r0 = releases;
	F(p[0]);
	CHECK(releases > r0 && was_released(p[0], r0) && !cached(p[0]),
	      "a run above the bound was kept");
	stats();
	CHECK(hak_check() == 0, "check");
	printf("byte bound: ok (%u runs, %llu bytes cached at the end)\n",
	       hak_heap.large_cache.count,
	       (unsigned long long)hak_heap.large_cache.bytes);
}

static void decay(void)
{
	size_t r0;
	char *idle, *p = NULL;
	unsigned op;

	hak_trim();
	idle = M(3 * MiB);
	CHECK(idle, "malloc");
	F(idle); /* the large operation that caches it: number 0 */
	r0 = releases;
	/* Large traffic that never fits the idle run: 64 KiB blocks, each
	 * served by the run the previous free cached. One call, one
	 * operation. */
	for (op = 1; op < HAK_LC_DECAY; op++) {
		if (p) {
			F(p);
			p = NULL;
		} else {
			p = M(64 * 1024);
			CHECK(p, "malloc");
		}
		CHECK(cached(idle) && !was_released(idle, r0),
		      "the idle run went back at operation %u < %u", op,
		      HAK_LC_DECAY);
	}
	/* Operation HAK_LC_DECAY. */
	if (p) {
		F(p);
		p = NULL;
	} else {
		p = M(64 * 1024);
	}
	CHECK(!cached(idle) && was_released(idle, r0),
	      "an idle run was not returned at operation %u", HAK_LC_DECAY);
	/* And nothing else went: the 64 KiB run was reused all along. */
	CHECK(releases == r0 + 1, "%zu releases, want 1", releases - r0);
	F(p);
	stats();
	CHECK(hak_check() == 0, "check");
	printf("decay: the idle run went back at large operation %u\n",
	       HAK_LC_DECAY);
}

static void trim_returns_all(void)
{
	void *p[8];
	struct hak_stats st;
	int i;

	for (i = 0; i < 8; i++)
		p[i] = M((size_t)(i + 1) * MiB + 12345);
	for (i = 0; i < 8; i++)
		F(p[i]);
	st = stats();
	CHECK(st.large_cached > 0, "nothing cached");
	hak_trim();
	st = stats();
	CHECK(st.large_cached == 0 && hak_heap.large_cache.count == 0,
	      "trim left %llu bytes cached",
	      (unsigned long long)st.large_cached);
	CHECK(st.bytes_in_use == 0 && st.provider_held == st.meta_bytes,
	      "held %llu, meta %llu", (unsigned long long)st.provider_held,
	      (unsigned long long)st.meta_bytes);
	printf("trim: everything back\n");
}

/* The bad calls go through the public API, whose reports this is about
 * (in the debug build its wrapping layer makes them); the block itself is
 * the plain allocator's. */
static void bad_pointers(void)
{
	char *p = M(5 * MiB), *keep = M(5 * MiB);

	CHECK(p && keep, "malloc");
	CHECK(U(p) == 5 * MiB, "usable");
	log.quiet = 1;
	/* Interior pointers of a live run. */
	hak_free(p + 16);
	CHECK(log.last_event == HAK_EV_INTERIOR_FREE && log.last_ptr == p + 16,
	      "interior free");
	/* Past the first page: no block starts there (the debug build
	 * calls its own blocks' pages interior: test_badinput). */
	hak_free(p + 8192);
	CHECK(log.last_event == HAK_EV_INVALID_FREE && log.last_ptr == p + 8192,
	      "free past the first page");
	CHECK(U(p) == 5 * MiB, "the run survived");
	/* Freed into the cache: not hakmem's any more. */
	F(p);
	CHECK(cached(p), "cached");
	hak_free(p);
	CHECK(log.last_event == HAK_EV_INVALID_FREE && log.last_ptr == p,
	      "second free of a cached run: %s", hak_event_name(log.last_event));
	CHECK(hak_usable_size(p) == 0 && log.last_event == HAK_EV_INVALID_FREE,
	      "usable size of a cached run");
	CHECK(hak_realloc(p, 100) == NULL && log.last_event == HAK_EV_INVALID_FREE,
	      "realloc of a cached run");
	CHECK(cached(p), "the bad calls changed the cache");
	log.quiet = 0;
	F(keep);
	stats();
	CHECK(hak_check() == 0, "check");
	printf("bad pointers: reported as before\n");
}

/*
 * A provider that splits (argument "split"): a cached run larger than a
 * request is split, the rest stays cached; freed neighbours merge back,
 * so three blocks carved from one freed run become that run again.
 */
static void split_merge(void)
{
	char *big, *x, *y, *z;
	size_t a0;

	big = M(20 * MiB);
	CHECK(big, "malloc");
	F(big);
	CHECK(cached(big), "freed run cached");
	a0 = run_allocs;
	x = M(5 * MiB);
	y = M(10 * MiB);
	CHECK(x == big && y == big + 5 * MiB && run_allocs == a0,
	      "split: %p %p from %p, %zu provider calls (last %zu bytes)",
	      (void *)x, (void *)y, (void *)big, run_allocs - a0, last_alloc);
	CHECK(U(x) == 5 * MiB && U(y) == 10 * MiB, "exact usable sizes");
	CHECK(cached(big + 15 * MiB) &&
		      hak_heap.large_cache.bytes == 5 * MiB,
	      "the rest stays cached");
	stats();
	F(x);
	F(y); /* merges with x's run before it and the rest after it */
	CHECK(hak_heap.large_cache.count == 1 && cached(big) &&
		      hak_heap.large_cache.bytes == 20 * MiB,
	      "merged back: %u runs, %llu bytes", hak_heap.large_cache.count,
	      (unsigned long long)hak_heap.large_cache.bytes);
	z = M(20 * MiB);
	CHECK(z == big && run_allocs == a0, "the merged run serves 20 MiB");
	F(z);
	/* A request larger than anything cached still goes to the provider. */
	z = M(30 * MiB);
	CHECK(z && z != big && run_allocs > a0, "a bigger request");
	F(z);
	stats();
	CHECK(hak_check() == 0, "check");
	printf("split and merge: ok\n");
}

/*
 * A provider that splits: making room gives back only the part of the
 * oldest run that is over the limit, and the rest of that run stays
 * cached, in place and still the oldest. Four 10 MiB runs cached (every
 * other block of eight, so that no two merge), then 12 MiB requests,
 * which none fits: after each, the cache and the live bytes are within a
 * page of the limit, not a whole run under it.
 */
static void headroom_split(void)
{
	void *ten[8], *twelve[3];
	uint64_t drop;
	size_t r0;
	int i;

	_Static_assert(HAK_LC_HEADROOM_SHIFT == 4,
		       "the expected trims below are the default shift's");
	ten_blocks(ten);
	for (i = 0; i < 8; i += 2)
		F(ten[i]);
	CHECK(hak_heap.large_cache.count == 4 &&
		      hak_heap.large_cache.bytes == 40 * MiB,
	      "four runs cached, none merged");
	for (i = 0; i < 3; i++) {
		uint64_t before = hak_heap.large_cache.bytes;
		size_t rb0 = released_bytes;

		r0 = releases;
		twelve[i] = M(12 * MiB);
		CHECK(twelve[i], "malloc");
		drop = before - hak_heap.large_cache.bytes;
		CHECK(hak_heap.large_cache.bytes + hak_heap.large_bytes <=
				      headroom_limit() &&
			      hak_heap.large_cache.bytes +
					      hak_heap.large_bytes +
					      HAK_PAGE_SIZE >
				      headroom_limit(),
		      "request %d: cache %llu + live %llu, limit %llu", i,
		      (unsigned long long)hak_heap.large_cache.bytes,
		      (unsigned long long)hak_heap.large_bytes,
		      (unsigned long long)headroom_limit());
		CHECK(released_bytes - rb0 == drop,
		      "request %d: the provider got back %zu, the cache "
		      "dropped %llu",
		      i, released_bytes - rb0, (unsigned long long)drop);
		CHECK(releases > r0, "request %d: nothing went back", i);
		/* The tail went back, not the head. */
		CHECK(i || was_released((char *)ten[0] + 3 * MiB, r0),
		      "request 0: ten[0]'s last 7 MiB did not go back");
	}
	/* A peak of 80 MiB, so a limit of 85 (the default shift, 4), and
	 * live 52, 64, 76 MiB: the first request trimmed 7 MiB off ten[0]'s
	 * run, the second gave back the rest of it and trimmed ten[2]'s to
	 * 1, the third gave that and ten[4] back and trimmed ten[6]'s to 9.
	 * Its head stays cached where it was, the oldest run. */
	CHECK(!cached(ten[0]) && !cached(ten[2]) && !cached(ten[4]) &&
		      cached(ten[6]) &&
		      hak_heap.large_cache.run[hak_heap.large_cache.oldest]
				      .addr == (uintptr_t)ten[6] &&
		      hak_heap.large_cache.bytes == 9 * MiB,
	      "ten[6]'s head (9 MiB) cached alone, %llu bytes",
	      (unsigned long long)hak_heap.large_cache.bytes);
	stats();
	CHECK(hak_check() == 0, "check with a trimmed run cached");
	/* The trimmed head serves a request of its new size from its new
	 * class (9 MiB: the window [9, 11.25] MiB), and comes back whole. */
	{
		size_t a0 = run_allocs;
		void *head = M(9 * MiB);

		CHECK(head == ten[6] && run_allocs == a0 && U(head) == 9 * MiB,
		      "9 MiB from the trimmed head: %p (head %p), %zu "
		      "provider calls",
		      (void *)head, (void *)ten[6], run_allocs - a0);
		F(head);
		CHECK(cached(ten[6]) && hak_heap.large_cache.bytes == 9 * MiB,
		      "the head cached again");
	}
	for (i = 0; i < 3; i++)
		F(twelve[i]);
	for (i = 1; i < 8; i += 2)
		F(ten[i]);
	hak_trim();
	stats();
	CHECK(hak_heap.large_cache.count == 0, "trimmed");
	CHECK(hak_check() == 0, "check");
	printf("headroom (split): ok\n");
}

int main(int argc, char **argv)
{
	struct hak_config cfg = { 0 };
	int split = argc > 1 && !strcmp(argv[1], "split");

	mm = hak_hosted_mmap_provider();
	cfg.provider.alloc = count_alloc;
	cfg.provider.release = count_release;
	cfg.provider.ctx = mm.ctx;
	cfg.provider.split = split;
	cfg.provider.advise_large = count_advise;
	cfg.ncpus = 2;
	cfg.report = report_record;
	cfg.report_ctx = &log;
	CHECK(hak_init(&cfg) == 0, "init");
	if (split) {
		headroom_split();
		split_merge();
		trim_returns_all();
		bad_pointers();
		hak_trim();
		stats();
		printf("PASS large_cache (split)\n");
		return 0;
	}
	headroom();
	advise();
	reuse_by_size();
	byte_bound();
	decay();
	trim_returns_all();
	bad_pointers();
	hak_trim();
	stats();
	printf("provider: %zu allocs, %zu releases\n", allocs, releases);
	printf("PASS large_cache\n");
	return 0;
}
