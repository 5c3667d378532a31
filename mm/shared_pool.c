// SPDX-License-Identifier: MIT
/*
 * shared_pool.c - the shared pool: one shard per size class.
 *
 * A shard owns the slabs carved for its class and keeps those with a free
 * object on `partial` (one list per lane, below), wholly free ones on
 * `empty` (at most
 * HAK_EMPTY_SLABS_KEPT; more go back to the superslab pool), and full ones
 * on no list. Objects move between a shard and the per-CPU caches only in
 * batches, under the shard's spinlock, so the lock is taken once per batch
 * and never on a cache hit.
 *
 * Free objects are tracked by a bitmap per slab, not by links written into
 * the objects: a batch never touches object memory, a corrupted object
 * cannot corrupt the free state, and a second free of an object that is
 * back in its slab is caught exactly (its bit is already set).
 *
 * Lanes (config.h HAK_LANES): a partial slab belongs to the lane of the
 * CPU that last refilled from it, and a drain puts it back there, so a
 * CPU's refills take back what its own frees returned instead of another
 * CPU's freshly freed objects, whose lines that CPU still holds. With
 * one list, sh8bench-2t's two workers took each other's slabs at every
 * swing of their working sets, and each object's line then moved between
 * the CPUs at its malloc, its first write and its free (4.3 s when a
 * line moves in 55 ns, 8.5 s when it takes 215 ns; 7.1 s with lanes).
 * Another lane's slabs are taken only when it is open (lane_open) or
 * when no fresh slab is to be had, so no refill fails while any lane has
 * a free object.
 *
 * Bounds: a refill of n objects visits at most n slabs (each gives at least
 * one) and scans at most HAK_SLAB_BITMAP_WORDS words per slab, and looks
 * at up to HAK_LANES list heads per visit; a drain of n objects does O(1)
 * work per object plus at most n slab releases.
 *
 * IRQ latency: on bare metal the shard lock masks IRQs, so no hold may be
 * long. A batch moves in chunks, one lock hold each, of at most
 * HOLD_OBJECTS objects and HOLD_SLABS slab visits (refill_hold bounds the
 * bitmap words too); the lock is dropped (IRQs restored) between them. A
 * fresh slab is taken from the superslab pool with the shard lock
 * dropped, and emptied slabs beyond the hysteresis are uncarved under it
 * but given back to the pool after it is dropped, one global-lock hold
 * each. Every structure is consistent at each drop (out_objects, nslabs,
 * the lists), so hak_check may run in between.
 */
#include "internal.h"

#define HOLD_OBJECTS ((unsigned)HAK_HOLD_OBJECTS)
#define HOLD_SLABS ((unsigned)HAK_HOLD_SLABS)
_Static_assert(HAK_HOLD_OBJECTS >= 1 && HAK_HOLD_SLABS >= 1 &&
		       HAK_HOLD_SLABS <= 64,
	       "a hold moves something; gone[] of a drain is on the stack");
_Static_assert(HAK_DRAIN_KEEP_MAX <= HOLD_OBJECTS &&
		       HAK_DRAIN_KEEP_MAX <= HOLD_SLABS,
	       "a kept drain is one hold");
#define HOLD_WORDS 32u

enum { LIST_NONE, LIST_PARTIAL, LIST_EMPTY };

#define slab_of(n) hak_list_entry(n, struct hak_slab, link)

static void list_add(struct hak_list **head, struct hak_slab *s, unsigned tag)
{
	hak_list_push(head, &s->link);
	s->on_list = tag;
}

static void list_del(struct hak_list **head, struct hak_slab *s)
{
	hak_list_del(head, &s->link);
	s->on_list = LIST_NONE;
}

_Static_assert(HAK_LANES >= 1 && HAK_LANES <= 256, "a slab's lane is a byte");

/* The lane whose list s is on (when on a partial list). */
static unsigned slab_lane(const struct hak_slab *s)
{
	return HAK_LANES_ON ? s->lane : 0;
}

/* Shard lock held: lane's CPUs are at work on the class (lane_open):
 * counted once per refill and per drain hold. */
static void lane_touch(struct hak_shard *sh, unsigned lane)
{
	if (HAK_LANES_ON)
		sh->lane_tick[lane] = ++sh->ticks;
}

/* Shard lock held: may another lane's refill take lane m's slabs? When
 * m is idle, or holds more than its keep (config.h HAK_LANES). */
static int lane_open(const struct hak_shard *sh, unsigned m)
{
	return sh->npartial[m] > HAK_LANE_KEEP ||
	       sh->ticks - sh->lane_tick[m] > HAK_LANE_IDLE;
}

static void partial_add(struct hak_shard *sh, struct hak_slab *s,
			unsigned lane)
{
	if (HAK_LANES_ON) {
		s->lane = (uint8_t)lane;
		sh->npartial[lane]++;
	}
	list_add(&sh->partial[HAK_LANES_ON ? lane : 0], s, LIST_PARTIAL);
}

static void partial_del(struct hak_shard *sh, struct hak_slab *s)
{
	unsigned lane = slab_lane(s);

	if (HAK_LANES_ON)
		sh->npartial[lane]--;
	list_del(&sh->partial[lane], s);
}

