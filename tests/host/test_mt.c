// SPDX-License-Identifier: MIT
/*
 * test_mt - multi-threaded stress with more threads than CPUs:
 *  - workers allocate, fill, verify and free random sizes of every tier;
 *  - producer/consumer pairs hand blocks across threads, so most frees
 *    land in another CPU's cache than the allocation came from;
 *  - a maintenance thread runs hak_trim, hak_cpu_offline and hak_check
 *    (which must stay clean) while all of that goes on.
 * At the end hak_check is clean, the stats balance to zero live bytes, and
 * after a trim every page is back with the provider.
 * Also built with TSan (make test-host runs both).
 */
#include <pthread.h>
#include <sched.h>
#include <sys/rseq.h>

#include "check.h"

#define WORKERS 4
#define PAIRS 2
#define WORKER_OPS 60000
#define ITEMS 40000
#define QCAP 512

static struct report_log log;
static unsigned ncpus;
static int stop_maint;

struct queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	void *item[QCAP];
	size_t size[QCAP];
	unsigned head, tail;
};

static struct queue queues[PAIRS];

static size_t pick_size(uint64_t *rng)
{
	unsigned r = (unsigned)rng_range(rng, 0, 99);

	if (r < 65)
		return rng_range(rng, 1, 1024);
	if (r < 97)
		return rng_range(rng, 1025, 32768);
	return rng_range(rng, 32769, 200000);
}

