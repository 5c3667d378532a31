// SPDX-License-Identifier: MIT
/*
 * test_api - the semantics of every public call: alignment, calloc zeroing,
 * realloc across every tier boundary, usable_size, size 0, huge sizes and
 * overflow, and the stats that must move with them.
 */
#define _GNU_SOURCE
#include "pin.h"
#include "../../mm/internal.h" /* hak_stripe_of, the heap (white box) */

static struct report_log log;

/* Sizes around every class and tier boundary. */
static const size_t edges[] = {
	0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 127, 128, 129, 1023, 1024, 1025,
	2048, 4095, 4096, 4097, 16384, 32767, 32768, 32769, 65536, 65537,
	(1 << 20) - 1, 1 << 20, (1 << 20) + 1, 5 << 20,
};
#define NEDGES (sizeof(edges) / sizeof(edges[0]))

static void test_alignment(void)
{
	size_t a, s;

	for (a = 1; a <= (1 << 20); a *= 2) {
		for (s = 0; s < NEDGES; s++) {
			size_t size = edges[s];
			char *p = hak_aligned_alloc(a, size);

			CHECK(p, "aligned_alloc(%zu, %zu)", a, size);
			CHECK(((uintptr_t)p & (a - 1)) == 0, "align %zu: %p", a, p);
			/* Only a block of at most 8 bytes asked at most 8-aligned
			 * may come from the 8-byte class. */
			CHECK(((uintptr_t)p &
			       ((size <= 8 && a <= 8 ? 8 : HAK_MIN_ALIGN) - 1)) ==
				      0,
			      "min align %zu, %zu: %p", a, size, p);
			CHECK(hak_usable_size(p) >= size, "usable %zu", size);
			memset(p, 0xab, size);
			hak_free(p);
		}
	}
	/* Every request's natural result is 16-byte aligned, but those of
	 * at most 8 bytes: 8-byte blocks of their own class. */
	for (s = 0; s < 5000; s++) {
		void *p = hak_malloc(s);

		CHECK(p && ((uintptr_t)p & (s <= 8 ? 7 : 15)) == 0,
		      "malloc(%zu) = %p", s, p);
		CHECK(HAK_DEBUG || s > 8 || hak_usable_size(p) == 8,
		      "malloc(%zu) usable %zu",
		      s, hak_usable_size(p));
		hak_free(p);
	}
	for (a = 3; a < 4096; a += 7) {
		if (!(a & (a - 1)))
			continue;
		CHECK(hak_aligned_alloc(a, 64) == NULL, "align %zu accepted", a);
	}
	CHECK(log.count[HAK_EV_BAD_ALIGNMENT] > 0, "no bad-alignment report");
	CHECK(hak_aligned_alloc(0, 64) == NULL, "align 0 accepted");
	/* A power of two beyond the address space: a bad alignment, not an
	 * out-of-memory after a reclaim of the whole heap (it was both). */
	{
		int bad = log.count[HAK_EV_BAD_ALIGNMENT],
		    oom = log.count[HAK_EV_OUT_OF_MEMORY];

		CHECK(hak_aligned_alloc((size_t)1 << 62, 1) == NULL,
		      "align 2^62 accepted");
		CHECK(log.count[HAK_EV_BAD_ALIGNMENT] == bad + 1 &&
			      log.count[HAK_EV_OUT_OF_MEMORY] == oom,
		      "align 2^62: %d bad-alignment, %d out-of-memory reports",
		      log.count[HAK_EV_BAD_ALIGNMENT] - bad,
		      log.count[HAK_EV_OUT_OF_MEMORY] - oom);
	}
}

