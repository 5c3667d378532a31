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
 *   (npages << 2) | 2          the first page of a large run
 * Writers hold the global lock; readers use acquire loads, which pair with
 * the release stores here so a reader that sees an entry sees the node and
 * superslab header initialised before it.
 */
#include "internal.h"

#define NODE_BYTES (HAK_PM_FANOUT * sizeof(void *))

static void *node_alloc(void)
{
	void *n = hak_provider_alloc(NODE_BYTES, HAK_PAGE_SIZE, 1);

	if (n)
		hak_memset(n, 0, NODE_BYTES);
	return n;
}

_Static_assert(HAK_SUPERSLAB_SHIFT <= HAK_PAGE_SHIFT + HAK_PM_BITS,
	       "a superslab lies within one leaf");

uintptr_t *hak_pagemap_leaf_entry(uintptr_t a, int create)
{
	uintptr_t ***root = hak_heap.pagemap_root;
	uintptr_t **mid, *leaf;
	size_t i0 = hak_pm_root_index(a);
	size_t i1 = (a >> (HAK_PAGE_SHIFT + HAK_PM_BITS)) & (HAK_PM_FANOUT - 1);
	size_t i2 = (a >> HAK_PAGE_SHIFT) & (HAK_PM_FANOUT - 1);

	HAK_ASSERT(hak_lock_held(&hak_heap.lock));
	if (i0 >= HAK_PM_ROOT_SIZE)
		return NULL;
	mid = root[i0];
	if (!mid) {
		if (!create)
			return NULL;
		mid = node_alloc();
		if (!mid)
			return NULL;
		__atomic_store_n(&root[i0], mid, __ATOMIC_RELEASE);
	}
	leaf = mid[i1];
	if (!leaf) {
		if (!create)
			return NULL;
		leaf = node_alloc();
		if (!leaf)
			return NULL;
		__atomic_store_n(&mid[i1], leaf, __ATOMIC_RELEASE);
	}
	return &leaf[i2];
}

int hak_pagemap_set(uintptr_t a, uintptr_t v)
{
	uintptr_t *e = hak_pagemap_leaf_entry(a, v != 0);

	if (!e)
		return v ? -1 : 0;
	__atomic_store_n(e, v, __ATOMIC_RELEASE);
	return 0;
}
