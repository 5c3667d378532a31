// SPDX-License-Identifier: MIT
/*
 * large.c - the Large tier: a block above HAK_POOL_MAX (or with an
 * alignment no class gives) is its own page run, from the large-run cache
 * (large_cache.c) or the provider; on free it goes back to the cache, or
 * to the provider when the cache refuses it. No header is written into
 * the run: its record (struct hak_large_run: address, real page count,
 * which a run from the cache may exceed the request's by up to a quarter,
 * and owning heap) is what the page-map entry of its first page points
 * at, so the whole run is the caller's and a pointer into the middle of a
 * run maps to nothing. Each heap lists its live runs, so a destroy finds
 * them all.
 *
 * Records are type-stable: taken from pages of the default heap's
 * provider that are never given back, reused through free lists. So a
 * free that read an entry just before a racing free cleared it follows a
 * record that is still a record, and finds out under the heap's lock.
 * A freed run's record goes on its heap's own list, under the heap's
 * lock the free holds anyway, and the next malloc takes it there; the
 * global list (its own lock) serves a heap with none, and takes back a
 * destroyed heap's.
 *
 * A malloc the cache serves, whose page-map nodes exist, is one hold of
 * the heap's lock; a free is one too: the path just above 32 KiB
 * (xmalloc-test's batch records) costs about what a slab miss does, not
 * four locks and a provider round trip.
 *
 * No provider call for a run runs under the heap's lock (page-map nodes
 * may: pagemap.c, design.md's metadata exception), which every CPU's large
 * (and slab) traffic waits on: an mmap or munmap is microseconds, and a
 * munmap in a threaded process is a TLB shootdown too. A malloc's run is
 * charged against the heap's limit under the lock and taken from the
 * provider with it dropped (provider.c); the runs a malloc or free gives
 * back (decay, evictions, a refused run) leave the books under the lock
 * and go back after it is dropped.
 *
 * Bounds: a malloc makes at most one provider alloc for its run and one
 * for a record page, and at most five releases (decay, and the room a
 * miss makes); the page-map nodes are made with the lock dropped; a free
 * at most four releases (decay, two evictions, the run itself). When
 * the provider says no (the run, the record page or a node), one reclaim
 * pass in all and one more call.
 */
#include "internal.h"

#define run_of(n) hak_list_entry(n, struct hak_large_run, link)

static hak_spinlock_t run_lock;
static struct hak_list *run_free;
/* The record pages, through their record 0 (kept as the page's link):
 * for tests that account for every metadata page. */
static struct hak_list *run_pages;

/* hak_stats: the run records' lock's counts. */
void hak_large_run_lock_stats(uint64_t *holds, uint64_t *waits)
{
	hak_lock_stats(&run_lock, holds, waits);
}

/* No lock held. A record: from the free list, else a fresh page of them
 * from the default heap's provider (metadata, never returned). */
struct hak_large_run *hak_large_run_get(void)
{
	unsigned long flags = hak_lock(&run_lock);
	struct hak_large_run *r = run_of(run_free), *page;
	unsigned i, n = HAK_PAGE_SIZE / sizeof(*r);

	if (r)
		hak_list_del(&run_free, &r->link);
	hak_unlock(&run_lock, flags);
	if (r)
		return r;
	page = hak_provider_alloc_unlocked(&hak_heap, HAK_PAGE_SIZE,
					   HAK_PAGE_SIZE, 1);
	if (!page)
		return NULL;
	hak_memset(page, 0, HAK_PAGE_SIZE);
	flags = hak_lock(&run_lock);
	hak_list_push(&run_pages, &page[0].link);
	for (i = 2; i < n; i++)
		hak_list_push(&run_free, &page[i].link);
	hak_unlock(&run_lock, flags);
	return &page[1];
}

unsigned hak_large_run_pages(uintptr_t *out, unsigned max)
{
	unsigned long flags = hak_lock(&run_lock);
	struct hak_list *n;
	unsigned k = 0;

	for (n = run_pages; n; n = n->next, k++)
		if (k < max)
			out[k] = (uintptr_t)n & ~(HAK_PAGE_SIZE - 1);
	hak_unlock(&run_lock, flags);
	return k;
}

