/* SPDX-License-Identifier: MIT */
/*
 * x86_64 restartable sequences for the hosted port's per-CPU magazines.
 *
 * Each operation is one rseq critical section: read the CPU id from the
 * thread's rseq area, find that CPU's cache in the fast table, and commit
 * with a single store of the magazine's top (struct hak_mag, mm/layout.h).
 * A cache another CPU holds is not tested for: while it is held, the fast
 * table points at an empty area whose operations all fail. If the thread is
 * preempted, migrated or signalled before the commit, the kernel moves it
 * to the abort handler, which re-arms the section and starts over. Nothing
 * before the commit is visible to another context: slots above the top are
 * free space, so an aborted write into them is harmless.
 *
 * Layout the sections assume (checked by _Static_assert in mm/):
 *   table[cpu]            struct hak_pcpu * (the fast copy, HAK_PCPU_FAST):
 *                         set for every id the kernel can report before
 *                         rseq mode is chosen (it needs ncpus >= the
 *                         possible CPUs), so never NULL here; the empty
 *                         area (top = base = limit) while a remote CPU
 *                         holds the cache
 *   table[-1], table[-2]  the empty area (hak_pcpu_guards_init): cpu_id
 *                         is sign-extended, and -1 (rseq unregistered)
 *                         or -2 (glibc's registration failed) lands
 *                         there, so such a thread's operations all fail
 *                         and its slow paths bypass the caches
 *   pcpu + magoff         struct hak_mag { void **top; u64 allocs;
 *                                          void **base, **limit; }
 * The rseq area (glibc's registration, at %fs:off): cpu_id at +4,
 * rseq_cs at +8. The abort signature is glibc's RSEQ_SIG.
 *
 * Each function returns its result, or its failure value when the fast
 * path cannot serve (empty/full magazine, cache not set up, or held
 * remotely); the caller's slow path handles those. The failure exits jump
 * to label 8, after the commit point, so they leave the section; pop
 * reports failure in ZF (its empty test's), so its callers test nothing
 * more. The single
 * push is an asm goto that jumps to the caller's label instead; the
 * operations with outputs are not (GCC 12 miscompiles asm goto outputs at
 * -O1).
 */
#ifndef HAKMEM_ARCH_RSEQ_H
#define HAKMEM_ARCH_RSEQ_H

#define ARCH_HAS_RSEQ 1
#define ARCH_RSEQ_SIG 0x53053053

/*
 * The rseq area's offset from the thread pointer as this machine's glibc
 * has it (__rseq_offset: one value for every process under glibc 2.35
 * and 2.36; rseq_tp_probe.c says more), found by the build
 * (port/hosted/rseq_tp_probe.c writes hak_rseq_tp.h). Where the running
 * process's offset is the same (port_impl.h, hak_port_rseq_fixed), the
 * single pop and push (malloc's, free's, and those of created heaps and
 * object caches, pcpu_ops.h) address the area as %fs:constant. Otherwise
 * they take its offset from a variable, and the CPU id load waits for
 * that load and indexes by it: sh6bench-1t 3.52 -> 3.08 s, sh8bench-1t
 * 8.32 -> 7.60 s with the constant (3 interleaved rounds,
 * docs/performance.md "The rseq area at a constant offset"). A build
 * whose probe could not run (a cross build, a glibc before 2.35) has no
 * constant and always takes the variable's offset.
 */
#if __has_include("hak_rseq_tp.h")
#include "hak_rseq_tp.h"
#endif
#ifdef HAK_HOSTED_RSEQ_TP_OFF
#define ARCH_RSEQ_HAS_FIXED 1
#else
#define ARCH_RSEQ_HAS_FIXED 0
#endif

/*
 * The section's descriptor (struct rseq_cs: version, flags, start_ip,
 * post_commit_offset, abort_ip) and its abort handler: the signature, then
 * a jump back to label 5, which re-arms rseq_cs before restarting at 1.
 * cs_ and cpu_ address rseq_cs and cpu_id in the area: from the register
 * operand off (ARCH_RSEQ_PROLOGUE) or as constants (ARCH_RSEQ_PROLOGUE_FIXED,
 * operands cs and cpu, ARCH_RSEQ_FIXED_OPS).
 */
#define ARCH_RSEQ_PROLOGUE_AT(cs_, cpu_)                                      \
	".pushsection __rseq_cs, \"aw\"\n\t"                                  \
	".balign 32\n\t"                                                      \
	"3:\n\t"                                                              \
	".long 0, 0\n\t"                                                      \
	".quad 1f, 2f - 1f, 4f\n\t"                                           \
	".popsection\n\t"                                                     \
	".pushsection __rseq_failure, \"ax\"\n\t"                             \
	".long 0x53053053\n\t"                                                \
	"4:\n\t"                                                              \
	"jmp 5f\n\t"                                                          \
	".popsection\n\t"                                                     \
	"5:\n\t"                                                              \
	"leaq 3b(%%rip), %%rax\n\t"                                           \
	"movq %%rax, %%fs:" cs_ "\n\t"                                        \
	"1:\n\t"                                                              \
	"movslq %%fs:" cpu_ ", %%rax\n\t"                                     \
	"movq (%[table], %%rax, 8), %%rdx\n\t"                                \
	"addq %[magoff], %%rdx\n\t"                                           \
	"movq (%%rdx), %%rcx\n\t"

