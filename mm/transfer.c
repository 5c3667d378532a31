// SPDX-License-Identifier: MIT
/*
 * transfer.c - the transfer cache: whole batches of free objects, per
 * class, between the per-CPU caches and the slabs (tcmalloc's transfer
 * cache; the "barn" of full sheaves in Linux's SLUB).
 *
 * Without it a free miss returns half a magazine to the slabs, one object
 * at a time through their bitmaps under the shard lock, and an allocation
 * miss takes objects out of bitmaps the same way: a producer/consumer
 * pair, where one CPU frees what another allocates, pays per object under
 * a shared lock on both sides. With it a free miss hands the batch over
 * with one copy of its pointers under a short lock and an allocation miss
 * takes one back the same way, so objects move between CPUs at O(1) per
 * object and the slabs are touched only when the transfer cache is full
 * (a free miss) or empty (an allocation miss).
 *
 * Objects here are free (they carry the free cookie) and count as outside
 * their slabs (struct hak_shard.out_objects), like objects in a CPU cache.
 *
 * Bounds: at most HAK_TRANSFER_BATCHES batches of the class's batch size
 * (half its cache capacity) per class, so the memory they hold is bounded
 * like the per-CPU caches' (docs/guarantees.md). The pointer slots are
 * taken from the provider as metadata the first time a class's free miss
 * finds a batch to hand over (8 bytes a slot: at most 16 KiB a class at the hosted port's 32). A
 * lock hold copies one batch; the lock is a leaf: nothing else is taken
 * while it is held, and it masks IRQs like every shared lock.
 *
 * hak_trim and the reclaim before an out-of-memory flush every batch back
 * to the slabs; hak_check checks every object.
 */
#include "pcpu_ops.h"

static size_t slots_bytes(struct hak_heap *h, unsigned cls)
{
	return hak_round_up((size_t)HAK_TRANSFER_BATCHES *
				    h->shard[cls].batch * sizeof(void *),
			    HAK_PAGE_SIZE);
}

/* The class's slots, allocated on first use; NULL if the provider is
 * out of memory (the caller then goes to the slabs as before). */
static void **transfer_slots(struct hak_heap *h, unsigned cls)
{
	struct hak_transfer *x = &h->xfer[cls];
	unsigned long flags;
	void **s = __atomic_load_n(&x->slots, __ATOMIC_ACQUIRE);

	if (likely(s) || !HAK_TRANSFER_BATCHES)
		return s;
	flags = hak_lock(&h->lock);
	s = x->slots;
	if (!s) {
		s = hak_provider_alloc(h, slots_bytes(h, cls), HAK_PAGE_SIZE, 1);
		if (s)
			__atomic_store_n(&x->slots, s, __ATOMIC_RELEASE);
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
	struct hak_transfer *x = &h->xfer[cls];
	unsigned b = h->shard[cls].batch, i;
	void **s = transfer_slots(h, cls), **dst;
	unsigned long flags;

	if (!s)
		return -1;
	flags = hak_lock(&x->lock);
	if (x->n == HAK_TRANSFER_BATCHES) {
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

int hak_transfer_get(struct hak_heap *h, unsigned cls, void **out)
{
	struct hak_transfer *x = &h->xfer[cls];
	unsigned b = h->shard[cls].batch, i;
	unsigned long flags;
	void **src;

	/* An unlocked look first: an empty cache costs no lock. */
	if (!__atomic_load_n(&x->n, __ATOMIC_RELAXED))
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

unsigned hak_transfer_count(struct hak_heap *h, unsigned cls)
{
	return __atomic_load_n(&h->xfer[cls].n, __ATOMIC_RELAXED) *
	       h->shard[cls].batch;
}

/* One batch per lock hold, each drained with the lock dropped. */
void hak_transfer_flush(struct hak_heap *h)
{
	void *batch[HAK_BATCH_MAX];
	unsigned c;

	/* At most the batches it can hold (and one): other CPUs may put more
	 * meanwhile, which the next flush takes. */
	for (c = 0; c < HAK_NCLASSES; c++) {
		unsigned k;

		for (k = 0; k < HAK_TRANSFER_BATCHES + 1u &&
			    !hak_transfer_get(h, c, batch);
		     k++)
			hak_shared_drain(&h->shard[c], batch,
					 h->shard[c].batch);
	}
}

/* hak_check: every object held is an allocated-from-slab object of its
 * class, at an object start, not free in its slab. HAK_DRAIN_CHUNK
 * objects per lock hold, checked under it: an object checked after the
 * lock dropped could have been taken and drained meanwhile, then free in
 * its slab, a false report. Batches taken or put between two holds move
 * the rest: an object may then be checked twice or not at all. */
int hak_transfer_check(struct hak_heap *h)
{
	int bad = 0;
	unsigned c, i, end;

	for (c = 0; c < HAK_NCLASSES; c++) {
		struct hak_transfer *x = &h->xfer[c];
		unsigned b = h->shard[c].batch;

		for (i = 0;; i = end) {
			unsigned long flags = hak_lock(&x->lock);
			unsigned n = x->n * b;

			end = hak_chunk_end(i, n, HAK_DRAIN_CHUNK);
			for (; i < end; i++)
				bad += hak_pcpu_check_object(
					x->slots[i], &h->shard[c],
					"transfer cache");
			hak_unlock(&x->lock, flags);
			if (end >= n)
				break;
		}
	}
	return bad;
}
