// SPDX-License-Identifier: MIT
/*
 * suite.c - the in-guest test suite: hakmem over the board's static heap,
 * driven through hak_* from every CPU.
 *
 * Tests (each prints "[test] begin NAME", then "[test] pass NAME" or
 * "[test] FAIL NAME: reason"; any failure ends the run with status 1):
 *   init           hak_init_region on CPU 0, API edge cases and bad-input
 *                  reports, long-lived "keeper" blocks on every CPU
 *   percpu_stress  all CPUs hammer the same few classes in batches that
 *                  overflow and empty their caches (lock contention);
 *                  then seeded random sizes over every tier on every CPU,
 *                  malloc/calloc/aligned_alloc/realloc, patterned and
 *                  verified, a share handed to another CPU through its
 *                  mailbox and freed there
 *   irq_safety     a 4 kHz timer IRQ allocates/frees (and frees blocks
 *                  other CPUs sent) while the interrupted code loops in
 *                  hak_malloc/hak_free on the same classes
 *   cpu_offline    a CPU drains its own cache; then one CPU parks and CPU
 *                  0 offlines it while the others keep going; it comes
 *                  back and allocates again
 *   exhaustion     allocate until the region runs out (Tiny, Pool, Large,
 *                  mixed), free half, allocate again, free all; then every
 *                  page goes back to the region after offline + trim
 * After every test, with all CPUs quiet, CPU 0 checks hak_check() == 0,
 * the stats balance against what the test did and holds, the provider
 * accounting identity and the keepers' contents.
 */
#include "guest.h"
#include "hakmem/config.h"
#include "peek.h"

#define SUITE_SEED 0x68616b6d656dULL /* "hakmem" */

#define SS_BYTES (1UL << HAK_SUPERSLAB_SHIFT)

/* percpu_stress */
#define STRESS_ITERS 12000
#define STRESS_SLOTS 128
#define STRESS_LARGE_MAX (160 * 1024)
/* irq_safety */
#define IRQ_PERIOD_US 250
#define IRQ_RUN_MS 400
#define IRQ_MIN_TICKS 100
#define IRQ_SLOTS 8
#define IRQ_THREAD_SLOTS 32
/* exhaustion */
#define EX_STREAK 64	      /* consecutive NULLs that mean "ran out" */
#define EX_MAX_NULLS 128      /* or this many NULLs in all (mixed sizes) */
#define EX_LIMIT 3000000UL    /* allocations per CPU per round, at most */
#define EX_REALLOC 8	      /* blocks re-allocated after freeing half */

#define TEST_TIMEOUT_MS 30000

struct cpu_state {
	uint64_t rng;
	struct g_blk slot[STRESS_SLOTS];
} G_ALIGNED;

static struct cpu_state cs[G_MAX_CPUS];

/* ---- keepers: blocks held from init to the end of exhaustion ---------- */

#define NKEEP 6
static struct g_blk keep[G_MAX_CPUS][NKEEP];
static const uint32_t keep_size[NKEEP] = { 24, 1000, 5000, 32768, 40000, 3000 };

static void keepers_alloc(unsigned cpu)
{
	unsigned i;

	for (i = 0; i < NKEEP; i++) {
		struct g_blk *b = &keep[cpu][i];
		int r;

		if (i == NKEEP - 1)
			r = g_alloc(b, keep_size[i], G_ALIGNED_ALLOC, 4096,
				    g_rand(&cs[cpu].rng), G_CTX_THREAD);
		else
			r = g_alloc(b, keep_size[i], G_MALLOC, 0,
				    g_rand(&cs[cpu].rng), G_CTX_THREAD);
		if (r)
			g_fail("keeper %u (%u bytes) failed", i, keep_size[i]);
	}
}

static void keepers_held(uint64_t objs[G_NTIERS], uint64_t bytes[G_NTIERS])
{
	unsigned c, i, t;

	for (t = 0; t < G_NTIERS; t++)
		objs[t] = bytes[t] = 0;
	for (c = 0; c < g_ncpus; c++)
		for (i = 0; i < NKEEP; i++) {
			const struct g_blk *b = &keep[c][i];

			if (!b->p)
				continue;
			g_verify(b, b->usable, "keeper check");
			t = g_tier(b->usable);
			objs[t]++;
			bytes[t] += b->usable;
		}
}

/* ---- phase bookkeeping (CPU 0, every other CPU waiting) --------------- */

/* Taken with every other CPU waiting at the test's start barrier. */
static struct hak_stats st0;

static void phase_start(void)
{
	g_acct_reset();
	hak_stats(&st0);
}

static uint64_t sum_peek_cached(void)
{
	uint64_t n = 0;
	unsigned c;

	for (c = 0; c < g_ncpus; c++)
		n += peek_cached(c);
	return n;
}

static void check_no_unexpected(const char *when)
{
	const char *what;
	const void *ptr;
	unsigned cpu;
	int ev = g_unexpected_event(&what, &ptr, &cpu);

	if (ev)
		g_fail("%s: unexpected report '%s' (%s) ptr %p on cpu %u", when,
		       hak_event_name((enum hak_event)ev), what, ptr, cpu);
}

static void check_heap(const char *when)
{
	int bad = hak_check();

	check_no_unexpected(when);
	if (bad)
		g_fail("%s: hak_check() = %d", when, bad);
}

/*
 * The stats must balance: per tier, allocs - frees == objects in use ==
 * what the test holds (extra + keepers), the alloc/free deltas since
 * phase_start equal what the test counted, bytes match, the provider
 * identity holds, and cached objects are what the magazines hold.
 */
