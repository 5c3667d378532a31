// SPDX-License-Identifier: MIT
/*
 * fail.c - images that must fail. tests/qemu/run-matrix.sh runs each and
 * requires tests/qemu/run-image.sh to report FAIL for it, for the reason
 * the mode is about, so the runner is proven to catch every way a run
 * can go wrong. Built once per mode with -DFAIL_MODE=FAIL_<mode>:
 *   corrupt   (fail.elf) corrupts a slab's metadata through a live block;
 *             hak_check() must find it and the image prints a FAIL line.
 *             Were it missed, no pass line is printed either.
 *   nopass    a test begins and never passes; exit status 0
 *   failline  a FAIL line (and a pass line after it); exit status 0
 *   exit      every test passes but board_exit(1)
 *   fault     every test passes, then an undefined instruction: the
 *             board's fault handler ends the run with status 2
 *   nobegin   no test at all; exit status 0
 *   hang      every test passes, then an endless loop with IRQs masked:
 *             only the runner's timeout ends it
 *   cpuid_range  CPU 1's id source returns ncpus + 2 (sparse ids, or a
 *             kernel that numbers CPUs its own way); its first hak_malloc
 *             must end in hakmem's panic naming the id and ncpus
 *   cpuid_alias  (debug image) CPU 1's id source returns 0, CPU 0's id:
 *             hakmem's owner check must panic at CPU 1's first slow path
 *   cpuid_unset  (debug image) CPU 1's id source is left unset (x86_64:
 *             GS base 0, which the debug build reads; aarch64: TPIDR_EL1
 *             0, the alias case again): a panic naming it
 *   double_init  a second hak_init_region over the live heap: returns
 *             -1, the heap is intact (checked), and the API-misuse report
 *             is what fails the image
 *   pcpu_reg  aarch64: CPU 0's per-CPU pointer register holds garbage
 *             at hak_init (a kernel that did not zero it): hak_init must
 *             refuse, naming it; once zeroed, init works and the first
 *             slow path points the register at CPU 0's area (checked);
 *             the API-misuse report is what fails the image
 *   reset     x86_64: every test passes, then a triple fault, after which
 *             QEMU -no-reboot exits with 0, which is not the pass code.
 *             aarch64: a test begins, then PSCI SYSTEM_OFF: exit code 0,
 *             which is the pass code, so the missing pass must catch it;
 *             riscv64 likewise with SBI SRST shutdown.
 */
#include "../../mm/internal.h"
#include "guest.h"

enum {
	FAIL_corrupt,
	FAIL_nopass,
	FAIL_failline,
	FAIL_exit,
	FAIL_fault,
	FAIL_nobegin,
	FAIL_hang,
	FAIL_reset,
	FAIL_cpuid_range,
	FAIL_cpuid_alias,
	FAIL_cpuid_unset,
	FAIL_double_init,
	FAIL_pcpu_reg,
};

#ifndef FAIL_MODE
#define FAIL_MODE FAIL_corrupt
#endif

static void corrupt(void)
{
	void *p[8];
	struct hak_slab *s;
	unsigned i;
	int bad;

	g_test_begin("slab_metadata");
	g_heap_init();
	for (i = 0; i < 8; i++)
		if (!(p[i] = hak_malloc(64)))
			g_fail("malloc failed");
	if (hak_check())
		g_fail("heap inconsistent before the corruption");
	/* Claim one more free object than the slab's bitmap holds. */
	s = hak_slab_of_object((uintptr_t)p[3]);
	s->nfree++;
	bad = hak_check();
	if (bad)
		g_fail("hak_check() found %d violation(s) in deliberately "
		       "corrupted slab metadata", bad);
	g_printf("hak_check() missed the corruption\n");
	board_exit(0);
}

/* CPU 1 misconfigures its id as the mode says, then allocates until a
 * slow path runs; hakmem must panic before that returns. */
static void misconfigured_cpu(unsigned cpu)
{
	void *p[512];
	unsigned i;

	if (cpu != 1)
		return;
	if (FAIL_MODE == FAIL_cpuid_range)
		board_set_cpu_id(g_ncpus + 2);
	else if (FAIL_MODE == FAIL_cpuid_alias)
		board_set_cpu_id(0);
	else
		board_unset_cpu_id();
	for (i = 0; i < 512; i++)
		p[i] = hak_malloc(64);
	(void)p;
	g_printf("CPU 1: 512 allocations with a bad CPU id went through\n");
	board_exit(0);
}

static void cpuid_misuse(void)
{
	unsigned long t0;
	void *p;

	g_test_begin("cpu_id_misuse");
	g_heap_init();
	if (g_ncpus < 2)
		g_fail("needs 2 CPUs");
	/* CPU 0 owns id 0 and fills its cache. */
	p = hak_malloc(64);
	if (!p)
		g_fail("malloc failed");
	board_start_secondaries(misconfigured_cpu);
	t0 = board_ticks();
	while (g_elapsed_ms(t0) < 10000)
		arch_cpu_relax();
	g_printf("CPU 0: nothing caught the bad CPU id\n");
	board_exit(0);
}

