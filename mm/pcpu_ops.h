/* SPDX-License-Identifier: MIT */
/*
 * pcpu_ops.h - the operations on the calling CPU's magazine of a class.
 *
 * Each is one per-CPU critical section. Where the port has restartable
 * sequences (hosted Linux with rseq) each is an rseq section in the arch
 * directory that commits with one store; otherwise it is plain C between
 * the port's enter and exit (IRQs masked on bare metal, a trylock on the
 * hosted fallback). Either way an operation commits with one store of the
 * magazine's top (see struct hak_mag).
 *
 *   hak_op_push_batch(f, objs, n) -> how many fitted (may be 0)
 *   hak_op_pop_batch(f, out, n)   -> how many were taken (may be 0)
 * on the magazine of front f (struct hak_front: a per-CPU table and a
 * magazine offset, so a created heap's and an object cache's too).
 * The batch forms may wait for a busy hosted cache (never on bare metal,
 * never in rseq mode). The single pop and push are malloc.c's fast
 * paths, written out there around mag_pop_locked / mag_push_locked.
 */
#ifndef HAKMEM_MM_PCPU_OPS_H
#define HAKMEM_MM_PCPU_OPS_H

#include "internal.h"

static hak_always_inline void *mag_pop_locked(struct hak_mag *m)
{
	void **top = hak_mag_top(m);

	if (top == m->base)
		return NULL;
	m->allocs++;
	hak_mag_set_top(m, top - 1);
	return top[-1];
}

static hak_always_inline int mag_push_locked(struct hak_mag *m, void *p)
{
	void **top = hak_mag_top(m);

	if (top >= m->limit)
		return -1;
	*top = p;
	hak_mag_set_top(m, top + 1);
	return 0;
}

/* The batch forms are not user operations: allocs does not move. */
static inline unsigned mag_push_batch_locked(struct hak_mag *m,
					     void *const *objs, unsigned n)
{
	void **top = hak_mag_top(m);
	unsigned room = (unsigned)(m->limit - top), k, i;

	k = room < n ? room : n;
	for (i = 0; i < k; i++)
		top[i] = objs[i];
	hak_mag_set_top(m, top + k);
	return k;
}

static inline unsigned mag_pop_batch_locked(struct hak_mag *m, void **out,
					    unsigned n)
{
	void **top = hak_mag_top(m);
	unsigned count = (unsigned)(top - m->base), k, i;

	k = count < n ? count : n;
	top -= k;
	for (i = 0; i < k; i++)
		out[i] = top[i];
	hak_mag_set_top(m, top);
	return k;
}

/*
 * The port's CPU id must index a per-CPU area: one compare against ncpus
 * on the fast path (ncpus is 0 before hak_init, so this is also the
 * "not initialised yet" test). The fast paths answer a bad id like a
 * miss, calling nothing, so they stay leaf functions; the slow path they
 * tail into checks in first (hak_remote_poll) and panics naming the id,
 * or initialises. The batch forms, already on a slow path, call
 * hak_pcpu_bad_id directly.
 */
#define pcpu_id_bad(cpu) unlikely((unsigned)(cpu) >= hak_heap.ncpus)

/*
 * After a blocking enter on the hosted fallback: whether rseq mode came on
 * since the caller read the mode (the lazy init turns it on once, with
 * every CPU's lock held: hak_hosted_choose_mode). The cache is then the
 * rseq sections', which ignore the lock: the caller leaves and goes the
 * rseq way. (hak_port_pcpu_try_enter makes the same test itself.)
 */
static hak_always_inline int pcpu_mode_moved(void)
{
#if HAK_PORT_HAS_RSEQ
	return unlikely(hak_port_rseq_active());
#else
	return 0;
#endif
}

/* The magazine at byte offset magoff (HAK_MAG_OFFSET) of cpu's area. */
static hak_always_inline struct hak_mag *hak_pcpu_mag(unsigned cpu,
						      uintptr_t magoff)
{
	return (struct hak_mag *)((char *)hak_heap.pcpu[cpu] + magoff);
}

/* The magazine of front f in cpu's area. A created heap's or a cache's
 * table entry is published by another CPU's miss (hak_pcpu_area_make,
 * a release store): read it with acquire. */
static hak_always_inline struct hak_mag *
hak_front_mag(const struct hak_front *f, unsigned cpu)
{
	return (struct hak_mag *)((char *)hak_area_load(&f->table[cpu]) +
				  f->magoff);
}

static inline unsigned hak_op_push_batch(const struct hak_front *f,
					 void *const *objs, unsigned n)
{
	unsigned long flags;
	unsigned cpu, k;

#if HAK_PORT_HAS_RSEQ
	if (hak_port_rseq_active())
		return (unsigned)arch_rseq_mag_push_batch(
			hak_port_rseq_area(), HAK_PCPU_FAST(f->table),
			f->magoff, objs, n);
#endif
	cpu = hak_port_pcpu_enter(&flags);
	if (pcpu_mode_moved()) {
		hak_port_pcpu_exit(cpu, flags);
		return hak_op_push_batch(f, objs, n);
	}
	if (pcpu_id_bad(cpu)) {
		hak_port_pcpu_exit(cpu, flags);
		hak_pcpu_bad_id(cpu);
		return 0;
	}
	k = mag_push_batch_locked(hak_front_mag(f, cpu), objs, n);
	hak_port_pcpu_exit(cpu, flags);
	return k;
}

