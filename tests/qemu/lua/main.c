// SPDX-License-Identifier: MIT
/*
 * main.c - the Lua image's kernel side (tests/qemu/lua/lua.mk): picolibc
 * with hakmem as its malloc, and the unmodified Lua 5.4 interpreter from
 * Debian's source package on every CPU at once.
 *
 * Round r: CPU c runs script (c + r) mod n in an interpreter of its own
 * (run.c), on a 256 KiB stack of its own, its stdout going to its own
 * buffer, while its 1 kHz timer IRQ allocates and frees through hak_*
 * and calls hak_tick. Then CPU 0, while the others wait at a barrier with
 * their timers still allocating, prints every CPU's output between
 * markers (tests/qemu/lua/compare.py checks it byte for byte against the
 * host's lua5.4), runs hak_check() (must be 0), prints hak_stats and
 * checks that the closed interpreters left nothing behind: the only live
 * blocks are the ones the IRQ handlers hold. That count is read with the
 * timers quiet (irq_quiet): hak_stats sums per-CPU counters one CPU after
 * another, and a refill on another CPU between two of its reads counts a
 * whole batch as live (a CI run saw 40 blocks against 16 held that way).
 *
 * Built with the board's flags (no FP/SIMD, no C library): it is also the
 * IRQ handler, and the aarch64 board's IRQ entry saves no FP registers.
 */
#include "guest.h"
#include "picolibc_board.h"
#include "run.h"

#define LUA_MAX_CPUS 8
#define LUA_OUT_BYTES (64 << 10)
#define LUA_STACK_BYTES (256 << 10)
#define LUA_IRQ_PERIOD_US 1000
#define LUA_IRQ_SLOTS 4

struct lua_cpu {
	struct lua_job job;
	unsigned long ms;
	size_t out_len, out_dropped;
	/* IRQ context */
	uint64_t irq_rng, ticks;
	unsigned long quiet_ticks; /* ticks that saw irq_quiet set */
	struct g_blk irq_slot[LUA_IRQ_SLOTS];
} G_ALIGNED;

/* Set by CPU 0 while it reads exact counts: a tick that sees it does
 * nothing (quiet_on waits until every CPU has taken such a tick). */
static int irq_quiet;

static struct lua_cpu lc[LUA_MAX_CPUS];
static char lua_out[LUA_MAX_CPUS][LUA_OUT_BYTES];
static unsigned char lua_stack[LUA_MAX_CPUS][LUA_STACK_BYTES]
	__attribute__((aligned(16)));
static struct hak_stats last;

/* picolibc's code (memcpy and the rest) uses FP/SIMD registers: let
 * this CPU execute them (CPACR_EL1.FPEN). riscv64 images use the
 * soft-float lp64 picolibc: nothing to do. */
static void fp_enable(void)
{
#ifdef __aarch64__
	unsigned long v;

	__asm__ __volatile__("mrs %0, cpacr_el1" : "=r"(v));
	v |= 3UL << 20;
	__asm__ __volatile__("msr cpacr_el1, %0\n\tisb" : : "r"(v) : "memory");
#endif
}

static void lua_tick(unsigned cpu)
{
	struct lua_cpu *l = &lc[cpu];
	struct g_blk *b = &l->irq_slot[g_rand(&l->irq_rng) % LUA_IRQ_SLOTS];

	l->ticks++;
	if (__atomic_load_n(&irq_quiet, __ATOMIC_ACQUIRE)) {
		__atomic_store_n(&l->quiet_ticks, l->quiet_ticks + 1,
				 __ATOMIC_RELEASE);
		return;
	}
	hak_tick();
	if (b->p)
		g_free(b, G_CTX_IRQ);
	else if (g_alloc(b, g_size_mix(&l->irq_rng, 70, 2, 48 * 1024),
			 G_MALLOC, 0, g_rand(&l->irq_rng), G_CTX_IRQ))
		g_fail("IRQ allocation failed");
}

static uint32_t fnv1a(const char *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n--) {
		h ^= (unsigned char)*p++;
		h *= 16777619u;
	}
	return h;
}

static uint64_t sum3(const uint64_t v[G_NTIERS])
{
	return v[0] + v[1] + v[2];
}

static uint64_t live_objects(const struct hak_stats *st)
{
	return st->tier[HAK_TIER_TINY].objects_in_use +
	       st->tier[HAK_TIER_POOL].objects_in_use +
	       st->tier[HAK_TIER_LARGE].objects_in_use;
}