static int any_partial(const struct hak_shard *sh)
{
	unsigned i;

	for (i = 0; i < HAK_LANES; i++)
		if (sh->partial[i])
			return 1;
	return 0;
}

static unsigned slab_words(const struct hak_slab *s)
{
	return (s->capacity + 63u) / 64u;
}

void hak_shard_init(struct hak_shard *sh, struct hak_heap *h, unsigned cls,
		    const struct hak_class_info *ci, unsigned cap)
{
	unsigned long fresh;

	sh->cls = (uint8_t)cls;
	sh->heap = h;
	sh->ci = ci;
	sh->cap = (uint16_t)cap;
	sh->cap_max = (uint32_t)cap; /* the default heap's grow: init.c */
	sh->batch = (uint16_t)hak_cache_batch(cap);
	fresh = HAK_REFILL_FRESH_BYTES / ci->size; /* at least 1: no false OOM */
	if (sh->ctor) /* slab_construct touched every object already */
		fresh = 0xffff;
	sh->fresh_max = (uint16_t)(fresh < 1	    ? 1
				   : fresh > 0xffff ? 0xffff
						    : fresh);
	sh->magoff = (uint16_t)(cls < HAK_NCLASSES ? HAK_MAG_OFFSET(cls)
						   : HAK_MAG_BASE);
	if (!sh->cookie_word)
		sh->cookie_word = HAK_COOKIE_WORD;
}

/* Shard lock held: around a carve or an uncarve, the slab's sequence odd
 * (its stores ordered after the odd one), then even again (release). */
static void slab_seq_begin(struct hak_slab *s)
{
	__atomic_store_n(&s->seq, (uint16_t)(s->seq + 1), __ATOMIC_RELAXED);
	hak_fence_release();
}

static void slab_seq_end(struct hak_slab *s)
{
	__atomic_store_n(&s->seq, (uint16_t)(s->seq + 1), __ATOMIC_RELEASE);
}

/* Where the objects of unit s start, and how many fit, for ci. */
static uintptr_t slab_geometry(struct hak_slab *s,
			       const struct hak_class_info *ci, unsigned *cap)
{
	uintptr_t base = hak_slab_base(s), start = base;

	if (s->index == 0)
		start = hak_round_up(base + HAK_SS_HEADER_SIZE, ci->align);
	*cap = (unsigned)((base + HAK_SLAB_SIZE - start) / ci->size);
	return start;
}

/*
 * An object cache's constructor (SLAB's rule): once per object, when its
 * slab is carved, so a cached object is handed out in constructed state.
 * Run with no lock held, before the carve: the unit is ours alone, and
 * the embedder's code must not run with IRQs masked under a shard lock.
 */
static void slab_construct(struct hak_slab *s, struct hak_shard *sh)
{
	unsigned cap, i;
	uintptr_t start = slab_geometry(s, sh->ci, &cap);

	for (i = 0; i < cap; i++)
		sh->ctor((void *)(start + (uintptr_t)i * sh->ci->size),
			 sh->ctor_arg);
}

/* Only the default heap's slabs take the inline free path: elsewhere div
 * 0 makes free() hand the object to its owner (heap.c). */
static void slab_carve(struct hak_slab *s, struct hak_shard *sh)
{
	const struct hak_class_info *ci = sh->ci;
	unsigned cls = sh->cls;
	unsigned cap, w, words;
	uintptr_t start = slab_geometry(s, ci, &cap);

	slab_seq_begin(s);
	if (HAK_DEBUG && !sh->ctor) /* no stale debug header survives */
		hak_memset((void *)start, 0, (size_t)cap * ci->size);
	/* Only the words this class uses (layout.h): the bitmap is sized
	 * for the 8-byte class's 8192 objects, and a carve is under the
	 * shard lock. (This form of the loop: an 8-byte carve's new_slab
	 * took 4077 instructions at most on x86_64; with v = ~0 and one
	 * test for the last word GCC's code took 4720.) */
	words = (cap + 63u) / 64u;
	for (w = 0; w < words; w++) {
		uint64_t v = 0;

		if ((w + 1) * 64 <= cap)
			v = ~0ULL;
		else if (w * 64 < cap)
			v = (1ULL << (cap - w * 64)) - 1;
		__atomic_store_n(&s->bits[w], v, __ATOMIC_RELAXED);
	}
	s->size = ci->size;
	s->inv = ci->inv;
	__atomic_store_n(&s->div,
			 sh->heap == &hak_heap && cls != HAK_CLASS_CACHE
				 ? ci->div
				 : 0,
			 __ATOMIC_RELAXED);
	s->magoff = sh->magoff;
	s->shard = sh;
	s->capacity = (uint16_t)cap;
	s->nfree = (uint16_t)cap;
	s->hint = 0;
	__atomic_store_n(&s->hwm, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->hwm_off, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&s->start, start, __ATOMIC_RELAXED);
	s->span = cap * ci->size;
	__atomic_store_n(&s->cls, (uint8_t)cls, __ATOMIC_RELAXED);
	s->on_list = LIST_NONE;
	hak_slabmap_carve(s);
	slab_seq_end(s);
}

