/* SPDX-License-Identifier: MIT */
/*
 * board.c - boards/board.h for aarch64 QEMU -M virt: PL011 console,
 * semihosting exit, CPU discovery from the DTB, PSCI CPU_ON, the EL1
 * virtual timer and fault reporting.
 */
#include "board.h"
#include "board_priv.h"
#include "hakmem.h"
#include "hakmem/arch.h"

#define UART_DR 0x000
#define UART_FR 0x018
#define UART_LCRH 0x02c
#define UART_CR 0x030
#define UART_FR_TXFF (1U << 5)

#define PSCI_AFFINITY_INFO 0xc4000004UL
#define PSCI_CPU_ON 0xc4000003UL

#define SEMIHOST_SYS_EXIT 0x18UL
#define ADP_STOPPED_APPLICATION_EXIT 0x20026UL

#define DTB_MAX_SIZE (2UL << 20)

extern char __image_start[];

static unsigned ncpus = 1;
static unsigned long cpu_mpidr[BOARD_MAX_CPUS];
static int psci_smc;
static unsigned gic_rev;
static void (*volatile secondary_fn)(unsigned cpu);
static volatile int cpu_entered[BOARD_MAX_CPUS];
static int secondaries_started;
static int exiting;
static volatile int fault_lock;

static unsigned long timer_period[BOARD_MAX_CPUS];
static void (*timer_handler[BOARD_MAX_CPUS])(unsigned cpu);

#define ID_SYSREG ARCH_A64_STR(BOARD_ID_SYSREG)

#ifdef ARCH_A64_CPU_ID_OFFSET
/*
 * What the id register points at: a kernel's per-CPU areas in miniature.
 * Only the index word at ARCH_A64_CPU_ID_OFFSET is used; the rest of a
 * slot stands for the kernel's own per-CPU data.
 */
struct board_percpu board_percpu[BOARD_MAX_CPUS];

_Static_assert(ARCH_A64_CPU_ID_OFFSET % 4 == 0 &&
		       ARCH_A64_CPU_ID_OFFSET + 4 <= sizeof(struct board_percpu),
	       "the index word must be aligned and inside a board_percpu slot");
_Static_assert(sizeof(struct board_percpu) == 1UL << BOARD_PERCPU_SHIFT,
	       "start.S finds a slot by shifting");

static unsigned *percpu_id_word(unsigned long base)
{
	return (unsigned *)(base + ARCH_A64_CPU_ID_OFFSET);
}
#endif

/* ------------------------------------------------------------ console */

void board_putc(char c)
{
	volatile unsigned *uart = (volatile unsigned *)BOARD_UART_BASE;

	while (uart[UART_FR / 4] & UART_FR_TXFF)
		;
	uart[UART_DR / 4] = (unsigned char)c;
}

void board_puts(const char *s)
{
	while (*s)
		board_putc(*s++);
}

static void uart_init(void)
{
	volatile unsigned *uart = (volatile unsigned *)BOARD_UART_BASE;

	/* 8N1 with FIFOs; UART, TX and RX enabled. QEMU ignores the baud. */
	uart[UART_LCRH / 4] = (3U << 5) | (1U << 4);
	uart[UART_CR / 4] = (1U << 0) | (1U << 8) | (1U << 9);
}

/* --------------------------------------------------------------- exit */

__attribute__((noreturn)) void board_exit(int status)
{
	unsigned long block[2];
	register unsigned long x0 __asm__("x0") = SEMIHOST_SYS_EXIT;
	register unsigned long x1 __asm__("x1") = (unsigned long)block;

	/* A second attempt means semihosting trapped (no -semihosting). */
	if (__atomic_exchange_n(&exiting, 1, __ATOMIC_ACQ_REL)) {
		for (;;)
			__asm__ __volatile__("msr daifset, #0xf\n\twfi");
	}
	block[0] = ADP_STOPPED_APPLICATION_EXIT;
	block[1] = (unsigned long)(long)status;
	__asm__ __volatile__("hlt #0xf000" : "+r"(x0) : "r"(x1) : "memory");
	for (;;)
		__asm__ __volatile__("msr daifset, #0xf\n\twfi");
}

/* ------------------------------------------------------------- faults */

static const char *const vector_names[16] = {
	"sync (EL1t)",	 "irq (EL1t)",	 "fiq (EL1t)",	 "serror (EL1t)",
	"sync (EL1h)",	 "irq (EL1h)",	 "fiq (EL1h)",	 "serror (EL1h)",
	"sync (EL0/64)", "irq (EL0/64)", "fiq (EL0/64)", "serror (EL0/64)",
	"sync (EL0/32)", "irq (EL0/32)", "fiq (EL0/32)", "serror (EL0/32)",
};

