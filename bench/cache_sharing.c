// SPDX-License-Identifier: MIT
/*
 * cache_sharing - false sharing, the cache-thrash and cache-scratch
 * workloads in one program.
 *
 * Active (--passive 0, "cache-thrash"): each thread, until `seconds` pass,
 * allocates an object of `objsize` bytes, writes every byte of it
 * `repetitions` times and frees it. An allocator that hands objects on one
 * cache line to threads on different cores makes those writes ping-pong
 * the line; one that keeps each thread (or CPU) on its own lines does not.
 *
 * Passive (--passive 1, "cache-scratch"): first the main thread allocates
 * one small object per thread, back to back (so several share a cache
 * line), and hands one to each thread, which frees it before its loop. An
 * allocator that gives a thread back the object it just freed, still on a
 * line with another thread's, makes the writes ping-pong that line.
 *
 * One op = one object allocated, written and freed. Reports ops/s.
 */
#include "common.h"

static long o_threads = 2, o_objsize = 8, o_repetitions = 1000, o_seed = 42;
static long o_passive;
static double o_seconds = 1.0;

struct worker {
	int slot;
	char *given;
	uint64_t ops;
	uintptr_t first; /* the first object this thread allocated */
} __attribute__((aligned(128)));

static int stop;

static void *run(void *arg)
{
	struct worker *w = arg;
	uint64_t ops = 0;
	long r, k;

	if (w->given)
		xfree(w->slot, w->given, (size_t)o_objsize);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		volatile char *p = xmalloc(w->slot, (size_t)o_objsize);

		if (!ops)
			w->first = (uintptr_t)p;

		for (r = 0; r < o_repetitions; r++)
			for (k = 0; k < o_objsize; k++)
				p[k]++;
		xfree(w->slot, (void *)p, (size_t)o_objsize);
		ops++;
	}
	w->ops = ops;
	return NULL;
}

/* Pairs of threads whose first objects shared a 64-byte cache line: the
 * condition for false sharing, reported so a number can be explained. */
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
		{ "--seconds", &o_seconds, NULL, "duration" },
		{ "--objsize", NULL, &o_objsize, "object size" },
		{ "--repetitions", NULL, &o_repetitions, "writes per byte" },
		{ "--passive", NULL, &o_passive, "1: cache-scratch, 0: cache-thrash" },
		{ "--seed", NULL, &o_seed, "unused; accepted for uniformity" },
		{ NULL, NULL, NULL, NULL },
	};
	static struct worker w[BENCH_MAX_THREADS];
	pthread_t th[BENCH_MAX_THREADS];
	uint64_t ops = 0;
	double t0, t1;
	char extra[128];
	long i;

	bench_parse(argc, argv, opts);
	if (o_threads < 1 || o_threads > BENCH_MAX_THREADS || o_objsize < 1 ||
	    o_repetitions < 1) {
		fprintf(stderr, "cache_sharing: bad parameters\n");
		return 2;
	}
	/* The main thread's allocations are accounted to the workers' slots:
	 * they free them. */
	for (i = 0; i < o_threads; i++) {
		w[i].slot = (int)i;
		if (!o_passive)
			continue;
		w[i].given = xmalloc((int)i, (size_t)o_objsize);
		memset(w[i].given, 1, (size_t)o_objsize);
	}
	t0 = now_sec();
	for (i = 0; i < o_threads; i++)
		xpthread_create(&th[i], run, &w[i]);
	sleep_sec(o_seconds);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < o_threads; i++) {
		pthread_join(th[i], NULL);
		ops += w[i].ops;
	}
	t1 = now_sec();
	snprintf(extra, sizeof(extra),
		 "threads=%ld objsize=%ld repetitions=%ld same_line_pairs=%d",
		 o_threads, o_objsize, o_repetitions,
		 same_line_pairs(w, (int)o_threads));
	bench_report(o_passive ? "cache-scratch" : "cache-thrash", extra,
		     (double)ops, t1 - t0);
	return 0;
}
