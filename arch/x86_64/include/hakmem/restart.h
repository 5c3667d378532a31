/* SPDX-License-Identifier: MIT */
/*
 * x86_64 restartable sections for the bare-metal fast paths (mm/malloc.c,
 * HAK_RESTART): the magazine pop and push without masking IRQs.
 *
 * Each section reads the CPU id, finds that CPU's magazine and commits
 * with one store of its top, the last instruction of the section. Nothing
 * before the commit is visible: slots at and above top are free space.
 * An interrupt or exception that lands inside a section must resume it at
 * its start: the embedder's entry code calls hak_restart_pc() on the
 * interrupted PC, which looks the PC up in the table these sections add to
 * (hakmem/restart_table.h). So a handler that allocates on the CPU it
 * interrupted, or a task switch that moves the interrupted code to another
 * CPU, is followed by a fresh run of the section on whatever CPU it then
 * runs on. The one write before a pop's
 * commit is its allocs counter: an interrupted and restarted pop counts
 * twice (statistics only, never fewer).
 *
 * The sections only read their inputs, so a restart finds them intact,
 * and use RCX and RDX as scratch (a pop's object comes out in RAX). The
 * CPU id is read as arch_cpu_id does (ARCH_X86_GS_CPU_OFFSET or RDPID).
 * ncpus and the per-CPU table are addressed absolutely, as the non-PIC
 * kernel code models (small, kernel) allow.
 *
 * Layout assumed (asserted in mm/layout.h): struct hak_mag is
 * { void **top; u64 allocs; void **base; void **limit; }.
 */
#ifndef HAKMEM_ARCH_RESTART_H
#define HAKMEM_ARCH_RESTART_H

#if defined(__PIC__) || defined(__PIE__)
#error "restartable sections need non-PIC code: build with HAK_RESTART=0"
#endif

#define ARCH_HAS_RESTART 1

#include "hakmem/restart_table.h"

#define ARCH_RESTART_STR2(x) #x
#define ARCH_RESTART_STR(x) ARCH_RESTART_STR2(x)

#ifdef ARCH_X86_CPU_ID_RDPID
#define ARCH_RESTART_CPU_ID "rdpid %%rdx\n\t"
#else
#define ARCH_RESTART_CPU_ID                                                    \
	"movl %%gs:" ARCH_RESTART_STR(ARCH_X86_GS_CPU_OFFSET) ", %%edx\n\t"
#endif

/* The table entry for the section from label 1 to label 2, then its
 * start: the CPU id, checked against ncpus (to bad on failure), and the
 * CPU's area in RDX. */
#define ARCH_RESTART_BEGIN(bad)                                                \
	HAK_RESTART_RECORD                                                     \
	"1:\n\t" ARCH_RESTART_CPU_ID "cmpl %c[heap]+%c[noff], %%edx\n\t"      \
	"jae " bad "\n\t"                                                      \
	"movq %c[heap]+%c[toff](, %%rdx, 8), %%rdx\n\t"

/*
 * The same start over a base address in a register (a created heap's or
 * an object cache's object, mm/heap.c and mm/cache.c): ncpus and the
 * per-CPU table at offsets noff and toff from base.
 */
#define ARCH_RESTART_BEGIN_R(bad)                                              \
	HAK_RESTART_RECORD                                                     \
	"1:\n\t" ARCH_RESTART_CPU_ID "cmpl %c[noff](%[heap]), %%edx\n\t"      \
	"jae " bad "\n\t"                                                      \
	"movq %c[toff](%[heap], %%rdx, 8), %%rdx\n\t"

/*
 * The operands: heap is the heap object's address (a link-time constant,
 * "i", for ARCH_RESTART_BEGIN; a register, "r", for _R), noff and toff
 * the offsets in it of ncpus (unsigned) and of the per-CPU table (an
 * array of pointers to the CPUs' areas); magoff the magazine's offset in
 * an area.
 *
 * Pop: p = the top object of the magazine at magoff in the CPU's area;
 * fail (ZF) is set when the section cannot serve (bad CPU id, empty
 * magazine) and p is then garbage. On success the last flag write is the
 * subq of a top that stays above its base: ZF clear.
 * The bad-id block is out of line in a section no function is in (a C
 * name has no dot): in the caller's own section (.text.unlikely holds
 * cold functions) it would follow the commit, and a success would fall
 * into it and report failure.
 */