void hak_large_run_put(struct hak_large_run *r)
{
	unsigned long flags = hak_lock(&run_lock);

	r->addr = 0;
	r->npages = 0;
	hak_list_push(&run_free, &r->link);
	hak_unlock(&run_lock, flags);
}

void hak_large_run_lock(int take)
{
	if (take)
		hak_lock(&run_lock);
	else
		hak_unlock(&run_lock, 0);
}

/*
 * Debug build: every page after the first maps to its distance from the
 * first (tag 3), so a pointer anywhere in the run finds the run. This
 * costs a page-map write per page, which release builds do not pay.
 */
static void map_tail(void *p, size_t bytes, int map)
{
	uintptr_t a = (uintptr_t)p, i, n = bytes >> HAK_PAGE_SHIFT;

	for (i = 1; i < n; i++)
		hak_pagemap_set(a + (i << HAK_PAGE_SHIFT),
				map ? hak_pm_tail_entry(i) : 0);
}

static void *large_oom(struct hak_heap *h, size_t size, const char *what)
{
	hak_report_heap(h, HAK_EV_OUT_OF_MEMORY, NULL, size, what);
	return NULL;
}

/* h's lock held: a cached run of at least *bytes (page-aligned requests
 * only); *bytes becomes its real length. */
static void *large_take(struct hak_heap *h, size_t *bytes, size_t align)
{
	size_t got;
	void *p;

	if (align != HAK_PAGE_SIZE)
		return NULL;
	p = hak_large_cache_take(h, *bytes >> HAK_PAGE_SHIFT, &got);
	if (p)
		*bytes = got << HAK_PAGE_SHIFT;
	return p;
}

/* No lock held: the provider call of a charged run; a refusal settles
 * the charge. */
static void *large_call(struct hak_heap *h, size_t bytes, size_t align,
			int *fresh)
{
	unsigned long flags;
	void *p = hak_provider_get_large(h, bytes, align);

	if (!p) {
		flags = hak_lock(&h->lock);
		hak_provider_settle(h, bytes, NULL, 0);
		hak_unlock(&h->lock, flags);
		*fresh = 0;
	}
	return p;
}

/* No lock held: give back a run (p, or only a charge when p is NULL)
 * that became nobody's block. */
static void large_unget(struct hak_heap *h, void *p, size_t bytes, int fresh)
{
	struct hak_pending pd = { .h = h };
	unsigned long flags;

	if (!fresh) {
		/* From the cache, booked as taken (or nothing). */
		if (p)
			hak_pending_add(&pd, p, bytes);
		hak_provider_release_pending(h, &pd);
		return;
	}
	/* Released before the charge goes: the heap never counts less
	 * than its provider has given it. */
	if (p)
		hak_provider_put(h, p, bytes);
	flags = hak_lock(&h->lock);
	hak_provider_settle(h, bytes, NULL, 0);
	hak_unlock(&h->lock, flags);
}

/* h's lock held: r becomes the record of the block p of bytes, on h's
 * list, in the page map (its nodes exist) and in h's books. */
static void large_map(struct hak_heap *h, struct hak_large_run *r, void *p,
		      size_t bytes)
{
	r->addr = (uintptr_t)p;
	r->npages = bytes >> HAK_PAGE_SHIFT;
	__atomic_store_n(&r->heap, h, __ATOMIC_RELAXED);
	hak_list_push(&h->large_runs, &r->link);
	hak_pagemap_set((uintptr_t)p, hak_pm_large_entry(r));
	__atomic_store_n(&h->large_bytes, h->large_bytes + bytes,
			 __ATOMIC_RELAXED);
	if (h->large_bytes > h->large_peak)
		h->large_peak = h->large_bytes;
	h->large_objects++;
	h->large_allocs++;
	hak_stats_large_peak(h);
}

