/* SPDX-License-Identifier: MIT */
/*
 * sync.h - how mm/ states and checks its invariants (HAK_ASSERT) and the
 * shared spinlock (shards, the global lock): taken with IRQs masked,
 * held for bounded work.
 */
#ifndef HAKMEM_MM_SYNC_H
#define HAKMEM_MM_SYNC_H

#include "defs.h"
#include "hakmem/port.h"

/* ---- invariants ------------------------------------------------------ */

/*
 * HAK_ASSERT(cond): debug builds check what the comments state ("global
 * lock held", "inside cpu's critical section"), as Linux's VM_BUG_ON
 * does, and panic naming the condition, file and line; release builds
 * compile the check away (the condition is not evaluated).
 */
__attribute__((noreturn, cold)) void hak_assert_fail(const char *cond,
						     const char *file,
						     int line);
#if HAK_DEBUG
#define HAK_ASSERT(cond)                                                       \
	do {                                                                   \
		if (unlikely(!(cond)))                                         \
			hak_assert_fail(#cond, __FILE__, __LINE__);            \
	} while (0)
#else
#define HAK_ASSERT(cond) ((void)sizeof(!(cond)))
#endif

/* ---- spinlock (inline) ---------------------------------------------- */

typedef struct {
	int v;
	/* Acquisitions, and those that found the lock taken (hak_stats):
	 * written by the holder only, with relaxed atomic stores, so that
	 * hak_stats can read them without the lock. */
	uint32_t waits;
	uint64_t holds;
} hak_spinlock_t;

/*
 * Every holder runs with IRQs masked (bare metal) and does bounded work,
 * so the lock is free again within the longest critical section. A
 * test-and-set lock does not promise that a given waiter then gets it
 * (another CPU's exchange may win each time), so one CPU's wait has no
 * bound in theory. A ticket lock would give one, but in a guest whose
 * vCPUs the host preempts, a ticket handed to a descheduled vCPU stalls
 * every CPU behind it. Tried in session 16 and taken out again: the
 * QEMU matrix (4 vCPUs on 2 host cores) took 320 s instead of 122 s, and
 * on a quiet machine the aarch64 LSE debug suite at -smp 4 timed out in
 * percpu_stress in 2 of 3 runs and took 37 s in the third, against 6-7 s
 * for each of 3 runs with this lock. A fair lock for guests needs the
 * host's help (Linux's paravirt qspinlock). The hosted port yields to a
 * preempted holder.
 */
static inline unsigned long hak_lock(hak_spinlock_t *l)
{
	unsigned long flags = hak_port_irq_save();
	unsigned spins = 0;

	if (unlikely(__atomic_exchange_n(&l->v, 1, __ATOMIC_ACQUIRE))) {
		do {
			do
				hak_port_spin_wait(++spins);
			while (__atomic_load_n(&l->v, __ATOMIC_RELAXED));
		} while (__atomic_exchange_n(&l->v, 1, __ATOMIC_ACQUIRE));
		__atomic_store_n(&l->waits, l->waits + 1, __ATOMIC_RELAXED);
	}
	__atomic_store_n(&l->holds, l->holds + 1, __ATOMIC_RELAXED);
	return flags;
}

/* hak_stats: add l's counts, read without the lock. */
static inline void hak_lock_stats(const hak_spinlock_t *l, uint64_t *holds,
				  uint64_t *waits)
{
	*holds += __atomic_load_n(&l->holds, __ATOMIC_RELAXED);
	*waits += __atomic_load_n(&l->waits, __ATOMIC_RELAXED);
}

/* Someone holds l (for assertions: a spinlock records no owner). */
static inline int hak_lock_held(hak_spinlock_t *l)
{
	return __atomic_load_n(&l->v, __ATOMIC_RELAXED) != 0;
}

static inline void hak_unlock(hak_spinlock_t *l, unsigned long flags)
{
	HAK_ASSERT(hak_lock_held(l));
	__atomic_store_n(&l->v, 0, __ATOMIC_RELEASE);
	hak_port_irq_restore(flags);
}

/*
 * A bounded walk (hak_check's): the walk runs in holds of l of bounded
 * length, l dropped (IRQs on) in between, and what it saw stays valid iff
 * no one else took l meanwhile: l's hold count moved by this walker's
 * acquisition only. hak_walk_hold says HAK_WALK_ON (go on), HAK_WALK_START
 * (start the walk, again: always on the first hold) or, after
 * HAK_WALK_TRIES starts in all, HAK_WALK_GIVE_UP: l is let go and the
 * comparison the walk could not make is counted in *skips (hak_stats'
 * check_skipped), never reported as a violation.
 */
#define HAK_WALK_TRIES 3

enum { HAK_WALK_ON, HAK_WALK_START, HAK_WALK_GIVE_UP };

/* Called in every gap between two holds of a bounded walk: a no-op
 * (weak, maintenance.c) that a white-box test replaces to make another
 * CPU's change land exactly there (tests/host/test_check.c). */
void hak_test_walk_gap(void) hak_hidden;
/* Test builds only (-DHAK_TEST_HOOKS, the host tests' library): called
 * by free()'s slow path between its reads of a slab's fields and of the
 * block (malloc.c, block_lookup) when a test sets it
 * (tests/host/test_free_race.c). Shipped builds have no pointer, no call
 * and no cost on that path, every free of a created heap's block. */
#ifdef HAK_TEST_HOOKS
extern void (*hak_test_lookup_gap)(void) hak_hidden;
struct hak_shard;
/* ... and by a refill between two holds of its shard's lock, unlocked
 * (shared_pool.c, hak_shared_refill: tests/host/test_refill_race.c). */
extern void (*hak_test_refill_gap)(struct hak_shard *sh) hak_hidden;
#endif

struct hak_walk {
	hak_spinlock_t *l;
	uint64_t *skips;     /* the heap's check_skips */
	uint64_t seen;	     /* l's hold count when this walker let go */
	unsigned long flags; /* of the hold in progress */
	unsigned starts;     /* walks begun */
};

static inline int hak_walk_hold(struct hak_walk *w)
{
	w->flags = hak_lock(w->l);
	if (w->starts && w->l->holds == w->seen + 1)
		return HAK_WALK_ON;
	if (w->starts++ < HAK_WALK_TRIES)
		return HAK_WALK_START;
	hak_unlock(w->l, w->flags);
	__atomic_fetch_add(w->skips, 1, __ATOMIC_RELAXED);
	return HAK_WALK_GIVE_UP;
}

static inline void hak_walk_let_go(struct hak_walk *w)
{
	w->seen = w->l->holds;
	hak_unlock(w->l, w->flags);
	hak_test_walk_gap();
}

/*
 * A lock-free read of a field that other CPUs write, with relaxed atomic
 * stores, under a lock, on a path that is right whatever value it reads
 * (free()'s reads of a slab's start, high-water offset and divisor) and
 * the slab map entry it reads them through. An
 * atomic load under ThreadSanitizer, which must see the race as intended;
 * a plain one elsewhere, so that the compiler folds it into the compare or
 * multiply that uses it (a separate load per field otherwise).
 */
#if defined(__SANITIZE_THREAD__)
#define hak_racy_load(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#else
#define hak_racy_load(x) (x)
#endif

/*
 * The fences of a seqlock (a slab's sequence: shared_pool.c writes it,
 * malloc.c's block_lookup reads it). ThreadSanitizer does not support
 * thread fences (GCC refuses them under -fsanitize=thread): its builds
 * get compiler barriers only, which the hosted x86_64 hardware's order
 * makes enough; every other build the real fences.
 */
#if defined(__SANITIZE_THREAD__) && !defined(__x86_64__)
#error "ThreadSanitizer builds: the seqlock's compiler barriers are enough on x86_64 only"
#elif defined(__SANITIZE_THREAD__)
#define hak_fence_acquire() __atomic_signal_fence(__ATOMIC_ACQUIRE)
#define hak_fence_release() __atomic_signal_fence(__ATOMIC_RELEASE)
#else
#define hak_fence_acquire() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define hak_fence_release() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif

#endif /* HAKMEM_MM_SYNC_H */
