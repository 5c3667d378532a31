/* SPDX-License-Identifier: MIT */
/*
 * boot.S - x86_64 QEMU board entry.
 *
 * QEMU's -kernel loads this ELF and its PVH option ROM jumps to the
 * address in the XEN_ELFNOTE_PHYS32_ENTRY note in 32-bit protected mode,
 * paging off, %ebx = physical address of the hvm_start_info block.
 *
 * Both the boot CPU and the secondaries (after the real-mode trampoline)
 * go through the same 32-bit -> long mode switch, on static identity-mapped
 * page tables covering the first 4 GiB (2 MiB pages, the first 4 KiB page
 * left unmapped to catch NULL dereferences, 3-4 GiB uncached for the LAPIC
 * and other MMIO).
 *
 * BOARD_KERNEL_VMA is the link address minus the load address: 0 for the
 * identity-mapped images, 0xffffffff80000000 for the higher-half one
 * (linker/x86_64-high.ld, -mcmodel=kernel). Everything used before long
 * mode - the 32-bit entry, the AP trampoline, the boot GDT pointer, the
 * page tables' own links - names physical addresses through PHYS(); the
 * higher-half image also maps the top 2 GiB onto physical 0-2 GiB, and
 * each CPU leaves the identity alias for its linked address (GO_HIGH)
 * right after entering long mode. The identity map stays: ACPI tables,
 * the trampoline page and MMIO are reached by physical address.
 */

#ifndef BOARD_KERNEL_VMA
#define BOARD_KERNEL_VMA 0
#endif
#if BOARD_KERNEL_VMA != 0 && BOARD_KERNEL_VMA != 0xffffffff80000000
#error "the page tables below map only 0xffffffff80000000 as the kernel base"
#endif
#define PHYS(sym)	((sym) - BOARD_KERNEL_VMA)

#define MSR_EFER	0xc0000080
#define EFER_LME	(1 << 8)
#define CR0_PE		(1 << 0)
#define CR0_NW		(1 << 29)
#define CR0_CD		(1 << 30)
#define CR0_PG		(1 << 31)
#define CR4_PAE		(1 << 5)

#define SEL_CODE64	0x08
#define SEL_DATA	0x10
#define SEL_CODE32	0x18

#define MAX_CPUS	64
#define STACK_SIZE	16384

#define PTE_P		0x001
#define PTE_RW		0x002
#define PTE_PWT		0x008
#define PTE_PCD		0x010
#define PTE_PS		0x080

/* ---- PVH entry note ------------------------------------------------- */

	.section .note.Xen, "a", @note
	.p2align 2
	.long	4			/* namesz: "Xen\0" */
	.long	8			/* descsz */
	.long	18			/* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz	"Xen"
	.p2align 2
	.quad	PHYS(pvh_start32)	/* QEMU reads 64 bits for ELF64 */
	.p2align 2

/* The linker script checks that it links where this file was built for. */
	.globl	board_kernel_vma
	.set	board_kernel_vma, BOARD_KERNEL_VMA

/* ---- 32-bit entry, shared switch to long mode ----------------------- */

/* From flat 32-bit protected mode: enable PAE + LME + paging, far jump. */
.macro ENTER_LONG target
	movl	%cr4, %eax
	orl	$CR4_PAE, %eax
	movl	%eax, %cr4
	movl	$PHYS(pml4), %eax
	movl	%eax, %cr3
	movl	$MSR_EFER, %ecx
	rdmsr
	orl	$EFER_LME, %eax
	wrmsr
	movl	%cr0, %eax
	andl	$~(CR0_CD | CR0_NW), %eax
	orl	$(CR0_PG | CR0_PE), %eax
	movl	%eax, %cr0
	ljmp	$SEL_CODE64, $PHYS(\target)
.endm

/*
 * In long mode on the identity alias: continue at the linked address.
 * Nothing to do when they are the same.
 */
.macro GO_HIGH
#if BOARD_KERNEL_VMA
	movabsq	$.Lhigh\@, %rax
	jmp	*%rax
.Lhigh\@:
#endif
.endm

	.section .text.boot, "ax"
	.code32
	.globl	pvh_start32
pvh_start32:
	cli
	cld
	movl	%ebx, PHYS(pvh_start_info)
	lgdt	PHYS(boot_gdtr)
	ljmp	$SEL_CODE32, $PHYS(1f)
1:	movl	$SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	ENTER_LONG bsp_entry64

	.globl	ap_entry32
ap_entry32:
	movl	$SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	movl	%eax, %fs
	movl	%eax, %gs
	ENTER_LONG ap_entry64

	.code64
bsp_entry64:
	GO_HIGH
	movl	$SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	xorl	%eax, %eax
	movl	%eax, %fs
	movl	%eax, %gs
	/* Zero .bss (it holds the stacks, so before the first push). */
	movq	$__bss_start, %rdi
	movq	$__bss_end, %rcx
	subq	%rdi, %rcx
	rep stosb
	movq	$(board_stacks + STACK_SIZE), %rsp
	xorl	%ebp, %ebp
	call	board_bsp_main
2:	cli
	hlt
	jmp	2b

