/* SPDX-License-Identifier: MIT */
/*
 * board.c - x86_64 QEMU (q35/pc, PVH -kernel boot) board support for the
 * test images: COM1 serial, IDT with fault reporting, xAPIC timer, SMP
 * bring-up from the ACPI MADT, isa-debug-exit.
 *
 * Per-CPU state is reached through arch_cpu_id(), which reads the id source
 * the image was built for (hakmem/arch_impl.h):
 *   default                 IA32_GS_BASE points at the CPU's struct percpu,
 *                           whose word at ARCH_X86_GS_CPU_OFFSET (default
 *                           0) is the dense index
 *   ARCH_X86_CPU_ID_RDPID   IA32_TSC_AUX holds the index; GS base stays 0,
 *                           so a stray GS-relative id read (a library
 *                           built without the flag) faults on page 0
 *                           instead of quietly reading CPU 0's id
 */
#include <stddef.h>
#include <stdint.h>

#include "board.h"
#include "hakmem.h"
#include "hakmem/arch.h"

typedef uint8_t u8;
typedef uint16_t u16;
typedef uint32_t u32;
typedef uint64_t u64;

#define MAX_CPUS	64
#define STACK_SIZE	16384		/* must match boot.S */
#define IST_SIZE	4096

#define SEL_CODE64	0x08
#define SEL_TSS(cpu)	(0x20 + 16 * (cpu))

#define COM1		0x3f8
#define DEBUG_EXIT_PORT	0xf4

#define MSR_APIC_BASE	0x1b
#define MSR_GS_BASE	0xc0000101
#define MSR_TSC_AUX	0xc0000103

#define VEC_PIC_BASE	0x20		/* legacy PIC remapped here, masked */
#define VEC_TIMER	0x40
#define VEC_SPURIOUS	0xff

/* xAPIC registers (byte offsets) */
#define LAPIC_ID	0x020
#define LAPIC_TPR	0x080
#define LAPIC_EOI	0x0b0
#define LAPIC_SVR	0x0f0
#define LAPIC_ESR	0x280
#define LAPIC_ICR_LO	0x300
#define LAPIC_ICR_HI	0x310
#define LAPIC_LVT_TIMER	0x320
#define LAPIC_LVT_LINT0	0x350
#define LAPIC_LVT_ERR	0x370
#define LAPIC_TICR	0x380
#define LAPIC_TCCR	0x390
#define LAPIC_TDCR	0x3e0

#define LVT_MASKED	(1u << 16)
#define LVT_PERIODIC	(1u << 17)
#define TDCR_DIV16	0x3
#define ICR_PENDING	(1u << 12)
#define ICR_INIT	0x00004500u	/* INIT, level assert */
#define ICR_SIPI	0x00004600u	/* start-up, vector in low byte */

#define TRAMP_BASE	0x8000u		/* SIPI vector 0x08 */

/* ---- per-CPU state -------------------------------------------------- */

/*
 * The dense index sits at ARCH_X86_GS_CPU_OFFSET, where arch_cpu_id()
 * reads it; the padding before it stands for an embedder's own per-CPU
 * fields (none at the default offset 0).
 */
struct percpu {
	u8 before_id[ARCH_X86_GS_CPU_OFFSET];
	u32 cpu_id;
	u32 apic_id;
	void (*timer_fn)(unsigned cpu);
} __attribute__((aligned(ARCH_CACHELINE)));

_Static_assert(offsetof(struct percpu, cpu_id) == ARCH_X86_GS_CPU_OFFSET,
	       "arch_cpu_id() reads the dense index at %gs:OFFSET");

struct tss64 {
	u32 rsv0;
	u64 rsp[3];
	u64 rsv1;
	u64 ist[7];
	u64 rsv2;
	u16 rsv3;
	u16 iomap_base;
} __attribute__((packed));

struct idt_gate {
	u16 off_lo;
	u16 sel;
	u8 ist;
	u8 type;
	u16 off_mid;
	u32 off_hi;
	u32 rsv;
} __attribute__((packed));