static void print_stats(const char *when, unsigned round)
{
	static const char *const tier[HAK_TIER__COUNT] = { "tiny", "pool",
							   "large" };
	struct hak_stats st;
	unsigned t;

	hak_stats(&st);
	g_printf("[lua] hak_stats %s %u: in use %lu B in %lu blocks, peak out "
		 "%lu KiB, provider held %lu KiB (peak %lu KiB, meta %lu KiB), "
		 "superslabs %lu, large cached %lu KiB\n",
		 when, round, (unsigned long)st.bytes_in_use,
		 (unsigned long)live_objects(&st),
		 (unsigned long)(st.peak_bytes_out >> 10),
		 (unsigned long)(st.provider_held >> 10),
		 (unsigned long)(st.provider_peak >> 10),
		 (unsigned long)(st.meta_bytes >> 10),
		 (unsigned long)st.superslabs,
		 (unsigned long)(st.large_cached >> 10));
	for (t = 0; t < HAK_TIER__COUNT; t++)
		g_printf("[lua]   %-5s allocs %8lu frees %8lu (this round)\n",
			 tier[t],
			 (unsigned long)(st.tier[t].allocs - last.tier[t].allocs),
			 (unsigned long)(st.tier[t].frees - last.tier[t].frees));
	g_printf("[lua]   caches: hits %lu, misses %lu, refills %lu, drains "
		 "%lu (this round)\n",
		 (unsigned long)(st.cache_hits - last.cache_hits),
		 (unsigned long)(st.cache_misses - last.cache_misses),
		 (unsigned long)(st.refills - last.refills),
		 (unsigned long)(st.drains - last.drains));
	last = st;
}

/* Quiets every CPU's timer work: once each CPU has taken a tick that saw
 * irq_quiet, its earlier ticks have returned (a CPU's ticks do not nest)
 * and no IRQ handler allocates or frees until quiet_off. */
static void quiet_on(void)
{
	unsigned long seen[LUA_MAX_CPUS];
	unsigned long deadline = board_ticks() + g_ms_ticks(5000);
	unsigned c;

	for (c = 0; c < g_ncpus; c++)
		seen[c] = __atomic_load_n(&lc[c].quiet_ticks, __ATOMIC_ACQUIRE);
	__atomic_store_n(&irq_quiet, 1, __ATOMIC_SEQ_CST);
	for (c = 0; c < g_ncpus; c++)
		while (__atomic_load_n(&lc[c].quiet_ticks, __ATOMIC_ACQUIRE) ==
		       seen[c])
			g_check_deadline(deadline, "timer ticks seeing irq_quiet");
}

static void quiet_off(void)
{
	__atomic_store_n(&irq_quiet, 0, __ATOMIC_RELEASE);
}

/* Blocks the IRQ handlers hold: exact while quiet. */
static unsigned irq_held(void)
{
	unsigned c, i, n = 0;

	for (c = 0; c < g_ncpus; c++)
		for (i = 0; i < LUA_IRQ_SLOTS; i++)
			n += lc[c].irq_slot[i].p != NULL;
	return n;
}

/* CPU 0, the others waiting at a barrier (answering hak_tick, their
 * timers allocating until quiet_on). */
static void report_round(unsigned round)
{
	struct hak_stats st;
	unsigned c, held;
	size_t i;
	int bad;

	for (c = 0; c < g_ncpus; c++) {
		struct lua_cpu *l = &lc[c];

		g_printf("[lua] out cpu=%u script=%s bytes=%lu fnv=%08x\n", c,
			 l->job.script->name, (unsigned long)l->out_len,
			 fnv1a(lua_out[c], l->out_len));
		for (i = 0; i < l->out_len; i++)
			board_putc(lua_out[c][i]);
		g_printf("[lua] end cpu=%u script=%s status=%d lua_kb=%lu "
			 "ms=%lu\n",
			 c, l->job.script->name, l->job.status, l->job.lua_kb,
			 l->ms);
		if (l->job.status)
			g_fail("cpu %u %s: status %d: %s", c,
			       l->job.script->name, l->job.status, l->job.err);
		if (l->out_dropped)
			g_fail("cpu %u %s: %lu bytes of output did not fit", c,
			       l->job.script->name,
			       (unsigned long)l->out_dropped);
	}
	bad = hak_check();
	g_printf("[lua] round %u: hak_check() = %d\n", round, bad);
	if (bad)
		g_fail("round %u: hak_check() = %d", round, bad);
	/* Every interpreter is closed: what is live is the IRQ handlers'.
	 * A drain another CPU's hak_tick makes between two reads can only
	 * lower the sum: at most, not equal. */
	quiet_on();
	print_stats("round", round);
	hak_stats(&st);
	held = irq_held();
	quiet_off();
	g_printf("[lua] round %u: %lu blocks live, the IRQ handlers hold %u\n",
		 round, (unsigned long)live_objects(&st), held);
	if (live_objects(&st) > held)
		g_fail("round %u: %lu blocks live after lua_close, the IRQ "
		       "handlers hold %u",
		       round, (unsigned long)live_objects(&st), held);
}

