// SPDX-License-Identifier: MIT
/*
 * rptest - Mattias Jansson's rpmalloc benchmark (mimalloc-bench
 * bench/rptest) as mimalloc-bench runs it:
 * `rptest T 0 1 2 500 1000 100 8 16000` (threads, mode 0 = random sizes,
 * size mode 1 = linear drop-off, cross-thread rate 2, 500 loops, 1000
 * live slots per thread, 100 ops per loop, sizes 8..16000). Written from
 * the original's behaviour:
 *
 *  - Sizes come from a table of 2000 uniform draws in [0, 100000) scaled
 *    to [min, max]; the linear drop-off table combines three consecutive
 *    entries (min + e * |w0 + w1 - 1|, w = 1 - the scaled position), so
 *    small sizes are the most frequent. Per-loop alloc and free counts
 *    come from tables of 311 and 257 draws in [30, 100) percent of the op
 *    count (frees at 80% of that).
 *  - The program runs twice; each run starts every thread, and each
 *    thread makes two passes of `loops` loops over its `allocs` slots.
 *    A loop first takes the batches other threads posted to it and frees
 *    them, frees up to its free count of slots (stepping by a prime that
 *    does not divide the slot count), then allocates its alloc count of
 *    blocks into slots (freeing what a slot holds), stepping by another
 *    prime. Every `cross rate`-th loop it also allocates a batch of that
 *    many blocks (plus the batch record and its pointer array) and posts
 *    it to the next thread round-robin, until the first thread finishes
 *    its pass.
 *  - Allocation is as the original's "crt" wrapper: sizes under 4096
 *    rotate through alignments 0, 8 and 16; alignment 0 is calloc(1, n),
 *    8 and 16 are memalign followed by a memset of the whole block. Each
 *    block gets its size written in its first 4 bytes, a byte in each
 *    page from the second to the last-but-one, and its last byte.
 *  - Between passes the main thread sleeps one second at a time while
 *    the threads wait for it (polling their mailboxes every millisecond),
 *    and samples the process's memory; each pass ends by freeing every
 *    slot.
 *  - Only the loops, the frees of posted batches and the final frees are
 *    timed, per thread; the result is memory ops per CPU second: all
 *    mallocs and frees of all threads over the sum of the threads' timed
 *    seconds. mimalloc-bench reports 2,000,000 / that as rptest's time,
 *    and so does time_sec here.
 *
 * Deviations: the three tables are our own draws of the same
 * distributions (the original's fixed tables are not copied), so the
 * sequence of sizes differs while their distribution does not;
 * --pause-ms scales the one-second pauses (1000 by default) so that a
 * smoke run does not take 17 s; the original's 120 s per-pass abort is
 * not kept; a thread's mailbox is an atomic exchange/CAS stack without
 * the original's tag bits (only whole-list takes happen, so there is no
 * ABA). We check each block's size word before freeing it (the original
 * reads it too) and, with --verify 1 (the smoke runs), its last byte.
 */
#include <math.h>
#include <malloc.h>
#include <unistd.h>

#include "common.h"

#define NSIZES 2000
#define NALLOC_OPS 311
#define NFREE_OPS 257

static long o_threads = 1, o_mode, o_size_mode = 1, o_cross = 2,
	    o_loops = 500, o_allocs = 1000, o_ops = 100, o_min = 8,
	    o_max = 16000, o_pause_ms = 1000;

static size_t size_even[NSIZES], size_lin[NSIZES], size_exp[NSIZES];
static size_t *sizes;
static size_t alloc_ops[NALLOC_OPS], free_ops[NFREE_OPS];
static size_t alloc_step, free_step;

struct batch {
	void **pointers;
	size_t count;
	struct batch *next;
};

struct worker {
	int index;
	struct batch *mailbox;
	uint64_t ns;	/* timed nanoseconds of this run */
	uint64_t mops;	/* mallocs and frees of this run */
	pthread_t t;
} __attribute__((aligned(128)));

static struct worker w[BENCH_MAX_THREADS];
static int start_flag;
static int sync_count;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void pause_ms(long ms)
{
	sleep_sec((double)ms / 1000.0);
}