static void check_balance(const char *when, const uint64_t extra_objs[G_NTIERS],
			  const uint64_t extra_bytes[G_NTIERS])
{
	struct hak_stats st;
	struct g_acct a;
	uint64_t kobj[G_NTIERS], kbytes[G_NTIERS], total = 0, cached;
	unsigned t, k;

	hak_stats(&st);
	g_acct_sum(&a);
	keepers_held(kobj, kbytes);
	for (t = 0; t < G_NTIERS; t++) {
		const struct hak_tier_stats *ts = &st.tier[t];
		uint64_t objs = kobj[t] + (extra_objs ? extra_objs[t] : 0);
		uint64_t bytes = kbytes[t] + (extra_bytes ? extra_bytes[t] : 0);

		if (ts->allocs - st0.tier[t].allocs != a.allocs[t] ||
		    ts->frees - st0.tier[t].frees != a.frees[t])
			g_fail("%s: %s tier counted %lu allocs / %lu frees, "
			       "the test made %lu / %lu",
			       when, g_tier_name(t),
			       (unsigned long)(ts->allocs - st0.tier[t].allocs),
			       (unsigned long)(ts->frees - st0.tier[t].frees),
			       (unsigned long)a.allocs[t],
			       (unsigned long)a.frees[t]);
		if (ts->allocs - ts->frees != ts->objects_in_use ||
		    ts->objects_in_use != objs)
			g_fail("%s: %s tier: allocs-frees %lu, objects_in_use "
			       "%lu, the test holds %lu",
			       when, g_tier_name(t),
			       (unsigned long)(ts->allocs - ts->frees),
			       (unsigned long)ts->objects_in_use,
			       (unsigned long)objs);
		if (ts->bytes_in_use != bytes)
			g_fail("%s: %s tier bytes_in_use %lu, the test holds %lu",
			       when, g_tier_name(t),
			       (unsigned long)ts->bytes_in_use,
			       (unsigned long)bytes);
		total += ts->bytes_in_use;
	}
	if (st.bytes_in_use != total)
		g_fail("%s: bytes_in_use %lu != sum of tiers %lu", when,
		       (unsigned long)st.bytes_in_use, (unsigned long)total);
	if (st.provider_taken - st.provider_returned != st.provider_held ||
	    st.provider_held !=
		    st.superslabs * SS_BYTES +
			    st.tier[HAK_TIER_LARGE].bytes_in_use +
			    st.large_cached + st.meta_bytes ||
	    st.provider_held > g_heap_bytes() ||
	    st.provider_peak < st.provider_held)
		g_fail("%s: provider accounting: held %lu taken %lu returned "
		       "%lu peak %lu, superslabs %lu large %lu (+%lu cached) "
		       "meta %lu",
		       when, (unsigned long)st.provider_held,
		       (unsigned long)st.provider_taken,
		       (unsigned long)st.provider_returned,
		       (unsigned long)st.provider_peak,
		       (unsigned long)st.superslabs,
		       (unsigned long)st.tier[HAK_TIER_LARGE].bytes_in_use,
		       (unsigned long)st.large_cached,
		       (unsigned long)st.meta_bytes);
	cached = sum_peek_cached();
	if (st.cached_objects != cached)
		g_fail("%s: cached_objects %lu, the magazines hold %lu", when,
		       (unsigned long)st.cached_objects, (unsigned long)cached);
	for (k = 0; k < HAK_EV__COUNT; k++)
		if (st.events[k] != __atomic_load_n(&g_events[k], __ATOMIC_RELAXED))
			g_fail("%s: %lu '%s' events counted, the hook saw %lu",
			       when, (unsigned long)st.events[k],
			       hak_event_name((enum hak_event)k),
			       (unsigned long)g_events[k]);
}

static void phase_check(const char *when)
{
	check_heap(when);
	check_balance(when, NULL, NULL);
}

/* ---- shared pieces ------------------------------------------------------ */

static void free_slots(unsigned cpu, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (cs[cpu].slot[i].p)
			g_free(&cs[cpu].slot[i], G_CTX_THREAD);
}

static void drain_mailbox(void)
{
	while (g_mbox_drain(G_CTX_THREAD))
		;
}

/* One random operation on slot[0..nslots): allocate into an empty slot;
 * else send the block to another CPU, realloc it or free it. */
static void random_op(unsigned cpu, unsigned nslots, unsigned send_pct,
		      size_t large_max)
{
	struct cpu_state *s = &cs[cpu];
	struct g_blk *b = &s->slot[g_rand(&s->rng) % nslots];
	unsigned x = (unsigned)(g_rand(&s->rng) % 100);

	if (!b->p) {
		size_t size = g_size_mix(&s->rng, 55, 4, large_max);
		enum g_how how = G_MALLOC;
		size_t align = 0;

		if (x < 10) {
			how = G_CALLOC;
		} else if (x < 20) {
			how = G_ALIGNED_ALLOC;
			align = (size_t)32 << (g_rand(&s->rng) % 8);
		}
		if (g_alloc(b, size, how, align, g_rand(&s->rng), G_CTX_THREAD))
			g_fail("out of memory allocating %lu bytes",
			       (unsigned long)size);
	} else if (g_ncpus > 1 && x < send_pct) {
		unsigned to = (cpu + 1 + (unsigned)(g_rand(&s->rng) %
						    (g_ncpus - 1))) % g_ncpus;

		if (g_mbox_send(to, b)) {
			g_acct[cpu][G_CTX_THREAD].cross_sent++;
			b->p = NULL;
		} else {
			g_free(b, G_CTX_THREAD);
		}
	} else if (x < send_pct + 8) {
		size_t size = g_size_mix(&s->rng, 55, 4, large_max);

		g_realloc(b, size ? size : 1, g_rand(&s->rng), G_CTX_THREAD);
	} else {
		g_free(b, G_CTX_THREAD);
	}
}

