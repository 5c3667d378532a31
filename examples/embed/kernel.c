// SPDX-License-Identifier: MIT
/*
 * kernel.c - the smallest kernel that embeds hakmem, as docs/embedding.md
 * walks through it. It includes only the public header and links only the
 * public build/<arch>/libhakmem.a; "board.h" stands for the kernel's own
 * boot, SMP, timer and console code (here the QEMU boards of the tests).
 *
 * Boot CPU: set up the heap over the linker script's region with a panic
 * and report hook, start the other CPUs. Every CPU: a timer IRQ that calls
 * hak_tick() (so other CPUs can reach its cache), allocations of every
 * tier, half of them freed by the next CPU. Then the boot CPU checks the
 * heap, trims it, and shows that every page went back to the region while
 * the others sat idle: the trim reached their caches through hak_tick.
 *
 * It also defines functions named hak_panic and hak_report, names hakmem
 * uses inside: the library keeps only its public API global, so they do
 * not collide. It prints the [test] protocol lines tests/qemu/run-image.sh
 * judges; make test boots it on both arches.
 */
#include "board.h"
#include "hakmem.h"

#define PER_CPU 600
#define MAX_CPUS 64

static const size_t sizes[] = { 24, 200, 1000, 3000, 20000, 70000 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static void *handoff[MAX_CPUS][PER_CPU / 2];
static unsigned ncpus;
static int arrived, done, failed;
static unsigned long ticks[MAX_CPUS];

/* ---- the kernel's own console helpers ---------------------------------- */

static void fail(const char *what)
{
	board_puts("[test] FAIL embed: ");
	board_puts(what);
	board_puts("\n");
	board_exit(1);
}

/* ---- hooks: names that are hakmem's internal ones too -------------------- */

void hak_panic(const char *msg)
{
	board_puts("[test] FAIL embed: hakmem panic: ");
	board_puts(msg);
	board_puts("\n");
	board_exit(1);
}

void hak_report(const struct hak_report *r, void *ctx)
{
	(void)ctx;
	/* Nothing here does anything wrong: any report is a failure. */
	__atomic_store_n(&failed, 1, __ATOMIC_RELAXED);
	board_puts("embed: hakmem reports ");
	board_puts(hak_event_name(r->event));
	board_puts(": ");
	board_puts(r->what ? r->what : "");
	board_puts("\n");
}

/* ---- per CPU ------------------------------------------------------------------ */

static void tick(unsigned cpu)
{
	ticks[cpu]++;
	hak_tick(); /* answer other CPUs' trim/check requests */
}

static void wait_all(int *counter, unsigned want)
{
	unsigned long t0 = board_ticks(), hz = board_tick_hz();

	while (__atomic_load_n(counter, __ATOMIC_ACQUIRE) < (int)want) {
		if (hz && board_ticks() - t0 > 30 * hz)
			fail("a CPU never arrived");
		__asm__ __volatile__("" ::: "memory");
	}
}

static void work(unsigned cpu)
{
	unsigned next = (cpu + 1) % ncpus, i;
	unsigned long t0;
	void *mine[PER_CPU / 2];

	board_timer_start(1000, tick);
	board_irq_enable();
	for (i = 0; i < PER_CPU; i++) {
		size_t n = sizes[(i + cpu) % NSIZES];
		unsigned char *p = hak_malloc(n);

		if (!p)
			fail("hak_malloc returned NULL");
		p[0] = (unsigned char)i;
		p[n - 1] = (unsigned char)cpu;
		if (i & 1)
			handoff[next][i / 2] = p; /* freed by the next CPU */
		else
			mine[i / 2] = p;
	}
	for (i = 0; i < PER_CPU / 2; i++)
		hak_free(mine[i]);
	__atomic_add_fetch(&arrived, 1, __ATOMIC_ACQ_REL);
	wait_all(&arrived, ncpus);
	for (i = 0; i < PER_CPU / 2; i++)
		hak_free(handoff[cpu][i]); /* another CPU's blocks */
	__atomic_add_fetch(&arrived, 1, __ATOMIC_ACQ_REL);
	if (cpu == 0)
		return;
	/* Idle, IRQs on, until the boot CPU is done: its trim and check
	 * reach this CPU's cache through the tick. */
	t0 = board_ticks();
	while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE))
		if (board_tick_hz() && board_ticks() - t0 > 60 * board_tick_hz())
			fail("the boot CPU never finished");
	board_irq_disable();
	board_timer_stop();
}

void test_main(void)
{
	struct hak_config cfg = { 0 };
	struct hak_stats st;

	board_puts("[test] begin embed\n");
	ncpus = board_ncpus();
	if (ncpus > MAX_CPUS)
		fail("too many CPUs");
	if (hak_region_provider(__heap_start, (size_t)(__heap_end - __heap_start),
				&cfg.provider))
		fail("hak_region_provider");
	cfg.ncpus = ncpus;
	cfg.report = hak_report;
	cfg.panic = hak_panic;
	if (hak_init(&cfg))
		fail("hak_init");
	board_start_secondaries(work);
	work(0);
	wait_all(&arrived, 2 * ncpus);

	if (hak_check())
		fail("hak_check");
	hak_stats(&st);
	board_puts("embed: ");
	board_putdec(ncpus);
	board_puts(" CPUs, ");
	board_putdec(st.tier[HAK_TIER_TINY].allocs + st.tier[HAK_TIER_POOL].allocs +
		 st.tier[HAK_TIER_LARGE].allocs);
	board_puts(" allocations, ");
	board_putdec(st.cached_objects);
	board_puts(" objects cached, provider holds ");
	board_putdec(st.provider_held >> 10);
	board_puts(" KiB\n");
	hak_trim();
	hak_stats(&st);
	board_puts("embed: after hak_trim: ");
	board_putdec(st.cached_objects);
	board_puts(" objects cached, provider holds ");
	board_putdec(st.provider_held >> 10);
	board_puts(" KiB (metadata ");
	board_putdec(st.meta_bytes >> 10);
	board_puts(" KiB)\n");
	__atomic_store_n(&done, 1, __ATOMIC_RELEASE);
	if (st.bytes_in_use || st.cached_objects ||
	    st.provider_held != st.meta_bytes)
		fail("hak_trim left memory outside the region");
	if (__atomic_load_n(&failed, __ATOMIC_RELAXED))
		fail("hakmem reported a problem");
	board_puts("[test] pass embed\n");
	board_exit(0);
}