static void test_calloc(void)
{
	size_t s;

	/* Dirty blocks first so calloc cannot pass by luck. */
	for (s = 0; s < NEDGES; s++) {
		void *p = hak_malloc(edges[s]);

		CHECK(p, "malloc %zu", edges[s]);
		memset(p, 0x5a, edges[s]);
		hak_free(p);
	}
	for (s = 0; s < NEDGES; s++) {
		unsigned char *p = hak_calloc(1, edges[s]);
		size_t i;

		CHECK(p, "calloc %zu", edges[s]);
		for (i = 0; i < edges[s]; i++)
			CHECK(p[i] == 0, "calloc(%zu)[%zu] = %u", edges[s], i, p[i]);
		hak_free(p);
	}
	CHECK(hak_calloc(SIZE_MAX / 2, 3) == NULL, "calloc overflow");
	CHECK(hak_calloc(3, SIZE_MAX / 2) == NULL, "calloc overflow");
	CHECK(hak_calloc((size_t)1 << 33, (size_t)1 << 33) == NULL, "overflow");
	CHECK(log.count[HAK_EV_SIZE_OVERFLOW] >= 3, "overflow not reported");
	{
		void *z = hak_calloc(0, 0);

		CHECK(z != NULL, "calloc(0, 0)");
		hak_free(z);
	}
}

static void test_realloc(void)
{
	size_t i, j;

	for (i = 0; i < NEDGES; i++) {
		for (j = 0; j < NEDGES; j++) {
			size_t a = edges[i], b = edges[j];
			size_t keep = a < b ? a : b;
			char *p = hak_malloc(a), *q;

			CHECK(p, "malloc %zu", a);
			fill(p, a, a ^ b);
			q = hak_realloc(p, b);
			if (!b) {
				CHECK(q == NULL, "realloc to 0 returns NULL");
				continue;
			}
			CHECK(q, "realloc %zu -> %zu", a, b);
			CHECK(verify(q, keep, a ^ b), "realloc %zu -> %zu lost data", a, b);
			CHECK(hak_usable_size(q) >= b, "usable after realloc");
			hak_free(q);
		}
	}
	{
		char *p = hak_realloc(NULL, 100);

		CHECK(p && hak_usable_size(p) >= 100, "realloc(NULL)");
		CHECK(hak_realloc(p, SIZE_MAX) == NULL, "realloc huge");
		CHECK(hak_usable_size(p) >= 100, "failed realloc kept the block");
		hak_free(p);
	}
}

static void test_sizes(void)
{
	void *a = hak_malloc(0), *b = hak_malloc(0);
	size_t s;

	CHECK(a && b && a != b, "malloc(0) unique");
	/* The debug build reports exactly the request: 0. */
	CHECK(HAK_DEBUG || hak_usable_size(a) >= 1, "malloc(0) usable");
	hak_free(a);
	hak_free(b);
	hak_free(NULL);
	CHECK(hak_usable_size(NULL) == 0, "usable(NULL)");
	CHECK(hak_malloc(SIZE_MAX) == NULL, "SIZE_MAX");
	CHECK(hak_malloc(SIZE_MAX - 4096) == NULL, "SIZE_MAX - page");
	CHECK(hak_malloc((size_t)1 << 62) == NULL, "2^62");
	CHECK(hak_aligned_alloc(4096, SIZE_MAX) == NULL, "aligned SIZE_MAX");
	for (s = 1; s < 300000; s = s * 3 / 2 + 1) {
		char *p = hak_malloc(s);

		CHECK(p && hak_usable_size(p) >= s, "usable(%zu)", s);
		p[0] = 1;
		p[s - 1] = 2;
		hak_free(p);
	}
}

