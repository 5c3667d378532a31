// SPDX-License-Identifier: MIT
/*
 * slabmap.c - the slab map: free()'s one-load way from a pointer to its
 * slab, over the page provider's span.
 *
 * A provider that declares a span (struct hak_page_provider: the region
 * provider does) hands out every superslab inside it, so a flat array
 * with one entry per slab unit of the span maps a pointer into the span
 * to its slab descriptor with a subtract, a compare, a shift and a load;
 * the page map (pagemap.c) takes three dependent loads. Entries use the
 * page map's encoding (layout.h): a carved-or-free slab unit's entry is
 * its descriptor | HAK_PM_TAG_SLAB, anything else reads 0 (large runs,
 * metadata, memory the provider still holds). The page map stays the
 * complete record: free() asks it about every pointer outside the span
 * and about every pointer the fast checks refuse.
 *
 * Cost: 8 bytes per HAK_SLAB_SIZE of span (128 KiB per GiB), taken from
 * the provider once at hak_init and zeroed there. Without a span, or if
 * that allocation fails, sm_len stays 0 and free() uses the page map.
 *
 * Entries are written as the page map's are (superslab.c map_pages: by
 * the CPU building or tearing down a superslab that is on no list) with
 * release stores, and read with relaxed loads: free() only dereferences
 * the descriptor it loaded, an address dependency that every CPU hakmem
 * runs on orders like an acquire (the READ_ONCE model of Linux).
 */
#include "internal.h"

void hak_slabmap_init(const struct hak_page_provider *pp)
{
	uintptr_t base = pp->span_base & ~(HAK_SLAB_SIZE - 1), end, n;
	unsigned long flags;
	size_t bytes;
	void *m;

	end = pp->span_base + pp->span_size;
	if (!pp->span_size || end < pp->span_base ||
	    end > UINTPTR_MAX - HAK_SLAB_SIZE)
		return;
	end = hak_round_up(end, HAK_SLAB_SIZE);
	n = (end - base) >> HAK_SLAB_SHIFT;
	bytes = hak_round_up(n * sizeof(uintptr_t), HAK_PAGE_SIZE);
	flags = hak_lock(&hak_heap.lock);
	m = hak_provider_alloc(bytes, HAK_PAGE_SIZE, 1);
	hak_unlock(&hak_heap.lock, flags);
	if (!m)
		return;
	hak_memset(m, 0, bytes);
	hak_heap.sm = m;
	hak_heap.sm_base = base;
	hak_heap.sm_len = end - base;
}

void hak_slabmap_set(struct hak_superslab *ss, int map)
{
	uintptr_t off = (uintptr_t)ss - hak_heap.sm_base;
	uintptr_t *e;
	unsigned i;

	if (off >= hak_heap.sm_len)
		return;
	e = &hak_heap.sm[off >> HAK_SLAB_SHIFT];
	for (i = 0; i < HAK_SLABS_PER_SS; i++)
		__atomic_store_n(&e[i], map ? hak_pm_slab_entry(&ss->slab[i]) : 0,
				 __ATOMIC_RELEASE);
}
