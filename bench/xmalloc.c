// SPDX-License-Identifier: MIT
/*
 * xmalloc - producer/consumer: in each of `pairs` pairs, one thread
 * allocates `size`-byte blocks (writing the first word of each) and passes
 * them in batches of `batch` through a bounded single-producer
 * single-consumer ring of `ring` batches; the other thread frees them.
 * Every block is freed by a thread that did not allocate it. Runs for
 * `seconds`, then the consumers drain what is in flight.
 *
 * One op = one free by a consumer. Reports frees/s over all pairs.
 */
#include <sched.h>

#include "common.h"

static long o_pairs = 1, o_size = 64, o_batch = 256, o_ring = 64,
	    o_seed = 42;
static double o_seconds = 1.0;

struct pair {
	int id;
	void **bufs; /* ring * batch block pointers */
	uint64_t frees;
	int done; /* producer finished; head is final */
	unsigned long head __attribute__((aligned(128))); /* producer's */
	unsigned long tail __attribute__((aligned(128))); /* consumer's */
} __attribute__((aligned(128)));

static int stop;

static inline void wait_a_bit(unsigned *spins)
{
	if (++*spins < 64)
		cpu_relax();
	else
		sched_yield();
}

static void *producer(void *arg)
{
	struct pair *p = arg;
	int slot = 2 * p->id;
	unsigned long head = 0;
	long i;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		void **b;
		unsigned spins = 0;

		while (head - __atomic_load_n(&p->tail, __ATOMIC_ACQUIRE) >=
		       (unsigned long)o_ring) {
			if (__atomic_load_n(&stop, __ATOMIC_RELAXED))
				goto out;
			wait_a_bit(&spins);
		}
		b = p->bufs + (head % (unsigned long)o_ring) * (size_t)o_batch;
		for (i = 0; i < o_batch; i++) {
			uint64_t *q = xmalloc(slot, (size_t)o_size);

			q[0] = head;
			b[i] = q;
		}
		__atomic_store_n(&p->head, ++head, __ATOMIC_RELEASE);
	}
out:
	__atomic_store_n(&p->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *consumer(void *arg)
{
	struct pair *p = arg;
	int slot = 2 * p->id + 1;
	unsigned long tail = 0;
	uint64_t frees = 0;
	long i;

	for (;;) {
		unsigned spins = 0;
		void **b;

		while (tail == __atomic_load_n(&p->head, __ATOMIC_ACQUIRE)) {
			if (__atomic_load_n(&p->done, __ATOMIC_ACQUIRE) &&
			    tail == __atomic_load_n(&p->head, __ATOMIC_ACQUIRE))
				goto out;
			wait_a_bit(&spins);
		}
		b = p->bufs + (tail % (unsigned long)o_ring) * (size_t)o_batch;
		for (i = 0; i < o_batch; i++)
			xfree(slot, b[i], (size_t)o_size);
		frees += (uint64_t)o_batch;
		__atomic_store_n(&p->tail, ++tail, __ATOMIC_RELEASE);
	}
out:
	p->frees = frees;
	return NULL;
}

int main(int argc, char **argv)
{
	const struct bench_opt opts[] = {
		{ "--pairs", NULL, &o_pairs, "producer/consumer pairs" },
		{ "--seconds", &o_seconds, NULL, "duration" },
		{ "--size", NULL, &o_size, "block size" },
		{ "--batch", NULL, &o_batch, "blocks per hand-over" },
		{ "--ring", NULL, &o_ring, "batches in flight at most" },
		{ "--seed", NULL, &o_seed, "unused; accepted for uniformity" },
		{ NULL, NULL, NULL, NULL },
	};
	static struct pair pairs[BENCH_MAX_THREADS / 2];
	pthread_t th[BENCH_MAX_THREADS];
	uint64_t frees = 0;
	double t0, t1;
	char extra[128];
	long i;

	bench_parse(argc, argv, opts);
	if (o_pairs < 1 || o_pairs > BENCH_MAX_THREADS / 2 || o_size < 8 ||
	    o_batch < 1 || o_ring < 1) {
		fprintf(stderr, "xmalloc: bad parameters\n");
		return 2;
	}
	for (i = 0; i < o_pairs; i++) {
		pairs[i].id = (int)i;
		pairs[i].bufs = malloc(sizeof(void *) * (size_t)(o_ring * o_batch));
		if (!pairs[i].bufs)
			abort();
	}
	t0 = now_sec();
	for (i = 0; i < o_pairs; i++) {
		xpthread_create(&th[2 * i + 1], consumer, &pairs[i]);
		xpthread_create(&th[2 * i], producer, &pairs[i]);
	}
	sleep_sec(o_seconds);
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < 2 * o_pairs; i++)
		pthread_join(th[i], NULL);
	t1 = now_sec();
	for (i = 0; i < o_pairs; i++) {
		frees += pairs[i].frees;
		free(pairs[i].bufs);
	}
	snprintf(extra, sizeof(extra),
		 "threads=%ld pairs=%ld size=%ld batch=%ld ring=%ld",
		 2 * o_pairs, o_pairs, o_size, o_batch, o_ring);
	bench_report("xmalloc", extra, (double)frees, t1 - t0);
	return 0;
}
