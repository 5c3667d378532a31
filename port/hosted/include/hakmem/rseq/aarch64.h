/* SPDX-License-Identifier: MIT */
/*
 * aarch64 restartable sequences for the hosted port's per-CPU magazines.
 *
 * Same contract as rseq/x86_64.h: each operation is
 * one rseq critical section that reads the CPU id from the thread's rseq
 * area, finds that CPU's cache in the fast table (the empty area while a
 * remote CPU holds it), and commits with a single store of the magazine's
 * top (a pop stores top and its allocs counter together, with one STP).
 * Preemption, migration or a signal before the commit sends the thread to
 * the abort handler, which re-arms the section and starts over. Writes
 * into slots at and above top before the commit are harmless.
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
 * The rseq area (glibc's registration) is at TPIDR_EL0 + off: cpu_id at
 * +4, rseq_cs at +8. The abort signature is glibc's RSEQ_SIG for
 * little-endian aarch64 (RSEQ_SIG_DATA, the encoding of BRK #0x45e0),
 * emitted as data right before the abort handler.
 *
 * Ordering: the commit is a plain store, seen in program order by the
 * owning thread on its own CPU; a remote CPU touches the cache only after
 * pointing the fast table's entry at the empty area and the membarrier
 * rseq fence, which aborts any section
 * in flight there and orders it against the remote's accesses. So no
 * barrier is needed inside the sections.
 *
 * Registers: only general-purpose ones, x9..x14 as scratch (caller-saved
 * temporaries in AAPCS64), declared as clobbers.
 *   x9   cpu id, then base or limit, then count or loop index
 *   x10  TPIDR_EL0 + off (the rseq area)
 *   x11  pcpu, then &mag
 *   x12  top
 *   x13  allocs (pop), or the start of the run a batch copies
 *   x14  the word a batch copies
 * The inputs are never written, so a restart finds them intact.
 *
 * Each function returns its result, or its failure value when the fast
 * path cannot serve (empty/full magazine, cache not set up, or held
 * remotely). The failure exits branch to label 8, after the commit point,
 * so they leave the section. The single push is an asm goto that branches
 * to the caller's label instead; the operations with outputs are not (GCC
 * 12 miscompiles asm goto outputs at -O1).
 */
#ifndef HAKMEM_ARCH_RSEQ_H
#define HAKMEM_ARCH_RSEQ_H

#if defined(__AARCH64EB__)
#error "hakmem/rseq.h: big-endian aarch64 needs the byte-swapped signature"
#endif

#define ARCH_HAS_RSEQ 1
/* No constant-offset sections here (x86_64.h): the offset is a variable. */
#define ARCH_RSEQ_HAS_FIXED 0
#define ARCH_RSEQ_SIG 0xd428bc00

/*
 * The section's descriptor (struct rseq_cs: u32 version, u32 flags,
 * u64 start_ip, u64 post_commit_offset, u64 abort_ip; 32-byte aligned) and
 * its abort handler: the signature, then a branch back to label 5, which
 * re-arms rseq_cs before restarting at 1. The kernel clears rseq_cs when
 * it aborts, hence the re-arm. adrp/add reach the descriptor PC-relatively
 * (static, PIE and shared builds alike). The .balign 4: clang's assembler
 * does not align a section for the instructions in it.
 */
#define ARCH_RSEQ_PROLOGUE                                                    \
	".pushsection __rseq_cs, \"aw\"\n\t"                                  \
	".balign 32\n\t"                                                      \
	"3:\n\t"                                                              \
	".long 0, 0\n\t"                                                      \
	".quad 1f, 2f - 1f, 4f\n\t"                                           \
	".popsection\n\t"                                                     \
	".pushsection __rseq_failure, \"ax\"\n\t"                             \
	".balign 4\n\t"                                                       \
	".long 0xd428bc00\n\t"                                                \
	"4:\n\t"                                                              \
	"b 5f\n\t"                                                            \
	".popsection\n\t"                                                     \
	"5:\n\t"                                                              \
	"mrs x10, tpidr_el0\n\t"                                              \
	"add x10, x10, %[off]\n\t"                                            \
	"adrp x9, 3b\n\t"                                                     \
	"add x9, x9, :lo12:3b\n\t"                                            \
	"str x9, [x10, #8]\n\t"                                               \
	"1:\n\t"                                                              \
	"ldrsw x9, [x10, #4]\n\t"                                             \
	"ldr x11, [%[table], x9, lsl #3]\n\t"                                 \
	"add x11, x11, %[magoff]\n\t"                                         \
	"ldr x12, [x11]\n\t"

/* Pop one object into *p; returns nonzero (Z) when the fast path cannot
 * serve. On success the last flag write is the compare of top with base,
 * which found them unequal: Z clear. After the commit, the object the
 * next pop returns is prefetched (x86_64.h says why). */
