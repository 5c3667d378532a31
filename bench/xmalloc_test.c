// SPDX-License-Identifier: MIT
/*
 * xmalloc_test - xmalloc-test (Lever and Boreham, USENIX 2000; the
 * version in mimalloc-bench, bench/xmalloc-test) as mimalloc-bench runs
 * it: `xmalloc-test -w T -t 5 -s 64`. Written from the original's
 * behaviour:
 *
 *  - T producer ("allocator") and T consumer ("releaser") threads, so
 *    2T threads in all.
 *  - A producer repeatedly allocates a batch record (a next pointer and
 *    4096 object pointers: 32,776 bytes on LP64), fills it with 4096
 *    objects of `size` bytes (64), writing min(size, 128) bytes of each
 *    with the object's index mod 256, and pushes the batch on ONE shared
 *    LIFO stack, guarded by a mutex, of at most 100 batches (a full stack
 *    makes the producer wait on a condition variable).
 *  - A consumer pops any batch (waiting while the stack is empty), frees
 *    its 4096 objects and the batch record, and counts 4096 frees; as in
 *    the original, it also counts 4096 when it wakes at the end with
 *    nothing to pop.
 *  - The main thread polls the clock every millisecond and sets the done
 *    flag after `seconds`; the time runs from before the threads are
 *    created until all are joined. What is left on the stack is freed
 *    afterwards, untimed.
 *
 * --size -1 draws sizes from the original's table of 17 sizes between
 * 8 and 2048 bytes with lran2 seeded by the producer's index, as the
 * original does for -s -1.
 *
 * Deviations: with --verify 1 (the smoke runs) the consumer checks the
 * first byte of each object before freeing it, a read the original does
 * not make (off by default); named options instead of getopt letters;
 * the final broadcast is made under the mutex.
 *
 * One op = one counted free. time_sec is the original's "rtime",
 * 100 / (millions of frees per second), which mimalloc-bench reports as
 * xmalloc-test's time.
 */
#include <errno.h>
#include <unistd.h>

#include "common.h"

#define OBJECTS_PER_BATCH 4096
#define BATCH_LIMIT 100

static long o_workers = 4, o_size = 1024;
static double o_seconds = 5.0;

struct batch {
	struct batch *next;
	void *objects[OBJECTS_PER_BATCH];
};

static const long sizes[] = { 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256,
			      384, 512, 768, 1024, 1536, 2048 };
#define NSIZES ((long)(sizeof(sizes) / sizeof(sizes[0])))

static struct batch *stack;
static int depth;
static int done;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;

struct counter {
	uint64_t frees;
} __attribute__((aligned(128)));

static struct counter counters[BENCH_MAX_THREADS];

static int is_done(void)
{
	return __atomic_load_n(&done, __ATOMIC_ACQUIRE);
}

static void push(struct batch *b)
{
	pthread_mutex_lock(&lock);
	while (depth >= BATCH_LIMIT && !is_done())
		pthread_cond_wait(&not_full, &lock);
	b->next = stack;
	stack = b;
	depth++;
	pthread_cond_signal(&not_empty);
	pthread_mutex_unlock(&lock);
}

static struct batch *pop(void)
{
	struct batch *b;

	pthread_mutex_lock(&lock);
	while (!stack && !is_done())
		pthread_cond_wait(&not_empty, &lock);
	b = stack;
	if (b) {
		stack = b->next;
		depth--;
		pthread_cond_signal(&not_full);
	}
	pthread_mutex_unlock(&lock);
	return b;
}

/* Producer i accounts in slot i, consumer i in slot workers + i: a block
 * freed by another thread subtracts from the freeing thread's slot. */
static void *producer(void *arg)
{
	int id = (int)(intptr_t)arg;
	struct lran2 r;

	lran2_seed(&r, id);
	while (!is_done()) {
		struct batch *b = xmalloc(id, sizeof(*b));
		int i;

		for (i = 0; i < OBJECTS_PER_BATCH; i++) {
			size_t sz = o_size > 0 ? (size_t)o_size :
				    (size_t)sizes[lran2_next(&r) % NSIZES];

			b->objects[i] = xmalloc(id, sz);
			memset(b->objects[i], i % 256, sz > 128 ? 128 : sz);
		}
		push(b);
	}
	return NULL;
}

static void release(int slot, struct batch *b)
{
	int i;

	for (i = 0; i < OBJECTS_PER_BATCH; i++) {
		unsigned char *o = b->objects[i];

		if (bench_verify && o[0] != (unsigned char)(i % 256))
			bench_fail("xmalloc-test: object %d of a batch changed", i);
		/* Sizes are not tracked per object: account the fixed size. */
		xfree(slot, o, o_size > 0 ? (size_t)o_size : 0);
	}
	xfree(slot, b, sizeof(*b));
}

static void *consumer(void *arg)
{
	int id = (int)(intptr_t)arg;

	while (!is_done()) {
		struct batch *b = pop();

		if (b)
			release((int)o_workers + id, b);
		counters[id].frees += OBJECTS_PER_BATCH;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const struct bench_opt opts[] = {
		{ "--workers", NULL, &o_workers, "producers (and as many consumers) (-w)" },
		{ "--seconds", &o_seconds, NULL, "run time (-t)" },
		{ "--size", NULL, &o_size, "object size, -1 for the size table (-s)" },
		{ "--verify", NULL, &bench_verify, "1: check markers the original never reads (smoke runs)" },
		{ NULL, NULL, NULL, NULL },
	};
	pthread_t th[BENCH_MAX_THREADS];
	uint64_t total = 0;
	double t0, t1, mfree;
	char extra[160];
	long i;

	bench_parse(argc, argv, opts);
	if (o_workers < 1 || 2 * o_workers > BENCH_MAX_THREADS ||
	    (o_size < 1 && o_size != -1) || o_seconds <= 0) {
		fprintf(stderr, "xmalloc_test: bad parameters\n");
		return 2;
	}
	t0 = now_sec();
	for (i = 0; i < o_workers; i++) {
		xpthread_create(&th[2 * i], consumer, (void *)(intptr_t)i);
		xpthread_create(&th[2 * i + 1], producer, (void *)(intptr_t)i);
	}
	for (;;) {
		usleep(1000);
		if (now_sec() - t0 > o_seconds) {
			__atomic_store_n(&done, 1, __ATOMIC_RELEASE);
			pthread_mutex_lock(&lock);
			pthread_cond_broadcast(&not_empty);
			pthread_cond_broadcast(&not_full);
			pthread_mutex_unlock(&lock);
			break;
		}
	}
	for (i = 0; i < 2 * o_workers; i++)
		pthread_join(th[i], NULL);
	t1 = now_sec();
	for (i = 0; i < o_workers; i++)
		total += counters[i].frees;
	/* Untimed, as in the original: what is still on the stack. */
	while (stack) {
		struct batch *b = stack;

		stack = b->next;
		release(0, b);
	}
	mfree = (double)total / (t1 - t0) * 1e-6;
	bench_rtime = mfree > 0 ? 100.0 / mfree : 0;
	snprintf(extra, sizeof(extra),
		 "threads=%ld workers=%ld size=%ld batch_bytes=%zu",
		 2 * o_workers, o_workers, o_size, sizeof(struct batch));
	bench_report("xmalloc-test", extra, (double)total, t1 - t0);
	return 0;
}
