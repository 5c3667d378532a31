// SPDX-License-Identifier: MIT
/*
 * test_debug - what the debug build (make DEBUG=1) adds: a write one byte
 * past a block's end is reported as a buffer overflow when the block is
 * freed, a write into a freed block as a use after free when the block is
 * handed out again, and a double free names where the block was allocated
 * and freed. Each report carries the precise pointer, the sites and CPUs,
 * and the heap stays consistent and usable.
 */
#include "check.h"

#if !HAK_DEBUG
#error "test_debug is built only with HAK_DEBUG=1 (make DEBUG=1)"
#endif

static struct report_log log;
static const void *last_alloc_site, *last_free_site;
static int last_alloc_cpu, last_free_cpu;

static void record(const struct hak_report *r, void *ctx)
{
	report_record(r, ctx);
	last_alloc_site = r->alloc_site;
	last_free_site = r->free_site;
	last_alloc_cpu = r->alloc_cpu;
	last_free_cpu = r->free_cpu;
}

/* A site is "ours" if it lies in this function's code. */
#define IN_FUNC(site, fn)                                                     \
	((const char *)(site) >= (const char *)(fn) &&                        \
	 (const char *)(site) < (const char *)(fn) + 4096)

static void expect(enum hak_event ev, const void *ptr, int *before)
{
	CHECK(log.count[ev] == before[ev] + 1, "expected one %s report",
	      hak_event_name(ev));
	CHECK(log.last_ptr == ptr, "%s reported %p, expected %p",
	      hak_event_name(ev), log.last_ptr, ptr);
	CHECK(hak_check() == 0, "heap broken after %s", hak_event_name(ev));
	memcpy(before, log.count, sizeof(log.count));
}

static void __attribute__((noinline)) overflows(int *before)
{
	static const size_t sizes[] = { 1, 16, 100, 1000, 5000, 30000, 100000 };
	unsigned i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		char *p = hak_malloc(n);

		CHECK(p && hak_usable_size(p) == n, "debug usable size is exact");
		memset(p, 1, n);
		p[n] = 'x'; /* one byte past the end */
		hak_free(p);
		expect(HAK_EV_BUFFER_OVERFLOW, p + n, before);
		CHECK(IN_FUNC(last_alloc_site, overflows),
		      "alloc site %p not in the test", last_alloc_site);
		CHECK(last_alloc_cpu >= 0, "alloc cpu");
	}
	/* Aligned blocks have their red zone too. */
	{
		char *p = hak_aligned_alloc(256, 300);

		CHECK(p && ((uintptr_t)p & 255) == 0, "aligned");
		p[300] = 0;
		hak_free(p);
		expect(HAK_EV_BUFFER_OVERFLOW, p + 300, before);
	}
	/* Writing inside the block is fine. */
	{
		char *p = hak_malloc(77);

		memset(p, 7, 77);
		hak_free(p);
		CHECK(!memcmp(log.count, before, sizeof(log.count)), "false report");
	}
}

static void __attribute__((noinline)) use_after_free(int *before)
{
	static const size_t sizes[] = { 24, 64, 700, 3000, 20000 };
	unsigned i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];
		char *p = hak_malloc(n), *q;
		int tries;

		hak_free(p);
		p[n / 2] = 42; /* write after free */
		/* The per-CPU cache is LIFO: the block comes back at once. */
		for (tries = 0, q = NULL; tries < 4 && q != p; tries++)
			q = hak_malloc(n);
		CHECK(q == p, "block not reused (size %zu)", n);
		expect(HAK_EV_USE_AFTER_FREE, p, before);
		CHECK(IN_FUNC(last_alloc_site, use_after_free) &&
			      IN_FUNC(last_free_site, use_after_free),
		      "sites %p %p", last_alloc_site, last_free_site);
		CHECK(last_free_cpu >= 0, "free cpu");
		hak_free(q);
	}
}