struct desc_ptr {
	u16 limit;
	u64 base;
} __attribute__((packed));

/* Saved by isr_common in boot.S, lowest address first. */
struct trap_frame {
	u64 r15, r14, r13, r12, r11, r10, r9, r8;
	u64 rbp, rdi, rsi, rdx, rcx, rbx, rax;
	u64 vec, err;
	u64 rip, cs, rflags, rsp, ss;
};

static struct percpu percpu[MAX_CPUS];
static struct tss64 tss[MAX_CPUS] __attribute__((aligned(128)));
static struct idt_gate idt[256] __attribute__((aligned(16)));
static u8 ist_stacks[MAX_CPUS][IST_SIZE] __attribute__((aligned(16)));
/* Used by boot.S: stack 0 is the boot CPU's. */
u8 board_stacks[MAX_CPUS][STACK_SIZE] __attribute__((aligned(4096)));

/* Handshake with boot.S's AP entry. */
volatile u64 ap_boot_stack;
volatile u32 ap_boot_cpu;

extern u64 pvh_start_info;
extern u64 gdt[];
extern const struct desc_ptr gdt_ptr;
extern const u64 isr_table[256];
extern const char ap_tramp_start[], ap_tramp_end[];

static unsigned ncpus = 1;
static uintptr_t lapic_base = 0xfee00000u;
static u64 tsc_hz;			/* 0 = unknown */
static u64 lapic_hz = 62500000;		/* timer counts/s at divide 16 */
static int has_rdtscp, has_rdpid;
static void (*volatile ap_fn)(unsigned cpu);
static volatile u32 ap_alive, ap_entered;
static volatile int fault_depth;

/* ---- low-level helpers ---------------------------------------------- */

