// SPDX-License-Identifier: MIT
/*
 * larson - server-style "bleeding": each of `threads` chains owns an array
 * of `chunks` blocks. A chain's current thread repeatedly frees a random
 * block and allocates a replacement of random size in [min, max]; after
 * `rounds` replacements it hands the array to a newly created successor
 * thread and exits, so blocks are freed by threads other than the one that
 * allocated them, and threads come and go. Runs until `seconds` pass (the
 * round in progress finishes).
 *
 * One op = one replacement (a free plus a malloc). Reports ops/s over all
 * chains, and the number of threads created.
 */
#include "common.h"

static long o_threads = 1, o_min = 8, o_max = 1000, o_chunks = 1000,
	    o_rounds = 5000, o_seed = 42;
static double o_seconds = 1.0;

struct chain {
	int slot;
	void **blocks;
	size_t *sizes;
	struct rng rng;
	uint64_t ops;
	uint64_t generations;
};

static int stop;
static int active;

static void *worker(void *arg)
{
	struct chain *c = arg;
	long r;

	for (r = 0; r < o_rounds; r++) {
		size_t i = (size_t)rng_below(&c->rng, (uint64_t)o_chunks);
		size_t n = rng_range(&c->rng, (size_t)o_min, (size_t)o_max);
		char *p;

		xfree(c->slot, c->blocks[i], c->sizes[i]);
		p = xmalloc(c->slot, n);
		p[0] = (char)r;
		c->blocks[i] = p;
		c->sizes[i] = n;
	}
	c->ops += (uint64_t)o_rounds;
	c->generations++;
	if (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		pthread_attr_t attr;
		pthread_t t;

		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &attr, worker, c)) {
			perror("pthread_create");
			abort();
		}
		pthread_attr_destroy(&attr);
	} else {
		__atomic_sub_fetch(&active, 1, __ATOMIC_RELEASE);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const struct bench_opt opts[] = {
		{ "--threads", NULL, &o_threads, "chains (concurrent threads)" },
		{ "--seconds", &o_seconds, NULL, "duration" },
		{ "--min", NULL, &o_min, "smallest block" },
		{ "--max", NULL, &o_max, "largest block" },
		{ "--chunks", NULL, &o_chunks, "blocks per chain" },
		{ "--rounds", NULL, &o_rounds, "replacements per thread" },
		{ "--seed", NULL, &o_seed, "RNG seed" },
		{ NULL, NULL, NULL, NULL },
	};
	struct chain chains[BENCH_MAX_THREADS];
	uint64_t ops = 0, gens = 0;
	double t0, t1;
	char extra[160];
	long t, i;

	bench_parse(argc, argv, opts);
	if (o_threads < 1 || o_threads > BENCH_MAX_THREADS || o_min < 1 ||
	    o_max < o_min || o_chunks < 1 || o_rounds < 1) {
		fprintf(stderr, "larson: bad parameters\n");
		return 2;
	}
	/* The main thread fills every chain's array first. */
	for (t = 0; t < o_threads; t++) {
		struct chain *c = &chains[t];

		c->slot = (int)t;
		c->ops = c->generations = 0;
		rng_seed(&c->rng, (uint64_t)o_seed, (uint64_t)t);
		c->blocks = malloc(sizeof(void *) * (size_t)o_chunks);
		c->sizes = malloc(sizeof(size_t) * (size_t)o_chunks);
		if (!c->blocks || !c->sizes)
			abort();
		for (i = 0; i < o_chunks; i++) {
			c->sizes[i] = rng_range(&c->rng, (size_t)o_min,
						(size_t)o_max);
			c->blocks[i] = xmalloc(c->slot, c->sizes[i]);
			((char *)c->blocks[i])[0] = 1;
		}
	}
	active = (int)o_threads;
	t0 = now_sec();
	for (t = 0; t < o_threads; t++) {
		pthread_attr_t attr;
		pthread_t th;

		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&th, &attr, worker, &chains[t])) {
			perror("pthread_create");
			abort();
		}
		pthread_attr_destroy(&attr);
	}
	sleep_sec(o_seconds);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&active, __ATOMIC_ACQUIRE) > 0)
		sleep_sec(0.0005);
	t1 = now_sec();
	for (t = 0; t < o_threads; t++) {
		struct chain *c = &chains[t];

		ops += c->ops;
		gens += c->generations;
		for (i = 0; i < o_chunks; i++)
			xfree(c->slot, c->blocks[i], c->sizes[i]);
		free(c->blocks);
		free(c->sizes);
	}
	snprintf(extra, sizeof(extra),
		 "threads=%ld min=%ld max=%ld chunks=%ld rounds=%ld "
		 "threads_created=%" PRIu64,
		 o_threads, o_min, o_max, o_chunks, o_rounds, gens);
	bench_report("larson", extra, (double)ops, t1 - t0);
	return 0;
}