/* ---- init ------------------------------------------------------------------ */

static char not_heap[64] __attribute__((aligned(64)));

static void expect_event(enum hak_event ev, uint64_t before, const char *what)
{
	if (__atomic_load_n(&g_events[ev], __ATOMIC_RELAXED) != before + 1)
		g_fail("%s: expected one '%s' report", what, hak_event_name(ev));
}

/* CPU 0, before the other CPUs start. */
static void api_checks(void)
{
	void *a, *b, *p;
	uint64_t n;

	a = hak_malloc(0);
	b = hak_malloc(0);
	if (!a || !b || a == b || hak_usable_size(a) < 16)
		g_fail("malloc(0) must give distinct minimum blocks");
	hak_free(a);
	hak_free(b);
	hak_free(NULL);

	n = g_events[HAK_EV_INVALID_FREE];
	hak_free(not_heap + 16);
	expect_event(HAK_EV_INVALID_FREE, n, "free of a foreign pointer");

	p = hak_malloc(64);
	n = g_events[HAK_EV_INTERIOR_FREE];
	hak_free((char *)p + 16);
	expect_event(HAK_EV_INTERIOR_FREE, n, "interior free");
	hak_free(p);
	n = g_events[HAK_EV_DOUBLE_FREE];
	hak_free(p);
	expect_event(HAK_EV_DOUBLE_FREE, n, "double free");

	p = hak_malloc(100000);
	if (!p || hak_usable_size(p) < 100000 || ((uintptr_t)p & 4095))
		g_fail("large malloc(100000) = %p", p);
	/* Only a run's first page is in the page map: a pointer further in
	 * reads as foreign (documented in mm/large.c), either report will do. */
	n = g_events[HAK_EV_INTERIOR_FREE] + g_events[HAK_EV_INVALID_FREE];
	hak_free((char *)p + 4096);
	if (g_events[HAK_EV_INTERIOR_FREE] + g_events[HAK_EV_INVALID_FREE] != n + 1)
		g_fail("interior free of a large block not reported");
	hak_free(p);
	/* A freed run leaves the page map too: reported as foreign. */
	n = g_events[HAK_EV_DOUBLE_FREE] + g_events[HAK_EV_INVALID_FREE];
	hak_free(p);
	if (g_events[HAK_EV_DOUBLE_FREE] + g_events[HAK_EV_INVALID_FREE] != n + 1)
		g_fail("double free of a large block not reported");

	n = g_events[HAK_EV_BAD_ALIGNMENT];
	if (hak_aligned_alloc(48, 10))
		g_fail("aligned_alloc(48, 10) must fail");
	expect_event(HAK_EV_BAD_ALIGNMENT, n, "aligned_alloc(48)");

	n = g_events[HAK_EV_SIZE_OVERFLOW];
	if (hak_calloc(SIZE_MAX / 2, 4))
		g_fail("calloc(SIZE_MAX / 2, 4) must fail");
	expect_event(HAK_EV_SIZE_OVERFLOW, n, "calloc overflow");

	if (hak_realloc(hak_malloc(10), 0))
		g_fail("realloc(p, 0) must return NULL");
	g_clear_unexpected();
	check_heap("api checks");
}

/* ---- tagged blocks: a cheap check for the hot loops ------------------ */

/* Plain malloc: the tier follows from the request. */
static unsigned tier_of_request(size_t size)
{
	return size <= 1024 ? G_TINY : size <= 32768 ? G_POOL : G_LARGE;
}

/* Word 0: key ^ address, word 1: size, last word: ~word 0. */
#define TAG_KEY 0x7468726561640000ULL /* "thread" */

static void light_free(unsigned cpu, uint64_t **slot)
{
	uint64_t *w = *slot;
	size_t size = (size_t)w[1];

	if (w[0] != (TAG_KEY ^ (uintptr_t)w) || size > (1UL << 20) ||
	    (size >= 32 && w[size / 8 - 1] != ~w[0]))
		g_fail("tagged block %p (%lu bytes) overwritten: %lx %lx",
		       (void *)w, (unsigned long)size, (unsigned long)w[0],
		       (unsigned long)w[1]);
	g_acct[cpu][G_CTX_THREAD].frees[tier_of_request(size)]++;
	hak_free(w);
	*slot = NULL;
}

static void light_alloc(unsigned cpu, uint64_t **slot, size_t size)
{
	uint64_t *w = hak_malloc(size);

	if (!w)
		g_fail("out of memory allocating %lu bytes", (unsigned long)size);
	w[0] = TAG_KEY ^ (uintptr_t)w;
	w[1] = size;
	if (size >= 32)
		w[size / 8 - 1] = ~w[0];
	g_acct[cpu][G_CTX_THREAD].allocs[tier_of_request(size)]++;
	*slot = w;
}

/* ---- percpu_stress ---------------------------------------------------- */

/* All CPUs on the same few classes at once, in batches that overflow
 * and empty their caches: the shard and global locks under contention. */
static const uint32_t hot_sizes[] = { 64, 2048, 40960, 1024, 73728 };
#define NHOT_SIZES (sizeof(hot_sizes) / sizeof(hot_sizes[0]))
#define HOT_BLOCKS 160
#define HOT_ROUNDS 120
static uint64_t *hot[G_MAX_CPUS][HOT_BLOCKS];

