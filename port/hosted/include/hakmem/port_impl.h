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

#include <stdint.h>

#include "hakmem/arch.h"
#include "hakmem/config.h"

#define HAK_PORT_NAME "hosted"
#define HAK_PORT_REMOTE_EXCLUSIVE 1

struct hak_hosted_lock {
	int v;
} __attribute__((aligned(ARCH_CACHELINE)));

extern struct hak_hosted_lock hak_hosted_locks[HAK_MAX_CPUS];
extern unsigned hak_hosted_ncpus; /* >= 1 even before hak_init */

unsigned hak_hosted_current_cpu(void);
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

static inline void hak_port_pcpu_exit(unsigned cpu, unsigned long flags)
{
	(void)flags;
	__atomic_store_n(&hak_hosted_locks[cpu].v, 0, __ATOMIC_RELEASE);
}

static inline int hak_port_pcpu_enter_remote(unsigned cpu,
					     unsigned long *flags)
{
	unsigned spins = 0;

	*flags = 0;
	while (!hak_hosted_trylock(cpu)) {
		if (++spins > 64)
			hak_hosted_yield();
		else
			arch_cpu_relax();
	}
	return 1;
}

static inline void hak_port_pcpu_exit_remote(unsigned cpu,
					     unsigned long flags)
{
	hak_port_pcpu_exit(cpu, flags);
}

/* The CPU we run on, for reports only: may be stale at once. */
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

/* The holder may be a preempted thread: after a short spin, let it run. */
static inline void hak_port_spin_wait(unsigned spins)
{
	if (spins > 64)
		hak_hosted_yield();
	else
		arch_cpu_relax();
}

static inline void hak_port_set_ncpus(unsigned n)
{
	__atomic_store_n(&hak_hosted_ncpus, n, __ATOMIC_RELEASE);
}

static inline void hak_port_set_errno(int e)
{
	hak_hosted_set_errno(e);
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

#endif /* HAKMEM_PORT_IMPL_H */