static inline void outb(u16 port, u8 v)
{
	__asm__ __volatile__("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(u16 port, u32 v)
{
	__asm__ __volatile__("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline u8 inb(u16 port)
{
	u8 v;

	__asm__ __volatile__("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline u64 rdmsr(u32 msr)
{
	u32 lo, hi;

	__asm__ __volatile__("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((u64)hi << 32) | lo;
}

static inline void wrmsr(u32 msr, u64 v)
{
	__asm__ __volatile__("wrmsr"
			     :
			     : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32))
			     : "memory");
}

static inline void cpuid(u32 leaf, u32 *a, u32 *b, u32 *c, u32 *d)
{
	__asm__ __volatile__("cpuid"
			     : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d)
			     : "a"(leaf), "c"(0));
}

static inline u64 rdtsc(void)
{
	u32 lo, hi;

	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((u64)hi << 32) | lo;
}

static inline u32 lapic_read(u32 reg)
{
	return *(volatile u32 *)(lapic_base + reg);
}

static inline void lapic_write(u32 reg, u32 v)
{
	*(volatile u32 *)(lapic_base + reg) = v;
}

static inline void copy_bytes(void *dst, const void *src, size_t n)
{
	__asm__ __volatile__("rep movsb"
			     : "+D"(dst), "+S"(src), "+c"(n)
			     :
			     : "memory");
}

static struct percpu *this_cpu(void)
{
	return &percpu[arch_cpu_id()];
}

/* ---- serial --------------------------------------------------------- */

static void serial_init(void)
{
	outb(COM1 + 1, 0x00);	/* no UART interrupts */
	outb(COM1 + 3, 0x80);	/* DLAB */
	outb(COM1 + 0, 0x01);	/* 115200 baud */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);	/* 8N1 */
	outb(COM1 + 2, 0xc7);	/* FIFO on, cleared */
	outb(COM1 + 4, 0x03);	/* DTR, RTS; OUT2 off: no IRQ */
}

void board_putc(char c)
{
	unsigned spins = 0;

	while (!(inb(COM1 + 5) & 0x20) && ++spins < 1000000)
		__asm__ __volatile__("pause");
	outb(COM1, (u8)c);
}

void board_puts(const char *s)
{
	while (*s)
		board_putc(*s++);
}

/* ---- exit ----------------------------------------------------------- */

__attribute__((noreturn)) void board_exit(int status)
{
	__asm__ __volatile__("cli");
	if (status) {
		board_puts("[board] exit status ");
		board_putdec((u64)(unsigned)status);
		board_putc('\n');
	}
	/* isa-debug-exit: QEMU exits with (value << 1) | 1: 33 pass, 35 fail */
	outl(DEBUG_EXIT_PORT, status ? 0x11 : 0x10);
	for (;;)
		__asm__ __volatile__("cli; hlt");
}

/* ---- time ----------------------------------------------------------- */

unsigned long board_ticks(void)
{
	return rdtsc();
}

unsigned long board_tick_hz(void)
{
	return tsc_hz;
}

static void udelay(u64 us)
{
	u64 hz = tsc_hz ? tsc_hz : 4000000000ull;
	u64 t0 = rdtsc(), n = hz / 1000000 * us;

	while (rdtsc() - t0 < n)
		__asm__ __volatile__("pause");
}

/*
 * Measure the TSC and the LAPIC timer (divide 16) against 20 ms of PIT
 * channel 2 in mode 0; its output is readable on port 0x61 bit 5.
 */
static void calibrate(void)
{
	const u32 ms = 20, latch = 1193182u * ms / 1000;
	u64 t0, t1, spins = 0;
	u32 lap;
	u8 p61 = inb(0x61);

	outb(0x61, (u8)((p61 & ~0x02) | 0x01));	/* gate on, speaker off */
	outb(0x43, 0xb0);			/* ch2, lo/hi, mode 0 */
	lapic_write(LAPIC_TDCR, TDCR_DIV16);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | VEC_TIMER);
	outb(0x42, latch & 0xff);
	outb(0x42, (u8)(latch >> 8));
	lapic_write(LAPIC_TICR, 0xffffffffu);
	t0 = rdtsc();
	while (!(inb(0x61) & 0x20)) {
		if (++spins > 100000000ull)
			break;
	}
	t1 = rdtsc();
	lap = 0xffffffffu - lapic_read(LAPIC_TCCR);
	lapic_write(LAPIC_TICR, 0);
	outb(0x61, p61);
	if (spins > 100000000ull || lap == 0) {
		board_puts("[board] warning: PIT calibration failed\n");
		return;
	}
	tsc_hz = (t1 - t0) * 1000 / ms;
	lapic_hz = (u64)lap * 1000 / ms;
}

/* ---- descriptors ---------------------------------------------------- */

static void idt_init(void)
{
	unsigned v;

	for (v = 0; v < 256; v++) {
		u64 a = isr_table[v];

		idt[v].off_lo = (u16)a;
		idt[v].sel = SEL_CODE64;
		/* NMI, #DF, #MC on their own stack: survive a bad RSP. */
		idt[v].ist = (v == 2 || v == 8 || v == 18) ? 1 : 0;
		idt[v].type = 0x8e;	/* present, DPL 0, interrupt gate */
		idt[v].off_mid = (u16)(a >> 16);
		idt[v].off_hi = (u32)(a >> 32);
		idt[v].rsv = 0;
	}
}

#ifdef ARCH_X86_CPU_ID_RDPID
void board_set_cpu_id(unsigned id)
{
	wrmsr(MSR_TSC_AUX, id);
}

/* TSC_AUX's reset value: every such CPU looks like CPU 0. */
void board_unset_cpu_id(void)
{
	wrmsr(MSR_TSC_AUX, 0);
}
#else
void board_set_cpu_id(unsigned id)
{
	percpu[arch_cpu_id()].cpu_id = id;
}

void board_unset_cpu_id(void)
{
	wrmsr(MSR_GS_BASE, 0);
}
#endif

/* Per-CPU: GDT/IDT/TSS, the id source (GS base or TSC_AUX). */
static void cpu_init(unsigned cpu)
{
	struct tss64 *t = &tss[cpu];
	struct desc_ptr idtr = { sizeof(idt) - 1, (u64)(uintptr_t)idt };
	u64 base = (u64)(uintptr_t)t, limit = sizeof(*t) - 1;

	__asm__ __volatile__("lidt %0" : : "m"(idtr));
	__asm__ __volatile__("lgdt %0" : : "m"(gdt_ptr));
	percpu[cpu].cpu_id = cpu;
#ifndef ARCH_X86_CPU_ID_RDPID
	wrmsr(MSR_GS_BASE, (u64)(uintptr_t)&percpu[cpu]);
#endif
	/* Either instruction means the MSR exists; RDTSCP users want it too. */
	if (has_rdtscp || has_rdpid)
		wrmsr(MSR_TSC_AUX, cpu);

	t->ist[0] = (u64)(uintptr_t)&ist_stacks[cpu][IST_SIZE];
	t->iomap_base = sizeof(*t);
	gdt[4 + 2 * cpu] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
			   (0x89ull << 40) | (((limit >> 16) & 0xf) << 48) |
			   (((base >> 24) & 0xff) << 56);
	gdt[5 + 2 * cpu] = base >> 32;
	__asm__ __volatile__("ltr %w0" : : "r"(SEL_TSS(cpu)) : "memory");
}

/* ---- interrupt controllers ------------------------------------------ */

static void pic_disable(void)
{
	outb(0x20, 0x11);		/* ICW1: init, ICW4 follows */
	outb(0xa0, 0x11);
	outb(0x21, VEC_PIC_BASE);	/* ICW2: vector base */
	outb(0xa1, VEC_PIC_BASE + 8);
	outb(0x21, 0x04);		/* ICW3: slave on IRQ2 */
	outb(0xa1, 0x02);
	outb(0x21, 0x01);		/* ICW4: 8086 mode */
	outb(0xa1, 0x01);
	outb(0x21, 0xff);		/* mask everything */
	outb(0xa1, 0xff);
}

static void lapic_local_init(void)
{
	u64 msr = rdmsr(MSR_APIC_BASE);

	if (!(msr & (1u << 11)))
		wrmsr(MSR_APIC_BASE, msr | (1u << 11));
	lapic_write(LAPIC_SVR, 0x100 | VEC_SPURIOUS);
	lapic_write(LAPIC_TPR, 0);
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | VEC_TIMER);
	lapic_write(LAPIC_TICR, 0);
	lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);
	lapic_write(LAPIC_LVT_ERR, LVT_MASKED | 0xfe);
	lapic_write(LAPIC_ESR, 0);
	lapic_write(LAPIC_EOI, 0);
}