static void cpu_main(unsigned cpu)
{
	struct lua_cpu *l = &lc[cpu];
	unsigned r, i;

	fp_enable();
	if (pl_cpu_init(cpu))
		g_fail("cpu %u: picolibc TLS does not fit", cpu);
	l->irq_rng = g_seed(0x1a5c0de, cpu);
	board_timer_start(LUA_IRQ_PERIOD_US, lua_tick);
	board_irq_enable();
	g_barrier("lua start");
	for (r = 0; r < lua_nscripts; r++) {
		unsigned long t0 = board_ticks();

		l->job.script = &lua_scripts[(cpu + r) % lua_nscripts];
		pl_output_set(lua_out[cpu], LUA_OUT_BYTES);
		lua_call_on_stack(lua_run_job, &l->job,
				  lua_stack[cpu] + LUA_STACK_BYTES);
		l->ms = g_elapsed_ms(t0);
		l->out_len = pl_output_len();
		l->out_dropped = pl_output_dropped();
		g_barrier("scripts ran");
		if (cpu == 0)
			report_round(r);
		g_barrier("round checked");
	}
	board_irq_disable();
	board_timer_stop();
	for (i = 0; i < LUA_IRQ_SLOTS; i++)
		if (l->irq_slot[i].p)
			g_free(&l->irq_slot[i], G_CTX_THREAD);
	g_barrier("IRQ blocks freed");
	if (cpu == 0) {
		struct hak_stats st;
		int bad = hak_check();

		/* The other CPUs tick in their barrier loop, and an idle-decay
		 * step moves a chunk from a cache to its slabs in two steps:
		 * one snapshot may count it as live (hak_stats is exact only
		 * when nothing runs). A leak stays over many snapshots. */
		for (i = 0; i < 1000; i++) {
			hak_stats(&st);
			if (!st.bytes_in_use && !live_objects(&st))
				break;
			arch_cpu_relax();
		}
		g_printf("[lua] final: hak_check() = %d, %lu B in %lu blocks "
			 "live\n",
			 bad, (unsigned long)st.bytes_in_use,
			 (unsigned long)live_objects(&st));
		if (bad || st.bytes_in_use || live_objects(&st))
			g_fail("heap not empty or inconsistent at the end");
	}
	g_barrier("final check");
}

void test_main(void)
{
	const char *what;
	const void *ptr;
	unsigned c, ev_cpu;

	g_test_begin("lua");
	g_heap_init();
	if (g_ncpus > LUA_MAX_CPUS)
		g_fail("%u CPUs: the Lua image runs on at most %u", g_ncpus,
		       LUA_MAX_CPUS);
	if (!lua_nscripts)
		g_fail("no scripts embedded");
	g_printf("[lua] cpus=%u scripts=%u heap=%lu KiB arch=%s\n", g_ncpus,
		 lua_nscripts, (unsigned long)(g_heap_bytes() >> 10), ARCH_NAME);
	hak_stats(&last);
	board_start_secondaries(cpu_main);
	cpu_main(0);

	for (c = 0; c < g_ncpus; c++) {
		const struct g_acct *i = &g_acct[c][G_CTX_IRQ];

		g_printf("[lua] cpu %u: %lu timer ticks, %lu allocs and %lu "
			 "frees in the IRQ handler\n",
			 c, (unsigned long)lc[c].ticks,
			 (unsigned long)sum3(i->allocs),
			 (unsigned long)sum3(i->frees));
		if (!lc[c].ticks || !sum3(i->allocs))
			g_fail("cpu %u: the timer IRQ did not allocate", c);
	}
	if (g_unexpected_event(&what, &ptr, &ev_cpu))
		g_fail("hakmem reported '%s' (%p) on cpu %u", what, ptr, ev_cpu);
	g_test_pass();
	board_exit(0);
}
