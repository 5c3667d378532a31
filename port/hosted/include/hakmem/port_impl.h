/* SPDX-License-Identifier: MIT */
/*
 * Hosted port: hakmem as an ordinary Linux library.
 *
 * Threads outnumber CPUs and migrate at any instruction, and IRQs cannot be
 * masked from user space, so the per-CPU critical section is a per-CPU
 * trylock: the CPU the kernel says we run on (rseq's cpu_id when glibc
 * registered rseq, else sched_getcpu) picks the preferred cache; if its
 * lock is busy we take any free one, since a cache only has to be
 * exclusive, not local. Only when all are busy do we wait, yielding, for
 * the preferred one. Migration inside the section is harmless: the lock,
 * not the CPU, gives exclusion. The performance work replaces this with an
 * rseq critical section that needs no atomic.
 */
#ifndef HAKMEM_PORT_IMPL_H
#define HAKMEM_PORT_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "hakmem/arch.h"
#include "hakmem/config.h"

#define HAK_PORT_REMOTE_EXCLUSIVE 1
#define HAK_PORT_TRYENTER_CAN_FAIL 1
/* Cache indices are not hardware CPUs: threads pick any free cache. */
#define HAK_PORT_HW_CPUS 0

/* The rseq sections are this port's code for each arch: they rely on
 * glibc's rseq ABI and on struct hak_pcpu's layout (mm/internal.h). An
 * arch without a file here runs the trylock fallback. */
#if defined(__x86_64__)
#include "hakmem/rseq/x86_64.h"
#elif defined(__aarch64__)
#include "hakmem/rseq/aarch64.h"
#endif
#if defined(ARCH_HAS_RSEQ) && !defined(HAK_HOSTED_NO_RSEQ_BUILD)
#define HAK_PORT_HAS_RSEQ 1
#else
#define HAK_PORT_HAS_RSEQ 0
#endif
/* rseq instead: the kernel does the restarting. */
#define HAK_PORT_HAS_RESTART 0
/* The arena's slab map is touched only where superslabs are (arena.c). */
#define HAK_PORT_SPARSE_SLABMAP 1

/* A sparse area was just made, not yet touched: a per-CPU area of the
 * default heap (percpu_cache.c) or the slab map (slabmap.c). Small pages
 * only, hosted.c. */
void hak_port_area_advise(void *area, size_t bytes)
	__attribute__((visibility("hidden")));

/* Hidden (see mm/defs.h, hak_hidden): no GOT load on the fast path. */
#define HAK_HOSTED_HIDDEN __attribute__((visibility("hidden")))

struct hak_hosted_lock {
	int v;
} __attribute__((aligned(ARCH_CACHELINE)));

extern struct hak_hosted_lock hak_hosted_locks[HAK_MAX_CPUS] HAK_HOSTED_HIDDEN;
extern unsigned hak_hosted_ncpus HAK_HOSTED_HIDDEN; /* >= 1 even before hak_init */

/* Offset from the thread pointer to the rseq area's cpu_id, copied from
 * glibc's registration (__rseq_offset + 4) at load time so the fast path
 * reads a hidden variable instead of two GOT entries; HAK_HOSTED_NO_RSEQ
 * when glibc did not register rseq (old kernel, valgrind, tunable off). */
#define HAK_HOSTED_NO_RSEQ 1L /* never an offset: the area is 32-aligned */
extern long hak_hosted_rseq_cpu_off HAK_HOSTED_HIDDEN;

/* The kernel's cpu_id in glibc's rseq area (off: hak_hosted_rseq_cpu_off,
 * not HAK_HOSTED_NO_RSEQ): -1 or -2 when the area names no CPU. */
static inline int32_t hak_hosted_rseq_cpu_id(long off)
{
	return __atomic_load_n((const int32_t *)((const char *)
							 __builtin_thread_pointer() +
						 off),
			       __ATOMIC_RELAXED);
}

/* Rseq mode: glibc registered rseq, membarrier's rseq fence is registered
 * and every CPU id the kernel can report is below ncpus. Decided once at
 * init; then the magazine operations are rseq sections (pcpu_ops.h). */
/* __rseq_offset in rseq mode, HAK_HOSTED_NO_RSEQ otherwise: one variable,
 * so the fast path's mode test and the offset are a single load. Written
 * once, by hak_init, before any block exists. */
