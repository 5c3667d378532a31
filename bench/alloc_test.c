// SPDX-License-Identifier: MIT
/*
 * alloc_test - OLogN's allocator tester (mimalloc-bench bench/alloc-test,
 * built with BENCH) as mimalloc-bench runs it: `alloc-test T`. Written
 * from the original's behaviour:
 *
 *  - T threads, each with 2^18 / T slots and 100,000,000 operations,
 *    maximum size exponent 10, "full" memory access, and the same seed
 *    (41) for every thread. Nothing crosses threads.
 *  - Sizes: from a 64-bit draw r, the low 7 bits plus one give a class
 *    c = ctz + 2 (2..9, halving in probability from 2), and the size is
 *    uniform in (2^c, 2^(c+1)]: 5..8 bytes half the time, up to
 *    513..1024 bytes 1/128 of the time.
 *  - Slots are picked by a Pareto 80/20 rule over 6 levels: level k
 *    (probability C(6,k) 0.8^(6-k) 0.2^k) maps to a band of the slots
 *    whose width is the probability of level 6 - k, so 26% of the picks
 *    fall on the first 0.0064% of the slots.
 *  - Set-up: the slot array (16 bytes a slot, from malloc) is zeroed;
 *    each slot is filled with a random-sized block with probability 1/2
 *    (one bit of a 32-bit draw each); a new block is memset whole to its
 *    size's low byte.
 *  - Main loop, 32 rounds of ops / 32: pick a slot; if it holds a block,
 *    read every word of it and free it, else allocate a new block and
 *    memset it. After each round the original reads /proc/self/statm, as
 *    we do (it is part of its run time).
 *  - Exit: read and free every remaining block, then the slot array.
 *  - The random generator is the original's xorshift-multiply on a 64-bit
 *    state, 32-bit outputs, a 64-bit draw being two of them (high first).
 *  - Fixed work: the time is the elapsed time of the whole run.
 *
 * Allocation is operator new[] / delete[] (the original's new-delete
 * allocator), the preloaded allocator's own when it defines them
 * (common.h, bench_cxx_init).
 *
 * Deviations: the Pareto level probabilities are computed from the
 * binomial formula rather than taken from the original's table of
 * constants (the same values to double precision); when freeing we also
 * compare the first byte with the memset value. One op = one malloc or
 * free of the main loop. time_sec = elapsed.
 */
#include <fcntl.h>
#include <math.h>
#include <unistd.h>

#include "common.h"

static long o_threads = 6, o_ops = 100000000, o_items = 1 << 18,
	    o_exp = 10, o_seed = 41;

struct slot {
	uint8_t *ptr;
	uint32_t sz;
	uint32_t pad;
};

struct pareto {
	uint32_t range[6];
	uint32_t off[8];
};

struct prng {
	uint64_t s;
};

static inline uint32_t rng32(struct prng *p)
{
	uint64_t ret = p->s * 0xd989bcacc137dcd5ULL;

	p->s ^= p->s >> 11;
	p->s ^= p->s << 31;
	p->s ^= p->s >> 18;
	return (uint32_t)(ret >> 32);
}

static inline uint64_t rng64(struct prng *p)
{
	uint64_t hi = rng32(p);

	return (hi << 32) + rng32(p);
}

static inline size_t draw_size(uint64_t r, unsigned exp)
{
	uint32_t base;
	unsigned c;

	exp -= 3;
	base = (uint32_t)(r & ((1u << exp) - 1)) + 1;
	r >>= exp;
	c = (unsigned)__builtin_ctz(base) + 2;
	return (size_t)(r & ((1ULL << c) - 1)) + 1 + ((size_t)1 << c);
}

static void pareto_init(struct pareto *d, uint32_t items)
{
	double p[7];
	int k, i;

	/* P(level k) = C(6, k) 0.8^(6 - k) 0.2^k */
	for (k = 0; k <= 6; k++) {
		double c = 1;

		for (i = 0; i < k; i++)
			c = c * (6 - i) / (i + 1);
		p[k] = c * pow(0.8, 6 - k) * pow(0.2, k);
	}
	d->range[0] = (uint32_t)(UINT32_MAX * p[0]);
	d->range[5] = (uint32_t)(UINT32_MAX * (1. - p[6]));
	for (i = 1; i < 5; i++)
		d->range[i] = d->range[i - 1] + (uint32_t)(UINT32_MAX * p[i]);
	d->off[0] = 0;
	d->off[7] = items;
	for (i = 0; i < 6; i++)
		d->off[i + 1] = d->off[i] + (uint32_t)(items * p[6 - i]);
}

static inline size_t pareto_pick(const struct pareto *d, uint32_t r1, uint32_t r2)
{
	size_t idx = 6;
	int i;

	for (i = 0; i < 6; i++) {
		if (r1 < d->range[i]) {
			idx = (size_t)i;
			break;
		}
	}
	return d->off[idx] + r2 % (d->off[idx + 1] - d->off[idx]);
}