static const char *ec_name(unsigned ec)
{
	switch (ec) {
	case 0x00: return "unknown/undefined instruction";
	case 0x07: return "FP/SIMD access trapped";
	case 0x0e: return "illegal execution state";
	case 0x15: return "SVC";
	case 0x18: return "MSR/MRS trap";
	case 0x20: case 0x21: return "instruction abort";
	case 0x22: return "PC alignment";
	case 0x24: case 0x25: return "data abort";
	case 0x26: return "SP alignment";
	case 0x2f: return "SError";
	case 0x3c: return "BRK";
	default: return "other";
	}
}

/* arch_cpu_id() for the fault report, which must not fault itself: a
 * per-CPU base is followed only when it points into board_percpu[]. */
static void put_cpu_id(void)
{
#ifdef ARCH_A64_CPU_ID_OFFSET
	unsigned long base = SYSREG_READ(ID_SYSREG);

	if (base - (unsigned long)board_percpu >= sizeof(board_percpu)) {
		board_puts("? (per-CPU base ");
		board_puthex(base);
		board_puts(")");
		return;
	}
#endif
	board_putdec(arch_cpu_id());
}

void board_fault(unsigned long type, unsigned long sp)
{
	unsigned long esr = SYSREG_READ("esr_el1");
	unsigned long far = SYSREG_READ("far_el1");
	unsigned long elr = SYSREG_READ("elr_el1");
	unsigned long spsr = SYSREG_READ("spsr_el1");
	unsigned long spins = 0;
	unsigned ec = (unsigned)(esr >> 26) & 0x3f;

	if (__atomic_load_n(&exiting, __ATOMIC_ACQUIRE) && ec == 0) {
		/* The semihosting HLT trapped: QEMU runs without it. */
		board_puts("\n[board] board_exit needs QEMU -semihosting; "
			   "parking\n");
		board_exit(2); /* parks */
	}
	/* Best effort: another CPU may be printing or have died holding it. */
	while (__atomic_exchange_n(&fault_lock, 1, __ATOMIC_ACQUIRE) &&
	       ++spins < 10000000UL)
		;
	board_puts("\n[board] FAULT on cpu ");
	put_cpu_id();
	board_puts(": ");
	board_puts(vector_names[type & 15]);
	board_puts("\n  ESR_EL1=");
	board_puthex(esr);
	board_puts(" EC=");
	board_puthex(ec);
	board_puts(" (");
	board_puts(ec_name(ec));
	board_puts(")\n  FAR_EL1=");
	board_puthex(far);
	board_puts("\n  ELR_EL1=");
	board_puthex(elr);
	board_puts("\n  SPSR_EL1=");
	board_puthex(spsr);
	board_puts(" SP=");
	board_puthex(sp);
	board_puts("\n");
	board_exit(2);
}

/* ------------------------------------------------------------- timing */

unsigned long board_ticks(void)
{
	isb();
	return SYSREG_READ("cntvct_el0");
}

unsigned long board_tick_hz(void)
{
	return SYSREG_READ("cntfrq_el0") & 0xffffffffUL;
}

void board_irq_enable(void)
{
	__asm__ __volatile__("msr daifclr, #2" ::: "memory");
}

void board_irq_disable(void)
{
	__asm__ __volatile__("msr daifset, #2" ::: "memory");
}

void board_timer_start(unsigned period_us, void (*handler)(unsigned cpu))
{
	unsigned long flags = arch_irq_save();
	unsigned cpu = arch_cpu_id();
	unsigned long ticks = (unsigned long)period_us * board_tick_hz() /
			      1000000UL;

	if (ticks == 0)
		ticks = 1;
	if (ticks > 0x7fffffffUL)
		ticks = 0x7fffffffUL; /* CNTV_TVAL is a signed 32-bit value */
	timer_period[cpu] = ticks;
	timer_handler[cpu] = handler;
	SYSREG_WRITE("cntv_tval_el0", ticks);
	SYSREG_WRITE("cntv_ctl_el0", 1); /* ENABLE, not masked */
	isb();
	arch_irq_restore(flags);
}

void board_timer_stop(void)
{
	unsigned long flags = arch_irq_save();
	unsigned cpu = arch_cpu_id();

	SYSREG_WRITE("cntv_ctl_el0", 0);
	isb();
	timer_handler[cpu] = 0;
	timer_period[cpu] = 0;
	arch_irq_restore(flags);
}

