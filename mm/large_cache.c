// SPDX-License-Identifier: MIT
/*
 * large_cache.c - freed large runs, kept for reuse by size and returned
 * to the provider by decay.
 *
 * Without it every large malloc/free pair is a provider round trip: an
 * mmap and a munmap on the hosted port, then a page fault on every page
 * the program touches. A freed run is kept here instead, up to
 * HAK_LARGE_CACHE_BYTES in all, and a later request of n pages may take
 * any cached run of n to n + n/4 pages. The block keeps the run's real
 * length in the page map, so hak_usable_size, realloc and the free that
 * follows see the real run; what a reused run adds over the request is at
 * most a quarter of it, the bound the size classes keep too. (A window of
 * n/8 would waste half as much per block, but on mimalloc-bench's
 * malloc-large it finds a run for 531 of 2000 requests where n/4 finds
 * one for 860, at the same peak RSS: a run that is reused is not also
 * sitting in the cache.)
 *
 * Everything lives in the heap's metadata (struct hak_large_cache):
 * nothing is written into a cached run, so a stray write there corrupts
 * nothing of hakmem's, and a cached run is not in the page map, so a free
 * of it is reported as invalid, as for a run the provider has back.
 *
 *   records   HAK_LC_SLOTS of {run, pages, stamp}, linked by number.
 *   classes   page counts, exact below 32, then 32 classes per power of
 *             two; one list per class, newest first, and a bitmap of the
 *             classes that hold a run.
 *   age list  every cached run, oldest first: eviction and decay.
 *
 * Bounds (the heap's lock held; "provider calls" are releases, which go
 * on the caller's struct hak_pending and are made once it drops the
 * lock: no provider call runs under the heap's lock):
 *   take   O(1): for a request of n pages, the newest run of n's class
 *          if it lies in the window [n, n + n/4]; else the newest run of
 *          the first non-empty class wholly inside the window (a bitmap
 *          search over at most twelve classes, two words); else the
 *          newest run of the class holding n + n/4 if it is in the window.
 *          So a fitting run is missed only when it is not the newest of a
 *          class that straddles an end of the window.
 *   put    O(1): at most HAK_LC_EVICT (2) of the oldest runs go back to
 *          make room within the byte bound and the HAK_LC_SLOTS (256)
 *          records; a run that still does not fit, or is larger than the
 *          bound, is refused and the caller gives it back.
 *   room   O(1), at most HAK_PENDING_MAX provider calls: before a large
 *          malloc the cache cannot serve calls the provider, the oldest
 *          runs go back while the cache, the live large bytes and the
 *          new run exceed the large peak by more than 2^-HAK_LC_HEADROOM_
 *          SHIFT of it (hak_large_cache_make_room); a split provider
 *          gets back only the part over that limit (below).
 *   tick   O(1), at most one provider call: every large malloc and free
 *          calls it once. It counts large operations, and gives back the
 *          oldest run if HAK_LC_DECAY (4096) of them have passed since the
 *          free that cached it. Each operation caches at most one run, so
 *          at most one run comes due per operation and none waits: an
 *          idle run goes back at the 4096th large operation after its free
 *          (earlier only if the byte or record bound evicted it). Bare
 *          metal has no clock, so operations are the clock.
 *          4096, not less: rptest keeps ~20 blocks of 32-128 KiB live and
 *          reuses a size long after it was freed; with 256 it lost a
 *          third of its speed to mmap and page faults.
 *   flush  every cached run (hak_trim and the reclaim before an
 *          out-of-memory): at most HAK_LC_SLOTS provider calls.
 *
 * Split providers (struct hak_page_provider.split: a release may be any
 * part of a run, or several adjacent runs; the region provider and mmap
 * are), as a page heap does:
 *   room   the run that would take the cache below the limit gives back
 *          only its tail, the part over it; its head stays cached, in
 *          place on the age list. On malloc-large that was 17% fewer
 *          page faults (448k -> 372k in 2000 steps) at 1% more peak RSS:
 *          a whole run given back emptied the cache by up to 25 MiB more
 *          than the limit asked, and the next fresh run faulted that in.
 *   take   when no run lies in the window, the newest run of the first
 *          class above it (the smallest class with a run, a bitmap
 *          search) is split: the request gets its first pages, the rest
 *          stays cached, in place, in its new class. O(1).
 *   put    a freed run of 1 MiB or more merges with a cached run that
 *          ends where it starts and one that starts where it ends (a
 *          cached neighbour of any size), found through two
 *          hashes of the runs by first page and by end (at most
 *          HAK_LC_PROBE records looked at per lookup: a neighbour missed
 *          only costs a merge). O(1). A merged run the byte bound cannot
 *          hold goes back to the provider whole.
 * On mimalloc-bench's malloc-large (20 live blocks of 5-25 MiB, one
 * replaced per step) a window alone finds a run for about half of the
 * requests; splitting and merging make most of them hits.
 */