/* The original's getRss(): the second field of /proc/self/statm. */
static size_t rss_pages(void)
{
	char buf[256];
	ssize_t n;
	int fd = open("/proc/self/statm", O_RDONLY);
	char *p;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	p = strchr(buf, ' ');
	return p ? (size_t)strtoul(p + 1, NULL, 10) : 0;
}

static size_t read_block(const struct slot *s)
{
	const size_t *w = (const size_t *)s->ptr;
	size_t i, sum = 0, nw = s->sz / sizeof(size_t);

	for (i = 0; i < nw; i++)
		sum += w[i];
	for (i = nw * sizeof(size_t); i < s->sz; i++)
		sum += s->ptr[i];
	if (s->ptr[0] != (uint8_t)s->sz)
		bench_fail("alloc-test: block %p of %u bytes changed",
			   (void *)s->ptr, s->sz);
	return sum;
}

static uint64_t total_ops;
static size_t sink;

static void *run(void *arg)
{
	int tid = (int)(intptr_t)arg;
	size_t items = (size_t)(o_items / o_threads), i, j, k, dummy = 0;
	size_t per_round = (size_t)o_ops >> 5, rss_max = 0, rss;
	struct slot *buf;
	struct pareto par;
	struct prng rng = { (uint64_t)o_seed };
	uint64_t ops = 0;

	pareto_init(&par, (uint32_t)items);
	buf = xnew(tid, items * sizeof(*buf));
	memset(buf, 0, items * sizeof(*buf));
	for (i = 0; i < items / 32; i++) {
		uint32_t bits = rng32(&rng);

		for (j = 0; j < 32; j++) {
			struct slot *s = &buf[i * 32 + j];

			if (!((bits >> j) & 1))
				continue;
			s->sz = (uint32_t)draw_size(rng64(&rng), (unsigned)o_exp);
			s->ptr = xnew(tid, s->sz);
			memset(s->ptr, (uint8_t)s->sz, s->sz);
		}
	}
	rss = rss_pages();
	rss_max = rss > rss_max ? rss : rss_max;
	for (k = 0; k < 32; k++) {
		for (j = 0; j < per_round; j++) {
			uint32_t r1 = rng32(&rng), r2 = rng32(&rng);
			struct slot *s = &buf[pareto_pick(&par, r1, r2)];

			if (s->ptr) {
				dummy += read_block(s);
				xdelete(tid, s->ptr, s->sz, 0);
				s->ptr = NULL;
			} else {
				s->sz = (uint32_t)draw_size(rng64(&rng), (unsigned)o_exp);
				s->ptr = xnew(tid, s->sz);
				memset(s->ptr, (uint8_t)s->sz, s->sz);
			}
			ops++;
		}
		rss = rss_pages();
		rss_max = rss > rss_max ? rss : rss_max;
	}
	for (i = 0; i < items; i++) {
		if (buf[i].ptr) {
			dummy += read_block(&buf[i]);
			xdelete(tid, buf[i].ptr, buf[i].sz, 0);
		}
	}
	xdelete(tid, buf, items * sizeof(*buf), 0);
	__atomic_store_n(&sink, dummy + rss_max, __ATOMIC_RELAXED); /* keeps the reads */
	__atomic_fetch_add(&total_ops, ops, __ATOMIC_RELAXED);
	return NULL;
}

int main(int argc, char **argv)
{
	const struct bench_opt opts[] = {
		{ "--threads", NULL, &o_threads, "threads (the original's argument)" },
		{ "--ops", NULL, &o_ops, "operations per thread (100000000)" },
		{ "--items", NULL, &o_items, "slots, divided among the threads (262144)" },
		{ "--exp", NULL, &o_exp, "log2 of the largest size (10)" },
		{ "--seed", NULL, &o_seed, "seed of every thread (41)" },
		{ NULL, NULL, NULL, NULL },
	};
	pthread_t th[BENCH_MAX_THREADS];
	double t0, t1;
	char extra[160];
	long i;

	bench_parse(argc, argv, opts);
	if (o_threads < 1 || o_threads > BENCH_MAX_THREADS || o_ops < 32 ||
	    o_items / o_threads < 64 || o_exp < 4 || o_exp > 31) {
		fprintf(stderr, "alloc_test: bad parameters\n");
		return 2;
	}
	bench_cxx_init();
	t0 = now_sec();
	for (i = 0; i < o_threads; i++)
		xpthread_create(&th[i], run, (void *)(intptr_t)i);
	for (i = 0; i < o_threads; i++)
		pthread_join(th[i], NULL);
	t1 = now_sec();
	snprintf(extra, sizeof(extra), "threads=%ld ops=%ld items=%ld exp=%ld cxx=%s",
		 o_threads, o_ops, o_items, o_exp, cxx.from);
	bench_report("alloc-test", extra, (double)total_ops, t1 - t0);
	return 0;
}
