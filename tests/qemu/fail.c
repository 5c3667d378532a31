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
 *   reset     x86_64: every test passes, then a triple fault, after which
 *             QEMU -no-reboot exits with 0, which is not the pass code.
 *             aarch64: a test begins, then PSCI SYSTEM_OFF: exit code 0,
 *             which is the pass code, so the missing pass must catch it.
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
#else
	register unsigned long x0 __asm__("x0") = 0x84000008UL; /* SYSTEM_OFF */

	__asm__ __volatile__("hvc #0" : "+r"(x0) : : "memory");
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
