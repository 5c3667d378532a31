// SPDX-License-Identifier: MIT
/*
 * large.c - the Large tier: a block above HAK_POOL_MAX (or with an
 * alignment no class gives) is its own page run, from the large-run cache
 * (large_cache.c) or the provider; on free it goes back to the cache, or
 * to the provider when the cache refuses it. No header is written into
 * the run: its real page count (which a run from the cache may exceed the
 * request's by up to a quarter) is kept in the page-map entry of its first
 * page, so the whole run is the caller's and a pointer into the middle of
 * a run maps to nothing.
 *
 * Bounds, under the global lock: a malloc makes at most one provider
 * alloc, at most one release (decay) and at most two page-map node
 * allocations (zeroed with the lock dropped); a free at most four
 * releases (decay, two evictions, the run itself). When the provider says
 * no, one reclaim pass (hak_trim) and one more call.
 */
#include "internal.h"

/*
 * Debug build: every page after the first maps to its distance from the
 * first (tag 3), so a pointer anywhere in the run finds the run. This
 * costs a page-map write per page, which release builds do not pay.
 */
static int map_tail(void *p, size_t bytes, int map)
{
	uintptr_t a = (uintptr_t)p, i, n = bytes >> HAK_PAGE_SHIFT;

	for (i = 1; i < n; i++)
		if (hak_pagemap_set(a + (i << HAK_PAGE_SHIFT),
				    map ? hak_pm_tail_entry(i) : 0))
			return -1;
	return 0;
}

/*
 * Global lock held: the first page's entry. Its nodes usually exist; if
 * not, hak_pagemap_grow makes them, which may drop the lock while it
 * zeroes one: the run is nobody else's yet. Debug builds grow the nodes
 * for every page of the run (map_tail).
 */
static int large_map(void *p, size_t bytes, unsigned long *flags)
{
	uintptr_t a = (uintptr_t)p;
	uintptr_t v = hak_pm_large_entry(bytes >> HAK_PAGE_SHIFT);

	if (!HAK_DEBUG && !hak_pagemap_set(a, v))
		return 0;
	if (hak_pagemap_grow(a, HAK_DEBUG ? bytes : 1, flags))
		return -1;
	return hak_pagemap_set(a, v);
}

void *hak_large_alloc(size_t size, size_t align)
{
	size_t bytes;
	unsigned long flags;
	void *p;

	if (size > ((size_t)1 << (HAK_PM_ADDR_BITS - 1))) {
		hak_report(HAK_EV_SIZE_OVERFLOW, NULL, size,
			   "request too large");
		return NULL;
	}
	bytes = hak_round_up(size ? size : 1, HAK_PAGE_SIZE);
	if (align < HAK_PAGE_SIZE)
		align = HAK_PAGE_SIZE;
	flags = hak_lock(&hak_heap.lock);
	hak_large_cache_tick();
	p = NULL;
	if (align == HAK_PAGE_SIZE) {
		size_t got;

		p = hak_large_cache_take(bytes >> HAK_PAGE_SHIFT, &got);
		if (p)
			bytes = got << HAK_PAGE_SHIFT;
	}
	if (!p)
		p = hak_provider_alloc(bytes, align, 0);
	if (!p) {
		/* Out of memory: give back what hysteresis and caches hold,
		 * then try once more. */
		hak_unlock(&hak_heap.lock, flags);
		hak_reclaim();
		flags = hak_lock(&hak_heap.lock);
		p = hak_provider_alloc(bytes, align, 0);
	}
	if (p && large_map(p, bytes, &flags)) {
		hak_provider_release(p, bytes);
		p = NULL;
	}
	if (p && HAK_DEBUG && map_tail(p, bytes, 1)) {
		map_tail(p, bytes, 0);
		hak_pagemap_set((uintptr_t)p, 0);
		hak_provider_release(p, bytes);
		p = NULL;
	}
	if (p) {
		hak_heap.large_bytes += bytes;
		hak_heap.large_objects++;
		hak_heap.large_allocs++;
	}
	hak_unlock(&hak_heap.lock, flags);
	if (!p) {
		hak_report(HAK_EV_OUT_OF_MEMORY, NULL, size, "large run");
		return NULL;
	}
	hak_stats_out_add((int64_t)bytes);
	return p;
}

void hak_large_free(void *p, uintptr_t entry)
{
	unsigned long flags;
	size_t bytes;

	if ((uintptr_t)p & (HAK_PAGE_SIZE - 1)) {
		hak_report(HAK_EV_INTERIOR_FREE, p, 0, "inside a large block");
		return;
	}
	flags = hak_lock(&hak_heap.lock);
	/* Re-read under the lock: a racing free of the same run loses. */
	if (hak_pagemap_get((uintptr_t)p) != entry) {
		hak_unlock(&hak_heap.lock, flags);
		hak_report(HAK_EV_DOUBLE_FREE, p, 0, "large block freed twice");
		return;
	}
	hak_large_cache_tick();
	bytes = hak_pm_pages(entry) << HAK_PAGE_SHIFT;
	if (HAK_DEBUG)
		map_tail(p, bytes, 0);
	hak_pagemap_set((uintptr_t)p, 0);
	hak_heap.large_bytes -= bytes;
	hak_heap.large_objects--;
	hak_heap.large_frees++;
	if (!hak_large_cache_put(p, bytes >> HAK_PAGE_SHIFT))
		hak_provider_release(p, bytes);
	hak_unlock(&hak_heap.lock, flags);
	hak_stats_out_add(-(int64_t)bytes);
}

size_t hak_large_usable(const void *p, uintptr_t entry)
{
	if ((uintptr_t)p & (HAK_PAGE_SIZE - 1))
		return 0;
	return hak_pm_pages(entry) << HAK_PAGE_SHIFT;
}
