// SPDX-License-Identifier: MIT
/*
 * glibc_thread - the workload of glibc's benchtests/bench-malloc-thread
 * as mimalloc-bench runs it (argument: the thread count): each thread
 * keeps a working set of 1024 slots and, until a 2-second alarm fires,
 * frees the block in a pseudo-random slot, allocates a new one whose size
 * follows an inverse-square distribution between 4 and 32768 bytes, and
 * writes every byte of it. Sizes (8000) and slots (4096) are drawn once,
 * up front, from the C library's rand() without a seed, and every thread
 * walks the same two tables, as in the original. Re-implemented from its
 * description.
 *
 * One op = one free + malloc + fill. time_sec is what mimalloc-bench
 * reports for glibc-thread: 1e9 / iterations (a relative time; the run
 * is always `seconds` long).
 */
#include <math.h>
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include "common.h"

#define WORKING_SET_SIZE 1024
#define MIN_ALLOCATION_SIZE 4
#define MAX_ALLOCATION_SIZE 32768
#define NUM_BLOCK_SIZES 8000
#define NUM_OFFSETS (WORKING_SET_SIZE * 4)

static unsigned block_sizes[NUM_BLOCK_SIZES];
static unsigned offsets[NUM_OFFSETS];
static volatile sig_atomic_t timeout;
static long o_threads = 1, o_seed = 42;
static double o_seconds = 2.0;

/* Inverse square between the bounds, from a uniform draw. */
static unsigned block_size(unsigned r)
{
	const float e = -2, lo = MIN_ALLOCATION_SIZE, hi = MAX_ALLOCATION_SIZE;
	float lo_p = powf(lo, e + 1), hi_p = powf(hi, e + 1);
	float u = (float)r / RAND_MAX;

	return (unsigned)powf((hi_p - lo_p) * u + lo_p, 1 / (e + 1));
}

static void on_alarm(int sig)
{
	(void)sig;
	timeout = 1;
}

struct worker {
	pthread_t t;
	uint64_t iters;
	void *set[WORKING_SET_SIZE];
};

static void *worker_main(void *p)
{
	struct worker *w = p;
	unsigned oi = 0, bi = 0, size, k;

	while (!timeout) {
		void **slot;
		char *q;

		oi = oi >= NUM_OFFSETS - 1 ? 0 : oi + 1;
		bi = bi >= NUM_BLOCK_SIZES - 1 ? 0 : bi + 1;
		slot = &w->set[offsets[oi]];
		size = block_sizes[bi];
		free(*slot);
		q = *slot = malloc(size);
		for (k = 0; k < size; k++)
			q[k] = (char)k;
		w->iters++;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const struct bench_opt opts[] = {
		{ "--threads", NULL, &o_threads, "threads (the original's argument)" },
		{ "--seconds", &o_seconds, NULL, "duration (the original: 2)" },
		{ "--seed", NULL, &o_seed, "unused; rand() is unseeded, as in the original" },
		{ NULL, NULL, NULL, NULL },
	};
	struct worker *w;
	struct itimerval it = { { 0, 0 }, { 0, 0 } };
	struct sigaction act;
	uint64_t iters = 0, mean = 0;
	char extra[96];
	double t0, t1;
	long i;

	bench_parse(argc, argv, opts);
	if (o_threads < 1 || o_threads > BENCH_MAX_THREADS || o_seconds <= 0) {
		fprintf(stderr, "glibc_thread: bad parameters\n");
		return 2;
	}
	for (i = 0; i < NUM_BLOCK_SIZES; i++) {
		block_sizes[i] = block_size((unsigned)rand());
		mean += block_sizes[i];
	}
	mean /= NUM_BLOCK_SIZES;
	for (i = 0; i < NUM_OFFSETS; i++)
		offsets[i] = (unsigned)rand() % WORKING_SET_SIZE;
	w = calloc((size_t)o_threads, sizeof(*w));
	if (!w)
		return 2;
	memset(&act, 0, sizeof(act));
	act.sa_handler = on_alarm;
	sigaction(SIGALRM, &act, NULL);
	/* alarm(2) in the original; setitimer allows the quick runs' 0.05 s. */
	it.it_value.tv_sec = (time_t)o_seconds;
	it.it_value.tv_usec = (suseconds_t)((o_seconds - (double)it.it_value.tv_sec) * 1e6);
	t0 = now_sec();
	setitimer(ITIMER_REAL, &it, NULL);
	if (o_threads == 1) {
		worker_main(&w[0]);
	} else {
		for (i = 0; i < o_threads; i++)
			xpthread_create(&w[i].t, worker_main, &w[i]);
		for (i = 0; i < o_threads; i++)
			pthread_join(w[i].t, NULL);
	}
	t1 = now_sec();
	for (i = 0; i < o_threads; i++)
		iters += w[i].iters;
	/* What the working sets hold on average: no block is tracked. */
	live_set_peak((int64_t)(o_threads * WORKING_SET_SIZE * mean), iters);
	bench_rtime = iters ? 1e9 / (double)iters : 0;
	snprintf(extra, sizeof(extra), "threads=%ld", o_threads);
	bench_report("glibc-thread", extra, (double)iters, t1 - t0);
	return 0;
}