/* The original's wrapper: calloc, or memalign and fill. */
static void *rp_alloc(int slot, size_t align, size_t n)
{
	void *p;

	if (align) {
		p = memalign(align, n);
		if (p)
			memset(p, 0xcd, n);
	} else {
		p = calloc(1, n);
	}
	if (!p) {
		fprintf(stderr, "rptest: allocation of %zu failed\n", n);
		abort();
	}
	live_alloc(slot, n);
	return p;
}

static void *alloc_block(int slot, size_t size, size_t align)
{
	char *p = rp_alloc(slot, size < 4096 ? align : 0, size);
	size_t pages = (size - 1) / 4096, pg;

	*(int32_t *)p = (int32_t)size;
	for (pg = 1; pg < pages; pg++)
		p[pg * 4096] = 1;
	p[size - 1] = 1;
	return p;
}

static void free_block(int slot, void *q)
{
	char *p = q;
	int32_t size = *(int32_t *)p;

	if (size < (int32_t)o_min || size > (int32_t)o_max)
		bench_fail("rptest: block %p has size word %d", q, size);
	else if (bench_verify && size >= 8 && p[size - 1] != 1)
		bench_fail("rptest: block %p lost its last byte", q);
	live_free(slot, (size_t)(size > 0 ? size : 0));
	free(p);
}

static void post(struct worker *to, struct batch *b)
{
	struct batch *old = __atomic_load_n(&to->mailbox, __ATOMIC_RELAXED);

	do
		b->next = old;
	while (!__atomic_compare_exchange_n(&to->mailbox, &old, b, 1,
					    __ATOMIC_RELEASE, __ATOMIC_RELAXED));
}

static struct batch *take(struct worker *me)
{
	return __atomic_exchange_n(&me->mailbox, NULL, __ATOMIC_ACQUIRE);
}

/* Frees what other threads posted; returns the number of frees. */
static uint64_t free_batches(int slot, struct batch *b)
{
	uint64_t n = 0;

	while (b) {
		struct batch *next = b->next;
		size_t i;

		for (i = 0; i < b->count; i++)
			free_block(slot, b->pointers[i]);
		n += b->count;
		xfree(slot, b->pointers, sizeof(void *) * b->count);
		xfree(slot, b, sizeof(*b));
		n += 2;
		b = next;
	}
	return n;
}

/* Until the main thread resets the sync count: free posted batches,
 * timed and counted as the original does. */
static void wait_for_main(struct worker *me)
{
	__atomic_add_fetch(&sync_count, 1, __ATOMIC_ACQ_REL);
	do {
		struct batch *b = take(me);

		if (b) {
			uint64_t t0 = now_ns();

			me->mops += free_batches(me->index, b);
			me->ns += now_ns() - t0;
		}
		pause_ms(1);
	} while (__atomic_load_n(&sync_count, __ATOMIC_ACQUIRE));
}

