// SPDX-License-Identifier: MIT
/*
 * slabmap.c - the slab map: free()'s one-entry way from a pointer to what
 * it needs of its slab, over the page provider's span.
 *
 * A provider that declares a span (struct hak_page_provider: the region
 * provider does) hands out every superslab inside it, so a flat array
 * with one entry per slab unit of the span maps a pointer into the span
 * to its unit's entry with a subtract, a compare and a shift. An entry
 * (layout.h struct hak_slab_entry) holds a copy of the fields free()
 * checks (object 0's address, the high-water mark, the divisibility
 * constant, the magazine offset) and the unit's descriptor. Where there
 * is no carved slab (an uncarved unit, large runs, metadata, memory the
 * provider still holds) the copy is all zero, whose high-water mark of 0
 * fails every pointer: free() needs no test of the entry itself. The page
 * map stays the complete record: free() asks it about every pointer
 * outside the span and about every pointer the fast checks refuse.
 *
 * Why a copy, and not a pointer to the descriptor: free() then reads one
 * line of a dense array (16 units' entries are 512 bytes) where it read a
 * pointer and then a descriptor in its superslab's header, descriptors
 * over a kilobyte apart; the second, dependent load was about 40% of
 * free()'s samples on larson (docs/performance.md). The slab descriptor
 * stays the record: the entry copies it, hak_check compares.
 *
 * Cost: 32 bytes per HAK_SLAB_SIZE of span (512 KiB per GiB), taken from
 * the provider once at hak_init and filled there, unless the port's
 * lookups read a NULL descriptor as "no slab" and the provider's runs
 * come zeroed (HAK_PORT_SPARSE_SLABMAP: the hosted arena, whose map's
 * pages stay untouched where there is no slab). Without a span, or if
 * that allocation fails, sm_len stays 0 and free() uses the page map.
 *
 * Entries are written as the page map's are (superslab.c map_pages: by
 * the CPU building or tearing down a superslab that is on no list) and
 * by hak_slabmap_carve and hak_slabmap_mark under the slab's shard lock,
 * as the slab's own fields are written: the rest only while the
 * high-water mark is 0 (a carve), the mark alone after (a refill raises
 * it, an uncarve zeroes it), and read with relaxed loads, like the
 * descriptor's fields were (malloc.c hak_free).
 */
#include "internal.h"

struct hak_slab hak_null_slab;

void hak_slabmap_init(const struct hak_page_provider *pp)
{
	uintptr_t base = pp->span_base & ~(HAK_SLAB_SIZE - 1), end, n;
	unsigned long flags;
	size_t bytes;
	struct hak_slab_entry *m;
	uintptr_t i;

	end = pp->span_base + pp->span_size;
	if (!pp->span_size || end < pp->span_base ||
	    end > UINTPTR_MAX - HAK_SLAB_SIZE)
		return;
	end = hak_round_up(end, HAK_SLAB_SIZE);
	n = (end - base) >> HAK_SLAB_SHIFT;
	bytes = hak_round_up(n * sizeof(*m), HAK_PAGE_SIZE);
	flags = hak_lock(&hak_heap.lock);
	m = hak_provider_alloc(&hak_heap, bytes, HAK_PAGE_SIZE, 1);
	hak_unlock(&hak_heap.lock, flags);
	if (!m)
		return;
	/* Where the lookups read NULL as "no slab" (HAK_PORT_SPARSE_SLABMAP)
	 * and the provider's memory comes zeroed, the map stays as it came,
	 * its pages untouched until a superslab lands there. */
	if (!HAK_PORT_SPARSE_SLABMAP || !pp->zeroed)
		for (i = 0; i < n; i++)
			m[i] = (struct hak_slab_entry){ .slab = &hak_null_slab };
	else
		/* Mostly untouched (32 MiB over the hosted arena's 64 GiB):
		 * small pages, or each 2 MiB touched is a huge page. */
		hak_port_area_advise(m, bytes);
	hak_heap.sm = m;
	hak_heap.sm_base = base;
	hak_heap.sm_len = end - base;
}

void hak_slabmap_carve(struct hak_slab *s)
{
	struct hak_slab_entry *e = hak_slabmap_entry_of(hak_slab_base(s));

	if (!e)
		return;
	/* The mark is 0 here: nothing reads the rest until it rises. */
	__atomic_store_n(&e->hwm_off, s->hwm_off, __ATOMIC_RELAXED);
	__atomic_store_n(&e->start, s->start, __ATOMIC_RELAXED);
	__atomic_store_n(&e->div, s->div ? UINT32_MAX / s->size + 1 : 0,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&e->magoff, s->magoff, __ATOMIC_RELAXED);
}

void hak_slabmap_set(struct hak_superslab *ss, int map)
{
	struct hak_slab_entry *e = hak_slabmap_entry_of((uintptr_t)ss);
	unsigned i;

	if (!e)
		return;
	for (i = 0; i < HAK_SLABS_PER_SS; i++, e++) {
		/* Every unit is uncarved while ss is on no list. */
		__atomic_store_n(&e->hwm_off, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&e->start, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&e->div, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&e->magoff, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&e->slab, map ? &ss->slab[i] : &hak_null_slab,
				 __ATOMIC_RELEASE);
	}
}

/* hak_check: 0 when s's entry (if it has one) agrees with s. */
int hak_slabmap_agrees(struct hak_slab *s)
{
	const struct hak_slab_entry *e = hak_slabmap_entry_of(hak_slab_base(s));
	uint32_t div;

	if (!e)
		return 0;
	div = s->div ? UINT32_MAX / s->size + 1 : 0;
	if (e->slab != s || e->hwm_off != s->hwm_off)
		return -1;
	if (!s->hwm_off) /* the rest is not read */
		return 0;
	return e->start == s->start && e->div == div &&
			       e->magoff == s->magoff
		       ? 0
		       : -1;
}
