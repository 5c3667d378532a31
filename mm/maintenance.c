// SPDX-License-Identifier: MIT
/*
 * maintenance.c - the whole-heap operations: hak_check, hak_trim and
 * hak_cpu_offline. Unlike every other path they are linear in the size of
 * the heap. They take the locks in the documented order, one shard at a
 * time, so other CPUs keep allocating while they run. Other CPUs' caches
 * are reached through remote.c.
 */
#include "internal.h"

int hak_check(void)
{
	int bad;

	if (!__atomic_load_n(&hak_heap.ready, __ATOMIC_ACQUIRE))
		return 0;
	bad = hak_remote_all(HAK_REQ_CHECK);
	bad += hak_transfer_check();
	bad += hak_shared_check();
	bad += hak_superslab_check();
	bad += hak_large_cache_check();
	return bad;
}

void hak_trim(void)
{
	if (!__atomic_load_n(&hak_heap.ready, __ATOMIC_ACQUIRE))
		return;
	hak_remote_all(HAK_REQ_DRAIN);
	hak_transfer_flush();
	hak_shared_trim();
	hak_superslab_trim();
	hak_large_cache_flush();
}

/* Before an allocation reports out-of-memory: give back everything
 * hak_trim gives back, every CPU's cache included, then retry once. No
 * lock may be held (it takes them all in order). */
void hak_reclaim(void)
{
	hak_trim();
}

/*
 * The caller promises that cpu runs no hakmem code (bare metal: it is
 * parked or unplugged), so its cache may be drained from here even where
 * the port cannot exclude its owner. It stays marked offline, and is not
 * asked by hak_trim or hak_check, until its next slow path.
 */
void hak_cpu_offline(unsigned cpu)
{
	struct hak_pcpu *pc;
	unsigned long flags;

	if (!__atomic_load_n(&hak_heap.ready, __ATOMIC_ACQUIRE))
		return;
	if (cpu >= hak_heap.ncpus) {
		hak_report(HAK_EV_MISUSE, NULL, cpu,
			   "hak_cpu_offline: CPU number not below ncpus");
		return;
	}
	pc = hak_heap.pcpu[cpu];
	/* Bare metal, where a remote section masks IRQs: in chunks first,
	 * not a whole cache in one section. The flush below then finds
	 * only what an IRQ handler freed meanwhile (self-offline). The
	 * hosted port masks nothing, and each remote entry may cost a
	 * membarrier: one section there. */
	if (!HAK_PORT_REMOTE_EXCLUSIVE)
		hak_pcpu_drain_remote(pc, cpu);
	hak_port_pcpu_enter_remote(cpu, &flags, &pc->excl);
	hak_pcpu_flush(pc, cpu);
	__atomic_store_n(&pc->hw_owner, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&pc->offline, 1, __ATOMIC_RELEASE);
	hak_port_pcpu_exit_remote(cpu, flags, &pc->excl);
}
