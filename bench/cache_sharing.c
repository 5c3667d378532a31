// SPDX-License-Identifier: MIT
/*
 * cache_sharing - Hoard's cache-thrash and cache-scratch (mimalloc-bench
 * bench/cache-thrash, bench/cache-scratch) in one program, run as
 * mimalloc-bench runs them: `cache-thrash T 1000 1 2000000 T` and
 * `cache-scratch T 1000 1 2000000 T` (threads, iterations, object size,
 * repetitions, concurrency), with T = 1 and T = the CPU count. Written
 * from the originals' behaviour:
 *
 *  - Each of `threads` threads does `iterations` times: allocate an
 *    object of `objsize` bytes (operator new[], i.e. malloc), then
 *    repetitions / threads times write every byte k of it with k and read
 *    it back into a volatile local that is incremented, then free it.
 *  - cache-scratch (--passive 1) first has the main thread allocate one
 *    object per thread, back to back, and hand one to each thread, which
 *    frees it before its loop: an allocator that hands that memory back
 *    to the thread makes the threads write to objects that may share a
 *    cache line (passive false sharing). cache-thrash (--passive 0) has
 *    no such hand-over; an allocator that puts different threads' objects
 *    on one line causes the sharing itself (active false sharing).
 *  - Fixed work: the time is the elapsed time of the whole run.
 *
 * Allocation is operator new[] / delete[] (and scalar delete for the
 * given object), the preloaded allocator's own when it defines them, as
 * in the C++ originals (common.h, bench_cxx_init).
 *
 * Deviation: our object is written through a volatile pointer, so every
 * store of the inner loop reaches memory. The original writes through a
 * plain pointer and a compiler may keep fewer of those stores; the
 * volatile makes the false sharing the benchmark is about certain.
 * The `concurrency` argument only fed pthread_setconcurrency, a no-op on
 * Linux, and is not taken.
 *
 * One op = one object allocated, written and freed. time_sec = elapsed.
 */
#include "common.h"

static long o_threads = 1, o_iterations = 1000, o_objsize = 1,
	    o_repetitions = 2000000, o_passive;

struct worker {
	int slot;
	char *given;
	uintptr_t first; /* the first object this thread allocated */
} __attribute__((aligned(128)));

static void *run(void *arg)
{
	struct worker *w = arg;
	long reps = o_repetitions / o_threads, i, j, k;

	/* The original frees the given object with scalar delete. */
	if (w->given) {
		live_free(w->slot, (size_t)o_objsize);
		cxx.del(w->given);
	}
	for (i = 0; i < o_iterations; i++) {
		volatile char *obj = xnew(w->slot, (size_t)o_objsize);

		if (!i)
			w->first = (uintptr_t)obj;
		for (j = 0; j < reps; j++) {
			for (k = 0; k < o_objsize; k++) {
				volatile char ch;

				obj[k] = (char)k;
				ch = obj[k];
				ch++;
				(void)ch;
			}
		}
		for (k = 0; k < o_objsize; k++)
			if (obj[k] != (char)k)
				bench_fail("cache_sharing: byte %ld of an object changed", k);
		xdelete(w->slot, (void *)obj, (size_t)o_objsize, 0);
	}
	return NULL;
}

/* Pairs of threads whose first objects shared a 64-byte line: the
 * condition for false sharing, reported so that a number can be read. */
static int same_line_pairs(const struct worker *w, int n)
{
	int i, j, pairs = 0;

	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			if (w[i].first / 64 == w[j].first / 64)
				pairs++;
	return pairs;
}

int main(int argc, char **argv)
{
	const struct bench_opt opts[] = {
		{ "--threads", NULL, &o_threads, "threads" },
		{ "--iterations", NULL, &o_iterations, "objects per thread (1000)" },
		{ "--objsize", NULL, &o_objsize, "object size (1)" },
		{ "--repetitions", NULL, &o_repetitions, "writes per byte, split over the threads (2000000)" },
		{ "--passive", NULL, &o_passive, "1: cache-scratch, 0: cache-thrash" },
		{ NULL, NULL, NULL, NULL },
	};
	static struct worker w[BENCH_MAX_THREADS];
	pthread_t th[BENCH_MAX_THREADS];
	double t0, t1;
	char extra[160];
	long i;

	bench_parse(argc, argv, opts);
	if (o_threads < 1 || o_threads > BENCH_MAX_THREADS || o_objsize < 1 ||
	    o_iterations < 1 || o_repetitions < o_threads) {
		fprintf(stderr, "cache_sharing: bad parameters\n");
		return 2;
	}
	bench_cxx_init();
	t0 = now_sec();
	/* The main thread's objects are accounted to the threads that free
	 * them. */
	for (i = 0; i < o_threads; i++) {
		w[i].slot = (int)i;
		if (o_passive)
			w[i].given = xnew((int)i, (size_t)o_objsize);
	}
	for (i = 0; i < o_threads; i++)
		xpthread_create(&th[i], run, &w[i]);
	for (i = 0; i < o_threads; i++)
		pthread_join(th[i], NULL);
	t1 = now_sec();
	snprintf(extra, sizeof(extra),
		 "threads=%ld iterations=%ld objsize=%ld repetitions=%ld "
		 "same_line_pairs=%d cxx=%s",
		 o_threads, o_iterations, o_objsize, o_repetitions,
		 same_line_pairs(w, (int)o_threads), cxx.from);
	bench_report(o_passive ? "cache-scratch" : "cache-thrash", extra,
		     (double)(o_threads * o_iterations), t1 - t0);
	return 0;
}