void board_timer_start(unsigned period_us, void (*handler)(unsigned cpu))
{
	u64 count = lapic_hz * period_us / 1000000;

	if (count == 0)
		count = 1;
	if (count > 0xffffffffu)
		count = 0xffffffffu;
	this_cpu()->timer_fn = handler;
	lapic_write(LAPIC_TDCR, TDCR_DIV16);
	lapic_write(LAPIC_LVT_TIMER, LVT_PERIODIC | VEC_TIMER);
	lapic_write(LAPIC_TICR, (u32)count);
}

void board_timer_stop(void)
{
	lapic_write(LAPIC_LVT_TIMER, LVT_MASKED | VEC_TIMER);
	lapic_write(LAPIC_TICR, 0);
	this_cpu()->timer_fn = NULL;
}

void board_irq_enable(void)
{
	__asm__ __volatile__("sti" ::: "memory");
}

void board_irq_disable(void)
{
	__asm__ __volatile__("cli" ::: "memory");
}

/* ---- traps ---------------------------------------------------------- */

static const char *const exc_names[32] = {
	"DE", "DB", "NMI", "BP", "OF", "BR", "UD", "NM",
	"DF", "CSO", "TS", "NP", "SS", "GP", "PF", "15",
	"MF", "AC", "MC", "XM", "VE", "CP", "22", "23",
	"24", "25", "26", "27", "HV", "VC", "SX", "31",
};

void board_trap(struct trap_frame *f);

/* This board's interrupt entry calls hak_restart_pc (include/hakmem.h). */
const int hak_irq_entry_calls_hak_restart_pc = 1;

