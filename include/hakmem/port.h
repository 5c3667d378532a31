/* SPDX-License-Identifier: MIT */
/*
 * hakmem/port.h - the port contract: what a platform (bare metal, an RTOS,
 * a hypervisor, the hosted Linux library) supplies at compile time.
 *
 * The Makefile puts port/$(PORT)/include on the include path, so
 * "hakmem/port_impl.h" is the selected port. Run-time hooks (the page
 * provider, the report sink) come through struct hak_config instead; these
 * are the ones on the fast path, so they are inlined. Every item is checked
 * below: a port missing one, or defining it with another type, fails the
 * build.
 *
 * Capabilities (0 or 1)
 *   HAK_PORT_REMOTE_EXCLUSIVE  enter_remote excludes the cache's owner
 *                              (hosted: a lock); 0: other CPUs' caches are
 *                              reached by request (mm/remote.c)
 *   HAK_PORT_TRYENTER_CAN_FAIL try_enter may fail on a busy cache
 *   HAK_PORT_HAS_RSEQ          the magazine operations may run as rseq
 *                              sections (hak_port_rseq_active/_area)
 *   HAK_PORT_SPARSE_SLABMAP    the slab map (mm/slabmap.c) is left as the
 *                              provider gave it (zeroed) instead of filled
 *                              with entries naming hak_null_slab: an
 *                              entry's NULL descriptor means no slab, and
 *                              the lookups test for it (free() needs no
 *                              test: the zero entry fails its checks;
 *                              hosted: a 64 GiB arena's map would be
 *                              32 MiB of RSS)
 *   HAK_PORT_HAS_RESTART       the fast paths' magazine operations are
 *                              the arch's restartable sections
 *                              (hakmem/restart.h): the embedder's
 *                              interrupt entries call hak_restart_pc
 *   HAK_PORT_HW_CPUS           an index is a hardware CPU (bare metal), so
 *                              HAK_CHECK_CPU_OWNER can check it
 *
 * Per-CPU critical section
 *   unsigned hak_port_pcpu_enter(unsigned long *flags)
 *       Enter the critical section of *some* CPU's cache and return its
 *       index. Until the matching exit, nothing else on any CPU may enter
 *       the section for that index: not another thread, not an interrupt
 *       handler. Bare metal: mask IRQs and return the CPU id (an index
 *       >= ncpus is caught by the caller). Hosted: a per-CPU trylock.
 *       Never blocks on a holder that may be preempted on the same CPU.
 *   int hak_port_pcpu_try_enter(unsigned long *flags)
 *       As enter, but never waits: returns -1 (and holds nothing) when the
 *       port would have to wait. The fast paths use it.
 *   void hak_port_pcpu_exit(unsigned cpu, unsigned long flags)
 *   int hak_port_pcpu_enter_remote(unsigned cpu, unsigned long *flags,
 *                                  void **slot)
 *       Enter the section of a given CPU from another one (hak_trim,
 *       hak_check on the hosted port; hak_cpu_offline everywhere). slot is
 *       the cache's entry in its per-CPU table, for rseq ports: they point
 *       its fast copy (HAK_PCPU_FAST(slot), mm/layout.h) at the empty
 *       area hak_pcpu_none and fence the CPU, and exit_remote copies
 *       *slot back. Returns 1 if the port excluded the owner, 0 if it
 *       cannot (bare metal: the caller must know the CPU is offline).
 *   void hak_port_pcpu_exit_remote(unsigned cpu, unsigned long flags,
 *                                  void **slot)
 *   int hak_port_pcpu_held(unsigned cpu)
 *       For debug assertions: the caller is inside cpu's section.
 *   unsigned hak_port_cpu_hint(void)
 *       The CPU the caller runs on, for reports, and with HAK_LANES > 1
 *       to pick a shared-pool lane (config.h), called then under a shard
 *       lock, IRQs masked on bare metal: takes no lock, may be stale at
 *       once (a stale answer misplaces a slab, nothing else).
 *   int hak_port_has_cpu(void)
 *       0 when the caller's magazine operations reach no CPU's cache: on
 *       the hosted port in rseq mode, a thread whose rseq area names no
 *       CPU. Its misses then move single objects, not batches that could
 *       only go back. 1 everywhere else.
 *
 * Shared locks (the shard and global spinlocks)
 *   unsigned long hak_port_irq_save(void)
 *   void hak_port_irq_restore(unsigned long flags)
 *       Mask / restore IRQs around a shared lock so that a holder is never
 *       interrupted on its CPU by code that wants the same lock. No-ops on
 *       the hosted port.
 *   int hak_port_irqs_masked(void)
 *       The caller runs with IRQs masked (an IRQ handler, or inside its
 *       own masked region): served requests and decay then do one bounded
 *       step per call. Always 0 on the hosted port.
 *   void hak_port_spin_wait(unsigned spins)
 *       Called by a spinning waiter after `spins` failed attempts: a
 *       cpu_relax on bare metal, a yield to the holder's thread once the
 *       wait is long on the hosted port (its holder may be preempted).
 *
 * Lifecycle and the rest
 *   int hak_port_lazy_init(void)
 *       Called when an allocation finds hakmem uninitialised. Hosted: init
 *       over mmap and return 0. Bare metal: return -1 (the embedder must
 *       call hak_init first).
 *   void hak_port_set_ncpus(unsigned n)  hak_init tells the port its CPU
 *       count; later enters return indices < n.
 *   void hak_port_set_errno(int e)   errno for the standard-name wrappers
 *       (no-op where there is no errno).
 *   uint64_t hak_port_entropy(void)  a few bits of entropy or a counter.
 *   void hak_port_trap(void)         stop execution (no panic hook given).
 *   const char *hak_port_fast_path_name(void)  for hak_stats().fast_path.
 *   void hak_port_report_fallback(const struct hak_report *r)
 *       Where reports go before hak_init installed the embedder's hook
 *       (hosted: the default stderr sink; bare metal: nowhere).
 *   int hak_port_rseq_active(void)   the magazine operations run as the
 *       port's rseq sections now (always 0 where HAK_PORT_HAS_RSEQ is 0)
 *   long hak_port_rseq_area(void)    with HAK_PORT_HAS_RSEQ: offset of the
 *       rseq area from the thread pointer
 *   int hak_port_rseq_fixed(void)    with HAK_PORT_HAS_RSEQ: rseq mode,
 *       and the port's constant-offset sections apply (its rseq header's
 *       ARCH_RSEQ_HAS_FIXED, arch_rseq_mag_pop_fixed and
 *       ARCH_RSEQ_MAG_PUSH_GOTO_FIXED; always 0 where that is 0)
 */
