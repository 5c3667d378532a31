// SPDX-License-Identifier: MIT
/*
 * remote.c - reaching every CPU's cache: hak_trim, hak_check and the
 * out-of-memory reclaim.
 *
 * A port that can lock a remote cache (hosted: the cache's trylock plus
 * an rseq fence) simply does so, one CPU after another. Bare metal cannot:
 * a cache is exclusive because its own CPU masks IRQs, and nothing a
 * remote CPU does can stop that CPU's fast path, which takes no lock and
 * no atomic by design. So the remote CPU asks instead:
 *
 *   requester                          owner (in its critical section)
 *   req |= what        (atomic or)     while (seq = req_seq) != req_done:
 *   s = ++req_seq      (atomic add)        bits = xchg(req, 0)
 *   cpu_kick(cpu)      (optional IPI)      do bits: drain / check cache
 *   wait until req_done - s >= 0           req_done = seq (release)
 *
 * Since the bits are set before the sequence number moves, an owner that
 * has seen sequence s also takes the bits of every post up to s (or an
 * earlier round already took and did them). The owner serves at
 * hak_tick(), at every slow path, and while it waits for answers itself,
 * so two CPUs that ask each other at once cannot deadlock.
 *
 * The wait is bounded: all requests are posted first, then the requester
 * polls every answer for at most cfg.remote_wait rounds in all (default
 * HAK_REMOTE_WAIT_SPINS). A
 * CPU that does not answer in time (IRQs masked for that long, or parked
 * without calling hak_tick) keeps its cache; one with an empty cache, or
 * marked offline by hak_cpu_offline, is not asked at all.
 *
 * The fast paths never look at any of this: the cost is one load of
 * `req` per slow path and per hak_tick.
 */
#include "internal.h"

/*
 * Outside any critical section, on cpu (whose section just saw a post).
 * Reading seq before taking the bits makes done = seq true for every post
 * up to seq: each set its bits before it moved seq. The bits of a later
 * post may be taken (and served) early; that post moved seq past done, so
 * the loop goes round again and marks it done. Each round answers at
 * least one post, and a requester posts once per call: the loop ends.
 *
 * IRQ latency: the default heap's cache is drained as hak_trim drains
 * its own (hak_pcpu_drain_own: a chunk per critical section; a full
 * cache is thousands of objects), and checked the same way
 * (hak_pcpu_check_own), and so are the created heaps' and caches' areas
 * (hak_fronts_cpu); one last section flushes what IRQ handlers freed
 * meanwhile and marks the posts done. If the caller was moved to another
 * CPU meanwhile (an RTOS that migrates tasks), that section finds it off
 * cpu: the bits go back and the posts stay open for cpu to serve (the
 * chunks drained on the other CPU drained that CPU's cache, which is
 * harmless).
 * pc->serving keeps an IRQ handler's slow path on cpu from serving (and
 * marking done) the same posts between two chunks.
 */
static void serve(struct hak_pcpu *pc, unsigned cpu)
{
	unsigned long flags;
	uint32_t seq, what;
	unsigned on;
	int bad, fr;

	while ((seq = __atomic_load_n(&pc->req_seq, __ATOMIC_SEQ_CST)) !=
	       __atomic_load_n(&pc->req_done, __ATOMIC_RELAXED)) {
		what = __atomic_exchange_n(&pc->req, 0, __ATOMIC_SEQ_CST);
		if (what & HAK_REQ_DRAIN)
			hak_pcpu_drain_own(&hak_heap);
		bad = what & HAK_REQ_CHECK ? hak_pcpu_check_own(&hak_heap) : 0;
		/* The created heaps' and the caches' areas of this CPU. */
		fr = hak_fronts_cpu(cpu, what, 1);
		if (fr < 0)
			goto moved;
		bad += fr;
		on = hak_port_pcpu_enter(&flags);
		if (on != cpu) {
			hak_port_pcpu_exit(on, flags);
			goto moved;
		}
		if (what & HAK_REQ_DRAIN) /* what IRQ handlers freed since */
			hak_pcpu_flush(&hak_heap, pc, cpu);
		if (what & HAK_REQ_CHECK)
			__atomic_fetch_add(&pc->check_bad, (uint32_t)bad,
					   __ATOMIC_RELAXED);
		__atomic_store_n(&pc->req_done, seq, __ATOMIC_RELEASE);
		hak_port_pcpu_exit(cpu, flags);
	}
	__atomic_store_n(&pc->serving, 0, __ATOMIC_RELEASE);
	return;
moved:
	__atomic_fetch_or(&pc->req, what, __ATOMIC_SEQ_CST);
	__atomic_store_n(&pc->serving, 0, __ATOMIC_RELEASE);
}

