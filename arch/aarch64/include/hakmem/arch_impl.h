/* SPDX-License-Identifier: MIT */
/*
 * aarch64 primitives for the contract in include/hakmem/arch.h.
 *
 * The CPU id is the dense index the boot code stores in TPIDR_EL1 (MPIDR
 * affinity values are sparse, so they are mapped at boot). IRQs are masked
 * through DAIF.I. Word atomics come from the compiler builtins: LDXR/STXR
 * loops for -march=armv8-a, LSE instructions (CAS, LDADD, SWP) for
 * armv8.1-a (build with -mno-outline-atomics so they stay inline).
 * aarch64 is weakly ordered: every publication of a pointer another CPU
 * follows is a release store matched by an acquire load.
 */
#ifndef HAKMEM_ARCH_IMPL_H
#define HAKMEM_ARCH_IMPL_H

#define ARCH_NAME "aarch64"
/* CTR_EL0 says 64 on most cores, 128 on some: pad for the larger one. */
#define ARCH_CACHELINE 128
#define ARCH_PAGE_SHIFT 12
#define ARCH_HAS_CTZ 1 /* RBIT + CLZ */

static inline void arch_cpu_relax(void)
{
	__asm__ __volatile__("yield" ::: "memory");
}

#include "hakmem/arch_test.h"

static inline unsigned long arch_irq_save(void)
{
	unsigned long flags;

	__asm__ __volatile__("mrs %0, daif\n\tmsr daifset, #2"
			     : "=r"(flags)
			     :
			     : "memory");
#ifdef HAK_TEST_IRQ_WINDOW
	if (!(flags & (1UL << 7)))
		hak_test_irq_off();
#endif
	return flags;
}

static inline void arch_irq_restore(unsigned long flags)
{
#ifdef HAK_TEST_IRQ_WINDOW
	if (!(flags & (1UL << 7)))
		hak_test_irq_on();
#endif
	__asm__ __volatile__("msr daif, %0" ::"r"(flags) : "memory");
}

static inline int arch_irqs_disabled(void)
{
	unsigned long flags;

	__asm__ __volatile__("mrs %0, daif" : "=r"(flags)::"memory");
	return (flags & (1UL << 7)) != 0;
}

/*
 * The CPU id source, chosen at build time:
 *   ARCH_A64_CPU_ID_SYSREG   the system register to read (default
 *                            tpidr_el1; tpidrro_el0, tpidr_el2 or any
 *                            other the kernel leaves to hakmem)
 *   ARCH_A64_CPU_ID_OFFSET   if defined, the register holds the kernel's
 *                            per-CPU base (as Linux keeps its per-CPU
 *                            offset in TPIDR_EL1) and the dense index is
 *                            the 32-bit word at base + offset; else the
 *                            register holds the index itself
 */
#include "hakmem/arch_regs.h"

static inline unsigned arch_cpu_id(void)
{
	unsigned long v;

	__asm__ __volatile__("mrs %0, " ARCH_A64_STR(ARCH_A64_CPU_ID_SYSREG)
			     : "=r"(v)::"memory");
#ifdef ARCH_A64_CPU_ID_OFFSET
	return *(const volatile unsigned *)(v + ARCH_A64_CPU_ID_OFFSET);
#else
	return (unsigned)v;
#endif
}

/* An id register left at 0 is a valid id (CPU 0's): the owner check
 * (HAK_CHECK_CPU_OWNER) catches that alias instead. A per-CPU base of 0
 * is never valid. */
static inline int arch_cpu_id_source_ok(void)
{
#ifdef ARCH_A64_CPU_ID_OFFSET
	unsigned long v;

	__asm__ __volatile__("mrs %0, " ARCH_A64_STR(ARCH_A64_CPU_ID_SYSREG)
			     : "=r"(v));
	return v != 0;
#else
	return 1;
#endif
}

#ifdef ARCH_HAS_PCPU_REG
/* The per-CPU pointer (arch_regs.h): this CPU's, or NULL while unset. */
static inline void *arch_pcpu_reg_get(void)
{
	void *v;

	__asm__ __volatile__("mrs %0, " ARCH_A64_STR(ARCH_A64_PCPU_SYSREG)
			     : "=r"(v)::"memory");
	return v;
}

static inline void arch_pcpu_reg_set(void *p)
{
	__asm__ __volatile__("msr " ARCH_A64_STR(ARCH_A64_PCPU_SYSREG) ", %0"
			     ::"r"(p)
			     : "memory");
}
#endif

/*
 * The address of a page-aligned object in one instruction: ADRP alone,
 * since the object's offset in its page is 0 (the compiler would add
 * the low 12 bits, not knowing that). Only for an object whose
 * definition asserts the alignment (mm/init.c, hak_heap).
 */
#define ARCH_PAGE_OBJ_ADDR(ptr_, obj_)                                         \
	__asm__("adrp %0, %1" : "=r"(ptr_) : "S"(&(obj_)))

/* A hardware identity of this CPU: MPIDR_EL1's affinity fields. */
static inline unsigned long arch_cpu_hw_id(void)
{
	unsigned long v;

	__asm__ __volatile__("mrs %0, mpidr_el1" : "=r"(v));
	return v & 0xff00ffffffUL;
}

/*
 * Entropy for the heap's secret, once at init: RNDR (FEAT_RNG, advertised
 * in ID_AA64ISAR0_EL1.RNDR) when present, else the virtual counter. RNDR
 * sets Z on failure: a few tries, then the counter.
 */
static inline unsigned long arch_entropy(void)
{
	unsigned long isar0, v, nzcv, tries;

	__asm__ __volatile__("mrs %0, id_aa64isar0_el1" : "=r"(isar0));
	if ((isar0 >> 60) & 0xf)
		for (tries = 0; tries < 10; tries++) {
			__asm__ __volatile__("mrs %0, s3_3_c2_c4_0\n\t" /* RNDR */
					     "mrs %1, nzcv"
					     : "=r"(v), "=r"(nzcv));
			if (!(nzcv & (1UL << 30)))
				return v;
		}
	__asm__ __volatile__("mrs %0, cntvct_el0" : "=r"(v));
	return v * 0x9e3779b97f4a7c15UL;
}

#endif /* HAKMEM_ARCH_IMPL_H */
