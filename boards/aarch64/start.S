/* SPDX-License-Identifier: MIT */
/*
 * start.S - boot, secondary entry, exception vectors and the identity
 * page tables for QEMU -M virt (ELF loaded with -kernel, entered at EL1).
 *
 * Translation: 4 KiB granule, TTBR0 only, 32-bit VA (T0SZ = 32) so the walk
 * starts at level 1. L1[0] points to an L2 table mapping the device window
 * 0x08000000-0x091fffff (GIC, UART) as Device-nGnRE; L1[1] maps RAM
 * 0x40000000-0x7fffffff as one Normal WB cacheable, Inner Shareable block.
 * Everything else faults.
 */
#include "board_priv.h"

/* MAIR_EL1: attr0 = Normal Inner/Outer WB RW-allocate, attr1 = Device-nGnRE */
#define MAIR_VALUE 0x04ff
/* TCR_EL1: T0SZ=32, IRGN0=ORGN0=WB-WA, SH0=Inner, TG0=4K, EPD1, TG1=4K, IPS=32 bit */
#define TCR_LO 0x3520
#define TCR_HI 0x8080
/* SCTLR_EL1: RES1 bits (v8.0) | M | C | SA | I */
#define SCTLR_LO 0x180d
#define SCTLR_HI 0x30d0

#define DESC_BLOCK (1 << 0)
#define DESC_TABLE (3 << 0)
#define ATTR_NORMAL (0 << 2)
#define ATTR_DEVICE (1 << 2)
#define SH_INNER (3 << 8)
#define AF (1 << 10)
#define PXN (1 << 53)
#define UXN (1 << 54)
#define NORMAL_BLOCK (DESC_BLOCK | ATTR_NORMAL | SH_INNER | AF | UXN)
#define DEVICE_BLOCK (DESC_BLOCK | ATTR_DEVICE | AF | PXN | UXN)

/*
 * Point this CPU's id register (BOARD_ID_SYSREG, what arch_cpu_id() reads)
 * at dense index \idx: the index itself or, with ARCH_A64_CPU_ID_OFFSET,
 * the base of its board_percpu slot (board.c fills in the index word).
 * No memory access: the MMU may still be off. Clobbers \tmp.
 */
	.macro	set_cpu_id idx, tmp
#ifdef ARCH_A64_CPU_ID_OFFSET
	adrp	\tmp, board_percpu
	add	\tmp, \tmp, :lo12:board_percpu
	add	\tmp, \tmp, \idx, lsl #BOARD_PERCPU_SHIFT
	msr	BOARD_ID_SYSREG, \tmp
#else
	msr	BOARD_ID_SYSREG, \idx
#endif
#ifdef ARCH_HAS_PCPU_REG
	msr	ARCH_A64_PCPU_SYSREG, xzr
#endif
	.endm

/*
 * This CPU's slot 0..BOARD_MAX_CPUS-1 for the board's own per-CPU stacks,
 * from the id register alone: the fault path must not load through a
 * per-CPU base a broken setup left bad. A bad id picks some slot.
 */
	.macro	get_cpu_slot xd, tmp
	mrs	\xd, BOARD_ID_SYSREG
#ifdef ARCH_A64_CPU_ID_OFFSET
	adrp	\tmp, board_percpu
	add	\tmp, \tmp, :lo12:board_percpu
	sub	\xd, \xd, \tmp
	lsr	\xd, \xd, #BOARD_PERCPU_SHIFT
#endif
	and	\xd, \xd, #(BOARD_MAX_CPUS - 1)
	.endm

	.section .text.boot, "ax"
	.global _start
	.type _start, %function
