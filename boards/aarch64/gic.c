/* SPDX-License-Identifier: MIT */
/*
 * gic.c - GICv2 or GICv3 (whichever QEMU virt was given; probed from
 * ID_AA64PFR0_EL1.GIC and GICD_PIDR2), used only for the EL1 virtual timer PPI.
 *
 * GICv2: distributor + memory-mapped CPU interface, everything Group 0
 * (QEMU's virt GIC has no security extensions when EL3 is absent, so
 * Group 0 is signalled as IRQ). GICv3: affinity routing, the timer PPI in
 * Group 1 on the CPU's redistributor, system-register CPU interface.
 */
#include "board_priv.h"

#define GICD_CTLR 0x0000
#define GICD_PIDR2 0xffe8	/* GICv3 */
#define GICD_PIDR2_V2 0x0fe8
#define GICD_CTLR_RWP (1U << 31)

/* GICv2 */
#define GICD_ISENABLER0 0x0100
#define GICD_IPRIORITYR 0x0400
#define GICC_CTLR 0x0000
#define GICC_PMR 0x0004
#define GICC_BPR 0x0008
#define GICC_IAR 0x000c
#define GICC_EOIR 0x0010

/* GICv3 redistributor: RD_base frame, then SGI_base frame at +64 KiB. */
#define GICR_TYPER 0x0008
#define GICR_WAKER 0x0014
#define GICR_SGI 0x10000
#define GICR_IGROUPR0 0x0080
#define GICR_ISENABLER0 0x0100
#define GICR_IPRIORITYR 0x0400
#define GICR_TYPER_VLPIS (1UL << 1)
#define GICR_TYPER_LAST (1UL << 4)
#define GICR_WAKER_SLEEP (1U << 1)
#define GICR_WAKER_CHILDREN_ASLEEP (1U << 2)

#define TIMER_PRIO 0xa0U
#define PMR_ALL 0xf0U

static unsigned gic_version;

static inline unsigned rd32(unsigned long a)
{
	return *(volatile unsigned *)a;
}

static inline void wr32(unsigned long a, unsigned v)
{
	*(volatile unsigned *)a = v;
}

static inline unsigned long rd64(unsigned long a)
{
	return *(volatile unsigned long *)a;
}

/* GICv3 CPU interface registers by encoding (assembler-version proof). */
#define ICC_PMR_EL1 "S3_0_C4_C6_0"
#define ICC_IAR1_EL1 "S3_0_C12_C12_0"
#define ICC_EOIR1_EL1 "S3_0_C12_C12_1"
#define ICC_BPR1_EL1 "S3_0_C12_C12_3"
#define ICC_CTLR_EL1 "S3_0_C12_C12_4"
#define ICC_SRE_EL1 "S3_0_C12_C12_5"
#define ICC_IGRPEN1_EL1 "S3_0_C12_C12_7"

/* Set byte `intid` of a priority register block with a word access. */
static void set_prio(unsigned long block, unsigned intid, unsigned prio)
{
	unsigned long a = block + (intid & ~3U);
	unsigned shift = (intid & 3U) * 8;
	unsigned v = rd32(a);

	v &= ~(0xffU << shift);
	v |= prio << shift;
	wr32(a, v);
}

static void gicd_wait_rwp(void)
{
	unsigned long spins = 0;

	while ((rd32(BOARD_GICD_BASE + GICD_CTLR) & GICD_CTLR_RWP) &&
	       ++spins < 100000000UL)
		;
}

/*
 * The ID registers sit at the end of a 4 KiB distributor on GICv2 and of a
 * 64 KiB one on GICv3 (QEMU's GICv2 frame is 4 KiB: touching 0xffe8 there
 * aborts), so pick the frame from ID_AA64PFR0_EL1.GIC, which says whether
 * this CPU has the GICv3 system-register interface.
 */
