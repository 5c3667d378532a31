// SPDX-License-Identifier: MIT
/*
 * sh6bench - MicroQuill's SmartHeap benchmark sh6bench as mimalloc-bench
 * builds and runs it (`sh6bench 2P`, P = CPUs; built with BENCH and
 * SYS_MULTI_THREAD, so the call count is the patched default 10000 and
 * the block sizes the original's 1..1000; no input is read). Written from
 * the original's behaviour (the source is MicroQuill's and not
 * redistributable; mimalloc-bench ships only a patch):
 *
 *  - The call count is divided among the threads: each thread has a
 *    buffer of n = 10000 / threads block pointers and repeats n times:
 *    for size_base = 1, then size_base * 3 / 2 + 1 while below 1000, for
 *    size = size_base halving down to 1, allocate 250 blocks of that size
 *    if it is below 100, 50 if below 1000 (10 if below 10000), storing
 *    each at the next buffer slot and writing its first and last byte
 *    (the mimalloc-bench patch). With one thread the work runs on the
 *    main thread.
 *  - Slots [save_start, save_end) hold a fifth of the buffer kept from
 *    the previous cycle and are skipped. When the cursor reaches the end,
 *    the next fifth becomes the saved window, the blocks below it are
 *    freed in allocation order and those above it in reverse order, and
 *    the cursor restarts at the bottom. So blocks die in LIFO and FIFO
 *    order with a fifth living one cycle longer.
 *  - At the end the blocks below the cursor are freed, then the buffer.
 *  - Fixed work: the time is the elapsed time of the whole run.
 *
 * Faithfully kept quirks: when the saved window is the bottom fifth, the
 * original checks for the window only after storing, so the next cycle
 * overwrites that window's pointers, leaking those blocks (every fifth
 * cycle); and the window's blocks above the final cursor are never freed.
 * We leak the same blocks and report how many (leaked_blocks).
 *
 * Deviations: we keep each block's size in a side array (to account live
 * bytes and to check the block before freeing it), and the first and
 * last byte are written with a non-zero marker instead of 0, so that the
 * check (--verify 1, the smoke runs; the original reads neither byte)
 * means something. One op = one malloc. time_sec = elapsed.
 */
#include <unistd.h>

#include "common.h"

static long o_threads = 0, o_calls = 10000, o_max = 1000;
static uint64_t total_mallocs, total_leaked;

static void *bench(void *arg)
{
	int slot = (int)(intptr_t)arg;
	size_t n = (size_t)(o_calls / o_threads);
	char **mem = xmalloc(slot, n * sizeof(char *));
	uint32_t *sz = xmalloc(slot, n * sizeof(uint32_t));
	size_t mp = 0, mpe = n, save_start = n, save_end = n, i;
	uint64_t mallocs = 0, leaked = 0;
	long repeat = (long)n;

	memset(mem, 0, n * sizeof(char *));
	while (repeat--) {
		long base, size;

		for (base = 1; base < o_max; base = base * 3 / 2 + 1) {
			for (size = base; size; size /= 2) {
				int iterations = 1;

				if (size < 10000)
					iterations = 10;
				if (size < 1000)
					iterations *= 5;
				if (size < 100)
					iterations *= 5;
				while (iterations--) {
					char *p = xmalloc(slot, (size_t)size);

					if (mem[mp])
						leaked++; /* the quirk above */
					mem[mp] = p;
					sz[mp++] = (uint32_t)size;
					mallocs++;
					block_mark(p, (size_t)size);
					if (mp == save_start)
						mp = save_end;
					if (mp < mpe)
						continue;
					/* Wrap: mark the next fifth, free the rest. */
					mp = 0;
					save_start = save_end;
					if (save_start >= mpe)
						save_start = mp;
					save_end = save_start + n / 5;
					if (save_end > mpe)
						save_end = mpe;
					while (mp < save_start) {
						block_release(slot, mem[mp], sz[mp]);
						mem[mp++] = NULL;
					}
					mp = mpe;
					while (mp > save_end) {
						mp--;
						block_release(slot, mem[mp], sz[mp]);
						mem[mp] = NULL;
					}
					mp = 0;
				}
			}
		}
	}
	/* The residual blocks below the cursor; the rest stay allocated. */
	for (i = 0; i < mp; i++) {
		if (mem[i]) {
			block_release(slot, mem[i], sz[i]);
			mem[i] = NULL;
		}
	}
	for (i = mp; i < mpe; i++)
		if (mem[i])
			leaked++;
	xfree(slot, mem, n * sizeof(char *));
	xfree(slot, sz, n * sizeof(uint32_t));
	__atomic_fetch_add(&total_mallocs, mallocs, __ATOMIC_RELAXED);
	__atomic_fetch_add(&total_leaked, leaked, __ATOMIC_RELAXED);
	return NULL;
}

int main(int argc, char **argv)
{
	const struct bench_opt opts[] = {
		{ "--threads", NULL, &o_threads, "threads (0: the CPU count, the program's default; mimalloc-bench: 2 x CPUs)" },
		{ "--calls", NULL, &o_calls, "call count, divided among the threads (10000)" },
		{ "--max", NULL, &o_max, "max block size (1000)" },
		{ "--verify", NULL, &bench_verify, "1: check markers the original never reads (smoke runs)" },
		{ NULL, NULL, NULL, NULL },
	};
	pthread_t th[BENCH_MAX_THREADS];
	double t0, t1;
	char extra[160];
	long i;

	bench_parse(argc, argv, opts);
	if (o_threads == 0)
		o_threads = sysconf(_SC_NPROCESSORS_ONLN);
	if (o_threads < 1 || o_threads > BENCH_MAX_THREADS || o_max < 2 ||
	    o_calls / o_threads < 5) {
		fprintf(stderr, "sh6bench: bad parameters\n");
		return 2;
	}
	t0 = now_sec();
	if (o_threads == 1) {
		bench((void *)0);
	} else {
		for (i = 0; i < o_threads; i++)
			xpthread_create(&th[i], bench, (void *)(intptr_t)i);
		for (i = 0; i < o_threads; i++)
			pthread_join(th[i], NULL);
	}
	t1 = now_sec();
	snprintf(extra, sizeof(extra),
		 "threads=%ld calls=%ld max=%ld leaked_blocks=%" PRIu64,
		 o_threads, o_calls, o_max, total_leaked);
	bench_report("sh6bench", extra, (double)total_mallocs, t1 - t0);
	return 0;
}
