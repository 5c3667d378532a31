// SPDX-License-Identifier: MIT
/*
 * maintenance.c - the whole-heap operations: hak_check, hak_trim and
 * hak_cpu_offline. Unlike every other path they are linear in the size of
 * the heap. They take the locks in the documented order, one shard at a
 * time, so other CPUs keep allocating while they run. Other CPUs' caches
 * are reached through remote.c.
 */
#include "internal.h"

__attribute__((weak)) void hak_test_walk_gap(void)
{
}

#ifdef HAK_TEST_HOOKS
void (*hak_test_lookup_gap)(void);
void (*hak_test_refill_gap)(struct hak_shard *sh);
#endif

int hak_check_heap(struct hak_heap *h)
{
	int bad = hak_transfer_check(h);
	unsigned c;

	for (c = 0; c < HAK_NCLASSES; c++)
		hak_shard_check(&h->shard[c], NULL, &bad);
	bad += hak_caches_check(h);
	bad += hak_superslab_check(h);
	bad += hak_large_cache_check(h);
	bad += hak_large_check(h);
	return bad;
}

int hak_check(void)
{
	int bad;

	if (!__atomic_load_n(&hak_heap.ready, __ATOMIC_ACQUIRE))
		return 0;
	bad = hak_remote_all(HAK_REQ_CHECK);
	return bad + hak_check_heap(&hak_heap);
}

void hak_trim_heap(struct hak_heap *h)
{
	unsigned c;

	hak_transfer_flush(h);
	for (c = 0; c < HAK_NCLASSES; c++)
		hak_shard_trim(&h->shard[c]);
	hak_caches_trim(h);
	hak_superslab_trim(h);
	hak_large_cache_flush(h);
}

/* Polls of settle_wait: each a hold of the heap's lock and a spin wait
 * (hosted: a yield after the first 64; 2^16 of them took 37 ms, measured
 * once on this idle 2-CPU host while the other thread slept). */
#define HAK_SETTLE_WAITS (1U << 16)

/*
 * Before an allocation that the provider or the limit refused is retried,
 * and reported as out of memory if the retry fails too: let the provider
 * calls that other CPUs have in flight on h settle. A superslab on its
 * way in has units the retry can take; memory on its way out makes room
 * under the limit. Without the wait, a CPU refused while another CPU's
 * mmap of a superslab ran reported out of memory with 15 units about to
 * be free (tests/host/test_heap.c, test_limit_in_flight). own: the bytes
 * the caller itself has charged and not yet settled: parked while it
 * waits, so that two callers that each hold a charge do not wait for
 * each other. Not with IRQs masked: an IRQ handler would wait for what
 * the code it interrupted has in flight, which cannot move until it
 * returns. Bounded: a call still in flight after HAK_SETTLE_WAITS polls
 * (its thread preempted, on the hosted port or under an RTOS) leaves the
 * retry to fail as before.
 */
static void settle_wait(struct hak_heap *h, uint64_t own)
{
	unsigned long flags;
	unsigned spins;
	int busy;

	if (hak_port_irqs_masked())
		return;
	flags = hak_lock(&h->lock);
	h->charge_parked += own;
	for (spins = 1;; spins++) {
		busy = h->charged > h->charge_parked || h->nss_transit ||
		       __atomic_load_n(&h->releasing, __ATOMIC_RELAXED);
		if (!busy || spins > HAK_SETTLE_WAITS)
			break;
		hak_unlock(&h->lock, flags);
		hak_port_spin_wait(spins);
		flags = hak_lock(&h->lock);
	}
	h->charge_parked -= own;
	hak_unlock(&h->lock, flags);
}

void hak_trim(void)
{
	if (!__atomic_load_n(&hak_heap.ready, __ATOMIC_ACQUIRE))
		return;
	hak_remote_all(HAK_REQ_DRAIN);
	hak_trim_heap(&hak_heap);
}

void hak_reclaim(struct hak_heap *h, uint64_t own)
{
	hak_remote_all(HAK_REQ_DRAIN);
	hak_trim_heap(h);
	settle_wait(h, own);
}

void hak_cpu_offline(unsigned cpu)
{
	struct hak_pcpu *pc;
	unsigned long flags;
	void **slot;

	if (!__atomic_load_n(&hak_heap.ready, __ATOMIC_ACQUIRE))
		return;
	if (cpu >= hak_heap.ncpus) {
		hak_report(HAK_EV_MISUSE, NULL, cpu,
			   "hak_cpu_offline: CPU number not below ncpus");
		return;
	}
	slot = (void **)&hak_heap.pcpu[cpu];
	pc = *slot;
	/* Bare metal: one call per CPU at a time. Two would both drain it:
	 * a remote section there masks the caller's IRQs and locks nothing
	 * (the CPU runs no hakmem code), so both would pop the same objects
	 * and free them twice. The second call is refused, naming itself
	 * (it does not wait: its CPU may be the one that interrupted the
	 * first); the first drains the cache. The hosted port's remote
	 * sections lock the cache, so calls there simply take turns. */
	if (!HAK_PORT_REMOTE_EXCLUSIVE &&
	    __atomic_exchange_n(&pc->offlining, 1, __ATOMIC_ACQUIRE)) {
		hak_report(HAK_EV_MISUSE, NULL, cpu,
			   "hak_cpu_offline: the CPU is being taken offline "
			   "by another call");
		return;
	}
	/* Bare metal, where a remote section masks IRQs: in chunks first,
	 * not a whole cache in one section. The flush below then finds
	 * only what an IRQ handler freed meanwhile (self-offline). The
	 * hosted port masks nothing, and each remote entry may cost a
	 * membarrier: one section there. */
	if (!HAK_PORT_REMOTE_EXCLUSIVE)
		hak_pcpu_drain_remote(&hak_heap, pc, cpu);
	hak_fronts_cpu(cpu, HAK_REQ_DRAIN);
	hak_port_pcpu_enter_remote(cpu, &flags, slot);
	hak_pcpu_flush(&hak_heap, pc, cpu, ~0u);
	__atomic_store_n(&pc->hw_owner, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&pc->offline, 1, __ATOMIC_RELEASE);
	hak_port_pcpu_exit_remote(cpu, flags, slot);
	/* The batches its free misses left in its lane's transfer caches
	 * (shared with the lane's other CPUs, if any): an offline CPU holds
	 * nothing. */
	hak_transfer_flush_lane(&hak_heap, hak_lane_of(cpu));
	if (!HAK_PORT_REMOTE_EXCLUSIVE)
		__atomic_store_n(&pc->offlining, 0, __ATOMIC_RELEASE);
}