static void test_stats(void)
{
	struct hak_stats before, after;
	void *p[3];

	hak_stats(&before);
	p[0] = hak_malloc(100);
	p[1] = hak_malloc(20000);
	p[2] = hak_malloc(100000);
	hak_stats(&after);
	CHECK(after.tier[HAK_TIER_TINY].objects_in_use ==
		      before.tier[HAK_TIER_TINY].objects_in_use + 1, "tiny count");
	CHECK(after.tier[HAK_TIER_POOL].objects_in_use ==
		      before.tier[HAK_TIER_POOL].objects_in_use + 1, "pool count");
	CHECK(after.tier[HAK_TIER_LARGE].objects_in_use ==
		      before.tier[HAK_TIER_LARGE].objects_in_use + 1, "large count");
	CHECK(after.tier[HAK_TIER_LARGE].bytes_in_use -
			      before.tier[HAK_TIER_LARGE].bytes_in_use == 102400,
	      "large bytes");
	CHECK(after.tier[HAK_TIER_POOL].bytes_in_use -
			      before.tier[HAK_TIER_POOL].bytes_in_use == 20480,
	      "pool bytes");
	hak_free(p[0]);
	hak_free(p[1]);
	hak_free(p[2]);
	hak_stats(&after);
	CHECK(after.bytes_in_use == before.bytes_in_use, "bytes balance");
	CHECK(after.cache_hits > 0 && after.refills > 0, "cache counters");
}

/* The heap's count of bytes out of the slabs, exact after hak_stats. */
static uint64_t shards_out_bytes(void)
{
	uint64_t b = 0;
	unsigned c;

	for (c = 0; c < HAK_NCLASSES; c++)
		b += hak_heap.shard[c].out_objects * hak_class_size[c];
	return b;
}

/*
 * A refill of at most a batch does not write the heap-wide count of
 * bytes out (one line every CPU's misses wrote: mm/stats.c
 * hak_stats_fold); hak_stats folds every class in, so the count and the
 * peak it feeds are exact there. A class no one used yet: its first
 * refill takes one never-used 14336-byte object (at least one, at most
 * HAK_REFILL_FRESH_BYTES), fewer than its batch of 2.
 */
static void test_stats_fold(void)
{
	struct hak_stats st;
	uint64_t before;
	void *p;

	pin(0);
	/* Every cache empty: the miss's idle decay step then has no
	 * object to drain, whose fold would move the count. */
	hak_trim();
	hak_stats(&st);
	before = __atomic_load_n(&hak_heap.out_bytes, __ATOMIC_RELAXED);
	CHECK(before == shards_out_bytes(), "hak_stats left %llu bytes out, "
	      "the classes have %llu", (unsigned long long)before,
	      (unsigned long long)shards_out_bytes());
	CHECK(p = hak_malloc(13000), "malloc");
	CHECK(__atomic_load_n(&hak_heap.out_bytes, __ATOMIC_RELAXED) == before,
	      "a refill of %llu bytes wrote the heap-wide count",
	      (unsigned long long)(shards_out_bytes() - before));
	CHECK(shards_out_bytes() > before, "no refill");
	hak_stats(&st);
	CHECK(__atomic_load_n(&hak_heap.out_bytes, __ATOMIC_RELAXED) ==
		      shards_out_bytes(),
	      "hak_stats did not fold the refill in");
	CHECK(st.peak_bytes_out >=
		      shards_out_bytes() + st.tier[HAK_TIER_LARGE].bytes_in_use,
	      "peak %llu below what is out now",
	      (unsigned long long)st.peak_bytes_out);
	hak_free(p);
}

/*
 * A refill hands a slab's objects out in rounds that each walk up through
 * memory (mm/shared_pool.c slab_take: next-line prefetchers fetch ahead
 * of ascending accesses), stride objects apart, so that consecutive
 * allocations never share a cache line (mm/shared_pool.c stripe_run:
 * one thread's consecutive objects handed to different threads would
 * false-share). The first use of a class in this process: its first
 * refill takes never-used objects from one fresh slab, in index order
 * (HAK_REFILL_FRESH_BYTES of them: 18 of 224 bytes, 64 of 16, 8 and 48).
 * One CPU, so one magazine serves them all. The objects of one round are
 * consecutive strides: their number of descents is rounds - 1.
 */