#define ARCH_RESTART_POP_AS(begin, hc, p_, fail_, heap_, noff_, toff_,        \
			    magoff_)                                           \
	__asm__ volatile(begin("7f")                                           \
			 "movq (%%rdx, %[off]), %%rcx\n\t"                     \
			 "cmpq 16(%%rdx, %[off]), %%rcx\n\t"                   \
			 "je 8f\n\t"                                           \
			 "movq -8(%%rcx), %[obj]\n\t"                          \
			 "incq 8(%%rdx, %[off])\n\t"                           \
			 "subq $8, %%rcx\n\t"                                  \
			 "movq %%rcx, (%%rdx, %[off])\n\t"                     \
			 "2:\n\t"                                              \
			 ".pushsection .text.hak.fail, \"ax\"\n\t"             \
			 "7:\n\t" /* a bad id: set ZF, and out */              \
			 "cmpl %%edx, %%edx\n\t"                               \
			 "jmp 8f\n\t"                                          \
			 ".popsection\n\t"                                     \
			 "8:\n\t"                                              \
			 : [obj] "=&a"(p_), "=@ccz"(fail_)                     \
			 : [heap] hc(heap_), [noff] "i"(noff_),                \
			   [toff] "i"(toff_), [off] "r"(magoff_)               \
			 : "rcx", "rdx", "memory")

/* Push p on the magazine at magoff, or jump to the C label miss (bad CPU
 * id, full magazine). */
#define ARCH_RESTART_PUSH_AS(begin, hc, p_, heap_, noff_, toff_, magoff_,     \
			     miss_)                                            \
	__asm__ goto(begin("%l[" #miss_ "]")                                   \
		     "movq (%%rdx, %[off]), %%rcx\n\t"                         \
		     "cmpq 24(%%rdx, %[off]), %%rcx\n\t"                       \
		     "jae %l[" #miss_ "]\n\t"                                  \
		     "movq %[obj], (%%rcx)\n\t"                                \
		     "addq $8, %%rcx\n\t"                                      \
		     "movq %%rcx, (%%rdx, %[off])\n\t"                         \
		     "2:\n\t"                                                  \
		     :                                                         \
		     : [heap] hc(heap_), [noff] "i"(noff_), [toff] "i"(toff_), \
		       [off] "r"(magoff_), [obj] "r"(p_)                       \
		     : "rcx", "rdx", "memory", "cc"                            \
		     : miss_)

#define ARCH_RESTART_POP(p_, fail_, heap_, noff_, toff_, magoff_)             \
	ARCH_RESTART_POP_AS(ARCH_RESTART_BEGIN, "i", p_, fail_, heap_, noff_,  \
			    toff_, magoff_)
#define ARCH_RESTART_PUSH(p_, heap_, noff_, toff_, magoff_, miss_)            \
	ARCH_RESTART_PUSH_AS(ARCH_RESTART_BEGIN, "i", p_, heap_, noff_, toff_, \
			     magoff_, miss_)
#define ARCH_RESTART_POP_R(p_, fail_, base_, noff_, toff_, magoff_)           \
	ARCH_RESTART_POP_AS(ARCH_RESTART_BEGIN_R, "r", p_, fail_, base_,       \
			    noff_, toff_, magoff_)
#define ARCH_RESTART_PUSH_R(p_, base_, noff_, toff_, magoff_, miss_)          \
	ARCH_RESTART_PUSH_AS(ARCH_RESTART_BEGIN_R, "r", p_, base_, noff_,      \
			     toff_, magoff_, miss_)

#endif /* HAKMEM_ARCH_RESTART_H */