void board_trap(struct trap_frame *f)
{
	/* First, before the handler can allocate: an interrupted hakmem
	 * fast path resumes at its start (a no-op elsewhere). */
	f->rip = hak_restart_pc(f->rip);
	if (f->vec == VEC_TIMER) {
		struct percpu *pc = this_cpu();

		if (pc->timer_fn)
			pc->timer_fn(pc->cpu_id);
		lapic_write(LAPIC_EOI, 0);
		return;
	}
	if (f->vec == VEC_SPURIOUS)
		return;
	if (f->vec >= VEC_PIC_BASE && f->vec < VEC_PIC_BASE + 16)
		return;		/* spurious IRQ7/15 from the masked PIC */

	/* A fault while reporting one: just leave. */
	if (__atomic_fetch_add(&fault_depth, 1, __ATOMIC_SEQ_CST) != 0)
		board_exit(2);
	if (f->vec < 32) {
		board_puts("\n[board] FAULT vector ");
		board_putdec(f->vec);
		board_puts(" (#");
		board_puts(exc_names[f->vec]);
		board_puts(")");
	} else {
		board_puts("\n[board] unexpected interrupt vector ");
		board_putdec(f->vec);
	}
	board_puts(" err ");
	board_puthex(f->err);
	board_puts(" rip ");
	board_puthex(f->rip);
	board_puts(" rsp ");
	board_puthex(f->rsp);
	if (f->vec == 14) {
		u64 cr2;

		__asm__ __volatile__("mov %%cr2, %0" : "=r"(cr2));
		board_puts(" cr2 ");
		board_puthex(cr2);
	}
	board_puts(" cpu ");
	board_putdec(arch_cpu_id());
	board_putc('\n');
	board_exit(2);
}

/* ---- ACPI: CPUs from the MADT --------------------------------------- */

struct rsdp {
	char sig[8];
	u8 csum;
	char oem[6];
	u8 rev;
	u32 rsdt;
	u32 len;
	u64 xsdt;
	u8 xcsum;
	u8 rsv[3];
} __attribute__((packed));

struct sdt {
	char sig[4];
	u32 len;
	u8 rev;
	u8 csum;
	char oem[6];
	char oem_table[8];
	u32 oem_rev;
	u32 creator;
	u32 creator_rev;
} __attribute__((packed));

struct hvm_start_info {
	u32 magic;
	u32 version;
	u32 flags;
	u32 nr_modules;
	u64 modlist_paddr;
	u64 cmdline_paddr;
	u64 rsdp_paddr;
} __attribute__((packed));

#define HVM_START_MAGIC 0x336ec578u
#define PHYS_LIMIT	0x100000000ull	/* identity-mapped range */

static int mem_eq(const void *a, const char *b, size_t n)
{
	const char *p = a;

	while (n--)
		if (*p++ != *b++)
			return 0;
	return 1;
}

static u8 sum8(const void *p, size_t n)
{
	const u8 *b = p;
	u8 s = 0;

	while (n--)
		s = (u8)(s + *b++);
	return s;
}

static int phys_ok(u64 pa, u64 len)
{
	return pa >= 4096 && pa < PHYS_LIMIT && len < PHYS_LIMIT - pa;
}

static const struct rsdp *rsdp_at(u64 pa)
{
	const struct rsdp *r = (const struct rsdp *)(uintptr_t)pa;

	if (!phys_ok(pa, sizeof(*r)) || !mem_eq(r->sig, "RSD PTR ", 8) ||
	    sum8(r, 20) != 0)
		return NULL;
	return r;
}

static const struct rsdp *find_rsdp(void)
{
	const struct hvm_start_info *si =
		(const struct hvm_start_info *)(uintptr_t)pvh_start_info;
	const struct rsdp *r;
	u64 pa;

	if (phys_ok(pvh_start_info, sizeof(*si)) &&
	    si->magic == HVM_START_MAGIC && si->rsdp_paddr) {
		r = rsdp_at(si->rsdp_paddr);
		if (r)
			return r;
	}
	for (pa = 0xe0000; pa < 0x100000; pa += 16) {
		r = rsdp_at(pa);
		if (r)
			return r;
	}
	return NULL;
}