static void *worker(void *arg)
{
	enum { SLOTS = 256 };
	uint64_t rng = (uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1;
	char *p[SLOTS] = { 0 };
	size_t sz[SLOTS];
	int i;

	for (i = 0; i < WORKER_OPS; i++) {
		unsigned k = (unsigned)rng_range(&rng, 0, SLOTS - 1);

		if (p[k]) {
			CHECK(verify(p[k], sz[k], (uintptr_t)p[k]),
			      "worker block corrupted");
			hak_free(p[k]);
			p[k] = NULL;
		} else {
			sz[k] = pick_size(&rng);
			p[k] = hak_malloc(sz[k]);
			CHECK(p[k], "worker malloc %zu", sz[k]);
			fill(p[k], sz[k], (uintptr_t)p[k]);
		}
	}
	for (i = 0; i < SLOTS; i++)
		if (p[i]) {
			CHECK(verify(p[i], sz[i], (uintptr_t)p[i]), "corrupted");
			hak_free(p[i]);
		}
	return NULL;
}

static void *producer(void *arg)
{
	struct queue *q = &queues[(uintptr_t)arg];
	uint64_t rng = (uintptr_t)arg + 77;
	int i;

	for (i = 0; i <= ITEMS; i++) {
		size_t size = i == ITEMS ? 0 : pick_size(&rng);
		char *p = i == ITEMS ? NULL : hak_malloc(size);

		if (p)
			fill(p, size, (uintptr_t)p);
		else
			CHECK(i == ITEMS, "producer malloc");
		pthread_mutex_lock(&q->mu);
		while (q->tail - q->head == QCAP)
			pthread_cond_wait(&q->cv, &q->mu);
		q->item[q->tail % QCAP] = p;
		q->size[q->tail % QCAP] = size;
		q->tail++;
		pthread_cond_broadcast(&q->cv);
		pthread_mutex_unlock(&q->mu);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	struct queue *q = &queues[(uintptr_t)arg];

	for (;;) {
		char *p;
		size_t size;

		pthread_mutex_lock(&q->mu);
		while (q->tail == q->head)
			pthread_cond_wait(&q->cv, &q->mu);
		p = q->item[q->head % QCAP];
		size = q->size[q->head % QCAP];
		q->head++;
		pthread_cond_broadcast(&q->cv);
		pthread_mutex_unlock(&q->mu);
		if (!p)
			return NULL;
		CHECK(verify(p, size, (uintptr_t)p), "cross-thread block corrupted");
		hak_free(p);
	}
}

static void *maintenance(void *arg)
{
	unsigned n = 0;

	(void)arg;
	while (!__atomic_load_n(&stop_maint, __ATOMIC_ACQUIRE)) {
		switch (n++ % 3) {
		case 0:
			hak_trim();
			break;
		case 1:
			hak_cpu_offline(n % ncpus);
			break;
		default:
			CHECK(hak_check() == 0, "online hak_check");
		}
		sched_yield();
	}
	return NULL;
}

/* argv[1], if given: the fast path hak_stats must report (run-all.sh runs
 * this test with glibc's rseq off at run time and expects "trylock"). */
int main(int argc, char **argv)
{
	pthread_t w[WORKERS], pr[PAIRS], co[PAIRS], mt;
	struct hak_stats st;
	uintptr_t i;

	ncpus = hak_hosted_possible_cpus();
	if (ncpus < 2)
		ncpus = 2;
	init_hosted(ncpus, &log);
	printf("%u hakmem CPUs, %d threads\n", ncpus, WORKERS + 2 * PAIRS + 1);
	for (i = 0; i < PAIRS; i++) {
		pthread_mutex_init(&queues[i].mu, NULL);
		pthread_cond_init(&queues[i].cv, NULL);
	}
	pthread_create(&mt, NULL, maintenance, NULL);
	for (i = 0; i < WORKERS; i++)
		pthread_create(&w[i], NULL, worker, (void *)(i + 1));
	for (i = 0; i < PAIRS; i++) {
		pthread_create(&pr[i], NULL, producer, (void *)i);
		pthread_create(&co[i], NULL, consumer, (void *)i);
	}
	for (i = 0; i < WORKERS; i++)
		pthread_join(w[i], NULL);
	for (i = 0; i < PAIRS; i++) {
		pthread_join(pr[i], NULL);
		pthread_join(co[i], NULL);
	}
	__atomic_store_n(&stop_maint, 1, __ATOMIC_RELEASE);
	pthread_join(mt, NULL);

	CHECK(hak_check() == 0, "final hak_check");
	for (i = 0; i < HAK_EV__COUNT; i++)
		CHECK(!log.count[i], "report %s", hak_event_name((enum hak_event)i));
	hak_stats(&st);
	CHECK(st.bytes_in_use == 0, "stats: %llu bytes still in use",
	      (unsigned long long)st.bytes_in_use);
	for (i = 0; i < HAK_TIER__COUNT; i++)
		CHECK(st.tier[i].allocs == st.tier[i].frees,
		      "tier %lu: %llu allocs, %llu frees", (unsigned long)i,
		      (unsigned long long)st.tier[i].allocs,
		      (unsigned long long)st.tier[i].frees);
	/* The fast path this test exercised must be the one expected here:
	 * rseq whenever glibc registered it, unless built without. */
#ifdef HAK_HOSTED_NO_RSEQ_BUILD
	CHECK(!strcmp(st.fast_path, "trylock"), "fast path %s", st.fast_path);
#else
	CHECK(!strcmp(st.fast_path, __rseq_size ? "rseq" : "trylock"),
	      "fast path %s (rseq size %u)", st.fast_path, __rseq_size);
#endif
	/* Consumers free what producers allocate: batches must have moved
	 * through the transfer caches. */
	CHECK(st.transfer_batches > 0, "no batch went through a transfer cache");
	CHECK(st.lock_holds >= st.transfer_batches &&
		      st.lock_waits <= st.lock_holds,
	      "lock holds %llu, waits %llu, batches %llu",
	      (unsigned long long)st.lock_holds,
	      (unsigned long long)st.lock_waits,
	      (unsigned long long)st.transfer_batches);
	printf("shared locks: %llu holds, %llu waited\n",
	       (unsigned long long)st.lock_holds,
	       (unsigned long long)st.lock_waits);
	hak_trim();
	hak_stats(&st);
	CHECK(st.cached_objects == 0, "cached after trim");
	CHECK(st.provider_held == st.meta_bytes, "held %llu meta %llu",
	      (unsigned long long)st.provider_held,
	      (unsigned long long)st.meta_bytes);
	printf("fast path: %s\n", st.fast_path);
	CHECK(argc < 2 || !strcmp(st.fast_path, argv[1]),
	      "fast path %s, expected %s", st.fast_path, argv[1]);
	printf("transfer batches %llu\n", (unsigned long long)st.transfer_batches);
	printf("allocs %llu, hits %llu, misses %llu, refills %llu, drains %llu\n",
	       (unsigned long long)(st.tier[0].allocs + st.tier[1].allocs +
				    st.tier[2].allocs),
	       (unsigned long long)st.cache_hits,
	       (unsigned long long)st.cache_misses,
	       (unsigned long long)st.refills, (unsigned long long)st.drains);
	printf("PASS mt\n");
	return 0;
}
