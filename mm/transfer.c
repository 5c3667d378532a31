// SPDX-License-Identifier: MIT
/*
 * transfer.c - the transfer cache: whole batches of free objects, per
 * class, between the per-CPU caches and the slabs (tcmalloc's transfer
 * cache; the "barn" of full sheaves in Linux's SLUB).
 *
 * Without it a free miss returns half a magazine to the slabs, one object
 * at a time through their bitmaps under the shard lock, and an allocation
 * miss takes objects out of bitmaps the same way. With it a free miss
 * hands the batch over with one copy of its pointers under a short lock
 * and an allocation miss on the same CPU takes one back the same way: a
 * CPU whose frees and allocations of a class come in bursts longer than
 * its magazine (sh8bench's) touches the slabs only when its lane's
 * transfer cache is full (a free miss) or empty (an allocation miss).
 * Objects one CPU frees and another allocates go through the slabs,
 * whose lanes give each slab back to the CPU that refills from it.
 *
 * Objects here are free (they carry the free cookie) and count as outside
 * their slabs (struct hak_shard.out_objects), like objects in a CPU cache.
 *
 * One per class and lane (config.h HAK_LANES): a CPU puts and gets in its
 * own lane's (lane_cap below says why).
 *
 * Bounds: at most HAK_TRANSFER_BATCHES batches of the class's batch size
 * (half its cache capacity) per class, shared among the lanes, so the
 * memory they hold is bounded like the per-CPU caches' (docs/guarantees.md).
 * A lane's pointer slots are taken from the provider as metadata the
 * first time a free miss there finds a batch to hand over (8 bytes a
 * slot: at most 16 KiB a class at the hosted port's 32, plus each lane's
 * rounding up to a page). Only the default heap has them (hak_xfer: its
 * fronts are the only ones with a transfer cache). A lock hold
 * copies one batch; the lock is a leaf: nothing else is taken while it is
 * held, and it masks IRQs like every shared lock.
 *
 * hak_trim and the reclaim before an out-of-memory flush every batch back
 * to the slabs; hak_check checks every object.
 */
#include "pcpu_ops.h"

/* At least one batch a lane used keeps the class within its bound. */
_Static_assert(HAK_TRANSFER_BATCHES == 0 ||
		       HAK_TRANSFER_BATCHES >= HAK_LANES,
	       "HAK_TRANSFER_BATCHES: at least one batch a lane");

struct hak_transfer hak_xfer[HAK_NCLASSES][HAK_LANES];

/*
 * Batches one lane's transfer cache may hold: HAK_TRANSFER_BATCHES shared
 * among the lanes the heap's CPUs map to, so a class holds at most
 * HAK_TRANSFER_BATCHES batches in all while the CPU ids stay below ncpus
 * (at least one a lane).
 *
 * Why a cache per lane, not one per class: a batch goes back to the CPU
 * whose free miss put it, with its lines still in that CPU's cache. One
 * shared per class handed one worker's objects to the other in
 * sh8bench-2t (each then wrote lines the other had last written) and made
 * it slower than no transfer cache at all (7.1 against 5.9 s), and
 * xmalloc-test-w2 too (2.41 against 2.13 s). Objects one CPU frees and
 * another allocates now go through the slabs, whose lanes give each
 * slab back to the CPU that refills from it (shared_pool.c).
 */
static unsigned lane_cap(const struct hak_heap *h)
{
	unsigned lanes = h->ncpus < HAK_LANES ? h->ncpus : HAK_LANES;
	unsigned cap = HAK_TRANSFER_BATCHES / (lanes ? lanes : 1);

	return cap ? cap : 1;
}

static size_t slots_bytes(struct hak_heap *h, unsigned cls)
{
	return hak_round_up((size_t)lane_cap(h) * h->shard[cls].batch *
				    sizeof(void *),
			    HAK_PAGE_SIZE);
}

/* The lane's slots, allocated on first use; NULL if the provider is
 * out of memory (the caller then goes to the slabs as before). */