static void *worker_main(void *arg)
{
	struct worker *me = arg;
	const size_t align[3] = { 0, 8, 16 };
	size_t n = (size_t)o_allocs, alloc_idx = 0, free_idx = 0, cross = 0;
	void **ptrs = rp_alloc(me->index, 16, sizeof(void *) * n);
	int iter;

	memset(ptrs, 0, sizeof(void *) * n);
	while (!__atomic_load_n(&start_flag, __ATOMIC_ACQUIRE))
		pause_ms(10);
	me->ns = 0;
	me->mops = 0;
	for (iter = 0; iter < 2; iter++) {
		size_t si = ((size_t)(me->index + 1) * ((size_t)(iter + 1) * 37)) % NSIZES;
		int do_foreign = 1;
		long loop;
		size_t i;
		uint64_t t0;

		for (loop = 0; loop < o_loops; loop++) {
			struct batch *foreign = take(me);
			size_t nfree = free_ops[(size_t)(iter + loop) % NFREE_OPS];
			size_t nalloc = alloc_ops[(size_t)(iter + loop) % NALLOC_OPS];

			t0 = now_ns();
			for (i = 0; i < nfree; i++) {
				if (ptrs[free_idx]) {
					free_block(me->index, ptrs[free_idx]);
					me->mops++;
					ptrs[free_idx] = NULL;
				}
				free_idx = (free_idx + free_step) % n;
			}
			me->mops += free_batches(me->index, foreign);
			for (i = 0; i < nalloc; i++) {
				size_t size = o_mode ? (size_t)o_min : sizes[(si + 2) % NSIZES];

				if (ptrs[alloc_idx]) {
					free_block(me->index, ptrs[alloc_idx]);
					me->mops++;
				}
				ptrs[alloc_idx] = alloc_block(me->index, size, align[(si + i) % 3]);
				me->mops++;
				alloc_idx = (alloc_idx + alloc_step) % n;
				si = (si + 1) % NSIZES;
			}
			foreign = NULL;
			if (o_cross && loop % o_cross == 0 && do_foreign) {
				foreign = rp_alloc(me->index, 16, sizeof(*foreign));
				foreign->count = nalloc;
				foreign->pointers = rp_alloc(me->index, 16,
							     sizeof(void *) * nalloc);
				me->mops += 2;
				for (i = 0; i < nalloc; i++) {
					size_t size = o_mode ? (size_t)o_min :
						      sizes[(si + 2) % NSIZES];

					foreign->pointers[i] =
						alloc_block(me->index, size, align[(si + i) % 3]);
					me->mops++;
					si = (si + 1) % NSIZES;
				}
			}
			me->ns += now_ns() - t0;
			if (foreign) {
				cross = (cross + 1) % (size_t)o_threads;
				if (o_threads > 1 && cross == (size_t)me->index)
					cross = (cross + 1) % (size_t)o_threads;
				post(&w[cross], foreign);
			}
			if (__atomic_load_n(&sync_count, __ATOMIC_ACQUIRE) > 0)
				do_foreign = 0; /* a thread has finished its pass */
		}
		wait_for_main(me);
		t0 = now_ns();
		for (i = 0; i < n; i++) {
			if (ptrs[i]) {
				free_block(me->index, ptrs[i]);
				me->mops++;
				ptrs[i] = NULL;
			}
		}
		me->ns += now_ns() - t0;
		pause_ms(10);
		free_batches(me->index, take(me)); /* neither timed nor counted */
	}
	pause_ms(o_pause_ms);
	wait_for_main(me);
	xfree(me->index, ptrs, sizeof(void *) * n);
	return NULL;
}

/* Until every thread has reached the sync point, then a pause. */
static void wait_for_threads(void)
{
	while (__atomic_load_n(&sync_count, __ATOMIC_ACQUIRE) < (int)o_threads)
		pause_ms(o_pause_ms);
	pause_ms(o_pause_ms);
}

static void make_tables(void)
{
	const size_t primes[] = { 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43,
				  47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97 };
	uint64_t seed = 0x7270746573740001ULL; /* our own draws */
	double range = (double)(o_max - o_min);
	size_t i, k = 0;

	for (i = 0; i < NSIZES; i++) {
		uint64_t u = splitmix64(&seed) % 100000;

		size_even[i] = (size_t)o_min + (size_t)round(range * ((double)u / 100000.0));
	}
	if (range == 0)
		range = 1;
	for (i = 0; i < NSIZES; i++) {
		double w0 = 1.0 - (double)(size_even[i] - (size_t)o_min) / range;
		double w1 = 1.0 - (double)(size_even[(i + 1) % NSIZES] - (size_t)o_min) / range;
		double e = (double)(size_even[(i + 2) % NSIZES] - (size_t)o_min);

		size_lin[i] = (size_t)o_min + (size_t)(e * fabs((w0 + w1) - 1.0));
		size_exp[i] = (size_t)o_min + (size_t)(e * (w0 * w1));
	}
	for (i = 0; i < NALLOC_OPS; i++)
		alloc_ops[i] = (size_t)((double)o_ops *
			((double)(30 + splitmix64(&seed) % 70) / 100.0));
	for (i = 0; i < NFREE_OPS; i++)
		free_ops[i] = (size_t)(0.8 * (double)o_ops *
			((double)(30 + splitmix64(&seed) % 70) / 100.0));
	sizes = o_size_mode == 0 ? size_even : o_size_mode == 1 ? size_lin : size_exp;
	/* Two primes that do not divide the slot count, as the original. */
	while ((size_t)o_allocs % primes[k] == 0)
		k++;
	alloc_step = primes[k++];
	while ((size_t)o_allocs % primes[k] == 0)
		k++;
	free_step = primes[k];
}