/* No lock held: the page-map nodes of run p, with the same one reclaim
 * pass and retry (unless the call had it) when the provider says no:
 * the default heap's, whose provider gives the nodes (own: the bytes the
 * caller has charged on it). */
static int map_nodes(void *p, size_t bytes, int reclaimed, uint64_t own)
{
	size_t span = HAK_DEBUG ? bytes : 1;

	if (!hak_pagemap_reserve((uintptr_t)p, span))
		return 0;
	if (reclaimed)
		return -1;
	hak_reclaim(&hak_heap, own);
	return hak_pagemap_reserve((uintptr_t)p, span);
}

/* What a large malloc holds charged on the default heap, which the
 * reclaims of records and page-map nodes (the default heap's) must not
 * wait on: hak_reclaim's own. */
static uint64_t charged_default(const struct hak_heap *h, int fresh,
				size_t bytes)
{
	return h == &hak_heap && fresh ? bytes : 0;
}

/*
 * No lock held. What the first hold left: a record r or none, a cached
 * run p or none, or a charge (fresh) for a provider call. Gets what is
 * missing (a reclaim pass and one more try when the provider says no),
 * makes the page-map nodes and maps the run. At most one reclaim pass of
 * each heap: rec_default for the default heap (records and nodes come
 * from its provider), rec_h for h (the run); one flag when h is the
 * default heap. (One flag for both skipped a created heap's own pass
 * after a record's pass of the default heap: NULL with h's cache full of
 * runs that fit, found by review.)
 */
static void *large_alloc_slow(struct hak_heap *h, size_t size, size_t align,
			      size_t bytes, struct hak_large_run *r, void *p,
			      int fresh)
{
	unsigned long flags;
	int rec_default = 0, rec_h = 0;

	if (!r)
		r = hak_large_run_get();
	if (!r) {
		/* The record's page is metadata from the default heap's
		 * provider: the same one reclaim pass (of the default heap,
		 * whose provider said no) and one more try as a refused run
		 * (the run we may hold stays ours meanwhile; found by
		 * review: a cached run went back and NULL came out with no
		 * reclaim). */
		hak_reclaim(&hak_heap, charged_default(h, fresh, bytes));
		rec_default = 1;
		rec_h = h == &hak_heap;
		r = hak_large_run_get();
	}
	if (!r) {
		large_unget(h, p, bytes, fresh);
		return large_oom(h, size, "large run record");
	}
	if (!p && fresh)
		p = large_call(h, bytes, align, &fresh);
	if (!p && !rec_h) {
		/* Out of memory: give back what hysteresis and caches hold,
		 * then try once more. */
		struct hak_pending pd = { .h = h };

		hak_reclaim(h, 0);
		rec_h = 1;
		rec_default |= h == &hak_heap;
		flags = hak_lock(&h->lock);
		/* A tick first, as in every hold that may cache a run (a
		 * split's rest): else the rest could share its stamp with
		 * a run cached in the last hold, and decay, which lets one
		 * run go a tick, would keep one past HAK_LC_DECAY, which
		 * hak_check reports (found by review). */
		hak_large_cache_tick(h, &pd);
		p = large_take(h, &bytes, align);
		fresh = !p && !hak_provider_charge(h, bytes);
		hak_unlock(&h->lock, flags);
		hak_provider_release_pending(h, &pd);
		if (fresh)
			p = large_call(h, bytes, align, &fresh);
	}
	/* The run is nobody else's yet: its page-map nodes are made with
	 * no lock held, its entries then written under the heap's lock. */
	if (p && map_nodes(p, bytes, rec_default,
			   charged_default(h, fresh, bytes))) {
		large_unget(h, p, bytes, fresh);
		p = NULL;
	}
	if (!p) {
		hak_large_run_put(r);
		return large_oom(h, size, h == &hak_heap
						  ? "large run"
						  : "large run (heap limit or "
						    "provider)");
	}
	if (HAK_DEBUG)
		map_tail(p, bytes, 1);
	flags = hak_lock(&h->lock);
	if (fresh)
		hak_provider_settle(h, bytes, p, 0);
	large_map(h, r, p, bytes);
	hak_unlock(&h->lock, flags);
	return p;
}

