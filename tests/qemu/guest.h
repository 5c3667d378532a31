/* SPDX-License-Identifier: MIT */
/*
 * guest.h - shared support for the QEMU images (suite, demo, fail): a
 * locked printf on the serial console, the [test] protocol, bounded waits
 * (barrier, spinlock, deadlines), a seeded RNG, patterned blocks allocated
 * through hak_* with per-CPU accounting, and per-CPU mailboxes for handing
 * blocks to another CPU.
 *
 * Every wait here is bounded by board_ticks(): a hang becomes a FAIL line
 * and board_exit(1), never an endless run.
 */
#ifndef HAKMEM_TESTS_QEMU_GUEST_H
#define HAKMEM_TESTS_QEMU_GUEST_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "board.h"
#include "hakmem.h"
#include "hakmem/arch.h"

#define G_MAX_CPUS 64
#define G_ALIGNED __attribute__((aligned(ARCH_CACHELINE)))

/* ---- console ---------------------------------------------------------- */

/* printf subset: %d %u %x %s %c %p %%, l/ll/z length, width, '-' flag.
 * The whole call is one locked write (IRQs masked while holding it). */
void g_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- the [test] protocol ----------------------------------------------- */

/* Prints "[test] begin NAME" and makes NAME the current test. */
void g_test_begin(const char *name);
/* Prints "[test] pass NAME". */
void g_test_pass(void);
/* Prints "[test] FAIL NAME: reason (cpu N)" and ends the run with status
 * 1. Any CPU, any context. */
__attribute__((noreturn, format(printf, 1, 2))) void g_fail(const char *fmt, ...);
const char *g_test_name(void);

/* ---- time ----------------------------------------------------------------- */

unsigned long g_hz(void);	/* board_tick_hz(), or a guess if unknown */
unsigned long g_ms_ticks(unsigned long ms);
unsigned long g_elapsed_ms(unsigned long since);
/* Fails the test with `what` once `deadline` (board_ticks) has passed. */
void g_check_deadline(unsigned long deadline, const char *what);

/* ---- CPUs ----------------------------------------------------------------- */

extern unsigned g_ncpus;
static inline unsigned g_cpu(void)
{
	return arch_cpu_id();
}

/* Every CPU must call it; fails after a timeout naming the barrier. */
void g_barrier(const char *what);

/* ---- spinlock with IRQs masked, bounded wait ---------------------------- */

typedef struct {
	int v;
} g_lock_t;

unsigned long g_lock(g_lock_t *l, const char *what);
void g_unlock(g_lock_t *l, unsigned long flags);

/* ---- RNG (xorshift64*) ---------------------------------------------------- */

static inline uint64_t g_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

static inline uint64_t g_seed(uint64_t a, uint64_t b)
{
	uint64_t x = a * 0x9e3779b97f4a7c15ULL + b + 0x632be59bd9b4e019ULL;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 29;
	return x ? x : 1;
}

/* Random request sizes. Tiny 0..1024, Pool 1025..32768, Large above;
 * about one in eight picks a size on a class boundary (exact class, one
 * below, one above). large_max bounds Large requests. */
size_t g_size_tiny(uint64_t *r);
size_t g_size_pool(uint64_t *r);
size_t g_size_large(uint64_t *r, size_t large_max);
/* Mix: tiny_pct % Tiny, large_pct % Large, the rest Pool. */
size_t g_size_mix(uint64_t *r, unsigned tiny_pct, unsigned large_pct,
		  size_t large_max);

/* ---- patterned blocks with accounting ----------------------------------- */

enum { G_TINY, G_POOL, G_LARGE, G_NTIERS };
enum { G_CTX_THREAD, G_CTX_IRQ, G_NCTX };

struct g_blk {
	void *p;	 /* NULL: slot empty */
	uint32_t size;	 /* requested */
	uint32_t usable; /* hak_usable_size() at allocation */
	uint32_t acct;	 /* bytes hakmem's stats count for it (g_acct_bytes) */
	uint64_t seed;	 /* pattern seed */
};

/* Per CPU and context (thread / IRQ): what the test did through hak_*.
 * Only the owning CPU and context write a counter. */