#include "internal.h"

static struct hak_lc_run *rec(struct hak_large_cache *lc, unsigned i)
{
	return &lc->run[i];
}

/* The class holding a run of n pages (n >= 1). */
static unsigned lc_class(size_t n)
{
	unsigned e;

	if (n < HAK_LC_SUB)
		return (unsigned)n;
	e = arch_fls64(n);
	return ((e - HAK_LC_SUB_SHIFT + 1) << HAK_LC_SUB_SHIFT) |
	       (unsigned)((n >> (e - HAK_LC_SUB_SHIFT)) & (HAK_LC_SUB - 1));
}

/* The first class in [lo, hi] that holds a run, or -1. */
static int lc_first(const uint64_t *map, unsigned lo, unsigned hi)
{
	unsigned w = lo / 64;
	uint64_t bits = map[w] & (~0ULL << (lo % 64));

	for (;;) {
		if (w == hi / 64) {
			bits &= ~0ULL >> (63 - hi % 64);
			return bits ? (int)(w * 64 + arch_ctz64(bits))
				    : -1;
		}
		if (bits)
			return (int)(w * 64 + arch_ctz64(bits));
		bits = map[++w];
	}
}

static unsigned lc_hash(uintptr_t a)
{
	return (unsigned)(((a >> HAK_PAGE_SHIFT) * 0x9e3779b97f4a7c15ULL) >>
			  56) %
	       HAK_LC_HASH;
}

static uintptr_t lc_end(const struct hak_lc_run *r)
{
	return r->addr + ((uintptr_t)r->npages << HAK_PAGE_SHIFT);
}

/* Record i into the by-start and by-end chains (split providers). These
 * and class_add / class_del are inline: out of line (lc_trim_tail is
 * their second caller) they added about 20 guest instructions to every
 * large path (docs/guarantees.md). */
static hak_always_inline void hash_add(struct hak_large_cache *lc,
					unsigned i)
{
	struct hak_lc_run *r = rec(lc, i);
	uint16_t *bs = &lc->by_start[lc_hash(r->addr)];
	uint16_t *be = &lc->by_end[lc_hash(lc_end(r))];

	r->sprev = 0;
	r->snext = *bs;
	if (*bs)
		rec(lc, *bs)->sprev = (uint16_t)i;
	*bs = (uint16_t)i;
	r->eprev = 0;
	r->enext = *be;
	if (*be)
		rec(lc, *be)->eprev = (uint16_t)i;
	*be = (uint16_t)i;
}

static hak_always_inline void hash_del(struct hak_large_cache *lc,
					unsigned i)
{
	struct hak_lc_run *r = rec(lc, i);

	if (r->sprev)
		rec(lc, r->sprev)->snext = r->snext;
	else
		lc->by_start[lc_hash(r->addr)] = r->snext;
	if (r->snext)
		rec(lc, r->snext)->sprev = r->sprev;
	if (r->eprev)
		rec(lc, r->eprev)->enext = r->enext;
	else
		lc->by_end[lc_hash(lc_end(r))] = r->enext;
	if (r->enext)
		rec(lc, r->enext)->eprev = r->eprev;
}

/* The cached run starting (end 0) or ending (end 1) at a, or 0. */
static unsigned hash_find(struct hak_large_cache *lc, uintptr_t a, int end)
{
	unsigned i = end ? lc->by_end[lc_hash(a)] : lc->by_start[lc_hash(a)];
	unsigned k;

	for (k = 0; i && k < HAK_LC_PROBE; k++) {
		struct hak_lc_run *r = rec(lc, i);

		if ((end ? lc_end(r) : r->addr) == a)
			return i;
		i = end ? r->enext : r->snext;
	}
	return 0;
}

/* The smallest freed run that merges with its cached neighbours: 1 MiB
 * (malloc-large's blocks are 5-25 MiB). */
