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
#include "pcpu_ops.h"

/*
 * Serving, outside any critical section, on cpu (whose section just saw
 * a post). A round opens by reading seq, then taking the bits: done = seq
 * is then true for every post up to seq, for each set its bits before it
 * moved seq. The bits of a later post may be taken (and served) early;
 * that post moved seq past done, so another round opens and marks it
 * done. Each round answers at least one post, and a requester posts once
 * per call: rounds run out.
 *
 * A round is steps, each at most one critical section's chunk and the
 * shard, list and global lock holds that drain it: the default heap's
 * magazines drained class by class, then checked, then the created heaps'
 * and the caches' areas (hak_fronts_step), then one last section that
 * flushes what IRQ handlers freed meanwhile and marks the posts done.
 * The round's place is pc->serve, so a round may span calls:
 * - With IRQs on (a thread, the idle loop, a slow path) a call runs
 *   rounds to the end, IRQs restored between steps.
 * - hak_tick with IRQs masked by its caller (a timer or IPI handler),
 *   where the whole call is one window, runs one light step and returns:
 *   HAK_SERVE_LIGHT objects a drain step, a superslab they empty kept
 *   (not released) and no last flush (docs/embedding.md). Slow paths run
 *   rounds to the end whatever the IRQ state (an IRQ handler's miss is a
 *   long path already; a thread that runs with IRQs masked must still
 *   answer at its misses).
 * - If the caller was moved to another CPU meanwhile (an RTOS that
 *   migrates tasks), the next step finds it off cpu and stops; the round
 *   stays for cpu to go on with.
 * pc->serving keeps an IRQ handler's poll on cpu from serving between
 * two steps of a call it interrupted.
 */
enum {
	SERVE_IDLE,	    /* no round open */
	SERVE_DRAIN,	    /* the default heap's magazines, by class */
	SERVE_CHECK,	    /* the same, checked */
	SERVE_FRONTS_CHECK, /* the created heaps' and caches' areas */
	SERVE_FRONTS_DRAIN,
	SERVE_FINAL,	    /* flush, answer */
};

static int serve_wanted(unsigned phase, uint32_t what)
{
	switch (phase) {
	case SERVE_DRAIN:
	case SERVE_FRONTS_DRAIN:
		return (what & HAK_REQ_DRAIN) != 0;
	case SERVE_CHECK:
	case SERVE_FRONTS_CHECK:
		return (what & HAK_REQ_CHECK) != 0;
	}
	return 1;
}

/* Empty classes a light drain step passes: each costs a capacity check
 * (about 15 instructions). */
#define SERVE_LIGHT_SKIP 8u

/* The round moves on to the first phase from phase on that it asks for. */
static void serve_phase(struct hak_serve *sv, unsigned phase)
{
	while (!serve_wanted(phase, sv->what))
		phase++;
	sv->phase = phase;
	sv->cls = sv->pos = sv->moved = 0;
	if (phase == SERVE_FRONTS_CHECK || phase == SERVE_FRONTS_DRAIN)
		hak_fronts_begin(&sv->fronts);
}

/* A round for the posts up to now, if one is unanswered. */
static int serve_open(struct hak_pcpu *pc)
{
	struct hak_serve *sv = &pc->serve;
	uint32_t seq = __atomic_load_n(&pc->req_seq, __ATOMIC_SEQ_CST);

	if (seq == __atomic_load_n(&pc->req_done, __ATOMIC_RELAXED))
		return 0;
	sv->seq = seq;
	sv->what = __atomic_exchange_n(&pc->req, 0, __ATOMIC_SEQ_CST);
	sv->bad = 0;
	sv->light = 0;
	serve_phase(sv, SERVE_DRAIN);
	return 1;
}

/* Enter cpu's section, if we are still on cpu. */
static int serve_enter(unsigned cpu, unsigned long *flags)
{
	unsigned on = hak_port_pcpu_enter(flags);

	if (on == cpu)
		return 0;
	hak_port_pcpu_exit(on, *flags);
	return -1;
}

/* The default heap's next class, or the next phase after the last. */
static void serve_next_class(struct hak_serve *sv)
{
	sv->pos = sv->moved = 0;
	if (++sv->cls == HAK_NCLASSES)
		serve_phase(sv, sv->phase + 1);
}

/* A chunk of the default heap's class sv->cls popped and drained; the
 * class done (at most a full magazine and one chunk more: IRQ handlers
 * may push between two), its grown capacity back. */
