/* SPDX-License-Identifier: MIT */
/*
 * aarch64 restartable sections for the bare-metal fast paths (mm/malloc.c,
 * HAK_RESTART): the magazine pop and push without masking IRQs.
 *
 * The contract is arch/x86_64/include/hakmem/restart.h's: each section
 * reads the CPU id, finds that CPU's magazine and commits with one store
 * (a pop stores top and its allocs counter together, with one STP), the
 * last instruction of the section; an interrupt or exception that lands
 * inside it resumes at its start, through the embedder calling
 * hak_restart_pc() on ELR_EL1 (the table: hakmem/restart_table.h).
 * Nothing before the commit is visible, so a pop or push interrupted on
 * one CPU simply runs again, on whichever CPU the code then runs. The sections only read their
 * inputs; scratch registers are x9..x13, declared clobbered.
 *
 * The CPU id is read as arch_cpu_id does (ARCH_A64_CPU_ID_SYSREG, and the
 * word at ARCH_A64_CPU_ID_OFFSET from it if that is defined).
 *
 * Layout assumed (asserted in mm/layout.h): struct hak_mag is
 * { void **top; u64 allocs; void **base; void **limit; }.
 */
#ifndef HAKMEM_ARCH_RESTART_H
#define HAKMEM_ARCH_RESTART_H

#define ARCH_HAS_RESTART 1

#include "hakmem/arch_regs.h"
#include "hakmem/restart_table.h"

#ifdef ARCH_A64_CPU_ID_OFFSET
#define ARCH_RESTART_CPU_ID                                                    \
	"mrs x9, " ARCH_A64_STR(ARCH_A64_CPU_ID_SYSREG) "\n\t"                 \
	"ldr w9, [x9, #" ARCH_A64_STR(ARCH_A64_CPU_ID_OFFSET) "]\n\t"
#else
#define ARCH_RESTART_CPU_ID                                                    \
	"mrs x9, " ARCH_A64_STR(ARCH_A64_CPU_ID_SYSREG) "\n\t"
#endif

/* The table entry for the section from label 1 to label 2, then its
 * start: the CPU id checked against ncpus (to bad on failure; all 64 bits
 * of the register, so stray high bits are a bad id, not an alias), and
 * the magazine's address in x11. */
#define ARCH_RESTART_BEGIN(bad)                                                \
	HAK_RESTART_RECORD                                                     \
	"1:\n\t" ARCH_RESTART_CPU_ID "ldr w10, [%[heap], #%[noff]]\n\t"       \
	"cmp x9, x10\n\t"                                                      \
	"b.hs " bad "\n\t"                                                     \
	"add x11, %[heap], x9, lsl #3\n\t"                                     \
	"ldr x11, [x11, #%[toff]]\n\t"                                         \
	"add x11, x11, %[off]\n\t"

/*
 * The operands: heap is the heap object's address, noff and toff the
 * offsets in it of ncpus (unsigned; a 32-bit load reaches 16 KiB) and of
 * the per-CPU table (a 64-bit load reaches 32 KiB); magoff the magazine's
 * offset in an area.
 *
 * Pop: p = the top object of the magazine at magoff in the CPU's area;
 * fail (Z) is set when the section cannot serve (bad CPU id, empty
 * magazine) and p is then garbage. On success the last flag write is the
 * compare of top with base, which found them unequal: Z clear.
 * The bad-id block is out of line in a section no function is in (a C
 * name has no dot): in the caller's own section (.text.unlikely holds
 * cold functions) it would follow the commit, and a success would fall
 * into it and report failure.
 */
#define ARCH_RESTART_POP_BODY                                                  \
	"ldp x12, x13, [x11]\n\t" /* top, allocs */                            \
	"ldr x10, [x11, #16]\n\t" /* base */                                   \
	"cmp x12, x10\n\t"                                                     \
	"b.eq 8f\n\t"                                                          \
	"ldr %[obj], [x12, #-8]!\n\t"                                          \
	"add x13, x13, #1\n\t"                                                 \
	"stp x12, x13, [x11]\n\t"                                              \
	"2:\n\t"                                                               \
	".pushsection .text.hak.fail, \"ax\"\n\t"                              \
	".balign 4\n\t" /* no function aligns this section */               \
	"7:\n\t" /* a bad id: set Z, and out */                                \
	"cmp x9, x9\n\t"                                                       \
	"b 8f\n\t"                                                             \
	".popsection\n\t"                                                      \
	"8:\n\t"