struct g_acct {
	uint64_t allocs[G_NTIERS];
	uint64_t frees[G_NTIERS];
	uint64_t cross_sent, cross_freed;
	uint64_t bytes_filled;
} G_ALIGNED;

extern struct g_acct g_acct[G_MAX_CPUS][G_NCTX];

/* Tier of a block from its usable size (valid for alignments <= 4 KiB). */
unsigned g_tier(size_t usable);
/*
 * Bytes hakmem's stats count for the live block p: its class size or page
 * run. In release builds that is hak_usable_size(p); in debug builds
 * (HAK_DEBUG=1, mm/debug.c) usable size is exactly the request and the
 * underlying block, header and red zone included, is what is counted, so
 * it is read from the page map (peek.c; only the suite links it there).
 * Pass it to g_tier() for the block's tier.
 */
size_t g_acct_bytes(const void *p);
const char *g_tier_name(unsigned tier);

enum g_how { G_MALLOC, G_CALLOC, G_ALIGNED_ALLOC };

/*
 * Allocates size bytes the given way (align for G_ALIGNED_ALLOC, <= 4 KiB),
 * checks alignment, usable size and (calloc) zeroing, fills the pattern
 * and counts the allocation in g_acct[cpu][ctx]. Returns 0, or -1 when
 * hakmem returned NULL (b->p is then NULL). A bad block fails the test.
 */
int g_alloc(struct g_blk *b, size_t size, enum g_how how, size_t align,
	    uint64_t seed, int ctx);
/* g_alloc from heap h through hak_heap_*; h NULL: the hak_* calls. */
int g_alloc_heap(struct hak_heap *h, struct g_blk *b, size_t size,
		 enum g_how how, size_t align, uint64_t seed, int ctx);
/* Writes b's pattern over its b->usable bytes (for blocks that did not
 * come from g_alloc, such as object cache objects). */
void g_fill(const struct g_blk *b);
/* Checks the pattern, frees, counts the free; b->p becomes NULL. */
void g_free(struct g_blk *b, int ctx);
/* Checks the pattern of b's first len bytes; fails the test if broken. */
void g_verify(const struct g_blk *b, size_t len, const char *when);
/* hak_realloc to new_size, checks the kept prefix, refills, counts a move
 * as a free of the old block and an allocation of the new one. */
void g_realloc(struct g_blk *b, size_t new_size, uint64_t seed, int ctx);

/* Sum of g_acct over CPUs and contexts. */
void g_acct_sum(struct g_acct *out);
void g_acct_reset(void);

/* ---- per-CPU mailboxes (cross-CPU frees) --------------------------------- */

#define G_MBOX_SLOTS 32

/* 1 if queued for cpu `to`, 0 if its mailbox is full. */
int g_mbox_send(unsigned to, const struct g_blk *b);
/* Takes one block from the calling CPU's mailbox: 1, or 0 if empty. */
int g_mbox_recv(struct g_blk *out);
/* Verifies and frees everything in the calling CPU's mailbox, counting
 * cross-CPU frees in ctx. Returns the number freed. */
unsigned g_mbox_drain(int ctx);

/* ---- report hook ---------------------------------------------------------- */

/* Counts events by kind; records the first event that was not expected. */
void g_report_hook(const struct hak_report *r, void *ctx);
extern uint64_t g_events[HAK_EV__COUNT];
/* While set, HAK_EV_OUT_OF_MEMORY is expected and not recorded. */
extern int g_oom_expected;
/* A copy of the last report the hook saw (exact while one CPU at a time
 * makes bad calls, as the bad_input test does). */
extern struct hak_report g_last_report;
/* The first unexpected event, or 0. */
int g_unexpected_event(const char **what, const void **ptr, unsigned *cpu);
void g_clear_unexpected(void);

/* hak_init_region over the board's heap with g_report_hook; fails on error. */
void g_heap_init(void);
/* The same over the board heap's first `bytes` only, reports to `report`
 * (NULL: g_report_hook): the rest is the caller's (hypervisor.c's VMs). */
void g_heap_init_part(size_t bytes,
		      void (*report)(const struct hak_report *, void *));
size_t g_heap_bytes(void);

/* Copy of hak_stats with a short name. */
static inline void g_stats(struct hak_stats *st)
{
	hak_stats(st);
}

#endif