int main(int argc, char **argv)
{
	const struct bench_opt opts[] = {
		{ "--threads", NULL, &o_threads, "threads" },
		{ "--mode", NULL, &o_mode, "0 random sizes, 1 fixed (min)" },
		{ "--size-mode", NULL, &o_size_mode, "0 even, 1 linear drop-off, 2 exp" },
		{ "--cross", NULL, &o_cross, "post a batch every n loops, 0 never" },
		{ "--loops", NULL, &o_loops, "loops per pass (500)" },
		{ "--allocs", NULL, &o_allocs, "live slots per thread (1000)" },
		{ "--ops", NULL, &o_ops, "op count per loop (100)" },
		{ "--min", NULL, &o_min, "smallest size (8)" },
		{ "--max", NULL, &o_max, "largest size (16000)" },
		{ "--pause-ms", NULL, &o_pause_ms, "the original's 1 s pauses (1000)" },
		{ "--verify", NULL, &bench_verify, "1: check markers the original never reads (smoke runs)" },
		{ NULL, NULL, NULL, NULL },
	};
	uint64_t ns = 0, mops = 0;
	double t0, t1, rate;
	char extra[200];
	long run, i;

	bench_parse(argc, argv, opts);
	if (o_threads < 1 || o_threads > BENCH_MAX_THREADS || o_mode < 0 ||
	    o_mode > 1 || o_size_mode < 0 || o_size_mode > 2 || o_cross < 0 ||
	    o_loops < 1 || o_allocs < 2 || o_ops < 1 || o_min < 8 ||
	    o_max < o_min || o_max > 0x7fffffff || o_pause_ms < 0) {
		fprintf(stderr, "rptest: bad parameters\n");
		return 2;
	}
	if (o_threads == 1)
		o_cross = 0;
	make_tables();
	t0 = now_sec();
	for (run = 0; run < 2; run++) {
		__atomic_store_n(&start_flag, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&sync_count, 0, __ATOMIC_RELEASE);
		for (i = 0; i < o_threads; i++) {
			w[i].index = (int)i;
			w[i].mailbox = NULL;
			xpthread_create(&w[i].t, worker_main, &w[i]);
		}
		pause_ms(o_pause_ms);
		__atomic_store_n(&start_flag, 1, __ATOMIC_RELEASE);
		/* Three sync points: after each pass, and the final one. */
		wait_for_threads();
		live_sample();
		__atomic_store_n(&sync_count, 0, __ATOMIC_RELEASE);
		pause_ms(o_pause_ms);
		wait_for_threads();
		live_sample();
		__atomic_store_n(&sync_count, 0, __ATOMIC_RELEASE);
		pause_ms(o_pause_ms);
		wait_for_threads();
		__atomic_store_n(&sync_count, 0, __ATOMIC_RELEASE);
		for (i = 0; i < o_threads; i++) {
			pthread_join(w[i].t, NULL);
			ns += w[i].ns;
			mops += w[i].mops;
		}
	}
	t1 = now_sec();
	rate = ns ? (double)mops / ((double)ns * 1e-9) : 0;
	bench_rtime = rate > 0 ? 2000000.0 / rate : 0;
	snprintf(extra, sizeof(extra),
		 "threads=%ld mode=%ld size_mode=%ld cross=%ld loops=%ld "
		 "allocs=%ld ops=%ld min=%ld max=%ld cpu_sec=%.4f pause_ms=%ld",
		 o_threads, o_mode, o_size_mode, o_cross, o_loops, o_allocs,
		 o_ops, o_min, o_max, (double)ns * 1e-9, o_pause_ms);
	/* ops_per_sec here is per CPU second, the original's figure. */
	bench_report("rptest", extra, (double)mops,
		     ns ? (double)ns * 1e-9 : t1 - t0);
	return 0;
}