#define ARCH_RESTART_POP(p_, fail_, heap_, noff_, toff_, magoff_)              \
	__asm__ volatile(ARCH_RESTART_BEGIN("7f") ARCH_RESTART_POP_BODY        \
			 : [obj] "=&r"(p_), "=@cceq"(fail_)                    \
			 : [heap] "r"(heap_), [noff] "i"(noff_),               \
			   [toff] "i"(toff_), [off] "r"(magoff_)               \
			 : "x9", "x10", "x11", "x12", "x13", "memory")

/* Push p on the magazine at magoff, or branch to the C label miss (bad
 * CPU id, full magazine). */
#define ARCH_RESTART_PUSH_BODY(miss_)                                          \
	"ldr x12, [x11]\n\t"      /* top */                                    \
	"ldr x10, [x11, #24]\n\t" /* limit */                                  \
	"cmp x12, x10\n\t"                                                     \
	"b.hs %l[" #miss_ "]\n\t"                                              \
	"str %[obj], [x12], #8\n\t"                                            \
	"str x12, [x11]\n\t"                                                   \
	"2:\n\t"

#define ARCH_RESTART_PUSH(p_, heap_, noff_, toff_, magoff_, miss_)             \
	__asm__ goto(ARCH_RESTART_BEGIN("%l[" #miss_ "]")                      \
		     ARCH_RESTART_PUSH_BODY(miss_)                             \
		     :                                                         \
		     : [heap] "r"(heap_), [noff] "i"(noff_), [toff] "i"(toff_),  \
		       [off] "r"(magoff_), [obj] "r"(p_)                       \
		     : "x9", "x10", "x11", "x12", "x13", "memory", "cc"        \
		     : miss_)

#ifdef ARCH_HAS_PCPU_REG
/*
 * The default heap's sections where the per-CPU pointer register is
 * hakmem's (arch_regs.h): the area straight from it, no id, no bound, no
 * table. 0 (not set yet on this CPU) goes to bad like a bad id: the slow
 * path checks the id and sets the register (mm/percpu_cache.c). Same
 * operands, less heap, noff and toff.
 */
#define ARCH_RESTART_BEGIN_PCPU(bad)                                           \
	HAK_RESTART_RECORD                                                     \
	"1:\n\t"                                                               \
	"mrs x9, " ARCH_A64_STR(ARCH_A64_PCPU_SYSREG) "\n\t"                   \
	"cbz x9, " bad "\n\t"                                                  \
	"add x11, x9, %[off]\n\t"

#define ARCH_RESTART_POP_PCPU(p_, fail_, magoff_)                              \
	__asm__ volatile(ARCH_RESTART_BEGIN_PCPU("7f") ARCH_RESTART_POP_BODY   \
			 : [obj] "=&r"(p_), "=@cceq"(fail_)                    \
			 : [off] "r"(magoff_)                                  \
			 : "x9", "x10", "x11", "x12", "x13", "memory")

#define ARCH_RESTART_PUSH_PCPU(p_, magoff_, miss_)                             \
	__asm__ goto(ARCH_RESTART_BEGIN_PCPU("%l[" #miss_ "]")                 \
		     ARCH_RESTART_PUSH_BODY(miss_)                             \
		     :                                                         \
		     : [off] "r"(magoff_), [obj] "r"(p_)                       \
		     : "x9", "x10", "x11", "x12", "x13", "memory", "cc"        \
		     : miss_)
#endif

/* A base address in a register (mm/heap.c, mm/cache.c): the sections
 * above already take the heap's address in one. */
#define ARCH_RESTART_POP_R ARCH_RESTART_POP
#define ARCH_RESTART_PUSH_R ARCH_RESTART_PUSH

#endif /* HAKMEM_ARCH_RESTART_H */
