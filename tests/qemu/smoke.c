/* SPDX-License-Identifier: MIT */
/*
 * smoke.c - board bring-up check: every CPU says hello with its id, takes
 * timer interrupts, and CPU 0 ends the run. Uses only board.h and the
 * arch contract, so it runs unchanged on every arch.
 */
#include "board.h"
#include "hakmem/arch.h"

#define MAX_CPUS 64

static volatile unsigned long hello[MAX_CPUS];
static volatile unsigned long ticks[MAX_CPUS];
static volatile int print_lock;

static void lock_print(void)
{
	while (__atomic_exchange_n(&print_lock, 1, __ATOMIC_ACQUIRE))
		arch_cpu_relax();
}

static void unlock_print(void)
{
	__atomic_store_n(&print_lock, 0, __ATOMIC_RELEASE);
}

static void on_tick(unsigned cpu)
{
	if (cpu != arch_cpu_id())
		board_exit(3);
	ticks[cpu]++;
}

static void wait_ticks(unsigned cpu, unsigned long n)
{
	unsigned long spins = 0;

	board_timer_start(1000, on_tick);
	board_irq_enable();
	while (ticks[cpu] < n) {
		arch_cpu_relax();
		if (++spins > 2000000000UL)
			break;
	}
	board_irq_disable();
	board_timer_stop();
}

static void secondary(unsigned cpu)
{
	lock_print();
	board_puts("hello from cpu ");
	board_putdec(cpu);
	board_puts("\n");
	unlock_print();
	wait_ticks(cpu, 5);
	__atomic_store_n(&hello[cpu], 1, __ATOMIC_RELEASE);
}

void test_main(void)
{
	unsigned n = board_ncpus(), cpu;

	board_puts("[test] begin smoke\n");
	if (arch_cpu_id() != 0 || n == 0 || n > MAX_CPUS) {
		board_puts("[test] FAIL smoke: bad cpu id or count\n");
		board_exit(1);
	}
	board_start_secondaries(secondary);
	secondary(0);
	for (cpu = 0; cpu < n; cpu++) {
		unsigned long spins = 0;

		while (!__atomic_load_n(&hello[cpu], __ATOMIC_ACQUIRE)) {
			arch_cpu_relax();
			if (++spins > 2000000000UL) {
				board_puts("[test] FAIL smoke: cpu silent\n");
				board_exit(1);
			}
		}
		if (ticks[cpu] < 5) {
			board_puts("[test] FAIL smoke: no timer ticks\n");
			board_exit(1);
		}
	}
	board_puts("cpus: ");
	board_putdec(n);
	board_puts(", heap bytes: ");
	board_putdec((unsigned long)(__heap_end - __heap_start));
	board_puts("\n[test] pass smoke\n");
	board_exit(0);
}