/* Shard lock held (or the slab's superslab on no list: a destroyed heap's,
 * hak_superslab_release_all): lay a wholly free slab down (the unit goes
 * back to its superslab after the lock is dropped). From here free()
 * rejects every pointer into it (span 0) and hak_check no longer counts
 * it as cls's. */
void hak_slab_uncarve(struct hak_slab *s)
{
	slab_seq_begin(s);
	__atomic_store_n(&s->hwm_off, 0, __ATOMIC_RELAXED);
	hak_slabmap_mark(s);
	__atomic_store_n(&s->cls, HAK_CLASS_NONE, __ATOMIC_RELAXED);
	s->span = 0;
	__atomic_store_n(&s->start, 0, __ATOMIC_RELAXED);
	s->size = 0;
	s->inv = 0;
	__atomic_store_n(&s->div, 0, __ATOMIC_RELAXED);
	s->capacity = 0;
	s->nfree = 0;
	__atomic_store_n(&s->shard, NULL, __ATOMIC_RELAXED);
	slab_seq_end(s);
}

/*
 * The free cookie (malloc.c) marks every free object, so that free()
 * needs no bitmap look to refuse a double free: free() writes it, malloc
 * clears it, and objects that leave a slab for the first time get it
 * here, since an object can go to a CPU cache and come back unallocated.
 * Those are the ones at or above the high-water mark: written under the
 * lock, so a free() that sees the new mark sees their cookies.
 */
static void slab_mark_fresh(struct hak_slab *s, void *const *objs,
			    unsigned got)
{
	uintptr_t fresh = s->start + s->hwm_off;
	unsigned i, w = s->shard->cookie_word;

	if (!HAK_HARDEN)
		return;
	for (i = 0; i < got && (uintptr_t)objs[i] >= fresh; i++)
		((uintptr_t *)objs[i])[w] = hak_heap.secret ^ (uintptr_t)objs[i];
}

/* A refill in progress (hak_shared_refill). */
struct refill {
	unsigned fresh; /* never-used objects it may still take */
	/* The one slab every object so far came from, each never used and
	 * each visit starting where the last one stopped (next), so that
	 * they lie back to back; RUN_MIXED once they do not. A visit with
	 * no used object below the high-water mark takes the objects from
	 * the mark up, in order; but between holds, with the lock dropped,
	 * another CPU may take the next ones (a first version did not
	 * check, and handed those out twice: the QEMU suites' -smp 4 runs
	 * found it, and review). */
	const struct hak_slab *run;
	uintptr_t next;
	unsigned lane; /* the refilling CPU's lane */
	unsigned all;  /* 1: any lane's slabs (the last resort) */
};

/* Shard lock held: the partial slab a refill may take from next: its
 * own lane's first, else an open lane's (or any lane's, rf->all).
 * HAK_LANES steps at most. */
static struct hak_slab *partial_peek(const struct hak_shard *sh,
				     const struct refill *rf)
{
	unsigned i;

	for (i = 0; i < HAK_LANES; i++) {
		unsigned m = (rf->lane + i) % HAK_LANES;

		if (sh->partial[m] && (!i || rf->all || lane_open(sh, m)))
			return slab_of(sh->partial[m]);
	}
	return NULL;
}

/* The same, and another lane's slab becomes the refill's lane's: the
 * objects it hands out come back to it. */
static struct hak_slab *partial_next(struct hak_shard *sh,
				     const struct refill *rf)
{
	struct hak_slab *s = partial_peek(sh, rf);

	if (HAK_LANES_ON && s && s->lane != rf->lane) {
		partial_del(sh, s);
		partial_add(sh, s, rf->lane);
	}
	return s;
}

#define RUN_MIXED ((const struct hak_slab *)1)

/*
 * Up to n of s's free objects, lowest index first, stored downwards from
 * end: end[-1] is the lowest, end[-got] the highest. Refills fill their
 * batch from its end (hak_shared_refill), so that the magazine, which
 * pops its top first, hands a slab's objects out in ascending address
 * order. On cold objects that was worth 15-25% of sh8bench-1t on this
 * project's VM (docs/performance.md), at no cost per object; the likely
 * reason, not measured here, is that next-line prefetchers fetch ahead
 * of ascending accesses.
 *
 * Never-used objects (at or above the high-water mark; every one below
 * it that is free was used and freed) are taken at most fresh_max a
 * refill, counted down in rf->fresh: they get their free cookie here
 * (slab_mark_fresh), and the write would otherwise bring in a batch's
 * pages (32-64 KiB in the Pool classes) for objects that may sit unused
 * in a CPU cache. The objects below the mark come first (lowest index
 * first), so capping n caps the fresh ones. A slab_take that returns
 * fewer than n and leaves objects free in s was capped, and has spent
 * the budget: rf->fresh is 0.
 */
static unsigned slab_take(struct hak_slab *s, void **end, unsigned n,
			  struct refill *rf)
{
	unsigned got, w = s->hint, words = slab_words(s);
	unsigned used = s->nfree - (s->capacity - s->hwm); /* free, below */
	unsigned most = used + rf->fresh;
	void **q = end, **stop;