#ifndef HAKMEM_PORT_H
#define HAKMEM_PORT_H

#include <stdint.h>

#include "hakmem.h"
#include "hakmem/arch.h"
#include "hakmem/port_impl.h"

#if !defined(HAK_PORT_REMOTE_EXCLUSIVE) ||                                     \
	!defined(HAK_PORT_TRYENTER_CAN_FAIL) || !defined(HAK_PORT_HAS_RSEQ) || \
	!defined(HAK_PORT_HW_CPUS) || !defined(HAK_PORT_HAS_RESTART) ||      \
	!defined(HAK_PORT_SPARSE_SLABMAP)
#error "port_impl.h must define every HAK_PORT_* capability (0 or 1)"
#endif

HAK_CONTRACT_FN(hak_port_pcpu_enter, unsigned (*)(unsigned long *));
HAK_CONTRACT_FN(hak_port_pcpu_try_enter, int (*)(unsigned long *));
HAK_CONTRACT_FN(hak_port_pcpu_exit, void (*)(unsigned, unsigned long));
HAK_CONTRACT_FN(hak_port_pcpu_enter_remote,
		int (*)(unsigned, unsigned long *, void **));
HAK_CONTRACT_FN(hak_port_pcpu_exit_remote,
		void (*)(unsigned, unsigned long, void **));
HAK_CONTRACT_FN(hak_port_pcpu_held, int (*)(unsigned));
HAK_CONTRACT_FN(hak_port_cpu_hint, unsigned (*)(void));
HAK_CONTRACT_FN(hak_port_has_cpu, int (*)(void));
HAK_CONTRACT_FN(hak_port_irq_save, unsigned long (*)(void));
HAK_CONTRACT_FN(hak_port_irq_restore, void (*)(unsigned long));
HAK_CONTRACT_FN(hak_port_irqs_masked, int (*)(void));
HAK_CONTRACT_FN(hak_port_spin_wait, void (*)(unsigned));
HAK_CONTRACT_FN(hak_port_lazy_init, int (*)(void));
HAK_CONTRACT_FN(hak_port_set_ncpus, void (*)(unsigned));
HAK_CONTRACT_FN(hak_port_set_errno, void (*)(int));
HAK_CONTRACT_FN(hak_port_entropy, uint64_t (*)(void));
HAK_CONTRACT_FN(hak_port_trap, void (*)(void));
HAK_CONTRACT_FN(hak_port_fast_path_name, const char *(*)(void));
HAK_CONTRACT_FN(hak_port_report_fallback, void (*)(const struct hak_report *));
HAK_CONTRACT_FN(hak_port_rseq_active, int (*)(void));
#if HAK_PORT_HAS_RSEQ
HAK_CONTRACT_FN(hak_port_rseq_area, long (*)(void));
HAK_CONTRACT_FN(hak_port_rseq_fixed, int (*)(void));
#endif

#endif /* HAKMEM_PORT_H */
