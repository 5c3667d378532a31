// SPDX-License-Identifier: MIT
/*
 * board.c - boards/board.h for riscv64 QEMU -M virt in S-mode under
 * OpenSBI: NS16550A console, harts found and started through the SBI HSM
 * extension, the SBI TIME timer, exit through the SiFive test device.
 */
#include <stdint.h>

#include "board.h"
#include "hakmem.h"
#include "hakmem/arch.h"

#define MAX_CPUS 64
#define STACK_SHIFT 14 /* start.S */
#define MAX_HART_ID 256 /* probed with HSM hart_get_status; start.S too */
#define SBI_ERR_ALREADY_AVAILABLE (-6)

#define UART_BASE 0x10000000UL /* NS16550A */
#define UART_THR 0
#define UART_LSR 5
#define UART_LSR_THRE 0x20
#define TEST_BASE 0x100000UL /* SiFive test finisher */
#define TIMEBASE_HZ 10000000UL /* virt's /cpus timebase-frequency */

#define SBI_EXT_TIME 0x54494d45L
#define SBI_EXT_HSM 0x48534dL
#define SBI_HSM_HART_START 0
#define SBI_HSM_HART_GET_STATUS 2

#define SIE_STIE (1UL << 5)
#define CAUSE_IRQ (1UL << 63)
#define IRQ_S_TIMER 5

unsigned char board_stacks[MAX_CPUS][1UL << STACK_SHIFT]
	__attribute__((aligned(16)));
extern char board_secondary_entry[];

void board_boot_main(unsigned long hartid, unsigned long dtb);
void board_secondary_main(unsigned long cpu);
void board_trap(unsigned long cause, unsigned long epc, unsigned long tval);

static unsigned ncpus = 1;
static unsigned long hart_of[MAX_CPUS];
/* A hart the firmware sent to _start as well (start.S, late_hart) waits
 * for its index + 1 here; in .data, out of the bss clearing's way. */
volatile unsigned board_late_index[MAX_HART_ID]
	__attribute__((section(".data")));
static void (*volatile secondary_fn)(unsigned cpu);
static volatile int entered[MAX_CPUS];
static unsigned long timer_period[MAX_CPUS];
static void (*timer_handler[MAX_CPUS])(unsigned cpu);
static int exiting;

struct sbiret {
	long error, value;
};

static struct sbiret sbi(long ext, long fid, unsigned long a0,
			 unsigned long a1, unsigned long a2)
{
	register unsigned long r0 __asm__("a0") = a0;
	register unsigned long r1 __asm__("a1") = a1;
	register unsigned long r2 __asm__("a2") = a2;
	register long r6 __asm__("a6") = fid;
	register long r7 __asm__("a7") = ext;
	struct sbiret ret;

	__asm__ __volatile__("ecall"
			     : "+r"(r0), "+r"(r1)
			     : "r"(r2), "r"(r6), "r"(r7)
			     : "memory");
	ret.error = (long)r0;
	ret.value = (long)r1;
	return ret;
}

/* ---------------------------------------------------------------- console */

void board_putc(char c)
{
	volatile uint8_t *u = (volatile uint8_t *)UART_BASE;

	while (!(u[UART_LSR] & UART_LSR_THRE))
		;
	u[UART_THR] = (uint8_t)c;
}

void board_puts(const char *s)
{
	while (*s)
		board_putc(*s++);
}

/* ---------------------------------------------------------------- time */

unsigned long board_ticks(void)
{
	unsigned long t;

	__asm__ __volatile__("rdtime %0" : "=r"(t));
	return t;
}

unsigned long board_tick_hz(void)
{
	return TIMEBASE_HZ;
}

void board_irq_enable(void)
{
	__asm__ __volatile__("csrsi sstatus, 2" ::: "memory");
}

void board_irq_disable(void)
{
	__asm__ __volatile__("csrci sstatus, 2" ::: "memory");
}

static void set_timer(unsigned long when)
{
	sbi(SBI_EXT_TIME, 0, when, 0, 0);
}

void board_timer_start(unsigned period_us, void (*handler)(unsigned cpu))
{
	unsigned cpu = arch_cpu_id();

	timer_period[cpu] = (unsigned long)period_us * (TIMEBASE_HZ / 1000000);
	timer_handler[cpu] = handler;
	set_timer(board_ticks() + timer_period[cpu]);
	__asm__ __volatile__("csrs sie, %0" : : "r"(SIE_STIE) : "memory");
}

void board_timer_stop(void)
{
	unsigned cpu = arch_cpu_id();

	__asm__ __volatile__("csrc sie, %0" : : "r"(SIE_STIE) : "memory");
	set_timer(~0UL);
	timer_handler[cpu] = 0;
}

/* ---------------------------------------------------------------- exit */