static void hot_loop(unsigned cpu, unsigned long deadline)
{
	unsigned r, i;

	for (r = 0; r < HOT_ROUNDS; r++) {
		size_t size = hot_sizes[r % NHOT_SIZES];
		unsigned n = size > 32768 ? 24 : HOT_BLOCKS;

		for (i = 0; i < n; i++)
			light_alloc(cpu, &hot[cpu][i], size);
		for (i = 0; i < n; i++)
			light_free(cpu, &hot[cpu][i]);
		g_check_deadline(deadline, "percpu_stress: hot loop");
	}
}

static void t_stress(unsigned cpu)
{
	unsigned long deadline = board_ticks() + g_ms_ticks(TEST_TIMEOUT_MS);
	unsigned it;

	hot_loop(cpu, deadline);

	for (it = 0; it < STRESS_ITERS; it++) {
		if ((it & 15) == 0) {
			g_mbox_drain(G_CTX_THREAD);
			g_check_deadline(deadline, "percpu_stress loop");
		}
		random_op(cpu, STRESS_SLOTS, 25, STRESS_LARGE_MAX);
	}
	free_slots(cpu, STRESS_SLOTS);
	g_barrier("percpu_stress: senders done");
	drain_mailbox();
}

static void c_stress(void)
{
	struct g_acct a;
	unsigned t;

	g_acct_sum(&a);
	g_printf("  percpu_stress: allocs tiny %lu pool %lu large %lu, "
		 "cross-CPU frees %lu, %lu KiB patterned\n",
		 (unsigned long)a.allocs[G_TINY], (unsigned long)a.allocs[G_POOL],
		 (unsigned long)a.allocs[G_LARGE], (unsigned long)a.cross_freed,
		 (unsigned long)(a.bytes_filled >> 10));
	for (t = 0; t < G_NTIERS; t++)
		if (!a.allocs[t])
			g_fail("no %s allocations", g_tier_name(t));
	if (a.cross_sent != a.cross_freed)
		g_fail("%lu blocks sent to other CPUs, %lu freed there",
		       (unsigned long)a.cross_sent, (unsigned long)a.cross_freed);
	if (g_ncpus > 1 && a.cross_freed == 0)
		g_fail("no cross-CPU frees happened");
}

/* ---- irq_safety --------------------------------------------------------- */

/*
 * The thread loops in hak_malloc/hak_free over a few classes with a light
 * check (tag words), so that most instructions it runs are the
 * allocator's and the timer IRQ lands inside hakmem calls often; the
 * handler works on the same classes with fully patterned blocks. A fast
 * path that let an IRQ in would hand a block out twice or lose one: the
 * tags, the patterns, hak_check or the stats balance see it.
 */
static const uint32_t irq_sizes[] = { 16, 64, 160, 1024, 4096 };
#define NIRQ_SIZES (sizeof(irq_sizes) / sizeof(irq_sizes[0]))

struct irq_state {
	uint64_t rng;
	uint64_t ticks;
	uint64_t ops;
	struct g_blk slot[IRQ_SLOTS];
	/* thread side */
	uint64_t trng, tops, bursts;
	uint64_t *tslot[IRQ_THREAD_SLOTS];
} G_ALIGNED;

static struct irq_state irqs[G_MAX_CPUS];

static void irq_alloc(struct irq_state *q, struct g_blk *b)
{
	unsigned x = (unsigned)(g_rand(&q->rng) % 16);
	size_t size = x < 12 ? irq_sizes[g_rand(&q->rng) % NIRQ_SIZES]
			     : g_size_mix(&q->rng, 50, 10, 64 * 1024);
	enum g_how how = x == 12 ? G_CALLOC : x == 13 ? G_ALIGNED_ALLOC : G_MALLOC;

	if (g_alloc(b, size, how, 256, g_rand(&q->rng), G_CTX_IRQ))
		g_fail("IRQ: out of memory allocating %lu bytes",
		       (unsigned long)size);
}

/* IRQ context: a few operations on blocks kept across ticks, one
 * allocate-verify-free, and the blocks other CPUs sent us. */
static void irq_handler(unsigned cpu)
{
	struct irq_state *q = &irqs[cpu];
	struct g_blk t;
	unsigned k;

	if (cpu != g_cpu())
		g_fail("timer handler for cpu %u ran on cpu %u", cpu, g_cpu());
	q->ticks++;
	for (k = 0; k < 3; k++) {
		struct g_blk *b = &q->slot[g_rand(&q->rng) % IRQ_SLOTS];

		if (b->p)
			g_free(b, G_CTX_IRQ);
		else
			irq_alloc(q, b);
		q->ops++;
	}
	irq_alloc(q, &t);
	g_free(&t, G_CTX_IRQ);
	q->ops++;
	if (q->ticks & 1)
		g_mbox_drain(G_CTX_IRQ);
}