/* This board's IRQ entry (start.S irq_entry) calls hak_restart_pc
 * (include/hakmem.h) on the saved ELR_EL1 before board_irq. */
const int hak_irq_entry_calls_hak_restart_pc = 1;

void board_irq(void)
{
	unsigned long iar = board_gic_ack();
	unsigned intid = board_gic_intid(iar);
	unsigned cpu = arch_cpu_id();

	if (intid >= 1020 && intid <= 1023)
		return; /* spurious: no EOI */
	if (intid == BOARD_TIMER_INTID) {
		void (*h)(unsigned) = timer_handler[cpu];

		if (h && timer_period[cpu]) {
			/* Rearm first: clears the level before the EOI. */
			SYSREG_WRITE("cntv_tval_el0", timer_period[cpu]);
			isb();
			h(cpu);
		} else {
			SYSREG_WRITE("cntv_ctl_el0", 0);
			isb();
		}
	}
	board_gic_eoi(iar);
}

/* ---------------------------------------------------------------- SMP */

static long psci_call(unsigned long fn, unsigned long a1, unsigned long a2,
		      unsigned long a3)
{
	register unsigned long x0 __asm__("x0") = fn;
	register unsigned long x1 __asm__("x1") = a1;
	register unsigned long x2 __asm__("x2") = a2;
	register unsigned long x3 __asm__("x3") = a3;

	if (psci_smc)
		__asm__ __volatile__("smc #0"
				     : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
				     :
				     : "x4", "x5", "x6", "x7", "x8", "x9",
				       "x10", "x11", "x12", "x13", "x14",
				       "x15", "x16", "x17", "memory");
	else
		__asm__ __volatile__("hvc #0"
				     : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)
				     :
				     : "x4", "x5", "x6", "x7", "x8", "x9",
				       "x10", "x11", "x12", "x13", "x14",
				       "x15", "x16", "x17", "memory");
	return (long)x0;
}

/* As a kernel that set the id up wrongly from the start would leave it:
 * hakmem's per-CPU pointer not yet set either. */
static void pcpu_reg_zero(void)
{
#ifdef ARCH_HAS_PCPU_REG
	SYSREG_WRITE(ARCH_A64_STR(ARCH_A64_PCPU_SYSREG), 0);
#endif
}

void board_set_cpu_id(unsigned id)
{
	pcpu_reg_zero();
#ifdef ARCH_A64_CPU_ID_OFFSET
	*percpu_id_word(SYSREG_READ(ID_SYSREG)) = id;
#else
	SYSREG_WRITE(ID_SYSREG, id);
#endif
}

/* The register as a kernel that never wrote it leaves it: 0, an index
 * aliasing CPU 0's, or a per-CPU base debug builds reject. */
void board_unset_cpu_id(void)
{
	pcpu_reg_zero();
	SYSREG_WRITE(ID_SYSREG, 0);
}

unsigned board_ncpus(void)
{
	return ncpus;
}

void board_secondary_main(unsigned long cpu)
{
	void (*fn)(unsigned);

	if (board_gic_init_cpu(cpu_mpidr[cpu]) != 0) {
		board_puts("[board] FAIL: no GIC interface for cpu ");
		board_putdec(cpu);
		board_puts("\n");
		board_exit(4);
	}
	fn = __atomic_load_n(&secondary_fn, __ATOMIC_ACQUIRE);
	__atomic_store_n(&cpu_entered[cpu], 1, __ATOMIC_RELEASE);
	fn((unsigned)cpu);
}

void board_start_secondaries(void (*fn)(unsigned cpu))
{
	unsigned long hz = board_tick_hz();
	unsigned cpu;

	if (secondaries_started)
		return;
	secondaries_started = 1;
	__atomic_store_n(&secondary_fn, fn, __ATOMIC_RELEASE);
	__asm__ __volatile__("dsb ish" ::: "memory");
	for (cpu = 1; cpu < ncpus; cpu++) {
		long ret = psci_call(PSCI_CPU_ON, cpu_mpidr[cpu],
				     (unsigned long)board_secondary_entry, cpu);
		unsigned long t0 = board_ticks();

		if (ret != 0) {
			board_puts("[board] FAIL: PSCI CPU_ON mpidr ");
			board_puthex(cpu_mpidr[cpu]);
			board_puts(" returned ");
			board_putdec((unsigned long)-ret);
			board_puts(" (negated)\n");
			board_exit(4);
		}
		while (!__atomic_load_n(&cpu_entered[cpu], __ATOMIC_ACQUIRE)) {
			arch_cpu_relax();
			if (hz && board_ticks() - t0 > 30 * hz) {
				board_puts("[board] FAIL: cpu ");
				board_putdec(cpu);
				board_puts(" did not start\n");
				board_exit(4);
			}
		}
	}
}