/* A misuse image's end: the report hakmem made of the misuse fails the
 * image (run-matrix.sh looks for its words); without one the image
 * passes, which the matrix counts as wrong, printing missed. */
static __attribute__((noreturn)) void end_on_report(const char *missed)
{
	const char *what;
	const void *ptr;
	unsigned cpu;
	int ev = g_unexpected_event(&what, &ptr, &cpu);

	if (ev)
		g_fail("report '%s' (%s)", hak_event_name((enum hak_event)ev),
		       what);
	g_printf("%s\n", missed);
	board_exit(0);
}

static void double_init(void)
{
	void *p, *q;

	g_test_begin("double_init");
	g_heap_init();
	p = hak_malloc(100);
	if (!p)
		g_fail("malloc failed");
	if (hak_init_region(__heap_start, g_heap_bytes(), g_ncpus,
			    g_report_hook, NULL) != -1)
		g_fail("a second hak_init_region did not return -1");
	/* Nothing may have changed: the block frees, the heap checks. */
	hak_free(p);
	q = hak_malloc(5000);
	if (!q)
		g_fail("malloc after the second init failed");
	hak_free(q);
	if (hak_check())
		g_fail("heap inconsistent after the second init");
	end_on_report("the second init was not reported");
}

static void pcpu_reg(void)
{
#if HAK_PCPU_REG
	static char garbage; /* what a register nobody zeroed may hold */
	void *p;

	g_test_begin("pcpu_reg");
	arch_pcpu_reg_set(&garbage);
	if (hak_init_region(__heap_start, g_heap_bytes(), board_ncpus(),
			    g_report_hook, NULL) != -1)
		g_fail("hak_init took a per-CPU register that was not 0");
	arch_pcpu_reg_set(NULL);
	g_heap_init();
	p = hak_malloc(100);
	if (!p)
		g_fail("malloc failed");
	if (arch_pcpu_reg_get() != hak_heap.pcpu[0])
		g_fail("after a slow path the register holds %p, not CPU 0's "
		       "area %p", arch_pcpu_reg_get(), (void *)hak_heap.pcpu[0]);
	hak_free(p);
	if (hak_check())
		g_fail("heap inconsistent");
	end_on_report("the dirty register was not reported");
#else
	g_test_begin("pcpu_reg");
	g_printf("no per-CPU pointer register in this build\n");
#endif
	board_exit(0);
}

static __attribute__((noreturn)) void reset(void)
{
#if defined(__x86_64__)
	struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} none = { 0, 0 };

	/* No IDT: the breakpoint cannot be delivered, nor the #GP, nor the
	 * #DF: a triple fault, which resets; -no-reboot makes QEMU exit 0. */
	__asm__ __volatile__("lidt %0\n\tint3" : : "m"(none));
#elif defined(__aarch64__)
	register unsigned long x0 __asm__("x0") = 0x84000008UL; /* SYSTEM_OFF */

	__asm__ __volatile__("hvc #0" : "+r"(x0) : : "memory");
#elif defined(__riscv)
	/* SBI SRST system_reset(shutdown, no reason): QEMU exits 0. */
	register unsigned long a0 __asm__("a0") = 0;
	register unsigned long a1 __asm__("a1") = 0;
	register long a6 __asm__("a6") = 0;
	register long a7 __asm__("a7") = 0x53525354L;

	__asm__ __volatile__("ecall"
			     : "+r"(a0), "+r"(a1)
			     : "r"(a6), "r"(a7)
			     : "memory");
#endif
	for (;;)
		arch_cpu_relax();
}

void test_main(void)
{
	switch (FAIL_MODE) {
	case FAIL_corrupt:
		corrupt();
		break;
	case FAIL_nopass:
		g_test_begin("first");
		g_test_begin("second");
		g_test_pass();
		board_exit(0);
	case FAIL_failline:
		g_test_begin("first");
		g_printf("[test] FAIL first: deliberate\n");
		g_test_pass();
		board_exit(0);
	case FAIL_exit:
		g_test_begin("first");
		g_test_pass();
		board_exit(1);
	case FAIL_fault:
		g_test_begin("first");
		g_test_pass();
		__builtin_trap();
		break;
	case FAIL_nobegin:
		g_printf("no test here\n");
		board_exit(0);
	case FAIL_hang:
		g_test_begin("first");
		g_test_pass();
		for (;;)
			arch_cpu_relax();
	case FAIL_cpuid_range:
	case FAIL_cpuid_alias:
	case FAIL_cpuid_unset:
		cpuid_misuse();
		break;
	case FAIL_double_init:
		double_init();
		break;
	case FAIL_pcpu_reg:
		pcpu_reg();
		break;
	case FAIL_reset:
		g_test_begin("first");
#if defined(__x86_64__)
		g_test_pass();
#endif
		reset();
	}
	g_printf("fail.c: mode %d fell through\n", FAIL_MODE);
	board_exit(0);
}