	if (unlikely(n > most))
		n = most;
	stop = end - n;
	while (q > stop && w < words) {
		uint64_t bits = __atomic_load_n(&s->bits[w], __ATOMIC_RELAXED);

		while (bits && q > stop) {
			unsigned b = arch_ctz64(bits);

			bits &= bits - 1;
			*--q = (void *)(s->start +
					(uintptr_t)(w * 64 + b) * s->size);
		}
		__atomic_store_n(&s->bits[w], bits, __ATOMIC_RELAXED);
		if (bits)
			break;
		w++;
	}
	got = (unsigned)(end - q);
	if (got > used)
		rf->fresh -= got - used;
	if (got && (used || (rf->run && (rf->run != s ||
					 (uintptr_t)end[-1] != rf->next)))) {
		rf->run = RUN_MIXED;
	} else if (got) {
		rf->run = s;
		rf->next = (uintptr_t)end[-(long)got] + s->size;
	}
	s->hint = (uint16_t)w;
	s->nfree = (uint16_t)(s->nfree - got);
	/* Lowest index first, so the last one taken is the highest. */
	if (got) {
		uint32_t top = hak_obj_index((uintptr_t)end[-(long)got] -
						     s->start,
					     s->inv) + 1;

		if (top > s->hwm) {
			slab_mark_fresh(s, end - got, got);
			__atomic_store_n(&s->hwm, (uint16_t)top,
					 __ATOMIC_RELAXED);
			__atomic_store_n(&s->hwm_off,
					 (uintptr_t)top * s->size,
					 __ATOMIC_RELEASE);
			hak_slabmap_mark(s);
		}
	}
	return got;
}

/*
 * Shard lock held: one hold's share of a refill: at most HOLD_OBJECTS
 * objects and HOLD_SLABS slab visits, which skip at most HOLD_WORDS empty
 * bitmap words between them (a visit that starts below the budget may
 * skip up to a slab's HAK_SLAB_BITMAP_WORDS: the hint only moves up, so
 * skipped words are not scanned again), stored downwards from end, with
 * the refill's budget of never-used objects in rf->fresh (slab_take).
 * Returns the objects taken, counted out; the caller tells "budget
 * spent" by rf->fresh, "hold done" from "shard dry" by the lists. Out of
 * line: inlined, its loop spills the caller's state on every slab visit.
 */
static __attribute__((noinline)) unsigned refill_hold(struct hak_shard *sh,
						      void **end, unsigned n,
						      struct refill *rf)
{
	unsigned got = 0, slabs = 0, skipped = 0;

	if (n > HOLD_OBJECTS)
		n = HOLD_OBJECTS;
	while (got < n && slabs < HOLD_SLABS && skipped < HOLD_WORDS) {
		struct hak_slab *s = partial_next(sh, rf);
		unsigned hint;

		if (!s && sh->empty) {
			s = slab_of(sh->empty);
			list_del(&sh->empty, s);
			__atomic_store_n(&sh->nempty, sh->nempty - 1,
					 __ATOMIC_RELAXED);
			partial_add(sh, s, rf->lane);
		}
		if (!s)
			break;
		hint = s->hint;
		got += slab_take(s, end - got, n - got, rf);
		skipped += s->hint - hint;
		slabs++;
		if (!s->nfree)
			partial_del(sh, s);
		else if (got < n) /* capped: the budget is spent */
			break;
	}
	sh->out_objects += got;
	return got;
}

/*
 * A refill's batch of never-used objects from one slab (struct refill),
 * out[n - 1] the lowest, rewritten in pop order from its end as ranks 0,
 * s, 2s, ..., then 1, 1 + s, ...: each round still walks up through
 * memory, and the pops of a round lie s objects apart, on cache lines of
 * their own (hak_stripe_of). Why: one CPU's consecutive allocations are
 * often handed to different threads (a main thread's per-worker
 * objects); on one line, they false-share for as long as the workers
 * reuse them, each worker's free and malloc meeting the same object in
 * its own CPU's magazine (Hoard's "passive false sharing":
 * cache-scratch-2t took 3.4 s, against 1.2 s without the shared line).
 * Every round, not only the first: the objects a program hands out need
 * not be the first of a batch. The addresses are computed, not read:
 * about 5 instructions an object, no lock held (the batch is the
 * caller's).
 */
static void stripe_run(void **out, unsigned n, unsigned s, uintptr_t size)
{
	uintptr_t lo = (uintptr_t)out[n - 1], hi = lo + (n - 1) * size;
	uintptr_t step = (uintptr_t)s * size, a, r;
	void **p = out + n;

	for (r = 0; r < s; r++) /* a round past hi (r >= n) writes nothing */
		for (a = lo + r * size; a <= hi; a += step)
			*--p = (void *)a;
}

