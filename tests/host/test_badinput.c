// SPDX-License-Identifier: MIT
/*
 * test_badinput - every kind of bad pointer is reported with its precise
 * kind and pointer, the heap is left exactly as it was (hak_check clean,
 * live counts unchanged, no block lost or handed out twice), and later
 * calls still work.
 *
 * By default the heap runs on the hosted port's arena provider, whose span
 * gets a sparse slab map (mm/slabmap.c); with the argument "region" over a
 * fixed region, whose slab map is filled at init (the bare-metal
 * default); with "mmap" on plain mmap, where free() walks the page map.
 * Every case runs in each.
 */
#include "check.h"
#include "../../mm/internal.h"

static struct report_log log;
static int global_var[16];

/* Call f(p) and demand exactly one report of kind ev about p. */
#define EXPECT(ev, p, call)                                                   \
	do {                                                                  \
		int before_ = log.count[ev], total_ = total_reports();        \
		call;                                                         \
		CHECK(log.count[ev] == before_ + 1 &&                         \
			      total_reports() == total_ + 1,                  \
		      "%s: expected one %s report", #call,                    \
		      hak_event_name(ev));                                    \
		CHECK(log.last_ptr == (const void *)(p), "%s: reported %p",   \
		      #call, log.last_ptr);                                   \
		CHECK(hak_check() == 0, "heap broken after %s", #call);       \
	} while (0)

static int total_reports(void)
{
	int i, n = 0;

	for (i = 0; i < HAK_EV__COUNT; i++)
		n += log.count[i];
	return n;
}

static uint64_t live_objects(void)
{
	struct hak_stats st;

	hak_stats(&st);
	return st.tier[0].objects_in_use + st.tier[1].objects_in_use +
	       st.tier[2].objects_in_use;
}

/* After a bad call, the next allocations must not hand out a block twice:
 * allocate many, fill each with its index, and verify. */
static void no_duplicates(size_t size)
{
	enum { N = 300 };
	char *p[N];
	int i;

	for (i = 0; i < N; i++) {
		p[i] = hak_malloc(size);
		CHECK(p[i], "malloc");
		memset(p[i], i & 0xff, size);
	}
	for (i = 0; i < N; i++) {
		CHECK((unsigned char)p[i][0] == (i & 0xff) &&
			      (unsigned char)p[i][size - 1] == (i & 0xff),
		      "block %p handed out twice", p[i]);
		hak_free(p[i]);
	}
}

static void double_frees(void)
{
	char *p = hak_malloc(64), *keep = hak_malloc(64);
	char *pool = hak_malloc(5000), *large = hak_malloc(200000);
	uint64_t live;

	/* In the CPU cache. */
	hak_free(p);
	live = live_objects();
	EXPECT(HAK_EV_DOUBLE_FREE, p, hak_free(p));
	CHECK(live_objects() == live, "double free changed the counts");
	no_duplicates(64);
	/* Back in its slab (keep holds the slab alive across the trim). */
	p = hak_malloc(64);
	hak_free(p);
	hak_trim();
	EXPECT(HAK_EV_DOUBLE_FREE, p, hak_free(p));
	EXPECT(HAK_EV_DOUBLE_FREE, p, CHECK(hak_realloc(p, 10) == NULL, "realloc"));
	EXPECT(HAK_EV_DOUBLE_FREE, p, CHECK(hak_usable_size(p) == 0, "usable"));
	hak_free(pool);
	EXPECT(HAK_EV_DOUBLE_FREE, pool, hak_free(pool));
	no_duplicates(5000);
	/* A released large run is no longer hakmem's at all. */
	hak_free(large);
	EXPECT(HAK_EV_INVALID_FREE, large, hak_free(large));
	hak_free(keep);
}

static void foreign_pointers(void)
{
	int on_stack[4];
	void *from_libc = malloc(64);
	char *p = hak_malloc(64);
	char *header = (char *)((uintptr_t)p & ~(uintptr_t)((1 << 20) - 1)) + 64;

	EXPECT(HAK_EV_INVALID_FREE, on_stack, hak_free(on_stack));
	EXPECT(HAK_EV_INVALID_FREE, global_var, hak_free(global_var));
	EXPECT(HAK_EV_INVALID_FREE, from_libc, hak_free(from_libc));
	EXPECT(HAK_EV_INVALID_FREE, (void *)0x1000, hak_free((void *)0x1000));
	EXPECT(HAK_EV_INVALID_FREE, (void *)0xdead00000000ULL,
	       hak_free((void *)0xdead00000000ULL));
	EXPECT(HAK_EV_INVALID_FREE, (void *)0xffff800000001000ULL,
	       hak_free((void *)0xffff800000001000ULL));
	/* The superslab header is hakmem's memory but never a block. */
	EXPECT(HAK_EV_INVALID_FREE, header, hak_free(header));
	EXPECT(HAK_EV_INVALID_FREE, from_libc,
	       CHECK(hak_realloc(from_libc, 100) == NULL, "realloc foreign"));
	EXPECT(HAK_EV_INVALID_FREE, on_stack,
	       CHECK(hak_usable_size(on_stack) == 0, "usable foreign"));
	free(from_libc);
	hak_free(p);
}

static void interior_pointers(void)
{
	char *t = hak_malloc(64), *pl = hak_malloc(3000), *lg = hak_malloc(100000);

	EXPECT(HAK_EV_INTERIOR_FREE, t + 16, hak_free(t + 16));
	EXPECT(HAK_EV_INTERIOR_FREE, t + 1, hak_free(t + 1));
	EXPECT(HAK_EV_INTERIOR_FREE, pl + 8, hak_free(pl + 8));
	EXPECT(HAK_EV_INTERIOR_FREE, pl + 2048, hak_free(pl + 2048));
	EXPECT(HAK_EV_INTERIOR_FREE, lg + 8, hak_free(lg + 8));
	/* Past the first page a large run maps to nothing in release
	 * builds; the debug build maps every page and knows it is inside. */
	EXPECT(HAK_DEBUG ? HAK_EV_INTERIOR_FREE : HAK_EV_INVALID_FREE, lg + 8192,
	       hak_free(lg + 8192));
	EXPECT(HAK_EV_INTERIOR_FREE, t + 32,
	       CHECK(hak_realloc(t + 32, 10) == NULL, "realloc interior"));
	/* The real blocks are intact and free normally. */
	CHECK(hak_usable_size(t) == 64 && hak_usable_size(lg) >= 100000, "sizes");
	hak_free(t);
	hak_free(pl);
	hak_free(lg);
}

/* A pointer into a slab past every object handed out so far is an
 * invalid free (never allocated), not a double free. */
static void never_allocated(void)
{
	char *p;

	/* The debug build's blocks carry a header, so p + 32 KiB is not an
	 * object start there; its own layer classifies it (test_debug). */
	if (HAK_DEBUG)
		return;
	p = hak_malloc(64);

	/* The slab holds 1024 64-byte objects; a few hundred are out. */
	EXPECT(HAK_EV_INVALID_FREE, p + 4096 * 8, hak_free(p + 4096 * 8));
	CHECK(log.last_what && strstr(log.last_what, "never allocated"),
	      "reason: %s", log.last_what);
	EXPECT(HAK_EV_INVALID_FREE, p + 4096 * 8,
	       CHECK(hak_usable_size(p + 4096 * 8) == 0, "usable"));
	hak_free(p);
	/* A freed block of the same slab is still a double free. */
	EXPECT(HAK_EV_DOUBLE_FREE, p, hak_free(p));
}

/*
 * An object that went from its slab to a CPU cache and back without ever
 * being allocated: free() must refuse it both while it is cached and once
 * it is back in the slab, although it lies below the high-water mark (the
 * slab gives every object its free cookie when it first leaves). Run
 * first, on a slab unit no earlier case used: memory that held a freed
 * block at the same address still carries that block's cookie, which
 * would hide a missing one.
 */
static void returned_unallocated(void)
{
	const size_t size = 448; /* a class nothing else here uses */
	struct hak_slab *s;
	char *p, *q;
	uintptr_t e;

	if (HAK_DEBUG) /* debug blocks are bigger: another class */
		return;
	p = hak_malloc(size);
	e = hak_pagemap_get((uintptr_t)p);
	CHECK((e & HAK_PM_TAG_MASK) == HAK_PM_TAG_SLAB, "slab entry");
	s = hak_pm_slab(e);
	CHECK(s->size == size && s->hwm >= 2, "a batch left the slab (hwm %u)",
	      s->hwm);
	q = (char *)s->start + (p == (char *)s->start ? size : 0);
	EXPECT(HAK_EV_DOUBLE_FREE, q, hak_free(q));
	CHECK(log.last_what && strstr(log.last_what, "CPU cache"), "reason: %s",
	      log.last_what);
	hak_trim(); /* the cache goes back to the slab, p stays out */
	EXPECT(HAK_EV_DOUBLE_FREE, q, hak_free(q));
	CHECK(log.last_what && strstr(log.last_what, "in its slab"),
	      "reason: %s", log.last_what);
	hak_free(p);
	no_duplicates(size);
}

/*
 * The one double free free() cannot see (docs/security.md): a write after
 * the first free erased the block's cookie. The block reaches a CPU cache
 * a second time; the drain back to its slab finds its bit already set and
 * reports it, and the heap holds it once. (Without a slab map free()
 * reads the bitmap and sees the first case itself.)
 */
static void double_free_after_uaf(void)
{
	char *p, *keep;

	if (HAK_DEBUG) /* the debug header catches it at the free itself */
		return;
	keep = hak_malloc(96); /* keeps the slab carved through the trims */
	p = hak_malloc(96);
	hak_free(p);
	hak_trim(); /* back in its slab */
	((uintptr_t *)p)[HAK_COOKIE_WORD] = 0; /* the use-after-free write */
	EXPECT(HAK_EV_DOUBLE_FREE, p, {
		hak_free(p);
		hak_trim();
	});
	/* Without a slab map (a provider without a span) every free takes
	 * the full lookup, whose bitmap look refuses this one at once. */
	CHECK(log.last_what &&
		      strstr(log.last_what,
			     hak_heap.sm_len ? "already free" : "in its slab"),
	      "reason: %s", log.last_what);
	/* Both frees still cached: the drain takes the first copy and
	 * reports the second (in one run of its slab unless the thread
	 * changed CPU between the frees; drain_runs drives that case
	 * directly). */
	hak_free(p = hak_malloc(96));
	((uintptr_t *)p)[HAK_COOKIE_WORD] = 0;
	EXPECT(HAK_EV_DOUBLE_FREE, p, {
		hak_free(p);
		hak_trim();
	});
	CHECK(log.last_what && strstr(log.last_what, "already free"),
	      "reason: %s", log.last_what);
	hak_free(keep);
	no_duplicates(96);
}

/*
 * The slab map's entries (layout.h struct hak_slab_entry): the 32-bit
 * divisibility test free() runs on them is exact for every offset in a
 * slab and every class size (and every multiple of 8 up to the Pool
 * limit); each live object's entry copies its slab; hak_check reports an
 * entry that disagrees.
 */
static void slab_map_entries(void)
{
	uint32_t off, size, div, cls;
	unsigned bad = 0, i;
	void *p[HAK_NCLASSES];
	uintptr_t saved;

	for (cls = 0; cls < HAK_NCLASSES; cls++) {
		size = hak_classes[cls].size;
		div = UINT32_MAX / size + 1;
		for (off = 0; off < HAK_SLAB_SIZE; off++)
			bad += hak_obj_aligned32(off, div) != (off % size == 0);
	}
	for (size = 8; size <= HAK_POOL_MAX; size += 8) {
		div = UINT32_MAX / size + 1;
		for (off = 0; off < HAK_SLAB_SIZE; off += 1 + (off & 7))
			bad += hak_obj_aligned32(off, div) != (off % size == 0);
	}
	CHECK(!bad, "32-bit divisibility test wrong %u times", bad);
	/* Debug blocks carry a header: another class, or a large run. */
	if (!hak_heap.sm_len || HAK_DEBUG)
		return;
	for (i = 0; i < HAK_NCLASSES; i++) {
		const struct hak_slab_entry *e;
		struct hak_slab *sl;

		p[i] = hak_malloc(hak_classes[i].size);
		CHECK(p[i], "malloc %u", hak_classes[i].size);
		e = hak_slab_entry_at(&hak_heap,
				      (uintptr_t)p[i] - hak_heap.sm_base);
		sl = hak_slab_of_object((uintptr_t)p[i]);
		CHECK(e->slab == sl && e->start == sl->start &&
			      e->hwm_off == sl->hwm_off &&
			      e->magoff == sl->magoff &&
			      e->div == UINT32_MAX / sl->size + 1 &&
			      (uintptr_t)p[i] - e->start < e->hwm_off,
		      "entry of %p does not copy its slab", p[i]);
	}
	/* A disagreeing entry is corruption that hak_check reports. */
	{
		struct hak_slab_entry *e = (struct hak_slab_entry *)
			hak_slab_entry_at(&hak_heap,
					  (uintptr_t)p[0] - hak_heap.sm_base);

		int before = log.count[HAK_EV_CORRUPTION];

		saved = e->hwm_off;
		e->hwm_off = saved + hak_classes[0].size;
		CHECK(hak_check() != 0, "hak_check missed the entry");
		e->hwm_off = saved;
		CHECK(log.count[HAK_EV_CORRUPTION] == before + 1 &&
			      log.last_ptr ==
				      hak_slab_of_object((uintptr_t)p[0]) &&
			      strstr(log.last_what, "slab map entry"),
		      "corruption reported %d times, last %s",
		      log.count[HAK_EV_CORRUPTION] - before, log.last_what);
	}
	for (i = 0; i < HAK_NCLASSES; i++)
		hak_free(p[i]);
	CHECK(hak_check() == 0, "hak_check");
}

/*
 * What a free() leaves a drain to do, on objects m_alloc'd here: give
 * each its free cookie, as free() does before it caches an object.
 */
static void mark_freed(void *p)
{
	struct hak_slab *s = hak_slab_of_object((uintptr_t)p);

	((uintptr_t *)p)[s->shard->cookie_word] = hak_heap.secret ^
						  (uintptr_t)p;
}

/*
 * The shared pool's drain (shared_pool.c) takes a batch in runs of one
 * slab, at most HAK_HOLD_SLABS runs per hold of the shard lock. A batch of
 * one object from each of 2 * HAK_HOLD_SLABS + 4 slabs takes three holds
 * and resumes where each stopped: every slab counts its object once,
 * nothing is reported, the heap checks clean. Then a batch holding twice the last live object
 * of a slab: the first copy empties the slab, the second is reported as a
 * double free in the same run, and the slab is counted free once.
 */
static void drain_runs(void)
{
	enum { NS = 2 * HAK_HOLD_SLABS + 4, N = NS * 128, SZ = 1024 };
	static void *p[N];
	void *batch[NS], *two[2];
	struct hak_slab *slab[NS], *s;
	struct hak_shard *sh;
	unsigned nfree[NS], ns = 0, i, k, in_slab;
	uint64_t out, holds;
	int before = total_reports();

	for (i = 0; i < N; i++) {
		p[i] = hak_malloc(SZ);
		CHECK(p[i], "malloc");
	}
	/* The first object met in each of NS distinct slabs. */
	for (i = 0; i < N && ns < NS; i++) {
		s = hak_slab_of_object((uintptr_t)p[i]);
		for (k = 0; k < ns && slab[k] != s; k++)
			;
		if (k < ns)
			continue;
		slab[ns] = s;
		nfree[ns] = s->nfree;
		batch[ns++] = p[i];
		p[i] = NULL;
	}
	CHECK(ns == NS, "only %u slabs", ns);
	sh = slab[0]->shard;
	out = sh->out_objects;
	holds = sh->lock.holds;
	for (i = 0; i < NS; i++)
		mark_freed(batch[i]);
	hak_shared_drain(sh, batch, NS);
	CHECK(sh->lock.holds - holds == 3, "%llu holds for %u slabs",
	      (unsigned long long)(sh->lock.holds - holds), NS);
	CHECK(sh->out_objects == out - NS, "out %llu, was %llu",
	      (unsigned long long)sh->out_objects, (unsigned long long)out);
	for (i = 0; i < NS; i++) {
		uintptr_t off = (uintptr_t)batch[i] - slab[i]->start;

		CHECK(slab[i]->nfree == nfree[i] + 1, "slab %u: nfree %u, was %u",
		      i, slab[i]->nfree, nfree[i]);
		CHECK(hak_slab_bit_is_free(slab[i],
					   hak_obj_index(off, slab[i]->inv)),
		      "object %u not free in its slab", i);
	}
	CHECK(total_reports() == before, "a clean drain reported");
	CHECK(hak_check() == 0, "heap broken after a drain of %u slabs", NS);

	/* A slab all of whose objects are ours: all but one go back. */
	for (i = 0; i < N; i++) {
		if (!p[i])
			continue;
		s = hak_slab_of_object((uintptr_t)p[i]);
		for (in_slab = 0, k = 0; k < N; k++)
			in_slab += p[k] && hak_slab_of_object((uintptr_t)p[k]) == s;
		if (in_slab == s->capacity)
			break;
	}
	CHECK(i < N, "no slab wholly allocated here");
	two[0] = two[1] = p[i];
	p[i] = NULL;
	for (k = 0; k < N; k++) {
		if (p[k] && hak_slab_of_object((uintptr_t)p[k]) == s) {
			hak_free(p[k]);
			p[k] = NULL;
		}
	}
	hak_trim(); /* the cached ones back in their slab */
	CHECK(s->nfree == s->capacity - 1, "slab holds %u of %u free",
	      s->nfree, s->capacity);
	mark_freed(two[0]);
	EXPECT(HAK_EV_DOUBLE_FREE, two[0], hak_shared_drain(sh, two, 2));
	CHECK(log.last_what && strstr(log.last_what, "already free"),
	      "reason: %s", log.last_what);
	CHECK(s->shard != sh || s->nfree == s->capacity,
	      "emptied slab still counts %u of %u free", s->nfree,
	      s->capacity);
	for (i = 0; i < N; i++)
		hak_free(p[i]);
	hak_trim();
	CHECK(hak_check() == 0, "heap broken after the drains");
	no_duplicates(SZ);
}

/* API calls out of contract: reported, and nothing changes. */
static void misuse(void)
{
	static char region[64 * 4096];
	struct hak_page_provider pp;
	struct hak_config cfg = { 0 };
	char *p = hak_malloc(100);

	cfg.provider = hak_hosted_mmap_provider();
	cfg.ncpus = 2;
	EXPECT(HAK_EV_MISUSE, NULL, CHECK(hak_init(&cfg) == -1, "second init"));
	memset(region, 0x5a, sizeof(region));
	EXPECT(HAK_EV_MISUSE, region,
	       CHECK(hak_init_region(region, sizeof(region), 2, NULL, NULL) ==
			     -1,
		     "init_region over a live heap"));
	CHECK(region[0] == 0x5a && region[sizeof(region) - 1] == 0x5a,
	      "a refused init_region wrote to the region");
	EXPECT(HAK_EV_MISUSE, NULL, hak_cpu_offline(2));
	EXPECT(HAK_EV_MISUSE, NULL, hak_stats(NULL));
	CHECK(hak_region_provider(NULL, 1 << 20, &pp) == -1, "NULL region");
	CHECK(hak_region_provider(region, 15 * 4096, &pp) == -1,
	      "region under 16 pages");
	CHECK(hak_region_provider(region, sizeof(region), NULL) == -1,
	      "NULL out");
	/* A base in the last page of the address space: rounded up to a
	 * page it wraps to 0, and the bookkeeping went to NULL (found by
	 * review; this crashed before). Nothing there is touched. */
	CHECK(hak_region_provider((void *)(UINTPTR_MAX - 100), 50, &pp) == -1,
	      "region at the top of the address space");
	CHECK(hak_region_provider(region, sizeof(region), &pp) == 0 &&
		      pp.alloc && pp.release && pp.ctx,
	      "region provider");
	CHECK(hak_usable_size(p) >= 100, "the heap still works");
	hak_free(p);
}

int main(int argc, char **argv)
{
	static char region[64 << 20] __attribute__((aligned(4096)));
	const char *mode = argc > 1 ? argv[1] : "arena";
	int use_region = !strcmp(mode, "region");
	struct hak_config cfg = { 0 };
	struct hak_stats st;
	int i;

	if (use_region) {
		CHECK(hak_init_region(region, sizeof(region), 2, report_record,
				      &log) == 0,
		      "init region");
		CHECK(hak_heap.sm_len >= sizeof(region) - (1 << 20) &&
			      hak_heap.sm[0].slab == &hak_null_slab,
		      "no filled slab map over the region");
	} else if (!strcmp(mode, "mmap")) {
		cfg.provider = hak_hosted_mmap_provider();
		cfg.ncpus = 2;
		cfg.report = report_record;
		cfg.report_ctx = &log;
		CHECK(hak_init(&cfg) == 0, "hak_init");
		CHECK(hak_heap.sm_len == 0, "slab map without a span");
	} else {
		init_hosted(2, &log);
		CHECK(hak_heap.sm_len >= (1UL << 30) && !hak_heap.sm[0].slab,
		      "no sparse slab map over the arena");
	}
	/* What hak_stats says free() reads: the bench scripts rely on it to
	 * refuse runs that lost the arena (bench/lib.sh check_run). */
	hak_stats(&st);
	CHECK(!strcmp(st.free_lookup, hak_heap.sm_len ? "slabmap" : "pagemap"),
	      "%s: free_lookup %s with a slab map of %lu bytes", mode,
	      st.free_lookup, (unsigned long)hak_heap.sm_len);
	CHECK(!strcmp(mode, "mmap") == !strcmp(st.free_lookup, "pagemap"),
	      "%s: free_lookup %s", mode, st.free_lookup);
	log.quiet = 1;
	/* Warm every tier so the pointers below land in live superslabs. */
	for (i = 0; i < 3; i++)
		hak_free(hak_malloc(i == 0 ? 64 : i == 1 ? 5000 : 200000));
	returned_unallocated(); /* first: its slab must be new memory */
	slab_map_entries();
	double_frees();
	foreign_pointers();
	interior_pointers();
	never_allocated();
	double_free_after_uaf();
	drain_runs();
	misuse();
	no_duplicates(64);
	no_duplicates(3000);
	hak_trim();
	CHECK(hak_check() == 0, "final check");
	hak_stats(&st);
	CHECK(st.bytes_in_use == 0, "leak %llu", (unsigned long long)st.bytes_in_use);
	CHECK(st.provider_held == st.meta_bytes, "pages not returned");
	CHECK(st.events[HAK_EV_DOUBLE_FREE] == (uint64_t)log.count[HAK_EV_DOUBLE_FREE],
	      "stats count reports");
	printf("reports: %d double, %d invalid, %d interior\n",
	       log.count[HAK_EV_DOUBLE_FREE], log.count[HAK_EV_INVALID_FREE],
	       log.count[HAK_EV_INTERIOR_FREE]);
	printf("PASS badinput (%s)\n", mode);
	return 0;
}
