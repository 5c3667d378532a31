// SPDX-License-Identifier: MIT
/*
 * pagemap.c - the page map: address -> owner, in O(1), without trusting
 * the pointer.
 *
 * A three-level radix tree over canonical 48-bit addresses, both halves
 * (hak_pm_root_index: a higher-half kernel's heap too), 12 bits per level
 * above the page offset. The root is static; mid and leaf nodes (32 KiB
 * each) come from the provider as metadata on first use and live as long
 * as the heap, so a lock-free reader never sees a node freed under it.
 * Entries:
 *   0                          not hakmem's (foreign, or released)
 *   &struct hak_slab | 1       a page of a carved-or-free slab unit
 *   &struct hak_large_run | 2  the first page of a large run
 * The map is the allocator's, shared by every heap: free() finds any
 * heap's blocks through it. Nodes come from the default heap's provider
 * and are installed under its lock (hak_pagemap_reserve), but zeroed
 * outside it. Entries are written by whoever owns the pages: a large
 * run's by its heap (its lock held, or the run on no list yet), a
 * superslab's by the CPU creating or destroying it, with no lock, while
 * the superslab is on no list (superslab.c): no one else writes them
 * then. Readers use acquire loads, which pair with the
 * release stores so a reader that sees an entry sees the node and
 * superslab header initialised before it.
 */
#include "internal.h"

uintptr_t **hak_pagemap_root[HAK_PM_ROOT_SIZE];

#define NODE_BYTES (HAK_PM_FANOUT * sizeof(void *))
/* The bytes of address space one leaf maps. */
#define LEAF_SPAN (1UL << (HAK_PAGE_SHIFT + HAK_PM_BITS))

_Static_assert(HAK_SUPERSLAB_SHIFT <= HAK_PAGE_SHIFT + HAK_PM_BITS,
	       "a superslab lies within one leaf");

/* The root or mid slot on the way to a's entry that has no node yet;
 * NULL when both nodes exist. */
static void **missing_node(uintptr_t a)
{
	uintptr_t **mid = hak_pagemap_root[hak_pm_root_index(a)];
	size_t i1 = (a >> (HAK_PAGE_SHIFT + HAK_PM_BITS)) & (HAK_PM_FANOUT - 1);

	if (!mid)
		return (void **)&hak_pagemap_root[hak_pm_root_index(a)];
	if (!mid[i1])
		return (void **)&mid[i1];
	return NULL;
}

/*
 * A node is 32 KiB: zeroing it costs tens of thousands of instructions,
 * far more than a lock may be held with IRQs masked. So it is taken from
 * the provider under the lock, zeroed with the lock dropped (nothing else
 * knows it yet), and parked as the spare; the loop then installs the spare
 * in whichever slot is still missing. A spare that another CPU's node made
 * unneeded stays parked for the next node; a second one goes back.
 */
static int pagemap_grow(uintptr_t a, size_t bytes, unsigned long *flags)
{
	uintptr_t end = a + (bytes ? bytes - 1 : 0);

	HAK_ASSERT(hak_lock_held(&hak_heap.lock));
	if (hak_pm_root_index(a) >= HAK_PM_ROOT_SIZE ||
	    hak_pm_root_index(end) >= HAK_PM_ROOT_SIZE || end < a)
		return -1;
	for (;;) {
		void **slot = missing_node(a);
		void *n;

		if (!slot) {
			/* This leaf is there: on to the next one the range
			 * touches (debug builds map a large run's every
			 * page), if any. */
			uintptr_t next = (a | (LEAF_SPAN - 1)) + 1;

			if (next > end || next < a)
				return 0;
			a = next;
			continue;
		}
		n = hak_heap.pm_spare;
		if (n) {
			hak_heap.pm_spare = NULL;
			__atomic_store_n(slot, n, __ATOMIC_RELEASE);
			continue;
		}
		n = hak_provider_alloc(&hak_heap, NODE_BYTES, HAK_PAGE_SIZE, 1);
		if (!n)
			return -1;
		hak_unlock(&hak_heap.lock, *flags);
		hak_memset(n, 0, NODE_BYTES);
		*flags = hak_lock(&hak_heap.lock);
		if (hak_heap.pm_spare) {
			/* Parked by another CPU meanwhile: one is enough. */
			hak_heap.meta -= NODE_BYTES;
			hak_provider_release(&hak_heap, n, NODE_BYTES);
			continue;
		}
		hak_heap.pm_spare = n;
	}
}

int hak_pagemap_covered(uintptr_t a, size_t bytes)
{
	/* Nodes are never freed: a range found whole stays whole. */
	return hak_pagemap_entry(a) &&
	       hak_pagemap_entry(a + (bytes ? bytes - 1 : 0)) &&
	       bytes <= (1UL << (HAK_PAGE_SHIFT + HAK_PM_BITS)) &&
	       ((a ^ (a + bytes - 1)) >> (HAK_PAGE_SHIFT + HAK_PM_BITS)) == 0;
}

int hak_pagemap_reserve(uintptr_t a, size_t bytes)
{
	unsigned long flags;
	int r;

	if (hak_pagemap_covered(a, bytes))
		return 0;
	flags = hak_lock(&hak_heap.lock);
	r = pagemap_grow(a, bytes, &flags);
	hak_unlock(&hak_heap.lock, flags);
	return r;
}

uintptr_t *hak_pagemap_entry(uintptr_t a)
{
	uintptr_t **mid, *leaf;
	size_t i0 = hak_pm_root_index(a);

	if (i0 >= HAK_PM_ROOT_SIZE)
		return NULL;
	mid = __atomic_load_n(&hak_pagemap_root[i0], __ATOMIC_ACQUIRE);
	if (!mid)
		return NULL;
	leaf = __atomic_load_n(&mid[(a >> (HAK_PAGE_SHIFT + HAK_PM_BITS)) &
				    (HAK_PM_FANOUT - 1)],
			       __ATOMIC_ACQUIRE);
	if (!leaf)
		return NULL;
	return &leaf[(a >> HAK_PAGE_SHIFT) & (HAK_PM_FANOUT - 1)];
}

int hak_pagemap_set(uintptr_t a, uintptr_t v)
{
	uintptr_t *e = hak_pagemap_entry(a);

	if (!e)
		return v ? -1 : 0;
	__atomic_store_n(e, v, __ATOMIC_RELEASE);
	return 0;
}