static inline unsigned hak_op_pop_batch(const struct hak_front *f,
					void **out, unsigned n)
{
	unsigned long flags;
	unsigned cpu, k;

#if HAK_PORT_HAS_RSEQ
	if (hak_port_rseq_active())
		return (unsigned)arch_rseq_mag_pop_batch(
			hak_port_rseq_area(), HAK_PCPU_FAST(f->table),
			f->magoff, out, n);
#endif
	cpu = hak_port_pcpu_enter(&flags);
	if (pcpu_mode_moved()) {
		hak_port_pcpu_exit(cpu, flags);
		return hak_op_pop_batch(f, out, n);
	}
	if (pcpu_id_bad(cpu)) {
		hak_port_pcpu_exit(cpu, flags);
		hak_pcpu_bad_id(cpu);
		return 0;
	}
	k = mag_pop_batch_locked(hak_front_mag(f, cpu), out, n);
	hak_port_pcpu_exit(cpu, flags);
	return k;
}

/*
 * One pop / push on front f: the fast paths of created heaps and object
 * caches (heap.c, cache.c), whose per-CPU table is not a link-time
 * constant. The port's rseq section where it has one, else one critical
 * section (IRQs masked on bare metal). NULL / -1: empty / full, a bad or
 * busy CPU: the caller takes its slow path.
 */
static hak_always_inline void *hak_op_pop(const struct hak_front *f)
{
	unsigned long flags;
	int cpu;
	void *p;

#if HAK_PORT_HAS_RSEQ && ARCH_RSEQ_HAS_FIXED
	if (likely(hak_port_rseq_fixed()))
		return arch_rseq_mag_pop_fixed(HAK_PCPU_FAST(f->table),
					       f->magoff, &p)
			       ? NULL
			       : p;
#endif
#if HAK_PORT_HAS_RSEQ
	if (likely(hak_port_rseq_active()))
		return arch_rseq_mag_pop(hak_port_rseq_area(),
					 HAK_PCPU_FAST(f->table), f->magoff,
					 &p)
			       ? NULL
			       : p;
#endif
	cpu = hak_port_pcpu_try_enter(&flags);
	if (HAK_PORT_TRYENTER_CAN_FAIL && unlikely(cpu < 0))
		return NULL;
	p = NULL;
	if (!pcpu_id_bad(cpu))
		p = mag_pop_locked(hak_front_mag(f, (unsigned)cpu));
	hak_port_pcpu_exit((unsigned)cpu, flags);
	return p;
}

static hak_always_inline int hak_op_push(const struct hak_front *f, void *p)
{
	unsigned long flags;
	int cpu, r = -1;

#if HAK_PORT_HAS_RSEQ
	/* Inlined, the caller's test of the result folds into the jumps: a
	 * hit tests nothing after the commit. */
#if ARCH_RSEQ_HAS_FIXED
	if (likely(hak_port_rseq_fixed())) {
		ARCH_RSEQ_MAG_PUSH_GOTO_FIXED(HAK_PCPU_FAST(f->table),
					      f->magoff, p, rseq_full);
		return 0;
	}
#endif
	if (likely(hak_port_rseq_active())) {
		ARCH_RSEQ_MAG_PUSH_GOTO(hak_port_rseq_area(),
					HAK_PCPU_FAST(f->table), f->magoff, p,
					rseq_full);
		return 0;
	}
	goto locked;
rseq_full:
	return -1;
locked:
#endif
	cpu = hak_port_pcpu_try_enter(&flags);
	if (HAK_PORT_TRYENTER_CAN_FAIL && unlikely(cpu < 0))
		return -1;
	if (!pcpu_id_bad(cpu))
		r = mag_push_locked(hak_front_mag(f, (unsigned)cpu), p);
	hak_port_pcpu_exit((unsigned)cpu, flags);
	return r;
}

/* Slow-path forms of pop and push: on the hosted fallback they wait for a
 * busy cache instead of failing. With rseq or IRQ masking a failure is
 * final (empty, full, or held remotely), so they just fail. */
static inline void *hak_op_pop_wait(const struct hak_front *f)
{
	unsigned long flags;
	unsigned cpu;
	void *p;

	if (!HAK_PORT_TRYENTER_CAN_FAIL)
		return NULL;
#if HAK_PORT_HAS_RSEQ
	if (hak_port_rseq_active())
		return NULL;
#endif
	cpu = hak_port_pcpu_enter(&flags);
	p = NULL;
	if (!pcpu_mode_moved() && !pcpu_id_bad(cpu))
		p = mag_pop_locked(hak_front_mag(f, cpu));
	hak_port_pcpu_exit(cpu, flags);
	return p;
}

static inline int hak_op_push_wait(const struct hak_front *f, void *p)
{
	unsigned long flags;
	unsigned cpu;
	int r = -1;

	if (!HAK_PORT_TRYENTER_CAN_FAIL)
		return -1;
#if HAK_PORT_HAS_RSEQ
	if (hak_port_rseq_active())
		return -1;
#endif
	cpu = hak_port_pcpu_enter(&flags);
	if (!pcpu_mode_moved() && !pcpu_id_bad(cpu))
		r = mag_push_locked(hak_front_mag(f, cpu), p);
	hak_port_pcpu_exit(cpu, flags);
	return r;
}

#endif /* HAKMEM_MM_PCPU_OPS_H */