#define LC_MERGE_MIN 256

static int lc_split(const struct hak_heap *h)
{
	return h->cfg.provider.split;
}

/*
 * The byte bound: HAK_LARGE_CACHE_BYTES, or half the most live large
 * bytes the heap ever held when that is more, so that a program whose
 * working set is large blocks (malloc-large's 20 blocks of 5-25 MiB)
 * keeps enough freed pages to serve the next ones without faulting fresh
 * pages in, while the slack stays a fixed fraction of its peak. (The peak,
 * not the current: the bound never shrinks under what is cached; decay
 * gives back what is not reused.)
 */
static uint64_t lc_bound(const struct hak_heap *h)
{
	uint64_t half = h->large_peak / 2;

	return half > HAK_LARGE_CACHE_BYTES ? half : HAK_LARGE_CACHE_BYTES;
}

/* Record i off / onto its class's list and the bitmap. A class's list
 * is newest first but for a trimmed head (lc_trim_tail), which rejoins
 * at the front: take then prefers the oldest run, which is harmless. */
static hak_always_inline void class_del(struct hak_large_cache *lc,
					 unsigned i)
{
	struct hak_lc_run *r = rec(lc, i);

	if (r->prev)
		rec(lc, r->prev)->next = r->next;
	else
		lc->head[r->cls] = r->next;
	if (r->next)
		rec(lc, r->next)->prev = r->prev;
	if (!lc->head[r->cls])
		lc->map[r->cls / 64] &= ~(1ULL << (r->cls % 64));
}

static hak_always_inline void class_add(struct hak_large_cache *lc,
					 unsigned i)
{
	struct hak_lc_run *r = rec(lc, i);

	r->prev = 0;
	r->next = lc->head[r->cls];
	if (r->next)
		rec(lc, r->next)->prev = (uint16_t)i;
	lc->head[r->cls] = (uint16_t)i;
	lc->map[r->cls / 64] |= 1ULL << (r->cls % 64);
}

static void lc_unlink(struct hak_large_cache *lc, unsigned i)
{
	struct hak_lc_run *r = rec(lc, i);

	class_del(lc, i);
	if (r->older)
		rec(lc, r->older)->newer = r->newer;
	else
		lc->oldest = r->newer;
	if (r->newer)
		rec(lc, r->newer)->older = r->older;
	else
		lc->newest = r->older;
	hash_del(lc, i);
	lc->bytes -= (uint64_t)r->npages << HAK_PAGE_SHIFT;
	lc->count--;
	r->next = lc->free;
	lc->free = (uint16_t)i;
}

/* A free record for a run of npages at p, stamped now, on its class's
 * list, the age list (newest) and the hashes. There is room: the caller
 * checked the bounds. */
static void lc_insert(struct hak_large_cache *lc, uintptr_t p, size_t npages,
		      uint32_t stamp)
{
	struct hak_lc_run *r;
	unsigned i;

	if (lc->free) {
		i = lc->free;
		lc->free = rec(lc, i)->next;
	} else {
		i = ++lc->used;
	}
	r = rec(lc, i);
	r->addr = p;
	r->npages = (uint32_t)npages;
	r->stamp = stamp;
	r->cls = (uint16_t)lc_class(npages);
	class_add(lc, i);
	r->newer = 0;
	r->older = lc->newest;
	if (r->older)
		rec(lc, r->older)->newer = (uint16_t)i;
	else
		lc->oldest = (uint16_t)i;
	lc->newest = (uint16_t)i;
	hash_add(lc, i);
	lc->bytes += (uint64_t)npages << HAK_PAGE_SHIFT;
	lc->count++;
}

/* Record i's run out of the cache, onto pd: the caller gives it back to
 * the provider once the heap's lock is dropped. */
static void lc_release(struct hak_large_cache *lc, unsigned i,
		       struct hak_pending *pd)
{
	struct hak_lc_run *r = rec(lc, i);
	void *p = (void *)r->addr;
	size_t bytes = (size_t)r->npages << HAK_PAGE_SHIFT;

	lc_unlink(lc, i);
	hak_pending_add(pd, p, bytes);
}

