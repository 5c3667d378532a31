// SPDX-License-Identifier: MIT
/*
 * suite.c - the in-guest test suite: hakmem over the board's static heap,
 * driven through hak_* from every CPU.
 *
 * Tests (each prints "[test] begin NAME", then "[test] pass NAME" or
 * "[test] FAIL NAME: reason"; any failure ends the run with status 1):
 *   init           hak_init_region on CPU 0, API edge cases, long-lived
 *                  "keeper" blocks on every CPU
 *   bad_input      each CPU in turn: double free (cached, in its slab,
 *                  pool, large), foreign pointers (stack, image data and
 *                  rodata, a second static region, unmapped, a superslab
 *                  header), interior pointers of every tier, realloc and
 *                  usable_size of all those, calloc overflow and SIZE_MAX
 *                  requests, bad alignments: one report each, precise kind,
 *                  pointer and CPU, hak_check() clean, stats unchanged.
 *                  Debug images (HAK_DEBUG=1) add one byte past the end,
 *                  write after free and double free with their sites.
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
 *                  back and allocates again; then two CPUs offline a
 *                  parked one at once: one drains it, the other is
 *                  refused (MISUSE), nothing is drained twice
 *   idle_decay     every CPU's cache full, then only hak_tick: the heap
 *                  returns to what hak_trim leaves, plus one superslab
 *   remote         other CPUs' caches reached by request (hak_tick): a
 *                  bad pointer planted in CPU 1's cache is found by
 *                  hak_check on CPU 0; CPU 0 exhausts the region while the
 *                  others hold full caches, and the reclaim drains them
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
/* ... and on, up to this, until an IRQ has landed in a restartable
 * section: QEMU's TCG takes IRQs only between translated blocks, so a
 * tick lands inside a section of a few instructions rarely (a loaded
 * 2-core host once gave 1132 ticks and no restart). */