extern long hak_hosted_rseq_area_off HAK_HOSTED_HIDDEN;

#if HAK_PORT_HAS_RSEQ
static inline int hak_port_rseq_active(void)
{
	return hak_hosted_rseq_area_off != HAK_HOSTED_NO_RSEQ;
}

static inline long hak_port_rseq_area(void)
{
	return hak_hosted_rseq_area_off;
}

/* Rseq mode, and this process's rseq area lies where the build's probe
 * found it (rseq/x86_64.h, HAK_HOSTED_RSEQ_TP_OFF): the sections may
 * address it as a constant. One compare of the mode variable with an
 * immediate; a process whose offset differs (another glibc) takes the
 * variable's offset. */
static inline int hak_port_rseq_fixed(void)
{
#if ARCH_RSEQ_HAS_FIXED
	_Static_assert(HAK_HOSTED_RSEQ_TP_OFF != HAK_HOSTED_NO_RSEQ,
		       "an offset is never the no-rseq mark");
	return hak_hosted_rseq_area_off == HAK_HOSTED_RSEQ_TP_OFF;
#else
	return 0;
#endif
}
#endif

#if !HAK_PORT_HAS_RSEQ
static inline int hak_port_rseq_active(void)
{
	return 0;
}
#endif

/* In rseq mode, a thread whose rseq area names no CPU (cpu_id -1: it
 * unregistered glibc's area; -2: glibc's registration failed) reaches no
 * cache: its sections index the fast table's guards (mm/layout.h). In
 * trylock mode it takes a CPU's lock as any thread does. */
static inline int hak_port_has_cpu(void)
{
	if (!hak_port_rseq_active())
		return 1;
	return hak_hosted_rseq_cpu_id(hak_hosted_rseq_cpu_off) >= 0;
}

int hak_hosted_remote_enter(unsigned cpu, void **slot);
void hak_hosted_remote_exit(unsigned cpu, void **slot);

/*
 * The cache a thread should prefer: the CPU it runs on when glibc
 * registered rseq (one load from the kernel-maintained rseq area), else a
 * hash of the thread pointer, which spreads threads over the caches and
 * keeps each on the same one (no system call per operation). Either way
 * the trylock, not the index, gives exclusion.
 */
#ifdef HAK_HOSTED_TEST_HOOKS
/* Tests and fuzzers only: when >= 0, the CPU every thread prefers, so a
 * single thread can play several CPUs (build with HAK_HOSTED_NO_RSEQ_BUILD
 * too: the rseq sections read the real CPU id). */
extern int hak_hosted_test_cpu HAK_HOSTED_HIDDEN;
#endif

static inline unsigned hak_hosted_current_cpu(void)
{
	unsigned n = __atomic_load_n(&hak_hosted_ncpus, __ATOMIC_RELAXED);
	unsigned c;

#ifdef HAK_HOSTED_TEST_HOOKS
	if (hak_hosted_test_cpu >= 0)
		return (unsigned)hak_hosted_test_cpu % n;
#endif
	long off = hak_hosted_rseq_cpu_off;

	if (__builtin_expect(off != HAK_HOSTED_NO_RSEQ, 1)) {
		c = (unsigned)hak_hosted_rseq_cpu_id(off);
		if (__builtin_expect(c < n, 1))
			return c;
		return c % n;
	}
	c = (unsigned)(((uintptr_t)__builtin_thread_pointer() >> 12) *
			       0x9e3779b97f4a7c15ULL >>
		       32);
	return (unsigned)(((uint64_t)c * n) >> 32);
}
unsigned hak_hosted_pcpu_enter_slow(unsigned cpu);
void hak_hosted_yield(void);
int hak_hosted_lazy_init(void);
uint64_t hak_hosted_entropy(void);
void hak_hosted_set_errno(int e);

static inline int hak_hosted_trylock(unsigned cpu)
{
	return !__atomic_exchange_n(&hak_hosted_locks[cpu].v, 1,
				    __ATOMIC_ACQUIRE);
}

static inline unsigned hak_port_pcpu_enter(unsigned long *flags)
{
	unsigned cpu = hak_hosted_current_cpu();

	*flags = 0;
	if (__builtin_expect(hak_hosted_trylock(cpu), 1))
		return cpu;
	return hak_hosted_pcpu_enter_slow(cpu);
}

