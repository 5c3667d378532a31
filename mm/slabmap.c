// SPDX-License-Identifier: MIT
/*
 * slabmap.c - the slab map: free()'s one-load way from a pointer to its
 * slab, over the page provider's span.
 *
 * A provider that declares a span (struct hak_page_provider: the region
 * provider does) hands out every superslab inside it, so a flat array
 * with one entry per slab unit of the span maps a pointer into the span
 * to its slab descriptor with a subtract, a compare, a shift and a load;
 * the page map (pagemap.c) takes three dependent loads. An entry is a
 * slab unit's descriptor (carved or not), or &hak_null_slab, whose zero
 * high-water mark fails every pointer, for anything else (large runs,
 * metadata, memory the provider still holds): free() needs no test of
 * the entry itself. The page map stays the complete record: free() asks
 * it about every pointer outside the span and about every pointer the
 * fast checks refuse.
 *
 * Cost: 8 bytes per HAK_SLAB_SIZE of span (128 KiB per GiB), taken from
 * the provider once at hak_init and filled there, unless the port's free()
 * reads a 0 entry as "no slab" and the provider's runs come zeroed (the
 * hosted arena: its map's pages stay untouched where there is no slab). Without a span, or if
 * that allocation fails, sm_len stays 0 and free() uses the page map.
 *
 * Entries are written as the page map's are (superslab.c map_pages: by
 * the CPU building or tearing down a superslab that is on no list) with
 * release stores, and read with relaxed loads: free() only dereferences
 * the descriptor it loaded, an address dependency that every CPU hakmem
 * runs on orders like an acquire (the READ_ONCE model of Linux).
 */
#include "internal.h"

struct hak_slab hak_null_slab;

void hak_slabmap_init(const struct hak_page_provider *pp)
{
	uintptr_t base = pp->span_base & ~(HAK_SLAB_SIZE - 1), end, n;
	unsigned long flags;
	size_t bytes;
	struct hak_slab **m;
	uintptr_t i;

	end = pp->span_base + pp->span_size;
	if (!pp->span_size || end < pp->span_base ||
	    end > UINTPTR_MAX - HAK_SLAB_SIZE)
		return;
	end = hak_round_up(end, HAK_SLAB_SIZE);
	n = (end - base) >> HAK_SLAB_SHIFT;
	bytes = hak_round_up(n * sizeof(uintptr_t), HAK_PAGE_SIZE);
	flags = hak_lock(&hak_heap.lock);
	m = hak_provider_alloc(&hak_heap, bytes, HAK_PAGE_SIZE, 1);
	hak_unlock(&hak_heap.lock, flags);
	if (!m)
		return;
	/* Where free() reads 0 as "no slab" (HAK_PORT_SPARSE_SLABMAP) and the
	 * provider's memory comes zeroed, the map stays as it came, its pages
	 * untouched until a superslab lands there. */
	if (!HAK_PORT_SPARSE_SLABMAP || !pp->zeroed)
		for (i = 0; i < n; i++)
			m[i] = &hak_null_slab;
	hak_heap.sm = m;
	hak_heap.sm_base = base;
	hak_heap.sm_len = end - base;
}

void hak_slabmap_set(struct hak_superslab *ss, int map)
{
	uintptr_t off = (uintptr_t)ss - hak_heap.sm_base;
	struct hak_slab **e;
	unsigned i;

	if (off >= hak_heap.sm_len)
		return;
	e = &hak_heap.sm[off >> HAK_SLAB_SHIFT];
	for (i = 0; i < HAK_SLABS_PER_SS; i++)
		__atomic_store_n(&e[i], map ? &ss->slab[i] : &hak_null_slab,
				 __ATOMIC_RELEASE);
}