/*
 * One hold of h's lock: the decay tick, a record from h's list and a run
 * from the cache; if both are there and the run's page-map nodes exist
 * (release builds: only its first page is mapped), the block is mapped
 * in the same hold. Else the hold charges a provider call, and the rest
 * runs with the lock dropped (large_alloc_slow).
 */
void *hak_large_alloc(size_t size, size_t align, struct hak_heap *h)
{
	struct hak_pending pd = { .h = h };
	struct hak_large_run *r;
	unsigned long flags;
	size_t bytes;
	int fresh;
	void *p;

	/* Not to the provider, whose refusal would cost a reclaim of the
	 * whole heap and then read as out of memory (found by review).
	 * Before the size: a debug build's header makes that as large. */
	if (align > ((size_t)1 << (HAK_PM_ADDR_BITS - 1))) {
		hak_report_heap(h, HAK_EV_BAD_ALIGNMENT, NULL, align,
				"alignment beyond the address space");
		return NULL;
	}
	if (size > ((size_t)1 << (HAK_PM_ADDR_BITS - 1))) {
		hak_report_heap(h, HAK_EV_SIZE_OVERFLOW, NULL, size,
				"request too large");
		return NULL;
	}
	bytes = hak_round_up(size ? size : 1, HAK_PAGE_SIZE);
	if (align < HAK_PAGE_SIZE)
		align = HAK_PAGE_SIZE;
	flags = hak_lock(&h->lock);
	hak_large_cache_tick(h, &pd);
	r = run_of(h->run_free);
	if (r)
		hak_list_del(&h->run_free, &r->link);
	p = large_take(h, &bytes, align);
	if (p && r && !HAK_DEBUG && hak_pagemap_covered((uintptr_t)p, 1)) {
		large_map(h, r, p, bytes);
		hak_unlock(&h->lock, flags);
		hak_provider_release_pending(h, &pd);
		return p;
	}
	/* A fresh run: first make room within the headroom, so that the
	 * cache never holds memory on top of a new live peak. */
	if (!p)
		hak_large_cache_make_room(h, bytes, &pd);
	fresh = !p && !hak_provider_charge(h, bytes);
	hak_unlock(&h->lock, flags);
	hak_provider_release_pending(h, &pd);
	return large_alloc_slow(h, size, align, bytes, r, p, fresh);
}

/* h's lock held: r's run off the map and h's books; returns its bytes. */
static size_t run_unmap(struct hak_heap *h, struct hak_large_run *r)
{
	size_t bytes = r->npages << HAK_PAGE_SHIFT;

	if (HAK_DEBUG)
		map_tail((void *)r->addr, bytes, 0);
	hak_pagemap_set(r->addr, 0);
	hak_list_del(&h->large_runs, &r->link);
	__atomic_store_n(&h->large_bytes, h->large_bytes - bytes,
			 __ATOMIC_RELAXED);
	h->large_objects--;
	h->large_frees++;
	return bytes;
}

void hak_large_free(void *p, uintptr_t entry)
{
	struct hak_large_run *r = hak_pm_large_run(entry);
	struct hak_heap *h = __atomic_load_n(&r->heap, __ATOMIC_RELAXED);
	struct hak_pending pd = { .h = h };
	unsigned long flags;
	size_t bytes;

	if ((uintptr_t)p & (HAK_PAGE_SIZE - 1)) {
		hak_report(HAK_EV_INTERIOR_FREE, p, 0, "inside a large block");
		return;
	}
	flags = hak_lock(&h->lock);
	/* Re-read under the lock: a racing free of the same run loses. */
	if (hak_pagemap_get((uintptr_t)p) != entry ||
	    r->addr != (uintptr_t)p || r->heap != h) {
		hak_unlock(&h->lock, flags);
		hak_report(HAK_EV_DOUBLE_FREE, p, 0, "large block freed twice");
		return;
	}
	hak_large_cache_tick(h, &pd);
	bytes = run_unmap(h, r);
	if (!hak_large_cache_put(h, p, bytes >> HAK_PAGE_SHIFT, &pd))
		hak_pending_add(&pd, p, bytes);
	/* The record stays h's, for its next malloc; a racing second free
	 * of p finds addr 0 under the lock. */
	r->addr = 0;
	r->npages = 0;
	hak_list_push(&h->run_free, &r->link);
	hak_unlock(&h->lock, flags);
	hak_provider_release_pending(h, &pd);
}

