/* SPDX-License-Identifier: MIT */
/*
 * start.S - riscv64 QEMU virt entry in S-mode, under OpenSBI.
 *
 * OpenSBI enters _start on the boot hart with a0 = hart id, a1 = DTB, and
 * board_secondary_entry on every hart started through SBI HSM hart_start
 * with a0 = hart id, a1 = the opaque word (here: the dense index). Each
 * hart gets: IRQs masked, stvec -> trap_entry, sscratch = hart id (what
 * arch_cpu_hw_id reads), tp = dense index (what arch_cpu_id reads), and
 * its own 16 KiB stack in board_stacks. Built with
 * -DARCH_RV_CPU_ID_SSCRATCH the two swap (the index in sscratch, the
 * hart id in tp), which leaves tp to a C library's TLS (the picolibc
 * images).
 */
#define STACK_SHIFT 14

/* set_ids hart, index: write the two id registers. */
	.macro	set_ids hart, idx
#ifdef ARCH_RV_CPU_ID_SSCRATCH
	csrw	sscratch, \idx
	mv	tp, \hart
#else
	csrw	sscratch, \hart
	mv	tp, \idx
#endif
	.endm

	.section .text.boot, "ax"
	.globl	_start
_start:
	/*
	 * One hart boots. OpenSBI's boot lottery should let only its winner
	 * in here, but it has been seen (1 run in 40 on QEMU 7.2's OpenSBI
	 * 1.1, boot hart 1) to send a second hart, which zeroed the bss
	 * under the first. A hart that loses this claim waits until the boot
	 * hart, whose hart_start for it then fails, hands it its index, and
	 * enters as a secondary. The claim and the hand-over live in .data,
	 * which the bss clearing does not touch.
	 */
	la	t0, boot_claimed
	li	t1, 1
	amoswap.w.aq t1, t1, (t0)
	bnez	t1, late_hart
	csrw	sie, zero
	csrci	sstatus, 2
	la	t0, trap_entry
	csrw	stvec, t0
	set_ids	a0, zero
	la	sp, board_stacks
	li	t0, 1 << STACK_SHIFT
	add	sp, sp, t0
	la	t0, __bss_start
	la	t1, __bss_end
1:	bgeu	t0, t1, 2f
	sd	zero, 0(t0)
	addi	t0, t0, 8
	j	1b
2:	call	board_boot_main		/* a0 = hart id, a1 = DTB */
park:	csrci	sstatus, 2
	wfi
	j	park

late_hart:
	csrw	sie, zero
	csrci	sstatus, 2
	li	t0, 256			/* MAX_HART_ID in board.c */
	bgeu	a0, t0, park
	la	t0, board_late_index
	slli	t1, a0, 2
	add	t0, t0, t1
1:	lw	a1, 0(t0)
	beqz	a1, 1b
	fence	r, rw
	addi	a1, a1, -1		/* index + 1 -> index */
	j	board_secondary_entry

	.section .data
	.balign	4
boot_claimed:
	.word	0
	.section .text.boot, "ax"

	.globl	board_secondary_entry
board_secondary_entry:
	csrw	sie, zero
	csrci	sstatus, 2
	la	t0, trap_entry
	csrw	stvec, t0
	set_ids	a0, a1
	la	sp, board_stacks
	addi	t0, a1, 1
	slli	t0, t0, STACK_SHIFT
	add	sp, sp, t0
	mv	a0, a1
	call	board_secondary_main
	j	park

/*
 * Traps (the timer interrupt, faults) run on the interrupted stack: the
 * board and the tests run in S-mode only. Caller-saved registers are
 * saved; C preserves the rest. tp is never touched by C code here, and
 * neither is sscratch.
 */
	.align	2
trap_entry:
	addi	sp, sp, -128
	sd	ra, 0(sp)
	sd	t0, 8(sp)
	sd	t1, 16(sp)
	sd	t2, 24(sp)
	sd	t3, 32(sp)
	sd	t4, 40(sp)
	sd	t5, 48(sp)
	sd	t6, 56(sp)
	sd	a0, 64(sp)
	sd	a1, 72(sp)
	sd	a2, 80(sp)
	sd	a3, 88(sp)
	sd	a4, 96(sp)
	sd	a5, 104(sp)
	sd	a6, 112(sp)
	sd	a7, 120(sp)
	csrr	a0, scause
	csrr	a1, sepc
	csrr	a2, stval
	call	board_trap
	ld	ra, 0(sp)
	ld	t0, 8(sp)
	ld	t1, 16(sp)
	ld	t2, 24(sp)
	ld	t3, 32(sp)
	ld	t4, 40(sp)
	ld	t5, 48(sp)
	ld	t6, 56(sp)
	ld	a0, 64(sp)
	ld	a1, 72(sp)
	ld	a2, 80(sp)
	ld	a3, 88(sp)
	ld	a4, 96(sp)
	ld	a5, 104(sp)
	ld	a6, 112(sp)
	ld	a7, 120(sp)
	addi	sp, sp, 128
	sret