static void __attribute__((noinline)) double_free(int *before)
{
	char *p = hak_malloc(200), *keep = hak_malloc(200);

	hak_free(p);
	hak_free(p);
	expect(HAK_EV_DOUBLE_FREE, p, before);
	CHECK(IN_FUNC(last_alloc_site, double_free) &&
		      IN_FUNC(last_free_site, double_free),
	      "double free names both sites");
	CHECK(hak_realloc(p, 10) == NULL, "realloc of a freed block");
	expect(HAK_EV_DOUBLE_FREE, p, before);
	hak_free(keep + 16);
	expect(HAK_EV_INTERIOR_FREE, keep + 16, before);
	hak_free(keep);
}

static void obj_ctor(void *p, void *arg)
{
	(void)arg;
	memset(p, 0x77, 100);
}

/* Object caches: a red zone after each object, poison for caches without
 * a constructor (mm/cache.c). */
static void caches(int *before)
{
	struct hak_cache *c = hak_cache_create(NULL, "dbg", 100, 0, 0, NULL,
					       NULL);
	struct hak_cache *k = hak_cache_create(NULL, "dbgctor", 100, 0, 0,
					       obj_ctor, NULL);
	unsigned char *p, *q;
	unsigned i;

	CHECK(c && k, "create");
	p = hak_cache_alloc(c);
	p[100] = 1; /* one byte past the object */
	hak_cache_free(c, p);
	expect(HAK_EV_BUFFER_OVERFLOW, p + 100, before);
	p[100] = 0xa5; /* repaired: now it frees */
	hak_cache_free(c, p);
	CHECK(log.count[HAK_EV_BUFFER_OVERFLOW] == before[HAK_EV_BUFFER_OVERFLOW],
	      "a repaired red zone");
	p[50] = 3; /* after the free */
	q = hak_cache_alloc(c);
	CHECK(q == p, "the magazine hands the same object back");
	expect(HAK_EV_USE_AFTER_FREE, p, before);
	hak_free(q); /* hak_free checks the red zone too */
	q[101] = 9;
	q = hak_cache_alloc(c);
	CHECK(q == p, "same object");
	q[103] = 1;
	hak_free(q);
	expect(HAK_EV_BUFFER_OVERFLOW, q + 100, before);
	q[103] = 0xa5;
	hak_cache_free(c, q);
	/* With a constructor: never poisoned, so constructed state stays. */
	p = hak_cache_alloc(k);
	hak_cache_free(k, p);
	q = hak_cache_alloc(k);
	CHECK(q == p, "same object");
	for (i = 0; i < 100; i++)
		CHECK(q[i] == 0x77, "constructed byte %u", i);
	q[100] = 0;
	hak_cache_free(k, q);
	expect(HAK_EV_BUFFER_OVERFLOW, q + 100, before);
	q[100] = 0xa5;
	hak_cache_free(k, q);
	CHECK(hak_cache_destroy(c) == 0 && hak_cache_destroy(k) == 0,
	      "destroy");
}

int main(void)
{
	struct hak_config cfg = { 0 };
	int before[HAK_EV__COUNT] = { 0 };
	struct hak_stats st;

	cfg.provider = hak_hosted_mmap_provider();
	cfg.ncpus = 2;
	cfg.report = record;
	cfg.report_ctx = &log;
	log.quiet = 1;
	CHECK(hak_init(&cfg) == 0, "init");
	overflows(before);
	use_after_free(before);
	double_free(before);
	caches(before);
	hak_trim();
	CHECK(hak_check() == 0, "final check");
	hak_stats(&st);
	CHECK(st.bytes_in_use == 0, "leak %llu", (unsigned long long)st.bytes_in_use);
	CHECK(st.provider_held == st.meta_bytes,
	      "pages not returned: held %llu, meta %llu, superslabs %llu, "
	      "large cached %llu",
	      (unsigned long long)st.provider_held,
	      (unsigned long long)st.meta_bytes,
	      (unsigned long long)st.superslabs,
	      (unsigned long long)st.large_cached);
	printf("reports: %d overflow, %d use-after-free, %d double, %d interior\n",
	       log.count[HAK_EV_BUFFER_OVERFLOW], log.count[HAK_EV_USE_AFTER_FREE],
	       log.count[HAK_EV_DOUBLE_FREE], log.count[HAK_EV_INTERIOR_FREE]);
	printf("PASS debug\n");
	return 0;
}
