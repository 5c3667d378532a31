// SPDX-License-Identifier: MIT
/*
 * malloc_large - the malloc-large workload of mimalloc-bench
 * (bench/malloc-large), rewritten in C: `slots` (20) buffers; each of
 * `iterations` (2000) steps picks a slot uniformly, allocates a block of
 * a size drawn uniformly from [min, max] (5 MiB .. 25 MiB), zeroes all of
 * it, puts it in the slot and only then frees the block the slot held
 * before. So up to slots + 1 blocks are live at once, and each step
 * writes 15 MiB on average. At the end the slots are freed from the last
 * to the first.
 *
 * The original is C++: `buffers[idx] = std::make_unique<char[]>(size)`
 * with std::mt19937 seeded with 42 and two std::uniform_int_distribution
 * <int>: first the slot, then the size. make_unique<char[]> value-
 * initialises, i.e. operator new[] (malloc) and a memset of the whole
 * block; the unique_ptr assignment deletes the old block after the new
 * one is stored. This program draws the same sequence: MT19937 as
 * specified, and the distribution as libstdc++ (GCC 11 and later) maps a
 * 32-bit generator onto a range, by a 64-bit multiply with rejection of
 * the biased low part. It runs without arguments like the original;
 * --iterations shortens it for smoke tests.
 *
 * The blocks come from operator new[] and go back through operator
 * delete[], the preloaded allocator's own when it defines them (common.h,
 * bench_cxx_init), as in the C++ original.
 *
 * One op = one step (new[] + zeroing + delete[]). The figure that matters is
 * the elapsed time (bench/run.sh reports it as seconds per run) and the
 * page faults, which the RESULT line adds.
 */
#include "common.h"

static long o_iterations = 2000, o_slots = 20, o_min = 5L << 20,
	    o_max = 25L << 20, o_seed = 42;

/* ---- std::mt19937 -------------------------------------------------- */

#define MT_N 624
#define MT_M 397

struct mt19937 {
	uint32_t s[MT_N];
	unsigned i;
};

static void mt_seed(struct mt19937 *mt, uint32_t seed)
{
	unsigned i;

	mt->s[0] = seed;
	for (i = 1; i < MT_N; i++)
		mt->s[i] = 1812433253u * (mt->s[i - 1] ^ (mt->s[i - 1] >> 30)) +
			   i;
	mt->i = MT_N;
}

static uint32_t mt_next(struct mt19937 *mt)
{
	uint32_t y;

	if (mt->i >= MT_N) {
		unsigned k;

		for (k = 0; k < MT_N; k++) {
			y = (mt->s[k] & 0x80000000u) |
			    (mt->s[(k + 1) % MT_N] & 0x7fffffffu);
			mt->s[k] = mt->s[(k + MT_M) % MT_N] ^ (y >> 1) ^
				   ((y & 1) ? 0x9908b0dfu : 0);
		}
		mt->i = 0;
	}
	y = mt->s[mt->i++];
	y ^= y >> 11;
	y ^= (y << 7) & 0x9d2c5680u;
	y ^= (y << 15) & 0xefc60000u;
	return y ^ (y >> 18);
}

/*
 * Uniform in [lo, hi] the way libstdc++'s uniform_int_distribution does it
 * for a generator of exactly 32 bits: the high half of draw * range, where
 * a draw whose low half falls below 2^32 mod range is redrawn (Lemire's
 * method). The draws consumed, and so the sequence, match the original.
 */
static long mt_uniform(struct mt19937 *mt, long lo, long hi)
{
	uint32_t range = (uint32_t)(hi - lo) + 1;
	uint64_t prod = (uint64_t)mt_next(mt) * range;

	if ((uint32_t)prod < range) {
		uint32_t threshold = (uint32_t)(-range) % range;

		while ((uint32_t)prod < threshold)
			prod = (uint64_t)mt_next(mt) * range;
	}
	return lo + (long)(prod >> 32);
}

/* ---- the workload -------------------------------------------------- */

/* Called through a volatile pointer so that the compiler cannot fold
 * malloc + memset into calloc: the original zeroes after operator new,
 * and an allocator must pay for that (the page faults are the point). */
static void *(*volatile zero_fn)(void *, int, size_t) = memset;

int main(int argc, char **argv)
{
	const struct bench_opt opts[] = {
		{ "--iterations", NULL, &o_iterations, "steps (2000)" },
		{ "--slots", NULL, &o_slots, "buffers kept (20)" },
		{ "--min", NULL, &o_min, "smallest block (5 MiB)" },
		{ "--max", NULL, &o_max, "largest block (25 MiB)" },
		{ "--seed", NULL, &o_seed, "mt19937 seed (42)" },
		{ NULL, NULL, NULL, NULL },
	};
	struct mt19937 mt;
	void **buf;
	size_t *len;
	double t0, t1;
	char extra[160];
	long i;

	bench_parse(argc, argv, opts);
	if (o_iterations < 1 || o_slots < 1 || o_min < 1 || o_max < o_min ||
	    o_max > 0x7fffffffL) {
		fprintf(stderr, "malloc_large: bad parameters\n");
		return 2;
	}
	buf = calloc((size_t)o_slots, sizeof(*buf));
	len = calloc((size_t)o_slots, sizeof(*len));
	if (!buf || !len)
		abort();
	mt_seed(&mt, (uint32_t)o_seed);
	bench_cxx_init();
	t0 = now_sec();
	for (i = 0; i < o_iterations; i++) {
		long idx = mt_uniform(&mt, 0, o_slots - 1);
		size_t size = (size_t)mt_uniform(&mt, o_min, o_max);
		void *p = xnew(0, size);

		zero_fn(p, 0, size);
		/* Every step moves MiBs: sample the live peak each time. */
		live_sample();
		if (buf[idx])
			xdelete(0, buf[idx], len[idx], 0);
		buf[idx] = p;
		len[idx] = size;
	}
	/* The original's array of unique_ptrs dies last element first. */
	for (i = o_slots - 1; i >= 0; i--)
		if (buf[i])
			xdelete(0, buf[i], len[i], 0);
	t1 = now_sec();
	free(buf);
	free(len);
	snprintf(extra, sizeof(extra),
		 "threads=1 iterations=%ld slots=%ld min=%ld max=%ld cxx=%s",
		 o_iterations, o_slots, o_min, o_max, cxx.from);
	bench_report("malloc-large", extra, (double)o_iterations, t1 - t0);
	return 0;
}