unsigned hak_shared_refill(struct hak_shard *sh, void **out, unsigned n)
{
	unsigned long flags = hak_lock(&sh->lock);
	struct refill rf = {sh->fresh_max, NULL, 0, hak_lane_now(), 0};
	unsigned got = 0;
	int64_t fold;

	lane_touch(sh, rf.lane);

	for (;;) {
		struct hak_slab *s;

		got += refill_hold(sh, out + n - got, n - got, &rf);
		/* The budget spent (got > 0 then): the rest would be fresh,
		 * and a fresh slab would give nothing and stay wholly free
		 * on the partial list. */
		if (got == n || !rf.fresh)
			break;
		if (partial_peek(sh, &rf) || sh->empty) {
			/* This hold did its share: let IRQs in. */
			hak_unlock(&sh->lock, flags);
#ifdef HAK_TEST_HOOKS
			if (hak_test_refill_gap)
				hak_test_refill_gap(sh);
#endif
			flags = hak_lock(&sh->lock);
			continue;
		}
		/* A fresh unit, the shard lock dropped: the global lock may
		 * build a superslab meanwhile. */
		hak_unlock(&sh->lock, flags);
		s = hak_superslab_get_slab(sh->heap);
		if (s && sh->ctor)
			slab_construct(s, sh);
		flags = hak_lock(&sh->lock);
		if (!s) {
			/* No fresh slab: any lane's before we fail (or the
			 * empty slab a drain left meanwhile). */
			if (rf.all || !(any_partial(sh) || sh->empty))
				break;
			rf.all = 1;
			continue;
		}
		slab_carve(s, sh);
		sh->nslabs++;
		partial_add(sh, s, rf.lane);
	}
	fold = hak_stats_fold(sh, sh->batch);
	hak_unlock(&sh->lock, flags);
	if (got < n) { /* short (fresh cap, or no memory): to the front */
		unsigned i;

		for (i = 0; i < got; i++)
			out[i] = out[n - got + i];
	}
	/* Striped only when every object was never used: a used slab's
	 * free objects are as scattered as its frees were, and a reorder
	 * on every refill (a copy and a permutation, 15 instructions an
	 * object) made sh8bench-1t 10% slower. */
	if (rf.run != RUN_MIXED && rf.run && sh->ci->stripe > 1 && got > 2)
		stripe_run(out, got, sh->ci->stripe, sh->ci->size);
	hak_stats_out_add(sh->heap, fold);
	return got;
}

/* Shard lock held. Slab s just became wholly free: kept empty (0), or
 * uncarved and no longer the shard's (1), for the caller to give back once
 * it dropped the lock. */
static int slab_emptied(struct hak_shard *sh, struct hak_slab *s)
{
	HAK_ASSERT(hak_lock_held(&sh->lock));
	if (s->on_list == LIST_PARTIAL)
		partial_del(sh, s);
	if (sh->nempty < HAK_EMPTY_SLABS_KEPT) {
		list_add(&sh->empty, s, LIST_EMPTY);
		__atomic_store_n(&sh->nempty, sh->nempty + 1,
				 __ATOMIC_RELAXED);
		return 0;
	}
	sh->nslabs--;
	hak_slab_uncarve(s);
	return 1;
}

/*
 * Shard lock held: the end of a run of got objects drained into slab s,
 * the lowest of whose bitmap words is hint. A batch mostly holds runs of
 * one slab (a refill takes a slab's objects in order), so a slab's count,
 * hint and list move once per run, not once per object. A run cannot fill
 * its slab before its end: its later objects would have found their bits
 * set. (Inlined: out of line, the calls cost a slab of one object more
 * than the per-run saving.)
 */
static inline __attribute__((always_inline)) void
run_end(struct hak_shard *sh, struct hak_slab *s, unsigned got,
	unsigned hint, struct hak_slab **gone, unsigned *ngone)
{
	if (hint < s->hint)
		s->hint = (uint16_t)hint;
	s->nfree = (uint16_t)(s->nfree + got);
	sh->out_objects -= got;
	if (s->nfree == s->capacity) {
		if (slab_emptied(sh, s))
			gone[(*ngone)++] = s;
	} else if (s->on_list == LIST_NONE) {
		partial_add(sh, s, slab_lane(s));
	}
}

/*
 * One hold of the shard lock: objs[0..n), n <= HOLD_OBJECTS, back in
 * their slabs, as far as HOLD_SLABS runs go (*used: how far): each run
 * may empty its slab, and an uncarve is the longest part of a hold.
 * Slabs emptied beyond the hysteresis are uncarved and put in gone[]
 * (*ngone), for the caller to give back with the lock dropped. Adds
 * what the heap's count of bytes out is owed to *fold
 * (hak_stats_fold).
 */