static const struct sdt *sdt_at(u64 pa)
{
	const struct sdt *t = (const struct sdt *)(uintptr_t)pa;

	if (!phys_ok(pa, sizeof(*t)) || !phys_ok(pa, t->len) ||
	    t->len < sizeof(*t) || sum8(t, t->len) != 0)
		return NULL;
	return t;
}

static const struct sdt *find_madt(void)
{
	const struct rsdp *r = find_rsdp();
	const struct sdt *root;
	size_t i, n, esz;

	if (!r)
		return NULL;
	if (r->rev >= 2 && r->xsdt && (root = sdt_at(r->xsdt)))
		esz = 8;
	else if ((root = sdt_at(r->rsdt)))
		esz = 4;
	else
		return NULL;
	n = (root->len - sizeof(*root)) / esz;
	for (i = 0; i < n; i++) {
		const u8 *e = (const u8 *)(root + 1) + i * esz;
		u64 pa = 0;
		const struct sdt *t;

		copy_bytes(&pa, e, esz);
		t = sdt_at(pa);
		if (t && mem_eq(t->sig, "APIC", 4))
			return t;
	}
	return NULL;
}

static void add_cpu(u32 apic_id, unsigned *dropped)
{
	unsigned i;

	for (i = 0; i < ncpus; i++)
		if (percpu[i].apic_id == apic_id)
			return;
	if (ncpus >= MAX_CPUS || apic_id >= 0xff) {
		(*dropped)++;
		return;
	}
	percpu[ncpus++].apic_id = apic_id;
}

static void find_cpus(void)
{
	const struct sdt *madt = find_madt();
	const u8 *p, *end;
	unsigned dropped = 0;

	percpu[0].apic_id = lapic_read(LAPIC_ID) >> 24;
	ncpus = 1;
	if (!madt) {
		board_puts("[board] warning: no ACPI MADT, using 1 CPU\n");
		return;
	}
	p = (const u8 *)(madt + 1) + 8;	/* skip LAPIC address, flags */
	end = (const u8 *)madt + madt->len;
	while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
		if (p[0] == 0 && p[1] >= 8) {		/* processor LAPIC */
			u32 flags;

			copy_bytes(&flags, p + 4, 4);
			if (flags & 1)
				add_cpu(p[3], &dropped);
		} else if (p[0] == 9 && p[1] >= 16) {	/* x2APIC */
			u32 id, flags;

			copy_bytes(&id, p + 4, 4);
			copy_bytes(&flags, p + 8, 4);
			if (flags & 1)
				add_cpu(id, &dropped);
		}
		p += p[1];
	}
	if (dropped) {
		board_puts("[board] warning: ignoring ");
		board_putdec(dropped);
		board_puts(" CPUs (limit 64, xAPIC ids < 255)\n");
	}
}

/* ---- SMP ------------------------------------------------------------ */

unsigned board_ncpus(void)
{
	return ncpus;
}

static void lapic_ipi(u32 apic_id, u32 icr)
{
	unsigned spins = 0;

	lapic_write(LAPIC_ICR_HI, apic_id << 24);
	lapic_write(LAPIC_ICR_LO, icr);
	while ((lapic_read(LAPIC_ICR_LO) & ICR_PENDING) && ++spins < 10000000)
		__asm__ __volatile__("pause");
}

/* Wait up to us microseconds for *flag to become nonzero. */
static int wait_flag(volatile u32 *flag, u64 us)
{
	u64 hz = tsc_hz ? tsc_hz : 4000000000ull;
	u64 t0 = rdtsc(), n = hz / 1000000 * us;

	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE)) {
		if (rdtsc() - t0 > n)
			return 0;
		__asm__ __volatile__("pause");
	}
	return 1;
}

void board_ap_main(unsigned cpu);

