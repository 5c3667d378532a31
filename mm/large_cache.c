// SPDX-License-Identifier: MIT
/*
 * large_cache.c - recently freed large runs, kept for reuse.
 *
 * Without it every large malloc/free pair is a provider round trip (an
 * mmap and a munmap on the hosted port, with page faults on every touch).
 * Runs of up to HAK_LARGE_CACHE_PAGES pages are kept, up to
 * HAK_LARGE_CACHE_WAYS per exact page count and HAK_LARGE_CACHE_BYTES in
 * all, in a table in the heap's metadata: nothing is written into a cached
 * run, so a stray write there corrupts nothing of hakmem's. A cached run is
 * not in the page map (a free of it is reported as invalid), and reuse
 * needs an exact page count, so the cache adds no fragmentation of its own.
 * hak_trim (and the reclaim before an out-of-memory) gives every cached run
 * back. All under the global lock; every operation is O(1) except flush.
 */
#include "internal.h"

void *hak_large_cache_take(size_t npages)
{
	struct hak_large_cache *lc = &hak_heap.large_cache;
	void *p;

	HAK_ASSERT(hak_lock_held(&hak_heap.lock));
	if (npages >= HAK_LARGE_CACHE_PAGES || !lc->n[npages])
		return NULL;
	p = lc->run[npages][--lc->n[npages]];
	lc->bytes -= npages << HAK_PAGE_SHIFT;
	return p;
}

int hak_large_cache_put(void *p, size_t npages)
{
	struct hak_large_cache *lc = &hak_heap.large_cache;
	size_t bytes = npages << HAK_PAGE_SHIFT;

	HAK_ASSERT(hak_lock_held(&hak_heap.lock));
	if (npages >= HAK_LARGE_CACHE_PAGES ||
	    lc->n[npages] >= HAK_LARGE_CACHE_WAYS ||
	    lc->bytes + bytes > HAK_LARGE_CACHE_BYTES)
		return 0;
	lc->run[npages][lc->n[npages]++] = p;
	lc->bytes += bytes;
	return 1;
}

/* The lock is dropped every FLUSH_STEP page counts, so IRQs are not
 * masked over the whole table (each step: its counts' runs). */
#define FLUSH_STEP 32

void hak_large_cache_flush(void)
{
	struct hak_large_cache *lc = &hak_heap.large_cache;
	size_t n = 1, end;

	while (n < HAK_LARGE_CACHE_PAGES) {
		unsigned long flags = hak_lock(&hak_heap.lock);

		end = n + FLUSH_STEP < HAK_LARGE_CACHE_PAGES
			      ? n + FLUSH_STEP
			      : HAK_LARGE_CACHE_PAGES;
		for (; n < end; n++)
			while (lc->n[n]) {
				hak_provider_release(lc->run[n][--lc->n[n]],
						     n << HAK_PAGE_SHIFT);
				lc->bytes -= n << HAK_PAGE_SHIFT;
			}
		hak_unlock(&hak_heap.lock, flags);
	}
}