_start:
	msr	daifset, #0xf
	mov	x19, x0			/* DTB pointer if QEMU passed one */
	mrs	x1, CurrentEL
	ubfx	x1, x1, #2, #2
	cmp	x1, #1
	b.ne	wrong_el
	mov	x1, #0			/* boot CPU is dense index 0 */
	set_cpu_id x1, x2
	adrp	x1, board_vectors
	add	x1, x1, :lo12:board_vectors
	msr	vbar_el1, x1
	isb
	bl	mmu_on
	/* Stack of CPU 0: top of board_stacks[0]. */
	adrp	x1, board_stacks
	add	x1, x1, :lo12:board_stacks
	mov	x2, #BOARD_STACK_SIZE
	add	x1, x1, x2
	mov	sp, x1
	/* Zero .bss (16-byte aligned bounds from the linker script). */
	adrp	x1, __bss_start
	add	x1, x1, :lo12:__bss_start
	adrp	x2, __bss_end
	add	x2, x2, :lo12:__bss_end
1:	cmp	x1, x2
	b.hs	2f
	stp	xzr, xzr, [x1], #16
	b	1b
2:	msr	daifclr, #4		/* report SErrors */
	mov	x0, x19
	bl	board_boot_main
	b	board_park
	.size _start, . - _start

/*
 * PSCI CPU_ON lands here at EL1, MMU off, x0 = context id = dense index.
 * Nothing is read from memory before the MMU (and so coherency) is on.
 */
	.global board_secondary_entry
	.type board_secondary_entry, %function
board_secondary_entry:
	msr	daifset, #0xf
	mov	x19, x0
	set_cpu_id x19, x1
	adrp	x1, board_vectors
	add	x1, x1, :lo12:board_vectors
	msr	vbar_el1, x1
	isb
	bl	mmu_on
	adrp	x1, board_stacks
	add	x1, x1, :lo12:board_stacks
	mov	x2, #BOARD_STACK_SIZE
	add	x3, x19, #1
	madd	x1, x3, x2, x1
	mov	sp, x1
	msr	daifclr, #4
	mov	x0, x19
	bl	board_secondary_main
	b	board_park
	.size board_secondary_entry, . - board_secondary_entry

/* Leaf: program MAIR/TCR/TTBR0, turn on MMU and caches. Clobbers x1. */
	.type mmu_on, %function
mmu_on:
	mov	x1, #MAIR_VALUE
	msr	mair_el1, x1
	movz	x1, #TCR_LO
	movk	x1, #TCR_HI, lsl #16
	msr	tcr_el1, x1
	adrp	x1, board_l1_table
	msr	ttbr0_el1, x1
	isb
	tlbi	vmalle1
	ic	iallu
	dsb	nsh
	isb
	movz	x1, #SCTLR_LO
	movk	x1, #SCTLR_HI, lsl #16
	msr	sctlr_el1, x1
	isb
	ic	iallu
	dsb	nsh
	isb
	ret
	.size mmu_on, . - mmu_on

	.global board_park
	.type board_park, %function
board_park:
	msr	daifset, #0xf
1:	wfi
	b	1b
	.size board_park, . - board_park

/* Not at EL1 (e.g. virtualization=on): say so on the UART, exit 4. */
wrong_el:
	mov	x1, #BOARD_UART_BASE
	adr	x2, wrong_el_msg
1:	ldrb	w3, [x2], #1
	cbz	w3, 2f
	str	w3, [x1]
	b	1b
2:	adr	x1, wrong_el_block
	mov	x0, #0x18
	hlt	#0xf000
	b	board_park
	.balign 8
wrong_el_block:
	.quad	0x20026, 4
wrong_el_msg:
	.asciz	"[board] FAIL: not entered at EL1 (run without virtualization=on)\n"

/* ---------------------------------------------------------------------- */
/* Exception vectors. Only "IRQ, current EL with SP_ELx" is expected;
 * everything else is reported as a fault. */

	.macro	vfault type
	.balign	0x80
	mov	x0, #\type
	b	fault_entry
	.endm

	.text
	.balign	2048
	.global board_vectors
