// SPDX-License-Identifier: MIT
/*
 * decay.c - idle memory goes back without hak_trim.
 *
 * Objects cached per CPU pin their slabs, and their superslabs, until a
 * trim; a heap that goes idle would keep them forever. So each CPU runs
 * decay steps: at every hak_tick() (bare metal: from a timer or the idle
 * loop; any port may call it) and at every allocation miss. A step is
 * O(1) and looks at one class of the calling CPU's cache, round robin:
 * if the magazine's allocation count has not moved for DECAY_ROUNDS
 * visits in a row, one chunk (HAK_DRAIN_CHUNK objects) goes back to the
 * shard, with one short critical section, as hak_trim's drain does (up
 * to DECAY_GROWN_CHUNKS chunks, one section each, from a class grown
 * past HAK_CACHE_SLOTS_MAX objects, which only a lazy provider's can). The
 * fast paths pay nothing: the count they keep anyway (struct hak_mag
 * allocs) is the activity signal.
 *
 * Once per round (every HAK_NCLASSES steps) the step also looks at the
 * heap-wide caches, under the heap's lock: the kept empty superslabs
 * give one back (down to HAK_EMPTY_SUPERSLABS_KEPT) once no slab unit was
 * taken for IDLE_ROUNDS rounds, the large-run cache gives
 * back its oldest run if no large operation happened since the last
 * round (its own decay counts operations, which an idle heap makes
 * none of), and one class's transfer caches, round robin: one batch
 * from the first lane whose cache holds one and saw no put or take since
 * the last visit (transfer.c hak_transfer_decay_pick).
 *
 * An idle class whose magazine is empty also gives back the empty slab
 * its shard keeps (the hysteresis is for a class in use), so what an
 * idle heap returns to (docs/guarantees.md) is its live blocks' slabs
 * and their superslabs, once every CPU that cached objects has run about
 * HAK_NCLASSES x (DECAY_ROUNDS + its objects per class / 16) steps, or
 * / 128 for what a class holds beyond HAK_CACHE_SLOTS_MAX objects.
 * The default heap's per-CPU caches only: a created heap's are drained
 * by hak_heap_trim (docs/heaps.md).
 */
#include "pcpu_ops.h"

#define DECAY_ROUNDS 2

/*
 * Chunks one visit drains from an idle class whose magazine holds more
 * than HAK_CACHE_SLOTS_MAX objects, which only a lazy provider's classes
 * can (up to 8 MiB of objects a class, design.md), when the caller runs
 * with IRQs on: not in a light step, nor in an allocation miss with IRQs
 * masked (an IRQ handler's), where the whole step is one window. Each
 * chunk is its own critical section and its own shard drain, so no
 * window is longer than a one-chunk visit's. Bare metal's classes (at
 * most HAK_CACHE_SLOTS_MAX slots without a lazy provider) keep one chunk
 * a visit, so its miss paths' bounds (guarantees.md) are unchanged. A
 * class grown to n objects drains in about
 * 41 x (3 + (n - 2048) / 128 + 2048 / 16) steps instead of
 * 41 x (3 + n / 16).
 */
#define DECAY_GROWN_CHUNKS 8u

/*
 * Rounds with no large operation before the large-run cache counts as
 * idle and gives back its oldest run, one per round after that. Not one
 * round: rounds are counted in misses, which a program making small
 * blocks makes many of between two large ones. xmalloc-test makes about
 * 64 (a batch of 4096 objects: 64 refills and 64 drains, for one 32 KiB
 * batch record allocated and freed), so a one-round rule gave back a
 * cached record every few batches, and each came back as an mmap, its
 * page faults and a munmap with its TLB shootdown (about 800 of each in
 * 2 s, 1 munmap after). Sixteen rounds are 640 steps: an idle release
 * costs at most one provider round trip per 640 misses.
 */
#define IDLE_ROUNDS 16

/*
 * Round by round, a clock (now) against its value last round (*seen):
 * 1 once it has not moved for IDLE_ROUNDS rounds in a row, and every
 * round after that while it stays still. The large-run cache's clock is
 * its operations, the superslabs' the slab units taken.
 */
static int idle_for(uint32_t now, uint32_t *seen, uint32_t *idle)
{
	int ret = 0;

	if (now != *seen)
		*idle = 0;
	else if (*idle < IDLE_ROUNDS)
		(*idle)++;
	else
		ret = 1;
	*seen = now;
	return ret;
}

/* light: only the large run (a release is one run's page-map writes and
 * a provider call, bounded), not a superslab (thousands of instructions
 * in one window) nor a transfer batch (its drain may release one). */
