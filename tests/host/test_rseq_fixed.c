// SPDX-License-Identifier: MIT
/*
 * test_rseq_fixed - which rseq sections the hosted library runs, and that
 * they serve every front.
 *
 * On x86_64 the build writes glibc's rseq area offset into hak_rseq_tp.h
 * (port/hosted/rseq_tp_probe.c), and malloc's and free's sections address
 * the area as %fs:constant when the running glibc's offset is the same
 * (hak_port_rseq_fixed). Built as the plain tests are, on this machine,
 * the library must take those sections: a build whose probe silently
 * failed would run the slower ones with nothing else noticing. Built as
 * the rseqvar variant (host.mk: a constant of 32, where no glibc keeps
 * its area; as a library built against another glibc), it must take the
 * sections that read the offset from a variable, still in rseq mode.
 *
 * Either way, four threads (unpinned) allocate, fill, check and free blocks
 * of both cache tiers from the default heap, an object cache and a created
 * heap (malloc.c's fast paths and pcpu_ops.h's), while another thread
 * trims (hak_trim holds each CPU's cache in turn: the held cache's fast
 * table entry); the per-CPU caches must have served them (the default
 * heap's and the created heap's cache hits each grow by at least half
 * their operations), and hak_check finds nothing wrong. Needs glibc's rseq
 * registration: without it the test fails, saying so.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sys/rseq.h>

#include "check.h"
#include "../../mm/internal.h"

#ifndef HAK_TEST_RSEQ_VAR /* 1: the rseqvar variant (host.mk) */
#define HAK_TEST_RSEQ_VAR 0
#endif

#define THREADS 4
#define ROUNDS 3000
#define KEEP 32
#define DFLT ((KEEP + 2) / 3) /* blocks k % 3 == 0: the default heap's */

static struct hak_cache *cache;
static struct hak_heap *vm;
static int stop;

static const size_t sizes[] = {8, 24, 100, 1000, 3000, 20000};

static void *worker(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	void *keep[KEEP];
	unsigned r, k;

	for (r = 0; r < ROUNDS; r++) {
		size_t n = sizes[(r + id) % (sizeof(sizes) / sizeof(sizes[0]))];
		uint64_t tag = (uint64_t)r << 8 | id;

		for (k = 0; k < KEEP; k++) {
			if (k % 3 == 0)
				keep[k] = hak_malloc(n);
			else if (k % 3 == 1)
				keep[k] = hak_cache_alloc(cache);
			else
				keep[k] = hak_heap_malloc(vm, n);
			CHECK(keep[k], "round %u block %u: NULL", r, k);
			fill(keep[k], k % 3 == 1 ? 40 : n, tag + k);
		}
		for (k = 0; k < KEEP; k++) {
			CHECK(verify(keep[k], k % 3 == 1 ? 40 : n, tag + k),
			      "round %u block %u changed", r, k);
			if (k % 3 == 1)
				hak_cache_free(cache, keep[k]);
			else
				hak_free(keep[k]);
		}
	}
	return NULL;
}

static void *trimmer(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		hak_trim();
		usleep(2000);
	}
	return NULL;
}

int main(void)
{
	struct hak_heap_config cfg = {0};
	struct hak_stats st0, st1, vm0, vm1;
	pthread_t w[THREADS], t;
	uintptr_t i;
	int want_fixed;

	CHECK(__rseq_size > 0, "glibc did not register rseq (kernel, tunable "
			       "or libc): this test needs it");
	hak_free(hak_malloc(1)); /* the lazy init */
	CHECK(!strcmp(hak_port_fast_path_name(), "rseq"),
	      "the library runs %s, not rseq", hak_port_fast_path_name());
#if ARCH_RSEQ_HAS_FIXED
	want_fixed = !HAK_TEST_RSEQ_VAR &&
		     HAK_HOSTED_RSEQ_TP_OFF == (long)__rseq_offset;
#if __GLIBC__ == 2 && __GLIBC_MINOR__ <= 40
	/* Up to here glibc keeps the area in the thread descriptor, at one
	 * offset for every process: a build on this machine must have it
	 * (a stale or failed probe fails here). Newer ones may place it
	 * after the program's static TLS (rseq_tp_probe.c). */
	if (!HAK_TEST_RSEQ_VAR)
		CHECK(want_fixed,
		      "the build's offset %ld is not this glibc's %td",
		      (long)HAK_HOSTED_RSEQ_TP_OFF, __rseq_offset);
#endif
#elif defined(__x86_64__)
	CHECK(0, "an x86_64 build without the rseq offset: the probe "
		 "(port/hosted/rseq_tp_probe.c, hak_rseq_tp.h) failed");
	want_fixed = 0;
#else
	want_fixed = 0; /* no constant-offset sections on this arch */
#endif
	CHECK(hak_port_rseq_fixed() == want_fixed,
	      "constant-offset sections %d, want %d (glibc's offset %td)",
	      hak_port_rseq_fixed(), want_fixed, __rseq_offset);
	printf("rseq sections: %s (glibc's offset %td)\n",
	       want_fixed ? "constant offset" : "offset from a variable",
	       __rseq_offset);

	cache = hak_cache_create(NULL, "fixed", 40, 0, 0, NULL, NULL);
	CHECK(cache, "cache");
	cfg.name = "fixed-vm";
	cfg.provider = hak_hosted_mmap_provider();
	vm = hak_heap_create(&cfg);
	CHECK(vm, "heap");
	hak_stats(&st0);
	hak_heap_stats(vm, &vm0);
	CHECK(!pthread_create(&t, NULL, trimmer, NULL), "thread");
	for (i = 0; i < THREADS; i++)
		CHECK(!pthread_create(&w[i], NULL, worker, (void *)i),
		      "thread");
	for (i = 0; i < THREADS; i++)
		CHECK(!pthread_join(w[i], NULL), "join");
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	CHECK(!pthread_join(t, NULL), "join");
	hak_stats(&st1);
	hak_heap_stats(vm, &vm1);
	/* Each thread's DFLT x ROUNDS blocks from the default heap are a
	 * malloc and a free each; all but the first round's and those after
	 * a trim hit a warm cache (about 94% here): half is a bar that the
	 * caches' absence (every operation a miss) fails by far. */
	CHECK(st1.cache_hits - st0.cache_hits >=
		      (uint64_t)THREADS * ROUNDS * DFLT,
	      "cache hits grew by %llu only",
	      (unsigned long long)(st1.cache_hits - st0.cache_hits));
	/* The created heap's blocks (k % 3 == 2) through its own per-CPU
	 * table (pcpu_ops.h's pop and push): the same bar. */
	CHECK(vm1.cache_hits - vm0.cache_hits >=
		      (uint64_t)THREADS * ROUNDS * (KEEP / 3),
	      "the created heap's cache hits grew by %llu only",
	      (unsigned long long)(vm1.cache_hits - vm0.cache_hits));
	CHECK(hak_check() == 0, "hak_check");
	CHECK(hak_cache_destroy(cache) == 0, "cache destroy");
	CHECK(hak_heap_destroy(vm, 0) == 0, "heap destroy");
	CHECK(hak_check() == 0, "hak_check after the destroys");
	printf("cache hits %llu, misses %llu; created heap's hits %llu\n",
	       (unsigned long long)(st1.cache_hits - st0.cache_hits),
	       (unsigned long long)(st1.cache_misses - st0.cache_misses),
	       (unsigned long long)(vm1.cache_hits - vm0.cache_hits));
	printf("PASS test_rseq_fixed\n");
	return 0;
}