static void **transfer_slots(struct hak_heap *h, unsigned cls,
			     struct hak_transfer *x)
{
	unsigned long flags;
	void **s;

	s = __atomic_load_n(&x->slots, __ATOMIC_ACQUIRE);
	if (likely(s))
		return s;
	flags = hak_lock(&h->lock);
	s = x->slots;
	if (!s) {
		s = hak_provider_alloc(h, slots_bytes(h, cls), HAK_PAGE_SIZE, 1);
		if (s) {
			x->cap = lane_cap(h);
			__atomic_store_n(&x->slots, s, __ATOMIC_RELEASE);
		}
	}
	hak_unlock(&h->lock, flags);
	return s;
}

/* x's lock held: a count only its holders write, read racily by stats
 * and decay. Under the lock, not an atomic add after it: that was a
 * second locked instruction on the line, which the other CPU had often
 * taken back for its own hold in between (3.7% of sh8bench-2t's samples
 * fell after it). */
static void stat_bump(uint64_t *c)
{
	__atomic_store_n(c, *c + 1, __ATOMIC_RELAXED);
}

int hak_transfer_put(struct hak_heap *h, unsigned cls, void *const *objs)
{
	struct hak_transfer *x;
	unsigned b = h->shard[cls].batch, i;
	void **s, **dst;
	unsigned long flags;

	x = hak_transfer_of(h, cls, hak_lane_now());
	if (!x)
		return -1;
	s = transfer_slots(h, cls, x);
	if (!s)
		return -1;
	flags = hak_lock(&x->lock);
	if (x->n == x->cap) {
		hak_unlock(&x->lock, flags);
		return -1;
	}
	dst = s + (size_t)x->n * b;
	for (i = 0; i < b; i++)
		dst[i] = objs[i];
	__atomic_store_n(&x->n, x->n + 1, __ATOMIC_RELAXED);
	stat_bump(&x->puts);
	hak_unlock(&x->lock, flags);
	return 0;
}

/* From lane's cache: 0, or -1 when it holds no batch. */
int hak_transfer_get_lane(struct hak_heap *h, unsigned cls, unsigned lane,
			  void **out)
{
	struct hak_transfer *x = hak_transfer_of(h, cls, lane);
	unsigned b = h->shard[cls].batch, i;
	unsigned long flags;
	void **src;

	/* An unlocked look first: an empty cache costs no lock. */
	if (!x || !__atomic_load_n(&x->n, __ATOMIC_RELAXED))
		return -1;
	flags = hak_lock(&x->lock);
	if (!x->n) {
		hak_unlock(&x->lock, flags);
		return -1;
	}
	__atomic_store_n(&x->n, x->n - 1, __ATOMIC_RELAXED);
	src = x->slots + (size_t)x->n * b;
	for (i = 0; i < b; i++)
		out[i] = src[i];
	stat_bump(&x->gets);
	hak_unlock(&x->lock, flags);
	return 0;
}

/* Only the caller's lane: taking a full lane's batches when ours is
 * empty (the consumer's, in a producer/consumer pair) made rptest-2t,
 * sh8bench-2t, sh6bench-2t and xmalloc-test-w2 all slower than taking
 * none (0.38 / 7.4 / 1.42 / 2.79 s against 0.30 / 5.8 / 1.26 / 2.16 s). */
int hak_transfer_get(struct hak_heap *h, unsigned cls, void **out)
{
	return hak_transfer_get_lane(h, cls, hak_lane_now(), out);
}

/* Batches put and taken in x, ever (racy). */
static uint64_t transfer_moves(struct hak_transfer *x)
{
	return hak_stat_read(&x->puts) + hak_stat_read(&x->gets);
}

/*
 * Idle decay's visit of class cls, h's lock held: the lane whose
 * transfer cache holds a batch and saw no put or take since the last
 * visit (the lowest such), or -1. Per lane: a CPU that stopped using the
 * class keeps no batches there while another CPU uses its own lane's.
 * The caller's own take is counted as seen (decay.c).
 */
