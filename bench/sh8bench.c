// SPDX-License-Identifier: MIT
/*
 * sh8bench - MicroQuill's SmartHeap benchmark sh8bench as mimalloc-bench
 * builds and runs it (`sh8bench 2P`, P = CPUs; BENCH and
 * SYS_MULTI_THREAD; iterations patched to 700000; heap size 1000000
 * blocks and 10000000 cross-thread allocations, the program's defaults;
 * no input is read). Written from the original's behaviour (MicroQuill's
 * source is not redistributable; mimalloc-bench ships only a patch):
 *
 *  - Cross-thread frees: the foreign count F (rounded down to a multiple
 *    of threads^2) of 8-byte blocks is allocated by the MAIN thread while
 *    the workers run, in order, into one shared array; each block holds
 *    the address of its array slot. The array is split into one slot per
 *    thread; thread j frees the j-th F / threads^2 of every slot, in
 *    order, as far as the main thread has got, at the start of each of
 *    its iterations.
 *  - Each worker makes 700000 / threads iterations over a buffer of
 *    1000000 / threads block pointers. Iteration i takes the next entry
 *    of the size histogram (starting at the second): 1000 x 8 B,
 *    5000 x 16, 1000 x 48, 100 x 72, 100 x 148, 100 x 200, 10 x 520,
 *    5 x 1056, 3 x 4096, 1 x 9162, 1 x 34562, 1 x 168524, and makes that
 *    many steps: skip the saved window (a fifth of the buffer kept from
 *    the previous cycle) if the cursor is at it; at the end of the buffer
 *    (a step without an allocation) mark the next fifth as the window,
 *    free the blocks below it in order and those above it in reverse, and
 *    restart at the bottom; else allocate the block, store it and write
 *    its first and last byte (the mimalloc-bench patch).
 *  - Nothing is freed at the end (the original relies on SmartHeap's
 *    free-at-thread-exit; with malloc the blocks stay allocated), nor the
 *    foreign blocks a worker did not reach.
 *  - Fixed work: the time is the elapsed time of the whole run.
 *
 * Deviations: we write a non-zero marker in the first and last byte (0
 * in the patch) and keep each block's size in a side array; with
 * --verify 1 (the smoke runs) we check the markers when freeing and the
 * slot address in each foreign block (an assert in the original,
 * compiled out in its release build); the original reads neither. One op = one malloc. time_sec = elapsed.
 */
#include <unistd.h>

#include "common.h"

static long o_threads = 0, o_iterations = 700000, o_heap = 1000000,
	    o_foreign = 10000000;

static const struct {
	uint32_t size, count;
} hist[] = { { 8, 1000 }, { 16, 5000 }, { 48, 1000 }, { 72, 100 },
	     { 148, 100 }, { 200, 100 }, { 520, 10 }, { 1056, 5 },
	     { 4096, 3 }, { 9162, 1 }, { 34562, 1 }, { 168524, 1 } };
#define NHIST ((int)(sizeof(hist) / sizeof(hist[0])))

static void **foreign_mem; /* F slots, filled by the main thread */
static uint64_t total_mallocs, total_foreign_freed;