unsigned board_gic_init_dist(void)
{
	unsigned long pfr0 = SYSREG_READ("id_aa64pfr0_el1");
	unsigned long pidr2 = ((pfr0 >> 24) & 0xf) ? GICD_PIDR2 : GICD_PIDR2_V2;
	unsigned rev = (rd32(BOARD_GICD_BASE + pidr2) >> 4) & 0xf;

	if (rev == 1 || rev == 2) {
		gic_version = 2;
		wr32(BOARD_GICD_BASE + GICD_CTLR, 0);
		wr32(BOARD_GICD_BASE + GICD_CTLR, 1);
	} else if (rev == 3 || rev == 4) {
		gic_version = 3;
		wr32(BOARD_GICD_BASE + GICD_CTLR, 0);
		gicd_wait_rwp();
		/* ARE first, then the group enables (bit0/bit1: Group 0 and
		 * Group 1 with DS=1; both Group 1 NS bits in the NS view). */
		wr32(BOARD_GICD_BASE + GICD_CTLR, 1U << 4);
		gicd_wait_rwp();
		wr32(BOARD_GICD_BASE + GICD_CTLR, (1U << 4) | 3U);
		gicd_wait_rwp();
	} else {
		gic_version = 0;
	}
	return gic_version;
}

static unsigned long gicr_find(unsigned long mpidr)
{
	unsigned long aff = (mpidr & 0xffffffUL) | ((mpidr >> 8) & 0xff000000UL);
	unsigned long rd = BOARD_GICR_BASE;

	while (rd < BOARD_GICR_END) {
		unsigned long typer = rd64(rd + GICR_TYPER);

		if ((typer >> 32) == aff)
			return rd;
		if (typer & GICR_TYPER_LAST)
			break;
		rd += (typer & GICR_TYPER_VLPIS) ? 0x40000UL : 0x20000UL;
	}
	return 0;
}

int board_gic_init_cpu(unsigned long mpidr)
{
	if (gic_version == 2) {
		/* SGI/PPI enables and priorities are banked per CPU. */
		set_prio(BOARD_GICD_BASE + GICD_IPRIORITYR, BOARD_TIMER_INTID,
			 TIMER_PRIO);
		wr32(BOARD_GICD_BASE + GICD_ISENABLER0,
		     1U << BOARD_TIMER_INTID);
		wr32(BOARD_GICC_BASE + GICC_PMR, PMR_ALL);
		wr32(BOARD_GICC_BASE + GICC_BPR, 0);
		wr32(BOARD_GICC_BASE + GICC_CTLR, 1);
		return 0;
	}
	if (gic_version == 3) {
		unsigned long rd = gicr_find(mpidr), sgi, spins = 0;

		if (!rd)
			return -1;
		sgi = rd + GICR_SGI;
		wr32(rd + GICR_WAKER,
		     rd32(rd + GICR_WAKER) & ~GICR_WAKER_SLEEP);
		while ((rd32(rd + GICR_WAKER) & GICR_WAKER_CHILDREN_ASLEEP) &&
		       ++spins < 100000000UL)
			;
		wr32(sgi + GICR_IGROUPR0,
		     rd32(sgi + GICR_IGROUPR0) | (1U << BOARD_TIMER_INTID));
		set_prio(sgi + GICR_IPRIORITYR, BOARD_TIMER_INTID, TIMER_PRIO);
		wr32(sgi + GICR_ISENABLER0, 1U << BOARD_TIMER_INTID);

		SYSREG_WRITE(ICC_SRE_EL1, SYSREG_READ(ICC_SRE_EL1) | 1);
		isb();
		SYSREG_WRITE(ICC_PMR_EL1, PMR_ALL);
		SYSREG_WRITE(ICC_BPR1_EL1, 0);
		/* EOImode 0: the EOI write also deactivates. */
		SYSREG_WRITE(ICC_CTLR_EL1, SYSREG_READ(ICC_CTLR_EL1) & ~2UL);
		SYSREG_WRITE(ICC_IGRPEN1_EL1, 1);
		isb();
		return 0;
	}
	return -1;
}

unsigned long board_gic_ack(void)
{
	if (gic_version == 3)
		return SYSREG_READ(ICC_IAR1_EL1);
	return rd32(BOARD_GICC_BASE + GICC_IAR);
}

unsigned board_gic_intid(unsigned long iar)
{
	if (gic_version == 3)
		return (unsigned)(iar & 0xffffffUL);
	return (unsigned)(iar & 0x3ffUL);
}

void board_gic_eoi(unsigned long iar)
{
	if (gic_version == 3) {
		SYSREG_WRITE(ICC_EOIR1_EL1, iar);
		isb();
	} else {
		wr32(BOARD_GICC_BASE + GICC_EOIR, (unsigned)iar);
	}
}