size_t hak_large_usable(const void *p, uintptr_t entry)
{
	if ((uintptr_t)p & (HAK_PAGE_SIZE - 1))
		return 0;
	return hak_pm_large_run(entry)->npages << HAK_PAGE_SHIFT;
}

/* Heap destroy (h quiescent): h's free records back on the global list,
 * for other heaps. */
static void large_records_back(struct hak_heap *h)
{
	unsigned long flags = hak_lock(&h->lock);
	struct hak_large_run *r = run_of(h->run_free), *next;

	h->run_free = NULL;
	hak_unlock(&h->lock, flags);
	for (; r; r = next) {
		next = run_of(r->link.next);
		hak_large_run_put(r);
	}
}

/* Heap destroy (h quiescent): HAK_PENDING_MAX runs off the books per
 * lock hold, given back with it dropped. */
uint64_t hak_large_release_all(struct hak_heap *h)
{
	struct hak_large_run *done[HAK_PENDING_MAX];
	struct hak_pending pd = { .h = h };
	uint64_t n = 0;
	unsigned i, k;

	do {
		unsigned long flags = hak_lock(&h->lock);
		struct hak_large_run *r;

		while (pd.n < HAK_PENDING_MAX &&
		       (r = run_of(h->large_runs))) {
			run_unmap(h, r);
			h->large_frees--; /* not a free the user made */
			done[pd.n] = r;
			hak_pending_add(&pd, (void *)r->addr,
					r->npages << HAK_PAGE_SHIFT);
		}
		hak_unlock(&h->lock, flags);
		k = pd.n;
		hak_provider_release_pending(h, &pd);
		for (i = 0; i < k; i++)
			hak_large_run_put(done[i]);
		n += k;
	} while (k == HAK_PENDING_MAX);
	hak_large_cache_flush(h);
	large_records_back(h);
	return n;
}

/*
 * hak_check: every live run's entry leads back to its record, and the
 * totals agree: LARGE_CHECK_STEP runs per hold of h's lock (hak_walk), so
 * the walk is bounded per hold however many runs are live.
 */
#define LARGE_CHECK_STEP 32

int hak_large_check(struct hak_heap *h)
{
	struct hak_walk w = { .l = &h->lock, .skips = &h->check_skips };
	struct hak_large_run *r = NULL;
	uint64_t n = 0, bytes = 0;
	unsigned steps;
	int bad = 0;

	for (;;) {
		int on = hak_walk_hold(&w);

		if (on == HAK_WALK_GIVE_UP)
			goto out;
		if (on == HAK_WALK_START) {
			r = run_of(h->large_runs);
			n = bytes = 0;
		}
		for (steps = 0; r && n <= h->large_objects &&
				steps < LARGE_CHECK_STEP;
		     steps++, r = run_of(r->link.next)) {
			n++;
			bytes += r->npages << HAK_PAGE_SHIFT;
			if (r->heap != h ||
			    hak_pagemap_get(r->addr) != hak_pm_large_entry(r))
				bad++;
		}
		if (!r || n > h->large_objects)
			break;
		hak_walk_let_go(&w);
	}
	if (n != h->large_objects || bytes != h->large_bytes)
		bad++;
	hak_walk_let_go(&w);
out:
	if (bad)
		hak_report_heap(h, HAK_EV_CORRUPTION, NULL, 0, "large runs");
	return bad;
}