static int step_drain(struct hak_pcpu *pc, struct hak_serve *sv,
		      unsigned cpu, int light)
{
	const unsigned lim = light ? HAK_SERVE_LIGHT : HAK_DRAIN_CHUNK;
	struct hak_shard *sh;
	void *chunk[HAK_DRAIN_CHUNK];
	unsigned long flags;
	unsigned k, skip = light ? SERVE_LIGHT_SKIP : HAK_NCLASSES;

	/* An empty class (not begun: nothing moved) costs no section (a
	 * racy look: what an IRQ handler pushes after it is left, as if
	 * pushed after the round), only its capacity check. */
	while (!sv->moved && !hak_mag_count(&pc->mag[sv->cls])) {
		hak_pcpu_cap_reset(sv->cls);
		serve_next_class(sv);
		if (sv->phase != SERVE_DRAIN || !--skip)
			return 0;
	}
	sh = &hak_heap.shard[sv->cls];
	if (serve_enter(cpu, &flags))
		return -1;
	k = mag_pop_batch_locked(&pc->mag[sv->cls], chunk, lim);
	hak_port_pcpu_exit(cpu, flags);
	if (k) {
		hak_shared_drain_as(sh, chunk, k, light);
		sv->moved += k;
	}
	/* Bounded in objects (a light step's chunks are smaller). */
	if (k == lim && sv->moved <= sh->cap_max)
		return 0;
	if (sv->moved) /* one drain per class, as hak_pcpu_flush counts */
		hak_stat_add(&sh->drains, 1);
	hak_pcpu_cap_reset(sv->cls);
	serve_next_class(sv);
	return 0;
}

/* A chunk of the default heap's class sv->cls checked. */
static int step_check(struct hak_pcpu *pc, struct hak_serve *sv,
		      unsigned cpu)
{
	unsigned long flags;

	if (serve_enter(cpu, &flags))
		return -1;
	sv->bad += hak_pcpu_check_chunk(&hak_heap, pc, cpu, sv->cls,
					&sv->pos);
	hak_port_pcpu_exit(cpu, flags);
	if (sv->pos == HAK_CHECK_DONE)
		serve_next_class(sv);
	return 0;
}

static int step_fronts(struct hak_serve *sv, unsigned cpu, int light)
{
	unsigned what = sv->phase == SERVE_FRONTS_CHECK ? HAK_REQ_CHECK
							: HAK_REQ_DRAIN;
	int bad = 0, r;

	r = hak_fronts_step(&sv->fronts, cpu, what, 1, light, &bad);
	if (r < 0)
		return -1;
	sv->bad += bad;
	if (r)
		serve_phase(sv, sv->phase + 1);
	return 0;
}

/* The last section: what IRQ handlers freed since, at most a chunk of it
 * (none if a light step came before: the CPU then ran on between the
 * steps, its caches are in use), then the posts are answered. More is
 * left cached, as if freed after the round: a task preempted between two
 * steps under an RTOS may find the magazines refilled by another task, up
 * to the CPU's capacity budget, and one section flushing them all masked
 * IRQs for thousands of objects (found by review). */
static int step_final(struct hak_pcpu *pc, struct hak_serve *sv,
		      unsigned cpu)
{
	unsigned long flags;

	if (serve_enter(cpu, &flags))
		return -1;
	if ((sv->what & HAK_REQ_DRAIN) && !sv->light)
		hak_pcpu_flush(&hak_heap, pc, cpu, HAK_DRAIN_CHUNK);
	if (sv->what & HAK_REQ_CHECK)
		__atomic_fetch_add(&pc->check_bad, (uint32_t)sv->bad,
				   __ATOMIC_RELAXED);
	sv->phase = SERVE_IDLE;
	__atomic_store_n(&pc->req_done, sv->seq, __ATOMIC_RELEASE);
	hak_port_pcpu_exit(cpu, flags);
	return 0;
}

/* sv's current phase, one step: 0, or -1 we are on cpu no more. */
static int serve_do(struct hak_pcpu *pc, struct hak_serve *sv, unsigned cpu,
		    int light)
{
	switch (sv->phase) {
	case SERVE_DRAIN:
		return step_drain(pc, sv, cpu, light);
	case SERVE_CHECK:
		return step_check(pc, sv, cpu);
	case SERVE_FRONTS_CHECK:
	case SERVE_FRONTS_DRAIN:
		return step_fronts(sv, cpu, light);
	default:
		return step_final(pc, sv, cpu);
	}
}