static void decay_heapwide(struct hak_heap *h, int light)
{
	void *batch[HAK_BATCH_MAX];
	struct hak_pending pd = { .h = h };
	unsigned long flags = hak_lock(&h->lock);
	struct hak_large_cache *lc = &h->large_cache;
	unsigned c = 0;
	int lane = -1, ss;

	if (idle_for(lc->now, &h->decay_lc_now, &h->decay_lc_idle) &&
	    lc->oldest)
		hak_large_cache_release_oldest(h, &pd);
	/* Kept empty superslabs: the same rule, on the units taken. */
	ss = idle_for(h->ss_gets, &h->decay_ss_gets, &h->decay_ss_idle) &&
	     h->nss_empty > HAK_EMPTY_SUPERSLABS_KEPT && !light;
	/* A transfer cache (a class's, a lane's) nobody used since the
	 * last visit gives back a batch per visit; a light step leaves the
	 * classes' turns alone (it took a visit and gave nothing, found by
	 * review). Our own get is seen as made: counted as a move, it let
	 * only every second visit give a batch, half the rate guarantees.md
	 * gives. */
	if (!light) {
		c = h->decay_xfer_next++ % HAK_NCLASSES;
		lane = hak_transfer_decay_pick(h, c);
	}
	hak_unlock(&h->lock, flags);
	hak_provider_release_pending(h, &pd);
	if (ss)
		hak_superslab_decay(h);
	if (lane >= 0 && !hak_transfer_get_lane(h, c, (unsigned)lane, batch))
		hak_shared_drain(&h->shard[c], batch, h->shard[c].batch);
}

/*
 * The look at the class is one critical section of the calling CPU: the
 * decay fields are touched only there, and the magazine's allocs and top
 * are read where its owner cannot be writing them (the hosted trylock;
 * under rseq the read is racy, which a heuristic tolerates).
 */
void hak_decay_step(int light)
{
	void *chunk[HAK_DRAIN_CHUNK];
	unsigned long flags;
	unsigned cpu, cls, k, chunks = 1, i, cached;
	struct hak_front f;
	struct hak_pcpu *pc;
	uint64_t allocs;
	int drain = 0, trim = 0, wide;

	/* Not from a thread with no CPU: it would age the classes of the
	 * CPU its id hashes to at each of its misses (found by review). */
	if (__atomic_load_n(&hak_heap.decay_off, __ATOMIC_RELAXED) ||
	    !hak_port_has_cpu())
		return;
	cpu = hak_port_pcpu_enter(&flags);
	if (cpu >= __atomic_load_n(&hak_heap.ncpus, __ATOMIC_ACQUIRE)) {
		hak_port_pcpu_exit(cpu, flags);
		return;
	}
	pc = hak_heap.pcpu[cpu];
	cls = pc->decay_next % HAK_NCLASSES;
	/* With IRQs masked by the caller (an IRQ handler) the whole step is
	 * one window: a superslab's release alone is thousands of
	 * instructions, so what may release one waits for a step with IRQs
	 * on, a chunk is HAK_SERVE_LIGHT objects, and the heap-wide caches
	 * take a step of their own before class 0's (docs/embedding.md). */
	if (light && cls == 0 && !pc->decay_wide) {
		pc->decay_wide = 1;
		hak_port_pcpu_exit(cpu, flags);
		decay_heapwide(&hak_heap, 1);
		return;
	}
	pc->decay_next++;
	wide = cls == 0 && !pc->decay_wide;
	pc->decay_wide = 0;
	allocs = pc->mag[cls].allocs;
	if (allocs != pc->decay_seen[cls]) {
		pc->decay_seen[cls] = allocs;
		pc->decay_idle[cls] = 0;
	} else if (pc->decay_idle[cls] < DECAY_ROUNDS) {
		pc->decay_idle[cls]++;
	} else if ((cached = hak_mag_count(&pc->mag[cls]))) {
		drain = 1;
		if (cached > HAK_CACHE_SLOTS_MAX && !light &&
		    !hak_port_irqs_masked())
			chunks = DECAY_GROWN_CHUNKS;
	} else {
		trim = 1;
	}
	hak_port_pcpu_exit(cpu, flags);
	if (wide)
		decay_heapwide(&hak_heap, light);
	if (drain) {
		/* The batch pop moves no allocs: the class stays idle. Each
		 * pop is from the CPU we run on by then: after a move the
		 * chunks stop (the next CPU's class was not looked at), but
		 * a move the hint does not see yet may still drain one chunk
		 * there, as a one-chunk visit may: a heuristic. */
		f = hak_front_of(&hak_heap, cls);
		for (i = 0; i < chunks; i++) {
			if (i && hak_port_cpu_hint() != cpu)
				break;
			k = hak_op_pop_batch(&f, chunk,
					     light ? HAK_SERVE_LIGHT
						   : HAK_DRAIN_CHUNK);
			if (!k)
				break;
			hak_shared_drain_as(&hak_heap.shard[cls], chunk, k,
					    light);
			hak_stat_add(&hak_heap.shard[cls].drains, 1);
		}
	} else if (trim) {
		/* Drained: the slab the shard keeps empty goes too (the
		 * hysteresis is for a class in use), and its superslab with
		 * it when that empties. One lock hold, O(1), and only when
		 * an unlocked look finds one: an idle class is visited every
		 * round, and the lock hold each time was most of the cost
		 * (about 95k holds in 2 s of xmalloc-test). */
		if (!light && __atomic_load_n(&hak_heap.shard[cls].nempty,
					      __ATOMIC_RELAXED))
			hak_shard_trim(&hak_heap.shard[cls]);
		/* And its capacity back to the initial one: the bytes it
		 * grew by go back to the CPU's budget. */
		hak_pcpu_cap_reset(cls);
	}
}