#define IRQ_MAX_RUN_MS 8000
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
			t = g_tier(b->acct);
			objs[t]++;
			bytes[t] += b->acct;
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

		/* A pop that an interrupt restarts after its allocs count
		 * went up counts twice (arch restart.h: statistics only,
		 * never fewer): allocs, and frees with them, may exceed what
		 * the test made by at most the restarts since phase_start. */
		uint64_t over = ts->allocs - st0.tier[t].allocs - a.allocs[t];

		if (ts->allocs - st0.tier[t].allocs < a.allocs[t] ||
		    over > st.restarts - st0.restarts ||
		    ts->frees - st0.tier[t].frees != a.frees[t] + over)
			g_fail("%s: %s tier counted %lu allocs / %lu frees, "
			       "the test made %lu / %lu (%lu restarts)",
			       when, g_tier_name(t),
			       (unsigned long)(ts->allocs - st0.tier[t].allocs),
			       (unsigned long)(ts->frees - st0.tier[t].frees),
			       (unsigned long)a.allocs[t],
			       (unsigned long)a.frees[t],
			       (unsigned long)(st.restarts - st0.restarts));
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
	cached = sum_peek_cached() + peek_transfer_cached();
	if (st.cached_objects != cached)
		g_fail("%s: cached_objects %lu, the caches hold %lu", when,
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

/* CPU 0, before the other CPUs start: API edge cases (bad input is the
 * bad_input test's). */
static void api_checks(void)
{
	void *a, *b;

	a = hak_malloc(0);
	b = hak_malloc(0);
	/* Debug builds: usable size is exactly the request. */
	if (!a || !b || a == b ||
	    (HAK_DEBUG ? hak_usable_size(a) != 0 : hak_usable_size(a) != 8))
		g_fail("malloc(0) must give distinct minimum blocks");
	hak_free(a);
	hak_free(b);
	hak_free(NULL);
	if (hak_realloc(hak_malloc(10), 0))
		g_fail("realloc(p, 0) must return NULL");
	check_heap("api checks");
}

/* ---- bad_input ------------------------------------------------------------ */

/*
 * Every kind of bad call, made by each CPU in turn while the others wait:
 * each must give exactly one report, of its precise kind, about its
 * precise pointer (NULL for size and alignment errors), on the calling
 * CPU; hak_check() stays clean and the stats do not move (allocation and
 * free counts, bytes and objects in use, provider, superslabs, caches).
 * The debug build (HAK_DEBUG=1) adds one byte past the end, a write after
 * free and the sites of a double free.
 */

/* "Another heap or region": static memory of the image, never hakmem's. */
static char not_heap[64] __attribute__((aligned(64)));
static char other_region[4 * 4096] __attribute__((aligned(4096)));
static const char image_rodata[64] __attribute__((aligned(16))) = "rodata";

static uint64_t events_total(void)
{
	uint64_t n = 0;
	unsigned k;

	for (k = 0; k < HAK_EV__COUNT; k++)
		n += __atomic_load_n(&g_events[k], __ATOMIC_RELAXED);
	return n;
}

static void same_stats(const struct hak_stats *a, const struct hak_stats *b,
		       const char *what)
{
	unsigned t;

	for (t = 0; t < HAK_TIER__COUNT; t++)
		if (a->tier[t].allocs != b->tier[t].allocs ||
		    a->tier[t].frees != b->tier[t].frees ||
		    a->tier[t].objects_in_use != b->tier[t].objects_in_use ||
		    a->tier[t].bytes_in_use != b->tier[t].bytes_in_use)
			g_fail("%s changed the %s tier stats: allocs %lu->%lu "
			       "frees %lu->%lu objects %lu->%lu",
			       what, g_tier_name(t),
			       (unsigned long)a->tier[t].allocs,
			       (unsigned long)b->tier[t].allocs,
			       (unsigned long)a->tier[t].frees,
			       (unsigned long)b->tier[t].frees,
			       (unsigned long)a->tier[t].objects_in_use,
			       (unsigned long)b->tier[t].objects_in_use);
	if (a->bytes_in_use != b->bytes_in_use ||
	    a->provider_taken != b->provider_taken ||
	    a->provider_returned != b->provider_returned ||
	    a->superslabs != b->superslabs ||
	    a->large_cached != b->large_cached ||
	    a->cached_objects != b->cached_objects)
		g_fail("%s changed the heap: in use %lu->%lu, provider held "
		       "%lu->%lu, superslabs %lu->%lu, cached %lu->%lu",
		       what, (unsigned long)a->bytes_in_use,
		       (unsigned long)b->bytes_in_use,
		       (unsigned long)a->provider_held,
		       (unsigned long)b->provider_held,
		       (unsigned long)a->superslabs,
		       (unsigned long)b->superslabs,
		       (unsigned long)a->cached_objects,
		       (unsigned long)b->cached_objects);
}

/* Exactly one new report since (n_ev, n_all): of kind ev about ptr, on
 * this CPU; then the heap must check clean. */
static void expect_one(enum hak_event ev, const void *ptr, uint64_t n_ev,
		       uint64_t n_all, const char *what)
{
	const struct hak_report *r = &g_last_report;

	if (g_events[ev] != n_ev + 1 || events_total() != n_all + 1)
		g_fail("%s: expected one '%s' report, got %lu of it and %lu "
		       "reports in all (last '%s')",
		       what, hak_event_name(ev),
		       (unsigned long)(g_events[ev] - n_ev),
		       (unsigned long)(events_total() - n_all),
		       hak_event_name(r->event));
	if (r->event != ev || r->ptr != ptr)
		g_fail("%s: reported '%s' about %p, expected '%s' about %p",
		       what, hak_event_name(r->event), r->ptr,
		       hak_event_name(ev), ptr);
	if (r->cpu != g_cpu())
		g_fail("%s: reported on cpu %u, called on cpu %u", what,
		       r->cpu, g_cpu());
	g_clear_unexpected();
	check_heap(what);
}

/* `call` must report ev about p and leave the stats as they were. */
#define EXPECT(ev, p, call)                                                   \
	do {                                                                  \
		struct hak_stats b_, a_;                                      \
		uint64_t n_ev_ = g_events[ev], n_all_ = events_total();       \
		hak_stats(&b_);                                               \
		call;                                                         \
		hak_stats(&a_);                                               \
		expect_one(ev, (const void *)(p), n_ev_, n_all_, #call);      \
		same_stats(&b_, &a_, #call);                                  \
	} while (0)

#define MUST(cond)                                                            \
	do {                                                                  \
		if (!(cond))                                                  \
			g_fail("%s", #cond);                                  \
	} while (0)

/* Count a real allocation (+1) or free (-1) of p in this CPU's g_acct,
 * by the tier hakmem counts it in: the phase check balances them. */
static void count(const void *p, int dir)
{
	struct g_acct *a = &g_acct[g_cpu()][G_CTX_THREAD];
	unsigned t = g_tier(g_acct_bytes(p));

	if (dir > 0)
		a->allocs[t]++;
	else
		a->frees[t]++;
}

static void *c_malloc(size_t n)
{
	void *p = hak_malloc(n);

	if (!p)
		g_fail("malloc(%lu) failed", (unsigned long)n);
	count(p, 1);
	return p;
}

static void c_free(void *p)
{
	count(p, -1);
	hak_free(p);
}

static void bad_frees(unsigned cpu)
{
	char *keep = c_malloc(64), *t = c_malloc(64), *pl = c_malloc(5000);
	char *lg = c_malloc(200000);
	char *hdr;

	MUST(keep && t && pl && lg);
	/* Double free, the block in this CPU's cache. */
	c_free(t);
	EXPECT(HAK_EV_DOUBLE_FREE, t, hak_free(t));
	EXPECT(HAK_EV_DOUBLE_FREE, t, MUST(hak_realloc(t, 10) == NULL));
	/* Back in its slab (keep holds the slab): drain this CPU's cache. */
	hak_cpu_offline(cpu);
	EXPECT(HAK_EV_DOUBLE_FREE, t, hak_free(t));
	EXPECT(HAK_EV_DOUBLE_FREE, t, MUST(hak_realloc(t, 100) == NULL));
	EXPECT(HAK_EV_DOUBLE_FREE, t, MUST(hak_usable_size(t) == 0));
	c_free(pl);
	EXPECT(HAK_EV_DOUBLE_FREE, pl, hak_free(pl));
	EXPECT(HAK_EV_DOUBLE_FREE, pl, MUST(hak_realloc(pl, 6000) == NULL));
	/* A freed large run leaves the page map: hakmem's no more. */
	c_free(lg);
	EXPECT(HAK_EV_INVALID_FREE, lg, hak_free(lg));
	EXPECT(HAK_EV_INVALID_FREE, lg, MUST(hak_realloc(lg, 10) == NULL));

	/* Foreign pointers: the stack, the image's data, bss and rodata, a
	 * second static region, addresses hakmem never mapped. */
	{
		int on_stack[4];

		on_stack[0] = (int)cpu;
		__asm__ volatile("" : : "r"(on_stack) : "memory");
		EXPECT(HAK_EV_INVALID_FREE, on_stack, hak_free(on_stack));
		EXPECT(HAK_EV_INVALID_FREE, on_stack,
		       MUST(hak_usable_size(on_stack) == 0));
	}
	EXPECT(HAK_EV_INVALID_FREE, not_heap + 16, hak_free(not_heap + 16));
	EXPECT(HAK_EV_INVALID_FREE, keep_size, hak_free((void *)keep_size));
	EXPECT(HAK_EV_INVALID_FREE, image_rodata,
	       hak_free((void *)image_rodata));
	EXPECT(HAK_EV_INVALID_FREE, other_region, hak_free(other_region));
	EXPECT(HAK_EV_INVALID_FREE, other_region + 4096 + 64,
	       hak_free(other_region + 4096 + 64));
	EXPECT(HAK_EV_INVALID_FREE, other_region,
	       MUST(hak_realloc(other_region, 100) == NULL));
	EXPECT(HAK_EV_INVALID_FREE, other_region + 4096,
	       MUST(hak_usable_size(other_region + 4096) == 0));
	EXPECT(HAK_EV_INVALID_FREE, __heap_end, hak_free(__heap_end));
	EXPECT(HAK_EV_INVALID_FREE, (void *)0x1000, hak_free((void *)0x1000));
	EXPECT(HAK_EV_INVALID_FREE, (void *)0xdead00000000ULL,
	       hak_free((void *)0xdead00000000ULL));
	/* A superslab header is hakmem's memory but never a block. */
	hdr = (char *)((uintptr_t)keep & ~(uintptr_t)(SS_BYTES - 1)) + 64;
	EXPECT(HAK_EV_INVALID_FREE, hdr, hak_free(hdr));

	/* Interior pointers. */
	t = c_malloc(64);
	pl = c_malloc(3000);
	lg = c_malloc(100000);
	MUST(t && pl && lg);
	EXPECT(HAK_EV_INTERIOR_FREE, t + 16, hak_free(t + 16));
	EXPECT(HAK_EV_INTERIOR_FREE, t + 1, hak_free(t + 1));
	EXPECT(HAK_EV_INTERIOR_FREE, t + 32, MUST(hak_realloc(t + 32, 8) == NULL));
	EXPECT(HAK_EV_INTERIOR_FREE, t + 48, MUST(hak_usable_size(t + 48) == 0));
	EXPECT(HAK_EV_INTERIOR_FREE, pl + 8, hak_free(pl + 8));
	EXPECT(HAK_EV_INTERIOR_FREE, pl + 2048, hak_free(pl + 2048));
	EXPECT(HAK_EV_INTERIOR_FREE, lg + 8, hak_free(lg + 8));
	EXPECT(HAK_EV_INTERIOR_FREE, lg + 16, MUST(hak_realloc(lg + 16, 8) == NULL));
	/* Past a large run's first page: not in the release page map (read
	 * as foreign); the debug build maps every page and knows. */
	EXPECT(HAK_DEBUG ? HAK_EV_INTERIOR_FREE : HAK_EV_INVALID_FREE, lg + 8192,
	       hak_free(lg + 8192));
	EXPECT(HAK_DEBUG ? HAK_EV_INTERIOR_FREE : HAK_EV_INVALID_FREE,
	       lg + 4096 * 20 + 16, hak_free(lg + 4096 * 20 + 16));
	/* The real blocks are intact and free normally. */
	MUST(HAK_DEBUG ? hak_usable_size(t) == 64 && hak_usable_size(lg) == 100000
		       : hak_usable_size(t) == 64 && hak_usable_size(lg) >= 100000);
	c_free(t);
	c_free(pl);
	c_free(lg);
	c_free(keep);
}

static void bad_sizes(void)
{
	void *p = c_malloc(100);

	MUST(p);
	EXPECT(HAK_EV_SIZE_OVERFLOW, NULL, MUST(!hak_calloc(SIZE_MAX / 2, 4)));
	EXPECT(HAK_EV_SIZE_OVERFLOW, NULL,
	       MUST(!hak_calloc((size_t)1 << 33, (size_t)1 << 33)));
	EXPECT(HAK_EV_SIZE_OVERFLOW, NULL, MUST(!hak_calloc(3, SIZE_MAX / 2)));
	EXPECT(HAK_EV_SIZE_OVERFLOW, NULL, MUST(!hak_malloc(SIZE_MAX)));
	EXPECT(HAK_EV_SIZE_OVERFLOW, NULL, MUST(!hak_malloc(SIZE_MAX - 4096)));
	EXPECT(HAK_EV_SIZE_OVERFLOW, NULL, MUST(!hak_calloc(1, SIZE_MAX)));
	EXPECT(HAK_EV_SIZE_OVERFLOW, NULL, MUST(!hak_aligned_alloc(64, SIZE_MAX)));
	/* realloc to SIZE_MAX fails and leaves the block alone. */
	EXPECT(HAK_EV_SIZE_OVERFLOW, NULL, MUST(!hak_realloc(p, SIZE_MAX)));
	MUST(hak_usable_size(p) >= 100);

	EXPECT(HAK_EV_BAD_ALIGNMENT, NULL, MUST(!hak_aligned_alloc(48, 10)));
	EXPECT(HAK_EV_BAD_ALIGNMENT, NULL, MUST(!hak_aligned_alloc(0, 16)));
	EXPECT(HAK_EV_BAD_ALIGNMENT, NULL, MUST(!hak_aligned_alloc(3, 8)));
	EXPECT(HAK_EV_BAD_ALIGNMENT, NULL, MUST(!hak_aligned_alloc(4097, 100)));
	EXPECT(HAK_EV_BAD_ALIGNMENT, NULL,
	       MUST(!hak_aligned_alloc(((size_t)1 << 40) + 4096, 100)));
	c_free(p);
}

#if HAK_DEBUG
/*
 * The debug build's reports carry the callers' return addresses: these
 * wrappers make them known (the empty asm keeps the call from becoming a
 * tail call, so the return address lies inside the wrapper).
 */
#define SITE_BYTES 256
#define AT_SITE(site, fn)                                                     \
	((const char *)(site) >= (const char *)(uintptr_t)(fn) &&             \
	 (const char *)(site) < (const char *)(uintptr_t)(fn) + SITE_BYTES)

static __attribute__((noinline)) void *site_malloc(size_t n)
{
	void *p = hak_malloc(n);

	__asm__ volatile("" : "+r"(p));
	if (p)
		count(p, 1);
	return p;
}

static __attribute__((noinline)) void *site_aligned(size_t a, size_t n)
{
	void *p = hak_aligned_alloc(a, n);

	__asm__ volatile("" : "+r"(p));
	if (p)
		count(p, 1);
	return p;
}

/* Frees p from a known site; the caller counts a real free. */
static __attribute__((noinline)) void site_free(void *p)
{
	hak_free(p);
	__asm__ volatile("" : : : "memory");
}

static void expect_sites(const char *what, int want_free)
{
	const struct hak_report *r = &g_last_report;
	int cpu = (int)g_cpu();

	if (!AT_SITE(r->alloc_site, site_malloc) &&
	    !AT_SITE(r->alloc_site, site_aligned))
		g_fail("%s: alloc site %p is not the allocating call (%p)",
		       what, r->alloc_site, (void *)(uintptr_t)site_malloc);
	if (r->alloc_cpu != cpu)
		g_fail("%s: alloc cpu %d, allocated on %d", what, r->alloc_cpu,
		       cpu);
	if (want_free && (!AT_SITE(r->free_site, site_free) || r->free_cpu != cpu))
		g_fail("%s: free site %p cpu %d, freed at %p on cpu %d", what,
		       r->free_site, r->free_cpu, (void *)(uintptr_t)site_free,
		       cpu);
	if (!want_free && (r->free_site || r->free_cpu != -1))
		g_fail("%s: a free site %p (cpu %d) on a live block", what,
		       r->free_site, r->free_cpu);
}

/* Stats around a whole malloc ... free sequence: back where they were. */
static void same_use(const struct hak_stats *a, const char *what)
{
	struct hak_stats b;
	unsigned t;

	hak_stats(&b);
	for (t = 0; t < HAK_TIER__COUNT; t++)
		if (a->tier[t].objects_in_use != b.tier[t].objects_in_use ||
		    a->tier[t].bytes_in_use != b.tier[t].bytes_in_use ||
		    b.tier[t].allocs - a->tier[t].allocs !=
			    b.tier[t].frees - a->tier[t].frees)
			g_fail("%s: %s tier in use %lu -> %lu objects", what,
			       g_tier_name(t),
			       (unsigned long)a->tier[t].objects_in_use,
			       (unsigned long)b.tier[t].objects_in_use);
}

static void fill_bytes(char *p, int c, size_t n)
{
	while (n--)
		*p++ = (char)c;
}

static void debug_cases(void)
{
	static const size_t over[] = { 1, 16, 100, 1000, 5000, 30000, 100000 };
	static const size_t uaf[] = { 24, 64, 700, 3000, 20000 };
	struct hak_stats st;
	uint64_t n_ev, n_all;
	unsigned i;
	char *p, *q, *keep;

	/* One byte past the end: reported at p + n when freed, with the
	 * allocation site; the block is freed all the same. */
	for (i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
		size_t n = over[i];

		hak_stats(&st);
		p = site_malloc(n);
		MUST(p && hak_usable_size(p) == n);
		fill_bytes(p, 1, n);
		p[n] = 'x';
		n_ev = g_events[HAK_EV_BUFFER_OVERFLOW];
		n_all = events_total();
		count(p, -1);
		site_free(p);
		expect_one(HAK_EV_BUFFER_OVERFLOW, p + n, n_ev, n_all,
			   "one byte past the end");
		expect_sites("buffer overflow", 0);
		same_use(&st, "buffer overflow");
	}
	/* An aligned block has its red zone too; a write further past. */
	hak_stats(&st);
	p = site_aligned(256, 300);
	MUST(p && ((uintptr_t)p & 255) == 0 && hak_usable_size(p) == 300);
	p[310] = 0;
	n_ev = g_events[HAK_EV_BUFFER_OVERFLOW];
	n_all = events_total();
	count(p, -1);
	site_free(p);
	expect_one(HAK_EV_BUFFER_OVERFLOW, p + 310, n_ev, n_all,
		   "aligned block overflow");
	expect_sites("aligned overflow", 0);
	same_use(&st, "aligned overflow");
	/* Writing up to the last byte is fine. */
	n_all = events_total();
	p = site_malloc(77);
	fill_bytes(p, 7, 77);
	count(p, -1);
	site_free(p);
	if (events_total() != n_all)
		g_fail("a write inside the block was reported");

	/* Write after free: reported when the block is handed out again
	 * (this CPU's cache is LIFO), with both sites. */
	for (i = 0; i < sizeof(uaf) / sizeof(uaf[0]); i++) {
		size_t n = uaf[i];

		hak_stats(&st);
		p = site_malloc(n);
		MUST(p);
		count(p, -1);
		site_free(p);
		p[n / 2] = 42;
		n_ev = g_events[HAK_EV_USE_AFTER_FREE];
		n_all = events_total();
		q = site_malloc(n);
		if (q != p)
			g_fail("freed block %p not handed out again (%p)", p, q);
		expect_one(HAK_EV_USE_AFTER_FREE, p, n_ev, n_all,
			   "write after free");
		expect_sites("use after free", 1);
		count(q, -1);
		site_free(q);
		same_use(&st, "use after free");
	}

	/* Double free names where the block was allocated and freed, also
	 * once it went back to its slab. */
	keep = site_malloc(200);
	p = site_malloc(200);
	count(p, -1);
	site_free(p);
	n_ev = g_events[HAK_EV_DOUBLE_FREE];
	n_all = events_total();
	site_free(p);
	expect_one(HAK_EV_DOUBLE_FREE, p, n_ev, n_all, "debug double free");
	expect_sites("double free", 1);
	hak_cpu_offline(g_cpu());
	n_ev = g_events[HAK_EV_DOUBLE_FREE];
	n_all = events_total();
	MUST(hak_realloc(p, 10) == NULL);
	expect_one(HAK_EV_DOUBLE_FREE, p, n_ev, n_all, "debug realloc of freed");
	expect_sites("realloc of freed", 1);
	count(keep, -1);
	site_free(keep);
}
#endif

static void t_bad_input(unsigned cpu)
{
	unsigned c;

	for (c = 0; c < g_ncpus; c++) {
		if (c == cpu) {
			bad_frees(cpu);
			bad_sizes();
#if HAK_DEBUG
			debug_cases();
#endif
		}
		g_barrier("bad_input: next CPU");
	}
}

static void c_bad_input(void)
{
	g_printf("  bad_input: %lu double, %lu invalid, %lu interior, %lu size, "
		 "%lu alignment, %lu overflow, %lu use-after-free reports\n",
		 (unsigned long)g_events[HAK_EV_DOUBLE_FREE],
		 (unsigned long)g_events[HAK_EV_INVALID_FREE],
		 (unsigned long)g_events[HAK_EV_INTERIOR_FREE],
		 (unsigned long)g_events[HAK_EV_SIZE_OVERFLOW],
		 (unsigned long)g_events[HAK_EV_BAD_ALIGNMENT],
		 (unsigned long)g_events[HAK_EV_BUFFER_OVERFLOW],
		 (unsigned long)g_events[HAK_EV_USE_AFTER_FREE]);
}

/* ---- tagged blocks: a cheap check for the hot loops ------------------ */

/* Plain malloc: the tier follows from the request. */
static __attribute__((unused)) unsigned tier_of_request(size_t size)
{
	return size <= 1024 ? G_TINY : size <= 32768 ? G_POOL : G_LARGE;
}

/* The tier hakmem counts block p of size bytes in: from the request in
 * release builds (cheap, for the hot loops); debug blocks carry a header
 * and red zone, so their tier is read from the block itself. */
static inline unsigned tier_of(const void *p, size_t size)
{
#if HAK_DEBUG
	(void)size;
	return g_tier(g_acct_bytes(p));
#else
	(void)p;
	return tier_of_request(size);
#endif
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
	g_acct[cpu][G_CTX_THREAD].frees[tier_of(w, size)]++;
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
	g_acct[cpu][G_CTX_THREAD].allocs[tier_of(w, size)]++;
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
	hak_tick();
}

/* The fast path is restartable and no IRQ has restarted it yet. */
static int restarts_wanted(void)
{
	struct hak_stats st;

	hak_stats(&st);
	return st.fast_path[0] == 'r' && st.fast_path[1] == 'e' &&
	       !st.restarts;
}

static void t_irq(unsigned cpu)
{
	struct irq_state *q = &irqs[cpu];
	unsigned long t0 = board_ticks();
	unsigned long deadline = t0 + g_ms_ticks(TEST_TIMEOUT_MS);
	unsigned long run = g_ms_ticks(IRQ_RUN_MS);
	unsigned long max_run = g_ms_ticks(IRQ_MAX_RUN_MS);
	unsigned k, it = 0;
	int want = restarts_wanted();

	q->rng = g_seed(SUITE_SEED ^ 0x1e4, cpu);
	q->trng = g_seed(SUITE_SEED ^ 0x7e4, cpu);
	board_timer_start(IRQ_PERIOD_US, irq_handler);
	board_irq_enable();
	/* IRQs are on between the calls (and inside them, as far as
	 * hakmem lets them in). */
	while (board_ticks() - t0 < run ||
	       __atomic_load_n(&q->ticks, __ATOMIC_RELAXED) < IRQ_MIN_TICKS ||
	       (want && board_ticks() - t0 < max_run)) {
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
			if (want)
				want = restarts_wanted();
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

/*
 * Restartable fast paths (HAK_RESTART): the table holds the pop and push
 * sections, hak_restart_pc maps every PC inside one to its start and any
 * other PC to itself, and the IRQs above did land inside sections (the
 * board's entry restarted them), so the test really covered restarts.
 */
static void restart_checks(void)
{
	const uintptr_t *t;
	unsigned n = peek_restart_ranges(&t), i;
	struct hak_stats st;
	uintptr_t pc;
	int restart;

	hak_stats(&st);
	restart = st.fast_path[0] == 'r' && st.fast_path[1] == 'e';
	g_printf("  irq_safety: fast path %s, %u restartable sections, %lu "
		 "restarts\n",
		 st.fast_path, n, (unsigned long)st.restarts);
	if (!restart) {
		if (n || st.restarts)
			g_fail("restart table without restartable fast path");
#if (defined(__x86_64__) || defined(__aarch64__)) && !HAK_DEBUG &&            \
	HAK_RESTART
		g_fail("x86_64/aarch64 release build without the restartable "
		       "fast paths");
#endif
		return;
	}
	if (n < 3)
		g_fail("only %u restartable sections", n);
	/* The default heap's, the created heaps' and the object caches':
	 * each object's sections must be in a table hak_restart_pc reads. */
	if (peek_restart_tables() != 3)
		g_fail("restartable sections in %u objects' tables, want 3",
		       peek_restart_tables());
	if (!st.restarts)
		g_fail("no IRQ landed in a fast-path section: restarts untested");
	for (i = 0; i < n; i++) {
		uintptr_t start = t[2 * i], end = t[2 * i + 1];

		if (end <= start || end - start > 128)
			g_fail("section %u: [%p, %p)", i, (void *)start,
			       (void *)end);
		for (pc = start; pc < end; pc++)
			if (hak_restart_pc(pc) != start)
				g_fail("pc %p in section %u not restarted",
				       (void *)pc, i);
		if (hak_restart_pc(end) != end ||
		    hak_restart_pc(start - 1) != start - 1)
			g_fail("section %u: a pc outside it was moved", i);
	}
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
	restart_checks();
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

/*
 * C: the other CPUs but the last take the last CPU, parked with a full
 * cache, offline at once. On bare metal a remote section locks nothing,
 * so two calls would both drain it (the same objects freed twice, which
 * a drain reports as double frees). One call drains it; a call that
 * overlaps it is refused with one MISUSE report, and nothing else is
 * reported.
 */
#define RACE_ROUNDS 12
#define RACE_BLOCKS 384

static int race_go, race_done, race_ready;
static struct g_blk race_blk[RACE_BLOCKS]; /* the victim's */

static int has_sub(const char *s, const char *sub)
{
	unsigned i;

	for (; s && *s; s++) {
		for (i = 0; sub[i] && s[i] == sub[i]; i++)
			;
		if (!sub[i])
			return 1;
	}
	return 0;
}

static void offline_race_round(unsigned cpu, unsigned victim, int round,
			       uint64_t *refused)
{
	unsigned racers = g_ncpus - 2, i;

	if (cpu == victim) {
		struct g_blk *b = race_blk;

		/* Full caches: many blocks, freed after all are taken. */
		for (i = 0; i < RACE_BLOCKS; i++)
			if (g_alloc(&b[i], 16 + 8 * (i % 24), G_MALLOC, 0,
				    g_rand(&cs[cpu].rng), G_CTX_THREAD))
				g_fail("out of memory");
		for (i = 0; i < RACE_BLOCKS; i++)
			g_free(&b[i], G_CTX_THREAD);
		if (!peek_cached(cpu))
			g_fail("cpu %u cache empty before the race", cpu);
		park(cpu);
	} else if (cpu == 0) {
		uint64_t mis0, all0, mis, all;
		int bad;

		wait_flag(&parked[victim], 1, "the victim CPU to park");
		mis0 = __atomic_load_n(&g_events[HAK_EV_MISUSE],
				       __ATOMIC_RELAXED);
		all0 = events_total();
		__atomic_store_n(&race_go, round, __ATOMIC_RELEASE);
		wait_flag(&race_done, (int)racers, "the racing offlines");
		mis = __atomic_load_n(&g_events[HAK_EV_MISUSE],
				      __ATOMIC_RELAXED) - mis0;
		all = events_total() - all0;
		if (all != mis || mis > racers - 1)
			g_fail("offline race: %lu reports, %lu of them MISUSE "
			       "(first unexpected '%s'), with %u racers",
			       (unsigned long)all, (unsigned long)mis,
			       hak_event_name(g_last_report.event), racers);
		if (mis && !has_sub(g_last_report.what, "another call"))
			g_fail("offline race: MISUSE '%s'",
			       g_last_report.what);
		g_clear_unexpected();
		*refused += mis;
		if (peek_cached(victim))
			g_fail("offline race: %lu objects still cached",
			       (unsigned long)peek_cached(victim));
		bad = hak_check();
		check_no_unexpected("check after the offline race");
		if (bad)
			g_fail("hak_check() after the offline race = %d", bad);
		__atomic_store_n(&race_done, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&resume[victim], 1, __ATOMIC_RELEASE);
	} else {
		/* Start together: each racer waits for the go, then for
		 * the others, spinning (so running) when the last arrives. */
		wait_flag(&race_go, round, "the race's start");
		__atomic_add_fetch(&race_ready, 1, __ATOMIC_ACQ_REL);
		wait_flag(&race_ready, (int)racers * round, "the other racers");
		hak_cpu_offline(victim);
		__atomic_add_fetch(&race_done, 1, __ATOMIC_ACQ_REL);
	}
	g_barrier("cpu_offline: race round done");
}

static void offline_race(unsigned cpu)
{
	uint64_t refused = 0;
	int r;

	for (r = 1; r <= RACE_ROUNDS; r++)
		offline_race_round(cpu, g_ncpus - 1, r, &refused);
	if (cpu == 0)
		g_printf("  cpu_offline: %u CPUs took CPU %u offline at once "
			 "%u times: %lu calls refused\n",
			 g_ncpus - 2, g_ncpus - 1, RACE_ROUNDS,
			 (unsigned long)refused);
	if (cpu == 0) {
		__atomic_store_n(&race_go, 0, __ATOMIC_RELAXED);
		__atomic_store_n(&race_ready, 0, __ATOMIC_RELAXED);
	}
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
	if (g_ncpus >= 4)
		offline_race(cpu);
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
	uint64_t *w;
	unsigned t;

	/* The two header words must fit the request (in debug builds the
	 * bytes past it are red zone, and the 8-byte class has one word). */
	if (size < 16)
		size = 16;
	w = hak_malloc(size);
	if (!w)
		return -1;
	t = HAK_DEBUG ? g_tier(g_acct_bytes(w)) : ex_tier(size);
	if ((uintptr_t)w & 15)
		g_fail("misaligned block %p", (void *)w);
	w[0] = (uintptr_t)e->head;
	w[1] = ex_tag(w, size);
	if (size >= 32)
		w[size / 8 - 1] = ~w[1];
	e->head = w;
	e->n++;
	e->objs[t]++;
	e->bytes[t] += g_acct_bytes(w);
	g_acct[cpu][G_CTX_THREAD].allocs[t]++;
	return 0;
}

/* Unlinks nothing: the caller holds the list. */
static void ex_free(unsigned cpu, uint64_t *w)
{
	struct ex_state *e = &exs[cpu];
	size_t size = (size_t)(w[1] >> 32);
	unsigned t = HAK_DEBUG ? g_tier(g_acct_bytes(w)) : ex_tier(size);

	if (w[1] != ex_tag(w, size) || (size >= 32 && w[size / 8 - 1] != ~w[1]))
		g_fail("exhaustion block %p corrupted", (void *)w);
	e->n--;
	e->objs[t]--;
	e->bytes[t] -= g_acct_bytes(w);
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
			int large = HAK_DEBUG ? g_tier(g_acct_bytes(w)) == G_LARGE
					      : size > 32768;

			/* The last ones freed are on top of this CPU's
			 * magazines (LIFO): asking for them again must work
			 * whatever the other CPUs do meanwhile. */
			if (large) {
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

/* ---- remote: other CPUs' caches, reached by request ------------------------
 *
 * On bare metal only a cache's own CPU may touch it, so hak_trim, hak_check
 * and the reclaim before an out-of-memory ask the other CPUs, which answer
 * from hak_tick() (mm/remote.c). Here CPU 1 answers from an idle loop, the
 * others from a timer IRQ handler, while each holds full caches:
 *  1. CPU 0 plants a bad pointer in CPU 1's cache: hak_check() must find
 *     it there (reported from CPU 1), then pass once it is repaired;
 *  2. CPU 0 allocates 256 KiB blocks until the region runs out: the
 *     reclaim must have drained every other CPU's cache before the final
 *     NULL, and CPU 0 must get more than was free when it started.
 */

#define REM_BLOCK (256 * 1024)
#define REM_MAX 1024
#define REM_FILL 256
static const uint32_t rem_sizes[] = { 64, 256, 1024, 4096, 16384, 32768 };
#define NREM_SIZES (sizeof(rem_sizes) / sizeof(rem_sizes[0]))

static int rem_ready[G_MAX_CPUS], rem_done;
static uint64_t rem_ticks[G_MAX_CPUS];
static uint64_t *rem_blk[REM_MAX];

static void rem_tick_handler(unsigned cpu)
{
	rem_ticks[cpu]++;
	hak_tick();
}

/* Two caches' worth of each size, all freed: the caches are full. */
static void rem_fill(unsigned cpu)
{
	static uint64_t *slot[G_MAX_CPUS][REM_FILL];
	unsigned i, k;

	for (i = 0; i < NREM_SIZES; i++) {
		for (k = 0; k < REM_FILL; k++)
			light_alloc(cpu, &slot[cpu][k], rem_sizes[i]);
		for (k = 0; k < REM_FILL; k++)
			light_free(cpu, &slot[cpu][k]);
	}
}

/* The others: fill, then answer requests until CPU 0 is done. */
static void rem_answer(unsigned cpu)
{
	unsigned long t0 = board_ticks(), lim = g_ms_ticks(TEST_TIMEOUT_MS);

	rem_fill(cpu);
	if (cpu != 1) {
		board_timer_start(IRQ_PERIOD_US, rem_tick_handler);
		board_irq_enable();
	}
	__atomic_store_n(&rem_ready[cpu], 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&rem_done, __ATOMIC_ACQUIRE)) {
		if (cpu == 1)
			hak_tick(); /* an idle loop */
		arch_cpu_relax();
		if (board_ticks() - t0 > lim)
			g_fail("remote: CPU 0 never finished");
	}
	if (cpu != 1) {
		board_irq_disable();
		board_timer_stop();
	}
}

static void rem_check(void)
{
	void *bad = not_heap, *old;
	const char *what;
	const void *ptr;
	unsigned cpu;
	int n, ev;

	old = peek_swap_cached(1, 64, 0, bad);
	if (!old)
		g_fail("CPU 1's 64-byte cache is empty");
	n = hak_check();
	ev = g_unexpected_event(&what, &ptr, &cpu);
	peek_swap_cached(1, 64, 0, old);
	if (n < 1 || ev != HAK_EV_CORRUPTION || ptr != bad || cpu != 1)
		g_fail("hak_check() = %d for a bad pointer planted in CPU 1's "
		       "cache (report %d '%s' for %p on cpu %u)",
		       n, ev, ev ? what : "", ptr, cpu);
	g_clear_unexpected();
	g_printf("  remote: hak_check found the pointer planted in CPU 1's "
		 "cache (%d violation, reported from cpu %u)\n", n, cpu);
	if (hak_check())
		g_fail("hak_check() after the repair");
}

static void rem_exhaust(void)
{
	uint64_t held = 0, free0, got = 0, left = 0;
	struct hak_stats a, b;
	unsigned c, n = 0;

	for (c = 1; c < g_ncpus; c++) {
		if (!peek_cached(c))
			g_fail("CPU %u holds nothing in its caches", c);
		held += peek_cached(c);
	}
	hak_stats(&a);
	free0 = g_heap_bytes() - a.provider_held;
	__atomic_store_n(&g_oom_expected, 1, __ATOMIC_RELAXED);
	while (n < REM_MAX) {
		uint64_t *w = hak_malloc(REM_BLOCK);

		if (!w)
			break;
		w[0] = TAG_KEY ^ (uintptr_t)w;
		g_acct[0][G_CTX_THREAD].allocs[G_LARGE]++;
		rem_blk[n++] = w;
		got += REM_BLOCK;
	}
	__atomic_store_n(&g_oom_expected, 0, __ATOMIC_RELAXED);
	for (c = 1; c < g_ncpus; c++)
		left += peek_cached(c);
	hak_stats(&b);
	g_printf("  remote: CPU 0 got %lu KiB (%lu KiB were free), the others "
		 "held %lu objects, now %lu; provider returned %lu KiB\n",
		 (unsigned long)(got >> 10), (unsigned long)(free0 >> 10),
		 (unsigned long)held,
		 (unsigned long)left,
		 (unsigned long)((b.provider_returned - a.provider_returned) >>
				 10));
	if (n == REM_MAX)
		g_fail("the region never ran out");
	if (left)
		g_fail("out of memory while other CPUs still cache %lu objects",
		       (unsigned long)left);
	if (got <= free0)
		g_fail("CPU 0 got %lu bytes, no more than the %lu free at the "
		       "start: nothing was reclaimed", (unsigned long)got,
		       (unsigned long)free0);
	while (n) {
		uint64_t *w = rem_blk[--n];

		if (w[0] != (TAG_KEY ^ (uintptr_t)w))
			g_fail("block %p overwritten", (void *)w);
		g_acct[0][G_CTX_THREAD].frees[G_LARGE]++;
		hak_free(w);
	}
}

static void t_remote(unsigned cpu)
{
	unsigned c;

	if (g_ncpus < 2) {
		if (cpu == 0)
			g_printf("  remote: 1 CPU, no other cache to reach\n");
		return;
	}
	if (cpu != 0) {
		rem_answer(cpu);
		return;
	}
	__atomic_store_n(&rem_done, 0, __ATOMIC_RELAXED);
	for (c = 1; c < g_ncpus; c++)
		wait_flag(&rem_ready[c], 1, "remote: a CPU to fill its caches");
	rem_check();
	rem_exhaust();
	for (c = 1; c < g_ncpus; c++)
		__atomic_store_n(&rem_ready[c], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&rem_done, 1, __ATOMIC_RELEASE);
}

/* ---- the driver ------------------------------------------------------------ */

struct test {
	const char *name;
	void (*run)(unsigned cpu); /* on every CPU */
	void (*check)(void);	   /* on CPU 0, the others quiet */
};

/*
 * idle_decay: every CPU fills its cache (every class, some large blocks)
 * and frees everything, then ticks as a timer would, with no trim (first
 * with IRQs masked, light steps, then with IRQs on); what the heap holds
 * must then be what hak_trim would leave, plus at most the one kept empty
 * superslab (mm/decay.c, docs/guarantees.md).
 */
static void t_decay(unsigned cpu)
{
	static struct g_blk blk[G_MAX_CPUS][256];
	unsigned i;

	for (i = 0; i < 256; i++)
		if (g_alloc(&blk[cpu][i],
			    g_size_mix(&cs[cpu].rng, 70, 2, 256 * 1024),
			    G_MALLOC, 0, g_rand(&cs[cpu].rng), G_CTX_THREAD))
			g_fail("out of memory");
	for (i = 0; i < 256; i++)
		g_free(&blk[cpu][i], G_CTX_THREAD);
	g_barrier("decay: all freed");
	if (cpu == 0)
		peek_decay(1);
	g_barrier("decay: on");
	/* IRQs masked (as this suite runs, and as a timer handler would):
	 * light steps, 4 objects each, nothing that may release a
	 * superslab (mm/decay.c); they must still empty the cache. Then
	 * with IRQs on, as an idle loop would: the rest goes back. */
	if (!arch_irqs_disabled())
		g_fail("decay: IRQs are on");
	for (i = 0; i < 40000; i++)
		hak_tick();
	if (peek_cached(cpu))
		g_fail("decay: %lu objects cached after the light ticks",
		       (unsigned long)peek_cached(cpu));
	board_irq_enable();
	for (i = 0; i < 100000; i++)
		hak_tick();
	board_irq_disable();
	g_barrier("decay: ticked");
	if (cpu == 0)
		peek_decay(0);
}

static void c_decay(void)
{
	struct hak_stats st, tr;

	hak_stats(&st);
	hak_trim();
	hak_stats(&tr);
	g_printf("  idle_decay: after the ticks %lu objects cached, %lu KiB "
		 "of large runs, provider holds %lu KiB; after hak_trim "
		 "%lu KiB\n",
		 (unsigned long)st.cached_objects,
		 (unsigned long)(st.large_cached >> 10),
		 (unsigned long)(st.provider_held >> 10),
		 (unsigned long)(tr.provider_held >> 10));
	if (st.cached_objects || st.large_cached)
		g_fail("idle decay left %lu objects and %lu large bytes "
		       "cached",
		       (unsigned long)st.cached_objects,
		       (unsigned long)st.large_cached);
	if (st.provider_held > tr.provider_held + (1UL << 20))
		g_fail("idle decay left %lu bytes more than a trim",
		       (unsigned long)(st.provider_held - tr.provider_held));
}

static const struct test tests[] = {
	{ "bad_input", t_bad_input, c_bad_input },
	{ "percpu_stress", t_stress, c_stress },
	{ "irq_safety", t_irq, c_irq },
	{ "cpu_offline", t_offline, NULL },
	{ "remote", t_remote, NULL },
	{ "idle_decay", t_decay, c_decay },
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
	/* Stay (answering hak_tick requests) until CPU 0's last check is
	 * done: a parked CPU with a full cache could not answer it. */
	g_barrier("suite done");
}

void test_main(void)
{
	g_test_begin("init");
	g_heap_init();
	peek_decay(0); /* but for idle_decay: see peek.h */
	g_printf("  %u CPUs, heap %lu KiB at %p, arch %s\n", g_ncpus,
		 (unsigned long)(g_heap_bytes() >> 10), __heap_start, ARCH_NAME);
	api_checks();
	phase_start();
	board_start_secondaries(cpu_main);
	cpu_main(0);
	g_printf("  suite: all %u tests passed\n", (unsigned)NTESTS + 1);
	board_exit(0);
}
