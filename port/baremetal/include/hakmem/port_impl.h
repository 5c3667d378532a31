/* SPDX-License-Identifier: MIT */
/*
 * Bare-metal port: kernel mode, one hakmem CPU per physical CPU.
 *
 * The per-CPU critical section is "IRQs masked on this CPU": a thread
 * cannot migrate and no handler can run on this CPU until exit, so the
 * cache of arch_cpu_id() is exclusively ours with no atomic at all. A
 * remote CPU cannot exclude the owner without an IPI, so remote entry only
 * masks local IRQs and relies on the contract that the target CPU is
 * offline (hak_cpu_offline).
 */
#ifndef HAKMEM_PORT_IMPL_H
#define HAKMEM_PORT_IMPL_H

#include <stdint.h>

#include "hakmem.h"
#include "hakmem/arch.h"
#include "hakmem/config.h"

#define HAK_PORT_REMOTE_EXCLUSIVE 0
#define HAK_PORT_TRYENTER_CAN_FAIL 0
#define HAK_PORT_HAS_RSEQ 0
/* The region's slab map is filled at init: free() tests no entry. */
#define HAK_PORT_SPARSE_SLABMAP 0
/* Restartable fast paths (HAK_RESTART in hakmem/config.h) where the arch
 * has them: the embedder's interrupt entries call hak_restart_pc. */
#if HAK_RESTART && !HAK_DEBUG && __has_include("hakmem/restart.h")
#include "hakmem/restart.h"
#define HAK_PORT_HAS_RESTART 1
#else
#define HAK_PORT_HAS_RESTART 0
#endif
/* A sparse area (a per-CPU area of the default heap, a sparse slab map)
 * was just made: nothing to advise on bare metal (the hosted port's is in
 * hosted.c). */
static inline void hak_port_area_advise(void *area, size_t bytes)
{
	(void)area;
	(void)bytes;
}

/* A CPU id is a hardware CPU: HAK_CHECK_CPU_OWNER can check it. */
#define HAK_PORT_HW_CPUS 1

/*
 * The CPU id, in debug builds first asking the arch whether this CPU's id
 * source was set up at all (arch_cpu_id_source_ok: too slow for release
 * builds on some arches, e.g. a RDMSR of the GS base on x86_64); an id
 * source that was not yields an id no heap has, which the caller's range
 * check turns into a panic naming it.
 */
static inline unsigned hak_port_cpu_id(void)
{
#if HAK_DEBUG
	if (!arch_cpu_id_source_ok())
		return ~0u;
#endif
	return arch_cpu_id();
}

static inline unsigned hak_port_pcpu_enter(unsigned long *flags)
{
	*flags = arch_irq_save();
	return hak_port_cpu_id();
}

/* With IRQs masked the section is ours at once: never fails here. */
static inline int hak_port_pcpu_try_enter(unsigned long *flags)
{
	*flags = arch_irq_save();
	return (int)hak_port_cpu_id();
}

static inline void hak_port_pcpu_exit(unsigned cpu, unsigned long flags)
{
	(void)cpu;
	arch_irq_restore(flags);
}

/* For assertions: the calling context is in cpu's section (or, remote,
 * holds it): IRQs are masked. */
static inline int hak_port_pcpu_held(unsigned cpu)
{
	(void)cpu;
	return arch_irqs_disabled();
}

static inline int hak_port_pcpu_enter_remote(unsigned cpu, unsigned long *flags,
					     void **slot)
{
	(void)cpu;
	(void)slot;
	*flags = arch_irq_save();
	return 0;
}

static inline void hak_port_pcpu_exit_remote(unsigned cpu, unsigned long flags,
					     void **slot)
{
	(void)cpu;
	(void)slot;
	arch_irq_restore(flags);
}

/* The CPU we run on, for reports and lanes (port.h): may be stale at
 * once. */
static inline unsigned hak_port_cpu_hint(void)
{
	return arch_cpu_id();
}

/* Every context runs on a CPU with a cache here. */
static inline int hak_port_has_cpu(void)
{
	return 1;
}

static inline unsigned long hak_port_irq_save(void)
{
	return arch_irq_save();
}

static inline void hak_port_irq_restore(unsigned long flags)
{
	arch_irq_restore(flags);
}

static inline int hak_port_irqs_masked(void)
{
	return arch_irqs_disabled();
}

/* Holders run with IRQs masked and bounded work: spinning is bounded. */
static inline void hak_port_spin_wait(unsigned spins)
{
	(void)spins;
	arch_cpu_relax();
}

static inline void hak_port_set_ncpus(unsigned n)
{
	(void)n;
}

static inline void hak_port_set_errno(int e)
{
	(void)e;
}

static inline int hak_port_rseq_active(void)
{
	return 0;
}

static inline const char *hak_port_fast_path_name(void)
{
	return HAK_PORT_HAS_RESTART ? "restart" : "irq-off";
}

static inline int hak_port_lazy_init(void)
{
	return -1;
}

static inline uint64_t hak_port_entropy(void)
{
	return arch_entropy();
}

static inline void hak_port_trap(void)
{
	__builtin_trap();
}

/* Reports before hak_init installed a hook: nowhere to send them (they
 * are still counted in hak_stats). */
static inline void hak_port_report_fallback(const struct hak_report *r)
{
	(void)r;
}

#endif /* HAKMEM_PORT_IMPL_H */
