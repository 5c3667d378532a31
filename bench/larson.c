// SPDX-License-Identifier: MIT
/*
 * larson - Paul Larson's server workload as mimalloc-bench runs it
 * (`larson 5 8 1000 5000 100 4141 T`: seconds, min size, max size, chunks
 * per thread, rounds, seed, threads). Written from the original's
 * behaviour (bench/larson/larson.cpp in mimalloc-bench):
 *
 *  - Warm-up, on the main thread: allocate threads * chunks blocks of
 *    min + r % (max - min) bytes (so 8..999 with the defaults), shuffle
 *    the array, then make 4 * threads * chunks random replacements
 *    (free a random block, allocate a new random size in its place).
 *  - Each thread owns a slice of `chunks` blocks (allocated by the main
 *    thread) and makes rounds * chunks replacements (500,000 with the
 *    defaults), writing two bytes of each new block and checking the
 *    stop flag after every one. Then it starts its successor on the same
 *    slice and exits: blocks are freed by threads other than the one that
 *    allocated them, and threads come and go.
 *  - The clock starts once the first threads are created; the main thread
 *    sleeps `seconds`, sets the stop flag and waits until every slice's
 *    current thread has stopped.
 *
 * Random numbers come from lran2 seeded as the original seeds it (the
 * global generator with `seed`, each thread's with a draw from it), so
 * sizes and victims follow the original's sequence. Like the original,
 * threads are joinable and never joined.
 *
 * Allocation is operator new[] and delete[], resolved as the preloaded
 * allocator's own when it defines them (common.h, bench_cxx_init), since
 * mimalloc-bench builds larson as C++ (CPP=1); --sized 1 frees with the
 * sized operator delete[], which is mimalloc-bench's larson-sized.
 *
 * Deviations: named options instead of positional ones; the original
 * sleeps 2.5 s after printing its result, which we do not (it is outside
 * what is measured); at the end we wait until no worker is still running
 * (a successor created just before the stop exits at once), so that the
 * counters are read after all work.
 *
 * One op = one replacement (free + malloc). time_sec is the original's
 * "relative time", 1e9 / (ops per second), which mimalloc-bench reports
 * as larson's time.
 */
#include <sched.h>
#include <unistd.h>

#include "common.h"

static long o_threads = 1, o_min = 8, o_max = 1000, o_chunks = 5000,
	    o_rounds = 100, o_seed = 4141, o_sized;
static double o_seconds = 5.0;

struct slice {
	int slot;
	char **blocks;
	size_t *sizes;
	struct lran2 rng;
	uint64_t allocs; /* over all generations, as the original's cAllocs */
	uint64_t generations;
	int finished; /* the current thread of this slice has stopped */
} __attribute__((aligned(128)));

static int stop;
static int running; /* worker threads that have not yet returned */

static void start_worker(struct slice *s);

static size_t block_size(struct lran2 *r)
{
	if (o_max == o_min)
		return (size_t)o_min;
	return (size_t)(o_min + lran2_next(r) % (o_max - o_min));
}

static void *worker(void *arg)
{
	struct slice *s = arg;
	long n = o_rounds * o_chunks, i;

	if (__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		__atomic_store_n(&s->finished, 1, __ATOMIC_RELEASE);
		goto out;
	}
	__atomic_store_n(&s->finished, 0, __ATOMIC_RELAXED);
	s->generations++;
	for (i = 0; i < n; i++) {
		long v = lran2_next(&s->rng) % o_chunks;
		size_t sz;
		volatile char *p;
		char c;

		xdelete(s->slot, s->blocks[v], s->sizes[v], (int)o_sized);
		sz = block_size(&s->rng);
		p = xnew(s->slot, sz);
		s->blocks[v] = (char *)p;
		s->sizes[v] = sz;
		s->allocs++;
		/* The original writes 'a', reads it back, writes 'b'. */
		p[0] = 'a';
		c = p[0];
		p[1] = 'b';
		if (c != 'a')
			bench_fail("larson: block %p lost its first byte", (void *)p);
		if (__atomic_load_n(&stop, __ATOMIC_ACQUIRE))
			break;
	}
	__atomic_store_n(&s->finished, 1, __ATOMIC_RELEASE);
	if (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE))
		start_worker(s);
