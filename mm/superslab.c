// SPDX-License-Identifier: MIT
/*
 * superslab.c - the pool of slab units, under the global lock.
 *
 * A superslab is HAK_SUPERSLAB_SIZE bytes from the provider, aligned to its
 * size, holding HAK_SLABS_PER_SS slab units; its header (struct
 * hak_superslab, the slab descriptors) fills the first pages of unit 0.
 * Units are handed to the shards one at a time and come back when a class
 * no longer needs them. Superslabs with a free unit sit on ss_avail, so
 * taking a unit is O(1); a superslab whose every unit came back is released
 * to the provider unless fewer than HAK_EMPTY_SUPERSLABS_KEPT empty ones
 * are held (hysteresis against map/unmap churn). There is no limit on the
 * number of superslabs other than the provider's memory.
 */
#include "internal.h"

#define UNITS_ALL ((uint32_t)((1ULL << HAK_SLABS_PER_SS) - 1))

#define ss_of(n, member) hak_list_entry(n, struct hak_superslab, member)

static void avail_add(struct hak_superslab *ss)
{
	hak_list_push(&hak_heap.ss_avail, &ss->avail);
	ss->in_avail = 1;
}

static void avail_del(struct hak_superslab *ss)
{
	hak_list_del(&hak_heap.ss_avail, &ss->avail);
	ss->in_avail = 0;
}

/*
 * Map (map != 0) or unmap every page of units, skipping unit 0's header,
 * with no lock held: ss is on no list while it is built or torn down, so
 * no one else writes these entries, and a lock-free reader finds either
 * 0 or a slab whose span is 0 (every pointer fails its range check). A
 * superslab never straddles a page-map leaf (see pagemap.c), so the leaf
 * is found once and the pages are plain stores into it. Its nodes exist:
 * hak_pagemap_grow ran before the superslab was first mapped.
 */
static void map_pages(struct hak_superslab *ss, int map)
{
	uintptr_t base = (uintptr_t)ss;
	uintptr_t first = base + HAK_SS_HEADER_SIZE, a;
	uintptr_t *e = hak_pagemap_entry(first);

	hak_slabmap_set(ss, map);
	if (!e)
		return;
	for (a = first; a < base + HAK_SUPERSLAB_SIZE;
	     a += HAK_PAGE_SIZE, e++) {
		uintptr_t v = hak_pm_slab_entry(hak_slab_of_object(a));

		__atomic_store_n(e, map ? v : 0, __ATOMIC_RELEASE);
	}
}

/* No lock held; ss is on no list. */
static void superslab_init(struct hak_superslab *ss)
{
	unsigned i;

	/* The bitmaps are written when a unit is carved: zero the rest. */
	hak_memset(ss, 0, __builtin_offsetof(struct hak_superslab, slab));
	for (i = 0; i < HAK_SLABS_PER_SS; i++) {
		hak_memset(&ss->slab[i], 0,
			   __builtin_offsetof(struct hak_slab, bits));
		ss->slab[i].index = (uint8_t)i;
		ss->slab[i].cls = HAK_CLASS_NONE;
	}
	ss->magic = HAK_SS_MAGIC;
}

/*
 * Global lock held on entry and return (flags: its hak_lock's). The
 * provider call and the page-map nodes are taken under the lock; the
 * header and the 253 page-map entries are written with it dropped (IRQs
 * on), while the new superslab is counted in transit and on no list, so
 * nothing but its own entries can lead to it.
 */
static struct hak_superslab *superslab_create(unsigned long *flags)
{
	struct hak_superslab *ss;

	ss = hak_provider_alloc(HAK_SUPERSLAB_SIZE, HAK_SUPERSLAB_SIZE, 0);
	if (!ss)
		return NULL;
	if (hak_pagemap_grow((uintptr_t)ss + HAK_SS_HEADER_SIZE,
			     HAK_SUPERSLAB_SIZE - HAK_SS_HEADER_SIZE, flags)) {
		hak_provider_release(ss, HAK_SUPERSLAB_SIZE);
		return NULL;
	}
	hak_heap.nss++;
	hak_heap.nss_transit++;
	hak_unlock(&hak_heap.lock, *flags);
	superslab_init(ss);
	map_pages(ss, 1);
	*flags = hak_lock(&hak_heap.lock);
	hak_heap.nss_transit--;
	hak_list_push(&hak_heap.ss_all, &ss->all);
	avail_add(ss);
	hak_heap.nss_empty++;
	return ss;
}

/* Global lock held: take empty ss off every list, in transit; the caller
 * finishes with superslab_free once it dropped the lock. */
static void superslab_unlink(struct hak_superslab *ss)
{
	HAK_ASSERT(hak_lock_held(&hak_heap.lock) && !ss->used_mask);
	if (ss->in_avail)
		avail_del(ss);
	hak_list_del(&hak_heap.ss_all, &ss->all);
	ss->magic = 0;
	hak_heap.nss_empty--;
	hak_heap.nss_transit++;
}

/* No lock held: unmap ss with IRQs on, then give it back under the lock
 * (the provider call and the accounting only). */
static void superslab_free(struct hak_superslab *ss)
{
	unsigned long flags;

	map_pages(ss, 0);
	flags = hak_lock(&hak_heap.lock);
	hak_heap.nss--;
	hak_heap.nss_transit--;
	hak_provider_release(ss, HAK_SUPERSLAB_SIZE);
	hak_unlock(&hak_heap.lock, flags);
}

