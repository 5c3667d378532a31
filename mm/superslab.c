// SPDX-License-Identifier: MIT
/*
 * superslab.c - a heap's pool of slab units, under the heap's lock.
 *
 * A superslab is HAK_SUPERSLAB_SIZE bytes from the provider, aligned to its
 * size, holding HAK_SLABS_PER_SS slab units; its header (struct
 * hak_superslab, the slab descriptors) fills the first pages of unit 0.
 * Units are handed to the shards one at a time and come back when a class
 * no longer needs them. Superslabs with a free unit sit on ss_avail, so
 * taking a unit is O(1); a superslab whose every unit came back is kept
 * (on ss_empty too) while the heap holds no more empty ones than
 * ss_keep() allows, else released to the provider (hysteresis against
 * map/unmap churn). Kept ones above HAK_EMPTY_SUPERSLABS_KEPT go back by
 * idle decay (hak_superslab_decay), one per call. A walk that empties a
 * created heap's superslab under the heap list lock, or a light drain
 * (hak_tick with IRQs masked), keeps it (HAK_SS_KEEP); that heap's next
 * put gives back one above the hysteresis, whichever emptied it. There
 * is no limit on the number of superslabs other than the provider's
 * memory.
 */
#include "internal.h"

#define UNITS_ALL ((uint32_t)((1ULL << HAK_SLABS_PER_SS) - 1))

#define ss_of(n, member) hak_list_entry(n, struct hak_superslab, member)

/* Under the lock, once per change of the superslabs' lists, masks or
 * counts (each function below that makes one calls it: the list helpers
 * do not): hak_check's walk resumes only if none happened between its
 * holds. */
static void ss_changed(struct hak_heap *h, int list)
{
	h->ss_gen++;
	if (list)
		h->ss_list_gen++;
}

static void avail_add(struct hak_heap *h, struct hak_superslab *ss)
{
	hak_list_push(&h->ss_avail, &ss->avail);
	ss->in_avail = 1;
}

static void avail_del(struct hak_heap *h, struct hak_superslab *ss)
{
	hak_list_del(&h->ss_avail, &ss->avail);
	ss->in_avail = 0;
}

/*
 * Empty superslabs kept: the default heap keeps as many as it ever held
 * at once (so it never holds more superslabs than at its peak), and idle
 * decay gives them back down to HAK_EMPTY_SUPERSLABS_KEPT once nobody
 * takes a unit (hak_superslab_decay); hak_trim and the reclaim before an
 * out-of-memory give back all of them. One kept was too few for a
 * producer/consumer pair: xmalloc-test's live set swings by megabytes as
 * its stack of batches fills and drains, and every swing released and
 * re-took superslabs (an mprotect, a PROT_NONE mmap and 256 page faults
 * each: 80-220k faults in 5 s against mimalloc's 8k). Created heaps keep
 * HAK_EMPTY_SUPERSLABS_KEPT: idle decay runs on none of them.
 */
static uint64_t ss_keep(const struct hak_heap *h)
{
	uint64_t q = h == &hak_heap && !h->ss_keep_off ? h->nss_peak : 0;

	return q > HAK_EMPTY_SUPERSLABS_KEPT ? q : HAK_EMPTY_SUPERSLABS_KEPT;
}

/* Global lock held: ss's last unit came back, or its first goes. */
static void empty_add(struct hak_heap *h, struct hak_superslab *ss)
{
	hak_list_push(&h->ss_empty, &ss->empty);
	h->nss_empty++;
}

static void empty_del(struct hak_heap *h, struct hak_superslab *ss)
{
	hak_list_del(&h->ss_empty, &ss->empty);
	h->nss_empty--;
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
static void superslab_init(struct hak_superslab *ss, struct hak_heap *h)
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
	ss->heap = h;
	ss->magic = HAK_SS_MAGIC;
}

/*
 * h's lock held on entry and return (flags: its hak_lock's), dropped in
 * between: the provider call (an mmap on the hosted port, which every
 * CPU waiting on h's lock would wait for), the page-map nodes (under the
 * default heap's lock), the header and the 253 page-map entries all run
 * with it dropped (IRQs on), while the new superslab is charged, counted
 * in transit and on no list, so nothing but its own entries can lead to
 * it. Two CPUs that both found no free unit may both make one: the
 * second is kept as an empty one like any other.
 */
