// SPDX-License-Identifier: MIT
/*
 * mstress - thread churn: rounds of `threads` short-lived threads. Each
 * thread allocates `allocs` blocks of a mixed size (mostly small, a few up
 * to 256 KiB), frees a random earlier one after about every fourth
 * allocation, then frees the `transfer` blocks its predecessor in the
 * previous round left in its transfer slot, leaves `transfer` of its own
 * there for its successor, frees the rest and exits. The main thread joins
 * the round and starts the next one, until `seconds` pass (the round in
 * progress finishes). So threads are created and destroyed all the time
 * and some blocks outlive the thread that allocated them.
 *
 * One op = one malloc (every block is freed). Reports mallocs/s.
 *
 * --trim 1 calls hak_trim() (when hakmem is loaded) after the last free,
 * so the HAKMEM line's provider_held shows what trimming gives back.
 */
#include "common.h"

static long o_threads = 4, o_allocs = 2000, o_transfer = 200, o_trim = 0,
	    o_seed = 42;
static double o_seconds = 1.0;

struct xfer {
	void **blocks;
	size_t *sizes;
	long n;
};

struct worker {
	int slot;
	long round;
	struct xfer *x; /* this thread's transfer slot */
	uint64_t mallocs;
};

/* 80% 8-256 B, 15% 257 B-4 KiB, 4.9% 4-32 KiB, 0.1% 32-256 KiB. */
static size_t mixed_size(struct rng *r)
{
	uint64_t u = rng_below(r, 1000);

	if (u < 800)
		return rng_range(r, 8, 256);
	if (u < 950)
		return rng_range(r, 257, 4096);
	if (u < 999)
		return rng_range(r, 4097, 32768);
	return rng_range(r, 32769, 262144);
}

static void *run(void *arg)
{
	struct worker *w = arg;
	struct rng rng;
	long n = o_allocs, i, live = 0;
	void **b = xmalloc(w->slot, sizeof(void *) * (size_t)n);
	size_t *sz = xmalloc(w->slot, sizeof(size_t) * (size_t)n);

	rng_seed(&rng, (uint64_t)o_seed,
		 (uint64_t)w->round * BENCH_MAX_THREADS + (uint64_t)w->slot);
	for (i = 0; i < n; i++) {
		sz[i] = mixed_size(&rng);
		b[i] = xmalloc(w->slot, sz[i]);
		((char *)b[i])[0] = (char)i;
		live++;
		if (rng_below(&rng, 4) == 0) {
			long j = (long)rng_below(&rng, (uint64_t)i + 1);

			if (b[j]) {
				xfree(w->slot, b[j], sz[j]);
				b[j] = NULL;
			}
		}
	}
	/* The predecessor's blocks: allocated by a thread that has exited. */
	for (i = 0; i < w->x->n; i++)
		xfree(w->slot, w->x->blocks[i], w->x->sizes[i]);
	w->x->n = 0;
	for (i = 0; i < n; i++) {
		if (!b[i])
			continue;
		if (w->x->n < o_transfer && rng_below(&rng, 2) == 0) {
			w->x->blocks[w->x->n] = b[i];
			w->x->sizes[w->x->n++] = sz[i];
		} else {
			xfree(w->slot, b[i], sz[i]);
		}
	}
	xfree(w->slot, b, sizeof(void *) * (size_t)n);
	xfree(w->slot, sz, sizeof(size_t) * (size_t)n);
	w->mallocs = (uint64_t)n + 2;
	(void)live;
	return NULL;
}

int main(int argc, char **argv)
{
	const struct bench_opt opts[] = {
		{ "--threads", NULL, &o_threads, "threads per round" },
		{ "--seconds", &o_seconds, NULL, "duration" },
		{ "--allocs", NULL, &o_allocs, "mallocs per thread" },
		{ "--transfer", NULL, &o_transfer, "blocks passed on per thread" },
		{ "--trim", NULL, &o_trim, "1: hak_trim() before the report" },
		{ "--seed", NULL, &o_seed, "RNG seed" },
		{ NULL, NULL, NULL, NULL },
	};
	static struct xfer x[BENCH_MAX_THREADS];
	static struct worker w[BENCH_MAX_THREADS];
	pthread_t th[BENCH_MAX_THREADS];
	uint64_t mallocs = 0;
	long rounds = 0, i, k;
	double t0, t1;
	char extra[160];

	bench_parse(argc, argv, opts);
	if (o_threads < 1 || o_threads > BENCH_MAX_THREADS || o_allocs < 1 ||
	    o_transfer < 0 || o_transfer > o_allocs) {
		fprintf(stderr, "mstress: bad parameters\n");
		return 2;
	}
	for (i = 0; i < o_threads; i++) {
		x[i].blocks = malloc(sizeof(void *) * (size_t)(o_transfer + 1));
		x[i].sizes = malloc(sizeof(size_t) * (size_t)(o_transfer + 1));
		if (!x[i].blocks || !x[i].sizes)
			abort();
		x[i].n = 0;
	}
	t0 = now_sec();
	do {
		for (i = 0; i < o_threads; i++) {
			w[i].slot = (int)i;
			w[i].round = rounds;
			w[i].x = &x[i];
			xpthread_create(&th[i], run, &w[i]);
		}
		for (i = 0; i < o_threads; i++) {
			pthread_join(th[i], NULL);
			mallocs += w[i].mallocs;
		}
		rounds++;
	} while (now_sec() - t0 < o_seconds);
	t1 = now_sec();
	for (i = 0; i < o_threads; i++) {
		for (k = 0; k < x[i].n; k++)
			xfree((int)i, x[i].blocks[k], x[i].sizes[k]);
		free(x[i].blocks);
		free(x[i].sizes);
	}
	if (o_trim) {
		void (*trim)(void) =
			(void (*)(void))dlsym(RTLD_DEFAULT, "hak_trim");

		if (trim)
			trim();
	}
	snprintf(extra, sizeof(extra),
		 "threads=%ld allocs=%ld transfer=%ld rounds=%ld "
		 "threads_created=%ld trim=%ld",
		 o_threads, o_allocs, o_transfer, rounds, rounds * o_threads,
		 o_trim);
	bench_report("mstress", extra, (double)mallocs, t1 - t0);
	return 0;
}