static void t_irq(unsigned cpu)
{
	struct irq_state *q = &irqs[cpu];
	unsigned long t0 = board_ticks();
	unsigned long deadline = t0 + g_ms_ticks(TEST_TIMEOUT_MS);
	unsigned long run = g_ms_ticks(IRQ_RUN_MS);
	unsigned k, it = 0;

	q->rng = g_seed(SUITE_SEED ^ 0x1e4, cpu);
	q->trng = g_seed(SUITE_SEED ^ 0x7e4, cpu);
	board_timer_start(IRQ_PERIOD_US, irq_handler);
	board_irq_enable();
	/* IRQs are on between the calls (and inside them, as far as
	 * hakmem lets them in). */
	while (board_ticks() - t0 < run ||
	       __atomic_load_n(&q->ticks, __ATOMIC_RELAXED) < IRQ_MIN_TICKS) {
		uint64_t **slot = &q->tslot[it % IRQ_THREAD_SLOTS];

		if (*slot)
			light_free(cpu, slot);
		light_alloc(cpu, slot,
			    irq_sizes[g_rand(&q->trng) % NIRQ_SIZES]);
		q->tops++;
		if ((++it & 15) == 0) {
			/* Patterned blocks of every tier, sent to others. */
			random_op(cpu, IRQ_THREAD_SLOTS, 15, 64 * 1024);
			g_check_deadline(deadline, "irq_safety: too few ticks");
		}
		if ((it & 255) == 0) {
			/* A burst that empties, then overflows the magazine:
			 * refills and drains (the batch paths) under IRQs. */
			size_t size = irq_sizes[(it >> 8) % NIRQ_SIZES];

			for (k = 0; k < HOT_BLOCKS; k++)
				light_alloc(cpu, &hot[cpu][k], size);
			for (k = 0; k < HOT_BLOCKS; k++)
				light_free(cpu, &hot[cpu][k]);
			q->bursts++;
		}
	}
	board_irq_disable();
	board_timer_stop();
	free_slots(cpu, IRQ_THREAD_SLOTS);
	for (k = 0; k < IRQ_THREAD_SLOTS; k++)
		if (q->tslot[k])
			light_free(cpu, &q->tslot[k]);
	for (k = 0; k < IRQ_SLOTS; k++)
		if (q->slot[k].p)
			g_free(&q->slot[k], G_CTX_THREAD);
	g_barrier("irq_safety: senders done");
	drain_mailbox();
}

static void c_irq(void)
{
	unsigned c;

	for (c = 0; c < g_ncpus; c++) {
		g_printf("  irq_safety: cpu %u: %lu ticks, %lu IRQ ops, %lu "
			 "IRQ cross-CPU frees, %lu thread malloc/free pairs, "
			 "%lu bursts\n",
			 c, (unsigned long)irqs[c].ticks,
			 (unsigned long)irqs[c].ops,
			 (unsigned long)g_acct[c][G_CTX_IRQ].cross_freed,
			 (unsigned long)irqs[c].tops,
			 (unsigned long)irqs[c].bursts);
		if (irqs[c].ticks < IRQ_MIN_TICKS)
			g_fail("cpu %u took only %lu timer ticks", c,
			       (unsigned long)irqs[c].ticks);
	}
}

/* ---- cpu_offline -------------------------------------------------------- */

static int parked[G_MAX_CPUS], resume[G_MAX_CPUS];
static int offline_done;
static struct hak_stats st_a;

static void wait_flag(int *flag, int want, const char *what)
{
	unsigned long t0 = board_ticks(), lim = g_ms_ticks(TEST_TIMEOUT_MS);

	while (__atomic_load_n(flag, __ATOMIC_ACQUIRE) != want) {
		arch_cpu_relax();
		if (board_ticks() - t0 > lim)
			g_fail("timeout waiting for %s", what);
	}
}

/* Park: no hakmem code on this CPU until CPU 0 says resume. IRQs are
 * masked here (the board runs test code with IRQs masked). */
static void park(unsigned cpu)
{
	__atomic_store_n(&parked[cpu], 1, __ATOMIC_RELEASE);
	wait_flag(&resume[cpu], 1, "resume");
	__atomic_store_n(&parked[cpu], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&resume[cpu], 0, __ATOMIC_RELAXED);
}

/* Make sure cpu's cache holds something: free a few fresh blocks. */
static void warm_cache(unsigned cpu)
{
	struct g_blk b;
	unsigned k;

	for (k = 0; k < 4; k++) {
		if (g_alloc(&b, 16 + 100 * k, G_MALLOC, 0, g_rand(&cs[cpu].rng),
			    G_CTX_THREAD))
			g_fail("out of memory");
		g_free(&b, G_CTX_THREAD);
	}
}

static void offline_round(unsigned cpu, unsigned victim)
{
	unsigned long t0 = board_ticks(), lim = g_ms_ticks(TEST_TIMEOUT_MS);
	unsigned i, it;

	for (it = 0; it < 300; it++)
		random_op(cpu, 64, 20, 64 * 1024);
	g_mbox_drain(G_CTX_THREAD);
	if (cpu == victim) {
		uint64_t refills;

		warm_cache(cpu);
		if (!peek_cached(cpu))
			g_fail("cpu %u cache empty before offline", cpu);
		park(cpu);
		/* Back: the live blocks survived, the cache is empty, the
		 * next allocations refill from the shared pool. */
		for (i = 0; i < 64; i++)
			if (cs[cpu].slot[i].p)
				g_verify(&cs[cpu].slot[i], cs[cpu].slot[i].usable,
					 "after offline");
		if (peek_cached(cpu))
			g_fail("cpu %u: %lu objects cached after resume", cpu,
			       (unsigned long)peek_cached(cpu));
		refills = peek_refills(cpu);
		for (it = 0; it < 100; it++)
			random_op(cpu, 64, 20, 64 * 1024);
		if (peek_refills(cpu) == refills)
			g_fail("cpu %u allocated after offline without a refill",
			       cpu);
	} else if (cpu == 0) {
		uint64_t before;
		int bad;

		wait_flag(&parked[victim], 1, "the victim CPU to park");
		before = peek_cached(victim);
		hak_cpu_offline(victim);
		if (peek_cached(victim))
			g_fail("hak_cpu_offline(%u): %lu of %lu objects still "
			       "cached", victim, (unsigned long)peek_cached(victim),
			       (unsigned long)before);
		bad = hak_check(); /* concurrent with the other CPUs */
		check_no_unexpected("check during offline");
		if (bad)
			g_fail("hak_check() during offline = %d", bad);
		__atomic_store_n(&offline_done, 1, __ATOMIC_RELEASE);
		__atomic_store_n(&resume[victim], 1, __ATOMIC_RELEASE);
		for (it = 0; it < 100; it++)
			random_op(cpu, 64, 20, 64 * 1024);
	} else {
		/* Keep allocating and freeing across the offline. */
		for (it = 0; it < 100 ||
			     !__atomic_load_n(&offline_done, __ATOMIC_ACQUIRE);
		     it++) {
			random_op(cpu, 64, 20, 64 * 1024);
			if ((it & 15) == 0)
				g_mbox_drain(G_CTX_THREAD);
			if (board_ticks() - t0 > lim)
				g_fail("timeout waiting for the offline");
		}
	}
	g_barrier("cpu_offline: round done");
	if (cpu == 0)
		__atomic_store_n(&offline_done, 0, __ATOMIC_RELAXED);
}