/*
 * Split providers: only the last n of record i's pages (fewer than it
 * has) out of the cache, onto pd; the rest stays cached in its place on
 * the age list, with its stamp, in the class of its new size. Giving back
 * a whole run where a part makes the room (make_room) emptied the cache
 * by up to a run (25 MiB on malloc-large) more than its bound asked, and
 * each page of it faulted back in later.
 */
static void lc_trim_tail(struct hak_large_cache *lc, unsigned i, size_t n,
			 struct hak_pending *pd)
{
	struct hak_lc_run *r = rec(lc, i);
	size_t keep = r->npages - n;

	HAK_ASSERT(n && n < r->npages);
	/* Off its class list and the hashes (its class and its end change;
	 * its start does not, but hash_del unlinks both chains). */
	class_del(lc, i);
	hash_del(lc, i);
	hak_pending_add(pd, (void *)(r->addr + (keep << HAK_PAGE_SHIFT)),
			n << HAK_PAGE_SHIFT);
	lc->bytes -= (uint64_t)n << HAK_PAGE_SHIFT;
	r->npages = (uint32_t)keep;
	r->cls = (uint16_t)lc_class(keep);
	class_add(lc, i);
	hash_add(lc, i);
}

void hak_large_cache_release_oldest(struct hak_heap *h,
				    struct hak_pending *pd)
{
	struct hak_large_cache *lc = &h->large_cache;

	HAK_ASSERT(hak_lock_held(&h->lock));
	if (lc->oldest)
		lc_release(lc, lc->oldest, pd);
}

/*
 * Before a fresh run of bytes comes from the provider: give back oldest
 * cached runs (at most what pd has room for) while the cache, the live
 * large bytes and the new run together would exceed the large peak (the
 * new run's included) by more than a HAK_LC_HEADROOM_SHIFT fraction;
 * where the provider splits, of the last run only the tail over that
 * limit goes back (lc_trim_tail), so the cache ends within a page of it.
 * The cache then holds memory only where live blocks were a moment ago:
 * at the live peak it is nearly empty, and what the heap holds for large
 * blocks stays within 1 + 2^-HAK_LC_HEADROOM_SHIFT of that peak.
 */
void hak_large_cache_make_room(struct hak_heap *h, size_t bytes,
			       struct hak_pending *pd)
{
	struct hak_large_cache *lc = &h->large_cache;
	uint64_t live = h->large_bytes + bytes;
	uint64_t peak = h->large_peak > live ? h->large_peak : live;
	uint64_t limit = peak + (peak >> HAK_LC_HEADROOM_SHIFT);

	HAK_ASSERT(hak_lock_held(&h->lock));
	while (lc->oldest && pd->n < HAK_PENDING_MAX &&
	       lc->bytes + live > limit) {
		uint64_t over = lc->bytes + live - limit;
		uint64_t n = hak_round_up(over, HAK_PAGE_SIZE) >> HAK_PAGE_SHIFT;

		/* Only the part over the limit, where the provider splits:
		 * the oldest run's tail. */
		if (lc_split(h) && n < rec(lc, lc->oldest)->npages) {
			lc_trim_tail(lc, lc->oldest, (size_t)n, pd);
			break;
		}
		lc_release(lc, lc->oldest, pd);
	}
}

void hak_large_cache_tick(struct hak_heap *h, struct hak_pending *pd)
{
	struct hak_large_cache *lc = &h->large_cache;

	HAK_ASSERT(hak_lock_held(&h->lock));
	lc->now++;
	if (lc->oldest &&
	    lc->now - rec(lc, lc->oldest)->stamp >= HAK_LC_DECAY)
		lc_release(lc, lc->oldest, pd);
}