board_vectors:
	vfault	0	/* current EL, SP_EL0: sync */
	vfault	1	/* irq */
	vfault	2	/* fiq */
	vfault	3	/* serror */
	vfault	4	/* current EL, SP_ELx: sync */
	.balign	0x80
	b	irq_entry	/* current EL, SP_ELx: irq */
	vfault	6	/* fiq */
	vfault	7	/* serror */
	vfault	8	/* lower EL, AArch64 */
	vfault	9
	vfault	10
	vfault	11
	vfault	12	/* lower EL, AArch32 */
	vfault	13
	vfault	14
	vfault	15

/* Switch to this CPU's fault stack (the faulting SP may be the problem). */
fault_entry:
	mov	x1, sp
	get_cpu_slot x2, x3
	add	x2, x2, #1
	lsl	x2, x2, #BOARD_FAULT_STACK_SHIFT
	adrp	x3, board_fault_stacks
	add	x3, x3, :lo12:board_fault_stacks
	add	x3, x3, x2
	mov	sp, x3
	bl	board_fault
	b	board_park

irq_entry:
	sub	sp, sp, #192
	stp	x0, x1, [sp, #0]
	stp	x2, x3, [sp, #16]
	stp	x4, x5, [sp, #32]
	stp	x6, x7, [sp, #48]
	stp	x8, x9, [sp, #64]
	stp	x10, x11, [sp, #80]
	stp	x12, x13, [sp, #96]
	stp	x14, x15, [sp, #112]
	stp	x16, x17, [sp, #128]
	stp	x18, x29, [sp, #144]
	mrs	x0, elr_el1
	mrs	x1, spsr_el1
	stp	x30, x0, [sp, #160]
	str	x1, [sp, #176]
	/* An interrupted hakmem fast path resumes at its start: first, before
	 * the handler can allocate (include/hakmem.h, hak_restart_pc). */
	bl	hak_restart_pc
	str	x0, [sp, #168]
	bl	board_irq
	ldr	x1, [sp, #176]
	ldp	x30, x0, [sp, #160]
	msr	elr_el1, x0
	msr	spsr_el1, x1
	ldp	x18, x29, [sp, #144]
	ldp	x16, x17, [sp, #128]
	ldp	x14, x15, [sp, #112]
	ldp	x12, x13, [sp, #96]
	ldp	x10, x11, [sp, #80]
	ldp	x8, x9, [sp, #64]
	ldp	x6, x7, [sp, #48]
	ldp	x4, x5, [sp, #32]
	ldp	x2, x3, [sp, #16]
	ldp	x0, x1, [sp, #0]
	add	sp, sp, #192
	eret

/* ---------------------------------------------------------------------- */
/* Identity page tables (static, so no code runs with the MMU off). */

	.section .data.pgtable, "aw"
	.balign	4096
	.global board_l1_table
board_l1_table:
	.quad	board_l2_low + DESC_TABLE	/* 0x00000000-0x3fffffff */
	.quad	BOARD_RAM_BASE + NORMAL_BLOCK	/* 0x40000000-0x7fffffff */
	.fill	510, 8, 0

	.balign	4096
board_l2_low:					/* 2 MiB blocks */
	.fill	(BOARD_GICD_BASE >> 21), 8, 0
	.set	blk, BOARD_GICD_BASE
	.rept	9				/* 0x08000000-0x091fffff */
	.quad	blk + DEVICE_BLOCK
	.set	blk, blk + 0x200000
	.endr
	.fill	512 - (BOARD_GICD_BASE >> 21) - 9, 8, 0

/* ---------------------------------------------------------------------- */
	.section .bss.stacks, "aw", %nobits
	.balign	4096
	.global board_stacks
board_stacks:
	.skip	BOARD_MAX_CPUS * BOARD_STACK_SIZE
	.balign	4096
board_fault_stacks:
	.skip	BOARD_MAX_CPUS << BOARD_FAULT_STACK_SHIFT
