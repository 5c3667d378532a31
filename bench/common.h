/* SPDX-License-Identifier: MIT */
/*
 * common.h - what every benchmark program shares: named-option parsing, a
 * clock, a per-thread RNG, live-byte accounting and the closing report.
 *
 * The programs call plain malloc/free, so LD_PRELOAD decides the allocator.
 * At exit each prints exactly one RESULT line plus two proof lines that
 * bench/run.sh checks before it accepts a number:
 *
 *   RESULT workload=... ops_per_sec=... time_sec=... check=ok|FAIL
 *          mallocs=... peak_live_bytes=... peak_rss_kb=... minflt=...
 *          majflt=...
 *   HAKMEM allocs=... frees=... provider_peak=... peak_bytes_out=...
 *          (or "HAKMEM absent" when hak_stats is not in the process)
 *   ALLOCATOR_MAPPED=libhakmem|libmimalloc|libjemalloc|libtcmalloc|none
 *
 * Live bytes are the requested sizes of the blocks the benchmark holds.
 * Each worker adds to and subtracts from its own cache-line-sized slot
 * (a block freed by another thread is subtracted from that thread's slot,
 * so slots go negative and only their sum means anything); after
 * LIVE_SAMPLE allocations, or LIVE_SAMPLE_BYTES allocated, since its last
 * sample a worker sums all slots and raises the global peak. The peak is
 * therefore sampled: it can miss a transient high by what a thread
 * allocated since its last sample, under LIVE_SAMPLE blocks and under
 * LIVE_SAMPLE_BYTES plus one block.
 *
 * Why so seldom: the sum reads every other worker's slot, a line that
 * worker writes at each operation, so each sample is a cache miss per
 * other thread, and the originals do nothing of the kind. With a sample
 * every 64 allocations mimalloc's sh8bench-2t took 4.6-4.8 s, against
 * 2.9-3.6 s every 4096, on a machine whose two CPUs move a line in
 * 200-900 ns (docs/performance.md): it added the same seconds to every
 * allocator and made the ratios between them look smaller than they
 * are.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* before any header: bench.mk also passes it */
#endif
#include <dlfcn.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "hakmem.h"

#define BENCH_MAX_THREADS 64
#define LIVE_SAMPLE 4096
#define LIVE_SAMPLE_BYTES (1 << 20)

/* Keep the compiler from eliding a malloc/free pair or a store. */
static inline void escape(void *p)
{
	__asm__ volatile("" : : "g"(p) : "memory");
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#endif
}

/* ---- options ------------------------------------------------------- */

struct bench_opt {
	const char *name; /* "--threads" */
	double *dval;	  /* exactly one of dval / lval is set */
	long *lval;
	const char *help;
};

static void bench_usage(const char *prog, const struct bench_opt *o)
{
	fprintf(stderr, "usage: %s", prog);
	for (; o->name; o++) {
		if (o->dval)
			fprintf(stderr, " [%s %g]", o->name, *o->dval);
		else
			fprintf(stderr, " [%s %ld]", o->name, *o->lval);
	}
	fprintf(stderr, "\n");
}

/* Every option is "--name value"; unknown names and bad numbers exit 2. */
static void bench_parse(int argc, char **argv, const struct bench_opt *opts)
{
	int i;

	for (i = 1; i < argc; i++) {
		const struct bench_opt *o;
		char *end;

		for (o = opts; o->name; o++)
			if (!strcmp(argv[i], o->name))
				break;
		if (!o->name || i + 1 >= argc) {
			fprintf(stderr, "%s: bad option '%s'\n", argv[0], argv[i]);
			bench_usage(argv[0], opts);
			exit(2);
		}
		i++;
		if (o->dval)
			*o->dval = strtod(argv[i], &end);
		else
			*o->lval = strtol(argv[i], &end, 0);
		if (*end || end == argv[i]) {
			fprintf(stderr, "%s: bad value '%s' for %s\n", argv[0],
				argv[i], o->name);
			exit(2);
		}
	}
}

/* ---- time and randomness ------------------------------------------- */

static inline double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* xorshift64*: cheap enough not to dominate a malloc/free pair. */
struct rng {
	uint64_t s;
};

static inline void rng_seed(struct rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t s = seed ^ (stream * 0xd1b54a32d192ed03ULL);

	r->s = splitmix64(&s) | 1;
}

static inline uint64_t rng_next(struct rng *r)
{
	uint64_t x = r->s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, n), n > 0 (multiply-shift, no division). */
static inline uint64_t rng_below(struct rng *r, uint64_t n)
{
	return (uint64_t)(((unsigned __int128)rng_next(r) * n) >> 64);
}