void *hak_large_cache_take(struct hak_heap *h, size_t npages, size_t *got)
{
	struct hak_large_cache *lc = &h->large_cache;
	size_t max = npages + (npages >> HAK_LC_WINDOW_SHIFT);
	unsigned c, top, i;
	int j;
	void *p;

	HAK_ASSERT(hak_lock_held(&h->lock));
	if (!lc->count || npages > (lc_bound(h) >> HAK_PAGE_SHIFT))
		return NULL;
	/* n's own class holds runs on both sides of n: its newest, if it
	 * fits. */
	c = lc_class(npages);
	i = lc->head[c];
	if (i && rec(lc, i)->npages >= npages && rec(lc, i)->npages <= max)
		goto found;
	/* npages is below 2^32, so max's class is a valid index. */
	top = lc_class(max);
	/* The classes between lie wholly inside the window: any run. */
	if (top > c + 1) {
		j = lc_first(lc->map, c + 1, top - 1);
		if (j >= 0) {
			i = lc->head[j];
			goto found;
		}
	}
	/* max's class starts above n: its newest, if not above max. */
	i = top > c ? lc->head[top] : 0;
	if (i && rec(lc, i)->npages <= max)
		goto found;
	if (lc_split(h) && top + 1 < HAK_LC_CLASSES) {
		/* The smallest class above the window: split its newest. */
		j = lc_first(lc->map, top + 1, HAK_LC_CLASSES - 1);
		if (j >= 0) {
			struct hak_lc_run *r = rec(lc, lc->head[j]);
			uintptr_t a = r->addr;
			size_t rest = r->npages - npages;

			/* The rest is the newest run: it is stamped now, as
			 * the age list (oldest first, decay) needs. */
			lc_unlink(lc, lc->head[j]);
			lc_insert(lc, a + (npages << HAK_PAGE_SHIFT), rest,
				  lc->now);
			*got = npages;
			return (void *)a;
		}
	}
	return NULL;
found:
	p = (void *)rec(lc, i)->addr;
	*got = rec(lc, i)->npages;
	lc_unlink(lc, i);
	return p;
}

/*
 * Cache the freed run p of npages, merged first with cached neighbours
 * where the provider splits. Returns 1 when the run is the cache's
 * (cached, or, merged, too large to cache and put on pd whole), 0 when
 * it was refused untouched: the caller gives it back. Puts at most 3
 * runs on pd.
 */
int hak_large_cache_put(struct hak_heap *h, void *p, size_t npages,
			struct hak_pending *pd)
{
	struct hak_large_cache *lc = &h->large_cache;
	uintptr_t a = (uintptr_t)p;
	uint64_t bytes = (uint64_t)npages << HAK_PAGE_SHIFT;
	unsigned i, k, merged = 0;

	HAK_ASSERT(hak_lock_held(&h->lock));
	/* Runs below LC_MERGE_MIN pages are reused whole, by the window:
	 * merging them would make every reuse a split (xmalloc-test's
	 * 32 KiB batches ran 1.4x slower so). */
	if (lc_split(h) && npages >= LC_MERGE_MIN) {
		i = hash_find(lc, a, 1);
		if (i) {
			a = rec(lc, i)->addr;
			npages += rec(lc, i)->npages;
			lc_unlink(lc, i);
			merged = 1;
		}
		i = hash_find(lc, a + (npages << HAK_PAGE_SHIFT), 0);
		if (i) {
			npages += rec(lc, i)->npages;
			lc_unlink(lc, i);
			merged = 1;
		}
		bytes = (uint64_t)npages << HAK_PAGE_SHIFT;
	}
	if (bytes > lc_bound(h) || npages >= (1ULL << 32))
		goto refuse;
	for (k = 0; k < HAK_LC_EVICT && lc->oldest &&
		    (lc->bytes + bytes > lc_bound(h) ||
		     lc->count == HAK_LC_SLOTS);
	     k++)
		lc_release(lc, lc->oldest, pd);
	if (lc->bytes + bytes > lc_bound(h) || lc->count == HAK_LC_SLOTS)
		goto refuse;
	lc_insert(lc, a, npages, lc->now);
	return 1;
refuse:
	if (!merged)
		return 0;
	hak_pending_add(pd, (void *)a, bytes);
	return 1;
}

/* HAK_PENDING_MAX runs out per lock hold, given back with the lock
 * dropped: a full cache takes HAK_LC_SLOTS / HAK_PENDING_MAX holds. At
 * most HAK_LC_SLOTS + 1: frees racing the flush are not chased forever. */
void hak_large_cache_flush(struct hak_heap *h)
{
	struct hak_large_cache *lc = &h->large_cache;
	struct hak_pending pd = { .h = h };
	unsigned steps;
	int more = 1;

	for (steps = 0; more && steps <= HAK_LC_SLOTS; steps++) {
		unsigned long flags = hak_lock(&h->lock);

		while (pd.n < HAK_PENDING_MAX && lc->oldest)
			lc_release(lc, lc->oldest, &pd);
		more = lc->oldest != 0;
		hak_unlock(&h->lock, flags);
		hak_provider_release_pending(h, &pd);
	}
}

