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
 * provider that are never given back, reused through a free list. So a
 * free that read an entry just before a racing free cleared it follows a
 * record that is still a record, and finds out under the heap's lock.
 *
 * Bounds, under the heap's lock: a malloc makes at most one provider
 * alloc and at most one release (decay); the page-map nodes are made with
 * the lock dropped; a free at most four releases (decay, two evictions,
 * the run itself). When the provider says no, one reclaim pass and one
 * more call.
 */
#include "internal.h"

#define run_of(n) hak_list_entry(n, struct hak_large_run, link)

static hak_spinlock_t run_lock;
static struct hak_list *run_free;
/* The record pages, through their record 0 (kept as the page's link):
 * for tests that account for every metadata page. */
static struct hak_list *run_pages;

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
	flags = hak_lock(&hak_heap.lock);
	page = hak_provider_alloc(&hak_heap, HAK_PAGE_SIZE, HAK_PAGE_SIZE, 1);
	hak_unlock(&hak_heap.lock, flags);
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

void *hak_large_alloc(size_t size, size_t align, struct hak_heap *h)
{
	struct hak_large_run *r;
	size_t bytes;
	unsigned long flags;
	void *p;

	if (size > ((size_t)1 << (HAK_PM_ADDR_BITS - 1))) {
		hak_report_heap(h, HAK_EV_SIZE_OVERFLOW, NULL, size,
				"request too large");
		return NULL;
	}
	bytes = hak_round_up(size ? size : 1, HAK_PAGE_SIZE);
	if (align < HAK_PAGE_SIZE)
		align = HAK_PAGE_SIZE;
	r = hak_large_run_get();
	if (!r)
		return large_oom(h, size, "large run record");
	flags = hak_lock(&h->lock);
	hak_large_cache_tick(h);
	p = NULL;
	if (align == HAK_PAGE_SIZE) {
		size_t got;

		p = hak_large_cache_take(h, bytes >> HAK_PAGE_SHIFT, &got);
		if (p)
			bytes = got << HAK_PAGE_SHIFT;
	}
	if (!p)
		p = hak_provider_alloc(h, bytes, align, 0);
	if (!p) {
		/* Out of memory: give back what hysteresis and caches hold,
		 * then try once more. */
		hak_unlock(&h->lock, flags);
		hak_reclaim(h);
		flags = hak_lock(&h->lock);
		p = hak_provider_alloc(h, bytes, align, 0);
	}
	hak_unlock(&h->lock, flags);
	/* The run is nobody else's yet: its page-map nodes are made with
	 * no lock held, its entries then written under the heap's lock. */
	if (p && hak_pagemap_reserve((uintptr_t)p, HAK_DEBUG ? bytes : 1)) {
		flags = hak_lock(&h->lock);
		hak_provider_release(h, p, bytes);
		hak_unlock(&h->lock, flags);
		p = NULL;
	}
	if (!p) {
		hak_large_run_put(r);
		return large_oom(h, size, h == &hak_heap
						  ? "large run"
						  : "large run (heap limit or "
						    "provider)");
	}
	r->addr = (uintptr_t)p;
	r->npages = bytes >> HAK_PAGE_SHIFT;
	r->heap = h;
	if (HAK_DEBUG)
		map_tail(p, bytes, 1);
	flags = hak_lock(&h->lock);
	hak_list_push(&h->large_runs, &r->link);
	hak_pagemap_set((uintptr_t)p, hak_pm_large_entry(r));
	h->large_bytes += bytes;
	if (h->large_bytes > h->large_peak)
		h->large_peak = h->large_bytes;
	h->large_objects++;
	h->large_allocs++;
	hak_unlock(&h->lock, flags);
	hak_stats_out_add(h, (int64_t)bytes);
	return p;
}

/* h's lock held: r's run off the map and h's books; returns its bytes. */
static size_t run_unmap(struct hak_heap *h, struct hak_large_run *r)
{
	size_t bytes = r->npages << HAK_PAGE_SHIFT;

	if (HAK_DEBUG)
		map_tail((void *)r->addr, bytes, 0);
	hak_pagemap_set(r->addr, 0);
	hak_list_del(&h->large_runs, &r->link);
	h->large_bytes -= bytes;
	h->large_objects--;
	h->large_frees++;
	return bytes;
}

void hak_large_free(void *p, uintptr_t entry)
{
	struct hak_large_run *r = hak_pm_large_run(entry);
	struct hak_heap *h = __atomic_load_n(&r->heap, __ATOMIC_RELAXED);
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
	hak_large_cache_tick(h);
	bytes = run_unmap(h, r);
	if (!hak_large_cache_put(h, p, bytes >> HAK_PAGE_SHIFT))
		hak_provider_release(h, p, bytes);
	hak_unlock(&h->lock, flags);
	hak_large_run_put(r);
	hak_stats_out_add(h, -(int64_t)bytes);
}

size_t hak_large_usable(const void *p, uintptr_t entry)
{
	if ((uintptr_t)p & (HAK_PAGE_SIZE - 1))
		return 0;
	return hak_pm_large_run(entry)->npages << HAK_PAGE_SHIFT;
}

/* One run per lock hold: a release each. */
uint64_t hak_large_release_all(struct hak_heap *h)
{
	uint64_t n = 0;

	for (;;) {
		unsigned long flags = hak_lock(&h->lock);
		struct hak_large_run *r = run_of(h->large_runs);
		size_t bytes;

		if (!r) {
			hak_unlock(&h->lock, flags);
			break;
		}
		bytes = run_unmap(h, r);
		h->large_frees--; /* not a free the user made */
		hak_provider_release(h, (void *)r->addr, bytes);
		hak_unlock(&h->lock, flags);
		hak_stats_out_add(h, -(int64_t)bytes);
		hak_large_run_put(r);
		n++;
	}
	hak_large_cache_flush(h);
	return n;
}

/* hak_check: every live run's entry leads back to its record. */
int hak_large_check(struct hak_heap *h)
{
	unsigned long flags = hak_lock(&h->lock);
	struct hak_large_run *r;
	uint64_t n = 0, bytes = 0;
	int bad = 0;

	for (r = run_of(h->large_runs); r && n <= h->large_objects;
	     r = run_of(r->link.next)) {
		n++;
		bytes += r->npages << HAK_PAGE_SHIFT;
		if (r->heap != h ||
		    hak_pagemap_get(r->addr) != hak_pm_large_entry(r))
			bad++;
	}
	if (n != h->large_objects || bytes != h->large_bytes)
		bad++;
	hak_unlock(&h->lock, flags);
	if (bad)
		hak_report_heap(h, HAK_EV_CORRUPTION, NULL, 0, "large runs");
	return bad;
}