static inline size_t rng_range(struct rng *r, size_t lo, size_t hi)
{
	return lo + (size_t)rng_below(r, (uint64_t)(hi - lo + 1));
}

/* ---- live bytes ---------------------------------------------------- */

struct live_slot {
	int64_t live;	  /* requested bytes allocated - freed by this slot */
	uint64_t mallocs; /* malloc calls made through this slot */
	uint32_t tick;	/* allocations since the last sample */
	uint64_t since; /* bytes allocated since the last sample */
} __attribute__((aligned(128)));

static struct live_slot live_slots[BENCH_MAX_THREADS + 1];
static int64_t live_peak;

static inline void live_sample(void)
{
	int64_t sum = 0, peak;
	int i;

	for (i = 0; i <= BENCH_MAX_THREADS; i++)
		sum += __atomic_load_n(&live_slots[i].live, __ATOMIC_RELAXED);
	peak = __atomic_load_n(&live_peak, __ATOMIC_RELAXED);
	while (sum > peak &&
	       !__atomic_compare_exchange_n(&live_peak, &peak, sum, 1,
					    __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/* Only the thread that currently owns slot s calls these for s. */
static inline void live_alloc(int s, size_t n)
{
	struct live_slot *l = &live_slots[s];

	__atomic_store_n(&l->live, l->live + (int64_t)n, __ATOMIC_RELAXED);
	__atomic_store_n(&l->mallocs, l->mallocs + 1, __ATOMIC_RELAXED);
	l->since += n;
	if (++l->tick == LIVE_SAMPLE || l->since >= LIVE_SAMPLE_BYTES) {
		l->tick = 0;
		l->since = 0;
		live_sample();
	}
}

static inline void live_free(int s, size_t n)
{
	struct live_slot *l = &live_slots[s];

	__atomic_store_n(&l->live, l->live - (int64_t)n, __ATOMIC_RELAXED);
}

/* For workloads whose live set is known exactly (the fast-path loops). */
static inline void live_set_peak(int64_t bytes, uint64_t mallocs)
{
	live_peak = bytes;
	live_slots[0].mallocs += mallocs;
}

static inline uint64_t live_mallocs(void)
{
	uint64_t n = 0;
	int i;

	for (i = 0; i <= BENCH_MAX_THREADS; i++)
		n += __atomic_load_n(&live_slots[i].mallocs, __ATOMIC_RELAXED);
	return n;
}

/* Allocate and account; a NULL is fatal (a benchmark number without the
 * memory is meaningless). */
static inline void *xmalloc(int slot, size_t n)
{
	void *p = malloc(n);

	if (!p) {
		fprintf(stderr, "malloc(%zu) failed\n", n);
		abort();
	}
	live_alloc(slot, n);
	return p;
}

static inline void xfree(int slot, void *p, size_t n)
{
	live_free(slot, n);
	free(p);
}

/* ---- the original's time and the program's own checks -------------- */

/*
 * time_sec in the RESULT line is the figure mimalloc-bench ranks
 * allocators by: the elapsed time of a fixed-work program, or, for the
 * time-boxed ones whose output it converts (larson, xmalloc-test, rptest,
 * glibc-thread), that conversion of the throughput. A program of the
 * second kind sets bench_rtime; otherwise the elapsed time is used.
 */
static double bench_rtime = -1.0;

/* Self-checks that failed (a block's contents, a count that must add
 * up). Any failure prints check=FAIL, which run.sh and smoke.sh reject:
 * a number from a run that corrupted memory is not a result. */
static int bench_failed;

/*
 * --verify 1: also check what the original itself never reads (a marker
 * in a block, read before the free). Off by default, because such a read
 * is a cache miss (on another CPU's line, for a cross-thread free) that
 * the measured allocator might not take; the smoke runs turn it on.
 */
static long bench_verify __attribute__((unused));

__attribute__((format(printf, 1, 2), unused))
static void bench_fail(const char *fmt, ...)
{
	va_list ap;

	if (__atomic_fetch_add(&bench_failed, 1, __ATOMIC_RELAXED) < 10) {
		va_start(ap, fmt);
		fprintf(stderr, "check failed: ");
		vfprintf(stderr, fmt, ap);
		fprintf(stderr, "\n");
		va_end(ap);
	}
}

/* The sh*bench blocks: a marker in the first and last byte, written at
 * malloc, checked (with --verify 1) and the block freed here. */
static inline char block_marker(size_t size)
{
	return (char)(size | 1);
}

__attribute__((unused)) static void block_mark(char *p, size_t size)
{
	p[0] = block_marker(size);
	p[size - 1] = block_marker(size);
}

__attribute__((unused)) static void block_release(int slot, char *p,
						  uint32_t size)
{
	if (bench_verify && (p[0] != block_marker(size) ||
			     p[size - 1] != block_marker(size)))
		bench_fail("block %p of %u bytes changed", (void *)p, size);
	xfree(slot, p, size);
}

/*
 * lran2: the small shuffled linear congruential generator (Wolfram
 * Gloger, 1996, constants from Numerical Recipes) that larson and
 * xmalloc-test draw from. Implemented from its published definition so
 * that our larson draws the same sizes and victims as the original.
 */
#define LRAN2_MAX 714025L
#define LRAN2_IA 1366L
#define LRAN2_IC 150889L

struct lran2 {
	long x, y, v[97];
};

static inline void lran2_seed(struct lran2 *d, long seed)
{
	long x = (LRAN2_IC - seed) % LRAN2_MAX;
	int j;

	if (x < 0)
		x = -x;
	for (j = 0; j < 97; j++) {
		x = (LRAN2_IA * x + LRAN2_IC) % LRAN2_MAX;
		d->v[j] = x;
	}
	d->x = (LRAN2_IA * x + LRAN2_IC) % LRAN2_MAX;
	d->y = d->x;
}

static inline long lran2_next(struct lran2 *d)
{
	int j = (int)(d->y % 97);

	d->y = d->v[j];
	d->x = (LRAN2_IA * d->x + LRAN2_IC) % LRAN2_MAX;
	d->v[j] = d->x;
	return d->y;
}

/* ---- C++ allocation, for the originals that are C++ programs -------- */

/*
 * larson, cache-scratch, cache-thrash, alloc-test and malloc-large are C++
 * programs: they allocate with operator new[] and free with operator
 * delete[] (larson-sized with the sized operator delete[]). Under
 * LD_PRELOAD those operators are the preloaded allocator's own when it
 * defines them (mimalloc, jemalloc and tcmalloc do) and libstdc++'s,
 * which call malloc/free, when it does not (hakmem, glibc). To measure the
 * same calls, these programs load libstdc++ and resolve the operators in
 * the global scope, where a preloaded library comes first.
 */
struct bench_cxx {
	void *(*new_arr)(size_t);		/* operator new[](size_t) */
	void (*del_arr)(void *);		/* operator delete[](void *) */
	void (*del_arr_sized)(void *, size_t);	/* operator delete[](void *, size_t) */
	void (*del)(void *);			/* operator delete(void *) */
	char from[32];				/* the library new[] came from */
};

static struct bench_cxx cxx;

__attribute__((unused)) static void *cxx_sym(const char *name)
{
	void *f = dlsym(RTLD_DEFAULT, name);

	if (!f) {
		fprintf(stderr, "bench: %s not found (libstdc++.so.6)\n", name);
		exit(2);
	}
	return f;
}

__attribute__((unused)) static void bench_cxx_init(void)
{
	Dl_info info;
	const char *b;
	size_t i;

	if (!dlopen("libstdc++.so.6", RTLD_NOW | RTLD_GLOBAL)) {
		fprintf(stderr, "bench: cannot load libstdc++.so.6: %s\n", dlerror());
		exit(2);
	}
	*(void **)&cxx.new_arr = cxx_sym("_Znam");
	*(void **)&cxx.del_arr = cxx_sym("_ZdaPv");
	*(void **)&cxx.del_arr_sized = cxx_sym("_ZdaPvm");
	*(void **)&cxx.del = cxx_sym("_ZdlPv");
	b = "?";
	if (dladdr(*(void **)&cxx.new_arr, &info) && info.dli_fname) {
		b = strrchr(info.dli_fname, '/');
		b = b ? b + 1 : info.dli_fname;
	}
	/* "libmimalloc.so.2" -> "libmimalloc": a word for the RESULT line. */
	for (i = 0; i + 1 < sizeof(cxx.from) && b[i] && b[i] != '.'; i++)
		cxx.from[i] = b[i];
	cxx.from[i] = 0;
}

/* new char[n], accounted; operator new[] throws rather than return NULL. */
__attribute__((unused)) static inline void *xnew(int slot, size_t n)
{
	void *p = cxx.new_arr(n);

	live_alloc(slot, n);
	return p;
}

/* delete[] p, or the sized form (larson-sized). */
__attribute__((unused)) static inline void xdelete(int slot, void *p, size_t n,
						   int sized)
{
	live_free(slot, n);
	if (sized)
		cxx.del_arr_sized(p, n);
	else
		cxx.del_arr(p);
}

/* ---- the closing report -------------------------------------------- */

/* Which allocator libraries are mapped into this process. */
static void print_mapped(void)
{
	static const char *const libs[] = { "libhakmem", "libmimalloc",
					    "libjemalloc", "libtcmalloc" };
	int found[4] = { 0 }, any = 0;
	char line[4096];
	unsigned i;
	FILE *f = fopen("/proc/self/maps", "r");

	if (f) {
		while (fgets(line, sizeof(line), f))
			for (i = 0; i < 4; i++)
				if (strstr(line, libs[i]))
					found[i] = 1;
		fclose(f);
	}
	printf("ALLOCATOR_MAPPED=");
	for (i = 0; i < 4; i++)
		if (found[i])
			printf("%s%s", any++ ? "," : "", libs[i]);
	printf("%s\n", any ? "" : "none");
}

/* Print the hakmem counters if hakmem is the process's allocator. Takes
 * the snapshot before anything else in the report allocates. */
static void print_hakmem(void)
{
	void (*stats)(struct hak_stats *) =
		(void (*)(struct hak_stats *))dlsym(RTLD_DEFAULT, "hak_stats");
	struct hak_stats st;
	uint64_t allocs = 0, frees = 0, events = 0;
	int i;

	if (!stats) {
		printf("HAKMEM absent\n");
		return;
	}
	memset(&st, 0, sizeof(st));
	stats(&st);
	for (i = 0; i < HAK_TIER__COUNT; i++) {
		allocs += st.tier[i].allocs;
		frees += st.tier[i].frees;
	}
	for (i = 0; i < HAK_EV__COUNT; i++)
		events += st.events[i];
	printf("HAKMEM allocs=%" PRIu64 " frees=%" PRIu64
	       " tiny_allocs=%" PRIu64 " pool_allocs=%" PRIu64
	       " large_allocs=%" PRIu64 " provider_peak=%" PRIu64
	       " provider_held=%" PRIu64 " peak_bytes_out=%" PRIu64
	       " meta_bytes=%" PRIu64 " cache_hits=%" PRIu64
	       " cache_misses=%" PRIu64 " tiny_hits=%" PRIu64
	       " tiny_misses=%" PRIu64 " pool_hits=%" PRIu64
	       " pool_misses=%" PRIu64 " cache_grows=%" PRIu64
	       " refills=%" PRIu64 " drains=%" PRIu64
	       " transfer_batches=%" PRIu64 " lock_holds=%" PRIu64
	       " lock_waits=%" PRIu64
	       " events=%" PRIu64 " fast_path=%s free_lookup=%s\n",
	       allocs, frees, st.tier[HAK_TIER_TINY].allocs,
	       st.tier[HAK_TIER_POOL].allocs, st.tier[HAK_TIER_LARGE].allocs,
	       st.provider_peak, st.provider_held, st.peak_bytes_out,
	       st.meta_bytes, st.cache_hits, st.cache_misses,
	       st.tier[HAK_TIER_TINY].cache_hits,
	       st.tier[HAK_TIER_TINY].cache_misses,
	       st.tier[HAK_TIER_POOL].cache_hits,
	       st.tier[HAK_TIER_POOL].cache_misses, st.cache_grows, st.refills,
	       st.drains, st.transfer_batches, st.lock_holds, st.lock_waits,
	       events, st.fast_path ? st.fast_path : "unknown",
	       st.free_lookup ? st.free_lookup : "unknown");
}

/* extra: workload-specific "key=value ..." fields, or "". */
static void bench_report(const char *workload, const char *extra,
			 double ops, double elapsed)
{
	struct rusage ru;

	/* The hakmem snapshot first: nothing below may count in it. */
	print_hakmem();
	live_sample();
	getrusage(RUSAGE_SELF, &ru);
	printf("RESULT workload=%s %s%sops=%.0f elapsed_sec=%.4f "
	       "ops_per_sec=%.0f time_sec=%.4f check=%s mallocs=%" PRIu64
	       " peak_live_bytes=%" PRId64
	       " peak_rss_kb=%ld minflt=%ld majflt=%ld\n",
	       workload, extra, *extra ? " " : "", ops, elapsed,
	       elapsed > 0 ? ops / elapsed : 0.0,
	       bench_rtime >= 0 ? bench_rtime : elapsed,
	       bench_failed ? "FAIL" : "ok", live_mallocs(), live_peak,
	       ru.ru_maxrss, ru.ru_minflt, ru.ru_majflt);
	print_mapped();
	fflush(stdout);
}

/* Wait until *flag is set or `seconds` have passed, in short sleeps. */
static inline void sleep_sec(double seconds)
{
	struct timespec ts;

	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts))
		;
}

static inline void xpthread_create(pthread_t *t, void *(*fn)(void *), void *a)
{
	if (pthread_create(t, NULL, fn, a)) {
		perror("pthread_create");
		abort();
	}
}

#endif /* BENCH_COMMON_H */