/*
 * hak_check: the lists, the bitmap and the totals agree. A walk of up to
 * 256 records and 1024 classes, so it runs in holds of LC_CHECK_STEP
 * records (hak_walk): the age list, then each class the bitmap marks. A
 * record on the list of a class whose bit is clear is found by the count
 * (the records reached through the bitmap fall short of the age list's).
 */
#define LC_CHECK_STEP 32

struct lc_check {
	unsigned phase;	 /* 1 age list, 2 classes, 3 done */
	unsigned i;	 /* next record of the list being walked */
	unsigned c;	 /* class whose list is walked; HAK_LC_CLASSES: next */
	unsigned n, k, in_classes;
	uint64_t bytes;
	int bad;
};

/* The record after index i, or 0 (and a violation) if i is out of range. */
static unsigned lc_check_index(struct lc_check *s, unsigned i)
{
	if (i > HAK_LC_SLOTS) {
		s->bad++;
		return 0;
	}
	return i;
}

static void lc_check_age(struct hak_heap *h, struct lc_check *s,
			 unsigned *steps)
{
	struct hak_large_cache *lc = &h->large_cache;

	while (s->i && (*steps)++ < LC_CHECK_STEP) {
		struct hak_lc_run *r = rec(lc, s->i);

		if (++s->n > HAK_LC_SLOTS) {
			s->bad++;
			s->i = 0;
			break;
		}
		s->bytes += (uint64_t)r->npages << HAK_PAGE_SHIFT;
		if (!r->npages || r->cls != lc_class(r->npages) ||
		    (r->addr & (HAK_PAGE_SIZE - 1)) ||
		    lc->now - r->stamp >= HAK_LC_DECAY ||
		    hak_pagemap_get(r->addr))
			s->bad++;
		s->i = lc_check_index(s, r->newer);
	}
	if (!s->i) {
		s->phase = 2;
		s->c = HAK_LC_CLASSES;
	}
}

static void lc_check_classes(struct hak_heap *h, struct lc_check *s,
			     unsigned *steps)
{
	struct hak_large_cache *lc = &h->large_cache;

	while (*steps < LC_CHECK_STEP) {
		if (s->c == HAK_LC_CLASSES || !s->i) {
			/* The next class with its bit set, after s->c. */
			unsigned lo = s->c == HAK_LC_CLASSES ? 0 : s->c + 1;
			int c = lo < HAK_LC_CLASSES
					? lc_first(lc->map, lo,
						   HAK_LC_CLASSES - 1)
					: -1;

			if (c < 0) {
				s->phase = 3;
				return;
			}
			s->c = (unsigned)c;
			s->k = 0;
			s->i = lc_check_index(s, lc->head[c]);
			if (!s->i)
				s->bad++; /* bit set, list empty */
			(*steps)++;
			continue;
		}
		(*steps)++;
		if (rec(lc, s->i)->cls != s->c || ++s->k > s->n) {
			s->bad++;
			s->i = 0;
			continue;
		}
		s->in_classes++;
		s->i = lc_check_index(s, rec(lc, s->i)->next);
	}
}

int hak_large_cache_check(struct hak_heap *h)
{
	struct hak_large_cache *lc = &h->large_cache;
	struct hak_walk w = { .l = &h->lock, .skips = &h->check_skips };
	struct lc_check s = { 0 };

	for (;;) {
		unsigned steps = 0;
		int on = hak_walk_hold(&w);

		if (on == HAK_WALK_GIVE_UP)
			goto out;
		if (on == HAK_WALK_START) {
			/* What earlier starts found stays found. */
			s = (struct lc_check){ .phase = 1, .i = lc->oldest,
					       .bad = s.bad };
			s.i = lc_check_index(&s, s.i);
		}
		if (s.phase == 1)
			lc_check_age(h, &s, &steps);
		if (s.phase == 2)
			lc_check_classes(h, &s, &steps);
		if (s.phase == 3)
			break;
		hak_walk_let_go(&w);
	}
	/* Still in the walk's last hold: the totals are this moment's. */
	if (s.n != lc->count || s.in_classes != s.n || s.bytes != lc->bytes ||
	    s.bytes > lc_bound(h))
		s.bad++;
	hak_walk_let_go(&w);
out:
	if (s.bad)
		hak_report(HAK_EV_CORRUPTION, NULL, 0, "large run cache");
	return s.bad ? 1 : 0;
}