static void t_offline(unsigned cpu)
{
	unsigned it, v, rounds;

	/* A: each CPU drains its own cache (the -smp 1 case too), the others
	 * doing the same at the same time. */
	for (it = 0; it < 300; it++)
		random_op(cpu, 64, 20, 64 * 1024);
	free_slots(cpu, 64);
	g_barrier("cpu_offline: A senders done");
	drain_mailbox();
	warm_cache(cpu);
	g_barrier("cpu_offline: A warm");
	if (cpu == 0) {
		hak_stats(&st_a);
		if (!st_a.cached_objects)
			g_fail("nothing cached before self-offline");
	}
	g_barrier("cpu_offline: A snapshot");
	hak_cpu_offline(cpu);
	if (peek_cached(cpu))
		g_fail("hak_cpu_offline(self): %lu objects still cached",
		       (unsigned long)peek_cached(cpu));
	g_barrier("cpu_offline: A offline");
	if (cpu == 0) {
		struct hak_stats st;
		unsigned t;

		hak_stats(&st);
		if (st.cached_objects)
			g_fail("%lu objects cached after every CPU drained",
			       (unsigned long)st.cached_objects);
		for (t = 0; t < HAK_TIER__COUNT; t++)
			if (st.tier[t].allocs != st_a.tier[t].allocs ||
			    st.tier[t].frees != st_a.tier[t].frees ||
			    st.tier[t].objects_in_use != st_a.tier[t].objects_in_use ||
			    st.tier[t].bytes_in_use != st_a.tier[t].bytes_in_use)
				g_fail("offline changed the %s tier stats",
				       g_tier_name(t));
		if (st.drains <= st_a.drains)
			g_fail("offline drained nothing");
		g_printf("  cpu_offline: self-offline of %u CPUs returned %lu "
			 "cached objects\n",
			 g_ncpus, (unsigned long)st_a.cached_objects);
	}
	g_barrier("cpu_offline: A checked");

	/* B: one CPU parks, CPU 0 offlines it while the rest keep going. */
	rounds = g_ncpus - 1 < 3 ? g_ncpus - 1 : 3;
	for (v = 1; v <= rounds; v++)
		offline_round(cpu, v);
	free_slots(cpu, 64);
	g_barrier("cpu_offline: B senders done");
	drain_mailbox();
	if (cpu == 0 && rounds)
		g_printf("  cpu_offline: %u concurrent offline rounds\n", rounds);
}

/* ---- exhaustion ---------------------------------------------------------- */

enum { EX_TINY, EX_POOL, EX_LARGE, EX_MIXED, EX_NROUNDS };
static const char *const ex_name[EX_NROUNDS] = { "tiny", "pool", "large",
						 "mixed" };

struct ex_state {
	void *head;	/* blocks linked through their first word */
	uint64_t n, nulls, bytes[G_NTIERS], objs[G_NTIERS];
	uint32_t freed_size[EX_REALLOC]; /* Tiny/Pool sizes freed last */
	unsigned nfreed;
	uint32_t min_large_freed;	  /* 0: none */
} G_ALIGNED;

static struct ex_state exs[G_MAX_CPUS];

static unsigned ex_tier(size_t size)
{
	return size <= 1024 ? G_TINY : size <= 32768 ? G_POOL : G_LARGE;
}

static uint64_t ex_tag(const void *p, size_t size)
{
	return ((uint64_t)size << 32) |
	       (uint32_t)(((uintptr_t)p >> 4) ^ 0x5eed5eedU);
}

static size_t ex_size(uint64_t *r, unsigned kind)
{
	switch (kind) {
	case EX_TINY:
		return g_size_tiny(r);
	case EX_POOL:
		return g_size_pool(r);
	case EX_LARGE:
		return g_size_large(r, 1024 * 1024);
	default:
		return g_size_mix(r, 50, 10, 256 * 1024);
	}
}

/* Header: next pointer, tag; the last word of a block >= 32 bytes holds
 * ~tag. Cheap enough to fill the whole region. */
static int ex_alloc(unsigned cpu, size_t size)
{
	struct ex_state *e = &exs[cpu];
	uint64_t *w = hak_malloc(size);
	unsigned t = ex_tier(size);

	if (!w)
		return -1;
	if ((uintptr_t)w & 15)
		g_fail("misaligned block %p", (void *)w);
	w[0] = (uintptr_t)e->head;
	w[1] = ex_tag(w, size);
	if (size >= 32)
		w[size / 8 - 1] = ~w[1];
	e->head = w;
	e->n++;
	e->objs[t]++;
	e->bytes[t] += hak_usable_size(w);
	g_acct[cpu][G_CTX_THREAD].allocs[t]++;
	return 0;
}

