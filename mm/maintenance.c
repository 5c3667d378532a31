// SPDX-License-Identifier: MIT
/*
 * maintenance.c - the whole-heap operations: hak_check, hak_trim and
 * hak_cpu_offline. Unlike every other path they are linear in the size of
 * the heap. They take the locks in the documented order, one shard at a
 * time, so other CPUs keep allocating while they run.
 */
#include "internal.h"

/*
 * Run fn on cpu's cache with that cache held exclusively. Ports that can
 * exclude its owner from anywhere (hosted: the cache's lock, plus an rseq
 * fence in rseq mode) always go through the remote entry. Bare metal can
 * only own its own CPU's cache (IRQs masked), or a remote one whose CPU
 * the caller promises is offline (remote_ok); otherwise -1.
 */
static int with_cpu(unsigned cpu, int remote_ok,
		    int (*fn)(struct hak_pcpu *, unsigned))
{
	struct hak_pcpu *pc = hak_heap.pcpu[cpu];
	unsigned long flags;
	int r = -1;

	if (!HAK_PORT_REMOTE_EXCLUSIVE) {
		unsigned self = hak_port_pcpu_enter(&flags);

		if (self == cpu) {
			r = fn(pc, cpu);
			hak_port_pcpu_exit(self, flags);
			return r;
		}
		hak_port_pcpu_exit(self, flags);
	}
	if (hak_port_pcpu_enter_remote(cpu, &flags, &pc->excl) || remote_ok)
		r = fn(pc, cpu);
	hak_port_pcpu_exit_remote(cpu, flags, &pc->excl);
	return r;
}

static int flush_fn(struct hak_pcpu *pc, unsigned cpu)
{
	(void)cpu;
	hak_pcpu_flush(pc);
	return 0;
}

int hak_check(void)
{
	int bad = 0, r;
	unsigned cpu;

	if (!hak_heap.ready)
		return 0;
	for (cpu = 0; cpu < hak_heap.ncpus; cpu++) {
		r = with_cpu(cpu, 0, hak_pcpu_check);
		if (r > 0)
			bad += r;
	}
	bad += hak_shared_check();
	bad += hak_superslab_check();
	return bad;
}

void hak_trim(void)
{
	unsigned cpu;

	if (!hak_heap.ready)
		return;
	for (cpu = 0; cpu < hak_heap.ncpus; cpu++)
		with_cpu(cpu, 0, flush_fn);
	hak_shared_trim();
	hak_superslab_trim();
	hak_large_cache_flush();
}

void hak_cpu_offline(unsigned cpu)
{
	if (!hak_heap.ready || cpu >= hak_heap.ncpus)
		return;
	with_cpu(cpu, 1, flush_fn);
}