ap_entry64:
	GO_HIGH
	movl	$SEL_DATA, %eax
	movl	%eax, %ds
	movl	%eax, %es
	movl	%eax, %ss
	xorl	%eax, %eax
	movl	%eax, %fs
	movl	%eax, %gs
	movq	ap_boot_stack(%rip), %rsp
	xorl	%ebp, %ebp
	movl	ap_boot_cpu(%rip), %edi
	call	board_ap_main
3:	cli
	hlt
	jmp	3b

/* ---- real-mode trampoline, copied below 1 MiB by board.c ------------ */

	.code16
	.globl	ap_tramp_start
	.globl	ap_tramp_end
ap_tramp_start:
	cli
	cld
	movw	%cs, %ax
	movw	%ax, %ds
	lgdtl	boot_gdtr - ap_tramp_start
	movl	%cr0, %eax
	orl	$CR0_PE, %eax
	movl	%eax, %cr0
	ljmpl	$SEL_CODE32, $PHYS(ap_entry32)
/*
 * The GDT pointer of protected mode (a 32-bit physical base), for the
 * trampoline's copy and for pvh_start32 in place. Long mode reloads the
 * GDT through gdt_ptr, at its linked address (board.c).
 */
	.p2align 3
boot_gdtr:
	.word	gdt_end - gdt - 1
	.long	PHYS(gdt)
ap_tramp_end:

/* ---- interrupt / exception stubs ------------------------------------ */

	.code64
	.text
/*
 * One stub per vector: push a dummy error code where the CPU pushes none,
 * push the vector, join the common path. isr_table[v] is stub v's address.
 */
	.pushsection .rodata.isr_table, "a"
	.p2align 3
	.globl	isr_table
isr_table:
	.popsection

	.set	vec, 0
	.rept	256
	.pushsection .rodata.isr_table, "a"
	.quad	1f
	.popsection
1:
	.if (vec == 8) || (vec == 10) || (vec == 11) || (vec == 12) || (vec == 13) || (vec == 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	.else
	pushq	$0
	.endif
	pushq	$vec
	jmp	isr_common
	.set	vec, vec + 1
	.endr

isr_common:
	cld
	pushq	%rax
	pushq	%rbx
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%rbp
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	movq	%rsp, %rdi
	call	board_trap
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rbp
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rbx
	popq	%rax
	addq	$16, %rsp		/* vector, error code */
	iretq

/* ---- data: GDT, page tables ----------------------------------------- */

	.data
	.globl	pvh_start_info
	.p2align 3
pvh_start_info:
	.quad	0

/*
 * 0x00 null, 0x08 code64, 0x10 data, 0x18 code32, then one 16-byte TSS
 * descriptor per CPU at 0x20 + 16 * cpu (filled in by board.c).
 */
	.globl	gdt
	.globl	gdt_end
	.p2align 4
gdt:
	.quad	0
	.quad	0x00af9a000000ffff
	.quad	0x00cf92000000ffff
	.quad	0x00cf9a000000ffff
	.fill	2 * MAX_CPUS, 8, 0
gdt_end:

	.globl	gdt_ptr
	.p2align 3
gdt_ptr:				/* 2-byte limit, then 8-byte base */
	.word	gdt_end - gdt - 1
	.quad	gdt

	.p2align 12
pml4:
	.quad	PHYS(pdpt) + (PTE_P | PTE_RW)
#if BOARD_KERNEL_VMA
	.fill	510, 8, 0
	.quad	PHYS(pdpt_high) + (PTE_P | PTE_RW)
#else
	.fill	511, 8, 0
#endif

pdpt:
	.quad	PHYS(pd) + 0 * 4096 + (PTE_P | PTE_RW)
	.quad	PHYS(pd) + 1 * 4096 + (PTE_P | PTE_RW)
	.quad	PHYS(pd) + 2 * 4096 + (PTE_P | PTE_RW)
	.quad	PHYS(pd) + 3 * 4096 + (PTE_P | PTE_RW)
	.fill	508, 8, 0

#if BOARD_KERNEL_VMA
/*
 * The top 2 GiB (PML4 511, PDPT 510-511) onto physical 0-2 GiB through the
 * identity map's own page directories: the image, its stacks and the heap
 * after it, with page 0 unmapped here too.
 */
pdpt_high:
	.fill	510, 8, 0
	.quad	PHYS(pd) + 0 * 4096 + (PTE_P | PTE_RW)
	.quad	PHYS(pd) + 1 * 4096 + (PTE_P | PTE_RW)
#endif

/* First 2 MiB in 4 KiB pages so that page 0 stays unmapped. */
pt0:
	.quad	0
	.set	i, 1
	.rept	511
	.quad	(i << 12) | (PTE_P | PTE_RW)
	.set	i, i + 1
	.endr

pd:
	.quad	PHYS(pt0) + (PTE_P | PTE_RW)
	.set	i, 1
	.rept	3 * 512 - 1
	.quad	(i << 21) | (PTE_P | PTE_RW | PTE_PS)
	.set	i, i + 1
	.endr
	.rept	512			/* 3-4 GiB: MMIO (LAPIC, IOAPIC, ...) */
	.quad	(i << 21) | (PTE_P | PTE_RW | PTE_PS | PTE_PCD | PTE_PWT)
	.set	i, i + 1
	.endr

	.section .note.GNU-stack, "", @progbits