struct hak_slab *hak_superslab_get_slab(void)
{
	struct hak_superslab *ss;
	struct hak_slab *s = NULL;
	unsigned long flags = hak_lock(&hak_heap.lock);
	unsigned i;

	ss = ss_of(hak_heap.ss_avail, avail);
	if (!ss)
		ss = superslab_create(&flags);
	if (ss) {
		i = arch_ctz64(~ss->used_mask & UNITS_ALL);
		if (!ss->used_mask)
			hak_heap.nss_empty--;
		ss->used_mask |= 1U << i;
		if (ss->used_mask == UNITS_ALL)
			avail_del(ss);
		s = &ss->slab[i];
	}
	hak_unlock(&hak_heap.lock, flags);
	return s;
}

void hak_superslab_put_slab(struct hak_slab *s, int force)
{
	struct hak_superslab *ss = hak_slab_ss(s), *doomed = NULL;
	unsigned long flags = hak_lock(&hak_heap.lock);

	/* The shard uncarved it (hak_slab_uncarve) before letting go. */
	HAK_ASSERT(s->cls == HAK_CLASS_NONE && !s->span);
	if (!ss->in_avail)
		avail_add(ss);
	ss->used_mask &= ~(1U << s->index);
	if (!ss->used_mask) {
		hak_heap.nss_empty++;
		if (force || hak_heap.nss_empty > HAK_EMPTY_SUPERSLABS_KEPT) {
			superslab_unlink(ss);
			doomed = ss;
		}
	}
	hak_unlock(&hak_heap.lock, flags);
	if (doomed)
		superslab_free(doomed);
}

/* The walk for empty superslabs is under the lock (hak_trim is linear in
 * the heap); each is then unmapped and released as put_slab does. */
void hak_superslab_trim(void)
{
	unsigned long flags = hak_lock(&hak_heap.lock);
	struct hak_superslab *ss = ss_of(hak_heap.ss_all, all), *next;
	struct hak_list *doomed = NULL;

	for (; ss; ss = next) {
		next = ss_of(ss->all.next, all);
		if (!ss->used_mask) {
			superslab_unlink(ss);
			hak_list_push(&doomed, &ss->all);
		}
	}
	hak_unlock(&hak_heap.lock, flags);
	while (doomed) {
		ss = ss_of(doomed, all);
		hak_list_del(&doomed, &ss->all);
		superslab_free(ss);
	}
}

static int check_one(struct hak_superslab *ss, uint64_t *empty)
{
	int bad = 0;
	unsigned i;

	if (ss->magic != HAK_SS_MAGIC) {
		hak_report(HAK_EV_CORRUPTION, ss, 0, "superslab magic");
		return 1;
	}
	if (((uintptr_t)ss & (HAK_SUPERSLAB_SIZE - 1)) ||
	    ss->used_mask & ~UNITS_ALL) {
		hak_report(HAK_EV_CORRUPTION, ss, 0,
			   "superslab alignment/mask");
		bad++;
	}
	if (!ss->used_mask)
		(*empty)++;
	if (!!ss->in_avail != (ss->used_mask != UNITS_ALL)) {
		hak_report(HAK_EV_CORRUPTION, ss, 0, "superslab avail list");
		bad++;
	}
	for (i = 0; i < HAK_SLABS_PER_SS; i++) {
		struct hak_slab *s = &ss->slab[i];
		uintptr_t page = (uintptr_t)ss +
				 ((uintptr_t)i << HAK_SLAB_SHIFT) +
				 HAK_SLAB_SIZE - HAK_PAGE_SIZE;
		int used = (ss->used_mask >> i) & 1;

		if (s->index != i ||
		    hak_pagemap_get(page) != hak_pm_slab_entry(s)) {
			hak_report(HAK_EV_CORRUPTION, s, 0,
				   "slab index/page map");
			bad++;
		}
		/* A used unit may still be uncarved for a moment: the carve
		 * happens under the shard lock, after get_slab returns. */
		if (!used && (s->cls != HAK_CLASS_NONE || s->span)) {
			hak_report(HAK_EV_CORRUPTION, s, 0, "free unit carved");
			bad++;
		}
	}
	return bad;
}

int hak_superslab_check(void)
{
	unsigned long flags = hak_lock(&hak_heap.lock);
	struct hak_superslab *ss;
	uint64_t n = 0, empty = 0, avail = 0;
	int bad = 0;

	for (ss = ss_of(hak_heap.ss_all, all); ss && n <= hak_heap.nss;
	     ss = ss_of(ss->all.next, all)) {
		n++;
		bad += check_one(ss, &empty);
		if (bad && ss->magic != HAK_SS_MAGIC)
			break;
	}
	for (ss = ss_of(hak_heap.ss_avail, avail); ss && avail <= n;
	     ss = ss_of(ss->avail.next, avail))
		avail++;
	if (n + hak_heap.nss_transit != hak_heap.nss ||
	    empty != hak_heap.nss_empty || avail > n) {
		hak_report(HAK_EV_CORRUPTION, NULL, 0, "superslab counts");
		bad++;
	}
	hak_unlock(&hak_heap.lock, flags);
	return bad;
}
