// SPDX-License-Identifier: MIT
/*
 * demo.c - what `make run` boots: every CPU runs an allocation workload
 * through hak_* (random sizes over all tiers, some blocks handed to
 * another CPU and freed there) while its timer IRQ allocates too; then
 * CPU 0 prints what each CPU did, the allocator's statistics with the
 * blocks held and after they are freed, and the provider after the other
 * CPUs are parked and drained (hak_cpu_offline) and hak_trim ran.
 * Follows the [test] protocol, so tests/qemu/run-image.sh can judge it.
 */
#include "guest.h"

#define DEMO_OPS 4000
#define DEMO_SLOTS 64
#define DEMO_IRQ_SLOTS 4
#define DEMO_IRQ_PERIOD_US 1000
#define DEMO_MIN_MS 250 /* long enough for a few hundred ticks */
#define DEMO_SEND_PCT 20

struct demo_cpu {
	uint64_t rng;
	struct g_blk slot[DEMO_SLOTS];
	/* IRQ context */
	uint64_t irq_rng, ticks;
	struct g_blk irq_slot[DEMO_IRQ_SLOTS];
} G_ALIGNED;

static struct demo_cpu dc[G_MAX_CPUS];
static int parked[G_MAX_CPUS], released;

static void demo_tick(unsigned cpu)
{
	struct demo_cpu *d = &dc[cpu];
	struct g_blk *b = &d->irq_slot[g_rand(&d->irq_rng) % DEMO_IRQ_SLOTS];

	d->ticks++;
	if (b->p)
		g_free(b, G_CTX_IRQ);
	else if (g_alloc(b, g_size_mix(&d->irq_rng, 70, 2, 48 * 1024), G_MALLOC,
			 0, g_rand(&d->irq_rng), G_CTX_IRQ))
		g_fail("IRQ allocation failed");
}

static void demo_op(unsigned cpu)
{
	struct demo_cpu *d = &dc[cpu];
	struct g_blk *b = &d->slot[g_rand(&d->rng) % DEMO_SLOTS];
	unsigned x = (unsigned)(g_rand(&d->rng) % 100);

	if (!b->p) {
		size_t size = g_size_mix(&d->rng, 60, 3, 128 * 1024);

		if (g_alloc(b, size, G_MALLOC, 0, g_rand(&d->rng), G_CTX_THREAD))
			g_fail("malloc(%lu) failed", (unsigned long)size);
	} else if (g_ncpus > 1 && x < DEMO_SEND_PCT) {
		unsigned to = (cpu + 1 + (unsigned)(g_rand(&d->rng) %
						    (g_ncpus - 1))) % g_ncpus;

		if (g_mbox_send(to, b)) {
			g_acct[cpu][G_CTX_THREAD].cross_sent++;
			b->p = NULL;
		} else {
			g_free(b, G_CTX_THREAD);
		}
	} else {
		g_free(b, G_CTX_THREAD);
	}
}

static uint64_t sum3(const uint64_t v[G_NTIERS])
{
	return v[0] + v[1] + v[2];
}

static void print_cpus(void)
{
	unsigned c;

	g_printf("\nper CPU: allocs/frees in thread context (frees include "
		 "blocks other CPUs sent), blocks sent to / received from "
		 "other CPUs, timer ticks, allocs/frees in the IRQ handler\n");
	g_printf("            allocs    frees  x-sent  x-freed  ticks  "
		 "irq-allocs  irq-frees\n");
	for (c = 0; c < g_ncpus; c++) {
		const struct g_acct *t = &g_acct[c][G_CTX_THREAD];
		const struct g_acct *i = &g_acct[c][G_CTX_IRQ];

		g_printf("  cpu %-3u %9lu %8lu %7lu %8lu %6lu %11lu %10lu\n",
			 c, (unsigned long)sum3(t->allocs),
			 (unsigned long)sum3(t->frees),
			 (unsigned long)t->cross_sent,
			 (unsigned long)t->cross_freed,
			 (unsigned long)dc[c].ticks,
			 (unsigned long)sum3(i->allocs),
			 (unsigned long)sum3(i->frees));
	}
}