static void drain_hold(struct hak_shard *sh, void *const *objs, unsigned n,
		       struct hak_slab **gone, unsigned *ngone, unsigned *used,
		       int64_t *fold)
{
	unsigned long flags = hak_lock(&sh->lock);
	struct hak_slab *s = NULL; /* the current run's slab */
	unsigned lane = hak_lane_now();
	uintptr_t start = 0, span = 0; /* its objects: none before a run */
	uint64_t *bits = NULL;		/* and its bitmap */
	uint32_t inv = 0;
	void *const *q = objs, *const *end = objs + n;
	unsigned got = 0, hint = 0, runs = 0;

	lane_touch(sh, lane);
	for (; q < end; q++) {
		uintptr_t p = (uintptr_t)*q, off = p - start;
		uint32_t idx;
		uint64_t bit, w;

		/* One compare keeps a run going: p lies in the run's slab. */
		if (unlikely(off >= span)) {
			struct hak_slab *t = hak_slab_of_object(p);

			if (got)
				run_end(sh, s, got, hint, gone, ngone);
			got = 0;
			s = NULL;
			span = 0;
			if (runs++ == HOLD_SLABS)
				break;
			if (t->shard != sh) {
				/* Cannot happen for objects free() validated. */
				hak_report(HAK_EV_CORRUPTION, *q, 0,
					   "cached object of another class");
				continue;
			}
			s = t;
			start = s->start;
			span = s->span;
			bits = s->bits;
			inv = s->inv;
			hint = s->hint;
			off = p - start;
		}
		idx = hak_obj_index(off, inv);
		bit = 1ULL << (idx & 63);
		w = __atomic_load_n(&bits[idx >> 6], __ATOMIC_RELAXED);
		if (unlikely(w & bit)) {
			/* Freed twice, its cookie overwritten in between (a
			 * write after the first free): free() took it, the
			 * bitmap catches it here (docs/security.md). */
			hak_report(HAK_EV_DOUBLE_FREE, *q, 0,
				   "cached object already free in its slab");
			continue;
		}
		__atomic_store_n(&bits[idx >> 6], w | bit, __ATOMIC_RELAXED);
		if ((idx >> 6) < hint)
			hint = idx >> 6;
		got++;
	}
	if (got)
		run_end(sh, s, got, hint, gone, ngone);
	*fold += hak_stats_fold(sh, sh->batch);
	hak_unlock(&sh->lock, flags);
	*used = (unsigned)(q - objs);
}

void hak_shared_drain(struct hak_shard *sh, void *const *objs, unsigned n)
{
	unsigned i = 0;
	int64_t fold = 0;

	while (i < n) {
		struct hak_slab *gone[HOLD_SLABS]; /* one per run */
		unsigned len = n - i > HOLD_OBJECTS ? HOLD_OBJECTS : n - i;
		unsigned ngone = 0, used, k;

		drain_hold(sh, objs + i, len, gone, &ngone, &used, &fold);
		i += used;
		/* One global-lock hold per slab, with IRQs on in between. */
		for (k = 0; k < ngone; k++)
			hak_superslab_put_slab(gone[k], HAK_SS_PUT);
	}
	/* At most one atomic on the heap-wide count per drain. */
	hak_stats_out_add(sh->heap, fold);
}

unsigned hak_shared_drain_keep(struct hak_shard *sh, void *const *objs,
			       unsigned n, struct hak_slab **gone)
{
	unsigned ngone = 0, used;
	int64_t fold = 0;

	HAK_ASSERT(n <= HAK_DRAIN_KEEP_MAX);
	/* n <= HOLD_SLABS: no run limit stops it short. */
	drain_hold(sh, objs, n, gone, &ngone, &used, &fold);
	HAK_ASSERT(used == n);
	hak_stats_out_add(sh->heap, fold);
	return ngone;
}

void hak_shared_drain_light(struct hak_shard *sh, void *const *objs,
			    unsigned n)
{
	struct hak_slab *gone[HAK_DRAIN_KEEP_MAX];
	unsigned g = hak_shared_drain_keep(sh, objs, n, gone);

	while (g)
		hak_superslab_put_slab(gone[--g], HAK_SS_KEEP);
}

unsigned hak_shard_trim_keep(struct hak_shard *sh, struct hak_slab **gone)
{
	unsigned long flags = hak_lock(&sh->lock);
	unsigned ngone = 0;
	int64_t fold = hak_stats_fold(sh, 0); /* a trim counts exactly */

	while (sh->empty && ngone < HAK_EMPTY_SLABS_KEPT) {
		struct hak_slab *s = slab_of(sh->empty);

		list_del(&sh->empty, s);
		__atomic_store_n(&sh->nempty, sh->nempty - 1,
				 __ATOMIC_RELAXED);
		sh->nslabs--;
		hak_slab_uncarve(s);
		gone[ngone++] = s;
	}
	hak_unlock(&sh->lock, flags);
	hak_stats_out_add(sh->heap, fold);
	return ngone;
}

void hak_shard_trim(struct hak_shard *sh)
{
	struct hak_slab *gone[HAK_EMPTY_SLABS_KEPT];
	unsigned ngone = hak_shard_trim_keep(sh, gone), k;

	for (k = 0; k < ngone; k++)
		hak_superslab_put_slab(gone[k], HAK_SS_FORCE);
}

uint64_t hak_shard_out(struct hak_shard *sh)
{
	return __atomic_load_n(&sh->out_objects, __ATOMIC_RELAXED);
}

/* A slab's descriptor: its geometry fits its unit and its class, and
 * its slab-map entry copies it. */
static int check_slab_geometry(struct hak_slab *s, struct hak_shard *sh)
{
	uintptr_t base = hak_slab_base(s);

	if (s->size != sh->ci->size || s->shard != sh || s->start < base ||
	    s->start + s->span > base + HAK_SLAB_SIZE ||
	    s->span != (uint32_t)s->capacity * s->size || !s->capacity ||
	    (s->index == 0 && s->start < base + HAK_SS_HEADER_SIZE)) {
		hak_report(HAK_EV_CORRUPTION, s, 0, "slab geometry");
		return 1;
	}
	if (hak_slabmap_agrees(s)) {
		hak_report(HAK_EV_CORRUPTION, s, 0, "slab map entry");
		return 1;
	}
	return 0;
}

