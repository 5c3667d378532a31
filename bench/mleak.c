// SPDX-License-Identifier: MIT
/*
 * mleak - Daan Leijen's thread-exit leak test (mimalloc-bench
 * bench/mleak) as mimalloc-bench runs it: `mleak 5` ("mleak10") and
 * `mleak 50` ("mleak100"). Written from the original's behaviour:
 *
 *  - iter * 100 rounds; each starts 10 threads and joins them. Each
 *    thread allocates one zeroed object of 16 pointers (calloc), swaps it
 *    into a random slot (rand() % 1000) of a shared array with an atomic
 *    exchange and frees what it took out (NULL at first): an object
 *    allocated by a thread that has since exited. rand() is seeded once
 *    with 0x1ce4e5b9 and shared by all threads, as in the original.
 *  - At the end the main thread frees the 1000 slots.
 *  - An allocator that keeps per-thread state and does not reclaim it at
 *    thread exit grows here; the peak RSS shows it.
 *  - Fixed work: the time is the elapsed time of the whole run.
 *
 * Deviation: with --verify 1 (the smoke runs) we check, before freeing
 * an object, that it is still all zero (nobody writes it); the original
 * does not read it. One op = one thread's calloc. time_sec =
 * elapsed.
 */
#include "common.h"

#define THREADS 10
#define BASEITER 100
#define WORDS 16
#define TRANSFERS (THREADS * BASEITER)

static long o_iter = 10;
static void *transfer[TRANSFERS];

static void release(int slot, void *p)
{
	const uintptr_t *w = p;
	int i;

	if (!p || !bench_verify)
		goto out;
	for (i = 0; i < WORDS; i++)
		if (w[i]) {
			bench_fail("mleak: object %p changed", p);
			break;
		}
out:
	xfree(slot, p, p ? WORDS * sizeof(void *) : 0);
}

static void *leak(void *arg)
{
	int slot = (int)(intptr_t)arg;
	void *p = calloc(WORDS, sizeof(void *)), *q;
	int i = rand() % TRANSFERS;

	if (!p)
		abort();
	live_alloc(slot, WORDS * sizeof(void *));
	q = __atomic_exchange_n(&transfer[i], p, __ATOMIC_SEQ_CST);
	release(slot, q);
	return NULL;
}

int main(int argc, char **argv)
{
	const struct bench_opt opts[] = {
		{ "--iter", NULL, &o_iter, "rounds / 100 (the original's argument; 10)" },
		{ "--verify", NULL, &bench_verify, "1: check markers the original never reads (smoke runs)" },
		{ NULL, NULL, NULL, NULL },
	};
	pthread_t th[THREADS];
	double t0, t1;
	char extra[96];
	long n, i;

	bench_parse(argc, argv, opts);
	if (o_iter < 1) {
		fprintf(stderr, "mleak: bad parameters\n");
		return 2;
	}
	t0 = now_sec();
	srand(0x1ce4e5b9);
	for (n = 0; n < o_iter * BASEITER; n++) {
		for (i = 0; i < THREADS; i++)
			xpthread_create(&th[i], leak, (void *)(intptr_t)i);
		for (i = 0; i < THREADS; i++)
			pthread_join(th[i], NULL);
	}
	for (i = 0; i < TRANSFERS; i++)
		release(BENCH_MAX_THREADS, transfer[i]);
	t1 = now_sec();
	snprintf(extra, sizeof(extra), "threads=%d iter=%ld threads_created=%ld",
		 THREADS, o_iter, o_iter * BASEITER * THREADS);
	bench_report("mleak", extra, (double)(o_iter * BASEITER * THREADS), t1 - t0);
	return 0;
}