out:
	__atomic_sub_fetch(&running, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* Joinable and never joined, as the original's threads. */
static void start_worker(struct slice *s)
{
	pthread_t t;

	__atomic_add_fetch(&running, 1, __ATOMIC_ACQ_REL);
	xpthread_create(&t, worker, s);
}

int main(int argc, char **argv)
{
	const struct bench_opt opts[] = {
		{ "--seconds", &o_seconds, NULL, "run time (5)" },
		{ "--min", NULL, &o_min, "smallest block (8)" },
		{ "--max", NULL, &o_max, "sizes are below this (1000)" },
		{ "--chunks", NULL, &o_chunks, "blocks per thread (5000)" },
		{ "--rounds", NULL, &o_rounds, "a thread makes rounds * chunks replacements (100)" },
		{ "--seed", NULL, &o_seed, "lran2 seed (4141)" },
		{ "--threads", NULL, &o_threads, "threads" },
		{ "--sized", NULL, &o_sized, "1: sized operator delete[] (larson-sized)" },
		{ NULL, NULL, NULL, NULL },
	};
	static struct slice sl[BENCH_MAX_THREADS];
	struct lran2 rng;
	char **blk;
	size_t *bsz;
	uint64_t allocs = 0, gens = 0;
	long n, i, t;
	double t0, t1, rate;
	char extra[200];

	bench_parse(argc, argv, opts);
	if (o_threads < 1 || o_threads > BENCH_MAX_THREADS || o_min < 2 ||
	    o_max < o_min || o_chunks < 1 || o_rounds < 1 || o_seconds <= 0) {
		fprintf(stderr, "larson: bad parameters\n");
		return 2;
	}
	bench_cxx_init();
	n = o_threads * o_chunks;
	blk = malloc(sizeof(*blk) * (size_t)n);
	bsz = malloc(sizeof(*bsz) * (size_t)n);
	if (!blk || !bsz)
		abort();

	/* Warm-up on the main thread; its blocks go to the slices. */
	lran2_seed(&rng, o_seed);
	for (i = 0; i < n; i++) {
		bsz[i] = block_size(&rng);
		blk[i] = xnew((int)(i / o_chunks), bsz[i]);
	}
	for (i = n; i > 0; i--) {
		long v = lran2_next(&rng) % i;
		char *tp = blk[v];
		size_t ts = bsz[v];

		blk[v] = blk[i - 1];
		bsz[v] = bsz[i - 1];
		blk[i - 1] = tp;
		bsz[i - 1] = ts;
	}
	for (i = 0; i < 4 * n; i++) {
		long v = lran2_next(&rng) % n;
		int slot = (int)(v / o_chunks);

		xdelete(slot, blk[v], bsz[v], (int)o_sized);
		bsz[v] = block_size(&rng);
		blk[v] = xnew(slot, bsz[v]);
	}

	for (t = 0; t < o_threads; t++) {
		struct slice *s = &sl[t];

		s->slot = (int)t;
		s->blocks = blk + t * o_chunks;
		s->sizes = bsz + t * o_chunks;
		lran2_seed(&s->rng, lran2_next(&rng));
		start_worker(s);
	}
	t0 = now_sec();
	sleep_sec(o_seconds);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (t = 0; t < o_threads; t++)
		while (!__atomic_load_n(&sl[t].finished, __ATOMIC_ACQUIRE))
			sched_yield();
	t1 = now_sec();
	/* Not timed: let a successor started just before the stop exit. */
	while (__atomic_load_n(&running, __ATOMIC_ACQUIRE) > 0)
		sched_yield();
	for (t = 0; t < o_threads; t++) {
		allocs += sl[t].allocs;
		gens += sl[t].generations;
	}
	rate = t1 > t0 ? (double)allocs / (t1 - t0) : 0;
	bench_rtime = rate > 0 ? 1e9 / rate : 0;
	snprintf(extra, sizeof(extra),
		 "threads=%ld min=%ld max=%ld chunks=%ld rounds=%ld seed=%ld "
		 "sized=%ld cxx=%s threads_created=%" PRIu64,
		 o_threads, o_min, o_max, o_chunks, o_rounds, o_seed, o_sized,
		 cxx.from, gens);
	bench_report(o_sized ? "larson-sized" : "larson", extra, (double)allocs,
		     t1 - t0);
	/* Like the original, the blocks are left to the process's exit. */
	return 0;
}