#if HAK_CHECK_CPU_OWNER && HAK_PORT_HW_CPUS
/* The first hardware CPU to use an id owns it until hak_cpu_offline. */
static void owner_check(struct hak_pcpu *pc, unsigned cpu)
{
	uint64_t hw = (uint64_t)arch_cpu_hw_id() + 1, old = 0;
	char msg[160], *m = msg, *end = msg + sizeof(msg);

	if (__atomic_load_n(&pc->hw_owner, __ATOMIC_RELAXED) == hw ||
	    __atomic_compare_exchange_n(&pc->hw_owner, &old, hw, 0,
					__ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return;
	m = hak_fmt_str(m, end, "hakmem: CPU id ");
	m = hak_fmt_uint(m, end, cpu, 10);
	m = hak_fmt_str(m, end, " is used by two CPUs (hardware ids ");
	m = hak_fmt_uint(m, end, old - 1, 16);
	m = hak_fmt_str(m, end, " and ");
	m = hak_fmt_uint(m, end, hw - 1, 16);
	hak_fmt_str(m, end, "): the CPU id source is not set up on one");
	hak_panic(msg);
}
#else
static void owner_check(struct hak_pcpu *pc, unsigned cpu)
{
	(void)pc;
	(void)cpu;
}
#endif

void hak_remote_poll(void)
{
	struct hak_pcpu *pc;
	unsigned long flags;
	unsigned cpu;
	int pending = 0;

	if (HAK_PORT_REMOTE_EXCLUSIVE &&
	    !(HAK_CHECK_CPU_OWNER && HAK_PORT_HW_CPUS))
		return;
	cpu = hak_port_pcpu_enter(&flags);
	if (unlikely(cpu >= hak_heap.ncpus)) {
		hak_port_pcpu_exit(cpu, flags);
		hak_pcpu_bad_id(cpu);
		return;
	}
	pc = hak_heap.pcpu[cpu];
	owner_check(pc, cpu);
#if HAK_PCPU_REG
	/* The id checked out: from now on the default heap's fast paths
	 * on this CPU find its area in the register. */
	if (unlikely(arch_pcpu_reg_get() != pc)) {
		unsigned long f2;
		unsigned again;

		arch_pcpu_reg_set(pc);
		/* The id must read back: a CPU id kept in the register we
		 * just wrote (arch_regs.h checks the names it knows) would
		 * now be the area's address. A nested section: one read. */
		again = hak_port_pcpu_enter(&f2);
		hak_port_pcpu_exit(again, f2);
		if (again != cpu) {
			arch_pcpu_reg_set(NULL);
			hak_panic("hakmem: the CPU id changed when the per-CPU "
				  "pointer register was set: they are one "
				  "register (ARCH_A64_CPU_ID_SYSREG, "
				  "ARCH_A64_PCPU_SYSREG)");
		}
	}
#endif
	if (!HAK_PORT_REMOTE_EXCLUSIVE) {
		if (unlikely(__atomic_load_n(&pc->offline, __ATOMIC_RELAXED)))
			__atomic_store_n(&pc->offline, 0, __ATOMIC_RELAXED);
		pending = __atomic_load_n(&pc->req_seq, __ATOMIC_ACQUIRE) !=
				  __atomic_load_n(&pc->req_done,
						  __ATOMIC_RELAXED) &&
			  !__atomic_load_n(&pc->serving, __ATOMIC_RELAXED);
		if (unlikely(pending))
			__atomic_store_n(&pc->serving, 1, __ATOMIC_RELAXED);
	}
	hak_port_pcpu_exit(cpu, flags);
	if (unlikely(pending))
		serve(pc, cpu);
}

void hak_tick(void)
{
	if (!__atomic_load_n(&hak_heap.ready, __ATOMIC_ACQUIRE))
		return;
	hak_remote_poll();
	hak_decay_step();
}

/* Hosted: lock each cache in turn, whoever runs it. */
static int all_locked(unsigned what)
{
	unsigned long flags;
	unsigned cpu;
	int bad = 0;

	for (cpu = 0; cpu < hak_heap.ncpus; cpu++) {
		void **slot = (void **)&hak_heap.pcpu[cpu];
		struct hak_pcpu *pc = *slot;

		hak_port_pcpu_enter_remote(cpu, &flags, slot);
		if (what & HAK_REQ_DRAIN)
			hak_pcpu_flush(&hak_heap, pc, cpu);
		if (what & HAK_REQ_CHECK)
			bad += hak_pcpu_check(&hak_heap, pc, cpu);
		hak_port_pcpu_exit_remote(cpu, flags, slot);
		bad += hak_fronts_cpu(cpu, what, 0);
	}
	return bad;
}

/* Bare metal: our own cache directly, the others by request. */
static int all_by_request(unsigned what)
{
	uint32_t seq[HAK_MAX_CPUS], bad0[HAK_MAX_CPUS];
	unsigned char asked[HAK_MAX_CPUS];
	unsigned long flags, spins, limit;
	unsigned cpu, self, pending = 0;
	int bad = 0, fr;

	/* Our own cache in chunks, not in one critical section: a full
	 * cache is thousands of objects, and this runs with IRQs masked. */
	if (what & HAK_REQ_DRAIN)
		hak_pcpu_drain_own(&hak_heap);
	if (what & HAK_REQ_CHECK)
		bad += hak_pcpu_check_own(&hak_heap);
	self = hak_port_pcpu_enter(&flags);
	hak_port_pcpu_exit(self, flags);
	if (unlikely(self >= hak_heap.ncpus)) {
		hak_pcpu_bad_id(self);
		return bad;
	}
	/* The created heaps' and the caches' areas of this CPU, a chunk per
	 * critical section (-1: we were moved to another CPU meanwhile; an
	 * RTOS that migrates tasks: that CPU's areas stay as they are). */
	fr = hak_fronts_cpu(self, what, 1);
	if (fr > 0)
		bad += fr;

	for (cpu = 0; cpu < hak_heap.ncpus; cpu++) {
		struct hak_pcpu *pc = hak_heap.pcpu[cpu];

		asked[cpu] = 0;
		if (cpu == self ||
		    __atomic_load_n(&pc->offline, __ATOMIC_RELAXED) ||
		    (!hak_pcpu_cached(pc) && !hak_fronts_cached(cpu)))
			continue;
		bad0[cpu] = __atomic_load_n(&pc->check_bad, __ATOMIC_RELAXED);
		__atomic_fetch_or(&pc->req, what, __ATOMIC_SEQ_CST);
		seq[cpu] = __atomic_add_fetch(&pc->req_seq, 1,
					      __ATOMIC_SEQ_CST);
		asked[cpu] = 1;
		pending++;
		if (hak_heap.cfg.cpu_kick)
			hak_heap.cfg.cpu_kick(cpu, hak_heap.cfg.cpu_kick_ctx);
	}
	limit = hak_heap.cfg.remote_wait ? hak_heap.cfg.remote_wait
					 : HAK_REMOTE_WAIT_SPINS;
	for (spins = 0; pending && spins < limit; spins++) {
		for (cpu = 0; cpu < hak_heap.ncpus; cpu++) {
			struct hak_pcpu *pc = hak_heap.pcpu[cpu];
			uint32_t done;

			if (!asked[cpu])
				continue;
			done = __atomic_load_n(&pc->req_done, __ATOMIC_ACQUIRE);
			/* Taken offline meanwhile: drained, and answers no
			 * more. */
			if ((int32_t)(done - seq[cpu]) < 0 &&
			    !__atomic_load_n(&pc->offline, __ATOMIC_ACQUIRE))
				continue;
			asked[cpu] = 0;
			pending--;
			bad += (int)(__atomic_load_n(&pc->check_bad,
						     __ATOMIC_RELAXED) -
				     bad0[cpu]);
		}
		/* Whoever waits for us may be waiting right now. */
		hak_remote_poll();
		arch_cpu_relax();
	}
	for (cpu = 0; pending && cpu < hak_heap.ncpus; cpu++)
		if (asked[cpu] && (what & HAK_REQ_CHECK))
			hak_report(HAK_EV_MISUSE, hak_heap.pcpu[cpu], cpu,
				   "hak_check: a CPU did not answer (no "
				   "hak_tick or cpu_kick): its cache is "
				   "unchecked");
	return bad;
}

int hak_remote_all(unsigned what)
{
	if (HAK_PORT_REMOTE_EXCLUSIVE)
		return all_locked(what);
	return all_by_request(what);
}