#define ARCH_RSEQ_PROLOGUE ARCH_RSEQ_PROLOGUE_AT("8(%[off])", "4(%[off])")
#define ARCH_RSEQ_PROLOGUE_FIXED ARCH_RSEQ_PROLOGUE_AT("%c[cs]", "%c[cpu]")
#define ARCH_RSEQ_FIXED_OPS                                                   \
	[cs] "i"(HAK_HOSTED_RSEQ_TP_OFF + 8), [cpu] "i"(HAK_HOSTED_RSEQ_TP_OFF + 4)

/* Pop one object into *p; returns nonzero (ZF, so the caller's test is
 * one branch) when the fast path cannot serve. On success the last flag
 * write is the subq of a top that stays above its base: ZF clear.
 *
 * After the commit the object the next pop will return is prefetched:
 * malloc writes into the object it returns (the cookie word), and a
 * block that went cold in the magazine then misses there; one pop ahead,
 * the miss overlaps the caller's work. About 5% off sh6bench-1t,
 * sh8bench-1t, larson-1t and glibc-simple in 3-4 interleaved runs each
 * (docs/performance.md), for 2 instructions.
 * Outside the section: if the thread moved meanwhile, this reads another
 * CPU's slot, harmlessly (a prefetch never faults). When the magazine
 * just emptied it reads the word below its slots, still inside the
 * per-CPU area (percpu_cache.c area_init). Hosted only: the bare-metal
 * sections keep to their instruction bounds (docs/guarantees.md).
 *
 * The allocs count's incq also keeps a store to the magazine's line ahead
 * of the commit's: without it (or with a load there instead, the layout
 * unchanged) sh6bench-1t took 4.77 s against 3.53, and with a plain store
 * there instead 3.50 (2 runs each; why, this VM's missing counters do
 * not say). Do not drop it as only a statistic. */
#define ARCH_RSEQ_POP_BODY                                                    \
	"cmpq 16(%%rdx), %%rcx\n\t"                                           \
	"je 8f\n\t"                                                           \
	"movq -8(%%rcx), %[p]\n\t"                                            \
	"incq 8(%%rdx)\n\t"                                                   \
	"subq $8, %%rcx\n\t"                                                  \
	"movq %%rcx, (%%rdx)\n\t"                                             \
	"2:\n\t"                                                              \
	"movq -8(%%rcx), %%rax\n\t" /* the next pop's object */               \
	"prefetcht0 (%%rax)\n\t"                                              \
	"8:\n\t"

static inline int arch_rseq_mag_pop(long off, void *const *table,
				    unsigned long magoff, void **p)
{
	void *obj;
	int fail;

	__asm__ volatile(ARCH_RSEQ_PROLOGUE ARCH_RSEQ_POP_BODY
		     : [p] "=&r"(obj), "=@ccz"(fail)
		     : [off] "r"(off), [table] "r"(table), [magoff] "r"(magoff)
		     : "rax", "rcx", "rdx", "memory");
	*p = obj;
	return fail;
}

#if ARCH_RSEQ_HAS_FIXED
/* The same with the rseq area at its constant offset. */
static inline int arch_rseq_mag_pop_fixed(void *const *table,
					  unsigned long magoff, void **p)
{
	void *obj;
	int fail;

	__asm__ volatile(ARCH_RSEQ_PROLOGUE_FIXED ARCH_RSEQ_POP_BODY
		     : [p] "=&r"(obj), "=@ccz"(fail)
		     : ARCH_RSEQ_FIXED_OPS, [table] "r"(table),
		       [magoff] "r"(magoff)
		     : "rax", "rcx", "rdx", "memory");
	*p = obj;
	return fail;
}
#endif

/*
 * Push p, or jump to the C label miss_ when the fast path cannot serve:
 * an asm goto, so the hit has no result to test after the commit (free's
 * fast path). No outputs: asm goto with outputs is what GCC 12
 * miscompiles. The jump to miss_ leaves the section before its commit.
 */
#define ARCH_RSEQ_PUSH_BODY(miss_)                                            \
	"cmpq 24(%%rdx), %%rcx\n\t"                                           \
	"jae %l[" #miss_ "]\n\t"                                              \
	"movq %[p], (%%rcx)\n\t"                                              \
	"addq $8, %%rcx\n\t"                                                  \
	"movq %%rcx, (%%rdx)\n\t"                                             \
	"2:\n\t"