/* Unlinks nothing: the caller holds the list. */
static void ex_free(unsigned cpu, uint64_t *w)
{
	struct ex_state *e = &exs[cpu];
	size_t size = (size_t)(w[1] >> 32);
	unsigned t = ex_tier(size);

	if (w[1] != ex_tag(w, size) || (size >= 32 && w[size / 8 - 1] != ~w[1]))
		g_fail("exhaustion block %p corrupted", (void *)w);
	e->n--;
	e->objs[t]--;
	e->bytes[t] -= hak_usable_size(w);
	g_acct[cpu][G_CTX_THREAD].frees[t]++;
	hak_free(w);
}

static void ex_fill(unsigned cpu, unsigned kind)
{
	struct ex_state *e = &exs[cpu];
	unsigned long deadline = board_ticks() + g_ms_ticks(TEST_TIMEOUT_MS);
	unsigned streak = 0;
	unsigned long it;

	for (it = 0; streak < EX_STREAK && e->nulls < EX_MAX_NULLS; it++) {
		if (ex_alloc(cpu, ex_size(&cs[cpu].rng, kind)) == 0) {
			streak = 0;
		} else {
			streak++;
			e->nulls++;
		}
		if ((it & 255) == 0)
			g_check_deadline(deadline, "exhaustion: filling the heap");
		if (it > EX_LIMIT)
			g_fail("%s round: no NULL after %lu allocations",
			       ex_name[kind], it);
	}
}

static void ex_free_half(unsigned cpu)
{
	struct ex_state *e = &exs[cpu];
	uint64_t *w = e->head, *prev = NULL;
	unsigned long k = 0;

	e->nfreed = 0;
	e->min_large_freed = 0;
	while (w) {
		uint64_t *next = (uint64_t *)(uintptr_t)w[0];

		if (k++ & 1) {
			uint32_t size = (uint32_t)(w[1] >> 32);

			/* The last ones freed are on top of this CPU's
			 * magazines (LIFO): asking for them again must work
			 * whatever the other CPUs do meanwhile. */
			if (size > 32768) {
				if (!e->min_large_freed || size < e->min_large_freed)
					e->min_large_freed = size;
			} else {
				e->freed_size[e->nfreed++ % EX_REALLOC] = size;
			}
			ex_free(cpu, w);
			prev[0] = (uintptr_t)next;
		} else {
			prev = w;
		}
		w = next;
	}
}

static void ex_free_all(unsigned cpu)
{
	struct ex_state *e = &exs[cpu];
	uint64_t *w = e->head;

	while (w) {
		uint64_t *next = (uint64_t *)(uintptr_t)w[0];

		ex_free(cpu, w);
		w = next;
	}
	e->head = NULL;
}

static void ex_held(uint64_t objs[G_NTIERS], uint64_t bytes[G_NTIERS])
{
	unsigned c, t;

	for (t = 0; t < G_NTIERS; t++) {
		objs[t] = bytes[t] = 0;
		for (c = 0; c < g_ncpus; c++) {
			objs[t] += exs[c].objs[t];
			bytes[t] += exs[c].bytes[t];
		}
	}
}

static void ex_check(const char *when)
{
	uint64_t objs[G_NTIERS], bytes[G_NTIERS];

	check_heap(when);
	ex_held(objs, bytes);
	check_balance(when, objs, bytes);
}

static void ex_round(unsigned cpu, unsigned kind)
{
	static uint64_t oom0;
	static unsigned long t0;
	unsigned k;

	if (cpu == 0)
		t0 = board_ticks();
	if (cpu == 0)
		oom0 = __atomic_load_n(&g_events[HAK_EV_OUT_OF_MEMORY],
				       __ATOMIC_RELAXED);
	g_barrier("exhaustion: round start");
	ex_fill(cpu, kind);
	g_barrier("exhaustion: filled");
	if (cpu == 0) {
		struct hak_stats st;
		uint64_t n = 0, nulls = 0, oom;
		unsigned c;

		for (c = 0; c < g_ncpus; c++) {
			n += exs[c].n;
			nulls += exs[c].nulls;
		}
		oom = __atomic_load_n(&g_events[HAK_EV_OUT_OF_MEMORY],
				      __ATOMIC_RELAXED) - oom0;
		hak_stats(&st);
		g_printf("  exhaustion %-5s: %lu blocks, %lu NULLs, %lu OOM "
			 "reports, provider holds %lu of %lu KiB, in use %lu "
			 "KiB, %lu ms\n",
			 ex_name[kind], (unsigned long)n, (unsigned long)nulls,
			 (unsigned long)oom,
			 (unsigned long)(st.provider_held >> 10),
			 (unsigned long)(g_heap_bytes() >> 10),
			 (unsigned long)(st.bytes_in_use >> 10),
			 g_elapsed_ms(t0));
		if (oom < nulls)
			g_fail("%s: %lu NULLs but %lu out-of-memory reports",
			       ex_name[kind], (unsigned long)nulls,
			       (unsigned long)oom);
		if (st.provider_held < g_heap_bytes() / 10 * 9)
			g_fail("%s: NULL while the provider holds only %lu of "
			       "%lu bytes",
			       ex_name[kind], (unsigned long)st.provider_held,
			       (unsigned long)g_heap_bytes());
		ex_check("heap exhausted");
	}
	g_barrier("exhaustion: checked");
	ex_free_half(cpu);
	g_barrier("exhaustion: half freed");
	for (k = 0; k < exs[cpu].nfreed && k < EX_REALLOC; k++)
		if (ex_alloc(cpu, exs[cpu].freed_size[k]))
			g_fail("%s: malloc(%u) failed after freeing half",
			       ex_name[kind], exs[cpu].freed_size[k]);
	g_barrier("exhaustion: allocated again");
	if (cpu == 0) {
		/* Page runs: first fit over holes that concurrent requests
		 * split is no guarantee, but the smallest run freed fits. */
		uint32_t min = 0;
		unsigned c;

		for (c = 0; c < g_ncpus; c++)
			if (exs[c].min_large_freed &&
			    (!min || exs[c].min_large_freed < min))
				min = exs[c].min_large_freed;
		if (min && ex_alloc(0, min))
			g_fail("%s: malloc(%u) failed after freeing half",
			       ex_name[kind], min);
	}
	if (cpu == 0)
		ex_check("after freeing half");
	g_barrier("exhaustion: checked again");
	ex_free_all(cpu);
	exs[cpu].nulls = 0;
	g_barrier("exhaustion: all freed");
	if (cpu == 0) {
		struct hak_stats st;

		ex_check("after freeing all");
		hak_stats(&st);
		g_printf("  exhaustion %-5s: all freed: provider holds %lu KiB "
			 "(%lu superslabs, meta %lu KiB), %lu objects cached\n",
			 ex_name[kind], (unsigned long)(st.provider_held >> 10),
			 (unsigned long)st.superslabs,
			 (unsigned long)(st.meta_bytes >> 10),
			 (unsigned long)st.cached_objects);
	}
}

