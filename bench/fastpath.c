// SPDX-License-Identifier: MIT
/*
 * fastpath - the single-thread fast path: one block of `size` bytes is
 * kept live throughout, so the slab (or page) the loop works in never
 * empties, and the loop does malloc(size) / free in a tight loop until
 * `seconds` pass. The pointer escapes to the compiler (an empty asm), so
 * the pair is not elided; the block's memory is not touched.
 *
 * One op = one malloc+free pair. Reports pairs/s; time_sec is ns per
 * pair. Ours (no published counterpart).
 */
#include "common.h"

static long o_size = 64, o_seed = 42;
static double o_seconds = 1.0;

/* noinline so the loop is one function in profiles, as in icount.c. */
__attribute__((noinline)) static void pairs(size_t size, long n)
{
	long i;

	for (i = 0; i < n; i++) {
		void *p = malloc(size);

		escape(p);
		free(p);
	}
}

int main(int argc, char **argv)
{
	const struct bench_opt opts[] = {
		{ "--size", NULL, &o_size, "block size" },
		{ "--seconds", &o_seconds, NULL, "duration" },
		{ "--seed", NULL, &o_seed, "unused; accepted for uniformity" },
		{ NULL, NULL, NULL, NULL },
	};
	const long chunk = 1 << 16;
	uint64_t ops = 0;
	double t0, t1;
	char extra[96];
	void *keep;

	bench_parse(argc, argv, opts);
	if (o_size < 1) {
		fprintf(stderr, "fastpath: bad parameters\n");
		return 2;
	}
	keep = malloc((size_t)o_size);
	escape(keep);
	pairs((size_t)o_size, chunk); /* warm up: caches filled, pages in */
	t0 = now_sec();
	do {
		pairs((size_t)o_size, chunk);
		ops += (uint64_t)chunk;
	} while ((t1 = now_sec()) - t0 < o_seconds);
	free(keep);
	live_set_peak(2 * o_size, ops + (uint64_t)chunk + 1);
	snprintf(extra, sizeof(extra), "threads=1 size=%ld", o_size);
	/* Ours, time-boxed: the time is ns per pair. */
	bench_rtime = ops ? (t1 - t0) * 1e9 / (double)ops : 0;
	bench_report("fastpath", extra, (double)ops, t1 - t0);
	return 0;
}