static struct hak_superslab *superslab_create(struct hak_heap *h,
					      unsigned long *flags)
{
	struct hak_superslab *ss;

	if (hak_provider_charge(h, HAK_SUPERSLAB_SIZE))
		return NULL;
	h->nss++;
	h->nss_transit++;
	ss_changed(h, 0);
	hak_unlock(&h->lock, *flags);
	ss = hak_provider_get(h, HAK_SUPERSLAB_SIZE, HAK_SUPERSLAB_SIZE);
	if (ss && hak_pagemap_reserve((uintptr_t)ss + HAK_SS_HEADER_SIZE,
				      HAK_SUPERSLAB_SIZE -
					      HAK_SS_HEADER_SIZE)) {
		/* Given back before the charge goes: the heap never counts
		 * less than its provider gave it. */
		hak_provider_put(h, ss, HAK_SUPERSLAB_SIZE);
		ss = NULL;
	} else if (ss) {
		superslab_init(ss, h);
		map_pages(ss, 1);
	}
	*flags = hak_lock(&h->lock);
	hak_provider_settle(h, HAK_SUPERSLAB_SIZE, ss, 0);
	h->nss_transit--;
	ss_changed(h, 1);
	if (!ss) {
		h->nss--;
		return NULL;
	}
	if (h->nss > h->nss_peak)
		h->nss_peak = h->nss;
	hak_list_push(&h->ss_all, &ss->all);
	avail_add(h, ss);
	empty_add(h, ss);
	return ss;
}

/* Global lock held: take empty ss off every list, in transit; the caller
 * finishes with superslab_free once it dropped the lock. */
static void superslab_unlink(struct hak_heap *h, struct hak_superslab *ss)
{
	HAK_ASSERT(hak_lock_held(&h->lock) && !ss->used_mask);
	if (ss->in_avail)
		avail_del(h, ss);
	hak_list_del(&h->ss_all, &ss->all);
	ss->magic = 0;
	empty_del(h, ss);
	h->nss_transit++;
	ss_changed(h, 1);
}

/* No lock held: unmap ss with IRQs on and give it back to the provider,
 * then book it under the lock (the accounting only). */
static void superslab_free(struct hak_heap *h, struct hak_superslab *ss)
{
	unsigned long flags;

	map_pages(ss, 0);
	hak_provider_put(h, ss, HAK_SUPERSLAB_SIZE);
	flags = hak_lock(&h->lock);
	h->nss--;
	h->nss_transit--;
	ss_changed(h, 0);
	h->returned += HAK_SUPERSLAB_SIZE;
	hak_unlock(&h->lock, flags);
}

struct hak_slab *hak_superslab_get_slab(struct hak_heap *h)
{
	struct hak_superslab *ss;
	struct hak_slab *s = NULL;
	unsigned long flags = hak_lock(&h->lock);
	unsigned i;

	ss = ss_of(h->ss_avail, avail);
	if (!ss)
		ss = superslab_create(h, &flags);
	if (ss) {
		i = arch_ctz64(~ss->used_mask & UNITS_ALL);
		if (!ss->used_mask)
			empty_del(h, ss);
		h->ss_gets++;
		ss->used_mask |= 1U << i;
		ss_changed(h, 0);
		if (ss->used_mask == UNITS_ALL)
			avail_del(h, ss);
		s = &ss->slab[i];
	}
	hak_unlock(&h->lock, flags);
	return s;
}

void hak_superslab_put_slab(struct hak_slab *s, int mode)
{
	struct hak_superslab *ss = hak_slab_ss(s), *doomed = NULL;
	struct hak_heap *h = ss->heap;
	unsigned long flags = hak_lock(&h->lock);

	/* The shard uncarved it (hak_slab_uncarve) before letting go. */
	HAK_ASSERT(s->cls == HAK_CLASS_NONE && !s->span);
	if (!ss->in_avail)
		avail_add(h, ss);
	ss->used_mask &= ~(1U << s->index);
	ss_changed(h, 0);
	if (!ss->used_mask) {
		empty_add(h, ss);
		if (mode == HAK_SS_FORCE ||
		    (mode == HAK_SS_PUT && h->nss_empty > ss_keep(h)))
			doomed = ss;
		else if (mode == HAK_SS_KEEP)
			h->ss_kept = 1;
	} else if (unlikely(h->ss_kept) && mode == HAK_SS_PUT) {
		/* One a HAK_SS_KEEP put left above the hysteresis, if any
		 * is still there. */
		if (h->nss_empty > ss_keep(h))
			doomed = ss_of(h->ss_empty, empty);
		else
			h->ss_kept = 0;
	}
	if (doomed)
		superslab_unlink(h, doomed);
	hak_unlock(&h->lock, flags);
	if (doomed)
		superslab_free(h, doomed);
}

/* Idle decay, no lock held: one kept empty superslab above
 * HAK_EMPTY_SUPERSLABS_KEPT back to the provider. O(1). */
void hak_superslab_decay(struct hak_heap *h)
{
	unsigned long flags = hak_lock(&h->lock);
	struct hak_superslab *ss = ss_of(h->ss_empty, empty);

	if (ss && h->nss_empty > HAK_EMPTY_SUPERSLABS_KEPT)
		superslab_unlink(h, ss);
	else
		ss = NULL;
	hak_unlock(&h->lock, flags);
	if (ss)
		superslab_free(h, ss);
}

/* Every empty superslab back to the provider, one per hold of the lock
 * (O(1) each, off ss_empty); at most as many as the heap held at the
 * start, so superslabs other CPUs empty meanwhile cannot prolong it. */
