/* SPDX-License-Identifier: MIT */
/*
 * x86_64 primitives for the contract in include/hakmem/arch.h.
 *
 * The CPU id lives in a per-CPU area addressed through GS: the boot code
 * writes IA32_GS_BASE on each CPU to an area whose 32-bit word at
 * ARCH_X86_GS_CPU_OFFSET holds the dense CPU index. One GS-relative load is
 * the cheapest id there is and, unlike CPUID, never traps to a hypervisor.
 * An embedder whose kernel already owns GS overrides the offset.
 */
#ifndef HAKMEM_ARCH_IMPL_H
#define HAKMEM_ARCH_IMPL_H

#define ARCH_NAME "x86_64"
/* 64-byte lines, but the adjacent-line prefetcher pulls pairs: pad to 128. */
#define ARCH_CACHELINE 128
#define ARCH_PAGE_SHIFT 12
#define ARCH_HAS_CTZ 1 /* BSF / TZCNT */

#ifndef ARCH_X86_GS_CPU_OFFSET
#define ARCH_X86_GS_CPU_OFFSET 0
#endif

static inline void arch_cpu_relax(void)
{
	__asm__ __volatile__("pause" ::: "memory");
}

#include "hakmem/arch_test.h"

static inline unsigned long arch_irq_save(void)
{
	unsigned long flags;

	__asm__ __volatile__("pushfq\n\tpopq %0\n\tcli"
			     : "=r"(flags)
			     :
			     : "memory");
#ifdef HAK_TEST_IRQ_WINDOW
	if (flags & (1UL << 9))
		hak_test_irq_off();
#endif
	return flags;
}

static inline void arch_irq_restore(unsigned long flags)
{
	/* Only IF (bit 9) matters; re-enable only if it was set before. */
#ifdef HAK_TEST_IRQ_WINDOW
	if (flags & (1UL << 9)) {
		hak_test_irq_on();
		__asm__ __volatile__("sti" ::: "memory");
	}
#else
	/* The test and the STI in one asm: left to itself, GCC computes
	 * flags & IF early into a spare register and tests that: two more
	 * instructions on every fast path. */
	__asm__ __volatile__("testl $0x200, %k0\n\t"
			     "jz 1f\n\t"
			     "sti\n"
			     "1:"
			     :
			     : "r"(flags)
			     : "memory", "cc");
#endif
}

static inline int arch_irqs_disabled(void)
{
	unsigned long flags;

	__asm__ __volatile__("pushfq\n\tpopq %0" : "=r"(flags)::"memory");
	return !(flags & (1UL << 9));
}

/*
 * The CPU id source, chosen at build time:
 *   default                a 32-bit load at %gs:ARCH_X86_GS_CPU_OFFSET:
 *                          the kernel's per-CPU area (Linux style) holds
 *                          the dense index at that offset
 *   ARCH_X86_CPU_ID_RDPID  RDPID: IA32_TSC_AUX, which the kernel writes
 *                          with the index on each CPU (needs a CPU with
 *                          RDPID; leaves GS to the kernel)
 */
static inline unsigned arch_cpu_id(void)
{
	unsigned id;

#ifdef ARCH_X86_CPU_ID_RDPID
	unsigned long v;

	__asm__ __volatile__("rdpid %0" : "=r"(v));
	id = (unsigned)v;
#elif defined(__SEG_GS)
	/* A compiler-generated load, not asm, so the compiler knows the
	 * 32-bit load zero-extends and indexes with it directly. */
	id = *(const volatile unsigned __seg_gs *)ARCH_X86_GS_CPU_OFFSET;
#else
	__asm__ __volatile__("movl %%gs:%c1, %0"
			     : "=r"(id)
			     : "i"(ARCH_X86_GS_CPU_OFFSET)
			     : "memory");
#endif
	return id;
}

static inline unsigned long arch_rdmsr(unsigned msr)
{
	unsigned lo, hi;

	__asm__ __volatile__("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return (unsigned long)hi << 32 | lo;
}

/* Whether this CPU's id source was set up at all: a GS base of 0 never
 * is. A RDMSR (slow, traps under some hypervisors): debug builds only. */
static inline int arch_cpu_id_source_ok(void)
{
#ifdef ARCH_X86_CPU_ID_RDPID
	return 1;
#else
	return arch_rdmsr(0xc0000101) != 0; /* IA32_GS_BASE */
#endif
}

/* A hardware identity of this CPU, whatever the kernel set up: the x2APIC
 * id (CPUID 0xB) or the initial APIC id (CPUID 1). CPUID may trap to a
 * hypervisor: debug checks only. */
static inline unsigned long arch_cpu_hw_id(void)
{
	unsigned a, b, c, d;

	__asm__ __volatile__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
			     : "a"(0), "c"(0));
	if (a >= 0xb) {
		__asm__ __volatile__("cpuid"
				     : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
				     : "a"(0xb), "c"(0));
		if (b)
			return d;
	}
	__asm__ __volatile__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
			     : "a"(1), "c"(0));
	return b >> 24;
}

/*
 * Entropy for the heap's secret, once at init: RDRAND when CPUID says it
 * exists (CPUID only here, never on a hot path), else the TSC. RDRAND may
 * fail transiently: a few tries, then the TSC.
 */
static inline unsigned long arch_entropy(void)
{
	unsigned a, b, c, d, lo, hi, tries;
	unsigned long v;
	unsigned char ok;

	__asm__ __volatile__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d)
			     : "a"(1), "c"(0));
	if (c & (1U << 30))
		for (tries = 0; tries < 10; tries++) {
			__asm__ __volatile__("rdrand %0; setc %1"
					     : "=r"(v), "=qm"(ok));
			if (ok)
				return v;
		}
	__asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
	return ((unsigned long)hi << 32 | lo) * 0x9e3779b97f4a7c15UL;
}

#endif /* HAKMEM_ARCH_IMPL_H */