/* Bitmap words [w, end) of s: no bit past the capacity, none below the
 * hint; their set bits added to *pop. */
static int check_slab_words(struct hak_slab *s, unsigned w, unsigned end,
			    unsigned *pop)
{
	int bad = 0;

	for (; w < end; w++) {
		uint64_t v = __atomic_load_n(&s->bits[w], __ATOMIC_RELAXED);
		uint64_t valid = ~0ULL;

		if ((w + 1) * 64 > s->capacity)
			valid = (1ULL << (s->capacity - w * 64)) - 1;
		if (v & ~valid) {
			hak_report(HAK_EV_CORRUPTION, s, 0, "slab bitmap tail");
			bad++;
		}
		if (w < s->hint && v) {
			hak_report(HAK_EV_CORRUPTION, s, 0, "slab bitmap hint");
			bad++;
		}
		*pop += hak_popcount64(v & valid);
	}
	return bad;
}

/* The whole bitmap read: its count is the slab's, its list its fill's. */
static int check_slab_count(struct hak_slab *s, unsigned pop)
{
	int bad = 0;

	if (pop != s->nfree) {
		hak_report(HAK_EV_CORRUPTION, s, 0, "slab free count");
		bad++;
	}
	if ((s->on_list == LIST_PARTIAL) !=
		    (s->nfree && s->nfree < s->capacity) ||
	    (s->on_list == LIST_EMPTY) != (s->nfree == s->capacity)) {
		hak_report(HAK_EV_CORRUPTION, s, 0, "slab on the wrong list");
		bad++;
	}
	return bad;
}

/* s's place on its list: each link leads back to it and its neighbours
 * are on the same list of the same shard (a local check: the lists are
 * not walked, they may be long); on no list, no links. */
static int check_links(struct hak_slab *s, struct hak_shard *sh)
{
	struct hak_list *n = &s->link, *head = sh->empty;
	int bad;

	if (s->on_list == LIST_PARTIAL) {
		if (HAK_LANES_ON && s->lane >= HAK_LANES) {
			hak_report(HAK_EV_CORRUPTION, s, 0, "slab lane");
			return 1;
		}
		head = sh->partial[slab_lane(s)];
	}
	if (s->on_list == LIST_NONE)
		bad = n->next || n->prev;
	else
		bad = (n->prev ? n->prev->next : head) != n ||
		      (n->next && n->next->prev != n) ||
		      (n->prev && (slab_of(n->prev)->shard != sh ||
				   slab_of(n->prev)->on_list != s->on_list ||
				   (HAK_LANES_ON && s->on_list == LIST_PARTIAL &&
				    slab_of(n->prev)->lane != s->lane))) ||
		      (n->next && (slab_of(n->next)->shard != sh ||
				   slab_of(n->next)->on_list != s->on_list ||
				   (HAK_LANES_ON && s->on_list == LIST_PARTIAL &&
				    slab_of(n->next)->lane != s->lane)));
	if (bad)
		hak_report(HAK_EV_CORRUPTION, s, 0, "slab list links");
	return bad;
}

/*
 * What one hold of a shard check may do, in units sized from x86_64's
 * IRQ-off windows (a descriptor looked at cost about 25 instructions, a
 * bitmap word about 28): a descriptor is 1, a slab's geometry and links
 * 6, a bitmap word 2. An 8-byte class's slab has 128
 * words: its bitmap is read across holds, CHECK_WORDS_PER_HOLD at a
 * time, and its count compared only if no one else took the shard lock
 * in between (the walk is then clean, see below).
 */
#define CHECK_HOLD_UNITS 40u
#define CHECK_WORDS_PER_HOLD 16u

struct shard_check {
	struct hak_superslab *ss; /* next superslab to look in; NULL: done */
	unsigned i;		  /* its next unit */
	unsigned w;		  /* in unit i: next bitmap word; 0: none */
	unsigned pop;		  /* set bits in words [0, w) */
	uint64_t nss, slabs, out, nempty;
	uint64_t npartial[HAK_LANES];
	int dirty; /* someone else held the shard lock: counts not exact */
};

/* Both locks held: the walk moves past unit i. */
static int check_next_unit(struct hak_heap *h, struct shard_check *k)
{
	k->w = 0;
	if (++k->i < HAK_SLABS_PER_SS)
		return 0;
	k->i = 0;
	k->ss = hak_list_entry(k->ss->all.next, struct hak_superslab, all);
	if (k->ss && ++k->nss >= h->nss) {
		hak_report(HAK_EV_CORRUPTION, k->ss, 0, "superslab list loop");
		k->ss = NULL;
		return 1;
	}
	return 0;
}