static void refill_order(size_t size, unsigned n)
{
	enum { N = 64 };
	void *p[N] = {0};
	uintptr_t line = ARCH_CACHELINE;
	unsigned i, j, down = 0, stride;

	CHECK(n <= N, "test size");
	for (i = 0; i < n; i++)
		CHECK(p[i] = hak_malloc(size), "malloc");
	stride = hak_stripe_of(hak_usable_size(p[0]));
	for (i = 1; i < n; i++) {
		uintptr_t a = (uintptr_t)p[i - 1], b = (uintptr_t)p[i];
		size_t sz = hak_usable_size(p[i]);

		if (b < a) {
			down++;
			continue;
		}
		CHECK(b - a == stride * sz,
		      "%zu bytes: allocation %u after a refill %p, %zu bytes "
		      "above the one before, not one stride (%u objects)",
		      size, i, p[i], (size_t)(b - a), stride);
	}
	CHECK(down == (stride < n ? stride : n) - 1,
	      "%zu bytes: %u descents in %u allocations, stride %u", size,
	      down, n, stride);
	/* What the stride is for: each allocation of the first round has
	 * cache lines of its own. */
	for (i = 0; i < n && i < n / stride; i++)
		for (j = 0; j < i; j++) {
			uintptr_t a = (uintptr_t)p[j], b = (uintptr_t)p[i];
			size_t sz = hak_usable_size(p[i]);

			CHECK((a + sz - 1) / line != b / line &&
				      (b + sz - 1) / line != a / line,
			      "%zu bytes: allocations %u and %u share a line",
			      size, j, i);
		}
	for (i = 0; i < n; i++)
		hak_free(p[i]);
}

static void test_refill_order(void)
{
	/* The debug build's malloc wraps each block in a larger one of
	 * another class (mm/debug.c): the addresses and strides here are
	 * the plain build's. test_heap checks an object cache's stride in
	 * both. */
	if (HAK_DEBUG)
		return;
	pin(0);
	refill_order(200, 16);
	refill_order(16, 64);
	refill_order(1, 64);
	refill_order(48, 64);
	refill_order(640, 6); /* whole lines: stride 1, plain order */
}

/*
 * A refill takes at most HAK_REFILL_FRESH_BYTES of never-used objects (at
 * least one), whatever its lock holds: it writes their free cookies,
 * which brings their pages in. The first allocation of a class no one
 * used yet leaves at most that many bytes' worth, less the one returned,
 * cached: 1 KiB (a batch is 32, the cap 4) and 128 bytes (a batch is 64
 * in 4 holds of 16, the cap 32).
 */
static void refill_fresh_cap(size_t size)
{
	struct hak_stats a, b;
	size_t most;
	void *p;

	hak_stats(&a);
	CHECK(p = hak_malloc(size), "malloc");
	hak_stats(&b);
	most = HAK_REFILL_FRESH_BYTES / hak_usable_size(p);
	if (!most)
		most = 1;
	CHECK(b.cached_objects - a.cached_objects + 1 <= most,
	      "one %zu-byte allocation left %llu never-used objects cached "
	      "(at most %zu)",
	      size, (unsigned long long)(b.cached_objects - a.cached_objects),
	      most - 1);
	CHECK(b.cached_objects > a.cached_objects,
	      "the refill took only the object it returned");
	hak_free(p);
}

static void test_refill_fresh_cap(void)
{
	pin(0);
	refill_fresh_cap(1024);
	refill_fresh_cap(128);
}

/*
 * Cache hits take no shared lock: the lock holds counted across hits are
 * exactly those hak_stats takes itself (measured by two calls in a row).
 */
