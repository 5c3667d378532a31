/* SPDX-License-Identifier: MIT */
/*
 * hakmem/arch.h - the architecture contract.
 *
 * mm/ reaches every CPU-specific primitive through this one header. The
 * Makefile puts arch/$(ARCH)/include first on the include path, so
 * "hakmem/arch_impl.h" resolves to the selected architecture. Each
 * arch_impl.h defines every name below as a static inline function or a
 * constant; this file then checks that nothing is missing.
 *
 * Files here may depend on the compiler's builtins and nothing else: no
 * libc, no OS. mm/ contains no #ifdef on an architecture.
 *
 * Constants
 *   ARCH_NAME              string, e.g. "x86_64"
 *   ARCH_CACHELINE         bytes to pad contended data to (power of two)
 *   ARCH_PAGE_SHIFT        log2 of the smallest page the provider hands out
 *
 * Ordering (full compiler barrier included in each)
 *   arch_mb()              full barrier: loads and stores
 *   arch_rmb(), arch_wmb() read / write barriers
 *   arch_cpu_relax()       spin-wait hint (PAUSE / YIELD)
 *
 * Atomics (naturally aligned, any context, IRQ-safe)
 *   arch_load_acquire(p), arch_store_release(p, v)   word-sized
 *   arch_cas(p, old, new)  -> true when *p was old and now is new (acq_rel)
 *   arch_xchg(p, v)        -> previous value (acq_rel)
 *   arch_fetch_add(p, v)   -> previous value (relaxed)
 *   arch_cas128(p, old, new) double-width CAS on a 16-byte aligned
 *                          unsigned __int128; -> true on success. Only
 *                          present when ARCH_HAS_CAS128 is 1.
 *
 * Entropy
 *   arch_entropy()         -> some random bits (RDRAND / RNDR where the CPU
 *                          has them, a cycle counter otherwise). Kernel
 *                          mode; called once, at hak_init.
 *
 * CPU-local state
 *   arch_irq_save()        -> flags; masks maskable interrupts on this CPU.
 *                          Must only be called where the CPU may mask IRQs
 *                          (kernel mode); never from the hosted port.
 *   arch_irq_restore(f)    restores the state arch_irq_save() returned.
 *   arch_cpu_id()          -> dense CPU index 0..n-1 of the calling CPU, as
 *                          the boot code stored it (GS-based per-CPU area on
 *                          x86_64, TPIDR_EL1 on aarch64). Valid only while
 *                          the caller cannot migrate (IRQs off or pinned).
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
#ifndef ARCH_HAS_CAS128
#error "arch_impl.h must define ARCH_HAS_CAS128 (0 or 1)"
#endif

_Static_assert((ARCH_CACHELINE & (ARCH_CACHELINE - 1)) == 0,
	       "cache line must be a power of two");

/*
 * Generic fallbacks built on the compiler's __atomic builtins, which are
 * inline instructions for word sizes on both architectures (aarch64 builds
 * pass -mno-outline-atomics). An arch overrides any of them by defining a
 * macro of the same name first.
 */
#ifndef arch_load_acquire
#define arch_load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#endif
#ifndef arch_load_relaxed
#define arch_load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#endif
#ifndef arch_store_release
#define arch_store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#endif
#ifndef arch_store_relaxed
#define arch_store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#endif
#ifndef arch_cas
#define arch_cas(p, o, n)                                                      \
	({                                                                     \
		__typeof__(*(p)) __o = (o);                                    \
		__atomic_compare_exchange_n((p), &__o, (n), 0,                 \
					    __ATOMIC_ACQ_REL,                  \
					    __ATOMIC_ACQUIRE);                 \
	})
#endif
#ifndef arch_xchg
#define arch_xchg(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
#endif
#ifndef arch_fetch_add
#define arch_fetch_add(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#endif
#ifndef arch_compiler_barrier
#define arch_compiler_barrier() __asm__ __volatile__("" ::: "memory")
#endif

#endif /* HAKMEM_ARCH_H */
