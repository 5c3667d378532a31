/* SPDX-License-Identifier: MIT */
/*
 * riscv64 primitives for the contract in include/hakmem/arch.h, for
 * supervisor mode (an S-mode kernel under SBI firmware such as OpenSBI).
 *
 * Requires RV64 with the A extension (LR/SC and AMOs: the compiler's
 * __atomic builtins become inline lr/sc loops and amo instructions) and
 * Zicsr. The CPU id is the dense index the kernel keeps in tp (the thread
 * pointer, which a kernel without user threads, or one that keeps its
 * per-CPU pointer elsewhere, is free to use; -DARCH_RV_CPU_ID_SSCRATCH
 * reads sscratch instead). IRQs are masked through sstatus.SIE. RISC-V
 * memory ordering is weak (RVWMO): every publication goes through the
 * builtins' release/acquire orders.
 */
#ifndef HAKMEM_ARCH_IMPL_H
#define HAKMEM_ARCH_IMPL_H

#define ARCH_NAME "riscv64"
#define ARCH_CACHELINE 64
#define ARCH_PAGE_SHIFT 12
/* CTZ is an instruction only with Zbb; without it arch.h's portable one
 * (the compiler would call libgcc's __ctzdi2). */
#ifdef __riscv_zbb
#define ARCH_HAS_CTZ 1
#else
#define ARCH_HAS_CTZ 0
#endif

#define ARCH_RV_SSTATUS_SIE 2UL

static inline void arch_cpu_relax(void)
{
	/* Zihintpause's PAUSE; a FENCE with no effect on harts without it. */
	__asm__ __volatile__(".4byte 0x0100000f" ::: "memory");
}

#include "hakmem/arch_test.h"

static inline unsigned long arch_irq_save(void)
{
	unsigned long flags;

	__asm__ __volatile__("csrrci %0, sstatus, 2"
			     : "=r"(flags)
			     :
			     : "memory");
#ifdef HAK_TEST_IRQ_WINDOW
	if (flags & ARCH_RV_SSTATUS_SIE)
		hak_test_irq_off();
#endif
	return flags;
}

static inline void arch_irq_restore(unsigned long flags)
{
	if (flags & ARCH_RV_SSTATUS_SIE) {
#ifdef HAK_TEST_IRQ_WINDOW
		hak_test_irq_on();
#endif
		__asm__ __volatile__("csrsi sstatus, 2" ::: "memory");
	}
}

static inline int arch_irqs_disabled(void)
{
	unsigned long s;

	__asm__ __volatile__("csrr %0, sstatus" : "=r"(s)::"memory");
	return !(s & ARCH_RV_SSTATUS_SIE);
}

static inline unsigned arch_cpu_id(void)
{
	unsigned long id;

#ifdef ARCH_RV_CPU_ID_SSCRATCH
	__asm__ __volatile__("csrr %0, sscratch" : "=r"(id)::"memory");
#else
	__asm__ __volatile__("mv %0, tp" : "=r"(id)::"memory");
#endif
	return (unsigned)id;
}

/* tp = 0 is a valid id (CPU 0's): the owner check catches that alias. */
static inline int arch_cpu_id_source_ok(void)
{
	return 1;
}

/*
 * A hardware identity for the debug owner check. S-mode cannot read
 * mhartid; the SBI hands each hart its id at entry, and the kernel keeps
 * it in sscratch (the boards do), or in tp with ARCH_RV_CPU_ID_SSCRATCH.
 */
static inline unsigned long arch_cpu_hw_id(void)
{
	unsigned long v;

#ifdef ARCH_RV_CPU_ID_SSCRATCH
	__asm__ __volatile__("mv %0, tp" : "=r"(v));
#else
	__asm__ __volatile__("csrr %0, sscratch" : "=r"(v));
#endif
	return v;
}

/* No entropy source is guaranteed in S-mode (Zkr's seed CSR is often
 * M-mode only): the time counter, mixed. */
static inline unsigned long arch_entropy(void)
{
	unsigned long t;

	__asm__ __volatile__("rdtime %0" : "=r"(t));
	return t * 0x9e3779b97f4a7c15UL;
}

#endif /* HAKMEM_ARCH_IMPL_H */