int hak_transfer_decay_pick(struct hak_heap *h, unsigned cls)
{
	unsigned l;
	int pick = -1;

	HAK_ASSERT(hak_lock_held(&h->lock));
	for (l = 0; l < HAK_LANES; l++) {
		struct hak_transfer *x = hak_transfer_of(h, cls, l);
		uint64_t moves;
		int take;

		if (!x)
			return -1;
		moves = transfer_moves(x);
		take = pick < 0 && moves == x->decay_seen &&
		       __atomic_load_n(&x->n, __ATOMIC_RELAXED);

		x->decay_seen = moves + (uint64_t)take;
		if (take)
			pick = (int)l;
	}
	return pick;
}

unsigned hak_transfer_count(struct hak_heap *h, unsigned cls)
{
	unsigned l, n = 0;

	for (l = 0; l < HAK_LANES && hak_transfer_of(h, cls, l); l++)
		n += __atomic_load_n(&hak_transfer_of(h, cls, l)->n,
				     __ATOMIC_RELAXED);
	return n * h->shard[cls].batch;
}

/* Batches put and taken in class cls, ever (racy: stats, decay). */
uint64_t hak_transfer_moves(struct hak_heap *h, unsigned cls)
{
	unsigned l;
	uint64_t n = 0;

	for (l = 0; l < HAK_LANES && hak_transfer_of(h, cls, l); l++)
		n += transfer_moves(hak_transfer_of(h, cls, l));
	return n;
}

/* Every batch of lane's caches back to the slabs, one per lock hold,
 * each drained with the lock dropped: at most the lane's batches and one
 * a class (other CPUs of the lane may put more meanwhile, which the next
 * flush takes). hak_cpu_offline flushes the lane of the CPU going away. */
void hak_transfer_flush_lane(struct hak_heap *h, unsigned lane)
{
	void *batch[HAK_BATCH_MAX];
	unsigned c, k;

	for (c = 0; c < HAK_NCLASSES; c++)
		for (k = 0; k < lane_cap(h) + 1u &&
			    !hak_transfer_get_lane(h, c, lane, batch);
		     k++)
			hak_shared_drain(&h->shard[c], batch,
					 h->shard[c].batch);
}

/* hak_trim, the reclaim: every lane's. */
void hak_transfer_flush(struct hak_heap *h)
{
	unsigned l;

	for (l = 0; l < HAK_LANES; l++)
		hak_transfer_flush_lane(h, l);
}

/* hak_check: every object held is an allocated-from-slab object of its
 * class, at an object start, not free in its slab. HAK_DRAIN_CHUNK
 * objects per lock hold, checked under it: an object checked after the
 * lock dropped could have been taken and drained meanwhile, then free in
 * its slab, a false report. Batches taken or put between two holds move
 * the rest: an object may then be checked twice or not at all. */
static int transfer_check_one(struct hak_heap *h, unsigned c,
			      struct hak_transfer *x)
{
	unsigned b = h->shard[c].batch, i, end;
	int bad = 0;

	for (i = 0;; i = end) {
		unsigned long flags = hak_lock(&x->lock);
		unsigned n = x->n * b;

		end = hak_chunk_end(i, n, HAK_DRAIN_CHUNK);
		for (; i < end; i++)
			bad += hak_pcpu_check_object(x->slots[i], &h->shard[c],
						     "transfer cache");
		hak_unlock(&x->lock, flags);
		if (end >= n)
			break;
	}
	return bad;
}

int hak_transfer_check(struct hak_heap *h)
{
	int bad = 0;
	unsigned c, l;

	for (c = 0; c < HAK_NCLASSES; c++)
		for (l = 0; l < HAK_LANES && hak_transfer_of(h, c, l); l++)
			bad += transfer_check_one(h, c,
						  hak_transfer_of(h, c, l));
	return bad;
}