static void t_exhaust(unsigned cpu)
{
	unsigned kind, c, k;

	if (cpu == 0)
		__atomic_store_n(&g_oom_expected, 1, __ATOMIC_RELAXED);
	for (kind = 0; kind < EX_NROUNDS; kind++)
		ex_round(cpu, kind);
	if (cpu == 0)
		__atomic_store_n(&g_oom_expected, 0, __ATOMIC_RELAXED);
	g_barrier("exhaustion: rounds done");
	if (cpu != 0) {
		park(cpu);
		/* Back after the trim: allocating works again. */
		warm_cache(cpu);
		return;
	}
	/* CPU 0: every other CPU parked, drain them, trim: every page but
	 * the permanent metadata must be back in the region. */
	for (c = 1; c < g_ncpus; c++)
		wait_flag(&parked[c], 1, "a CPU to park");
	for (c = 0; c < g_ncpus; c++)
		for (k = 0; k < NKEEP; k++)
			g_free(&keep[c][k], G_CTX_THREAD);
	for (c = 1; c < g_ncpus; c++)
		hak_cpu_offline(c);
	hak_trim();
	{
		struct hak_stats st;

		hak_stats(&st);
		g_printf("  exhaustion trim: provider holds %lu bytes, meta %lu, "
			 "peak %lu, superslabs %lu, cached %lu\n",
			 (unsigned long)st.provider_held,
			 (unsigned long)st.meta_bytes,
			 (unsigned long)st.provider_peak,
			 (unsigned long)st.superslabs,
			 (unsigned long)st.cached_objects);
		if (st.provider_held != st.meta_bytes || st.superslabs ||
		    st.cached_objects || st.bytes_in_use)
			g_fail("after offline + trim the provider holds %lu "
			       "bytes, meta is %lu (superslabs %lu, cached %lu, "
			       "in use %lu)",
			       (unsigned long)st.provider_held,
			       (unsigned long)st.meta_bytes,
			       (unsigned long)st.superslabs,
			       (unsigned long)st.cached_objects,
			       (unsigned long)st.bytes_in_use);
	}
	ex_check("after trim");
	warm_cache(0);
	for (c = 1; c < g_ncpus; c++)
		__atomic_store_n(&resume[c], 1, __ATOMIC_RELEASE);
}

/* ---- the driver ------------------------------------------------------------ */

struct test {
	const char *name;
	void (*run)(unsigned cpu); /* on every CPU */
	void (*check)(void);	   /* on CPU 0, the others quiet */
};

static const struct test tests[] = {
	{ "percpu_stress", t_stress, c_stress },
	{ "irq_safety", t_irq, c_irq },
	{ "cpu_offline", t_offline, NULL },
	{ "exhaustion", t_exhaust, NULL },
};

#define NTESTS (sizeof(tests) / sizeof(tests[0]))

static void cpu_main(unsigned cpu)
{
	unsigned i;

	cs[cpu].rng = g_seed(SUITE_SEED, cpu);
	keepers_alloc(cpu);
	g_barrier("init: keepers");
	if (cpu == 0) {
		phase_check("end-of-test check");
		g_test_pass();
	}
	for (i = 0; i < NTESTS; i++) {
		unsigned long t0 = 0;

		if (cpu == 0) {
			g_test_begin(tests[i].name);
			phase_start();
			t0 = board_ticks();
		}
		g_barrier("test start");
		tests[i].run(cpu);
		g_barrier("test end");
		if (cpu == 0) {
			if (tests[i].check)
				tests[i].check();
			phase_check("end-of-test check");
			g_printf("  %s: %lu ms\n", tests[i].name,
				 g_elapsed_ms(t0));
			g_test_pass();
		}
	}
}

void test_main(void)
{
	g_test_begin("init");
	g_heap_init();
	g_printf("  %u CPUs, heap %lu KiB at %p, arch %s\n", g_ncpus,
		 (unsigned long)(g_heap_bytes() >> 10), __heap_start, ARCH_NAME);
	api_checks();
	phase_start();
	board_start_secondaries(cpu_main);
	cpu_main(0);
	g_printf("  suite: all %u tests passed\n", (unsigned)NTESTS + 1);
	board_exit(0);
}