static void *bench(void *arg)
{
	int idx = (int)(intptr_t)arg;
	long slot_size = o_foreign / o_threads;
	long per_thread_reset = slot_size / o_threads;
	long frees_left = o_foreign ? slot_size : 0;
	long per_thread = per_thread_reset;
	void **ff = foreign_mem ? foreign_mem + per_thread_reset * idx : NULL;
	long iterations = o_iterations / o_threads;
	size_t n = (size_t)(o_heap / o_threads);
	char **mem = xmalloc(idx, n * sizeof(char *));
	uint32_t *sz = xmalloc(idx, n * sizeof(uint32_t));
	size_t mp = 0, mpe = n, save_start = n, save_end = n;
	uint64_t mallocs = 0, ffreed = 0;
	int si = 0;

	while (iterations--) {
		uint32_t count, size;

		while (frees_left) {
			void **b = __atomic_load_n(ff, __ATOMIC_ACQUIRE);

			if (!b)
				break; /* the main thread is not there yet */
			if (bench_verify && *b != (void *)ff)
				bench_fail("sh8bench: foreign block %p changed", (void *)b);
			xfree(idx, b, hist[0].size);
			ff++;
			ffreed++;
			frees_left--;
			if (--per_thread == 0) {
				per_thread = per_thread_reset;
				ff += slot_size - per_thread;
			}
		}
		if (++si == NHIST)
			si = 0;
		count = hist[si].count;
		size = hist[si].size;
		while (count--) {
			if (mp == save_start)
				mp = save_end;
			if (mp >= mpe) {
				mp = 0;
				save_start = save_end;
				if (save_start >= mpe)
					save_start = mp;
				save_end = save_start + n / 5;
				if (save_end > mpe)
					save_end = mpe;
				while (mp < save_start) {
					block_release(idx, mem[mp], sz[mp]);
					mp++;
				}
				mp = mpe;
				while (mp > save_end) {
					mp--;
					block_release(idx, mem[mp], sz[mp]);
				}
				mp = 0;
			} else {
				char *p = xmalloc(idx, size);

				mem[mp] = p;
				sz[mp++] = size;
				mallocs++;
				block_mark(p, size);
			}
		}
	}
	/* As in the original, the residual blocks and the buffer stay. */
	__atomic_fetch_add(&total_mallocs, mallocs, __ATOMIC_RELAXED);
	__atomic_fetch_add(&total_foreign_freed, ffreed, __ATOMIC_RELAXED);
	return NULL;
}

int main(int argc, char **argv)
{
	const struct bench_opt opts[] = {
		{ "--threads", NULL, &o_threads, "threads (0: the CPU count, the program's default; mimalloc-bench: 2 x CPUs)" },
		{ "--iterations", NULL, &o_iterations, "divided among the threads (700000)" },
		{ "--heap", NULL, &o_heap, "block slots, divided among the threads (1000000)" },
		{ "--foreign", NULL, &o_foreign, "blocks the main thread allocates for the workers to free (10000000)" },
		{ "--verify", NULL, &bench_verify, "1: check markers the original never reads (smoke runs)" },
		{ NULL, NULL, NULL, NULL },
	};
	pthread_t th[BENCH_MAX_THREADS];
	uint64_t mallocs;
	double t0, t1;
	char extra[200];
	long i, t2;

	bench_parse(argc, argv, opts);
	if (o_threads == 0)
		o_threads = sysconf(_SC_NPROCESSORS_ONLN);
	if (o_threads < 1 || o_threads > BENCH_MAX_THREADS || o_iterations < 1 ||
	    o_heap / o_threads < 5 || o_foreign < 0) {
		fprintf(stderr, "sh8bench: bad parameters\n");
		return 2;
	}
	t2 = o_threads * o_threads;
	o_foreign = o_foreign / t2 * t2;
	t0 = now_sec();
	if (o_foreign) {
		foreign_mem = malloc(sizeof(void *) * (size_t)o_foreign);
		if (!foreign_mem)
			abort();
		memset(foreign_mem, 0, sizeof(void *) * (size_t)o_foreign);
	}
	for (i = 0; i < o_threads; i++)
		xpthread_create(&th[i], bench, (void *)(intptr_t)i);
	/* The main thread allocates what the workers free. */
	for (i = 0; i < o_foreign; i++) {
		void **b = xmalloc(BENCH_MAX_THREADS, hist[0].size);

		*b = &foreign_mem[i];
		__atomic_store_n(&foreign_mem[i], (void *)b, __ATOMIC_RELEASE);
	}
	for (i = o_threads - 1; i >= 0; i--)
		pthread_join(th[i], NULL);
	free(foreign_mem);
	t1 = now_sec();
	mallocs = total_mallocs + (uint64_t)o_foreign;
	snprintf(extra, sizeof(extra),
		 "threads=%ld iterations=%ld heap=%ld foreign=%ld "
		 "foreign_freed=%" PRIu64,
		 o_threads, o_iterations, o_heap, o_foreign, total_foreign_freed);
	bench_report("sh8bench", extra, (double)mallocs, t1 - t0);
	return 0;
}
