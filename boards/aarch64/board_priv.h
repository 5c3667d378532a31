/* SPDX-License-Identifier: MIT */
/*
 * board_priv.h - constants and internal interfaces of the aarch64 QEMU
 * "virt" board layer. Included by start.S (constants only) and the C files.
 */
#ifndef HAKMEM_AARCH64_BOARD_PRIV_H
#define HAKMEM_AARCH64_BOARD_PRIV_H

#ifdef __ASSEMBLER__
#define BOARD_UL(x) x
#else
#define BOARD_UL(x) x##UL
#endif

/* Per-CPU resources are sized for this many CPUs (dense index 0..63). */
#define BOARD_MAX_CPUS 64
#define BOARD_STACK_SIZE 16384 /* normal stack per CPU */
#define BOARD_FAULT_STACK_SHIFT 12 /* 4 KiB fault stack per CPU */

/*
 * The CPU id register arch_cpu_id() reads (hakmem/arch_impl.h): the
 * board writes the same one. It holds the dense index itself or, built
 * with ARCH_A64_CPU_ID_OFFSET, the base of the CPU's slot in
 * board_percpu[] (1 << BOARD_PERCPU_SHIFT bytes each), whose 32-bit word
 * at that offset is the index. Any register EL1 may write works:
 * tpidr_el1, tpidr_el0, tpidrro_el0. The board zeroes hakmem's per-CPU
 * pointer register (ARCH_A64_PCPU_SYSREG, when the build has one) with
 * it, as the contract asks (hakmem/arch_regs.h).
 */
#include "hakmem/arch_regs.h"
#define BOARD_ID_SYSREG ARCH_A64_CPU_ID_SYSREG
#define BOARD_PERCPU_SHIFT 7

/* QEMU -M virt physical map (identity mapped). */
#define BOARD_RAM_BASE BOARD_UL(0x40000000)
#define BOARD_UART_BASE BOARD_UL(0x09000000) /* PL011 */
#define BOARD_GICD_BASE BOARD_UL(0x08000000) /* distributor (v2 and v3) */
#define BOARD_GICC_BASE BOARD_UL(0x08010000) /* GICv2 CPU interface */
#define BOARD_GICR_BASE BOARD_UL(0x080A0000) /* GICv3 redistributors ... */
#define BOARD_GICR_END BOARD_UL(0x09000000)  /* ... up to here (123 CPUs) */

/* EL1 virtual timer PPI. */
#define BOARD_TIMER_INTID 27

#ifndef __ASSEMBLER__

#include <stddef.h>

/* System registers by name or encoding (board.c, gic.c). */
#define SYSREG_WRITE(reg, v)                                                  \
	__asm__ __volatile__("msr " reg ", %0" ::"r"((unsigned long)(v))      \
			     : "memory")
#define SYSREG_READ(reg)                                                      \
	({                                                                    \
		unsigned long __v;                                            \
		__asm__ __volatile__("mrs %0, " reg : "=r"(__v)::"memory");   \
		__v;                                                          \
	})

static inline void isb(void)
{
	__asm__ __volatile__("isb" ::: "memory");
}

/* start.S */
extern char board_secondary_entry[];

#ifdef ARCH_A64_CPU_ID_OFFSET
/* board.c: the per-CPU areas BOARD_ID_SYSREG points into. */
struct board_percpu {
	unsigned char data[1UL << BOARD_PERCPU_SHIFT];
} __attribute__((aligned(1UL << BOARD_PERCPU_SHIFT)));
extern struct board_percpu board_percpu[BOARD_MAX_CPUS];
#endif

/* board.c */
void board_boot_main(unsigned long x0);
void board_secondary_main(unsigned long cpu);
void board_irq(void);
void board_fault(unsigned long type, unsigned long sp);

/* gic.c: returns the detected architecture revision (2 or 3), 0 if none. */
unsigned board_gic_init_dist(void);
int board_gic_init_cpu(unsigned long mpidr);
unsigned long board_gic_ack(void);	/* -> raw IAR value */
unsigned board_gic_intid(unsigned long iar);
void board_gic_eoi(unsigned long iar);

/* fdt.c */
struct board_fdt_info {
	unsigned ncpus;		/* cpu nodes stored in mpidr[] */
	unsigned cpus_seen;	/* cpu nodes found (may exceed the cap) */
	int psci_found;
	int psci_smc;		/* PSCI method "smc" (else "hvc") */
	unsigned long mpidr[BOARD_MAX_CPUS];
};
int board_fdt_valid(const void *blob, unsigned long max_size);
int board_fdt_scan(const void *blob, unsigned long max_size,
		   struct board_fdt_info *info);

/* MPIDR_EL1 affinity fields Aff3..Aff0 (drops MT, U and RES1 bits). */
#define BOARD_MPIDR_AFF_MASK 0xff00ffffffUL

#endif /* !__ASSEMBLER__ */
#endif