static void test_hits_lock_free(void)
{
	struct hak_stats a, b, c;
	void *p;
	unsigned i;

	p = hak_malloc(48); /* the class's cache has objects */
	hak_free(p);
	hak_stats(&a);
	hak_stats(&b);
	for (i = 0; i < 1000; i++) {
		p = hak_malloc(48);
		CHECK(p, "malloc");
		hak_free(p);
	}
	hak_stats(&c);
	CHECK(b.lock_holds > a.lock_holds, "hak_stats counted no lock hold");
	CHECK(c.lock_holds - b.lock_holds == b.lock_holds - a.lock_holds,
	      "1000 hits took %llu shared locks",
	      (unsigned long long)((c.lock_holds - b.lock_holds) -
				   (b.lock_holds - a.lock_holds)));
}

/*
 * The transfer cache: frees that overflow a CPU's cache hand whole batches
 * to it, and the allocations that follow take them back instead of going
 * to the slabs; the objects stay counted exactly (in use, cached) and
 * hak_check and hak_trim cover them. One thread, so the counts are exact.
 */
static void test_transfer(void)
{
	enum { N = 2000 };
	static void *p[N];
	struct hak_stats a, b, c;
	unsigned i;

	hak_trim();
	hak_stats(&a);
	for (i = 0; i < N; i++)
		CHECK(p[i] = hak_malloc(200), "malloc");
	for (i = 0; i < N; i++)
		hak_free(p[i]);
	hak_stats(&b);
	CHECK(b.transfer_batches > a.transfer_batches,
	      "%d frees handed no batch over", N);
	/* Each batch handed over is one transfer-cache lock hold; one
	 * thread, so none waited. */
	CHECK(b.lock_holds - a.lock_holds >=
		      b.transfer_batches - a.transfer_batches,
	      "lock holds %llu for %llu batches",
	      (unsigned long long)(b.lock_holds - a.lock_holds),
	      (unsigned long long)(b.transfer_batches - a.transfer_batches));
	CHECK(b.lock_waits == a.lock_waits, "a lock waited, one thread");
	CHECK(b.tier[HAK_TIER_TINY].objects_in_use ==
		      a.tier[HAK_TIER_TINY].objects_in_use,
	      "objects in use %llu, before %llu",
	      (unsigned long long)b.tier[HAK_TIER_TINY].objects_in_use,
	      (unsigned long long)a.tier[HAK_TIER_TINY].objects_in_use);
	CHECK(hak_check() == 0, "hak_check with batches held");
	for (i = 0; i < N; i++)
		CHECK(p[i] = hak_malloc(200), "malloc");
	hak_stats(&c);
	CHECK(c.transfer_batches > b.transfer_batches,
	      "the allocations took no batch back");
	CHECK(c.tier[HAK_TIER_TINY].objects_in_use ==
		      a.tier[HAK_TIER_TINY].objects_in_use + N,
	      "objects in use");
	for (i = 0; i < N; i++)
		hak_free(p[i]);
	hak_trim();
	hak_stats(&c);
	CHECK(c.cached_objects == 0, "%llu objects still cached after trim",
	      (unsigned long long)c.cached_objects);
	CHECK(hak_check() == 0, "hak_check after trim");
}

int main(void)
{
	struct hak_stats st;

	init_hosted(hak_hosted_possible_cpus(), &log);
	log.quiet = 1;
	test_refill_order(); /* first: these need classes no one used yet */
	test_refill_fresh_cap();
	test_alignment();
	test_calloc();
	test_realloc();
	test_sizes();
	test_stats();
	test_stats_fold();
	test_hits_lock_free();
	test_transfer();
	CHECK(hak_check() == 0, "hak_check");
	hak_trim();
	hak_stats(&st);
	CHECK(st.bytes_in_use == 0, "leak: %llu bytes", (unsigned long long)st.bytes_in_use);
	CHECK(st.provider_held == st.meta_bytes,
	      "after trim the provider holds %llu, metadata is %llu",
	      (unsigned long long)st.provider_held,
	      (unsigned long long)st.meta_bytes);
	CHECK(hak_check() == 0, "hak_check after trim");
	printf("PASS api\n");
	return 0;
}
