// SPDX-License-Identifier: MIT
/*
 * glibc_simple - the workload of glibc's benchtests/bench-malloc-simple
 * as mimalloc-bench runs it (no arguments): for block sizes 16, 32 and 64
 * bytes (--size gives the first; the others are 2x and 4x), and for each
 * of n = 25, 100, 400 and 1600 live blocks, 2,000,000 / n rounds of
 * "malloc n blocks, write every int of each, free all n". Each size runs
 * a warm-up pass, then the four counts on the main thread, on a second
 * thread, and on the main thread again (after a thread existed: glibc's
 * SINGLE_THREAD_P false), as the original does. Re-implemented from its
 * description; the fill loop and the block-pointer array (malloc'd) are
 * the original's.
 *
 * One op = one malloc+free pair. time_sec = the elapsed time of the whole
 * run, which is what mimalloc-bench reports for glibc-simple. --iters
 * (2,000,000, the original's NUM_ITERS) shortens smoke runs.
 */
#include "common.h"

#define NUM_ITERS 2000000
#define NUM_ALLOCS 4
#define MAX_ALLOCS 1600

static const int allocs[NUM_ALLOCS] = { 25, 100, 400, MAX_ALLOCS };
static long o_size = 16, o_seed = 42, o_iters = NUM_ITERS;
static uint64_t pairs;

struct job {
	size_t size;
	int **arr;
};

static void run_one(size_t size, int n, int **arr)
{
	long iters = o_iters / n, j;
	int i;
	size_t g;

	for (j = 0; j < iters; j++) {
		for (i = 0; i < n; i++) {
			arr[i] = malloc(size);
			for (g = 0; g < size / sizeof(int); g++)
				arr[i][g] = (int)g;
		}
		for (i = 0; i < n; i++)
			free(arr[i]);
	}
	__atomic_fetch_add(&pairs, (uint64_t)iters * (uint64_t)n,
			   __ATOMIC_RELAXED);
}

static void run_all(size_t size, int **arr)
{
	int i;

	for (i = 0; i < NUM_ALLOCS; i++)
		run_one(size, allocs[i], arr);
}

static void *thread_main(void *p)
{
	struct job *j = p;

	run_all(j->size, j->arr);
	return NULL;
}

static void bench_size(size_t size)
{
	int **arr = malloc(MAX_ALLOCS * sizeof(*arr));
	struct job j = { size, arr };
	pthread_t t;

	escape(arr);
	run_all(size, arr); /* warm-up */
	run_all(size, arr); /* main thread */
	xpthread_create(&t, thread_main, &j);
	pthread_join(t, NULL);
	run_all(size, arr); /* main thread, a thread has existed */
	free(arr);
}

int main(int argc, char **argv)
{
	const struct bench_opt opts[] = {
		{ "--size", NULL, &o_size, "first block size (then 2x, 4x)" },
		{ "--seed", NULL, &o_seed, "unused; accepted for uniformity" },
		{ "--iters", NULL, &o_iters, "pairs per count (2000000; smaller for smoke runs)" },
		{ NULL, NULL, NULL, NULL },
	};
	char extra[96];
	double t0, t1;

	bench_parse(argc, argv, opts);
	if (o_size < (long)sizeof(int) || o_iters < MAX_ALLOCS) {
		fprintf(stderr, "glibc_simple: bad parameters\n");
		return 2;
	}
	t0 = now_sec();
	bench_size((size_t)o_size);
	bench_size(2 * (size_t)o_size);
	bench_size(4 * (size_t)o_size);
	t1 = now_sec();
	live_set_peak(MAX_ALLOCS * 4 * o_size, pairs);
	snprintf(extra, sizeof(extra), "threads=1 size=%ld", o_size);
	bench_report("glibc-simple", extra, (double)pairs, t1 - t0);
	return 0;
}