/* One step (opening a round first if a post waits): 1 done, 0 nothing
 * was asked, -1 we are on cpu no more. */
static int serve_step(struct hak_pcpu *pc, unsigned cpu, int light)
{
	struct hak_serve *sv = &pc->serve;

	if (sv->phase == SERVE_IDLE && !serve_open(pc))
		return 0;
	sv->light |= (uint32_t)light;
	return serve_do(pc, sv, cpu, light) < 0 ? -1 : 1;
}

/*
 * The requester's own caches (hak_trim, hak_check, the reclaim): the
 * phases of a round, on a round of its own, up to the last section,
 * which answers posts (none here). Returns the violations a check found.
 * Moved to another CPU meanwhile (an RTOS that migrates tasks), it stops:
 * that CPU's caches stay as they are.
 */
static int serve_own(unsigned cpu, unsigned what)
{
	struct hak_serve sv;

	sv.what = what;
	sv.bad = 0;
	serve_phase(&sv, SERVE_DRAIN);
	while (sv.phase != SERVE_FINAL &&
	       !serve_do(hak_heap.pcpu[cpu], &sv, cpu, 0))
		;
	return sv.bad;
}

/* Whether the round open now, if any, is done and the posts up to upto
 * are answered (req_done is written by this CPU only). */
static int served_upto(struct hak_pcpu *pc, uint32_t upto)
{
	return pc->serve.phase == SERVE_IDLE &&
	       (int32_t)(__atomic_load_n(&pc->req_done, __ATOMIC_RELAXED) -
			 upto) >= 0;
}

/* The posts made before this call, and no later ones: at most the round
 * already open and one more. Going on while other CPUs kept posting (a
 * watchdog's hak_check in a loop) kept a malloc's miss, or an IRQ
 * handler's tick with IRQs masked, here as long as they went on (found
 * by review). */
static void serve(struct hak_pcpu *pc, unsigned cpu, int light)
{
	uint32_t upto = __atomic_load_n(&pc->req_seq, __ATOMIC_ACQUIRE);

	while (serve_step(pc, cpu, light) > 0 && !light &&
	       !served_upto(pc, upto))
		;
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

int hak_remote_poll(int light)
{
	struct hak_pcpu *pc;
	unsigned long flags;
	unsigned cpu;
	int pending = 0;

	if (HAK_PORT_REMOTE_EXCLUSIVE &&
	    !(HAK_CHECK_CPU_OWNER && HAK_PORT_HW_CPUS))
		return 0;
	cpu = hak_port_pcpu_enter(&flags);
	if (unlikely(cpu >= hak_heap.ncpus)) {
		hak_port_pcpu_exit(cpu, flags);
		hak_pcpu_bad_id(cpu);
		return 0;
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
			  !__atomic_load_n(&pc->serving, __ATOMIC_ACQUIRE);
		if (unlikely(pending))
			__atomic_store_n(&pc->serving, 1, __ATOMIC_RELAXED);
	}
	hak_port_pcpu_exit(cpu, flags);
	if (likely(!pending))
		return 0;
	serve(pc, cpu, light);
	return 1;
}

/*
 * With IRQs masked by the caller (a timer or IPI handler) a tick does one
 * light step of a request, or else one light decay step: its window stays
 * bounded (docs/guarantees.md, serve_light). Slow paths serve and decay
 * in full whatever the IRQ state: a thread that runs with IRQs masked
 * still answers at its misses.
 */
void hak_tick(void)
{
	int light;

	if (!__atomic_load_n(&hak_heap.ready, __ATOMIC_ACQUIRE))
		return;
	light = hak_port_irqs_masked();
	if (hak_remote_poll(light) && light)
		return;
	hak_decay_step(light);
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
			hak_pcpu_flush(&hak_heap, pc, cpu, ~0u);
		if (what & HAK_REQ_CHECK)
			bad += hak_pcpu_check(&hak_heap, pc, cpu);
		hak_port_pcpu_exit_remote(cpu, flags, slot);
		bad += hak_fronts_cpu(cpu, what);
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
	int bad;

	self = hak_port_pcpu_enter(&flags);
	hak_port_pcpu_exit(self, flags);
	if (unlikely(self >= hak_heap.ncpus)) {
		hak_pcpu_bad_id(self);
		return 0;
	}
	/* Our own caches in chunks, as a request is served: a full cache
	 * is thousands of objects, and each section masks IRQs. */
	bad = serve_own(self, what);

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
		hak_remote_poll(0);
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