#define ARCH_RSEQ_MAG_PUSH_GOTO(off_, table_, magoff_, p_, miss_)             \
	__asm__ goto(ARCH_RSEQ_PROLOGUE ARCH_RSEQ_PUSH_BODY(miss_)            \
		     :                                                        \
		     : [off] "r"(off_), [table] "r"(table_),                  \
		       [magoff] "r"(magoff_), [p] "r"(p_)                     \
		     : "rax", "rcx", "rdx", "memory", "cc"                    \
		     : miss_)

#if ARCH_RSEQ_HAS_FIXED
/* The same with the rseq area at its constant offset. */
#define ARCH_RSEQ_MAG_PUSH_GOTO_FIXED(table_, magoff_, p_, miss_)             \
	__asm__ goto(ARCH_RSEQ_PROLOGUE_FIXED ARCH_RSEQ_PUSH_BODY(miss_)      \
		     :                                                        \
		     : ARCH_RSEQ_FIXED_OPS, [table] "r"(table_),              \
		       [magoff] "r"(magoff_), [p] "r"(p_)                     \
		     : "rax", "rcx", "rdx", "memory", "cc"                    \
		     : miss_)
#endif

/* Push up to n objects (as many as fit); returns how many were pushed.
 * allocs does not move: these are not user operations. */
static inline unsigned long arch_rseq_mag_push_batch(long off,
						     void *const *table,
						     unsigned long magoff,
						     void *const *objs,
						     unsigned long n)
{
	unsigned long k;

	__asm__ volatile(ARCH_RSEQ_PROLOGUE
		     "movq 24(%%rdx), %[k]\n\t"
		     "subq %%rcx, %[k]\n\t"
		     "shrq $3, %[k]\n\t"	     /* room = (limit - top) / 8 */
		     "cmpq %[n], %[k]\n\t"
		     "cmovaq %[n], %[k]\n\t"  /* k = min(room, n) */
		     "xorl %%eax, %%eax\n\t"
		     "6:\n\t"
		     "cmpq %[k], %%rax\n\t"
		     "jae 7f\n\t"
		     "movq (%[objs], %%rax, 8), %%r9\n\t"
		     "movq %%r9, (%%rcx, %%rax, 8)\n\t"
		     "incq %%rax\n\t"
		     "jmp 6b\n\t"
		     "7:\n\t"
		     "leaq (%%rcx, %[k], 8), %%rcx\n\t"
		     "movq %%rcx, (%%rdx)\n\t"
		     "2:\n\t"
		     "jmp 9f\n\t"
		     "8:\n\t"
		     "xorl %k[k], %k[k]\n\t"
		     "9:\n\t"
		     : [k] "=&r"(k)
		     : [off] "r"(off), [table] "r"(table), [magoff] "r"(magoff),
		       [objs] "r"(objs), [n] "r"(n)
		     : "rax", "rcx", "rdx", "r9", "memory", "cc");
	return k;
}

/* Pop up to n objects from the top into out[]; returns how many. */
static inline unsigned long arch_rseq_mag_pop_batch(long off,
						    void *const *table,
						    unsigned long magoff,
						    void **out, unsigned long n)
{
	unsigned long k;

	__asm__ volatile(ARCH_RSEQ_PROLOGUE
		     "movq %%rcx, %[k]\n\t"
		     "subq 16(%%rdx), %[k]\n\t"
		     "shrq $3, %[k]\n\t"	     /* count = (top - base) / 8 */
		     "cmpq %[n], %[k]\n\t"
		     "cmovaq %[n], %[k]\n\t"  /* k = min(count, n) */
		     "movq %[k], %%rax\n\t"
		     "shlq $3, %%rax\n\t"
		     "subq %%rax, %%rcx\n\t"  /* new top = top - k */
		     "xorl %%eax, %%eax\n\t"
		     "6:\n\t"
		     "cmpq %[k], %%rax\n\t"
		     "jae 7f\n\t"
		     "movq (%%rcx, %%rax, 8), %%r9\n\t"
		     "movq %%r9, (%[out], %%rax, 8)\n\t"
		     "incq %%rax\n\t"
		     "jmp 6b\n\t"
		     "7:\n\t"
		     "movq %%rcx, (%%rdx)\n\t"
		     "2:\n\t"
		     "jmp 9f\n\t"
		     "8:\n\t"
		     "xorl %k[k], %k[k]\n\t"
		     "9:\n\t"
		     : [k] "=&r"(k)
		     : [off] "r"(off), [table] "r"(table), [magoff] "r"(magoff),
		       [out] "r"(out), [n] "r"(n)
		     : "rax", "rcx", "rdx", "r9", "memory", "cc");
	return k;
}

#endif /* HAKMEM_ARCH_RSEQ_H */
