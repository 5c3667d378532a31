// SPDX-License-Identifier: MIT
/*
 * mstress - Daan Leijen's allocator stress test (mimalloc-bench
 * bench/mstress) as mimalloc-bench runs it: `mstress T 50 25` (threads,
 * scale, iterations). Written from the original's behaviour:
 *
 *  - `iterations` rounds; each creates `threads` threads and joins them,
 *    then the main thread empties a random half of the 1000-slot shared
 *    transfer array (all of it after the last round), so some objects
 *    outlive the round and the threads that allocated them.
 *  - Thread tid makes allocs = 100 * scale * (tid % 8 + 1) allocations
 *    and allocs / 2 "retained" ones. Per step: an allocation (always once
 *    the retained ones are done, else with 51% chance while any are left)
 *    of 2^(r % 5) words kept in a growing array (grown by 100,000 entries
 *    with realloc), or else a retained one of 2^(r % 7) words; then with
 *    67% chance it frees a random entry of its array, and with 26% chance
 *    it swaps a random entry with a random slot of the transfer array
 *    (an atomic exchange), so objects move between threads. At the end it
 *    frees everything it still holds.
 *  - Sizes: 2% of the objects are larger (chance(1) is 2%): about 1.7%
 *    100 times, 0.2% 1,000 times and 0.04% 10,000 times (the nested
 *    draws); an object of 40 words becomes 41. Each word is written on allocation and every
 *    word is checked before the free; a mismatch is reported as corruption.
 *  - The random stream is the original's (the splitmix64 finaliser
 *    iterated on a per-thread state seeded (tid + 1) * 43; the main
 *    thread's seeded 43 * 43), and "chance(p)" is r % 100 <= p as in the
 *    original, so the draws, sizes and counts are the same.
 *  - Fixed work: the time is the elapsed time of the whole run.
 *
 * Deviation: a malloc that returns NULL aborts (the original stores the
 * NULL and goes on). One op = one allocation. time_sec = elapsed.
 */
#include "common.h"

#define TRANSFERS 1000
#define COOKIE 0xbf58476d1ce4e5b9ULL

static long o_threads = 32, o_scale = 50, o_iter = 10; /* the program's defaults */
static void *transfer[TRANSFERS];
static uint64_t total_allocs;

static uint64_t pick(uint64_t *r)
{
	uint64_t x = *r;

	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	*r = x;
	return x;
}

static int chance(int perc, uint64_t *r)
{
	return pick(r) % 100 <= (uint64_t)perc;
}

static void *alloc_items(int slot, uint64_t items, uint64_t *r)
{
	uint64_t *p, i;

	if (chance(1, r)) {
		if (chance(1, r))
			items *= 10000;
		else if (chance(10, r))
			items *= 1000;
		else
			items *= 100;
	}
	if (items == 40)
		items++; /* the original avoids the size pthreads uses */
	p = xmalloc(slot, items * sizeof(uint64_t));
	for (i = 0; i < items; i++)
		p[i] = (items - i) ^ COOKIE;
	return p;
}

static void free_items(int slot, void *p)
{
	uint64_t *q = p, items = 0, i;

	if (q) {
		items = q[0] ^ COOKIE;
		for (i = 0; i < items; i++)
			if ((q[i] ^ COOKIE) != items - i) {
				bench_fail("mstress: block %p corrupt at word %" PRIu64,
					   p, i);
				break;
			}
	}
	/* The original calls free() for a NULL entry too. */
	xfree(slot, p, items * sizeof(uint64_t));
}

static void *stress(void *arg)
{
	int tid = (int)(intptr_t)arg;
	uint64_t r = (uint64_t)(tid + 1) * 43;
	uint64_t allocs = 100 * (uint64_t)o_scale * (uint64_t)(tid % 8 + 1);
	uint64_t retain = allocs / 2, n = 0;
	void **data = NULL, **retained;
	size_t data_size = 0, data_top = 0, retain_top = 0, i;

	retained = malloc(retain * sizeof(void *));
	if (!retained)
		abort();
	while (allocs > 0 || retain > 0) {
		if (retain == 0 || (chance(50, &r) && allocs > 0)) {
			allocs--;
			if (data_top >= data_size) {
				data_size += 100000;
				data = realloc(data, data_size * sizeof(void *));
				if (!data)
					abort();
			}
			data[data_top++] = alloc_items(tid, 1ULL << (pick(&r) % 5), &r);
		} else {
			retained[retain_top++] =
				alloc_items(tid, 1ULL << (pick(&r) % 7), &r);
			retain--;
		}
		n++;
		if (chance(66, &r) && data_top > 0) {
			size_t idx = pick(&r) % data_top;

			free_items(tid, data[idx]);
			data[idx] = NULL;
		}
		if (chance(25, &r) && data_top > 0) {
			size_t di = pick(&r) % data_top;
			size_t ti = pick(&r) % TRANSFERS;

			data[di] = __atomic_exchange_n(&transfer[ti], data[di],
						       __ATOMIC_ACQ_REL);
		}
	}
	for (i = 0; i < retain_top; i++)
		free_items(tid, retained[i]);
	for (i = 0; i < data_top; i++)
		free_items(tid, data[i]);
	free(retained);
	free(data);
	__atomic_fetch_add(&total_allocs, n, __ATOMIC_RELAXED);
	return NULL;
}

int main(int argc, char **argv)
{
	const struct bench_opt opts[] = {
		{ "--threads", NULL, &o_threads, "threads per round" },
		{ "--scale", NULL, &o_scale, "load per thread (50)" },
		{ "--iter", NULL, &o_iter, "rounds of thread creation (25 in mimalloc-bench)" },
		{ NULL, NULL, NULL, NULL },
	};
	pthread_t th[BENCH_MAX_THREADS];
	uint64_t r = 43 * 43;
	double t0, t1;
	char extra[160];
	long n, i;

	bench_parse(argc, argv, opts);
	if (o_threads < 1 || o_threads > BENCH_MAX_THREADS || o_scale < 1 ||
	    o_iter < 1) {
		fprintf(stderr, "mstress: bad parameters\n");
		return 2;
	}
	t0 = now_sec();
	for (n = 0; n < o_iter; n++) {
		for (i = 0; i < o_threads; i++)
			xpthread_create(&th[i], stress, (void *)(intptr_t)i);
		for (i = 0; i < o_threads; i++)
			pthread_join(th[i], NULL);
		for (i = 0; i < TRANSFERS; i++) {
			if (chance(50, &r) || n + 1 == o_iter) {
				void *p = __atomic_exchange_n(&transfer[i], NULL,
							      __ATOMIC_ACQ_REL);

				free_items(BENCH_MAX_THREADS, p);
			}
		}
	}
	t1 = now_sec();
	snprintf(extra, sizeof(extra), "threads=%ld scale=%ld iter=%ld",
		 o_threads, o_scale, o_iter);
	bench_report("mstress", extra, (double)total_allocs, t1 - t0);
	return 0;
}