/* Both locks held: up to CHECK_HOLD_UNITS of the walk. */
static int check_units(struct hak_shard *sh, struct shard_check *k)
{
	struct hak_heap *h = sh->heap;
	unsigned units = 0;
	int bad = 0;

	while (k->ss && units < CHECK_HOLD_UNITS) {
		struct hak_slab *s = &k->ss->slab[k->i];
		unsigned end, max;

		units++;
		/* Other classes carve concurrently: cls is atomic, and
		 * shard is written before it. */
		if (__atomic_load_n(&s->cls, __ATOMIC_RELAXED) != sh->cls ||
		    s->shard != sh) {
			bad += check_next_unit(h, k);
			continue;
		}
		if (k->w && k->dirty) {
			/* Its bitmap may have changed since the last hold:
			 * the walk's counts are not compared anyway. */
			bad += check_next_unit(h, k);
			continue;
		}
		if (!k->w) {
			/* No slab is begun in a hold that cannot afford
			 * its head and a few words: the next one will. */
			if (units > 1 && units + 6 + 8 > CHECK_HOLD_UNITS)
				break;
			units += 6;
			k->slabs++;
			k->out += s->capacity - s->nfree;
			k->nempty += s->on_list == LIST_EMPTY;
			if (HAK_LANES_ON && s->on_list == LIST_PARTIAL &&
			    s->lane < HAK_LANES)
				k->npartial[s->lane]++;
			k->pop = 0;
			if (check_slab_geometry(s, sh)) {
				bad += 1 + check_next_unit(h, k);
				continue;
			}
			bad += check_links(s, sh);
		}
		/* Words: what this hold's units leave, at least 4. */
		max = (CHECK_HOLD_UNITS - units) / 2;
		max = max < 4 ? 4 : max > CHECK_WORDS_PER_HOLD
					     ? CHECK_WORDS_PER_HOLD
					     : max;
		end = slab_words(s);
		if (end - k->w > max)
			end = k->w + max;
		bad += check_slab_words(s, k->w, end, &k->pop);
		units += 2 * (end - k->w);
		k->w = end;
		if (end < slab_words(s))
			break; /* the rest of this bitmap in the next hold */
		if (!k->dirty)
			bad += check_slab_count(s, k->pop);
		bad += check_next_unit(h, k);
	}
	return bad;
}

/* The last hold: the walk's counts against the shard's. */
static int check_counts(struct hak_shard *sh, const struct shard_check *k)
{
	struct hak_slab *e = slab_of(sh->empty);
	unsigned i;

	for (i = 0; i < HAK_LANES; i++) {
		struct hak_slab *p = slab_of(sh->partial[i]);

		if (k->npartial[i] != sh->npartial[i] ||
		    (p && (p->shard != sh || p->on_list != LIST_PARTIAL ||
			   slab_lane(p) != i)))
			goto bad;
	}
	if (k->slabs == sh->nslabs && k->out == sh->out_objects &&
	    k->nempty == sh->nempty && k->nempty <= HAK_EMPTY_SLABS_KEPT &&
	    (!e || (e->shard == sh && e->on_list == LIST_EMPTY)))
		return 0;
bad:
	hak_report(HAK_EV_CORRUPTION, sh, sh->cls, "shard counts");
	return 1;
}

/*
 * hak_check of one shard: every slab of its class in its heap's
 * superslabs, found by a walk over them in holds of the shard lock and
 * the heap's (at most CHECK_HOLD_UNITS each, IRQs on in between). The
 * walk resumes only if no superslab joined or left the heap meanwhile
 * (ss_list_gen), and its counts are compared only if no one else took
 * the shard lock in any gap; else it starts over, up to HAK_WALK_TRIES
 * times, and then counts the comparison as skipped (the slabs were still
 * each checked under the locks). outer (an object cache's shard, whose
 * cache another CPU may destroy between two holds): hak_heaps_lock is
 * taken around each hold and *outer must still be hak_heaps_gen, else
 * -1 (the cache list changed: the caller starts over); 0 otherwise. The
 * violations found are added to *nbad.
 */
int hak_shard_check(struct hak_shard *sh, const uint64_t *outer, int *nbad)
{
	struct hak_heap *h = sh->heap;
	struct shard_check k = { 0 };
	uint64_t seen_sh = 0, seen_list = 0;
	unsigned long fo = 0, fs, fh;
	unsigned starts = 0;
	int bad = 0, restart = 1, done = 0;

	while (!done) {
		if (outer) {
			fo = hak_lock(&hak_heaps_lock);
			if (hak_heaps_gen != *outer) {
				hak_unlock(&hak_heaps_lock, fo);
				*nbad += bad;
				return -1;
			}
		}
		fs = hak_lock(&sh->lock);
		fh = hak_lock(&h->lock);
		if (restart || h->ss_list_gen != seen_list) {
			if (starts++ == HAK_WALK_TRIES) {
				hak_stat_add(&h->check_skips, 1);
				done = 1;
				goto let_go;
			}
			k = (struct shard_check){
				.ss = hak_list_entry(h->ss_all,
						     struct hak_superslab, all)
			};
		} else if (sh->lock.holds != seen_sh + 1) {
			k.dirty = 1;
		}
		bad += check_units(sh, &k);
		/* A walk that saw the shard change starts over: its counts
		 * are compared only when exact. */
		restart = !k.ss;
		if (restart && !k.dirty) {
			bad += check_counts(sh, &k);
			done = 1;
		}
		seen_list = h->ss_list_gen;
		seen_sh = sh->lock.holds;
let_go:
		hak_unlock(&h->lock, fh);
		hak_unlock(&sh->lock, fs);
		if (outer)
			hak_unlock(&hak_heaps_lock, fo);
		if (!done)
			hak_test_walk_gap();
	}
	*nbad += bad;
	return 0;
}