/* The fast paths' entry: never waits; -1 when the preferred cache is busy
 * (the caller then takes the blocking slow path). */
static inline int hak_port_pcpu_try_enter(unsigned long *flags)
{
	unsigned cpu = hak_hosted_current_cpu();

	*flags = 0;
	if (!hak_hosted_trylock(cpu))
		return -1;
#if HAK_PORT_HAS_RSEQ
	/* The caller read "no rseq" before the lazy init turned rseq mode
	 * on (with every CPU's lock held: hak_hosted_choose_mode): this
	 * cache is the rseq sections' now, which ignore the lock. Busy,
	 * then: the slow path takes the rseq one. */
	if (__builtin_expect(hak_port_rseq_active(), 0)) {
		__atomic_store_n(&hak_hosted_locks[cpu].v, 0, __ATOMIC_RELEASE);
		return -1;
	}
#endif
	return (int)cpu;
}

static inline void hak_port_pcpu_exit(unsigned cpu, unsigned long flags)
{
	(void)flags;
	__atomic_store_n(&hak_hosted_locks[cpu].v, 0, __ATOMIC_RELEASE);
}

/* For assertions: cpu's cache is held (its lock; rseq sections hold
 * nothing a C function could check, but they never call C code). */
static inline int hak_port_pcpu_held(unsigned cpu)
{
	return __atomic_load_n(&hak_hosted_locks[cpu].v, __ATOMIC_RELAXED) != 0;
}

/* Lock the cache; in rseq mode also point the fast table's entry at the
 * empty area and fence the CPU so that no rseq section there still works
 * on it (port/hosted/hosted.c). */
static inline int hak_port_pcpu_enter_remote(unsigned cpu, unsigned long *flags,
					     void **slot)
{
	*flags = 0;
	return hak_hosted_remote_enter(cpu, slot);
}

static inline void hak_port_pcpu_exit_remote(unsigned cpu, unsigned long flags,
					     void **slot)
{
	(void)flags;
	hak_hosted_remote_exit(cpu, slot);
}

/* The CPU we run on, for reports and lanes (port.h): may be stale at
 * once. */
static inline unsigned hak_port_cpu_hint(void)
{
	return hak_hosted_current_cpu();
}

static inline unsigned long hak_port_irq_save(void)
{
	return 0;
}

static inline void hak_port_irq_restore(unsigned long flags)
{
	(void)flags;
}

/* Threads mask nothing here (and the port never serves requests). */
static inline int hak_port_irqs_masked(void)
{
	return 0;
}

/* The holder may be a preempted thread: after a short spin, let it run. */
static inline void hak_port_spin_wait(unsigned spins)
{
	if (spins > 64)
		hak_hosted_yield();
	else
		arch_cpu_relax();
}

void hak_hosted_choose_mode(unsigned ncpus);

static inline void hak_port_set_ncpus(unsigned n)
{
	__atomic_store_n(&hak_hosted_ncpus, n, __ATOMIC_RELEASE);
	hak_hosted_choose_mode(n);
}

/* libc's memset and memcpy (vector loops: calloc and realloc of large
 * blocks), through the builtins, which call them. */
#define HAK_PORT_MEMSET(d, c, n) __builtin_memset(d, c, n)
#define HAK_PORT_MEMCPY(d, s, n) __builtin_memcpy(d, s, n)

static inline void hak_port_set_errno(int e)
{
	hak_hosted_set_errno(e);
}

static inline const char *hak_port_fast_path_name(void)
{
#if HAK_PORT_HAS_RSEQ
	if (hak_port_rseq_active())
		return "rseq";
#endif
	return "trylock";
}

static inline int hak_port_lazy_init(void)
{
	return hak_hosted_lazy_init();
}

static inline uint64_t hak_port_entropy(void)
{
	return hak_hosted_entropy();
}

static inline void hak_port_trap(void)
{
	__builtin_trap();
}

/* Reports before hak_init installed a hook: the default sink. */
void hak_hosted_report_default(const struct hak_report *r, void *ctx);

static inline void hak_port_report_fallback(const struct hak_report *r)
{
	hak_hosted_report_default(r, 0);
}

#endif /* HAKMEM_PORT_IMPL_H */