/* Without a DTB: ask PSCI which affinities exist (Aff1 0..15, Aff0 0..15). */
static unsigned probe_cpus(unsigned long *out, unsigned max)
{
	unsigned long a1, a0;
	unsigned n = 0;

	for (a1 = 0; a1 < 16; a1++)
		for (a0 = 0; a0 < 16 && n < max; a0++)
			if (psci_call(PSCI_AFFINITY_INFO, a1 << 8 | a0, 0, 0) >= 0)
				out[n++] = a1 << 8 | a0;
	return n;
}

static const void *find_dtb(unsigned long x0, unsigned long *max)
{
	unsigned long limit = (unsigned long)__image_start;
	unsigned long cand[2] = { x0, BOARD_RAM_BASE };
	int i;

	for (i = 0; i < 2; i++) {
		unsigned long a = cand[i];

		if (a < BOARD_RAM_BASE || a >= limit || (a & 7))
			continue;
		*max = limit - a < DTB_MAX_SIZE ? limit - a : DTB_MAX_SIZE;
		if (board_fdt_valid((const void *)a, *max))
			return (const void *)a;
	}
	return 0;
}

static struct board_fdt_info fdt_info;

static void discover_cpus(unsigned long x0)
{
	unsigned long boot = SYSREG_READ("mpidr_el1") & BOARD_MPIDR_AFF_MASK;
	unsigned long max = 0, *list = fdt_info.mpidr;
	const void *dtb = find_dtb(x0, &max);
	unsigned n = 0, i, j;

	if (dtb && board_fdt_scan(dtb, max, &fdt_info) == 0 &&
	    fdt_info.ncpus > 0) {
		psci_smc = fdt_info.psci_smc;
		n = fdt_info.ncpus;
		board_puts("[board] dtb at ");
		board_puthex((unsigned long)dtb);
		if (fdt_info.cpus_seen > n) {
			board_puts(", only the first ");
			board_putdec(n);
			board_puts(" of ");
			board_putdec(fdt_info.cpus_seen);
			board_puts(" cpus used");
		}
		board_puts("\n");
	} else {
		board_puts("[board] no usable dtb, probing PSCI AFFINITY_INFO\n");
		n = probe_cpus(list, BOARD_MAX_CPUS);
	}
	for (i = 0; i < n; i++)
		list[i] &= BOARD_MPIDR_AFF_MASK;
	/* Dense ids: boot CPU is 0, the rest in ascending MPIDR order. */
	cpu_mpidr[0] = boot;
	ncpus = 1;
	for (i = 0; i < n; i++) {
		unsigned long m = list[i];

		if (m == boot || ncpus >= BOARD_MAX_CPUS)
			continue;
		for (j = ncpus; j > 1 && cpu_mpidr[j - 1] > m; j--)
			cpu_mpidr[j] = cpu_mpidr[j - 1];
		cpu_mpidr[j] = m;
		ncpus++;
	}
}

void board_boot_main(unsigned long x0)
{
#ifdef ARCH_A64_CPU_ID_OFFSET
	unsigned i;

	/* Before any secondary starts (slot 0's word is 0 from .bss). */
	for (i = 0; i < BOARD_MAX_CPUS; i++)
		*percpu_id_word((unsigned long)&board_percpu[i]) = i;
#endif
	uart_init();
	discover_cpus(x0);
	gic_rev = board_gic_init_dist();
	if (board_gic_init_cpu(cpu_mpidr[0]) != 0) {
		board_puts("[board] FAIL: no usable GIC (PIDR2 rev ");
		board_putdec(gic_rev);
		board_puts(")\n");
		board_exit(4);
	}
	board_puts("[board] qemu-virt aarch64: cpus=");
	board_putdec(ncpus);
	board_puts(" gic=v");
	board_putdec(gic_rev);
	board_puts(" psci=");
	board_puts(psci_smc ? "smc" : "hvc");
	board_puts(" cntfrq=");
	board_putdec(board_tick_hz());
#ifdef ARCH_A64_CPU_ID_OFFSET
	board_puts(" cpu_id=[" ID_SYSREG "+");
	board_putdec(ARCH_A64_CPU_ID_OFFSET);
	board_puts("]\n");
#else
	board_puts(" cpu_id=" ID_SYSREG "\n");
#endif
	test_main();
	board_puts("[board] FAIL: test_main returned without board_exit\n");
	board_exit(1);
}
