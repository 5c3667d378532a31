// SPDX-License-Identifier: MIT
/*
 * rptest - realistic mixed sizes: each thread keeps a working set of
 * `slots` blocks. Every op picks a random slot, frees the block there (or,
 * once in `xfer` frees, posts it to the next thread, which frees it) and
 * allocates a new block whose size follows a skewed distribution:
 *
 *   50%  8 - 64 B        25%  65 - 256 B      15%  257 B - 1 KiB
 *    7%  1 - 8 KiB       2.5% 8 - 32 KiB      0.5% 32 KiB - `max`
 *
 * (the last bucket's share is `tail` per mille, default 5; the 8-32 KiB
 * bucket gives up what the tail takes beyond that),
 * and writes its first and last byte. Lifetimes are random (a block lives
 * until its slot is picked again: geometric, mean `slots` ops). Runs until
 * `seconds` pass.
 *
 * One op = one malloc plus one free. Reports ops/s over all threads.
 */
#include "common.h"

#define MAILBOX 1024

static long o_threads = 2, o_slots = 4096, o_max = 131072, o_xfer = 64,
	    o_tail = 5, o_seed = 42;
static double o_seconds = 1.0;

struct mailbox {
	pthread_mutex_t lock;
	long n;
	void *blocks[MAILBOX];
	size_t sizes[MAILBOX];
};

struct worker {
	int slot;
	uint64_t ops;
	uint64_t posted;
	struct mailbox box;
} __attribute__((aligned(128)));

static struct worker w[BENCH_MAX_THREADS];
static int stop;

static size_t skewed_size(struct rng *r)
{
	uint64_t u = rng_below(r, 1000);

	if (u < 500)
		return rng_range(r, 8, 64);
	if (u < 750)
		return rng_range(r, 65, 256);
	if (u < 900)
		return rng_range(r, 257, 1024);
	if (u < 970)
		return rng_range(r, 1025, 8192);
	if (u < 1000 - (uint64_t)o_tail)
		return rng_range(r, 8193, 32768);
	return rng_range(r, 32769, (size_t)o_max);
}

/* Free what other threads posted to us. */
static void drain(struct worker *me)
{
	void *b[MAILBOX];
	size_t s[MAILBOX];
	long n, i;

	pthread_mutex_lock(&me->box.lock);
	n = me->box.n;
	memcpy(b, me->box.blocks, sizeof(void *) * (size_t)n);
	memcpy(s, me->box.sizes, sizeof(size_t) * (size_t)n);
	me->box.n = 0;
	pthread_mutex_unlock(&me->box.lock);
	for (i = 0; i < n; i++)
		xfree(me->slot, b[i], s[i]);
}

/* Hand a block to another thread; 0 if its mailbox is full. */
static int post(struct worker *to, void *p, size_t n)
{
	int ok = 0;

	pthread_mutex_lock(&to->box.lock);
	if (to->box.n < MAILBOX) {
		to->box.blocks[to->box.n] = p;
		to->box.sizes[to->box.n++] = n;
		ok = 1;
	}
	pthread_mutex_unlock(&to->box.lock);
	return ok;
}

static void *run(void *arg)
{
	struct worker *me = arg;
	struct worker *next = &w[(me->slot + 1) % o_threads];
	struct rng rng;
	char **b = calloc((size_t)o_slots, sizeof(char *));
	size_t *sz = calloc((size_t)o_slots, sizeof(size_t));
	uint64_t ops = 0;
	long i;

	if (!b || !sz)
		abort();
	rng_seed(&rng, (uint64_t)o_seed, (uint64_t)me->slot);
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		for (i = 0; i < 64; i++) {
			size_t k = (size_t)rng_below(&rng, (uint64_t)o_slots);
			size_t n = skewed_size(&rng);

			if (b[k]) {
				if (o_threads > 1 &&
				    rng_below(&rng, (uint64_t)o_xfer) == 0 &&
				    post(next, b[k], sz[k]))
					me->posted++;
				else
					xfree(me->slot, b[k], sz[k]);
			}
			b[k] = xmalloc(me->slot, n);
			b[k][0] = 1;
			b[k][n - 1] = 1;
			sz[k] = n;
		}
		ops += 64;
		drain(me);
	}
	for (i = 0; i < o_slots; i++)
		if (b[i])
			xfree(me->slot, b[i], sz[i]);
	free(b);
	free(sz);
	me->ops = ops;
	return NULL;
}

int main(int argc, char **argv)
{
	const struct bench_opt opts[] = {
		{ "--threads", NULL, &o_threads, "threads" },
		{ "--seconds", &o_seconds, NULL, "duration" },
		{ "--slots", NULL, &o_slots, "working-set blocks per thread" },
		{ "--max", NULL, &o_max, "largest block (tail)" },
		{ "--xfer", NULL, &o_xfer, "1 in xfer frees is remote" },
		{ "--tail", NULL, &o_tail, "per mille above 32 KiB" },
		{ "--seed", NULL, &o_seed, "RNG seed" },
		{ NULL, NULL, NULL, NULL },
	};
	pthread_t th[BENCH_MAX_THREADS];
	uint64_t ops = 0, posted = 0;
	double t0, t1;
	char extra[160];
	long i;

	bench_parse(argc, argv, opts);
	if (o_threads < 1 || o_threads > BENCH_MAX_THREADS || o_slots < 1 ||
	    o_max < 32769 || o_xfer < 1 || o_tail < 0 || o_tail > 30) {
		fprintf(stderr, "rptest: bad parameters\n");
		return 2;
	}
	for (i = 0; i < o_threads; i++) {
		w[i].slot = (int)i;
		pthread_mutex_init(&w[i].box.lock, NULL);
	}
	t0 = now_sec();
	for (i = 0; i < o_threads; i++)
		xpthread_create(&th[i], run, &w[i]);
	sleep_sec(o_seconds);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < o_threads; i++)
		pthread_join(th[i], NULL);
	t1 = now_sec();
	for (i = 0; i < o_threads; i++) {
		drain(&w[i]); /* posted after its owner's last drain */
		ops += w[i].ops;
		posted += w[i].posted;
	}
	snprintf(extra, sizeof(extra),
		 "threads=%ld slots=%ld max=%ld xfer=%ld tail=%ld "
		 "remote_frees=%" PRIu64,
		 o_threads, o_slots, o_max, o_xfer, o_tail, posted);
	bench_report("rptest", extra, (double)ops, t1 - t0);
	return 0;
}