void hak_superslab_trim(struct hak_heap *h)
{
	unsigned long flags = hak_lock(&h->lock);
	uint64_t left = h->nss;

	while (left--) {
		struct hak_superslab *ss = ss_of(h->ss_empty, empty);

		if (!ss)
			break;
		superslab_unlink(h, ss);
		hak_unlock(&h->lock, flags);
		superslab_free(h, ss);
		flags = hak_lock(&h->lock);
	}
	hak_unlock(&h->lock, flags);
}

/*
 * Destroy: every superslab, whatever its units hold, unmapped (its slabs'
 * entries cleared, so a later free of an old pointer is an invalid free)
 * and released: bounded work per page (one entry store each). Each slab
 * descriptor is uncarved first, so a racing lookup sees span 0.
 */
void hak_superslab_release_all(struct hak_heap *h)
{
	struct hak_superslab *ss;
	unsigned long flags;
	unsigned i;

	for (;;) {
		flags = hak_lock(&h->lock);
		ss = ss_of(h->ss_all, all);
		if (!ss) {
			hak_unlock(&h->lock, flags);
			return;
		}
		if (ss->in_avail)
			avail_del(h, ss);
		hak_list_del(&h->ss_all, &ss->all);
		if (!ss->used_mask)
			empty_del(h, ss);
		h->nss_transit++;
		ss_changed(h, 1);
		ss->magic = 0;
		hak_unlock(&h->lock, flags);
		for (i = 0; i < HAK_SLABS_PER_SS; i++)
			hak_slab_uncarve(&ss->slab[i]);
		ss->used_mask = 0;
		superslab_free(h, ss);
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

/* ss's places on the avail and empty lists: each link leads back to it
 * (a local check: the lists are not walked, they may be long). */
static int check_links(struct hak_heap *h, struct hak_superslab *ss)
{
	int bad = 0;

	if (ss->in_avail &&
	    ((ss->avail.prev ? ss->avail.prev->next : h->ss_avail) !=
		     &ss->avail ||
	     (ss->avail.next && ss->avail.next->prev != &ss->avail)))
		bad++;
	if (!ss->used_mask &&
	    ((ss->empty.prev ? ss->empty.prev->next : h->ss_empty) !=
		     &ss->empty ||
	     (ss->empty.next && ss->empty.next->prev != &ss->empty)))
		bad++;
	if (bad)
		hak_report(HAK_EV_CORRUPTION, ss, 0, "superslab list links");
	return bad;
}

/* h's lock held, a whole walk behind: its counts against the heap's. */
static int counts_bad(struct hak_heap *h, uint64_t n, uint64_t empty)
{
	if (n + h->nss_transit == h->nss && empty == h->nss_empty &&
	    (!h->ss_avail || ss_of(h->ss_avail, avail)->in_avail) &&
	    (!h->ss_empty || !ss_of(h->ss_empty, empty)->used_mask))
		return 0;
	hak_report(HAK_EV_CORRUPTION, NULL, 0, "superslab counts");
	return 1;
}

/*
 * One superslab per hold of h's lock (its HAK_SLABS_PER_SS units'
 * page-map entries are most of the work). The walk goes on after a gap
 * if no superslab joined or left the heap (h->ss_list_gen: its place
 * is still on the list); the counts are compared, in the last hold, only
 * if nothing else changed either (h->ss_gen), else the walk starts over,
 * HAK_WALK_TRIES starts at most, then the comparison counts as skipped.
 * Each superslab is checked under the lock when visited, whatever else.
 */
int hak_superslab_check(struct hak_heap *h)
{
	struct hak_superslab *ss = NULL;
	uint64_t n = 0, empty = 0, seen_list = 0, seen_gen = 0;
	unsigned long flags;
	unsigned starts = 0;
	int bad = 0, restart = 1, dirty = 0;

	for (;;) {
		flags = hak_lock(&h->lock);
		if (restart || h->ss_list_gen != seen_list) {
			if (starts++ == HAK_WALK_TRIES) {
				hak_stat_add(&h->check_skips, 1);
				break;
			}
			ss = ss_of(h->ss_all, all);
			n = empty = 0;
			restart = dirty = 0;
		} else if (h->ss_gen != seen_gen) {
			dirty = 1;
		}
		if (!ss || n > h->nss) {
			if (!dirty) {
				bad += counts_bad(h, n, empty);
				break;
			}
			restart = 1; /* for counts of one moment */
		} else {
			n++;
			bad += check_one(ss, &empty);
			if (ss->heap != h) {
				hak_report(HAK_EV_CORRUPTION, ss, 0,
					   "superslab of another heap");
				bad++;
			}
			if (ss->magic != HAK_SS_MAGIC)
				n = h->nss + 1; /* a broken link: counts fail */
			else
				bad += check_links(h, ss);
			ss = ss->magic == HAK_SS_MAGIC ? ss_of(ss->all.next, all)
						       : NULL;
		}
		seen_list = h->ss_list_gen;
		seen_gen = h->ss_gen;
		hak_unlock(&h->lock, flags);
		hak_test_walk_gap();
	}
	hak_unlock(&h->lock, flags);
	return bad;
}