__attribute__((noreturn)) void board_exit(int status)
{
	volatile uint32_t *t = (volatile uint32_t *)TEST_BASE;

	board_irq_disable();
	if (__atomic_exchange_n(&exiting, 1, __ATOMIC_ACQ_REL))
		for (;;)
			__asm__ __volatile__("wfi");
	board_puts("[board] exit status ");
	board_putdec((unsigned long)status);
	board_puts("\n");
	*t = status ? ((uint32_t)status << 16) | 0x3333 : 0x5555;
	for (;;)
		__asm__ __volatile__("wfi");
}

/* ---------------------------------------------------------------- traps */

/* This board's trap entry calls hak_restart_pc (include/hakmem.h); the
 * riscv64 arch has no restartable sections yet, so it returns epc. */
const int hak_irq_entry_calls_hak_restart_pc = 1;

void board_trap(unsigned long cause, unsigned long epc, unsigned long tval)
{
	unsigned long pc = hak_restart_pc(epc);

	if (pc != epc)
		__asm__ __volatile__("csrw sepc, %0" : : "r"(pc));
	if (cause == (CAUSE_IRQ | IRQ_S_TIMER)) {
		unsigned cpu = arch_cpu_id();
		void (*h)(unsigned) = cpu < MAX_CPUS ? timer_handler[cpu] : 0;

		if (!h) {
			set_timer(~0UL);
			return;
		}
		set_timer(board_ticks() + timer_period[cpu]);
		h(cpu);
		return;
	}
	board_puts("\n[board] fault: scause ");
	board_puthex(cause);
	board_puts(" sepc ");
	board_puthex(epc);
	board_puts(" stval ");
	board_puthex(tval);
	board_puts("\n");
	board_exit(2);
}

/* ---------------------------------------------------------------- SMP */

unsigned board_ncpus(void)
{
	return ncpus;
}

void board_set_cpu_id(unsigned id)
{
#ifdef ARCH_RV_CPU_ID_SSCRATCH
	__asm__ __volatile__("csrw sscratch, %0" : : "r"((unsigned long)id)
			     : "memory");
#else
	__asm__ __volatile__("mv tp, %0" : : "r"((unsigned long)id) : "memory");
#endif
}

void board_unset_cpu_id(void)
{
	board_set_cpu_id(0);
}

void board_secondary_main(unsigned long cpu)
{
	void (*fn)(unsigned) = secondary_fn;

	__atomic_store_n(&entered[cpu], 1, __ATOMIC_RELEASE);
	fn((unsigned)cpu);
	board_irq_disable();
	__asm__ __volatile__("csrc sie, %0" : : "r"(SIE_STIE) : "memory");
	for (;;)
		__asm__ __volatile__("wfi");
}

void board_start_secondaries(void (*fn)(unsigned cpu))
{
	unsigned i;

	secondary_fn = fn;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (i = 1; i < ncpus; i++) {
		struct sbiret r = sbi(SBI_EXT_HSM, SBI_HSM_HART_START,
				      hart_of[i],
				      (unsigned long)board_secondary_entry, i);

		if (r.error == SBI_ERR_ALREADY_AVAILABLE) {
			/* Already running: a second hart the firmware sent to
			 * _start, waiting in start.S for its index. */
			board_puts("[board] riscv64: a hart the firmware had "
				   "already started joins as a secondary\n");
			__atomic_store_n(&board_late_index[hart_of[i]], i + 1,
					 __ATOMIC_RELEASE);
			continue;
		}
		if (r.error) {
			board_puts("[board] FAIL: hart_start failed\n");
			board_exit(4);
		}
	}
	for (i = 1; i < ncpus; i++) {
		unsigned long t0 = board_ticks();

		/* 30 s of wall time (TCG's timer is the host's): make test
		 * runs QEMUs side by side on a 2-core machine, where a rare
		 * 'a hart never started' was seen with 5 s. */
		while (!__atomic_load_n(&entered[i], __ATOMIC_ACQUIRE))
			if (board_ticks() - t0 > 30 * TIMEBASE_HZ) {
				board_puts("[board] FAIL: a hart never started\n");
				board_exit(4);
			}
	}
}

/* ------------------------------------------------------------ boot */

void board_boot_main(unsigned long hartid, unsigned long dtb)
{
	unsigned long h;

	(void)dtb;
	hart_of[0] = hartid;
	/* Every hart the firmware knows answers hart_get_status; the boot
	 * hart is index 0, the others follow in hart-id order. */
	for (h = 0; h < MAX_HART_ID && ncpus < MAX_CPUS; h++)
		if (h != hartid &&
		    !sbi(SBI_EXT_HSM, SBI_HSM_HART_GET_STATUS, h, 0, 0).error)
			hart_of[ncpus++] = h;
	board_puts("[board] riscv64: ");
	board_putdec(ncpus);
	board_puts(" harts (boot hart ");
	board_putdec(hartid);
	board_puts("), S-mode under SBI, timebase 10 MHz\n");
	test_main();
	board_puts("[board] FAIL: test_main returned without board_exit\n");
	board_exit(1);
}