void board_ap_main(unsigned cpu)
{
	cpu_init(cpu);
	lapic_local_init();
	__atomic_store_n(&ap_alive, 1, __ATOMIC_RELEASE);
	__atomic_fetch_add(&ap_entered, 1, __ATOMIC_ACQ_REL);
	ap_fn(cpu);
	for (;;)
		__asm__ __volatile__("cli; hlt");
}

void board_start_secondaries(void (*fn)(unsigned cpu))
{
	static int done;
	size_t len = (size_t)(ap_tramp_end - ap_tramp_start);
	unsigned cpu;

	if (ncpus <= 1)
		return;
	if (done) {
		board_puts("[board] board_start_secondaries called twice\n");
		board_exit(1);
	}
	done = 1;
	copy_bytes((void *)(uintptr_t)TRAMP_BASE, ap_tramp_start, len);
	ap_fn = fn;
	for (cpu = 1; cpu < ncpus; cpu++) {
		u32 apic = percpu[cpu].apic_id;

		ap_boot_cpu = cpu;
		ap_boot_stack = (u64)(uintptr_t)&board_stacks[cpu][STACK_SIZE];
		__atomic_store_n(&ap_alive, 0, __ATOMIC_SEQ_CST);
		lapic_ipi(apic, ICR_INIT);
		udelay(10000);
		lapic_ipi(apic, ICR_SIPI | (TRAMP_BASE >> 12));
		if (!wait_flag(&ap_alive, 1000)) {
			lapic_ipi(apic, ICR_SIPI | (TRAMP_BASE >> 12));
			if (!wait_flag(&ap_alive, 5000000)) {
				board_puts("[board] FAIL: cpu ");
				board_putdec(cpu);
				board_puts(" (apic id ");
				board_putdec(apic);
				board_puts(") did not start\n");
				board_exit(2);
			}
		}
	}
	{
		u64 hz = tsc_hz ? tsc_hz : 4000000000ull;
		u64 t0 = rdtsc();

		while (__atomic_load_n(&ap_entered, __ATOMIC_ACQUIRE) <
		       ncpus - 1) {
			if (rdtsc() - t0 > 30 * hz) {
				board_puts("[board] FAIL: secondaries stuck\n");
				board_exit(2);
			}
			__asm__ __volatile__("pause");
		}
	}
}

/* ---- boot CPU entry (from boot.S) ----------------------------------- */

void board_bsp_main(void);

void board_bsp_main(void)
{
	u32 a, b, c, d;

	idt_init();
	serial_init();
	cpuid(0x80000000, &a, &b, &c, &d);
	if (a >= 0x80000001) {
		cpuid(0x80000001, &a, &b, &c, &d);
		has_rdtscp = (d >> 27) & 1;
	}
	cpuid(0, &a, &b, &c, &d);
	if (a >= 7) {
		cpuid(7, &a, &b, &c, &d);
		has_rdpid = (c >> 22) & 1;
	}
#ifdef ARCH_X86_CPU_ID_RDPID
	/* Say so here rather than take #UD at the first arch_cpu_id(). */
	if (!has_rdpid) {
		board_puts("[board] FAIL: built with ARCH_X86_CPU_ID_RDPID, "
			   "but this CPU has no RDPID (CPUID 7 ECX[22])\n");
		board_exit(4);
	}
#endif
	cpu_init(0);
	pic_disable();
	lapic_base = (uintptr_t)(rdmsr(MSR_APIC_BASE) & 0xfffff000u);
	lapic_local_init();
	calibrate();
	find_cpus();
	board_puts("[board] x86_64: ");
	board_putdec(ncpus);
	board_puts(" cpus, tsc ");
	board_putdec(tsc_hz / 1000000);
	board_puts(" MHz, lapic timer ");
	board_putdec(lapic_hz * 16 / 1000000);
	board_puts(" MHz, cpu id ");
#ifdef ARCH_X86_CPU_ID_RDPID
	board_puts("rdpid\n");
#else
	board_puts("%gs:");
	board_putdec(ARCH_X86_GS_CPU_OFFSET);
	board_putc('\n');
#endif
	test_main();
	board_puts("[board] test_main returned without board_exit\n");
	board_exit(1);
}