static inline int arch_rseq_mag_pop(long off, void *const *table,
				    unsigned long magoff, void **p)
{
	void *obj;
	int fail;

	__asm__ volatile(ARCH_RSEQ_PROLOGUE
		     "ldp x13, x9, [x11, #8]\n\t" /* allocs, base */
		     "cmp x12, x9\n\t"
		     "b.eq 8f\n\t"
		     "ldr %[p], [x12, #-8]!\n\t"
		     "add x13, x13, #1\n\t"
		     "stp x12, x13, [x11]\n\t"
		     "2:\n\t"
		     "ldr x9, [x12, #-8]\n\t" /* the next pop's object */
		     "prfm pldl1keep, [x9]\n\t"
		     "8:\n\t"
		     : [p] "=&r"(obj), "=@cceq"(fail)
		     : [off] "r"(off), [table] "r"(table), [magoff] "r"(magoff)
		     : "x9", "x10", "x11", "x12", "x13", "memory");
	*p = obj;
	return fail;
}

/* Push p, or jump to the C label miss_ (x86_64.h says why an asm goto,
 * and why without outputs). */
#define ARCH_RSEQ_MAG_PUSH_GOTO(off_, table_, magoff_, p_, miss_)             \
	__asm__ goto(ARCH_RSEQ_PROLOGUE                                       \
		     "ldr x9, [x11, #24]\n\t"                                  \
		     "cmp x12, x9\n\t"                                         \
		     "b.hs %l[" #miss_ "]\n\t"                                 \
		     "str %[p], [x12], #8\n\t"                                 \
		     "str x12, [x11]\n\t"                                      \
		     "2:\n\t"                                                  \
		     :                                                        \
		     : [off] "r"(off_), [table] "r"(table_),                  \
		       [magoff] "r"(magoff_), [p] "r"(p_)                     \
		     : "x9", "x10", "x11", "x12", "x13", "memory", "cc"       \
		     : miss_)

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
		     "ldr x9, [x11, #24]\n\t"
		     "sub %[k], x9, x12\n\t"
		     "lsr %[k], %[k], #3\n\t"      /* room = (limit - top) / 8 */
		     "cmp %[k], %[n]\n\t"
		     "csel %[k], %[n], %[k], hi\n\t" /* k = min(room, n) */
		     "mov x9, #0\n\t"
		     "6:\n\t"
		     "cmp x9, %[k]\n\t"
		     "b.hs 7f\n\t"
		     "ldr x14, [%[objs], x9, lsl #3]\n\t"
		     "str x14, [x12, x9, lsl #3]\n\t"
		     "add x9, x9, #1\n\t"
		     "b 6b\n\t"
		     "7:\n\t"
		     "add x12, x12, %[k], lsl #3\n\t"
		     "str x12, [x11]\n\t"
		     "2:\n\t"
		     "b 9f\n\t"
		     "8:\n\t"
		     "mov %[k], #0\n\t"
		     "9:\n\t"
		     : [k] "=&r"(k)
		     : [off] "r"(off), [table] "r"(table), [magoff] "r"(magoff),
		       [objs] "r"(objs), [n] "r"(n)
		     : "x9", "x10", "x11", "x12", "x13", "x14", "memory", "cc");
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
		     "ldr x9, [x11, #16]\n\t"
		     "sub %[k], x12, x9\n\t"
		     "lsr %[k], %[k], #3\n\t"      /* count = (top - base) / 8 */
		     "cmp %[k], %[n]\n\t"
		     "csel %[k], %[n], %[k], hi\n\t" /* k = min(count, n) */
		     "sub x12, x12, %[k], lsl #3\n\t" /* new top = top - k */
		     "mov x9, #0\n\t"
		     "6:\n\t"
		     "cmp x9, %[k]\n\t"
		     "b.hs 7f\n\t"
		     "ldr x14, [x12, x9, lsl #3]\n\t"
		     "str x14, [%[out], x9, lsl #3]\n\t"
		     "add x9, x9, #1\n\t"
		     "b 6b\n\t"
		     "7:\n\t"
		     "str x12, [x11]\n\t"
		     "2:\n\t"
		     "b 9f\n\t"
		     "8:\n\t"
		     "mov %[k], #0\n\t"
		     "9:\n\t"
		     : [k] "=&r"(k)
		     : [off] "r"(off), [table] "r"(table), [magoff] "r"(magoff),
		       [out] "r"(out), [n] "r"(n)
		     : "x9", "x10", "x11", "x12", "x13", "x14", "memory", "cc");
	return k;
}

#endif /* HAKMEM_ARCH_RSEQ_H */