static void print_stats(const char *title)
{
	static const char *const tier[HAK_TIER__COUNT] = { "tiny", "pool",
							   "large" };
	struct hak_stats st;
	unsigned t, k;

	hak_stats(&st);
	g_printf("\nhak_stats: %s\n", title);
	g_printf("  tier    in-use KiB  objects     allocs      frees\n");
	for (t = 0; t < HAK_TIER__COUNT; t++)
		g_printf("  %-6s %11lu %8lu %10lu %10lu\n", tier[t],
			 (unsigned long)(st.tier[t].bytes_in_use >> 10),
			 (unsigned long)st.tier[t].objects_in_use,
			 (unsigned long)st.tier[t].allocs,
			 (unsigned long)st.tier[t].frees);
	g_printf("  in use %lu KiB, peak out %lu KiB\n",
		 (unsigned long)(st.bytes_in_use >> 10),
		 (unsigned long)(st.peak_bytes_out >> 10));
	g_printf("  provider: held %lu KiB, peak %lu KiB, taken %lu KiB, "
		 "returned %lu KiB, meta %lu KiB, superslabs %lu\n",
		 (unsigned long)(st.provider_held >> 10),
		 (unsigned long)(st.provider_peak >> 10),
		 (unsigned long)(st.provider_taken >> 10),
		 (unsigned long)(st.provider_returned >> 10),
		 (unsigned long)(st.meta_bytes >> 10),
		 (unsigned long)st.superslabs);
	g_printf("  caches (%s fast path): hits %lu, misses %lu, refills %lu, "
		 "drains %lu, cached objects %lu\n",
		 st.fast_path ? st.fast_path : "?",
		 (unsigned long)st.cache_hits, (unsigned long)st.cache_misses,
		 (unsigned long)st.refills, (unsigned long)st.drains,
		 (unsigned long)st.cached_objects);
	for (k = 1; k < HAK_EV__COUNT; k++)
		if (st.events[k])
			g_printf("  events: %lu %s\n", (unsigned long)st.events[k],
				 hak_event_name((enum hak_event)k));
}

static void cpu_main(unsigned cpu)
{
	struct demo_cpu *d = &dc[cpu];
	unsigned long t0 = board_ticks();
	unsigned long deadline = t0 + g_ms_ticks(30000);
	unsigned i;

	d->rng = g_seed(0xde770, cpu);
	d->irq_rng = g_seed(0x1e4de770, cpu);
	board_timer_start(DEMO_IRQ_PERIOD_US, demo_tick);
	board_irq_enable();
	for (i = 0; i < DEMO_OPS || g_elapsed_ms(t0) < DEMO_MIN_MS; i++) {
		demo_op(cpu);
		if ((i & 15) == 0) {
			g_mbox_drain(G_CTX_THREAD);
			g_check_deadline(deadline, "demo workload");
		}
	}
	board_irq_disable();
	board_timer_stop();
	g_barrier("workload done");
	if (cpu == 0)
		print_stats("every CPU still holds its blocks");
	g_barrier("stats printed");
	for (i = 0; i < DEMO_SLOTS; i++)
		if (d->slot[i].p)
			g_free(&d->slot[i], G_CTX_THREAD);
	for (i = 0; i < DEMO_IRQ_SLOTS; i++)
		if (d->irq_slot[i].p)
			g_free(&d->irq_slot[i], G_CTX_THREAD);
	g_barrier("senders done");
	while (g_mbox_drain(G_CTX_THREAD))
		;
	g_barrier("all freed");
	if (cpu != 0) {
		/* Park: no hakmem code here until the end of the run. */
		__atomic_store_n(&parked[cpu], 1, __ATOMIC_RELEASE);
		while (!__atomic_load_n(&released, __ATOMIC_ACQUIRE))
			g_check_deadline(deadline, "parked");
		return;
	}
}

void test_main(void)
{
	struct hak_stats st;
	unsigned c;
	int bad;

	g_test_begin("demo");
	g_heap_init();
	g_printf("hakmem demo: %u CPUs, %lu KiB heap, arch %s\n", g_ncpus,
		 (unsigned long)(g_heap_bytes() >> 10), ARCH_NAME);
	board_start_secondaries(cpu_main);
	cpu_main(0);

	print_cpus();
	print_stats("everything freed (per-CPU caches still full)");

	for (c = 1; c < g_ncpus; c++) {
		unsigned long t0 = board_ticks();

		while (!__atomic_load_n(&parked[c], __ATOMIC_ACQUIRE))
			if (board_ticks() - t0 > g_ms_ticks(10000))
				g_fail("cpu %u did not park", c);
		hak_cpu_offline(c);
	}
	hak_trim();
	print_stats("after hak_cpu_offline(others) + hak_trim()");
	__atomic_store_n(&released, 1, __ATOMIC_RELEASE);

	bad = hak_check();
	hak_stats(&st);
	g_printf("\nhak_check() = %d; provider holds %lu bytes, %lu of them "
		 "permanent metadata\n",
		 bad, (unsigned long)st.provider_held,
		 (unsigned long)st.meta_bytes);
	if (bad)
		g_fail("hak_check() = %d", bad);
	if (st.provider_held != st.meta_bytes || st.bytes_in_use)
		g_fail("after trim the provider holds %lu bytes, meta %lu",
		       (unsigned long)st.provider_held,
		       (unsigned long)st.meta_bytes);
	g_test_pass();
	board_exit(0);
}
