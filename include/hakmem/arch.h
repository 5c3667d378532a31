/* SPDX-License-Identifier: MIT */
/*
 * hakmem/arch.h - the architecture contract: exactly what mm/ and the
 * bare-metal port use of a CPU, and nothing else.
 *
 * The Makefile puts arch/$(ARCH)/include on the include path, so
 * "hakmem/arch_impl.h" resolves to the selected architecture, which
 * defines each item below as a constant or a static inline function; this
 * file then checks, at compile time, that every item exists with the
 * documented type, so a port that drifts fails the build. Files here may
 * depend on the compiler's builtins and nothing else: no libc, no OS.
 * mm/ contains no #ifdef on an architecture.
 *
 * Constants
 *   ARCH_NAME              string, e.g. "x86_64"
 *   ARCH_CACHELINE         bytes to pad contended data to (power of two)
 *   ARCH_PAGE_SHIFT        log2 of the smallest page the provider hands out
 *
 * Atomics: mm/ uses the compiler's __atomic builtins with explicit memory
 * orders (relaxed, acquire, release, acq_rel, seq_cst) on naturally
 * aligned 1-, 2-, 4- and 8-byte objects: load, store, exchange,
 * compare-exchange, fetch-add/or. An arch must make every one of them an
 * inline instruction sequence (x86_64: always; aarch64: LDXR/STXR or LSE,
 * with -mno-outline-atomics; riscv64: the A extension; armv7: LDREXD for
 * 8 bytes): tests/check-nm.sh fails any library that calls out for one.
 * Nothing needs a double-width CAS.
 *
 * Optional
 *   ARCH_HAS_PCPU_REG      a register hakmem may keep its per-CPU pointer
 *                          in (aarch64: arch_regs.h), with
 *   void *arch_pcpu_reg_get(void)       this CPU's value (NULL: unset)
 *   void arch_pcpu_reg_set(void *)      set this CPU's value
 *                          The bare-metal fast paths (restart.h) then
 *                          find the default heap's per-CPU area in it.
 *   ARCH_PAGE_OBJ_ADDR(p, obj)  p = &obj in one instruction, for a
 *                          page-aligned obj (aarch64: ADRP)
 *
 * Bit scan
 *   ARCH_HAS_CTZ           1 if the compiler's __builtin_ctzll and
 *                          __builtin_clzll are instructions on this target
 *                          (x86_64 BSF/BSR, aarch64 RBIT+CLZ / CLZ,
 *                          riscv64 with Zbb); 0 and this header supplies
 *                          portable ones, since the libgcc calls they would
 *                          become are not linked
 *   unsigned arch_ctz64(uint64_t v)     index of v's lowest set bit (v != 0)
 *   unsigned arch_fls64(uint64_t v)     index of v's highest set bit (v != 0)
 *
 * Functions (kernel mode)
 *   void arch_cpu_relax(void)           spin-wait hint (PAUSE / YIELD)
 *   unsigned long arch_irq_save(void)   mask maskable IRQs on this CPU,
 *                                       return the previous state
 *   void arch_irq_restore(unsigned long) restore exactly that state
 *   int arch_irqs_disabled(void)        IRQs are masked now (assertions,
 *                                       and hak_tick's one-step mode)
 *   unsigned arch_cpu_id(void)          dense index 0..n-1 of the calling
 *                                       CPU, from the source the embedder
 *                                       set up (see the arch's header for
 *                                       the build-time choices); valid
 *                                       while the caller cannot migrate;
 *                                       must not trap
 *   int arch_cpu_id_source_ok(void)     0 if this CPU's id source was
 *                                       plainly never set up (debug builds
 *                                       check it; may be slow)
 *   unsigned long arch_cpu_hw_id(void)  a hardware identity of the CPU
 *                                       (MPIDR, APIC id) for the debug
 *                                       owner check; may be slow
 *   unsigned long arch_entropy(void)    some random bits (RDRAND / RNDR,
 *                                       else a cycle counter); once, at
 *                                       hak_init
 */
#ifndef HAKMEM_ARCH_H
#define HAKMEM_ARCH_H

#include "hakmem/arch_impl.h"

#ifndef ARCH_NAME
#error "arch_impl.h must define ARCH_NAME"
#endif
#ifndef ARCH_CACHELINE
#error "arch_impl.h must define ARCH_CACHELINE"
#endif
#ifndef ARCH_PAGE_SHIFT
#error "arch_impl.h must define ARCH_PAGE_SHIFT"
#endif
#ifndef ARCH_HAS_CTZ
#error "arch_impl.h must define ARCH_HAS_CTZ (0 or 1)"
#endif

#if ARCH_HAS_CTZ
static inline unsigned arch_ctz64(unsigned long long v)
{
	return (unsigned)__builtin_ctzll(v);
}

static inline unsigned arch_fls64(unsigned long long v)
{
	return 63 - (unsigned)__builtin_clzll(v);
}
#else
/* Binary search: six steps, no table. */
static inline unsigned arch_fls64(unsigned long long v)
{
	unsigned r = 0, s;

	for (s = 32; s; s >>= 1)
		if (v >> s) {
			v >>= s;
			r += s;
		}
	return r;
}

/* De Bruijn: isolate the lowest bit, multiply, look up. */
static inline unsigned arch_ctz64(unsigned long long v)
{
	static const unsigned char pos[64] = {
		0,  1,	2,  53, 3,  7,	54, 27, 4,  38, 41, 8,	34, 55, 48, 28,
		62, 5,	39, 46, 44, 42, 22, 9,	24, 35, 59, 56, 49, 18, 29, 11,
		63, 52, 6,  26, 37, 40, 33, 47, 61, 45, 43, 21, 23, 58, 17, 10,
		51, 25, 36, 32, 60, 20, 57, 16, 50, 31, 19, 15, 30, 14, 13, 12,
	};

	return pos[((v & -v) * 0x022fdd63cc95386dULL) >> 58];
}
#endif

_Static_assert((ARCH_CACHELINE & (ARCH_CACHELINE - 1)) == 0,
	       "cache line must be a power of two");
_Static_assert(ARCH_PAGE_SHIFT >= 12 && ARCH_PAGE_SHIFT <= 16,
	       "pages of 4 to 64 KiB");

/* Each contract function exists with exactly the documented type. */
#define HAK_CONTRACT_FN(fn, type)                                              \
	_Static_assert(__builtin_types_compatible_p(__typeof__(&fn), type),    \
		       #fn " must be " #type)

HAK_CONTRACT_FN(arch_cpu_relax, void (*)(void));
HAK_CONTRACT_FN(arch_irq_save, unsigned long (*)(void));
HAK_CONTRACT_FN(arch_irq_restore, void (*)(unsigned long));
HAK_CONTRACT_FN(arch_irqs_disabled, int (*)(void));
HAK_CONTRACT_FN(arch_cpu_id, unsigned (*)(void));
HAK_CONTRACT_FN(arch_cpu_id_source_ok, int (*)(void));
HAK_CONTRACT_FN(arch_cpu_hw_id, unsigned long (*)(void));
HAK_CONTRACT_FN(arch_entropy, unsigned long (*)(void));
HAK_CONTRACT_FN(arch_ctz64, unsigned (*)(unsigned long long));
HAK_CONTRACT_FN(arch_fls64, unsigned (*)(unsigned long long));
#ifdef ARCH_HAS_PCPU_REG
HAK_CONTRACT_FN(arch_pcpu_reg_get, void *(*)(void));
HAK_CONTRACT_FN(arch_pcpu_reg_set, void (*)(void *));
#endif

#endif /* HAKMEM_ARCH_H */
