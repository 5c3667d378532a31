/* SPDX-License-Identifier: MIT */
/*
 * The system registers hakmem reads on aarch64, chosen at build time.
 * Only macros, so that an embedder's assembly (boards/aarch64/start.S)
 * sets up the same registers arch_impl.h and restart.h read.
 *
 *   ARCH_A64_CPU_ID_SYSREG   the CPU id: the dense index, or with
 *                            ARCH_A64_CPU_ID_OFFSET a per-CPU base
 *                            (arch_impl.h). Default tpidr_el1.
 *   ARCH_A64_PCPU_SYSREG     the per-CPU pointer of the bare-metal fast
 *                            paths (restart.h): 0 until hakmem's first
 *                            slow path on the CPU stores its area's
 *                            address there. The embedder zeroes it on
 *                            each CPU before that CPU's first hakmem
 *                            call and leaves it to hakmem. Default
 *                            tpidrro_el0 (EL1 writes it, EL0 may only
 *                            read it: an EL1 kernel without user code,
 *                            or one that gives its tasks TLS elsewhere).
 *   ARCH_A64_NO_PCPU_REG     no register to spare: the fast paths find
 *                            the area from the CPU id through the
 *                            per-CPU table (5 instructions more a
 *                            malloc, 6 a free: docs/guarantees.md).
 */
#ifndef HAKMEM_ARCH_REGS_H
#define HAKMEM_ARCH_REGS_H

#ifndef ARCH_A64_CPU_ID_SYSREG
#define ARCH_A64_CPU_ID_SYSREG tpidr_el1
#endif

#ifndef ARCH_A64_NO_PCPU_REG
#ifndef ARCH_A64_PCPU_SYSREG
#define ARCH_A64_PCPU_SYSREG tpidrro_el0
#endif
#define ARCH_HAS_PCPU_REG 1
#endif

#define ARCH_A64_STR2(x) #x
#define ARCH_A64_STR(x) ARCH_A64_STR2(x)

/*
 * The two must differ: hakmem's first slow path on a CPU would write its
 * area's address over the CPU id, and the fast paths would take an id for
 * an area. Told apart here for the registers an EL1 kernel spares (an
 * unknown name reads as 0: not checked here; hak_remote_poll then panics
 * when the id no longer reads back after the register is set).
 */
#define ARCH_A64_REGNO_tpidr_el0 1
#define ARCH_A64_REGNO_tpidrro_el0 2
#define ARCH_A64_REGNO_tpidr_el1 3
#define ARCH_A64_REGNO_tpidr_el2 4
#define ARCH_A64_REGNO2(r) ARCH_A64_REGNO_##r
#define ARCH_A64_REGNO(r) ARCH_A64_REGNO2(r)
#if defined(ARCH_HAS_PCPU_REG) &&                                            \
	ARCH_A64_REGNO(ARCH_A64_CPU_ID_SYSREG) != 0 &&                        \
	ARCH_A64_REGNO(ARCH_A64_CPU_ID_SYSREG) ==                             \
		ARCH_A64_REGNO(ARCH_A64_PCPU_SYSREG)
#error "ARCH_A64_CPU_ID_SYSREG and ARCH_A64_PCPU_SYSREG name one register: give ARCH_A64_PCPU_SYSREG another, or -DARCH_A64_NO_PCPU_REG"
#endif

#endif /* HAKMEM_ARCH_REGS_H */
