/* SPDX-License-Identifier: MIT */
/*
 * hakmem/port.h - the port contract: what a platform (bare metal, an RTOS,
 * a hypervisor, the hosted Linux library) supplies at compile time.
 *
 * The Makefile puts port/$(PORT)/include on the include path, so
 * "hakmem/port_impl.h" is the selected port. Run-time hooks (the page
 * provider, the report sink) come through struct hak_config instead; these
 * are the ones on the fast path, so they are inlined.
 *
 * Per-CPU critical section
 *   unsigned hak_port_pcpu_enter(unsigned long *flags)
 *       Enter the critical section of *some* CPU's cache and return its
 *       index (< the ncpus given to hak_init). Until the matching exit,
 *       nothing else on any CPU may enter the section for that index: not
 *       another thread, not an interrupt handler. Bare metal: mask IRQs and
 *       return arch_cpu_id(). Hosted: a per-CPU trylock. Never blocks on a
 *       holder that may be preempted on the same CPU.
 *   int hak_port_pcpu_try_enter(unsigned long *flags)
 *       As enter, but never waits: returns -1 (and holds nothing) when the
 *       port would have to wait. The fast paths use it and fall back to
 *       the blocking enter on -1.
 *   void hak_port_pcpu_exit(unsigned cpu, unsigned long flags)
 *   int  hak_port_pcpu_enter_remote(unsigned cpu, unsigned long *flags)
 *       Enter the section of a given CPU from another one, for draining
 *       (hak_trim, hak_cpu_offline). Returns 1 if the port can guarantee
 *       exclusion, 0 if it cannot (bare metal: the caller must then know
 *       the CPU is offline).
 *   void hak_port_pcpu_exit_remote(unsigned cpu, unsigned long flags)
 *   HAK_PORT_REMOTE_EXCLUSIVE  1 if enter_remote always excludes the owner.
 *
 *   unsigned hak_port_cpu_hint(void)
 *       The CPU the caller runs on, for reports only; takes no lock.
 *
 * Shared locks (the shard and global spinlocks)
 *   unsigned long hak_port_irq_save(void), hak_port_irq_restore(flags)
 *       Mask / restore IRQs around a shared lock so that a holder is never
 *       interrupted on its CPU by code that wants the same lock. No-ops on
 *       the hosted port.
 *   void hak_port_spin_wait(unsigned spins)
 *       Called by a spinning waiter after `spins` failed attempts: a
 *       cpu_relax on bare metal, a yield to the holder's thread once the
 *       wait is long on the hosted port (its holder may be preempted).
 *
 * Lifecycle
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
 *
 * Restartable sequences (optional, HAK_PORT_HAS_RSEQ)
 *   int hak_port_rseq_active(void)   the magazine operations run as the
 *       arch's rseq sections (arch/<arch>/include/hakmem/rseq.h)
 *   long hak_port_rseq_area(void)    offset of the rseq area from the
 *       thread pointer
 *   HAK_PORT_TRYENTER_CAN_FAIL       1 if try_enter may fail on a busy cache
 */
#ifndef HAKMEM_PORT_H
#define HAKMEM_PORT_H

#include "hakmem/port_impl.h"

#ifndef HAK_PORT_NAME
#error "port_impl.h must define HAK_PORT_NAME"
#endif
#ifndef HAK_PORT_REMOTE_EXCLUSIVE
#error "port_impl.h must define HAK_PORT_REMOTE_EXCLUSIVE"
#endif

#endif /* HAKMEM_PORT_H */
